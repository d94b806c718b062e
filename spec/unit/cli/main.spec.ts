import { expect, it } from 'vitest';
import { main } from '../../../lib/cli/main.js';
import { EXIT, OperationError } from '../../../lib/cli/exit-codes.js';
import type { Command } from '../../../lib/cli/command.js';
import type { CliIo } from '../../../lib/cli/io.js';

function captured(): CliIo & { out: string; err: string } {
  const io = { out: '', err: '', stdout: { write: (text: string) => (io.out += text) }, stderr: { write: (text: string) => (io.err += text) } };
  return io;
}

/** A command as a new file of lib/cli/commands/ would define it: the frame parses, checks and documents it. */
const echo: Command = {
  name: 'echo',
  summary: 'Print the text.',
  operands: 'TEXT',
  options: { upper: { type: 'boolean', description: 'In capitals.' }, fail: { type: 'boolean', description: 'Fail instead.' } },
  async run({ values, positionals, io }) {
    if (values.fail) throw new OperationError('it failed as asked');
    const text = positionals.join(' ');
    io.stdout.write(`${values.upper ? text.toUpperCase() : text}\n`);
    return EXIT.ok;
  },
};

it('runs a command of the list with its options parsed', async () => {
  const io = captured();
  expect(await main(['echo', '--upper', 'hi'], io, [echo])).toBe(0);
  expect(io.out).toBe('HI\n');
});

it('lists and documents a command of the list', async () => {
  const io = captured();
  expect(await main(['help'], io, [echo])).toBe(0);
  expect(io.out).toMatch(/^ {2}echo\s+Print the text\.$/m);
  expect(await main(['help', 'echo'], io, [echo])).toBe(0);
  expect(io.out).toContain('Usage: rsc echo [options] TEXT');
  expect(io.out).toMatch(/--upper\s+In capitals\./);
});

it('exit 2 for an unknown option of the command, 1 for its failure, each with one line on stderr', async () => {
  const bad = captured();
  expect(await main(['echo', '--lower'], bad, [echo])).toBe(2);
  expect(bad.err).toBe("rsc: unknown option '--lower'\nRun 'rsc help echo' for usage.\n");
  const failing = captured();
  expect(await main(['echo', '--fail'], failing, [echo])).toBe(1);
  expect(failing).toMatchObject({ out: '', err: 'rsc: it failed as asked\n' });
});

import { parseArgs } from 'node:util';
import type { Command, Invocation } from './command.js';
import { COMMANDS } from './commands/index.js';
import { connectionSettings, connectService, errorText, type ServiceConnection } from './connect.js';
import { EXIT, UsageError } from './exit-codes.js';
import { commandHelp, generalHelp } from './help.js';
import type { CliIo } from './io.js';
import { packageVersion } from './version.js';

/**
 * `rsc <command> [options]`: runs one command and resolves with its exit code (never rejects). Usage errors go to
 * stderr as one line naming the argument, then a pointer to the command's help; failures as one line.
 */
export async function main(argv: readonly string[], io: CliIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  let command: Command | undefined;
  try {
    const [first, ...rest] = argv;
    if (first === undefined) throw new UsageError('missing command');
    if (first.startsWith('-')) return topLevel(argv, io, commands);
    if (first === 'help') return help(rest, io, commands);
    command = commands.find((candidate) => candidate.name === first);
    if (!command) throw new UsageError(`unknown command '${first}'`);
    return await run(command, rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      const about = error.command ?? command?.name;
      io.stderr.write(`rsc: ${error.message}\nRun 'rsc help${about ? ` ${about}` : ''}' for usage.\n`);
      return EXIT.usage;
    }
    io.stderr.write(`rsc: ${errorText(error)}\n`);
    return EXIT.failed;
  }
}

/** `rsc --help`, `rsc --version`. */
function topLevel(argv: readonly string[], io: CliIo, commands: readonly Command[]): number {
  const { values } = parse(argv, { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } }, false);
  if (values.version) io.stdout.write(`${packageVersion()}\n`);
  else io.stdout.write(generalHelp(commands));
  return EXIT.ok;
}

/** `rsc help [command]`. */
function help(rest: readonly string[], io: CliIo, commands: readonly Command[]): number {
  if (rest.length > 1) throw new UsageError(`unexpected argument '${rest[1]}'`);
  const name = rest[0];
  if (name === undefined) {
    io.stdout.write(generalHelp(commands));
    return EXIT.ok;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) throw new UsageError(`unknown command '${name}'`);
  io.stdout.write(commandHelp(command));
  return EXIT.ok;
}

async function run(command: Command, args: readonly string[], io: CliIo): Promise<number> {
  const specs = Object.fromEntries(
    Object.entries(command.options).map(([name, spec]) => [name, { type: spec.type, ...(spec.short ? { short: spec.short } : {}) }]),
  );
  const { values, positionals, tokens } = parse(args, { ...specs, help: { type: 'boolean', short: 'h' } }, true, command);
  if (values.help) {
    io.stdout.write(commandHelp(command));
    return EXIT.ok;
  }
  let connection: ServiceConnection | undefined;
  const invocation: Invocation = {
    values,
    positionals,
    tokens,
    io,
    async connect() {
      if (connection) return connection;
      // Checked before anything is sent: a bad value is a usage error, not a failure.
      const settings = connectionSettings(command, values, io.env ?? {});
      connection = await connectService(settings);
      return connection;
    },
  };
  try {
    return await command.run(invocation);
  } finally {
    await connection?.close();
  }
}

type ParseOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** parseArgs, strict; its errors become UsageErrors with the first sentence of its message (which names the option). */
function parse(args: readonly string[], options: ParseOptions, allowPositionals: boolean, command?: Command) {
  try {
    const parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals, tokens: true });
    return {
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
      tokens: parsed.tokens as Invocation['tokens'],
    };
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw error;
    const sentence = String((error as Error).message).split(/\.\s/)[0]!.replace(/\.$/, '');
    throw new UsageError(sentence.charAt(0).toLowerCase() + sentence.slice(1), command?.name);
  }
}

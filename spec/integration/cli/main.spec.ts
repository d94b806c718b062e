import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, useBuiltCli } from '../../support/cli.js';
import { nodeRedisMajor } from '../../support/node-redis.js';

const cli = useBuiltCli();

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A dead URL: any usage error must be found before connecting to it (exit 2, not 1). */
let deadUrl: string;
beforeAll(async () => {
  deadUrl = `redis://127.0.0.1:${await closedPort()}`;
});

describe('help and version', () => {
  it('--help, help and help <command> print usage on stdout and exit 0', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const result = await runCli(cli.bin, args);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: rsc <command> [options]');
      expect(result.stdout).toMatch(/^ {2}inspect\s+Show/m);
      expect(result.stdout).toMatch(/^ {2}add\s+Add/m);
      expect(result.stdout).toMatch(/^ {2}dead-letter\s+List, show, requeue or drop/m);
      expect(result.stdout).toMatch(/^ {2}position\s+Show a stream's position/m);
    }
    for (const args of [['help', 'inspect'], ['inspect', '--help']]) {
      const result = await runCli(cli.bin, args);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: rsc inspect --service NAME [options]');
      expect(result.stdout).toMatch(/--watch \[SECONDS\]/);
      expect(result.stdout).toMatch(/--url URL/);
    }
    const add = await runCli(cli.bin, ['help', 'add']);
    expect(add.stdout).toContain('Usage: rsc add --service NAME [options] STREAM');
    expect((await runCli(cli.bin, ['help', 'dead-letter'])).stdout).toContain('Usage: rsc dead-letter --service NAME [options] list|show|requeue|drop [ID...]');
    expect((await runCli(cli.bin, ['position', '--help'])).stdout).toContain('Usage: rsc position --service NAME [options] get|set STREAM [ID]');
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const result = await runCli(cli.bin, ['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('bad usage: exit 2, one line naming the argument, then where to read the usage', () => {
  // JSON.parse's own words vary with the Node version: matched by pattern.
  const cases: Array<[string, string[], string | RegExp]> = [
    ['no command', [], "rsc: missing command\nRun 'rsc help' for usage.\n"],
    ['an unknown command', ['frob'], "rsc: unknown command 'frob'\nRun 'rsc help' for usage.\n"],
    ['help of an unknown command', ['help', 'frob'], "rsc: unknown command 'frob'\nRun 'rsc help' for usage.\n"],
    ['an unknown option', ['inspect', '--service', 's', '--bogus'], "rsc: unknown option '--bogus'\nRun 'rsc help inspect' for usage.\n"],
    ['a missing --service', ['inspect', '--url', 'DEAD'], "rsc: missing --service\nRun 'rsc help inspect' for usage.\n"],
    ['a bad --service', ['inspect', '--service', 'a{b}', '--url', 'DEAD'], `rsc: --service must be a non-empty name without "{" or "}", got 'a{b}'\nRun 'rsc help inspect' for usage.\n`],
    ['an option without its value', ['inspect', '--service'], "rsc: option '--service <value>' argument missing\nRun 'rsc help inspect' for usage.\n"],
    ['a bad --limit', ['inspect', '--service', 's', '--url', 'DEAD', '--limit', 'ten'], "rsc: --limit must be a positive integer, got 'ten'\nRun 'rsc help inspect' for usage.\n"],
    ['a bad --watch', ['inspect', '--service', 's', '--url', 'DEAD', '--watch', '0'], "rsc: --watch SECONDS must be a positive integer, got '0'\nRun 'rsc help inspect' for usage.\n"],
    ['a stray operand', ['inspect', '--service', 's', '--url', 'DEAD', 'extra'], "rsc: unexpected argument 'extra'\nRun 'rsc help inspect' for usage.\n"],
    ['a URL of another scheme', ['inspect', '--service', 's', '--url', 'http://127.0.0.1:1'], "rsc: --url must start with redis:// or rediss://, got 'http://127.0.0.1:1/'\nRun 'rsc help inspect' for usage.\n"],
    ['two targets', ['inspect', '--service', 's', '--url', 'DEAD', '--cluster', '127.0.0.1:1'], "rsc: --url and --cluster cannot be used together: give one\nRun 'rsc help inspect' for usage.\n"],
    ['a bad node address', ['inspect', '--service', 's', '--cluster', '127.0.0.1'], "rsc: --cluster takes HOST:PORT[,HOST:PORT...], got '127.0.0.1'\nRun 'rsc help inspect' for usage.\n"],
    ['--tls with a single Redis', ['inspect', '--service', 's', '--url', 'DEAD', '--tls'], "rsc: --tls is for --cluster and --sentinel: for a single Redis, use a rediss:// URL\nRun 'rsc help inspect' for usage.\n"],
    ['--sentinel without --master-name', ['inspect', '--service', 's', '--sentinel', '127.0.0.1:1'], "rsc: --sentinel needs --master-name\nRun 'rsc help inspect' for usage.\n"],
    ['add without its STREAM', ['add', '--service', 's', '--url', 'DEAD'], "rsc: missing STREAM\nRun 'rsc help add' for usage.\n"],
    ['add with --info not JSON', ['add', '--service', 's', '--url', 'DEAD', 'orders-1', '--info', '{region:eu}'], /^rsc: --info is not valid JSON: .*position 1.*\nRun 'rsc help add' for usage\.\n$/],
    ['add with --info not an object', ['add', '--service', 's', '--url', 'DEAD', 'orders-1', '--info', '[1]'], "rsc: --info must be a JSON object, got an array\nRun 'rsc help add' for usage.\n"],
    ['add of a stream in the library\'s key space', ['add', '--service', 's', '--url', 'DEAD', 'rsc:x'], `rsc: STREAM must lie outside the library's own key space "rsc:", got "rsc:x"\nRun 'rsc help add' for usage.\n`],
    ['dead-letter without an action', ['dead-letter', '--service', 's', '--url', 'DEAD', ], "rsc: missing ACTION: list, show, requeue or drop\nRun 'rsc help dead-letter' for usage.\n"],
    ['dead-letter with an unknown action', ['dead-letter', '--service', 's', '--url', 'DEAD', 'retry', '1-0'], "rsc: unknown action 'retry': list, show, requeue or drop\nRun 'rsc help dead-letter' for usage.\n"],
    ['dead-letter requeue without an ID', ['dead-letter', '--service', 's', '--url', 'DEAD', 'requeue'], "rsc: missing ID: requeue takes the id of one record or more\nRun 'rsc help dead-letter' for usage.\n"],
    ['dead-letter show of an ID that is not a stream id', ['dead-letter', '--service', 's', '--url', 'DEAD', 'show', '1-0', 'latest'], "rsc: ID must be a stream id such as 1700000000000-0, got 'latest'\nRun 'rsc help dead-letter' for usage.\n"],
    ['dead-letter with a bad --kind', ['dead-letter', '--service', 's', '--url', 'DEAD', 'list', '--kind', 'entry'], "rsc: --kind must be lbs or entries, got 'entry'\nRun 'rsc help dead-letter' for usage.\n"],
    ['dead-letter list with a bad --count', ['dead-letter', '--service', 's', '--url', 'DEAD', 'list', '--count', '0'], "rsc: --count must be a positive integer, got '0'\nRun 'rsc help dead-letter' for usage.\n"],
    ['dead-letter list with too large a --count', ['dead-letter', '--service', 's', '--url', 'DEAD', 'list', '--count', '10001'], "rsc: --count must be at most 10000, got '10001'\nRun 'rsc help dead-letter' for usage.\n"],
    ['dead-letter list with a bad --from', ['dead-letter', '--service', 's', '--url', 'DEAD', 'list', '--from', '+'], "rsc: --from must be a stream id such as 1700000000000-0, got '+'\nRun 'rsc help dead-letter' for usage.\n"],
    ['dead-letter list with an ID', ['dead-letter', '--service', 's', '--url', 'DEAD', 'list', '1-0'], "rsc: unexpected argument '1-0': list takes no ID (--from ID starts a page)\nRun 'rsc help dead-letter' for usage.\n"],
    ['dead-letter drop with --count', ['dead-letter', '--service', 's', '--url', 'DEAD', 'drop', '1-0', '--count', '5'], "rsc: --count is for list, not drop\nRun 'rsc help dead-letter' for usage.\n"],
    ['position without an action', ['position', '--service', 's', '--url', 'DEAD', ], "rsc: missing ACTION: get or set\nRun 'rsc help position' for usage.\n"],
    ['position with an unknown action', ['position', '--service', 's', '--url', 'DEAD', 'put', 's', '1-0'], "rsc: unknown action 'put': get or set\nRun 'rsc help position' for usage.\n"],
    ['position get without its STREAM', ['position', '--service', 's', '--url', 'DEAD', 'get'], "rsc: missing STREAM\nRun 'rsc help position' for usage.\n"],
    ['position set without its ID', ['position', '--service', 's', '--url', 'DEAD', 'set', 'orders-1'], "rsc: missing ID\nRun 'rsc help position' for usage.\n"],
    ['position set of an ID that is not a stream id', ['position', '--service', 's', '--url', 'DEAD', 'set', 'orders-1', '1700000000000'], "rsc: ID must be a stream id such as 1700000000000-0, got '1700000000000'\nRun 'rsc help position' for usage.\n"],
    ['position get of an empty STREAM', ['position', '--service', 's', '--url', 'DEAD', 'get', ''], "rsc: STREAM must be a non-empty name\nRun 'rsc help position' for usage.\n"],
  ];
  it.each(cases)('%s', async (_, args, stderr) => {
    const result = await runCli(cli.bin, args.map((arg) => (arg === 'DEAD' ? deadUrl : arg)));
    expect(result).toMatchObject({ code: 2, stdout: '' });
    if (typeof stderr === 'string') expect(result.stderr).toBe(stderr);
    else expect(result.stderr).toMatch(stderr);
  });
});

describe('an unreachable Redis: exit 1 within the timeout, with the reason', () => {
  it('a port nothing listens on', async () => {
    const result = await runCli(cli.bin, ['inspect', '--service', 's', '--url', deadUrl]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`rsc: cannot connect to ${deadUrl}: connect ECONNREFUSED ${deadUrl.slice('redis://'.length)}\n`);
    expect(result.ms).toBeLessThan(5000);
  });

  it('a server that accepts the connection and never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `redis://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      const result = await runCli(cli.bin, ['inspect', '--service', 's', '--url', url, '--timeout', '500']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^rsc: cannot connect to ${url}/?: .*500 ms`));
      expect(result.ms).toBeLessThan(5000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('the password of a URL stays out of the message', async () => {
    const secret = deadUrl.replace('redis://', 'redis://user:s3cret@');
    const result = await runCli(cli.bin, ['inspect', '--service', 's', '--url', secret]);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('s3cret');
    expect(result.stderr).toContain('user:***@');
  });

  it(nodeRedisMajor === 4 ? '--sentinel on node-redis 4: a clear refusal' : '--sentinel with no sentinel there', async () => {
    const result = await runCli(cli.bin, ['inspect', '--service', 's', '--sentinel', deadUrl.slice('redis://'.length), '--master-name', 'm', '--timeout', '1000']);
    expect(result.code).toBe(1);
    if (nodeRedisMajor === 4) expect(result.stderr).toBe("rsc: --sentinel needs node-redis 5 or 6: the installed 'redis' package has no Sentinel client (createSentinel came with v5)\n");
    else expect(result.stderr).toMatch(/^rsc: cannot connect to sentinel master 'm' via 127\.0\.0\.1:\d+: /);
    expect(result.ms).toBeLessThan(5000);
  });
});

it('without the redis package: exit 1, saying what to install', async () => {
  // An installation without the peer dependency: a copy of the binary with the package's own dependencies beside it
  // (as npm installs them) and no `redis`, where no other node_modules lies above.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsc-no-redis-'));
  try {
    const bin = path.join(dir, 'cli.js');
    await copyFile(cli.bin, bin);
    await mkdir(path.join(dir, 'node_modules'));
    const { dependencies } = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    for (const name of Object.keys(dependencies)) await symlink(path.resolve('node_modules', name), path.join(dir, 'node_modules', name), 'dir');
    const result = await runCli(bin, ['inspect', '--service', 's', '--url', deadUrl]);
    expect(result).toMatchObject({
      code: 1,
      stdout: '',
      stderr: "rsc: the 'redis' package (node-redis 4, 5 or 6) is not installed beside redis-stream-client: npm install redis\n",
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

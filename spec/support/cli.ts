/**
 * The `rsc` binary as users run it, for the CLI specs: `buildCli()` bundles lib/cli/bin.ts with the package's own
 * tsup settings (tsup.config.ts `cliBuild`) into a directory of its own, where `redis` resolves to the node-redis
 * major the run is for (RSC_NODE_REDIS; the binary imports the `redis` package the application installed, so the
 * majors are told apart by what `redis` is next to it). esbuild bundles it in well under a second, so each spec
 * file builds its own copy rather than sharing state across files; the full `npm run build` (types included) takes
 * several seconds and would write the package's dist/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { afterAll, beforeAll } from 'vitest';
import { cliBuild } from '../../tsup.config.js';
import { nodeRedisMajor } from './node-redis.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const REDIS_PACKAGE = { 4: 'redis', 5: 'redis5', 6: 'redis6' } as const;

export interface BuiltCli {
  /** The built binary (dist/cli.js's twin). */
  readonly bin: string;
  remove(): Promise<void>;
}

/** Builds the binary into node_modules/.cache/ (so that the package's dependencies resolve from there as from
 * dist/), with `redis` linked to the major under test. */
export async function buildCli(): Promise<BuiltCli> {
  const cache = path.join(ROOT, 'node_modules', '.cache');
  await mkdir(cache, { recursive: true });
  const dir = await mkdtemp(path.join(cache, 'rsc-cli-'));
  await mkdir(path.join(dir, 'node_modules'));
  await symlink(path.join(ROOT, 'node_modules', REDIS_PACKAGE[nodeRedisMajor]), path.join(dir, 'node_modules', 'redis'), 'dir');
  await build({ ...cliBuild, outDir: dir, config: false, silent: true, sourcemap: false });
  return { bin: path.join(dir, 'cli.js'), remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** From spawn to exit. */
  readonly ms: number;
}

export interface CliOptions {
  /** Added to a clean environment (PATH only: no REDIS_URL or credentials of the machine's leak in). */
  env?: Record<string, string>;
  /** Killed (SIGKILL) after this long: a hang fails the spec instead of the run. 20 s by default. */
  timeoutMs?: number;
}

/** A running `rsc`: its output so far, its exit. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<CliResult>;
}

/** Starts `node <bin> ...args` (the shebang's interpreter) and collects its output. */
export function startCli(bin: string, args: readonly string[], { env = {}, timeoutMs = 20_000 }: CliOptions = {}): CliProcess {
  const started = Date.now();
  const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs `rsc` to its end. */
/** Builds the binary once for the spec file that calls it (at the top level), and removes it after: `cli.bin` is
 * its path, from the tests on. */
export function useBuiltCli(): { readonly bin: string } {
  let built: BuiltCli | undefined;
  beforeAll(async () => {
    built = await buildCli();
  });
  afterAll(() => built?.remove());
  return {
    get bin(): string {
      if (!built) throw new Error('The binary is built in beforeAll: use cli.bin in a test');
      return built.bin;
    },
  };
}

export function runCli(bin: string, args: readonly string[], options?: CliOptions): Promise<CliResult> {
  return startCli(bin, args, options).exited;
}

/** The ACL rule docs/security.md gives for `rsc inspect` on `service` (after `reset on >password`): read-only
 * commands on the service's keys and on the data streams matching the glob `dataStreams`. Keep the two in step. */
export function inspectAclRule(service: string, dataStreams: string): string[] {
  return [
    `~rsc:{${service}}:*`,
    `~${dataStreams}`,
    '-@all',
    '+time', '+xlen', '+xpending', '+xrange', '+hgetall', '+hkeys', '+hmget', '+zrange', '+exists', '+pttl',
  ];
}

/** The ACL rule docs/security.md gives for an operator running `rsc dead-letter` and `rsc position` on `service`
 * (after `reset on >password`), the data streams matching the glob `dataStreams`. Keep the two in step. */
export function operatorAclRule(service: string, dataStreams: string): string[] {
  return [
    `~rsc:{${service}}:*`,
    `~rsc:requeued:${service}:*`,
    `~${dataStreams}`,
    '-@all',
    '+eval', '+evalsha', '+xrange', '+xrevrange', '+xdel', '+xadd', '+xpending', '+hget', '+hset', '+exists', '+get', '+set', '+type', '+expire',
  ];
}

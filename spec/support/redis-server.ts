import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const CLI_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 3;
const LOG_LIMIT = 16_384;

export interface StartRedisOptions {
  /** Extra redis-server arguments, appended last so they override the defaults (e.g. `--appendonly yes`). */
  args?: string[];
  /** The contents of a config file, written in the server's dir and given first: Redis Sentinel needs one it can
   * rewrite (with `args: ['--sentinel']`). */
  config?: string;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly dir: string;
  /** SIGTERM, SIGKILL after 3 s, wait for exit, remove the data dir. Idempotent. */
  stop(): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  /** Stop and start again on the same port, dir and args (data survives when persistence is on). */
  restart(): Promise<void>;
  /** Runs `redis-cli -p <port> ...args` and returns trimmed stdout. */
  cli(...args: string[]): Promise<string>;
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * pid -> data dir of every live server started by this process, killed when it ends so a crashed
 * run leaves none behind. Kept on globalThis so re-imports (one per test file) share one registry.
 */
const LIVE = Symbol.for('redis-stream-client/spec/live-redis-servers');
const registry = globalThis as { [LIVE]?: Map<number, string> };
const live = registry[LIVE] ?? createRegistry();

function createRegistry(): Map<number, string> {
  const servers = new Map<number, string>();
  registry[LIVE] = servers;
  const killAll = (): void => {
    for (const [pid, dir] of servers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    }
    servers.clear();
  };
  process.on('exit', killAll);
  // Vitest ends its fork workers with SIGTERM, which skips 'exit' listeners. Clean up, then
  // re-raise: with our once-listener gone the signal's default action ends the process as before.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
  return servers;
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const extraArgs = options.args ?? [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'redis-stream-client-'));
  let port = 0;
  let running: Running | undefined;
  const configFile = options.config === undefined ? undefined : path.join(dir, 'redis.conf');
  try {
    if (configFile) await writeFile(configFile, options.config!);
    for (let attempt = 1; !running; attempt++) {
      port = await freePort();
      try {
        running = await launch(port, dir, extraArgs, configFile);
      } catch (error) {
        // Another process may grab the port between probing and binding; pick a new one.
        if (!(error instanceof PortInUseError) || attempt >= PORT_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  let current: Running = running;
  let stopped = false;

  const halt = async (): Promise<void> => {
    const { child, exited } = current;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      child.kill('SIGCONT'); // a SIGSTOP-ed server would otherwise ignore SIGTERM until the SIGKILL
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    if (child.pid !== undefined) live.delete(child.pid);
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return current.child.pid ?? -1;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
    kill(signal) {
      current.child.kill(signal);
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop()');
      await halt();
      current = await launch(port, dir, extraArgs, configFile);
    },
    async cli(...args) {
      const { stdout } = await execFileAsync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
        timeout: CLI_TIMEOUT_MS,
      });
      return stdout.trim();
    },
  };
}

class PortInUseError extends Error {}

async function launch(port: number, dir: string, extraArgs: string[], configFile?: string): Promise<Running> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const child = spawn('redis-server', [...(configFile ? [configFile] : []), ...args, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const append = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-LOG_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  if (child.pid !== undefined) live.set(child.pid, dir);

  const tail = (): string => log.trimEnd().split('\n').slice(-20).join('\n');
  const fail = async (reason: string): Promise<never> => {
    if (child.pid !== undefined) {
      child.kill('SIGKILL');
      await closed; // unlike 'exit', comes after the last log output
      live.delete(child.pid);
    }
    const message = `redis-server on port ${port} ${reason}\n--- log tail ---\n${tail()}`;
    throw /Address already in use/i.test(log) ? new PortInUseError(message) : new Error(message);
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (spawnError) return fail(`failed to spawn: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      return fail(`exited early (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    if (child.pid !== undefined && (await answersAs(port, child.pid))) break;
    if (Date.now() > deadline) return fail(`did not answer PING within ${READY_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { child, exited };
}

/**
 * True when the server on `port` answers PING (i.e. has finished loading data) and reports
 * `pid` as its process id, so a foreign server that won a port race is never mistaken for ours.
 */
function answersAs(port: number, pid: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      const match = /process_id:(\d+)\r\n/.exec(reply);
      if (match) done(reply.startsWith('+PONG\r\n') && Number(match[1]) === pid);
    });
    socket.once('connect', () => socket.write('PING\r\nINFO server\r\n'));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error(`unexpected listen address: ${String(address)}`));
      });
    });
  });
}

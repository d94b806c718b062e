import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { createClient } from '../support/node-redis.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

/** Whether process `pid` is stopped (by SIGSTOP): state T in /proc/<pid>/stat, or in `ps` where there is no procfs. */
async function isStopped(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // "<pid> (<command>) <state> ...": the command may hold spaces and parentheses, the state follows the last ')'.
  if (stat !== undefined) return stat.slice(stat.lastIndexOf(')') + 1).trim().startsWith('T');
  const { stdout } = await promisify(execFile)('ps', ['-o', 'stat=', '-p', String(pid)]);
  return stdout.trim().startsWith('T');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startRedis', () => {
  const servers: RedisServer[] = [];
  const start = async (args?: string[]): Promise<RedisServer> => {
    const server = await startRedis({ args });
    servers.push(server);
    return server;
  };

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  it('starts independent private servers on distinct loopback ports', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    expect(a.port).not.toBe(b.port);
    expect([a.port, b.port]).not.toContain(6379);
    expect(a.url).toBe(`redis://127.0.0.1:${a.port}`);
    expect(await a.cli('PING')).toBe('PONG');
    expect(await b.cli('PING')).toBe('PONG');

    await a.cli('SET', 'key', 'only-on-a');
    expect(await b.cli('EXISTS', 'key')).toBe('0');

    const client = createClient({ url: a.url });
    await client.connect();
    try {
      expect(await client.get('key')).toBe('only-on-a');
      expect(await client.configGet('dir')).toEqual({ dir: a.dir });
    } finally {
      await client.quit();
    }
  });

  it('restart keeps AOF data on the same port and dir', async () => {
    const server = await start(['--appendonly', 'yes']);
    const { port, dir, pid } = server;
    expect(await server.cli('CONFIG', 'GET', 'appendonly')).toBe('appendonly\nyes');
    await server.cli('XADD', 'stream', '*', 'field', 'value');

    await server.restart();
    expect([server.port, server.dir]).toEqual([port, dir]);
    expect(server.pid).not.toBe(pid);
    expect(isAlive(pid)).toBe(false);
    expect(await server.cli('XLEN', 'stream')).toBe('1');

    // A crash (SIGKILL) followed by restart also keeps what reached the AOF.
    await server.cli('XADD', 'stream', '*', 'field', 'value2');
    server.kill('SIGKILL');
    await server.restart();
    expect(await server.cli('XLEN', 'stream')).toBe('2');
  });

  it('stop ends the process and removes its dir', async () => {
    const server = await start();
    const { pid, dir } = server;
    expect(existsSync(dir)).toBe(true);
    await server.stop();
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    await server.stop(); // idempotent
    await expect(server.cli('PING')).rejects.toThrow();
  });

  it('stop also ends a paused (SIGSTOP) server', async () => {
    const server = await start();
    server.kill('SIGSTOP');
    await waitFor(() => isStopped(server.pid));
    await server.stop();
    expect(isAlive(server.pid)).toBe(false);
  });
});

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let calls = 0;
    expect(await waitFor(() => (++calls >= 3 ? `done after ${calls}` : null))).toBe('done after 3');
  });

  it('times out with the message and the last error', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('not yet');
        },
        { timeoutMs: 100, message: 'thing to happen' },
      ),
    ).rejects.toThrow(/thing to happen.*last error: not yet/);
  });

  it('does not wait on a hung attempt past the timeout', async () => {
    const started = Date.now();
    await expect(waitFor(() => new Promise<never>(() => {}), { timeoutMs: 100 })).rejects.toThrow(/timed out/);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

/**
 * A private TLS-only redis-server (no plain port) with a throwaway CA and server certificate made by `openssl`.
 * startRedis() cannot start it: it waits for a plain PING. When the redis-server binary was built without TLS,
 * `startTlsRedis()` says why instead of starting anything.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import './redis-server.js';

const execFileAsync = promisify(execFile);
const READY_TIMEOUT_MS = 10_000;

export interface TlsRedis {
  readonly port: number;
  /** The CA certificate (PEM) that signed the server's certificate. */
  readonly ca: string;
  stop(): Promise<void>;
}

/** redis-server.ts's registry of live servers (pid -> dir), killed when the test process ends. */
const live = (globalThis as { [key: symbol]: Map<number, string> | undefined })[Symbol.for('redis-stream-client/spec/live-redis-servers')];

async function makeCertificates(dir: string): Promise<void> {
  const openssl = (...args: string[]) => execFileAsync('openssl', args, { cwd: dir, timeout: 30_000 });
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=rsc-test-ca');
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  await writeFile(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl(
    'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.crt', '-days', '1', '-extfile', 'san.ext',
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** True once the server answers PING over TLS (NOAUTH counts: it answers), trusting only `ca`. */
function answersOverTls(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('secureConnect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(/^(\+PONG|-NOAUTH)/.test(chunk.toString())));
  });
}

/** Starts a TLS-only server, or returns why it cannot (redis-server without TLS, no openssl). */
export async function startTlsRedis(extraArgs: string[] = []): Promise<TlsRedis | { unsupported: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'redis-stream-client-tls-'));
  let child: ChildProcess | undefined;
  let started = false;
  try {
    try {
      await makeCertificates(dir);
    } catch (error) {
      return { unsupported: `openssl could not make a certificate: ${String(error)}` };
    }
    const ca = await readFile(path.join(dir, 'ca.crt'), 'utf8');
    const port = await freePort();
    const file = (name: string) => path.join(dir, name);
    const args = [
      '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
      '--tls-cert-file', file('server.crt'), '--tls-key-file', file('server.key'), '--tls-ca-cert-file', file('ca.crt'),
      '--tls-auth-clients', 'no', ...extraArgs,
    ];
    const server = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = server;
    let log = '';
    server.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    server.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    if (server.pid !== undefined) live?.set(server.pid, dir);

    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await answersOverTls(port, ca))) {
      if (server.exitCode !== null) {
        const reason = /tls|Bad directive/i.test(log) ? 'this redis-server was built without TLS' : 'redis-server exited';
        return { unsupported: `${reason}: ${log.trim().split('\n').slice(-3).join(' | ')}` };
      }
      if (Date.now() > deadline) throw new Error(`TLS redis-server did not answer within ${READY_TIMEOUT_MS} ms:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    started = true;
    return {
      port,
      ca,
      async stop() {
        server.kill('SIGTERM');
        await exited;
        if (server.pid !== undefined) live?.delete(server.pid);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } finally {
    // Not started (or not supported): leave nothing behind.
    if (!started) {
      child?.kill('SIGKILL');
      if (child?.pid !== undefined) live?.delete(child.pid);
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/**
 * Security: TLS and AUTH. Against a TLS-only redis-server (no plain port at all) that requires a password, a
 * client given node-redis TLS options and credentials works end to end: its own connections (subscriber, blocking
 * reader) are `duplicate()`s of the given client, so they inherit both. Skipped, saying why, when redis-server was
 * built without TLS.
 */
import { createClient } from '../support/node-redis.js';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { RedisStreamClient, keysFor, type RedisStreamClientOptions } from '../../lib/index.js';
import { startTlsRedis, type TlsRedis } from '../support/chaos-tls.js';
import { serviceName, type NodeRedis } from '../support/fleet.js';
import { waitFor } from '../support/wait.js';

let server: TlsRedis | undefined;
let unsupported: string | undefined;
const cleanup: Array<() => Promise<unknown>> = [];

const PASSWORD = 'tls-and-auth';

beforeAll(async () => {
  const started = await startTlsRedis(['--requirepass', PASSWORD]);
  if ('unsupported' in started) unsupported = started.unsupported;
  else server = started;
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
});
afterAll(() => server?.stop());

/** A node-redis client that speaks TLS, trusts only the throwaway CA and authenticates: configured with socket
 * options, or with a `rediss://` URL as docs/security.md shows. */
async function connect(tlsServer: TlsRedis, style: 'socket' | 'url'): Promise<NodeRedis> {
  const redis =
    style === 'socket'
      ? createClient({ socket: { host: '127.0.0.1', port: tlsServer.port, tls: true, ca: tlsServer.ca }, password: PASSWORD })
      : createClient({ url: `rediss://default:${PASSWORD}@127.0.0.1:${tlsServer.port}`, socket: { tls: true, ca: tlsServer.ca } });
  redis.on('error', () => undefined);
  await redis.connect();
  cleanup.push(() => redis.disconnect());
  return redis;
}

async function consumer(tlsServer: TlsRedis, style: 'socket' | 'url', options: RedisStreamClientOptions) {
  const redis = await connect(tlsServer, style);
  const client = new RedisStreamClient(redis, options);
  const errors: string[] = [];
  client.on('error', (error) => errors.push(error.message));
  await client.init();
  cleanup.push(() => client.close());
  return { client, redis, errors };
}

it('works over TLS only, with AUTH: assignment, close() hand-off with takeover, doneStream', async (context) => {
  if (!server) {
    console.log(`[chaos] tls: skipped: ${unsupported}`);
    context.skip();
    return;
  }
  const service = serviceName();
  const leaving = await consumer(server, 'socket', { serviceName: service, heartbeatMs: 1000 });
  for (let i = 0; i < 5; i++) await leaving.client.addStream(`s${i}`);
  await waitFor(() => leaving.client.owned().length === 5);
  const staying = await consumer(server, 'url', { serviceName: service, heartbeatMs: 1000, autoClaim: true });
  await leaving.client.close();
  await waitFor(() => staying.client.owned().length === 5, { timeoutMs: 5000 });
  for (const lease of staying.client.owned()) await staying.client.doneStream(lease.stream);

  expect(await staying.redis.xLen(keysFor(service).lbs)).toBe(0);
  expect([...leaving.errors, ...staying.errors]).toEqual([]);
  // The staying consumer's subscriber and blocking reader are connected too, over TLS: there is no other way in.
  const clients = String(await staying.redis.sendCommand(['CLIENT', 'LIST'])).trim().split('\n');
  expect(clients.filter((line) => / flags=P /.test(line))).toHaveLength(1);
  expect(clients.some((line) => / cmd=xreadgroup /.test(line))).toBe(true);
  console.log(`[chaos] tls: ok (TLS-only server on port ${server.port}, ${clients.length} TLS connections)`);
});

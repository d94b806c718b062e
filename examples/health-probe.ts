// Run: npx tsx examples/health-probe.ts   (REDIS_URL defaults to redis://127.0.0.1:6379; PORT to 8080), then
// curl -i localhost:8080/readyz and localhost:8080/livez (and /health for the whole of client.health()).
// The probes a Kubernetes Deployment points at (docs/operations.md, "Health checks"):
// - readiness: the client runs and its session is valid. While Redis is unreachable or the process stalled, the
//   session ends and the peers take its streams over; the probe says so until the session is renewed.
// - liveness: the process answers and the client has not stopped by itself, nor stayed without a valid session for
//   much longer than a renewal takes; restart the pod then.
import { createServer } from 'node:http';
import { createClient } from 'redis';
import { RedisStreamClient } from 'redis-stream-client';
import { disconnect, stopOnSignals } from './shutdown-signals.js';

const HEARTBEAT_MS = 2000;
/** Without a valid session this long, the client is taken for stuck: liveness fails and the pod is restarted. */
const STUCK_AFTER_MS = 30_000;

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: true, heartbeatMs: HEARTBEAT_MS });
client.on('error', (error) => console.error(`${error.name}: ${error.message}`));
client.run({ eachEntry: async () => undefined });
await client.init();

let stopping = false;
const server = createServer((request, response) => {
  const health = client.health();
  const since = health.lastHeartbeatAt === undefined ? Number.POSITIVE_INFINITY : Date.now() - health.lastHeartbeatAt;
  const ready = health.state === 'running' && health.sessionValid;
  const live = stopping || (health.state === 'running' && (health.sessionValid || since < STUCK_AFTER_MS));
  const ok = request.url === '/readyz' ? ready : request.url === '/livez' ? live : request.url === '/health' ? true : undefined;
  if (ok === undefined) {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(health)}\n`);
});
server.listen(Number(process.env.PORT ?? 8080), () => console.log(`${client.id()}: probes on :${process.env.PORT ?? 8080} (/readyz, /livez, /health)`));

stopOnSignals(async () => {
  stopping = true; // a pod being stopped is not unhealthy
  await client.close();
  await disconnect(redis);
  server.close();
});

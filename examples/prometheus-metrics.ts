// Run: npx tsx examples/prometheus-metrics.ts   (REDIS_URL defaults to redis://127.0.0.1:6379; PORT to 9464), then
// curl localhost:9464/metrics. Needs prom-client (npm install prom-client): an optional peer dependency, used only by
// redis-stream-client/prometheus. Ctrl-C to stop.
import { createServer } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createClient } from 'redis';
import { RedisStreamClient } from 'redis-stream-client';
import { registerPrometheusMetrics } from 'redis-stream-client/prometheus';
import { disconnect, stopOnSignals } from './shutdown-signals.js';

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: true });
client.on('error', (error) => console.error(`${error.name}: ${error.message}`));
client.run({ eachEntry: async () => undefined });
await client.init();

// The library's metrics (rsc_*) beside the process's own, on a registry of the application's.
const registry = new Registry();
collectDefaultMetrics({ register: registry });
registerPrometheusMetrics(registry, client);

const port = Number(process.env.PORT ?? 9464);
const server = createServer((request, response) => {
  if (request.url !== '/metrics') {
    response.writeHead(404).end();
    return;
  }
  registry.metrics().then(
    (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
    (error: unknown) => response.writeHead(500).end(String(error)),
  );
});
server.listen(port, () => console.log(`${client.id()}: metrics on :${port}/metrics`));

stopOnSignals(async () => {
  await client.close();
  await disconnect(redis);
  server.close();
});

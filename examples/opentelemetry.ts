// Run: npx tsx examples/opentelemetry.ts   (REDIS_URL defaults to redis://127.0.0.1:6379), then, in another terminal,
// npx tsx examples/producer.ts: a span is printed for each entry processed (with the handler's own span inside it),
// and the rsc.* and messaging.* metrics every 10 s (METRICS_INTERVAL_MS). Needs @opentelemetry/api (an optional peer
// dependency, used only by redis-stream-client/otel) and, for this console setup, @opentelemetry/sdk-metrics,
// @opentelemetry/sdk-trace-base and @opentelemetry/context-async-hooks. Ctrl-C to stop.
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createClient } from 'redis';
import { RedisStreamClient } from 'redis-stream-client';
import { registerOpenTelemetryMetrics, traceEachEntry } from 'redis-stream-client/otel';
import { disconnect, stopOnSignals } from './shutdown-signals.js';

// What an application's SDK setup does (NodeSDK of @opentelemetry/sdk-node does it all, with exporters to a
// collector): spans carry their context across awaits, metrics are read and exported on a timer.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const meterProvider = new MeterProvider({
  readers: [
    new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: Number(process.env.METRICS_INTERVAL_MS ?? 10_000) }),
  ],
});
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] });
const tracer = tracerProvider.getTracer('orders-consumer');

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: true });
client.on('error', (error) => console.error(`${error.name}: ${error.message}`));
client.run({
  // producer.ts ends each stream with { end: '1' }.
  isEnd: (entry) => entry.fields.end === '1',
  // A span `process <stream>` per call, with the entry id, fencing token and attempt.
  eachEntry: traceEachEntry(tracer, client, async (entry) => {
    // The handler's own spans are children of the process span.
    await tracer.startActiveSpan('store order line', async (span) => {
      span.setAttribute('order.sku', entry.fields.sku ?? '');
      span.end();
    });
  }),
});
await client.init();
registerOpenTelemetryMetrics(meterProvider.getMeter('redis-stream-client'), client);
console.log(`${client.id()}: processing the streams of "orders"; spans and metrics go to the console`);

stopOnSignals(async () => {
  await client.close();
  // Exports the metrics one last time (the streams handed over by close() included) and ends the span processor.
  await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
  await disconnect(redis);
});

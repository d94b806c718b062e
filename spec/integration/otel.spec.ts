import { SpanKind, SpanStatusCode, context, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { DataPointType, MeterProvider, MetricReader, type Histogram, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addStream, type RedisStreamClient } from '../../lib/index.js';
import { METRICS_OBSERVERS } from '../../lib/metrics.js';
import { OPENTELEMETRY_INSTRUMENTS, registerOpenTelemetryMetrics, traceEachBatch, traceEachEntry, withProcessSpan } from '../../lib/otel.js';
import { serviceName } from '../support/fleet.js';
import { append } from '../support/processing.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

const redis = useRedisServer();

const HEARTBEAT_MS = 600;

// What an application's SDK setup does: handlers' own spans nest in the process span across awaits.
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => void context.setGlobalContextManager(contextManager.enable()));
afterAll(() => context.disable());

/** Collects when asked, as an exporter's periodic reader does on its timer. */
class CollectingReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

interface Point {
  readonly name: string;
  readonly unit: string;
  readonly kind: string;
  readonly attributes: Attributes;
  /** A sum's or gauge's value; a histogram's count. */
  readonly value: number;
  readonly histogram?: Histogram;
}

function meterWithReader(): { meter: ReturnType<MeterProvider['getMeter']>; collect: () => Promise<Point[]> } {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  const collect = async (): Promise<Point[]> => {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    return pointsOf(resourceMetrics);
  };
  return { meter: provider.getMeter('spec'), collect };
}

/** Every data point of a collection, with its instrument's name, unit and kind as the user's backend sees them. */
function pointsOf(resourceMetrics: ResourceMetrics): Point[] {
  return resourceMetrics.scopeMetrics.flatMap(({ metrics }) =>
    metrics.flatMap((metric) => {
      const { name, unit } = metric.descriptor;
      const kind =
        metric.dataPointType === DataPointType.HISTOGRAM
          ? 'histogram'
          : metric.dataPointType === DataPointType.GAUGE
            ? 'gauge'
            : metric.dataPointType === DataPointType.SUM && metric.isMonotonic
              ? 'counter'
              : 'up-down counter';
      return (metric.dataPoints as Array<{ attributes: Attributes; value: number | Histogram }>).map(({ attributes, value }) =>
        typeof value === 'number' ? { name, unit, kind, attributes, value } : { name, unit, kind, attributes, value: value.count, histogram: value },
      );
    }),
  );
}

function total(points: readonly Point[], name: string, attributes: Attributes = {}): number {
  return points
    .filter((point) => point.name === name && Object.entries(attributes).every(([key, value]) => point.attributes[key] === value))
    .reduce((sum, point) => sum + point.value, 0);
}

function tracerWithExporter(): { tracer: ReturnType<BasicTracerProvider['getTracer']>; spans: () => ReadableSpan[] } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { tracer: provider.getTracer('spec'), spans: () => exporter.getFinishedSpans() };
}

it('reports the consumers after a takeover through a Meter: counters by service and consumer, never by stream', async () => {
  const service = serviceName();
  const owner = await redis.spawnConsumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, rebalance: false });
  const streams = [`orders-1-${service}`, `orders-2-${service}`, `orders-3-${service}`];
  for (const stream of streams) await addStream(redis.admin, service, stream);
  await waitFor(() => owner.owned().size === 3);
  const options = { serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: true, rebalance: false };
  const a = await redis.fleet.consumer(options);
  const b = await redis.fleet.consumer(options);
  const { meter, collect } = meterWithReader();
  // One client per call, and a list: each call returns what unregisters its own.
  const unregister = new Map([
    [a.client, registerOpenTelemetryMetrics(meter, a.client)],
    [b.client, registerOpenTelemetryMetrics(meter, [b.client])],
  ]);

  owner.kill('SIGKILL');
  await waitFor(() => a.client.metrics().owned + b.client.metrics().owned === 3, { timeoutMs: 10_000 });
  // Each has heartbeats recorded since it was registered.
  const points = await waitFor(async () => {
    const collected = await collect();
    return [a.client, b.client].every((client) => total(collected, 'rsc.heartbeat.duration', { 'messaging.client.id': client.id() }) > 0) && collected;
  });

  expect(total(points, 'rsc.streams.owned')).toBe(3);
  expect(total(points, 'rsc.streams.acquired', { 'rsc.origin': 'takeover' })).toBe(3);
  expect(total(points, 'rsc.streams.acquired', { 'rsc.origin': 'new' })).toBe(0);
  expect(total(points, 'rsc.claims', { 'rsc.result': 'won' })).toBe(3);
  expect(total(points, 'rsc.streams.lost')).toBe(0);
  for (const client of [a.client, b.client]) {
    const consumer = { 'messaging.system': 'redis', 'messaging.consumer.group.name': service, 'messaging.client.id': client.id() };
    expect(total(points, 'rsc.streams.owned', consumer)).toBe(client.metrics().owned);
    const [heartbeats] = points.filter((point) => point.name === 'rsc.heartbeat.duration' && point.attributes['messaging.client.id'] === client.id());
    expect(heartbeats!.histogram!.sum).toBeLessThan(heartbeats!.value * (HEARTBEAT_MS / 1000));
    expect(heartbeats!.histogram!.buckets.boundaries).toEqual([0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
  }
  // The service's state in Redis: one series per service, with no consumer id.
  const live = points.filter((point) => point.name === 'rsc.service.consumers.live');
  expect(live).toEqual([expect.objectContaining({ value: 2, attributes: { 'messaging.system': 'redis', 'messaging.consumer.group.name': service } })]);
  expect(total(points, 'rsc.service.streams.awaiting_takeover')).toBe(0);
  expect(total(points, 'rsc.service.lbs.undelivered')).toBe(0);
  expect(total(points, 'rsc.service.readable')).toBe(1);

  // Each instrument as documented (all but the handler histogram: no handler ran), and no stream name anywhere.
  for (const instrument of OPENTELEMETRY_INSTRUMENTS.filter(({ name }) => name !== 'messaging.process.duration')) {
    const reported = points.filter((point) => point.name === instrument.name);
    expect(reported.length, instrument.name).toBeGreaterThan(0);
    for (const point of reported) expect({ name: point.name, unit: point.unit, kind: point.kind }).toEqual({ name: instrument.name, unit: instrument.unit, kind: instrument.kind });
  }
  const attributeNames = new Set(points.flatMap((point) => Object.keys(point.attributes)));
  expect([...attributeNames].sort()).toEqual([
    'messaging.client.id',
    'messaging.consumer.group.name',
    'messaging.operation.name',
    'messaging.system',
    'rsc.kind',
    'rsc.origin',
    'rsc.reason',
    'rsc.result',
  ]);
  const text = JSON.stringify(points);
  for (const stream of streams) expect(text).not.toContain(stream);

  // Unregistered, the consumer that owns more (two or three) is read no more, its heartbeats recorded no more; an SDK
  // on cumulative temporality goes on exporting the last values it saw.
  const [gone, staying] = a.client.metrics().owned >= 2 ? [a.client, b.client] : [b.client, a.client];
  const of = (client: RedisStreamClient) => ({ 'messaging.client.id': client.id() });
  unregister.get(gone)!();
  const before = await collect();
  const counted = gone.metrics().heartbeat.roundTripMs.count;
  await waitFor(() => gone.metrics().heartbeat.roundTripMs.count >= counted + 2);
  await gone.close();
  await waitFor(() => staying.metrics().owned === 3);
  const after = await waitFor(async () => {
    const collected = await collect();
    return total(collected, 'rsc.heartbeat.duration', of(staying)) > total(before, 'rsc.heartbeat.duration', of(staying)) && collected;
  });
  expect(total(after, 'rsc.heartbeat.duration', of(gone))).toBe(total(before, 'rsc.heartbeat.duration', of(gone)));
  expect(total(after, 'rsc.streams.owned', of(gone))).toBe(total(before, 'rsc.streams.owned', of(gone)));
  expect(total(after, 'rsc.streams.owned', of(gone))).toBeGreaterThanOrEqual(2);
  expect(gone.metrics()).toMatchObject({ owned: 0, released: { close: total(before, 'rsc.streams.owned', of(gone)) } });
  expect(total(after, 'rsc.streams.released', of(gone))).toBe(0);
  expect(total(after, 'rsc.streams.owned', of(staying))).toBe(3);
  expect(total(after, 'rsc.service.consumers.live')).toBe(1);

  // Nobody left to read the service's state: readable says so, while the SDK repeats the gauges' last values.
  await staying.close();
  const unread = await collect();
  expect(total(unread, 'rsc.service.readable')).toBe(0);
  expect(total(unread, 'rsc.service.consumers.live')).toBe(1);
});

it('traces each handler call under run(): a CONSUMER span with the entry, its token and attempt, ERROR when it threw', async () => {
  const service = serviceName();
  const stream = `traced-${service}`;
  const ids = await append(redis.admin, stream, 3);
  const { tracer, spans } = tracerWithExporter();
  const { meter, collect } = meterWithReader();
  const { client } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS });
  registerOpenTelemetryMetrics(meter, client);
  const failure = new Error('once');
  let failed = false;
  client.run({
    maxAttempts: 3,
    eachEntry: traceEachEntry(tracer, client, async (entry) => {
      // The handler's own spans nest in the process span, across awaits too.
      await new Promise((resolve) => setImmediate(resolve));
      tracer.startSpan(`store ${entry.fields.n}`).end();
      if (entry.fields.n === '1' && !failed) {
        failed = true;
        throw failure;
      }
    }),
  });
  await addStream(redis.admin, service, stream);
  await waitFor(() => client.metrics().processing.processed === 3);
  const token = client.owned()[0]!.token;

  const processSpans = spans().filter((span) => span.name === `process ${stream}`);
  expect(processSpans.map((span) => [span.attributes['messaging.message.id'], span.attributes['rsc.attempt'], span.status.code])).toEqual([
    [ids[0], 1, SpanStatusCode.UNSET],
    [ids[1], 1, SpanStatusCode.ERROR],
    [ids[1], 2, SpanStatusCode.UNSET],
    [ids[2], 1, SpanStatusCode.UNSET],
  ]);
  for (const span of processSpans) {
    expect(span.kind).toBe(SpanKind.CONSUMER);
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.attributes).toMatchObject({
      'messaging.system': 'redis',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': stream,
      'messaging.consumer.group.name': service,
      'messaging.client.id': client.id(),
      'rsc.fencing_token': token,
    });
    const [own] = spans().filter((child) => child.parentSpanContext?.spanId === span.spanContext().spanId);
    expect(own!.name).toMatch(/^store \d$/);
    expect(own!.spanContext().traceId).toBe(span.spanContext().traceId);
  }
  const failedSpan = processSpans[1]!;
  expect(failedSpan.status).toEqual({ code: SpanStatusCode.ERROR, message: 'once' });
  expect(failedSpan.attributes['error.type']).toBe('Error');
  expect(failedSpan.events.map((event) => [event.name, event.attributes?.['exception.message']])).toEqual([['exception', 'once']]);

  // The handler histogram, by outcome, and the counters beside it.
  const points = await collect();
  const calls = { 'messaging.client.id': client.id(), 'messaging.operation.name': 'process' };
  expect(total(points, 'messaging.process.duration', calls)).toBe(4);
  expect(total(points, 'messaging.process.duration', { ...calls, 'error.type': '_OTHER' })).toBe(1);
  expect(total(points, 'messaging.client.consumed.messages', calls)).toBe(3);
  expect(total(points, 'rsc.entries.failed')).toBe(1);
  expect(total(points, 'rsc.entries.retried')).toBe(1);
  const text = JSON.stringify(points);
  expect(text).not.toContain(stream);
});

it('leaves messaging.process.duration out with handlerDurations: false, and records nothing per handler call', async () => {
  const service = serviceName();
  const stream = `untimed-${service}`;
  await append(redis.admin, stream, 3);
  const { meter, collect } = meterWithReader();
  const { client } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS });
  registerOpenTelemetryMetrics(meter, client, { handlerDurations: false });
  const heartbeatsBefore = client.metrics().heartbeat.roundTripMs.count;
  const told: string[] = [];
  client[METRICS_OBSERVERS]({ handled: () => void told.push('handled') });
  client.run({ eachEntry: () => undefined });
  await addStream(redis.admin, service, stream);
  await waitFor(() => client.metrics().processing.processed === 3);

  const points = await collect();
  expect(points.filter((point) => point.name === 'messaging.process.duration')).toEqual([]);
  expect(total(points, 'messaging.client.consumed.messages', { 'messaging.client.id': client.id() })).toBe(3);
  // The heartbeat histogram is still recorded (from registration on); the handler's duration stays in metrics().
  await waitFor(() => client.metrics().heartbeat.roundTripMs.count > heartbeatsBefore);
  expect(total(await collect(), 'rsc.heartbeat.duration')).toBeGreaterThan(0);
  expect(told).toHaveLength(3);
  expect(client.metrics().processing.durationMs.count).toBe(3);
});

it('traces eachBatch calls with the batch size, and entries processed by hand through withProcessSpan', async () => {
  const service = serviceName();
  const batched = `batched-${service}`;
  await append(redis.admin, batched, 3);
  const { tracer, spans } = tracerWithExporter();
  const running = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS });
  let handled = 0;
  running.client.run({
    batchSize: 10,
    eachBatch: traceEachBatch(tracer, running.client, (batch) => void (handled += batch.entries.length)),
  });
  await addStream(redis.admin, service, batched);
  await waitFor(() => handled === 3);
  const [batchSpan] = spans().filter((span) => span.name === `process ${batched}`);
  expect(batchSpan!.attributes).toMatchObject({
    'messaging.batch.message_count': 3,
    'messaging.destination.name': batched,
    'rsc.fencing_token': running.client.owned()[0]!.token,
    'rsc.attempt': 1,
  });
  expect(batchSpan!.attributes['messaging.message.id']).toBeUndefined();

  const byHandService = serviceName();
  const byHand = `by-hand-${byHandService}`;
  const ids = await append(redis.admin, byHand, 2);
  const manual = await redis.fleet.consumer({ serviceName: byHandService, heartbeatMs: HEARTBEAT_MS });
  await addStream(redis.admin, byHandService, byHand);
  const [lease] = await waitFor(() => manual.client.owned().length === 1 && manual.client.owned());
  const results: string[] = [];
  for await (const entry of lease!.entries()) {
    results.push(await withProcessSpan(tracer, manual.client, entry, () => `done ${entry.id}`));
    if (results.length === 2) break;
  }
  expect(results).toEqual(ids.map((id) => `done ${id}`));
  const handSpans = spans().filter((span) => span.name === `process ${byHand}`);
  expect(handSpans.map((span) => [span.attributes['messaging.message.id'], span.attributes['rsc.fencing_token'], span.attributes['messaging.client.id']])).toEqual(
    ids.map((id) => [id, lease!.token, manual.client.id()]),
  );
  await expect(withProcessSpan(tracer, manual.client, { stream: byHand, id: ids[0]!, fields: {}, token: lease!.token, attempt: 1 }, () => {
    throw new TypeError('bad entry');
  })).rejects.toThrow('bad entry');
  expect(spans().at(-1)!.status.code).toBe(SpanStatusCode.ERROR);
});

it('reports what a faulty exporter throws through error, and the client goes on with its heartbeats', async () => {
  const { client, log } = await redis.fleet.consumer({ serviceName: serviceName(), heartbeatMs: HEARTBEAT_MS });
  const remove = client[METRICS_OBSERVERS]({
    heartbeat: () => {
      throw new Error('exporter broke');
    },
  });
  const counted = client.metrics().heartbeat.roundTripMs.count;
  await waitFor(() => client.metrics().heartbeat.roundTripMs.count >= counted + 2);
  remove();
  const reported = log.errors.filter((error) => error.message.startsWith('A metrics observer'));
  expect(reported.length).toBeGreaterThan(0);
  expect((reported[0]!.cause as Error).message).toBe('exporter broke');
  expect(client.health()).toMatchObject({ state: 'running', sessionValid: true });
});

it('refuses what is not a client, naming it, before registering anything', () => {
  const { meter } = meterWithReader();
  expect(() => registerOpenTelemetryMetrics(meter, [{ metrics: () => ({}) } as never])).toThrow(
    new TypeError('registerOpenTelemetryMetrics() expects RedisStreamClient instances; clients[0] is not one'),
  );
});

it('runs the handler in the span when the API has no SDK behind it', async () => {
  const service = serviceName();
  const { client } = await redis.fleet.consumer({ serviceName: service }, { start: false });
  const handler = traceEachEntry(trace.getTracer('none'), client, (entry) => `handled ${entry.id}`);
  await expect(Promise.resolve(handler({ stream: 's', id: '1-0', fields: {}, token: 1, attempt: 1 }, undefined as never))).resolves.toBe('handled 1-0');
});

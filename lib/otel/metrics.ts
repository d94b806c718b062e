import { ValueType, type Attributes, type BatchObservableCallback, type BatchObservableResult, type Histogram, type Meter, type Observable } from '@opentelemetry/api';
import type { RedisStreamClient } from '../client.js';
import { METRICS_OBSERVERS, PROCESSING_BUCKETS_MS, ROUND_TRIP_BUCKETS_MS, type MetricsObserver, type MetricsSnapshot } from '../metrics.js';
import type { ServiceMetrics } from '../service-metrics.js';
import { consumerAttributes, HANDLER_THREW, PROCESS_OPERATION, serviceAttributes } from './attributes.js';

/** The part of a client read here: its metrics, its service's, and the observers of its histograms. */
export type MetricsSource = Pick<RedisStreamClient, 'metrics' | 'serviceMetrics' | typeof METRICS_OBSERVERS>;

/** What an instrument reports: values read at collection (observable) or recorded as they happen (histogram). */
export type InstrumentKind = 'counter' | 'up-down counter' | 'gauge' | 'histogram';

/** An instrument registered by `registerOpenTelemetryMetrics`: its name, kind, UCUM unit, and what it reports. */
export interface InstrumentDescription {
  readonly name: string;
  readonly kind: InstrumentKind;
  readonly unit: string;
  readonly description: string;
}

interface Observation {
  readonly value: number;
  /** Beyond the service's or consumer's attributes. */
  readonly attributes?: Attributes;
}

/** An observable instrument, read from one source per collection. */
interface Observed<T> extends InstrumentDescription {
  readonly kind: Exclude<InstrumentKind, 'histogram'>;
  read(source: T): Observation[];
}

const seconds = (ms: number): number => ms / 1000;

function observed<T>(kind: Observed<T>['kind'], name: string, unit: string, description: string, read: (source: T) => Observation[]): Observed<T> {
  return { name, kind, unit, description, read };
}

/** One value (none while it is undefined), with `attributes` if given. */
function one<T>(read: (source: T) => number | undefined, attributes?: Attributes): (source: T) => Observation[] {
  return (source) => {
    const value = read(source);
    return value === undefined ? [] : [{ value, attributes }];
  };
}

/** A value for each key of a record of counts, with an attribute taking the key. */
function byKey<T>(attribute: string, read: (source: T) => Readonly<Record<string, number>>): (source: T) => Observation[] {
  return (source) => Object.entries(read(source)).map(([key, value]) => ({ value, attributes: { [attribute]: key } }));
}

/** Read from each client's `metrics()` at collection, with the attributes of its service and consumer id. */
const CONSUMER_INSTRUMENTS: ReadonlyArray<Observed<MetricsSnapshot>> = [
  observed('up-down counter', 'rsc.streams.owned', '{stream}', 'Streams this consumer owns', one((m) => m.owned)),
  observed('counter', 'rsc.streams.acquired', '{stream}', 'Streams this consumer came to own, by origin', byKey('rsc.origin', (m) => m.acquired)),
  observed('counter', 'rsc.streams.released', '{stream}', 'Streams this consumer gave away, by reason', byKey('rsc.reason', (m) => m.released)),
  observed('counter', 'rsc.streams.lost', '{stream}', 'Streams lost without being given up (stall, outage)', one((m) => m.lost)),
  observed('counter', 'rsc.claims', '{claim}', 'Takeover claims, one per stream, by result (won, lost)', byKey('rsc.result', (m) => m.claims)),
  observed('counter', 'rsc.dead_letters', '{entry}', 'Entries moved to a dead-letter stream, by kind (lbs, entry)', byKey('rsc.kind', (m) => m.deadLetters)),
  observed(
    'gauge',
    'rsc.heartbeat.validity_margin',
    's',
    'Validity left when the last heartbeat reply came',
    one((m) => (m.heartbeat.validityMarginMs === undefined ? undefined : seconds(m.heartbeat.validityMarginMs))),
  ),
  observed(
    'counter',
    'messaging.client.consumed.messages',
    '{message}',
    'Entries whose handler call returned (run())',
    one((m) => m.processing.processed, PROCESS_OPERATION),
  ),
  observed('counter', 'rsc.entries.failed', '{entry}', 'Entries whose handler call threw, each attempt (run())', one((m) => m.processing.failed)),
  observed('counter', 'rsc.entries.retried', '{entry}', 'Entries given to the handler again after it threw (run())', one((m) => m.processing.retried)),
  observed('up-down counter', 'rsc.entries.buffered', '{entry}', 'Entries read and not handed to the handler yet (run())', one((m) => m.processing.buffered)),
  observed('gauge', 'rsc.streams.lag', 's', 'How far behind the most behind owned stream is (run())', one((m) => seconds(m.processing.lagMs.max))),
];

/** Read from `serviceMetrics()` once per service at collection, with the service's attributes only: the same from
 * every consumer of the service (aggregate with max, not sum). */
const SERVICE_INSTRUMENTS: ReadonlyArray<Observed<ServiceMetrics>> = [
  observed('gauge', 'rsc.service.lbs.undelivered', '{entry}', 'LBS entries not assigned to a consumer yet', one((s) => s.undeliveredEntries)),
  observed('gauge', 'rsc.service.streams.awaiting_takeover', '{stream}', 'Streams held by consumers whose session ended', one((s) => s.streamsAwaitingTakeover)),
  observed('gauge', 'rsc.service.dead_letter.entries', '{entry}', 'Entries in the dead-letter streams, by kind (lbs, entry)', byKey('rsc.kind', (s) => s.deadLetterEntries)),
  observed('gauge', 'rsc.service.consumers.live', '{consumer}', 'Consumers with a live session', one((s) => s.liveConsumers)),
];

/** Whether the service's state was read at this collection: where it was not, the SDK (on cumulative temporality)
 * goes on exporting the last values of the gauges above, so their absence cannot show it. */
const SERVICE_READ: Observed<ServiceMetrics | undefined> = observed(
  'gauge',
  'rsc.service.readable',
  '1',
  "1 when a consumer of the service read the service's state in Redis at this collection, 0 when none could",
  (service) => [{ value: service === undefined ? 0 : 1 }],
);

/** Recorded as they happen (OpenTelemetry has no observable histogram), through the client's metrics observers;
 * buckets as `client.metrics()` keeps them, in seconds. */
const HISTOGRAMS = {
  heartbeat: {
    name: 'rsc.heartbeat.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Heartbeat round trips that extended the session',
    buckets: ROUND_TRIP_BUCKETS_MS,
  },
  processing: {
    name: 'messaging.process.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Handler calls, returned or thrown (run())',
    buckets: PROCESSING_BUCKETS_MS,
  },
} as const;

/** Every instrument `registerOpenTelemetryMetrics` registers. */
export const OPENTELEMETRY_INSTRUMENTS: readonly InstrumentDescription[] = [...CONSUMER_INSTRUMENTS, ...SERVICE_INSTRUMENTS, SERVICE_READ, ...Object.values(HISTOGRAMS)].map(
  ({ name, kind, unit, description }) => ({ name, kind, unit, description }),
);

/** Unregisters what one `registerOpenTelemetryMetrics` call registered: its clients are read no more and their
 * histograms no longer recorded (an SDK on cumulative temporality goes on exporting the last values it saw). Idempotent. */
export type UnregisterMetrics = () => void;

export interface OpenTelemetryMetricsOptions {
  /**
   * Records `messaging.process.duration`, on every handler call (true by default). The SDK hashes a recording's
   * attributes each time, about 1.3 µs here: next to a handler that does almost nothing, at hundreds of thousands of
   * calls a second, that halves the rate (docs/performance.md, "What metrics cost"); `false` leaves the instrument
   * out. The durations stay in `client.metrics()` and the Prometheus export, which cost nothing per call.
   */
  readonly handlerDurations?: boolean;
}

/**
 * Reports the metrics of `clients` through `meter` (an OpenTelemetry Meter, from `metrics.getMeter(...)` or a
 * MeterProvider of yours): the figures of `client.metrics()` as observable instruments read once per client per
 * collection, the service's state (`serviceMetrics()`) once per service per collection, and the heartbeat and handler
 * histograms recorded as they happen. Attributes are the service and consumer id (see docs/operations.md,
 * "OpenTelemetry"), never a stream name. Call it once with every client, or once for each; every call returns what
 * unregisters its own clients. A client closed keeps reporting its last counts until then.
 */
export function registerOpenTelemetryMetrics(
  meter: Meter,
  clients: MetricsSource | readonly MetricsSource[],
  { handlerDurations = true }: OpenTelemetryMetricsOptions = {},
): UnregisterMetrics {
  const sources = (Array.isArray(clients) ? clients : [clients as MetricsSource]).map((client, index) => sourceOf(client, index));
  const consumerObservables = CONSUMER_INSTRUMENTS.map((instrument) => observableOf(meter, instrument));
  const serviceObservables = SERVICE_INSTRUMENTS.map((instrument) => observableOf(meter, instrument));
  const readable = observableOf(meter, SERVICE_READ);
  const heartbeat = histogramOf(meter, HISTOGRAMS.heartbeat);
  const processing = handlerDurations ? histogramOf(meter, HISTOGRAMS.processing) : undefined;

  const readConsumers: BatchObservableCallback = (result) => {
    for (const { client, attributes } of sources) {
      const metrics = client.metrics();
      CONSUMER_INSTRUMENTS.forEach((instrument, i) => observeEach(result, consumerObservables[i]!, instrument, metrics, attributes));
    }
  };
  // A callback of its own: a Redis slow to answer holds up (or, past the collection's timeout, loses) only these.
  const readServices: BatchObservableCallback = async (result) => {
    for (const { service, metrics } of await readEachService(sources)) {
      const attributes = serviceAttributes(service);
      observeEach(result, readable, SERVICE_READ, metrics, attributes);
      if (metrics) SERVICE_INSTRUMENTS.forEach((instrument, i) => observeEach(result, serviceObservables[i]!, instrument, metrics, attributes));
    }
  };
  meter.addBatchObservableCallback(readConsumers, consumerObservables);
  meter.addBatchObservableCallback(readServices, [...serviceObservables, readable]);
  const removals = sources.map(({ client, attributes }) => client[METRICS_OBSERVERS](histogramsObserver(attributes, heartbeat, processing)));

  let registered = true;
  return () => {
    if (!registered) return;
    registered = false;
    meter.removeBatchObservableCallback(readConsumers, consumerObservables);
    meter.removeBatchObservableCallback(readServices, [...serviceObservables, readable]);
    for (const remove of removals) remove();
  };
}

interface Source {
  readonly client: MetricsSource;
  readonly service: string;
  readonly attributes: Attributes;
}

/** A client with the attributes of its figures (its service and id do not change); a TypeError names what is not
 * a client, before anything is registered. */
function sourceOf(client: MetricsSource, index: number): Source {
  if (typeof client?.metrics !== 'function' || typeof client[METRICS_OBSERVERS] !== 'function') {
    throw new TypeError(`registerOpenTelemetryMetrics() expects RedisStreamClient instances; clients[${index}] is not one`);
  }
  const { service, consumer } = client.metrics();
  return { client, service, attributes: consumerAttributes(service, consumer) };
}

/**
 * The state of each service in Redis, read from one running consumer of it: the first that answers. Undefined for a
 * service none of whose consumers could read it (not running, Redis away past serviceMetrics()'s timeout).
 */
async function readEachService(sources: readonly Source[]): Promise<Array<{ service: string; metrics: ServiceMetrics | undefined }>> {
  const byService = new Map<string, MetricsSource[]>();
  for (const { client, service } of sources) byService.set(service, [...(byService.get(service) ?? []), client]);
  return Promise.all(
    [...byService].map(async ([service, members]) => {
      for (const client of members) {
        // Not running, or Redis away: the next consumer of the service may answer.
        const metrics = await client.serviceMetrics().catch(() => undefined);
        if (metrics) return { service, metrics };
      }
      return { service, metrics: undefined };
    }),
  );
}

/** What `instrument` reads from `source`, observed on its `observable` with `attributes` and its own. */
function observeEach<T>(result: BatchObservableResult, observable: Observable, instrument: Observed<T>, source: T, attributes: Attributes): void {
  for (const { value, attributes: own } of instrument.read(source)) result.observe(observable, value, { ...attributes, ...own });
}

function observableOf<T>(meter: Meter, instrument: Observed<T>): Observable {
  const options = { description: instrument.description, unit: instrument.unit, valueType: instrument.unit === 's' ? ValueType.DOUBLE : ValueType.INT };
  switch (instrument.kind) {
    case 'counter':
      return meter.createObservableCounter(instrument.name, options);
    case 'up-down counter':
      return meter.createObservableUpDownCounter(instrument.name, options);
    case 'gauge':
      return meter.createObservableGauge(instrument.name, options);
  }
}

function histogramOf(meter: Meter, histogram: (typeof HISTOGRAMS)[keyof typeof HISTOGRAMS]): Histogram {
  return meter.createHistogram(histogram.name, {
    description: histogram.description,
    unit: histogram.unit,
    advice: { explicitBucketBoundaries: histogram.buckets.map(seconds) },
  });
}

/** Records a client's heartbeats and handler calls (unless `processing` is left out) into the histograms, with its
 * attributes (computed once). */
function histogramsObserver(attributes: Attributes, heartbeat: Histogram, processing: Histogram | undefined): MetricsObserver {
  const returned = { ...attributes, ...PROCESS_OPERATION };
  const threw = { ...returned, 'error.type': HANDLER_THREW };
  return {
    heartbeat: (roundTripMs) => heartbeat.record(seconds(roundTripMs), attributes),
    ...(processing && { handled: (_entries, ms, outcome) => processing.record(seconds(ms), outcome === 'processed' ? returned : threw) }),
  };
}

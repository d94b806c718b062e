/**
 * `redis-stream-client/prometheus`: the clients' metrics (`client.metrics()`) as Prometheus metrics on a prom-client
 * registry, read at scrape time. Labels are `service` and `consumer` only, never a stream name. prom-client is an
 * optional peer dependency: only this entry point needs it, and it takes the registry you made with your copy.
 */
import type { Registry } from 'prom-client';
import type { RedisStreamClient } from './client.js';
import type { HistogramSnapshot, MetricsSnapshot } from './metrics.js';
import type { ServiceMetrics } from './service-metrics.js';

/** The part of a client read here: its metrics, and its service's. */
export type MetricsSource = Pick<RedisStreamClient, 'metrics' | 'serviceMetrics'>;

type Labels = Record<string, string | number>;

interface Sample {
  readonly value: number;
  readonly labels: Labels;
  readonly metricName?: string;
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  samples(metrics: MetricsSnapshot, labels: Labels): Sample[];
}

/** A gauge of the service's state in Redis (serviceMetrics()): every consumer of the service reports the same. */
interface ServiceFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge';
  samples(service: ServiceMetrics, labels: Labels): Sample[];
}

function serviceGauge(name: string, help: string, read: (service: ServiceMetrics) => number): ServiceFamily {
  return { name, help, type: 'gauge', samples: (service, labels) => [{ value: read(service), labels }] };
}

const seconds = (ms: number): number => ms / 1000;

function counter(name: string, help: string, read: (metrics: MetricsSnapshot) => number): Family {
  return { name, help, type: 'counter', samples: (metrics, labels) => [{ value: read(metrics), labels }] };
}

function gauge(name: string, help: string, read: (metrics: MetricsSnapshot) => number | undefined): Family {
  return {
    name,
    help,
    type: 'gauge',
    samples: (metrics, labels) => {
      const value = read(metrics);
      return value === undefined ? [] : [{ value, labels }];
    },
  };
}

/** One counter with a label taking each key of a record of counts. */
function counted(name: string, help: string, label: string, read: (metrics: MetricsSnapshot) => Readonly<Record<string, number>>): Family {
  return {
    name,
    help,
    type: 'counter',
    samples: (metrics, labels) => Object.entries(read(metrics)).map(([key, value]) => ({ value, labels: { ...labels, [label]: key } })),
  };
}

/** A histogram kept in milliseconds, exposed in seconds as Prometheus prefers. */
function histogram(name: string, help: string, read: (metrics: MetricsSnapshot) => HistogramSnapshot): Family {
  return {
    name,
    help,
    type: 'histogram',
    samples: (metrics, labels) => {
      const { buckets, count, sum } = read(metrics);
      return [
        ...buckets.map(({ le, count: atMost }) => ({
          metricName: `${name}_bucket`,
          value: atMost,
          labels: { ...labels, le: le === Number.POSITIVE_INFINITY ? '+Inf' : seconds(le) },
        })),
        { metricName: `${name}_sum`, value: seconds(sum), labels },
        { metricName: `${name}_count`, value: count, labels },
      ];
    },
  };
}

/** Every metric this module registers, by name. */
export const PROMETHEUS_FAMILIES: readonly Family[] = [
  gauge('rsc_owned_streams', 'Streams this consumer owns', (m) => m.owned),
  counted('rsc_streams_acquired_total', 'Streams this consumer came to own, by origin', 'origin', (m) => m.acquired),
  counted('rsc_streams_released_total', 'Streams this consumer gave away, by reason', 'reason', (m) => m.released),
  counter('rsc_streams_lost_total', 'Streams lost without being given up (stall, outage)', (m) => m.lost),
  counted('rsc_claims_total', 'Takeover claims, one per stream, by result (won, lost)', 'result', (m) => m.claims),
  counted('rsc_dead_letters_total', 'Entries moved to a dead-letter stream, by kind (lbs, entry)', 'kind', (m) => m.deadLetters),
  histogram('rsc_heartbeat_seconds', 'Heartbeat round trips that extended the session', (m) => m.heartbeat.roundTripMs),
  gauge('rsc_validity_margin_seconds', 'Validity left when the last heartbeat reply came', (m) =>
    m.heartbeat.validityMarginMs === undefined ? undefined : seconds(m.heartbeat.validityMarginMs),
  ),
  counter('rsc_entries_processed_total', 'Entries whose handler call returned (run())', (m) => m.processing.processed),
  counter('rsc_entries_failed_total', 'Entries whose handler call threw, each attempt (run())', (m) => m.processing.failed),
  counter('rsc_entries_retried_total', 'Entries given to the handler again after it threw (run())', (m) => m.processing.retried),
  histogram('rsc_processing_seconds', 'Handler calls, returned or thrown (run())', (m) => m.processing.durationMs),
  gauge('rsc_lag_seconds', 'How far behind the most behind owned stream is (run())', (m) => seconds(m.processing.lagMs.max)),
  gauge('rsc_buffered_entries', 'Entries read and not handed to the handler yet (run())', (m) => m.processing.buffered),
];

/** Gauges of the service's state in Redis, read at scrape time, once per service (aggregate them with `max`). */
export const PROMETHEUS_SERVICE_FAMILIES: readonly ServiceFamily[] = [
  serviceGauge('rsc_lbs_undelivered_entries', 'LBS entries not assigned to a consumer yet (same from every consumer)', (s) => s.undeliveredEntries),
  serviceGauge('rsc_streams_awaiting_takeover', 'Streams held by consumers whose session ended (same from every consumer)', (s) => s.streamsAwaitingTakeover),
  {
    name: 'rsc_dead_letter_entries',
    help: 'Entries in the dead-letter streams, by kind (same from every consumer)',
    type: 'gauge',
    samples: (service, labels) => Object.entries(service.deadLetterEntries).map(([kind, value]) => ({ value, labels: { ...labels, kind } })),
  },
  serviceGauge('rsc_live_consumers', 'Consumers with a live session (same from every consumer)', (s) => s.liveConsumers),
];

/** The clients each registry reads, so that a later call adds clients rather than registering the metrics twice. */
const registered = new WeakMap<Registry, ClientsRead>();

/**
 * Registers the metrics of `clients` on `registry` (prom-client's `register`, or a `new Registry()`). Call it again
 * with more clients (of the same or other services) to add them; a client closed keeps reporting its last counts
 * until `unregisterPrometheusMetrics`.
 */
export function registerPrometheusMetrics(registry: Registry, clients: MetricsSource | readonly MetricsSource[]): void {
  const read = registered.get(registry) ?? registerFamilies(registry);
  for (const client of listOf(clients)) read.add(client);
}

/** Registers every family on `registry`, read from one set of clients. */
function registerFamilies(registry: Registry): ClientsRead {
  const read = new ClientsRead();
  registered.set(registry, read);
  for (const family of PROMETHEUS_FAMILIES) {
    registry.registerMetric(metricOf(family, async () => read.snapshots().flatMap(({ metrics, labels }) => family.samples(metrics, labels))) as never);
  }
  for (const family of PROMETHEUS_SERVICE_FAMILIES) {
    registry.registerMetric(metricOf(family, async () => (await read.services()).flatMap(({ service, labels }) => family.samples(service, labels))) as never);
  }
  return read;
}

/** Stops reading `clients` (all of them when not given) on `registry`; the metric families stay registered. */
export function unregisterPrometheusMetrics(registry: Registry, clients?: MetricsSource | readonly MetricsSource[]): void {
  const read = registered.get(registry);
  if (clients === undefined) read?.clear();
  else for (const client of listOf(clients)) read?.delete(client);
}

function listOf(clients: MetricsSource | readonly MetricsSource[]): readonly MetricsSource[] {
  return Array.isArray(clients) ? clients : [clients as MetricsSource];
}

interface Snapshot {
  readonly client: MetricsSource;
  readonly metrics: MetricsSnapshot;
  readonly labels: Labels;
}

/** The clients a registry reads, and one metrics() call per client per scrape, however many families read it (a
 * scrape asks them all at once). */
class ClientsRead {
  private readonly clients = new Set<MetricsSource>();
  private taken: Snapshot[] | undefined;
  private servicesRead: Promise<Array<{ service: ServiceMetrics; labels: Labels }>> | undefined;

  add(client: MetricsSource): void {
    this.clients.add(client);
    this.forget();
  }

  delete(client: MetricsSource): void {
    this.clients.delete(client);
    this.forget();
  }

  clear(): void {
    this.clients.clear();
    this.forget();
  }

  /**
   * The state of each service in Redis, read once per scrape from one running consumer of it, reported under every
   * consumer of it. A service none of whose consumers could read it (not running, Redis away past serviceMetrics()'s
   * timeout) has no samples in that scrape: alert on their absence.
   */
  services(): Promise<Array<{ service: ServiceMetrics; labels: Labels }>> {
    if (!this.servicesRead) {
      const reading = this.readServices();
      this.servicesRead = reading;
      setImmediate(() => {
        if (this.servicesRead === reading) this.servicesRead = undefined;
      });
    }
    return this.servicesRead;
  }

  private async readServices(): Promise<Array<{ service: ServiceMetrics; labels: Labels }>> {
    const byService = new Map<string, Snapshot[]>();
    for (const snapshot of this.snapshots()) byService.set(snapshot.metrics.service, [...(byService.get(snapshot.metrics.service) ?? []), snapshot]);
    const read = await Promise.all(
      [...byService.values()].map(async (members) => {
        for (const { client } of members) {
          // Not running, or Redis away: the next consumer of the service may answer.
          const service = await client.serviceMetrics().catch(() => undefined);
          if (service) return members.map(({ labels }) => ({ service, labels }));
        }
        return [];
      }),
    );
    return read.flat();
  }

  private forget(): void {
    this.taken = undefined;
    this.servicesRead = undefined;
  }

  snapshots(): Snapshot[] {
    if (!this.taken) {
      const taken = [...this.clients].map((client) => {
        const metrics = client.metrics();
        return { client, metrics, labels: { service: metrics.service, consumer: metrics.consumer } };
      });
      this.taken = taken;
      setImmediate(() => {
        if (this.taken === taken) this.taken = undefined;
      });
    }
    return this.taken;
  }
}

/** A metric as prom-client's registry reads one: `get()` gives its samples now. */
function metricOf(family: Family | ServiceFamily, samples: () => Promise<Sample[]>) {
  const { name, help, type } = family;
  return {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    get: async () => ({
      name,
      help,
      type,
      aggregator: 'sum' as const,
      values: await samples(),
    }),
    reset: () => undefined,
  };
}

/**
 * How much of the metrics machinery a bench worker's consumer runs, to measure what metrics cost:
 *   off        - ClientMetrics records nothing: its recording methods are no-ops in this process. There is no option
 *                to turn recording off; this stands for a library without it (the processor still reads the clock
 *                twice per handler call);
 *   on         - the library as shipped: recording, nobody reading (the default of every other scenario);
 *   prometheus - recording, registered on a prom-client registry scraped every second (each scrape reads
 *                `serviceMetrics()` from Redis too);
 *   otel       - recording, registered on an OpenTelemetry MeterProvider collected every second (its histograms
 *                recorded on every heartbeat and handler call), to an exporter that drops what it is given;
 *   otel-lean  - the same with `handlerDurations: false`: no recording per handler call.
 */
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { ClientMetrics } from '../../lib/metrics.js';
import { registerOpenTelemetryMetrics } from '../../lib/otel.js';
import { registerPrometheusMetrics } from '../../lib/prometheus.js';
import type { RedisStreamClient } from '../../lib/index.js';

export type MetricsMode = 'off' | 'on' | 'prometheus' | 'otel' | 'otel-lean';

export const METRICS_MODES: readonly MetricsMode[] = ['off', 'on', 'prometheus', 'otel', 'otel-lean'];

/** How often the prometheus mode scrapes and the otel mode collects: 15 times the usual rate of a Prometheus set-up. */
export const SCRAPE_INTERVAL_MS = 1000;

type Recording = Exclude<keyof ClientMetrics, 'snapshot'>;
const RECORDING: readonly Recording[] = ['acquired', 'released', 'lost', 'claimed', 'deadLettered', 'heartbeat', 'handled', 'retried'];
const shipped = new Map(RECORDING.map((name) => [name, ClientMetrics.prototype[name]] as const));

/** Makes ClientMetrics record (on, exported) or not (off) for the clients created after this call. */
export function setRecording(mode: MetricsMode): void {
  const prototype = ClientMetrics.prototype as unknown as Record<Recording, unknown>;
  for (const name of RECORDING) prototype[name] = mode === 'off' ? () => undefined : shipped.get(name);
}

/** prometheus, otel: exports the client's metrics as an application would; returns how to stop. */
export function exportMetrics(mode: MetricsMode, client: RedisStreamClient): () => void {
  if (mode === 'prometheus') {
    const registry = new Registry();
    registerPrometheusMetrics(registry, client);
    const timer = setInterval(() => void registry.metrics().catch(() => undefined), SCRAPE_INTERVAL_MS);
    return () => clearInterval(timer);
  }
  if (mode === 'otel' || mode === 'otel-lean') {
    const dropping: PushMetricExporter = { export: (_metrics, done) => done({ code: 0 }), forceFlush: async () => undefined, shutdown: async () => undefined };
    const provider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: dropping, exportIntervalMillis: SCRAPE_INTERVAL_MS })] });
    const unregister = registerOpenTelemetryMetrics(provider.getMeter('bench'), client, { handlerDurations: mode === 'otel' });
    return () => {
      unregister();
      void provider.shutdown();
    };
  }
  return () => undefined;
}

/**
 * How much of the metrics machinery a bench worker's consumer runs, to measure what metrics cost:
 *   off      - ClientMetrics records nothing: its recording methods are no-ops in this process. There is no option to
 *              turn recording off; this stands for a library without it (the processor still reads the clock twice
 *              per handler call);
 *   on       - the library as shipped: recording, nobody reading (the default of every other scenario);
 *   exported - recording, and the metrics exported as an application would: registered on a prom-client registry
 *              scraped every second (which reads `serviceMetrics()` from Redis too).
 */
import { Registry } from 'prom-client';
import { ClientMetrics } from '../../lib/metrics.js';
import { registerPrometheusMetrics, type MetricsSource } from '../../lib/prometheus.js';

export type MetricsMode = 'off' | 'on' | 'exported';

export const METRICS_MODES: readonly MetricsMode[] = ['off', 'on', 'exported'];

/** How often the exported mode scrapes: a busy Prometheus set-up, 15 times the usual rate. */
export const SCRAPE_INTERVAL_MS = 1000;

type Recording = Exclude<keyof ClientMetrics, 'snapshot'>;
const RECORDING: readonly Recording[] = ['acquired', 'released', 'lost', 'claimed', 'deadLettered', 'heartbeat', 'handled', 'retried'];
const shipped = new Map(RECORDING.map((name) => [name, ClientMetrics.prototype[name]] as const));

/** Makes ClientMetrics record (on, exported) or not (off) for the clients created after this call. */
export function setRecording(mode: MetricsMode): void {
  const prototype = ClientMetrics.prototype as unknown as Record<Recording, unknown>;
  for (const name of RECORDING) prototype[name] = mode === 'off' ? () => undefined : shipped.get(name);
}

/** exported: registers the client on a registry of its own and scrapes it every second; returns how to stop. */
export function exportMetrics(mode: MetricsMode, client: MetricsSource): () => void {
  if (mode !== 'exported') return () => undefined;
  const registry = new Registry();
  registerPrometheusMetrics(registry, client);
  const timer = setInterval(() => void registry.metrics().catch(() => undefined), SCRAPE_INTERVAL_MS);
  return () => clearInterval(timer);
}

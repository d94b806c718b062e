/**
 * `redis-stream-client/otel`: the clients' metrics through an OpenTelemetry Meter, and spans of handler calls through
 * a Tracer, both given by you. Only `@opentelemetry/api` is used (an optional peer dependency): no SDK is loaded,
 * so the application's SDK, exporters and views decide where everything goes. See docs/operations.md,
 * "OpenTelemetry".
 */
export {
  OPENTELEMETRY_INSTRUMENTS,
  registerOpenTelemetryMetrics,
  type InstrumentDescription,
  type InstrumentKind,
  type MetricsSource,
  type OpenTelemetryMetricsOptions,
  type UnregisterMetrics,
} from './otel/metrics.js';
export { traceEachBatch, traceEachEntry, withProcessSpan, type SpanSource } from './otel/spans.js';

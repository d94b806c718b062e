import { SpanKind, SpanStatusCode, type Attributes, type Tracer } from '@opentelemetry/api';
import type { RedisStreamClient } from '../client.js';
import type { EachBatch, EachEntry, StreamEntry } from '../processing/entry.js';
import { consumerAttributes, HANDLER_THREW, PROCESS_OPERATION } from './attributes.js';

/** The part of a client read here: whose processing the spans show (its service and consumer id). */
export type SpanSource = Pick<RedisStreamClient, 'metrics'>;

/**
 * Wraps an `eachEntry` handler so that each call runs in a span of its own (`process <stream>`, kind CONSUMER) with
 * the entry's stream, id, fencing token and attempt, and the consumer's id and service: which consumer processed
 * what, under which lease. Spans the handler starts are its children. A handler that throws ends its span with
 * status ERROR and the exception recorded, and the error goes on to the library (retried, then dead-lettered).
 *
 *   client.run({ eachEntry: traceEachEntry(tracer, client, async (entry, lease) => { ... }) });
 */
export function traceEachEntry(tracer: Tracer, client: SpanSource, handler: EachEntry): EachEntry {
  const consumer = consumerOf(client);
  return (entry, lease) => inProcessSpan(tracer, consumer, entry.stream, entryAttributes(entry), () => handler(entry, lease));
}

/** As traceEachEntry, for an `eachBatch` handler: a span per call, with the batch's size instead of an entry id. */
export function traceEachBatch(tracer: Tracer, client: SpanSource, handler: EachBatch): EachBatch {
  const consumer = consumerOf(client);
  return (batch, lease) =>
    inProcessSpan(
      tracer,
      consumer,
      batch.stream,
      // Every entry of a batch is at the same attempt: the batch is handed over again as a whole.
      { 'messaging.batch.message_count': batch.entries.length, 'rsc.fencing_token': batch.token, 'rsc.attempt': batch.entries[0]?.attempt ?? 1 },
      () => handler(batch, lease),
    );
}

/**
 * Runs `process` in the span traceEachEntry gives a handler call, for entries processed by hand (`lease.entries()`):
 *
 *   for await (const entry of lease.entries()) await withProcessSpan(tracer, client, entry, () => handle(entry));
 *
 * Resolves with what `process` returns; rejects with what it throws, the span ending with status ERROR.
 */
export function withProcessSpan<T>(tracer: Tracer, client: SpanSource, entry: StreamEntry, process: () => T | PromiseLike<T>): Promise<T> {
  return inProcessSpan(tracer, consumerOf(client), entry.stream, entryAttributes(entry), process);
}

function consumerOf(client: SpanSource): Attributes {
  const { service, consumer } = client.metrics();
  return consumerAttributes(service, consumer);
}

function entryAttributes(entry: StreamEntry): Attributes {
  return { 'messaging.message.id': entry.id, 'rsc.fencing_token': entry.token, 'rsc.attempt': entry.attempt };
}

/**
 * A CONSUMER span named `process <stream>` (the conventions' `{operation} {destination}`), active while `process`
 * runs. A root span: the context active when the client started reading would otherwise make every span of the
 * process's life part of one trace.
 */
function inProcessSpan<T>(tracer: Tracer, consumer: Attributes, stream: string, attributes: Attributes, process: () => T | PromiseLike<T>): Promise<T> {
  return tracer.startActiveSpan(
    `process ${stream}`,
    {
      kind: SpanKind.CONSUMER,
      root: true,
      attributes: { ...consumer, ...PROCESS_OPERATION, 'messaging.operation.type': 'process', 'messaging.destination.name': stream, ...attributes },
    },
    async (span) => {
      try {
        return await process();
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setAttribute('error.type', error instanceof Error ? error.constructor.name : HANDLER_THREW);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

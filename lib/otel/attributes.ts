import type { Attributes } from '@opentelemetry/api';

/**
 * The attributes that say whose figures or spans these are, as the messaging semantic conventions name them: the
 * service is the consumer group (it is the LBS's consumer group in Redis), the consumer id the client's id. Never a
 * stream name on a metric: a fleet of thousands of streams keeps a handful of series per consumer.
 */
export function serviceAttributes(service: string): Attributes {
  return { 'messaging.system': 'redis', 'messaging.consumer.group.name': service };
}

export function consumerAttributes(service: string, consumer: string): Attributes {
  return { ...serviceAttributes(service), 'messaging.client.id': consumer };
}

/** The operation a handler call is, in the conventions' terms, on spans and on the metrics of handler calls. */
export const PROCESS_OPERATION: Attributes = { 'messaging.operation.name': 'process' };

/** `error.type` of a handler call that threw, the conventions' value for a type not known: on every metric (the
 * application's error classes are not a bounded set), and on a span when what was thrown is not an Error (a span
 * names the Error's class). */
export const HANDLER_THREW = '_OTHER';

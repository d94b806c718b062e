import { createClient, createCluster } from 'redis';
import { createClient as createClient5, createCluster as createCluster5, createSentinel as createSentinel5 } from 'redis5';
import { createClient as createClient6, createCluster as createCluster6, createSentinel as createSentinel6 } from 'redis6';
import { describe, expectTypeOf, it } from 'vitest';
import { EventEmitter } from 'eventemitter3';
import {
  RedisStreamClient,
  addStream,
  on,
  once,
  type ClientHealth,
  type ExpiredStream,
  type MetricsSnapshot,
  type ServiceMetrics,
  type EventPayload,
  type LogFields,
  type Logger,
  type RedisStreamClientError,
  type RedisStreamClientEvents,
  type RedisStreamClientOptions,
  type RepeatedErrors,
  type RunOptions,
  type StreamBatch,
  type StreamEntry,
  type StreamLease,
} from '../../lib/index.js';
import type { Meter, Tracer } from '@opentelemetry/api';
import { registerOpenTelemetryMetrics, traceEachBatch, traceEachEntry, withProcessSpan, type UnregisterMetrics } from '../../lib/otel.js';

// Type-level only: nothing here runs against Redis. tsc checks these, in `npm run typecheck` and in `vitest run`
// (vitest.config.ts turns on its typecheck for this file: a wrong type fails the run).
declare const _client: RedisStreamClient;

/** The listener `client.on(event, listener)` accepts for `event`. */
type ListenerOf<E extends keyof RedisStreamClientEvents> = Parameters<typeof _client.on<E>>[1];

describe('types', () => {
  it('run() hands eachEntry an entry and its lease, eachBatch a batch; lease.entries() yields entries', () => {
    expectTypeOf<Parameters<NonNullable<RunOptions['eachEntry']>>>().toEqualTypeOf<[entry: StreamEntry, lease: StreamLease]>();
    expectTypeOf<Parameters<NonNullable<RunOptions['eachBatch']>>>().toEqualTypeOf<[batch: StreamBatch, lease: StreamLease]>();
    expectTypeOf<Parameters<typeof _client.run>[0]>().toEqualTypeOf<RunOptions>();
    expectTypeOf<ReturnType<typeof _client.run>>().toEqualTypeOf<void>();
    expectTypeOf<{ eachEntry: (entry: StreamEntry) => Promise<void> }>().toExtend<RunOptions>();
    expectTypeOf<ReturnType<StreamLease['entries']>>().toEqualTypeOf<AsyncIterableIterator<StreamEntry>>();
    expectTypeOf<StreamEntry['fields']>().toEqualTypeOf<Record<string, string>>();
    expectTypeOf<ReturnType<typeof _client.getPosition>>().toEqualTypeOf<Promise<string | undefined>>();
    expectTypeOf<ReturnType<typeof _client.health>>().toEqualTypeOf<ClientHealth>();
    expectTypeOf<ReturnType<typeof _client.metrics>>().toEqualTypeOf<MetricsSnapshot>();
    expectTypeOf<ReturnType<typeof _client.serviceMetrics>>().toEqualTypeOf<Promise<ServiceMetrics>>();
    expectTypeOf<ClientHealth['state']>().toEqualTypeOf<'new' | 'starting' | 'running' | 'stopping' | 'stopped'>();
  });

  it('the constructor and addStream() accept a node-redis 4, 5 or 6 client or cluster client without a cast', () => {
    type Accepted = ConstructorParameters<typeof RedisStreamClient>[0];
    expectTypeOf<ReturnType<typeof createClient>>().toExtend<Accepted>();
    expectTypeOf<ReturnType<typeof createCluster>>().toExtend<Accepted>();
    expectTypeOf<ReturnType<typeof createClient5>>().toExtend<Accepted>();
    expectTypeOf<ReturnType<typeof createCluster5>>().toExtend<Accepted>();
    expectTypeOf<ReturnType<typeof createClient6>>().toExtend<Accepted>();
    expectTypeOf<ReturnType<typeof createCluster6>>().toExtend<Accepted>();
    expectTypeOf<ReturnType<typeof createClient6>>().toExtend<Parameters<typeof addStream>[0]>();
    expectTypeOf<ReturnType<typeof createCluster6>>().toExtend<Parameters<typeof addStream>[0]>();
    expectTypeOf<{ sendCommand(args: string[]): Promise<unknown> }>().not.toExtend<
      ConstructorParameters<typeof RedisStreamClient>[0]
    >();
    expectTypeOf<ConstructorParameters<typeof RedisStreamClient>[1]>().toEqualTypeOf<RedisStreamClientOptions>();
  });

  it('the constructor and addStream accept a node-redis 5 or 6 createSentinel() result without a cast', () => {
    expectTypeOf<ReturnType<typeof createSentinel5>>().toExtend<ConstructorParameters<typeof RedisStreamClient>[0]>();
    expectTypeOf<ReturnType<typeof createSentinel6>>().toExtend<ConstructorParameters<typeof RedisStreamClient>[0]>();
    expectTypeOf<ReturnType<typeof createSentinel5>>().toExtend<Parameters<typeof addStream>[0]>();
    expectTypeOf<ReturnType<typeof createSentinel6>>().toExtend<Parameters<typeof addStream>[0]>();
  });

  it('listeners receive StreamLease, ExpiredStream, StreamLease and RedisStreamClientError', () => {
    expectTypeOf<Parameters<ListenerOf<'streamAdded'>>>().toEqualTypeOf<[lease: StreamLease]>();
    expectTypeOf<Parameters<ListenerOf<'streamExpired'>>>().toEqualTypeOf<[expired: ExpiredStream]>();
    expectTypeOf<Parameters<ListenerOf<'streamDisowned'>>>().toEqualTypeOf<[lease: StreamLease]>();
    expectTypeOf<Parameters<ListenerOf<'error'>>>().toEqualTypeOf<[error: RedisStreamClientError]>();

    expectTypeOf<(lease: StreamLease) => void>().toExtend<ListenerOf<'streamAdded'>>();
    expectTypeOf<(expired: ExpiredStream) => void>().not.toExtend<ListenerOf<'streamAdded'>>();
    expectTypeOf<(lease: StreamLease) => void>().not.toExtend<ListenerOf<'streamExpired'>>();
    expectTypeOf<(error: RedisStreamClientError) => void>().toExtend<ListenerOf<'error'>>();
    // An async listener is fine (the client reports its rejection through `error`).
    expectTypeOf<(lease: StreamLease) => Promise<void>>().toExtend<ListenerOf<'streamAdded'>>();
  });

  it('client.on only knows the five events', () => {
    expectTypeOf<Parameters<RedisStreamClient['on']>[0]>().toEqualTypeOf<
      'streamAdded' | 'streamExpired' | 'streamDisowned' | 'streamReleased' | 'error'
    >();
  });

  it('RedisStreamClientOptions requires serviceName and makes the rest optional', () => {
    expectTypeOf<{ serviceName: string }>().toExtend<RedisStreamClientOptions>();
    expectTypeOf<Record<string, never>>().not.toExtend<RedisStreamClientOptions>();
    expectTypeOf<{ heartbeatMs: number }>().not.toExtend<RedisStreamClientOptions>();
    expectTypeOf<RedisStreamClientOptions['serviceName']>().toEqualTypeOf<string>();
    expectTypeOf<Omit<RedisStreamClientOptions, 'serviceName'>>().toEqualTypeOf<Partial<Omit<RedisStreamClientOptions, 'serviceName'>>>();
    expectTypeOf<RedisStreamClientOptions>().toHaveProperty('heartbeatMs').toEqualTypeOf<number | undefined>();
    expectTypeOf<RedisStreamClientOptions>().toHaveProperty('autoClaim').toEqualTypeOf<boolean | undefined>();
    expectTypeOf<{ serviceName: string; heartbeatMs: string }>().not.toExtend<RedisStreamClientOptions>();
    expectTypeOf<{ serviceName: 'orders'; heartbeat: number }>().not.toEqualTypeOf<RedisStreamClientOptions>();
  });

  it('claim takes an ExpiredStream and returns Promise<StreamLease>', () => {
    expectTypeOf<RedisStreamClient['claim']>().parameters.toEqualTypeOf<[expired: ExpiredStream]>();
    expectTypeOf<RedisStreamClient['claim']>().returns.toEqualTypeOf<Promise<StreamLease>>();
  });

  it('owned() lists StreamLease and doneStream takes a stream name', () => {
    expectTypeOf<RedisStreamClient['owned']>().returns.toEqualTypeOf<StreamLease[]>();
    expectTypeOf<RedisStreamClient['doneStream']>().parameters.toEqualTypeOf<[stream: string]>();
  });

  it('on(client, event) iterates the payload type of that event; once(client, event) resolves with it', () => {
    // Called only by the type checker: at run time _client is not a client.
    const _typeOnly = (): void => {
      expectTypeOf(on(_client, 'streamAdded')).toEqualTypeOf<AsyncIterableIterator<StreamLease>>();
      expectTypeOf(on(_client, 'streamExpired')).toEqualTypeOf<AsyncIterableIterator<ExpiredStream>>();
      expectTypeOf(on(_client, 'streamDisowned', { signal: AbortSignal.timeout(1) })).toEqualTypeOf<AsyncIterableIterator<StreamLease>>();
      expectTypeOf(on(_client, 'error')).toEqualTypeOf<AsyncIterableIterator<RedisStreamClientError>>();
      expectTypeOf(once(_client, 'streamAdded')).toEqualTypeOf<Promise<StreamLease>>();
      expectTypeOf(once(_client, 'streamExpired', { signal: AbortSignal.timeout(1) })).toEqualTypeOf<Promise<ExpiredStream>>();
      expectTypeOf<EventPayload<'streamAdded'>>().toEqualTypeOf<StreamLease>();
      // A plain eventemitter3 emitter of the client's events works too.
      expectTypeOf(on(new EventEmitter<RedisStreamClientEvents>(), 'streamAdded')).toEqualTypeOf<AsyncIterableIterator<StreamLease>>();
      // @ts-expect-error: not an event of the client
      on(_client, 'streamRemoved');
      // @ts-expect-error: not an event of the client
      void once(_client, 'close');
      // @ts-expect-error: an emitter of other events
      on(new EventEmitter<{ other: (value: number) => void }>(), 'other');
    };
  });

  it('RepeatedErrors is a RedisStreamClientError whose cause is the last error held back', () => {
    expectTypeOf<RepeatedErrors>().toExtend<RedisStreamClientError>();
    expectTypeOf<RepeatedErrors['cause']>().toEqualTypeOf<RedisStreamClientError>();
    expectTypeOf<RepeatedErrors['kind']>().toEqualTypeOf<string>();
    expectTypeOf<RepeatedErrors['count']>().toEqualTypeOf<number>();
  });

  it('Logger takes (fields, message): console, pino and bunyan fit, a (message, ...details) logger does not', () => {
    expectTypeOf(console).toExtend<Logger>();
    // The shape of pino's LogFn and bunyan's log methods (from their type declarations).
    interface PinoLogFn {
      <T extends object>(obj: T, msg?: string, ...args: unknown[]): void;
      (obj: unknown, msg?: string, ...args: unknown[]): void;
      (msg: string, ...args: unknown[]): void;
    }
    expectTypeOf<{ debug: PinoLogFn; info: PinoLogFn; warn: PinoLogFn; error: PinoLogFn }>().toExtend<Logger>();
    interface BunyanLogMethod {
      (): boolean;
      (error: Error, ...params: unknown[]): void;
      (obj: object, ...params: unknown[]): void;
      (format: unknown, ...params: unknown[]): void;
    }
    expectTypeOf<{ debug: BunyanLogMethod; info: BunyanLogMethod; warn: BunyanLogMethod; error: BunyanLogMethod }>().toExtend<Logger>();
    type MessageFirst = (message: string, ...details: string[]) => void;
    expectTypeOf<{ debug: MessageFirst; info: MessageFirst; warn: MessageFirst; error: MessageFirst }>().not.toExtend<Logger>();
    expectTypeOf<LogFields>().toHaveProperty('service').toEqualTypeOf<string>();
    expectTypeOf<LogFields>().toHaveProperty('consumerId').toEqualTypeOf<string>();
    expectTypeOf<RedisStreamClientOptions['logger']>().toEqualTypeOf<Logger | undefined>();
  });

  it('redis-stream-client/otel takes clients and wraps handlers without a cast; a look-alike of a client is refused', () => {
    type Clients = Parameters<typeof registerOpenTelemetryMetrics>[1];
    expectTypeOf<RedisStreamClient>().toExtend<Clients>();
    expectTypeOf<RedisStreamClient[]>().toExtend<Clients>();
    // The histograms are recorded through the client's own observers, which a look-alike lacks.
    expectTypeOf<Pick<RedisStreamClient, 'metrics' | 'serviceMetrics'>>().not.toExtend<Clients>();
    expectTypeOf<ReturnType<typeof registerOpenTelemetryMetrics>>().toEqualTypeOf<UnregisterMetrics>();
    expectTypeOf<UnregisterMetrics>().toEqualTypeOf<() => void>();
    // Not called: these only give their types.
    const _entries = () => ({ eachEntry: traceEachEntry({} as Tracer, _client, (entry: StreamEntry) => entry.token) });
    const _batches = () => ({ eachBatch: traceEachBatch({} as Tracer, _client, async (batch: StreamBatch) => batch.entries.length) });
    const _byHand = () => withProcessSpan({} as Tracer, _client, {} as StreamEntry, async () => 'done');
    expectTypeOf<ReturnType<typeof _entries>>().toExtend<RunOptions>();
    expectTypeOf<ReturnType<typeof _batches>>().toExtend<RunOptions>();
    expectTypeOf<ReturnType<typeof _byHand>>().toEqualTypeOf<Promise<string>>();
    expectTypeOf<Parameters<typeof registerOpenTelemetryMetrics>[0]>().toEqualTypeOf<Meter>();
  });
});

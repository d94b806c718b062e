import { createClient } from 'redis';
import { describe, expectTypeOf, it } from 'vitest';
import {
  RedisStreamClient,
  type ExpiredStream,
  type RedisStreamClientError,
  type RedisStreamClientEvents,
  type RedisStreamClientOptions,
  type StreamLease,
} from '../../lib/index.js';

// Type-level only: nothing here runs against Redis; `npx tsc -p tsconfig.json` is what checks these.
declare const _client: RedisStreamClient;

/** The listener `client.on(event, listener)` accepts for `event`. */
type ListenerOf<E extends keyof RedisStreamClientEvents> = Parameters<typeof _client.on<E>>[1];

describe('types', () => {
  it('the constructor accepts a node-redis v4 createClient() result without a cast', () => {
    expectTypeOf<ReturnType<typeof createClient>>().toExtend<ConstructorParameters<typeof RedisStreamClient>[0]>();
    expectTypeOf<{ sendCommand(args: string[]): Promise<unknown> }>().not.toExtend<
      ConstructorParameters<typeof RedisStreamClient>[0]
    >();
    expectTypeOf<ConstructorParameters<typeof RedisStreamClient>[1]>().toEqualTypeOf<RedisStreamClientOptions>();
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

  it('client.on only knows the four events', () => {
    expectTypeOf<Parameters<RedisStreamClient['on']>[0]>().toEqualTypeOf<
      'streamAdded' | 'streamExpired' | 'streamDisowned' | 'error'
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
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorFloodControl, SUMMARY_INTERVAL_MS, errorKind } from '../../lib/error-flood.js';
import {
  ConfigError,
  DeadLetterError,
  EntryDeadLetterError,
  ListenerError,
  RedisStreamClientError,
  RepeatedErrors,
  SessionLostError,
} from '../../lib/errors.js';

/** What node-redis reports when a connection is refused, wrapped as the notifier wraps it. */
function refused(port = 1): RedisStreamClientError {
  const cause = Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), { code: 'ECONNREFUSED' });
  return new RedisStreamClientError(String(cause), { cause });
}

/** node-redis's error classes keep the name `Error`. */
class ErrorReply extends Error {}
class SocketClosedUnexpectedlyError extends Error {}

function setUp() {
  const delivered: RedisStreamClientError[] = [];
  const flood = new ErrorFloodControl((error) => void delivered.push(error));
  return { flood, delivered, summaries: () => delivered.filter((error): error is RepeatedErrors => error instanceof RepeatedErrors) };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ErrorFloodControl', () => {
  it('delivers the first error of a kind at once and the rest as one RepeatedErrors after 10 s', () => {
    const { flood, delivered } = setUp();
    const first = refused();
    flood.submit(first);
    expect(delivered).toEqual([first]);
    let last = first;
    for (let i = 0; i < 45; i++) {
      vi.advanceTimersByTime(80);
      last = refused(i);
      flood.submit(last);
    }
    expect(delivered).toHaveLength(1);
    vi.advanceTimersByTime(SUMMARY_INTERVAL_MS - 45 * 80 - 1);
    expect(delivered).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(delivered).toHaveLength(2);
    const summary = delivered[1] as RepeatedErrors;
    expect(summary).toBeInstanceOf(RepeatedErrors);
    expect(summary).toBeInstanceOf(RedisStreamClientError);
    expect(summary).toMatchObject({ name: 'RepeatedErrors', kind: 'RedisStreamClientError(Error ECONNREFUSED)', count: 45, periodMs: 10_000 });
    expect(summary.cause).toBe(last);
    expect(summary.message).toBe(`45 more errors of kind RedisStreamClientError(Error ECONNREFUSED) in the last 10.0 s; the last: ${last.message}`);
  });

  it('sends at most one summary per kind every 10 s while errors keep coming, and loses none of them', () => {
    const { flood, delivered, summaries } = setUp();
    for (let second = 0; second < 35; second++) {
      for (let i = 0; i < 10; i++) flood.submit(refused());
      vi.advanceTimersByTime(1000);
    }
    vi.advanceTimersByTime(SUMMARY_INTERVAL_MS);
    expect(delivered[0]).not.toBeInstanceOf(RepeatedErrors);
    expect(summaries().map((summary) => summary.count)).toEqual([99, 100, 100, 50]);
    expect(1 + summaries().reduce((sum, summary) => sum + summary.count, 0)).toBe(350);
  });

  it('keeps kinds apart: each kind has its first error delivered and its own summary', () => {
    const { flood, delivered, summaries } = setUp();
    const reply = new RedisStreamClientError('READONLY', { cause: new ErrorReply("READONLY You can't write against a read only replica.") });
    const closed = new RedisStreamClientError('closed', { cause: new SocketClosedUnexpectedlyError('Socket closed unexpectedly') });
    for (let i = 0; i < 3; i++) [refused(), reply, closed, new SessionLostError('lost')].forEach((error) => flood.submit(error));
    expect(delivered).toHaveLength(4);
    vi.advanceTimersByTime(SUMMARY_INTERVAL_MS);
    expect(summaries().map((summary) => [summary.kind, summary.count])).toEqual([
      ['RedisStreamClientError(Error ECONNREFUSED)', 2],
      ['RedisStreamClientError(ErrorReply READONLY)', 2],
      ['RedisStreamClientError(SocketClosedUnexpectedlyError)', 2],
      ['SessionLostError', 2],
    ]);
  });

  it('after a quiet interval, the next error of the kind is delivered at once again', () => {
    const { flood, delivered } = setUp();
    flood.submit(refused());
    vi.advanceTimersByTime(SUMMARY_INTERVAL_MS); // nothing repeated: no summary, the window closes
    expect(delivered).toHaveLength(1);
    flood.submit(refused());
    expect(delivered).toHaveLength(2);
    flood.submit(refused());
    vi.advanceTimersByTime(SUMMARY_INTERVAL_MS); // the summary of one
    vi.advanceTimersByTime(SUMMARY_INTERVAL_MS); // a quiet interval after the summary
    flood.submit(refused());
    expect(delivered.map((error) => error.name)).toEqual([
      'RedisStreamClientError',
      'RedisStreamClientError',
      'RepeatedErrors',
      'RedisStreamClientError',
    ]);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('never holds back a DeadLetterError or an EntryDeadLetterError: each names an entry that may need replaying', () => {
    const { flood, delivered } = setUp();
    for (let i = 0; i < 20; i++) flood.submit(new DeadLetterError(`${i}-0`, 'missing field lbs-input'));
    for (let i = 0; i < 20; i++) flood.submit(new EntryDeadLetterError('orders', `${i}-0`, 3, new Error('refused')));
    expect(delivered).toHaveLength(40);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop() delivers the pending summaries at once, cancels its timers, then holds nothing back', () => {
    const { flood, delivered, summaries } = setUp();
    flood.submit(refused());
    flood.submit(new SessionLostError('lost'));
    vi.advanceTimersByTime(4000);
    flood.submit(refused());
    flood.submit(refused());
    flood.stop();
    expect(summaries().map((summary) => [summary.kind, summary.count, summary.periodMs])).toEqual([
      ['RedisStreamClientError(Error ECONNREFUSED)', 2, 4000],
    ]);
    expect(vi.getTimerCount()).toBe(0);
    flood.submit(refused());
    flood.submit(refused());
    expect(delivered).toHaveLength(5);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('unrefs its timers, so a pending summary does not keep the process alive', () => {
    const handles: Array<{ unref: () => void; unrefed: boolean }> = [];
    const flood = new ErrorFloodControl(() => {}, {
      now: () => Date.now(),
      setTimeout: () => {
        const handle = { unrefed: false, unref: () => void (handle.unrefed = true) };
        handles.push(handle);
        return handle;
      },
      clearTimeout: () => {},
    });
    flood.submit(refused());
    flood.submit(new SessionLostError('lost'));
    expect(handles.map((handle) => handle.unrefed)).toEqual([true, true]);
  });
});

describe('errorKind', () => {
  it('is the class, the failing listener event, and the cause with its code; never the message', () => {
    expect(errorKind(refused(1))).toBe(errorKind(refused(2)));
    expect(errorKind(new SessionLostError('any message'))).toBe('SessionLostError');
    expect(errorKind(new ConfigError('taken', 'consumerId'))).toBe('ConfigError');
    expect(errorKind(new ListenerError('streamAdded', new TypeError('x')))).toBe('ListenerError:streamAdded(TypeError)');
    expect(errorKind(new ListenerError('streamDisowned', 'a string'))).toBe('ListenerError:streamDisowned(string)');
    expect(errorKind(new RedisStreamClientError('x', { cause: new ErrorReply('NOPERM this user has no permissions') }))).toBe(
      'RedisStreamClientError(ErrorReply NOPERM)',
    );
    expect(errorKind(new RedisStreamClientError('x', { cause: new Error('Redis did not answer within 2000 ms') }))).toBe(
      'RedisStreamClientError(Error)',
    );
  });
});

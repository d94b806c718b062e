import { describe, expect, it } from 'vitest';
import type { LeaseOrigin } from '../../lib/events.js';
import { LeaseRegistry, type LeaseGrant } from '../../lib/leases.js';

const grant = (stream: string, token = 1, origin: LeaseOrigin = 'new'): LeaseGrant => ({ stream, lbsId: `${token}-0`, info: { n: token }, token, origin });

describe('LeaseRegistry', () => {
  it('add() returns the lease: the grant, this consumer, its origin, recovered and a live signal', () => {
    const registry = new LeaseRegistry('worker-1');
    const lease = registry.add(grant('orders:1', 7))!;
    expect(lease).toMatchObject({ stream: 'orders:1', lbsId: '7-0', info: { n: 7 }, token: 7, consumerId: 'worker-1', origin: 'new', recovered: false });
    expect(lease.signal).toBeInstanceOf(AbortSignal);
    expect(lease.signal.aborted).toBe(false);
    for (const origin of ['takeover', 'handoff', 'restart'] as const) {
      expect(registry.add(grant(`orders:${origin}`, 1, origin))).toMatchObject({ origin, recovered: true });
    }
  });

  it('get() finds a lease by stream, undefined otherwise', () => {
    const registry = new LeaseRegistry('worker-1');
    const lease = registry.add(grant('orders:1'))!;
    expect(registry.get('orders:1')).toBe(lease);
    expect(registry.get('orders:2')).toBeUndefined();
  });

  it('all() and size list every lease', () => {
    const registry = new LeaseRegistry('worker-1');
    expect(registry.all()).toEqual([]);
    expect(registry.size).toBe(0);
    const leases = ['a', 'b', 'c'].map((stream, i) => registry.add(grant(stream, i + 1))!);
    expect(registry.size).toBe(3);
    expect(registry.all()).toEqual(leases);
  });

  it('all() is a copy: changing it does not change the registry', () => {
    const registry = new LeaseRegistry('worker-1');
    registry.add(grant('a'))!;
    registry.all().pop();
    expect(registry.size).toBe(1);
  });

  it('remove() forgets a lease and returns it, without aborting its signal', () => {
    const registry = new LeaseRegistry('worker-1');
    const lease = registry.add(grant('a'))!;
    registry.add(grant('b'))!;
    expect(registry.remove('a')).toBe(lease);
    expect(lease.signal.aborted).toBe(false);
    expect(registry.get('a')).toBeUndefined();
    expect(registry.size).toBe(1);
    expect(registry.all().map((l) => l.stream)).toEqual(['b']);
    expect(registry.remove('a')).toBeUndefined();
  });

  it('endAll() aborts every signal with the given reason, empties the registry and returns the leases', () => {
    const registry = new LeaseRegistry('worker-1');
    const leases = ['a', 'b', 'c'].map((stream, i) => registry.add(grant(stream, i + 1))!);
    const reason = new Error('session lost');
    const ended = registry.endAll(reason);
    expect(ended).toEqual(leases);
    for (const lease of leases) {
      expect(lease.signal.aborted).toBe(true);
      expect(lease.signal.reason).toBe(reason);
    }
    expect(registry.size).toBe(0);
    expect(registry.all()).toEqual([]);
    expect(registry.get('a')).toBeUndefined();
  });

  it('endAll() empties the registry before aborting, so abort listeners see it empty', () => {
    const registry = new LeaseRegistry('worker-1');
    const seen: number[] = [];
    for (const stream of ['a', 'b']) {
      registry.add(grant(stream))!.signal.addEventListener('abort', () => seen.push(registry.size));
    }
    registry.endAll(new Error('closed'));
    expect(seen).toEqual([0, 0]);
  });

  it('endAll() on an empty registry returns []', () => {
    expect(new LeaseRegistry('worker-1').endAll(new Error('closed'))).toEqual([]);
  });

  it('leases added after endAll() are live', () => {
    const registry = new LeaseRegistry('worker-1');
    registry.add(grant('a'))!;
    registry.endAll(new Error('closed'));
    const lease = registry.add(grant('a', 2))!;
    expect(lease.signal.aborted).toBe(false);
    expect(registry.get('a')).toBe(lease);
  });

  it('add() ignores a grant older than the lease held (a late reply), keeping the newer lease live', () => {
    const registry = new LeaseRegistry('me');
    const newer = registry.add(grant('s', 5))!;
    expect(registry.add(grant('s', 3))).toBeUndefined();
    expect(registry.get('s')).toBe(newer);
    expect(newer.signal.aborted).toBe(false);
    const newest = registry.add(grant('s', 7))!;
    expect(newer.signal.aborted).toBe(true);
    expect(registry.get('s')).toBe(newest);
  });
});

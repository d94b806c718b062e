import { describe, expect, it } from 'vitest';
import { FailureDetector, type Sweep } from '../../lib/failure-detector.js';
import { keysFor } from '../../lib/keys.js';
import type { RedisCommander } from '../../lib/redis.js';

const SERVER_EPOCH = 1_700_000_000_000;

/** A detector for consumer `me` whose clock the test moves; `consumers` is the XINFO CONSUMERS reply. */
function setUp(consumers: unknown = []) {
  const clock = { now: 1000 };
  const commands: string[][] = [];
  const redis: RedisCommander = {
    sendCommand: (args) => {
      commands.push(args);
      return Promise.resolve(consumers);
    },
  };
  const heard: string[] = [];
  const detector = new FailureDetector(
    { redis, keys: keysFor('orders'), consumerId: 'me' },
    { onPeerDead: (peer) => void heard.push(`dead:${peer}`), onOwnSessionExpired: () => void heard.push('own') },
    () => clock.now,
  );
  return { detector, clock, heard, commands };
}

/** A sweep answered at once at local time `at`, the server's clock reading SERVER_EPOCH + at. */
function sweepAt(at: number, fields: Partial<Sweep> = {}): Sweep {
  return { sentAt: at, receivedAt: at, serverNow: SERVER_EPOCH + at, nextPeerDeadline: undefined, deadPeers: [], ...fields };
}

/** One XINFO CONSUMERS item, as node-redis returns it (RESP2: a flat list of names and values). */
function consumer(name: string, pending: number): Array<string | number> {
  return ['name', name, 'pending', pending, 'idle', 1200, 'inactive', 1200];
}

describe('FailureDetector.expired()', () => {
  it("a peer's session key expired: the peer is reported dead", () => {
    const { detector, heard } = setUp();
    detector.expired('peer-b');
    expect(heard).toEqual(['dead:peer-b']);
  });

  it("this consumer's own key expired: its session is told to check at once, and nobody is reported dead", () => {
    const { detector, heard } = setUp();
    detector.expired('me');
    expect(heard).toEqual(['own']);
  });
});

describe('FailureDetector.swept()', () => {
  it('reports each dead peer the sweep found, in order', () => {
    const { detector, heard } = setUp();
    detector.swept(sweepAt(1000, { deadPeers: ['peer-b', 'peer-c'] }));
    expect(heard).toEqual(['dead:peer-b', 'dead:peer-c']);
  });
});

describe('FailureDetector.nextSweepIn()', () => {
  it('is the period before any sweep, and when no other consumer has a deadline', () => {
    const { detector } = setUp();
    expect(detector.nextSweepIn(1000)).toBe(1000);
    detector.swept(sweepAt(1000));
    expect(detector.nextSweepIn(1000)).toBe(1000);
  });

  it("is 3 ms past the earliest peer deadline, converted to this process's clock", () => {
    const { detector, clock } = setUp();
    detector.swept(sweepAt(1000, { nextPeerDeadline: SERVER_EPOCH + 1200 }));
    expect(detector.nextSweepIn(1000)).toBe(203);
    clock.now = 1150; // the deadline comes closer as local time passes
    expect(detector.nextSweepIn(1000)).toBe(53);
  });

  it('reads the server clock as of the middle of the call: a slow reply does not shift the deadline', () => {
    const { detector, clock } = setUp();
    // Sent at 900, answered at 1100: the server read its clock (SERVER_EPOCH + 1000) at about 1000 locally.
    clock.now = 1100;
    detector.swept({ sentAt: 900, receivedAt: 1100, serverNow: SERVER_EPOCH + 1000, nextPeerDeadline: SERVER_EPOCH + 1200, deadPeers: [] });
    expect(detector.nextSweepIn(1000)).toBe(103);
  });

  it('follows an offset between the server clock and the local one', () => {
    const { detector } = setUp();
    const ahead = 60_000; // the server's clock is a minute ahead of what the local one maps to
    detector.swept({ ...sweepAt(1000), serverNow: SERVER_EPOCH + 1000 + ahead, nextPeerDeadline: SERVER_EPOCH + 1200 + ahead });
    expect(detector.nextSweepIn(1000)).toBe(203);
  });

  it('is never more than the period, however far off the earliest deadline is', () => {
    const { detector } = setUp();
    detector.swept(sweepAt(1000, { nextPeerDeadline: SERVER_EPOCH + 1000 + 60_000 }));
    expect(detector.nextSweepIn(1000)).toBe(1000);
  });

  it('is at least 5 ms when the deadline has passed, so the heartbeat cannot spin', () => {
    const { detector, clock } = setUp();
    detector.swept(sweepAt(1000, { nextPeerDeadline: SERVER_EPOCH + 500 }));
    expect(detector.nextSweepIn(1000)).toBe(5);
    clock.now = 1000 + 3600_000;
    expect(detector.nextSweepIn(1000)).toBe(5);
  });

  it('takes the latest sweep: a deadline no longer reported stops bringing the sweep forward', () => {
    const { detector } = setUp();
    detector.swept(sweepAt(1000, { nextPeerDeadline: SERVER_EPOCH + 1200 }));
    detector.swept(sweepAt(1000));
    expect(detector.nextSweepIn(1000)).toBe(1000);
  });
});

describe('FailureDetector.reconcile()', () => {
  it('asks XINFO CONSUMERS of the LBS group and reports every other consumer that holds entries', async () => {
    const keys = keysFor('orders');
    const { detector, heard, commands } = setUp([consumer('me', 3), consumer('peer-b', 0), consumer('peer-c', 2), consumer('peer-d', 1)]);
    await detector.reconcile();

    expect(commands).toEqual([['XINFO', 'CONSUMERS', keys.lbs, keys.group]]);
    expect(heard).toEqual(['dead:peer-c', 'dead:peer-d']);
  });

  it('reports nobody when no other consumer holds entries', async () => {
    const { detector, heard } = setUp([consumer('me', 3), consumer('peer-b', 0)]);
    await detector.reconcile();
    expect(heard).toEqual([]);
  });

  it('reads each consumer as name/value pairs: a consumer named like a field is still reported', async () => {
    // A consumerId may be any string; these are names XINFO CONSUMERS also uses for its fields.
    const { detector, heard } = setUp([consumer('name', 1), consumer('pending', 4), consumer('idle', 2)]);
    await detector.reconcile();
    expect(heard).toEqual(['dead:name', 'dead:pending', 'dead:idle']);
  });

  it('rejects on a reply that is not a list of consumers, reporting nobody', async () => {
    const { detector, heard } = setUp('OK');
    await expect(detector.reconcile()).rejects.toThrow();
    expect(heard).toEqual([]);
  });
});

import { expect, it } from 'vitest';
import type { ServiceInspection } from '../../../lib/admin/inspect.js';
import { formatInspection, toJson } from '../../../lib/cli/commands/inspect.js';

const T = Date.UTC(2024, 4, 1, 12, 0, 0);

const reading: ServiceInspection = {
  service: 'orders',
  found: true,
  serverTime: T,
  consumers: [
    { id: 'a', alive: true, sessionMsLeft: 1500, sessionDeadline: T + 1500, sessionEndedAt: null, owned: 1, weight: 2, maxStreams: 5, mode: 'auto', draining: false, startedAt: T - 60_000 },
    { id: 'gone', alive: false, sessionMsLeft: null, sessionDeadline: null, sessionEndedAt: T - 5000, owned: 1, weight: null, maxStreams: null, mode: null, draining: null, startedAt: null },
  ],
  streamCount: 3,
  streams: [
    { name: 'orders-1', owner: 'a', ownerAlive: true, lbsId: '1-0', ownedMs: 65_000, deliveries: 1, token: 7, position: '1714564790000-0', lagMs: 10_000 },
    { name: 'orders-2', owner: 'gone', ownerAlive: false, lbsId: '2-0', ownedMs: 900, deliveries: 2, token: null, position: null, lagMs: null },
  ],
  metrics: { service: 'orders', undeliveredEntries: 1, streamsAwaitingTakeover: 1, deadLetterEntries: { lbs: 0, entry: 3 }, liveConsumers: 1 },
};

it('formats a reading as tables, with - for what Redis does not record', () => {
  expect(formatInspection(reading)).toBe(
    [
      'Service orders at 2024-05-01 12:00:00Z (Redis clock)',
      '',
      'Consumers: 1 alive, 1 dead',
      'CONSUMER  STATE  SESSION LEFT  OWNED  WEIGHT  MAX  MODE  DRAINING  STARTED               SESSION ENDED',
      'a         alive          1.5s      1       2    5  auto  no        2024-05-01 11:59:00Z  -',
      'gone      dead              -      1       -    -  -     -         -                     2024-05-01 11:59:55Z',
      '',
      'Streams: the first 2 of 3 by name (--limit)',
      'STREAM    OWNER  OWNER STATE        OWNED FOR  DELIVERIES  TOKEN  POSITION           LAG',
      'orders-1  a      alive                  1m05s           1      7  1714564790000-0  10.0s',
      'orders-2  gone   awaiting takeover      900ms           2      -  -                    -',
      '',
      'LBS backlog: 1 undelivered entry, 1 stream awaiting takeover',
      'Dead letters: 0 in the LBS dead-letter stream, 3 in the entry dead-letter stream',
      '',
    ].join('\n'),
  );
});

it('--json is the reading under a version of its shape', () => {
  expect(JSON.parse(JSON.stringify(toJson(reading)))).toEqual({ version: 1, ...reading });
});

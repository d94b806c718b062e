/**
 * The checks of the processing chaos run (spec/support/chaos-processing.ts) on histories written by hand: a clean
 * takeover passes with its duplicates counted, and each kind of broken guarantee is found, so that the chaos run
 * cannot pass because a check looks at nothing.
 */
import { describe, expect, it } from 'vitest';
import { checkProcessing, type ProcessFault } from '../support/chaos-processing.js';
import type { HandlerRecord } from '../support/handler-records.js';

const STREAM = 's0';
const IDS = ['1-0', '2-0', '3-0', '4-0', '5-0', '6-0'];
const BOUNDS = { commitIntervalMs: 100, heartbeatMs: 1000, marginMs: 500 };

interface Owner {
  consumer: string;
  incarnation: string;
  token: number;
}

const A: Owner = { consumer: 'c1', incarnation: '100', token: 10 };
const B: Owner = { consumer: 'c2', incarnation: '200', token: 11 };

/** A handler call of `owner` on entry `id`: its start at `at`, its end 5 ms later (none when `resolved` is false). */
function call(owner: Owner, id: string, at: number, { resolved = true, attempt = 1 } = {}): HandlerRecord[] {
  const record = (event: HandlerRecord['event'], time: number): HandlerRecord => ({ event, stream: STREAM, id, ...owner, attempt, at: time });
  return resolved ? [record('start', at), record('end', at + 5)] : [record('start', at)];
}

/** A processes 1-4 a second apart and is killed at 3120 during 5; B takes over at 4200 from after 3 (A's commit). */
function takeover(): { records: HandlerRecord[]; faults: ProcessFault[] } {
  return {
    records: [
      ...call(A, '1-0', 0),
      ...call(A, '2-0', 1000),
      ...call(A, '3-0', 2000),
      ...call(A, '4-0', 3000),
      ...call(A, '5-0', 3100, { resolved: false }),
      ...call(B, '4-0', 4200),
      ...call(B, '5-0', 4210),
      ...call(B, '6-0', 4220),
    ],
    faults: [{ kind: 'kill', incarnation: A.incarnation, at: 3120 }],
  };
}

function check(records: HandlerRecord[], faults: ProcessFault[]) {
  return checkProcessing(new Map([[STREAM, IDS]]), records, faults, BOUNDS, 0);
}

describe('checkProcessing', () => {
  it('passes a takeover that repeats only what the killed owner had not committed, and counts it', () => {
    const { records, faults } = takeover();
    const verdict = check(records, faults);
    expect(verdict.violations).toEqual([]);
    expect(verdict).toMatchObject({ entries: 6, starts: 8, duplicates: 2, inFlightDuplicates: 1, takeovers: 1, worstTakeoverDuplicates: 2 });
    expect(verdict.duplicatesAfter).toEqual({ kill: 2, stall: 0, close: 0, none: 0 });
    // 4-0 resolved at 3005, A's process last ran at 3100 (before its kill at 3120).
    expect(verdict.worstDuplicateAgeMs).toBe(95);
  });

  it('finds an entry nobody processed, and the owner that skipped it', () => {
    const { records, faults } = takeover();
    const violations = check(records.filter((r) => !(r.id === '3-0' && r.token === A.token)), faults).violations;
    expect(violations).toEqual([
      expect.stringContaining('1 of 6 entries never processed (3-0'),
      expect.stringContaining('c1 (pid 100, token 10) skipped 1 entries: 2-0 then 4-0'),
    ]);
  });

  it('finds a start by an earlier owner after the later owner had started', () => {
    const { records, faults } = takeover();
    // A stalled rather than killed, and on resuming started 6-0 after B had started at 4200.
    const late = [...records, ...call(A, '6-0', 4300)];
    const violations = check(late, [{ ...faults[0]!, kind: 'stall' }]).violations;
    expect(violations).toContainEqual(expect.stringContaining('c1 (pid 100, token 10) started entry 6-0 at +4.300s, after the later owner c2'));
  });

  it('finds a duplicate the earlier owner resolved long before its end (a position not committed, or rolled back)', () => {
    const { records, faults } = takeover();
    // B starts after 1-0: A resolved 2-0 and 3-0 2095 and 1095 ms before it last ran, 4-0 only 95 ms before.
    const fromTwo = ['2-0', '3-0', '4-0', '5-0', '6-0'].flatMap((id, i) => call(B, id, 4200 + 10 * i));
    const verdict = check([...records.filter((r) => r.token !== B.token), ...fromTwo], faults);
    const again = 'was processed again by c2 (pid 200, token 11)';
    expect(verdict.violations).toEqual([
      expect.stringContaining(`entry 2-0, resolved by c1 (pid 100, token 10) at +1.005s, ${again}: 2095 ms before`),
      expect.stringContaining(`entry 3-0, resolved by c1 (pid 100, token 10) at +2.005s, ${again}: 1095 ms before`),
    ]);
    expect(verdict.duplicates).toBe(4);
  });

  it("measures from when the owner's process last ran before its fault, or without one from the next owner's start", () => {
    const { records } = takeover();
    // Starved of CPU after 3100 (its commit timer could not run either), killed only at 5000.
    expect(check(records, [{ kind: 'kill', incarnation: A.incarnation, at: 5000 }]).violations).toEqual([]);
    // No fault: A lost the stream by itself, up to a heartbeat before B's first handler (4200): 4-0 resolved at
    // 3005 is within 100 + 500 + 1000 ms of it; B starting at 4700 is not.
    expect(check(records, []).violations).toEqual([]);
    const later = records.map((r) => (r.token === B.token ? { ...r, at: r.at + 500 } : r));
    expect(check(later, []).violations).toEqual([
      expect.stringContaining('entry 4-0, resolved by c1 (pid 100, token 10) at +3.005s, was processed again by c2 (pid 200, token 11): 1695 ms before the next'),
    ]);
  });

  it('finds any duplicate of what a close() had processed', () => {
    const { records } = takeover();
    const violations = check(records, [{ kind: 'close', incarnation: A.incarnation, at: 3120 }]).violations;
    expect(violations).toEqual([expect.stringContaining('entry 4-0, resolved by c1 (pid 100, token 10) at +3.005s, was processed again by c2')]);
  });

  it('finds an owner going backwards, starting an entry twice, or before the last one resolved', () => {
    const backwards = [...call(A, '1-0', 0), ...call(A, '2-0', 10), ...call(A, '1-0', 20), ...call(A, '3-0', 30)];
    expect(check(backwards, []).violations).toContainEqual(expect.stringContaining('went backwards: entry 1-0 at +0.020s after entry 2-0'));
    const twice = [...call(A, '1-0', 0), ...call(A, '1-0', 10)];
    expect(check(twice, []).violations).toContainEqual(expect.stringContaining('started entry 1-0 again at +0.010s (attempt 1 after attempt 1)'));
    const retried = [...call(A, '1-0', 0, { resolved: false }), ...call(A, '1-0', 10, { attempt: 2 })];
    expect(check(retried, []).violations.filter((v) => !v.includes('never processed'))).toEqual([]);
    const overlapping = [...call(A, '1-0', 0), ...call(A, '2-0', 2)];
    expect(check(overlapping, []).violations).toContainEqual(expect.stringContaining('started entry 2-0 at +0.002s before entry 1-0 had resolved'));
  });
});

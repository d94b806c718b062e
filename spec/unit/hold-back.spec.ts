import { describe, expect, it } from 'vitest';
import { HOLD_LIMIT_MS, HoldBack } from '../../lib/hold-back.js';

/** A HoldBack over a clock the test moves by hand: `look(progress, sentAt, at)` is a 'hold' reply that came at `at`. */
function holdBackAt(start = 1000) {
  const clock = { now: start };
  const holdBack = new HoldBack(() => clock.now);
  const look = (progress: string, sentAt: number, at = sentAt) => {
    clock.now = at;
    holdBack.held(progress, sentAt);
  };
  return { holdBack, look };
}

describe('HoldBack', () => {
  it('says to take anyway once the same last delivered id was found over more than HOLD_LIMIT_MS', () => {
    const { holdBack, look } = holdBackAt();
    expect(holdBack.exceeded()).toBe(false);
    look('5-0', 1000);
    look('5-0', 1000 + HOLD_LIMIT_MS);
    expect(holdBack.exceeded()).toBe(false);
    look('5-0', 1001 + HOLD_LIMIT_MS);
    expect(holdBack.exceeded()).toBe(true);
  });

  it('counts again from the reply that found the id moved', () => {
    const { holdBack, look } = holdBackAt();
    look('5-0', 1000);
    look('6-0', 1200, 1210);
    look('6-0', 1210 + HOLD_LIMIT_MS);
    expect(holdBack.exceeded()).toBe(false);
    look('6-0', 1211 + HOLD_LIMIT_MS);
    expect(holdBack.exceeded()).toBe(true);
  });

  it('counts from when the first reply came to when the latest look was sent: a late reply proves nothing', () => {
    const { holdBack, look } = holdBackAt();
    look('5-0', 990, 1000);
    look('5-0', 1010, 1010 + 2 * HOLD_LIMIT_MS); // sent 10 ms after, answered much later
    expect(holdBack.exceeded()).toBe(false);
  });

  it('starts afresh after a take that was not held back', () => {
    const { holdBack, look } = holdBackAt();
    look('5-0', 1000);
    look('5-0', 1001 + HOLD_LIMIT_MS);
    holdBack.reset();
    expect(holdBack.exceeded()).toBe(false);
    look('5-0', 1300); // the same id again: a new hold, counted from here
    expect(holdBack.exceeded()).toBe(false);
  });
});

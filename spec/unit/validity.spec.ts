import { describe, expect, it } from 'vitest';
import { ValidityWindow } from '../../lib/validity.js';

/** A window over a clock the test moves by hand. */
function windowAt(ttlMs: number, start = 1000) {
  const clock = { now: start };
  const window = new ValidityWindow(ttlMs, () => clock.now);
  return { clock, window };
}

describe('ValidityWindow', () => {
  it('is invalid before any extend', () => {
    const { window } = windowAt(2000);
    expect(window.isValid()).toBe(false);
    expect(window.remainingMs()).toBe(0);
  });

  it('allows 1% of the ttl plus 2 ms for drift', () => {
    expect(windowAt(2000).window.driftMs).toBe(22);
    expect(windowAt(6000).window.driftMs).toBe(62);
    expect(windowAt(150).window.driftMs).toBe(3);
  });

  it('is valid until sentAt + ttl - drift, and not from then on', () => {
    const { clock, window } = windowAt(2000, 1000);
    const sentAt = 1000;
    clock.now = 1300; // the reply came late: the window still counts from sentAt
    window.extended(sentAt);
    const end = sentAt + 2000 - 22;
    clock.now = end - 1;
    expect(window.isValid()).toBe(true);
    expect(window.remainingMs()).toBe(1);
    clock.now = end;
    expect(window.isValid()).toBe(false);
    expect(window.remainingMs()).toBe(0);
    clock.now = end + 5000;
    expect(window.isValid()).toBe(false);
    expect(window.remainingMs()).toBe(0);
  });

  it('a later extend moves the end forward', () => {
    const { clock, window } = windowAt(2000, 0);
    window.extended(0);
    clock.now = 1500;
    window.extended(1500);
    clock.now = 3000;
    expect(window.isValid()).toBe(true);
    expect(window.remainingMs()).toBe(1500 + 2000 - 22 - 3000);
  });

  it('an extend with an older sentAt never shortens the window', () => {
    const { clock, window } = windowAt(2000, 0);
    window.extended(1500);
    window.extended(200); // a slow reply to an earlier request arriving last
    clock.now = 3000;
    expect(window.isValid()).toBe(true);
    expect(window.remainingMs()).toBe(1500 + 2000 - 22 - 3000);
  });

  it('invalidate() ends the window at once, until the next extend', () => {
    const { clock, window } = windowAt(2000, 0);
    window.extended(0);
    expect(window.isValid()).toBe(true);
    window.invalidate();
    expect(window.isValid()).toBe(false);
    expect(window.remainingMs()).toBe(0);
    clock.now = 100;
    window.extended(100);
    expect(window.isValid()).toBe(true);
    expect(window.remainingMs()).toBe(2000 - 22);
  });

  it('after invalidate(), an extend older than the old end still opens a window', () => {
    const { clock, window } = windowAt(2000, 0);
    window.extended(1000);
    window.invalidate();
    window.extended(500);
    clock.now = 600;
    expect(window.remainingMs()).toBe(500 + 2000 - 22 - 600);
  });

  it('remainingMs counts down with the clock', () => {
    const { clock, window } = windowAt(10_000, 0);
    window.extended(0);
    const end = 10_000 - 102;
    for (const now of [0, 1, 2500, end - 1]) {
      clock.now = now;
      expect(window.remainingMs()).toBe(end - now);
    }
  });
});

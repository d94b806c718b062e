import { inspect } from 'node:util';

type Falsy = false | 0 | 0n | '' | null | undefined;

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  message?: string;
}

/** For the length of a fault a spec injects (an outage, a stall), never to wait for a state: that is waitFor's. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `fn` until it returns a truthy value and returns that value. Errors thrown by `fn`
 * count as "not yet"; on timeout the last value or error is included in the thrown Error.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 20, message = 'condition not met' }: WaitForOptions = {},
): Promise<Exclude<T, Falsy>> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt finished';
  let lastError: unknown;
  for (;;) {
    try {
      // Race each attempt against the deadline so a hung call cannot outlive the timeout.
      const value = await withDeadline(fn, deadline);
      if (value) return value as Exclude<T, Falsy>;
      last = `last value: ${inspect(value)}`;
      lastError = undefined;
    } catch (error) {
      if (error !== DEADLINE) {
        last = `last error: ${error instanceof Error ? error.message : inspect(error)}`;
        lastError = error;
      }
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new Error(`waitFor timed out after ${timeoutMs} ms: ${message} (${last})`, { cause: lastError });
    }
    await sleep(Math.min(intervalMs, remaining));
  }
}

const DEADLINE = Symbol('deadline');

async function withDeadline<T>(fn: () => T | Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(DEADLINE), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([Promise.resolve().then(fn), expired]);
  } finally {
    clearTimeout(timer);
  }
}

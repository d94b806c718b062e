// Not run by itself: the long-running examples stop through it on Ctrl-C (SIGINT) or SIGTERM.
//
// One Ctrl-C can reach a script twice within a few milliseconds: the terminal signals every process of its
// foreground group, and `tsx` passes the signal on to the script once more unless it sees, within 30 ms, that the
// script got it. With `process.once`, that second delivery finds no listener and Node's default ends the process
// in the middle of close() or done(), leaving streams pending. So: the first signal starts the stop, signals
// within a second of it are the same Ctrl-C and are ignored, a later Ctrl-C is told that the stop is under way,
// and the one after that exits at once.
import os from 'node:os';

/** A signal this soon after the last Ctrl-C counted is that Ctrl-C, passed on again. */
const SAME_PRESS_MS = 1000;
/** Ctrl-C presses after the first that exit without waiting for the stop to end. */
const PRESSES_TO_FORCE = 2;

/** Runs `stop` on the first SIGINT or SIGTERM; the process then ends when nothing is left to do. */
export function stopOnSignals(stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  let lastPressAt = -Infinity;
  let presses = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    const now = performance.now();
    if (now - lastPressAt < SAME_PRESS_MS) return;
    lastPressAt = now;
    if (!stopping) {
      stopping = true;
      stop(signal).catch((error: unknown) => {
        console.error('Stopping failed:', error);
        process.exit(1);
      });
    } else if (++presses < PRESSES_TO_FORCE) {
      console.log(`${signal}: still stopping; press Ctrl-C once more to exit at once`);
    } else {
      // Whatever the stop had not handed over or finished is taken over by the peers once the session expires.
      console.log(`${signal}: exiting without waiting for the stop to end`);
      process.exit(128 + os.constants.signals[signal]);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * Closes the application's own connection after close(): QUIT when Redis answers; otherwise at once. node-redis
 * queues QUIT while it reconnects, so `quit()` during an outage would wait for as long as Redis stays away, and
 * the process would not end. (close() itself gives Redis at most its `timeoutMs`.)
 */
export async function disconnect(redis: { isReady: boolean; quit(): Promise<unknown>; disconnect(): Promise<unknown> }): Promise<void> {
  await (redis.isReady ? redis.quit() : redis.disconnect());
}

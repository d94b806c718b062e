import { withTimeout } from './timeout.js';

/** How long stop() waits for a check under way. */
const STOP_WAIT_MS = 1000;

/**
 * A check run on a timer and on demand, never two at once, its failures reported: how a follower keeps looking
 * for the master it follows (a cluster slot's, a Sentinel set-up's).
 */
export class CheckLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private ended = false;

  constructor(
    private readonly everyMs: number,
    private readonly check: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** True once stop() was called: a check under way gives up what it would change. */
  get stopped(): boolean {
    return this.ended;
  }

  /** Checks every `everyMs` from now on. */
  start(): void {
    this.schedule();
  }

  /** Checks now, unless a check is under way. */
  soon(): void {
    if (this.ended || this.running) return;
    this.running = this.check()
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** No more checks; waits a little for the one under way. */
  async stop(): Promise<void> {
    this.ended = true;
    clearTimeout(this.timer);
    await withTimeout(this.running ?? Promise.resolve(), STOP_WAIT_MS).catch(() => undefined);
  }

  private schedule(): void {
    if (this.ended) return;
    this.timer = setTimeout(() => {
      this.soon();
      this.schedule();
    }, this.everyMs);
    this.timer.unref();
  }
}

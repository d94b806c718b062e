import type { ClientContext } from '../context.js';
import { commitPositions } from '../scripts/commit-positions.js';
import type { Session } from '../session.js';
import type { StreamWork } from './stream-work.js';

/** Positions per script call: one call for many streams, each call short. */
const COMMIT_BATCH = 500;

export interface CommitEvents {
  /** A later owner has opened or written the stream's position: this lease is out of date. */
  onStale(work: StreamWork): void;
  /** Positions were committed (for trimming). */
  onCommitted(work: StreamWork, id: string): void;
  onError(error: unknown): void;
}

/**
 * Commits processed positions in batches: every `commitIntervalMs` after the first entry processed since the last
 * commit, and on demand (a hand-off). One script call carries many streams; each write is fenced by its lease's
 * token, and all of them by this incarnation's session.
 */
export class Committer {
  private readonly due = new Set<StreamWork>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly context: ClientContext,
    private readonly session: Session,
    private readonly events: CommitEvents,
  ) {}

  /** `work.processed` moved: commit it within its commitIntervalMs. */
  mark(work: StreamWork): void {
    this.due.add(work);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((error: unknown) => this.events.onError(error));
    }, work.settings.commitIntervalMs);
    this.timer.unref();
  }

  /** Commits everything processed so far; resolves when it is written (or refused). Calls run one after another. */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.commitDue());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async commitDue(): Promise<void> {
    const works = [...this.due].filter((work) => work.processed !== undefined && !work.lease.ended && !work.finished);
    this.due.clear();
    for (let i = 0; i < works.length; i += COMMIT_BATCH) {
      const slice = works.slice(i, i + COMMIT_BATCH);
      const positions = slice.map((work) => ({ stream: work.stream, id: work.processed!, token: work.lease.token, lbsId: work.lease.lbsId }));
      let result;
      try {
        result = await commitPositions(this.context.scripts, this.context, { nonce: this.session.incarnation().nonce, positions });
      } catch (error) {
        // Committed next time, with whatever was processed meanwhile: this batch and the ones not sent yet.
        for (const work of works.slice(i)) this.mark(work);
        throw error;
      }
      // The session is gone: every lease ends with it, and the next owner starts from the last commit.
      if (result.lost) return;
      for (const [j, work] of slice.entries()) {
        const { id } = positions[j]!;
        if (result.outcomes[j] === 'stale') this.events.onStale(work);
        else {
          if (work.processed === id) work.processed = undefined;
          this.events.onCommitted(work, id);
        }
      }
    }
  }
}

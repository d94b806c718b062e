/**
 * The bench's entry handler, in a consumer process: does no work but record the call. Counts calls, keeps the
 * append -> handler start latency of each (the entry id's millisecond is when Redis appended it; Redis and the
 * worker read the same clock), and can journal every start to a file, written synchronously so that a process's
 * record survives its SIGKILL.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { wallNow, type ProcessedSnapshot } from './protocol.js';

/** The most latencies kept between two resets (a run offers far fewer). */
const LATENCY_LIMIT = 2_000_000;

export interface RecordedEntry {
  readonly stream: string;
  readonly id: string;
}

export class EntryRecorder {
  private count = 0;
  private firstAt = 0;
  private lastAt = 0;
  private latencies: number[] = [];
  private journal: number | undefined;

  /**
   * @param keepLatencies keep every append -> start latency
   * @param journalFile  file to append `<stream> <id> <wall-clock ms>` lines to
   * @param onCall       called after every recorded call (to report progress)
   */
  constructor(
    private readonly keepLatencies: boolean,
    journalFile: string | undefined,
    private readonly onCall: () => void,
  ) {
    if (journalFile) this.journal = openSync(journalFile, 'a');
  }

  get calls(): number {
    return this.count;
  }

  /** The handler: records one call. */
  readonly handle = (entry: RecordedEntry): void => {
    const at = wallNow();
    this.count++;
    if (this.firstAt === 0) this.firstAt = at;
    this.lastAt = at;
    if (this.keepLatencies && this.latencies.length < LATENCY_LIMIT) {
      this.latencies.push(Date.now() - Number(entry.id.slice(0, entry.id.indexOf('-'))));
    }
    if (this.journal !== undefined) writeSync(this.journal, `${entry.stream} ${entry.id} ${at.toFixed(2)}\n`);
    this.onCall();
  };

  snapshot(reset: boolean): Omit<ProcessedSnapshot, 'readersOpen' | 'readersFailed'> {
    const snapshot = { count: this.count, firstAt: this.firstAt, lastAt: this.lastAt, latencies: this.latencies };
    if (reset) {
      this.count = 0;
      this.firstAt = 0;
      this.lastAt = 0;
      this.latencies = [];
    }
    return snapshot;
  }

  close(): void {
    if (this.journal !== undefined) closeSync(this.journal);
    this.journal = undefined;
  }
}

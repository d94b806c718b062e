/**
 * The guarantees of run() under faults, checked at the end of a chaos run from what was appended to the data
 * streams and from the handlers' own records (handler-records.ts):
 * (1) at least once: every entry appended was processed: its handler started and resolved, under some owner;
 * (2) fencing: no handler started on a stream under a lease token after a handler had started on it under a higher
 *     token (a later owner);
 * (3) duplicates within the bound: an entry is processed again by a later owner only when the earlier owner had not
 *     committed it before it lost the stream: the entry in flight (started, never resolved), or one it resolved
 *     less than commitIntervalMs (plus a margin) before its process was killed or stopped (or last ran before
 *     that: a process starved of CPU commits nothing either). An owner that lost the stream with no fault of its
 *     process (its session lost under load) gets a heartbeat more, counted back from the next owner's first
 *     handler. A close() commits what was processed before it hands over: nothing it resolved may be processed
 *     again;
 * (4) order: under one lease token the entries of a stream are processed one at a time, in order, none skipped,
 *     none twice (a retry of a failed call excepted).
 * A verdict with every violation, its evidence, and the measures printed on the run's summary line.
 */
import type { FaultKind } from './chaos-takeover.js';
import type { HandlerRecord } from './handler-records.js';

/** A fault as the checks need it: what happened to which process (HandlerRecord.incarnation), and when. */
export interface ProcessFault {
  readonly kind: FaultKind;
  readonly incarnation: string;
  /** Date.now() just before the signal or the close command. */
  readonly at: number;
}

export interface ProcessingBounds {
  readonly commitIntervalMs: number;
  readonly heartbeatMs: number;
  /** Slack for a loaded machine: a commit's timer and script run late, a signal arrives late. */
  readonly marginMs: number;
}

export interface ProcessingVerdict {
  violations: string[];
  entries: number;
  /** Handler calls (start records), retries included. */
  starts: number;
  /** Processings of an entry by a later owner after an earlier one had started it: starts beyond the first owner's. */
  duplicates: number;
  /** Of the duplicates: entries the earlier owner never finished (in flight at its end). */
  inFlightDuplicates: number;
  /** Duplicates by what ended the earlier owner: kill, stall, close, or none seen by the test. */
  duplicatesAfter: Record<FaultKind | 'none', number>;
  /** Changes of owner on a stream (a token after another, both with handler calls) and the most duplicates in one. */
  takeovers: number;
  worstTakeoverDuplicates: number;
  /** Of the duplicates the earlier owner had resolved before a fault of its process: the longest from its resolving
   * the entry to its end (see (3)), and the bound on it. */
  worstDuplicateAgeMs: number | undefined;
  duplicateBoundMs: number;
}

/** One owner's handler calls on one stream. */
interface Tenure {
  readonly token: number;
  readonly consumer: string;
  readonly incarnation: string;
  readonly starts: HandlerRecord[];
  /** The first end record of each entry. */
  readonly ends: Map<string, HandlerRecord>;
  /** When its first handler started. */
  readonly firstStart: number;
}

/** One data stream: its entries in order, and its owners' handler calls by ascending token. */
interface History {
  readonly ids: readonly string[];
  readonly position: ReadonlyMap<string, number>;
  readonly tenures: readonly Tenure[];
  /** Records a violation on this stream. */
  violation(what: string): void;
}

/** What the checks of every stream share. */
interface Run {
  readonly faults: readonly ProcessFault[];
  readonly bounds: ProcessingBounds;
  readonly activity: Activity;
  readonly verdict: ProcessingVerdict;
  /** A time for the evidence, from the run's start. */
  time(at: number): string;
}

/** Checks (1)-(4); `appended` holds every entry of every data stream, in order; `t0` is the run's start (for
 * readable times in the evidence). */
export function checkProcessing(
  appended: ReadonlyMap<string, readonly string[]>,
  records: readonly HandlerRecord[],
  faults: readonly ProcessFault[],
  bounds: ProcessingBounds,
  t0: number,
): ProcessingVerdict {
  const verdict: ProcessingVerdict = {
    violations: [],
    entries: 0,
    starts: 0,
    duplicates: 0,
    inFlightDuplicates: 0,
    duplicatesAfter: { kill: 0, stall: 0, close: 0, none: 0 },
    takeovers: 0,
    worstTakeoverDuplicates: 0,
    worstDuplicateAgeMs: undefined,
    duplicateBoundMs: bounds.commitIntervalMs + bounds.marginMs,
  };
  const run: Run = { faults, bounds, verdict, activity: new Activity(records), time: (at) => `+${((at - t0) / 1000).toFixed(3)}s` };
  const byStream = new Map<string, HandlerRecord[]>();
  for (const record of records) byStream.set(record.stream, [...(byStream.get(record.stream) ?? []), record]);
  for (const stream of byStream.keys()) {
    if (!appended.has(stream)) verdict.violations.push(`${show(stream)}: handlers ran for a stream the test never wrote`);
  }
  for (const [stream, ids] of appended) {
    const history: History = {
      ids,
      position: new Map(ids.map((id, i) => [id, i])),
      tenures: tenuresOf(byStream.get(stream) ?? []),
      violation: (what) => void verdict.violations.push(`${show(stream)}: ${what}`),
    };
    verdict.entries += ids.length;
    verdict.takeovers += Math.max(0, history.tenures.length - 1);
    for (const tenure of history.tenures) verdict.starts += tenure.starts.length;
    checkAtLeastOnce(history);
    checkOrder(history, run);
    checkFencing(history, run);
    checkDuplicates(history, run);
  }
  return verdict;
}

/** (1) Every entry resolved under some owner; every entry started was appended. */
function checkAtLeastOnce({ ids, position, tenures, violation }: History): void {
  const resolved = new Set<string>();
  for (const tenure of tenures) {
    for (const id of tenure.ends.keys()) resolved.add(id);
    for (const start of tenure.starts) if (!position.has(start.id)) violation(`entry ${start.id}, started by ${who(tenure)}, was never appended`);
  }
  const unprocessed = ids.filter((id) => !resolved.has(id));
  if (unprocessed.length === 0) return;
  const started = unprocessed.filter((id) => tenures.some((tenure) => tenure.starts.some((start) => start.id === id)));
  violation(`${unprocessed.length} of ${ids.length} entries never processed (${list(unprocessed)}; started but never resolved: ${list(started)})`);
}

/** (4) Under one token, the next start is the next entry (or a retry of the same), once the one before resolved. */
function checkOrder({ ids, position, tenures, violation }: History, { time }: Run): void {
  for (const tenure of tenures) {
    for (let i = 1; i < tenure.starts.length; i++) {
      const before = tenure.starts[i - 1]!;
      const next = tenure.starts[i]!;
      const step = (position.get(next.id) ?? NaN) - (position.get(before.id) ?? NaN);
      if (step === 0 && next.attempt <= before.attempt) {
        violation(`${who(tenure)} started entry ${next.id} again at ${time(next.at)} (attempt ${next.attempt} after attempt ${before.attempt})`);
      } else if (step < 0) {
        violation(`${who(tenure)} went backwards: entry ${next.id} at ${time(next.at)} after entry ${before.id}`);
      } else if (step > 1) {
        const skipped = ids.slice(position.get(before.id)! + 1, position.get(next.id)!);
        violation(`${who(tenure)} skipped ${step - 1} entries: ${before.id} then ${next.id} (skipped ${list(skipped)})`);
      }
      const ended = tenure.ends.get(before.id);
      if (step !== 0 && ended && ended.at > next.at) {
        violation(`${who(tenure)} started entry ${next.id} at ${time(next.at)} before entry ${before.id} had resolved (${time(ended.at)})`);
      }
    }
  }
}

/** (2) No start under a token after the first start under any higher token. */
function checkFencing({ tenures, violation }: History, { time }: Run): void {
  let laterOwner: Tenure | undefined;
  for (const tenure of [...tenures].reverse()) {
    for (const start of laterOwner ? tenure.starts : []) {
      if (start.at > laterOwner!.firstStart) {
        violation(
          `${who(tenure)} started entry ${start.id} at ${time(start.at)}, after the later owner ${who(laterOwner!)} had started ` +
            `at ${time(laterOwner!.firstStart)}`,
        );
      }
    }
    if (!laterOwner || tenure.firstStart < laterOwner.firstStart) laterOwner = tenure;
  }
}

/** (3) Every entry a later owner started after an earlier one had, against the earlier owner's end. */
function checkDuplicates({ tenures, violation }: History, { faults, bounds, activity, verdict, time }: Run): void {
  const perTakeover = new Map<Tenure, number>();
  const startedBy = new Map<string, Tenure[]>();
  for (const tenure of tenures) {
    for (const id of new Set(tenure.starts.map((start) => start.id))) startedBy.set(id, [...(startedBy.get(id) ?? []), tenure]);
  }
  for (const [id, owners] of startedBy) {
    for (let i = 1; i < owners.length; i++) {
      const earlier = owners[i - 1]!;
      const later = owners[i]!;
      verdict.duplicates++;
      perTakeover.set(earlier, (perTakeover.get(earlier) ?? 0) + 1);
      const end = endOf(earlier, faults);
      verdict.duplicatesAfter[end?.kind ?? 'none']++;
      const resolvedAt = earlier.ends.get(id)?.at;
      if (resolvedAt === undefined) {
        verdict.inFlightDuplicates++;
        continue;
      }
      const again = `entry ${id}, resolved by ${who(earlier)} at ${time(resolvedAt)}, was processed again by ${who(later)}`;
      if (end?.kind === 'close') {
        violation(`${again}: close() at ${time(end.at)} handed the stream over without committing what it had processed`);
        continue;
      }
      // The owner's end: its fault, or, when it was starved of CPU before, the last thing its process did (its
      // commit timer could not run either). Without a fault of its process it lost the stream by itself (a
      // session lost under load), some time up to a heartbeat before the next owner's first handler.
      const reference = end ? Math.min(end.at, activity.lastBefore(earlier.incarnation, end.at) ?? end.at) : later.firstStart;
      const boundMs = verdict.duplicateBoundMs + (end ? 0 : bounds.heartbeatMs);
      const ageMs = reference - resolvedAt;
      if (end) verdict.worstDuplicateAgeMs = Math.max(verdict.worstDuplicateAgeMs ?? -Infinity, ageMs);
      if (ageMs > boundMs) {
        const ending = end
          ? `its process's last record at ${time(reference)} before its ${end.kind} at ${time(end.at)}`
          : `the next owner's first handler at ${time(reference)} (no fault of its process)`;
        violation(`${again}: ${ageMs} ms before ${ending}, more than the ${boundMs} ms in which it must have been committed`);
      }
    }
  }
  for (const count of perTakeover.values()) verdict.worstTakeoverDuplicates = Math.max(verdict.worstTakeoverDuplicates, count);
}

function who(tenure: Tenure): string {
  return `${tenure.consumer} (pid ${tenure.incarnation}, token ${tenure.token})`;
}

/** The handler calls of one stream by owner (token, ascending), each owner's in the order Redis received them. */
function tenuresOf(records: readonly HandlerRecord[]): Tenure[] {
  const byToken = new Map<number, HandlerRecord[]>();
  for (const record of records) byToken.set(record.token, [...(byToken.get(record.token) ?? []), record]);
  const tenures: Tenure[] = [];
  for (const [token, own] of byToken) {
    const starts = own.filter((record) => record.event === 'start');
    // An end without a start cannot be: the start is recorded first, and awaited.
    if (starts.length === 0) continue;
    const ends = new Map<string, HandlerRecord>();
    for (const record of own) if (record.event === 'end' && !ends.has(record.id)) ends.set(record.id, record);
    const { consumer, incarnation } = starts[0]!;
    tenures.push({ token, consumer, incarnation, starts, ends, firstStart: Math.min(...starts.map((start) => start.at)) });
  }
  return tenures.sort((a, b) => a.token - b.token);
}

/** When each process wrote its records: to tell when it last ran before a fault. */
class Activity {
  private readonly times = new Map<string, number[]>();

  constructor(records: readonly HandlerRecord[]) {
    for (const record of records) {
      const times = this.times.get(record.incarnation) ?? [];
      times.push(record.at);
      this.times.set(record.incarnation, times);
    }
    for (const times of this.times.values()) times.sort((a, b) => a - b);
  }

  /** The time of the last record of `incarnation` at or before `at`. */
  lastBefore(incarnation: string, at: number): number | undefined {
    const times = this.times.get(incarnation) ?? [];
    let low = 0;
    let high = times.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (times[middle]! <= at) low = middle + 1;
      else high = middle;
    }
    return low === 0 ? undefined : times[low - 1];
  }
}

/** The fault that ended an owner: the first one of its process from its first handler call on. */
function endOf(tenure: Tenure, faults: readonly ProcessFault[]): ProcessFault | undefined {
  return faults.filter((fault) => fault.incarnation === tenure.incarnation && fault.at >= tenure.firstStart).sort((a, b) => a.at - b.at)[0];
}

function list(ids: readonly string[]): string {
  return ids.length === 0 ? '-' : `${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}`;
}

function show(stream: string): string {
  return JSON.stringify(stream);
}

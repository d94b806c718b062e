/** The processing scenario's tables and chart. */
import { ecdfChart } from '../lib/chart.js';
import { fmt, summarize, table } from '../lib/util.js';
import type { ProcessingData } from './processing.js';
import { readingName, type Reading } from './processing-fleet.js';
import { heapPerStream, heapWithFixedCosts, memoryModeName } from './processing-memory.js';
import { offeredRate } from './processing-many-streams.js';
import { achievedRate, entriesPerSecond, whileProducingRate } from './processing-throughput.js';

/** The q-quantile of `total` values of which only the ascending `values` arrived (the rest count as later than all). */
export function quantileOf(values: readonly number[], total: number, q: number): number {
  const rank = Math.max(1, Math.ceil(q * total));
  return rank > values.length ? Number.POSITIVE_INFINITY : values[rank - 1]!;
}

const MB = 2 ** 20;

function phasesText(phases: ReadonlyArray<{ claimed: number; openSent: number; opened: number }>): string {
  if (phases.length === 0) return '–';
  const median = (values: number[]): string => fmt(summarize(values).p50);
  return `${median(phases.map((p) => p.claimed))} / ${median(phases.map((p) => p.openSent))} / ${median(phases.map((p) => p.opened))}`;
}

function topCommands(calls: Record<string, number>, per: number, scale: number): string {
  return Object.entries(calls)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([name, n]) => `${name} ${fmt((n / per) * scale, 1)}`)
    .join(', ');
}

function throughputTable(data: ProcessingData): string {
  const rows = data.throughput.map((run) => [
    readingName(run.reading),
    run.produced ? `${fmt(run.produceRate)} → ${fmt(achievedRate(run.produced))} for ${fmt(run.produceMs / 1000)} s` : '–',
    fmt(run.backlog),
    `${fmt(run.processed)}${run.complete ? '' : ' (incomplete)'}`,
    fmt(run.spanMs / 1000, 2),
    fmt(entriesPerSecond(run)),
    run.produced ? fmt(whileProducingRate(run)) : '–',
    fmt(run.endToEndMs / 1000, 2),
    fmt(run.redisCpuSeconds, 2),
    fmt((run.redisCommands / Math.max(1, run.processed)) * 1000),
    topCommands(run.redisCalls, Math.max(1, run.processed), 1000),
  ]);
  const first = data.throughput[0];
  const caption =
    `a. Backlog drain: ${first ? `${fmt(first.consumers)} consumers, ${fmt(first.streams)} streams × ${fmt(first.perStream)} entries` : ''} written before ` +
    'the consumers start, then the streams assigned; a no-op handler (it records the call). "entries/s": handler calls over all consumers from the first ' +
    'start to the last. With a producer: a process of its own appending to the same streams in turn at the offered rate (offered → achieved); ' +
    '"while producing": handler calls per second over the producer\'s run. "Redis commands per 1,000 entries": INFO commandstats over the drain ' +
    '(script-internal commands included), top commands likewise.';
  const headers = [
    'implementation', 'producer offered → achieved entries/s', 'backlog', 'processed', 'first → last start s', 'entries/s', 'while producing entries/s',
    'assigned → last start s', 'Redis CPU s', 'Redis commands per 1,000 entries', 'top commands per 1,000 entries',
  ];
  return `${caption}\n\n${table(headers, rows)}`;
}

function manyStreamsTable(data: ProcessingData): string {
  const rows = data.manyStreams.map((run) => {
    const s = summarize(run.latencies);
    const owned = run.owned.reduce((sum, n) => sum + n, 0);
    const unread = owned - run.read;
    return [
      readingName(run.reading),
      `${fmt(run.read)} / ${fmt(owned)}${run.maxReaders === undefined ? '' : ` (cap ${fmt(run.maxReaders)} per consumer)`}`,
      `${fmt(run.readersFailed)} / ${fmt(run.disowned)}`,
      fmt(run.readyMs / 1000, 1),
      run.connections.join(', '),
      fmt((run.redisMemoryReady - run.redisMemoryBefore) / MB, 1),
      fmt(Math.max(...run.rss) / MB),
      `${fmt(run.idle.commands / run.idle.seconds)} / ${fmt((run.idle.cpuSeconds / run.idle.seconds) * 60, 2)}`,
      `${fmt(run.rate)} → ${fmt(offeredRate(run))}`,
      `${fmt(run.processed)} / ${fmt(run.produced.sent)}${unread > 0 ? ` (${fmt(unread)} streams unread)` : ''}`,
      fmt(run.drainMs),
      `${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)}`,
      fmt((run.load.cpuSeconds / run.load.seconds) * 60, 1),
    ];
  });
  const first = data.manyStreams[0];
  const caption =
    `b. Many streams: ${first ? `${fmt(first.consumers)} consumers own ${fmt(first.streams)} streams (heartbeatMs ${fmt(first.heartbeatMs)}); ` : ''}` +
    `each stream has one entry before it is assigned ("read": streams whose entry was processed, "assigned → all read": until the last of them). ` +
    'Then an idle window ("idle": Redis commands/s and CPU s/min, INFO), then a producer process appending to the streams in turn for ' +
    `${first ? fmt(first.produceMs / 1000) : '–'} s at the offered rate. "append → start": Redis's append time (the entry id's ms) to the handler's start, ` +
    '1 ms resolution, every entry of every consumer. "connections": per consumer, CLIENT LIST by client name (every connection of a consumer is named ' +
    'for it: the user\'s, the library\'s, the baseline\'s reading ones). The per-stream XREAD consumers are capped so that Redis keeps room for ' +
    'the other clients (maxclients minus those connected minus 64): the streams beyond the cap stay owned and unread. "connections refused": ' +
    'reading connections Redis refused; "streams lost": streamDisowned over the run (a consumer\'s session lapsed: its process stalled ' +
    'for longer than its validity window). "Redis used_memory": ' +
    'after every stream was read minus before the consumers started.';
  const headers = [
    'implementation', 'streams read / owned', 'connections refused / streams lost', 'assigned → all read s', 'connections per consumer', 'Redis used_memory +MB', 'consumer RSS max MB',
    'idle: Redis commands/s / CPU s/min', 'offered → achieved entries/s', 'processed / produced', 'last start after producer stopped ms',
    'append → start p50 / p99 / max ms', 'Redis CPU under load s/min',
  ];
  return `${caption}\n\n${table(headers, rows)}`;
}

function resumeTable(data: ProcessingData): string {
  const rows = data.resume.map((run) => {
    const owned = summarize(run.ownedAgain);
    const started = summarize(run.firstStarted);
    const opening = summarize(run.ownedToStarted);
    const worth = (run.rate / run.streams) * (run.commitIntervalMs / 1000);
    return [
      readingName(run.reading),
      fmt(run.streams),
      fmt(run.heartbeatMs),
      run.expiryAfterKillMs === null ? '–' : fmt(run.expiryAfterKillMs),
      `${fmt(owned.p50)} / ${fmt(owned.p99)}`,
      `${fmt(started.p50)} / ${fmt(quantileOf(run.firstStarted, run.streams, 0.99))} / ${fmt(started.max)}`,
      `${fmt(opening.p50)} / ${fmt(opening.p99)}`,
      phasesText(run.phases),
      fmt(run.notResumed),
      `${fmt(run.duplicates)} (${fmt(run.maxDuplicatesPerStream)})`,
      `${fmt(run.bound)} (${fmt(run.maxBoundPerStream)})`,
      fmt(run.beyondBound),
      fmt(worth, 1),
      fmt(run.lost),
      fmt(run.produced),
    ];
  });
  const first = data.resume[0];
  const caption =
    `c. Resume after SIGKILL: one consumer owns ${first ? fmt(first.streams) : ''} streams and processes entries a producer appends to them in turn ` +
    `(${first ? fmt(first.rate) : ''} entries/s in all, from ${first ? fmt(first.beforeKillMs / 1000) : ''} s plus a random part of a heartbeat before the kill ` +
    `until ${first ? fmt(first.afterKillMs / 1000) : ''} s after); ${first ? first.survivors : ''} idle survivors; run()'s commitIntervalMs ` +
    `${first ? fmt(first.commitIntervalMs) : ''}. Every handler start is journaled to a file (synchronous write), so the victim's survives the kill. ` +
    '"first entry started": per victim stream, the first handler start by a survivor; "owned again → first entry started": the same per stream, from ' +
    'its streamAdded in the survivor (the time the processing takes to open the stream and read it). "survivors: claimed / positions asked / loaded": ' +
    'medians over the survivors, ms after the kill, of their last claim.lua reply, their first open-positions.lua call and their last ' +
    'open-positions.lua reply (timed in the survivor processes; then come XINFO STREAM per stream, the SUBSCRIBE, the first XREAD). ' +
    '"processed twice": starts beyond the first per entry ' +
    '(most on one stream); "bound": entries the victim started after its position committed at the kill (ours: the positions hash; by hand: ' +
    'each stream\'s checkpoint), i.e. processed or in flight and not committed — a new owner starts after the committed position, so these ' +
    'are processed again; "beyond bound": duplicates outside it (none expected). "commitIntervalMs worth": entries per stream per commit interval ' +
    'at this rate. "lost": entries written and never started.';
  const headers = [
    'implementation', 'streams', 'heartbeatMs', 'session expiry after kill ms', 'kill → owned again p50 / p99 ms', 'kill → first entry started p50 / p99 / max ms',
    'owned again → first entry started p50 / p99 ms', 'survivors: claimed / positions asked / loaded ms', 'not resumed', 'processed twice (per stream max)', 'bound (per stream max)', 'beyond bound', 'commitIntervalMs worth per stream', 'lost', 'produced',
  ];
  return `${caption}\n\n${table(headers, rows)}`;
}

function memoryTable(data: ProcessingData): string {
  const rows = data.memory.map((run) => [
    memoryModeName(run.mode),
    fmt(run.streams),
    fmt(run.before.heapUsed / MB, 1),
    fmt(run.half.heapUsed / MB, 1),
    fmt(run.after.heapUsed / MB, 1),
    fmt(heapPerStream(run)),
    fmt(heapWithFixedCosts(run)),
    fmt((run.after.rss - run.before.rss) / run.streams),
    String(run.connections),
  ]);
  const caption =
    'd. Memory per owned idle stream: one consumer in a child process with --expose-gc, gc() four times before each sample; "before" after init() ' +
    'with nothing owned, "half" once it owned half the streams, "after" once it owned them all (one entry each, processed; then 1.5 s idle each ' +
    'time). "heap B/stream": (after - half) / (streams / 2), what each more stream costs; "with fixed costs": (after - before) / streams, with ' +
    "what does not grow with the streams (the processing's connections and their buffers). \"connections\": CLIENT LIST, with the streams owned.";
  const headers = ['consumer', 'streams', 'heap before MB', 'heap half MB', 'heap after MB', 'heap B/stream', 'with fixed costs B/stream', 'RSS B/stream', 'connections'];
  return `${caption}\n\n${table(headers, rows)}`;
}

export function processingTables(data: ProcessingData): string[] {
  const tables: string[] = [];
  if (data.throughput.length > 0) tables.push(throughputTable(data));
  if (data.manyStreams.length > 0) tables.push(manyStreamsTable(data));
  if (data.resume.length > 0) tables.push(resumeTable(data));
  if (data.memory.length > 0) tables.push(memoryTable(data));
  return tables;
}

const STYLE: Record<Reading, { color: string; dash?: string }> = {
  ours: { color: '#1f5fbf' },
  xread: { color: '#d62728', dash: '6 3' },
};

export function processingChart(data: ProcessingData, meta: { date: string; machine: string }): string {
  const largest = Math.max(...data.manyStreams.map((run) => run.streams));
  const many = data.manyStreams.filter((run) => run.streams === largest);
  const resume = data.resume;
  const manyFirst = many[0];
  const resumeFirst = resume[0];
  const panels = [];
  const notes: string[] = [];
  if (manyFirst) {
    panels.push({
      title: `Load: append → handler start, every entry`,
      // Entries never processed (streams the baseline could not read) keep a line below 100%.
      series: many.map((run) => ({
        label: readingName(run.reading),
        ...STYLE[run.reading],
        values: run.latencies,
        total: run.produced.sent,
        capMs: 10_000,
        capLabel: `${fmt((run.latencies.length / run.produced.sent) * 100)}% processed`,
      })),
      markers: [{ x: 50, label: 'target p99 50 ms' }],
      xMin: 1,
      xMax: 10_000,
    });
    for (const run of many.filter((r) => r.latencies.length < r.produced.sent)) {
      notes.push(
        `Left, ${readingName(run.reading)}: ${fmt((1 - run.latencies.length / run.produced.sent) * 100, 1)}% of the entries never processed;`,
        `${fmt(run.owned.reduce((sum, n) => sum + n, 0) - run.read)} streams unread, ${fmt(run.disowned)} lost to a lapsed session; ` +
          `the producer achieved ${fmt(offeredRate(run))} of the ${fmt(run.rate)} entries/s offered.`,
      );
    }
  }
  if (resumeFirst) {
    const target = resumeFirst.heartbeatMs + 200;
    panels.push({
      title: `Resume: kill → first entry started, per stream`,
      series: resume.map((run) => ({ label: readingName(run.reading), ...STYLE[run.reading], values: run.firstStarted, total: run.streams })),
      markers: [{ x: target, label: `target p99 ${fmt(target)} ms` }],
      xMin: 200,
      xMax: 5000,
    });
  }
  return ecdfChart({
    title: 'Processing: run() beside per-stream XREAD by hand',
    subtitle: [
      manyFirst
        ? `Left: ${manyFirst.consumers} consumers own ${fmt(manyFirst.streams)} streams, a producer offers ${fmt(manyFirst.rate)} entries/s for ${fmt(manyFirst.produceMs / 1000)} s.`
        : '',
      resumeFirst
        ? `Right: 1 of ${resumeFirst.survivors + 1} consumers SIGKILLed with ${fmt(resumeFirst.streams)} streams, heartbeatMs ${fmt(resumeFirst.heartbeatMs)}, ${fmt(resumeFirst.rate)} entries/s.`
        : '',
      `${meta.date}, ${meta.machine}`,
    ].filter(Boolean),
    xLabel: 'ms (log scale)',
    yLabel: 'share of entries (left) / of streams (right)',
    panels,
    notes: [...notes, 'Reproduce: npm run bench -- --only=processing (raw figures: bench/results/*.json). See docs/performance.md.'],
  });
}

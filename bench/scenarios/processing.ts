/**
 * Scenario 7, processing: the library's run({ eachEntry }) beside the per-stream XREAD baseline (what users wrote
 * by hand before), in the same run, consumers in child processes, a no-op handler:
 *   a. throughput draining a backlog (4 consumers, 1,000 streams), alone and with a concurrent producer;
 *   b. 10,000 owned streams over 4 consumers under 20,000 entries/s: keeping up, append -> handler start,
 *      connections per consumer, Redis's idle cost;
 *   c. resume after SIGKILL (1,000 streams written to throughout): kill -> first entry started by a survivor, and
 *      the entries processed twice against the documented bound;
 *   d. heap per owned idle stream.
 */
import { fmt, summarize } from '../lib/util.js';
import { partWanted, runsFor, wanted, type Check, type Context, type ScenarioResult } from './context.js';
import { READINGS, type Reading } from './processing-fleet.js';
import { heapPerStream, runProcessingMemory, type MemoryMode, type ProcessingMemoryRun } from './processing-memory.js';
import { offeredRate, runManyStreams, type ManyStreamsParams, type ManyStreamsRun } from './processing-many-streams.js';
import { runResume, type ResumeParams, type ResumeRun } from './processing-resume.js';
import { achievedRate, entriesPerSecond, runThroughput, whileProducingRate, type ThroughputParams, type ThroughputRun } from './processing-throughput.js';
import { processingTables, quantileOf } from './processing-report.js';

export interface ProcessingData {
  throughput: ThroughputRun[];
  manyStreams: ManyStreamsRun[];
  resume: ResumeRun[];
  memory: ProcessingMemoryRun[];
}

interface Sizes {
  throughput: ThroughputParams;
  producerRate: number;
  producerMs: number;
  many: ManyStreamsParams;
  resume: ResumeParams;
  memoryStreams: number;
  memoryStreamsXread: number;
}

const FULL: Sizes = {
  throughput: { streams: 1000, perStream: 250, consumers: 4, produceRate: 0, produceMs: 0 },
  producerRate: 20_000,
  producerMs: 2000,
  many: { streams: 10_000, consumers: 4, rate: 20_000, produceMs: 10_000, idleMs: 3000, heartbeatMs: 2000 },
  resume: { streams: 1000, survivors: 3, heartbeatMs: 1000, commitIntervalMs: 100, rate: 5000, beforeKillMs: 2000, afterKillMs: 4000 },
  memoryStreams: 20_000,
  memoryStreamsXread: 1000,
};

const SMOKE: Sizes = {
  throughput: { streams: 20, perStream: 20, consumers: 4, produceRate: 0, produceMs: 0 },
  producerRate: 500,
  producerMs: 300,
  many: { streams: 100, consumers: 4, rate: 1000, produceMs: 1000, idleMs: 200, heartbeatMs: 2000 },
  resume: { streams: 20, survivors: 2, heartbeatMs: 500, commitIntervalMs: 100, rate: 200, beforeKillMs: 300, afterKillMs: 1000 },
  memoryStreams: 200,
  memoryStreamsXread: 50,
};

export async function processing(context: Context): Promise<ScenarioResult> {
  const sizes = context.smoke ? SMOKE : FULL;
  const readings = READINGS.filter((reading) => wanted(context, reading));
  const data: ProcessingData = { throughput: [], manyStreams: [], resume: [], memory: [] };
  for (const produceRate of partWanted(context, 'drain') ? [0, sizes.producerRate] : []) {
    for (const reading of readings) {
      data.throughput.push(await runThroughput(context, reading, { ...sizes.throughput, produceRate, produceMs: produceRate ? sizes.producerMs : 0 }));
    }
  }
  for (const streams of partWanted(context, 'load') ? (context.sizes ?? [sizes.many.streams]) : []) {
    for (const reading of readings) data.manyStreams.push(await runManyStreams(context, reading, { ...sizes.many, streams }));
  }
  for (let run = 0; run < (partWanted(context, 'resume') ? runsFor(context, 1) : 0); run++) {
    for (const reading of readings) data.resume.push(await runResume(context, reading, sizes.resume));
  }
  const modes: MemoryMode[] = !partWanted(context, 'memory')
    ? []
    : [...(wanted(context, 'ours') ? (['leases', 'run'] as const) : []), ...(wanted(context, 'xread') ? (['xread'] as const) : [])];
  for (const mode of modes) {
    data.memory.push(await runProcessingMemory(context, mode, mode === 'xread' ? sizes.memoryStreamsXread : sizes.memoryStreams));
  }
  return {
    name: 'processing',
    title: 'Processing: run() beside per-stream XREAD by hand',
    tables: processingTables(data),
    checks: processingChecks(data),
    failures: processingFailures(data),
    data,
    headline: processingHeadline(data),
  };
}

/** The library's figures for a row per node-redis major: drain rate, append → handler start under load, resume
 * after a SIGKILL, heap per idle stream (each part that ran). */
export function processingHeadline(data: ProcessingData): Array<[string, string]> {
  const headline: Array<[string, string]> = [];
  const ours = data.throughput.filter((run) => run.reading === 'ours');
  const drain = ours.find((run) => run.produceRate === 0);
  if (drain) headline.push([`drain ${fmt(drain.streams)} streams entries/s`, `${fmt(entriesPerSecond(drain))}${drain.complete ? '' : ' (incomplete)'}`]);
  const withProducer = ours.find((run) => run.produceRate > 0);
  if (withProducer) headline.push([`drain, producer offering ${fmt(withProducer.produceRate)}/s: entries/s`, fmt(whileProducingRate(withProducer))]);
  for (const run of data.manyStreams.filter((r) => r.reading === 'ours')) {
    const s = summarize(run.latencies);
    headline.push([
      `${fmt(run.streams)} streams at ${fmt(run.rate)}/s: processed, append → start p50 / p99 ms`,
      `${fmt(run.processed)}/${fmt(run.produced.sent)}, ${fmt(s.p50)} / ${fmt(s.p99)}`,
    ]);
  }
  const resume = data.resume.filter((r) => r.reading === 'ours');
  if (resume.length > 0) {
    const p99s = resume.map((run) => quantileOf(run.firstStarted, run.streams, 0.99));
    headline.push([
      `resume ${fmt(resume[0]!.streams)} streams: kill → first entry p99 ms`,
      p99s.map((p99) => (Number.isFinite(p99) ? fmt(p99) : 'not all resumed')).join(', '),
    ]);
    headline.push([
      'resume: processed twice (bound), lost',
      resume.map((run) => `${fmt(run.duplicates)} (${fmt(run.bound)}), ${fmt(run.lost)}`).join('; '),
    ]);
  }
  const running = data.memory.find((run) => run.mode === 'run');
  if (running) headline.push([`heap per idle stream under run() (${fmt(running.streams)}) B`, fmt(heapPerStream(running))]);
  return headline;
}

/** Things that did not run as they must: ours must process everything it was given. */
function processingFailures(data: ProcessingData): string[] {
  const failures: string[] = [];
  for (const run of data.throughput) if (run.reading === 'ours' && !run.complete) failures.push(`processing throughput, ours: ${run.processed} entries processed, not all`);
  for (const run of data.manyStreams) {
    if (run.reading === 'ours' && run.processed < run.produced.sent) failures.push(`processing many streams, ours: processed ${run.processed} of ${run.produced.sent}`);
  }
  for (const run of data.resume) {
    if (run.reading === 'ours' && (run.notResumed > 0 || run.lost > 0)) failures.push(`processing resume, ours: ${run.notResumed} streams not resumed, ${run.lost} entries lost`);
  }
  for (const run of data.memory) if (run.mode !== 'xread' && !run.complete) failures.push(`processing memory, ${run.mode}: did not own and process every stream`);
  return failures;
}

function processingChecks(data: ProcessingData): Check[] {
  const checks: Check[] = [];
  const drain = (reading: Reading): ThroughputRun | undefined => data.throughput.find((run) => run.reading === reading && run.produceRate === 0);
  const ours = drain('ours');
  const xread = drain('xread');
  if (ours) {
    const rate = entriesPerSecond(ours);
    checks.push({
      what: `backlog drain, ${ours.consumers} consumers, ${fmt(ours.streams)} streams, ours`,
      target: '≥ 50,000 entries/s',
      measured: `${fmt(rate)} entries/s`,
      pass: ours.complete && rate >= 50_000,
    });
    if (xread) {
      const ratio = rate / entriesPerSecond(xread);
      checks.push({ what: 'backlog drain, ours vs per-stream XREAD', target: '≥ 3x', measured: `${fmt(ratio, 1)}x`, pass: ratio >= 3 });
    }
  }
  const withProducer = data.throughput.find((run) => run.reading === 'ours' && run.produceRate > 0);
  if (withProducer) {
    checks.push({
      what: `backlog drain with a producer offering ${fmt(withProducer.produceRate)}/s, ours`,
      target: '≥ 50,000 entries/s',
      measured: `${fmt(whileProducingRate(withProducer))} entries/s while producing (achieved offer ${fmt(achievedRate(withProducer.produced))}/s)`,
      pass: whileProducingRate(withProducer) >= 50_000,
    });
  }
  const leases = data.memory.find((run) => run.mode === 'leases');
  for (const run of data.manyStreams.filter((r) => r.reading === 'ours')) {
    const s = summarize(run.latencies);
    const keptUp = run.processed >= run.produced.sent && run.drainMs <= 1000;
    checks.push({
      what: `${fmt(run.streams)} streams, ${fmt(run.rate)} entries/s offered: keeps up`,
      target: 'all processed, the last ≤ 1 s after the producer stopped',
      measured: `${fmt(run.processed)}/${fmt(run.produced.sent)} at ${fmt(offeredRate(run))}/s, last ${fmt(run.drainMs)} ms after`,
      pass: keptUp,
    });
    checks.push({
      what: `${fmt(run.streams)} streams, ${fmt(run.rate)} entries/s offered: append → handler start p99`,
      target: '≤ 50 ms',
      measured: `${fmt(s.p99)} ms (p50 ${fmt(s.p50)}, max ${fmt(s.max)})`,
      pass: s.p99 <= 50,
    });
    const added = leases ? Math.max(...run.connections) - leases.connections : Number.NaN;
    checks.push({
      what: `${fmt(run.streams)} streams: connections reading adds per consumer (1 Redis node)`,
      target: '≤ 2',
      measured: leases ? `${fmt(added)} (${run.connections.join(', ')} with run(); ${leases.connections} without)` : 'not measured',
      pass: added <= 2,
    });
  }
  for (const run of data.resume.filter((r) => r.reading === 'ours')) {
    const p99 = quantileOf(run.firstStarted, run.streams, 0.99);
    const target = run.heartbeatMs + 200;
    checks.push({
      what: `resume after SIGKILL, ${fmt(run.streams)} streams: kill → first entry started, p99`,
      target: `≤ ${fmt(target)} ms (heartbeatMs + 200)`,
      measured: Number.isFinite(p99) ? `${fmt(p99)} ms (max ${fmt(run.firstStarted.at(-1) ?? Number.NaN)})` : `${run.notResumed} streams not resumed`,
      pass: p99 <= target,
    });
    checks.push({
      what: `resume after SIGKILL: entries processed twice`,
      target: '≤ those processed after the last commit (the bound)',
      measured: `${fmt(run.duplicates)} (bound ${fmt(run.bound)}; most on one stream ${run.maxDuplicatesPerStream}); lost ${fmt(run.lost)}`,
      pass: run.beyondBound === 0 && run.duplicates <= run.bound && run.lost === 0,
    });
  }
  const running = data.memory.find((run) => run.mode === 'run');
  if (running) {
    const heap = heapPerStream(running);
    checks.push({
      what: `heap per owned idle stream under run() (${fmt(running.streams)} streams)`,
      target: '≤ 1,024 B',
      measured: `${fmt(heap)} B${leases ? ` (leases alone ${fmt(heapPerStream(leases))} B)` : ''}`,
      pass: heap <= 1024,
    });
  }
  return checks;
}

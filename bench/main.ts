/**
 * Runs the scenarios of the performance issue, prints a table per scenario, writes the raw figures to
 * bench/results/<time>-<full|smoke>.json (and the tables to a .md beside it) and draws the charts
 * (docs/img/takeover-latency.svg, processing-latency.svg and rebalance.svg in a full run; bench/results/ otherwise).
 *
 * Options: --smoke, --only=takeover,heartbeat,assignment,claim-storm,handoff,memory,processing,rebalance, --runs=N,
 *          --sizes=1000,10000 (K, N or stream counts instead of the scenario's own),
 *          --variants=ours,ours-auto,ours-manual,ours-rebalancing,locks,polling,xread (implementations to run),
 *          --parts=drain,load,resume,memory,scale-out,restart (parts of a scenario made of several: processing, rebalance),
 *          --client=v4|v5|v6 (node-redis major of the workers' clients, v4 by default), or several, e.g. v4,v5,v6: each
 *          scenario runs once per major in turn (takeover, heartbeat and processing when --only is not given), and
 *          a table per scenario gives one row per major,
 *          --chart=bench/results/<file>.json (redraw the charts from a results file, run nothing).
 * REDIS_URL=redis://... uses that server instead of starting a private one (statistics then include other traffic).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killForkedChildren } from '../spec/support/forked.js';
import { openRedis } from './lib/harness.js';
import { clientLabel, clientVersion, DEFAULT_CLIENT, parseClientMajors, type ClientMajor } from './lib/node-redis.js';
import { table } from './lib/util.js';
import { WorkerPool } from './lib/workers.js';
import { assignment } from './scenarios/assignment.js';
import { claimStorm } from './scenarios/claim-storm.js';
import type { Check, Context, ScenarioResult } from './scenarios/context.js';
import { handoff } from './scenarios/handoff.js';
import { heartbeatCost } from './scenarios/heartbeat.js';
import { memory } from './scenarios/memory.js';
import { metricsCost } from './scenarios/metrics-cost.js';
import { processing, type ProcessingData } from './scenarios/processing.js';
import { processingChart } from './scenarios/processing-report.js';
import { rebalance, type RebalanceData } from './scenarios/rebalance.js';
import { rebalanceChart } from './scenarios/rebalance-chart.js';
import { takeoverChart, takeoverLatency, type TakeoverData } from './scenarios/takeover.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = path.join(ROOT, 'bench', 'results');
const IMAGES = path.join(ROOT, 'docs', 'img');

/** The charts of docs/performance.md: drawn from a scenario's data. */
const CHARTS: Array<{ scenario: string; file: string; draw: (data: unknown, meta: { date: string; machine: string }) => string }> = [
  { scenario: 'takeover', file: 'takeover-latency.svg', draw: (data, meta) => takeoverChart(data as TakeoverData, meta) },
  { scenario: 'processing', file: 'processing-latency.svg', draw: (data, meta) => processingChart(data as ProcessingData, meta) },
  { scenario: 'rebalance', file: 'rebalance.svg', draw: (data, meta) => rebalanceChart(data as RebalanceData, meta) },
];

const SCENARIOS: Array<{ name: string; run: (context: Context) => Promise<ScenarioResult> }> = [
  { name: 'takeover', run: takeoverLatency },
  { name: 'heartbeat', run: heartbeatCost },
  { name: 'assignment', run: assignment },
  { name: 'claim-storm', run: claimStorm },
  { name: 'handoff', run: handoff },
  { name: 'memory', run: memory },
  { name: 'processing', run: processing },
  { name: 'rebalance', run: rebalance },
  { name: 'metrics-cost', run: metricsCost },
];

/** The scenarios a run on several node-redis majors runs without --only: those with a row per major in
 * docs/performance.md. */
const PER_CLIENT_SCENARIOS = ['takeover', 'heartbeat', 'processing'];

/** The whole run is bounded: past this, every process it started is killed. */
const WATCHDOG_MS = { smoke: 5 * 60_000, full: 75 * 60_000 };

interface Meta {
  date: string;
  mode: 'smoke' | 'full';
  node: string;
  redis: string;
  redisUrl: string;
  cpu: string;
  cores: number;
  memoryGb: number;
  platform: string;
  loadAverageAtStart: number[];
  args: string[];
  /** The node-redis majors of the workers' clients, in the order they ran, with their versions. */
  clients: Array<{ major: ClientMajor; version: string }>;
  /** The library measured: commit, files of lib/ with uncommitted changes at the start, files changed during the run. */
  libCommit: string;
  libDirty: string[];
  libChangedDuringRun: string[];
}

function git(...args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** lib/ files modified after `since` (epoch ms): the library changed under a running bench. */
async function libChangedSince(since: number): Promise<string[]> {
  const changed: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(file);
      else if (!file.endsWith('generated.ts') && (await stat(file)).mtimeMs > since) changed.push(path.relative(ROOT, file));
    }
  };
  await walk(path.join(ROOT, 'lib'));
  return changed;
}

function option(args: readonly string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  return args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

/** The machine line of the charts; a chart of another major than the default names it. */
export function machine(meta: Pick<Meta, 'cores' | 'cpu' | 'node' | 'redis'>, client: ClientMajor = DEFAULT_CLIENT): string {
  return `${meta.cores} cores (${meta.cpu}), Node ${meta.node}, Redis ${meta.redis}${client === DEFAULT_CLIENT ? '' : `, ${clientLabel(client)}`}`;
}

function clientsText(meta: Pick<Meta, 'clients'>): string {
  return `workers on node-redis ${meta.clients.map(({ major, version }) => `${major} (${version})`).join(', ')}`;
}

/** One table per scenario that has headline figures, a row per node-redis major, in the order they ran. */
function byMajorTables(results: readonly ScenarioResult[]): string[] {
  const names = [...new Set(results.filter((result) => result.headline).map((result) => result.name))];
  return names.map((name) => {
    const rows = results.filter((result) => result.name === name && result.headline);
    const columns = [...new Set(rows.flatMap((result) => result.headline!.map(([column]) => column)))];
    const cells = rows.map((result) => {
      const values = new Map(result.headline);
      const major = result.client ?? DEFAULT_CLIENT;
      return [`${major} (${clientVersion(major)})`, ...columns.map((column) => values.get(column) ?? '–')];
    });
    return `${name}, the library only (every figure with its context in the scenario's own table above):\n\n${table(['node-redis', ...columns], cells)}`;
  });
}

export async function main(args: string[]): Promise<number> {
  const chartFrom = option(args, 'chart');
  if (chartFrom) return redrawChart(chartFrom);
  const smoke = args.includes('--smoke');
  const only = option(args, 'only')?.split(',');
  let majors: ClientMajor[];
  try {
    majors = parseClientMajors(option(args, 'client'));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  const runsOption = option(args, 'runs');
  const unknown = only?.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name)) ?? [];
  if (unknown.length > 0) {
    console.error(`Unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    return 2;
  }
  const chosen = only ?? (majors.length > 1 ? PER_CLIENT_SCENARIOS : undefined);
  const selected = SCENARIOS.filter((scenario) => !chosen || chosen.includes(scenario.name));
  /** Titles and check labels name the major unless every worker ran the default one. */
  const namesMajor = majors.some((major) => major !== DEFAULT_CLIENT);
  const startedAt = Date.now();
  const log = (message: string): void => console.log(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${message}`);

  const watchdog = setTimeout(() => {
    console.error(`bench: gave up after ${WATCHDOG_MS[smoke ? 'smoke' : 'full'] / 60_000} minutes; killing everything it started`);
    process.exit(3); // the registries of forked.ts and redis-server.ts kill the workers and the private server on exit
  }, WATCHDOG_MS[smoke ? 'smoke' : 'full']);
  // Exiting kills the workers and the private server (see the watchdog).
  const onSignal = (signal: NodeJS.Signals): void => {
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const bench = await openRedis();
  // One pool at a time: the idle workers of a major are stopped before the next major's start.
  let pool = new WorkerPool(majors[0]);
  const poolFor = async (major: ClientMajor): Promise<WorkerPool> => {
    if (pool.client !== major) {
      await pool.shutdown();
      pool = new WorkerPool(major);
    }
    return pool;
  };
  const cpus = os.cpus();
  const meta: Meta = {
    date: new Date(startedAt).toISOString(),
    mode: smoke ? 'smoke' : 'full',
    node: process.version,
    redis: bench.version,
    redisUrl: bench.external ? 'REDIS_URL' : 'private redis-server on loopback',
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((value) => Math.round(value * 100) / 100),
    args,
    clients: majors.map((major) => ({ major, version: clientVersion(major) })),
    libCommit: git('rev-parse', '--short', 'HEAD') || 'unknown',
    libDirty: git('status', '--porcelain', '--', 'lib')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3)),
    libChangedDuringRun: [],
  };
  log(
    `bench (${meta.mode}): ${machine(meta)}, load average ${meta.loadAverageAtStart.join(' ')}; Redis at ${bench.url}; ` +
      `library ${meta.libCommit}${meta.libDirty.length ? ` + changes in ${meta.libDirty.join(', ')}` : ''}; ${clientsText(meta)}`,
  );
  const sizes = option(args, 'sizes')?.split(',').map(Number);
  const variants = option(args, 'variants')?.split(',');
  const parts = option(args, 'parts')?.split(',');
  const options: Omit<Context, 'pool'> = { bench, smoke, runs: runsOption ? Number(runsOption) : undefined, sizes, variants, parts, log };
  const results: ScenarioResult[] = [];
  const failures: string[] = [];
  try {
    // Scenario by scenario, each on every major in turn: a scenario's rows per major come from runs minutes apart,
    // not a whole run apart, on a machine whose load drifts.
    for (const scenario of selected) {
      for (const major of majors) {
        const scenarioStart = Date.now();
        const label = namesMajor ? `${scenario.name} (${major})` : scenario.name;
        log(`== ${label}${namesMajor ? ` on ${clientLabel(major)}` : ''}`);
        try {
          const result = await scenario.run({ ...options, pool: await poolFor(major) });
          result.client = major;
          if (namesMajor) result.title = `${result.title}, ${clientLabel(major)}`;
          results.push(result);
          failures.push(...result.failures.map((failure) => (namesMajor ? `${major}: ${failure}` : failure)));
          console.log(`\n## ${result.title}\n\n${result.tables.join('\n\n')}\n`);
          log(`== ${label} done in ${((Date.now() - scenarioStart) / 1000).toFixed(0)} s`);
        } catch (error) {
          const message = `${label} failed to run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
          failures.push(message);
          log(message);
        }
      }
    }
  } finally {
    clearTimeout(watchdog);
    await pool.shutdown().catch(() => undefined);
    killForkedChildren(); // workers a failed scenario left behind, before their Redis goes away
    await bench.stop();
  }

  meta.libChangedDuringRun = await libChangedSince(startedAt);
  if (meta.libChangedDuringRun.length > 0) {
    log(`warning: lib/ changed during the run (${meta.libChangedDuringRun.join(', ')}): workers started later ran the new code`);
  }
  const checks = results.flatMap((result) =>
    result.checks.map((check) => ({ scenario: namesMajor ? `${result.name} (${result.client})` : result.name, client: result.client, ...check })),
  );
  const checksTable = table(
    ['scenario', 'check', 'measured', 'target', 'result'],
    checks.map((check) => [check.scenario, check.what, check.measured, check.target, check.pass ? 'met' : 'MISSED']),
  );
  if (checks.length > 0) console.log(`\n## Targets${smoke ? ' (smoke sizes: not meaningful)' : ''}\n\n${checksTable}\n`);
  const perMajor = majors.length > 1 ? byMajorTables(results) : [];
  if (perMajor.length > 0) console.log(`\n## By node-redis major${smoke ? ' (smoke sizes: not meaningful)' : ''}\n\n${perMajor.join('\n\n')}\n`);

  await mkdir(RESULTS, { recursive: true });
  const stamp = meta.date.replace(/[:.]/g, '-');
  const base = path.join(RESULTS, `${stamp}-${meta.mode}`);
  await writeFile(`${base}.json`, `${JSON.stringify({ meta, checks, failures, results }, null, 1)}\n`);
  await writeFile(`${base}.md`, markdown(meta, results, checks, checksTable, perMajor));
  for (const chart of CHARTS) {
    for (const result of results.filter((candidate) => candidate.name === chart.scenario)) {
      // Only a full, unfiltered run replaces a chart of docs/performance.md, with the figures of the default major.
      const partial = Boolean(options.sizes || options.variants || options.runs || options.parts);
      const ownMajor = result.client === DEFAULT_CLIENT;
      const chartPath =
        smoke || partial || !ownMajor ? `${base}-${namesMajor ? `${result.client}-` : ''}${chart.file}` : path.join(IMAGES, chart.file);
      await mkdir(path.dirname(chartPath), { recursive: true });
      await writeFile(chartPath, chart.draw(result.data, { date: meta.date.slice(0, 10), machine: machine(meta, result.client) }));
      log(`chart: ${path.relative(ROOT, chartPath)}`);
    }
  }
  log(`raw figures: ${path.relative(ROOT, base)}.json, tables: ${path.relative(ROOT, base)}.md`);
  if (failures.length > 0) {
    console.error(`\n${failures.length} failure(s):\n${failures.map((failure) => `- ${failure}`).join('\n')}`);
    return 1;
  }
  log(`done in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
  return 0;
}

function markdown(meta: Meta, results: readonly ScenarioResult[], checks: readonly Check[], checksTable: string, perMajor: readonly string[]): string {
  const parts = [
    `# Benchmark run ${meta.date} (${meta.mode})`,
    '',
    `${machine(meta)}; ${meta.platform}; ${meta.memoryGb} GB; load average at start ${meta.loadAverageAtStart.join(' ')}; ${meta.redisUrl}.`,
    '',
    `Library: commit ${meta.libCommit}${meta.libDirty.length ? ` with uncommitted changes in ${meta.libDirty.join(', ')}` : ''}` +
      `${meta.libChangedDuringRun.length ? `; changed during the run: ${meta.libChangedDuringRun.join(', ')}` : ''}; ${clientsText(meta)}.`,
    '',
    ...results.flatMap((result) => [`## ${result.title}`, '', ...result.tables.flatMap((text) => [text, '']),]),
  ];
  if (checks.length > 0) parts.push('## Targets', '', checksTable, '');
  if (perMajor.length > 0) parts.push('## By node-redis major', '', ...perMajor.flatMap((text) => [text, '']));
  return `${parts.join('\n')}\n`;
}

async function redrawChart(file: string): Promise<number> {
  const saved = JSON.parse(await readFile(file, 'utf8')) as { meta: Meta; results: ScenarioResult[] };
  let drawn = 0;
  for (const chart of CHARTS) {
    // The charts of docs/performance.md show the default major (results written before the flag have no client).
    const result = saved.results.find((candidate) => candidate.name === chart.scenario && (candidate.client ?? DEFAULT_CLIENT) === DEFAULT_CLIENT);
    if (!result) continue;
    const chartPath = path.join(IMAGES, chart.file);
    await mkdir(IMAGES, { recursive: true });
    await writeFile(chartPath, chart.draw(result.data, { date: saved.meta.date.slice(0, 10), machine: machine(saved.meta) }));
    console.log(`chart: ${path.relative(ROOT, chartPath)}`);
    drawn++;
  }
  if (drawn === 0) {
    console.error(`${file} has no results to chart (${CHARTS.map((chart) => chart.scenario).join(', ')})`);
    return 1;
  }
  return 0;
}

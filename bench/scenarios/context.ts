import type { BenchRedis } from '../lib/harness.js';
import type { ClientMajor } from '../lib/node-redis.js';
import type { WorkerPool } from '../lib/workers.js';

export interface Context {
  bench: BenchRedis;
  /** Workers whose clients are all of one node-redis major (pool.client). */
  pool: WorkerPool;
  smoke: boolean;
  /** Runs per configuration, when given on the command line (--runs). */
  runs: number | undefined;
  /** Sizes (K or N) to run instead of the scenario's own (--sizes). */
  sizes: number[] | undefined;
  /** Implementations to run (--variants): ours, ours-auto, ours-manual, locks, polling, xread. */
  variants: string[] | undefined;
  /** Parts of a scenario made of several (--parts), e.g. processing's drain, load, resume, memory. */
  parts?: string[] | undefined;
  log(message: string): void;
}

/** A target of the performance issue, checked against a measurement. */
export interface Check {
  what: string;
  target: string;
  measured: string;
  pass: boolean;
}

export interface ScenarioResult {
  name: string;
  title: string;
  /** Markdown tables with their captions. */
  tables: string[];
  checks: Check[];
  /** Things that did not run as they must (smoke fails on these). */
  failures: string[];
  data: unknown;
  /** The library's headline figures, [column, value] in order: a run on several node-redis majors puts each
   * major's in a row of one table per scenario. */
  headline?: Array<[string, string]>;
  /** The node-redis major of the workers' clients (set by the run). */
  client?: ClientMajor;
}

export function runsFor(context: Context, full: number, smoke = 1): number {
  return context.runs ?? (context.smoke ? smoke : full);
}

export function sizesFor(context: Context, full: number[], smoke: number[]): number[] {
  return context.sizes ?? (context.smoke ? smoke : full);
}

/** Whether a variant ('ours-auto', 'ours-manual', 'ours', 'locks', 'polling') was asked for. */
export function wanted(context: Context, variant: string): boolean {
  const filter = context.variants;
  return !filter || filter.includes(variant) || filter.includes(variant.split('-')[0]!);
}

/** Whether a part of a scenario made of several was asked for (all are, without --parts). */
export function partWanted(context: Context, part: string): boolean {
  return !context.parts || context.parts.includes(part);
}

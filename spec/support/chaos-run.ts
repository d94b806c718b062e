/**
 * One chaos scenario: a service with a fleet of child consumers on a private Redis, the streams the test added,
 * the faults it injected, and at the end the verdict on every guarantee plus ONE summary line:
 *   [chaos] <name>: streams=200 takeovers=1 worst-takeover=1012ms (bound 2500ms) violations=0 ...
 */
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { addStream } from '../../lib/index.js';
import { ChaosFleet, type FleetOptions, type Member } from './chaos-fleet.js';
import { settle } from './chaos-invariants.js';
import { faultOf, takeoverOf, type Fault, type FaultKind } from './chaos-takeover.js';
import { serviceName, type NodeRedis } from './fleet.js';
import { startRedis, type RedisServer } from './redis-server.js';
import { waitFor } from './wait.js';

/** Slack on top of heartbeatMs for a takeover on a loaded 2-core machine. */
export const TAKEOVER_SLACK_MS = 1500;

export interface RunResult {
  violations: string[];
  summary: string;
  worstTakeoverMs: number | undefined;
}

export class ChaosRun {
  readonly fleet: ChaosFleet;
  readonly added: string[] = [];
  readonly faults: Fault[] = [];
  private addedCount = 0;

  private constructor(
    url: string,
    readonly admin: NodeRedis,
    options: FleetOptions,
  ) {
    this.fleet = new ChaosFleet(url, options);
  }

  /** A new service on the server at `url`; `options` are every consumer's client options. */
  static async start(url: string, options: Omit<FleetOptions, 'serviceName'> & { heartbeatMs: number }): Promise<ChaosRun> {
    const admin = createClient({ url });
    admin.on('error', () => undefined);
    await admin.connect();
    return new ChaosRun(url, admin, { ...options, serviceName: serviceName() });
  }

  get service(): string {
    return this.fleet.options.serviceName;
  }

  get heartbeatMs(): number {
    return this.fleet.options.heartbeatMs!;
  }

  /** The takeover bound: heartbeatMs + TAKEOVER_SLACK_MS. */
  get boundMs(): number {
    return this.heartbeatMs + TAKEOVER_SLACK_MS;
  }

  /** Adds `count` new streams to the LBS (names s0, s1, ... unless given). */
  async addStreams(count: number, name = (i: number) => `s${i}`): Promise<string[]> {
    const names = Array.from({ length: count }, () => name(this.addedCount++));
    for (const stream of names) {
      await addStream(this.admin, this.service, stream);
      this.added.push(stream);
    }
    return names;
  }

  /** Waits until running consumers report owning `count` streams. */
  async waitOwned(count: number, timeoutMs = 15_000): Promise<void> {
    await waitFor(() => this.fleet.ownedCount() === count, {
      timeoutMs,
      message: `running consumers to own ${count} streams (own ${this.fleet.ownedCount()})`,
    });
  }

  /** Injects a fault and records it: kill (SIGKILL), stall (SIGSTOP) or close() of `member` (which must work). */
  async fault(kind: FaultKind, member: Member): Promise<Fault> {
    const fault = faultOf(kind, member);
    this.faults.push(fault);
    if (kind === 'kill') await this.fleet.kill(member);
    else if (kind === 'stall') this.fleet.stall(member);
    else {
      const { failed } = await this.fleet.stop(member, 'close');
      if (failed) throw new Error(`close() of ${member.id} failed: ${failed}`);
    }
    return fault;
  }

  /** Waits until every stream `fault` left behind is granted again (bounded: twice the takeover bound). */
  async waitTakenOver(fault: Fault, timeoutMs = 2 * this.boundMs): Promise<number | undefined> {
    const takeover = await waitFor(
      () => {
        const t = takeoverOf(fault, this.fleet);
        return t.missing.length === 0 && t;
      },
      { timeoutMs, message: `the streams of ${fault.member.id} to be taken over` },
    ).catch(() => takeoverOf(fault, this.fleet));
    return takeover.worstMs;
  }

  /**
   * Resumes stalled consumers, waits for the invariants to hold (up to `settleMs`), checks every takeover
   * against the bound (those `checkBound` selects: not when connections are killed on purpose, say), prints the
   * summary line and returns the violations.
   */
  async finish(
    name: string,
    {
      settleMs = 15_000,
      extra = '',
      checkBound = true,
    }: { settleMs?: number; extra?: string; checkBound?: boolean | ((fault: Fault) => boolean) } = {},
  ): Promise<RunResult> {
    for (const member of this.fleet.members) this.fleet.resume(member);
    const verdict = await settle(this.admin, this.fleet, this.added, settleMs);
    const violations = [...verdict.violations];
    let worst: number | undefined;
    const takeovers = this.faults.filter((fault) => fault.kind !== 'close' && fault.held.size > 0);
    // A stream never granted again was dead-lettered (its owners kept dying) or is reported by the invariants.
    let checked = 0;
    for (const fault of takeovers) {
      const { worstMs } = takeoverOf(fault, this.fleet);
      if (worstMs !== undefined) worst = Math.max(worst ?? 0, worstMs);
      if (typeof checkBound === 'function' ? !checkBound(fault) : !checkBound) continue;
      checked++;
      if (worstMs !== undefined && worstMs > this.boundMs) {
        violations.push(`takeover of ${fault.member.id}'s ${fault.held.size} streams (${fault.kind}) took ${worstMs} ms > ${this.boundMs} ms`);
      }
    }
    const summary =
      `[chaos] ${name}: streams=${this.added.length} takeovers=${takeovers.length} ` +
      `worst-takeover=${worst === undefined ? '-' : `${worst}ms`} (bound ${this.boundMs}ms, checked on ${checked}/${takeovers.length}) ` +
      `violations=${violations.length} ` +
      `(owned=${verdict.owned} finished=${verdict.finished} dead-lettered=${verdict.deadLettered}${extra ? ` ${extra}` : ''})`;
    console.log(summary);
    return { violations, summary, worstTakeoverMs: worst };
  }

  /** Stops every process this run started and closes its own connection. */
  async stop(): Promise<void> {
    await this.fleet.stopAll();
    await this.admin.disconnect().catch(() => undefined);
  }
}

/**
 * The usual frame of a chaos spec file: a private redis-server for the file, and whatever run a test started
 * stopped after it. `start()` begins a run on that server.
 */
export function useChaosServer(args: string[] = []): {
  readonly server: RedisServer;
  start(options: Parameters<typeof ChaosRun.start>[1]): Promise<ChaosRun>;
} {
  let server: RedisServer | undefined;
  let run: ChaosRun | undefined;
  beforeAll(async () => {
    server = await startRedis({ args });
  });
  afterEach(async () => {
    await run?.stop();
    run = undefined;
  });
  afterAll(() => server?.stop());
  return {
    get server() {
      if (!server) throw new Error('the chaos server is not started yet');
      return server;
    },
    async start(options) {
      run = await ChaosRun.start(this.server.url, options);
      return run;
    },
  };
}

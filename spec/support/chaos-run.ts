/**
 * One chaos scenario: a service with a fleet of child consumers on a private Redis, the entries the test added
 * (streams, and malformed entries written on purpose), the faults it injected, and at the end the verdict on every
 * guarantee plus ONE summary line:
 *   [chaos] <name>: streams=200 takeovers=1 worst-takeover=1012ms (bound 2500ms) violations=0 ...
 */
import { createInspectingClient } from './node-redis.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { addStream, keysFor } from '../../lib/index.js';
import { parseOptions } from '../../lib/options.js';
import { ChaosFleet, type FleetOptions, type FleetSpawnOptions, type Member } from './chaos-fleet.js';
import { pauseServer } from './chaos-faults.js';
import { settle, type EdgeEntry, type Expectations, type Verdict } from './chaos-invariants.js';
import { faultOf, takeoverOf, type Fault, type FaultKind } from './chaos-takeover.js';
import { serviceName, type NodeRedis } from './fleet.js';
import type { JsonEdgeCase } from './json-edge-cases.js';
import { startRedis, type RedisServer } from './redis-server.js';
import { waitFor } from './wait.js';

/** Slack on top of heartbeatMs for a takeover on a loaded 2-core machine. */
export const TAKEOVER_SLACK_MS = 1500;

export interface RunResult {
  violations: string[];
  summary: string;
  worstTakeoverMs: number | undefined;
}

export class ChaosRun implements Expectations {
  readonly fleet: ChaosFleet;
  /** The streams of the well-formed entries added. */
  readonly added: string[] = [];
  /** Entries written as they are (edge cases): LBS entry id -> what is odd about it, and whether it is well formed. */
  readonly edgeCases = new Map<string, EdgeEntry>();
  readonly faults: Fault[] = [];
  /** When each server pause (DEBUG SLEEP) began. */
  readonly pauses: number[] = [];
  /** Entries that must be granted soon after `at` (see expectGrant). */
  private readonly expectedGrants: Array<{ lbsId: string; stream: string; at: number; why: string }> = [];
  private addedCount = 0;

  private constructor(
    url: string,
    readonly admin: NodeRedis,
    options: FleetOptions,
    spawnOptions: FleetSpawnOptions,
  ) {
    this.fleet = new ChaosFleet(url, options, spawnOptions);
  }

  /** A new service on the server at `url`; `options` are every consumer's client options, `spawnOptions` how
   * its processes are started beyond them. */
  static async start(
    url: string,
    options: Omit<FleetOptions, 'serviceName'> & { heartbeatMs: number },
    spawnOptions: FleetSpawnOptions = {},
  ): Promise<ChaosRun> {
    const admin = createInspectingClient({ url });
    admin.on('error', () => undefined);
    await admin.connect();
    return new ChaosRun(url, admin, { ...options, serviceName: serviceName() }, spawnOptions);
  }

  get service(): string {
    return this.fleet.options.serviceName;
  }

  get heartbeatMs(): number {
    return this.fleet.options.heartbeatMs!;
  }

  get maxDeliveries(): number {
    return parseOptions(this.fleet.options).maxDeliveries;
  }

  get maxEntryBytes(): number {
    return parseOptions(this.fleet.options).maxEntryBytes;
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

  /** Adds one new stream (named as by addStreams); returns it with its LBS entry id. */
  async addStream(): Promise<{ stream: string; lbsId: string }> {
    const stream = `s${this.addedCount++}`;
    const lbsId = await addStream(this.admin, this.service, stream);
    this.added.push(stream);
    return { stream, lbsId };
  }

  /**
   * Writes an edge case's `lbs-input` with XADD as it is (not through addStream); a well-formed one counts as an
   * added stream, any other as malformed. Returns the entry id.
   */
  async addEntry(edgeCase: JsonEdgeCase): Promise<string> {
    const lbsId = String(await this.admin.sendCommand(['XADD', keysFor(this.service).lbs, '*', 'lbs-input', edgeCase.raw]));
    if (edgeCase.wellFormed) this.added.push(edgeCase.stream!);
    this.edgeCases.set(lbsId, { kind: edgeCase.kind, wellFormed: edgeCase.wellFormed });
    return lbsId;
  }

  /** Pauses the server (DEBUG SLEEP) for `ms`; see pauseServer. Logged as a change of membership of every consumer
   * running: a pause longer than a heartbeat ends every session (a shorter one may end some). */
  async pause(ms: number): Promise<void> {
    const at = Date.now();
    const running = this.fleet.running();
    this.pauses.push(at);
    await pauseServer(this.admin, ms);
    for (const member of running) this.fleet.membership.record('pause', member, at, Date.now());
  }

  /**
   * The entry, delivered now in a way the consumer might lose track of (`why`), must be granted to someone within
   * the takeover bound, as the streams of a dead consumer must: finish() checks the consumers' reports.
   */
  expectGrant(lbsId: string, stream: string, why: string): void {
    this.expectedGrants.push({ lbsId, stream, at: Date.now(), why });
  }

  /** When the entry was first granted (streamAdded) by the consumers' reports so far. */
  grantedAt(lbsId: string): number | undefined {
    const grants = this.fleet.members.flatMap(({ consumer }) =>
      consumer.reports.flatMap((r) => (r.event === 'streamAdded' && r.lbsId === lbsId ? [r.at] : [])),
    );
    return grants.length > 0 ? Math.min(...grants) : undefined;
  }

  /** How many times the entry was pending under a consumer when it was killed or stalled (Expectations). */
  deathsOf(lbsId: string): number {
    return this.faults.filter((fault) => fault.pending.has(lbsId)).length;
  }

  /** Waits until running consumers report owning `count` streams. */
  async waitOwned(count: number, timeoutMs = 15_000): Promise<void> {
    await waitFor(() => this.fleet.ownedCount() === count, {
      timeoutMs,
      message: `running consumers to own ${count} streams (own ${this.fleet.ownedCount()})`,
    });
  }

  /**
   * Injects a fault and records it: kill (SIGKILL), stall (SIGSTOP) or close() of `member` (which must work).
   * After a kill or a stall, what is pending under the victim in Redis is recorded as it is then: nothing can move
   * it before the victim's session has expired, about 2/3 of a heartbeat later at the soonest.
   */
  async fault(kind: FaultKind, member: Member): Promise<Fault> {
    const fault = faultOf(kind, member);
    this.faults.push(fault);
    if (kind === 'kill') await this.fleet.kill(member);
    else if (kind === 'stall') this.fleet.stall(member);
    else {
      const { failed } = await this.fleet.stop(member, 'close');
      if (failed) throw new Error(`close() of ${member.id} failed: ${failed}`);
    }
    if (kind !== 'close') for (const id of await this.pendingUnder(member.id)) fault.pending.add(id);
    return fault;
  }

  /** Ids of the LBS entries pending under `consumerId`. */
  private async pendingUnder(consumerId: string): Promise<string[]> {
    const { lbs, group } = keysFor(this.service);
    const reply = (await this.admin.sendCommand(['XPENDING', lbs, group, '-', '+', '1000000', consumerId]).catch(() => [])) as Array<[string]>;
    return reply.map(([id]) => id);
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

  /** Resumes stalled consumers and waits for the invariants to hold (up to `settleMs`); the verdict then. */
  async settle(settleMs = 15_000): Promise<Verdict> {
    for (const member of this.fleet.members) this.fleet.resume(member);
    return settle(this.admin, this.fleet, this, settleMs);
  }

  /**
   * Resumes stalled consumers, waits for the invariants to hold (up to `settleMs`), checks every takeover
   * against the bound (those `checkBound` selects: not when connections are killed on purpose, say), runs the
   * scenario's own checks (`alsoCheck`, on the reports as they are once the fleet has settled), prints the summary
   * line and returns the violations.
   */
  async finish(
    name: string,
    {
      settleMs = 15_000,
      extra = '',
      checkBound = true,
      alsoCheck,
    }: {
      settleMs?: number;
      extra?: string;
      checkBound?: boolean | ((fault: Fault) => boolean);
      alsoCheck?: () => { violations: string[]; summary: string };
    } = {},
  ): Promise<RunResult> {
    const verdict = await this.settle(settleMs);
    const own = alsoCheck?.();
    const violations = [...verdict.violations, ...this.lateGrants(), ...(own?.violations ?? [])];
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
    const malformed = [...this.edgeCases.values()].filter((edge) => !edge.wellFormed).length;
    const summary =
      `[chaos] ${name}: streams=${this.added.length} takeovers=${takeovers.length} ` +
      `worst-takeover=${worst === undefined ? '-' : `${worst}ms`} (bound ${this.boundMs}ms, checked on ${checked}/${takeovers.length}) ` +
      `violations=${violations.length} ` +
      `(owned=${verdict.owned} finished=${verdict.finished} dead-lettered=${verdict.deadLettered}` +
      `${malformed > 0 ? ` malformed-dead-lettered=${verdict.malformedDeadLettered}/${malformed}` : ''}` +
      `${this.pauses.length > 0 ? ` server-pauses=${this.pauses.length}` : ''}${own ? ` ${own.summary}` : ''}${extra ? ` ${extra}` : ''})`;
    console.log(summary);
    return { violations, summary, worstTakeoverMs: worst };
  }

  /** The expected grants (expectGrant) that came late or never, by the consumers' reports. */
  private lateGrants(): string[] {
    const limitMs = this.boundMs;
    return this.expectedGrants.flatMap(({ lbsId, stream, at, why }) => {
      const grantedAt = this.grantedAt(lbsId);
      const afterMs = grantedAt === undefined ? undefined : grantedAt - at;
      if (afterMs !== undefined && afterMs <= limitMs) return [];
      const when = afterMs === undefined ? 'never granted' : `granted only after ${afterMs} ms`;
      return [`${JSON.stringify(stream)} (entry ${lbsId}), ${why}, was ${when} (limit ${limitMs} ms)`];
    });
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
  start(options: Parameters<typeof ChaosRun.start>[1], spawnOptions?: Parameters<typeof ChaosRun.start>[2]): Promise<ChaosRun>;
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
    async start(options, spawnOptions) {
      run = await ChaosRun.start(this.server.url, options, spawnOptions);
      return run;
    },
  };
}

/**
 * A fleet of child consumers of one service, each with a state the test drives: killed (SIGKILL), stalled
 * (SIGSTOP) and resumed (SIGCONT), draining (drain(), until resume() or close()), stopped with close(), done() or
 * close({ restart: true }) (suspended: its streams kept for its next process), started as a new process (possibly
 * under the id of an earlier one). A process that exits on its own while it should run is recorded as crashed.
 * Every change of membership the fleet makes is logged (chaos-membership.ts).
 */
import type { RedisStreamClientOptions } from '../../lib/index.js';
import { MembershipLog, type ChangeKind } from './chaos-membership.js';
import { spawnConsumer, type ConsumerChild, type SpawnOptions, type StopHow } from './consumer-child.js';
import { sleep } from './wait.js';

export type MemberState = 'live' | 'stalled' | 'draining' | 'killed' | 'closed' | 'suspended' | 'done' | 'crashed';

/** The states of a process that runs. */
const RUNNING: readonly MemberState[] = ['live', 'stalled', 'draining'];
/** The state a member is left in by each way of stopping it. */
const STOPPED: Record<StopHow, MemberState> = { close: 'closed', restart: 'suspended', done: 'done' };
/** The change of membership each way of stopping is. */
const STOP_CHANGE: Record<StopHow, ChangeKind> = { close: 'leave', restart: 'restart', done: 'done' };

export interface Member {
  readonly consumer: ConsumerChild;
  readonly id: string;
  state: MemberState;
}

export type FleetOptions = Omit<RedisStreamClientOptions, 'consumerId'> & { serviceName: string };

/** How every consumer of a fleet is started, beyond its client options. */
export type FleetSpawnOptions = Pick<SpawnOptions, 'processing'>;

export class ChaosFleet {
  readonly members: Member[] = [];
  readonly membership = new MembershipLog();
  private spawned = 0;

  constructor(
    readonly url: string,
    readonly options: FleetOptions,
    private readonly spawnOptions: FleetSpawnOptions = {},
  ) {}

  /** The connection name of every Redis connection of consumer `id` (see `killConnections`). */
  clientName(id: string): string {
    return `chaos:${this.options.serviceName}:${id}`;
  }

  /** A consumer id not used before in this fleet: c1, c2, ... */
  newId(): string {
    return `c${++this.spawned}`;
  }

  /** Starts a consumer; `consumerId` defaults to a new one. */
  async spawn(consumerId = this.newId()): Promise<Member> {
    const at = Date.now();
    const consumer = await spawnConsumer(this.url, { ...this.options, consumerId }, {
      ...this.spawnOptions,
      clientName: this.clientName(consumerId),
    });
    const member: Member = { consumer, id: consumer.id, state: 'live' };
    this.members.push(member);
    this.membership.record('join', member, at, Date.now());
    void consumer.exited.then(() => {
      if (RUNNING.includes(member.state)) member.state = 'crashed';
    });
    return member;
  }

  spawnMany(count: number): Promise<Member[]> {
    return Promise.all(Array.from({ length: count }, () => this.spawn()));
  }

  /** Processes that run: live, stalled or draining. */
  running(): Member[] {
    return this.members.filter((m) => RUNNING.includes(m.state));
  }

  /** Processes that run, neither stalled nor draining. */
  live(): Member[] {
    return this.members.filter((m) => m.state === 'live');
  }

  /** The live member owning the most streams (by its reports). */
  busiest(): Member {
    const [first, ...rest] = this.live();
    if (!first) throw new Error('no live consumer');
    return rest.reduce((a, b) => (b.consumer.owned().size > a.consumer.owned().size ? b : a), first);
  }

  /** Streams owned by running members, by their reports. */
  ownedCount(): number {
    return this.running().reduce((sum, m) => sum + m.consumer.owned().size, 0);
  }

  /** The errors the consumers reported, by name ("SessionLostError:3 ..."): what to look at first when a run fails. */
  errorTally(): string {
    const tally = new Map<string, number>();
    for (const { consumer } of this.members) {
      for (const report of consumer.reports) if (report.event === 'error') tally.set(report.name, (tally.get(report.name) ?? 0) + 1);
    }
    return [...tally].map(([name, n]) => `${name}:${n}`).join(' ') || 'none';
  }

  /** Each error message the consumers reported, once, with the consumer's id; not those named in `except`. */
  errorMessages(except: readonly string[] = []): string[] {
    const messages = new Set<string>();
    for (const { id, consumer } of this.members) {
      for (const report of consumer.reports) {
        if (report.event === 'error' && !except.includes(report.name)) messages.add(`${id}: ${report.name}: ${report.message}`);
      }
    }
    return [...messages];
  }

  async kill(member: Member): Promise<void> {
    this.membership.record('kill', member);
    member.state = 'killed';
    member.consumer.kill('SIGKILL');
    await member.consumer.exited;
  }

  stall(member: Member): void {
    this.membership.record('stall', member);
    member.state = 'stalled';
    member.consumer.kill('SIGSTOP');
  }

  resume(member: Member): void {
    if (member.state !== 'stalled') return;
    this.membership.record('return', member);
    member.consumer.kill('SIGCONT');
    member.state = 'live';
  }

  /** drain() in the child: the member is draining from now until resumeDrained() or stop(); resolves with the
   * reply (the child reports `drained` before it). */
  drain(member: Member, timeoutMs: number): Promise<{ failed?: string }> {
    member.state = 'draining';
    return this.membership.during('drain', member, () => member.consumer.request({ command: 'drain', timeoutMs }));
  }

  /** resume() in a draining child. */
  async resumeDrained(member: Member): Promise<{ failed?: string }> {
    const reply = await this.membership.during('resume', member, () => member.consumer.request({ command: 'resume' }));
    if (member.state === 'draining') member.state = 'live';
    return reply;
  }

  /**
   * close(), close({ restart: true }) or done() in the child; resolves once the child has exited, as it must by
   * itself. One that has not within `exitTimeoutMs` is killed, and the reply says so.
   */
  async stop(member: Member, how: StopHow, exitTimeoutMs = 10_000): Promise<{ failed?: string }> {
    member.state = STOPPED[how];
    const { reply, exited } = await this.membership.during(STOP_CHANGE[how], member, async () => {
      const reply = await member.consumer.request({ command: how });
      return { reply, exited: await Promise.race([member.consumer.exited.then(() => true), sleep(exitTimeoutMs).then(() => false)]) };
    });
    if (exited) return reply;
    member.consumer.kill('SIGKILL');
    await member.consumer.exited;
    return { failed: `${member.id} did not exit within ${exitTimeoutMs} ms of ${how}()${reply.failed ? `; ${reply.failed}` : ''}` };
  }

  /** Resumes and kills every process still running, and waits for them to exit. */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.members.map(async (member) => {
        if (!member.consumer.alive) return;
        if (RUNNING.includes(member.state)) member.state = 'killed';
        member.consumer.kill('SIGCONT');
        member.consumer.kill('SIGKILL');
        await member.consumer.exited;
      }),
    );
  }
}

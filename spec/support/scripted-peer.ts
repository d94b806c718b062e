import { randomUUID } from 'node:crypto';
import { keysFor } from '../../lib/keys.js';
import { register } from '../../lib/scripts/register.js';
import { ScriptRunner, type ScriptScope } from '../../lib/scripts/runner.js';
import { take } from '../../lib/scripts/take.js';
import type { NodeRedis } from './fleet.js';
import { failOnDecodeError, SESSION_MS } from './script-bench.js';

/**
 * A peer consumer played by the spec through the library's own scripts, with no client behind it: registered as a
 * consumer registers (a live session for SESSION_MS, a member record), and taking from the LBS by take.lua only when
 * the spec says. So a spec sets the pace of a real consumer's peers exactly: steady, slow, or stalled.
 */
export class ScriptedPeer {
  private constructor(
    private readonly runner: ScriptRunner,
    private readonly scope: ScriptScope,
    private readonly nonce: string,
  ) {}

  /** Registers `consumerId` in `service`, whose LBS consumer group must exist. */
  static async join(redis: NodeRedis, service: string, consumerId: string, { weight = 1 }: { weight?: number } = {}): Promise<ScriptedPeer> {
    const runner = new ScriptRunner(redis);
    const scope: ScriptScope = {
      keys: keysFor(service),
      consumerId,
      options: { heartbeatMs: SESSION_MS, maxEntryBytes: 65_536, maxDeliveries: 10, rebalanceTolerance: 0.1 },
    };
    const nonce = randomUUID();
    const registered = await register(runner, scope, { nonce, replaces: '', member: { weight, auto: true, draining: false } });
    if (!registered.registered) throw new Error(`${consumerId} could not register: ${JSON.stringify(registered)}`);
    return new ScriptedPeer(runner, scope, nonce);
  }

  /** One take of at most `count` entries, within this peer's fair share; returns how many it was granted. */
  async take(count: number): Promise<number> {
    const { outcomes } = await take(this.runner, this.scope, { nonce: this.nonce, capacity: count, force: false, adopt: '' }, failOnDecodeError);
    return outcomes.filter((outcome) => outcome.kind === 'granted').length;
  }
}

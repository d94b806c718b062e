/**
 * A local Redis Sentinel set-up of private redis-server processes on free loopback ports: one master, one replica,
 * and three sentinels (`redis-server <config> --sentinel`, quorum 2) that fail the master over to the replica about
 * 2-4 s after it dies.
 */
import { createSentinel, type NodeRedisSentinel } from './node-redis.js';
import { startRedis, type RedisServer } from './redis-server.js';
import { waitFor } from './wait.js';

/** How long a master may be silent before a sentinel deems it down: short, so that a failover takes seconds. */
const DOWN_AFTER_MS = 1000;
/** How long a failover may take before another is tried (and the least time between two of one master). */
const FAILOVER_TIMEOUT_MS = 5000;
const SENTINELS = 3;
const QUORUM = 2;
const READY_TIMEOUT_MS = 20_000;

export interface RedisSentinelSetup {
  /** The name the sentinels monitor the master under (`createSentinel({ name })`). */
  readonly name: string;
  /** The data nodes: the master first at start, then the replica. */
  readonly nodes: RedisServer[];
  readonly sentinels: RedisServer[];
  /** What to pass as `sentinelRootNodes`. */
  readonly rootNodes: Array<{ host: string; port: number }>;
  /** The data node the sentinels name as master now (throws while the reachable ones disagree or name none). */
  master(): Promise<RedisServer>;
  /** Resolves once every reachable sentinel names another master than `previous`, and it says it is a master. */
  failedOver(previous: RedisServer, timeoutMs?: number): Promise<RedisServer>;
  /** A connected node-redis Sentinel client (RSC_NODE_REDIS 5 or 6; closed by stop()). */
  connect(): Promise<NodeRedisSentinel>;
  stop(): Promise<void>;
}

export async function startSentinel({ name = 'rsc-master' }: { name?: string } = {}): Promise<RedisSentinelSetup> {
  const started: RedisServer[] = [];
  const clients: NodeRedisSentinel[] = [];
  try {
    // Replicas sync at once (the default waits 5 s to batch them): a replica that never synced cannot fail over.
    const replication = ['--repl-diskless-sync-delay', '0'];
    const master = await startRedis({ args: replication });
    started.push(master);
    const replica = await startRedis({ args: [...replication, '--replicaof', '127.0.0.1', String(master.port)] });
    started.push(replica);
    await waitFor(async () => (await replica.cli('INFO', 'replication')).includes('master_link_status:up'), {
      timeoutMs: READY_TIMEOUT_MS,
      message: 'the replica did not sync with its master',
    });
    const config = [
      `sentinel monitor ${name} 127.0.0.1 ${master.port} ${QUORUM}`,
      `sentinel down-after-milliseconds ${name} ${DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${name} ${FAILOVER_TIMEOUT_MS}`,
      '',
    ].join('\n');
    const sentinels: RedisServer[] = [];
    for (let i = 0; i < SENTINELS; i++) {
      const sentinel = await startRedis({ config, args: ['--sentinel'] });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // A failover needs the sentinels to know each other (a majority elects the leader) and the replica.
    await waitFor(
      async () => {
        for (const sentinel of sentinels) {
          const master = await sentinel.cli('SENTINEL', 'MASTER', name);
          if (field(master, 'num-other-sentinels') !== String(SENTINELS - 1) || field(master, 'num-slaves') !== '1') return false;
        }
        return true;
      },
      { timeoutMs: READY_TIMEOUT_MS, message: 'the sentinels did not discover each other and the replica' },
    );
    const nodes = [master, replica];

    const named = async (sentinel: RedisServer): Promise<RedisServer | undefined> => {
      const reply = await sentinel.cli('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).catch(() => '');
      const port = Number(reply.split('\n')[1]);
      return nodes.find((node) => node.port === port);
    };
    const setup: RedisSentinelSetup = {
      name,
      nodes,
      sentinels,
      rootNodes: sentinels.map((sentinel) => ({ host: '127.0.0.1', port: sentinel.port })),
      async master() {
        const seen = new Set(await Promise.all(sentinels.map(named)));
        seen.delete(undefined);
        const [current, ...others] = seen;
        if (!current || others.length > 0) throw new Error(`the sentinels do not agree on the master of ${name}`);
        return current;
      },
      async failedOver(previous, timeoutMs = 20_000) {
        let promoted: RedisServer | undefined;
        await waitFor(
          async () => {
            promoted = await setup.master().catch(() => undefined);
            return promoted !== undefined && promoted !== previous && (await promoted.cli('ROLE')).startsWith('master');
          },
          { timeoutMs, message: `the sentinels did not fail ${name} over` },
        );
        return promoted!;
      },
      async connect() {
        const sentinel = createSentinel({ name, sentinelRootNodes: setup.rootNodes });
        sentinel.on('error', () => undefined);
        await sentinel.connect();
        clients.push(sentinel);
        return sentinel;
      },
      async stop() {
        await Promise.allSettled(clients.map((client) => client.close()));
        await Promise.allSettled(started.map((server) => server.stop()));
      },
    };
    return setup;
  } catch (error) {
    await Promise.allSettled(clients.map((client) => client.close()));
    await Promise.allSettled(started.map((server) => server.stop()));
    throw error;
  }
}

/** A field of a `redis-cli` reply that lists names and values one per line (SENTINEL MASTER). */
function field(reply: string, name: string): string | undefined {
  const lines = reply.split('\n');
  const at = lines.indexOf(name);
  return at === -1 ? undefined : lines[at + 1];
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createCluster } from './node-redis.js';
import { startRedis, type RedisServer } from './redis-server.js';
import { waitFor } from './wait.js';

const execFileAsync = promisify(execFile);

export type NodeRedisCluster = ReturnType<typeof createCluster>;

/** A local Redis Cluster of private redis-server processes: masters with one replica each. */
export interface RedisCluster {
  readonly nodes: RedisServer[];
  /** The node that is master of `slot` now, as every reachable node sees it (throws while they disagree). */
  masterOf(slot: number): Promise<RedisServer>;
  /** A connected node-redis cluster client (closed by stop()). */
  connect(): Promise<NodeRedisCluster>;
  stop(): Promise<void>;
}

export async function startCluster({ masters = 3 }: { masters?: number } = {}): Promise<RedisCluster> {
  const args = [
    ...['--cluster-enabled', 'yes', '--cluster-node-timeout', '1000', '--cluster-config-file', 'nodes.conf'],
    // Replicas sync at once (the default waits 5 s to batch them): a replica that never synced cannot fail over.
    ...['--repl-diskless-sync-delay', '0'],
  ];
  const nodes = await Promise.all(Array.from({ length: masters * 2 }, () => startRedis({ args })));
  const clients: NodeRedisCluster[] = [];
  try {
    await execFileAsync('redis-cli', [
      '--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '1', '--cluster-yes',
    ]);
    await waitFor(
      async () => {
        for (const node of nodes) if (!(await node.cli('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        return true;
      },
      { timeoutMs: 20_000, message: 'the cluster did not reach state ok' },
    );
    await waitFor(
      async () => {
        for (const node of nodes) {
          const replication = await node.cli('INFO', 'replication');
          if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, message: 'the replicas did not sync with their masters' },
    );
  } catch (error) {
    await Promise.allSettled(nodes.map((node) => node.stop()));
    throw error;
  }

  return {
    nodes,
    async masterOf(slot) {
      const seen = new Set<RedisServer>();
      for (const node of nodes) {
        const slots = await node.cli('CLUSTER', 'SLOTS').catch(() => '');
        if (!slots) continue;
        const lines = slots.split('\n');
        for (let i = 0; i + 3 < lines.length; i++) {
          const [from, to, , port] = lines.slice(i, i + 4);
          if (Number(from) <= slot && slot <= Number(to) && lines[i + 2] === '127.0.0.1') {
            const master = nodes.find((candidate) => candidate.port === Number(port));
            if (master) seen.add(master);
            break;
          }
        }
      }
      const [master, ...others] = seen;
      if (!master || others.length > 0) throw new Error(`the nodes do not agree on the master of slot ${slot}`);
      return master;
    },
    async connect() {
      const cluster = createCluster({ rootNodes: nodes.map((node) => ({ url: node.url })) });
      cluster.on('error', () => undefined);
      await cluster.connect();
      clients.push(cluster);
      return cluster;
    },
    async stop() {
      await Promise.allSettled(clients.map((client) => client.disconnect()));
      await Promise.allSettled(nodes.map((node) => node.stop()));
    },
  };
}

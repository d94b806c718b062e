/**
 * The usual frame of an integration spec file: a private redis-server, and for each test a Fleet (consumers and
 * connections), a connection to set Redis up and look at it, and the child consumers the test spawned, all ended
 * after the test. It registers the vitest hooks itself:
 *
 *   const redis = useRedisServer({ args: ['--appendonly', 'yes'] });
 *   it('...', async () => {
 *     const { client, log } = await redis.fleet.consumer({ serviceName: serviceName() });
 *     await addStream(redis.admin, ...);
 *   });
 *
 * A spec's own beforeAll hooks run after the server has started; its own afterEach hooks run before the frame's
 * (vitest runs after-hooks in reverse order of registration), so they still see the test's consumers.
 */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { RedisStreamClientOptions } from '../../lib/index.js';
import { spawnConsumer, type ConsumerChild, type SpawnOptions } from './consumer-child.js';
import { Fleet, type NodeRedis } from './fleet.js';
import { startRedis, type RedisServer, type StartRedisOptions } from './redis-server.js';

export interface SpecRedis {
  /** The private server. */
  readonly server: RedisServer;
  /** Consumers and connections of the current test, closed after it. */
  readonly fleet: Fleet;
  /** A connection of the current test (closed with its fleet), to add streams and to inspect or configure Redis. */
  readonly admin: NodeRedis;
  /** A consumer in a child process (see consumer-child.ts), killed after the test if it still runs. */
  spawnConsumer(options: RedisStreamClientOptions, spawn?: SpawnOptions): Promise<ConsumerChild>;
}

/** A private redis-server for the spec file, started before its first test and stopped after its last. */
export function useRedisServer(options: StartRedisOptions = {}): SpecRedis {
  const frame = new SpecFrame();
  beforeAll(async () => {
    frame.server = await startRedis(options);
  });
  beforeEach(() => frame.open());
  afterEach(() => frame.close());
  afterAll(() => frame.server?.stop());
  return frame.view();
}

/**
 * A private redis-server for each test, started by the test's own `start()` (with the arguments it needs) and
 * stopped after it: for specs that configure or restart the server in ways the next test must not inherit.
 */
export function useRedisServerPerTest(): SpecRedis & { start(options?: StartRedisOptions): Promise<void> } {
  const frame = new SpecFrame();
  afterEach(async () => {
    await frame.close();
    await frame.server?.stop();
    frame.server = undefined;
  });
  return Object.assign(frame.view(), {
    async start(options: StartRedisOptions = {}) {
      if (frame.server) throw new Error('start() called twice in one test');
      frame.server = await startRedis(options);
      await frame.open();
    },
  });
}

/** The server, and what the current test opened on it. */
class SpecFrame {
  server: RedisServer | undefined;
  private test: { fleet: Fleet; admin: NodeRedis; children: ConsumerChild[] } | undefined;

  async open(): Promise<void> {
    const fleet = new Fleet(this.required('server', this.server).url);
    this.test = { fleet, admin: await fleet.connect({ inspecting: true }), children: [] };
  }

  async close(): Promise<void> {
    const test = this.test;
    this.test = undefined;
    if (!test) return;
    for (const child of test.children) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await child.exited;
    }
    await test.fleet.close();
  }

  view(): SpecRedis {
    const server = (): RedisServer => this.required('server', this.server);
    const test = () => this.required('test frame', this.test);
    return {
      get server() {
        return server();
      },
      get fleet() {
        return test().fleet;
      },
      get admin() {
        return test().admin;
      },
      async spawnConsumer(options, spawn) {
        const { children } = test();
        const child = await spawnConsumer(server().url, options, spawn);
        children.push(child);
        return child;
      },
    };
  }

  private required<T>(what: string, value: T | undefined): T {
    if (value === undefined) throw new Error(`the spec's ${what} is not there: used outside a test, or before start()`);
    return value;
  }
}

import type { ServiceRedis } from '../admin/service-redis.js';
import { commanderFor, type RedisClusterLike } from '../cluster-client.js';
import { ConfigError } from '../errors.js';
import { keysFor } from '../keys.js';
import { DEDICATED_CONNECTION, type RedisCommander } from '../redis.js';
import { sentinelCommander, type RedisSentinelLike } from '../sentinel-client.js';
import { withTimeout } from '../timeout.js';
import { positiveIntegerOption, stringOption, type Command, type OptionSpec, type OptionValues } from './command.js';
import { OperationError, UsageError } from './exit-codes.js';

export const DEFAULT_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_TIMEOUT_MS = 5000;

/** The options of every command that talks to Redis: which service, and how to reach its Redis. */
export const CONNECTION_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  service: { type: 'string', value: 'NAME', description: 'The service (its keys are rsc:{NAME}:*). Required.' },
  url: {
    type: 'string',
    value: 'URL',
    description: `A single Redis: redis://[user:password@]host:port[/db], rediss:// for TLS. Default: $REDIS_URL, else ${DEFAULT_URL}.`,
  },
  cluster: { type: 'string', value: 'HOST:PORT,...', description: 'Redis Cluster: some of its nodes (the rest are discovered).' },
  sentinel: { type: 'string', value: 'HOST:PORT,...', description: 'Redis Sentinel: some sentinels (with --master-name; node-redis 5 or 6).' },
  'master-name': { type: 'string', value: 'NAME', description: 'The master set the sentinels watch (with --sentinel).' },
  tls: { type: 'boolean', description: 'TLS to the cluster nodes or the master and sentinels (a single Redis: use rediss://).' },
  timeout: {
    type: 'string',
    value: 'MS',
    description: `How long to wait for Redis to connect, and for each reply, before failing. Default: ${DEFAULT_TIMEOUT_MS}.`,
  },
};

/** An open connection to one service's Redis. */
export interface ServiceConnection {
  readonly redis: ServiceRedis;
  /** Where it connected, without credentials (for messages). */
  readonly target: string;
  close(): Promise<void>;
}

type Target =
  | { kind: 'client'; url: string }
  | { kind: 'cluster'; nodes: Address[] }
  | { kind: 'sentinel'; sentinels: Address[]; masterName: string };

interface Address {
  host: string;
  port: number;
}

/** What connecting needs, checked: a bad value is a UsageError naming its option, before anything is sent. */
export interface ConnectionSettings {
  readonly service: string;
  readonly target: Target;
  readonly tls: boolean;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly timeoutMs: number;
}

export function connectionSettings(
  command: Command,
  values: OptionValues,
  env: Readonly<Record<string, string | undefined>>,
): ConnectionSettings {
  const service = stringOption(values, 'service');
  if (service === undefined) throw new UsageError('missing --service', command.name);
  try {
    keysFor(service);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--service must be a non-empty name without "{" or "}", got '${service}'`, command.name);
    throw error;
  }
  const url = stringOption(values, 'url');
  const cluster = stringOption(values, 'cluster');
  const sentinel = stringOption(values, 'sentinel');
  const masterName = stringOption(values, 'master-name');
  const given = [url !== undefined && '--url', cluster !== undefined && '--cluster', sentinel !== undefined && '--sentinel'].filter(Boolean);
  if (given.length > 1) throw new UsageError(`${given.join(' and ')} cannot be used together: give one`, command.name);
  if (masterName !== undefined && sentinel === undefined) throw new UsageError('--master-name needs --sentinel', command.name);
  let target: Target;
  if (cluster !== undefined) target = { kind: 'cluster', nodes: addresses(command, '--cluster', cluster) };
  else if (sentinel !== undefined) {
    if (masterName === undefined || masterName === '') throw new UsageError('--sentinel needs --master-name', command.name);
    target = { kind: 'sentinel', sentinels: addresses(command, '--sentinel', sentinel), masterName };
  } else {
    const chosen = url ?? env.REDIS_URL ?? DEFAULT_URL;
    const what = url !== undefined ? '--url' : env.REDIS_URL !== undefined ? 'REDIS_URL' : 'the default URL';
    let parsed: URL;
    try {
      parsed = new URL(chosen);
    } catch {
      throw new UsageError(`${what} is not a URL: '${redact(chosen)}'`, command.name);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new UsageError(`${what} must start with redis:// or rediss://, got '${redact(chosen)}'`, command.name);
    }
    if (values.tls === true) throw new UsageError("--tls is for --cluster and --sentinel: for a single Redis, use a rediss:// URL", command.name);
    target = { kind: 'client', url: chosen };
  }
  return {
    service,
    target,
    tls: values.tls === true,
    username: env.REDIS_USERNAME || undefined,
    password: env.REDIS_PASSWORD || undefined,
    timeoutMs: positiveIntegerOption(command, values, 'timeout', DEFAULT_TIMEOUT_MS),
  };
}

/** `host:port,host:port` */
function addresses(command: Command, option: string, text: string): Address[] {
  return text.split(',').map((item) => {
    const separator = item.lastIndexOf(':');
    const host = item.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
    const port = Number(item.slice(separator + 1));
    if (separator <= 0 || !/^\d+$/.test(item.slice(separator + 1)) || port < 1 || port > 65535) {
      throw new UsageError(`${option} takes HOST:PORT[,HOST:PORT...], got '${item}'`, command.name);
    }
    return { host, port };
  });
}

/** A URL with its password hidden, for messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

function describe(target: Target): string {
  if (target.kind === 'client') return redact(target.url);
  if (target.kind === 'cluster') return `cluster ${target.nodes.map(show).join(',')}`;
  return `sentinel master '${target.masterName}' via ${target.sentinels.map(show).join(',')}`;
}

function show({ host, port }: Address): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The parts of the `redis` package used here, in every major (createSentinel from v5 on). */
interface RedisPackage {
  createClient(options: Record<string, unknown>): Closable & RedisCommander;
  createCluster(options: Record<string, unknown>): Closable & RedisClusterLike;
  createSentinel?(options: Record<string, unknown>): Closable & RedisSentinelLike;
}

interface Closable {
  connect(): Promise<unknown>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  destroy?(): unknown;
  disconnect?(): Promise<unknown>;
}

/** The `redis` package the application installed (a peer dependency), loaded only when a command connects. */
async function loadRedis(): Promise<RedisPackage> {
  try {
    const loaded = (await import('redis')) as unknown as RedisPackage & { default?: RedisPackage };
    return typeof loaded.createClient === 'function' ? loaded : (loaded.default as RedisPackage);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new OperationError("the 'redis' package (node-redis 4, 5 or 6) is not installed beside redis-stream-client: npm install redis", { cause: error });
    }
    throw error;
  }
}

/**
 * Connects, giving up after `timeoutMs` (node-redis would retry forever): no reconnection either, since a command
 * line run that loses Redis should fail, not wait. Replies are RESP2 on every major (what the library reads), and
 * every command is bounded by `timeoutMs` too.
 */
export async function connectService(settings: ConnectionSettings): Promise<ServiceConnection> {
  const redisPackage = await loadRedis();
  const { target, timeoutMs } = settings;
  const credentials = { ...(settings.username ? { username: settings.username } : {}), ...(settings.password ? { password: settings.password } : {}) };
  const socket = { connectTimeout: timeoutMs, reconnectStrategy: false, ...(settings.tls ? { tls: true } : {}) };
  const nodeOptions = { ...DEDICATED_CONNECTION, ...credentials, socket };
  let client: Closable;
  let commanderAt: (key: string) => RedisCommander;
  if (target.kind === 'client') {
    const url = new URL(target.url);
    // Credentials in the URL win; the environment's are for URLs without them (and keep them out of `ps`).
    const fromEnv = url.username || url.password ? {} : credentials;
    const single = redisPackage.createClient({ ...DEDICATED_CONNECTION, ...fromEnv, url: target.url, socket });
    client = single;
    commanderAt = () => single;
  } else if (target.kind === 'cluster') {
    const cluster = redisPackage.createCluster({
      ...DEDICATED_CONNECTION,
      rootNodes: target.nodes.map((node) => ({ socket: { host: node.host, port: node.port } })),
      defaults: nodeOptions,
    });
    client = cluster;
    commanderAt = (key) => commanderFor(cluster, key);
  } else {
    if (typeof redisPackage.createSentinel !== 'function') {
      throw new OperationError("--sentinel needs node-redis 5 or 6: the installed 'redis' package has no Sentinel client (createSentinel came with v5)");
    }
    const sentinel = redisPackage.createSentinel({
      ...DEDICATED_CONNECTION,
      name: target.masterName,
      sentinelRootNodes: target.sentinels,
      nodeClientOptions: nodeOptions,
      sentinelClientOptions: nodeOptions,
    });
    client = sentinel;
    const master = sentinelCommander(sentinel);
    commanderAt = () => master;
  }
  const where = describe(target);
  let lastError: unknown;
  client.on('error', (error) => (lastError = error));
  const close = async (): Promise<void> => {
    try {
      if (typeof client.destroy === 'function') client.destroy();
      else await client.disconnect?.();
    } catch {
      // Not connected, or already closed: nothing to release.
    }
  };
  try {
    await withTimeout(client.connect(), timeoutMs, where);
  } catch (error) {
    await close();
    const reason = error instanceof Error && /did not answer within/.test(error.message) && lastError instanceof Error ? `${error.message} (${lastError.message})` : errorText(error);
    throw new OperationError(`cannot connect to ${where}: ${reason}`, { cause: error });
  }
  const at = (key: string): RedisCommander => {
    const commander = commanderAt(key);
    return { sendCommand: (args) => withTimeout(commander.sendCommand(args), timeoutMs, `${where} (${args[0]})`) };
  };
  const keys = keysFor(settings.service);
  return { redis: { service: settings.service, keys, at }, target: where, close };
}

export function errorText(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(errorText).join('; ');
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

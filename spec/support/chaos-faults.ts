/**
 * Faults injected through Redis itself: a database full of unrelated keys with a TTL (which makes Redis find an
 * expired session key late), connections killed with CLIENT KILL, and the whole server paused with DEBUG SLEEP.
 */
import type { NodeRedis } from './fleet.js';
import { sleep } from './wait.js';

/** Adds `count` keys with a TTL of `ttlSeconds` (1 hour by default), unrelated to any service. */
export async function fillTtlKeys(redis: NodeRedis, count: number, ttlSeconds = 3600): Promise<void> {
  const batch = 1000;
  for (let start = 0; start < count; start += batch) {
    const multi = redis.multi();
    for (let i = start; i < Math.min(count, start + batch); i++) multi.set(`cache:${i}`, 'x', { EX: ttlSeconds });
    await multi.exec();
  }
}

interface ClientEntry {
  id: string;
  name: string;
  flags: string;
  /** The last command the connection ran (the one it is blocked in, when blocked). */
  cmd: string;
  /** Whole seconds since that command arrived. */
  idleSeconds: number;
}

async function clientList(redis: NodeRedis): Promise<ClientEntry[]> {
  const list = String(await redis.sendCommand(['CLIENT', 'LIST']));
  return list
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const fields = new Map(line.trim().split(' ').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
      return {
        id: fields.get('id') ?? '',
        name: fields.get('name') ?? '',
        flags: fields.get('flags') ?? '',
        cmd: fields.get('cmd') ?? '',
        idleSeconds: Number(fields.get('idle') ?? NaN),
      };
    });
}

/** Kills every connection whose CLIENT SETNAME name is one of `names`; returns how many were killed. */
export async function killConnections(redis: NodeRedis, names: Iterable<string>): Promise<number> {
  const wanted = new Set(names);
  const victims = (await clientList(redis)).filter((client) => wanted.has(client.name));
  let killed = 0;
  for (const { id } of victims) {
    // A connection may be gone already (it reconnects under a new id).
    killed += Number(await redis.sendCommand(['CLIENT', 'KILL', 'ID', id]).catch(() => 0));
  }
  return killed;
}

/**
 * Kills the named connections right after the commands they send in the next `windowMs` have run, so that those
 * commands take effect and their replies are lost: the worst moment for a connection to die. Every client is
 * paused, the targets' commands queue up behind the pause, the CLIENT KILLs queue up behind them; when the pause
 * ends Redis runs the commands, then the kills, before it writes the replies. `meanwhile` may send commands of
 * its own on `redis` (not awaited before the kills): they run before the kills too, e.g. an XADD that wakes a
 * blocked XREADGROUP whose reply is then lost. Returns how many connections were killed.
 */
export async function killAfterNextCommands(
  redis: NodeRedis,
  names: Iterable<string>,
  { windowMs = 30, meanwhile }: { windowMs?: number; meanwhile?: () => Promise<unknown> } = {},
): Promise<number> {
  const wanted = new Set(names);
  const ids = (await clientList(redis)).filter((client) => wanted.has(client.name)).map((client) => client.id);
  await redis.sendCommand(['CLIENT', 'PAUSE', String(windowMs + 20), 'ALL']);
  await sleep(windowMs);
  const sent = meanwhile?.();
  const kills = await Promise.all(ids.map((id) => redis.sendCommand(['CLIENT', 'KILL', 'ID', id]).catch(() => 0)));
  await sent;
  return kills.reduce<number>((sum, n) => sum + Number(n), 0);
}

/** Kills the named connections after their next commands (see above) again and again, every `everyMs`, until
 * `stop()` is true; returns how many were killed. */
export async function keepKilling(redis: NodeRedis, names: Iterable<string>, stop: () => boolean, everyMs = 10): Promise<number> {
  const wanted = [...names];
  let killed = 0;
  while (!stop()) {
    killed += await killAfterNextCommands(redis, wanted);
    await sleep(everyMs);
  }
  return killed;
}

/** How many connections named one of `names` are in subscribed state. */
export async function subscriberCount(redis: NodeRedis, names: Iterable<string>): Promise<number> {
  const wanted = new Set(names);
  return (await clientList(redis)).filter((client) => wanted.has(client.name) && client.flags.includes('P')).length;
}

/** Kills every connection in subscribed state (the consumers' keyspace subscribers); returns how many. */
export async function killPubSub(redis: NodeRedis): Promise<number> {
  return Number(await redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']));
}

/**
 * The connection named `name` that is blocked in XREADGROUP now (a consumer's LBS reader waiting for an entry:
 * only the reader sends XREADGROUP itself, every other command of the library goes through scripts), with how many
 * whole seconds it has waited; undefined when none is.
 */
export async function blockedRead(redis: NodeRedis, name: string): Promise<{ id: string; idleSeconds: number } | undefined> {
  const reader = (await clientList(redis)).find((client) => client.name === name && client.cmd === 'xreadgroup' && client.flags.includes('b'));
  return reader && { id: reader.id, idleSeconds: reader.idleSeconds };
}

/**
 * Pauses the whole server for `ms` with DEBUG SLEEP (it answers nothing meanwhile, and its clock jumps ahead when
 * it wakes: keys whose TTL ran out during the pause have expired). The server must run with
 * `--enable-debug-command local` (or `yes`): Redis 7 refuses DEBUG otherwise.
 */
export async function pauseServer(redis: NodeRedis, ms: number): Promise<void> {
  await redis.sendCommand(['DEBUG', 'SLEEP', String(ms / 1000)]);
}

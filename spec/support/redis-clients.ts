/**
 * The connections a Redis server has, by CLIENT LIST: what a spec synchronises on when the state it waits for is a
 * connection's (a consumer's reader blocked in XREADGROUP, say) rather than a key's.
 */
import type { NodeRedis } from './fleet.js';

/** The fields of one CLIENT LIST line that specs look at. */
export interface ClientEntry {
  id: string;
  /** Set with CLIENT SETNAME (the `clientName` of Fleet.connect() and spawnConsumer()); '' when none. */
  name: string;
  /** One letter per flag: `b` is blocked in a command, `P` a pub/sub subscriber, ... */
  flags: string;
  /** The last command run, or the one it is blocked in, lower case. */
  cmd: string;
  /** The protocol the connection speaks: '2' or '3'. */
  resp: string;
  /** Seconds since its last command began (a blocked read counts from its start). */
  idleSeconds: number;
}

export async function clientList(redis: NodeRedis): Promise<ClientEntry[]> {
  const list = String(await redis.sendCommand(['CLIENT', 'LIST']));
  return list
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const fields = new Map(
        line
          .trim()
          .split(' ')
          .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      );
      return {
        id: fields.get('id') ?? '',
        name: fields.get('name') ?? '',
        flags: fields.get('flags') ?? '',
        cmd: fields.get('cmd') ?? '',
        resp: fields.get('resp') ?? '',
        idleSeconds: Number(fields.get('idle') ?? 0),
      };
    });
}

/**
 * Whether a connection named `clientName` is blocked in XREADGROUP now: the LBS reader of the consumer whose
 * connections carry that name, waiting for the next entry (the library's only blocking read). `redis` is any
 * connection to the same server.
 */
export async function readerBlocked(redis: NodeRedis, clientName: string): Promise<boolean> {
  return (await clientList(redis)).some(
    (client) => client.name === clientName && client.cmd === 'xreadgroup' && client.flags.includes('b'),
  );
}

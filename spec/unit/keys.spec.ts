import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/errors.js';
import { isValidServiceName, keysFor, sessionKey, type ServiceKeys } from '../../lib/keys.js';

/** The Redis keys (and key prefixes) of a service; `group` is a consumer group name, not a key. */
function redisKeys(keys: ServiceKeys): Array<[string, string]> {
  return Object.entries(keys).filter(([name]) => name !== 'group');
}

const occurrences = (text: string, part: string) => text.split(part).length - 1;

/** The part of a key Redis Cluster hashes: the first {...} with something inside. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open === -1 || close === -1 || close === open + 1 ? key : key.slice(open + 1, close);
}

describe('keysFor', () => {
  it('every key carries the hash tag {orders} exactly once, so all land in one cluster slot', () => {
    const keys = keysFor('orders');
    const entries = redisKeys(keys);
    expect(entries.map(([name]) => name)).toEqual(
      expect.arrayContaining(['consumers', 'deadLetter', 'lbs', 'loads', 'owners', 'readers', 'sessionPrefix', 'token']),
    );
    for (const [, key] of entries) {
      expect(occurrences(key, '{orders}')).toBe(1);
      expect(occurrences(key, '{')).toBe(1);
      expect(hashTag(key)).toBe('orders');
    }
    expect(hashTag(sessionKey(keys, 'worker-{1}'))).toBe('orders');
  });

  it('every key is distinct', () => {
    const values = redisKeys(keysFor('orders')).map(([, key]) => key);
    expect(new Set(values).size).toBe(values.length);
  });

  it('the keys of two services differ', () => {
    const orders = keysFor('orders');
    const payments = keysFor('payments');
    for (const [name, key] of redisKeys(orders)) expect(payments[name as keyof ServiceKeys]).not.toBe(key);
    const paymentKeys = new Set(redisKeys(payments).map(([, key]) => key));
    for (const [, key] of redisKeys(orders)) expect(paymentKeys.has(key)).toBe(false);
  });

  it('a service name that is a prefix of another does not share keys with it', () => {
    const short = redisKeys(keysFor('order')).map(([, key]) => key);
    const long = redisKeys(keysFor('orders')).map(([, key]) => key);
    for (const key of short) expect(long).not.toContain(key);
  });

  it('is the same for the same service', () => {
    expect(keysFor('orders')).toEqual(keysFor('orders'));
  });

  it('sessionKey appends the consumer id to the session prefix', () => {
    const keys = keysFor('orders');
    expect(sessionKey(keys, 'worker-1')).toBe(`${keys.sessionPrefix}worker-1`);
    expect(sessionKey(keys, 'worker-1')).not.toBe(sessionKey(keys, 'worker-2'));
  });

  it.each(['', '{', '}', 'a{b', 'a}b', '{orders}', 'x{}'])('refuses %j with a ConfigError on serviceName', (name) => {
    expect(isValidServiceName(name)).toBe(false);
    let error: unknown;
    try {
      keysFor(name);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe('serviceName');
    expect((error as ConfigError).message).toContain(JSON.stringify(name));
  });

  it.each(['orders', 'a', 'orders:eu-west', 'with space', 'ünïcode'])('accepts %j', (name) => {
    expect(isValidServiceName(name)).toBe(true);
    expect(() => keysFor(name)).not.toThrow();
  });
});

import { expect, it } from 'vitest';
import type { ServiceInspection } from '../../../lib/admin/inspect.js';
import { addStream, keysFor } from '../../../lib/index.js';
import { inspectAclRule, operatorAclRule, runCli, useBuiltCli } from '../../support/cli.js';
import { deadLetterIds, entryDeadLetter } from '../../support/dead-letters.js';
import { serviceName } from '../../support/fleet.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();
const cli = useBuiltCli();

/** ACL LOG entries of `user`: what Redis refused it. */
async function denials(user: string): Promise<string[]> {
  const log = (await redis.admin.sendCommand(['ACL', 'LOG'])) as unknown[][];
  return log
    .map((entry) => {
      const fields = new Map<string, unknown>();
      for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
      return fields;
    })
    .filter((fields) => fields.get('username') === user)
    .map((fields) => `${String(fields.get('reason'))} ${String(fields.get('object'))}`);
}

it('inspect works under the read-only ACL rule of docs/security.md; add is refused (exit 1, NOPERM)', async () => {
  const service = serviceName();
  const user = `rsc-inspect-${service}`;
  const password = 'a-long-random-password';
  await redis.admin.sendCommand(['ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, ...inspectAclRule(service, `${service}-*`)]);
  await redis.admin.sendCommand(['ACL', 'LOG', 'RESET']);
  // Something to read: a live consumer processing a stream with a position, and a stream waiting in the LBS.
  const { client } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 600 }, { start: false });
  client.run({ eachEntry: () => undefined });
  await client.init();
  const stream = `${service}-orders`;
  await client.addStream(stream);
  const entry = await redis.admin.xAdd(stream, '*', { n: '1' });
  await waitFor(async () => (await redis.admin.hGet(`rsc:{${service}}:positions`, stream)) === entry);

  // The credentials from the environment, out of the command line.
  const env = { REDIS_URL: redis.server.url, REDIS_USERNAME: user, REDIS_PASSWORD: password };
  const inspect = await runCli(cli.bin, ['inspect', '--service', service, '--json'], { env });
  expect(inspect.stderr).toBe('');
  expect(inspect.code).toBe(0);
  const reading = JSON.parse(inspect.stdout) as ServiceInspection;
  expect(reading.consumers.map((consumer) => [consumer.id, consumer.alive])).toEqual([[client.id(), true]]);
  expect(reading.streams).toMatchObject([{ name: stream, owner: client.id(), position: entry, lagMs: 0 }]);
  // Nothing refused but what node-redis tries on connecting and lets go (CLIENT SETINFO, on node-redis 4.7 and later).
  expect((await denials(user)).filter((denial) => !/client\|setinfo/.test(denial))).toEqual([]);

  const add = await runCli(cli.bin, ['add', '--service', service, `${service}-more`], { env });
  expect(add.code).toBe(1);
  expect(add.stdout).toBe('');
  expect(add.stderr).toMatch(/^rsc: NOPERM .*'xadd'.*\n$/);

  // The password given in the URL works the same.
  const url = redis.server.url.replace('redis://', `redis://${user}:${password}@`);
  expect((await runCli(cli.bin, ['inspect', '--service', service, '--url', url])).code).toBe(0);
});

it('a wrong password: exit 1, and the reason', async () => {
  const service = serviceName();
  const user = `rsc-inspect-${service}`;
  await redis.admin.sendCommand(['ACL', 'SETUSER', user, 'reset', 'on', '>right', ...inspectAclRule(service, `${service}-*`)]);
  const result = await runCli(cli.bin, ['inspect', '--service', service], {
    env: { REDIS_URL: redis.server.url, REDIS_USERNAME: user, REDIS_PASSWORD: 'wrong' },
  });
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^rsc: cannot connect to redis:\/\/127\.0\.0\.1:\d+\/?: WRONGPASS/);
});

it('dead-letter requeue and drop, and position get and set, work under the operator rule of docs/security.md; nothing more', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const user = `rsc-operator-${service}`;
  const password = 'a-long-random-password';
  await redis.admin.sendCommand(['ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, ...operatorAclRule(service, `${service}-*`)]);
  await redis.admin.sendCommand(['ACL', 'LOG', 'RESET']);
  // An entry dead letter of a stream the owner goes on processing, and an LBS dead letter (its key is no stream).
  const stream = `${service}-orders`;
  const { seen, recordId } = await entryDeadLetter(redis, service, stream);
  const wrongType = `${service}-wrong`;
  await redis.admin.set(wrongType, 'not a stream');
  await addStream(redis.admin, service, wrongType);
  const [lbsRecord] = await deadLetterIds(redis.admin, keys.deadLetter, 1);
  await redis.admin.del(wrongType);
  await redis.admin.xAdd(wrongType, '*', { n: '0' });
  const dropped = await redis.admin.xAdd(keys.entryDeadLetter, '*', { note: 'to drop' });
  const unowned = `${service}-unowned`;

  const env = { REDIS_URL: redis.server.url, REDIS_USERNAME: user, REDIS_PASSWORD: password };
  const rsc = (...args: string[]) => runCli(cli.bin, [...args.slice(0, 1), '--service', service, ...args.slice(1)], { env });
  for (const args of [
    ['dead-letter', 'list', '--kind', 'entries'],
    ['dead-letter', 'show', '--kind', 'entries', recordId],
    ['dead-letter', 'requeue', '--kind', 'entries', recordId],
    ['dead-letter', 'requeue', lbsRecord!],
    ['dead-letter', 'drop', '--kind', 'entries', dropped],
    ['position', 'get', stream],
    ['position', 'set', unowned, '1-0'],
  ]) {
    const result = await rsc(...args);
    expect(result.stderr, args.join(' ')).toBe('');
    expect(result.code, args.join(' ')).toBe(0);
  }
  await waitFor(() => seen.count === 4);
  expect(seen.numbers(stream)).toEqual([0, 2, 1]);
  expect(seen.numbers(wrongType)).toEqual([0]);
  expect(await redis.admin.hGet(keys.positions, unowned)).toBe('1-0');
  // A refusal inside a script's pcall would not reach rsc: ACL LOG shows it. Nothing but CLIENT SETINFO.
  expect((await denials(user)).filter((denial) => !/client\|setinfo/.test(denial))).toEqual([]);

  // Refused: set while owned (the owner named, exit 1), inspect (read commands it does not need), another service.
  expect((await rsc('position', 'set', stream, '1-0')).stderr).toMatch(/^rsc: refused to set the position .* consumer 'worker-1' owns it/);
  const inspect = await rsc('inspect');
  expect(inspect.code).toBe(1);
  expect(inspect.stderr).toMatch(/^rsc: NOPERM /);
  const other = await runCli(cli.bin, ['dead-letter', 'drop', '--service', serviceName(), '1-0'], { env });
  expect(other.code).toBe(1);
  expect(other.stderr).toMatch(/^rsc: NOPERM /);
});

import { describe, expect, it } from 'vitest';
import type { ExpiredStream } from '../../lib/events.js';
import { Inbox } from '../../lib/inbox.js';
import type { LeaseGrant } from '../../lib/leases.js';
import { FakeScriptRunner, FakeSession, deferred, isSettled, unitContext } from '../support/unit-fakes.js';

function setUp() {
  const runner = new FakeScriptRunner();
  const session = new FakeSession();
  const handed: LeaseGrant[] = [];
  const offered: ExpiredStream[] = [];
  const errors: unknown[] = [];
  const inbox = new Inbox(unitContext(runner), session.asSession(), {
    onHanded: (grant) => handed.push(grant),
    onOffered: (expired) => offered.push(expired),
    onError: (error) => errors.push(error),
  });
  return { runner, session, inbox, handed, offered, errors };
}

const raw = (stream: string) => JSON.stringify({ DataStreamName: stream, Info: { region: 'eu' } });

describe('Inbox', () => {
  it('accepts grants as hand-offs and offers as streamExpired from the live giver, until the inbox is empty', async () => {
    const { runner, inbox, handed, offered, session } = setUp();
    const replies = [
      ['ok', 1, ['handoff', '1-0', 'a', raw('a'), '42', '7']],
      ['ok', 0, ['offer', '2-0', 'b', raw('b'), 'giver', '7']],
    ];
    runner.on('accept', () => replies.shift());
    inbox.check();
    await expect.poll(() => replies.length).toBe(0);
    await expect.poll(() => offered.length).toBe(1);
    expect(handed).toEqual([{ stream: 'a', lbsId: '1-0', info: { region: 'eu' }, token: 42, origin: 'handoff', handedAt: 7 }]);
    expect(offered).toEqual([{ stream: 'b', lbsId: '2-0', info: { region: 'eu' }, previousOwner: 'giver' }]);
    expect(runner.callsOf('accept').map((call) => call.args[2])).toEqual([session.nonce, session.nonce]);
  });

  it('goes round once more when asked during a call, and not more', async () => {
    const { runner, inbox } = setUp();
    const first = deferred<unknown>();
    let calls = 0;
    runner.on('accept', () => (++calls === 1 ? first.promise : ['ok', 0]));
    inbox.check();
    inbox.check();
    inbox.check();
    await isSettled(first.promise);
    first.resolve(['ok', 0]);
    await expect.poll(() => calls).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(2);
  });

  it('accepts nothing for an incarnation that ended, or once stopped', async () => {
    const { runner, inbox, handed, session } = setUp();
    const reply = deferred<unknown>();
    runner.on('accept', () => reply.promise);
    inbox.check();
    session.renew(); // the items were taken for the incarnation before: the next one takes the entries back
    reply.resolve(['ok', 0, ['handoff', '1-0', 'a', raw('a'), '42', '7']]);
    await expect.poll(async () => isSettled(reply.promise)).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(handed).toEqual([]);

    session.valid = false;
    inbox.check();
    inbox.stop();
    inbox.check();
    expect(runner.callsOf('accept')).toHaveLength(1);
  });
});

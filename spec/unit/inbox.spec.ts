import { describe, expect, it } from 'vitest';
import type { ExpiredStream } from '../../lib/events.js';
import { Inbox } from '../../lib/inbox.js';
import type { LeaseGrant } from '../../lib/leases.js';
import { FakeScriptRunner, FakeSession, unitContext } from '../support/unit-fakes.js';

function setUp() {
  const session = new FakeSession();
  const handed: LeaseGrant[] = [];
  const offered: ExpiredStream[] = [];
  const errors: unknown[] = [];
  const inbox = new Inbox(unitContext(new FakeScriptRunner()), session.asSession(), {
    onHanded: (grant) => handed.push(grant),
    onOffered: (expired) => offered.push(expired),
    onError: (error) => errors.push(error),
  });
  inbox.start();
  return { session, inbox, handed, offered, errors };
}

/** A message as handoff.lua publishes it. */
function message(nonce: string, streams: Array<[string, string, string, string]>): string {
  return `handoff:${JSON.stringify({ n: nonce, m: '7', g: 'giver', s: streams })}`;
}

describe('Inbox', () => {
  it('owns what a message grants (origin handoff, handed at its membership) and announces what it offers', () => {
    const { session, inbox, handed, offered } = setUp();
    inbox.received(message(session.nonce, [['1-0', 'a', '42', '{"region":"eu"}'], ['2-0', 'b', '', '{}']]));
    expect(handed).toEqual([{ stream: 'a', lbsId: '1-0', info: { region: 'eu' }, token: 42, origin: 'handoff', handedAt: 7 }]);
    expect(offered).toEqual([{ stream: 'b', lbsId: '2-0', info: {}, previousOwner: 'giver' }]);
  });

  it('leaves alone a message for another incarnation, one arriving while the session is not valid, or once stopped', () => {
    const { session, inbox, handed } = setUp();
    const old = session.nonce;
    session.renew();
    inbox.received(message(old, [['1-0', 'a', '42', '{}']]));
    session.valid = false;
    inbox.received(message(session.nonce, [['1-0', 'a', '42', '{}']]));
    session.valid = true;
    inbox.stop();
    inbox.received(message(session.nonce, [['1-0', 'a', '42', '{}']]));
    expect(handed).toEqual([]);
  });

  it('reports a message it cannot decode, and owns a stream whose Info does not decode with {}', () => {
    const { session, inbox, handed, errors } = setUp();
    inbox.received('handoff:{not json');
    inbox.received(message(session.nonce, [['1-0', 'a', '42', '[1,2]']]));
    expect(handed).toMatchObject([{ stream: 'a', info: {} }]);
    expect(errors).toHaveLength(2);
  });
});

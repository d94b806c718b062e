import { describe, expect, it } from 'vitest';
import { listOrphans } from '../../../lib/scripts/list-orphans.js';
import { ScriptBench, useScriptBench } from '../../support/script-bench.js';

const DEAD = 'dead';

let bench: ScriptBench;

useScriptBench(async (opened) => {
  bench = opened;
});

function list(after = '-', pageSize = 100) {
  return listOrphans(bench.runner, bench.scope('me'), { previousOwner: DEAD, after, pageSize });
}

describe('list-orphans.lua', () => {
  it('returns alive while the consumer session key exists', async () => {
    await bench.startSession(DEAD);
    await bench.own(DEAD, 'a');
    expect(await list()).toEqual({ alive: true });
  });

  it('lists the ids pending under the dead consumer a page at a time, and no one else', async () => {
    await bench.startSession('peer');
    await bench.own('peer', 'theirs');
    const ids = await bench.own(DEAD, 'a', 'b', 'c');
    await bench.endSession(DEAD);

    expect(await list('-', 2)).toMatchObject({ alive: false, ids: ids.slice(0, 2), next: ids[1] });
    expect(await list(ids[1], 2)).toMatchObject({ alive: false, ids: ids.slice(2), next: '' });
  });

  it('says where to go on after a full last page, and then that it is done', async () => {
    const ids = await bench.own(DEAD, 'a', 'b');
    expect(await list('-', 2)).toMatchObject({ ids, next: ids[1] });
    expect(await list(ids[1], 2)).toMatchObject({ ids: [], next: '' });
  });

  it('names the live consumers only: session key present and deadline ahead', async () => {
    await bench.startSession('live');
    await bench.startSession('gone'); // its key expired; a sweep re-scored it for the next report
    await bench.endSession('gone', { at: (await bench.now()) + 50_000 });
    await bench.startSession('overdue'); // its key still there, its deadline passed
    await bench.command('ZADD', bench.keys.consumers, (await bench.now()) - 1, 'overdue');
    await bench.own(DEAD, 'a');

    expect(await list()).toMatchObject({ alive: false, live: ['live'] });
  });
});

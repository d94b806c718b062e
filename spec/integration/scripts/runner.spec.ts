import { describe, expect, it } from 'vitest';
import { luaScripts } from '../../../lib/scripts/generated.js';
import { register } from '../../../lib/scripts/register.js';
import { ScriptBench, useScriptBench } from '../../support/script-bench.js';

const MEMBER = { weight: 1, auto: true, draining: false };

let bench: ScriptBench;

useScriptBench(async (opened) => {
  bench = opened;
  await bench.command('SCRIPT', 'FLUSH');
  await bench.command('CONFIG', 'RESETSTAT');
});

async function isCached(): Promise<boolean> {
  const [cached] = (await bench.command('SCRIPT', 'EXISTS', luaScripts.register.sha)) as number[];
  return cached === 1;
}

/** How many times each scripting command ran since the last CONFIG RESETSTAT. */
async function calls(): Promise<{ evalsha: number; eval: number }> {
  const stats = String(await bench.command('INFO', 'commandstats'));
  const count = (command: string) => Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  return { evalsha: count('evalsha'), eval: count('eval') };
}

describe('ScriptRunner', () => {
  it('sends a script whole on its first call, which caches it, and by its digest after that', async () => {
    expect(await isCached()).toBe(false);

    const first = await register(bench.runner, bench.scope('me'), { nonce: 'n1', replaces: '', member: MEMBER });
    expect(first.registered).toBe(true);
    expect(await bench.redis.get(bench.sessionKey('me'))).toBe('n1');
    expect(await isCached()).toBe(true);
    expect(await calls()).toEqual({ evalsha: 0, eval: 1 });

    await register(bench.runner, bench.scope('me'), { nonce: 'n2', replaces: 'n1', member: MEMBER });
    expect(await calls()).toEqual({ evalsha: 1, eval: 1 });
  });

  it('falls back to EVAL when Redis lost the script (SCRIPT FLUSH, a restart), which caches it again', async () => {
    await register(bench.runner, bench.scope('me'), { nonce: 'n1', replaces: '', member: MEMBER });
    await bench.command('SCRIPT', 'FLUSH');
    await bench.command('CONFIG', 'RESETSTAT');

    await register(bench.runner, bench.scope('me'), { nonce: 'n2', replaces: 'n1', member: MEMBER });
    expect(await bench.redis.get(bench.sessionKey('me'))).toBe('n2');
    expect(await isCached()).toBe(true);
    expect(await calls()).toEqual({ evalsha: 1, eval: 1 });
  });

  it('passes on any other error without running the script again', async () => {
    await register(bench.runner, bench.scope('me'), { nonce: 'n1', replaces: '', member: MEMBER });
    await bench.command('DEL', bench.sessionKey('me'));
    await bench.command('HSET', bench.sessionKey('me'), 'not', 'a string'); // the script's GET fails on the hash
    await bench.command('CONFIG', 'RESETSTAT');

    await expect(register(bench.runner, bench.scope('me'), { nonce: 'n2', replaces: 'n1', member: MEMBER })).rejects.toThrow(/^WRONGTYPE/);
    expect(await calls()).toEqual({ evalsha: 1, eval: 0 });
  });
});

/**
 * The node-redis major of the clients the workers create (`--client=v4|v5|v6`): the consumers' (the library's or a
 * baseline's) and the paced producers'. v4 is the `redis` dev dependency, v5 and v6 the `redis5` and `redis6` npm
 * aliases. A worker loads only the major it runs (a dynamic import), so its memory figures hold no other major.
 * The bench process's own connection (loading LBS entries, INFO, clean-up) stays on v4 whatever the flag says.
 */
import { createRequire } from 'node:module';
import type { createClient as createClient4 } from 'redis';

export type ClientMajor = 'v4' | 'v5' | 'v6';

export const CLIENT_MAJORS: readonly ClientMajor[] = ['v4', 'v5', 'v6'];

/** The major of a run without --client, the one docs/performance.md's figures and charts come from. */
export const DEFAULT_CLIENT: ClientMajor = 'v4';

const PACKAGES: Record<ClientMajor, string> = { v4: 'redis', v5: 'redis5', v6: 'redis6' };

export type CreateClient = typeof createClient4;

/** `--client=` of a command line: one major or several, comma-separated, in the order given; v4 when absent. */
export function parseClientMajors(value: string | undefined): ClientMajor[] {
  if (value === undefined) return [DEFAULT_CLIENT];
  const majors = value.split(',').map((part) => part.trim());
  const unknown = majors.filter((major) => !(CLIENT_MAJORS as readonly string[]).includes(major));
  if (unknown.length > 0 || majors.length === 0) {
    throw new Error(`--client takes ${CLIENT_MAJORS.join(', ')} (or several, comma-separated), not ${JSON.stringify(value)}`);
  }
  return [...new Set(majors as ClientMajor[])];
}

/** createClient() of that major, typed as v4's (the methods the bench calls are named alike in every major). */
export async function loadCreateClient(major: ClientMajor): Promise<CreateClient> {
  const module = (await import(PACKAGES[major])) as { createClient: unknown };
  return module.createClient as CreateClient;
}

/** The installed version of that major's package, e.g. 5.12.4. */
export function clientVersion(major: ClientMajor): string {
  const require = createRequire(import.meta.url);
  return (require(`${PACKAGES[major]}/package.json`) as { version: string }).version;
}

/** "node-redis v5 (5.12.4)". */
export function clientLabel(major: ClientMajor): string {
  return `node-redis ${major} (${clientVersion(major)})`;
}

/**
 * Options the baselines' clients add on `major`: the baselines read RESP2 reply shapes through sendCommand (an
 * XREADGROUP reply is an array of [stream, entries]), and v6 speaks RESP3 by default (the same reply is an object
 * keyed by stream). The library gets no such options: it is given a client created as a user creates one, and opens
 * connections of its own with the settings it needs.
 */
export function baselineClientOptions(major: ClientMajor): Record<string, unknown> {
  return major === 'v6' ? { RESP: 2 } : {};
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'redis-stream-client';

/** The package's version, from its package.json: the first one named redis-stream-client above this file (dist/ when
 * installed, lib/cli/ in the repository). */
export function packageVersion(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === PACKAGE_NAME && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No (readable) package.json here: look further up.
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

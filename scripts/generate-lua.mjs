// Turns lib/scripts/*.lua into lib/scripts/generated.ts, so that nothing is read from disk at run time.
// A line `--@include name` inlines lib/scripts/includes/name.lua once, after the includes it names itself.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../lib/scripts/', import.meta.url));
const includePattern = /^--@include ([\w-]+)\s*$/;

function expand(source, included) {
  return source
    .split('\n')
    .map((line) => {
      const name = includePattern.exec(line)?.[1];
      if (!name) return line;
      if (included.has(name)) return '';
      included.add(name);
      return expand(readFileSync(join(dir, 'includes', `${name}.lua`), 'utf8'), included);
    })
    .join('\n');
}

const scripts = readdirSync(dir)
  .filter((file) => file.endsWith('.lua'))
  .sort()
  .map((file) => {
    const source = expand(readFileSync(join(dir, file), 'utf8'), new Set());
    const sha = createHash('sha1').update(source).digest('hex');
    return `  ${JSON.stringify(file.slice(0, -4))}: { source: ${JSON.stringify(source)}, sha: '${sha}' },`;
  });

writeFileSync(
  join(dir, 'generated.ts'),
  `// Generated from lib/scripts/*.lua by scripts/generate-lua.mjs: edit those, not this file.\n` +
    `export const luaScripts = {\n${scripts.join('\n')}\n} as const;\n`,
);

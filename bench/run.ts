/**
 * Entry point of the benchmarks: `npm run bench` (full) or `npm run bench:smoke` (every scenario at tiny sizes).
 * Generates the Lua scripts first (the library imports them), then runs bench/main.ts.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/generate-lua.mjs', import.meta.url))], { stdio: 'inherit' });
const { main } = await import('./main.js');
process.exitCode = await main(process.argv.slice(2));

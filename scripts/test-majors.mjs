// Runs `npm run test:v5` and `npm run test:v6` side by side and prints each one's output whole once it ends (two
// vitest runs interleaved would be unreadable). Each run takes one spec file at a time and mostly waits on Redis
// and timers, so on 2 cores the two together take about as long as one. Exits non-zero when either fails.
import { spawn } from 'node:child_process';

const majors = ['5', '6'];

function run(major) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn('npm', ['run', `test:v${major}`], { env: { ...process.env, FORCE_COLOR: '1' } });
    const output = [];
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    child.on('close', (code, signal) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      resolve({ major, code: code ?? 1, signal, seconds, output: Buffer.concat(output) });
    });
  });
}

const results = await Promise.all(majors.map(run));
for (const { major, code, signal, seconds, output } of results) {
  process.stdout.write(`\n==== node-redis ${major}: ${code === 0 ? 'passed' : `FAILED (${signal ?? `exit ${code}`})`} in ${seconds} s ====\n`);
  process.stdout.write(output);
}
const failed = results.filter(({ code }) => code !== 0).map(({ major }) => `node-redis ${major}`);
if (failed.length > 0) {
  process.stderr.write(`\nFailed on ${failed.join(' and ')}\n`);
  process.exitCode = 1;
}

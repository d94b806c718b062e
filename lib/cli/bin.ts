#!/usr/bin/env node
import { main } from './main.js';

// SIGINT ends a command that runs until interrupted (`inspect --watch`) with exit code 0: it closes its connection
// and the process ends on its own. A second SIGINT ends the process at once, as usual.
const interrupted = new AbortController();
process.once('SIGINT', () => {
  interrupted.abort();
  process.once('SIGINT', () => process.exit(130));
});

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdoutIsTTY: process.stdout.isTTY === true,
  env: process.env,
  interrupted: interrupted.signal,
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['spec/**/*.spec.ts'],
    // The chaos suite runs on its own: npm run test:chaos.
    exclude: ['spec/chaos/**', 'node_modules/**'],
    pool: 'forks',
    // Fault-injection tests are timing-sensitive; run files one at a time (CI has 2 cores).
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    retry: 0,
    // spec/unit/types.spec.ts asserts types (expectTypeOf), which do nothing at run time: tsc checks it within
    // `vitest run` too, so that a wrong type fails the run. Only when that file is part of the run (a few seconds).
    typecheck: { enabled: true, include: ['spec/unit/types.spec.ts'], tsconfig: './tsconfig.types.json' },
  },
});

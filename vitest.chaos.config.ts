import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// Not mergeConfig: it concatenates arrays, so the base's include (spec/**) and its exclude (spec/chaos/**) would
// run every other spec and none of the chaos suite.
export default defineConfig({
  test: {
    ...base.test,
    include: ['spec/chaos/**/*.spec.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 180_000,
    typecheck: { enabled: false },
  },
});

import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['spec/chaos/**/*.spec.ts'],
      exclude: ['node_modules/**'],
      testTimeout: 180_000,
    },
  }),
);

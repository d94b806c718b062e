import { defineConfig, type Options } from 'tsup';

const shared: Options = {
  tsconfig: 'tsconfig.build.json',
  target: 'node20',
  platform: 'node',
  sourcemap: true,
};

/** The `rsc` command line (package.json `bin`): ESM only, executable (tsup keeps the entry's shebang and sets the
 * mode). Built beside the library; the library's build cleans dist/ but for it, as both builds run at once. */
export const cliBuild: Options = {
  ...shared,
  entry: { cli: 'lib/cli/bin.ts' },
  format: ['esm'],
  dts: false,
  clean: false,
};

export default defineConfig([
  {
    ...shared,
    entry: ['lib/index.ts', 'lib/prometheus.ts', 'lib/otel.ts'],
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { composite: false } },
    clean: ['!cli.js', '!cli.js.map'],
  },
  cliBuild,
]);

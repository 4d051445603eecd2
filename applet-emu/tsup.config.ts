import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'runtime/index': 'src/runtime/index.ts',
    'bridges/vpcd/index': 'src/bridges/vpcd/index.ts',
    'bridges/ota/index': 'src/bridges/ota/index.ts',
    'applets/isd/index': 'src/applets/isd/index.ts',
    'applets/epurse/index': 'src/applets/epurse/index.ts',
    'applets/psam/index': 'src/applets/psam/index.ts',
    sim: 'src/sim.ts',
    testing: 'src/testing.ts',
    // The `simtap-card` and `simtap-phone` bins: their `#!/usr/bin/env node` line is kept and tsup marks the outputs
    // executable.
    'cli/simtap-card': 'src/cli/simtap-card.ts',
    'cli/simtap-phone': 'src/cli/simtap-phone.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  tsconfig: 'tsconfig.json',
  external: [/^@simtap\//],
});

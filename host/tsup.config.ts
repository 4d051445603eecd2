import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    'ledger/index': 'src/ledger/index.ts',
    'keys/index': 'src/keys/index.ts',
    'testing/index': 'src/testing/index.ts',
    'platform/index': 'src/platform/index.ts',
    'customers/index': 'src/customers/index.ts',
    'points/index': 'src/points/index.ts',
    'wallets/index': 'src/wallets/index.ts',
    'contactless/index': 'src/contactless/index.ts',
    'server/index': 'src/server/index.ts',
    'ota/index': 'src/ota/index.ts',
    // The `simtap-host` bin (bin/simtap-host.js imports it): its `#!/usr/bin/env node` line is kept and tsup marks
    // the output executable.
    'cli/simtap-host': 'src/cli/simtap-host.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  tsconfig: 'tsconfig.json',
  external: [/^@simtap\//, 'better-sqlite3', 'pg'],
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['{sdk,applet-emu,host,examples/*}/{src,test}/**/*.test.ts', 'tests/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', '**/.readme-*/**'],
    testTimeout: 60_000,
    // Hooks start processes, servers and pcscd readers; under a full parallel run they can take longer than 10 s.
    hookTimeout: 60_000,
    pool: 'forks',
  },
});

import { defineConfig } from 'tsup';

export default defineConfig({
  // `npm start` runs dist/main.js; the packages stay external and resolve to their own builds.
  entry: { main: 'src/main.ts', demo: 'src/demo.ts', air: 'src/air.ts' },
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'node20',
  tsconfig: 'tsconfig.json',
  external: [/^@simtap\//],
});

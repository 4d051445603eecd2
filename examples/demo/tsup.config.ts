import { defineConfig } from 'tsup';

export default defineConfig({
  // `npm start` runs dist/main.js; sdk, applet-emu and host stay external and resolve to their own builds.
  entry: {
    main: 'src/main.ts',
    demo: 'src/demo.ts',
    air: 'src/air.ts',
    patent: 'src/patent/patent.ts',
    progress: 'src/patent/progress.ts',
  },
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'node20',
  tsconfig: 'tsconfig.json',
  // The example systems ship as TypeScript sources: bundled into dist; the packages stay external.
  noExternal: [/^@simtap\/example-/],
  external: [/^@simtap\/(sdk|applet-emu|host)(\/|$)/],
});

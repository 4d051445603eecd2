/**
 * Builds the operator console (host/console) into host/dist/console, which the platform serves at /console/:
 * console.ts and its modules bundled by esbuild into one minified console.js (ES2020, one IIFE: the page's only
 * script, as its CSP `script-src 'self'` wants) with its source map, and index.html and console.css copied as they are.
 * Runs after tsup (`npm run build -w host`), which empties dist first. Type checking is `tsc -p host/console`.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const host = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(host, 'console');
const out = join(host, 'dist', 'console');

await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(src, 'console.ts')],
  outfile: join(out, 'console.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
await Promise.all(['index.html', 'console.css'].map((f) => copyFile(join(src, f), join(out, f))));
console.log(`console: built ${out}`);

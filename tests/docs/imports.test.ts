/**
 * Package boundaries: no module imports across a package by relative path — tests, scripts and benchmarks use the
 * packages' names and their `testing` subpaths (`@simtap/sdk/testing`, `@simtap/applet-emu/testing`), so every
 * package could be published and tested on its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../../scripts/gen-docs';
import { filesUnder } from './source-files';

/** Package roots: every workspace, and the repository root itself (tests/, scripts/, bench/). */
const PACKAGES = ['sdk', 'applet-emu', 'host', ...readdirSync(join(root, 'examples')).map((d) => join('examples', d))];

function packageOf(file: string): string {
  const rel = relative(root, file);
  return PACKAGES.find((p) => rel === p || rel.startsWith(p + sep)) ?? '.';
}

function sources(dir: string): string[] {
  return filesUnder(
    dir,
    (f) => /\.(ts|mts|js|mjs)$/.test(f) && !f.endsWith('.d.ts') && !/(^|\/)(node_modules|dist)\//.test(f),
  );
}

/** `from '…'`, `import('…')` and `new URL('…', import.meta.url)` specifiers that are relative. */
function relativeSpecifiers(text: string): string[] {
  const out: string[] = [];
  for (const re of [/\bfrom\s+'(\.{1,2}\/[^']*)'/g, /\bimport\(\s*'(\.{1,2}\/[^']*)'\s*\)/g]) {
    for (const m of text.matchAll(re)) out.push(m[1]!);
  }
  return out;
}

describe('package boundaries', () => {
  it('no relative import leaves its package', () => {
    const dirs = [
      ...PACKAGES.flatMap((p) => [join(root, p, 'src'), join(root, p, 'test')]),
      join(root, 'tests'),
      join(root, 'scripts'),
      join(root, 'bench'),
    ];
    const crossing: string[] = [];
    for (const dir of dirs)
      for (const file of sources(dir)) {
        const from = packageOf(file);
        for (const spec of relativeSpecifiers(readFileSync(file, 'utf8'))) {
          const target = resolve(dirname(file), spec);
          if (packageOf(target) !== from) crossing.push(`${relative(root, file)} → ${spec}`);
        }
      }
    expect(crossing).toEqual([]);
  });
});

/**
 * `npm run bench [-- SUITE] [--out PATH | --save]`: runs the benchmark suites (all, or the one named: core, pcsc, card,
 * purchase, clearing, wire, ota, tap), prints µs/op and ops/s beside the raw primitive measured in the same run, and writes the results to
 * `bench/results.local.json` (not committed), to `--out PATH`, or with `--save` to the committed `bench/results.json`.
 * Never part of `npm test` pass/fail. A suite that lacks an optional part (the PC/SC one) prints one skip line; under
 * `CI=true` that is a failure (exit status 1).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchCard } from './card';
import { benchClearing } from './clearing';
import { benchCore } from './core';
import { type BenchRow, machine, printRows } from './lib';
import { benchOta } from './ota';
import { benchPcsc } from './pcsc';
import { benchPurchase } from './purchase';
import { benchTap } from './tap';
import { benchWire } from './wire';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The committed figures (`--save`). */
const SAVED = join(HERE, 'results.json');
/** Where a plain run writes (git-ignored). */
const LOCAL = join(HERE, 'results.local.json');

const suites: Record<string, () => BenchRow[] | Promise<BenchRow[]>> = {
  core: benchCore,
  pcsc: benchPcsc,
  card: benchCard,
  purchase: benchPurchase,
  clearing: benchClearing,
  wire: benchWire,
  ota: benchOta,
  tap: benchTap,
};

function usage(message: string): never {
  console.error(`bench: ${message}`);
  console.error(`usage: npm run bench [-- SUITE] [--out PATH | --save]   (SUITE: ${Object.keys(suites).join(', ')})`);
  process.exit(2);
}

function parseCommandLine() {
  try {
    return parseArgs({
      args: process.argv.slice(2),
      options: { out: { type: 'string' }, save: { type: 'boolean' } },
      allowPositionals: true,
    });
  } catch (err) {
    return usage(err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err));
  }
}
const { values, positionals } = parseCommandLine();
if (positionals.length > 1) usage(`one suite at most, got ${positionals.join(' ')}`);
const only = positionals[0];
if (only !== undefined && !(only in suites)) usage(`unknown suite "${only}"`);
if (values.save && values.out !== undefined) usage('--out and --save exclude each other');
if (values.out === '') usage('--out needs a file path');
const out = values.save ? SAVED : values.out !== undefined ? resolve(values.out) : LOCAL;

const rows: BenchRow[] = [];
const skipped: string[] = [];
for (const [name, suite] of Object.entries(suites)) {
  if (only && only !== name) continue;
  console.log(`# ${name}`);
  try {
    const r = await suite();
    printRows(r);
    rows.push(...r);
  } catch (err) {
    // A suite that cannot run (under CI=true: a missing optional part) fails the run after the other suites.
    const line = err instanceof Error ? err.message : String(err);
    console.error(`  FAILED: ${line}`);
    skipped.push(`${name}: ${line}`);
  }
}
writeFileSync(out, `${JSON.stringify({ generatedAt: new Date().toISOString(), machine: machine(), rows }, null, 2)}\n`);
const missed = rows.filter((r) => r.target && !r.target.met);
const rel = relative(process.cwd(), out);
const shown = rel === '' || rel.startsWith('..') ? out : rel;
console.log(
  `\nwrote ${shown}${values.save ? ' (the committed figures)' : ''}; ` +
    `${rows.filter((r) => r.target).length - missed.length} targets met, ${missed.length} missed`,
);
for (const r of missed) console.log(`  MISSED: ${r.name} (${r.target?.text})`);
if (skipped.length > 0) {
  for (const s of skipped) console.error(`  FAILED SUITE ${s}`);
  process.exitCode = 1;
}

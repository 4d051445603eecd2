/**
 * `npm run bench [-- SUITE] [--out PATH | --save]`: runs the benchmark suites (all, or the one named: core, pcsc, card,
 * purchase, clearing, wire, ota, tap), prints µs/op and ops/s beside the raw primitive measured in the same run, and writes the results to
 * `bench/results.local.json` (not committed), to `--out PATH`, or with `--save` to the committed `bench/results.json`.
 * The file keeps every suite: a run replaces the rows of the suites it ran and keeps the others' (and those of a suite
 * that failed), each row naming its suite and `suites` saying when, where and at what load average each ran.
 * Never part of `npm test` pass/fail. A suite that lacks an optional part (the PC/SC one) prints one skip line; under
 * `CI=true` that is a failure (exit status 1).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
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

/** A row as the results file keeps it: with the suite that measured it. */
type SavedRow = BenchRow & { suite: string };
/** The results file: every suite's rows, and when and where each suite last ran. */
interface ResultsFile {
  generatedAt: string;
  machine: Record<string, unknown>;
  suites: Record<string, { measuredAt: string; machine: Record<string, unknown>; loadAverage: number }>;
  rows: SavedRow[];
}

/**
 * The results file at `path`, or undefined when there is none (or one from before suites were recorded, whose rows
 * cannot be told apart: a save then starts afresh).
 */
function readResults(path: string): ResultsFile | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as Partial<ResultsFile>;
    if (file.suites === undefined || !Array.isArray(file.rows) || file.rows.some((r) => typeof r.suite !== 'string'))
      return undefined;
    return file as ResultsFile;
  } catch {
    return undefined;
  }
}

const rows: SavedRow[] = [];
const ran: ResultsFile['suites'] = {};
const skipped: string[] = [];
for (const [name, suite] of Object.entries(suites)) {
  if (only && only !== name) continue;
  console.log(`# ${name}`);
  const measuredAt = new Date().toISOString();
  const loadAverage = Number(loadavg()[0]?.toFixed(2));
  try {
    const r = await suite();
    printRows(r);
    rows.push(...r.map((row) => ({ ...row, suite: name })));
    // A suite that skipped (no rows: a missing optional part outside CI) leaves its earlier rows in place.
    if (r.length > 0) ran[name] = { measuredAt, machine: machine(), loadAverage };
  } catch (err) {
    // A suite that cannot run (under CI=true: a missing optional part) fails the run after the other suites.
    const line = err instanceof Error ? err.message : String(err);
    console.error(`  FAILED: ${line}`);
    skipped.push(`${name}: ${line}`);
  }
}

// The file keeps every suite: the suites of this run replace their earlier rows, the others (and a suite that
// failed in this run) keep theirs, each with the time and machine it was measured on.
const earlier = readResults(out);
const merged: ResultsFile = { generatedAt: new Date().toISOString(), machine: machine(), suites: {}, rows: [] };
for (const name of Object.keys(suites)) {
  if (ran[name]) {
    merged.suites[name] = ran[name];
    merged.rows.push(...rows.filter((r) => r.suite === name));
  } else if (earlier?.suites[name]) {
    merged.suites[name] = earlier.suites[name];
    merged.rows.push(...earlier.rows.filter((r) => r.suite === name));
  }
}
writeFileSync(out, `${JSON.stringify(merged, null, 2)}\n`);
const kept = Object.keys(merged.suites).filter((n) => !ran[n]);
const missed = rows.filter((r) => r.target && !r.target.met);
const rel = relative(process.cwd(), out);
const shown = rel === '' || rel.startsWith('..') ? out : rel;
console.log(
  `\nwrote ${shown}${values.save ? ' (the committed figures)' : ''}; ` +
    `${rows.filter((r) => r.target).length - missed.length} targets met, ${missed.length} missed` +
    (kept.length > 0 ? `; kept the earlier rows of ${kept.join(', ')}` : ''),
);
for (const r of missed) console.log(`  MISSED: ${r.name} (${r.target?.text})`);
if (skipped.length > 0) {
  for (const s of skipped) console.error(`  FAILED SUITE ${s}`);
  process.exitCode = 1;
}

/**
 * `npm run bench`: runs every benchmark suite, prints µs/op and ops/s beside the raw primitive measured in the
 * same run, and writes bench/results.json. Never part of `npm test` pass/fail.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCard } from './card';
import { benchCore } from './core';
import { type BenchRow, machine, printRows } from './lib';
import { benchPcsc } from './pcsc';
import { benchPurchase } from './purchase';

const only = process.argv[2];
const suites: Record<string, () => BenchRow[] | Promise<BenchRow[]>> = {
  core: benchCore,
  pcsc: benchPcsc,
  card: benchCard,
  purchase: benchPurchase,
};

const rows: BenchRow[] = [];
for (const [name, suite] of Object.entries(suites)) {
  if (only && only !== name) continue;
  console.log(`# ${name}`);
  const r = await suite();
  printRows(r);
  rows.push(...r);
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'results.json');
writeFileSync(out, `${JSON.stringify({ generatedAt: new Date().toISOString(), machine: machine(), rows }, null, 2)}\n`);
const missed = rows.filter((r) => r.target && !r.target.met);
console.log(
  `\nwrote ${out}; ${rows.filter((r) => r.target).length - missed.length} targets met, ${missed.length} missed`,
);
for (const r of missed) console.log(`  MISSED: ${r.name} (${r.target?.text})`);

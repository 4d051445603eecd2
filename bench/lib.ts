/**
 * A small, dependency-free micro-benchmark harness: runs a function in timed batches, reports the median
 * µs/op and ops/s, and sets each figure beside the raw primitive measured in the same run.
 */
import { cpus } from 'node:os';

export interface Measurement {
  name: string;
  usPerOp: number;
  opsPerSec: number;
  /** Per-batch medians give p50; p99 over individual batches when `samples` were requested. */
  p99Us?: number;
}

export interface BenchRow extends Measurement {
  group: string;
  raw?: Measurement & { ratio: number };
  /**
   * A row that measures a quantity, not a time (memory): its value and unit. Its `usPerOp` and `opsPerSec` are NaN
   * (null in the JSON). See {@link quantityRow}.
   */
  quantity?: { value: number; unit: string };
  target?: {
    /** Lower is better: the row's `quantity.value` at most this. */
    maxQuantity?: number;
    maxUsPerOp?: number;
    maxRatio?: number;
    /** Higher is better: at least this many ops/s. */
    minOpsPerSec?: number;
    /** Higher is better: ops/s at least this fraction of the raw row's (`raw.ratio` ≤ 1 / minRateRatio). */
    minRateRatio?: number;
    met: boolean;
    text: string;
  };
  note?: string;
}

const now = (): number => Number(process.hrtime.bigint()) / 1000; // µs

/** Measures `fn` (which performs `opsPerCall` operations) for about `ms` milliseconds. */
export function measure(name: string, fn: () => unknown, opts: { ms?: number; opsPerCall?: number } = {}): Measurement {
  const ms = opts.ms ?? 400;
  const opsPerCall = opts.opsPerCall ?? 1;
  // Calibrate a batch size of ~1 ms.
  let batch = 1;
  for (;;) {
    const t0 = now();
    for (let i = 0; i < batch; i++) fn();
    const dt = now() - t0;
    if (dt > 1000 || batch > 1 << 24) break;
    batch *= 2;
  }
  const samples: number[] = [];
  const end = now() + ms * 1000;
  while (now() < end || samples.length < 7) {
    const t0 = now();
    for (let i = 0; i < batch; i++) fn();
    samples.push((now() - t0) / (batch * opsPerCall));
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)]!;
  return { name, usPerOp: median, opsPerSec: 1e6 / median };
}

/** Per-operation latency distribution (each call timed on its own): p50/p99 in µs. */
export function latency(name: string, fn: () => unknown, count = 20_000): Measurement & { p50Us: number } {
  for (let i = 0; i < Math.min(2000, count); i++) fn(); // warm-up
  const t = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = now();
    fn();
    t[i] = now() - t0;
  }
  t.sort();
  const p50 = t[Math.floor(count * 0.5)]!;
  const p99 = t[Math.floor(count * 0.99)]!;
  return { name, usPerOp: p50, opsPerSec: 1e6 / p50, p99Us: p99, p50Us: p50 };
}

export function row(
  group: string,
  m: Measurement,
  raw?: Measurement,
  target?: { maxUsPerOp?: number; maxRatio?: number; minOpsPerSec?: number; minRateRatio?: number },
  note?: string,
): BenchRow {
  const r: BenchRow = { group, ...m };
  if (raw) r.raw = { ...raw, ratio: m.usPerOp / raw.usPerOp };
  if (target) {
    const parts: string[] = [];
    let met = true;
    if (target.maxUsPerOp !== undefined) {
      parts.push(`≤ ${target.maxUsPerOp} µs`);
      met &&= m.usPerOp <= target.maxUsPerOp;
    }
    if (target.maxRatio !== undefined && r.raw) {
      parts.push(`≤ ${target.maxRatio}× ${r.raw.name}`);
      met &&= r.raw.ratio <= target.maxRatio;
    }
    if (target.minOpsPerSec !== undefined) {
      parts.push(`≥ ${target.minOpsPerSec.toLocaleString('en-US')} ops/s`);
      met &&= m.opsPerSec >= target.minOpsPerSec;
    }
    if (target.minRateRatio !== undefined && r.raw) {
      parts.push(`≥ ${target.minRateRatio}× raw ops/s`);
      met &&= m.opsPerSec >= target.minRateRatio * r.raw.opsPerSec;
    }
    r.target = { ...target, met, text: parts.join(', ') };
  }
  if (note) r.note = note;
  return r;
}

/** A row of a quantity that is not a time (e.g. MB of memory), with an optional upper bound as its target. */
export function quantityRow(
  group: string,
  name: string,
  quantity: { value: number; unit: string },
  target?: { maxQuantity: number },
  note?: string,
): BenchRow {
  const r: BenchRow = { group, name, usPerOp: Number.NaN, opsPerSec: Number.NaN, quantity };
  if (target)
    r.target = {
      ...target,
      met: quantity.value <= target.maxQuantity,
      text: `< ${target.maxQuantity.toLocaleString('en-US')} ${quantity.unit}`,
    };
  if (note) r.note = note;
  return r;
}

export function printRows(rows: BenchRow[]): void {
  const fmt = (n: number) => (n < 10 ? n.toFixed(3) : n < 100 ? n.toFixed(2) : n.toFixed(1));
  let group = '';
  for (const r of rows) {
    if (r.group !== group) {
      group = r.group;
      console.log(`\n## ${group}`);
    }
    const ops = Math.round(r.opsPerSec).toLocaleString('en-US');
    let line = r.quantity
      ? `  ${r.name.padEnd(44)} ${fmt(r.quantity.value).padStart(9)} ${r.quantity.unit}`
      : `  ${r.name.padEnd(44)} ${fmt(r.usPerOp).padStart(9)} µs/op ${ops.padStart(12)} ops/s`;
    if (r.p99Us !== undefined) line += `  p99 ${fmt(r.p99Us)} µs`;
    if (r.raw) line += `   | raw ${r.raw.name}: ${fmt(r.raw.usPerOp)} µs (×${r.raw.ratio.toFixed(2)})`;
    if (r.target) line += `   target ${r.target.text}: ${r.target.met ? 'met' : 'MISSED'}`;
    console.log(line);
    if (r.note) console.log(`      ${r.note}`);
  }
}

export function machine(): Record<string, unknown> {
  const c = cpus();
  return { node: process.version, platform: `${process.platform} ${process.arch}`, cpu: c[0]?.model, cores: c.length };
}

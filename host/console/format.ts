/**
 * How the console writes numbers, money and times: amounts are integer fen shown as yuan with two decimals
 * (`1250` → `¥12.50`), times the browser's local `HH:MM:SS`.
 * @module
 */

/** A dash for a value that is not known. */
export const NONE = '—';

/** `n` with thousands separators: `1234567` → `1,234,567`. */
export function count(n: number): string {
  const s = String(Math.abs(Math.trunc(n))).replace(/\B(?=(\d{3})+$)/g, ',');
  return n < 0 ? `-${s}` : s;
}

/** Fen as yuan: `1250` → `¥12.50`, `-5` → `-¥0.05`, `123456` → `¥1,234.56`. Integer arithmetic: no float rounding. */
export function yuan(fen: number): string {
  const abs = Math.abs(Math.trunc(fen));
  const cents = String(abs % 100).padStart(2, '0');
  return `${fen < 0 ? '-' : ''}¥${count(Math.trunc(abs / 100))}.${cents}`;
}

/** Points: `1200` → `1,200 pts`. */
export function points(n: number): string {
  return `${count(n)} pts`;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Epoch ms as the browser's local `HH:MM:SS`. */
export function hms(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** A tap's time at the machine, µs, as ms with one decimal (`41200` → `41.2`), or a dash. */
export function tapMs(us: number | null): string {
  return us === null ? NONE : (us / 1000).toFixed(1);
}

/** A duration as `3 h 12 min`, `4 min 5 s` or `12 s`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** A long hex value cut to its ends (`c6e10000…0000beef`); the caller puts the whole in a `title`. */
export function shortHex(hex: string, keep = 8): string {
  return hex.length <= 2 * keep + 1 ? hex : `${hex.slice(0, keep)}…${hex.slice(-keep)}`;
}

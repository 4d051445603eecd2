/**
 * The console's pictures, drawn on `<canvas>` by hand (no library; the CSP allows no inline anything): per-second
 * counts over the last minute, and the tap-time histogram by machine kind. A canvas is sized to its box times
 * `devicePixelRatio` (sharp on phones) and drawn again when the box changes size. Colours come from the page's
 * CSS custom properties (`--chart-*`), so the stylesheet owns the palette. Each picture also says what it shows in
 * its `aria-label`, and its legend is DOM.
 * @module
 */
import { count, NONE } from './format';

/** One line or bar series of a time chart. */
export interface Series {
  readonly label: string;
  /** A CSS custom property of the figure (`--chart-taps`) or a colour. */
  readonly color: string;
  readonly values: readonly number[];
  readonly kind: 'bar' | 'line';
}

type Draw = (ctx: CanvasRenderingContext2D, width: number, height: number) => void;

/** Plot margins, CSS px: room for the y ticks on the left and the x labels below. */
const PAD = { left: 40, right: 10, top: 18, bottom: 24 } as const;
const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/** A `<figure>` holding a `<canvas>` (and a `ul.legend`): keeps the last drawing and draws it again on resize. */
export class CanvasChart {
  readonly figure: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly legend: HTMLElement | null;
  #draw: Draw | undefined;

  constructor(figure: HTMLElement) {
    this.figure = figure;
    const canvas = figure.querySelector('canvas');
    if (canvas === null) throw new Error('CanvasChart: the figure has no canvas');
    this.canvas = canvas;
    this.legend = figure.querySelector<HTMLElement>('.legend');
    new ResizeObserver(() => this.#paint()).observe(canvas);
  }

  /** Draws with `draw` now and on every resize until the next call. */
  render(draw: Draw, label: string): void {
    this.#draw = draw;
    this.canvas.setAttribute('aria-label', label);
    this.#paint();
  }

  /** The colour of `name`: a custom property of the figure (`--chart-grid`) or a colour as is. */
  color(name: string): string {
    return name.startsWith('--') ? getComputedStyle(this.figure).getPropertyValue(name).trim() || '#888' : name;
  }

  /** Replaces the legend: a swatch, a name and an optional detail per entry. */
  setLegend(entries: readonly { label: string; color: string; detail?: string; key?: string }[]): void {
    if (this.legend === null) return;
    this.legend.replaceChildren(
      ...entries.map((e) => {
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.backgroundColor = this.color(e.color); // CSSOM: allowed by the CSP
        const li = document.createElement('li');
        if (e.key !== undefined) li.dataset.key = e.key;
        const name = document.createElement('span');
        name.className = 'name';
        name.textContent = e.label;
        li.append(swatch, name);
        if (e.detail !== undefined) {
          const detail = document.createElement('span');
          detail.className = 'detail';
          detail.textContent = e.detail;
          li.append(detail);
        }
        return li;
      }),
    );
  }

  #paint(): void {
    const draw = this.#draw;
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    if (draw === undefined || width === 0 || height === 0) return; // hidden: drawn when shown (the box resizes)
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    const ctx = this.canvas.getContext('2d');
    if (ctx === null) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT;
    draw(ctx, width, height);
  }
}

/** Steps of a y axis. */
const TICKS = 4;

/**
 * The top of a y axis over values up to `peak`: {@link TICKS} steps of 1, 2 or 5 × 10ⁿ (whole steps for counts),
 * so the tick labels read as round numbers.
 */
export function niceMax(peak: number, whole = true): number {
  const raw = Math.max(peak, whole ? TICKS : 0) / TICKS;
  if (!(raw > 0)) return TICKS;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= raw) ?? 10 * mag;
  return step * TICKS;
}

/** Grid lines and labels of a y axis from 0 to `max` ({@link TICKS} steps), with `unit` above it. */
function yAxis(chart: CanvasChart, ctx: CanvasRenderingContext2D, w: number, h: number, max: number, unit: string) {
  const plotH = h - PAD.top - PAD.bottom;
  ctx.strokeStyle = chart.color('--chart-grid');
  ctx.fillStyle = chart.color('--chart-text');
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let i = 0; i <= TICKS; i++) {
    const v = (max * i) / TICKS;
    const y = Math.round(PAD.top + plotH - (plotH * i) / TICKS) + 0.5;
    ctx.beginPath();
    ctx.moveTo(PAD.left, y);
    ctx.lineTo(w - PAD.right, y);
    ctx.stroke();
    ctx.fillText(Number.isInteger(v) ? count(v) : String(Number(v.toPrecision(3))), PAD.left - 6, y);
  }
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  ctx.fillText(unit, 4, PAD.top - 6);
}

/** A centred note in place of an empty plot. */
function note(chart: CanvasChart, ctx: CanvasRenderingContext2D, w: number, h: number, text: string): void {
  ctx.fillStyle = chart.color('--chart-text');
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, PAD.left + (w - PAD.left - PAD.right) / 2, PAD.top + (h - PAD.top - PAD.bottom) / 2);
}

/**
 * Per-second counts over the last `values.length` seconds (oldest first; the last is the current second): bars and
 * lines over one y axis in `unit`, the x axis in seconds before now.
 */
export function drawSeconds(chart: CanvasChart, series: readonly Series[], unit: string, summary: string): void {
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const peak = Math.max(0, ...series.flatMap((s) => s.values));
  chart.figure.dataset.peak = String(peak);
  chart.figure.dataset.total = String(series[0]?.values.reduce((a, b) => a + b, 0) ?? 0);
  chart.setLegend(series.map((s) => ({ label: s.label, color: s.color, key: s.label })));
  chart.render((ctx, w, h) => {
    const max = niceMax(peak);
    yAxis(chart, ctx, w, h, max, unit);
    const plotW = w - PAD.left - PAD.right;
    const plotH = h - PAD.top - PAD.bottom;
    const step = plotW / n;
    const y = (v: number): number => PAD.top + plotH - (plotH * v) / max;
    // x labels: seconds before now.
    ctx.fillStyle = chart.color('--chart-text');
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const every = plotW < 360 ? 20 : 10;
    for (let ago = n; ago >= 0; ago -= every) {
      const x = PAD.left + plotW - ago * step;
      ctx.fillText(ago === 0 ? 'now' : `−${ago} s`, Math.min(Math.max(x, PAD.left + 12), w - PAD.right - 10), h - 18);
    }
    for (const s of series) {
      ctx.fillStyle = ctx.strokeStyle = chart.color(s.color);
      if (s.kind === 'bar') {
        const bw = Math.max(1, step - (step > 4 ? 1.5 : 0.5));
        s.values.forEach((v, i) => {
          if (v > 0) ctx.fillRect(PAD.left + i * step, y(v), bw, PAD.top + plotH - y(v));
        });
      } else {
        ctx.lineWidth = 1.75;
        ctx.lineJoin = 'round';
        ctx.beginPath();
        s.values.forEach((v, i) => {
          const x = PAD.left + (i + 0.5) * step;
          if (i === 0) ctx.moveTo(x, y(v));
          else ctx.lineTo(x, y(v));
        });
        ctx.stroke();
      }
    }
    if (peak === 0) note(chart, ctx, w, h, 'nothing in the last minute');
  }, summary);
}

/** The tap-time histogram: per bucket, one bar per machine kind, each the share of that kind's taps (%). */
export function drawTapTimes(
  chart: CanvasChart,
  bucketsMs: readonly number[],
  machines: readonly {
    machine: string;
    count: number;
    counts: readonly number[];
    p50Ms: number;
    p95Ms: number;
    maxMs: number;
  }[],
): void {
  const colors = machines.map((_, i) => `--chart-series-${(i % 6) + 1}`);
  const labels = [...bucketsMs.map((b) => `≤${b}`), `>${bucketsMs[bucketsMs.length - 1] ?? 0}`];
  const shares = machines.map((m) => labels.map((_, i) => (m.count > 0 ? (100 * (m.counts[i] ?? 0)) / m.count : 0)));
  const peak = Math.max(0, ...shares.flat());
  const total = machines.reduce((a, m) => a + m.count, 0);
  chart.figure.dataset.total = String(total);
  chart.figure.dataset.machines = machines.map((m) => m.machine).join(' ');
  chart.setLegend(
    machines.map((m, i) => ({
      label: m.machine,
      color: colors[i]!,
      key: m.machine,
      detail: `${count(m.count)} tap${m.count === 1 ? '' : 's'} · p50 ${ms(m.p50Ms)} · p95 ${ms(m.p95Ms)} · max ${ms(m.maxMs)}`,
    })),
  );
  const summary =
    total === 0
      ? 'tap-time histogram: no taps yet'
      : `tap-time histogram: ${machines.map((m) => `${m.machine} ${m.count} taps, p50 ${ms(m.p50Ms)}, p95 ${ms(m.p95Ms)}`).join('; ')}`;
  chart.render((ctx, w, h) => {
    const max = Math.min(100, niceMax(peak, false));
    yAxis(chart, ctx, w, h, max, '% of the kind’s taps');
    const plotW = w - PAD.left - PAD.right;
    const plotH = h - PAD.top - PAD.bottom;
    const group = plotW / labels.length;
    const inner = group * 0.8;
    const bw = machines.length > 0 ? inner / machines.length : inner;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    // Labels that do not fit side by side: every other one (and so on).
    const every = Math.ceil(34 / group);
    labels.forEach((label, b) => {
      const x0 = PAD.left + b * group + (group - inner) / 2;
      machines.forEach((_, i) => {
        const v = shares[i]![b]!;
        if (v <= 0) return;
        ctx.fillStyle = chart.color(colors[i]!);
        const top = PAD.top + plotH - (plotH * v) / max;
        ctx.fillRect(x0 + i * bw, top, Math.max(1, bw - 1), PAD.top + plotH - top);
      });
      if (b % every === 0 || b === labels.length - 1) {
        ctx.fillStyle = chart.color('--chart-text');
        ctx.fillText(label, PAD.left + (b + 0.5) * group, h - 18);
      }
    });
    ctx.textAlign = 'right';
    ctx.textBaseline = 'alphabetic';
    ctx.fillText('tap time, ms', w - PAD.right, PAD.top - 6);
    if (total === 0) note(chart, ctx, w, h, 'no taps with a tap time yet');
  }, summary);
}

function ms(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(1)} ms` : NONE;
}

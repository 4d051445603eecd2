/**
 * The Live page (`#/live`): `console.snapshot` on entering and every 5 s — the rates of the last minute, taps and
 * loads per second, clearing throughput, the tap-time histogram by machine kind, the newest taps and loads — and,
 * between snapshots, `event.tap` and `event.load` as they come (new rows on top, at most 100).
 * @module
 */
import { CanvasChart, drawSeconds, drawTapTimes } from './charts';
import { $, dropEmptyRow, h, setRows, trimRows } from './dom';
import { count, duration, hms, NONE, tapMs, yuan } from './format';
import type { Context, Page } from './page';
import type { LoadEvent, LoadItem, Snapshot, Tap } from './types';

/** Rows each table keeps. */
const MAX_ROWS = 100;

export class LivePage implements Page {
  readonly route = '#/live';
  readonly periodMs = 5000;
  readonly section: HTMLElement;
  readonly #ctx: Context;
  readonly #taps: HTMLTableSectionElement;
  readonly #loads: HTMLTableSectionElement;
  readonly #chartTaps: CanvasChart;
  readonly #chartClearing: CanvasChart;
  readonly #chartTapTime: CanvasChart;
  /** The loads shown, by id: an `event.load` changes the status of its row and keeps the rest. */
  readonly #loadItems = new Map<string, LoadItem>();

  constructor(ctx: Context) {
    this.#ctx = ctx;
    this.section = $('[data-testid=page-live]');
    this.#taps = $<HTMLTableSectionElement>('#taps-body', this.section);
    this.#loads = $<HTMLTableSectionElement>('#loads-body', this.section);
    this.#chartTaps = new CanvasChart($('[data-testid=chart-taps]', this.section));
    this.#chartClearing = new CanvasChart($('[data-testid=chart-clearing]', this.section));
    this.#chartTapTime = new CanvasChart($('[data-testid=chart-taptime]', this.section));
    this.clear();
  }

  async refresh(): Promise<void> {
    this.#render(await this.#ctx.call<Snapshot>('console.snapshot'));
  }

  event(method: string, params: unknown): void {
    // The rates and charts come with the snapshot: fetch it soon rather than wait for the next poll.
    if (method === 'event.tap' || method === 'event.load' || method === 'event.batch') this.#ctx.soon(this);
    if (method === 'event.tap') {
      dropEmptyRow(this.#taps);
      this.#taps.prepend(tapRow(params as Tap));
      trimRows(this.#taps, MAX_ROWS);
    } else if (method === 'event.load') {
      const e = params as LoadEvent;
      const known = this.#loadItems.get(e.loadId);
      const item: LoadItem = {
        at: e.at ?? known?.at ?? Date.now(),
        loadId: e.loadId,
        cardSerial: e.cardSerial,
        amount: e.amount,
        status: e.status,
        air: e.air ?? known?.air ?? null,
        clientId: known?.clientId ?? null,
      };
      this.#loadItems.set(item.loadId, item);
      const row = loadRow(item);
      const old = this.#loads.querySelector(`tr[data-load="${CSS.escape(item.loadId)}"]`);
      if (old !== null) old.replaceWith(row);
      else {
        dropEmptyRow(this.#loads);
        this.#loads.prepend(row);
        trimRows(this.#loads, MAX_ROWS);
      }
    }
  }

  clear(): void {
    for (const id of ['rate-taps', 'rate-loads', 'rate-cleared', 'rate-fen', 'live-connections', 'live-uptime'])
      $(`[data-testid=${id}]`, this.section).textContent = NONE;
    $('[data-testid=live-traffic]', this.section).textContent = '';
    this.#loadItems.clear();
    setRows(this.#taps, [], 'no taps yet');
    setRows(this.#loads, [], 'no loads yet');
  }

  #render(s: Snapshot): void {
    const text = (id: string, value: string): void => {
      $(`[data-testid=${id}]`, this.section).textContent = value;
    };
    // "42 /min": the unit smaller, the text as one string.
    const rate = (id: string, value: string): void => {
      $(`[data-testid=${id}]`, this.section).replaceChildren(value, h('span', { class: 'unit' }, ' /min'));
    };
    rate('rate-taps', count(s.rates.taps));
    rate('rate-loads', count(s.rates.loads));
    rate('rate-cleared', count(s.rates.cleared));
    rate('rate-fen', yuan(s.rates.fen));
    const c = s.connections;
    text('live-connections', `${c.app} app · ${c.console} console · ${c.ota} ota`);
    text('live-uptime', `${duration(s.now - s.startedAt)}`);
    const t = s.traffic;
    text(
      'live-traffic',
      `messages in/out — app ${count(t.app.received)}/${count(t.app.sent)}, console ${count(t.console.received)}/` +
        `${count(t.console.sent)}, ota ${count(t.ota.received)}/${count(t.ota.sent)} · since ${hms(s.startedAt)}`,
    );

    drawSeconds(
      this.#chartTaps,
      [
        { label: 'taps', color: '--chart-taps', values: s.series.taps, kind: 'bar' },
        { label: 'loads', color: '--chart-loads', values: s.series.loads, kind: 'line' },
      ],
      'per second',
      `taps per second over the last minute: ${s.rates.taps} taps, ${s.rates.loads} loads`,
    );
    drawSeconds(
      this.#chartClearing,
      [{ label: 'records cleared', color: '--chart-cleared', values: s.series.cleared, kind: 'bar' }],
      'records / s',
      `clearing throughput over the last minute: ${s.rates.cleared} records cleared`,
    );
    drawTapTimes(this.#chartTapTime, s.tapTimes.bucketsMs, s.tapTimes.machines);

    setRows(this.#taps, s.taps.slice(0, MAX_ROWS).map(tapRow), 'no taps yet');
    this.#loadItems.clear();
    for (const l of s.loads) this.#loadItems.set(l.loadId, l);
    setRows(this.#loads, s.loads.slice(0, MAX_ROWS).map(loadRow), 'no loads yet');
  }
}

/** One tap: time, client, machine and terminal, card, amount, balance after, tap time, status. */
function tapRow(t: Tap): HTMLTableRowElement {
  const status =
    t.status === 'rejected'
      ? h('span', { class: 'badge bad' }, 'rejected', t.code !== null ? ` ${t.code}` : '')
      : h('span', { class: 'badge ok' }, 'cleared');
  return h(
    'tr',
    { 'data-testid': 'tap-row', 'data-card': t.cardSerial, 'data-status': t.status },
    h('td', { class: 'time head' }, hms(t.at)),
    h('td', { class: 'opt', 'data-label': 'client' }, t.clientId),
    h('td', { class: 'opt' }, t.machine ?? NONE, h('span', { class: 'muted block' }, t.terminalId)),
    h('td', { class: 'mono head grow' }, t.cardSerial),
    h('td', { class: 'num lead' }, yuan(t.amount)),
    h('td', { class: 'num opt', 'data-label': 'balance' }, t.balance === null ? NONE : yuan(t.balance)),
    h('td', { class: 'num opt', 'data-label': 'tap ms' }, tapMs(t.tapUs)),
    h('td', { class: 'head' }, status),
  );
}

/** One load: time, card, amount, status, over the air or at a machine (and whose). */
function loadRow(l: LoadItem): HTMLTableRowElement {
  const via = l.air === true ? 'air' : l.air === false ? 'machine' : NONE;
  return h(
    'tr',
    { 'data-testid': 'load-row', 'data-card': l.cardSerial, 'data-load': l.loadId, 'data-status': l.status },
    h('td', { class: 'time head' }, hms(l.at)),
    h('td', { class: 'mono head grow' }, l.cardSerial),
    h('td', { class: 'num lead' }, yuan(l.amount)),
    h('td', { class: 'head' }, h('span', { class: `badge load-${l.status}` }, l.status)),
    h('td', { class: 'opt' }, via, l.clientId !== null ? h('span', { class: 'muted block' }, l.clientId) : null),
  );
}

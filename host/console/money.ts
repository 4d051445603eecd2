/**
 * The Money page (`#/money`): the ledger by sub-platform (`ledger.summary`) with its zero sums, the journal check
 * (`ledger.verify`), the loads in flight (`ledger.loadReport`) and the newest clearing batches (`console.snapshot`),
 * fetched on entering, on Refresh and every 10 s; `event.batch` adds a batch as it clears.
 * @module
 */
import { $, dropEmptyRow, h, setRows, trimRows } from './dom';
import { count, hms, NONE, points, shortHex, yuan } from './format';
import type { Context, Page } from './page';
import { describeError } from './session';
import type { Batch, BatchEvent, LedgerSummary, LedgerVerify, LoadReport, LoadView, Snapshot } from './types';

/** Batches the table keeps. */
const MAX_BATCHES = 50;

export class MoneyPage implements Page {
  readonly route = '#/money';
  readonly periodMs = 10_000;
  readonly section: HTMLElement;
  readonly #ctx: Context;
  readonly #ledger: HTMLTableSectionElement;
  readonly #batches: HTMLTableSectionElement;
  readonly #pending: HTMLTableSectionElement;
  readonly #suspended: HTMLTableSectionElement;

  constructor(ctx: Context) {
    this.#ctx = ctx;
    this.section = $('[data-testid=page-money]');
    this.#ledger = $<HTMLTableSectionElement>('#ledger-body', this.section);
    this.#batches = $<HTMLTableSectionElement>('#batches-body', this.section);
    this.#pending = $<HTMLTableSectionElement>('#pending-body', this.section);
    this.#suspended = $<HTMLTableSectionElement>('#suspended-body', this.section);
    $('[data-testid=money-refresh]', this.section).addEventListener('click', () => {
      void this.refresh().catch((err) => this.#ctx.toast(`refresh failed — ${describeError(err)}`, 'error'));
    });
    this.clear();
  }

  async refresh(): Promise<void> {
    const [summary, verify, loads, snapshot] = await Promise.all([
      this.#ctx.call<LedgerSummary>('ledger.summary'),
      this.#ctx.call<LedgerVerify>('ledger.verify'),
      this.#ctx.call<LoadReport>('ledger.loadReport'),
      this.#ctx.call<Snapshot>('console.snapshot'),
    ]);
    this.#renderLedger(summary);
    this.#renderVerify(verify);
    this.#renderLoads(loads);
    setRows(this.#batches, snapshot.batches.slice(0, MAX_BATCHES).map(batchRow), 'no batches cleared yet');
    $('[data-testid=money-updated]', this.section).textContent = `updated ${hms(Date.now())}`;
  }

  event(method: string, params: unknown): void {
    // A batch moved money: the ledger's numbers too.
    if (method === 'event.batch' || method === 'event.load') this.#ctx.soon(this);
    const batch = method === 'event.batch' ? (params as BatchEvent).batch : undefined;
    if (batch === undefined) return;
    dropEmptyRow(this.#batches);
    this.#batches.prepend(batchRow(batch));
    trimRows(this.#batches, MAX_BATCHES);
  }

  clear(): void {
    for (const id of ['zero-sum', 'points-sum', 'verify-ok', 'verify-entries', 'verify-accounts', 'journal-head']) {
      const el = $(`[data-testid=${id}]`, this.section);
      el.textContent = NONE;
      el.classList.remove('good', 'bad');
      el.removeAttribute('title');
    }
    for (const id of ['pending-count', 'suspended-count']) $(`[data-testid=${id}]`, this.section).textContent = NONE;
    $('[data-testid=money-updated]', this.section).textContent = '';
    setRows(this.#ledger, [], 'no data yet');
    setRows(this.#batches, [], 'no batches cleared yet');
    setRows(this.#pending, [], 'none');
    setRows(this.#suspended, [], 'none');
  }

  #renderLedger(s: LedgerSummary): void {
    const amount = (unit: 'fen' | 'points', v: number): string => (unit === 'fen' ? yuan(v) : points(v));
    setRows(
      this.#ledger,
      s.kinds.map((k) =>
        h(
          'tr',
          { 'data-testid': 'ledger-row', 'data-kind': k.kind },
          h('td', null, k.label, h('span', { class: 'muted block mono' }, k.kind)),
          h('td', { class: 'opt' }, k.subPlatform),
          h('td', { class: 'num' }, count(k.accounts)),
          h('td', { class: `num${k.balance < 0 ? ' negative' : ''}` }, amount(k.unit, k.balance)),
          h('td', { class: 'num opt' }, k.reserved === 0 ? NONE : amount(k.unit, k.reserved)),
        ),
      ),
      'no accounts',
    );
    sum($('[data-testid=zero-sum]', this.section), s.fenSum, yuan);
    sum($('[data-testid=points-sum]', this.section), s.pointsSum, points);
  }

  #renderVerify(v: LedgerVerify): void {
    const ok = $('[data-testid=verify-ok]', this.section);
    ok.textContent = v.ok ? 'ok' : 'FAILED';
    ok.classList.toggle('good', v.ok);
    ok.classList.toggle('bad', !v.ok);
    $('[data-testid=verify-entries]', this.section).textContent = count(v.entries);
    $('[data-testid=verify-accounts]', this.section).textContent = count(v.accounts);
    const head = $('[data-testid=journal-head]', this.section);
    head.textContent = shortHex(v.journalHead);
    head.title = v.journalHead;
  }

  #renderLoads(r: LoadReport): void {
    $('[data-testid=pending-count]', this.section).textContent = count(r.pending.length);
    $('[data-testid=suspended-count]', this.section).textContent = count(r.suspended.length);
    setRows(this.#pending, r.pending.map(loadViewRow), 'none');
    setRows(this.#suspended, r.suspended.map(loadViewRow), 'none');
  }
}

/** A sum that must be 0: green "0 — balanced", else red with the amount. */
function sum(el: HTMLElement, value: number, format: (v: number) => string): void {
  el.textContent = value === 0 ? '0 — balanced' : `${format(value)} — NOT balanced`;
  el.classList.toggle('good', value === 0);
  el.classList.toggle('bad', value !== 0);
}

/** A load in flight: since when, card, amount, how (its id in the row's title). */
function loadViewRow(l: LoadView): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-testid': 'inflight-row', 'data-card': l.cardSerial, 'data-load': l.loadId, title: `load ${l.loadId}` },
    h('td', { class: 'time head' }, hms(l.createdAt)),
    h('td', { class: 'mono head grow' }, l.cardSerial),
    h('td', { class: 'num head' }, yuan(l.amount)),
    h('td', null, l.air ? 'air' : 'machine'),
  );
}

/** One clearing batch: time, client, accepted, settled, points, the rejected records and the counter gaps. */
function batchRow(b: Batch): HTMLTableRowElement {
  const list = (items: readonly HTMLElement[]): HTMLElement | string =>
    items.length === 0 ? NONE : h('ul', { class: 'plain' }, ...items);
  return h(
    'tr',
    { 'data-testid': 'batch-row', 'data-client': b.clientId },
    h('td', { class: 'time head' }, hms(b.at)),
    h('td', { class: 'head grow' }, b.clientId),
    h('td', { class: 'num', 'data-label': 'accepted' }, count(b.accepted)),
    h('td', { class: 'num head' }, yuan(b.settled)),
    h('td', { class: 'num', 'data-label': 'points' }, count(b.points)),
    h(
      'td',
      { class: b.rejected.length > 0 ? 'warn full' : 'full', 'data-label': 'rejected' },
      list(
        b.rejected.map((r) =>
          h('li', null, `#${r.index} `, h('span', { class: 'mono' }, r.cardSerial), ' ', h('b', null, r.code)),
        ),
      ),
    ),
    h(
      'td',
      { class: b.gaps.length > 0 ? 'warn full' : 'full', 'data-label': 'gaps' },
      list(b.gaps.map((g) => h('li', null, h('span', { class: 'mono' }, g.cardSerial), `: ${g.missing.join(', ')}`))),
    ),
  );
}

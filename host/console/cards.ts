/**
 * The Cards page (`#/cards`): the card registry (`cards.list`) searched by MSISDN (11 digits) or serial prefix (hex,
 * up to 20 digits) and filtered by status, with each card's float and the last balance a machine read from it; and
 * the operator's actions — block, unblock, report lost — each confirmed in a dialog first. `event.card` keeps the
 * status of the rows live.
 * @module
 */
import { $, h, setRows } from './dom';
import { hms, NONE, yuan } from './format';
import type { Context, Page } from './page';
import { describeError as describe } from './session';
import type { CardChange, CardEvent, CardList, CardRow, CardStatus } from './types';

/** Cards an empty search lists. */
const DEFAULT_LIMIT = 200;
const STATUSES: readonly CardStatus[] = ['issued', 'personalized', 'active', 'blocked', 'lost'];

type Action = 'block' | 'unblock' | 'report-lost';

/** What each action calls, asks and does. */
const ACTIONS: Record<Action, { method: string; label: string; ask: (serial: string) => string; yes: string }> = {
  block: {
    method: 'cards.block',
    label: 'Block',
    ask: (s) =>
      `Block card ${s}? It is refused at every machine once they fetch the blacklist. This can be undone (Unblock).`,
    yes: 'Block card',
  },
  unblock: {
    method: 'cards.unblock',
    label: 'Unblock',
    ask: (s) => `Unblock card ${s}? It leaves the blacklist and is accepted again once machines fetch it.`,
    yes: 'Unblock card',
  },
  'report-lost': {
    method: 'cards.reportLost',
    label: 'Report lost',
    ask: (s) =>
      `Report card ${s} lost? It is refused at every machine once they fetch the blacklist; this cannot be undone.`,
    yes: 'Report lost',
  },
};

/** The `cards.list` params a search text (and status filter) asks for, or the reason it is not a search. */
export function searchParams(text: string, status: string): { params: Record<string, unknown> } | { invalid: string } {
  const q = text.trim();
  const params: Record<string, unknown> = {};
  if (q === '') params.limit = DEFAULT_LIMIT;
  else if (/^\d{11}$/.test(q)) params.msisdn = q;
  else if (/^[0-9A-Fa-f]{1,20}$/.test(q)) params.cardSerial = q.toUpperCase();
  else return { invalid: 'search by MSISDN (11 digits) or card serial (up to 20 hex digits), or leave it empty' };
  if ((STATUSES as readonly string[]).includes(status)) params.status = status;
  return { params };
}

export class CardsPage implements Page {
  readonly route = '#/cards';
  readonly periodMs = 0;
  readonly section: HTMLElement;
  readonly #ctx: Context;
  readonly #body: HTMLTableSectionElement;
  readonly #search: HTMLInputElement;
  readonly #filter: HTMLSelectElement;
  readonly #note: HTMLElement;
  readonly #dialog: HTMLDialogElement;
  /** The cards shown, by serial. */
  readonly #cards = new Map<string, CardRow>();
  /** The action the open dialog confirms. */
  #asking: { action: Action; serial: string } | undefined;

  constructor(ctx: Context) {
    this.#ctx = ctx;
    this.section = $('[data-testid=page-cards]');
    this.#body = $<HTMLTableSectionElement>('#cards-body', this.section);
    this.#search = $<HTMLInputElement>('[data-testid=card-search]', this.section);
    this.#filter = $<HTMLSelectElement>('[data-testid=card-status-filter]', this.section);
    this.#note = $('#cards-note', this.section);
    this.#dialog = $<HTMLDialogElement>('[data-testid=confirm]');
    $<HTMLFormElement>('#card-search-form', this.section).addEventListener('submit', (e) => {
      e.preventDefault();
      void this.refresh().catch((err) => this.#ctx.toast(describe(err), 'error'));
    });
    this.#filter.addEventListener('change', () => {
      void this.refresh().catch((err) => this.#ctx.toast(describe(err), 'error'));
    });
    this.#body.addEventListener('click', (e) => {
      const button = (e.target as Element).closest<HTMLButtonElement>('button[data-action]');
      const serial = button?.closest('tr')?.dataset.card;
      if (button && serial) this.#ask(button.dataset.action as Action, serial);
    });
    this.#dialog.addEventListener('close', () => this.#answered());
    this.clear();
  }

  /** Runs the search the box and the filter say (no call when the text is not a search). */
  async refresh(): Promise<void> {
    const asked = searchParams(this.#search.value, this.#filter.value);
    if ('invalid' in asked) {
      this.#note.textContent = asked.invalid;
      this.#note.classList.add('error');
      this.#search.setAttribute('aria-invalid', 'true');
      return;
    }
    this.#search.removeAttribute('aria-invalid');
    this.#note.classList.remove('error');
    this.#note.textContent = 'searching…';
    const list = await this.#ctx.call<CardList>('cards.list', asked.params);
    this.#cards.clear();
    for (const c of list.cards) this.#cards.set(c.cardSerial, c);
    setRows(this.#body, list.cards.map(cardRow), 'no card matches');
    const n = list.cards.length;
    this.#note.textContent = list.truncated
      ? `the first ${n} cards: more match — narrow the search`
      : `${n} card${n === 1 ? '' : 's'}`;
  }

  event(method: string, params: unknown): void {
    if (method !== 'event.card') return;
    const e = params as CardEvent;
    this.#update(e.cardSerial, e.status);
  }

  clear(): void {
    this.#cards.clear();
    this.#search.value = '';
    this.#note.textContent = '';
    setRows(this.#body, [], 'search for cards');
    if (this.#dialog.open) this.#dialog.close();
  }

  #ask(action: Action, serial: string): void {
    const a = ACTIONS[action];
    if (a === undefined) return;
    this.#asking = { action, serial };
    $('#confirm-title', this.#dialog).textContent = `${a.label}: ${serial}`;
    $('#confirm-text', this.#dialog).textContent = a.ask(serial);
    const yes = $<HTMLButtonElement>('[data-testid=confirm-yes]', this.#dialog);
    yes.textContent = a.yes;
    yes.classList.toggle('danger', action !== 'unblock');
    this.#dialog.returnValue = '';
    this.#dialog.showModal();
    $<HTMLButtonElement>('[data-testid=confirm-no]', this.#dialog).focus();
  }

  /** The dialog closed: on yes, call the action and show its outcome. */
  async #answered(): Promise<void> {
    const asking = this.#asking;
    this.#asking = undefined;
    if (asking === undefined || this.#dialog.returnValue !== 'yes') return;
    const { method } = ACTIONS[asking.action];
    const params =
      asking.action === 'block'
        ? { cardSerial: asking.serial, reason: 'operator console' }
        : { cardSerial: asking.serial };
    try {
      const r = await this.#ctx.call<CardChange>(method, params);
      this.#update(asking.serial, r.status);
      this.#ctx.toast(`card ${asking.serial}: ${r.status} (blacklist version ${r.blacklistVersion})`, 'ok');
    } catch (err) {
      this.#ctx.toast(`${method} ${asking.serial} failed — ${describe(err)}`, 'error');
    }
  }

  /** Gives the card's row its new status (and the actions that status allows). */
  #update(serial: string, status: CardStatus): void {
    const card = this.#cards.get(serial);
    if (card === undefined) return;
    const next = { ...card, status };
    this.#cards.set(serial, next);
    this.#body.querySelector(`tr[data-card="${CSS.escape(serial)}"]`)?.replaceWith(cardRow(next));
  }
}

/** One card: serial, MSISDN, ICCID, status, float, last balance seen, actions. */
function cardRow(c: CardRow): HTMLTableRowElement {
  const seen = c.lastSeen ? `${yuan(c.lastSeen.balance)} at ${hms(c.lastSeen.at)} (${c.lastSeen.source})` : NONE;
  const button = (action: Action): HTMLButtonElement =>
    h(
      'button',
      { type: 'button', class: `small ${action === 'unblock' ? '' : 'danger-outline'}`, 'data-action': action },
      ACTIONS[action].label,
    );
  return h(
    'tr',
    { 'data-testid': 'card-row', 'data-card': c.cardSerial, 'data-status': c.status },
    h('td', { class: 'mono head grow' }, c.cardSerial),
    h('td', { class: 'num', 'data-label': 'MSISDN' }, c.msisdn),
    h('td', { class: 'mono opt narrow-hide' }, c.iccid),
    h('td', { class: 'head' }, h('span', { class: `badge card-${c.status}`, 'data-testid': 'card-status' }, c.status)),
    h('td', { class: 'num', 'data-label': 'float' }, yuan(c.float)),
    h('td', { class: 'num full', 'data-label': 'last seen' }, seen),
    h(
      'td',
      { class: 'full' },
      h(
        'div',
        { class: 'actions' },
        c.status === 'active' && button('block'),
        c.status === 'blocked' && button('unblock'),
        c.status !== 'lost' && button('report-lost'),
      ),
    ),
  );
}

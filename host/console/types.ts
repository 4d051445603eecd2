/**
 * The shapes the console reads from `/v1/console` (simtap.v1): the results of the methods it calls and the params of
 * the notifications it listens to. Amounts are integer fen, points integer points, times epoch ms, serials 20 hex.
 * Written out here rather than imported from `@simtap/sdk/wire`, whose zod schemas and Node crypto do not belong in
 * the browser bundle; the server checks its answers against those schemas, and `host/src/server/console-types.test.ts`
 * makes the type check fail when what the schemas type is no longer assignable to these.
 * @module
 */

/** A card's life-cycle status. */
export type CardStatus = 'issued' | 'personalized' | 'active' | 'blocked' | 'lost';
/** A load's status. */
export type LoadStatus = 'pending' | 'posted' | 'voided';

/** One purchase record as the platform cleared (or refused) it: `event.tap` and `console.snapshot`'s `taps`. */
export interface Tap {
  readonly at: number;
  readonly clientId: string;
  readonly terminalId: string;
  /** The machine's kind, as the machine said. */
  readonly machine: string | null;
  readonly cardSerial: string;
  readonly amount: number;
  readonly offlineCounter: number;
  /** The tap's time at the machine, µs. */
  readonly tapUs: number | null;
  /** The purse balance after the debit, as the machine read it. */
  readonly balance: number | null;
  readonly date: string;
  readonly time: string;
  readonly status: 'cleared' | 'rejected';
  readonly code: string | null;
}

/** A load in the console's feed. */
export interface LoadItem {
  readonly at: number;
  readonly loadId: string;
  readonly cardSerial: string;
  readonly amount: number;
  readonly status: LoadStatus;
  /** True: over the air; false: at a machine; null: not known. */
  readonly air: boolean | null;
  readonly clientId: string | null;
}

/** A clearing batch as the console shows it. */
export interface Batch {
  readonly at: number;
  readonly clientId: string;
  readonly accepted: number;
  readonly settled: number;
  readonly points: number;
  readonly rejected: readonly { readonly index: number; readonly cardSerial: string; readonly code: string }[];
  readonly gaps: readonly { readonly cardSerial: string; readonly missing: readonly number[] }[];
}

interface Traffic {
  readonly received: number;
  readonly sent: number;
}

/** `console.snapshot`. */
export interface Snapshot {
  readonly now: number;
  readonly startedAt: number;
  readonly connections: { readonly app: number; readonly console: number; readonly ota: number };
  readonly traffic: { readonly app: Traffic; readonly console: Traffic; readonly ota: Traffic };
  /** Counts (and fen) over the last 60 s. */
  readonly rates: { readonly taps: number; readonly loads: number; readonly cleared: number; readonly fen: number };
  /** Per-second counts, oldest first; `start` is the epoch ms of the first bucket. */
  readonly series: {
    readonly start: number;
    readonly taps: readonly number[];
    readonly loads: readonly number[];
    readonly cleared: readonly number[];
  };
  readonly taps: readonly Tap[];
  readonly loads: readonly LoadItem[];
  readonly batches: readonly Batch[];
  readonly tapTimes: {
    /** Upper bucket edges, ascending; `counts` has one more entry: the taps above the last edge. */
    readonly bucketsMs: readonly number[];
    readonly machines: readonly TapTimes[];
  };
}

/** The tap-time histogram of one machine kind. */
export interface TapTimes {
  readonly machine: string;
  readonly count: number;
  readonly counts: readonly number[];
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

/** `ledger.summary`. */
export interface LedgerSummary {
  readonly kinds: readonly {
    readonly kind: string;
    readonly subPlatform: string;
    readonly label: string;
    readonly unit: 'fen' | 'points';
    readonly accounts: number;
    readonly balance: number;
    readonly reserved: number;
  }[];
  readonly fenSum: number;
  readonly pointsSum: number;
}

/** `ledger.verify`. */
export interface LedgerVerify {
  readonly ok: boolean;
  readonly accounts: number;
  readonly sum: number;
  readonly journalHead: string;
  readonly entries: number;
}

/** A load of `ledger.loadReport`. */
export interface LoadView {
  readonly loadId: string;
  readonly status: LoadStatus;
  readonly amount: number;
  readonly cardSerial: string;
  readonly onlineCounter: number | null;
  readonly air: boolean;
  readonly suspended: boolean;
  readonly createdAt: number;
}

/** `ledger.loadReport`. */
export interface LoadReport {
  readonly pending: readonly LoadView[];
  readonly suspended: readonly LoadView[];
}

/** A card of `cards.list`. */
export interface CardRow {
  readonly cardSerial: string;
  readonly msisdn: string;
  readonly iccid: string;
  readonly status: CardStatus;
  readonly float: number;
  /** The last purse balance a machine reported for the card (since the instance started). */
  readonly lastSeen?: { readonly balance: number; readonly at: number; readonly source: 'tap' | 'load' } | null;
}

/** `cards.list`. */
export interface CardList {
  readonly cards: readonly CardRow[];
  readonly truncated?: boolean;
}

/** `cards.block`, `cards.unblock`, `cards.reportLost`. */
export interface CardChange {
  readonly status: CardStatus;
  readonly blacklistVersion: number;
}

/** `event.load`. */
export interface LoadEvent {
  readonly loadId: string;
  readonly cardSerial: string;
  readonly status: LoadStatus;
  readonly amount: number;
  readonly at?: number;
  readonly air?: boolean;
}

/** `event.card`. */
export interface CardEvent {
  readonly cardSerial: string;
  readonly status: CardStatus;
  readonly blacklistVersion: number;
}

/** `event.batch`. */
export interface BatchEvent {
  readonly clientId: string;
  readonly accepted: number;
  readonly settled: number;
  readonly rejected: number;
  readonly at?: number;
  readonly batch?: Batch;
}

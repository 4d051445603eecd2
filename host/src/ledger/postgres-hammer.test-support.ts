/**
 * Concurrent writers on the same hot accounts, for the PostgreSQL store: several stores (pools, or processes) run
 * the same numbered operations — transfers, holds then posts, holds then voids, linked transfers — and a third of
 * them twice at once from two writers under the same idempotency key. Afterwards: every copy of an operation got the
 * same outcome (the key applied once), the balances are those of the acknowledged outcomes, the transfers are as
 * many as the successful operations made, and `verify()` passes.
 */
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { LEDGER_ERRORS } from './errors';
import type { AccountKind, TransferLeg } from './model';
import type { LedgerStore } from './store';

export const HAMMER_CLIENT = 'hammer';
export const HAMMER_PHONES = ['phone:0', 'phone:1', 'phone:2'] as const;
export const HAMMER_ACCOUNTS: Record<string, AccountKind> = {
  cash: 'CASH',
  merchant: 'MERCHANT_PAYABLE',
  suspense: 'SUSPENSE',
  ...Object.fromEntries(HAMMER_PHONES.map((p) => [p, 'PHONE' as const])),
};

/** Operation `i`: what it does, the same in every writer. */
export type HammerOp =
  | { kind: 'transfer'; leg: TransferLeg }
  | { kind: 'holdPost' | 'holdVoid'; leg: TransferLeg }
  | { kind: 'linked'; legs: TransferLeg[] };

export function hammerOp(i: number): HammerOp {
  const phone = HAMMER_PHONES[i % 3]!;
  const next = HAMMER_PHONES[(i + 1) % 3]!;
  switch (i % 6) {
    case 0:
    case 1:
      return { kind: 'transfer', leg: { from: 'cash', to: phone, amount: 100 + (i % 7) } };
    case 2:
      return { kind: 'transfer', leg: { from: phone, to: 'merchant', amount: 150 + (i % 11) } };
    case 3:
      return { kind: 'holdPost', leg: { from: phone, to: 'merchant', amount: 30 } };
    case 4:
      return { kind: 'holdVoid', leg: { from: phone, to: 'merchant', amount: 20 } };
    default:
      return {
        kind: 'linked',
        legs: [
          { from: 'cash', to: next, amount: 50 },
          { from: next, to: 'merchant', amount: 40 },
        ],
      };
  }
}

/** Which writers run operation `i`: writer `i mod n`, and for every third operation writer `i+1 mod n` too. */
export function hammerWriters(i: number, writers: number): number[] {
  const first = i % writers;
  return i % 3 === 0 && writers > 1 ? [first, (first + 1) % writers] : [first];
}

/** One acknowledged outcome, canonical: the transfers made (ids and journal seqs), or the error code. */
export interface HammerOutcome {
  i: number;
  ok: boolean;
  code?: string;
  ids?: string[];
  seqs?: number[];
}

/** Opens the hammer's accounts (every writer may do it; it is idempotent). */
export async function openHammerAccounts(store: LedgerStore): Promise<void> {
  for (const [id, kind] of Object.entries(HAMMER_ACCOUNTS)) await store.openAccount(id, kind);
}

/** Runs operation `i` on `store`; a `LedgerError` is an outcome, anything else is thrown. */
export async function runHammerOp(store: LedgerStore, i: number): Promise<HammerOutcome> {
  const op = hammerOp(i);
  const key = { client: HAMMER_CLIENT, idempotencyKey: `op-${i}` };
  try {
    if (op.kind === 'linked') {
      const r = await store.transferLinked({ ...key, legs: op.legs });
      return { i, ok: true, ids: r.transfers.map((t) => t.id), seqs: [r.seq] };
    }
    if (op.kind === 'transfer') {
      const r = await store.transfer({ ...key, ...op.leg });
      return { i, ok: true, ids: [r.transfer.id], seqs: [r.seq] };
    }
    const h = await store.hold({ ...key, ...op.leg });
    const settle = op.kind === 'holdPost' ? store.post.bind(store) : store.void.bind(store);
    const s = await settle({ transferId: h.transfer.id, reason: op.kind === 'holdPost' ? 'card proof' : 'no proof' });
    return { i, ok: true, ids: [h.transfer.id], seqs: [h.seq, s.seq] };
  } catch (e) {
    if (!hasErrorCode(e, LEDGER_ERRORS)) throw e;
    return { i, ok: false, code: e.code };
  }
}

/** Writer `writer` of `writers`: its operations of `0 … ops-1`, `perTurn` issued in each event-loop turn. */
export async function runHammerWriter(
  store: LedgerStore,
  writer: number,
  writers: number,
  ops: number,
  perTurn: number,
  onOutcome: (o: HammerOutcome) => void,
): Promise<void> {
  const mine: number[] = [];
  for (let i = 0; i < ops; i++) if (hammerWriters(i, writers).includes(writer)) mine.push(i);
  for (let k = 0; k < mine.length; k += perTurn) {
    const outcomes = await Promise.all(mine.slice(k, k + perTurn).map((i) => runHammerOp(store, i)));
    for (const o of outcomes) onOutcome(o);
  }
}

/** The refusals the rules may answer in a hammer run (a payment from a phone account that ran dry). */
const REFUSALS = new Set(['INSUFFICIENT_FUNDS']);

/** What a hammer run found. */
export interface HammerReport {
  /** Outcomes acknowledged (copies included). */
  acknowledged: number;
  ms: number;
  /** Operations whose copies disagree, or that failed with something else than a refusal of the rules. */
  unexpected: string[];
  balances: Record<string, number>;
  expected: Record<string, number>;
  transfers: number;
  expectedTransfers: number;
  verify: { ok: boolean; problems: readonly string[] };
}

/** Checks the outcomes of a run (each operation's copies) against the store's state. */
export async function checkHammer(
  store: LedgerStore,
  outcomes: HammerOutcome[],
  ops: number,
  writers: number,
  ms: number,
): Promise<HammerReport> {
  const unexpected: string[] = [];
  const byOp = new Map<number, HammerOutcome[]>();
  for (const o of outcomes) byOp.set(o.i, [...(byOp.get(o.i) ?? []), o]);
  const expected: Record<string, number> = Object.fromEntries(Object.keys(HAMMER_ACCOUNTS).map((id) => [id, 0]));
  let expectedTransfers = 0;
  for (let i = 0; i < ops; i++) {
    const copies = byOp.get(i) ?? [];
    if (copies.length !== hammerWriters(i, writers).length) {
      unexpected.push(`op ${i}: ${copies.length} outcomes`);
      continue;
    }
    const first = JSON.stringify(copies[0]);
    for (const c of copies.slice(1))
      if (JSON.stringify(c) !== first) unexpected.push(`op ${i}: ${first} then ${JSON.stringify(c)}`);
    const o = copies[0]!;
    if (!o.ok) {
      if (!REFUSALS.has(o.code ?? '')) unexpected.push(`op ${i}: ${o.code}`);
      continue;
    }
    const op = hammerOp(i);
    const legs = op.kind === 'linked' ? op.legs : op.kind === 'holdVoid' ? [] : [op.leg];
    expectedTransfers += op.kind === 'linked' ? 2 : 1;
    for (const l of legs) {
      expected[l.from]! -= l.amount;
      expected[l.to]! += l.amount;
    }
  }
  const balances: Record<string, number> = {};
  for (const id of Object.keys(HAMMER_ACCOUNTS)) balances[id] = (await store.getAccount(id))?.balance ?? Number.NaN;
  const transfers = (await store.listTransfers({})).length;
  if (transfers !== expectedTransfers) unexpected.push(`${transfers} transfers stored, ${expectedTransfers} expected`);
  const v = await store.verify();
  return {
    acknowledged: outcomes.length,
    ms,
    unexpected,
    balances,
    expected,
    transfers,
    expectedTransfers,
    verify: { ok: v.ok, problems: v.problems },
  };
}

/** Runs the hammer with one writer per store, in this process, and checks it. */
export async function runHammer(
  stores: readonly LedgerStore[],
  options: { ops: number; perTurn: number },
): Promise<HammerReport> {
  await Promise.all(stores.map(openHammerAccounts));
  const outcomes: HammerOutcome[] = [];
  const errors: string[] = [];
  const t0 = performance.now();
  await Promise.all(
    stores.map((s, w) =>
      runHammerWriter(s, w, stores.length, options.ops, options.perTurn, (o) => outcomes.push(o)).catch((e) => {
        errors.push(`writer ${w}: ${String(e)} ${String((e as Error).cause ?? '')}`);
      }),
    ),
  );
  const ms = Math.round(performance.now() - t0);
  const report = await checkHammer(stores[0]!, outcomes, options.ops, stores.length, ms);
  return { ...report, unexpected: [...errors, ...report.unexpected] };
}

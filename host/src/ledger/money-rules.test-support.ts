/**
 * Property tests of the money rules over random sequences of transfers, holds, posts, voids, suspensions and
 * retries under reused idempotency keys, issued one turn at a time or several in one turn (one group commit),
 * against a reference model: the zero sum, the floors, exactly-once idempotency and the journal chain hold after
 * every group, and every balance and reservation is the model's.
 */
import { hasErrorCode } from '@simtap/sdk/core/errors';
import fc from 'fast-check';
import { expect } from 'vitest';
import { LEDGER_ERRORS } from './errors';
import { ACCOUNT_KINDS, type AccountKind, SUSPENSE_ACCOUNT, type TransferResult } from './model';
import type { LedgerStore } from './store';

const ACCOUNTS: Record<string, AccountKind> = {
  cash: 'CASH',
  p1: 'PHONE',
  p2: 'PHONE',
  merchant: 'MERCHANT_PAYABLE',
  [SUSPENSE_ACCOUNT]: 'SUSPENSE',
};
const ID = fc.constantFrom('cash', 'p1', 'p2', 'merchant');

type Cmd =
  | { t: 'transfer' | 'hold'; client: string; key: string; from: string; to: string; amount: number }
  | { t: 'post' | 'void' | 'suspend'; pick: number; reason: string };

const move = fc.record({
  t: fc.constantFrom('transfer' as const, 'hold' as const),
  client: fc.constantFrom('a', 'b'),
  key: fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9'),
  from: ID,
  to: ID,
  amount: fc.integer({ min: 1, max: 3000 }),
});
const settle = fc.record({
  t: fc.constantFrom('post' as const, 'void' as const, 'suspend' as const),
  pick: fc.nat(),
  reason: fc.constantFrom('proof', 'counter'),
});
/** Groups of commands; each group is issued in one event-loop turn. */
const program: fc.Arbitrary<Cmd[][]> = fc.array(
  fc.array(fc.oneof({ weight: 3, arbitrary: move }, { weight: 2, arbitrary: settle }), { minLength: 1, maxLength: 6 }),
  {
    minLength: 1,
    maxLength: 12,
  },
);

type Expect = { ok: true } | { ok: false; code: string };
interface Hold {
  id: string;
  from: string;
  to: string;
  amount: number;
  state: string;
  reason: string | null;
}
interface IdemRecord {
  body: string;
  outcome: Expect;
  hold?: Hold;
  result?: TransferResult;
}

/** The reference model: balances, reservations, holds, idempotency records. Commands apply in call order. */
class Model {
  balance = new Map(Object.keys(ACCOUNTS).map((id) => [id, 0]));
  reserved = new Map(Object.keys(ACCOUNTS).map((id) => [id, 0]));
  holds: Hold[] = [];
  idem = new Map<string, IdemRecord>();

  add(m: Map<string, number>, id: string, d: number) {
    m.set(id, m.get(id)! + d);
  }

  /** A transfer or hold: the expected outcome, its idempotency record, and whether it is the key's first use. */
  move(c: Extract<Cmd, { t: 'transfer' | 'hold' }>): { want: Expect; rec?: IdemRecord; first: boolean } {
    const k = `${c.client}|${c.key}`;
    const body = JSON.stringify([c.t, c.from, c.to, c.amount]);
    const seen = this.idem.get(k);
    if (seen)
      return seen.body === body
        ? { want: seen.outcome, rec: seen, first: false }
        : { want: { ok: false, code: 'IDEMPOTENCY_CONFLICT' }, first: false };
    const floor = ACCOUNTS_FLOOR[c.from];
    const available = this.balance.get(c.from)! - this.reserved.get(c.from)!;
    const rec: IdemRecord = {
      body,
      outcome:
        floor !== null && floor !== undefined && available - c.amount < floor
          ? { ok: false, code: 'INSUFFICIENT_FUNDS' }
          : { ok: true },
    };
    this.idem.set(k, rec);
    if (rec.outcome.ok && c.t === 'transfer') {
      this.add(this.balance, c.from, -c.amount);
      this.add(this.balance, c.to, c.amount);
    } else if (rec.outcome.ok) {
      this.add(this.reserved, c.from, c.amount);
      rec.hold = { id: '', from: c.from, to: c.to, amount: c.amount, state: 'pending', reason: null };
      this.holds.push(rec.hold);
    }
    return { want: rec.outcome, rec, first: true };
  }

  /** A post, void or suspend of `h`. */
  settle(c: Extract<Cmd, { t: 'post' | 'void' | 'suspend' }>, h: Hold): Expect {
    const done = c.t === 'post' ? 'posted' : c.t === 'void' ? 'voided' : 'suspended';
    if (h.state === done && (c.t === 'suspend' || h.reason === c.reason)) return { ok: true };
    if (h.state !== 'pending' && !(h.state === 'suspended' && c.t !== 'suspend'))
      return { ok: false, code: 'TRANSFER_STATE' };
    if (h.state === 'pending') {
      this.add(this.reserved, h.from, -h.amount);
      if (c.t !== 'void') {
        this.add(this.balance, h.from, -h.amount);
        this.add(this.balance, c.t === 'post' ? h.to : SUSPENSE_ACCOUNT, h.amount);
      }
    } else {
      this.add(this.balance, SUSPENSE_ACCOUNT, -h.amount);
      this.add(this.balance, c.t === 'post' ? h.to : h.from, h.amount);
    }
    h.state = done;
    h.reason = c.reason;
    return { ok: true };
  }
}

const ACCOUNTS_FLOOR: Record<string, number | null> = Object.fromEntries(
  Object.entries(ACCOUNTS).map(([id, kind]) => [id, ACCOUNT_KINDS[kind].floor]),
);

/**
 * Runs the money-rules property `numRuns` times, each on a fresh, empty store from `fresh` (`dispose` is called
 * after the store is closed).
 */
export async function checkMoneyRules(
  fresh: () => Promise<{ ledger: LedgerStore; dispose?: () => Promise<void> }>,
  numRuns: number,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(program, async (groups) => {
      const { ledger, dispose } = await fresh();
      try {
        for (const [id, kind] of Object.entries(ACCOUNTS)) await ledger.openAccount(id, kind);
        const model = new Model();
        for (const group of groups) {
          const known = model.holds.filter((h) => h.id !== '');
          const issued: { want: Expect; rec?: IdemRecord; first: boolean; p: Promise<TransferResult> }[] = [];
          for (const c of group) {
            if (c.t === 'transfer' || c.t === 'hold') {
              if (c.from === c.to) continue;
              const { want, rec, first } = model.move(c);
              const p = ledger[c.t]({
                client: c.client,
                idempotencyKey: c.key,
                from: c.from,
                to: c.to,
                amount: c.amount,
              });
              issued.push({ want, first, p, ...(rec ? { rec } : {}) });
            } else {
              const s = c as Extract<Cmd, { t: 'post' | 'void' | 'suspend' }>;
              const h = known[s.pick % Math.max(1, known.length)];
              if (!h) continue;
              const want = model.settle(s, h);
              issued.push({ want, first: false, p: ledger[s.t]({ transferId: h.id, reason: s.reason }) });
            }
          }
          const settled = await Promise.allSettled(issued.map((x) => x.p));
          issued.forEach(({ want, rec, first }, i) => {
            const got = settled[i]!;
            if (!want.ok) {
              expect(got.status).toBe('rejected');
              if (got.status === 'rejected')
                expect(
                  hasErrorCode(got.reason, LEDGER_ERRORS, want.code as 'INSUFFICIENT_FUNDS'),
                  String(got.reason),
                ).toBe(true);
              return;
            }
            if (got.status === 'rejected') throw got.reason;
            if (rec && first) {
              rec.result = got.value;
              if (rec.hold) rec.hold.id = got.value.transfer.id;
            } else if (rec) {
              expect(got.value).toEqual(rec.result); // a retry gets the first result; nothing moved again
            }
          });
          const v = await ledger.verify();
          expect(v.problems).toEqual([]);
          expect(v.sum).toBe(0);
          for (const id of Object.keys(ACCOUNTS)) {
            const a = await ledger.getAccount(id);
            expect([id, a?.balance, a?.reserved]).toEqual([id, model.balance.get(id), model.reserved.get(id)]);
            const floor = ACCOUNTS_FLOOR[id];
            if (floor !== null && floor !== undefined) expect(a!.available).toBeGreaterThanOrEqual(floor);
          }
        }
      } finally {
        await ledger.close();
        await dispose?.();
      }
    }),
    { numRuns },
  );
}

/**
 * The store conformance suite: every {@link LedgerStore} (SQLite now, PostgreSQL next) runs the same tests.
 * `describeLedgerStore('sqlite', factory)` registers them with vitest.
 */
import { ArgumentError, CORE_ERRORS, hasErrorCode } from '@simtap/sdk/core/errors';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LEDGER_ERRORS, type LedgerErrorCode } from './errors';
import { ACCOUNT_KINDS, SUSPENSE_ACCOUNT, type TransferRequest } from './model';
import { checkMoneyRules } from './money-rules.test-support';
import type { LedgerStore, LedgerStoreOptions } from './store';

/** A fresh, empty database: `open` opens a store on it (again after a `close`, as a restart would). */
export interface LedgerStoreFixture {
  open(options?: LedgerStoreOptions): Promise<LedgerStore>;
  dispose(): Promise<void>;
}

/** Makes a fresh database for one test. */
export type LedgerStoreFactory = () => Promise<LedgerStoreFixture>;

/** Expects `p` to reject with a ledger error of `code`. */
export async function rejectsWith(p: Promise<unknown>, code: LedgerErrorCode): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, `expected ${code}`).toBeInstanceOf(Error);
  if (!hasErrorCode(e, LEDGER_ERRORS, code)) throw e;
}

/** Expects `p` to reject with `BAD_ARGUMENT`. */
async function rejectsBadArgument(p: Promise<unknown>): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ArgumentError);
  expect(hasErrorCode(e, CORE_ERRORS, 'BAD_ARGUMENT')).toBe(true);
}

/** Registers the conformance suite for the store made by `factory`. */
export function describeLedgerStore(name: string, factory: LedgerStoreFactory): void {
  describe(`LedgerStore conformance: ${name}`, () => {
    let fixture: LedgerStoreFixture;
    let ledger: LedgerStore;
    let clock = 1_000_000;
    const now = () => clock;
    const open = (o: LedgerStoreOptions = {}) => fixture.open({ now, suspendAfterMs: 60_000, ...o });
    let n = 0;
    const key = () => `key-${++n}`;
    const tx = (from: string, to: string, amount: number, idempotencyKey = key()): TransferRequest => ({
      client: 'app-1',
      idempotencyKey,
      from,
      to,
      amount,
    });
    const balance = async (id: string) => (await ledger.getAccount(id))?.balance;

    beforeEach(async () => {
      clock = 1_000_000;
      fixture = await factory();
      ledger = await open();
      await ledger.openAccount('cash:kiosk-1', 'CASH');
      await ledger.openAccount('phone:1', 'PHONE');
      await ledger.openAccount('phone:2', 'PHONE');
      await ledger.openAccount('merchant:m1', 'MERCHANT_PAYABLE');
    });
    afterEach(async () => {
      await ledger.close();
      await fixture.dispose();
    });

    describe('accounts', () => {
      it('starts with the suspense account and a journal that verifies', async () => {
        const a = await ledger.getAccount(SUSPENSE_ACCOUNT);
        expect(a).toMatchObject({ kind: 'SUSPENSE', floor: 0, balance: 0 });
        const v = await ledger.verify();
        expect(v).toMatchObject({ ok: true, sum: 0, accounts: 5, entries: 5, problems: [] });
        expect(v.journalHead).toMatch(/^[0-9a-f]{64}$/);
      });

      it('sums the stored balances by kind, every kind listed, money summing to 0', async () => {
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 700));
        await ledger.transfer(tx('cash:kiosk-1', 'phone:2', 300));
        await ledger.hold(tx('phone:1', 'merchant:m1', 200));
        const s = await ledger.summary();
        expect(s.map((k) => k.kind)).toEqual(Object.keys(ACCOUNT_KINDS));
        const of = (kind: string) => s.find((k) => k.kind === kind);
        expect(of('PHONE')).toEqual({ kind: 'PHONE', accounts: 2, balance: 1000, reserved: 200 });
        expect(of('CASH')).toEqual({ kind: 'CASH', accounts: 1, balance: -1000, reserved: 0 });
        expect(of('MERCHANT_PAYABLE')).toEqual({ kind: 'MERCHANT_PAYABLE', accounts: 1, balance: 0, reserved: 0 });
        expect(of('CARD_FLOAT')).toEqual({ kind: 'CARD_FLOAT', accounts: 0, balance: 0, reserved: 0 });
        expect(s.reduce((sum, k) => sum + k.balance, 0)).toBe(0);
      });

      it('gives each kind its floor: 0 for what the platform owes, none for cash in', async () => {
        expect(await ledger.getAccount('phone:1')).toMatchObject({ floor: 0, balance: 0, reserved: 0, available: 0 });
        expect(await ledger.getAccount('cash:kiosk-1')).toMatchObject({ floor: null });
      });

      it('opens an account once: the same kind again returns it, another kind fails', async () => {
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 100));
        expect(await ledger.openAccount('phone:1', 'PHONE')).toMatchObject({ balance: 100 });
        await rejectsWith(ledger.openAccount('phone:1', 'CARD_FLOAT'), 'ACCOUNT_KIND_MISMATCH');
        await rejectsBadArgument(ledger.openAccount('x', 'NOPE' as never));
        await rejectsBadArgument(ledger.openAccount('', 'PHONE'));
        expect(await ledger.getAccount('nobody')).toBeUndefined();
      });
    });

    describe('transfers', () => {
      it('moves integer fen between two accounts and keeps the sum at 0', async () => {
        const r = await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 5000));
        expect(r.transfer).toMatchObject({ type: 'direct', state: 'posted', amount: 5000, from: 'cash:kiosk-1' });
        await ledger.transfer(tx('phone:1', 'merchant:m1', 1250));
        expect(await balance('cash:kiosk-1')).toBe(-5000);
        expect(await balance('phone:1')).toBe(3750);
        expect(await balance('merchant:m1')).toBe(1250);
        expect(await ledger.verify()).toMatchObject({ ok: true, sum: 0 });
      });

      it('refuses to take an account below its floor (INSUFFICIENT_FUNDS), nothing moves', async () => {
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 100));
        await rejectsWith(ledger.transfer(tx('phone:1', 'merchant:m1', 101)), 'INSUFFICIENT_FUNDS');
        expect(await balance('phone:1')).toBe(100);
        await ledger.transfer(tx('phone:1', 'merchant:m1', 100));
        expect(await balance('phone:1')).toBe(0);
      });

      it('rejects amounts that are not integer fen in 1 … MAX_SAFE_INTEGER with AMOUNT_INVALID', async () => {
        for (const amount of [
          0,
          -1,
          1.5,
          Number.NaN,
          Number.POSITIVE_INFINITY,
          Number.MAX_SAFE_INTEGER + 1,
          '100',
          10n,
          null,
        ]) {
          await rejectsWith(ledger.transfer(tx('cash:kiosk-1', 'phone:1', amount as number)), 'AMOUNT_INVALID');
          await rejectsWith(ledger.hold(tx('cash:kiosk-1', 'phone:1', amount as number)), 'AMOUNT_INVALID');
        }
        expect(await ledger.verify()).toMatchObject({ ok: true, entries: 5 });
      });

      it('refuses a balance outside the safe-integer range with BALANCE_OVERFLOW', async () => {
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', Number.MAX_SAFE_INTEGER));
        await rejectsWith(ledger.transfer(tx('cash:kiosk-1', 'phone:1', 1)), 'BALANCE_OVERFLOW');
        expect(await balance('phone:1')).toBe(Number.MAX_SAFE_INTEGER);
        expect(await ledger.verify()).toMatchObject({ ok: true, sum: 0 });
      });

      it('names unknown accounts (ACCOUNT_UNKNOWN) and refuses malformed requests (BAD_ARGUMENT)', async () => {
        await rejectsWith(ledger.transfer(tx('cash:kiosk-1', 'phone:9', 1)), 'ACCOUNT_UNKNOWN');
        await rejectsBadArgument(ledger.transfer(tx('phone:1', 'phone:1', 1)));
        await rejectsBadArgument(
          ledger.transfer({ ...tx('cash:kiosk-1', 'phone:1', 1), idempotencyKey: 'k'.repeat(65) }),
        );
        await rejectsBadArgument(ledger.transfer({ ...tx('cash:kiosk-1', 'phone:1', 1), idempotencyKey: 'ключ' }));
        await rejectsBadArgument(ledger.transfer({ ...tx('cash:kiosk-1', 'phone:1', 1), client: '' }));
      });
    });

    describe('idempotency', () => {
      it('answers the same key and body with the first result and moves nothing again', async () => {
        const first = await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 700, 'top-up-1'));
        const again = await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 700, 'top-up-1'));
        expect(again).toEqual(first);
        expect(await balance('phone:1')).toBe(700);
      });

      it('refuses the same key with another body or operation (IDEMPOTENCY_CONFLICT)', async () => {
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 700, 'k'));
        await rejectsWith(ledger.transfer(tx('cash:kiosk-1', 'phone:1', 701, 'k')), 'IDEMPOTENCY_CONFLICT');
        await rejectsWith(ledger.transfer(tx('cash:kiosk-1', 'phone:2', 700, 'k')), 'IDEMPOTENCY_CONFLICT');
        await rejectsWith(
          ledger.transfer({ ...tx('cash:kiosk-1', 'phone:1', 700, 'k'), memo: 'x' }),
          'IDEMPOTENCY_CONFLICT',
        );
        await rejectsWith(ledger.hold(tx('cash:kiosk-1', 'phone:1', 700, 'k')), 'IDEMPOTENCY_CONFLICT');
        expect(await balance('phone:1')).toBe(700);
      });

      it('reports what a key holds (idempotencyOf): unused, a result or an error', async () => {
        expect(await ledger.idempotencyOf('app-1', 'io-1')).toBeUndefined();
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 5, 'io-1'));
        expect(await ledger.idempotencyOf('app-1', 'io-1')).toMatchObject({ op: 'transfer', outcome: 'result' });
        await rejectsWith(ledger.hold(tx('phone:2', 'merchant:m1', 5, 'io-2')), 'INSUFFICIENT_FUNDS');
        expect(await ledger.idempotencyOf('app-1', 'io-2')).toMatchObject({ op: 'hold', outcome: 'error' });
        expect(await ledger.idempotencyOf('app-2', 'io-1')).toBeUndefined();
      });

      it('scopes keys per client', async () => {
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 1, 'k'));
        await ledger.transfer({ ...tx('cash:kiosk-1', 'phone:1', 2, 'k'), client: 'app-2' });
        expect(await balance('phone:1')).toBe(3);
      });

      it('replays a first outcome that was an error, even once it would succeed', async () => {
        await rejectsWith(ledger.transfer(tx('phone:1', 'merchant:m1', 10, 'pay')), 'INSUFFICIENT_FUNDS');
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 100));
        await rejectsWith(ledger.transfer(tx('phone:1', 'merchant:m1', 10, 'pay')), 'INSUFFICIENT_FUNDS');
        expect(await balance('merchant:m1')).toBe(0);
      });

      it('applies once when the same request arrives twice in one turn', async () => {
        const [a, b] = await Promise.all([
          ledger.transfer(tx('cash:kiosk-1', 'phone:1', 5, 'twice')),
          ledger.transfer(tx('cash:kiosk-1', 'phone:1', 5, 'twice')),
        ]);
        expect(b).toEqual(a);
        expect(await balance('phone:1')).toBe(5);
      });

      it('holds across a restart of the store', async () => {
        const first = await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 900, 'restart'));
        const pay = ledger.transfer(tx('phone:1', 'merchant:m1', 901, 'fails'));
        await rejectsWith(pay, 'INSUFFICIENT_FUNDS');
        await ledger.close();
        ledger = await open();
        expect(await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 900, 'restart'))).toEqual(first);
        await rejectsWith(ledger.transfer(tx('cash:kiosk-1', 'phone:1', 1, 'restart')), 'IDEMPOTENCY_CONFLICT');
        await rejectsWith(ledger.transfer(tx('phone:1', 'merchant:m1', 901, 'fails')), 'INSUFFICIENT_FUNDS');
        expect(await balance('phone:1')).toBe(900);
        expect(await ledger.verify()).toMatchObject({ ok: true });
      });
    });

    describe('pending transfers (holds)', () => {
      beforeEach(async () => {
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 1000));
      });

      it('counts a hold against the available balance at once; nothing moves until it is posted', async () => {
        const h = await ledger.hold(tx('phone:1', 'merchant:m1', 600));
        expect(h.transfer).toMatchObject({ type: 'pending', state: 'pending' });
        expect(await ledger.getAccount('phone:1')).toMatchObject({ balance: 1000, reserved: 600, available: 400 });
        await rejectsWith(ledger.transfer(tx('phone:1', 'phone:2', 401)), 'INSUFFICIENT_FUNDS');
        await rejectsWith(ledger.hold(tx('phone:1', 'phone:2', 401)), 'INSUFFICIENT_FUNDS');
        const p = await ledger.post({ transferId: h.transfer.id, reason: 'card proof: TAC verified' });
        expect(p.transfer).toMatchObject({ state: 'posted', reason: 'card proof: TAC verified' });
        expect(await ledger.getAccount('phone:1')).toMatchObject({ balance: 400, reserved: 0, available: 400 });
        expect(await balance('merchant:m1')).toBe(600);
        expect(await ledger.verify()).toMatchObject({ ok: true, sum: 0 });
      });

      it('never lets two holds oversubscribe an account, even in one turn', async () => {
        const results = await Promise.allSettled([
          ledger.hold(tx('phone:1', 'merchant:m1', 700)),
          ledger.hold(tx('phone:1', 'merchant:m1', 700)),
        ]);
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        const rejected = results.find((r) => r.status === 'rejected');
        expect(hasErrorCode(rejected?.reason, LEDGER_ERRORS, 'INSUFFICIENT_FUNDS')).toBe(true);
        expect(await ledger.getAccount('phone:1')).toMatchObject({ reserved: 700, available: 300 });
      });

      it('voids a hold: the reservation is released and nothing moves', async () => {
        const h = await ledger.hold(tx('phone:1', 'merchant:m1', 600));
        const v = await ledger.void({ transferId: h.transfer.id, reason: 'counter shows the card never credited' });
        expect(v.transfer.state).toBe('voided');
        expect(await ledger.getAccount('phone:1')).toMatchObject({ balance: 1000, reserved: 0 });
        expect(await balance('merchant:m1')).toBe(0);
      });

      it('settles exactly once: the same call again returns the first result, any other fails with TRANSFER_STATE', async () => {
        const h = await ledger.hold(tx('phone:1', 'merchant:m1', 600));
        const id = h.transfer.id;
        const p = await ledger.post({ transferId: id, reason: 'proof' });
        expect(await ledger.post({ transferId: id, reason: 'proof' })).toEqual(p);
        await rejectsWith(ledger.post({ transferId: id, reason: 'another reason' }), 'TRANSFER_STATE');
        await rejectsWith(ledger.void({ transferId: id, reason: 'proof' }), 'TRANSFER_STATE');
        await rejectsWith(ledger.suspend({ transferId: id, reason: 'late' }), 'TRANSFER_STATE');
        const v = await ledger.hold(tx('phone:1', 'merchant:m1', 100));
        await ledger.void({ transferId: v.transfer.id, reason: 'never credited' });
        await rejectsWith(ledger.post({ transferId: v.transfer.id, reason: 'proof' }), 'TRANSFER_STATE');
        expect(await balance('merchant:m1')).toBe(600);
        expect(await ledger.verify()).toMatchObject({ ok: true });
      });

      it('settles a hold once when post and void race in one turn', async () => {
        const h = await ledger.hold(tx('phone:1', 'merchant:m1', 600));
        const [p, v] = await Promise.allSettled([
          ledger.post({ transferId: h.transfer.id, reason: 'proof' }),
          ledger.void({ transferId: h.transfer.id, reason: 'no proof' }),
        ]);
        expect(p.status).toBe('fulfilled');
        expect(v.status).toBe('rejected');
        expect(await balance('merchant:m1')).toBe(600);
      });

      it('refuses to settle a direct transfer or an unknown one, and wants a reason', async () => {
        const d = await ledger.transfer(tx('phone:1', 'merchant:m1', 1));
        await rejectsWith(ledger.post({ transferId: d.transfer.id, reason: 'r' }), 'TRANSFER_STATE');
        await rejectsWith(ledger.void({ transferId: 'no-such-transfer', reason: 'r' }), 'TRANSFER_UNKNOWN');
        const h = await ledger.hold(tx('phone:1', 'merchant:m1', 1));
        await rejectsBadArgument(ledger.post({ transferId: h.transfer.id, reason: ' ' }));
        await rejectsBadArgument(ledger.void({ transferId: h.transfer.id } as never));
      });
    });

    describe('suspense', () => {
      beforeEach(async () => {
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 1000));
      });

      it('moves only holds older than the configured time to suspense, and voids nothing', async () => {
        const old = await ledger.hold(tx('phone:1', 'merchant:m1', 300));
        clock += 30_000;
        const young = await ledger.hold(tx('phone:1', 'merchant:m1', 200));
        clock += 30_000; // old is 60 s old, young 30 s
        const moved = await ledger.suspendStale('unresolved after 60 s');
        expect(moved.map((r) => r.transfer.id)).toEqual([old.transfer.id]);
        expect(moved[0]?.transfer).toMatchObject({ state: 'suspended', suspendedAt: clock });
        expect(await ledger.getAccount('phone:1')).toMatchObject({ balance: 700, reserved: 200, available: 500 });
        expect(await balance(SUSPENSE_ACCOUNT)).toBe(300);
        expect((await ledger.listTransfers('suspended')).map((t) => t.id)).toEqual([old.transfer.id]);
        expect((await ledger.listTransfers('pending')).map((t) => t.id)).toEqual([young.transfer.id]);
        expect(await ledger.suspendStale('again')).toEqual([]);
        expect(await ledger.verify()).toMatchObject({ ok: true, sum: 0 });
      });

      it('posts a suspended transfer from suspense to its destination when the proof arrives', async () => {
        const h = await ledger.hold(tx('phone:1', 'merchant:m1', 300));
        const s = await ledger.suspend({ transferId: h.transfer.id, reason: 'back office' });
        expect(await ledger.suspend({ transferId: h.transfer.id, reason: 'twice' })).toEqual(s);
        await ledger.post({ transferId: h.transfer.id, reason: 'card proof' });
        expect(await balance(SUSPENSE_ACCOUNT)).toBe(0);
        expect(await balance('merchant:m1')).toBe(300);
        expect(await balance('phone:1')).toBe(700);
        expect(await ledger.verify()).toMatchObject({ ok: true, sum: 0 });
      });

      it('refunds a suspended transfer to its source when it is voided', async () => {
        const h = await ledger.hold(tx('phone:1', 'merchant:m1', 300));
        await ledger.suspend({ transferId: h.transfer.id, reason: 'back office' });
        await ledger.void({ transferId: h.transfer.id, reason: 'counter: never credited' });
        expect(await balance(SUSPENSE_ACCOUNT)).toBe(0);
        expect(await ledger.getAccount('phone:1')).toMatchObject({ balance: 1000, reserved: 0 });
        expect(await ledger.verify()).toMatchObject({ ok: true, sum: 0 });
      });
    });

    describe('linked transfers, references and details', () => {
      beforeEach(async () => {
        await ledger.openAccount('float:c1', 'CARD_FLOAT');
        await ledger.openAccount('points:1', 'POINTS_LIABILITY');
        await ledger.openAccount('points-funding', 'POINTS_FUNDING');
        await ledger.transfer(tx('cash:kiosk-1', 'float:c1', 1000));
      });
      const clear = (amount: number, points: number, idempotencyKey = key()) => ({
        client: 'clearing',
        idempotencyKey,
        legs: [
          { from: 'float:c1', to: 'merchant:m1', amount, ref: 'purchase:c1', meta: { offlineCounter: 7, tti: 6 } },
          { from: 'points-funding', to: 'points:1', amount: points, ref: 'points:1' },
        ],
      });

      it('applies every leg or none', async () => {
        const r = await ledger.transferLinked(clear(400, 4));
        expect(r.transfers.map((t) => t.amount)).toEqual([400, 4]);
        expect(r.transfers[0]).toMatchObject({ ref: 'purchase:c1', meta: { offlineCounter: 7, tti: 6 } });
        await rejectsWith(ledger.transferLinked(clear(601, 6)), 'INSUFFICIENT_FUNDS');
        expect(await balance('float:c1')).toBe(600);
        expect(await balance('points:1')).toBe(4);
        expect(await balance('merchant:m1')).toBe(400);
        expect(await ledger.verify()).toMatchObject({ ok: true, sum: 0 });
      });

      it('answers the balances right after the operation, and the same ones on a replay', async () => {
        const t = await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 70, 'bal-1'));
        expect(t.balances).toEqual({ 'cash:kiosk-1': -1070, 'phone:1': 70 });
        const h = await ledger.hold(tx('phone:1', 'merchant:m1', 30, 'bal-2'));
        expect(h.balances).toEqual({ 'phone:1': 70, 'merchant:m1': 0 });
        const l = await ledger.transferLinked(clear(100, 2, 'bal-3'));
        expect(l.balances).toEqual({ 'float:c1': 900, 'merchant:m1': 100, 'points-funding': -2, 'points:1': 2 });
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 5));
        const p = await ledger.post({ transferId: h.transfer.id, reason: 'proof' });
        expect(p.balances).toEqual({ 'phone:1': 45, 'merchant:m1': 130 });
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 5));
        expect((await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 70, 'bal-1'))).balances).toEqual(t.balances);
        expect((await ledger.post({ transferId: h.transfer.id, reason: 'proof' })).balances).toEqual(p.balances);
        expect((await ledger.transferLinked(clear(100, 2, 'bal-3'))).balances).toEqual(l.balances);
      });

      it('is idempotent under one key, and the details are part of the body', async () => {
        const first = await ledger.transferLinked(clear(100, 1, 'rec-1'));
        expect(await ledger.transferLinked(clear(100, 1, 'rec-1'))).toEqual(first);
        const other = clear(100, 1, 'rec-1');
        await rejectsWith(
          ledger.transferLinked({ ...other, legs: [{ ...other.legs[0]!, meta: { offlineCounter: 8, tti: 6 } }] }),
          'IDEMPOTENCY_CONFLICT',
        );
        await rejectsWith(
          ledger.transfer({ ...tx('float:c1', 'merchant:m1', 100, 'rec-1'), client: 'clearing' }),
          'IDEMPOTENCY_CONFLICT',
        );
        expect(await balance('merchant:m1')).toBe(100);
      });

      it('forgets a refusal when asked (rememberFailure: false), so the same request can succeed later', async () => {
        const big = { ...clear(1500, 0, 'rec-2'), legs: [clear(1500, 0).legs[0]!], rememberFailure: false };
        await rejectsWith(ledger.transferLinked(big), 'INSUFFICIENT_FUNDS');
        await ledger.transfer(tx('cash:kiosk-1', 'float:c1', 500));
        await ledger.transferLinked(big);
        expect(await balance('float:c1')).toBe(0);
        await rejectsWith(
          ledger.transfer({ ...tx('phone:1', 'merchant:m1', 1, 'r3'), rememberFailure: false }),
          'INSUFFICIENT_FUNDS',
        );
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 1));
        await ledger.transfer({ ...tx('phone:1', 'merchant:m1', 1, 'r3'), rememberFailure: false });
        expect(await balance('phone:1')).toBe(0);
      });

      it('writes records with the legs, all or none (a record conflict undoes the legs)', async () => {
        const batch = (key: string, expectHead: number, legs = clear(100, 1).legs) => ({
          client: 'clearing',
          idempotencyKey: key,
          legs,
          records: [
            { collection: 'debits', id: `d-${key}`, value: { amount: 100 }, expectVersion: 0 },
            { collection: 'cards', id: 'c1', value: { cleared: key }, expectVersion: expectHead },
          ],
        });
        await ledger.transferLinked(batch('b1', 0));
        expect(await ledger.getRecord('debits', 'd-b1')).toMatchObject({ version: 1, value: { amount: 100 } });
        expect(await ledger.getRecord('cards', 'c1')).toMatchObject({ version: 1, value: { cleared: 'b1' } });
        await rejectsWith(ledger.transferLinked({ ...batch('b2', 0), rememberFailure: false }), 'RECORD_CONFLICT');
        expect(await ledger.getRecord('debits', 'd-b2')).toBeUndefined();
        expect(await balance('float:c1')).toBe(900);
        // the conflict was not remembered: the same request with the right version applies
        await ledger.transferLinked({ ...batch('b2', 1), rememberFailure: false });
        expect(await balance('float:c1')).toBe(800);
        expect(await ledger.transferLinked(batch('b1', 0))).toMatchObject({
          transfers: [{ amount: 100 }, { amount: 1 }],
        });
        await rejectsWith(
          ledger.transferLinked({
            ...batch('b1', 0),
            records: [{ collection: 'debits', id: 'd-b1', value: { amount: 99 } }],
          }),
          'IDEMPOTENCY_CONFLICT',
        );
        const only = await ledger.transferLinked({ ...batch('b3', 2), legs: [] });
        expect(only.transfers).toEqual([]);
        expect(only.seq).toBe((await ledger.verify()).entries);
        expect(await balance('float:c1')).toBe(800);
        await rejectsBadArgument(ledger.transferLinked({ client: 'c', idempotencyKey: 'k', legs: [], records: [] }));
      });

      it('lists transfers by reference and state', async () => {
        await ledger.transferLinked(clear(10, 1));
        await ledger.hold({ ...tx('float:c1', 'merchant:m1', 5), ref: 'purchase:c1' });
        await ledger.transfer({ ...tx('float:c1', 'merchant:m1', 1), ref: 'other' });
        expect((await ledger.listTransfers({ ref: 'purchase:c1' })).map((t) => t.amount)).toEqual([10, 5]);
        expect((await ledger.listTransfers({ ref: 'purchase:c1', state: 'pending' })).map((t) => t.amount)).toEqual([
          5,
        ]);
        expect(await ledger.listTransfers({ ref: 'purchase:c1', limit: 1 })).toHaveLength(1);
        expect((await ledger.listTransfers({ account: 'merchant:m1' })).map((t) => t.amount)).toEqual([10, 5, 1]);
        expect((await ledger.listTransfers({ account: 'points:1' })).map((t) => t.amount)).toEqual([1]);
        await rejectsBadArgument(ledger.listTransfers({ state: 'gone' as never }));
      });

      it('refuses malformed legs and details (BAD_ARGUMENT)', async () => {
        await rejectsBadArgument(ledger.transferLinked({ client: 'c', idempotencyKey: 'k', legs: [] }));
        await rejectsBadArgument(ledger.transfer({ ...tx('cash:kiosk-1', 'phone:1', 1), meta: { a: [1] } as never }));
        await rejectsBadArgument(
          ledger.transfer({ ...tx('cash:kiosk-1', 'phone:1', 1), meta: { a: 'x'.repeat(2000) } }),
        );
        await rejectsBadArgument(ledger.transfer({ ...tx('cash:kiosk-1', 'phone:1', 1), ref: '' }));
        await rejectsBadArgument(
          ledger.transfer({ ...tx('cash:kiosk-1', 'phone:1', 1), rememberFailure: 'no' as never }),
        );
        await rejectsBadArgument(ledger.transfer({ ...tx('cash:kiosk-1', 'phone:1', 1), memo: 'a\ud800b' }));
        await rejectsBadArgument(ledger.transfer({ ...tx('cash:kiosk-1', 'phone:1', 1), memo: 'a\u0000b' }));
        await rejectsBadArgument(ledger.hold(tx(SUSPENSE_ACCOUNT, 'phone:1', 1)));
        await rejectsBadArgument(ledger.transfer(tx('phone:1', SUSPENSE_ACCOUNT, 1)));
        expect(await balance('phone:1')).toBe(0);
      });
    });

    describe('records', () => {
      it('writes, reads and lists records by prefix; each write bumps the version', async () => {
        const [a] = await ledger.writeRecords([{ collection: 'cards', id: 'c1', value: { status: 'active' } }]);
        expect(a).toMatchObject({ version: 1, value: { status: 'active' } });
        await ledger.writeRecords([{ collection: 'cards', id: 'c1', value: { status: 'lost' }, expectVersion: 1 }]);
        await ledger.writeRecords([{ collection: 'cards', id: 'c2', value: { status: 'issued' } }]);
        await ledger.writeRecords([{ collection: 'other', id: 'c3', value: 1 }]);
        expect(await ledger.getRecord('cards', 'c1')).toMatchObject({ version: 2, value: { status: 'lost' } });
        expect((await ledger.listRecords('cards')).map((r) => r.id)).toEqual(['c1', 'c2']);
        expect((await ledger.listRecords('cards', 'c2')).map((r) => r.id)).toEqual(['c2']);
        expect(await ledger.getRecord('cards', 'nope')).toBeUndefined();
      });

      it('applies a group of writes all or none (compare-and-set, RECORD_CONFLICT)', async () => {
        await ledger.writeRecords([{ collection: 'bl', id: 'head', value: 1 }]);
        await rejectsWith(
          ledger.writeRecords([
            { collection: 'bl', id: 'v2', value: ['c1'], expectVersion: 0 },
            { collection: 'bl', id: 'head', value: 2, expectVersion: 7 },
          ]),
          'RECORD_CONFLICT',
        );
        expect(await ledger.getRecord('bl', 'v2')).toBeUndefined();
        const racers = await Promise.allSettled([
          ledger.writeRecords([{ collection: 'bl', id: 'head', value: 2, expectVersion: 1 }]),
          ledger.writeRecords([{ collection: 'bl', id: 'head', value: 3, expectVersion: 1 }]),
        ]);
        expect(racers.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        expect(await ledger.getRecord('bl', 'head')).toMatchObject({ version: 2 });
        await rejectsBadArgument(ledger.writeRecords([{ collection: 'bl', id: 'x', value: undefined }]));
        await rejectsBadArgument(ledger.writeRecords([]));
      });

      it('keeps records across a restart', async () => {
        await ledger.writeRecords([{ collection: 'cards', id: 'c1', value: { s: 1 } }]);
        await ledger.close();
        ledger = await open();
        expect(await ledger.getRecord('cards', 'c1')).toMatchObject({ value: { s: 1 }, version: 1 });
      });
    });

    describe('journal', () => {
      it('moves its head with every entry and keeps the chain through a restart', async () => {
        const h0 = (await ledger.verify()).journalHead;
        await ledger.transfer(tx('cash:kiosk-1', 'phone:1', 1));
        const v1 = await ledger.verify();
        expect(v1.journalHead).not.toBe(h0);
        await ledger.close();
        ledger = await open();
        expect(await ledger.verify()).toEqual(v1);
      });
    });

    it('keeps the money rules over random operation sequences (property, against a model)', async () => {
      await checkMoneyRules(async () => {
        const f = await factory();
        return { ledger: await f.open(), dispose: () => f.dispose() };
      }, 15);
    });

    it('refuses calls after close (STORE_CLOSED)', async () => {
      await ledger.close();
      await rejectsWith(ledger.getAccount('phone:1'), 'STORE_CLOSED');
      await rejectsWith(ledger.transfer(tx('cash:kiosk-1', 'phone:1', 1)), 'STORE_CLOSED');
      ledger = await open();
    });
  });
}

/**
 * The platform against real cards (issue 10, "Clearing against the card"): the e-purse applet's cards, PSAMs and the
 * SDK's machines make every money movement; the platform's wallets authorize, confirm, resolve and clear them.
 *
 * - Loads: a recharge machine whose authorizer is the platform loads a card from its holder's phone account or
 *   with cash; a torn load is settled at the card's next contact from the card's own word (its online counter and
 *   GET TRANSACTION PROVE), exactly once, posted exactly when the card credited it.
 * - Clearing: the records a till and a metro gate made clear to the client's merchant with points; a flipped TAC
 *   bit, duplicates (in the batch, from an earlier batch, from another client) and an unknown card are rejected
 *   with their codes and indexes; a skipped offline counter is a gap until it clears; a batch is idempotent per key.
 *
 * Every test ends with the money check: each card's float equals the purse the card answers (so the floats sum to
 * the purses), no load is left pending, and the ledger verifies.
 */

import { KEYS_ERRORS } from '@simtap/host/keys';
import { LEDGER_ERRORS, LedgerError } from '@simtap/host/ledger';
import { ACCOUNT, PLATFORM_ERRORS, PlatformError } from '@simtap/host/platform';
import type { PurchaseRecord } from '@simtap/host/wallets';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { CORE_ERRORS, type ErrorTable, hasErrorCode } from '@simtap/sdk/core/errors';
import { TTI } from '@simtap/sdk/core/pboc';
import { CardLeftFieldError, flatFare, TacError } from '@simtap/sdk/machines';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buy,
  type CardLabel,
  clearingRecord,
  corruptAnswerOn,
  countingWrites,
  expectMoneyMirrorsCards,
  flipBit,
  kiosk,
  money,
  nextContact,
  openWorld,
  purseBalance,
  tap,
  tearOn,
  till,
  UNISSUED_SERIAL,
  type World,
} from './platform-cards.test-support';

const INS_INITIALIZE = 0x50;
const INS_CREDIT = 0x52;

let world: World;
beforeEach(async () => {
  world = await openWorld();
});
afterEach(async () => {
  await world.close();
});

/** The error `p` rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
}

/** Expects `p` to reject with `code` of `table`. */
async function expectCode(p: Promise<unknown>, table: ErrorTable, code: string): Promise<void> {
  const e = await rejection(p);
  expect(hasErrorCode(e, table, code), `${String(e)}: expected ${code}`).toBe(true);
}

/** Loads `amount` onto the card `label` at a kiosk of mart-1 paid in cash; returns the platform's load id. */
async function loadWithCash(label: CardLabel, amount: number): Promise<string> {
  const { machine, authorizer } = kiosk(world, 'mart-1', { source: 'cash' });
  const r = await machine.load({ amount, card: tap(world.cards[label].card) });
  expect(r.tacVerified).toBe(true);
  return authorizer.last.loadId;
}

/** Persistent writes the card makes for one CREDIT FOR LOAD (what the tear points range over): ¥1 loaded, posted. */
async function creditWrites(label: CardLabel): Promise<number> {
  const counted = countingWrites(world.cards[label].card, INS_CREDIT);
  const { machine } = kiosk(world, 'mart-1', { source: 'cash' });
  await machine.load({ amount: 100, card: counted.channel });
  expect(counted.writes()).toBeGreaterThan(0);
  return counted.writes();
}

describe('loads against real cards', () => {
  it("loads card-1 ¥50 from its holder's phone account: MAC1 verified, the card's TAC confirms and posts it", async () => {
    const { platform } = world;
    const c1 = world.cards['card-1'];
    await platform.customers.topUpPhoneAccount({
      client: 'mart-1',
      idempotencyKey: 't-1',
      msisdn: c1.msisdn,
      amount: 8000,
    });
    const { machine, authorizer } = kiosk(world, 'mart-1', { source: 'phoneAccount', msisdn: c1.msisdn });
    const r = await machine.load({ amount: 5000, card: tap(c1.card) });
    expect(r).toMatchObject({
      status: 'completed',
      amount: 5000,
      balanceBefore: 0,
      balanceAfter: 5000,
      onlineCounter: 0,
    });
    expect(r.tacVerified).toBe(true); // confirmLoad verified the card's TAC and posted
    expect(await platform.wallets.load({ loadId: authorizer.last.loadId })).toMatchObject({
      status: 'posted',
      amount: 5000,
      cardSerial: c1.serial,
      onlineCounter: 0,
      suspended: false,
    });
    expect(await purseBalance(c1.card)).toBe(5000);
    expect(await platform.wallets.float({ cardSerial: c1.serial })).toEqual({ balance: 5000 });
    expect(await platform.customers.phoneAccount({ msisdn: c1.msisdn })).toEqual({ balance: 3000, available: 3000 });
    // The kiosk's confirmation retried: the first result, nothing moves.
    const again = await platform.wallets.confirmLoad({ loadId: authorizer.last.loadId, tac: toHex(r.tac) });
    expect(again).toEqual({ status: 'posted', float: 5000 });
    expect((await platform.ledger.getAccount(ACCOUNT.cash('mart-1')))?.balance).toBe(-8000); // the cash paid in
    await expectMoneyMirrorsCards(world);
  });

  it('loads card-2 with cash at the kiosk: the float follows the card', async () => {
    await loadWithCash('card-2', 3000);
    const c2 = world.cards['card-2'];
    expect(await purseBalance(c2.card)).toBe(3000);
    expect(await world.platform.wallets.float({ cardSerial: c2.serial })).toEqual({ balance: 3000 });
    expect((await world.platform.ledger.getAccount(ACCOUNT.cash('mart-1')))?.balance).toBe(-3000);
    await expectMoneyMirrorsCards(world);
  });

  it('a load the platform refuses is never credited and holds nothing: short phone account, not the holder, forged MAC1', async () => {
    const { platform } = world;
    const c1 = world.cards['card-1'];
    const c2 = world.cards['card-2'];
    await platform.customers.topUpPhoneAccount({
      client: 'mart-1',
      idempotencyKey: 't-1',
      msisdn: c1.msisdn,
      amount: 1000,
    });
    const own = kiosk(world, 'mart-1', { source: 'phoneAccount', msisdn: c1.msisdn });
    await expectCode(own.machine.load({ amount: 5000, card: tap(c1.card) }), LEDGER_ERRORS, 'INSUFFICIENT_FUNDS');
    const other = kiosk(world, 'mart-1', { source: 'phoneAccount', msisdn: c1.msisdn });
    await expectCode(other.machine.load({ amount: 500, card: tap(c2.card) }), PLATFORM_ERRORS, 'FUNDING_REFUSED');
    // MAC1 corrupted between the card and the platform: the issuer's keys refuse it, no MAC2 reaches the card.
    await expectCode(
      own.machine.load({ amount: 500, card: corruptAnswerOn(c1.card, INS_INITIALIZE) }),
      KEYS_ERRORS,
      'BAD_MAC1',
    );
    expect(own.machine.pending).toEqual([]);
    expect(await purseBalance(c1.card)).toBe(0);
    expect(await purseBalance(c2.card)).toBe(0);
    expect(await platform.customers.phoneAccount({ msisdn: c1.msisdn })).toEqual({ balance: 1000, available: 1000 });
    expect(await platform.wallets.loadReport()).toEqual({ pending: [], suspended: [] });
    await expectMoneyMirrorsCards(world);
  });

  it("a TAC corrupted on its way: confirmLoad answers BAD_TAC and the load stays pending; the card's proof posts it", async () => {
    const { platform } = world;
    const c1 = world.cards['card-1'];
    const { machine, authorizer } = kiosk(world, 'mart-1', { source: 'cash' });
    const e = await rejection(machine.load({ amount: 2000, card: corruptAnswerOn(c1.card, INS_CREDIT) }));
    expect(e).toBeInstanceOf(TacError); // the card was credited; the platform did not accept the TAC it was shown
    const { loadId } = authorizer.last;
    expect(await platform.wallets.load({ loadId })).toMatchObject({ status: 'pending', amount: 2000 });
    expect(await purseBalance(c1.card)).toBe(2000);
    expect(await platform.wallets.float({ cardSerial: c1.serial })).toEqual({ balance: 0 }); // behind the card

    const next = await nextContact(c1.card, 0);
    expect(next).toMatchObject({ balance: 2000, onlineCounter: 1 });
    expect(next.proof?.mac2).toBe(authorizer.last.mac2);
    expect(await platform.wallets.resolveLoad({ loadId, onlineCounter: next.onlineCounter, ...next.proof! })).toEqual({
      status: 'posted',
      float: 2000,
    });
    await expectMoneyMirrorsCards(world);
  });
});

describe('torn loads, resolved at the next contact from what the card proves', () => {
  it('torn after CREDIT FOR LOAD landed: the counter and the proof post it, once; a wrong proof is BAD_TAC and stays pending', async () => {
    const { platform } = world;
    const c1 = world.cards['card-1'];
    await platform.customers.topUpPhoneAccount({
      client: 'mart-1',
      idempotencyKey: 't-1',
      msisdn: c1.msisdn,
      amount: 8000,
    });
    const writes = await creditWrites('card-1'); // ¥1 loaded with cash, posted
    const { machine, authorizer } = kiosk(world, 'mart-1', { source: 'phoneAccount', msisdn: c1.msisdn });
    const e = await rejection(machine.load({ amount: 5000, card: tearOn(c1.card, INS_CREDIT, writes, 'after') }));
    expect(e).toBeInstanceOf(CardLeftFieldError);
    const { loadId } = authorizer.last;
    expect(authorizer.last.onlineCounter).toBe(1);
    expect(await platform.wallets.pendingLoads({ cardSerial: c1.serial })).toMatchObject([
      { loadId, status: 'pending', amount: 5000, onlineCounter: 1, suspended: false },
    ]);
    // The hold counts against the phone account at once.
    expect(await platform.customers.phoneAccount({ msisdn: c1.msisdn })).toEqual({ balance: 8000, available: 3000 });

    // Next contact: the card credited it (its counter is past the load's) and proves it.
    const next = await nextContact(c1.card, 1);
    expect(next).toMatchObject({ balance: 5100, onlineCounter: 2 });
    const proof = next.proof!;
    expect(proof.mac2).toBe(authorizer.last.mac2);
    expect(await platform.wallets.float({ cardSerial: c1.serial })).toEqual({ balance: 100 });

    await expectCode(platform.wallets.resolveLoad({ loadId, onlineCounter: 2 }), CORE_ERRORS, 'BAD_ARGUMENT');
    for (const wrong of [
      { mac2: flipBit(proof.mac2), tac: proof.tac },
      { mac2: proof.mac2, tac: flipBit(proof.tac) },
    ]) {
      await expectCode(
        platform.wallets.resolveLoad({ loadId, onlineCounter: 2, ...wrong }),
        PLATFORM_ERRORS,
        'BAD_TAC',
      );
      expect(await platform.wallets.load({ loadId })).toMatchObject({ status: 'pending' });
    }
    expect(await platform.wallets.float({ cardSerial: c1.serial })).toEqual({ balance: 100 });

    const posted = await platform.wallets.resolveLoad({ loadId, onlineCounter: 2, ...proof });
    expect(posted).toEqual({ status: 'posted', float: 5100 });
    expect(await platform.wallets.resolveLoad({ loadId, onlineCounter: 2, ...proof })).toEqual(posted);
    // Settled: the other way, or another call, is LOAD_STATE.
    await expectCode(platform.wallets.resolveLoad({ loadId, onlineCounter: 1 }), PLATFORM_ERRORS, 'LOAD_STATE');
    await expectCode(platform.wallets.confirmLoad({ loadId, tac: proof.tac }), PLATFORM_ERRORS, 'LOAD_STATE');
    expect(await platform.wallets.load({ loadId })).toMatchObject({ status: 'posted' });
    expect(await platform.customers.phoneAccount({ msisdn: c1.msisdn })).toEqual({ balance: 3000, available: 3000 });
    await expectMoneyMirrorsCards(world);
  });

  it('torn before the card credits: the counter still at the load voids it, once; the funds return; the retry loads once', async () => {
    const { platform } = world;
    const c1 = world.cards['card-1'];
    await platform.customers.topUpPhoneAccount({
      client: 'mart-1',
      idempotencyKey: 't-1',
      msisdn: c1.msisdn,
      amount: 8000,
    });
    await creditWrites('card-1'); // ¥1 loaded with cash, posted: counter 1, a proof of counter 0 on the card
    const { machine, authorizer } = kiosk(world, 'mart-1', { source: 'phoneAccount', msisdn: c1.msisdn });
    const e = await rejection(machine.load({ amount: 5000, card: tearOn(c1.card, INS_CREDIT, 1, 'before') }));
    expect(e).toBeInstanceOf(CardLeftFieldError);
    const torn = authorizer.last;
    expect(await platform.customers.phoneAccount({ msisdn: c1.msisdn })).toEqual({ balance: 8000, available: 3000 });

    const next = await nextContact(c1.card, torn.onlineCounter);
    expect(next).toMatchObject({ balance: 100, onlineCounter: torn.onlineCounter });
    const voided = await platform.wallets.resolveLoad({ loadId: torn.loadId, onlineCounter: next.onlineCounter });
    expect(voided).toEqual({ status: 'voided', float: 100 });
    expect(await platform.wallets.resolveLoad({ loadId: torn.loadId, onlineCounter: next.onlineCounter })).toEqual(
      voided,
    );
    expect(await platform.customers.phoneAccount({ msisdn: c1.msisdn })).toEqual({ balance: 8000, available: 8000 });
    // The other way: a counter past the load with a proof (the card's previous load's) cannot post a voided load.
    const previous = await nextContact(c1.card, 0);
    expect(previous.proof).toBeDefined();
    await expectCode(
      platform.wallets.resolveLoad({ loadId: torn.loadId, onlineCounter: torn.onlineCounter + 1, ...previous.proof! }),
      PLATFORM_ERRORS,
      'LOAD_STATE',
    );
    await expectCode(
      platform.wallets.confirmLoad({ loadId: torn.loadId, tac: '00000000' }),
      PLATFORM_ERRORS,
      'LOAD_STATE',
    );
    expect(await platform.wallets.load({ loadId: torn.loadId })).toMatchObject({ status: 'voided' });
    await expectMoneyMirrorsCards(world);

    // The customer taps again: the kiosk finds its torn load not credited, loads once; the platform authorizes anew.
    const r = await machine.load({ amount: 5000, card: tap(c1.card) });
    expect(r).toMatchObject({ status: 'completed', recovered: undefined, onlineCounter: torn.onlineCounter });
    expect(r.tacVerified).toBe(true);
    expect(authorizer.loads).toHaveLength(2);
    expect(await platform.wallets.load({ loadId: authorizer.last.loadId })).toMatchObject({ status: 'posted' });
    expect(await platform.customers.phoneAccount({ msisdn: c1.msisdn })).toEqual({ balance: 3000, available: 3000 });
    await expectMoneyMirrorsCards(world);
  });

  it('every tear point of CREDIT FOR LOAD: resolveLoad posts exactly when the card credited, the float follows the card', async () => {
    const { platform } = world;
    const c2 = world.cards['card-2'];
    const writes = await creditWrites('card-2');
    const outcomes = new Set<string>();
    for (let w = 1; w <= writes; w++) {
      for (const when of ['before', 'after'] as const) {
        const at = `write ${w} ${when}`;
        const before = await purseBalance(c2.card);
        const { machine, authorizer } = kiosk(world, 'metro-1', { source: 'cash' });
        const e = await rejection(machine.load({ amount: 100, card: tearOn(c2.card, INS_CREDIT, w, when) }));
        expect(e, at).toBeInstanceOf(CardLeftFieldError);
        const load = authorizer.last;
        const next = await nextContact(c2.card, load.onlineCounter);
        const credited = next.balance === before + 100;
        expect([before, before + 100], at).toContain(next.balance);
        expect(next.onlineCounter, at).toBe(load.onlineCounter + (credited ? 1 : 0)); // balance and counter together
        const out = await platform.wallets.resolveLoad({
          loadId: load.loadId,
          onlineCounter: next.onlineCounter,
          ...(credited ? next.proof : {}),
        });
        expect(out, at).toEqual({ status: credited ? 'posted' : 'voided', float: next.balance });
        outcomes.add(out.status);
        machine.discardPending(fromHex(load.cardSerial)); // resolved by the platform, not by the kiosk
      }
    }
    expect([...outcomes].sort()).toEqual(['posted', 'voided']); // both sides of the commit were exercised
    await expectMoneyMirrorsCards(world);
  });
});

describe('clearing against the card', () => {
  it('purchases at the till clear to the merchant: floats down, payable up, points to the holders (1 per yuan, floor)', async () => {
    const { platform } = world;
    const c1 = world.cards['card-1'];
    const c2 = world.cards['card-2'];
    await loadWithCash('card-1', 5000);
    await loadWithCash('card-2', 3000);
    const { machine, terminalId } = till(world, 'pos-1');
    const records = [
      await buy(machine, c1, 1250),
      await buy(machine, c2, 2000),
      await buy(machine, c1, 399),
      await buy(machine, c2, 150),
    ];
    expect(records.map((r) => [r.cardSerial, r.offlineCounter, r.tti, r.terminalId, r.terminalSeq])).toEqual([
      [c1.serial, 0, TTI.EP_PURCHASE, terminalId, 1],
      [c2.serial, 0, TTI.EP_PURCHASE, terminalId, 2],
      [c1.serial, 1, TTI.EP_PURCHASE, terminalId, 3],
      [c2.serial, 1, TTI.EP_PURCHASE, terminalId, 4],
    ]);
    const before = await money(world);
    const outcome = await platform.wallets.submitBatch({ client: 'mart-1', idempotencyKey: 'batch-1', records });
    expect(outcome).toEqual({ accepted: 4, settled: 3799, points: 12 + 3 + 20 + 1, rejected: [], gaps: [] });
    const after = await money(world);
    expect(after.floats['card-1']).toBe(before.floats['card-1'] - 1649);
    expect(after.floats['card-2']).toBe(before.floats['card-2'] - 2150);
    expect(after.payable).toEqual({ 'mart-1': before.payable['mart-1'] + 3799, 'metro-1': before.payable['metro-1'] });
    expect(after.points).toEqual({ 'card-1': 15, 'card-2': 21, 'card-3': 0 });
    // one award per customer and batch: floor per record (12 + 3), summed
    expect((await platform.points.history({ msisdn: c1.msisdn })).lines.map((l) => [l.kind, l.points])).toEqual([
      ['award', 15],
    ]);
    await expectMoneyMirrorsCards(world);
  });

  it('rejects a flipped TAC bit, duplicates (in the batch, of a cleared record, from metro-1) and an unknown card, by index', async () => {
    const { platform } = world;
    const c1 = world.cards['card-1'];
    const c2 = world.cards['card-2'];
    await loadWithCash('card-1', 5000);
    await loadWithCash('card-2', 3000);
    const { machine } = till(world, 'pos-1');
    const cleared = await buy(machine, c1, 500);
    expect(
      await platform.wallets.submitBatch({ client: 'mart-1', idempotencyKey: 'a', records: [cleared] }),
    ).toMatchObject({
      accepted: 1,
      rejected: [],
    });

    const genuine = await buy(machine, c2, 300);
    const fresh = await buy(machine, c1, 250);
    const unknown: PurchaseRecord = { ...cleared, cardSerial: UNISSUED_SERIAL };
    const before = await money(world);
    const outcome = await platform.wallets.submitBatch({
      client: 'mart-1',
      idempotencyKey: 'b',
      records: [{ ...genuine, tac: flipBit(genuine.tac) }, cleared, fresh, fresh, unknown],
    });
    expect(outcome).toEqual({
      accepted: 1,
      settled: 250,
      points: 2,
      rejected: [
        { index: 0, code: 'BAD_TAC' },
        { index: 1, code: 'DUPLICATE' },
        { index: 3, code: 'DUPLICATE' },
        { index: 4, code: 'UNKNOWN_CARD' },
      ],
      gaps: [],
    });
    const after = await money(world);
    expect(after.payable['mart-1']).toBe(before.payable['mart-1'] + 250);
    expect(after.floats).toEqual({ ...before.floats, 'card-1': before.floats['card-1'] - 250 });

    // Another client brings a record mart-1 cleared: DUPLICATE, its merchant gets nothing.
    expect(
      await platform.wallets.submitBatch({ client: 'metro-1', idempotencyKey: 'b', records: [cleared, fresh] }),
    ).toEqual({
      accepted: 0,
      settled: 0,
      points: 0,
      rejected: [
        { index: 0, code: 'DUPLICATE' },
        { index: 1, code: 'DUPLICATE' },
      ],
      gaps: [],
    });
    expect((await money(world)).payable).toEqual(after.payable);

    // The card's float is ahead of the card until the genuine record, with the card's own TAC, clears.
    expect(after.floats['card-2'] - after.purses['card-2']).toBe(300);
    expect(
      await platform.wallets.submitBatch({ client: 'mart-1', idempotencyKey: 'c', records: [genuine] }),
    ).toMatchObject({
      accepted: 1,
      settled: 300,
      rejected: [],
    });
    await expectMoneyMirrorsCards(world);
  });

  it('a skipped offline counter shows as a gap of its card, and disappears once it clears', async () => {
    const { platform } = world;
    const c1 = world.cards['card-1'];
    const c2 = world.cards['card-2'];
    await loadWithCash('card-1', 5000);
    await loadWithCash('card-2', 1000);
    const { machine } = till(world, 'pos-1');
    const [first, second, third] = [
      await buy(machine, c1, 100),
      await buy(machine, c1, 220),
      await buy(machine, c1, 330),
    ];
    const other = await buy(machine, c2, 50);
    expect([first!.offlineCounter, second!.offlineCounter, third!.offlineCounter]).toEqual([0, 1, 2]);

    const out = await platform.wallets.submitBatch({
      client: 'mart-1',
      idempotencyKey: 'g-1',
      records: [first!, third!, other],
    });
    expect(out).toMatchObject({ accepted: 3, settled: 480, rejected: [] });
    expect(out.gaps).toEqual([{ cardSerial: c1.serial, missing: [1] }]);
    const m = await money(world);
    expect(m.floats['card-1'] - m.purses['card-1']).toBe(220); // the gap is the money of the missing record

    const closed = await platform.wallets.submitBatch({ client: 'mart-1', idempotencyKey: 'g-2', records: [second!] });
    expect(closed).toEqual({ accepted: 1, settled: 220, points: 2, rejected: [], gaps: [] });
    await expectMoneyMirrorsCards(world);
  });

  it('composite purchases (CAPP, TTI 09) at a metro gate clear to the metro merchant, without points', async () => {
    const { platform } = world;
    const c1 = world.cards['card-1'];
    await loadWithCash('card-1', 2000);
    const { machine, terminalId } = till(world, 'gate-1', { transit: { fare: flatFare(500), entryCharge: 100 } });
    const entered = clearingRecord(await machine.enter({ station: { line: 2, station: 3 }, card: tap(c1.card) }));
    const exited = clearingRecord(await machine.exit({ station: { line: 2, station: 14 }, card: tap(c1.card) }));
    expect([entered, exited].map((r) => [r.tti, r.amount, r.terminalId, r.offlineCounter])).toEqual([
      [TTI.CAPP_PURCHASE, 100, terminalId, 0],
      [TTI.CAPP_PURCHASE, 400, terminalId, 1],
    ]);
    const before = await money(world);
    const out = await platform.wallets.submitBatch({
      client: 'metro-1',
      idempotencyKey: 'm-1',
      records: [entered, exited],
    });
    expect(out).toEqual({ accepted: 2, settled: 500, points: 0, rejected: [], gaps: [] });
    const after = await money(world);
    expect(after.payable).toEqual({ 'mart-1': before.payable['mart-1'], 'metro-1': before.payable['metro-1'] + 500 });
    expect(after.points).toEqual(before.points);
    // A composite record with one flipped TAC bit is as refused as a plain one.
    const ride = clearingRecord(await machine.enter({ station: { line: 2, station: 5 }, card: tap(c1.card) }));
    expect(
      await platform.wallets.submitBatch({
        client: 'metro-1',
        idempotencyKey: 'm-2',
        records: [{ ...ride, tac: flipBit(ride.tac) }, ride],
      }),
    ).toMatchObject({ accepted: 1, settled: 100, rejected: [{ index: 0, code: 'BAD_TAC' }] });
    await expectMoneyMirrorsCards(world);
  });

  it("a purchase spending a torn load's money clears FLOAT_SHORT until the load is resolved, then clears", async () => {
    const { platform } = world;
    const c1 = world.cards['card-1'];
    const writes = await creditWrites('card-1'); // ¥1, posted
    const { machine: k, authorizer } = kiosk(world, 'mart-1', { source: 'cash' });
    const e = await rejection(k.load({ amount: 3000, card: tearOn(c1.card, INS_CREDIT, writes, 'after') }));
    expect(e).toBeInstanceOf(CardLeftFieldError);
    // The next contact reads the card's word (before a purchase replaces its proof), but it reaches the platform
    // only after the till's batch.
    const next = await nextContact(c1.card, authorizer.last.onlineCounter);
    const { machine } = till(world, 'pos-1');
    const spend = await buy(machine, c1, 2500); // the card has the torn load's money; the float does not yet
    expect(await platform.wallets.submitBatch({ client: 'mart-1', idempotencyKey: 's-1', records: [spend] })).toEqual({
      accepted: 0,
      settled: 0,
      points: 0,
      rejected: [{ index: 0, code: 'FLOAT_SHORT' }],
      gaps: [],
    });
    expect((await money(world)).payable['mart-1']).toBe(0);
    const { loadId, onlineCounter } = authorizer.last;
    expect(next).toMatchObject({ balance: 3100, onlineCounter: onlineCounter + 1 });
    expect(await platform.wallets.resolveLoad({ loadId, onlineCounter: next.onlineCounter, ...next.proof! })).toEqual({
      status: 'posted',
      float: 3100,
    });
    expect(await platform.wallets.submitBatch({ client: 'mart-1', idempotencyKey: 's-2', records: [spend] })).toEqual({
      accepted: 1,
      settled: 2500,
      points: 25,
      rejected: [],
      gaps: [],
    });
    await expectMoneyMirrorsCards(world);
  });
});

describe('clearing batches are idempotent per key', () => {
  async function cardsAndRecords(): Promise<PurchaseRecord[]> {
    await loadWithCash('card-1', 5000);
    await loadWithCash('card-2', 5000);
    const { machine } = till(world, 'pos-1');
    const c1 = world.cards['card-1'];
    const c2 = world.cards['card-2'];
    const bad = await buy(machine, c2, 990);
    const records = [await buy(machine, c1, 1800), await buy(machine, c2, 730), { ...bad, tac: flipBit(bad.tac) }];
    return records;
  }

  it('the same batch again under the same key returns the first outcome and moves no money', async () => {
    const { platform } = world;
    const records = await cardsAndRecords();
    const first = await platform.wallets.submitBatch({ client: 'mart-1', idempotencyKey: 'day-1', records });
    expect(first).toEqual({
      accepted: 2,
      settled: 2530,
      points: 25,
      rejected: [{ index: 2, code: 'BAD_TAC' }],
      gaps: [],
    });
    const before = await money(world);
    const head = (await platform.verify()).journalHead;
    for (let i = 0; i < 2; i++)
      expect(await platform.wallets.submitBatch({ client: 'mart-1', idempotencyKey: 'day-1', records })).toEqual(first);
    // Hex in another case is the same batch.
    const lower = records.map((r) => ({ ...r, tac: r.tac.toLowerCase(), cardSerial: r.cardSerial.toLowerCase() }));
    expect(await platform.wallets.submitBatch({ client: 'mart-1', idempotencyKey: 'day-1', records: lower })).toEqual(
      first,
    );
    expect(await money(world)).toEqual(before);
    expect((await platform.verify()).journalHead).toBe(head);

    // The key is the client's: metro-1's 'day-1' is another batch, whose records cleared already.
    expect(await platform.wallets.submitBatch({ client: 'metro-1', idempotencyKey: 'day-1', records })).toMatchObject({
      accepted: 0,
      rejected: [
        { index: 0, code: 'DUPLICATE' },
        { index: 1, code: 'DUPLICATE' },
        { index: 2, code: 'BAD_TAC' },
      ],
    });
    expect(await money(world)).toEqual(before);
    // The genuine record behind the forged one still clears, so the floats meet the cards.
    const c2 = world.cards['card-2'];
    const bad = records[2]!;
    await platform.wallets.submitBatch({
      client: 'mart-1',
      idempotencyKey: 'day-2',
      records: [{ ...bad, tac: flipBit(bad.tac) }],
    });
    expect((await platform.wallets.float({ cardSerial: c2.serial })).balance).toBe(await purseBalance(c2.card));
    await expectMoneyMirrorsCards(world);
  });

  it('the same key with another batch is IDEMPOTENCY_CONFLICT, and nothing of that batch moves', async () => {
    const { platform } = world;
    const records = await cardsAndRecords();
    const first = await platform.wallets.submitBatch({
      client: 'mart-1',
      idempotencyKey: 'day-1',
      records: records.slice(0, 1),
    });
    expect(first).toMatchObject({ accepted: 1, settled: 1800 });
    const before = await money(world);
    const e = await rejection(platform.wallets.submitBatch({ client: 'mart-1', idempotencyKey: 'day-1', records }));
    expect(e).toBeInstanceOf(LedgerError);
    expect(e).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    expect(e).not.toBeInstanceOf(PlatformError);
    expect(await money(world)).toEqual(before);
    // Nothing of the refused batch cleared: under a new key its records clear now.
    const bad = records[2]!;
    const rest = [records[1]!, { ...bad, tac: flipBit(bad.tac) }];
    expect(await platform.wallets.submitBatch({ client: 'mart-1', idempotencyKey: 'day-2', records: rest })).toEqual({
      accepted: 2,
      settled: 1720,
      points: 7 + 9,
      rejected: [],
      gaps: [],
    });
    await expectMoneyMirrorsCards(world);
  });
});

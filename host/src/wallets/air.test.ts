/**
 * Air loads, the money rules alone (the OTA service drives them through a phone in tests/ota): held at once,
 * a card session recorded only after a verified MAC1, refunded only before any session, settled by the card's
 * proof or a verified counter, never by an application's word.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEYS_ERRORS } from '../keys';
import { LEDGER_ERRORS } from '../ledger';
import { ACCOUNT, PLATFORM_ERRORS, type Platform } from '../platform';
import {
  CARD1,
  flipHex,
  loadParams,
  loadTacOf,
  rejectsWithCode,
  SERIAL1,
  testPlatform,
} from '../platform/platform.test-support';

let platform: Platform;
const phone = async () => platform.ledger.getAccount(ACCOUNT.phone(CARD1.msisdn));
const hold = (key: string, amount = 3000, client = 'mart-1') =>
  platform.wallets.holdAirLoad({
    client,
    idempotencyKey: key,
    method: 'wallet.airTopUp',
    msisdn: CARD1.msisdn,
    amount,
  });
/** What INITIALIZE FOR LOAD of card-1 answers, as beginAirSession takes it. */
const init = (loadId: string, o: { amount: number; oldBalance: number; onlineCounter: number; random?: string }) => {
  const { terminalId, oldBalance, onlineCounter, random, mac1, date, time } = loadParams('card-1', { ...o, key: 'x' });
  return { loadId, terminalId, oldBalance, onlineCounter, random, mac1, date, time };
};

beforeEach(async () => {
  ({ platform } = await testPlatform());
  await platform.customers.topUpPhoneAccount({
    client: 'mart-1',
    idempotencyKey: 'top',
    msisdn: CARD1.msisdn,
    amount: 10_000,
  });
});
afterEach(async () => {
  expect(await platform.verify()).toMatchObject({ ok: true, sum: 0 });
  await platform.close();
});

describe('air loads', () => {
  it('hold → session after a verified MAC1 → posted on the TAC; the request again answers the same load', async () => {
    const h = await hold('a1');
    expect(h).toMatchObject({ cardSerial: SERIAL1, status: 'pending' });
    expect(await phone()).toMatchObject({ balance: 10_000, reserved: 3000 });
    expect(await platform.wallets.load({ loadId: h.loadId })).toMatchObject({ air: true, onlineCounter: null });
    const o = { amount: 3000, oldBalance: 0, onlineCounter: 0 };
    await rejectsWithCode(
      platform.wallets.beginAirSession({ ...init(h.loadId, o), mac1: flipHex(init(h.loadId, o).mac1) }),
      KEYS_ERRORS,
      'BAD_MAC1',
    );
    expect(await platform.wallets.airSession(h.loadId)).toBeUndefined();
    const start = await platform.wallets.beginAirSession(init(h.loadId, o));
    expect(start.kind).toBe('mac2');
    expect(await platform.wallets.airSession(h.loadId)).toMatchObject({ onlineCounter: 0, attempt: 1 });
    // A session exists: no refund on anyone's word any more.
    await rejectsWithCode(platform.wallets.cancelAirLoad({ loadId: h.loadId }), PLATFORM_ERRORS, 'LOAD_STATE');
    // An application system cannot resolve an air load by a counter.
    await rejectsWithCode(
      platform.wallets.resolveLoad({ loadId: h.loadId, onlineCounter: 0 }),
      PLATFORM_ERRORS,
      'LOAD_STATE',
    );
    expect(await platform.wallets.confirmLoad({ loadId: h.loadId, tac: loadTacOf('card-1', o) })).toEqual({
      status: 'posted',
      float: 3000,
    });
    expect(await phone()).toMatchObject({ balance: 7000, reserved: 0 });
    expect(await hold('a1')).toEqual({ ...h, status: 'posted' });
    await rejectsWithCode(hold('a1', 3001), LEDGER_ERRORS, 'IDEMPOTENCY_CONFLICT');
  });

  it('refunds a load only before any session, once; a session can no longer begin after it', async () => {
    const h = await hold('a2');
    expect(await platform.wallets.cancelAirLoad({ loadId: h.loadId, reason: 'test' })).toEqual({ status: 'voided' });
    expect(await platform.wallets.cancelAirLoad({ loadId: h.loadId })).toEqual({ status: 'voided' });
    expect(await phone()).toMatchObject({ balance: 10_000, reserved: 0 });
    await rejectsWithCode(
      platform.wallets.beginAirSession(init(h.loadId, { amount: 3000, oldBalance: 0, onlineCounter: 0 })),
      PLATFORM_ERRORS,
      'LOAD_STATE',
    );
  });

  it('a session at the same counter replaces the last (its CREDIT never happened); a counter past it settles the load', async () => {
    const h = await hold('a3');
    const o = { amount: 3000, oldBalance: 0, onlineCounter: 0 };
    expect((await platform.wallets.beginAirSession(init(h.loadId, o))).kind).toBe('mac2');
    expect((await platform.wallets.beginAirSession(init(h.loadId, { ...o, random: '99887766' }))).kind).toBe('mac2');
    expect(await platform.wallets.airSession(h.loadId)).toMatchObject({ attempt: 2, random: '99887766' });
    // The card's verified MAC1 now shows counter 1 and the balance credited: the only load at counter 0 was credited.
    const later = await platform.wallets.beginAirSession(
      init(h.loadId, { amount: 3000, oldBalance: 3000, onlineCounter: 1 }),
    );
    expect(later).toEqual({ kind: 'settled', status: 'posted' });
    expect(await platform.wallets.float({ cardSerial: SERIAL1 })).toEqual({ balance: 3000 });
  });

  it("settles a torn load from the card's GET TRANSACTION PROVE: this load's MAC2 and TAC only", async () => {
    const h = await hold('a4');
    const o = { amount: 3000, oldBalance: 0, onlineCounter: 0 };
    const start = await platform.wallets.beginAirSession(init(h.loadId, o));
    if (start.kind !== 'mac2') throw new Error('expected a MAC2');
    const tac = loadTacOf('card-1', o);
    await rejectsWithCode(
      platform.wallets.proveAirLoad({ loadId: h.loadId, mac2: flipHex(start.mac2), tac }),
      PLATFORM_ERRORS,
      'BAD_TAC',
    );
    await rejectsWithCode(
      platform.wallets.proveAirLoad({ loadId: h.loadId, mac2: start.mac2, tac: flipHex(tac) }),
      PLATFORM_ERRORS,
      'BAD_TAC',
    );
    expect((await platform.wallets.load({ loadId: h.loadId })).status).toBe('pending');
    expect(await platform.wallets.proveAirLoad({ loadId: h.loadId, mac2: start.mac2, tac })).toEqual({
      status: 'posted',
      float: 3000,
    });
  });

  it('refuses what would go over the purse maximum (float and loads in flight count), an unknown customer, a lost card', async () => {
    await hold('b1', 6000);
    await rejectsWithCode(hold('b2', 95_000), PLATFORM_ERRORS, 'BALANCE_LIMIT');
    await rejectsWithCode(
      platform.wallets.holdAirLoad({
        client: 'mart-1',
        idempotencyKey: 'b3',
        method: 'wallet.airTopUp',
        msisdn: '13999999999',
        amount: 1,
      }),
      PLATFORM_ERRORS,
      'UNKNOWN_CUSTOMER',
    );
    await rejectsWithCode(hold('b4', 20_000), LEDGER_ERRORS, 'INSUFFICIENT_FUNDS');
    await platform.contactless.reportLost({ cardSerial: SERIAL1 });
    await rejectsWithCode(hold('b5', 100), PLATFORM_ERRORS, 'CARD_BLOCKED');
    // The refusals are bound to their keys: the same call answers the same even if things change.
    await rejectsWithCode(hold('b2', 95_000), PLATFORM_ERRORS, 'BALANCE_LIMIT');
  });
});

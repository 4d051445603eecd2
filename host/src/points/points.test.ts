import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LEDGER_ERRORS } from '../ledger';
import { ACCOUNT, PLATFORM_ERRORS, type Platform } from '../platform';
import {
  CARD1,
  loadParams,
  loadTacOf,
  purchaseRecord,
  rejectsWithCode,
  testPlatform,
} from '../platform/platform.test-support';

let platform: Platform;
let clock: { now: number };
const MSISDN = CARD1.msisdn;
const DAY = 24 * 60 * 60 * 1000;

beforeEach(async () => {
  ({ platform, clock } = await testPlatform());
  const load = { amount: 20_000, oldBalance: 0, onlineCounter: 0 };
  const { loadId } = await platform.wallets.authorizeLoad({
    ...loadParams('card-1', { ...load, key: 'l' }),
    funding: { source: 'cash' },
  });
  await platform.wallets.confirmLoad({ loadId, tac: loadTacOf('card-1', load) });
});
afterEach(async () => {
  expect(await platform.verify()).toMatchObject({ ok: true, sum: 0 });
  await platform.close();
});

describe('points', () => {
  it("awards floor(yuan × the merchant's rate) on cleared purchases, none where the rate is 0", async () => {
    await platform.wallets.submitBatch({
      client: 'mart-1',
      idempotencyKey: 'b',
      records: [purchaseRecord('card-1', 0, 1299)],
    });
    await platform.wallets.submitBatch({
      client: 'metro-1',
      idempotencyKey: 'b',
      records: [purchaseRecord('card-1', 1, 900)],
    });
    expect(await platform.points.balance({ msisdn: MSISDN })).toEqual({ points: 12 });
    expect((await platform.ledger.getAccount(ACCOUNT.pointsFunding))?.balance).toBe(-12);
    expect((await platform.points.history({ msisdn: MSISDN })).lines).toMatchObject([{ points: 12, kind: 'award' }]);
  });

  it('redeems points into the phone account, once per key, never more than there are', async () => {
    await platform.wallets.submitBatch({
      client: 'mart-1',
      idempotencyKey: 'b',
      records: [purchaseRecord('card-1', 0, 5000)],
    });
    const r = await platform.points.redeem({ client: 'mart-1', idempotencyKey: 'r1', msisdn: MSISDN, points: 30 });
    expect(r).toEqual({ points: 20, balance: 30, credited: 30 });
    expect(
      await platform.points.redeem({ client: 'mart-1', idempotencyKey: 'r1', msisdn: MSISDN, points: 30 }),
    ).toEqual(r);
    await rejectsWithCode(
      platform.points.redeem({ client: 'mart-1', idempotencyKey: 'r2', msisdn: MSISDN, points: 21 }),
      LEDGER_ERRORS,
      'INSUFFICIENT_FUNDS',
    );
    await rejectsWithCode(
      platform.points.redeem({ client: 'mart-1', idempotencyKey: 'r3', msisdn: '13999999999', points: 1 }),
      PLATFORM_ERRORS,
      'UNKNOWN_CUSTOMER',
    );
    expect(await platform.customers.phoneAccount({ msisdn: MSISDN })).toMatchObject({ balance: 30 });
  });

  it('expires points not spent within the expiry, oldest first, once', async () => {
    await platform.wallets.submitBatch({
      client: 'mart-1',
      idempotencyKey: 'b1',
      records: [purchaseRecord('card-1', 0, 5000)],
    });
    clock.now += 200 * DAY;
    await platform.wallets.submitBatch({
      client: 'mart-1',
      idempotencyKey: 'b2',
      records: [purchaseRecord('card-1', 1, 2000)],
    });
    await platform.points.redeem({ client: 'mart-1', idempotencyKey: 'r', msisdn: MSISDN, points: 10 });
    clock.now += 200 * DAY; // the first award (50) is 400 days old, the second (20) 200
    expect(await platform.points.expire()).toEqual({ expired: [{ msisdn: MSISDN, points: 40 }] });
    expect(await platform.points.expire()).toEqual({ expired: [] });
    expect(await platform.points.balance({ msisdn: MSISDN })).toEqual({ points: 20 });
  });
});

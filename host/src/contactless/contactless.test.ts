import { fromHex } from '@simtap/sdk/core/bytes';
import { CORE_ERRORS } from '@simtap/sdk/core/errors';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyBlacklistSignature } from '../keys';
import { PLATFORM_ERRORS, type Platform } from '../platform';
import { ACCOUNT } from '../platform/accounts';
import {
  CARD1,
  CARD2,
  loadParams,
  loadTacOf,
  purchaseRecord,
  rejectsWithCode,
  SERIAL1,
  SERIAL2,
  testPlatform,
} from '../platform/platform.test-support';
import { blacklistMessage } from './index';

let platform: Platform;
const NEW = {
  cardSerial: '00004401202600000101',
  iccid: '8986004401202601010F',
  msisdn: '13900000101',
  kdd: '00004401202600000101',
};

beforeEach(async () => {
  ({ platform } = await testPlatform());
});
afterEach(async () => {
  expect(await platform.verify()).toMatchObject({ ok: true, sum: 0 });
  await platform.close();
});

describe('card registry and life cycle', () => {
  it('starts with the profile cards active and follows issued → personalized → active → blocked / lost', async () => {
    expect(await platform.contactless.get({ cardSerial: SERIAL1 })).toEqual({
      cardSerial: SERIAL1,
      msisdn: CARD1.msisdn,
      iccid: CARD1.iccid,
      status: 'active',
    });
    const cm = platform.contactless;
    await cm.issue(NEW);
    await cm.issue(NEW);
    await rejectsWithCode(cm.issue({ ...NEW, msisdn: '13900000102' }), PLATFORM_ERRORS, 'CARD_STATE');
    await rejectsWithCode(cm.activate({ cardSerial: NEW.cardSerial }), PLATFORM_ERRORS, 'CARD_STATE');
    await cm.markPersonalized({ cardSerial: NEW.cardSerial });
    await cm.activate({ cardSerial: NEW.cardSerial });
    await cm.block({ cardSerial: NEW.cardSerial });
    await cm.activate({ cardSerial: NEW.cardSerial });
    await cm.reportLost({ cardSerial: NEW.cardSerial });
    await rejectsWithCode(cm.activate({ cardSerial: NEW.cardSerial }), PLATFORM_ERRORS, 'CARD_STATE');
    await rejectsWithCode(cm.get({ cardSerial: '00004401202600000099' }), PLATFORM_ERRORS, 'UNKNOWN_CARD');
    await rejectsWithCode(cm.get({ cardSerial: 'nope' }), CORE_ERRORS, 'BAD_ARGUMENT');
    expect((await cm.list({ status: 'active' })).cards.map((c) => c.cardSerial)).toHaveLength(3);
    expect((await cm.list({ msisdn: CARD1.msisdn })).cards).toMatchObject([{ cardSerial: SERIAL1, float: 0 }]);
  });
});

describe('blacklist', () => {
  it('versions every change and gives machines signed net deltas', async () => {
    const cm = platform.contactless;
    expect(await cm.blacklist()).toEqual({ version: 0, added: [], removed: [] });
    expect(await cm.reportLost({ cardSerial: SERIAL1 })).toEqual({ status: 'lost', blacklistVersion: 1 });
    expect(await cm.reportLost({ cardSerial: SERIAL1 })).toEqual({ status: 'lost', blacklistVersion: 1 });
    await cm.block({ cardSerial: SERIAL2 }); // 2
    await cm.activate({ cardSerial: SERIAL2 }); // 3
    expect(await cm.blacklist({ sinceVersion: 0 })).toEqual({ version: 3, added: [SERIAL1], removed: [] });
    expect(await cm.blacklist({ sinceVersion: 1 })).toEqual({ version: 3, added: [], removed: [] });
    expect(await cm.blacklist({ sinceVersion: 2 })).toEqual({ version: 3, added: [], removed: [SERIAL2] });
    expect(await cm.blacklist({ sinceVersion: 3 })).toEqual({ version: 3, added: [], removed: [] });
    await rejectsWithCode(cm.blacklist({ sinceVersion: 4 }), CORE_ERRORS, 'BAD_ARGUMENT');

    const signed = await cm.signedBlacklist({ sinceVersion: 2 });
    const key = fromHex(await cm.blacklistPublicKey());
    expect(verifyBlacklistSignature(key, blacklistMessage(signed), fromHex(signed.signature))).toBe(true);
    const forged = { ...signed, removed: [], added: [SERIAL2] };
    expect(verifyBlacklistSignature(key, blacklistMessage(forged), fromHex(signed.signature))).toBe(false);
    expect(verifyBlacklistSignature(key, blacklistMessage({ ...signed, since: 0 }), fromHex(signed.signature))).toBe(
      false,
    );
  });

  it('gives concurrent changes distinct versions (compare-and-set)', async () => {
    const cm = platform.contactless;
    const r = await Promise.all([cm.reportLost({ cardSerial: SERIAL1 }), cm.reportLost({ cardSerial: SERIAL2 })]);
    expect(r.map((x) => x.blacklistVersion).sort()).toEqual([1, 2]);
    expect(await cm.blacklist()).toEqual({ version: 2, added: [SERIAL1, SERIAL2].sort(), removed: [] });
  });
});

describe('lost card replacement', () => {
  const replacement = { cardSerial: NEW.cardSerial, iccid: NEW.iccid, kdd: NEW.kdd };
  const DAY = 24 * 3600 * 1000;
  /** Card-1 loaded with 4200 fen in cash at a kiosk. */
  async function loaded(p: Platform): Promise<void> {
    const load = { amount: 4200, oldBalance: 0, onlineCounter: 0 };
    const { loadId } = await p.wallets.authorizeLoad({
      ...loadParams('card-1', { ...load, key: 'l' }),
      funding: { source: 'cash' },
    });
    await p.wallets.confirmLoad({ loadId, tac: loadTacOf('card-1', load) });
  }
  const clear = (p: Platform, key: string, records: ReturnType<typeof purchaseRecord>[]) =>
    p.wallets.submitBatch({ client: 'mart-1', idempotencyKey: key, records });
  const phone = async (p: Platform) => (await p.ledger.getAccount(ACCOUNT.phone(CARD1.msisdn)))?.balance ?? 0;
  const payable = async (p: Platform) => (await p.merchantBalance({ client: 'mart-1' })).payable;

  it("holds the lost card's float for its late offline records, then moves what is left to the phone account, once", async () => {
    await platform.close();
    const t = await testPlatform(); // the default hold: 7 days
    platform = t.platform;
    await loaded(platform);
    const cm = platform.contactless;
    const phoneBefore = await phone(platform);
    const payableBefore = await payable(platform);
    // Bought offline at a bus before the loss report; the bus uploads the next day, after the replacement.
    const early = purchaseRecord('card-1', 0, 1000);
    await rejectsWithCode(cm.replaceCard({ lostCardSerial: SERIAL1, replacement }), PLATFORM_ERRORS, 'CARD_STATE');
    await cm.reportLost({ cardSerial: SERIAL1 });
    const reportedAt = t.clock.now;
    const heldUntil = new Date(reportedAt + 7 * DAY).toISOString();
    expect(await cm.replaceCard({ lostCardSerial: SERIAL1, replacement })).toEqual({
      cardSerial: NEW.cardSerial,
      moved: 0,
      movedTo: null,
      held: 4200,
      heldUntil,
    });
    expect(await cm.get({ cardSerial: NEW.cardSerial })).toMatchObject({ msisdn: CARD1.msisdn, status: 'issued' });
    t.clock.now += DAY;
    expect(await clear(platform, 'late-1', [early])).toMatchObject({ accepted: 1, settled: 1000, rejected: [] });
    expect(await platform.wallets.float({ cardSerial: SERIAL1 })).toEqual({ balance: 3200 });
    // Asked again inside the hold: still held, now 3200.
    expect(await cm.replaceCard({ lostCardSerial: SERIAL1, replacement })).toMatchObject({ moved: 0, held: 3200 });
    t.clock.now = reportedAt + 7 * DAY - 1;
    expect(await cm.replaceCard({ lostCardSerial: SERIAL1, replacement })).toMatchObject({ moved: 0, held: 3200 });
    // After the hold: what is left goes to the customer's phone account, once, whoever asks how often.
    t.clock.now = reportedAt + 7 * DAY;
    const done = { cardSerial: NEW.cardSerial, moved: 3200, movedTo: 'phoneAccount', held: 0, heldUntil: null };
    const answers = await Promise.all([1, 2, 3].map(() => cm.replaceCard({ lostCardSerial: SERIAL1, replacement })));
    expect(answers).toEqual([done, done, done]);
    expect(await cm.replaceCard({ lostCardSerial: SERIAL1, replacement })).toEqual(done);
    expect(await platform.wallets.float({ cardSerial: SERIAL1 })).toEqual({ balance: 0 });
    expect(await platform.wallets.float({ cardSerial: NEW.cardSerial })).toEqual({ balance: 0 });
    expect((await phone(platform)) - phoneBefore).toBe(3200);
    // A record uploaded after the hold finds nothing left: refused, not paid twice.
    const tooLate = purchaseRecord('card-1', 1, 500);
    expect(await clear(platform, 'late-2', [tooLate])).toMatchObject({
      accepted: 0,
      rejected: [{ code: 'FLOAT_SHORT' }],
    });
    // Every fen of the 4200 loaded: 1000 to the merchant for what the card paid, 3200 back to the customer.
    expect((await payable(platform)) - payableBefore).toBe(1000);
    await rejectsWithCode(
      cm.replaceCard({ lostCardSerial: SERIAL1, replacement: { ...replacement, cardSerial: '00004401202600000102' } }),
      PLATFORM_ERRORS,
      'CARD_STATE',
    );
  });

  it('without a hold moves the float to the replacement at once (a later record is FLOAT_SHORT)', async () => {
    await platform.close();
    ({ platform } = await testPlatform({ lostCardHoldMs: 0 }));
    await loaded(platform);
    const cm = platform.contactless;
    await cm.reportLost({ cardSerial: SERIAL1 });
    const done = { cardSerial: NEW.cardSerial, moved: 4200, movedTo: 'card', held: 0, heldUntil: null };
    expect(await cm.replaceCard({ lostCardSerial: SERIAL1, replacement })).toEqual(done);
    expect(await cm.replaceCard({ lostCardSerial: SERIAL1, replacement })).toEqual(done);
    expect(await platform.wallets.float({ cardSerial: NEW.cardSerial })).toEqual({ balance: 4200 });
    expect(await platform.wallets.float({ cardSerial: SERIAL1 })).toEqual({ balance: 0 });
    expect(await cm.get({ cardSerial: NEW.cardSerial })).toMatchObject({ msisdn: CARD1.msisdn, status: 'issued' });
    expect(await clear(platform, 'late', [purchaseRecord('card-1', 0, 1000)])).toMatchObject({
      accepted: 0,
      rejected: [{ index: 0, code: 'FLOAT_SHORT' }],
    });
  });

  it('refuses a negative or fractional hold', async () => {
    for (const lostCardHoldMs of [-1, 1.5])
      await expect(testPlatform({ lostCardHoldMs })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});

describe('releasing ended holds (what simtap-host does every hour)', () => {
  it('moves the float of every lost card whose hold has ended to its phone account, once, replaced or not', async () => {
    await platform.close();
    const t = await testPlatform();
    platform = t.platform;
    const cm = platform.contactless;
    for (const [label, key, amount] of [
      ['card-1', 'l1', 4200],
      ['card-2', 'l2', 1500],
    ] as const) {
      const load = { amount, oldBalance: 0, onlineCounter: 0 };
      const { loadId } = await platform.wallets.authorizeLoad({
        ...loadParams(label, { ...load, key }),
        funding: { source: 'cash' },
      });
      await platform.wallets.confirmLoad({ loadId, tac: loadTacOf(label, load) });
    }
    const phoneOf = async (msisdn: string) => (await platform.ledger.getAccount(ACCOUNT.phone(msisdn)))?.balance ?? 0;
    const before = [await phoneOf(CARD1.msisdn), await phoneOf(CARD2.msisdn)];
    await cm.reportLost({ cardSerial: SERIAL1 });
    await cm.replaceCard({
      lostCardSerial: SERIAL1,
      replacement: { cardSerial: NEW.cardSerial, iccid: NEW.iccid, kdd: NEW.kdd },
    });
    t.clock.now += 3 * 24 * 3600 * 1000;
    await cm.reportLost({ cardSerial: SERIAL2 }); // reported three days later, never replaced
    expect(await cm.releaseEndedHolds()).toEqual([]); // neither hold has ended
    t.clock.now += 4 * 24 * 3600 * 1000; // card-1's hold ends now, card-2's in three days
    expect(await cm.releaseEndedHolds()).toEqual([{ cardSerial: SERIAL1, moved: 4200 }]);
    expect(await cm.releaseEndedHolds()).toEqual([]);
    t.clock.now += 3 * 24 * 3600 * 1000;
    const [a, b] = await Promise.all([cm.releaseEndedHolds(), cm.releaseEndedHolds()]);
    expect([...a, ...b]).toEqual([{ cardSerial: SERIAL2, moved: 1500 }]); // two sweeps at once: one after the other
    expect([(await phoneOf(CARD1.msisdn)) - before[0]!, (await phoneOf(CARD2.msisdn)) - before[1]!]).toEqual([
      4200, 1500,
    ]);
    expect(await platform.wallets.float({ cardSerial: SERIAL1 })).toEqual({ balance: 0 });
    expect(await platform.wallets.float({ cardSerial: SERIAL2 })).toEqual({ balance: 0 });
    // Asking cards.replace afterwards answers what the sweep did.
    expect(
      await cm.replaceCard({
        lostCardSerial: SERIAL1,
        replacement: { cardSerial: NEW.cardSerial, iccid: NEW.iccid, kdd: NEW.kdd },
      }),
    ).toEqual({ cardSerial: NEW.cardSerial, moved: 4200, movedTo: 'phoneAccount', held: 0, heldUntil: null });
  });

  it('does nothing without a hold', async () => {
    await platform.close();
    ({ platform } = await testPlatform({ lostCardHoldMs: 0 }));
    await platform.contactless.reportLost({ cardSerial: SERIAL1 });
    expect(await platform.contactless.releaseEndedHolds()).toEqual([]);
  });
});

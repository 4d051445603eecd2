import { fromHex } from '@simtap/sdk/core/bytes';
import { CORE_ERRORS } from '@simtap/sdk/core/errors';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyBlacklistSignature } from '../keys';
import { PLATFORM_ERRORS, type Platform } from '../platform';
import {
  CARD1,
  loadParams,
  loadTacOf,
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
  it("moves the lost card's float to its replacement, exactly once", async () => {
    const load = { amount: 4200, oldBalance: 0, onlineCounter: 0 };
    const { loadId } = await platform.wallets.authorizeLoad({
      ...loadParams('card-1', { ...load, key: 'l' }),
      funding: { source: 'cash' },
    });
    await platform.wallets.confirmLoad({ loadId, tac: loadTacOf('card-1', load) });
    const cm = platform.contactless;
    const replacement = { cardSerial: NEW.cardSerial, iccid: NEW.iccid, kdd: NEW.kdd };
    await rejectsWithCode(cm.replaceCard({ lostCardSerial: SERIAL1, replacement }), PLATFORM_ERRORS, 'CARD_STATE');
    await cm.reportLost({ cardSerial: SERIAL1 });
    expect(await cm.replaceCard({ lostCardSerial: SERIAL1, replacement })).toEqual({
      cardSerial: NEW.cardSerial,
      moved: 4200,
    });
    expect(await cm.replaceCard({ lostCardSerial: SERIAL1, replacement })).toEqual({
      cardSerial: NEW.cardSerial,
      moved: 4200,
    });
    expect(await platform.wallets.float({ cardSerial: NEW.cardSerial })).toEqual({ balance: 4200 });
    expect(await platform.wallets.float({ cardSerial: SERIAL1 })).toEqual({ balance: 0 });
    expect(await cm.get({ cardSerial: NEW.cardSerial })).toMatchObject({ msisdn: CARD1.msisdn, status: 'issued' });
    await rejectsWithCode(
      cm.replaceCard({ lostCardSerial: SERIAL1, replacement: { ...replacement, cardSerial: '00004401202600000102' } }),
      PLATFORM_ERRORS,
      'CARD_STATE',
    );
  });
});

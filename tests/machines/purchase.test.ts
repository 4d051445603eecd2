/**
 * End to end: the SDK's machines against the real e-purse and PSAM applets, in process. card-1 of the reference
 * profile, PSAM pos-1; every balance and counter is read back from the card.
 */
import { toHex } from '@simtap/sdk/core/bytes';
import { InsufficientBalanceError, StatusWordError } from '@simtap/sdk/core/iso7816';
import { ISO14443_106, ISO14443_424 } from '@simtap/sdk/core/iso14443';
import { purchaseTac, TTI } from '@simtap/sdk/core/pboc';
import { cardProfile } from '@simtap/sdk/core/profile';
import { CardLockedError, MacError, PsamDriver, type PurchaseResult } from '@simtap/sdk/machines';
import { describe, expect, it } from 'vitest';
import {
  clearing,
  clears,
  corruptResponseOn,
  kiosk,
  pos,
  psamCard,
  purseCard,
  readPurse,
  terminalIdOf,
} from './fixtures';

const card1 = cardProfile('card-1');

describe('load ¥50, purchase ¥12.50', () => {
  it('loads 5000 fen at the kiosk, then a POS debits 1250 fen with a TAC the issuer can verify', async () => {
    const card = purseCard();
    const loaded = await kiosk(card).load({ amount: 5000 });
    expect(loaded).toMatchObject({ amount: 5000, balanceBefore: 0, balanceAfter: 5000, onlineCounter: 0 });
    expect(loaded.tacVerified).toBe(true);
    expect(clears(loaded)).toBe(true);
    expect(readPurse(card)).toMatchObject({ balance: 5000, onlineCounter: 1, offlineCounter: 0 });

    const { machine } = pos(card);
    const r = await machine.purchase({ amount: 1250 });
    if (r.status !== 'completed') throw new Error('expected a completed purchase');
    expect(r).toMatchObject({
      kind: 'purchase',
      tti: TTI.EP_PURCHASE,
      amount: 1250,
      balanceBefore: 5000,
      balanceAfter: 3750,
      offlineCounter: 0,
      terminalTxnSeq: 1,
      mac2Verified: true,
      recovered: undefined,
      apduCount: 4,
      psamApduCount: 2,
    });
    expect(toHex(r.cardSerial)).toBe(toHex(card1.applicationSerial));
    expect(toHex(r.terminalId)).toBe(toHex(terminalIdOf('pos-1')));
    // the record carries the TAC as the card computed it with its TAC key …
    const tac = purchaseTac({
      tacKey: card1.tacSingleDesKey,
      amount: 1250,
      tti: TTI.EP_PURCHASE,
      terminalId: r.terminalId,
      terminalTxnSeq: r.terminalTxnSeq,
      date: r.date,
      time: r.time,
    });
    expect(toHex(r.tac)).toBe(toHex(tac));
    // … and clearing verifies it with the key it derives from the issuer's TAC master key
    expect(toHex(clearing.purchaseTac(r, r.cardSerial))).toBe(toHex(tac));
    expect(clearing.verifyPurchase(r, r.cardSerial)).toBe(true);

    const state = readPurse(card);
    expect(state).toMatchObject({ balance: 3750, offlineCounter: 1, onlineCounter: 1 });
    expect(state.log[0]).toMatchObject({ counter: 0, amount: 1250, tti: TTI.EP_PURCHASE });
    expect(state.log[1]).toMatchObject({ counter: 0, amount: 5000, tti: TTI.EP_LOAD });
  });

  it('no POS PSAM can make a TAC: DES INIT with the TAC key usage (80 1A 44) is refused', async () => {
    const card = purseCard('card-1', 5000);
    const r = await pos(card).machine.purchase({ amount: 1250 });
    expect(clears(r)).toBe(true);
    for (const label of ['pos-1', 'gate-1']) {
      const driver = new PsamDriver(psamCard(label).channel);
      await driver.open();
      const e = await driver.desInit(0x44, 1, r.cardSerial.subarray(2)).catch((x: unknown) => x);
      expect(e, label).toBeInstanceOf(StatusWordError); // refused (6A88, 6985 or 6A86: which is the PSAM's choice)
      // and without a work key there is nothing to MAC the purchase data with
      const mac = await driver.desCrypt(0x01, 0x00, new Uint8Array(22)).catch((x: unknown) => x);
      expect(mac, label).toBeInstanceOf(StatusWordError);
    }
  });

  it('successive purchases advance the counter and the terminal sequence; selecting through the PPSE works', async () => {
    const card = purseCard('card-1', 1000);
    const records: PurchaseResult[] = [];
    const { machine } = pos(card, 'pos-1', { selectVia: 'ppse', onRecord: (x) => records.push(x) });
    for (let i = 0; i < 3; i++) await machine.purchase({ amount: 100 });
    expect(records.every(clears)).toBe(true);
    expect(records.map((x) => [x.offlineCounter, x.terminalTxnSeq, x.balanceAfter, x.apduCount])).toEqual([
      [0, 1, 900, 5],
      [1, 2, 800, 5],
      [2, 3, 700, 5],
    ]);
    expect(readPurse(card)).toMatchObject({ balance: 700, offlineCounter: 3 });
  });

  it('reports the tap time at 106 and 424 kbit/s', async () => {
    const card = purseCard('card-1', 5000);
    const slow = await pos(card, 'pos-1', { linkProfile: ISO14443_106 }).machine.purchase({ amount: 100 });
    const fast = await pos(card, 'pos-1', { linkProfile: ISO14443_424 }).machine.purchase({ amount: 100 });
    expect(slow.tapTime).toMatchObject({ link: '106 kbit/s', apduCount: 4 });
    expect(fast.tapTime).toMatchObject({ link: '424 kbit/s', apduCount: 4 });
    expect(fast.tapTime.bytesUp).toBe(slow.tapTime.bytesUp);
    expect(fast.tapTime.totalUs).toBeLessThan(slow.tapTime.totalUs);
    // The default model is the patent's SIM (Java Card behind SWP) at a till: the card computes most of the tap, so
    // four times the bit rate saves little (docs/tap-time.md); the split adds up to the total.
    const { readerUs, airUs, linkUs, cardUs } = slow.tapTime.split;
    expect(readerUs + airUs + linkUs + cardUs).toBeCloseTo(slow.tapTime.totalUs, 0);
    expect(cardUs / (airUs + linkUs + cardUs)).toBeGreaterThan(0.8);
    expect(1 - fast.tapTime.totalUs / slow.tapTime.totalUs).toBeLessThan(0.05);
    expect(slow.tapTime.profiles).toEqual({ card: 'javacard-sim', reader: 'till', simLink: 'swp' });
  });
});

describe('refusals', () => {
  it('insufficient balance: InsufficientBalanceError, nothing moves', async () => {
    const card = purseCard('card-1', 1000);
    const { machine, psam } = pos(card);
    const seqBefore = psam.persistentWrites;
    const e = await machine.purchase({ amount: 1250 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InsufficientBalanceError);
    expect(e).toMatchObject({ code: 'SW_9401', sw: 0x9401 });
    expect(psam.persistentWrites).toBe(seqBefore + 0); // the PSAM computed no MAC1
    expect(readPurse(card)).toMatchObject({ balance: 1000, offlineCounter: 0 });
    expect(machine.pending).toEqual([]);
  });

  it('a PSAM with the wrong purchase key: the card refuses MAC1 (MacError, card) and locks after 3 (CardLockedError)', async () => {
    const card = purseCard('card-1', 5000);
    const { machine } = pos(card, 'pos-1', {}, { masterKeys: { purchaseMasterKey: new Uint8Array(16).fill(7) } });
    for (let i = 0; i < 3; i++) {
      const e = await machine.purchase({ amount: 100 }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(MacError);
      expect(e).toMatchObject({ code: 'SW_9302', origin: 'card', record: undefined });
    }
    const locked = await machine.purchase({ amount: 100 }).catch((x: unknown) => x);
    expect(locked).toBeInstanceOf(CardLockedError);
    expect(machine.pending).toEqual([]);
    // a genuine POS cannot use the card either
    await expect(pos(card).machine.purchase({ amount: 100 })).rejects.toBeInstanceOf(CardLockedError);
    await expect(kiosk(card).load({ amount: 100 })).rejects.toBeInstanceOf(CardLockedError);
  });

  it("bad MAC2: the PSAM rejects a corrupted card MAC2 (MacError, psam) and the record shows the card's debit", async () => {
    const card = purseCard('card-1', 5000);
    const { machine } = pos(card, 'pos-1', { card: corruptResponseOn(card, 0x54) });
    const e = (await machine.purchase({ amount: 1250 }).catch((x: unknown) => x)) as MacError;
    expect(e).toBeInstanceOf(MacError);
    expect(e).toMatchObject({ code: 'SW_9302', origin: 'psam' });
    expect(e.record).toMatchObject({ amount: 1250, balanceAfter: 3750, mac2Verified: false });
    expect(clears(e.record!)).toBe(true); // the MAC2 was corrupted on the way; the TAC is still the card's
    expect(readPurse(card)).toMatchObject({ balance: 3750, offlineCounter: 1 });
  });

  it('other refusals surface as StatusWordError with the SW (load above the maximum balance: 6A80)', async () => {
    const card = purseCard('card-1', 99_000);
    const e = await kiosk(card)
      .load({ amount: 5000 })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StatusWordError);
    expect(e).toMatchObject({ code: 'SW_6A80' });
    expect(readPurse(card)).toMatchObject({ balance: 99_000, onlineCounter: 0 });
  });
});

import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../bytes';
import { SimtapError } from '../errors';
import { cardProfile, referenceProfile } from '../profile';
import { TTI } from './formats';
import { IssuerTacVerifier, type LoadTacFields, type PurchaseTacFields } from './issuer-tac';
import { diversifyPbocKey } from './keys';
import { loadTac, purchaseTac, tacKey } from './mac';

const profile = referenceProfile();
const card1 = cardProfile('card-1', profile);
const card2 = cardProfile('card-2', profile);
const MASTER = profile.issuer.masterKeys.tacMasterKey;

const purchase: PurchaseTacFields = {
  amount: 1250,
  tti: TTI.EP_PURCHASE,
  terminalId: fromHex('440100000001'),
  terminalTxnSeq: 7,
  date: fromHex('20260301'),
  time: fromHex('100304'),
};
const load: LoadTacFields = {
  newBalance: 5000,
  onlineCounter: 0,
  amount: 5000,
  tti: TTI.EP_LOAD,
  terminalId: fromHex('440100000009'),
  date: fromHex('20260301'),
  time: fromHex('100304'),
};

describe('IssuerTacVerifier (reference profile)', () => {
  it("derives card-1's DTK and TAC key from the issuer's TAC master key", () => {
    // The profile states card-1's DTK and single-DES TAC key: the issuer's derivation must reproduce both.
    const dtk = diversifyPbocKey(MASTER, card1.diversificationData);
    expect(toHex(dtk)).toBe(toHex(card1.keys.DTK.key));
    expect(toHex(dtk)).toBe('7D3C0186599CBB0342CE8051C6181169');
    expect(toHex(tacKey(dtk))).toBe(toHex(card1.tacSingleDesKey));
  });

  it("recomputes the TACs card-1 makes (the card's TAC key from the profile)", () => {
    const issuer = new IssuerTacVerifier(MASTER);
    const cardPurchase = purchaseTac({ tacKey: card1.tacSingleDesKey, ...purchase });
    const cardLoad = loadTac({ tacKey: card1.tacSingleDesKey, ...load });
    expect(toHex(issuer.purchaseTac(purchase, card1.applicationSerial))).toBe(toHex(cardPurchase));
    expect(toHex(issuer.loadTac(load, card1.applicationSerial))).toBe(toHex(cardLoad));
    expect(issuer.verifyPurchase({ ...purchase, tac: cardPurchase }, card1.applicationSerial)).toBe(true);
    expect(issuer.verifyLoad({ ...load, tac: cardLoad }, card1.applicationSerial)).toBe(true);
  });

  it('rejects a TAC when any covered field, the card or the TAC itself differs', () => {
    const issuer = new IssuerTacVerifier(MASTER);
    const tac = purchaseTac({ tacKey: card1.tacSingleDesKey, ...purchase });
    const serial = card1.applicationSerial;
    expect(issuer.verifyPurchase({ ...purchase, tac }, serial)).toBe(true);
    const variants: Partial<PurchaseTacFields>[] = [
      { amount: 1251 },
      { tti: TTI.CAPP_PURCHASE },
      { terminalId: fromHex('440100000002') },
      { terminalTxnSeq: 8 },
      { date: fromHex('20260302') },
      { time: fromHex('100305') },
    ];
    for (const v of variants)
      expect(issuer.verifyPurchase({ ...purchase, ...v, tac }, serial), JSON.stringify(v)).toBe(false);
    expect(issuer.verifyPurchase({ ...purchase, tac }, card2.applicationSerial)).toBe(false);
    const flipped = tac.slice();
    flipped[3]! ^= 1;
    expect(issuer.verifyPurchase({ ...purchase, tac: flipped }, serial)).toBe(false);
    // a TAC minted with another master key (e.g. a PSAM that held a different TAC key) does not verify
    const rogue = new IssuerTacVerifier(new Uint8Array(16).fill(0x21));
    expect(issuer.verifyPurchase({ ...purchase, tac: rogue.purchaseTac(purchase, serial) }, serial)).toBe(false);
    expect(issuer.verifyLoad({ ...load, newBalance: 5001, tac: issuer.loadTac(load, serial) }, serial)).toBe(false);
  });

  it('validates its inputs, redacts its key and is unusable after destroy()', () => {
    const badArgument = (fn: () => unknown) => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SimtapError);
      expect((err as SimtapError).code).toBe('BAD_ARGUMENT');
    };
    badArgument(() => new IssuerTacVerifier(new Uint8Array(8)));
    badArgument(() => new IssuerTacVerifier(undefined as never));
    const issuer = new IssuerTacVerifier(MASTER);
    badArgument(() => issuer.verifyPurchase({ ...purchase, tac: new Uint8Array(3) }, card1.applicationSerial));
    badArgument(() => issuer.verifyPurchase({ ...purchase, tac: undefined as never }, card1.applicationSerial));
    badArgument(() => issuer.purchaseTac(purchase, card1.diversificationData)); // 8 bytes: the serial is 10
    badArgument(() => issuer.purchaseTac({ ...purchase, amount: -1 }, card1.applicationSerial));
    expect(JSON.stringify({ issuer })).toBe('{"issuer":"IssuerTacVerifier(key [redacted])"}');
    expect(JSON.stringify(issuer)).not.toMatch(/2122232425/i);
    issuer.destroy();
    badArgument(() => issuer.purchaseTac(purchase, card1.applicationSerial));
  });
});

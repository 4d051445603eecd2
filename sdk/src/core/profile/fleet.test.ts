import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import raw from '../../../profile/reference-profile.json';
import { toHex } from '../bytes';
import { kcvDes } from '../crypto';
import { CORE_ERRORS, hasErrorCode } from '../errors';
import { diversificationDataOf, diversifyPbocKey, tacKey } from '../pboc';
import {
  CARD_KEY_MASTER,
  CARD_KEY_NAMES,
  cardProfile,
  diversifyCardKeys,
  FLEET_MAX_CARD,
  fleetCard,
  parseProfile,
  referenceProfile,
  withFleet,
} from './index';

const profile = referenceProfile();
const card1 = cardProfile('card-1');

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

const badArgument = (f: () => unknown): boolean => hasErrorCode(thrown(f), CORE_ERRORS, 'BAD_ARGUMENT');

describe('diversifyCardKeys', () => {
  it("with a profile card's diversification data gives that card's published keys and check values", () => {
    for (const card of profile.cards) {
      const keys = diversifyCardKeys(profile.issuer.masterKeys, card.diversificationData);
      for (const name of CARD_KEY_NAMES) {
        expect(toHex(keys[name].key), `${card.label} ${name}`).toBe(toHex(card.keys[name].key));
        expect(toHex(keys[name].kcv)).toBe(toHex(card.keys[name].kcv));
      }
    }
  });
});

describe('fleetCard', () => {
  it("card n: its own serial (= ISD KDD), ICCID, MSISDN; card-1's PIN and key parameters", () => {
    const c = fleetCard(7);
    expect(c.label).toBe('fleet-7');
    expect(toHex(c.applicationSerial)).toBe('00004401202690000007');
    expect(toHex(c.diversificationData)).toBe(toHex(diversificationDataOf(c.applicationSerial)));
    expect(toHex(c.isd.kdd)).toBe(toHex(c.applicationSerial));
    expect(c.iccid).toBe('89860044012026000007');
    expect(c.msisdn).toBe('13900000007');
    expect([c.pin, c.keyIndex, c.keyVersion, c.algorithmId, c.initialBalance]).toEqual([
      card1.pin,
      card1.keyIndex,
      card1.keyVersion,
      card1.algorithmId,
      card1.initialBalance,
    ]);
    expect(toHex(fleetCard(FLEET_MAX_CARD).applicationSerial)).toBe('000044012026900F423F');
    expect(fleetCard(FLEET_MAX_CARD).iccid).toBe('89860044012026999999');
    expect(fleetCard(FLEET_MAX_CARD).msisdn).toBe('13900999999');
  });

  it('keys: each the PBOC diversification of its master with the serial’s rightmost 8 bytes; the TAC key from DTK', () => {
    const c = fleetCard(42);
    for (const name of CARD_KEY_NAMES) {
      const key = diversifyPbocKey(profile.issuer.masterKeys[CARD_KEY_MASTER[name]], c.applicationSerial.slice(2));
      expect(toHex(c.keys[name].key)).toBe(toHex(key));
      expect(toHex(c.keys[name].kcv)).toBe(toHex(kcvDes(key)));
    }
    expect(toHex(c.tacSingleDesKey)).toBe(toHex(tacKey(c.keys.DTK.key)));
    expect(toHex(c.keys.DPK.key)).not.toBe(toHex(fleetCard(43).keys.DPK.key));
  });

  it('identities are unique across the fleet and never those of the profile’s cards', () => {
    const ns = [...Array.from({ length: 300 }, (_, i) => i), 65_535, 65_536, 500_000, FLEET_MAX_CARD];
    const cards = [...profile.cards, ...ns.map((n) => fleetCard(n))];
    for (const id of [
      (c: (typeof cards)[number]) => c.label,
      (c: (typeof cards)[number]) => toHex(c.applicationSerial),
      (c: (typeof cards)[number]) => toHex(c.isd.kdd),
      (c: (typeof cards)[number]) => c.iccid,
      (c: (typeof cards)[number]) => c.msisdn,
    ])
      expect(new Set(cards.map(id)).size).toBe(cards.length);
    for (const c of cards.slice(profile.cards.length)) {
      expect(c.iccid).toMatch(/^[0-9]{20}$/);
      expect(c.msisdn).toMatch(/^139[0-9]{8}$/);
      expect(c.isd.kdd).toHaveLength(10);
    }
  });

  it('is frozen and redacted like a profile card', () => {
    const c = fleetCard(3);
    expect(Object.isFrozen(c)).toBe(true);
    for (const text of [JSON.stringify(c), inspect(c, { depth: 10 })]) {
      for (const name of CARD_KEY_NAMES) expect(text.toUpperCase()).not.toContain(toHex(c.keys[name].key));
      expect(text).not.toContain(c.pin);
      expect(text).toContain(toHex(c.applicationSerial));
    }
  });

  it('refuses n out of range, a profile without cards, and a profile whose own card has a fleet identity', () => {
    for (const n of [-1, 1.5, FLEET_MAX_CARD + 1, Number.NaN, '7' as unknown as number])
      expect(badArgument(() => fleetCard(n))).toBe(true);
    const json = JSON.parse(JSON.stringify(raw));
    json.cards[1].applicationSerial = '00004401202690000005';
    const clash = parseProfile(json);
    expect(badArgument(() => fleetCard(5, clash))).toBe(true);
    expect(fleetCard(6, clash).label).toBe('fleet-6');
    const msisdnClash = JSON.parse(JSON.stringify(raw));
    msisdnClash.cards[2].msisdn = '13900000009';
    expect(badArgument(() => fleetCard(9, parseProfile(msisdnClash)))).toBe(true);
    const none = JSON.parse(JSON.stringify(raw));
    none.cards = [];
    none.platform.customers = [];
    expect(badArgument(() => fleetCard(0, parseProfile(none)))).toBe(true);
  });
});

describe('withFleet', () => {
  it("appends fleet-0 … fleet-(count − 1) to the profile's cards; cardProfile finds them", () => {
    const p = withFleet(10);
    expect(p.cards.map((c) => c.label)).toEqual([
      ...profile.cards.map((c) => c.label),
      ...Array.from({ length: 10 }, (_, n) => `fleet-${n}`),
    ]);
    expect(toHex(cardProfile('fleet-7', p).applicationSerial)).toBe(toHex(fleetCard(7).applicationSerial));
    expect(cardProfile('card-2', p)).toBe(cardProfile('card-2'));
    expect(p.issuer).toBe(profile.issuer);
    expect(p.platform).toBe(profile.platform);
    expect(profile.cards).toHaveLength(3); // the profile itself is unchanged
    expect(withFleet(0).cards).toHaveLength(3);
    // fleetCard on the extended profile gives the same card.
    expect(toHex(fleetCard(7, p).keys.DLK.key)).toBe(toHex(cardProfile('fleet-7', p).keys.DLK.key));
  });

  it('is frozen and redacted like a parsed profile', () => {
    const p = withFleet(2);
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.cards)).toBe(true);
    const text = JSON.stringify(p).toUpperCase();
    for (const c of p.cards) for (const name of CARD_KEY_NAMES) expect(text).not.toContain(toHex(c.keys[name].key));
    expect(text).not.toContain(toHex(profile.issuer.masterKeys.loadMasterKey));
    expect(inspect(p, { depth: 10 }).toUpperCase()).not.toContain(toHex(p.cards[4]!.keys.DPK.key));
    expect(JSON.parse(JSON.stringify(p)).cards[4].label).toBe('fleet-1');
  });

  it('refuses a bad count and a profile that already has a fleet', () => {
    for (const n of [-1, 2.5, FLEET_MAX_CARD + 2]) expect(badArgument(() => withFleet(n))).toBe(true);
    expect(badArgument(() => withFleet(2, withFleet(1)))).toBe(true);
  });
});

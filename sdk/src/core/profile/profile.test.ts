import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import raw from '../../../profile/reference-profile.json';
import { hex, toHex } from '../bytes';
import { kcvAes, kcvDes } from '../crypto';
import { ArgumentError, ParseError } from '../errors';
import { diversifyKdf3 } from '../gp';
import { decodeEf15, diversificationDataOf, diversifyPbocKey, ef15, tacKey } from '../pboc';
import {
  CARD_KEY_MASTER,
  CARD_KEY_NAMES,
  cardEf15,
  cardProfile,
  MASTER_KEY_NAMES,
  ProfileError,
  parseProfile,
  psamProfile,
  referenceProfile,
} from './index';

const DEFAULT_KEY = hex`404142434445464748494A4B4C4D4E4F`;
const profile = referenceProfile();

/** Loosely typed JSON, so the tests can break any field on purpose. */
// biome-ignore lint/suspicious/noExplicitAny: the tests write arbitrary values into arbitrary paths
type LooseJson = Record<string, any>;

/** A deep, mutable copy of the raw JSON to break on purpose. */
const rawCopy = (): LooseJson => JSON.parse(JSON.stringify(raw));

function profileError(mutate: (p: LooseJson) => void): ProfileError {
  const p = rawCopy();
  mutate(p);
  try {
    parseProfile(p);
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    expect(e).toBeInstanceOf(ParseError);
    expect((e as ProfileError).code).toBe('PROFILE_INVALID');
    return e as ProfileError;
  }
  throw new Error('parseProfile accepted a broken profile');
}

describe('reference profile: card keys', () => {
  it('has the three cards and two PSAMs', () => {
    expect(profile.cards.map((c) => c.label)).toEqual(['card-1', 'card-2', 'card-3']);
    expect(profile.psams.map((p) => p.label)).toEqual(['pos-1', 'gate-1']);
  });

  for (const card of profile.cards) {
    describe(card.label, () => {
      it('diversification data = rightmost 8 bytes of the application serial', () => {
        expect(toHex(card.diversificationData)).toBe(toHex(diversificationDataOf(card.applicationSerial)));
      });
      for (const name of CARD_KEY_NAMES) {
        const master = CARD_KEY_MASTER[name];
        it(`${name} = PBOC diversification of ${master}, with its KCV`, () => {
          const key = diversifyPbocKey(profile.issuer.masterKeys[master], card.diversificationData);
          expect(toHex(key)).toBe(toHex(card.keys[name].key));
          expect(toHex(kcvDes(key))).toBe(toHex(card.keys[name].kcv));
        });
      }
      it('tacSingleDesKey = tacKey(DTK)', () => {
        expect(toHex(tacKey(card.keys.DTK.key))).toBe(toHex(card.tacSingleDesKey));
      });
      it('ISD keys: KDF3 of the ISD master with the card KDD (distinct per card, AES-128)', () => {
        const keys = diversifyKdf3(profile.card.isd.scp03.diversified.masterKey, card.isd.kdd);
        expect([keys.enc.length, keys.mac.length, keys.dek.length]).toEqual([16, 16, 16]);
        expect(toHex(keys.enc)).not.toBe(toHex(keys.mac));
        expect(toHex(keys.enc)).not.toBe(toHex(DEFAULT_KEY));
        expect(kcvAes(keys.enc)).toHaveLength(3);
      });
      it('EF15 built from the profile round-trips through the codec', () => {
        const ef = cardEf15(card);
        expect(decodeEf15(ef15.encode(ef))).toEqual(ef);
        expect(toHex(ef.applicationSerial)).toBe(toHex(card.applicationSerial));
      });
    });
  }

  it('ISD KDF3 keys differ between cards', () => {
    const master = profile.card.isd.scp03.diversified.masterKey;
    const encs = profile.cards.map((c) => toHex(diversifyKdf3(master, c.isd.kdd).enc));
    expect(new Set(encs).size).toBe(encs.length);
  });
});

describe('reference profile: issuer and ISD', () => {
  for (const name of MASTER_KEY_NAMES) {
    it(`${name} KCV matches`, () => {
      expect(toHex(kcvDes(profile.issuer.masterKeys[name]))).toBe(toHex(profile.issuer.kcv[name]));
    });
  }

  it('SCP03 default static keys are 40..4F with AES KCV 504A77', () => {
    const { scp03 } = profile.card.isd;
    expect(toHex(scp03.kcvOfDefaultKey)).toBe('504A77');
    for (const k of [scp03.staticKeysForDefaultCard.enc, scp03.staticKeysForDefaultCard.mac]) {
      expect(toHex(k)).toBe(toHex(DEFAULT_KEY));
      expect(toHex(kcvAes(k))).toBe('504A77');
    }
    expect(toHex(kcvAes(scp03.staticKeysForDefaultCard.dek))).toBe('504A77');
    expect(scp03.i).toBe(0x70);
    expect(scp03.kvn).toBe(0x30);
  });

  it('SCP02 static keys have the 3DES KCV 8BAF47', () => {
    const { scp02 } = profile.card.isd;
    expect(toHex(scp02.kcvOfDefaultKey)).toBe('8BAF47');
    for (const k of [scp02.staticKeys.enc, scp02.staticKeys.mac, scp02.staticKeys.dek])
      expect(toHex(kcvDes(k))).toBe('8BAF47');
    expect(scp02.i).toBe(0x55);
    expect(scp02.kvn).toBe(0x20);
  });

  it('typed fields: bytes for hex, numbers for numbers', () => {
    expect(toHex(profile.card.isd.aid)).toBe('A000000151000000');
    expect(profile.card.atr).toHaveLength(21);
    expect(toHex(profile.card.epurse.aid)).toBe('A000000632010105');
    expect(toHex(profile.card.epurse.fid)).toBe('3F01');
    expect(profile.card.epurse.ef15.applicationType).toBe(2);
    expect(toHex(profile.card.epurse.ef15.expiryDate)).toBe('20361231');
    expect(profile.card.epurse.macFailureLimit).toBe(3);
    expect(profile.card.epurse.maxBalance).toBe(100000);
    const card = cardProfile('card-2');
    expect(card.iccid).toBe('8986004401202600020F');
    expect(card.initialBalance).toBe(0);
    expect(toHex(card.isd.kdd)).toBe('00004401202600000002');
    const psam = psamProfile('gate-1');
    expect(toHex(psam.terminalId)).toBe('440100000002');
    expect(psam.holds).toEqual(['purchaseMasterKey']);
    expect(psam.initialTerminalTxnSeq).toBe(1);
  });
});

describe('referenceProfile()', () => {
  it('parses once and returns the same frozen object', () => {
    expect(referenceProfile()).toBe(profile);
    expect(Object.isFrozen(profile)).toBe(true);
    expect(Object.isFrozen(profile.cards)).toBe(true);
    expect(Object.isFrozen(profile.cards[0]!.keys.DLK)).toBe(true);
    expect(() => {
      (profile.cards[0] as { label: string }).label = 'x';
    }).toThrow(TypeError);
  });

  it('never prints keys, KCV-less secrets or the PIN in JSON or inspect output', () => {
    const json = JSON.stringify(profile);
    const shown = inspect(profile, { depth: 20 });
    const card = profile.cards[0]!;
    for (const secret of [
      toHex(card.keys.DLK.key),
      toHex(card.tacSingleDesKey),
      toHex(profile.issuer.masterKeys.loadMasterKey),
      toHex(DEFAULT_KEY),
    ]) {
      expect(json).not.toContain(secret);
      expect(shown).not.toContain(secret);
    }
    expect(JSON.stringify(card)).not.toContain('"123456"');
    expect(JSON.parse(JSON.stringify(card.keys.DLK))).toEqual({ key: '[redacted]', kcv: '978BD1' });
    expect(JSON.parse(JSON.stringify(card)).applicationSerial).toBe('00004401202600000001');
    expect(JSON.parse(json).issuer.kcv.loadMasterKey).toBe('AD17A7');
  });

  it('lookups throw BAD_ARGUMENT for unknown labels', () => {
    expect(() => cardProfile('card-9')).toThrow(ArgumentError);
    expect(() => psamProfile('pos-9')).toThrow(ArgumentError);
    expect(cardProfile('card-3').label).toBe('card-3');
  });
});

describe('parseProfile() rejects bad input with the path', () => {
  const cases: Array<[string, (p: LooseJson) => void]> = [
    ['cards[1].keys.DPK.key', (p) => delete p.cards[1].keys.DPK.key],
    ['cards[1].keys.DPK.key', (p) => (p.cards[1].keys.DPK.key = '9EFDA60330139598')],
    ['cards[0].keys.DLK.key', (p) => (p.cards[0].keys.DLK.key = '46A9FF671B413373D70E52ECD62CD21')],
    ['cards[0].keys.DLK.key', (p) => (p.cards[0].keys.DLK.key = '46A9FF671B413373D70E52ECD62CD2ZZ')],
    ['cards[2].keys.DTK.kcv', (p) => (p.cards[2].keys.DTK.kcv = '000000')],
    ['cards[2].keys.DEAK', (p) => delete p.cards[2].keys.DEAK],
    ['cards[0].tacSingleDesKey', (p) => (p.cards[0].tacSingleDesKey = 42)],
    ['cards[0].isd.kdd', (p) => (p.cards[0].isd.kdd = '0000440120260000000')],
    ['cards[0].pin', (p) => (p.cards[0].pin = '12a4')],
    ['cards[0].iccid', (p) => (p.cards[0].iccid = 'F986004401202600010')],
    ['cards[0].initialBalance', (p) => (p.cards[0].initialBalance = -1)],
    ['cards[0].initialBalance', (p) => (p.cards[0].initialBalance = 100001)],
    ['cards[0].keyIndex', (p) => (p.cards[0].keyIndex = 1.5)],
    ['cards[1].label', (p) => (p.cards[1].label = 'card-1')],
    ['cards[2]', (p) => (p.cards[2] = null)],
    ['cards', (p) => (p.cards = {})],
    ['issuer.masterKeys.tacMasterKey', (p) => (p.issuer.masterKeys.tacMasterKey = '')],
    ['issuer.kcv.pinUnblockMasterKey', (p) => (p.issuer.kcv.pinUnblockMasterKey = '541615')],
    ['psams[0].terminalId', (p) => (p.psams[0].terminalId = '4401000000')],
    ['psams[1].holds[0]', (p) => (p.psams[1].holds = ['masterOfTheUniverse'])],
    ['card.isd.scp03.diversified.masterKey', (p) => (p.card.isd.scp03.diversified.masterKey = '4041')],
    ['card.isd.scp03.i', (p) => (p.card.isd.scp03.i = '7')],
    ['card.epurse.ef15.startDate', (p) => (p.card.epurse.ef15.startDate = '20261301')],
    ['card.epurse.pinTryLimit', (p) => (p.card.epurse.pinTryLimit = '3')],
    ['card.atr', (p) => (p.card.atr = '3B')],
    ['currency', (p) => delete p.currency],
    ['name', (p) => (p.name = undefined)],
  ];
  for (const [path, mutate] of cases) {
    it(`${path} (${mutate.toString().replace(/^\(p\) => /, '')})`, () => {
      const e = profileError(mutate);
      expect(e.path).toBe(path);
      expect(e.message.startsWith(`${path}:`)).toBe(true);
    });
  }

  it('rejects non-objects at the root', () => {
    for (const v of [null, undefined, 42, 'profile', [], new Uint8Array(3)]) {
      let err: unknown;
      try {
        parseProfile(v);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProfileError);
      expect((err as ProfileError).path).toBe('');
    }
  });

  it('keeps the cause of a hex error', () => {
    const e = profileError((p) => (p.cards[0].applicationSerial = 'XYZ'));
    expect(e.path).toBe('cards[0].applicationSerial');
    expect((e.cause as ParseError).code).toBe('HEX_INVALID');
  });

  it('accepts the raw file unchanged and ignores unknown fields', () => {
    const p = rawCopy();
    p.extra = { anything: true };
    p.cards[0].nickname = 'first';
    const parsed = parseProfile(p);
    expect(toHex(parsed.cards[0]!.keys.DLK.key)).toBe(toHex(profile.cards[0]!.keys.DLK.key));
    expect(parsed).not.toBe(profile);
    expect(cardProfile('card-1', parsed).label).toBe('card-1');
  });
});

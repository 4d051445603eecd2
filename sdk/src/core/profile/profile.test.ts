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
  PLATFORM_CLIENT_ROLES,
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

describe('reference profile: platform', () => {
  const { platform } = profile;

  it('listens on 127.0.0.1:7800 with subprotocol simtap.v1 and the three endpoints', () => {
    expect(platform.listen).toBe('127.0.0.1:7800');
    expect(platform.subprotocol).toBe('simtap.v1');
    expect({ ...platform.endpoints }).toEqual({ app: '/v1/app', ota: '/v1/ota', console: '/v1/console' });
  });

  it('has the 5 clients with their roles, systems and merchants', () => {
    expect(platform.clients.map((c) => [c.id, c.role, c.system, c.merchantId])).toEqual([
      ['metro-1', 'application', 'transit', 'M-METRO-1'],
      ['campus-1', 'application', 'campus', 'M-CAMPUS-1'],
      ['access-1', 'application', 'access-control', null],
      ['mart-1', 'application', 'supermarket', 'M-MART-1'],
      ['operator-1', 'operator', undefined, null],
    ]);
    for (const c of platform.clients) expect(PLATFORM_CLIENT_ROLES).toContain(c.role);
    expect('system' in platform.clients[4]!).toBe(false);
  });

  it('parses each client secret into its 32 bytes', () => {
    platform.clients.forEach((c, i) => {
      expect(c.secret).toBeInstanceOf(Uint8Array);
      expect(c.secret).toHaveLength(32);
      expect(toHex(c.secret)).toBe(raw.platform.clients[i]!.secret.toUpperCase());
    });
    expect(new Set(platform.clients.map((c) => toHex(c.secret))).size).toBe(5);
  });

  it('has the 3 merchants and the 3 customers, each with a card of the profile', () => {
    expect(platform.merchants.map((m) => [m.id, m.name, m.pointsPerYuan])).toEqual([
      ['M-METRO-1', 'Metro Line 2', 0],
      ['M-CAMPUS-1', 'Campus canteen', 0],
      ['M-MART-1', 'Corner supermarket', 1],
    ]);
    expect(platform.customers.map((c) => [c.msisdn, c.card, c.phoneAccountOpeningBalance])).toEqual([
      ['13800138001', 'card-1', 0],
      ['13800138002', 'card-2', 0],
      ['13800138003', 'card-3', 0],
    ]);
    for (const c of platform.customers) expect(cardProfile(c.card).msisdn).toBe(c.msisdn);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(platform)).toBe(true);
    expect(Object.isFrozen(platform.clients)).toBe(true);
    expect(Object.isFrozen(platform.clients[0])).toBe(true);
    expect(Object.isFrozen(platform.endpoints)).toBe(true);
    expect(Object.isFrozen(platform.customers[0])).toBe(true);
  });

  it('never prints a client secret in JSON or inspect output', () => {
    const outputs = [
      JSON.stringify(profile),
      JSON.stringify(platform),
      JSON.stringify(platform.clients),
      inspect(profile, { depth: 20 }),
      inspect(platform.clients, { depth: 20 }),
      ...platform.clients.flatMap((c) => [JSON.stringify(c), inspect(c, { depth: 20 }), String(c)]),
    ];
    for (const c of raw.platform.clients) {
      for (const out of outputs) {
        expect(out.toUpperCase()).not.toContain(c.secret.toUpperCase());
        // Not even a part of it: the first 8 bytes.
        expect(out.toUpperCase()).not.toContain(c.secret.toUpperCase().slice(0, 16));
      }
    }
    const client = JSON.parse(JSON.stringify(platform.clients[0]));
    expect(client).toEqual({
      id: 'metro-1',
      role: 'application',
      system: 'transit',
      merchantId: 'M-METRO-1',
      secret: '[redacted]',
    });
    expect(JSON.parse(JSON.stringify(profile)).platform.customers[0].card).toBe('card-1');
  });

  it('a client without merchantId settles to none; one without system has none', () => {
    const p = rawCopy();
    delete p.platform.clients[0].merchantId;
    delete p.platform.clients[0].system;
    const c = parseProfile(p).platform.clients[0]!;
    expect(c.merchantId).toBeNull();
    expect(c.system).toBeUndefined();
  });

  it('accepts lower-case secrets, an IPv6 listen address and empty lists', () => {
    const p = rawCopy();
    p.platform.clients[0].secret = p.platform.clients[0].secret.toLowerCase();
    p.platform.listen = '[::1]:0';
    const parsed = parseProfile(p).platform;
    expect(toHex(parsed.clients[0]!.secret)).toBe(raw.platform.clients[0]!.secret.toUpperCase());
    expect(parsed.listen).toBe('[::1]:0');
    const q = rawCopy();
    q.platform.clients = [];
    q.platform.merchants = [];
    q.platform.customers = [];
    expect(parseProfile(q).platform.clients).toEqual([]);
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
    ['platform', (p) => delete p.platform],
    ['platform', (p) => (p.platform = [])],
    ['platform.listen', (p) => (p.platform.listen = '127.0.0.1')],
    ['platform.listen', (p) => (p.platform.listen = '127.0.0.1:65536')],
    ['platform.listen', (p) => (p.platform.listen = 7800)],
    ['platform.subprotocol', (p) => (p.platform.subprotocol = 'simtap v1')],
    ['platform.subprotocol', (p) => (p.platform.subprotocol = '')],
    ['platform.endpoints', (p) => delete p.platform.endpoints],
    ['platform.endpoints.console', (p) => (p.platform.endpoints.console = 'v1/console')],
    ['platform.endpoints.ota', (p) => (p.platform.endpoints.ota = '/v1/app')],
    ['platform.clients', (p) => (p.platform.clients = {})],
    ['platform.clients[0]', (p) => (p.platform.clients[0] = null)],
    ['platform.clients[1].secret', (p) => (p.platform.clients[1].secret = p.platform.clients[1].secret.slice(2))],
    ['platform.clients[1].secret', (p) => (p.platform.clients[1].secret = 'ZZ'.repeat(32))],
    ['platform.clients[1].secret', (p) => delete p.platform.clients[1].secret],
    ['platform.clients[4].role', (p) => (p.platform.clients[4].role = 'admin')],
    ['platform.clients[4].role', (p) => delete p.platform.clients[4].role],
    ['platform.clients[3].id', (p) => (p.platform.clients[3].id = 'metro-1')],
    ['platform.clients[3].id', (p) => (p.platform.clients[3].id = 'mart 1')],
    ['platform.clients[0].id', (p) => (p.platform.clients[0].id = '')],
    ['platform.clients[0].merchantId', (p) => (p.platform.clients[0].merchantId = 'M-NOPE')],
    ['platform.clients[0].merchantId', (p) => (p.platform.clients[0].merchantId = 42)],
    ['platform.clients[2].system', (p) => (p.platform.clients[2].system = '')],
    ['platform.clients[2].system', (p) => (p.platform.clients[2].system = null)],
    ['platform.merchants', (p) => delete p.platform.merchants],
    ['platform.merchants[2].id', (p) => (p.platform.merchants[2].id = 'M-METRO-1')],
    ['platform.merchants[0].pointsPerYuan', (p) => (p.platform.merchants[0].pointsPerYuan = -1)],
    ['platform.merchants[0].pointsPerYuan', (p) => (p.platform.merchants[0].pointsPerYuan = 1.5)],
    ['platform.merchants[1].name', (p) => (p.platform.merchants[1].name = ' ')],
    ['platform.customers', (p) => (p.platform.customers = 'none')],
    ['platform.customers[1].msisdn', (p) => (p.platform.customers[1].msisdn = '13800138001')],
    ['platform.customers[0].msisdn', (p) => (p.platform.customers[0].msisdn = '1380013800a')],
    ['platform.customers[0].card', (p) => (p.platform.customers[0].card = 'card-9')],
    ['platform.customers[0].card', (p) => delete p.platform.customers[0].card],
    [
      'platform.customers[2].phoneAccountOpeningBalance',
      (p) => (p.platform.customers[2].phoneAccountOpeningBalance = -5),
    ],
    [
      'platform.customers[2].phoneAccountOpeningBalance',
      (p) => (p.platform.customers[2].phoneAccountOpeningBalance = '0'),
    ],
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

  it('never repeats a bad secret in the error message', () => {
    const bad = `${raw.platform.clients[1]!.secret.slice(0, 62)}ZZ`;
    const e = profileError((p) => (p.platform.clients[1].secret = bad));
    expect(e.path).toBe('platform.clients[1].secret');
    expect(e.message.toUpperCase()).not.toContain(bad.slice(0, 16));
    expect(String(e.cause)).not.toContain(bad.slice(0, 16));
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

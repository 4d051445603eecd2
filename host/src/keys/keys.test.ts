import { hkdfSync } from 'node:crypto';
import { inspect } from 'node:util';
import { createSim, simIsdKeys } from '@simtap/applet-emu/sim';
import {
  cardTransmit,
  createPurseCard,
  dataOf,
  hexApdu,
  openScp03Sync,
  PurseTerminal,
  send,
} from '@simtap/applet-emu/testing';
import { concat, fromHex, readUint, toHex, uintToBytes } from '@simtap/sdk/core/bytes';
import { CORE_ERRORS, hasErrorCode } from '@simtap/sdk/core/errors';
import { diversifyKdf3 } from '@simtap/sdk/core/gp';
import { diversifyPbocKey, loadMac1, loadMac2, loadSessionKey, loadTac, purchaseTac, TTI } from '@simtap/sdk/core/pboc';
import { CARD_KEY_NAMES, type CardProfile, MASTER_KEY_NAMES, referenceProfile } from '@simtap/sdk/core/profile';
import { describe, expect, it } from 'vitest';
import {
  BLACKLIST_SIGNING_INFO,
  IssuerKeyError,
  type IssuerKeyStore,
  KEYS_ERRORS,
  type LoadAuthorizationFields,
  SoftwareIssuerKeyStore,
  verifyBlacklistSignature,
} from './index';

const profile = referenceProfile();
const DATE = fromHex('20260301');
const TIME = fromHex('120000');
const TERMINAL = fromHex('440100000009');

/** The blacklist seed `fromProfile` documents, computed here independently. */
const profileSeed = new Uint8Array(
  hkdfSync(
    'sha256',
    concat(profile.issuer.masterKeys.tacMasterKey, profile.issuer.masterKeys.loadMasterKey),
    new Uint8Array(0),
    'simtap blacklist signing v1',
    32,
  ),
);

/** Every key of the profile (and what derives from them) as hex: none may show up in any output or error. */
const SECRETS: string[] = [
  ...MASTER_KEY_NAMES.map((n) => toHex(profile.issuer.masterKeys[n])),
  toHex(profile.card.isd.scp03.diversified.masterKey),
  ...Object.values(profile.card.isd.scp03.staticKeysForDefaultCard).map((k) => toHex(k)),
  ...Object.values(profile.card.isd.scp02.staticKeys).map((k) => toHex(k)),
  ...profile.cards.flatMap((c) => [
    ...CARD_KEY_NAMES.map((n) => toHex(c.keys[n].key)),
    toHex(c.tacSingleDesKey),
    toHex(diversifyPbocKey(c.keys.DEAK.key, c.diversificationData)),
    ...Object.values(diversifyKdf3(profile.card.isd.scp03.diversified.masterKey, c.isd.kdd)).map((k) => toHex(k)),
  ]),
  toHex(profileSeed),
];

/** Fails when `text` contains any key of the profile, in either case, or the first half of one. */
function expectNoKeys(text: string): void {
  const upper = text.toUpperCase().replace(/[\s:,]/g, '');
  for (const secret of SECRETS) {
    expect(upper).not.toContain(secret);
    expect(upper).not.toContain(secret.slice(0, 16));
  }
}

/** What an error shows anywhere: message, stack, JSON, inspect, cause. */
function errorText(e: unknown): string {
  return [String(e), (e as Error).stack ?? '', JSON.stringify(e), inspect(e, { depth: 10 })].join('\n');
}

/** The rejection of `p` (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** A load as card `card` makes it: MAC1 under its own DLK from the profile. */
function cardLoad(card: CardProfile, n: number): { req: LoadAuthorizationFields; mac2: Uint8Array } {
  const random = Uint8Array.of(0x10 + n, 0x22, 0x33, 0x40 + n);
  const onlineCounter = 7 + n;
  const amount = 1000 * (n + 1);
  const oldBalance = 250 * n;
  const seslk = loadSessionKey(card.keys.DLK.key, random, onlineCounter);
  const mac1 = loadMac1({ sessionKey: seslk, oldBalance, amount, tti: TTI.EP_LOAD, terminalId: TERMINAL });
  const mac2 = loadMac2({ sessionKey: seslk, amount, tti: TTI.EP_LOAD, terminalId: TERMINAL, date: DATE, time: TIME });
  return {
    req: {
      cardSerial: card.applicationSerial,
      oldBalance,
      amount,
      tti: TTI.EP_LOAD,
      terminalId: TERMINAL,
      onlineCounter,
      random,
      mac1,
      date: DATE,
      time: TIME,
    },
    mac2,
  };
}

function flipped(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

const store: IssuerKeyStore = SoftwareIssuerKeyStore.fromProfile(profile);

describe('SoftwareIssuerKeyStore against the cards of the reference profile', () => {
  profile.cards.forEach((card, n) => {
    describe(card.label, () => {
      it("authorizeLoad accepts the MAC1 of the card's own DLK and returns the card's MAC2", async () => {
        const { req, mac2 } = cardLoad(card, n);
        const answer = await store.authorizeLoad(req);
        expect(toHex(answer.mac2)).toBe(toHex(mac2));
        expect(answer.mac2).toBeInstanceOf(Uint8Array);
        expect(Buffer.isBuffer(answer.mac2)).toBe(false);
      });

      it('loadMac2 gives the same MAC2 without a MAC1, with or without the old balance', async () => {
        const { req, mac2 } = cardLoad(card, n);
        const { mac1: _, ...fields } = req;
        expect(toHex(await store.loadMac2(fields))).toBe(toHex(mac2));
        const { oldBalance: __, ...noBalance } = fields;
        expect(toHex(await store.loadMac2(noBalance))).toBe(toHex(mac2));
        expect(toHex(await store.loadMac2({ ...fields, amount: fields.amount + 1 }))).not.toBe(toHex(mac2));
      });

      it('authorizeLoad refuses every flipped MAC1 bit with BAD_MAC1', async () => {
        const { req } = cardLoad(card, n);
        for (let bit = 0; bit < 32; bit++) {
          const e = await rejection(store.authorizeLoad({ ...req, mac1: flipped(req.mac1, bit) }));
          expect(e).toBeInstanceOf(IssuerKeyError);
          expect(hasErrorCode(e, KEYS_ERRORS, 'BAD_MAC1')).toBe(true);
          expectNoKeys(errorText(e));
        }
      });

      it('authorizeLoad refuses a MAC1 of changed fields or of another card', async () => {
        const { req } = cardLoad(card, n);
        const other = profile.cards[(n + 1) % profile.cards.length]!;
        for (const changed of [
          { ...req, amount: req.amount + 1 },
          { ...req, oldBalance: req.oldBalance + 1 },
          { ...req, onlineCounter: req.onlineCounter + 1 },
          { ...req, terminalId: flipped(req.terminalId, 0) },
          { ...req, random: flipped(req.random, 31) },
          { ...req, tti: TTI.ED_LOAD },
          { ...req, cardSerial: other.applicationSerial },
        ]) {
          const e = await rejection(store.authorizeLoad(changed));
          expect(hasErrorCode(e, KEYS_ERRORS, 'BAD_MAC1')).toBe(true);
        }
      });

      it("verifies load and purchase TACs made with the card's TAC key; flipped ones and other cards' do not", async () => {
        const load = {
          newBalance: 5000 + n,
          onlineCounter: 3,
          amount: 5000,
          tti: TTI.EP_LOAD,
          terminalId: TERMINAL,
          date: DATE,
          time: TIME,
        };
        const purchase = {
          amount: 1250,
          tti: TTI.EP_PURCHASE,
          terminalId: TERMINAL,
          terminalTxnSeq: 42 + n,
          date: DATE,
          time: TIME,
        };
        const loadTacOk = loadTac({ tacKey: card.tacSingleDesKey, ...load });
        const purchaseTacOk = purchaseTac({ tacKey: card.tacSingleDesKey, ...purchase });
        expect(await store.verifyLoadTac({ ...load, tac: loadTacOk }, card.applicationSerial)).toBe(true);
        expect(await store.verifyPurchaseTac({ ...purchase, tac: purchaseTacOk }, card.applicationSerial)).toBe(true);
        for (let bit = 0; bit < 32; bit++) {
          expect(await store.verifyLoadTac({ ...load, tac: flipped(loadTacOk, bit) }, card.applicationSerial)).toBe(
            false,
          );
          expect(
            await store.verifyPurchaseTac({ ...purchase, tac: flipped(purchaseTacOk, bit) }, card.applicationSerial),
          ).toBe(false);
        }
        const other = profile.cards[(n + 1) % profile.cards.length]!;
        expect(await store.verifyLoadTac({ ...load, tac: loadTacOk }, other.applicationSerial)).toBe(false);
        expect(
          await store.verifyPurchaseTac({ ...purchase, amount: 1251, tac: purchaseTacOk }, card.applicationSerial),
        ).toBe(false);
      });

      it('verifies the INTERNAL AUTHENTICATE answer of the emulated card', async () => {
        const { card: sim } = createPurseCard({ card });
        expect(send(sim, 'contact', '00 A4 04 00 08 A000000632010105 00').sw).toBe(0x9000);
        for (const challenge of [
          fromHex('1122334455667788'),
          fromHex('0102030405060708 F0E0D0C0B0A09080 0011223344556677'),
          new Uint8Array(248).fill(0xa5 ^ n),
        ]) {
          const r = send(sim, 'contact', hexApdu(0x00, 0x88, 0x00, card.keyIndex, [challenge], 0x00));
          expect(r.sw).toBe(0x9000);
          expect(r.data).toHaveLength(challenge.length);
          const check = { cardSerial: card.applicationSerial, challenge, response: r.data };
          expect(await store.verifyInternalAuthenticate(check)).toBe(true);
          expect(await store.verifyInternalAuthenticate({ ...check, response: flipped(r.data, 5) })).toBe(false);
          const short = r.data.subarray(0, r.data.length - 8);
          expect(await store.verifyInternalAuthenticate({ ...check, response: short })).toBe(false);
          expect(await store.verifyInternalAuthenticate({ ...check, challenge: flipped(challenge, 0) })).toBe(false);
          const other = profile.cards[(n + 1) % profile.cards.length]!;
          expect(await store.verifyInternalAuthenticate({ ...check, cardSerial: other.applicationSerial })).toBe(false);
        }
      });

      it("isdKeys(kdd) are the card's ISD keys: they open SCP03 on the emulated SIM", async () => {
        const keys = await store.isdKeys(card.isd.kdd);
        const sim = simIsdKeys({ card: card.label }).scp03;
        expect([toHex(keys.enc), toHex(keys.mac), toHex(keys.dek)]).toEqual([
          toHex(sim.enc),
          toHex(sim.mac),
          toHex(sim.dek),
        ]);
        // The KDD as the card states it in INITIALIZE UPDATE, then a full SCP03 handshake with the derived keys.
        const c = createSim({ card: card.label });
        c.powerOn('contact');
        const raw = cardTransmit(c, 'contact');
        raw(fromHex('00 A4 04 00 08 A000000151000000 00'));
        const iu = raw(fromHex('80 50 00 00 08 0102030405060708 00'));
        const kdd = dataOf(iu).slice(0, 10);
        expect(toHex(kdd)).toBe(toHex(card.isd.kdd));
        raw(fromHex('00 A4 04 00 08 A000000151000000 00'));
        const scp = openScp03Sync(raw, { keys: await store.isdKeys(kdd), securityLevel: 0x33 });
        expect(toHex(scp.info.kdd)).toBe(toHex(card.isd.kdd));
        scp.close();
      });
    });
  });

  it('a load and a purchase on an emulated card, end to end: MAC2 accepted, TACs verify, the proof matches', async () => {
    const card = profile.cards[1]!;
    const { card: sim } = createPurseCard({ card });
    const terminal = new PurseTerminal(sim);
    expect(terminal.select().sw).toBe(0x9000);
    const amount = 3000;
    const init = terminal.send(
      hexApdu(
        0x80,
        0x50,
        0x00,
        0x02,
        [Uint8Array.of(card.keyIndex), uintToBytes(amount, 4), terminal.terminalId],
        0x10,
      ),
    );
    expect(init.sw).toBe(0x9000);
    const d = init.data;
    const req: LoadAuthorizationFields = {
      cardSerial: card.applicationSerial,
      oldBalance: readUint(d, 0, 4),
      amount,
      tti: TTI.EP_LOAD,
      terminalId: terminal.terminalId,
      onlineCounter: readUint(d, 4, 2),
      random: d.slice(8, 12),
      mac1: d.slice(12, 16),
      date: DATE,
      time: TIME,
    };
    const { mac2 } = await store.authorizeLoad(req);
    const credit = terminal.send(hexApdu(0x80, 0x52, 0x00, 0x00, [DATE, TIME, mac2], 0x04));
    expect(credit.sw).toBe(0x9000);
    const tac = credit.data.slice(0, 4);
    const loadFields = {
      newBalance: req.oldBalance + amount,
      onlineCounter: req.onlineCounter,
      amount,
      tti: TTI.EP_LOAD,
      terminalId: terminal.terminalId,
      date: DATE,
      time: TIME,
    };
    expect(await store.verifyLoadTac({ ...loadFields, tac }, card.applicationSerial)).toBe(true);
    // GET TRANSACTION PROVE: MAC2 ‖ TAC of the last load; loadMac2 recognises it.
    const prove = terminal.send(hexApdu(0x80, 0x5a, 0x00, 0x02, [uintToBytes(req.onlineCounter, 2)], 0x08));
    expect(prove.sw).toBe(0x9000);
    const { mac1: _, ...fields } = req;
    expect(toHex(prove.data)).toBe(toHex(await store.loadMac2(fields)) + toHex(tac));
    // A purchase through the PSAM: its TAC is the card's.
    const p = terminal.purchase(1250);
    expect(p.sw).toBe(0x9000);
    const record = {
      amount: 1250,
      tti: p.tti,
      terminalId: terminal.terminalId,
      terminalTxnSeq: p.terminalTxnSeq!,
      date: p.date,
      time: p.time,
      tac: p.tac!,
    };
    expect(await store.verifyPurchaseTac(record, card.applicationSerial)).toBe(true);
    expect(
      await store.verifyPurchaseTac({ ...record, terminalTxnSeq: record.terminalTxnSeq + 1 }, card.applicationSerial),
    ).toBe(false);
  });
});

describe('blacklist signatures', () => {
  const message = new TextEncoder().encode('simtap blacklist v7: 00004401202600000002');

  it('signs with Ed25519: 64 bytes that verify under the 32-byte public key; a flipped bit does not', async () => {
    const publicKey = await store.blacklistPublicKey();
    const signature = await store.signBlacklist(message);
    expect(publicKey).toHaveLength(32);
    expect(signature).toHaveLength(64);
    expect(Buffer.isBuffer(signature)).toBe(false);
    expect(verifyBlacklistSignature(publicKey, message, signature)).toBe(true);
    expect(toHex(await store.signBlacklist(message))).toBe(toHex(signature)); // deterministic (RFC 8032)
    for (let bit = 0; bit < 512; bit += 7)
      expect(verifyBlacklistSignature(publicKey, message, flipped(signature, bit))).toBe(false);
    for (let bit = 0; bit < message.length * 8; bit += 13)
      expect(verifyBlacklistSignature(publicKey, flipped(message, bit), signature)).toBe(false);
    expect(verifyBlacklistSignature(flipped(publicKey, 3), message, signature)).toBe(false);
    expect(verifyBlacklistSignature(publicKey, message, signature.subarray(0, 63))).toBe(false);
    expect(verifyBlacklistSignature(publicKey, message, new Uint8Array(0))).toBe(false);
    expect(verifyBlacklistSignature(new Uint8Array(32), message, signature)).toBe(false);
    expect(verifyBlacklistSignature(publicKey, new Uint8Array(0), await store.signBlacklist(new Uint8Array(0)))).toBe(
      true,
    );
  });

  it('fromProfile derives the seed as HKDF-SHA256(tacMasterKey ‖ loadMasterKey, info "simtap blacklist signing v1")', async () => {
    expect(BLACKLIST_SIGNING_INFO).toBe('simtap blacklist signing v1');
    const mk = profile.issuer.masterKeys;
    const explicit = new SoftwareIssuerKeyStore({
      loadMasterKey: mk.loadMasterKey,
      purchaseMasterKey: mk.purchaseMasterKey,
      tacMasterKey: mk.tacMasterKey,
      externalAuthMasterKey: mk.externalAuthMasterKey,
      lineProtectMasterKey: mk.lineProtectMasterKey,
      pinUnblockMasterKey: mk.pinUnblockMasterKey,
      isdMasterKey: profile.card.isd.scp03.diversified.masterKey,
      blacklistSigningSeed: profileSeed,
    });
    expect(toHex(await explicit.blacklistPublicKey())).toBe(toHex(await store.blacklistPublicKey()));
    expect(toHex(await explicit.signBlacklist(message))).toBe(toHex(await store.signBlacklist(message)));
    const another = new SoftwareIssuerKeyStore({
      loadMasterKey: mk.loadMasterKey,
      purchaseMasterKey: mk.purchaseMasterKey,
      tacMasterKey: mk.tacMasterKey,
      externalAuthMasterKey: mk.externalAuthMasterKey,
      lineProtectMasterKey: mk.lineProtectMasterKey,
      pinUnblockMasterKey: mk.pinUnblockMasterKey,
      isdMasterKey: profile.card.isd.scp03.diversified.masterKey,
      blacklistSigningSeed: new Uint8Array(32).fill(7),
    });
    expect(
      verifyBlacklistSignature(await store.blacklistPublicKey(), message, await another.signBlacklist(message)),
    ).toBe(false);
    await explicit.destroy();
    await another.destroy();
  });

  it('verifyBlacklistSignature refuses a malformed public key or non-bytes with BAD_ARGUMENT', async () => {
    const signature = await store.signBlacklist(message);
    for (const call of [
      () => verifyBlacklistSignature(new Uint8Array(31), message, signature),
      () => verifyBlacklistSignature('00'.repeat(32) as unknown as Uint8Array, message, signature),
      () => verifyBlacklistSignature(new Uint8Array(32), 'blacklist' as unknown as Uint8Array, signature),
      () => verifyBlacklistSignature(new Uint8Array(32), message, null as unknown as Uint8Array),
    ]) {
      let err: unknown;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(hasErrorCode(err, CORE_ERRORS, 'BAD_ARGUMENT')).toBe(true);
    }
  });
});

describe('no key ever leaves the store', () => {
  it('JSON.stringify, util.inspect and String show a redacted store', () => {
    for (const text of [JSON.stringify(store), inspect(store, { depth: 20, showHidden: true }), String(store)]) {
      expectNoKeys(text);
    }
    expect(JSON.stringify(store)).toBe('"SoftwareIssuerKeyStore(keys [redacted])"');
    expect(inspect(store)).toBe('SoftwareIssuerKeyStore(keys [redacted])');
    expect(JSON.stringify({ store })).toBe('{"store":"SoftwareIssuerKeyStore(keys [redacted])"}');
    expect(Object.keys(store)).toEqual([]);
  });

  it('no thrown error carries key bytes; malformed fields are BAD_ARGUMENT', async () => {
    const card = profile.cards[0]!;
    const { req } = cardLoad(card, 0);
    const mk = profile.issuer.masterKeys;
    const bad = (over: Partial<LoadAuthorizationFields>) => store.authorizeLoad({ ...req, ...over });
    const errors: unknown[] = [];
    const badArgument = [
      bad({ cardSerial: card.applicationSerial.subarray(0, 8) }),
      bad({ mac1: new Uint8Array(3) }),
      bad({ amount: -1 }),
      bad({ amount: 2 ** 32 }),
      bad({ onlineCounter: 0x10000 }),
      bad({ random: new Uint8Array(8) }),
      bad({ terminalId: new Uint8Array(5) }),
      bad({ date: new Uint8Array(3) }),
      bad({ time: new Uint8Array(4) }),
      bad({ tti: 256 }),
      store.authorizeLoad(null as unknown as LoadAuthorizationFields),
      store.loadMac2({ ...req, random: new Uint8Array(0) }),
      store.verifyLoadTac(
        {
          newBalance: 1,
          onlineCounter: 1,
          amount: 1,
          tti: 2,
          terminalId: TERMINAL,
          date: DATE,
          time: TIME,
          tac: new Uint8Array(5),
        },
        card.applicationSerial,
      ),
      store.verifyPurchaseTac(
        { amount: 1, tti: 6, terminalId: TERMINAL, terminalTxnSeq: 1, date: DATE, time: TIME, tac: new Uint8Array(4) },
        card.applicationSerial.subarray(1),
      ),
      store.verifyInternalAuthenticate({
        cardSerial: card.applicationSerial,
        challenge: new Uint8Array(7),
        response: new Uint8Array(7),
      }),
      store.verifyInternalAuthenticate({
        cardSerial: card.applicationSerial,
        challenge: new Uint8Array(256),
        response: new Uint8Array(256),
      }),
      store.verifyInternalAuthenticate({
        cardSerial: card.applicationSerial,
        challenge: new Uint8Array(0),
        response: new Uint8Array(0),
      }),
      store.isdKeys(card.isd.kdd.subarray(0, 8)),
      store.signBlacklist('message' as unknown as Uint8Array),
    ];
    for (const p of badArgument) {
      const e = await rejection(p);
      expect(hasErrorCode(e, CORE_ERRORS, 'BAD_ARGUMENT')).toBe(true);
      errors.push(e);
    }
    // Constructor and fromProfile: the message names the key, never its bytes.
    const full = {
      loadMasterKey: mk.loadMasterKey,
      purchaseMasterKey: mk.purchaseMasterKey,
      tacMasterKey: mk.tacMasterKey,
      externalAuthMasterKey: mk.externalAuthMasterKey,
      lineProtectMasterKey: mk.lineProtectMasterKey,
      pinUnblockMasterKey: mk.pinUnblockMasterKey,
      isdMasterKey: profile.card.isd.scp03.diversified.masterKey,
      blacklistSigningSeed: profileSeed,
    };
    for (const keys of [
      { ...full, loadMasterKey: mk.loadMasterKey.subarray(0, 15) },
      { ...full, purchaseMasterKey: mk.purchaseMasterKey.subarray(1) },
      { ...full, lineProtectMasterKey: undefined as unknown as Uint8Array },
      { ...full, pinUnblockMasterKey: concat(mk.pinUnblockMasterKey, mk.loadMasterKey) },
      { ...full, tacMasterKey: concat(mk.tacMasterKey, mk.loadMasterKey) },
      { ...full, externalAuthMasterKey: toHex(mk.externalAuthMasterKey) as unknown as Uint8Array },
      { ...full, isdMasterKey: profile.card.isd.scp03.diversified.masterKey.subarray(0, 8) },
      { ...full, blacklistSigningSeed: profileSeed.subarray(0, 31) },
      null as unknown as typeof full,
    ]) {
      let err: unknown;
      try {
        new SoftwareIssuerKeyStore(keys);
      } catch (e) {
        err = e;
      }
      expect(hasErrorCode(err, CORE_ERRORS, 'BAD_ARGUMENT')).toBe(true);
      errors.push(err);
    }
    expect(() => SoftwareIssuerKeyStore.fromProfile({} as typeof profile)).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENT' }),
    );
    // A refused MAC1 and a destroyed store.
    errors.push(await rejection(store.authorizeLoad({ ...req, mac1: flipped(req.mac1, 9) })));
    const gone = SoftwareIssuerKeyStore.fromProfile(profile);
    await gone.destroy();
    errors.push(await rejection(gone.authorizeLoad(req)));
    expect(errors.length).toBeGreaterThan(25);
    for (const e of errors) expectNoKeys(errorText(e));
  });
});

describe('destroy()', () => {
  it('wipes the keys: every later call rejects with KEY_STORE_DESTROYED; repeating destroy is harmless', async () => {
    const keys = SoftwareIssuerKeyStore.fromProfile(profile);
    const card = profile.cards[0]!;
    const { req } = cardLoad(card, 0);
    await keys.authorizeLoad(req);
    await keys.destroy();
    await keys.destroy();
    const { mac1: _, ...fields } = req;
    const tac = {
      amount: 1,
      tti: 6,
      terminalId: TERMINAL,
      terminalTxnSeq: 1,
      date: DATE,
      time: TIME,
      tac: new Uint8Array(4),
    };
    const load = {
      newBalance: 1,
      onlineCounter: 1,
      amount: 1,
      tti: 2,
      terminalId: TERMINAL,
      date: DATE,
      time: TIME,
      tac: new Uint8Array(4),
    };
    for (const p of [
      keys.authorizeLoad(req),
      keys.loadMac2(fields),
      keys.verifyLoadTac(load, card.applicationSerial),
      keys.verifyPurchaseTac(tac, card.applicationSerial),
      keys.verifyInternalAuthenticate({
        cardSerial: card.applicationSerial,
        challenge: new Uint8Array(8),
        response: new Uint8Array(8),
      }),
      keys.isdKeys(card.isd.kdd),
      keys.signBlacklist(new Uint8Array(1)),
      keys.blacklistPublicKey(),
    ]) {
      const e = await rejection(p);
      expect(e).toBeInstanceOf(IssuerKeyError);
      expect(hasErrorCode(e, KEYS_ERRORS, 'KEY_STORE_DESTROYED')).toBe(true);
    }
    // The profile's own key arrays are untouched by the store and its destroy().
    expect(toHex(profile.issuer.masterKeys.loadMasterKey)).toBe('0102030405060708090A0B0C0D0E0F10');
    expect(toHex(profile.card.isd.scp03.diversified.masterKey)).toBe('404142434445464748494A4B4C4D4E4F');
  });

  it('every method returns a promise, also for malformed input', () => {
    const keys = SoftwareIssuerKeyStore.fromProfile(profile);
    const p = keys.isdKeys(null as unknown as Uint8Array);
    expect(p).toBeInstanceOf(Promise);
    p.catch(() => undefined);
    expect(keys.destroy()).toBeInstanceOf(Promise);
  });
});

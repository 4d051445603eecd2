/**
 * The key store's personalization export and line-protection MAC, against the reference profile's published keys
 * and end to end on emulated SIMs: a blank e-purse personalized over its ISD (SCP03 SL 33) with the public DGIs of
 * `epursePersonalizationItems` and the store's pre-encrypted secrets, then loaded and blocked with the store's MACs.
 */
import type { Card } from '@simtap/applet-emu/runtime';
import { createSim } from '@simtap/applet-emu/sim';
import { cardTransmit, hexApdu, openScp03Sync, PurseTerminal, send, swOf } from '@simtap/applet-emu/testing';
import { concat, fromHex, hex, readUint, toHex, uintToBytes } from '@simtap/sdk/core/bytes';
import { CORE_ERRORS, hasErrorCode } from '@simtap/sdk/core/errors';
import { decryptSecretDgi, diversifyKdf3, scp03DgiCipher, storeDataCommands } from '@simtap/sdk/core/gp';
import {
  decodeKeys,
  EPURSE_DGI,
  encodeKeys,
  encodePinBlock,
  epursePersonalizationItems,
  KEY_ENTRY_LENGTH,
  TTI,
} from '@simtap/sdk/core/pboc';
import {
  CARD_KEY_NAMES,
  type CardProfile,
  cardProfile,
  referenceProfile,
  type SimtapProfile,
  withFleet,
} from '@simtap/sdk/core/profile';
import { describe, expect, it } from 'vitest';
import { IssuerKeyError, KEYS_ERRORS, type PersonalizationSecretsRequest, SoftwareIssuerKeyStore } from './index';

const profile = referenceProfile();
const card1 = cardProfile('card-1');
const store = SoftwareIssuerKeyStore.fromProfile(profile);
const SELECT_ISD = hex`00 A4 04 00 08 A000000151000000 00`;
const SELECT_PURSE = hex`00 A4 04 00 08 A000000632010105 00`;
const BLOCK = hex`84 1E 00 00 04`;
const UNBLOCK = hex`84 18 00 00 04`;
const DATE = fromHex('20260301');
const TIME = fromHex('120000');

const requestOf = (card: CardProfile): PersonalizationSecretsRequest => ({
  cardSerial: card.applicationSerial,
  kdd: card.isd.kdd,
  keyIndex: card.keyIndex,
  keyVersion: card.keyVersion,
  algorithm: card.algorithmId,
  pin: card.pin,
});

/** The rejection of `p` (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/**
 * What the platform does over the air to a blank SIM: SELECT the ISD, SCP03 SL 33 with the store's ISD keys,
 * INSTALL [for personalization] of the purse, then STORE DATA: the public DGIs (built without any clear key) and the
 * store's two pre-encrypted secrets.
 */
async function personalizeOverTheAir(sim: Card, card: CardProfile, p: SimtapProfile = profile): Promise<void> {
  sim.powerOn('contact');
  const t = cardTransmit(sim, 'contact');
  expect(swOf(t(SELECT_ISD))).toBe(0x9000);
  const scp = openScp03Sync(t, { keys: await store.isdKeys(card.isd.kdd), securityLevel: 0x33 });
  try {
    expect(toHex(scp.info.kdd)).toBe(toHex(card.isd.kdd));
    const aid = p.card.epurse.aid;
    const install = concat(hex`80 E6 20 00`, Uint8Array.of(aid.length + 6, 0, 0, aid.length), aid, hex`00 00 00 00`);
    expect(swOf(scp.transmit(install))).toBe(0x9000);
    const { keys: _, pin: __, ...publicCard } = card;
    const secrets = await store.personalizationSecrets(requestOf(card));
    const items = [
      ...epursePersonalizationItems(publicCard, {}, p).map(({ dgi, data }) => ({ dgi, data })),
      { dgi: EPURSE_DGI.KEYS, data: secrets.keys, preEncrypted: true },
      { dgi: EPURSE_DGI.PIN, data: secrets.pin, preEncrypted: true },
    ];
    const commands = storeDataCommands(items);
    expect(commands.map((c) => c[2]! & 0xe0)).toEqual([0x00, 0x60, 0xe0]);
    for (const cmd of commands) expect(swOf(scp.transmit(cmd))).toBe(0x9000);
  } finally {
    scp.close();
  }
}

/** INITIALIZE FOR LOAD, the store's authorizeLoad (MAC1 checked), CREDIT FOR LOAD with its MAC2. */
async function load(sim: Card, card: CardProfile, amount: number): Promise<number> {
  const terminal = new PurseTerminal(sim);
  expect(terminal.select().sw).toBe(0x9000);
  const init = terminal.send(
    hexApdu(0x80, 0x50, 0x00, 0x02, [Uint8Array.of(card.keyIndex), uintToBytes(amount, 4), terminal.terminalId], 0x10),
  );
  expect(init.sw).toBe(0x9000);
  const d = init.data;
  const { mac2 } = await store.authorizeLoad({
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
  });
  expect(terminal.send(hexApdu(0x80, 0x52, 0x00, 0x00, [DATE, TIME, mac2], 0x04)).sw).toBe(0x9000);
  const balance = terminal.send('80 5C 00 02 04');
  expect(balance.sw).toBe(0x9000);
  return readUint(balance.data, 0, 4);
}

describe('personalizationSecrets', () => {
  for (const card of profile.cards) {
    it(`${card.label}: DGI 8001 and 8010 decrypt under the card's ISD DEK to its published keys and PIN`, async () => {
      const secrets = await store.personalizationSecrets(requestOf(card));
      const dek = diversifyKdf3(profile.card.isd.scp03.diversified.masterKey, card.isd.kdd).dek;
      const cipher = scp03DgiCipher(dek);
      const keys = decryptSecretDgi(cipher, secrets.keys);
      const pin = decryptSecretDgi(cipher, secrets.pin);
      cipher.destroy();
      const entries = CARD_KEY_NAMES.map((type) => ({
        type,
        index: card.keyIndex,
        version: card.keyVersion,
        algorithm: card.algorithmId,
        key: card.keys[type].key,
      }));
      // CPS padding (ISO 9797-1 method 2) to whole AES blocks, which the application strips.
      expect(keys).toHaveLength(128);
      expect(toHex(keys)).toBe(`${toHex(encodeKeys(entries))}80${'00'.repeat(7)}`);
      expect(decodeKeys(keys.subarray(0, 6 * KEY_ENTRY_LENGTH))).toEqual(entries);
      expect(toHex(pin)).toBe(`${toHex(encodePinBlock(card.pin))}80${'00'.repeat(12)}`);
      // Nothing in clear: no card key appears in what the store gave out.
      const out = toHex(secrets.keys) + toHex(secrets.pin);
      for (const type of CARD_KEY_NAMES) expect(out).not.toContain(toHex(card.keys[type].key).slice(0, 16));
    });
  }

  it('depends on the KDD: another card’s DEK does not decrypt it', async () => {
    const secrets = await store.personalizationSecrets(requestOf(card1));
    const other = scp03DgiCipher(
      diversifyKdf3(profile.card.isd.scp03.diversified.masterKey, cardProfile('card-2').isd.kdd).dek,
    );
    expect(toHex(decryptSecretDgi(other, secrets.pin))).not.toContain(toHex(encodePinBlock(card1.pin)));
    other.destroy();
  });

  it('end to end: a blank card-1 SIM personalized over its ISD answers a load with its keys and its PIN', async () => {
    const sim = createSim({ card: 'card-1', epurse: true });
    await personalizeOverTheAir(sim, card1);
    sim.powerOn('contactless');
    expect(await load(sim, card1, 3000)).toBe(3000);
    expect(send(sim, 'contact', SELECT_PURSE).sw).toBe(0x9000);
    expect(send(sim, 'contact', concat(hex`00 20 00 00 03`, encodePinBlock(card1.pin))).sw).toBe(0x9000);
    expect(send(sim, 'contact', '00 20 00 00 03 999999').sw).toBe(0x63c2);
  });

  it('end to end on a fleet card: createSim with withFleet, fleet-7 personalized and loaded', async () => {
    const p = withFleet(8);
    const card = cardProfile('fleet-7', p);
    const sim = createSim({ profile: p, card: 'fleet-7', epurse: true });
    await personalizeOverTheAir(sim, card, p);
    sim.powerOn('contactless');
    expect(await load(sim, card, 500)).toBe(500);
    const terminal = new PurseTerminal(sim);
    expect(terminal.select().sw).toBe(0x9000);
    const purchase = terminal.purchase(120);
    expect(purchase.sw).toBe(0x9000);
    expect(
      await store.verifyPurchaseTac(
        {
          amount: 120,
          tti: purchase.tti,
          terminalId: terminal.terminalId,
          terminalTxnSeq: purchase.terminalTxnSeq!,
          date: purchase.date,
          time: purchase.time,
          tac: purchase.tac!,
        },
        card.applicationSerial,
      ),
    ).toBe(true);
  });
});

describe('lineProtectionMac', () => {
  /** A personalized card-1 SIM, the purse selected on the contact interface. */
  function personalizedSim(): Card {
    const sim = createSim({ card: 'card-1', personalized: true });
    sim.powerOn('contact');
    expect(send(sim, 'contact', SELECT_PURSE).sw).toBe(0x9000);
    return sim;
  }

  const initForLoad = (sim: Card): number =>
    send(
      sim,
      'contact',
      hexApdu(0x80, 0x50, 0x00, 0x02, [Uint8Array.of(1), uintToBytes(100, 4), hex`440100000009`], 0x10),
    ).sw;

  async function lineCommand(sim: Card, header: Uint8Array, le: 4 | 8, corrupt = false): Promise<number> {
    const challenge = send(sim, 'contact', Uint8Array.of(0x00, 0x84, 0x00, 0x00, le));
    expect(challenge.sw).toBe(0x9000);
    expect(challenge.data).toHaveLength(le);
    const mac = await store.lineProtectionMac({
      cardSerial: card1.applicationSerial,
      challenge: challenge.data,
      header,
    });
    expect(mac).toHaveLength(4);
    if (corrupt) mac[3]! ^= 0x01;
    return send(sim, 'contact', concat(header, mac)).sw;
  }

  it('APPLICATION BLOCK with the store’s MAC (4-byte challenge) blocks the purse; UNBLOCK (8-byte) lifts it', async () => {
    const sim = personalizedSim();
    expect(initForLoad(sim)).toBe(0x9000);
    expect(await lineCommand(sim, BLOCK, 4)).toBe(0x9000);
    expect(initForLoad(sim)).toBe(0x9303);
    expect(send(sim, 'contact', SELECT_PURSE).sw).toBe(0x6283);
    expect(await lineCommand(sim, UNBLOCK, 8)).toBe(0x9000);
    expect(send(sim, 'contact', SELECT_PURSE).sw).toBe(0x9000);
    expect(initForLoad(sim)).toBe(0x9000);
  });

  it('a wrong MAC answers 6988 and blocks nothing; another card’s MAC does not verify either', async () => {
    const sim = personalizedSim();
    expect(await lineCommand(sim, BLOCK, 4, true)).toBe(0x6988);
    expect(initForLoad(sim)).toBe(0x9000);
    const challenge = send(sim, 'contact', '00 84 00 00 04').data;
    const mac = await store.lineProtectionMac({
      cardSerial: cardProfile('card-2').applicationSerial,
      challenge,
      header: BLOCK,
    });
    expect(send(sim, 'contact', concat(BLOCK, mac)).sw).toBe(0x6988);
    expect(initForLoad(sim)).toBe(0x9000);
  });
});

describe('argument checks and destroy()', () => {
  it('refuses malformed requests with BAD_ARGUMENT; the message never shows the PIN', async () => {
    const req = requestOf(card1);
    const line = { cardSerial: card1.applicationSerial, challenge: hex`01020304`, header: BLOCK };
    for (const p of [
      store.personalizationSecrets({ ...req, cardSerial: req.cardSerial.subarray(1) }),
      store.personalizationSecrets({ ...req, kdd: new Uint8Array(8) }),
      store.personalizationSecrets({ ...req, keyIndex: 256 }),
      store.personalizationSecrets({ ...req, keyVersion: -1 }),
      store.personalizationSecrets({ ...req, algorithm: 1.5 }),
      store.personalizationSecrets({ ...req, pin: '98a765' }),
      store.personalizationSecrets({ ...req, pin: '123' }),
      store.personalizationSecrets(null as unknown as PersonalizationSecretsRequest),
      store.lineProtectionMac({ ...line, cardSerial: new Uint8Array(8) }),
      store.lineProtectionMac({ ...line, challenge: new Uint8Array(6) }),
      store.lineProtectionMac({ ...line, header: hex`84 1E 00 00` }),
      store.lineProtectionMac({ ...line, header: hex`84 5E 00 00 04` }),
      store.lineProtectionMac({ ...line, header: hex`84 1E 00 00 08` }),
    ]) {
      const e = await rejection(p);
      expect(hasErrorCode(e, CORE_ERRORS, 'BAD_ARGUMENT')).toBe(true);
      expect(String(e)).not.toContain('98a765');
    }
  });

  it('after destroy both reject with KEY_STORE_DESTROYED', async () => {
    const keys = SoftwareIssuerKeyStore.fromProfile(profile);
    await keys.destroy();
    for (const p of [
      keys.personalizationSecrets(requestOf(card1)),
      keys.lineProtectionMac({ cardSerial: card1.applicationSerial, challenge: hex`01020304`, header: BLOCK }),
    ]) {
      const e = await rejection(p);
      expect(e).toBeInstanceOf(IssuerKeyError);
      expect(hasErrorCode(e, KEYS_ERRORS, 'KEY_STORE_DESTROYED')).toBe(true);
    }
  });
});

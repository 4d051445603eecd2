import { readFileSync } from 'node:fs';
import { concat, fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { kcvAes, kcvDes } from '@simtap/sdk/core/crypto';
import {
  encryptSecretDgi,
  Scp02Host,
  Scp03Host,
  Scp03Session,
  type StaticKeys,
  scp03DgiCipher,
  scp03PutKeyData,
} from '@simtap/sdk/core/gp';
import { cardProfile } from '@simtap/sdk/core/profile';
import { decodeTlv, findTlv } from '@simtap/sdk/core/tlv';
import { describe, expect, it, vi } from 'vitest';
import { CARD_LIFECYCLE, type CardInterface } from '../../runtime/applet';
import type { Card } from '../../runtime/card';
import { SampleApplet } from '../../runtime/sample-applet';
import { createSim, restoreSim, type SimOptions, simIsdKeys } from '../../sim';
import { parseCplc } from './card-data';
import { ISD_COMMANDS } from './isd';
import { MAX_STATUS_DATA } from './status';
import {
  cardTransmit,
  dataOf,
  openScp02Sync,
  openScp03Sync,
  type SyncScpHost,
  swOf,
  TestPersoApplet,
} from './test-support';

const IFACE: CardInterface = 'contactless';
const PERSO_AID = fromHex(TestPersoApplet.DEFAULT_AID_HEX);
const KEYS = simIsdKeys();
const NEW_KEYS: StaticKeys = {
  enc: hex`11111111111111111111111111111111`,
  mac: hex`22222222222222222222222222222222`,
  dek: hex`33333333333333333333333333333333`,
};

function withPerso(card: Card): void {
  card.registry.install(new TestPersoApplet(PERSO_AID));
}

function sim(opts: SimOptions = {}): { card: Card; transmit: (apdu: Uint8Array) => Promise<Uint8Array> } {
  const card = createSim({
    applets: [withPerso],
    factories: { [TestPersoApplet.TYPE]: (env) => new TestPersoApplet(env.aid) },
    ...opts,
  });
  card.powerOn(IFACE);
  return { card, transmit: async (apdu) => card.transmit(IFACE, apdu) };
}

const sw = (rsp: Uint8Array): string => toHex(rsp.subarray(rsp.length - 2));
/** A command `header(4) ‖ Lc ‖ data` with Lc computed. */
const apdu = (header: string, ...data: Uint8Array[]): Uint8Array => {
  const body = concat(...data);
  return concat(fromHex(header), Uint8Array.of(body.length), body);
};
const installForPerso = (aid: Uint8Array): Uint8Array =>
  concat(hex`80 E6 20 00`, Uint8Array.of(aid.length + 6, 0, 0, aid.length), aid, hex`00 00 00 00`);

describe('SCP03 SL 33 end to end with the SDK host (Scp03Host.open over Card.transmit)', () => {
  it('GET DATA, GET STATUS, PUT KEY (add, then authenticate with it), STORE DATA, SET STATUS', async () => {
    const { card, transmit } = sim();
    const scp = await Scp03Host.open(transmit, { keys: KEYS.scp03, securityLevel: 0x33 });
    expect(scp.cardInfo.kvn).toBe(0x30);
    expect(toHex(scp.cardInfo.kdd)).toBe('00004401202600000001');

    // GET DATA
    const cplc = await scp.transmit(hex`80 CA 9F 7F 00`);
    expect(sw(cplc)).toBe('9000');
    expect(toHex(cplc.subarray(0, 3))).toBe('9F7F2A');
    expect(toHex(parseCplc(cplc.subarray(3, 45)).icSerialNumber!)).toBe('00000001');
    const keyInfo = await scp.transmit(hex`80 CA 00 E0 00`);
    expect(toHex(keyInfo)).toBe('E024C00401308810C00402308810C00403308810C00401208010C00402208010C004032080109000');
    expect(toHex(await scp.transmit(hex`80 CA 00 C1 00`))).toBe('C103000001' + '9000');

    // GET STATUS: the ISD (life cycle = the card's) and the applications.
    expect(toHex(await scp.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe(
      'E3134F08A0000001510000009F70010FC5039E00009000',
    );
    expect(toHex(await scp.transmit(hex`80 F2 80 00 02 4F 00 00`))).toBe('08A0000001510000000F9E9000');
    const apps = await scp.transmit(hex`80 F2 40 02 02 4F 00 00`);
    // The USIM every SIM carries (selectable, no privileges), then the applet installed here.
    const usim = 'E31B4F10A0000000871002FF86FFFF89FFFFFFFF9F700107C503000000';
    expect(toHex(apps)).toBe(`${usim}E3134F08${toHex(PERSO_AID)}9F700107C50300000090 00`.replace(/ /g, ''));

    // PUT KEY: a new AES key set KVN 31, key data under the static DEK of the session's key set.
    const put = apdu(
      '80 D8 00 81',
      hex`31`,
      scp03PutKeyData(KEYS.scp03.dek, NEW_KEYS.enc),
      scp03PutKeyData(KEYS.scp03.dek, NEW_KEYS.mac),
      scp03PutKeyData(KEYS.scp03.dek, NEW_KEYS.dek),
    );
    const putRsp = await scp.transmit(put);
    expect(toHex(putRsp)).toBe(
      `31${toHex(kcvAes(NEW_KEYS.enc))}${toHex(kcvAes(NEW_KEYS.mac))}${toHex(kcvAes(NEW_KEYS.dek))}9000`,
    );
    const scp31 = await Scp03Host.open(transmit, { keys: NEW_KEYS, securityLevel: 0x33, kvn: 0x31 });
    expect(scp31.cardInfo.kvn).toBe(0x31);
    expect(toHex(scp31.cardInfo.sequenceCounter!)).toBe('000001');

    // STORE DATA to a personalizable application, two blocks, one secret DGI: refused in plaintext even with
    // C-DECRYPTION on (6982), accepted DEK-encrypted (P1 b7b6 = 11, AES-CBC under the static DEK, CPS padding).
    expect(toHex(await scp31.transmit(installForPerso(PERSO_AID)))).toBe('009000');
    expect(sw(await scp31.transmit(apdu('80 E2 00 00', hex`0101 02 AABB 0102 02 CCDD`)))).toBe('9000');
    expect(sw(await scp31.transmit(apdu('80 E2 80 01', hex`8001 04 01020304`)))).toBe('6982');
    const secret = encryptSecretDgi(scp03DgiCipher(NEW_KEYS.dek), hex`01020304`);
    expect(secret.length).toBe(16);
    expect(sw(await scp31.transmit(apdu('80 E2 E0 01', hex`8001 10`, secret)))).toBe('9000');
    const store = card.registry.storeOf(PERSO_AID);
    expect(store.getNumber('count')).toBe(3);
    // encrypted flag ‖ the decrypted value with its CPS padding (the application knows its lengths)
    expect(toHex(store.getBytes('dgi/8001')!)).toBe('0101020304800000000000000000000000');
    expect(store.has('personalized')).toBe(true);
    // The sequence has ended: another block goes to the ISD itself (block 00, not understood → 6A88).
    expect(sw(await scp31.transmit(apdu('80 E2 80 02', hex`0101 01 00`)))).toBe('6A86');

    // SET STATUS: lock and unlock the application, then the card life cycle.
    expect(sw(await scp31.transmit(concat(hex`80 F0 40 80`, Uint8Array.of(PERSO_AID.length), PERSO_AID)))).toBe('9000');
    expect(card.registry.get(PERSO_AID)!.lifecycle).toBe(0x87);
    expect(sw(await scp31.transmit(concat(hex`80 F0 40 00`, Uint8Array.of(PERSO_AID.length), PERSO_AID)))).toBe('9000');
    expect(card.registry.get(PERSO_AID)!.lifecycle).toBe(0x07);
    expect(sw(await scp31.transmit(hex`80 F0 80 7F`))).toBe('9000');
    expect(card.registry.cardLifecycle).toBe(CARD_LIFECYCLE.CARD_LOCKED);
    expect(sw(await scp31.transmit(installForPerso(PERSO_AID)))).toBe('6985');
    expect(sw(await scp31.transmit(hex`80 F0 80 0F 08 A000000151000000`))).toBe('9000');
    expect(card.registry.cardLifecycle).toBe(CARD_LIFECYCLE.SECURED);
  });

  it('PUT KEY replaces the key set in use (new version 32): 30 is gone, 32 works, the session goes on', async () => {
    const { transmit } = sim();
    const scp = await Scp03Host.open(transmit, { keys: KEYS.scp03, securityLevel: 0x13 });
    const put = apdu(
      '80 D8 30 81',
      hex`32`,
      scp03PutKeyData(KEYS.scp03.dek, NEW_KEYS.enc),
      scp03PutKeyData(KEYS.scp03.dek, NEW_KEYS.mac),
      scp03PutKeyData(KEYS.scp03.dek, NEW_KEYS.dek),
    );
    expect(toHex((await scp.transmit(put)).subarray(0, 1))).toBe('32');
    expect(sw(await scp.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe('9000');
    await expect(Scp03Host.open(transmit, { keys: KEYS.scp03, securityLevel: 0x01, kvn: 0x30 })).rejects.toMatchObject({
      code: 'SW_6A88',
    });
    const scp32 = await Scp03Host.open(transmit, { keys: NEW_KEYS, securityLevel: 0x01, kvn: 0x32 });
    expect(scp32.cardInfo.sequenceCounter).toBeDefined();
    expect(toHex(scp32.cardInfo.sequenceCounter!)).toBe('000001'); // counter reset with the new keys
    // Only the MAC key replaced (P2 02, one key): version 33, ENC and DEK kept.
    const mac2 = hex`44444444444444444444444444444444`;
    const one = apdu('80 D8 32 02', hex`33`, scp03PutKeyData(NEW_KEYS.dek, mac2));
    expect(toHex(await scp32.transmit(one))).toBe(`33${toHex(kcvAes(mac2))}9000`);
    await Scp03Host.open(transmit, { keys: { ...NEW_KEYS, mac: mac2 }, securityLevel: 0x01, kvn: 0x33 });
  });
});

describe('SCP02 i = 55 end to end with the SDK host (Scp02Host.open)', () => {
  it('SL 13: GET STATUS, PUT KEY (3DES, session DEK), STORE DATA with a secret DGI, SET STATUS', async () => {
    const { card, transmit } = sim();
    const scp = await Scp02Host.open(transmit, { keys: KEYS.scp02, securityLevel: 0x13, kvn: 0x20, i: 0x55 });
    expect(scp.cardInfo.kvn).toBe(0x20);
    expect(toHex(await scp.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe(
      'E3134F08A0000001510000009F70010FC5039E00009000',
    );
    const des = (k: Uint8Array) => concat(hex`80 10`, scp.encryptKey(k), hex`03`, kcvDes(k));
    const put = apdu('80 D8 00 81', hex`21`, des(NEW_KEYS.enc), des(NEW_KEYS.mac), des(NEW_KEYS.dek));
    expect(toHex(await scp.transmit(put))).toBe(
      `21${toHex(kcvDes(NEW_KEYS.enc))}${toHex(kcvDes(NEW_KEYS.mac))}${toHex(kcvDes(NEW_KEYS.dek))}9000`,
    );
    const scp21 = await Scp02Host.open(transmit, { keys: NEW_KEYS, securityLevel: 0x03, kvn: 0x21 });
    expect(toHex(await scp21.transmit(installForPerso(PERSO_AID)))).toBe('009000');
    // SCP02: the secret DGI under the session DEK (3DES-ECB), padded to 8 bytes.
    const pin = scp21.encryptKey(hex`A1A2A3 80 00000000`);
    expect(sw(await scp21.transmit(apdu('80 E2 E0 00', hex`8010 08`, pin)))).toBe('9000');
    expect(toHex(card.registry.storeOf(PERSO_AID).getBytes('dgi/8010')!)).toBe('01A1A2A38000000000');
    expect(sw(await scp21.transmit(concat(hex`80 F0 40 80`, Uint8Array.of(PERSO_AID.length), PERSO_AID)))).toBe('9000');
    expect(card.registry.get(PERSO_AID)!.lifecycle & 0x80).toBe(0x80);
  });

  it('SL 11: R-MAC on success responses; an error response goes out without R-MAC and the chain stays in step', async () => {
    const { transmit } = sim();
    const scp = await Scp02Host.open(transmit, { keys: KEYS.scp02, securityLevel: 0x11, kvn: 0x20 });
    for (let n = 0; n < 3; n++) {
      expect(sw(await scp.transmit(hex`80 CA 00 66 00`))).toBe('9000');
      expect(sw(await scp.transmit(hex`80 CA 00 99 00`))).toBe('6A88');
      expect(sw(await scp.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe('9000');
    }
  });
});

describe('personalization rules', () => {
  it('a secret DGI (≥ 8000) needs DEK encryption: refused 6982 in plaintext at SL 01, 11 and 33, nothing stored', () => {
    for (const level of [0x01, 0x11, 0x33] as const) {
      const { card } = sim();
      const host = openScp03Sync(cardTransmit(card, IFACE), { keys: KEYS.scp03, securityLevel: level });
      expect(toHex(host.transmit(installForPerso(PERSO_AID)))).toBe('009000');
      expect(toHex(host.transmit(apdu('80 E2 80 00', hex`0101 01 AA 8001 04 01020304`)))).toBe('6982');
      expect(card.registry.storeOf(PERSO_AID).keys()).toEqual([]);
      // Public DGIs alone are fine.
      expect(toHex(host.transmit(apdu('80 E2 00 00', hex`0101 01 AA`)))).toBe('9000');
      expect(card.registry.storeOf(PERSO_AID).getNumber('count')).toBe(1);
      // P1 b7b6 = 01 (application-dependent) or 10 (RFU): 6A86; an encrypted value that is not whole blocks: 6A80.
      expect(toHex(host.transmit(apdu('80 E2 A0 01', hex`8001 10`, new Uint8Array(16))))).toBe('6A86');
      expect(toHex(host.transmit(apdu('80 E2 C0 01', hex`8001 10`, new Uint8Array(16))))).toBe('6A86');
      expect(toHex(host.transmit(apdu('80 E2 E0 01', hex`8001 08`, new Uint8Array(8))))).toBe('6A80');
      expect(card.registry.storeOf(PERSO_AID).getNumber('count')).toBe(1);
      // DEK-encrypted (SL 01 is enough: the DEK protects the value, the C-MAC the command).
      const secret = encryptSecretDgi(scp03DgiCipher(KEYS.scp03.dek), hex`01020304`);
      expect(toHex(host.transmit(apdu('80 E2 E0 01', hex`8001 10`, secret)))).toBe('9000');
      expect(toHex(card.registry.storeOf(PERSO_AID).getBytes('dgi/8001')!).slice(0, 10)).toBe('0101020304');
    }
  });

  it('block numbers must follow 00, 01, …; a failing DGI rolls back the whole command; re-personalization → 6985', () => {
    const { card } = sim();
    const host = openScp03Sync(cardTransmit(card, IFACE), { keys: KEYS.scp03, securityLevel: 0x03 });
    host.transmit(installForPerso(PERSO_AID));
    expect(toHex(host.transmit(apdu('80 E2 00 01', hex`0101 01 AA`)))).toBe('6A86');
    expect(toHex(host.transmit(apdu('80 E2 00 00', hex`0101 01 AA 0BAD 01 00`)))).toBe('6A80');
    expect(card.registry.storeOf(PERSO_AID).keys()).toEqual([]);
    expect(toHex(host.transmit(apdu('80 E2 00 00', hex`0101 01 AA`)))).toBe('9000');
    expect(toHex(host.transmit(apdu('80 E2 00 01', hex`0102 02`)))).toBe('6A80'); // truncated DGI
    expect(toHex(host.transmit(apdu('80 E2 10 01', hex`0102 01 BB`)))).toBe('6A86'); // BER-TLV to an application
    expect(toHex(host.transmit(apdu('80 E2 88 01', hex`0102 FF 0002 BBCC`)))).toBe('9000'); // long-form length, last
    const store = card.registry.storeOf(PERSO_AID);
    expect(toHex(store.getBytes('dgi/0102')!)).toBe('00BBCC'); // not DEK-encrypted
    expect(store.has('personalized')).toBe(true);
    host.transmit(installForPerso(PERSO_AID));
    expect(toHex(host.transmit(apdu('80 E2 80 00', hex`0103 01 AA`)))).toBe('6985');
  });

  it('INSTALL [for personalization]: unknown application 6A88, not personalizable 6985, bad P1/P2 6A86, bad data 6A80', () => {
    const { card } = sim();
    card.registry.install(new SampleApplet());
    const host = openScp03Sync(cardTransmit(card, IFACE), { keys: KEYS.scp03, securityLevel: 0x01 });
    expect(toHex(host.transmit(installForPerso(hex`F0 00 00 00 00 01`)))).toBe('6A88');
    expect(toHex(host.transmit(installForPerso(fromHex(SampleApplet.DEFAULT_AID_HEX))))).toBe('6985');
    expect(toHex(host.transmit(hex`80 E6 0C 00 03 00 00 00`))).toBe('6A86');
    expect(toHex(host.transmit(hex`80 E6 20 00 04 00 00 09 F0`))).toBe('6A80');
  });

  it('STORE DATA to the ISD itself: IIN (42) and CIN (45) in BER-TLV, readable by GET DATA', () => {
    const { card } = sim();
    const t = cardTransmit(card, IFACE);
    expect(toHex(t(hex`80 CA 00 42 00`))).toBe('4203898600' + '9000');
    const host = openScp03Sync(t, { keys: KEYS.scp03, securityLevel: 0x03 });
    expect(toHex(host.transmit(apdu('80 E2 90 00', hex`42 03 112233 45 04 01020304`)))).toBe('9000');
    expect(toHex(t(hex`80 CA 00 42 00`))).toBe('42031122339000');
    expect(toHex(t(hex`80 CA 00 45 00`))).toBe('4504010203049000');
    expect(toHex(host.transmit(apdu('80 E2 90 00', hex`66 01 00`)))).toBe('6A88');
  });
});

describe('GET DATA', () => {
  it('answers without authentication; data objects and status words', () => {
    const { card } = sim();
    const t = cardTransmit(card, IFACE);
    const cp = cardProfile('card-1');
    const cplc = dataOf(t(hex`80 CA 9F 7F 00`));
    expect(cplc.length).toBe(45);
    expect(toHex(parseCplc(cplc.subarray(3)).icBatchIdentifier!)).toBe(cp.iccid.slice(8, 12));
    const data = decodeTlv(dataOf(t(hex`80 CA 00 66 00`)));
    const scps = findTlv(data, '66/73')!.children!.filter((c) => c.tag === 0x64);
    expect(scps.map((c) => toHex(c.value))).toEqual(['06092A864886FC6B040370', '06092A864886FC6B040255']);
    expect(toHex(t(hex`80 CA 00 CF 00`))).toBe('CF0A000044012026000000019000');
    expect(toHex(t(hex`80 CA 00 45 00`))).toBe(`450A${cp.iccid}9000`);
    expect(toHex(t(hex`80 CA 00 99 00`))).toBe('6A88');
    expect(toHex(t(hex`80 CA 9F 7F 01 00 00`))).toBe('6700');
    expect(toHex(t(hex`80 CB 00 00 00`))).toBe('6D00');
    expect(toHex(t(hex`00 F2 80 00 02 4F 00 00`))).toBe('6E00');
    expect(toHex(t(hex`90 CA 9F 7F 00`))).toBe('6884');
    // The FCI carries the same recognition data.
    const fci = decodeTlv(dataOf(t(hex`00 A4 04 00 08 A000000151000000 00`)));
    expect(toHex(findTlv(fci, '6F/84')!.value)).toBe('A000000151000000');
    expect(findTlv(fci, '6F/A5/73')).toBeDefined();
  });
});

describe('GET STATUS', () => {
  it('answers 6310 when the entries exceed one response, continues with P2 b1, then 6A88', () => {
    const { card } = sim();
    for (let n = 0; n < 20; n++)
      card.registry.install(new TestPersoApplet(Uint8Array.of(0xf0, 0x01, 0x02, 0x03, 0x04, 0x05, n)));
    const host = openScp03Sync(cardTransmit(card, IFACE), { keys: KEYS.scp03, securityLevel: 0x33 });
    const first = host.transmit(hex`80 F2 40 02 02 4F 00 00`);
    expect(swOf(first)).toBe(0x6310);
    expect(dataOf(first).length).toBeLessThanOrEqual(MAX_STATUS_DATA);
    const next = [host.transmit(hex`80 F2 40 03 02 4F 00 00`)];
    while (swOf(next.at(-1)!) === 0x6310) next.push(host.transmit(hex`80 F2 40 03 02 4F 00 00`));
    expect(swOf(next.at(-1)!)).toBe(0x9000);
    for (const r of next) expect(dataOf(r).length).toBeLessThanOrEqual(MAX_STATUS_DATA);
    const all = [...decodeTlv(dataOf(first)), ...next.flatMap((r) => decodeTlv(dataOf(r)))];
    expect(all).toHaveLength(22); // the 20, the USIM and the e-purse
    expect(toHex(host.transmit(hex`80 F2 40 03 02 4F 00 00`))).toBe('6A88');
    // Prefix search and tag list.
    expect(toHex(host.transmit(hex`80 F2 40 02 0C 4F 06 F00102030405 5C 02 9F70 00`))).toBe(
      `${'E3049F700107'.repeat(20)}9000`,
    );
    expect(toHex(host.transmit(hex`80 F2 40 02 04 4F 02 F0 FF 00`))).toBe('6A88');
    expect(toHex(host.transmit(hex`80 F2 10 02 02 4F 00 00`))).toBe('6A88');
    expect(toHex(host.transmit(hex`80 F2 08 02 02 4F 00 00`))).toBe('6A86');
    expect(toHex(host.transmit(hex`80 F2 40 06 02 4F 00 00`))).toBe('6A86');
    expect(toHex(host.transmit(hex`80 F2 40 02 02 5C 00 00`))).toBe('6A80');
  });
});

describe('SET STATUS and life cycles', () => {
  it('card life cycle OP_READY → INITIALIZED → SECURED → CARD_LOCKED ⇄ SECURED → TERMINATED; backwards 6985', () => {
    const { card } = sim({ cardLifecycle: CARD_LIFECYCLE.OP_READY });
    const t = cardTransmit(card, IFACE);
    const host = openScp03Sync(t, { keys: KEYS.scp03, securityLevel: 0x01 });
    const steps: Array<[string, string]> = [];
    steps.push(
      ['80 F0 80 7F', '6985'], // CARD_LOCKED only from SECURED
      ['80 F0 80 07', '9000'],
      ['80 F0 80 07', '6985'],
      ['80 F0 80 01', '6A86'],
      ['80 F0 80 0F', '9000'],
      ['80 F0 80 07', '6985'],
      ['80 F0 80 7F', '9000'],
      ['80 F0 80 7F', '6985'],
      ['80 F0 80 0F', '9000'],
      ['80 F0 80 7F', '9000'],
      ['80 F0 80 0F 05 A000000003', '6A80'],
      ['80 F0 20 00', '6A86'],
      ['80 F0 80 FF', '9000'],
    );
    for (const [cmd, want] of steps) expect(toHex(host.transmit(fromHex(cmd))), cmd).toBe(want);
    expect(card.registry.cardLifecycle).toBe(CARD_LIFECYCLE.TERMINATED);
    // TERMINATED: only GET DATA is answered.
    expect(toHex(host.transmit(hex`80 F0 80 0F`))).toBe('6985');
    expect(toHex(t(hex`80 50 00 00 08 0102030405060708 00`))).toBe('6985');
    expect(toHex(t(hex`84 82 01 00 10 00000000000000000000000000000000`))).toBe('6985');
    expect(swOf(t(hex`80 CA 9F 7F 00`))).toBe(0x9000);
    expect(swOf(t(hex`80 CA 00 66 00`))).toBe(0x9000);
  });

  it('application lock/unlock: 6A88 unknown, 6985 twice or for the ISD, 6A86 other P2, 6A80 no AID', () => {
    const { card } = sim();
    const host = openScp03Sync(cardTransmit(card, IFACE), { keys: KEYS.scp03, securityLevel: 0x01 });
    const lock = (p2: number, aid: Uint8Array) =>
      toHex(host.transmit(concat(hex`80 F0 40`, Uint8Array.of(p2, aid.length), aid)));
    expect(lock(0x80, hex`F0 00 00 00 00 09`)).toBe('6A88');
    expect(lock(0x80, hex`A0 00 00 01 51 00 00 00`)).toBe('6985');
    expect(lock(0x00, PERSO_AID)).toBe('6985');
    expect(lock(0x80, PERSO_AID)).toBe('9000');
    expect(lock(0x80, PERSO_AID)).toBe('6985');
    expect(lock(0x0f, PERSO_AID)).toBe('6A86');
    expect(toHex(host.transmit(hex`80 F0 40 80`))).toBe('6A80');
    // A locked application cannot be selected, nor personalized.
    expect(toHex(card.transmit(IFACE, concat(hex`00 A4 04 00`, Uint8Array.of(PERSO_AID.length), PERSO_AID)))).toBe(
      '6A82',
    );
    expect(toHex(host.transmit(installForPerso(PERSO_AID)))).toBe('6985');
    expect(lock(0x00, PERSO_AID)).toBe('9000');
    expect(swOf(card.transmit(IFACE, concat(hex`00 A4 04 00`, Uint8Array.of(PERSO_AID.length), PERSO_AID)))).toBe(
      0x9000,
    );
  });
});

describe('card images', () => {
  it('a restored SIM keeps key sets, counters, IIN/CIN and life cycle; hooks come from the restore options', () => {
    const { card } = sim();
    const host = openScp03Sync(cardTransmit(card, IFACE), { keys: KEYS.scp03, securityLevel: 0x03 });
    host.transmit(
      apdu(
        '80 D8 00 81',
        hex`31`,
        scp03PutKeyData(KEYS.scp03.dek, NEW_KEYS.enc),
        scp03PutKeyData(KEYS.scp03.dek, NEW_KEYS.mac),
        scp03PutKeyData(KEYS.scp03.dek, NEW_KEYS.dek),
      ),
    );
    host.transmit(apdu('80 E2 90 00', hex`42 03 445566`));
    const seen: number[] = [];
    const copy = restoreSim(card.snapshot(), {
      factories: { [TestPersoApplet.TYPE]: (env) => new TestPersoApplet(env.aid) },
      isdChallenge: (r) => {
        seen.push(r.sequenceCounter);
        return undefined;
      },
    });
    copy.powerOn('contact');
    const t = cardTransmit(copy, 'contact');
    expect(toHex(t(hex`80 CA 00 42 00`))).toBe('42034455669000');
    const h31 = openScp03Sync(t, { keys: NEW_KEYS, securityLevel: 0x33, kvn: 0x31 });
    expect(swOf(h31.transmit(hex`80 F2 40 02 02 4F 00 00`))).toBe(0x9000);
    const h30 = openScp03Sync(t, { keys: KEYS.scp03, securityLevel: 0x01 });
    expect(toHex(h30.info.sequenceCounter!)).toBe('000002');
    expect(seen).toEqual([1, 2]);
    expect(toHex(t(hex`00 A4 04 00 00`).subarray(-2))).toBe('9000');
  });

  it('other cards of the profile and the default-keys option', () => {
    for (const label of ['card-2', 'card-3']) {
      const c = createSim({ card: label });
      c.powerOn('contact');
      const host = openScp03Sync(cardTransmit(c, 'contact'), {
        keys: simIsdKeys({ card: label }).scp03,
        securityLevel: 0x33,
      });
      expect(toHex(host.info.kdd)).toBe(toHex(cardProfile(label).isd.kdd));
      expect(() => openScp03Sync(cardTransmit(c, 'contact'), { keys: KEYS.scp03, securityLevel: 0x01 })).toThrow(
        'card cryptogram',
      );
    }
    const d = createSim({ defaultKeys: true });
    d.powerOn('contact');
    const t = cardTransmit(d, 'contact');
    const statics = {
      enc: hex`404142434445464748494A4B4C4D4E4F`,
      mac: hex`404142434445464748494A4B4C4D4E4F`,
      dek: hex`404142434445464748494A4B4C4D4E4F`,
    };
    openScp03Sync(t, { keys: statics, securityLevel: 0x33 });
    openScp02Sync(t, { keys: statics, securityLevel: 0x13, kvn: 0x20 });
  });
});

describe('docs/card.md', () => {
  it('documents every ISD command header and each status word the ISD answers in its section', () => {
    const doc = readFileSync(new URL('../../../../docs/card.md', import.meta.url), 'utf8');
    const start = doc.indexOf('## Issuer security domain');
    const section = doc.slice(start, doc.indexOf('\n## ', start + 10));
    expect(section.length).toBeGreaterThan(1000);
    for (const c of Object.values(ISD_COMMANDS)) {
      expect(section, c.label).toContain(c.label);
      expect(section, c.label).toContain(`\`${c.header}`);
    }
    for (const sw of ['6300', '6310', '6700', '6884', '6982', '6985', '6A80', '6A84', '6A86', '6A88', '6D00', '6E00'])
      expect(section, sw).toContain(`\`${sw}\``);
  });
});

describe('the session does not outlive its card session', () => {
  // The card-side session is closed (its keys wiped) by the transient-memory hook set at EXTERNAL AUTHENTICATE.
  const events: Array<[string, (card: Card, host: SyncScpHost) => void]> = [
    ['reset', (card) => card.reset(IFACE)],
    ['power off', (card) => card.powerOff(IFACE)],
    [
      'deselect (SELECT of another application on the channel)',
      (card) => card.transmit(IFACE, concat(hex`00 A4 04 00 08`, PERSO_AID, hex`00`)),
    ],
    [
      'tear during a persistent write of the session',
      (card, host) => {
        card.tearAt(1);
        expect(() => host.transmit(hex`80 E2 90 00 05 42 03 445566`)).toThrow();
      },
    ],
  ];
  for (const [what, event] of events)
    it(`${what}: the card-side SCP03 session is closed`, () => {
      const { card } = sim();
      const host = openScp03Sync(cardTransmit(card, IFACE), { keys: KEYS.scp03, securityLevel: 0x01 });
      const close = vi.spyOn(Scp03Session.prototype, 'close');
      try {
        expect(swOf(host.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe(0x9000);
        const before = close.mock.instances.length;
        event(card, host);
        // The card's session object (not the host's) was closed.
        expect(close.mock.instances.length).toBe(before + 1);
        expect(close.mock.instances.at(-1)).not.toBe(host.session);
      } finally {
        close.mockRestore();
      }
    });
});

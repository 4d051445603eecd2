import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import vectors from '../../../test/vectors/gp-scp02.json';
import { concat, fromHex, hex, toHex } from '../bytes';
import { kcvDes } from '../crypto';
import { CryptoError, ParseError } from '../errors';
import { type CommandApdu, encodeCommandApdu, parseCommandApdu, StatusWordError, withChannel } from '../iso7816';
import type { StaticKeys } from './diversification';
import {
  decryptKeyScp02,
  encryptKeyScp02,
  parseScp02InitUpdateResponse,
  Scp02Host,
  type Scp02PendingSession,
  Scp02Session,
  scp02CardInitializeUpdate,
  scp02Cryptograms,
  scp02PseudoRandomChallenge,
  scp02PutKeyData,
  scp02SessionKeys,
} from './scp02';
import type { SecurityLevelValue } from './security-level';

type RspFields = {
  key_div_data: string;
  kvn: string;
  seq_counter: string;
  card_challenge: string;
  card_cryptogram: string;
};
type PySimCase = {
  id: string;
  keys: { enc: string; mac: string; dek: string };
  host_challenge: string;
  initialize_update_cmd: string;
  initialize_update_rsp: string;
  rsp_fields: RspFields;
  external_authenticate_cmd: string;
  helper_derived: { 'S-ENC': string; 'S-MAC': string; 'S-DEK': string; host_cryptogram: string };
  wrapped_commands_in_order: Array<{ plain: string; wrapped: string; apdu_case: number }>;
};
type CardCase = Omit<PySimCase, 'external_authenticate_cmd' | 'helper_derived' | 'wrapped_commands_in_order'>;
type KcvCase = {
  id: string;
  session_key_kcv: Record<string, string>;
  put_key_encrypt: { key_to_encrypt: string; expected: string };
};

const all = vectors.cases as unknown[];
const byId = <T>(id: string): T => all.find((c) => (c as { id: string }).id === id) as T;
const pysim = byId<PySimCase>('pysim-scp02-session');
const csdn = byId<CardCase>('csdn-real-card-init-update');
const gppro = byId<KcvCase>('gppro-scp02-session-key-kcv');

const h = (s: string): string => toHex(fromHex(s));
const keysOf = (k: { enc: string; mac: string; dek: string }): StaticKeys => ({
  enc: fromHex(k.enc),
  mac: fromHex(k.mac),
  dek: fromHex(k.dek),
});

function scripted(responses: string[]): { sent: string[]; transmit: (a: Uint8Array) => Promise<Uint8Array> } {
  const sent: string[] = [];
  const queue = responses.map(fromHex);
  return {
    sent,
    transmit: async (a) => {
      sent.push(toHex(a));
      const r = queue.shift();
      if (r === undefined) throw new Error('script exhausted');
      return r;
    },
  };
}

async function openPySim(extra: string[] = [], level: SecurityLevelValue = 0x01) {
  const { sent, transmit } = scripted([`${pysim.initialize_update_rsp}9000`, '9000', ...extra]);
  const host = await Scp02Host.open(transmit, {
    keys: keysOf(pysim.keys),
    securityLevel: level,
    kvn: 0x20,
    i: 0x15,
    hostChallenge: fromHex(pysim.host_challenge),
  });
  return { host, sent };
}

describe('SCP02 pySim session replayed byte for byte (host side)', () => {
  it('the vector file holds security level 01 (EXTERNAL AUTHENTICATE P1) and cases 1–4', () => {
    expect(pysim.external_authenticate_cmd.slice(4, 6)).toBe('01');
    expect(pysim.wrapped_commands_in_order.map((w) => w.apdu_case)).toEqual([1, 2, 3, 4]);
  });

  it('INITIALIZE UPDATE, card cryptogram, EXTERNAL AUTHENTICATE and the four wrapped cases', async () => {
    const { host, sent } = await openPySim();
    expect(sent[0]).toBe(h(pysim.initialize_update_cmd));
    expect(sent[1]).toBe(h(pysim.external_authenticate_cmd));
    expect(toHex(host.cardInfo.sequenceCounter)).toBe(h(pysim.rsp_fields.seq_counter));
    expect(host.cardInfo.kvn).toBe(0x70);
    for (const w of pysim.wrapped_commands_in_order)
      expect(toHex(host.session.wrapCommand(fromHex(w.plain)))).toBe(h(w.wrapped));
  });

  it('session keys and cryptograms', () => {
    const sk = scp02SessionKeys(keysOf(pysim.keys), fromHex(pysim.rsp_fields.seq_counter));
    expect(toHex(sk.sEnc)).toBe(h(pysim.helper_derived['S-ENC']));
    expect(toHex(sk.sMac)).toBe(h(pysim.helper_derived['S-MAC']));
    expect(toHex(sk.sDek)).toBe(h(pysim.helper_derived['S-DEK']));
    const cg = scp02Cryptograms(sk.sEnc, 1, fromHex(pysim.host_challenge), fromHex(pysim.rsp_fields.card_challenge));
    expect(toHex(cg.cardCryptogram)).toBe(h(pysim.rsp_fields.card_cryptogram));
    expect(toHex(cg.hostCryptogram)).toBe(h(pysim.helper_derived.host_cryptogram));
  });

  it('a real card (CSDN trace, T=0, default keys): the host verifies its card cryptogram', async () => {
    const { sent, transmit } = scripted([`${csdn.initialize_update_rsp}9000`, '9000']);
    const host = await Scp02Host.open(transmit, {
      keys: keysOf(csdn.keys),
      securityLevel: 0x01,
      hostChallenge: fromHex(csdn.host_challenge),
    });
    expect(sent[0]).toBe(h(csdn.initialize_update_cmd));
    expect(sent[1]!.slice(0, 10)).toBe('8482010010');
    expect(toHex(host.cardInfo.kdd)).toBe(h(csdn.rsp_fields.key_div_data));
  });
});

describe('SCP02 card side', () => {
  it('pySim (i = 15, random challenge injected): reproduces the response, accepts EXTERNAL AUTHENTICATE and every case', () => {
    const { response, pending } = scp02CardInitializeUpdate(fromHex(pysim.initialize_update_cmd), {
      keys: keysOf(pysim.keys),
      kvn: 0x70,
      i: 0x15,
      sequenceCounter: 1,
      cardChallenge: fromHex(pysim.rsp_fields.card_challenge),
    });
    expect(toHex(response)).toBe(h(pysim.initialize_update_rsp));
    const card = pending.externalAuthenticate(fromHex(pysim.external_authenticate_cmd));
    expect(card.securityLevel).toBe(0x01);
    for (const w of pysim.wrapped_commands_in_order) {
      const plain = card.unwrapCommand(fromHex(w.wrapped));
      expect(toHex(encodeCommandApdu(plain))).toBe(h(w.plain));
      expect(toHex(card.wrapResponse(hex`0102`, 0x9000))).toBe('01029000'); // level 01: no R-MAC
    }
    // PUT KEY key data decrypts under the session DEK for the life of the session.
    const sk = scp02SessionKeys(keysOf(pysim.keys), 1);
    const key = hex`00112233445566778899AABBCCDDEEFF`;
    expect(toHex(card.decryptKey(encryptKeyScp02(sk.sDek, key)))).toBe(toHex(key));
  });

  it('real card (i = 55): the pseudo-random challenge over AID A000000003000000 reproduces the whole response', () => {
    const aid = hex`A000000003000000`;
    const seq = Number.parseInt(csdn.rsp_fields.seq_counter, 16);
    expect(toHex(scp02PseudoRandomChallenge(keysOf(csdn.keys).mac, seq, aid))).toBe(h(csdn.rsp_fields.card_challenge));
    const { response } = scp02CardInitializeUpdate(fromHex(csdn.initialize_update_cmd), {
      keys: keysOf(csdn.keys),
      kvn: 0xff,
      i: 0x55,
      sequenceCounter: seq,
      kdd: fromHex(csdn.rsp_fields.key_div_data),
      aid,
    });
    expect(toHex(response)).toBe(h(csdn.initialize_update_rsp));
  });

  it('GPPro: session-key KCVs at sequence counter 0000 and PUT KEY key encryption', () => {
    const k = hex`404142434445464748494A4B4C4D4E4F`;
    const sk = scp02SessionKeys({ enc: k, mac: k, dek: k }, 0);
    expect(toHex(kcvDes(sk.sEnc))).toBe(gppro.session_key_kcv['S-ENC(0182)']);
    expect(toHex(kcvDes(sk.sMac))).toBe(gppro.session_key_kcv['S-MAC(0101)']);
    expect(toHex(kcvDes(sk.sDek))).toBe(gppro.session_key_kcv['S-DEK(0181)']);
    expect(toHex(kcvDes(sk.sRmac))).toBe(gppro.session_key_kcv['S-RMAC(0102)']);
    const enc = encryptKeyScp02(sk.sDek, fromHex(gppro.put_key_encrypt.key_to_encrypt));
    expect(toHex(enc)).toBe(gppro.put_key_encrypt.expected);
    expect(toHex(decryptKeyScp02(sk.sDek, enc))).toBe(h(gppro.put_key_encrypt.key_to_encrypt));
    const field = scp02PutKeyData(sk.sDek, k);
    expect(toHex(field)).toBe(`8010${gppro.put_key_encrypt.expected}03${toHex(kcvDes(k))}`);
  });
});

// ---------------------------------------------------------------- loopback

const K: StaticKeys = {
  enc: hex`404142434445464748494A4B4C4D4E4F`,
  mac: hex`505152535455565758595A5B5C5D5E5F`,
  dek: hex`606162636465666768696A6B6C6D6E6F`,
};
const ISD = hex`A000000151000000`;

interface Loopback {
  transmit: (apdu: Uint8Array) => Promise<Uint8Array>;
  seen: CommandApdu[];
  answer: { data: Uint8Array; sw: number };
}

function loopbackCard(keys: StaticKeys, i = 0x55): Loopback {
  let pending: Scp02PendingSession | undefined;
  let session: Scp02Session | undefined;
  let seq = 0x10;
  const lb: Loopback = {
    seen: [],
    answer: { data: new Uint8Array(0), sw: 0x9000 },
    transmit: async (apdu) => {
      const c = parseCommandApdu(apdu);
      if (c.ins === 0x50) {
        const r = scp02CardInitializeUpdate(c, { keys, kvn: 0x20, i, sequenceCounter: seq++, aid: ISD });
        pending = r.pending;
        return concat(r.response, hex`9000`);
      }
      if (session === undefined) {
        session = pending!.externalAuthenticate(c);
        return hex`9000`;
      }
      lb.seen.push(session.unwrapCommand(c));
      return session.wrapResponse(lb.answer.data, lb.answer.sw);
    },
  };
  return lb;
}

describe('SCP02 host ⇄ card (loopback)', () => {
  const arbCommand = fc.record({
    cla: fc.constantFrom(0x80, 0x00, 0x90),
    ins: fc.integer({ min: 0, max: 255 }).filter((x) => x !== 0x50 && x !== 0x82),
    p1: fc.integer({ min: 0, max: 255 }),
    p2: fc.integer({ min: 0, max: 255 }),
    data: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 239 })),
    ne: fc.option(fc.integer({ min: 1, max: 256 }), { nil: undefined }),
  });
  const arbAnswer = fc.record({
    data: fc.uint8Array({ maxLength: 64 }),
    sw: fc.constantFrom(0x9000, 0x6283, 0x63c1, 0x6a82, 0x6982),
  });

  for (const level of [0x01, 0x03, 0x11, 0x13] as SecurityLevelValue[]) {
    for (const i of [0x15, 0x55]) {
      it(`level ${level.toString(16).padStart(2, '0')}, i = ${i.toString(16)}: random commands (cases 1–4, channels 0–19) and responses round-trip`, async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 0, max: 19 }),
            fc.array(fc.tuple(arbCommand, arbAnswer), { minLength: 1, maxLength: 6 }),
            async (channel, steps) => {
              const lb = loopbackCard(K, i);
              const host = await Scp02Host.open(lb.transmit, { keys: K, securityLevel: level, channel, i });
              for (const [cmd, answer] of steps) {
                if (cmd.cla === 0x90 && channel === 19) {
                  expect(() => host.session.wrapCommand(cmd)).toThrow(
                    expect.objectContaining({ code: 'BAD_ARGUMENT' }),
                  );
                  continue;
                }
                lb.answer = answer;
                const plainResponse = await host.transmit(cmd);
                const seen = lb.seen.at(-1)!;
                expect(seen.cla).toBe(withChannel(cmd.cla, channel));
                expect([seen.ins, seen.p1, seen.p2, seen.ne]).toEqual([cmd.ins, cmd.p1, cmd.p2, cmd.ne]);
                expect(toHex(seen.data)).toBe(toHex(cmd.data));
                const swBytes = Uint8Array.of(answer.sw >> 8, answer.sw & 0xff);
                const errorSw = answer.sw !== 0x9000 && answer.sw >> 8 !== 0x62 && answer.sw >> 8 !== 0x63;
                const expected = level & 0x10 && errorSw ? swBytes : concat(answer.data, swBytes);
                expect(toHex(plainResponse)).toBe(toHex(expected));
              }
              host.close();
            },
          ),
          { numRuns: 25 },
        );
      });
    }
  }

  it('R-MAC levels: an error SW comes with an R-MAC over Li = 00 and no data', async () => {
    const lb = loopbackCard(K);
    const wire: Uint8Array[] = [];
    const host = await Scp02Host.open(
      async (a) => {
        const r = await lb.transmit(a);
        wire.push(r);
        return r;
      },
      { keys: K, securityLevel: 0x11 },
    );
    lb.answer = { data: hex`0102`, sw: 0x6a88 };
    expect(toHex(await host.transmit(hex`80 CA 00 66 00`))).toBe('6A88');
    expect(wire.at(-1)).toHaveLength(10);
    lb.answer = { data: hex`0102`, sw: 0x9000 };
    expect(toHex(await host.transmit(hex`80 CA 00 66 00`))).toBe('01029000');
    expect(wire.at(-1)).toHaveLength(12);
  });

  it('the wire CLA carries the channel and SM bit; the MAC does not depend on the channel', async () => {
    const wrapOn = async (channel: number) => {
      const lb = loopbackCard(K);
      const host = await Scp02Host.open(lb.transmit, {
        keys: K,
        securityLevel: 0x03,
        channel,
        hostChallenge: hex`1122334455667788`,
      });
      return host.session.wrapCommand(hex`80 F2 40 00 02 4F 00 00`);
    };
    const [w0, w3, w4] = [await wrapOn(0), await wrapOn(3), await wrapOn(4)];
    expect([w0[0], w3[0], w4[0]]).toEqual([0x84, 0x87, 0xe0]);
    expect(toHex(w3.subarray(1))).toBe(toHex(w0.subarray(1)));
    expect(toHex(w4.subarray(1))).toBe(toHex(w0.subarray(1)));
  });
});

describe('SCP02 failures', () => {
  it('a flipped card cryptogram byte (…F3 → …FF, pySim negative test) gives SCP_CARD_CRYPTOGRAM_INVALID', async () => {
    const bad = `${pysim.initialize_update_rsp.slice(0, -2)}FF9000`;
    const { sent, transmit } = scripted([bad]);
    const p = Scp02Host.open(transmit, {
      keys: keysOf(pysim.keys),
      securityLevel: 1,
      hostChallenge: fromHex(pysim.host_challenge),
    });
    await expect(p).rejects.toBeInstanceOf(CryptoError);
    await expect(p).rejects.toMatchObject({ code: 'SCP_CARD_CRYPTOGRAM_INVALID' });
    expect(sent).toHaveLength(1);
  });

  it('failing INITIALIZE UPDATE / EXTERNAL AUTHENTICATE surface as StatusWordError', async () => {
    await expect(Scp02Host.open(scripted(['6982']).transmit, { keys: K, securityLevel: 1 })).rejects.toMatchObject({
      code: 'SW_6982',
    });
    const p = Scp02Host.open(scripted([`${pysim.initialize_update_rsp}9000`, '6300']).transmit, {
      keys: keysOf(pysim.keys),
      securityLevel: 1,
      hostChallenge: fromHex(pysim.host_challenge),
    });
    await expect(p).rejects.toBeInstanceOf(StatusWordError);
    await expect(p).rejects.toMatchObject({ sw: 0x6300 });
  });

  it('rejects a malformed INITIALIZE UPDATE response', async () => {
    expect(() => parseScp02InitUpdateResponse(new Uint8Array(29))).toThrow(ParseError);
    const scp03ish = `${pysim.initialize_update_rsp.slice(0, 22)}03${pysim.initialize_update_rsp.slice(24)}9000`;
    await expect(Scp02Host.open(scripted([scp03ish]).transmit, { keys: K, securityLevel: 1 })).rejects.toMatchObject({
      code: 'SCP_INIT_UPDATE_RESPONSE_INVALID',
    });
  });

  it('card side: a tampered byte of a wrapped command throws SCP_CMAC_INVALID and aborts the session', () => {
    for (const w of pysim.wrapped_commands_in_order) {
      // MAC bytes (1..8 from the end, before any Le) and, for cases 3/4, the last data byte.
      for (const fromEnd of w.apdu_case >= 3 ? [1, 8, 9] : [1, 8]) {
        const { pending } = scp02CardInitializeUpdate(fromHex(pysim.initialize_update_cmd), {
          keys: keysOf(pysim.keys),
          kvn: 0x70,
          i: 0x15,
          sequenceCounter: 1,
          cardChallenge: fromHex(pysim.rsp_fields.card_challenge),
        });
        const card = pending.externalAuthenticate(fromHex(pysim.external_authenticate_cmd));
        const bad = fromHex(w.wrapped);
        const at = bad.length - fromEnd - (w.apdu_case === 2 || w.apdu_case === 4 ? 1 : 0);
        bad[at]! ^= 0x80;
        expect(() => card.unwrapCommand(bad)).toThrow(expect.objectContaining({ code: 'SCP_CMAC_INVALID' }));
        expect(card.isClosed).toBe(true);
        expect(() => card.wrapResponse(new Uint8Array(0), 0x9000)).toThrow(
          expect.objectContaining({ code: 'SCP_SESSION_CLOSED' }),
        );
      }
    }
  });

  it('card side: bad EXTERNAL AUTHENTICATE C-MAC, wrong host cryptogram, level 33', () => {
    const init = () =>
      scp02CardInitializeUpdate(fromHex(pysim.initialize_update_cmd), {
        keys: keysOf(pysim.keys),
        kvn: 0x70,
        i: 0x15,
        sequenceCounter: 1,
        cardChallenge: fromHex(pysim.rsp_fields.card_challenge),
      }).pending;
    const ea = fromHex(pysim.external_authenticate_cmd);
    const badMac = ea.slice();
    badMac[badMac.length - 1]! ^= 1;
    expect(() => init().externalAuthenticate(badMac)).toThrow(expect.objectContaining({ code: 'SCP_CMAC_INVALID' }));
    const sk = scp02SessionKeys(keysOf(pysim.keys), 1);
    const forged = new Scp02Session({
      keys: sk,
      securityLevel: 0x01,
      role: 'host',
      i: 0x15,
    }).externalAuthenticateCommand(new Uint8Array(8));
    expect(() => init().externalAuthenticate(forged)).toThrow(
      expect.objectContaining({ code: 'SCP_HOST_CRYPTOGRAM_INVALID' }),
    );
    const level33 = ea.slice();
    level33[2] = 0x33;
    expect(() => init().externalAuthenticate(level33)).toThrow(
      expect.objectContaining({ code: 'SCP_SECURITY_LEVEL_INVALID' }),
    );
  });

  it('host side: a tampered R-MAC throws SCP_RMAC_INVALID and closes the session', async () => {
    const lb = loopbackCard(K);
    const host = await Scp02Host.open(
      async (a) => {
        const r = await lb.transmit(a);
        if (r.length > 2 && a[1] === 0xca) r[r.length - 3]! ^= 0x01;
        return r;
      },
      { keys: K, securityLevel: 0x13 },
    );
    lb.answer = { data: hex`AABB`, sw: 0x9000 };
    await expect(host.transmit(hex`80 CA 00 66 00`)).rejects.toMatchObject({ code: 'SCP_RMAC_INVALID' });
    expect(() => host.session.wrapCommand(hex`80 CA 00 66 00`)).toThrow(
      expect.objectContaining({ code: 'SCP_SESSION_CLOSED' }),
    );
    expect(() => host.encryptKey(new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'SCP_SESSION_CLOSED' }));
  });

  it('wrap after close throws; SCP02 refuses level 33, extended APDUs and unsupported i', async () => {
    const { host } = await openPySim();
    expect(toHex(host.encryptKey(new Uint8Array(16)))).toHaveLength(32);
    host.close();
    expect(() => host.session.wrapCommand(hex`80 CA 00 66 00`)).toThrow(
      expect.objectContaining({ code: 'SCP_SESSION_CLOSED' }),
    );
    await expect(
      Scp02Host.open(scripted([]).transmit, { keys: K, securityLevel: 0x33 as SecurityLevelValue }),
    ).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(Scp02Host.open(scripted([]).transmit, { keys: K, securityLevel: 1, i: 0x1a })).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
    });
    const { host: h2 } = await openPySim();
    expect(() =>
      h2.session.wrapCommand({ cla: 0x80, ins: 0xe2, p1: 0, p2: 0, data: new Uint8Array(248), ne: undefined }),
    ).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    // the refused command left the chain untouched: the next recorded case still matches
    expect(toHex(h2.session.wrapCommand(fromHex(pysim.wrapped_commands_in_order[0]!.plain)))).toBe(
      h(pysim.wrapped_commands_in_order[0]!.wrapped),
    );
  });

  it('i = 55 without an AID and bad PUT KEY inputs are argument errors', () => {
    expect(() =>
      scp02CardInitializeUpdate(hex`80 50 00 00 08 0102030405060708 00`, { keys: K, kvn: 0x20, sequenceCounter: 1 }),
    ).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => encryptKeyScp02(new Uint8Array(16), new Uint8Array(12))).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENT' }),
    );
  });
});

import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import {
  Scp02Session,
  Scp03Session,
  type SecurityLevelValue,
  type StaticKeys,
  scp02Cryptograms,
  scp02SessionKeys,
  scp03Cryptograms,
  scp03SessionKeys,
} from '@simtap/sdk/core/gp';
import { decodeTlv } from '@simtap/sdk/core/tlv';
import { vector } from '@simtap/sdk/testing';
import { describe, expect, it } from 'vitest';
import type { CardInterface } from '../../runtime/applet';
import { createSim, simIsdKeys } from '../../sim';
import type { IsdChallengeRequest } from './secure-channel';
import { cardTransmit, dataOf, HandshakeError, openScp02Sync, openScp03Sync, swOf } from './test-support';

const load = (name: 'gp-scp02' | 'gp-scp03'): { cases: Record<string, unknown>[] } =>
  vector<{ cases: Record<string, unknown>[] }>(name);

interface Scp03Case {
  id: string;
  keys: { kvn: string; enc: string; mac: string; dek: string };
  security_level: string;
  initialize_update_cmd: string;
  initialize_update_rsp: string;
  rsp_fields: { kvn: string; card_challenge: string; seq_counter: string };
  external_authenticate_cmd: string;
  get_eid_plain_cmd: string;
  get_eid_wrapped_cmd: string;
  get_eid_wrapped_rsp_data_without_sw: string;
  get_eid_plain_rsp_data: string;
  wrapped_commands_in_order_after_get_eid: Array<{ plain: string; wrapped: string }>;
}

interface Scp02Case {
  id: string;
  keys: { enc: string; mac: string; dek: string };
  host_challenge: string;
  initialize_update_cmd: string;
  initialize_update_rsp: string;
  rsp_fields: { kvn: string; seq_counter: string; card_challenge: string; key_div_data: string };
  external_authenticate_cmd?: string;
  wrapped_commands_in_order?: Array<{ plain: string; wrapped: string }>;
}

const scp03Cases = load('gp-scp03').cases.filter((c) =>
  String(c.id).startsWith('pysim-SCP03'),
) as unknown as Scp03Case[];
const scp02Cases = load('gp-scp02').cases as unknown as Scp02Case[];
const pysim02 = scp02Cases.find((c) => c.id === 'pysim-scp02-session')!;
const csdn02 = scp02Cases.find((c) => c.id === 'csdn-real-card-init-update')!;

/** The ISD-R AID the pySim SCP03 sessions were recorded against (it reproduces their pseudo-random challenges). */
const ISD_R_AID = hex`A0000005591010FFFFFFFF8900000100`;
const IFACE: CardInterface = 'contact';
const h = (s: string): string => s.replace(/\s+/g, '').toUpperCase();
const keysOf = (k: { enc: string; mac: string; dek: string }): StaticKeys => ({
  enc: fromHex(k.enc),
  mac: fromHex(k.mac),
  dek: fromHex(k.dek),
});

/**
 * GET EID (`80 E2 91 00 BF3E 03 5C 01 5A`) in the recorded sessions is an eUICC ES10 command addressed to an
 * ISD-R; this ISD has no eUICC functions, so the replay registers a tiny extension for STORE DATA to the ISD
 * itself that answers it with the recorded EID.
 */
const EID_RESPONSE = fromHex(scp03Cases[0]!.get_eid_plain_rsp_data);
const eidExtension = (req: { data: Uint8Array }): Uint8Array | undefined => {
  if (toHex(req.data) === 'BF3E035C015A') return EID_RESPONSE;
  return undefined;
};

/** The ISD's answer to each of pySim's four wrapped commands, as clear response (SW only for errors). */
function expectedAnswers(aid: Uint8Array): string[] {
  return [
    '6A80', // GET STATUS P1 20 without search criteria: tag 4F is mandatory
    '', // GET DATA 66: card recognition data, checked separately
    // GET STATUS P1 20 `4F 02 1234 5C 05 4F9F70C5`: the recorded tag list declares 5 bytes but carries 4 (Lc 0A)
    '6A80',
    `E3${toHex(Uint8Array.of(aid.length + 11))}4F${toHex(Uint8Array.of(aid.length))}${toHex(aid)}9F70010FC5039E00009000`,
  ];
}

describe('pySim SCP03 sessions replayed byte for byte through the ISD on a Card', () => {
  it('all nine sessions (AES-128/192/256 × SL 03/11/33) on one card: counters per key set, every byte equal', () => {
    const card = createSim({
      isd: {
        aid: ISD_R_AID,
        kdd: new Uint8Array(10),
        scp03I: 0x70,
        keySets: [0x30, 0x31, 0x32].map((kvn) => {
          const c = scp03Cases.find((x) => Number.parseInt(x.keys.kvn, 16) === kvn)!;
          return { kvn, scp: 3 as const, keys: keysOf(c.keys) };
        }),
      },
      isdStoreData: eidExtension,
    });
    card.powerOn(IFACE);
    const t = cardTransmit(card, IFACE);
    // Within each key set the recorded sequence counters run 1, 2, 3: replay in that order.
    const ordered = [...scp03Cases].sort(
      (a, b) =>
        a.keys.kvn.localeCompare(b.keys.kvn) ||
        Number.parseInt(a.rsp_fields.seq_counter, 16) - Number.parseInt(b.rsp_fields.seq_counter, 16),
    );
    expect(ordered).toHaveLength(9);
    for (const c of ordered) {
      const level = Number.parseInt(c.security_level, 16) as SecurityLevelValue;
      expect(toHex(t(fromHex(c.initialize_update_cmd))), c.id).toBe(`${h(c.initialize_update_rsp)}9000`);
      expect(toHex(t(fromHex(c.external_authenticate_cmd))), c.id).toBe('9000');
      // A host session mirroring pySim's, to check the card's R-MAC / R-ENC on every answer.
      const hostChallenge = fromHex(c.initialize_update_cmd).subarray(5, 13);
      const cardChallenge = fromHex(c.rsp_fields.card_challenge);
      const sk = scp03SessionKeys(keysOf(c.keys), hostChallenge, cardChallenge);
      const cg = scp03Cryptograms(sk.sMac, hostChallenge, cardChallenge);
      const hostSession = new Scp03Session({ keys: sk, securityLevel: level, role: 'host' });
      expect(toHex(hostSession.externalAuthenticateCommand(cg.hostCryptogram))).toBe(h(c.external_authenticate_cmd));

      expect(toHex(hostSession.wrapCommand(fromHex(c.get_eid_plain_cmd)))).toBe(h(c.get_eid_wrapped_cmd));
      const eid = t(fromHex(c.get_eid_wrapped_cmd));
      expect(toHex(eid), `${c.id} GET EID`).toBe(`${h(c.get_eid_wrapped_rsp_data_without_sw)}9000`);
      expect(toHex(hostSession.unwrapResponse(eid))).toBe(`${h(c.get_eid_plain_rsp_data)}9000`);

      const answers = expectedAnswers(ISD_R_AID);
      c.wrapped_commands_in_order_after_get_eid.forEach((w, n) => {
        expect(toHex(hostSession.wrapCommand(fromHex(w.plain)))).toBe(h(w.wrapped));
        const rsp = t(fromHex(w.wrapped));
        const clear = hostSession.unwrapResponse(rsp); // verifies the card's R-MAC (and R-ENC) at SL 11/33
        if (n === 1) {
          expect(swOf(clear)).toBe(0x9000);
          expect(decodeTlv(dataOf(clear))[0]!.tag).toBe(0x66);
          if ((level & 0x10) !== 0) expect(rsp.length).toBeGreaterThan(clear.length); // carries an R-MAC
        } else expect(toHex(clear), `${c.id} command ${n}`).toBe(answers[n]);
      });
      // The session survived every answer: one more protected command goes through.
      expect(swOf(hostSession.unwrapResponse(t(hostSession.wrapCommand(hex`80 CA 00 E0 00`))))).toBe(0x9000);
    }
  });

  it('each session alone on a fresh card whose counter is preset to the recorded value minus one', () => {
    for (const c of scp03Cases) {
      const seq = Number.parseInt(c.rsp_fields.seq_counter, 16);
      const card = createSim({
        isd: {
          aid: ISD_R_AID,
          kdd: new Uint8Array(10),
          keySets: [{ kvn: Number.parseInt(c.keys.kvn, 16), scp: 3, keys: keysOf(c.keys), sequenceCounter: seq - 1 }],
        },
        isdStoreData: eidExtension,
      });
      card.powerOn('contactless');
      const t = cardTransmit(card, 'contactless');
      expect(toHex(t(fromHex(c.initialize_update_cmd)))).toBe(`${h(c.initialize_update_rsp)}9000`);
      expect(toHex(t(fromHex(c.external_authenticate_cmd)))).toBe('9000');
      expect(toHex(t(fromHex(c.get_eid_wrapped_cmd)))).toBe(`${h(c.get_eid_wrapped_rsp_data_without_sw)}9000`);
      for (const w of c.wrapped_commands_in_order_after_get_eid) expect(swOf(t(fromHex(w.wrapped)))).not.toBe(0x6982);
    }
  });

  it('without the extension GET EID is refused 6A88 (the ISD does not speak ES10), and the session goes on', () => {
    const c = scp03Cases.find((x) => x.security_level === '11' && x.keys.kvn === '30')!;
    const card = createSim({
      isd: {
        aid: ISD_R_AID,
        kdd: new Uint8Array(10),
        keySets: [{ kvn: 0x30, scp: 3, keys: keysOf(c.keys), sequenceCounter: 1 }],
      },
    });
    card.powerOn(IFACE);
    const t = cardTransmit(card, IFACE);
    t(fromHex(c.initialize_update_cmd));
    t(fromHex(c.external_authenticate_cmd));
    expect(toHex(t(fromHex(c.get_eid_wrapped_cmd)))).toBe('6A88');
    const [first, second] = c.wrapped_commands_in_order_after_get_eid;
    expect(toHex(t(fromHex(first!.wrapped)))).toBe('6A80');
    expect(swOf(t(fromHex(second!.wrapped)))).toBe(0x9000);
  });
});

describe('SCP02 sessions replayed through the ISD', () => {
  it("pySim's session (i = 15, recorded challenge injected; the card answers KVN 70 to a request for 20)", () => {
    const requests: IsdChallengeRequest[] = [];
    const card = createSim({
      isd: {
        kdd: new Uint8Array(10),
        scp02I: 0x15,
        keySets: [{ kvn: 0x70, scp: 2, keys: keysOf(pysim02.keys) }],
        quirks: { ignoreUnknownKvn: true },
      },
      isdChallenge: (r) => {
        requests.push(r);
        return fromHex(pysim02.rsp_fields.card_challenge);
      },
    });
    card.powerOn(IFACE);
    const t = cardTransmit(card, IFACE);
    expect(toHex(t(fromHex(pysim02.initialize_update_cmd)))).toBe(`${h(pysim02.initialize_update_rsp)}9000`);
    expect(requests).toEqual([{ scp: 2, kvn: 0x70, i: 0x15, sequenceCounter: 1, iface: IFACE, channel: 0 }]);
    expect(toHex(t(fromHex(pysim02.external_authenticate_cmd!)))).toBe('9000');
    const answers = expectedAnswers(fromHex('A000000151000000'));
    pysim02.wrapped_commands_in_order!.forEach((w, n) => {
      const rsp = t(fromHex(w.wrapped));
      if (n === 1) {
        expect(swOf(rsp)).toBe(0x9000);
        expect(decodeTlv(dataOf(rsp))[0]!.tag).toBe(0x66);
      } else expect(toHex(rsp)).toBe(answers[n]);
    });
  });

  it('the same INITIALIZE UPDATE without the quirk: KVN 20 is unknown → 6A88', () => {
    const card = createSim({ isd: { keySets: [{ kvn: 0x70, scp: 2, keys: keysOf(pysim02.keys) }] } });
    card.powerOn(IFACE);
    expect(toHex(card.transmit(IFACE, fromHex(pysim02.initialize_update_cmd)))).toBe('6A88');
  });

  it('the real card (i = 55, KVN FF, counter 0008): pseudo-random challenge over A000000003000000, T=1 and T=0', () => {
    for (const t0 of [false, true]) {
      const card = createSim({
        t0,
        isd: {
          aid: hex`A000000003000000`,
          kdd: fromHex(csdn02.rsp_fields.key_div_data),
          scp02I: 0x55,
          keySets: [{ kvn: 0xff, scp: 2, keys: keysOf(csdn02.keys), sequenceCounter: 7 }],
        },
      });
      card.powerOn('contact');
      const rsp = card.transmit('contact', fromHex(csdn02.initialize_update_cmd));
      if (!t0) expect(toHex(rsp)).toBe(`${h(csdn02.initialize_update_rsp)}9000`);
      else {
        // As recorded: 611C, then GET RESPONSE with the recording's proprietary CLA 80 (00 works as well).
        expect(toHex(rsp)).toBe('611C');
        expect(toHex(card.transmit('contact', hex`80 C0 00 00 1C`))).toBe(`${h(csdn02.initialize_update_rsp)}9000`);
        expect(toHex(card.transmit('contact', fromHex(csdn02.initialize_update_cmd)))).toBe('611C');
        expect(toHex(card.transmit('contact', hex`00 C0 00 00 1C`))).toMatch(/9000$/);
        // Nothing pending: a proprietary C0 is the selected applet's own instruction again (the ISD has none).
        expect(toHex(card.transmit('contact', hex`80 C0 00 00 1C`))).toBe('6D00');
      }
    }
  });
});

describe('handshake for every i and security level', () => {
  const keys = simIsdKeys();
  const levels03: SecurityLevelValue[] = [0x00, 0x01, 0x03, 0x11, 0x13, 0x33];
  for (const i of [0x00, 0x10, 0x30, 0x70]) {
    it(`SCP03 i = ${i.toString(16).padStart(2, '0')}: offered levels open, others 6A86`, () => {
      let n = 0;
      const card = createSim({ isd: { scp03I: i }, random: (len) => new Uint8Array(len).fill(++n) });
      card.powerOn(IFACE);
      const t = cardTransmit(card, IFACE);
      for (const level of levels03) {
        const offered = (level & 0x10) === 0 || (i & 0x20) !== 0 ? (level & 0x20) === 0 || (i & 0x40) !== 0 : false;
        if (!offered) {
          expect(() => openScp03Sync(t, { keys: keys.scp03, securityLevel: level })).toThrow(HandshakeError);
          continue;
        }
        const host = openScp03Sync(t, { keys: keys.scp03, securityLevel: level });
        expect(host.info.i).toBe(i);
        expect(host.info.sequenceCounter === undefined).toBe((i & 0x10) === 0);
        const rsp = host.transmit(hex`80 CA 00 E0 00`);
        expect(swOf(rsp)).toBe(0x9000);
        const status = host.transmit(hex`80 F2 80 02 02 4F 00 00`);
        expect(swOf(status)).toBe(level === 0 ? 0x6982 : 0x9000);
      }
      // i = 00: challenges come from the card's random source.
      if (i === 0) expect(n).toBeGreaterThan(0);
    });
  }
  for (const i of [0x15, 0x55]) {
    it(`SCP02 i = ${i.toString(16)}: levels 00/01/03/11/13 open; 33 is not an SCP02 level (6A86)`, () => {
      const card = createSim({ isd: { scp02I: i } });
      card.powerOn(IFACE);
      const t = cardTransmit(card, IFACE);
      for (const level of [0x00, 0x01, 0x03, 0x11, 0x13] as SecurityLevelValue[]) {
        const host = openScp02Sync(t, { keys: keys.scp02, securityLevel: level, kvn: 0x20, i });
        expect(swOf(host.transmit(hex`80 CA 00 C1 00`))).toBe(0x9000);
        // GET STATUS of the applications: the USIM (every SIM carries it) once authenticated.
        expect(swOf(host.transmit(hex`80 F2 40 02 02 4F 00 00`))).toBe(level === 0 ? 0x6982 : 0x9000);
        if (level !== 0) expect(swOf(host.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe(0x9000);
      }
      // SCP02 EXTERNAL AUTHENTICATE with P1 33 → 6A86.
      const hc = hex`0102030405060708`;
      const iu = t(hex`80 50 20 00 08 0102030405060708 00`);
      const seq = dataOf(iu).subarray(12, 14);
      const sk = scp02SessionKeys(keys.scp02, seq);
      const cg = scp02Cryptograms(sk.sEnc, seq, hc, dataOf(iu).subarray(14, 20));
      const s = new Scp02Session({ keys: sk, securityLevel: 0x13, role: 'host', i });
      const ea = s.externalAuthenticateCommand(cg.hostCryptogram);
      ea[2] = 0x33;
      expect(toHex(t(ea))).toBe('6A86');
    });
  }
});

describe('negative cases', () => {
  const keys = simIsdKeys();
  const fresh = () => {
    const card = createSim();
    card.powerOn(IFACE);
    return { card, t: cardTransmit(card, IFACE) };
  };

  it('wrong host cryptogram → 6300 and no session', () => {
    const { t } = fresh();
    const wrong = { enc: keys.scp03.enc, mac: keys.scp03.mac.map((b) => b ^ 1), dek: keys.scp03.dek };
    // The card cryptogram check is the host's; bypass it to send a bad host cryptogram.
    const hc = hex`1122334455667788`;
    const iu = dataOf(t(hex`80 50 30 00 08 1122334455667788 00`));
    const cc = iu.subarray(13, 21);
    const sk = scp03SessionKeys(wrong, hc, cc);
    const cg = scp03Cryptograms(sk.sMac, hc, cc);
    const s = new Scp03Session({ keys: sk, securityLevel: 0x01, role: 'host' });
    expect(toHex(t(s.externalAuthenticateCommand(cg.hostCryptogram)))).toBe('6982'); // C-MAC under the wrong key
    // Right MAC key, wrong host cryptogram.
    const iu2 = dataOf(t(hex`80 50 30 00 08 1122334455667788 00`));
    const sk2 = scp03SessionKeys(keys.scp03, hc, iu2.subarray(13, 21));
    const s2 = new Scp03Session({ keys: sk2, securityLevel: 0x01, role: 'host' });
    expect(toHex(t(s2.externalAuthenticateCommand(hex`0000000000000000`)))).toBe('6300');
    expect(toHex(t(hex`84 F2 80 02 0A 4F 00 0000000000000000`))).toBe('6982');
  });

  it('tampered C-MAC → 6982, then the session is gone: the next correctly wrapped command → 6982', () => {
    const { t } = fresh();
    const host = openScp03Sync(t, { keys: keys.scp03, securityLevel: 0x01 });
    const bad = host.session.wrapCommand(hex`80 F2 80 02 02 4F 00 00`);
    bad[bad.length - 2]! ^= 0x01;
    expect(toHex(t(bad))).toBe('6982');
    expect(toHex(t(host.session.wrapCommand(hex`80 F2 80 02 02 4F 00 00`)))).toBe('6982');
  });

  it('SCP02: tampered C-MAC → 6982, session gone', () => {
    const { t } = fresh();
    const host = openScp02Sync(t, { keys: keys.scp02, securityLevel: 0x11, kvn: 0x20 });
    expect(swOf(host.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe(0x9000);
    const bad = host.session.wrapCommand(hex`80 F2 80 02 02 4F 00 00`);
    bad[7]! ^= 0x80;
    expect(toHex(t(bad))).toBe('6982');
    expect(toHex(t(host.session.wrapCommand(hex`80 F2 80 02 02 4F 00 00`)))).toBe('6982');
  });

  it('card-management commands without a secure channel → 6982; GET DATA works without one', () => {
    const { t } = fresh();
    for (const c of [
      hex`80 F2 80 02 02 4F 00 00`,
      hex`80 F0 80 7F`,
      hex`80 D8 00 81 01 31`,
      hex`80 E2 80 00 04 01 01 01 00`,
      hex`80 E6 20 00 0B 00 00 06 F0 01 02 03 04 05 00 00 00`,
      hex`84 F2 80 02 0A 4F 00 0102030405060708`,
    ])
      expect(toHex(t(c))).toBe('6982');
    expect(swOf(t(hex`80 CA 9F 7F 00`))).toBe(0x9000);
    expect(swOf(t(hex`00 CA 00 66 00`))).toBe(0x9000);
  });

  it('an unprotected management command inside a C-MAC session → 6982 and the session ends; GET DATA in clear is fine', () => {
    const { t } = fresh();
    const host = openScp03Sync(t, { keys: keys.scp03, securityLevel: 0x01 });
    expect(swOf(t(hex`80 CA 00 66 00`))).toBe(0x9000);
    expect(swOf(host.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe(0x9000);
    expect(toHex(t(hex`80 F2 80 02 02 4F 00 00`))).toBe('6982');
    expect(toHex(t(host.session.wrapCommand(hex`80 F2 80 02 02 4F 00 00`)))).toBe('6982');
  });

  it('unknown KVN → 6A88; EXTERNAL AUTHENTICATE without INITIALIZE UPDATE → 6985; malformed INITIALIZE UPDATE', () => {
    const { t } = fresh();
    expect(toHex(t(hex`80 50 31 00 08 0102030405060708 00`))).toBe('6A88');
    expect(toHex(t(hex`84 82 01 00 10 00000000000000000000000000000000`))).toBe('6985');
    expect(toHex(t(hex`80 50 30 01 08 0102030405060708 00`))).toBe('6A86');
    expect(toHex(t(hex`80 50 30 00 07 01020304050607 00`))).toBe('6700');
    expect(toHex(t(hex`00 50 30 00 08 0102030405060708 00`))).toBe('6E00');
    // Something else between INITIALIZE UPDATE and EXTERNAL AUTHENTICATE drops the handshake.
    const hc = hex`0102030405060708`;
    const iu = dataOf(t(hex`80 50 30 00 08 0102030405060708 00`));
    const sk = scp03SessionKeys(keys.scp03, hc, iu.subarray(13, 21));
    const cg = scp03Cryptograms(sk.sMac, hc, iu.subarray(13, 21));
    expect(swOf(t(hex`80 CA 00 66 00`))).toBe(0x9000);
    const s = new Scp03Session({ keys: sk, securityLevel: 0x01, role: 'host' });
    expect(toHex(t(s.externalAuthenticateCommand(cg.hostCryptogram)))).toBe('6985');
  });

  it('the session is dropped by SELECT (of the ISD itself), reset, power off and channel close', () => {
    const { card, t } = fresh();
    const probe = (host: { session: { wrapCommand(c: Uint8Array): Uint8Array } }) =>
      toHex(t(host.session.wrapCommand(hex`80 F2 80 02 02 4F 00 00`)));
    let host = openScp03Sync(t, { keys: keys.scp03, securityLevel: 0x01 });
    expect(swOf(host.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe(0x9000);
    expect(swOf(t(hex`00 A4 04 00 08 A000000151000000 00`))).toBe(0x9000);
    expect(probe(host)).toBe('6982');

    host = openScp03Sync(t, { keys: keys.scp03, securityLevel: 0x01 });
    card.reset(IFACE);
    expect(probe(host)).toBe('6982');

    host = openScp03Sync(t, { keys: keys.scp03, securityLevel: 0x01 });
    card.powerOff(IFACE);
    card.powerOn(IFACE);
    expect(probe(host)).toBe('6982');

    // Channel 1: the session lives there only; closing it ends it.
    expect(toHex(t(hex`00 70 00 00 01`))).toBe('019000');
    const t1 = (apdu: Uint8Array) => card.transmit(IFACE, apdu);
    const h1 = openScp03Sync(t1, { keys: keys.scp03, securityLevel: 0x03, channel: 1 });
    expect(swOf(h1.transmit(hex`81 F2 80 02 02 4F 00 00`))).toBe(0x9000);
    expect(toHex(t(hex`84 F2 80 02 0A 4F 00 0102030405060708`))).toBe('6982'); // channel 0 has no session
    expect(toHex(t(hex`00 70 80 01`))).toBe('9000');
    expect(toHex(t(hex`00 70 00 01`))).toBe('9000');
    expect(toHex(t(h1.session.wrapCommand(hex`81 F2 80 02 02 4F 00 00`)))).toBe('6982');
  });

  it('sessions on both interfaces and several channels are independent', () => {
    const { card } = fresh();
    card.powerOn('contactless');
    const tc = cardTransmit(card, 'contact');
    const tl = cardTransmit(card, 'contactless');
    expect(toHex(tc(hex`00 70 00 00 01`))).toBe('019000');
    const a = openScp03Sync(tc, { keys: keys.scp03, securityLevel: 0x33 });
    const b = openScp03Sync(tl, { keys: keys.scp03, securityLevel: 0x13 });
    const c = openScp02Sync(tc, { keys: keys.scp02, securityLevel: 0x11, kvn: 0x20, channel: 1 });
    for (let n = 0; n < 3; n++) {
      expect(swOf(a.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe(0x9000);
      expect(swOf(b.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe(0x9000);
      expect(swOf(c.transmit(hex`81 F2 80 02 02 4F 00 00`))).toBe(0x9000);
    }
    // A new INITIALIZE UPDATE on the contactless basic channel ends only that session.
    openScp03Sync(tl, { keys: keys.scp03, securityLevel: 0x01 });
    expect(swOf(a.transmit(hex`80 CA 00 66 00`))).toBe(0x9000);
    expect(toHex(tl(b.session.wrapCommand(hex`80 CA 00 66 00`)))).toBe('6982');
  });
});

describe('sequence counters', () => {
  it('increment by one per INITIALIZE UPDATE, persist across power cycles and images, and stop at the maximum (6985)', () => {
    const card = createSim();
    card.powerOn(IFACE);
    const t = cardTransmit(card, IFACE);
    const counter = () => Number.parseInt(toHex(dataOf(t(hex`80 CA 00 C1 00`)).subarray(2)), 16);
    expect(counter()).toBe(0);
    for (let n = 1; n <= 3; n++) {
      const rsp = dataOf(t(hex`80 50 00 00 08 0102030405060708 00`));
      expect(toHex(rsp.subarray(29, 32))).toBe(`00000${n}`);
      expect(counter()).toBe(n);
    }
    card.powerOff(IFACE);
    card.powerOn(IFACE);
    expect(counter()).toBe(3);
    const scp02Counter = dataOf(t(hex`80 50 20 00 08 0102030405060708 00`)).subarray(12, 14);
    expect(toHex(scp02Counter)).toBe('0001'); // counters are per key set

    const full = createSim({
      isd: {
        keySets: [
          { kvn: 0x30, scp: 3, keys: simIsdKeys().scp03, sequenceCounter: 0xfffffe },
          { kvn: 0x20, scp: 2, keys: simIsdKeys().scp02, sequenceCounter: 0xffff },
        ],
      },
    });
    full.powerOn(IFACE);
    const tf = cardTransmit(full, IFACE);
    expect(toHex(dataOf(tf(hex`80 50 30 00 08 0102030405060708 00`)).subarray(29, 32))).toBe('FFFFFF');
    const commits = full.commitCount;
    expect(toHex(tf(hex`80 50 30 00 08 0102030405060708 00`))).toBe('6985');
    expect(toHex(tf(hex`80 50 20 00 08 0102030405060708 00`))).toBe('6985');
    expect(full.commitCount).toBe(commits);
  });

  it('the challenge hook sees the incremented counter; a tear at the counter write leaves old or new, never more', () => {
    const seen: number[] = [];
    const card = createSim({
      isdChallenge: (r) => {
        seen.push(r.sequenceCounter);
        return undefined;
      },
    });
    card.powerOn(IFACE);
    card.transmit(IFACE, hex`80 50 00 00 08 0102030405060708 00`);
    card.tearAt(1, 'before');
    expect(() => card.transmit(IFACE, hex`80 50 00 00 08 0102030405060708 00`)).toThrow();
    card.powerOn(IFACE);
    card.transmit(IFACE, hex`80 50 00 00 08 0102030405060708 00`);
    expect(seen).toEqual([1, 2, 2]);
  });
});

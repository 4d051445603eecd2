import { fromHex, readUint, toHex } from '@simtap/sdk/core/bytes';
import { TTI } from '@simtap/sdk/core/pboc';
import { CARD_KEY_MASTER, CARD_KEY_NAMES, cardProfile, referenceProfile } from '@simtap/sdk/core/profile';
import { vector } from '@simtap/sdk/testing';
import { describe, expect, it } from 'vitest';
import { Card } from '../../runtime/card';
import { DirectoryDdf } from '../../runtime/directory';
import { createPsam } from '../psam/install';
import type { PurseKeyEntry } from './dgi';
import { refDesMac, refDiversify, refJoin, refSeslk, refSespk, refTacKey, refTdesEcb } from './reference-crypto';
import { createPurseCard, hexApdu, PurseTerminal, ScriptedRandom, send } from './testing';

interface MacCase {
  readonly id: string;
  readonly response_fields: { readonly random: string; readonly [field: string]: string };
  readonly [field: string]: unknown;
}
const macVectors = vector<{ cases: MacCase[] }>('pboc-ep-mac');
const traceVectors = vector<{ traces: Array<{ id: string }> }>('recorded-apdu-traces');
const macCase = (id: string): MacCase & Record<string, unknown> =>
  macVectors.cases.find((c) => c.id === id)! as MacCase & Record<string, unknown>;

interface Exchange {
  c: string;
  r: string;
}
const trace = (id: string): { exchanges: Exchange[] } =>
  traceVectors.traces.find((t) => t.id === id)! as unknown as { exchanges: Exchange[] };

const profile = referenceProfile();
const card1 = cardProfile('card-1');
const hx = (b: Uint8Array): string => toHex(b);

/** All six card-1 keys at `index`, with `override` entries replacing same-type ones. */
function keysWith(override: PurseKeyEntry[], index = 1): PurseKeyEntry[] {
  const base = CARD_KEY_NAMES.map((type) => ({ type, index, version: 1, algorithm: 0, key: card1.keys[type].key }));
  return [...base.filter((k) => !override.some((o) => o.type === k.type && o.index === k.index)), ...override];
}

describe('pboc-ep-mac.json through the e-purse applet', () => {
  it('checks the reference implementation against the vectors first (session keys and MACs)', () => {
    for (const c of macVectors.cases) {
      const v = c as unknown as Record<string, string>;
      const key = fromHex(v.load_key_DLK ?? v.purchase_key_DPK ?? '');
      const sk = refTdesEcb(key, fromHex(v.session_key_input!));
      expect(hx(sk)).toBe(v.SESLK ?? v.SESPK);
      expect(hx(refDesMac(sk, fromHex(v.mac1_input!)))).toBe(v.MAC1);
      if (v.mac2_input) expect(hx(refDesMac(sk, fromHex(v.mac2_input)))).toBe(v.MAC2);
    }
  });

  it('load-ed-blog: the vector INITIALIZE FOR LOAD (case 3, ED) answers the vector bytes; its MAC2 credits', () => {
    const v = macCase('load-ed-blog');
    const random = new ScriptedRandom().push(v.response_fields.random);
    const { card } = createPurseCard({
      cardOptions: { random: random.next },
      personalization: {
        keys: keysWith([{ type: 'DLK', index: 1, version: 2, algorithm: 0, key: fromHex(v.load_key_DLK as string) }]),
      },
    });
    send(card, 'contact', '00 A4 04 00 08 A000000632010105 00');
    const init = send(card, 'contact', v.command_init_for_load as string);
    expect(init.sw).toBe(0x9000);
    expect(hx(init.data)).toBe(v.response_init_for_load_data);
    const credit = send(card, 'contact', v.command_credit_for_load as string);
    expect(credit.sw).toBe(0x9000);
    const date = fromHex('20111221');
    const time = fromHex('214822');
    const tac = refDesMac(
      refTacKey(card1.keys.DTK.key),
      refJoin([0x1000, 4], [0, 2], [0x1000, 4], [TTI.ED_LOAD, 1], fromHex('001122334455'), date, time),
    );
    expect(hx(credit.data)).toBe(hx(tac));
    expect(hx(send(card, 'contact', '80 5C 00 01 04').data)).toBe('00001000');
  });

  it('purchase-ep-blog: the vector MAC1 debits and the card answers the vector MAC2', () => {
    const v = macCase('purchase-ep-blog');
    const random = new ScriptedRandom().push(v.response_fields.random);
    const { card } = createPurseCard({
      cardOptions: { random: random.next },
      personalization: {
        balance: 0x1000,
        keys: keysWith([
          { type: 'DPK', index: 1, version: 1, algorithm: 0, key: fromHex(v.purchase_key_DPK as string) },
        ]),
      },
    });
    send(card, 'contactless', '00 A4 04 00 08 A000000632010105 00');
    const init = send(card, 'contactless', v.command_init_for_purchase as string);
    expect(init.sw).toBe(0x9000);
    // The blog's card had balance 0 (a real card would refuse with 9401): only the balance field differs.
    const expected = v.response_init_for_purchase_data as string;
    expect(hx(init.data)).toBe(`00001000${expected.slice(8)}`);
    const debit = send(card, 'contactless', v.helper_derived_debit_apdu as string);
    expect(debit.sw).toBe(0x9000);
    expect(hx(debit.data.subarray(4))).toBe(v.MAC2);
    const tac = refDesMac(
      refTacKey(card1.keys.DTK.key),
      refJoin([0x1000, 4], [TTI.EP_PURCHASE, 1], fromHex('001122334455'), [1, 4], fromHex('20120229135100')),
    );
    expect(hx(debit.data.subarray(0, 4))).toBe(hx(tac));
    expect(hx(send(card, 'contactless', '80 5C 00 02 04').data)).toBe('00000000');
  });

  it('purchase-ep-blog: a MAC1 for another date is refused with 9302 and nothing moves', () => {
    const v = macCase('purchase-ep-blog');
    const random = new ScriptedRandom().push(v.response_fields.random);
    const { card } = createPurseCard({
      cardOptions: { random: random.next },
      personalization: {
        balance: 0x1000,
        keys: keysWith([
          { type: 'DPK', index: 1, version: 1, algorithm: 0, key: fromHex(v.purchase_key_DPK as string) },
        ]),
      },
    });
    send(card, 'contactless', '00 A4 04 00 08 A000000632010105 00');
    send(card, 'contactless', v.command_init_for_purchase as string);
    // The blog's inconsistent DEBIT APDU (load date/time and MAC): a real MAC check must reject it.
    expect(send(card, 'contactless', '805401000F 00000001 20111221214822 3A845BF0').sw).toBe(0x9302);
    expect(hx(send(card, 'contactless', '80 5C 00 02 04').data)).toBe('00001000');
  });

  it('load-ep-dpj365-real-card: external authentication and INITIALIZE FOR LOAD reproduce the real card', () => {
    const v = macCase('load-ep-dpj365-real-card');
    const random = new ScriptedRandom().push(v.get_challenge_response as string, v.response_fields.random);
    const { card } = createPurseCard({
      cardOptions: { random: random.next },
      personalization: {
        keys: keysWith(
          [
            { type: 'DLK', index: 0, version: 0, algorithm: 1, key: fromHex(v.load_key_DLK as string) },
            { type: 'DEAK', index: 0, version: 0, algorithm: 0, key: fromHex(v.ext_auth_key as string) },
          ],
          1,
        ),
      },
    });
    send(card, 'contact', '00 A4 00 00 02 3F01');
    expect(hx(send(card, 'contact', '0084000008').data)).toBe(v.get_challenge_response);
    expect(send(card, 'contact', `0082000008${v.ext_auth_cryptogram}`).sw).toBe(0x9000);
    expect(hx(card.transmit('contact', fromHex(v.command_init_for_load as string)))).toBe(v.response_init_for_load);
  });
});

describe('recorded-apdu-traces.json replayed against a purse personalized with the recorded public data', () => {
  it('dpj365-load-real-card: every exchange byte for byte (FCI, challenge, ext auth, PIN, balance, MAC1)', () => {
    const t = trace('dpj365-load-real-card');
    const random = new ScriptedRandom().push('9B361B26CB9FA8C8', 'F9CABA91');
    const { card } = createPurseCard({
      install: { aid: fromHex('A00000000386980701'), directories: false },
      cardOptions: { random: random.next },
      personalization: {
        fciProprietary: fromHex(`9F080102 9F0C40 ${'00'.repeat(64)}`),
        keys: keysWith(
          [
            { type: 'DLK', index: 0, version: 0, algorithm: 1, key: fromHex('3F013F013F013F013F013F013F013F01') },
            { type: 'DEAK', index: 0, version: 0, algorithm: 0, key: fromHex('39'.repeat(16)) },
          ],
          1,
        ),
      },
    });
    for (const x of t.exchanges) expect(hx(card.transmit('contact', fromHex(x.c)))).toBe(x.r.toUpperCase());
  });

  /** Session A or B of the NFCGate composite purchases; crypto fields substituted, all else byte for byte. */
  function replayCappSession(card: Card, psam: Card, exchanges: Exchange[]): { tac: Uint8Array; mac2: Uint8Array } {
    let challenge = new Uint8Array(0);
    let init = new Uint8Array(0);
    let out: { tac: Uint8Array; mac2: Uint8Array } | undefined;
    for (const x of exchanges) {
      const c = fromHex(x.c);
      if (c[1] === 0x82) {
        // EXTERNAL AUTHENTICATE with the issuer's unknown key: same command with our DEAK (key id 02).
        const crypt = refTdesEcb(card1.keys.DEAK.key, challenge);
        const r = send(card, 'contactless', hexApdu(0x00, 0x82, c[2]!, c[3]!, [crypt]));
        expect(r.sw.toString(16)).toBe(x.r);
        continue;
      }
      if (c[0] === 0x80 && c[1] === 0x54) {
        // DEBIT FOR CAPP PURCHASE: MAC1 from our PSAM, with the recorded sequence number, date and time.
        const seq = c.subarray(5, 9);
        const dateTime = c.subarray(9, 16);
        const mac1 = send(
          psam,
          'contact',
          hexApdu(0x80, 0x70, 0, 0, [
            init.subarray(11, 15),
            init.subarray(4, 6),
            fromHex('000000C8'),
            Uint8Array.of(TTI.CAPP_PURCHASE),
            dateTime,
            init.subarray(9, 11),
            card1.diversificationData,
          ]),
        );
        expect(mac1.sw).toBe(0x9000);
        expect(hx(mac1.data.subarray(0, 4))).toBe(hx(seq));
        const r = card.transmit(
          'contactless',
          hexApdu(0x80, 0x54, 0x01, 0x00, [seq, dateTime, mac1.data.subarray(4)], 0x08),
        );
        expect(r.length).toBe(fromHex(x.r).length);
        expect(hx(r.subarray(8))).toBe('9000');
        out = { tac: r.slice(0, 4), mac2: r.slice(4, 8) };
        expect(send(psam, 'contact', hexApdu(0x80, 0x72, 0, 0, [out.mac2])).sw).toBe(0x9000);
        continue;
      }
      const r = card.transmit('contactless', c);
      expect(hx(r)).toBe(x.r.toUpperCase());
      if (c[1] === 0x84) challenge = r.slice(0, 8);
      if (c[1] === 0x50) init = r.slice(0, 15);
    }
    return out!;
  }

  it('nfcgate sessions A and B: reads, challenge, GET DATA and INITIALIZE byte for byte, 11 trips apart', () => {
    const a = trace('nfcgate-capp-purchase-session-A').exchanges;
    const b = trace('nfcgate-capp-purchase-session-B').exchanges;
    const random = new ScriptedRandom().push('72c369a66fb807bb', '84176ad7');
    const rec07a = fromHex(a[0]!.r.slice(0, 32));
    const rec10b = fromHex(a[4]!.r.slice(0, 32));
    const { card } = createPurseCard({
      cardOptions: { random: random.next },
      personalization: {
        balance: 0x162af,
        offlineCounter: 0x36,
        parameters: { overdraftLimit: 0x320 },
        getData: fromHex('90800960a7f716c6b4'),
        keys: keysWith([{ type: 'DEAK', index: 2, version: 1, algorithm: 0, key: card1.keys.DEAK.key }]),
        recordFiles: [
          {
            sfi: 0x07,
            structure: 'linear-fixed',
            recordSize: 16,
            maxRecords: 2,
            records: [rec07a, fromHex(`02${'00'.repeat(15)}`)],
          },
          {
            sfi: 0x10,
            structure: 'linear-fixed',
            recordSize: 16,
            maxRecords: 2,
            records: [fromHex(`01${'00'.repeat(15)}`), rec10b],
          },
        ],
      },
    });
    const psam = createPsam('pos-1', { terminalId: fromHex('200041599997'), initialTerminalTxnSeq: 0x57 });
    psam.powerOn('contact');
    send(card, 'contactless', '00 A4 04 00 08 A000000632010105 00');
    const sa = replayCappSession(card, psam, a);
    // The TAC of session A is the issuer's: recompute it from the profile's TAC key.
    const tacA = refDesMac(
      refTacKey(card1.keys.DTK.key),
      refJoin([200, 4], [TTI.CAPP_PURCHASE, 1], fromHex('200041599997'), [0x57, 4], fromHex('20180313164329')),
    );
    expect(hx(sa.tac)).toBe(hx(tacA));
    // The committed cache: both records hold what session A wrote.
    expect(hx(send(card, 'contactless', '00B2013C10').data)).toBe('01000711C800C75E01007E236C2B7429');
    // 10 more trips at the same gate (the recorded offline counter went 0036 → 0041, terminal sequence 57 → 62).
    const gate = new PurseTerminal(card, psam);
    gate.select();
    const lastRec07 = fromHex(b[0]!.r.slice(0, 32));
    for (let i = 0; i < 10; i++) {
      const rec = i === 9 ? lastRec07 : fromHex(`01000711c800${(0x1000 + i).toString(16)}01007e236c2b7429`);
      const r = gate.purchase(200, {
        capp: [
          { p1: 0x01, p2: 0x3b, data: rec },
          { p1: 0x02, p2: 0x84, data: rec10b },
        ],
        date: fromHex('20180313'),
        time: fromHex('180000'),
      });
      expect([r.sw, r.psamSw]).toEqual([0x9000, 0x9000]);
    }
    random.push('5f9bd1bb861be39a', 'f8ada62b');
    const sb = replayCappSession(card, psam, b);
    expect(hx(sb.tac)).toBe(
      hx(
        refDesMac(
          refTacKey(card1.keys.DTK.key),
          refJoin([200, 4], [TTI.CAPP_PURCHASE, 1], fromHex('200041599997'), [0x62, 4], fromHex('20180313210438')),
        ),
      ),
    );
    // Balance 90799 → 88599 (B's INITIALIZE) → 88399 after B's debit; counter 0x41 used by B.
    expect(gate.balance()).toBe(88_399);
    const log = send(card, 'contactless', '00 B2 01 C4 17');
    expect(hx(log.data)).toBe('0041 000320 000000C8 09 200041599997 20180313 210438'.replaceAll(' ', ''));
  });

  it('t-union-read-examples: a composite purchase at the recorded gate leaves exactly the recorded files', () => {
    const t = trace('t-union-read-examples');
    const { card } = createPurseCard({ personalization: { balance: 2755 + 500, offlineCounter: 0x042d } });
    const psam = createPsam('gate-1', { terminalId: fromHex('300089000340') });
    const gate = new PurseTerminal(card, psam);
    gate.select();
    const travel = fromHex(t.exchanges[2]!.r.slice(0, 96));
    const r = gate.purchase(500, {
      capp: [{ p1: 0x00, p2: 0x1e << 3, data: travel }],
      date: fromHex('20241229'),
      time: fromHex('141740'),
    });
    expect([r.sw, r.psamSw]).toEqual([0x9000, 0x9000]);
    for (const x of t.exchanges) expect(hx(card.transmit('contactless', fromHex(x.c)))).toBe(x.r.toUpperCase());
  });

  it('emv-pboc-debit-t0-select-readrecord: the PSE part on a T=0 contact card (61xx, 6Cxx, 6A83)', () => {
    const t = trace('emv-pboc-debit-t0-select-readrecord');
    const card = new Card({ t0: true, logger: { error: () => undefined } });
    const pse = new DirectoryDdf(DirectoryDdf.PSE);
    card.registry.install(pse);
    pse.addEntry(card, {
      aid: fromHex('A000000333010101'),
      label: 'PBOC DEBIT',
      priority: 1,
      extra: fromHex('9F120AD5D0D0D0D2BBBFA8CDA8'),
    });
    pse.setFci(card, fromHex('6F1E840E315041592E5359532E4444463031A50C8801015F2D027A689F110101'));
    card.powerOn('contact');
    for (const x of t.exchanges.slice(0, 5)) expect(hx(card.transmit('contact', fromHex(x.c)))).toBe(x.r.toUpperCase());
  });
});

describe('independent computation (node:crypto only) of what the purse and the PSAM produce', () => {
  const masters = profile.issuer.masterKeys;
  const serial = card1.diversificationData;
  const keys = Object.fromEntries(
    CARD_KEY_NAMES.map((n) => [n, refDiversify(masters[CARD_KEY_MASTER[n]], serial)]),
  ) as Record<(typeof CARD_KEY_NAMES)[number], Uint8Array>;

  it('derives the profile card keys from the issuer master keys', () => {
    for (const n of CARD_KEY_NAMES) expect(hx(keys[n]), n).toBe(hx(card1.keys[n].key));
    expect(hx(refTacKey(keys.DTK))).toBe(hx(card1.tacSingleDesKey));
  });

  it('purchase: PSAM MAC1, card MAC2 and TAC match', () => {
    const { card } = createPurseCard({ personalization: { balance: 10_000 } });
    const t = new PurseTerminal(card);
    t.select();
    for (const capp of [false, true]) {
      const r = t.purchase(1234, capp ? { capp: [{ p1: 1, p2: 0x17 << 3, data: new Uint8Array(48).fill(1) }] } : {});
      expect([r.sw, r.psamSw]).toEqual([0x9000, 0x9000]);
      const sespk = refSespk(keys.DPK, r.random!, r.counter!, r.terminalTxnSeq!);
      const m = refJoin([1234, 4], [r.tti, 1], t.terminalId, r.date, r.time);
      expect(hx(r.mac1!)).toBe(hx(refDesMac(sespk, m)));
      expect(hx(r.mac2!)).toBe(hx(refDesMac(sespk, refJoin([1234, 4]))));
      const tacInput = refJoin([1234, 4], [r.tti, 1], t.terminalId, [r.terminalTxnSeq!, 4], r.date, r.time);
      expect(hx(r.tac!)).toBe(hx(refDesMac(refTacKey(keys.DTK), tacInput)));
    }
  });

  it('load: card MAC1, an independently computed MAC2 is accepted, TAC matches (docs/spec.md §15 D1 layout)', () => {
    const { card } = createPurseCard({ personalization: { balance: 700 } });
    const t = new PurseTerminal(card);
    t.select();
    const tid = t.terminalId;
    const init = t.send(hexApdu(0x80, 0x50, 0x00, 0x02, [Uint8Array.of(1), refJoin([5000, 4]), tid], 0x10));
    expect(init.sw).toBe(0x9000);
    const random = init.data.subarray(8, 12);
    const ctr = readUint(init.data, 4, 2);
    const seslk = refSeslk(keys.DLK, random, ctr);
    expect(hx(init.data.subarray(12))).toBe(hx(refDesMac(seslk, refJoin([700, 4], [5000, 4], [2, 1], tid))));
    const date = fromHex('20260615');
    const time = fromHex('083000');
    const mac2 = refDesMac(seslk, refJoin([5000, 4], [2, 1], tid, date, time));
    const credit = t.send(hexApdu(0x80, 0x52, 0, 0, [date, time, mac2], 0x04));
    expect(credit.sw).toBe(0x9000);
    const tac = refDesMac(refTacKey(keys.DTK), refJoin([5700, 4], [ctr, 2], [5000, 4], [2, 1], tid, date, time));
    expect(hx(credit.data)).toBe(hx(tac));
    // GET TRANSACTION PROVE returns the MAC2 the card accepted and the TAC.
    expect(hx(t.send(hexApdu(0x80, 0x5a, 0x00, 0x02, [refJoin([ctr, 2])], 0x08)).data)).toBe(hx(mac2) + hx(tac));
  });

  it('external and internal authentication cryptograms', () => {
    const random = new ScriptedRandom().push('0102030405060708');
    const { card } = createPurseCard({ cardOptions: { random: random.next } });
    send(card, 'contact', '00 A4 04 00 08 A000000632010105');
    const ch = send(card, 'contact', '00 84 00 00 08').data;
    expect(send(card, 'contact', hexApdu(0, 0x82, 0, 1, [refTdesEcb(keys.DEAK, ch)])).sw).toBe(0x9000);
    const data = fromHex('1122334455667788 99AABBCCDDEEFF00');
    const ia = send(card, 'contact', hexApdu(0, 0x88, 0, 1, [data], 0));
    expect(hx(ia.data)).toBe(hx(refTdesEcb(refDiversify(keys.DEAK, serial), data)));
  });
});

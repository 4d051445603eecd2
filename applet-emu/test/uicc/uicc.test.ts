/**
 * The UICC side of the virtual SIM (issue 15) as a terminal sees it, in process: the whole TS 102 221 / TS 31.102
 * tree walked over `card.transmit`, every FCP and file decoded with the independent decoders of `./ts102221` (never
 * the card's own encoders) and read back to the profile, SELECT P2 and STATUS, access rules, the contactless view,
 * the GSM class of TS 51.011, the card image round trip and the e-purse beside it.
 */
import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import {
  type CardProfile,
  cardProfile,
  referenceProfile,
  type SimtapProfile,
  withFleet,
} from '@simtap/sdk/core/profile';
import { decodeTlv } from '@simtap/sdk/core/tlv';
import { beforeAll, describe, expect, it } from 'vitest';
import { cardTransmit, dataOf, openScp03Sync, swOf } from '../../src/applets/isd/test-support';
import type { CardInterface } from '../../src/runtime/applet';
import type { Card } from '../../src/runtime/card';
import type { FileNode } from '../../src/runtime/file-system';
import { createSim, restoreSim, simIsdKeys } from '../../src/sim';
import {
  type ArrRule,
  decodeArrRecord,
  decodeEfDirRecord,
  decodeIccid,
  decodeImsi,
  decodeMsisdnRecord,
  decodeSpn,
  decodeUiccFcp,
  type UiccFcp,
} from './ts102221';

const PROFILE = referenceProfile();
const FLEET = withFleet(8);
const USIM_AID = PROFILE.card.usim.aid;
const USIM_AID_HEX = toHex(USIM_AID);
const EPURSE_AID_HEX = toHex(PROFILE.card.epurse.aid);
const ISD_AID_HEX = toHex(PROFILE.card.isd.aid);

// ---------------------------------------------------------------- the tree as TS 102 221 / TS 31.102 and the issue lay it out

interface EfExpect {
  readonly name: string;
  readonly fid: number;
  readonly structure: 'transparent' | 'linear-fixed';
  /** undefined: the FCP says "no SFI" (`88 00`). */
  readonly sfi: number | undefined;
  readonly size?: number;
  readonly records?: number;
}

const LANGS = PROFILE.card.usim.languages;
const MF_EFS: readonly EfExpect[] = [
  { name: 'EF.DIR', fid: 0x2f00, structure: 'linear-fixed', sfi: 0x1e, records: 2 },
  { name: 'EF.ICCID', fid: 0x2fe2, structure: 'transparent', sfi: 0x02, size: 10 },
  { name: 'EF.PL', fid: 0x2f05, structure: 'transparent', sfi: 0x05, size: 2 * LANGS.length },
  { name: 'EF.ARR', fid: 0x2f06, structure: 'linear-fixed', sfi: 0x06 },
];
const DFS: readonly { name: string; fid: number; efs: readonly EfExpect[] }[] = [
  {
    name: 'DF.TELECOM',
    fid: 0x7f10,
    efs: [{ name: 'EF.MSISDN', fid: 0x6f40, structure: 'linear-fixed', sfi: undefined, records: 1 }],
  },
  {
    name: 'DF.GSM',
    fid: 0x7f20,
    efs: [
      { name: 'EF.IMSI', fid: 0x6f07, structure: 'transparent', sfi: undefined, size: 9 },
      { name: 'EF.AD', fid: 0x6fad, structure: 'transparent', sfi: undefined, size: 4 },
      { name: 'EF.SPN', fid: 0x6f46, structure: 'transparent', sfi: undefined, size: 17 },
    ],
  },
];
const USIM_EFS: readonly EfExpect[] = [
  { name: 'EF.LI', fid: 0x6f05, structure: 'transparent', sfi: 0x02, size: 2 * LANGS.length },
  { name: 'EF.AD', fid: 0x6fad, structure: 'transparent', sfi: 0x03, size: 4 },
  { name: 'EF.UST', fid: 0x6f38, structure: 'transparent', sfi: 0x04 },
  { name: 'EF.IMSI', fid: 0x6f07, structure: 'transparent', sfi: 0x07, size: 9 },
  { name: 'EF.ARR', fid: 0x6f06, structure: 'linear-fixed', sfi: 0x17 },
  { name: 'EF.MSISDN', fid: 0x6f40, structure: 'linear-fixed', sfi: undefined, records: 1 },
  { name: 'EF.SPN', fid: 0x6f46, structure: 'transparent', sfi: undefined, size: 17 },
];

// ---------------------------------------------------------------- helpers

const fid4 = (fid: number): string => fid.toString(16).toUpperCase().padStart(4, '0');

interface Rsp {
  readonly data: Uint8Array;
  readonly sw: string;
}

/** A powered card on one interface: `tx('00 A4 …')` → data and SW (hex). */
function terminal(card: Card, iface: CardInterface = 'contact') {
  card.powerOn(iface);
  const tx = (apdu: string | Uint8Array): Rsp => {
    const r = card.transmit(iface, typeof apdu === 'string' ? fromHex(apdu) : apdu);
    return { data: r.subarray(0, r.length - 2), sw: toHex(r.subarray(r.length - 2)) };
  };
  /** The data of a command that must answer 9000. */
  const ok = (apdu: string): Uint8Array => {
    const r = tx(apdu);
    expect(r.sw, apdu).toBe('9000');
    return r.data;
  };
  const selectUsim = (p2 = '04'): Uint8Array => ok(`00 A4 04 ${p2} 10 ${USIM_AID_HEX}`);
  return { tx, ok, selectUsim };
}
type Terminal = ReturnType<typeof terminal>;

function sim(label: string, profile: SimtapProfile = label.startsWith('fleet-') ? FLEET : PROFILE): Card {
  return createSim({ profile, card: label, personalized: true });
}

/** Checks an EF's decoded FCP against the tree. */
function expectEf(fcp: UiccFcp, ef: EfExpect): void {
  expect(fcp.kind, ef.name).toBe('EF');
  expect(fcp.fid, ef.name).toBe(ef.fid);
  expect(fcp.structure, ef.name).toBe(ef.structure);
  expect(fcp.sfi, `${ef.name} SFI`).toBe(ef.sfi);
  expect(fcp.lcsName, ef.name).toBe('operational activated');
  if (ef.size !== undefined) expect(fcp.fileSize, `${ef.name} size`).toBe(ef.size);
  if (ef.records !== undefined) expect(fcp.records, `${ef.name} records`).toBe(ef.records);
  expect(fcp.arr, `${ef.name}: 8B (referenced security attributes)`).toBeDefined();
}

/** Checks a DF's decoded FCP: PIN1 disabled, an `8B` reference. */
function expectDf(fcp: UiccFcp, kind: 'MF' | 'DF' | 'ADF', fid?: number): void {
  expect(fcp.kind).toBe(kind);
  if (fid !== undefined) expect(fcp.fid).toBe(fid);
  expect(fcp.lcsName).toBe('operational activated');
  expect(fcp.arr).toBeDefined();
  expect(fcp.pinStatus?.find((p) => p.keyRef === 0x01)?.enabled).toBe(false);
  if (kind === 'ADF') expect(toHex(fcp.aid!)).toBe(USIM_AID_HEX);
  if (kind === 'MF') expect(fcp.uiccCharacteristics).toBeDefined();
}

/** An FCP seen on the walk: where its `8B` must resolve (the MF's EF.ARR or the USIM's). */
interface Seen {
  readonly what: string;
  readonly fcp: UiccFcp;
  readonly scope: 'mf' | 'usim';
  readonly isDf: boolean;
}

/** Walks the whole contact tree: every FCP by FID, by path from the MF, the USIM by AID; returns what it saw. */
function walk(t: Terminal): Seen[] {
  const seen: Seen[] = [];
  const fcpOf = (apdu: string): UiccFcp => decodeUiccFcp(t.ok(apdu));

  const mf = fcpOf('00 A4 00 04 02 3F00');
  expectDf(mf, 'MF', 0x3f00);
  seen.push({ what: 'MF', fcp: mf, scope: 'mf', isDf: true });
  // The empty path and P1 08 with 3F00 are the MF too.
  expect(toHex(t.ok('00 A4 00 04 00'))).toBe(toHex(t.ok('00 A4 00 04 02 3F00')));

  for (const ef of MF_EFS) {
    t.ok('00 A4 00 0C 02 3F00');
    const raw = t.ok(`00 A4 00 04 02 ${fid4(ef.fid)}`);
    const byFid = decodeUiccFcp(raw);
    expectEf(byFid, ef);
    expect(toHex(t.ok(`00 A4 08 04 02 ${fid4(ef.fid)}`)), `${ef.name} by path`).toBe(toHex(raw));
    seen.push({ what: ef.name, fcp: byFid, scope: 'mf', isDf: false });
  }

  for (const df of DFS) {
    t.ok('00 A4 00 0C 02 3F00');
    const raw = t.ok(`00 A4 00 04 02 ${fid4(df.fid)}`);
    const dfFcp = decodeUiccFcp(raw);
    expectDf(dfFcp, 'DF', df.fid);
    expect(toHex(t.ok(`00 A4 08 04 02 ${fid4(df.fid)}`)), `${df.name} by path`).toBe(toHex(raw));
    seen.push({ what: df.name, fcp: dfFcp, scope: 'mf', isDf: true });
    for (const ef of df.efs) {
      t.ok(`00 A4 08 0C 02 ${fid4(df.fid)}`);
      const efRaw = t.ok(`00 A4 00 04 02 ${fid4(ef.fid)}`);
      const efFcp = decodeUiccFcp(efRaw);
      expectEf(efFcp, ef);
      expect(toHex(t.ok(`00 A4 08 04 04 ${fid4(df.fid)} ${fid4(ef.fid)}`)), `${df.name}/${ef.name} by path`).toBe(
        toHex(efRaw),
      );
      seen.push({ what: `${df.name}/${ef.name}`, fcp: efFcp, scope: 'mf', isDf: false });
    }
  }

  const adf = decodeUiccFcp(t.selectUsim());
  expectDf(adf, 'ADF');
  seen.push({ what: 'ADF.USIM', fcp: adf, scope: 'usim', isDf: true });
  for (const ef of USIM_EFS) {
    const efFcp = fcpOf(`00 A4 00 04 02 ${fid4(ef.fid)}`);
    expectEf(efFcp, ef);
    seen.push({ what: `ADF.USIM/${ef.name}`, fcp: efFcp, scope: 'usim', isDf: false });
  }
  return seen;
}

/** The SC_DOs of the rule whose access mode has `bit` (TS 102 221 §9.2.3: b1 READ, b2 UPDATE for an EF). */
function conditionsFor(rules: readonly ArrRule[], bit: number): string[] {
  const rule = rules.find((r) => r.am !== undefined && (r.am & bit) !== 0);
  return rule === undefined ? [] : rule.conditions.map((c) => c.kind);
}

/** Reads record `record` of the EF.ARR `fid` in `scope` (checking that EF's own FCP first). */
function readArrRecord(t: Terminal, scope: 'mf' | 'usim', fid: number, record: number): Uint8Array {
  if (scope === 'usim' && fid === 0x6f06) t.selectUsim('0C');
  else {
    expect(fid, 'an EF.ARR outside the USIM is the MF’s 2F06').toBe(0x2f06);
    t.ok('00 A4 00 0C 02 3F00');
  }
  const arr = decodeUiccFcp(t.ok(`00 A4 00 04 02 ${fid4(fid)}`));
  expect(arr.structure).toBe('linear-fixed');
  expect(arr.records!).toBeGreaterThanOrEqual(record);
  const rec = t.ok(
    `00 B2 ${record.toString(16).padStart(2, '0')} 04 ${arr.recordLength!.toString(16).padStart(2, '0')}`,
  );
  expect(rec).toHaveLength(arr.recordLength!);
  return rec;
}

const b = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');

function readBinary(t: Terminal, select: string, length: number): Uint8Array {
  t.ok(select);
  return t.ok(`00 B0 00 00 ${b(length)}`);
}

function readRecord1(t: Terminal, select: string): Uint8Array {
  const fcp = decodeUiccFcp(t.ok(select));
  return t.ok(`00 B2 01 04 ${b(fcp.recordLength!)}`);
}

const ascii = (d: Uint8Array): string => String.fromCharCode(...d);
const languagesOf = (d: Uint8Array): string[] => ascii(d).match(/../g) ?? [];

// ---------------------------------------------------------------- the tree, per card

const CARDS: readonly { label: string; profile: SimtapProfile }[] = [
  { label: 'card-1', profile: PROFILE },
  { label: 'card-2', profile: PROFILE },
  { label: 'fleet-7', profile: FLEET },
];

describe.each(CARDS)('$label on the contact interface', ({ label, profile }) => {
  let card: Card;
  let cp: CardProfile;
  let t: Terminal;
  beforeAll(() => {
    card = sim(label, profile);
    cp = cardProfile(label, profile);
    t = terminal(card);
  });

  it('walks the whole tree: every FCP decodes (TS 102 221 §11.1.1.3) as the tree says; each 8B record exists', () => {
    const seen = walk(t);
    expect(seen).toHaveLength(1 + MF_EFS.length + DFS.reduce((n, d) => n + 1 + d.efs.length, 0) + 1 + USIM_EFS.length);
    for (const s of seen) {
      const rules = decodeArrRecord(readArrRecord(t, s.scope, s.fcp.arr!.fid, s.fcp.arr!.record));
      expect(rules.length, s.what).toBeGreaterThan(0);
      if (s.isDf) {
        // Nothing a terminal may do to a DF: no rule grants "always".
        for (const r of rules)
          expect(
            r.conditions.map((c) => c.kind),
            s.what,
          ).not.toContain('always');
      } else {
        expect(conditionsFor(rules, 0x01), `${s.what} READ`).toEqual(['always']);
        expect(conditionsFor(rules, 0x02), `${s.what} UPDATE`).toEqual(['never']);
      }
    }
  });

  it('the tree has no other UICC file than those walked (contact-only nodes of the card)', () => {
    const names: string[] = [];
    const visit = (n: FileNode, path: string): void => {
      const here = n.kind === 'df' && n.fid === undefined ? `${path}/${toHex(n.name!)}` : `${path}/${fid4(n.fid!)}`;
      if (n.contactOnly) names.push(here);
      if (n.kind === 'df') for (const c of n.children) visit(c, here);
    };
    for (const c of card.files.mf.children) visit(c, '3F00');
    const expected = [
      ...MF_EFS.map((e) => `3F00/${fid4(e.fid)}`),
      ...DFS.flatMap((d) => [`3F00/${fid4(d.fid)}`, ...d.efs.map((e) => `3F00/${fid4(d.fid)}/${fid4(e.fid)}`)]),
      `3F00/${USIM_AID_HEX}`,
      ...USIM_EFS.map((e) => `3F00/${USIM_AID_HEX}/${fid4(e.fid)}`),
    ];
    expect(names.sort()).toEqual(expected.sort());
  });

  it('EF.DIR lists the USIM (AID, label) and the e-purse of the profile', () => {
    t.ok('00 A4 00 0C 02 3F00');
    const fcp = decodeUiccFcp(t.ok('00 A4 00 04 02 2F00'));
    const records = Array.from({ length: fcp.records! }, (_, i) =>
      decodeEfDirRecord(t.ok(`00 B2 ${b(i + 1)} 04 ${b(fcp.recordLength!)}`)),
    );
    expect(records.map((r) => toHex(r.aid))).toEqual([USIM_AID_HEX, EPURSE_AID_HEX]);
    expect(records[0]!.label).toMatch(/\S/);
    expect(records[1]!.label).toMatch(/\S/);
    // By SFI 1E from the MF as well.
    expect(decodeEfDirRecord(t.ok(`00 B2 01 F4 ${b(fcp.recordLength!)}`)).label).toBe(records[0]!.label);
  });

  it('EF.ICCID = the card’s ICCID, by FID, by path and by SFI 02', () => {
    expect(decodeIccid(readBinary(t, '00 A4 08 0C 02 2FE2', 10))).toBe(cp.iccid.padEnd(20, 'F'));
    t.ok('00 A4 00 0C 02 3F00');
    expect(decodeIccid(t.ok('00 B0 82 00 0A'))).toBe(cp.iccid.padEnd(20, 'F'));
  });

  it('EF.IMSI = the card’s IMSI: in the USIM by SFI 07 and by FID, and in DF.GSM', () => {
    t.selectUsim('0C');
    expect(decodeImsi(t.ok('00 B0 87 00 09'))).toBe(cp.imsi);
    expect(decodeImsi(readBinary(t, '00 A4 00 0C 02 6F07', 9))).toBe(cp.imsi);
    expect(decodeImsi(readBinary(t, '00 A4 08 0C 04 7F20 6F07', 9))).toBe(cp.imsi);
  });

  it('EF.MSISDN = +86 and the card’s MSISDN, international (USIM and DF.TELECOM)', () => {
    t.selectUsim('0C');
    const fromUsim = decodeMsisdnRecord(readRecord1(t, '00 A4 00 04 02 6F40'));
    const fromTelecom = decodeMsisdnRecord(readRecord1(t, '00 A4 08 04 04 7F10 6F40'));
    for (const m of [fromUsim, fromTelecom]) {
      expect(m).toMatchObject({ number: `+86${cp.msisdn}`, ton: 1, npi: 1 });
    }
  });

  it('EF.SPN = the profile’s service provider name; EF.AD = its MNC length (USIM and DF.GSM)', () => {
    const spn = PROFILE.card.usim.serviceProviderName;
    t.selectUsim('0C');
    expect(decodeSpn(readBinary(t, '00 A4 00 0C 02 6F46', 17)).name).toBe(spn);
    const ad = readBinary(t, '00 A4 00 0C 02 6FAD', 4);
    expect(ad[3]! & 0x0f).toBe(PROFILE.card.usim.mncLength);
    expect(decodeSpn(readBinary(t, '00 A4 08 0C 04 7F20 6F46', 17)).name).toBe(spn);
    expect(readBinary(t, '00 A4 08 0C 04 7F20 6FAD', 4)[3]! & 0x0f).toBe(PROFILE.card.usim.mncLength);
  });

  it('EF.PL and EF.LI = the profile’s languages; EF.UST offers services 19 (SPN) and 21 (MSISDN)', () => {
    expect(languagesOf(readBinary(t, '00 A4 08 0C 02 2F05', 2 * LANGS.length))).toEqual([...LANGS]);
    t.selectUsim('0C');
    expect(languagesOf(t.ok(`00 B0 82 00 ${b(2 * LANGS.length)}`))).toEqual([...LANGS]);
    const ust = t.ok('00 B0 84 00 00');
    const service = (n: number): boolean => ((ust[(n - 1) >> 3] ?? 0) & (1 << ((n - 1) & 7))) !== 0;
    expect([service(19), service(21)]).toEqual([true, true]);
  });
});

// ---------------------------------------------------------------- SELECT P2, STATUS, GET STATUS

/** A response to SELECT P2 00: one `62` (FCP, then it must decode) or `6F` (FCI) template filling the data. */
function expectTemplate(data: Uint8Array, what: string): void {
  const top = decodeTlv(data);
  expect(top, what).toHaveLength(1);
  const tag = top[0]!.tag;
  expect([0x62, 0x6f], what).toContain(tag);
  const value = top[0]!.value;
  expect(data.length, `${what}: no bytes after the template`).toBe(value.length + (value.length < 128 ? 2 : 3));
  if (tag === 0x62) decodeUiccFcp(data);
  else
    expect(
      decodeTlv(value).some((o) => o.tag === 0x83 || o.tag === 0x84),
      what,
    ).toBe(true);
}

describe('SELECT P2 and STATUS (TS 102 221 §11.1.1, §11.1.2)', () => {
  const targets: readonly { what: string; select: (p2: string) => string }[] = [
    { what: 'MF', select: (p2) => `00 A4 00 ${p2} 02 3F00` },
    { what: 'EF.ICCID by path', select: (p2) => `00 A4 08 ${p2} 02 2FE2` },
    { what: 'DF.GSM', select: (p2) => `00 A4 08 ${p2} 02 7F20` },
    { what: 'EF.IMSI in DF.GSM by path', select: (p2) => `00 A4 08 ${p2} 04 7F20 6F07` },
    { what: 'ADF.USIM by AID', select: (p2) => `00 A4 04 ${p2} 10 ${USIM_AID_HEX}` },
  ];

  it.each(targets)('$what: P2 04 an FCP, 0C nothing, 08 the FMD (64 00), 00 a well-formed template', ({ select }) => {
    const t = terminal(sim('card-1'));
    decodeUiccFcp(t.ok(select('04')));
    expect(toHex(t.ok(select('0C')))).toBe('');
    expect(toHex(t.ok(select('08')))).toBe('6400');
    expectTemplate(t.ok(select('00')), select('00'));
  });

  it('STATUS: P2 00 the current DF’s FCP, 01 the application’s DF name, 0C nothing', () => {
    const t = terminal(sim('card-1'));
    t.ok('00 A4 08 0C 02 7F20');
    const gsm = decodeUiccFcp(t.ok('80 F2 00 00 00'));
    expect([gsm.kind, gsm.fid]).toEqual(['DF', 0x7f20]);
    // An EF selected: STATUS still tells the DF.
    t.ok('00 A4 00 0C 02 6F07');
    expect(decodeUiccFcp(t.ok('80 F2 00 00 00')).fid).toBe(0x7f20);

    const selectFcp = t.selectUsim();
    const adf = t.ok('80 F2 00 00 00');
    expect(toHex(adf)).toBe(toHex(selectFcp));
    const fcp = decodeUiccFcp(adf);
    expect(fcp.kind).toBe('ADF');
    expect(toHex(fcp.aid!)).toBe(USIM_AID_HEX);
    t.ok('00 A4 00 0C 02 6F07'); // an EF in the ADF: the current DF is still the ADF
    expect(decodeUiccFcp(t.ok('80 F2 00 00 00')).kind).toBe('ADF');
    expect(toHex(t.ok('80 F2 00 01 00'))).toBe(`84${b(USIM_AID.length)}${USIM_AID_HEX}`);
    expect(toHex(t.ok('80 F2 00 0C 00'))).toBe('');
    expect(toHex(t.ok('80 F2 01 0C 00'))).toBe('');
  });

  it('GlobalPlatform GET STATUS (80 F2 40 …) still reaches the ISD: 6982 without, the USIM listed with SCP03', () => {
    const card = sim('card-1');
    const t = terminal(card);
    t.selectUsim('0C');
    t.ok(`00 A4 04 00 08 ${ISD_AID_HEX} 00`);
    expect(t.tx('80 F2 40 00 02 4F 00 00').sw).toBe('6982');
    expect(t.tx('80 F2 80 00 02 4F 00 00').sw).toBe('6982');
    const host = openScp03Sync(cardTransmit(card, 'contact'), {
      keys: simIsdKeys({ card: 'card-1' }).scp03,
      securityLevel: 0x33,
    });
    const apps = host.transmit(hex`80 F2 40 02 02 4F 00 00`);
    expect(swOf(apps)).toBe(0x9000);
    const aids = decodeTlv(dataOf(apps)).map((e) => toHex(decodeTlv(e.value).find((o) => o.tag === 0x4f)!.value));
    expect(aids).toContain(USIM_AID_HEX);
    expect(aids).toContain(EPURSE_AID_HEX);
  });
});

// ---------------------------------------------------------------- access rules

describe('access rules: the subscriber’s files are read-only to the terminal', () => {
  it('UPDATE BINARY on EF.IMSI / EF.ICCID and UPDATE RECORD on EF.DIR → 6982, nothing written', () => {
    const card = sim('card-1');
    const cp = cardProfile('card-1');
    const t = terminal(card);
    const before = card.persistentWrites;
    t.selectUsim('0C');
    expect(t.tx('00 D6 87 00 09 08 99 99 99 99 99 99 99 99').sw).toBe('6982');
    t.ok('00 A4 00 0C 02 6F07');
    expect(t.tx('00 D6 00 00 01 00').sw).toBe('6982');
    t.ok('00 A4 08 0C 04 7F20 6F07');
    expect(t.tx('00 D6 00 00 01 00').sw).toBe('6982');
    t.ok('00 A4 08 0C 02 2FE2');
    expect(t.tx('00 D6 00 00 02 00 00').sw).toBe('6982');
    t.ok('00 A4 00 0C 02 3F00');
    expect(t.tx('00 D6 82 00 01 00').sw).toBe('6982');
    const dir = decodeUiccFcp(t.ok('00 A4 00 04 02 2F00'));
    const record = toHex(new Uint8Array(dir.recordLength!).fill(0xff));
    expect(t.tx(`00 DC 01 04 ${b(dir.recordLength!)} ${record}`).sw).toBe('6982');
    expect(t.tx(`00 DC 01 F4 ${b(dir.recordLength!)} ${record}`).sw).toBe('6982');
    expect(card.persistentWrites).toBe(before);

    t.selectUsim('0C');
    expect(decodeImsi(t.ok('00 B0 87 00 09'))).toBe(cp.imsi);
    expect(decodeIccid(readBinary(t, '00 A4 08 0C 02 2FE2', 10))).toBe(cp.iccid);
    t.ok('00 A4 00 0C 02 3F00');
    expect(toHex(decodeEfDirRecord(t.ok(`00 B2 01 F4 ${b(dir.recordLength!)}`)).aid)).toBe(USIM_AID_HEX);
  });
});

// ---------------------------------------------------------------- contactless

describe('contactless: the payment applications only', () => {
  it('the MF answers, the telecom files and the USIM do not; class A0 is refused; the e-purse selects', () => {
    const card = sim('card-1');
    const t = terminal(card, 'contactless');
    expect(t.tx('00 A4 00 0C 02 3F00').sw).toBe('9000');
    for (const f of ['2FE2', '2F00', '2F05', '2F06', '7F10', '7F20'])
      expect(t.tx(`00 A4 00 04 02 ${f}`).sw, f).toBe('6A82');
    expect(t.tx('00 A4 08 04 02 2FE2').sw).toBe('6A82');
    expect(t.tx('00 A4 08 04 04 7F20 6F07').sw).toBe('6A82');
    t.ok('00 A4 00 0C 02 3F00');
    expect(t.tx('00 B0 82 00 0A').sw).toBe('6A82');
    expect(t.tx('00 B2 01 F4 00').sw).toBe('6A82');
    expect(t.tx(`00 A4 04 04 10 ${USIM_AID_HEX}`).sw).toBe('6A82');
    expect(t.tx('A0 A4 00 00 02 3F00').sw).toBe('6E00');
    expect(t.tx('A0 F2 00 00 16').sw).toBe('6E00');
    expect(t.tx(`00 A4 04 00 08 ${EPURSE_AID_HEX} 00`).sw).toBe('9000');
  });
});

// ---------------------------------------------------------------- the GSM class (TS 51.011 §9)

describe('the GSM class A0 on the contact interface (TS 51.011 §9)', () => {
  it('SELECT MF → 9F16; GET RESPONSE: FID 3F00, type 01, the DFs and EFs a handset can select', () => {
    const t = terminal(sim('card-1'));
    expect(t.tx('A0 A4 00 00 02 3F00').sw).toBe('9F16');
    const r = t.ok('A0 C0 00 00 16');
    expect(r).toHaveLength(22);
    expect(toHex(r.subarray(4, 6))).toBe('3F00');
    expect(r[6]).toBe(0x01);
    expect(r[12]).toBe(22 - 13); // length of the GSM data that follows
    // DF.TELECOM and DF.GSM; EF.DIR, EF.ICCID, EF.PL, EF.ARR. (The USIM has no FID, the e-purse's 3F01 is an
    // application's ADF, which this class cannot select: see below.)
    expect([r[14], r[15]]).toEqual([DFS.length, MF_EFS.length]);
    expect(t.tx('A0 A4 00 00 02 3F01').sw).toBe('9404');
  });

  it('DF.GSM / EF.IMSI: 9F0F, the 15-byte EF response, READ BINARY = the IMSI', () => {
    const cp = cardProfile('card-1');
    const t = terminal(sim('card-1'));
    expect(t.tx('A0 A4 00 00 02 7F20').sw).toBe('9F16');
    const df = t.ok('A0 C0 00 00 16');
    expect(toHex(df.subarray(4, 7))).toBe('7F2002');
    expect([df[14], df[15]]).toEqual([0, 3]);
    expect(t.tx('A0 A4 00 00 02 6F07').sw).toBe('9F0F');
    const ef = t.ok('A0 C0 00 00 0F');
    expect(ef).toHaveLength(15);
    expect(toHex(ef.subarray(2, 4))).toBe('0009'); // file size
    expect(toHex(ef.subarray(4, 6))).toBe('6F07');
    expect(ef[6]).toBe(0x04); // EF
    expect(ef[8]).toBe(0x0f); // READ ALW, UPDATE NEV
    expect(ef[13]).toBe(0x00); // transparent
    expect(decodeImsi(t.ok('A0 B0 00 00 09'))).toBe(cp.imsi);
    // STATUS: the current directory, DF.GSM.
    const st = t.ok('A0 F2 00 00 16');
    expect(toHex(st.subarray(4, 7))).toBe('7F2002');
  });

  it('DF.TELECOM / EF.MSISDN: READ RECORD 1 → the MSISDN', () => {
    const cp = cardProfile('card-1');
    const t = terminal(sim('card-1'));
    expect(t.tx('A0 A4 00 00 02 7F10').sw).toBe('9F16');
    expect(t.tx('A0 A4 00 00 02 6F40').sw).toBe('9F0F');
    const ef = t.ok('A0 C0 00 00 0F');
    expect(ef[13]).toBe(0x01); // linear fixed
    const len = ef[14]!;
    expect((ef[2]! << 8) | ef[3]!).toBe(len); // one record
    expect(decodeMsisdnRecord(t.ok(`A0 B2 01 04 ${b(len)}`))).toMatchObject({ number: `+86${cp.msisdn}`, ton: 1 });
    expect(t.tx(`A0 B2 01 04 ${b(len - 1)}`).sw).toBe(`67${b(len)}`);
  });

  it('errors: no EF / a DF current, wrong structure, unknown FID, wrong P3, unknown INS, wrong P1/P2', () => {
    const t = terminal(sim('card-1'));
    expect(t.tx('A0 B0 00 00 01').sw).toBe('9400'); // after power-on: no EF
    t.tx('A0 A4 00 00 02 7F20');
    expect(t.tx('A0 B0 00 00 01').sw).toBe('9400'); // a DF current
    expect(t.tx('A0 B2 01 04 01').sw).toBe('9400');
    t.tx('A0 A4 00 00 02 3F00');
    t.tx('A0 A4 00 00 02 7F10');
    t.tx('A0 A4 00 00 02 6F40');
    expect(t.tx('A0 B0 00 00 01').sw).toBe('9408'); // READ BINARY on a linear fixed EF
    expect(t.tx('A0 A4 00 00 02 6F99').sw).toBe('9404');
    expect(t.tx('A0 A4 00 00 02 3F00').sw).toBe('9F16');
    expect(t.tx('A0 C0 00 00 17').sw).toBe('6716');
    expect(t.ok('A0 C0 00 00 16')).toHaveLength(22); // still pending after the wrong P3
    expect(t.tx('A0 FE 00 00 00').sw).toBe('6D00');
    expect(t.tx('A0 A4 04 00 02 3F00').sw).toBe('6B00');
    expect(t.tx('A0 A4 00 04 02 3F00').sw).toBe('6B00');
    expect(t.tx('A0 C0 01 00 16').sw).toBe('6B00');
    expect(t.tx('A0 F2 00 01 16').sw).toBe('6B00');
  });
});

// ---------------------------------------------------------------- image round trip, the e-purse beside the UICC

describe('card image and the payment applets', () => {
  it('snapshot → restoreSim: the USIM still selects and the files read the same', () => {
    const card = sim('card-2');
    const read = (c: Card): string[] => {
      const t = terminal(c);
      const out = [toHex(t.selectUsim())];
      out.push(toHex(t.ok('00 B0 87 00 09')));
      out.push(toHex(readRecord1(t, '00 A4 00 04 02 6F40')));
      out.push(toHex(readBinary(t, '00 A4 00 0C 02 6F46', 17)));
      out.push(toHex(readBinary(t, '00 A4 08 0C 02 2FE2', 10)));
      out.push(toHex(readBinary(t, '00 A4 08 0C 04 7F20 6F07', 9)));
      out.push(toHex(readRecord1(t, '00 A4 08 04 02 2F00')));
      return out;
    };
    const before = read(card);
    card.powerOff('contact');
    const restored = restoreSim(card.snapshot());
    const after = read(restored);
    expect(after).toEqual(before);
    expect(decodeImsi(fromHex(after[1]!))).toBe(cardProfile('card-2').imsi);
    expect(decodeUiccFcp(fromHex(after[0]!)).kind).toBe('ADF');
  });

  it.each(['contactless', 'contact'] as const)(
    'the personalized e-purse still answers on %s: SELECT, GET BALANCE',
    (iface) => {
      const cp = cardProfile('card-1');
      const t = terminal(sim('card-1'), iface);
      if (iface === 'contact') t.ok(`00 A4 04 0C 10 ${USIM_AID_HEX}`); // the UICC first, then the wallet
      const fci = t.tx(`00 A4 04 00 08 ${EPURSE_AID_HEX} 00`);
      expect(fci.sw).toBe('9000');
      const bal = t.ok('80 5C 00 02 04');
      expect(new DataView(bal.buffer, bal.byteOffset, 4).getUint32(0)).toBe(cp.initialBalance);
    },
  );
});

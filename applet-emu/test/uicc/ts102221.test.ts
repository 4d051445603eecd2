import { concat, fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { describe, expect, it } from 'vitest';
import {
  decodeArrRecord,
  decodeEfDirRecord,
  decodeIccid,
  decodeImsi,
  decodeMsisdnRecord,
  decodeSpn,
  decodeUiccFcp,
  UiccCheckError,
} from './ts102221';

/** `62 L ‖ objects` from hex data objects (each a complete TLV, possibly malformed on purpose). */
function fcp(...objects: string[]): Uint8Array {
  const body = fromHex(objects.join(' '));
  return concat(Uint8Array.of(0x62, body.length), body);
}

/** `list` with the object starting with `tag` (first hex byte) replaced, or removed when `by` is omitted. */
function swap(list: readonly string[], tag: string, by?: string): string[] {
  const i = list.findIndex((o) => o.startsWith(`${tag} `));
  if (i < 0) throw new Error(`no ${tag} in the list`);
  const out = [...list];
  if (by === undefined) out.splice(i, 1);
  else out[i] = by;
  return out;
}

// Hand-made from TS 102 221 §11.1.1.3/§11.1.1.4 (PS_DO 40: the second key reference is enabled).
const MF = [
  '82 02 78 21',
  '83 02 3F 00',
  'A5 03 80 01 71',
  '8A 01 05',
  '8B 03 2F 06 01',
  'C6 09 90 01 40 83 01 01 83 01 81',
];
const DF = ['82 02 78 21', '83 02 7F 10', '8A 01 05', '8C 01 00', 'C6 06 90 01 80 83 01 01'];
const USIM_AID = 'A0 00 00 00 87 10 02 FF 86 FF FF 89 FF FF FF FF';
const ADF = [
  '82 02 78 21',
  `84 10 ${USIM_AID}`,
  '8A 01 05',
  '8B 03 2F 06 02',
  'C6 0C 90 01 80 95 01 08 83 01 01 83 01 81',
];
const EF_TRANSPARENT = ['82 02 41 21', '83 02 2F E2', '8A 01 05', '8B 03 2F 06 0A', '80 02 00 0A', '88 01 10'];
const EF_LINEAR = ['82 05 42 21 00 26 02', '83 02 6F 06', '8A 01 05', '8B 03 2F 06 01', '80 02 00 4C'];
const EF_CYCLIC = [
  '82 05 46 21 00 0B 05',
  '83 02 6F 39',
  '8A 01 05',
  'AB 10 80 01 01 90 00 80 01 02 A4 06 83 01 01 95 01 08',
  '80 02 00 37',
  '88 00',
];

describe('decodeUiccFcp: good FCPs', () => {
  it('reads an MF', () => {
    const f = decodeUiccFcp(fcp(...MF));
    expect(f).toMatchObject({
      kind: 'MF',
      shareable: true,
      fid: 0x3f00,
      lifeCycle: 5,
      lcsName: 'operational activated',
      arr: { fid: 0x2f06, record: 1 },
      uiccCharacteristics: 0x71,
      sfi: undefined,
      pinStatus: [
        { keyRef: 0x01, enabled: false },
        { keyRef: 0x81, enabled: true },
      ],
    });
    expect(f.structure).toBeUndefined();
  });

  it('reads a DF with compact security attributes', () => {
    expect(decodeUiccFcp(fcp(...DF))).toMatchObject({
      kind: 'DF',
      fid: 0x7f10,
      security: { format: 'compact', am: 0, sc: [] },
      pinStatus: [{ keyRef: 1, enabled: true }],
    });
  });

  it('reads an ADF (DF name, no file identifier, a usage qualifier in C6)', () => {
    const f = decodeUiccFcp(fcp(...ADF));
    expect(f.kind).toBe('ADF');
    expect(toHex(f.aid!)).toBe(toHex(fromHex(USIM_AID)));
    expect(f.fid).toBeUndefined();
    expect(f.pinStatus).toEqual([
      { keyRef: 1, enabled: true, usage: 8 },
      { keyRef: 0x81, enabled: false },
    ]);
    // An ADF may carry 83 too.
    expect(decodeUiccFcp(fcp('83 02 7F FF', ...ADF)).fid).toBe(0x7fff);
  });

  it('reads a transparent EF with an SFI in 88', () => {
    expect(decodeUiccFcp(fcp(...EF_TRANSPARENT))).toMatchObject({
      kind: 'EF',
      efType: 'working',
      structure: 'transparent',
      shareable: true,
      fid: 0x2fe2,
      fileSize: 10,
      sfi: 2,
      arr: { fid: 0x2f06, record: 0x0a },
    });
  });

  it('reads a linear fixed EF; without 88 the SFI is the 5 low bits of the FID', () => {
    expect(decodeUiccFcp(fcp(...EF_LINEAR))).toMatchObject({
      structure: 'linear-fixed',
      recordLength: 0x26,
      records: 2,
      fileSize: 0x4c,
      sfi: 6,
    });
  });

  it('reads a cyclic EF with expanded security attributes and 88 00 (no SFI)', () => {
    const f = decodeUiccFcp(fcp(...EF_CYCLIC));
    expect(f).toMatchObject({ structure: 'cyclic', recordLength: 11, records: 5, fileSize: 55, sfi: undefined });
    expect(f.security).toEqual({
      format: 'expanded',
      rules: [
        { am: 1, conditions: [{ kind: 'always' }] },
        { am: 2, conditions: [{ kind: 'key', keyRef: 1, usage: 8 }] },
      ],
    });
  });

  it('reads an internal EF, a total file size, SEID/record pairs and other life cycle states', () => {
    const f = decodeUiccFcp(
      fcp('82 02 09 21', '83 02 6F 01', '8A 01 0F', '8B 06 2F 06 00 01 01 02', '80 01 08', '81 02 00 20'),
    );
    expect(f).toMatchObject({ efType: 'internal', shareable: false, lcsName: 'terminated', totalSize: 32 });
    expect(f.security).toEqual({
      format: 'referenced',
      arrFid: 0x2f06,
      records: [
        { seid: 0, record: 1 },
        { seid: 1, record: 2 },
      ],
    });
    expect(decodeUiccFcp(fcp(...swap(DF, '8A', '8A 01 04'))).lcsName).toBe('operational deactivated');
    expect(decodeUiccFcp(fcp(...swap(DF, '8A', '8A 01 03'))).lcsName).toBe('initialisation');
    expect(decodeUiccFcp(fcp(...swap(DF, '8A', '8A 01 01'))).lcsName).toBe('creation');
  });
});

describe('decodeUiccFcp: each rule broken once', () => {
  const cases: Array<[string, Uint8Array, RegExp, string]> = [
    ['a byte after the template', concat(fcp(...MF), hex`FF`), /62/, '§11.1.1.3'],
    ['an FCI (6F) instead of an FCP', concat(hex`6F`, fcp(...MF).subarray(1)), /62/, '§11.1.1.3'],
    ['padding inside the template', fcp(...MF, '00'), /62/, '§11.1.1.3'],
    ['a length running past the template', fcp('83 05 3F 00', ...swap(MF, '83')), /62/, '§11.1.1.3'],
    ['an unknown tag', fcp(...MF, '85 01 00'), /tag 85/, '§11.1.1.3'],
    ['a tag twice', fcp(...MF, '8A 01 05'), /tag 8A/, '§11.1.1.4.9'],
    ['no 82', fcp(...swap(MF, '82')), /tag 82/, '§11.1.1.4.3'],
    ['82 with b8 set', fcp(...swap(MF, '82', '82 02 F8 21')), /tag 82/, '§11.1.1.4.3'],
    ['82 data coding byte not 21', fcp(...swap(MF, '82', '82 02 78 01')), /tag 82/, '§11.1.1.4.3'],
    ['82 of a DF with 5 bytes', fcp(...swap(MF, '82', '82 05 78 21 00 01 01')), /tag 82/, '§11.1.1.4.3'],
    ['82 of a DF with structure bits', fcp(...swap(MF, '82', '82 02 79 21')), /tag 82/, '§11.1.1.4.3'],
    ['82 of a record EF with 2 bytes', fcp(...swap(EF_LINEAR, '82', '82 02 42 21')), /tag 82/, '§11.1.1.4.3'],
    [
      '82 of a transparent EF with 5 bytes',
      fcp(...swap(EF_TRANSPARENT, '82', '82 05 41 21 00 05 02')),
      /tag 82/,
      '§11.1.1.4.3',
    ],
    ['82 with an RFU structure', fcp(...swap(EF_TRANSPARENT, '82', '82 02 43 21')), /tag 82/, '§11.1.1.4.3'],
    ['82 with an RFU file type', fcp(...swap(EF_TRANSPARENT, '82', '82 02 51 21')), /tag 82/, '§11.1.1.4.3'],
    ['82 with zero records', fcp(...swap(EF_LINEAR, '82', '82 05 42 21 00 26 00')), /tag 82/, '§11.1.1.4.3'],
    ['83 of 3 bytes', fcp(...swap(MF, '83', '83 03 3F 00 00')), /tag 83/, '§11.1.1.4.4'],
    ['no 83 in a DF', fcp(...swap(DF, '83')), /tag 83/, '§11.1.1.3.1'],
    ['no 83 in an EF', fcp(...swap(EF_LINEAR, '83')), /tag 83/, '§11.1.1.3.2'],
    ['84 of 17 bytes', fcp(...swap(ADF, '84', `84 11 ${USIM_AID} 00`)), /tag 84/, '§11.1.1.4.5'],
    ['84 in an EF', fcp(...EF_TRANSPARENT, '84 01 A0'), /tag 84/, '§11.1.1.3.2'],
    ['no A5 in the MF', fcp(...swap(MF, 'A5')), /tag A5/, '§11.1.1.3.1'],
    ['A5 of the MF without 80', fcp(...swap(MF, 'A5', 'A5 03 87 01 00')), /A5\/80/, '§11.1.1.4.6.1'],
    ['A5/80 of 2 bytes', fcp(...swap(MF, 'A5', 'A5 04 80 02 71 00')), /A5\/80/, '§11.1.1.4.6.1'],
    ['A5/80 in a DF', fcp(...DF, 'A5 03 80 01 71'), /A5\/80/, '§11.1.1.4.6.1'],
    ['an unknown tag inside A5', fcp(...swap(MF, 'A5', 'A5 06 80 01 71 C0 01 00')), /tag A5/, '§11.1.1.4.6'],
    ['no 8A', fcp(...swap(DF, '8A')), /tag 8A/, '§11.1.1.3.1'],
    ['8A of 2 bytes', fcp(...swap(DF, '8A', '8A 02 05 00')), /tag 8A/, '§11.1.1.4.9'],
    ['8A with an RFU value', fcp(...swap(DF, '8A', '8A 01 02')), /tag 8A/, '§11.1.1.4.9'],
    ['no security attributes', fcp(...swap(DF, '8C')), /8B, 8C or AB/, '§11.1.1.4.7'],
    ['two security attributes', fcp(...DF, '8B 03 2F 06 01'), /8B, 8C or AB/, '§11.1.1.4.7'],
    ['8B of 5 bytes', fcp(...swap(MF, '8B', '8B 05 2F 06 00 01 02')), /tag 8B/, '§11.1.1.4.7.3'],
    ['8C missing an SC byte', fcp(...swap(DF, '8C', '8C 02 03 00')), /tag 8C/, '§11.1.1.4.7.1'],
    ['AB with an SC_DO first', fcp(...swap(EF_CYCLIC, 'AB', 'AB 02 90 00')), /AB/, '§9.2.3'],
    ['no C6 in an ADF', fcp(...swap(ADF, 'C6')), /tag C6/, '§11.1.1.3.1'],
    ['C6 not starting with the PS_DO', fcp(...swap(DF, 'C6', 'C6 03 83 01 01')), /C6/, '§11.1.1.4.10'],
    [
      'C6 with more key references than PS_DO bits',
      fcp(...swap(DF, 'C6', `C6 ${'1E'} 90 01 80 ${'83 01 01 '.repeat(9)}`)),
      /C6/,
      '§11.1.1.4.10',
    ],
    ['C6 in an EF', fcp(...EF_TRANSPARENT, 'C6 06 90 01 80 83 01 01'), /tag C6/, '§11.1.1.3.2'],
    ['no 80 in an EF', fcp(...swap(EF_TRANSPARENT, '80')), /tag 80/, '§11.1.1.3.2'],
    ['80 in a DF', fcp(...DF, '80 02 00 10'), /tag 80/, '§11.1.1.3.1'],
    ['80 not records × record length', fcp(...swap(EF_LINEAR, '80', '80 02 00 4D')), /tag 80/, '§11.1.1.4.1'],
    ['81 of 1 byte', fcp(...EF_LINEAR, '81 01 10'), /tag 81/, '§11.1.1.4.2'],
    ['88 in a DF', fcp(...DF, '88 01 10'), /tag 88/, '§11.1.1.3.1'],
    ['88 of 2 bytes', fcp(...swap(EF_TRANSPARENT, '88', '88 02 10 00')), /tag 88/, '§11.1.1.4.8'],
    ['88 with b3–b1 set', fcp(...swap(EF_TRANSPARENT, '88', '88 01 11')), /tag 88/, '§11.1.1.4.8'],
  ];
  it.each(cases)('rejects %s', (_, bytes, tag, clause) => {
    let error: unknown;
    try {
      decodeUiccFcp(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UiccCheckError);
    expect((error as Error).message).toMatch(tag);
    expect((error as Error).message).toContain(clause);
  });
});

describe('EF.ARR records', () => {
  it('reads always/never, key references, command AM_DOs and OR/AND templates, FF padded', () => {
    expect(
      decodeArrRecord(hex`80 01 01 90 00  80 01 02 A4 06 83 01 01 95 01 08  84 01 D6 97 00  80 01 18 97 00  FF FF FF`),
    ).toEqual([
      { am: 1, conditions: [{ kind: 'always' }] },
      { am: 2, conditions: [{ kind: 'key', keyRef: 1, usage: 8 }] },
      { command: { ins: 0xd6 }, conditions: [{ kind: 'never' }] },
      { am: 0x18, conditions: [{ kind: 'never' }] },
    ]);
    expect(
      decodeArrRecord(
        hex`80 01 03 A0 10 A4 06 83 01 01 95 01 08 A4 06 83 01 0A 95 01 08 80 01 40 AF 05 A4 03 83 01 0A`,
      ),
    ).toEqual([
      {
        am: 3,
        conditions: [
          {
            kind: 'or',
            of: [
              { kind: 'key', keyRef: 1, usage: 8 },
              { kind: 'key', keyRef: 0x0a, usage: 8 },
            ],
          },
        ],
      },
      { am: 0x40, conditions: [{ kind: 'and', of: [{ kind: 'key', keyRef: 0x0a }] }] },
    ]);
    expect(decodeArrRecord(hex`8C 02 00 B0 B4 00`)).toEqual([
      { command: { cla: 0, ins: 0xb0 }, conditions: [{ kind: 'sm', tag: 0xb4, value: new Uint8Array(0) }] },
    ]);
  });

  it.each([
    ['an SC_DO before any AM_DO', '90 00 80 01 01 90 00'],
    ['an AM_DO without an SC_DO', '80 01 01 80 01 02 90 00'],
    ['an unknown SC_DO', '80 01 01 9E 01 00'],
    ['a CRT without a key reference', '80 01 01 A4 03 95 01 08'],
    ['a 2-byte AM byte', '80 02 01 00 90 00'],
    ['a byte other than FF after the rules', '80 01 01 90 00 00'],
  ])('rejects %s', (_, h) => {
    expect(() => decodeArrRecord(fromHex(h))).toThrow(/9\.2\.3/);
  });
});

describe('EF.DIR, EF.ICCID, EF.IMSI, EF.MSISDN, EF.SPN', () => {
  it('reads an EF.DIR record with FF padding', () => {
    const r = decodeEfDirRecord(fromHex(`61 18 4F 10 ${USIM_AID} 50 04 55 53 49 4D FF FF FF FF`));
    expect(toHex(r.aid)).toBe(toHex(fromHex(USIM_AID)));
    expect(r.label).toBe('USIM');
    expect(() => decodeEfDirRecord(hex`62 03 4F 01 A0`)).toThrow(/§13\.1/);
    expect(() => decodeEfDirRecord(hex`61 03 50 01 41`)).toThrow(/4F.*§13\.1/);
    expect(() => decodeEfDirRecord(hex`61 03 4F 01 A0 00`)).toThrow(/§13\.1/);
  });

  it('reads the ICCID as the profile writes it', () => {
    expect(decodeIccid(hex`98 68 00 44 10 02 62 00 10 F0`)).toBe('8986004401202600010F');
    expect(decodeIccid(hex`98 68 00 44 10 02 62 00 70 00`)).toBe('89860044012026000700');
    expect(() => decodeIccid(hex`98 68 00 44 10 02 62 00 10`)).toThrow(/EF\.ICCID.*§13\.2/);
    expect(() => decodeIccid(hex`98 68 0A 44 10 02 62 00 10 F0`)).toThrow(/§13\.2/);
  });

  it('reads odd and even IMSIs', () => {
    expect(decodeImsi(hex`08 49 06 00 21 43 65 00 10`)).toBe('460001234560001');
    expect(decodeImsi(hex`08 41 06 00 21 43 65 00 F0`)).toBe('46000123456000');
    expect(decodeImsi(hex`04 49 06 00 21 FF FF FF FF`)).toBe('4600012');
    expect(() => decodeImsi(hex`08 48 06 00 21 43 65 00 10`)).toThrow(/parity.*§4\.2\.2/);
    expect(() => decodeImsi(hex`09 49 06 00 21 43 65 00 10`)).toThrow(/§4\.2\.2/);
  });

  it('reads MSISDN records: alpha, TON/NPI, digits, + for international', () => {
    const tail = 'FF FF';
    expect(decodeMsisdnRecord(fromHex(`4D 53 49 53 44 4E 07 81 31 08 10 83 00 F1 FF FF FF FF ${tail}`))).toEqual({
      alpha: 'MSISDN',
      ton: 0,
      npi: 1,
      number: '13800138001',
    });
    expect(decodeMsisdnRecord(fromHex(`FF FF 08 91 68 31 08 10 83 00 F1 FF FF FF ${tail}`))).toEqual({
      alpha: '',
      ton: 1,
      npi: 1,
      number: '+8613800138001',
    });
    expect(decodeMsisdnRecord(new Uint8Array(14).fill(0xff))).toBeUndefined();
    expect(() => decodeMsisdnRecord(fromHex(`FF FF 06 81 31 08 10 83 00 F1 FF FF FF FF ${tail}`))).toThrow(/§4\.2\.26/);
    expect(() => decodeMsisdnRecord(fromHex(`FF FF 07 01 31 08 10 83 00 F1 FF FF FF FF ${tail}`))).toThrow(/TON\/NPI/);
  });

  it('reads EF.SPN', () => {
    expect(decodeSpn(fromHex(`01 53 49 4D 54 41 50 ${'FF '.repeat(10)}`))).toEqual({
      displayCondition: 1,
      name: 'SIMTAP',
    });
    expect(decodeSpn(fromHex(`00 80 00 41 00 42 ${'FF '.repeat(11)}`)).name).toBe('AB');
    expect(() => decodeSpn(hex`01 41`)).toThrow(/EF\.SPN.*§4\.2\.12/);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, hex, toHex } from '../bytes';
import { ArgumentError, ParseError } from '../errors';
import {
  ApduError,
  apduCase,
  type CommandApdu,
  command,
  encodeCommandApdu,
  encodeResponseApdu,
  formatCommandApdu,
  formatResponseApdu,
  parseCommandApdu,
  parseResponseApdu,
} from './apdu';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('parseCommandApdu: the seven encodings', () => {
  const cases: Array<[string, string, { data: string; ne: number | undefined; extended: boolean }, number]> = [
    ['case 1', '00 70 00 00', { data: '', ne: undefined, extended: false }, 1],
    ['case 2S', '00 84 00 00 08', { data: '', ne: 8, extended: false }, 2],
    ['case 2S, Le 00 = 256', '00 B2 01 0C 00', { data: '', ne: 256, extended: false }, 2],
    ['case 3S', '80 DC 02 84 03 07 11 01', { data: '071101', ne: undefined, extended: false }, 3],
    ['case 4S', '00 A4 04 00 02 3F 00 1C', { data: '3F00', ne: 0x1c, extended: false }, 4],
    ['case 4S, Le 00 = 256', '00 A4 04 00 02 3F 00 00', { data: '3F00', ne: 256, extended: false }, 4],
    ['case 2E', '00 B0 00 00 00 01 2C', { data: '', ne: 300, extended: true }, 2],
    ['case 2E, Le 0000 = 65536', '00 B0 00 00 00 00 00', { data: '', ne: 65536, extended: true }, 2],
    ['case 3E', '00 D6 00 00 00 00 02 AA BB', { data: 'AABB', ne: undefined, extended: true }, 3],
    ['case 4E', '00 88 00 00 00 00 01 5A 01 00', { data: '5A', ne: 256, extended: true }, 4],
    ['case 4E, Le 0000 = 65536', '00 88 00 00 00 00 01 5A 00 00', { data: '5A', ne: 65536, extended: true }, 4],
  ];
  for (const [name, h, want, kase] of cases) {
    it(`${name}: ${h}`, () => {
      const bytes = fromHex(h);
      const c = parseCommandApdu(bytes);
      expect(c.cla).toBe(bytes[0]);
      expect(c.ins).toBe(bytes[1]);
      expect(c.p1).toBe(bytes[2]);
      expect(c.p2).toBe(bytes[3]);
      expect({ data: toHex(c.data), ne: c.ne, extended: c.extended }).toEqual(want);
      expect(apduCase(c)).toBe(kase);
      expect(encodeCommandApdu(c)).toEqual(bytes);
    });
  }

  it('case 3E with 300 data bytes and case 4E with 256 data bytes', () => {
    const d = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const c3 = fromHex(`80E20000 00012C${toHex(d)}`);
    const p3 = parseCommandApdu(c3);
    expect(p3.data).toEqual(d);
    expect(p3.ne).toBeUndefined();
    const c4 = fromHex(`80E20000 000100${toHex(d.subarray(0, 256))}0000`);
    const p4 = parseCommandApdu(c4);
    expect(p4.data.length).toBe(256);
    expect(p4.ne).toBe(65536);
  });

  it('returns data as a plain Uint8Array view (no copy), even for a Buffer', () => {
    const bytes = hex`80 DC 02 84 03 07 11 01`;
    const c = parseCommandApdu(bytes);
    expect(c.data.buffer).toBe(bytes.buffer);
    bytes[5] = 0x99;
    expect(c.data[0]).toBe(0x99);
    const fromBuffer = parseCommandApdu(Buffer.from('80DC028403071101', 'hex'));
    expect(Object.getPrototypeOf(fromBuffer.data)).toBe(Uint8Array.prototype);
    expect(toHex(fromBuffer.data)).toBe('071101');
  });

  it('parses every command of the recorded PBOC sessions', async () => {
    const traces = (await import('../../../test/vectors/recorded-apdu-traces.json')).default.traces;
    let n = 0;
    for (const t of traces) {
      for (const x of (t as { exchanges?: Array<{ c: string }> }).exchanges ?? []) {
        const bytes = fromHex(x.c);
        expect(encodeCommandApdu(parseCommandApdu(bytes))).toEqual(bytes);
        n++;
      }
    }
    expect(n).toBeGreaterThan(20);
    const init = parseCommandApdu(fromHex('805003020b01000000c8200041599997'));
    expect(apduCase(init)).toBe(3);
    expect(init.data.length).toBe(11);
  });
});

describe('parseCommandApdu: rejections', () => {
  const bad: Array<[string, string, string]> = [
    ['empty', '', 'APDU_TOO_SHORT'],
    ['3 bytes', '00 A4 04', 'APDU_TOO_SHORT'],
    ['Lc 02 with one data byte', '00A4040002A0', 'APDU_BAD_LENGTH'],
    ['Lc 02 with data and two trailing bytes', '00A4040002A0A10000', 'APDU_BAD_LENGTH'],
    ['short Lc 05 with no data (6 bytes)', '00A4040005 00', 'APDU_BAD_LENGTH'],
    ['extended marker then one byte (6 bytes)', '000000000000', 'APDU_BAD_LENGTH'],
    ['extended Lc 0000 followed by bytes', '00D60000 000000 AA', 'APDU_BAD_LENGTH'],
    ['extended Lc 0000 followed by Le', '00D60000 000000 0000', 'APDU_BAD_LENGTH'],
    ['extended Lc with short Le (mixed)', '00D60000 000002 AABB 10', 'APDU_BAD_LENGTH'],
    ['extended Lc 0003, 2 data bytes', '00D60000 000003 AABB', 'APDU_BAD_LENGTH'],
    ['extended 2E with an extra byte', '00B00000 00012C 00', 'APDU_BAD_LENGTH'],
    ['short Lc then extended Le (mixed)', '00D60000 02 AABB 0100', 'APDU_BAD_LENGTH'],
  ];
  for (const [name, h, code] of bad) {
    it(`${name}: ${h || '(empty)'} → ${code}`, () => {
      let err: unknown;
      try {
        parseCommandApdu(fromHex(h));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ApduError);
      expect(err).toBeInstanceOf(ParseError);
      expect((err as ApduError).code).toBe(code);
    });
  }

  it('a 5-byte 00 00 00 00 00 is case 2S (Le 256), not an error', () => {
    expect(parseCommandApdu(hex`00 00 00 00 00`).ne).toBe(256);
  });

  it('rejects a non-Uint8Array with ArgumentError', () => {
    expect(() => parseCommandApdu('00A40400' as unknown as Uint8Array)).toThrow(ArgumentError);
  });
});

describe('encodeCommandApdu', () => {
  it('chooses short form unless data > 255, ne > 256 or extended: true', () => {
    expect(toHex(encodeCommandApdu(command(0x80, 0x5c, 0, 2, undefined, 4)))).toBe('805C000204');
    expect(toHex(encodeCommandApdu(command(0, 0xb0, 0, 0, undefined, 256)))).toBe('00B0000000');
    expect(toHex(encodeCommandApdu(command(0, 0xb0, 0, 0, undefined, 257)))).toBe('00B00000000101');
    expect(toHex(encodeCommandApdu(command(0, 0xb0, 0, 0, undefined, 65536)))).toBe('00B00000000000');
    expect(toHex(encodeCommandApdu({ ...command(0, 0xb0, 0, 0, undefined, 16), extended: true }))).toBe(
      '00B00000000010',
    );
    expect(toHex(encodeCommandApdu({ ...command(0, 0xd6, 0, 0, hex`AA`, 1), extended: true }))).toBe(
      '00D60000000001AA0001',
    );
    expect(toHex(encodeCommandApdu({ ...command(0, 0x70, 0, 0), extended: true }))).toBe('00700000');
    const big = new Uint8Array(256).fill(0x11);
    expect(toHex(encodeCommandApdu(command(0, 0xd6, 0, 0, big))).slice(0, 14)).toBe('00D60000000100');
    expect(toHex(encodeCommandApdu(command(0, 0xd6, 0, 0, big, 2))).slice(-4)).toBe('0002');
    expect(encodeCommandApdu(command(0, 0xd6, 0, 0, big, 2)).length).toBe(4 + 3 + 256 + 2);
  });

  it('validates fields with ArgumentError', () => {
    const ok = command(0, 0xa4, 4, 0);
    expect(codeOf(() => encodeCommandApdu({ ...ok, cla: 256 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => encodeCommandApdu({ ...ok, ins: -1 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => encodeCommandApdu({ ...ok, p1: 1.5 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => encodeCommandApdu({ ...ok, ne: 0 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => encodeCommandApdu({ ...ok, ne: 65537 }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => encodeCommandApdu({ ...ok, data: new Uint8Array(65536) }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => encodeCommandApdu({ ...ok, data: [1] as unknown as Uint8Array }))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => command(0, 0, 0, 0, undefined, 0))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => command(0x100, 0, 0, 0))).toBe('BAD_ARGUMENT');
  });
});

describe('response APDUs', () => {
  it('parses data ‖ SW and a bare SW', () => {
    const r = parseResponseApdu(hex`00 00 0A C3 90 00`);
    expect(toHex(r.data)).toBe('00000AC3');
    expect(r.sw).toBe(0x9000);
    expect([r.sw1, r.sw2]).toEqual([0x90, 0x00]);
    const e = parseResponseApdu(hex`6A 82`);
    expect(e.data.length).toBe(0);
    expect(e.sw).toBe(0x6a82);
  });

  it('rejects fewer than 2 bytes with RAPDU_TOO_SHORT', () => {
    expect(codeOf(() => parseResponseApdu(hex`90`))).toBe('RAPDU_TOO_SHORT');
    expect(codeOf(() => parseResponseApdu(new Uint8Array(0)))).toBe('RAPDU_TOO_SHORT');
  });

  it('encodes data ‖ SW', () => {
    expect(toHex(encodeResponseApdu(hex`01 02`, 0x6283))).toBe('01026283');
    expect(toHex(encodeResponseApdu(new Uint8Array(0), 0x9000))).toBe('9000');
    expect(codeOf(() => encodeResponseApdu(new Uint8Array(0), 0x10000))).toBe('BAD_ARGUMENT');
  });
});

describe('formatting', () => {
  it('formats commands as trace one-liners', () => {
    expect(formatCommandApdu(parseCommandApdu(fromHex('805003020b01000000c8200041599997')))).toBe(
      '80 50 03 02 0B 01000000C8200041599997',
    );
    expect(formatCommandApdu(parseCommandApdu(hex`80 50 00 02 0B 01 00000064 112233445566 10`))).toBe(
      '80 50 00 02 0B 0100000064112233445566 Le=10',
    );
    expect(formatCommandApdu(parseCommandApdu(hex`00 B2 01 0C 00`))).toBe('00 B2 01 0C Le=00');
    expect(formatCommandApdu(parseCommandApdu(hex`00 70 00 00`))).toBe('00 70 00 00');
    expect(formatCommandApdu(parseCommandApdu(hex`00 B0 00 00 00 01 2C`))).toBe('00 B0 00 00 ext Le=012C');
    const long = formatCommandApdu(command(0, 0xd6, 0, 0, new Uint8Array(300)));
    expect(long).toBe(`00 D6 00 00 ext 012C ${'00'.repeat(32)}…(+268 bytes)`);
  });

  it('formats responses', () => {
    expect(formatResponseApdu(parseResponseApdu(hex`6A 82`))).toBe('6A82');
    expect(formatResponseApdu(parseResponseApdu(hex`00 00 0A C3 90 00`))).toBe('00000AC3 9000');
  });
});

describe('properties', () => {
  const header = fc.integer({ min: 0, max: 255 });
  const arbCommand: fc.Arbitrary<CommandApdu> = fc.record({
    cla: header,
    ins: header,
    p1: header,
    p2: header,
    data: fc.oneof(
      { weight: 4, arbitrary: fc.uint8Array({ maxLength: 260 }) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 256, maxLength: 1200 }) },
    ),
    ne: fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: 1, max: 256 }),
      fc.integer({ min: 1, max: 65536 }),
      fc.constantFrom(1, 255, 256, 257, 65535, 65536),
    ),
    extended: fc.boolean(),
  });

  it('parse(encode(cmd)) returns cmd, with extended reporting the form used', () => {
    fc.assert(
      fc.property(arbCommand, (cmd) => {
        const bytes = encodeCommandApdu(cmd);
        const back = parseCommandApdu(bytes);
        const expectExt =
          cmd.data.length > 255 ||
          (cmd.ne !== undefined && cmd.ne > 256) ||
          (cmd.extended === true && (cmd.data.length > 0 || cmd.ne !== undefined));
        expect(back.cla).toBe(cmd.cla);
        expect(back.ins).toBe(cmd.ins);
        expect(back.p1).toBe(cmd.p1);
        expect(back.p2).toBe(cmd.p2);
        expect(back.data).toEqual(cmd.data);
        expect(back.ne).toBe(cmd.ne);
        expect(back.extended).toBe(expectExt);
        expect(apduCase(back)).toBe(apduCase(cmd));
        expect(encodeCommandApdu(back)).toEqual(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('random bytes into parseCommandApdu: a value that re-encodes identically, or an ApduError', () => {
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      // Structured-ish: a header, a length prefix biased to plausible values, then a tail.
      fc
        .tuple(
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.constantFrom(0, 1, 2, 3, 255),
          fc.uint8Array({ maxLength: 12 }),
        )
        .map(([h, l, t]) => Uint8Array.from([...h, l, ...t])),
    );
    let parsed = 0;
    fc.assert(
      fc.property(arb, (bytes) => {
        try {
          const c = parseCommandApdu(bytes);
          parsed++;
          expect(encodeCommandApdu(c)).toEqual(bytes);
        } catch (e) {
          if (!(e instanceof ApduError)) throw e;
          expect(['APDU_TOO_SHORT', 'APDU_BAD_LENGTH']).toContain(e.code);
        }
      }),
      { numRuns: 6000 },
    );
    expect(parsed).toBeGreaterThan(0);
  });

  it('random bytes into parseResponseApdu: a value or RAPDU_TOO_SHORT', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          const r = parseResponseApdu(bytes);
          expect(encodeResponseApdu(r.data, r.sw)).toEqual(bytes);
        } catch (e) {
          if (!(e instanceof ApduError)) throw e;
          expect(e.code).toBe('RAPDU_TOO_SHORT');
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe('speed', () => {
  it('parses a 20-byte APDU in well under 1 µs (loose bound for CI)', () => {
    const bytes = fromHex('805401000F00000062201803132104383F3F3B5D');
    let sink = 0;
    for (let i = 0; i < 20000; i++) sink += parseCommandApdu(bytes).data.length; // warm-up
    const n = 200000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) sink += parseCommandApdu(bytes).data.length;
    const perCallNs = ((performance.now() - t0) * 1e6) / n;
    expect(sink).toBeGreaterThan(0);
    expect(perCallNs).toBeLessThan(1000);
  });
});

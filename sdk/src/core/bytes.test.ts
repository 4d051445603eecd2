import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bcdDateTime,
  bcdToString,
  concat,
  decodeBcdAmount,
  decodeBcdDate,
  decodeBcdTime,
  encodeBcdAmount,
  encodeBcdDate,
  encodeBcdTime,
  equalBytes,
  equalCt,
  fromBcd,
  fromHex,
  hex,
  readU16,
  readU24,
  readU32,
  readUint,
  stringToBcd,
  toBcd,
  toHex,
  u16,
  u32,
  uintToBytes,
  wipe,
  xor,
} from './bytes';
import { ArgumentError, ParseError } from './errors';

describe('hex', () => {
  it('decodes with spaces, newlines and both cases', () => {
    expect(fromHex('00 a4 04\n00 0F')).toEqual(new Uint8Array([0, 0xa4, 4, 0, 0x0f]));
    expect(hex`80 50 ${'00'} 02`).toEqual(new Uint8Array([0x80, 0x50, 0, 2]));
    expect(fromHex('')).toEqual(new Uint8Array(0));
  });
  it('rejects odd length, bad characters and a space inside a byte, saying where', () => {
    for (const [text, offset] of [
      ['abc', 3],
      ['0g', 1],
      ['0 0', 1],
      ['0x00', 1],
    ] as const) {
      const err = (() => {
        try {
          fromHex(text);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ParseError);
      expect((err as ParseError).code).toBe('HEX_INVALID');
      expect((err as ParseError).offset).toBe(offset);
    }
  });
  it('round-trips any bytes, upper case, optional separator', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(fromHex(toHex(b))).toEqual(b);
        expect(fromHex(toHex(b, ' '))).toEqual(b);
        expect(toHex(b)).toBe(Buffer.from(b).toString('hex').toUpperCase());
      }),
    );
  });
  it('never returns a Buffer', () => {
    expect(fromHex('00').constructor).toBe(Uint8Array);
    expect(concat(Buffer.from([1]), Buffer.from([2])).constructor).toBe(Uint8Array);
  });
});

describe('integers', () => {
  it('reads and writes big-endian unsigned values', () => {
    const b = fromHex('01 02 03 04 05 06');
    expect(readU16(b, 0)).toBe(0x0102);
    expect(readU24(b, 1)).toBe(0x020304);
    expect(readU32(b, 2)).toBe(0x03040506);
    expect(readUint(b, 0, 6)).toBe(0x010203040506);
    expect(u16(0xbeef)).toEqual(fromHex('BEEF'));
    expect(u32(0xffffffff)).toEqual(fromHex('FFFFFFFF'));
  });
  it('rejects out-of-range values and short buffers with typed errors', () => {
    expect(() => u16(0x10000)).toThrow(ArgumentError);
    expect(() => u32(-1)).toThrow(ArgumentError);
    expect(() => u32(1.5)).toThrow(ArgumentError);
    expect(() => readU32(fromHex('0102'), 0)).toThrow(ParseError);
  });
  it('round-trips', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.double({ min: 0, max: 1, noNaN: true }), (len, f) => {
        const v = Math.floor(f * (2 ** (8 * len) - 1));
        expect(readUint(uintToBytes(v, len), 0, len)).toBe(v);
      }),
    );
  });
});

describe('BCD', () => {
  it('encodes PBOC dates, times and amounts', () => {
    expect(encodeBcdDate({ year: 2024, month: 12, day: 29 })).toEqual(fromHex('20241229'));
    expect(encodeBcdTime({ hour: 14, minute: 17, second: 40 })).toEqual(fromHex('141740'));
    expect(decodeBcdDate(fromHex('20241229'))).toEqual({ year: 2024, month: 12, day: 29 });
    expect(decodeBcdTime(fromHex('141740'))).toEqual({ hour: 14, minute: 17, second: 40 });
    expect(encodeBcdAmount(1250)).toEqual(fromHex('000000001250'));
    expect(decodeBcdAmount(fromHex('000000001250'))).toBe(1250);
    expect(toBcd(7, 2)).toEqual(fromHex('0007'));
    expect(fromBcd(fromHex('0012'))).toBe(12);
    expect(bcdToString(fromHex('0012'))).toBe('0012');
    expect(stringToBcd('123')).toEqual(fromHex('0123'));
  });
  it('uses China time (UTC+8) by default for the terminal date/time', () => {
    expect(bcdDateTime(new Date('2026-11-26T16:30:05Z'))).toEqual(fromHex('20261127 003005'));
    expect(bcdDateTime(new Date('2026-11-26T16:30:05Z'), 0)).toEqual(fromHex('20261126 163005'));
  });
  it('rejects impossible dates, times and non-BCD nibbles', () => {
    expect(() => encodeBcdDate({ year: 2025, month: 2, day: 29 })).toThrow(ArgumentError);
    expect(() => encodeBcdTime({ hour: 24, minute: 0, second: 0 })).toThrow(ArgumentError);
    expect(() => decodeBcdDate(fromHex('20251301'))).toThrow(ParseError);
    expect(() => decodeBcdTime(fromHex('1A0000'))).toThrow(ParseError);
    expect(() => fromBcd(fromHex('0A'))).toThrow(ParseError);
    expect(() => toBcd(100, 1)).toThrow(ArgumentError);
    expect(() => stringToBcd('12a')).toThrow(ArgumentError);
  });
});

describe('secrets', () => {
  it('compares in constant time with the right answers', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 16 }), (a, b) => {
        expect(equalCt(a, b)).toBe(equalBytes(a, b));
        expect(equalCt(a, Uint8Array.from(a))).toBe(true);
      }),
    );
    expect(equalCt(fromHex('0102'), fromHex('010203'))).toBe(false);
    expect(equalCt(new Uint8Array(0), fromHex('00'))).toBe(false);
  });
  it('wipes keys and xors halves', () => {
    const k = fromHex('0102030405060708');
    wipe(k);
    expect(k).toEqual(new Uint8Array(8));
    expect(xor(fromHex('F0F0'), fromHex('0FF0'))).toEqual(fromHex('FF00'));
    expect(() => xor(fromHex('00'), fromHex('0000'))).toThrow(ArgumentError);
  });
});

describe('copyBytes', () => {
  it('returns a plain Uint8Array copy, even of a Buffer', async () => {
    const { copyBytes } = await import('./bytes');
    const src = Buffer.from([1, 2, 3]);
    const c = copyBytes(src);
    expect(c.constructor).toBe(Uint8Array);
    src[0] = 9;
    expect(c).toEqual(new Uint8Array([1, 2, 3]));
  });
});

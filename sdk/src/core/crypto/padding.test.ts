import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../bytes';
import { ArgumentError, ParseError } from '../errors';
import { padIso9797, unpadIso7816 } from './padding';

describe('padIso9797', () => {
  it.each([
    // method, data, blockSize, expected
    [1, '', 8, '0000000000000000'],
    [1, '01', 8, '0100000000000000'],
    [1, '0102030405060708', 8, '0102030405060708'],
    [1, '010203040506070809', 8, '01020304050607080900000000000000'],
    [2, '', 8, '8000000000000000'],
    [2, '01020304050607', 8, '0102030405060780'],
    [2, '0102030405060708', 8, '01020304050607088000000000000000'],
    [2, '01', 16, '01800000000000000000000000000000'],
    [3, '', 8, '0000000000000000'],
    [3, '01', 8, '00000000000000080100000000000000'],
    [3, '0102030405060708', 8, '00000000000000400102030405060708'],
    [3, 'AA'.repeat(40), 8, `0000000000000140${'AA'.repeat(40)}`],
    [3, '01', 16, '0000000000000000000000000000000801000000000000000000000000000000'],
  ] as const)('method %i of "%s" (block %i) → %s', (method, data, bs, expected) => {
    expect(toHex(padIso9797(hex`${data}`, method, bs))).toBe(expected);
  });

  it('always returns a new array that is a positive multiple of the block size', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), fc.constantFrom(1, 2, 3), fc.constantFrom(8, 16), (d, m, bs) => {
        const p = padIso9797(d, m as 1 | 2 | 3, bs);
        expect(p).not.toBe(d);
        expect(p.length % bs).toBe(0);
        expect(p.length).toBeGreaterThan(0);
        const body = m === 3 ? p.subarray(bs) : p;
        expect(body.subarray(0, d.length)).toEqual(d);
      }),
    );
  });

  it('method 2 round-trips through unpadIso7816', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), fc.constantFrom(8, 16), (d, bs) => {
        expect(unpadIso7816(padIso9797(d, 2, bs), bs)).toEqual(d);
        expect(unpadIso7816(padIso9797(d, 2, bs))).toEqual(d);
      }),
    );
  });

  it('rejects unknown methods and bad block sizes', () => {
    expect(() => padIso9797(new Uint8Array(1), 4 as 1)).toThrow(ArgumentError);
    expect(() => padIso9797(new Uint8Array(1), 2, 0)).toThrow(ArgumentError);
    expect(() => padIso9797(new Uint8Array(1), 2, 1.5)).toThrow(ArgumentError);
  });
});

describe('unpadIso7816', () => {
  it('strips 80 and trailing zeros only', () => {
    expect(toHex(unpadIso7816(hex`11 22 80 00 00`))).toBe('1122');
    expect(toHex(unpadIso7816(hex`80 00`))).toBe('');
    expect(toHex(unpadIso7816(hex`80 80`))).toBe('80');
  });

  it('returns a plain copy, not a view', () => {
    const d = hex`11 22 80`;
    const u = unpadIso7816(d);
    d[0] = 0;
    expect(toHex(u)).toBe('1122');
    expect(Buffer.isBuffer(unpadIso7816(Buffer.from([1, 0x80])))).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['all zeros', '0000'],
    ['no marker', '1122'],
    ['wrong marker', '112201'],
  ])('rejects %s with PADDING_INVALID', (_name, data) => {
    const run = () => unpadIso7816(hex`${data}`);
    expect(run).toThrow(ParseError);
    try {
      run();
    } catch (e) {
      expect((e as ParseError).code).toBe('PADDING_INVALID');
    }
  });

  it('with a block size, rejects unaligned input and padding longer than a block', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as ParseError).code;
      }
      return 'no error';
    };
    expect(code(() => unpadIso7816(hex`11 80 00`, 8))).toBe('PADDING_INVALID');
    expect(code(() => unpadIso7816(hex`11 80 00 00 00 00 00 00 00 00 00 00 00 00 00 00`, 8))).toBe('PADDING_INVALID');
    expect(code(() => unpadIso7816(new Uint8Array(0), 8))).toBe('PADDING_INVALID');
    expect(toHex(unpadIso7816(hex`11 80 00 00 00 00 00 00`, 8))).toBe('11');
  });
});

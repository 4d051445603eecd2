import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, hex, toHex } from '../bytes';
import { ArgumentError, ParseError } from '../errors';
import { TlvError, type TlvErrorCode } from './ber-tlv';
import {
  decodeSimpleTlv,
  decodeSimpleTlvOne,
  encodeSimpleTlv,
  examples,
  type SimpleTlv,
  type SimpleTlvDecodeOptions,
} from './simple-tlv';

function tlvErrorOf(fn: () => unknown): TlvError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TlvError) return e;
    throw e;
  }
  throw new Error('expected a TlvError, nothing was thrown');
}

describe('SIMPLE-TLV codec examples', () => {
  it.each(examples)('decodes, encodes and round-trips %s', (text, decoded) => {
    const bytes = fromHex(text);
    expect(decodeSimpleTlv(bytes)).toEqual(decoded);
    expect(toHex(encodeSimpleTlv(decoded))).toBe(toHex(bytes));
  });
});

describe('SIMPLE-TLV decoding', () => {
  it('decodes 1-byte and 3-byte lengths', () => {
    expect(decodeSimpleTlv(hex`01 02 AA BB 7F 00`)).toEqual([
      { tag: 0x01, value: hex`AA BB` },
      { tag: 0x7f, value: hex`` },
    ]);
    const long = decodeSimpleTlvOne(fromHex(`FE FF 0102 ${'5A'.repeat(258)}`));
    expect(long.tag).toBe(0xfe);
    expect(long.value).toHaveLength(258);
  });

  it('gives [] for the empty input', () => {
    expect(decodeSimpleTlv(new Uint8Array(0))).toEqual([]);
  });

  it.each<[string, TlvErrorCode, number, SimpleTlvDecodeOptions?]>([
    ['00 01 AA', 'SIMPLE_TLV_BAD_TAG', 0],
    ['01 01 AA FF 00', 'SIMPLE_TLV_BAD_TAG', 3],
    ['01', 'SIMPLE_TLV_TRUNCATED_LENGTH', 1],
    ['01 00 02', 'SIMPLE_TLV_TRUNCATED_LENGTH', 3],
    ['01 FF 01', 'SIMPLE_TLV_TRUNCATED_LENGTH', 1],
    ['01 FF 00 05 0102030405', 'SIMPLE_TLV_NON_MINIMAL_LENGTH', 1],
    ['01 00 02 FF 00 FE', 'SIMPLE_TLV_NON_MINIMAL_LENGTH', 3],
    ['01 03 AA BB', 'SIMPLE_TLV_TRUNCATED_VALUE', 2],
    ['01 00 02 FF 01 00 AA', 'SIMPLE_TLV_TRUNCATED_VALUE', 6],
    ['01 FF 00 05 AA', 'SIMPLE_TLV_TRUNCATED_VALUE', 4, { lenient: true }],
  ])('%s → %s at %i', (input, code, offset, opts) => {
    const e = tlvErrorOf(() => decodeSimpleTlv(fromHex(input), opts));
    expect({ code: e.code, offset: e.offset }).toEqual({ code, offset });
    expect(e).toBeInstanceOf(ParseError);
  });

  it('decodeSimpleTlvOne reports an empty input and trailing bytes', () => {
    expect(tlvErrorOf(() => decodeSimpleTlvOne(new Uint8Array(0)))).toMatchObject({
      code: 'SIMPLE_TLV_TRUNCATED_TAG',
      offset: 0,
    });
    expect(tlvErrorOf(() => decodeSimpleTlvOne(hex`01 01 AA 02 00`))).toMatchObject({
      code: 'SIMPLE_TLV_TRAILING_BYTES',
      offset: 3,
    });
    expect(decodeSimpleTlvOne(hex`01 01 AA`)).toEqual({ tag: 1, value: hex`AA` });
  });

  it('accepts non-minimal 3-byte lengths when lenient', () => {
    const r = decodeSimpleTlv(hex`01 FF 00 02 AA BB`, { lenient: true });
    expect(r).toEqual([{ tag: 1, value: hex`AA BB` }]);
    expect(toHex(encodeSimpleTlv(r))).toBe('0102AABB');
  });

  it('does not alias the input by default, aliases it with { copy: false }, never returns a Buffer', () => {
    const input = hex`01 02 AA BB`;
    const copied = decodeSimpleTlvOne(input);
    const aliased = decodeSimpleTlvOne(input, { copy: false });
    input[2] = 0;
    expect(copied.value).toEqual(hex`AA BB`);
    expect(aliased.value).toEqual(hex`00 BB`);
    expect(Object.getPrototypeOf(decodeSimpleTlvOne(Buffer.from('0101AA', 'hex')).value)).toBe(Uint8Array.prototype);
  });

  it('rejects a non-Uint8Array input with BAD_ARGUMENT', () => {
    expect(() => decodeSimpleTlv([1, 0] as unknown as Uint8Array)).toThrow(ArgumentError);
  });
});

describe('SIMPLE-TLV encoding', () => {
  it('switches to FF xxxx at 255 bytes', () => {
    expect(toHex(encodeSimpleTlv({ tag: 2, value: new Uint8Array(254) }).subarray(0, 2))).toBe('02FE');
    expect(toHex(encodeSimpleTlv({ tag: 2, value: new Uint8Array(255) }).subarray(0, 4))).toBe('02FF00FF');
    expect(encodeSimpleTlv({ tag: 2, value: new Uint8Array(0xffff) })).toHaveLength(0xffff + 4);
  });

  it.each<[string, SimpleTlv]>([
    ['tag 00', { tag: 0, value: hex`` }],
    ['tag FF', { tag: 0xff, value: hex`` }],
    ['tag 1.5', { tag: 1.5, value: hex`` }],
    ['value too long', { tag: 1, value: new Uint8Array(0x10000) }],
    ['value not bytes', { tag: 1, value: 'AA' as unknown as Uint8Array }],
  ])('rejects %s with BAD_ARGUMENT', (_name, item) => {
    expect(() => encodeSimpleTlv(item)).toThrow(ArgumentError);
    expect(() => encodeSimpleTlv([{ tag: 1, value: hex`` }, item])).toThrow(ArgumentError);
  });

  it('rejects a non-object item with BAD_ARGUMENT', () => {
    expect(() => encodeSimpleTlv([null as unknown as SimpleTlv])).toThrow(ArgumentError);
  });
});

const itemArb: fc.Arbitrary<SimpleTlv> = fc.record({
  tag: fc.integer({ min: 1, max: 0xfe }),
  value: fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 30 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 250, maxLength: 600 }) },
  ),
});

function onlyTypedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof TlvError && e.code.startsWith('SIMPLE_TLV_') && Number.isInteger(e.offset)) return;
    throw e;
  }
}

describe('SIMPLE-TLV properties', () => {
  it('encode → decode gives back any list of objects', () => {
    fc.assert(
      fc.property(fc.array(itemArb, { maxLength: 6 }), (items) => {
        const bytes = encodeSimpleTlv(items);
        expect(decodeSimpleTlv(bytes)).toEqual(items);
        expect(toHex(encodeSimpleTlv(decodeSimpleTlv(bytes)))).toBe(toHex(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('random and mutated bytes give a value or a SIMPLE_TLV_* TlvError, never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        onlyTypedErrors(() => decodeSimpleTlv(bytes));
        onlyTypedErrors(() => decodeSimpleTlvOne(bytes, { lenient: true }));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.array(itemArb, { minLength: 1, maxLength: 4 }), fc.nat(), fc.nat(), (items, at, bits) => {
        const bytes = encodeSimpleTlv(items);
        const i = at % bytes.length;
        const flipped = bytes.slice();
        flipped[i] = flipped[i]! ^ ((bits % 255) + 1);
        onlyTypedErrors(() => decodeSimpleTlv(flipped));
        onlyTypedErrors(() => decodeSimpleTlv(bytes.subarray(0, i)));
        onlyTypedErrors(() =>
          decodeSimpleTlvOne(Uint8Array.of(...bytes.subarray(0, i), bits & 0xff, ...bytes.subarray(i))),
        );
      }),
      { numRuns: 2000 },
    );
  });
});

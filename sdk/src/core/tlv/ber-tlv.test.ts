import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, hex, toHex } from '../bytes';
import { ArgumentError, ParseError, SimtapError } from '../errors';
import {
  decodeTlv,
  decodeTlvOne,
  encodeLength,
  encodeTlv,
  examples,
  findAllTlv,
  findTlv,
  TLV_ERRORS,
  type Tlv,
  TlvError,
  type TlvErrorCode,
  tagClass,
  tagIsConstructed,
  tagToBytes,
  tlv,
} from './ber-tlv';
import * as tlvIndex from './index';
import { decodeSimpleTlv, decodeSimpleTlvOne } from './simple-tlv';

function tlvErrorOf(fn: () => unknown): TlvError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TlvError) return e;
    throw e;
  }
  throw new Error('expected a TlvError, nothing was thrown');
}

/** Tree without the values of constructed objects (those keep padding and non-minimal lengths as read). */
type Shape = { tag: number; value?: string; children?: Shape[] };
function shape(list: Tlv[]): Shape[] {
  return list.map((t) =>
    t.children ? { tag: t.tag, children: shape(t.children) } : { tag: t.tag, value: toHex(t.value) },
  );
}

function expectTlvError(input: string, code: TlvErrorCode, offset: number, one = false): void {
  const e = tlvErrorOf(() => (one ? decodeTlvOne(fromHex(input)) : decodeTlv(fromHex(input))));
  expect({ code: e.code, offset: e.offset }).toEqual({ code, offset });
}

/** The ~200-byte FCI of the performance target: 6F { 84, A5 { 88, 5F2D, 9F11, 9F08, 9F0C(30), BF0C {…} } }. */
const BIG_FCI = encodeTlv(
  tlv(0x6f, [
    tlv(0x84, hex`A0 00 00 06 32 01 01 05`),
    tlv(0xa5, [
      tlv(0x88, hex`01`),
      tlv(0x5f2d, hex`7A 68`),
      tlv(0x9f11, hex`01`),
      tlv(0x9f08, hex`02`),
      tlv(0x9f0c, hex`0000000000000000 02 01 31000000000000012345 20240101 20341231 0000`),
      tlv(0xbf0c, [
        tlv(0x9f4d, hex`0B 0A`),
        tlv(0xdf4d, hex`0C 0A`),
        tlv(0x61, [
          tlv(0x4f, hex`A0 00 00 00 03 86 98 07 01`),
          tlv(0x50, hex`50 42 4F 43 20 45 50`),
          tlv(0x87, hex`01`),
        ]),
        tlv(0x61, [
          tlv(0x4f, hex`A0 00 00 06 32 01 01 05`),
          tlv(0x50, hex`54 2D 55 4E 49 4F 4E`),
          tlv(0x87, hex`02`),
          tlv(0x9f12, hex`54 2D 55 6E 69 6F 6E 20 54 72 61 6E 73 69 74 20 43 61 72 64`),
        ]),
        tlv(0xdf8101, hex`00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19`),
      ]),
    ]),
  ]),
);

describe('BER-TLV codec examples', () => {
  it.each(examples)('decodes, encodes and round-trips %s', (text, decoded) => {
    const bytes = fromHex(text);
    expect(decodeTlv(bytes)).toEqual(decoded);
    expect(toHex(encodeTlv(decoded))).toBe(toHex(bytes));
    expect(toHex(encodeTlv(decodeTlv(bytes)))).toBe(toHex(bytes));
  });

  it('includes the real PBOC EP FCI and finds its 9F0C', () => {
    const fci = examples.find(([h]) => h.startsWith('6F54'));
    expect(fci).toBeDefined();
    const found = findTlv(decodeTlv(fromHex(fci![0])), '6F/A5/9F0C');
    expect(found?.value.length).toBe(64);
  });

  it('is re-exported from the index with codec-specific names', () => {
    expect(tlvIndex.berTlvExamples).toBe(examples);
    expect(tlvIndex.simpleTlvExamples.length).toBeGreaterThan(0);
    expect(tlvIndex.decodeTlv).toBe(decodeTlv);
  });
});

describe('BER-TLV tags', () => {
  it('decodes 1- to 4-byte tags as big-endian numbers', () => {
    const tags = decodeTlv(hex`84 00 9F0C 00 5F2D 00 BF0C 00 DF8101 00 DF818101 00 1F1F 00`).map((t) => t.tag);
    expect(tags).toEqual([0x84, 0x9f0c, 0x5f2d, 0xbf0c, 0xdf8101, 0xdf818101, 0x1f1f]);
  });

  it('reads class and constructed bits from the first tag byte', () => {
    expect(tagIsConstructed(0x6f)).toBe(true);
    expect(tagIsConstructed(0xbf0c)).toBe(true);
    expect(tagIsConstructed(0x9f0c)).toBe(false);
    expect(tagIsConstructed(0xdf818101)).toBe(false);
    expect(tagIsConstructed(0xbf8101)).toBe(true);
    expect(tagClass(0x04)).toBe('universal');
    expect(tagClass(0x6f)).toBe('application');
    expect(tagClass(0x5f2d)).toBe('application');
    expect(tagClass(0x9f0c)).toBe('context');
    expect(tagClass(0xbf0c)).toBe('context');
    expect(tagClass(0xdf8101)).toBe('private');
  });

  it('encodes tag numbers to bytes', () => {
    expect(toHex(tagToBytes(0x84))).toBe('84');
    expect(toHex(tagToBytes(0x9f0c))).toBe('9F0C');
    expect(toHex(tagToBytes(0x9f1f))).toBe('9F1F');
    expect(toHex(tagToBytes(0xdf8101))).toBe('DF8101');
    expect(toHex(tagToBytes(0xdf818101))).toBe('DF818101');
  });

  it.each([
    0,
    0xff,
    0x1f,
    0x9f,
    0x9f80,
    0x9f8001,
    0x9f81,
    0x8401,
    0xff1f,
    0x9f8181,
    0x9f818181,
    0x100000000,
    -1,
    1.5,
    Number.NaN,
  ])('rejects the invalid tag number %s with BAD_ARGUMENT', (tag) => {
    expect(() => tagToBytes(tag)).toThrow(ArgumentError);
    expect(() => tagIsConstructed(tag)).toThrow(ArgumentError);
    expect(() => tagClass(tag)).toThrow(ArgumentError);
    expect(() => encodeTlv({ tag, value: new Uint8Array(0) })).toThrow(ArgumentError);
  });
});

describe('BER-TLV lengths', () => {
  it.each([
    [0, '00'],
    [0x7f, '7F'],
    [0x80, '8180'],
    [0xff, '81FF'],
    [0x100, '820100'],
    [0xffff, '82FFFF'],
    [0x10000, '83010000'],
    [0xffffff, '83FFFFFF'],
    [0x1000000, '8401000000'],
    [0xffffffff, '84FFFFFFFF'],
  ])('encodes %i minimally as %s', (n, text) => {
    expect(toHex(encodeLength(n))).toBe(text);
  });

  it('rejects lengths outside 0..0xFFFFFFFF', () => {
    for (const bad of [-1, 1.5, 0x100000000, Number.NaN]) expect(() => encodeLength(bad)).toThrow(ArgumentError);
  });

  it('decodes every long form', () => {
    const v = new Uint8Array(300).fill(7);
    for (const lenHex of ['82012C', '8300012C', '840000012C']) {
      const [t] = decodeTlv(fromHex(`C1 ${lenHex} ${toHex(v)}`), { lenient: true });
      expect(t!.value).toEqual(v);
    }
    expect(decodeTlv(fromHex(`C1 82012C ${toHex(v)}`))[0]!.value.length).toBe(300);
  });
});

describe('BER-TLV errors carry a code and an absolute offset', () => {
  it.each<[string, TlvErrorCode, number]>([
    ['9F', 'TLV_TRUNCATED_TAG', 0],
    ['00 00 5F', 'TLV_TRUNCATED_TAG', 2],
    ['88 01 01 DF 81', 'TLV_TRUNCATED_TAG', 3],
    ['DF 81 81', 'TLV_TRUNCATED_TAG', 0],
    ['A5 01 9F 0C 00', 'TLV_TRUNCATED_TAG', 2], // the tag runs past the parent's end
    ['9F 80 01 00', 'TLV_BAD_TAG', 1],
    ['00 5F 80 01 00', 'TLV_BAD_TAG', 2],
    ['6F 04 9F 80 05 00', 'TLV_BAD_TAG', 3],
    ['DF 81 82 83 04 00', 'TLV_TAG_TOO_LONG', 0],
    ['FF 88 00 DF 81 82 83 84 00', 'TLV_TAG_TOO_LONG', 3],
    ['6F 80 00 00', 'TLV_INDEFINITE_LENGTH', 1],
    ['6F 04 A5 80 00 00', 'TLV_INDEFINITE_LENGTH', 3],
    ['84 85 00 00 00 00 01 AA', 'TLV_BAD_LENGTH', 1],
    ['00 84 FF', 'TLV_BAD_LENGTH', 2],
    ['84 81 05 01 02 03 04 05', 'TLV_NON_MINIMAL_LENGTH', 1],
    ['84 82 00 80', 'TLV_NON_MINIMAL_LENGTH', 1],
    ['84 83 00 01 00', 'TLV_NON_MINIMAL_LENGTH', 1],
    ['A5 07 84 84 00 00 00 01 AA', 'TLV_NON_MINIMAL_LENGTH', 3],
    ['84', 'TLV_TRUNCATED_LENGTH', 1],
    ['9F0C', 'TLV_TRUNCATED_LENGTH', 2],
    ['84 82 01', 'TLV_TRUNCATED_LENGTH', 1],
    ['A5 03 84 82 01 00', 'TLV_TRUNCATED_LENGTH', 3], // long length runs past the parent's end
    ['84 03 01 02', 'TLV_TRUNCATED_VALUE', 2],
    ['84 84 7F FF FF FF 00', 'TLV_TRUNCATED_VALUE', 6],
    ['84 84 FF FF FF FF 00', 'TLV_TRUNCATED_VALUE', 6],
    ['6F 03 84 05 01 02 03 04 05', 'TLV_TRUNCATED_VALUE', 4], // child longer than its parent
  ])('%s → %s at %i', (input, code, offset) => {
    expectTlvError(input, code, offset);
  });

  it('TLV_BAD_TAG for a 2-byte tag numbered < 31 only with strictTags (EMV tags like 9F0C are the default)', () => {
    expect(decodeTlv(hex`9F 1E 00 DF 01 00 5F 00 00`).map((t) => t.tag)).toEqual([0x9f1e, 0xdf01, 0x5f00]);
    const strict = (text: string) => tlvErrorOf(() => decodeTlv(fromHex(text), { strictTags: true }));
    expect(strict('9F 1E 00')).toMatchObject({ code: 'TLV_BAD_TAG', offset: 1 });
    expect(strict('6F 03 9F 05 00')).toMatchObject({ code: 'TLV_BAD_TAG', offset: 3 });
    expect(strict('00 5F 00 00')).toMatchObject({ code: 'TLV_BAD_TAG', offset: 2 });
    expect(decodeTlv(hex`9F 1F 00 DF 7F 00 9F 81 01 00`, { strictTags: true })).toHaveLength(3);
  });

  it('TLV_TRAILING_BYTES from decodeTlvOne points at the first non-padding byte after the object', () => {
    expectTlvError('88 01 01 88 01 02', 'TLV_TRAILING_BYTES', 3, true);
    expectTlvError('FF 88 01 01 00 FF 9F', 'TLV_TRAILING_BYTES', 6, true);
  });

  it('decodeTlvOne on an empty or all-padding input reports TLV_TRUNCATED_TAG at the end', () => {
    expectTlvError('', 'TLV_TRUNCATED_TAG', 0, true);
    expectTlvError('FF 00 FF', 'TLV_TRUNCATED_TAG', 3, true);
  });

  function nested(levels: number): Uint8Array {
    let t = tlv(0x81, hex`00`);
    for (let i = 0; i < levels; i++) t = tlv(0xe1, [t]);
    return encodeTlv(t);
  }

  it('TLV_TOO_DEEP beyond 32 nested levels, at the tag of the object too deep', () => {
    expect(decodeTlv(nested(31))).toHaveLength(1); // 32 levels including the primitive
    const e = tlvErrorOf(() => decodeTlv(nested(32)));
    expect(e.code).toBe('TLV_TOO_DEEP');
    expect(e.offset).toBe(64);
    expect(tlvErrorOf(() => decodeTlv(hex`E1 02 A5 00`, { maxDepth: 1 })).offset).toBe(2);
    expect(decodeTlv(hex`E1 00 A5 00`, { maxDepth: 1 })).toHaveLength(2);
    expect(decodeTlv(nested(40), { maxDepth: 41 })).toHaveLength(1);
  });

  it('rejects a bad maxDepth and a non-Uint8Array input with BAD_ARGUMENT', () => {
    for (const maxDepth of [0, 257, 1.5]) expect(() => decodeTlv(hex`84 00`, { maxDepth })).toThrow(ArgumentError);
    expect(() => decodeTlv('84 00' as unknown as Uint8Array)).toThrow(ArgumentError);
  });

  it('TlvError is a ParseError and a SimtapError whose message names the offset', () => {
    const e = tlvErrorOf(() => decodeTlv(hex`84 03 01 02`));
    expect(e).toBeInstanceOf(ParseError);
    expect(e).toBeInstanceOf(SimtapError);
    expect(e.name).toBe('TlvError');
    expect(e.message).toContain('offset 2');
    expect(TLV_ERRORS[e.code].class).toBe('TlvError');
  });
});

describe('BER-TLV padding', () => {
  it('skips 00 and FF before, between and after top-level objects', () => {
    const r = decodeTlv(hex`00 FF 88 01 01 FF FF 00 5F2D 02 7A68 00 FF`);
    expect(r).toEqual([tlv(0x88, hex`01`), tlv(0x5f2d, hex`7A68`)]);
  });

  it('skips padding inside constructed objects, and an FF-padded record decodes', () => {
    const [a5] = decodeTlv(hex`A5 06 00 88 01 01 FF 00`);
    expect(a5!.children).toEqual([tlv(0x88, hex`01`)]);
    expect(a5!.value).toEqual(hex`00 88 01 01 FF 00`); // the value is kept as read
    const record = decodeTlvOne(hex`70 0B 61 09 4F 07 A0000000038698 FF FF FF FF`);
    expect(findTlv(record, '70/61/4F')?.value).toEqual(hex`A0000000038698`);
  });

  it('keeps 00 and FF inside values', () => {
    expect(decodeTlv(hex`84 02 00 FF`)[0]!.value).toEqual(hex`00 FF`);
  });

  it('gives an empty list for empty or all-padding input', () => {
    expect(decodeTlv(new Uint8Array(0))).toEqual([]);
    expect(decodeTlv(hex`00 FF 00`)).toEqual([]);
  });

  it('decodeTlvOne allows padding around the object', () => {
    expect(decodeTlvOne(hex`FF FF 88 01 01 00 00`)).toEqual(tlv(0x88, hex`01`));
  });
});

describe('BER-TLV lenient mode and canonical re-encoding', () => {
  it('accepts non-minimal lengths only when lenient', () => {
    const input = hex`6F 81 08 84 81 05 0102030405 00`;
    expect(tlvErrorOf(() => decodeTlv(input)).code).toBe('TLV_NON_MINIMAL_LENGTH');
    const r = decodeTlv(input, { lenient: true });
    expect(shape(r)).toEqual(shape([tlv(0x6f, [tlv(0x84, hex`0102030405`)])]));
    expect(toHex(encodeTlv(r))).toBe('6F0784050102030405');
  });

  it('still rejects indefinite and invalid lengths when lenient', () => {
    expect(tlvErrorOf(() => decodeTlv(hex`84 80 00 00`, { lenient: true })).code).toBe('TLV_INDEFINITE_LENGTH');
    expect(tlvErrorOf(() => decodeTlv(hex`84 85`, { lenient: true })).code).toBe('TLV_BAD_LENGTH');
  });

  it('re-encodes a constructed object from its children, dropping padding', () => {
    const [t] = decodeTlv(hex`A5 08 00 88 01 01 FF 84 00 00`);
    expect(t!.value).toHaveLength(8);
    expect(toHex(encodeTlv(t!))).toBe('A5058801018400');
  });

  it('encodes a constructed object without children from its value as is', () => {
    expect(toHex(encodeTlv({ tag: 0xa5, value: hex`88 01 01` }))).toBe('A503880101');
  });
});

describe('BER-TLV data model, memory and builder', () => {
  it('has children iff the tag is constructed', () => {
    const [fci] = decodeTlv(hex`6F 07 84 00 A5 03 88 01 01`);
    expect(fci!.children).toHaveLength(2);
    expect('children' in fci!.children![0]!).toBe(false);
    expect(fci!.children![1]!.children).toEqual([tlv(0x88, hex`01`)]);
  });

  it('does not alias the input by default', () => {
    const input = hex`84 02 AA BB`;
    const [t] = decodeTlv(input);
    input[2] = 0;
    expect(t!.value).toEqual(hex`AA BB`);
    const one = decodeTlvOne(input);
    input[3] = 0;
    expect(one.value).toEqual(hex`00 BB`);
  });

  it('keeps earlier results intact across many decodes (shared slab) and copies large inputs too', () => {
    const kept: Tlv[] = [];
    for (let i = 0; i < 3000; i++) kept.push(decodeTlvOne(Uint8Array.of(0x84, 0x03, i >> 8, i & 0xff, 0x5a)));
    kept.forEach((t, i) => {
      expect(t.value).toEqual(Uint8Array.of(i >> 8, i & 0xff, 0x5a));
    });
    const big = fromHex(`C1 82 0800 ${'77'.repeat(2048)}`);
    const [t] = decodeTlv(big);
    big.fill(0);
    expect(t!.value.every((x) => x === 0x77)).toBe(true);
  });

  it('aliases the input with { copy: false }', () => {
    const input = hex`84 02 AA BB`;
    const [t] = decodeTlv(input, { copy: false });
    input[2] = 0;
    expect(t!.value).toEqual(hex`00 BB`);
  });

  it('never returns a Buffer', () => {
    for (const copy of [true, false]) {
      const [t] = decodeTlv(Buffer.from('8402AABB', 'hex'), { copy });
      expect(Object.getPrototypeOf(t!.value)).toBe(Uint8Array.prototype);
    }
    expect(Object.getPrototypeOf(encodeTlv(tlv(0x84, Buffer.from([1]))))).toBe(Uint8Array.prototype);
  });

  it('builds constructed objects from children or from value bytes', () => {
    const fromKids = tlv(0xa5, [tlv(0x88, hex`01`), tlv(0x5f2d, hex`7A68`)]);
    expect(toHex(fromKids.value)).toBe('8801015F2D027A68');
    const fromBytes = tlv(0xa5, hex`88 01 01 5F2D 02 7A68`);
    expect(fromBytes).toEqual(fromKids);
    expect(tlv(0x84, hex`01`)).toEqual({ tag: 0x84, value: hex`01` });
  });

  it('builder errors: invalid bytes under a constructed tag, children under a primitive tag, bad tag', () => {
    expect(tlvErrorOf(() => tlv(0xa5, hex`88 05 01`)).code).toBe('TLV_TRUNCATED_VALUE');
    expect(() => tlv(0x84, [])).toThrow(ArgumentError);
    expect(() => tlv(0x9f80, hex`01`)).toThrow(ArgumentError);
    expect(() => tlv(0x84, 'x' as unknown as Uint8Array)).toThrow(ArgumentError);
  });

  it('encode rejects a primitive with children, a non-bytes value and cycles', () => {
    expect(() => encodeTlv({ tag: 0x84, value: new Uint8Array(0), children: [] })).toThrow(ArgumentError);
    expect(() => encodeTlv({ tag: 0x84, value: [1, 2] as unknown as Uint8Array })).toThrow(ArgumentError);
    expect(() => encodeTlv([null as unknown as Tlv])).toThrow(ArgumentError);
    const loop: Tlv = { tag: 0xa5, value: new Uint8Array(0), children: [] };
    loop.children!.push(loop);
    expect(() => encodeTlv(loop)).toThrow(ArgumentError);
  });

  it('encodes an empty list to no bytes', () => {
    expect(encodeTlv([])).toEqual(new Uint8Array(0));
  });
});

describe('BER-TLV paths', () => {
  const pse = decodeTlv(hex`70 20 61 0C 4F 07 A0000000038698 87 01 01 61 10 4F 08 A000000632010105 87 01 02 9F 12 00`);
  const fci = decodeTlv(BIG_FCI);

  it('finds by string path and by number path', () => {
    expect(findTlv(fci, '6F/A5/9F0C')?.value).toHaveLength(30);
    expect(findTlv(fci, [0x6f, 0xa5, 0x5f2d])?.value).toEqual(hex`7A68`);
    expect(findTlv(fci, '6f/a5/bf0c/df8101')?.value).toHaveLength(26);
    expect(findTlv(fci[0]!, '6F/84')?.value).toEqual(hex`A0000006 32010105`);
  });

  it('returns the first match in document order, searching every matching parent', () => {
    expect(findTlv(pse, '70/61/4F')?.value).toEqual(hex`A0000000038698`);
    expect(findTlv(fci, '6F/A5/BF0C/61/9F12')?.value).toHaveLength(20); // only in the second 61
    expect(findAllTlv(pse, '70/61/87').map((t) => toHex(t.value))).toEqual(['01', '02']);
    expect(findAllTlv(fci, '6F/A5/BF0C/61/4F')).toHaveLength(2);
  });

  it('returns undefined / [] when nothing matches', () => {
    expect(findTlv(fci, '6F/A5/9F0D')).toBeUndefined();
    expect(findTlv(fci, 'A5')).toBeUndefined();
    expect(findTlv(fci, '6F/84/88')).toBeUndefined(); // 84 is primitive
    expect(findAllTlv(pse, '70/62')).toEqual([]);
  });

  it.each(['', '6F//A5', '6F/A', 'G1', '6F/A5/9F0C0102AA', '/6F'])('rejects the path %j', (path) => {
    expect(() => findTlv(fci, path)).toThrow(ArgumentError);
    expect(() => findAllTlv(fci, path)).toThrow(ArgumentError);
  });

  it('rejects an empty number path', () => {
    expect(() => findTlv(fci, [])).toThrow(ArgumentError);
  });
});

// ---------------------------------------------------------------- properties

function tagArb(constructed: boolean): fc.Arbitrary<number> {
  const cons = constructed ? 0x20 : 0;
  const cls = fc.integer({ min: 0, max: 3 });
  return fc.oneof(
    fc
      .tuple(cls, fc.integer({ min: 0, max: 30 }))
      .map(([c, n]) => (c << 6) | cons | n)
      .filter((t) => t !== 0),
    fc
      .tuple(cls, fc.integer({ min: 0x00, max: 0x7f }))
      .map(([c, b2]) => (((c << 6) | cons | 0x1f) << 8) | b2)
      .filter((t) => t >>> 8 !== 0xff),
    fc
      .tuple(cls, fc.integer({ min: 0x81, max: 0xff }), fc.integer({ min: 0, max: 0x7f }))
      .map(([c, b2, b3]) => (((c << 6) | cons | 0x1f) << 16) | (b2 << 8) | b3)
      .filter((t) => t >>> 16 !== 0xff),
  );
}

const valueArb = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 300 }) },
);

const { tree: treeArb } = fc.letrec<{ tree: Tlv; leaf: Tlv; node: Tlv }>((tie) => ({
  tree: fc.oneof({ maxDepth: 6, depthIdentifier: 'tlv' }, tie('leaf'), tie('node')),
  leaf: fc.tuple(tagArb(false), valueArb).map(([t, v]) => tlv(t, v)),
  node: fc
    .tuple(tagArb(true), fc.array(tie('tree'), { maxLength: 4, depthIdentifier: 'tlv' }))
    .map(([t, kids]) => tlv(t, kids)),
}));

const forestArb = fc.array(treeArb, { minLength: 1, maxLength: 4 });

/** Runs `fn`; passes when it returns or throws a TlvError (a ParseError), fails on any other error. */
function onlyTypedErrors(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TlvError && e instanceof ParseError && Number.isInteger(e.offset)) return undefined;
    throw e;
  }
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; byte: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(bytes: Uint8Array, muts: Mutation[]): Uint8Array {
  let b = bytes.slice();
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.kind === 'insert' ? 1 : 0));
    if (m.kind === 'flip' && b.length > 0) b[at] = b[at]! ^ (1 << m.bit);
    else if (m.kind === 'cut') b = b.slice(0, at);
    else if (m.kind === 'insert') {
      const n = new Uint8Array(b.length + 1);
      n.set(b.subarray(0, at));
      n[at] = m.byte;
      n.set(b.subarray(at), at + 1);
      b = n;
    }
  }
  return b;
}

function decodeAll(bytes: Uint8Array): void {
  const seq = onlyTypedErrors(() => decodeTlv(bytes)) as Tlv[] | undefined;
  if (seq !== undefined) {
    // whatever strict decoding accepts re-encodes canonically to the same structure, and canonical bytes are stable
    const canon = encodeTlv(seq);
    expect(shape(decodeTlv(canon))).toEqual(shape(seq));
    expect(toHex(encodeTlv(decodeTlv(canon)))).toBe(toHex(canon));
  }
  onlyTypedErrors(() => decodeTlv(bytes, { lenient: true, strictTags: true }));
  onlyTypedErrors(() => decodeTlvOne(bytes));
  onlyTypedErrors(() => decodeTlvOne(bytes, { lenient: true, maxDepth: 3 }));
  onlyTypedErrors(() => decodeSimpleTlv(bytes));
  onlyTypedErrors(() => decodeSimpleTlvOne(bytes, { lenient: true }));
}

describe('BER-TLV properties', () => {
  it('encode → decode gives back any tree of valid objects', () => {
    fc.assert(
      fc.property(forestArb, (forest) => {
        const bytes = encodeTlv(forest);
        expect(decodeTlv(bytes)).toEqual(forest);
        expect(toHex(encodeTlv(decodeTlv(bytes)))).toBe(toHex(bytes));
        expect(decodeTlvOne(encodeTlv(forest[0]!))).toEqual(forest[0]);
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes give a value or a TlvError, never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => decodeAll(bytes)),
      { numRuns: 3000 },
    );
  });

  it('random bytes biased towards TLV structure bytes give a value or a TlvError', () => {
    const structural = fc.constantFrom(
      0x00,
      0xff,
      0x1f,
      0x5f,
      0x9f,
      0xbf,
      0xdf,
      0x80,
      0x81,
      0x82,
      0x84,
      0x85,
      0x6f,
      0xa5,
    );
    const byte = fc.oneof(structural, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 8 }));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 120 }), (arr) => decodeAll(Uint8Array.from(arr))),
      { numRuns: 2000 },
    );
  });

  it('mutated valid encodings give a value or a TlvError, never another error', () => {
    fc.assert(
      fc.property(forestArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (forest, muts) =>
        decodeAll(mutate(encodeTlv(forest), muts)),
      ),
      { numRuns: 2000 },
    );
  });
});

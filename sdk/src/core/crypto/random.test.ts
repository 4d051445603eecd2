import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../errors';
import { type RandomSource, randomBytes } from './random';

describe('randomBytes', () => {
  it('returns n fresh bytes in a plain Uint8Array', () => {
    for (const n of [0, 1, 8, 16, 1000]) {
      const b = randomBytes(n);
      expect(b).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(b)).toBe(false);
      expect(b).toHaveLength(n);
    }
  });

  it('does not repeat itself', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(Buffer.from(randomBytes(16)).toString('hex'));
    expect(seen.size).toBe(100);
  });

  it('uses every byte value over a large sample', () => {
    const b = randomBytes(1 << 16);
    expect(new Set(b).size).toBe(256);
  });

  it('rejects negative, fractional and huge lengths', () => {
    for (const n of [-1, 1.5, Number.NaN, 2 ** 31]) expect(() => randomBytes(n)).toThrow(ArgumentError);
  });

  it('is assignable to RandomSource', () => {
    const src: RandomSource = randomBytes;
    expect(src(4)).toHaveLength(4);
  });
});

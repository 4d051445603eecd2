import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../errors';
import { clearKeyCaches, KeyCache } from './key-cache';

describe('KeyCache', () => {
  it('builds once per key value and stays bounded', () => {
    let built = 0;
    const cache = new KeyCache((k) => {
      built++;
      return { first: k[0] };
    }, 4);
    const a = cache.get(Uint8Array.of(1, 2));
    expect(cache.get(Uint8Array.of(1, 2))).toBe(a);
    expect(built).toBe(1);
    for (let i = 0; i < 10; i++) cache.get(Uint8Array.of(9, i));
    expect(cache.size).toBe(4);
    expect(cache.get(Uint8Array.of(1, 2))).not.toBe(a); // evicted, rebuilt
    expect(built).toBe(12);
  });

  it('distinguishes keys that differ only in length', () => {
    const cache = new KeyCache((k) => ({ len: k.length }));
    expect(cache.get(new Uint8Array(8)).len).toBe(8);
    expect(cache.get(new Uint8Array(16)).len).toBe(16);
  });

  it('passes non-cacheable input to the factory, which validates it', () => {
    const cache = new KeyCache((k) => {
      if (k.length > 32) throw new ArgumentError('too long');
      return k.length;
    });
    expect(() => cache.get(new Uint8Array(64))).toThrow(ArgumentError);
    expect(cache.size).toBe(0);
  });

  it('clearKeyCaches empties every cache', () => {
    const cache = new KeyCache((k) => k.length);
    cache.get(new Uint8Array(16));
    expect(cache.size).toBe(1);
    clearKeyCaches();
    expect(cache.size).toBe(0);
  });
});

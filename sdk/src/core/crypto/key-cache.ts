/**
 * A small bounded cache of expanded cipher keys, so that the function forms (`desEcbEncrypt(key, …)`,
 * `aesCmac(key, …)`, …) expand a key once and reuse the schedule on the next call with the same bytes.
 *
 * @module
 */

const caches: KeyCache<unknown>[] = [];

/** Longest key (bytes) that is cached; longer inputs are handed to the factory uncached (it rejects them). */
const MAX_CACHED_KEY = 32;

/**
 * Bounded map from key bytes to an expanded-key object. When full, the oldest entry is evicted.
 * The map key is a Latin-1 string of the key bytes, so it holds key material: see {@link clearKeyCaches}.
 * @internal
 */
export class KeyCache<T> {
  readonly #map = new Map<string, T>();
  readonly #max: number;
  readonly #make: (key: Uint8Array) => T;

  constructor(make: (key: Uint8Array) => T, max = 64) {
    this.#make = make;
    this.#max = max;
    caches.push(this as KeyCache<unknown>);
  }

  /** The cached object for `key`, built with the factory on a miss (the factory validates the key). */
  get(key: Uint8Array): T {
    if (!(key instanceof Uint8Array) || key.length > MAX_CACHED_KEY) return this.#make(key);
    const id = String.fromCharCode.apply(null, key as unknown as number[]);
    let v = this.#map.get(id);
    if (v === undefined) {
      v = this.#make(key);
      if (this.#map.size >= this.#max) {
        const oldest = this.#map.keys().next();
        if (!oldest.done) this.#map.delete(oldest.value);
      }
      this.#map.set(id, v);
    }
    return v;
  }

  /** Number of cached keys. */
  get size(): number {
    return this.#map.size;
  }

  /** Drops every cached key schedule. */
  clear(): void {
    this.#map.clear();
  }
}

/**
 * Forgets every key schedule cached by the function forms of this module (`desEcbEncrypt`, `aesCmac`, `macAlg3`, …).
 * Call when session keys end, together with `wipe()` on the key bytes themselves.
 */
export function clearKeyCaches(): void {
  for (const c of caches) c.clear();
}

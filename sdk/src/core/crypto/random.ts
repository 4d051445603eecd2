/**
 * Random bytes for challenges and keys, and the injectable {@link RandomSource} type so tests and emulators can
 * make card and host challenges deterministic.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { assertUint } from '../bytes';

/** A source of `n` random bytes; inject one where determinism is needed (tests, replayed traces). */
export type RandomSource = (n: number) => Uint8Array;

/**
 * `n` cryptographically strong random bytes in a fresh `Uint8Array` (Node's CSPRNG).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `n` is an integer in 0..2^31−1.
 */
export function randomBytes(n: number): Uint8Array {
  assertUint(n, 'n', 0x7fff_ffff);
  const out = new Uint8Array(n);
  if (n > 0) randomFillSync(out);
  return out;
}

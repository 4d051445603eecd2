/**
 * The platform's signed blacklist on the machine side: the bytes a delta's Ed25519 signature covers
 * ({@link blacklistMessage}, the same bytes the platform signs), the check of a delta against the platform's public
 * key ({@link verifyBlacklistDelta}, Node's Ed25519), and the pure step that takes a machine's blacklist from one
 * version to the next ({@link applyBlacklistDelta}), refusing forged, stale and gapped deltas.
 *
 * A delta of `cards.blacklist` goes from version `since` to `version`: the cards `added` and `removed` in between
 * (a card listed and delisted within the range is in neither list). `since` 0 is the whole list. A machine at
 * version `v` applies a delta whose `since` is `v`, or a whole list of a version not below `v`; it never applies an
 * older version again (a replayed old delta would delist cards).
 * @module
 */
import { createPublicKey, verify } from 'node:crypto';
import { fromHex, toHex } from '../core/bytes';
import { ArgumentError } from '../core/errors';
import type { ResultOf } from '../wire';

/** A blacklist delta as `cards.blacklist` answers it: `signature` (hex, Ed25519) covers {@link blacklistMessage}. */
export type SignedBlacklistDelta = ResultOf<'cards.blacklist'>;

/** What the signature covers: the delta without its signature. */
export type BlacklistDeltaFields = Pick<SignedBlacklistDelta, 'since' | 'version' | 'added' | 'removed'>;

/** A machine's blacklist: its version and the serials listed (uppercase hex). */
export interface BlacklistState {
  readonly version: number;
  readonly serials: ReadonlySet<string>;
}

/** Why a delta is not applied: a signature that does not verify, a version older than the machine's, a gap. */
export type BlacklistRefusal = 'badSignature' | 'stale' | 'blacklistGap';

/**
 * The bytes the platform signs for a delta: UTF-8 of `simtap-blacklist-v1`, `since`, `version`, then `+serial` for
 * each added and `-serial` for each removed card (each list sorted), joined by `\n`.
 * @example
 * import { blacklistMessage } from '@simtap/sdk/clients';
 * const bytes = blacklistMessage({ since: 0, version: 1, added: ['00004401202600000003'], removed: [] });
 * new TextDecoder().decode(bytes); // 'simtap-blacklist-v1\n0\n1\n+00004401202600000003'
 */
export function blacklistMessage(delta: BlacklistDeltaFields): Uint8Array {
  const text = [
    'simtap-blacklist-v1',
    `${delta.since}`,
    `${delta.version}`,
    ...[...delta.added].sort().map((serial) => `+${serial}`),
    ...[...delta.removed].sort().map((serial) => `-${serial}`),
  ].join('\n');
  return new TextEncoder().encode(text);
}

/**
 * The platform's blacklist key as 32 raw bytes, from bytes or hex (what `cards.blacklistKey` answers).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless it is 32 bytes.
 * @example
 * import { blacklistPublicKey } from '@simtap/sdk/clients';
 * const key = blacklistPublicKey((await client.cards.blacklistKey()).publicKey);
 */
export function blacklistPublicKey(key: Uint8Array | string): Uint8Array {
  let bytes: Uint8Array;
  if (key instanceof Uint8Array) bytes = Uint8Array.from(key);
  else if (typeof key === 'string' && /^[0-9A-Fa-f]{64}$/.test(key)) bytes = fromHex(key);
  else throw new ArgumentError('blacklistPublicKey: 32 bytes, or 64 hex digits');
  if (bytes.length !== 32) throw new ArgumentError('blacklistPublicKey: 32 bytes, or 64 hex digits');
  return bytes;
}

/**
 * True when `delta.signature` is the platform's Ed25519 signature of {@link blacklistMessage}`(delta)` under
 * `publicKey` (raw 32 bytes or hex). A signature that is not 64 bytes of hex, or a key that is not a curve point,
 * is false.
 * @throws {ArgumentError} `BAD_ARGUMENT` for a key that is not 32 bytes.
 * @example
 * import { verifyBlacklistDelta } from '@simtap/sdk/clients';
 * const delta = await client.cards.blacklist({ sinceVersion: 0 });
 * if (!verifyBlacklistDelta(platformKey, delta)) throw new Error('not signed by the platform');
 */
export function verifyBlacklistDelta(
  publicKey: Uint8Array | string,
  delta: BlacklistDeltaFields & { readonly signature: string },
): boolean {
  const raw = blacklistPublicKey(publicKey);
  if (typeof delta.signature !== 'string' || !/^[0-9A-Fa-f]{128}$/.test(delta.signature)) return false;
  try {
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
      format: 'jwk',
    });
    return verify(null, blacklistMessage(delta), key, fromHex(delta.signature));
  } catch {
    return false;
  }
}

/** The serial as the blacklist keeps it: uppercase hex. */
export function normalizeSerial(serial: string | Uint8Array): string {
  return typeof serial === 'string' ? serial.toUpperCase() : toHex(serial).toUpperCase();
}

/**
 * A machine's next blacklist: `state` with `delta` applied, or why not. The signature is checked first; then a
 * whole list (`since` 0) replaces the list unless its version is older than the machine's, a delta from the
 * machine's version is applied, one of the machine's own version changes nothing, and any other is a gap (or
 * stale, when it ends before the machine's version).
 * @example
 * import { applyBlacklistDelta } from '@simtap/sdk/clients';
 * const next = applyBlacklistDelta({ version: 0, serials: new Set() }, delta, platformKey);
 * if (next.ok) console.log(next.state.version, next.state.serials.size);
 * else console.log('refused:', next.reason);
 */
export function applyBlacklistDelta(
  state: BlacklistState,
  delta: SignedBlacklistDelta,
  publicKey: Uint8Array | string,
): { readonly ok: true; readonly state: BlacklistState } | { readonly ok: false; readonly reason: BlacklistRefusal } {
  if (!verifyBlacklistDelta(publicKey, delta)) return { ok: false, reason: 'badSignature' };
  if (delta.version < state.version) return { ok: false, reason: 'stale' };
  if (delta.since === 0) return { ok: true, state: { version: delta.version, serials: withChanges(new Set(), delta) } };
  if (delta.version === state.version) return { ok: true, state };
  if (delta.since !== state.version) return { ok: false, reason: 'blacklistGap' };
  return { ok: true, state: { version: delta.version, serials: withChanges(new Set(state.serials), delta) } };
}

function withChanges(serials: Set<string>, delta: BlacklistDeltaFields): Set<string> {
  for (const s of delta.added) serials.add(normalizeSerial(s));
  for (const s of delta.removed) serials.delete(normalizeSerial(s));
  return serials;
}

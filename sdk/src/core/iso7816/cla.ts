/**
 * ISO/IEC 7816-4 §5.4.1 class byte: logical channel, command chaining and secure-messaging indication.
 *
 * - First interindustry `000x xxxx` (00–1F): b5 chaining, b4b3 SM, b2b1 channel 0–3.
 * - Further interindustry `01xx xxxx` (40–7F): b6 SM, b5 chaining, b4..b1 = channel − 4 (channels 4–19).
 * - `001x xxxx` (20–3F) is reserved for future use and `FF` is invalid: both decode as `invalid`.
 * - Proprietary `1xxx xxxx`: GlobalPlatform (GPC 2.3 §11.1.4) codes channels the interindustry way, so 80–BF
 *   decode like the first form (80–83 no SM, 84–87 GP SM) and C0–FE like the further form (C0–CF, E0–EF SM).
 *
 * @module
 */
import { assertUint } from '../bytes';
import { ArgumentError } from '../errors';

/** Secure-messaging indication of a class byte. */
export type ClaSecureMessaging = 'none' | 'proprietary' | 'header-not-authenticated' | 'header-authenticated' | 'sm';

/** Decoded class byte. */
export interface ClaInfo {
  /** Coding family; `invalid` for `FF` and the reserved range 20–3F. */
  readonly kind: 'interindustry-first' | 'interindustry-further' | 'proprietary' | 'invalid';
  /** Logical channel 0–19 (0 when `invalid`). */
  readonly channel: number;
  /** Command chaining bit (b5): more commands of the chain follow. */
  readonly chaining: boolean;
  /**
   * First form b4b3: 00 `none`, 01 `proprietary`, 10 `header-not-authenticated`, 11 `header-authenticated`;
   * further form b6: `sm`.
   */
  readonly sm: ClaSecureMessaging;
  /** GlobalPlatform secure messaging: b4b3 = 01 in the first form (04, 84), b6 in the further form (60, E0). */
  readonly gpSecureMessaging: boolean;
}

const FIRST_SM: readonly ClaSecureMessaging[] = [
  'none',
  'proprietary',
  'header-not-authenticated',
  'header-authenticated',
];

const INVALID: ClaInfo = Object.freeze({
  kind: 'invalid',
  channel: 0,
  chaining: false,
  sm: 'none',
  gpSecureMessaging: false,
});

function computeCla(cla: number): ClaInfo {
  if (cla === 0xff || (cla & 0xe0) === 0x20) return INVALID;
  const proprietary = (cla & 0x80) !== 0;
  const chaining = (cla & 0x10) !== 0;
  if ((cla & 0x40) === 0) {
    const smBits = (cla >> 2) & 3;
    return Object.freeze({
      kind: proprietary ? 'proprietary' : 'interindustry-first',
      channel: cla & 3,
      chaining,
      sm: FIRST_SM[smBits]!,
      gpSecureMessaging: smBits === 1,
    });
  }
  const sm = (cla & 0x20) !== 0;
  return Object.freeze({
    kind: proprietary ? 'proprietary' : 'interindustry-further',
    channel: 4 + (cla & 0x0f),
    chaining,
    sm: sm ? 'sm' : 'none',
    gpSecureMessaging: sm,
  });
}

/** Precomputed: decoding is a table lookup returning a shared frozen object. */
const CLA_TABLE: readonly ClaInfo[] = Array.from({ length: 256 }, (_, i) => computeCla(i));

/**
 * Decodes a class byte (the result is a shared frozen object).
 * @throws {ArgumentError} `BAD_ARGUMENT` when `cla` is not an integer in 0..255.
 * @example decodeCla(0x84) // { kind: 'proprietary', channel: 0, chaining: false, sm: 'proprietary', gpSecureMessaging: true }
 */
export function decodeCla(cla: number): ClaInfo {
  const info = typeof cla === 'number' ? CLA_TABLE[cla] : undefined;
  if (info === undefined) throw new ArgumentError(`cla: expected an integer in 0..255, got ${String(cla)}`);
  return info;
}

/**
 * The logical channel (0–19) a class byte addresses; 0 for an invalid class byte.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `cla` is not an integer in 0..255.
 */
export function claChannel(cla: number): number {
  return decodeCla(cla).channel;
}

/**
 * Re-encodes `cla` for logical `channel`, switching between first (0–3) and further (4–19) form as needed and
 * keeping the proprietary, chaining and SM indications. Any SM moves to b6 in the further form; b6 comes back
 * as b4b3 = 01 (GlobalPlatform SM: E0 ⇄ 84, 60 ⇄ 04), so `08` (ISO SM) on channel 4 returns as `04`.
 * @throws {ArgumentError} `BAD_ARGUMENT` for a channel > 19, an invalid class byte (FF, 20–3F), or a
 *   further channel for a class byte the further form cannot express (b4b3 = 11, proprietary A0–BF).
 * @example withChannel(0x84, 5) // 0xE1
 */
export function withChannel(cla: number, channel: number): number {
  const info = decodeCla(cla);
  assertUint(channel, 'channel', 19);
  if (info.kind === 'invalid') throw new ArgumentError(`withChannel: invalid class byte ${hex2(cla)}`);
  const base = (cla & 0x80) | (cla & 0x10); // proprietary bit and chaining keep their position
  const further = (cla & 0x40) !== 0;
  if (channel <= 3) {
    if (further) return base | ((cla & 0x20) !== 0 ? 0x04 : 0) | channel;
    return base | (cla & 0x2c) | channel; // keeps b4b3, and b6 of proprietary A0–BF
  }
  if (further) return base | 0x40 | (cla & 0x20) | (channel - 4);
  if ((cla & 0x0c) === 0x0c)
    throw new ArgumentError(`withChannel: SM with authenticated header (${hex2(cla)}) has no further-form coding`);
  if ((cla & 0x20) !== 0)
    throw new ArgumentError(`withChannel: proprietary class ${hex2(cla)} has no further-form coding`);
  return base | 0x40 | ((cla & 0x0c) !== 0 ? 0x20 : 0) | (channel - 4);
}

function hex2(v: number): string {
  return v.toString(16).toUpperCase().padStart(2, '0');
}

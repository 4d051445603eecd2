/**
 * T=0 style response handling at APDU level (ISO/IEC 7816-3 §12.2, ISO/IEC 7816-4 §5.3.4): `6Cxx` (wrong Le,
 * re-send with Le = xx) and `61xx` (xx bytes available, fetch them with GET RESPONSE `00 C0 00 00 xx` on the
 * same logical channel, possibly again ending `61yy`).
 *
 * - Host side: {@link transmitT0} wraps a `transmit` function and hides both mechanisms from the caller.
 * - Card side: {@link T0ResponseBuffer} turns an applet's (data, SW) into the first T=0 response and serves the
 *   withheld bytes to GET RESPONSE. Keep one buffer per logical channel; any command other than GET RESPONSE
 *   goes through `respond` (which discards what was pending).
 *
 * Procedure bytes (INS echo, `60`) belong to the TPDU layer and are not modelled. Simplification: a warning
 * (62xx/63xx) with response data is reported after the last GET RESPONSE chunk rather than before it.
 *
 * @module
 */
import { assertUint } from '../bytes';
import { ArgumentError, defineErrors, TransportError } from '../errors';
import type { CommandApdu } from './apdu';
import { encodeCommandApdu, encodeResponseApdu, parseCommandApdu, parseResponseApdu } from './apdu';
import { claChannel, withChannel } from './cla';
import { isWarning, SW } from './status-words';

/** The codes of the {@link TransportError}s of the T=0 response handling. */
export const T0_ERRORS = defineErrors({
  T0_TOO_MANY_ROUNDS: {
    class: 'TransportError',
    when: 'a T=0 `61xx` / `6Cxx` dialogue gave no final SW within the round limit',
    fix: 'the card is looping: abort the tap',
  },
});

/** Code of a T=0 {@link TransportError}. */
export type T0ErrorCode = keyof typeof T0_ERRORS;

/** Sends one command APDU and resolves with the response APDU (data ‖ SW). */
export type TransmitFn = (apdu: Uint8Array) => Promise<Uint8Array>;

/** Options of {@link transmitT0}. */
export interface TransmitT0Options {
  /** Most exchanges (the first command included) before giving up; default 260 (64 KiB in 256-byte chunks). */
  maxRounds?: number;
  /** CLA of GET RESPONSE; default `00` re-coded for the command's logical channel (e.g. `01`, `40`). */
  getResponseCla?: number;
}

const DEFAULT_MAX_ROUNDS = 260;
const GET_RESPONSE = 0xc0;
const EMPTY = new Uint8Array(0);

/** A copy as a plain `Uint8Array` (`new Uint8Array(typedArray)` copies and never yields a `Buffer`). */
function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

/** A plain `Uint8Array` (a `Buffer` from a transport is copied, never returned). */
function plain(b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : copyBytes(b);
}

/**
 * Sends `apdu` and completes the T=0 dialogue: on `6Cxx` re-sends it with Le = xx (00 = 256), on `61xx` sends
 * GET RESPONSE with Le = xx on the same logical channel and concatenates the data until a final SW (9000 or
 * any other). Resolves with the complete response (data ‖ SW); other SWs are returned, not thrown.
 * @throws {ApduError} `APDU_*` when `apdu` is malformed, `RAPDU_TOO_SHORT` when the card answers < 2 bytes.
 * @throws {TransportError} `T0_TOO_MANY_ROUNDS` after `maxRounds` exchanges without a final SW.
 * @throws {ArgumentError} `BAD_ARGUMENT` on bad options.
 * @example const rsp = await transmitT0(channel.transmit, hex`00 A4 04 00 07 A0000003330101 00`)
 */
export async function transmitT0(
  transmit: TransmitFn,
  apdu: Uint8Array,
  opts: TransmitT0Options = {},
): Promise<Uint8Array> {
  const maxRounds = opts.maxRounds ?? DEFAULT_MAX_ROUNDS;
  assertUint(maxRounds, 'maxRounds', Number.MAX_SAFE_INTEGER);
  if (maxRounds < 1) throw new ArgumentError('maxRounds: at least 1');
  let cmd = parseCommandApdu(apdu);
  const grCla = opts.getResponseCla ?? withChannel(0x00, claChannel(cmd.cla));
  assertUint(grCla, 'getResponseCla', 0xff);
  let current = apdu;
  const chunks: Uint8Array[] = [];
  for (let round = 1; round <= maxRounds; round++) {
    const raw = await transmit(current);
    const r = parseResponseApdu(raw);
    if (r.sw1 === 0x6c) {
      // Wrong Le: the same command again with the exact length (keeps short/extended form).
      cmd = { ...cmd, ne: r.sw2 === 0 ? 256 : r.sw2 };
      current = encodeCommandApdu(cmd);
      continue;
    }
    if (r.sw1 === 0x61) {
      if (r.data.length > 0) chunks.push(copyBytes(r.data));
      cmd = { cla: grCla, ins: GET_RESPONSE, p1: 0, p2: 0, data: EMPTY, ne: r.sw2 === 0 ? 256 : r.sw2 };
      current = encodeCommandApdu(cmd);
      continue;
    }
    if (chunks.length === 0) return plain(raw);
    let len = raw.length;
    for (const c of chunks) len += c.length;
    const out = new Uint8Array(len);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    out.set(raw, o);
    return out;
  }
  throw new TransportError<T0ErrorCode>('T0_TOO_MANY_ROUNDS', `T=0: no final status word after ${maxRounds} exchanges`);
}

function swOnly(sw: number): Uint8Array {
  return new Uint8Array([sw >> 8, sw & 0xff]);
}

function withSw(data: Uint8Array, sw: number): Uint8Array {
  return encodeResponseApdu(data, sw);
}

/**
 * Card side of T=0: converts an applet's outcome into the first response and keeps the withheld bytes for
 * GET RESPONSE (`61xx` chaining). Errors (not 9000/62xx/63xx) are returned as the bare SW, data dropped.
 */
export class T0ResponseBuffer {
  #data: Uint8Array = EMPTY;
  #offset = 0;
  #finalSw: number = SW.OK;

  /** Bytes still waiting for GET RESPONSE. */
  get pending(): number {
    return this.#data.length - this.#offset;
  }

  /** Drops pending bytes (on reset, deselect, channel close or any command other than GET RESPONSE). */
  clear(): void {
    this.#data = EMPTY;
    this.#offset = 0;
    this.#finalSw = SW.OK;
  }

  /**
   * The first T=0 response to `cmd` whose processing produced `data` and `sw`:
   * - cases 1/3/4 (no Le, or command data) with response data → `61xx`, all data withheld;
   * - case 2 with Na = Ne → data ‖ SW; short Le ≠ Na (Na ≤ 256) → `6Cxx` (Na), nothing kept;
   *   Na > Ne otherwise → Ne bytes ‖ `61xx`, the rest withheld; extended Ne > Na → data ‖ SW.
   * @throws {ArgumentError} `BAD_ARGUMENT` when `sw` is not in 0..FFFF.
   */
  respond(cmd: CommandApdu, data: Uint8Array, sw: number): Uint8Array {
    this.clear();
    assertUint(sw, 'sw', 0xffff);
    const na = data.length;
    if (na === 0 || !(sw === SW.OK || isWarning(sw))) return swOnly(sw);
    const ne = cmd.ne;
    if (ne === undefined || cmd.data.length > 0) return this.#keep(data, 0, sw);
    if (na === ne || (ne > 256 && na < ne)) return withSw(data, sw);
    if (ne <= 256 && na <= 256) return swOnly(0x6c00 | (na & 0xff));
    return this.#keep(data, ne, sw);
  }

  /**
   * Serves GET RESPONSE with expected length `ne` (1..256, or up to 65536 for an extended Le): the next bytes,
   * ending `61yy` while more remain and with the final SW after the last chunk. Short Le above what remains →
   * `6Cxx`; no Le → `6700`; nothing pending → `6985`.
   */
  getResponse(ne: number | undefined): Uint8Array {
    const rem = this.pending;
    if (rem === 0) return swOnly(SW.CONDITIONS_NOT_SATISFIED);
    if (ne === undefined) return swOnly(SW.WRONG_LENGTH);
    if (ne > rem && ne <= 256) return swOnly(0x6c00 | (rem & 0xff));
    const n = ne < rem ? ne : rem;
    const start = this.#offset;
    const chunk = this.#data.subarray(start, start + n);
    this.#offset = start + n;
    const left = rem - n;
    if (left > 0) return withSw(chunk, 0x6100 | (left >= 256 ? 0 : left));
    const sw = this.#finalSw;
    const out = withSw(chunk, sw);
    this.clear();
    return out;
  }

  /**
   * Handles a complete GET RESPONSE command: `6700` with command data, `6A86` unless P1-P2 = 0000, else
   * {@link T0ResponseBuffer.getResponse}.
   */
  handleGetResponse(cmd: CommandApdu): Uint8Array {
    if (cmd.data.length > 0) return swOnly(SW.WRONG_LENGTH);
    if (cmd.p1 !== 0 || cmd.p2 !== 0) return swOnly(SW.INCORRECT_P1P2);
    return this.getResponse(cmd.ne);
  }

  #keep(data: Uint8Array, served: number, sw: number): Uint8Array {
    this.#data = copyBytes(data);
    this.#offset = served;
    this.#finalSw = sw;
    const left = data.length - served;
    const more = 0x6100 | (left >= 256 ? 0 : left);
    return served === 0 ? swOnly(more) : withSw(this.#data.subarray(0, served), more);
  }
}

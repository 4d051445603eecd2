/**
 * ISO/IEC 7816-4 §5.1 command and response APDUs: the four cases in short and extended form, parsing,
 * encoding and readable one-line formatting for traces.
 *
 * Parsed `data` fields are **views** into the input buffer (no copy), which keeps parsing allocation-light;
 * copy them (`data.slice()`) if you keep them while the input buffer is reused.
 *
 * @module
 */
import { assertUint, toHex } from '../bytes';
import { ArgumentError, defineErrors, ParseError } from '../errors';

/** A command APDU (ISO/IEC 7816-4 §5.1). */
export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data field (Nc = `data.length`, 0..65535); empty when there is no Lc. */
  data: Uint8Array;
  /** Expected response length Ne, 1..65536 (short Le `00` = 256, extended `0000` = 65536); `undefined` when no Le. */
  ne: number | undefined;
  /** Extended length fields: on encode, forces extended form; on parse, reports the form found. */
  extended?: boolean;
}

/** ISO/IEC 7816-4 APDU case: 1 no data/no Le, 2 Le only, 3 data only, 4 data and Le. */
export type ApduCase = 1 | 2 | 3 | 4;

/** A response APDU: data ‖ SW1 SW2. */
export interface ResponseApdu {
  /** Response data (possibly empty). */
  data: Uint8Array;
  /** `SW1 << 8 | SW2`. */
  sw: number;
  sw1: number;
  sw2: number;
}

/** The codes of {@link ApduError}. */
export const APDU_ERRORS = defineErrors({
  APDU_TOO_SHORT: {
    class: 'ApduError',
    when: 'a C-APDU has fewer than 4 bytes (`offset` = its length)',
    fix: 'reject the command',
  },
  APDU_BAD_LENGTH: {
    class: 'ApduError',
    when: 'Lc / extended-length fields disagree with the APDU length, or extended Lc is `0000`',
    fix: 'reject the command',
  },
  RAPDU_TOO_SHORT: {
    class: 'ApduError, ParseError (GP)',
    when: 'a response has fewer than 2 bytes (no SW1 SW2)',
    fix: 'the reader or card misbehaved: treat as a transport failure, retry the tap',
  },
});

/** Code of an {@link ApduError}. */
export type ApduErrorCode = keyof typeof APDU_ERRORS;

/** A malformed command or response APDU (codes: {@link APDU_ERRORS}). A card answers any `ApduError` on a command with SW `6700`. */
export class ApduError extends ParseError<ApduErrorCode> {
  constructor(code: ApduErrorCode, message: string, offset?: number) {
    super(code, message, offset);
  }
}

const EMPTY = new Uint8Array(0);

/** A plain `Uint8Array` view (never a `Buffer`, even when `b` is one). */
function view(b: Uint8Array, start: number, length: number): Uint8Array {
  return length === 0 ? EMPTY : new Uint8Array(b.buffer, b.byteOffset + start, length);
}

/** The case of a command APDU, from whether it has data and an expected length. */
export function apduCase(cmd: CommandApdu): ApduCase {
  if (cmd.data.length > 0) return cmd.ne === undefined ? 3 : 4;
  return cmd.ne === undefined ? 1 : 2;
}

/**
 * Parses a command APDU of any case: 1, 2S, 3S, 4S, 2E, 3E, 4E (ISO/IEC 7816-4 §5.1). A 5-byte APDU is
 * case 2S (Le `00` = 256); a 7-byte APDU `… 00 Le1 Le2` is case 2E (`0000` = 65536); a first length byte `00`
 * followed by more bytes means extended form. `data` is a view into `bytes`.
 * @throws {ApduError} `APDU_TOO_SHORT` (< 4 bytes), `APDU_BAD_LENGTH` (Lc/Le inconsistent with the total
 *   length, short and extended fields mixed, extended Lc `0000`).
 * @throws {ArgumentError} `BAD_ARGUMENT` when `bytes` is not a `Uint8Array`.
 * @example parseCommandApdu(hex`00 B2 01 0C 00`) // { cla: 0, ins: 0xb2, p1: 1, p2: 0x0c, data: [], ne: 256, extended: false }
 */
export function parseCommandApdu(bytes: Uint8Array): CommandApdu {
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError('parseCommandApdu: expected Uint8Array');
  const n = bytes.length;
  if (n < 4) throw new ApduError('APDU_TOO_SHORT', `command APDU needs at least 4 bytes, got ${n}`, n);
  const cla = bytes[0]!;
  const ins = bytes[1]!;
  const p1 = bytes[2]!;
  const p2 = bytes[3]!;
  if (n === 4) return { cla, ins, p1, p2, data: EMPTY, ne: undefined, extended: false };
  const b4 = bytes[4]!;
  if (n === 5) return { cla, ins, p1, p2, data: EMPTY, ne: b4 === 0 ? 256 : b4, extended: false };
  if (b4 !== 0) {
    // Short Lc (01..FF): case 3S or 4S.
    if (n === 5 + b4) return { cla, ins, p1, p2, data: view(bytes, 5, b4), ne: undefined, extended: false };
    if (n === 6 + b4) {
      const le = bytes[n - 1]!;
      return { cla, ins, p1, p2, data: view(bytes, 5, b4), ne: le === 0 ? 256 : le, extended: false };
    }
    throw new ApduError('APDU_BAD_LENGTH', `short Lc ${b4} inconsistent with APDU length ${n}`, 4);
  }
  // First length byte 00 followed by more bytes: extended form.
  if (n < 7) throw new ApduError('APDU_BAD_LENGTH', `extended length field truncated (APDU length ${n})`, 4);
  const l = (bytes[5]! << 8) | bytes[6]!;
  if (n === 7) return { cla, ins, p1, p2, data: EMPTY, ne: l === 0 ? 65536 : l, extended: true };
  if (l === 0) throw new ApduError('APDU_BAD_LENGTH', 'extended Lc 0000 is not allowed', 5);
  if (n === 7 + l) return { cla, ins, p1, p2, data: view(bytes, 7, l), ne: undefined, extended: true };
  if (n === 9 + l) {
    const le = (bytes[n - 2]! << 8) | bytes[n - 1]!;
    return { cla, ins, p1, p2, data: view(bytes, 7, l), ne: le === 0 ? 65536 : le, extended: true };
  }
  throw new ApduError('APDU_BAD_LENGTH', `extended Lc ${l} inconsistent with APDU length ${n}`, 5);
}

/**
 * Encodes a command APDU. Short form unless `data.length > 255`, `ne > 256` or `extended: true` (a case 1
 * APDU has no length fields, so `extended` does not change it). Ne 256 / 65536 encode as `00` / `0000`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a header byte outside 0..255, data longer than 65535 bytes or
 *   Ne outside 1..65536.
 * @example encodeCommandApdu(command(0x00, 0x84, 0, 0, undefined, 8)) // 00 84 00 00 08
 */
export function encodeCommandApdu(cmd: CommandApdu): Uint8Array {
  assertUint(cmd.cla, 'cla', 0xff);
  assertUint(cmd.ins, 'ins', 0xff);
  assertUint(cmd.p1, 'p1', 0xff);
  assertUint(cmd.p2, 'p2', 0xff);
  const data = cmd.data;
  if (!(data instanceof Uint8Array)) throw new ArgumentError('command APDU data: expected Uint8Array');
  const nc = data.length;
  if (nc > 65535) throw new ArgumentError(`command APDU data: at most 65535 bytes, got ${nc}`);
  const ne = cmd.ne;
  if (ne !== undefined && (!Number.isInteger(ne) || ne < 1 || ne > 65536))
    throw new ArgumentError(`command APDU ne: expected undefined or an integer in 1..65536, got ${String(ne)}`);
  const ext = nc > 255 || (ne !== undefined && ne > 256) || (cmd.extended === true && (nc > 0 || ne !== undefined));
  let len = 4;
  if (ext) len += (nc > 0 ? 3 + nc : 1) + (ne === undefined ? 0 : 2);
  else len += (nc > 0 ? 1 + nc : 0) + (ne === undefined ? 0 : 1);
  const out = new Uint8Array(len);
  out[0] = cmd.cla;
  out[1] = cmd.ins;
  out[2] = cmd.p1;
  out[3] = cmd.p2;
  let o = 4;
  if (ext) {
    out[o++] = 0;
    if (nc > 0) {
      out[o++] = nc >> 8;
      out[o++] = nc & 0xff;
      out.set(data, o);
      o += nc;
    }
    if (ne !== undefined) {
      out[o++] = (ne >> 8) & 0xff; // 65536 → 00 00
      out[o] = ne & 0xff;
    }
  } else {
    if (nc > 0) {
      out[o++] = nc;
      out.set(data, o);
      o += nc;
    }
    if (ne !== undefined) out[o] = ne & 0xff; // 256 → 00
  }
  return out;
}

/**
 * Builds a {@link CommandApdu} (`data` defaults to empty, `ne` to none).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a header byte outside 0..255 or Ne outside 1..65536.
 * @example command(0x80, 0x5c, 0x00, 0x02, undefined, 4) // GET BALANCE, Le 04
 */
export function command(
  cla: number,
  ins: number,
  p1: number,
  p2: number,
  data: Uint8Array = EMPTY,
  ne?: number,
): CommandApdu {
  assertUint(cla, 'cla', 0xff);
  assertUint(ins, 'ins', 0xff);
  assertUint(p1, 'p1', 0xff);
  assertUint(p2, 'p2', 0xff);
  if (!(data instanceof Uint8Array)) throw new ArgumentError('command APDU data: expected Uint8Array');
  if (ne !== undefined) assertUint(ne, 'ne', 65536);
  if (ne === 0) throw new ArgumentError('command APDU ne: expected 1..65536 (use undefined for no Le)');
  return { cla, ins, p1, p2, data, ne };
}

/**
 * Parses a response APDU (data ‖ SW1 SW2); `data` is a view into `bytes`.
 * @throws {ApduError} `RAPDU_TOO_SHORT` when fewer than 2 bytes.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `bytes` is not a `Uint8Array`.
 */
export function parseResponseApdu(bytes: Uint8Array): ResponseApdu {
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError('parseResponseApdu: expected Uint8Array');
  const n = bytes.length;
  if (n < 2) throw new ApduError('RAPDU_TOO_SHORT', `response APDU needs at least 2 bytes (SW1 SW2), got ${n}`, n);
  const sw1 = bytes[n - 2]!;
  const sw2 = bytes[n - 1]!;
  return { data: view(bytes, 0, n - 2), sw: (sw1 << 8) | sw2, sw1, sw2 };
}

/**
 * Encodes a response APDU: `data ‖ SW1 SW2`.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `sw` is not in 0..FFFF or `data` is not a `Uint8Array`.
 */
export function encodeResponseApdu(data: Uint8Array, sw: number): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new ArgumentError('response APDU data: expected Uint8Array');
  assertUint(sw, 'sw', 0xffff);
  const n = data.length;
  const out = new Uint8Array(n + 2);
  out.set(data, 0);
  out[n] = sw >> 8;
  out[n + 1] = sw & 0xff;
  return out;
}

const FORMAT_DATA_MAX = 64;

function formatData(d: Uint8Array): string {
  if (d.length <= FORMAT_DATA_MAX) return toHex(d);
  return `${toHex(d.subarray(0, 32))}…(+${d.length - 32} bytes)`;
}

const HEX2 = (v: number): string => v.toString(16).toUpperCase().padStart(2, '0');

/**
 * One-line trace form: header bytes spaced, Lc, data (hex, elided after 64 bytes), `Le=` as on the wire;
 * extended APDUs show `ext` and 2-byte Lc/Le.
 * @example formatCommandApdu(parseCommandApdu(hex`80 50 00 02 0B 01 00000064 112233445566 10`))
 *   // "80 50 00 02 0B 0100000064112233445566 Le=10"
 */
export function formatCommandApdu(cmd: CommandApdu): string {
  const nc = cmd.data.length;
  const ne = cmd.ne;
  const ext = nc > 255 || (ne !== undefined && ne > 256) || (cmd.extended === true && (nc > 0 || ne !== undefined));
  let s = `${HEX2(cmd.cla)} ${HEX2(cmd.ins)} ${HEX2(cmd.p1)} ${HEX2(cmd.p2)}`;
  if (ext) s += ' ext';
  if (nc > 0) s += ` ${ext ? HEX2(nc >> 8) + HEX2(nc & 0xff) : HEX2(nc)} ${formatData(cmd.data)}`;
  if (ne !== undefined) s += ` Le=${ext ? HEX2((ne >> 8) & 0xff) + HEX2(ne & 0xff) : HEX2(ne & 0xff)}`;
  return s;
}

/**
 * One-line trace form: data (hex, elided after 64 bytes) then SW, e.g. `"6F1E840E… 9000"` or `"6A82"`.
 */
export function formatResponseApdu(r: ResponseApdu): string {
  const sw = HEX2((r.sw >> 8) & 0xff) + HEX2(r.sw & 0xff);
  return r.data.length > 0 ? `${formatData(r.data)} ${sw}` : sw;
}

/**
 * What SCP02 and SCP03 share: security levels (the P1 of EXTERNAL AUTHENTICATE), the class-byte rules
 * (which bit marks secure messaging, how the logical channel leaves the CLA that enters a MAC and comes back
 * on the wire), which status words get an R-MAC, the INITIALIZE UPDATE command, and the errors of both
 * ({@link GP_ERRORS}).
 *
 * @module
 */
import { assertBytes, assertUint, copyBytes } from '../bytes';
import { ArgumentError, defineErrors, ParseError, SimtapError } from '../errors';
import { type ApduErrorCode, type CommandApdu, decodeCla, withChannel } from '../iso7816';

/**
 * Security level bits (P1 of EXTERNAL AUTHENTICATE: GPC 2.3.1 §E.5.2 table E-11, Amendment D §7.1.2 table 7-3; GPC §10.6 table 10-1).
 * `C_DECRYPTION` never comes alone: 0x03 = C-MAC + C-DECRYPTION.
 */
export const SecurityLevel = {
  /** No secure messaging after EXTERNAL AUTHENTICATE. */
  NONE: 0x00,
  /** C-MAC on every command. */
  C_MAC: 0x01,
  /** Command data encrypted (always together with C-MAC). */
  C_DECRYPTION: 0x02,
  /** R-MAC on every response. */
  R_MAC: 0x10,
  /** Response data encrypted (SCP03 only, always together with R-MAC and C-DECRYPTION). */
  R_ENCRYPTION: 0x20,
} as const;

/** The security levels a session can run at: `00`, `01`, `03`, `11`, `13` and (SCP03 only) `33`. */
export type SecurityLevelValue = 0x00 | 0x01 | 0x03 | 0x11 | 0x13 | 0x33;

/** Which secure channel protocol a level is checked against. */
export type ScpVersion = 2 | 3;

const LEVELS_SCP02: readonly number[] = [0x00, 0x01, 0x03, 0x11, 0x13];
const LEVELS_SCP03: readonly number[] = [0x00, 0x01, 0x03, 0x11, 0x13, 0x33];

/** True when `level` is a level `scp` accepts (SCP02: 00/01/03/11/13; SCP03 additionally 33). */
export function isSecurityLevel(level: unknown, scp: ScpVersion = 3): level is SecurityLevelValue {
  return typeof level === 'number' && (scp === 2 ? LEVELS_SCP02 : LEVELS_SCP03).includes(level);
}

/**
 * Decodes the P1 of an EXTERNAL AUTHENTICATE the card received.
 * @throws {ParseError} `SCP_SECURITY_LEVEL_INVALID` on a combination the protocol does not define
 *   (e.g. `02`, `10`, `21`, or `33` under SCP02).
 * @example parseSecurityLevel(0x33, 3) // 0x33
 */
export function parseSecurityLevel(p1: number, scp: ScpVersion = 3): SecurityLevelValue {
  if (!isSecurityLevel(p1, scp))
    throw new ParseError<GpErrorCode>(
      'SCP_SECURITY_LEVEL_INVALID',
      `security level ${typeof p1 === 'number' ? p1.toString(16).padStart(2, '0') : String(p1)} is not valid for SCP0${scp}`,
    );
  return p1;
}

/**
 * Checks a security level handed to the host side.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `level` is not valid for `scp`.
 */
export function assertSecurityLevel(level: unknown, scp: ScpVersion): asserts level is SecurityLevelValue {
  if (!isSecurityLevel(level, scp))
    throw new ArgumentError(`securityLevel: ${String(level)} is not a valid SCP0${scp} security level`);
}

/** The four protections a level switches on. */
export interface SecurityFlags {
  cMac: boolean;
  cDecryption: boolean;
  rMac: boolean;
  rEncryption: boolean;
}

/** Splits a level into its protections. */
export function securityFlags(level: SecurityLevelValue): SecurityFlags {
  return {
    cMac: (level & SecurityLevel.C_MAC) !== 0,
    cDecryption: (level & SecurityLevel.C_DECRYPTION) !== 0,
    rMac: (level & SecurityLevel.R_MAC) !== 0,
    rEncryption: (level & SecurityLevel.R_ENCRYPTION) !== 0,
  };
}

// ---------------------------------------------------------------- class byte (GP 2.2.1 §11.1.4)

/**
 * The CLA that enters a C-MAC: logical channel number zero, GlobalPlatform secure-messaging bit (b3) set
 * (GP 2.2.1 E.4.4: "the logical channel number is always assumed to be zero"; Amd D §6.2.4). Keeps b8
 * (proprietary) and b5 (command chaining): `80`, `81`, `C5`, `E5` → `84`.
 * @internal
 */
export function scpMacCla(cla: number): number {
  return (cla & 0x90) | 0x04;
}

/**
 * The CLA with neither secure messaging nor channel (`84` → `80`, `E3` → `80`): the header the SCP02 R-MAC
 * covers (GP 2.2.1 E.4.5).
 * @internal
 */
export function scpBareCla(cla: number): number {
  return cla & 0x90;
}

/**
 * The CLA for logical `channel` with or without the GlobalPlatform secure-messaging indication (b3 for channels
 * 0–3, b6 for 4–19): `scpWireCla(0x80, 5, true)` = `E1`.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `channel` is not in 0..19, or the result would be the invalid
 *   CLA `FF` (proprietary + chaining + SM on channel 19).
 * @internal
 */
export function scpWireCla(cla: number, channel: number, sm: boolean): number {
  const out = withChannel((cla & 0x90) | (sm ? 0x04 : 0), channel);
  if (out === 0xff) throw new ArgumentError('CLA: chaining with secure messaging on channel 19 would code as FF');
  return out;
}

/**
 * True when the card must protect a response with this SW: 9000 and the warnings 62xx/63xx. Responses with
 * any other SW are errors and carry no R-MAC in SCP03 (Amd D §6.2.5).
 * @internal
 */
export function isScpProtectedSw(sw: number): boolean {
  const sw1 = sw >>> 8;
  return sw === 0x9000 || sw1 === 0x62 || sw1 === 0x63;
}

/**
 * Host side: validates a clear command before any session state changes (header bytes, data, Ne, CLA, channel
 * 0 or the session's) and returns its CLA for the wire with secure messaging as asked.
 * @throws {ArgumentError} `BAD_ARGUMENT` on any violation.
 * @internal
 */
export function checkPlainCommand(c: CommandApdu, channel: number, sm: boolean, what: string): number {
  if (typeof c !== 'object' || c === null) throw new ArgumentError(`${what}: expected a command APDU`);
  assertUint(c.cla, 'cla', 0xff);
  assertUint(c.ins, 'ins', 0xff);
  assertUint(c.p1, 'p1', 0xff);
  assertUint(c.p2, 'p2', 0xff);
  assertBytes(c.data, 'data');
  if (c.ne !== undefined) {
    assertUint(c.ne, 'ne', 65536);
    if (c.ne === 0) throw new ArgumentError(`${what}: ne must be undefined or 1..65536`);
  }
  const info = decodeCla(c.cla);
  if (info.kind === 'invalid') throw new ArgumentError(`${what}: invalid CLA ${c.cla.toString(16)}`);
  if (info.channel !== 0 && info.channel !== channel)
    throw new ArgumentError(`${what}: command on channel ${info.channel}, session on ${channel}`);
  return scpWireCla(c.cla, channel, sm);
}

// ---------------------------------------------------------------- INITIALIZE UPDATE (GP 2.2.1 E.5.1, Amd D §7.1.1)

/** INS of INITIALIZE UPDATE (`80 50`) and EXTERNAL AUTHENTICATE (`84 82`). */
export const SCP_INS = { INITIALIZE_UPDATE: 0x50, EXTERNAL_AUTHENTICATE: 0x82 } as const;

/** What the card reads from an INITIALIZE UPDATE command. */
export interface InitializeUpdateCommand {
  /** Key version number asked for (`00` = first available key set). */
  kvn: number;
  /** The 8-byte host challenge. */
  hostChallenge: Uint8Array;
  /** Logical channel of the command. */
  channel: number;
}

/**
 * `80 50 KVN 00 08 hostChallenge 00` on the given logical channel.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a KVN outside 0..255, a host challenge that is not 8 bytes or a
 *   channel outside 0..19.
 */
export function initializeUpdateCommand(kvn: number, hostChallenge: Uint8Array, channel = 0): CommandApdu {
  assertUint(kvn, 'kvn', 0xff);
  assertBytes(hostChallenge, 'hostChallenge', 8);
  return {
    cla: scpWireCla(0x80, channel, false),
    ins: SCP_INS.INITIALIZE_UPDATE,
    p1: kvn,
    p2: 0x00,
    data: copyBytes(hostChallenge),
    ne: 256,
  };
}

/**
 * Card side: reads an INITIALIZE UPDATE command (`CLA 50 KVN 00 08 hostChallenge [Le]`).
 * @throws {ParseError} `SCP_INIT_UPDATE_INVALID` when INS is not 50, P2 is not 00, the command carries secure
 *   messaging, or the data is not an 8-byte host challenge (the card answers 6A86 / 6700).
 */
export function parseInitializeUpdate(cmd: CommandApdu): InitializeUpdateCommand {
  const cla = decodeCla(cmd.cla);
  if (cmd.ins !== SCP_INS.INITIALIZE_UPDATE || cmd.p2 !== 0 || cla.kind === 'invalid' || cla.gpSecureMessaging)
    throw new ParseError<GpErrorCode>(
      'SCP_INIT_UPDATE_INVALID',
      'not an INITIALIZE UPDATE command (CLA 80, INS 50, P2 00)',
    );
  if (cmd.data.length !== 8)
    throw new ParseError<GpErrorCode>(
      'SCP_INIT_UPDATE_INVALID',
      `host challenge must be 8 bytes, got ${cmd.data.length}`,
      4,
    );
  return { kvn: cmd.p1, hostChallenge: copyBytes(cmd.data), channel: cla.channel };
}

/** Which end of the channel a session object serves. */
export type ScpRole = 'host' | 'card';

/** Sends one command APDU and resolves with the card's response (`data ‖ SW1 SW2`). */
export type ApduTransmit = (apdu: Uint8Array) => Promise<Uint8Array>;

/**
 * What a secure-channel host runs over: a transmit function, or any object with an asynchronous `transmit` — a
 * `CardChannel` of `@simtap/sdk/card` (in-process, PC/SC, trace) fits as it is.
 */
export type ApduLink = ApduTransmit | { transmit(apdu: Uint8Array): Promise<Uint8Array> };

/**
 * The transmit function of `link` (a method is bound to its object).
 * @throws {ArgumentError} `BAD_ARGUMENT` when `link` is neither a function nor an object with `transmit`.
 */
export function transmitOf(link: ApduLink): ApduTransmit {
  if (typeof link === 'function') return link;
  if (typeof link === 'object' && link !== null && typeof link.transmit === 'function')
    return (apdu) => link.transmit(apdu);
  throw new ArgumentError('transmit: expected a CardChannel (an object with transmit) or a transmit function');
}

/**
 * Splits a response into data (a view) and SW.
 * @throws {ParseError} `RAPDU_TOO_SHORT` when `rsp` is not a `Uint8Array` of at least 2 bytes.
 * @internal
 */
export function splitResponse(rsp: Uint8Array, what: string): { data: Uint8Array; sw: number } {
  if (!(rsp instanceof Uint8Array) || rsp.length < 2)
    throw new ParseError<ApduErrorCode>('RAPDU_TOO_SHORT', `${what}: response needs at least 2 bytes`);
  const n = rsp.length;
  return { data: rsp.subarray(0, n - 2), sw: (rsp[n - 2]! << 8) | rsp[n - 1]! };
}

/**
 * The codes of the errors GlobalPlatform secure channels (SCP02, SCP03) throw, host and card side. A
 * `CryptoError` from a session closes it.
 */
export const GP_ERRORS = defineErrors({
  SCP_INIT_UPDATE_INVALID: {
    class: 'ParseError',
    when:
      'a command handed to the card side is not INITIALIZE UPDATE (CLA 80, INS 50, P2 00) or its host challenge ' +
      'is not 8 bytes',
    fix: 'reject the command',
  },
  SCP_INIT_UPDATE_RESPONSE_INVALID: {
    class: 'ParseError',
    when: 'the INITIALIZE UPDATE response has the wrong length or names another SCP than the one asked (`offset` 11)',
    fix: 'the card does not speak this SCP: use the version it announced',
  },
  SCP_SECURITY_LEVEL_INVALID: {
    class: 'ParseError',
    when:
      'EXTERNAL AUTHENTICATE P1 is not a valid security level, or asks for R-MAC / R-ENC the `i` parameter does ' +
      'not offer',
    fix: "pick a level the card's SCP options allow",
  },
  SCP_CARD_CRYPTOGRAM_INVALID: {
    class: 'CryptoError',
    when: 'the host cannot verify the card cryptogram',
    fix: 'wrong static keys or key version: stop (do not send EXTERNAL AUTHENTICATE)',
  },
  SCP_HOST_CRYPTOGRAM_INVALID: {
    class: 'CryptoError',
    when: 'the card side cannot verify the host cryptogram (card answers `6300`)',
    fix: 'wrong keys on the host; stop',
  },
  SCP_CMAC_INVALID: {
    class: 'CryptoError',
    when:
      'the card side got a command without secure messaging, a malformed or wrong C-MAC, or badly padded C-ENC ' +
      'data (card answers `6982`)',
    fix: 'the session is closed: reopen it',
  },
  SCP_RMAC_INVALID: {
    class: 'CryptoError',
    when: 'the host got a response without its R-MAC, a wrong R-MAC, or badly padded R-ENC data',
    fix: 'the response cannot be trusted: reopen the session and check the card state',
  },
  SCP_SESSION_CLOSED: {
    class: 'SecureChannelClosedError',
    when: 'wrap/unwrap on a session that is closed (after `close()` or a `CryptoError`)',
    fix: 'open a new session',
  },
});

/** Code of an error of a GlobalPlatform secure channel. */
export type GpErrorCode = keyof typeof GP_ERRORS;

/**
 * Thrown by a session used after `close()` or after a security failure aborted it (Amd D §5.6).
 * `code` is `SCP_SESSION_CLOSED`.
 */
export class SecureChannelClosedError extends SimtapError<'SCP_SESSION_CLOSED'> {
  constructor(what: string) {
    super('SCP_SESSION_CLOSED', `${what}: the secure channel session is closed`);
  }
}

/**
 * GlobalPlatform Secure Channel Protocol 03 (GP Card Spec v2.2/2.3 Amendment D, S8 mode): session keys,
 * cryptograms and pseudo-random card challenges, and {@link Scp03Session}, the single-use secure-messaging
 * object both ends use — the host wraps commands and unwraps responses, the card (the ISD) unwraps commands
 * and wraps responses. {@link Scp03Host} runs the host handshake over a transmit function;
 * {@link scp03CardInitializeUpdate} and {@link Scp03PendingSession} run the card side of it.
 *
 * Layouts (all verified against nine recorded pySim sessions, `test/vectors/gp-scp03.json`):
 * - C-MAC = AES-CMAC(S-MAC, chain ‖ CLA′ INS P1 P2 Lc′ ‖ data′)[0:8], chain := the full 16-byte CMAC, starting
 *   at 00×16 for EXTERNAL AUTHENTICATE; CLA′ has channel 0 and b3 set, Lc′ counts the MAC (Amd D §6.2.4).
 * - C-DECRYPTION: the counter goes up by one for every command after EXTERNAL AUTHENTICATE, with or without
 *   data; ICV = AES-ECB(S-ENC, counter as 16 bytes); data padded `80 00…` and AES-CBC encrypted before the MAC;
 *   no data → nothing encrypted (Amd D §6.2.6).
 * - R-MAC = AES-CMAC(S-RMAC, chain ‖ data′ ‖ SW)[0:8] with the chain of the command it answers; none on error
 *   SWs (anything but 9000/62xx/63xx) nor on EXTERNAL AUTHENTICATE (§6.2.5). R-ENCRYPTION: ICV from the same
 *   counter with its first byte set to 80 (§6.2.7).
 *
 * @module
 */
import { assertBytes, assertUint, concat, copyBytes, equalCt, wipe } from '../bytes';
import {
  AesCipher,
  AesCmac,
  kcvAes,
  padIso9797,
  type RandomSource,
  randomBytes,
  SCP03_DERIVATION,
  scp03Derive,
} from '../crypto';
import { ArgumentError, CryptoError, ParseError } from '../errors';
import { type ApduErrorCode, type CommandApdu, decodeCla, encodeCommandApdu } from '../iso7816';
import type { StaticKeys } from './diversification';
import {
  asCommandApdu,
  COMMAND_DECRYPT_FAILURE,
  cardExternalAuthenticate,
  checkSdAid,
  checkSessionRole,
  checkSessionUse,
  checkStaticKeySet,
  decryptPadded,
  describeSession,
  externalAuthenticateApdu,
  isExternalAuthenticate,
  responseSwBytes,
  runHostHandshake,
  type ScpSessionState,
  withCipher,
} from './secure-channel';
import {
  type ApduLink,
  type ApduTransmit,
  assertSecurityLevel,
  checkPlainCommand,
  type GpErrorCode,
  isScpProtectedSw,
  parseInitializeUpdate,
  parseSecurityLevel,
  SCP_INS,
  type ScpRole,
  SecureChannelClosedError,
  type SecurityLevelValue,
  scpMacCla,
  scpWireCla,
  securityFlags,
  transmitOf,
} from './security-level';

const RESPONSE_DECRYPT_FAILURE = {
  blocks: 'R-ENCRYPTION data is not whole blocks',
  padding: 'R-ENCRYPTION data is not padded 80 00…',
} as const;

/** The three SCP03 session keys (Amd D §6.2.1). */
export interface Scp03SessionKeys {
  sEnc: Uint8Array;
  sMac: Uint8Array;
  sRmac: Uint8Array;
}

/** Bits of the SCP03 `i` parameter (Amd D §5.1 table 5-1). */
export const SCP03_I = {
  /** b5: card challenge is pseudo-random (derived, sequence counter in the INITIALIZE UPDATE response). */
  PSEUDO_RANDOM: 0x10,
  /** b6: R-MAC supported. */
  R_MAC: 0x20,
  /** b7 (with b6): R-ENCRYPTION supported. */
  R_ENC: 0x40,
} as const;

const AES_KEY_LENGTHS = [16, 24, 32];

function checkStaticKeys(keys: StaticKeys): void {
  checkStaticKeySet(keys, ...AES_KEY_LENGTHS);
}

function wipeKeys(keys: Scp03SessionKeys): void {
  wipe(keys.sEnc, keys.sMac, keys.sRmac);
}

/**
 * S-ENC, S-MAC and S-RMAC from the static keys and the two 8-byte challenges (Amd D §6.2.1): KDF with constants
 * 04/06/07, context `hostChallenge ‖ cardChallenge`, L = static key length (S-MAC and S-RMAC from the MAC key).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a static key that is not 16/24/32 bytes or a challenge not 8 bytes.
 */
export function scp03SessionKeys(
  staticKeys: StaticKeys,
  hostChallenge: Uint8Array,
  cardChallenge: Uint8Array,
): Scp03SessionKeys {
  checkStaticKeys(staticKeys);
  assertBytes(hostChallenge, 'hostChallenge', 8);
  assertBytes(cardChallenge, 'cardChallenge', 8);
  const context = concat(hostChallenge, cardChallenge);
  const { enc, mac } = staticKeys;
  // One PRF per static key, held for this call only (S-MAC and S-RMAC share the MAC key's) and wiped after it.
  const sEnc = scp03Derive(enc, SCP03_DERIVATION.S_ENC, context, enc.length * 8);
  return withCipher(new AesCmac(mac), (prf) => ({
    sEnc,
    sMac: scp03Derive(prf, SCP03_DERIVATION.S_MAC, context, mac.length * 8),
    sRmac: scp03Derive(prf, SCP03_DERIVATION.S_RMAC, context, mac.length * 8),
  }));
}

/**
 * The 8-byte card and host authentication cryptograms (Amd D §6.2.2.2–3): KDF under S-MAC with constants 00 / 01,
 * L = 64, context `hostChallenge ‖ cardChallenge`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key or challenge length.
 */
export function scp03Cryptograms(
  sMac: Uint8Array,
  hostChallenge: Uint8Array,
  cardChallenge: Uint8Array,
): { cardCryptogram: Uint8Array; hostCryptogram: Uint8Array } {
  assertBytes(sMac, 'sMac', ...AES_KEY_LENGTHS);
  assertBytes(hostChallenge, 'hostChallenge', 8);
  assertBytes(cardChallenge, 'cardChallenge', 8);
  const context = concat(hostChallenge, cardChallenge);
  return withCipher(new AesCmac(sMac), (prf) => ({
    cardCryptogram: scp03Derive(prf, SCP03_DERIVATION.CARD_CRYPTOGRAM, context, 64),
    hostCryptogram: scp03Derive(prf, SCP03_DERIVATION.HOST_CRYPTOGRAM, context, 64),
  }));
}

/**
 * The pseudo-random card challenge (Amd D §6.2.2.1): KDF under the static ENC key, constant 02, L = 64,
 * context = 3-byte sequence counter ‖ AID of the security domain.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad key, a counter outside 0..FFFFFF (number) or not 3 bytes,
 *   or an AID outside 5..16 bytes.
 */
export function scp03PseudoRandomChallenge(
  staticEnc: Uint8Array,
  sequenceCounter: number | Uint8Array,
  aid: Uint8Array,
): Uint8Array {
  assertBytes(staticEnc, 'staticEnc', ...AES_KEY_LENGTHS);
  const seq = sequenceCounterBytes(sequenceCounter);
  checkSdAid(aid);
  return scp03Derive(staticEnc, SCP03_DERIVATION.CARD_CHALLENGE, concat(seq, aid), 64);
}

function sequenceCounterBytes(seq: number | Uint8Array): Uint8Array {
  if (seq instanceof Uint8Array) {
    assertBytes(seq, 'sequenceCounter', 3);
    return seq;
  }
  assertUint(seq, 'sequenceCounter', 0xffffff);
  return Uint8Array.of(seq >>> 16, (seq >>> 8) & 0xff, seq & 0xff);
}

// ---------------------------------------------------------------- INITIALIZE UPDATE response (Amd D §7.1.1.6)

/** The fields of an SCP03 INITIALIZE UPDATE response (S8 mode). */
export interface Scp03InitUpdateResponse {
  /** Key diversification data (10 bytes). */
  kdd: Uint8Array;
  /** Key version number of the key set the card used. */
  kvn: number;
  /** The `i` parameter (see {@link SCP03_I}). */
  i: number;
  /** 8-byte card challenge. */
  cardChallenge: Uint8Array;
  /** 8-byte card cryptogram. */
  cardCryptogram: Uint8Array;
  /** 3-byte sequence counter, present when `i` has {@link SCP03_I.PSEUDO_RANDOM}. */
  sequenceCounter: Uint8Array | undefined;
}

/**
 * Parses the data of an INITIALIZE UPDATE response: `KDD(10) ‖ KVN ‖ 03 ‖ i ‖ cardChallenge(8) ‖
 * cardCryptogram(8) [‖ seq(3)]` (29 or 32 bytes).
 * @throws {ParseError} `SCP_INIT_UPDATE_RESPONSE_INVALID` on another length, an SCP identifier other than 03,
 *   or a sequence counter present/absent against the `i` pseudo-random bit.
 */
export function parseScp03InitUpdateResponse(data: Uint8Array): Scp03InitUpdateResponse {
  assertBytes(data, 'data');
  if (data.length !== 29 && data.length !== 32)
    throw new ParseError<GpErrorCode>(
      'SCP_INIT_UPDATE_RESPONSE_INVALID',
      `SCP03 INITIALIZE UPDATE response must be 29 or 32 bytes, got ${data.length}`,
    );
  if (data[11] !== 0x03)
    throw new ParseError<GpErrorCode>(
      'SCP_INIT_UPDATE_RESPONSE_INVALID',
      `card answered SCP ${data[11]} where 03 was asked`,
      11,
    );
  const i = data[12]!;
  const hasSeq = data.length === 32;
  if (hasSeq !== ((i & SCP03_I.PSEUDO_RANDOM) !== 0))
    throw new ParseError<GpErrorCode>(
      'SCP_INIT_UPDATE_RESPONSE_INVALID',
      `sequence counter ${hasSeq ? 'present' : 'absent'} but i = ${i.toString(16).padStart(2, '0')}`,
      12,
    );
  return {
    kdd: data.slice(0, 10),
    kvn: data[10]!,
    i,
    cardChallenge: data.slice(13, 21),
    cardCryptogram: data.slice(21, 29),
    sequenceCounter: hasSeq ? data.slice(29, 32) : undefined,
  };
}

/**
 * Encodes the data of an INITIALIZE UPDATE response (the card side of {@link parseScp03InitUpdateResponse}).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a field of the wrong length or a sequence counter that does not
 *   match the `i` pseudo-random bit.
 */
export function encodeScp03InitUpdateResponse(r: Scp03InitUpdateResponse): Uint8Array {
  assertBytes(r.kdd, 'kdd', 10);
  assertUint(r.kvn, 'kvn', 0xff);
  assertUint(r.i, 'i', 0xff);
  assertBytes(r.cardChallenge, 'cardChallenge', 8);
  assertBytes(r.cardCryptogram, 'cardCryptogram', 8);
  const pseudo = (r.i & SCP03_I.PSEUDO_RANDOM) !== 0;
  if (pseudo !== (r.sequenceCounter !== undefined))
    throw new ArgumentError('sequenceCounter: required exactly when i has the pseudo-random bit (10)');
  const out = new Uint8Array(pseudo ? 32 : 29);
  out.set(r.kdd, 0);
  out[10] = r.kvn;
  out[11] = 0x03;
  out[12] = r.i;
  out.set(r.cardChallenge, 13);
  out.set(r.cardCryptogram, 21);
  if (r.sequenceCounter !== undefined) {
    assertBytes(r.sequenceCounter, 'sequenceCounter', 3);
    out.set(r.sequenceCounter, 29);
  }
  return out;
}

// ---------------------------------------------------------------- session

/** Options of the {@link Scp03Session} constructor. */
export interface Scp03SessionOptions {
  /** Session keys (copied; the copies are wiped on close). */
  keys: Scp03SessionKeys;
  /** Security level agreed in EXTERNAL AUTHENTICATE. */
  securityLevel: SecurityLevelValue;
  /** `host` wraps commands / unwraps responses; `card` does the reverse. */
  role: ScpRole;
  /** Logical channel the session lives on (0–19, default 0). */
  channel?: number;
}

/**
 * One SCP03 secure-channel session, single-use (STYLE §3.5): created after INITIALIZE UPDATE, opened by
 * EXTERNAL AUTHENTICATE, closed by {@link Scp03Session.close} or by a security failure (Amd D §5.6). The
 * encryption counter and the MAC chaining value are private and never reset within a session.
 *
 * Host: {@link Scp03Session.externalAuthenticateCommand}, then {@link Scp03Session.wrapCommand} /
 * {@link Scp03Session.unwrapResponse} per APDU. Card: {@link Scp03Session.acceptExternalAuthenticate}, then
 * {@link Scp03Session.unwrapCommand} / {@link Scp03Session.wrapResponse}.
 */
export class Scp03Session {
  /** The security level of the session. */
  readonly securityLevel: SecurityLevelValue;
  /** Which end this object serves. */
  readonly role: ScpRole;
  /** Logical channel of the session. */
  readonly channel: number;
  readonly #cMac: boolean;
  readonly #cDec: boolean;
  readonly #rMac: boolean;
  readonly #rEnc: boolean;
  readonly #keys: Uint8Array[];
  readonly #enc: AesCipher;
  readonly #mac: AesCmac;
  readonly #rmac: AesCmac;
  /** C-MAC chaining value (full 16-byte CMAC of the last command). */
  readonly #chain = new Uint8Array(16);
  /** Encryption counter block (16-byte big-endian). */
  readonly #ctr = new Uint8Array(16);
  readonly #icv = new Uint8Array(16);
  readonly #hdr = new Uint8Array(7);
  #counter = 0;
  #state: ScpSessionState = 'authenticating';

  /**
   * @throws {ArgumentError} `BAD_ARGUMENT` on keys that are not 16/24/32 bytes, an SCP03-invalid security level,
   *   an unknown role or a channel outside 0..19.
   */
  constructor(opts: Scp03SessionOptions) {
    const { keys, securityLevel, role } = opts;
    assertSecurityLevel(securityLevel, 3);
    checkSessionRole(role);
    const channel = opts.channel ?? 0;
    assertUint(channel, 'channel', 19);
    assertBytes(keys?.sEnc, 'keys.sEnc', ...AES_KEY_LENGTHS);
    assertBytes(keys.sMac, 'keys.sMac', ...AES_KEY_LENGTHS);
    assertBytes(keys.sRmac, 'keys.sRmac', ...AES_KEY_LENGTHS);
    this.securityLevel = securityLevel;
    this.role = role;
    this.channel = channel;
    const f = securityFlags(securityLevel);
    this.#cMac = f.cMac;
    this.#cDec = f.cDecryption;
    this.#rMac = f.rMac;
    this.#rEnc = f.rEncryption;
    this.#keys = [copyBytes(keys.sEnc), copyBytes(keys.sMac), copyBytes(keys.sRmac)];
    this.#enc = new AesCipher(this.#keys[0]!);
    this.#mac = new AesCmac(this.#keys[1]!);
    this.#rmac = new AesCmac(this.#keys[2]!);
  }

  /** True between a successful EXTERNAL AUTHENTICATE and close. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** True once closed (explicitly or by a security failure). */
  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Ends the session: keys wiped, every further call throws `SCP_SESSION_CLOSED`. Idempotent. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#enc.destroy();
    this.#mac.destroy();
    this.#rmac.destroy();
    wipe(...this.#keys, this.#chain, this.#icv, this.#ctr);
  }

  /** Never exposes key material. */
  toJSON(): string {
    return describeSession('Scp03Session', this.role, this.securityLevel, this.#state);
  }

  #require(role: ScpRole, state: ScpSessionState, what: string): void {
    checkSessionUse(this.#state, this.role, role, state, what);
  }

  #abort(code: GpErrorCode, message: string): never {
    this.close();
    throw new CryptoError<GpErrorCode>(code, message);
  }

  /** MAC header `CLA′ INS P1 P2 Lc′` (Lc′ 1 byte, or `00 hi lo` when the APDU is in extended form). */
  #header(cla: number, ins: number, p1: number, p2: number, lc: number, extended: boolean): Uint8Array {
    const h = this.#hdr;
    h[0] = scpMacCla(cla);
    h[1] = ins;
    h[2] = p1;
    h[3] = p2;
    if (!extended) {
      h[4] = lc;
      return h.subarray(0, 5);
    }
    h[4] = 0;
    h[5] = lc >>> 8;
    h[6] = lc & 0xff;
    return h;
  }

  /** chain := CMAC(S-MAC, chain ‖ header ‖ data); returns a copy of its first 8 bytes. */
  #chainMac(header: Uint8Array, data: Uint8Array): Uint8Array {
    const full = this.#mac.macParts([this.#chain, header, data]);
    this.#chain.set(full);
    return full.subarray(0, 8);
  }

  /** ICV for C-DECRYPTION (`response` false) or R-ENCRYPTION (`true`) at the current counter. */
  #counterIcv(response: boolean): Uint8Array {
    const c = this.#ctr;
    c.fill(0);
    let v = this.#counter;
    for (let i = 15; i >= 8 && v > 0; i--) {
      c[i] = v % 256;
      v = Math.floor(v / 256);
    }
    if (response) c[0] = 0x80;
    this.#enc.encryptBlock(c, 0, this.#icv, 0);
    return this.#icv;
  }

  // ------------------------------------------------------------ EXTERNAL AUTHENTICATE

  /**
   * Host: the EXTERNAL AUTHENTICATE command `84 82 SL 00 10 hostCryptogram ‖ C-MAC` (chain from 00×16, no
   * encryption) on the session's channel; the session is open afterwards.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a cryptogram that is not 8 bytes, a card-side session, or a
   *   second call. @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  externalAuthenticateCommand(hostCryptogram: Uint8Array): Uint8Array {
    this.#require('host', 'authenticating', 'externalAuthenticateCommand');
    assertBytes(hostCryptogram, 'hostCryptogram', 8);
    const mac = this.#chainMac(
      this.#header(0x80, SCP_INS.EXTERNAL_AUTHENTICATE, this.securityLevel, 0, 16, false),
      hostCryptogram,
    );
    this.#state = 'open';
    return externalAuthenticateApdu(this.channel, this.securityLevel, hostCryptogram, mac);
  }

  /**
   * Card: verifies the C-MAC of EXTERNAL AUTHENTICATE (chain from 00×16) and returns the host cryptogram for the
   * caller to check; the session is open afterwards. P1 must equal the session's security level.
   * @throws {CryptoError} `SCP_CMAC_INVALID` (session closed; the ISD answers 6982) when the command is not
   *   `84 82 SL 00` with 16 bytes, or the C-MAC does not verify.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  acceptExternalAuthenticate(cmd: CommandApdu | Uint8Array): Uint8Array {
    this.#require('card', 'authenticating', 'acceptExternalAuthenticate');
    const c = asCommandApdu(cmd);
    decodeCla(c.cla); // throws BAD_ARGUMENT on a CLA outside 0..255 before any other check
    if (!isExternalAuthenticate(c, this.securityLevel))
      this.#abort('SCP_CMAC_INVALID', 'EXTERNAL AUTHENTICATE: malformed command');
    const hostCryptogram = c.data.slice(0, 8);
    const mac = this.#chainMac(this.#header(c.cla, c.ins, c.p1, c.p2, 16, false), hostCryptogram);
    if (!equalCt(mac, c.data.subarray(8, 16))) this.#abort('SCP_CMAC_INVALID', 'EXTERNAL AUTHENTICATE: bad C-MAC');
    this.#state = 'open';
    return hostCryptogram;
  }

  // ------------------------------------------------------------ host side

  /**
   * Host: protects a command at the session's level — C-DECRYPTION (if on) then C-MAC — and encodes it for the
   * wire with the secure-messaging CLA on the session's channel; Le is kept. Level 00 only applies the channel.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed APDU, a channel other than the session's, a command
   *   too long once protected (Lc′ > 65535), or on a card-side / not yet authenticated session.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  wrapCommand(cmd: CommandApdu | Uint8Array): Uint8Array {
    this.#require('host', 'open', 'wrapCommand');
    const c = asCommandApdu(cmd);
    const cla = checkPlainCommand(c, this.channel, this.#cMac, 'wrapCommand');
    const n = c.data.length;
    const lc = (this.#cDec && n > 0 ? n + 16 - (n % 16) : n) + 8;
    if (this.#cMac && lc > 65535) throw new ArgumentError(`wrapCommand: protected data of ${lc} bytes exceeds 65535`);
    // Nothing below throws: the counter and the chain move only for a command that is actually wrapped.
    this.#counter++;
    if (!this.#cMac) return encodeCommandApdu({ ...c, cla });
    const data =
      this.#cDec && n > 0 ? this.#enc.cbcEncrypt(padIso9797(c.data, 2, 16), this.#counterIcv(false)) : c.data;
    const ne = c.ne;
    const extended = lc > 255 || (ne !== undefined && ne > 256) || c.extended === true;
    const mac = this.#chainMac(this.#header(c.cla, c.ins, c.p1, c.p2, lc, extended), data);
    const body = new Uint8Array(lc);
    body.set(data, 0);
    body.set(mac, data.length);
    return encodeCommandApdu({ cla, ins: c.ins, p1: c.p1, p2: c.p2, data: body, ne, extended });
  }

  /**
   * Host: checks the R-MAC of a response (constant time) and decrypts R-ENCRYPTION data; returns
   * `data ‖ SW` in clear. Without R-MAC the response is returned as is. An error SW (not 9000/62xx/63xx)
   * carries no protection: only its 2 SW bytes are returned.
   * @throws {CryptoError} `SCP_RMAC_INVALID` (the session is closed) when the R-MAC is missing or wrong, or
   *   the decrypted data is not padded `80 00…`.
   * @throws {ParseError} `RAPDU_TOO_SHORT` on fewer than 2 bytes.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  unwrapResponse(rapdu: Uint8Array): Uint8Array {
    this.#require('host', 'open', 'unwrapResponse');
    assertBytes(rapdu, 'rapdu');
    const n = rapdu.length;
    if (n < 2) throw new ParseError<ApduErrorCode>('RAPDU_TOO_SHORT', `response needs at least 2 bytes, got ${n}`, n);
    if (!this.#rMac) return copyBytes(rapdu);
    const swBytes = rapdu.subarray(n - 2);
    const sw = (swBytes[0]! << 8) | swBytes[1]!;
    if (!isScpProtectedSw(sw)) return copyBytes(swBytes);
    if (n < 10) this.#abort('SCP_RMAC_INVALID', 'response too short to carry an R-MAC');
    let data = rapdu.subarray(0, n - 10);
    const expected = this.#rmac.macParts([this.#chain, data, swBytes]).subarray(0, 8);
    if (!equalCt(expected, rapdu.subarray(n - 10, n - 2))) this.#abort('SCP_RMAC_INVALID', 'R-MAC does not verify');
    if (this.#rEnc && data.length > 0)
      data = decryptPadded(
        data,
        16,
        (b) => this.#enc.cbcDecrypt(b, this.#counterIcv(true)),
        (why) => this.#abort('SCP_RMAC_INVALID', RESPONSE_DECRYPT_FAILURE[why]),
      );
    const out = new Uint8Array(data.length + 2);
    out.set(data, 0);
    out.set(swBytes, data.length);
    return out;
  }

  // ------------------------------------------------------------ card side

  /**
   * Card: verifies the C-MAC (constant time) and removes C-DECRYPTION; returns the plain command with the
   * secure-messaging bit cleared (channel kept). Level 00 returns the command unchanged.
   * @throws {CryptoError} `SCP_CMAC_INVALID` (the session is closed; the ISD answers 6982) when the command has
   *   no secure-messaging CLA, is too short for a C-MAC, the C-MAC is wrong, or decrypted data is not padded.
   * @throws {ApduError} `APDU_TOO_SHORT` / `APDU_BAD_LENGTH` when raw bytes do not parse.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  unwrapCommand(cmd: CommandApdu | Uint8Array): CommandApdu {
    this.#require('card', 'open', 'unwrapCommand');
    const c = asCommandApdu(cmd);
    this.#counter++;
    if (!this.#cMac) return c;
    const info = decodeCla(c.cla);
    if (!info.gpSecureMessaging) this.#abort('SCP_CMAC_INVALID', 'command without secure messaging');
    const n = c.data.length;
    if (n < 8) this.#abort('SCP_CMAC_INVALID', 'command too short to carry a C-MAC');
    const ne = c.ne;
    const extended = n > 255 || (ne !== undefined && ne > 256) || c.extended === true;
    const body = c.data.subarray(0, n - 8);
    const mac = this.#chainMac(this.#header(c.cla, c.ins, c.p1, c.p2, n, extended), body);
    if (!equalCt(mac, c.data.subarray(n - 8))) this.#abort('SCP_CMAC_INVALID', 'C-MAC does not verify');
    const data =
      this.#cDec && body.length > 0
        ? decryptPadded(
            body,
            16,
            (b) => this.#enc.cbcDecrypt(b, this.#counterIcv(false)),
            (why) => this.#abort('SCP_CMAC_INVALID', COMMAND_DECRYPT_FAILURE[why]),
          )
        : body.slice();
    const plain: CommandApdu = {
      cla: scpWireCla(c.cla, info.channel, false),
      ins: c.ins,
      p1: c.p1,
      p2: c.p2,
      data,
      ne,
    };
    if (c.extended === true) plain.extended = true;
    return plain;
  }

  /**
   * Card: protects a response — R-ENCRYPTION of non-empty data (if on), then R-MAC — and returns the wire bytes
   * `data′ ‖ R-MAC ‖ SW`. Error SWs (not 9000/62xx/63xx) get no protection and no data: only the SW.
   * Without R-MAC the response is `data ‖ SW` unchanged.
   * @throws {ArgumentError} `BAD_ARGUMENT` on an SW outside 0..FFFF or on a host-side / unauthenticated session.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  wrapResponse(data: Uint8Array, sw: number): Uint8Array {
    this.#require('card', 'open', 'wrapResponse');
    const swBytes = responseSwBytes(data, sw);
    if (!this.#rMac) return concat(data, swBytes);
    if (!isScpProtectedSw(sw)) return swBytes;
    let body = data;
    if (this.#rEnc && data.length > 0) body = this.#enc.cbcEncrypt(padIso9797(data, 2, 16), this.#counterIcv(true));
    const mac = this.#rmac.macParts([this.#chain, body, swBytes]);
    const out = new Uint8Array(body.length + 10);
    out.set(body, 0);
    out.set(mac.subarray(0, 8), body.length);
    out.set(swBytes, body.length + 8);
    return out;
  }
}

// ---------------------------------------------------------------- card-side handshake

/** Options of {@link scp03CardInitializeUpdate}: what the ISD knows about its key set and state. */
export interface Scp03CardInitOptions {
  /** The static key set selected by the KVN of the command. */
  keys: StaticKeys;
  /** KVN of that key set (returned in the response). */
  kvn: number;
  /** Key diversification data (10 bytes, default 00×10). */
  kdd?: Uint8Array;
  /** The `i` parameter (default `70`: pseudo-random challenge, R-MAC, R-ENC). */
  i?: number;
  /** Sequence counter to use and return (0..FFFFFF), required when `i` is pseudo-random; the ISD increments it. */
  sequenceCounter?: number;
  /** AID of the security domain, required when `i` is pseudo-random. */
  aid?: Uint8Array;
  /** Card challenge to use instead of generating one (tests, replayed traces). */
  cardChallenge?: Uint8Array;
  /** Random source for the card challenge when `i` is not pseudo-random (default {@link randomBytes}). */
  random?: RandomSource;
}

/**
 * Card side between INITIALIZE UPDATE and EXTERNAL AUTHENTICATE: holds the session keys and the expected host
 * cryptogram. Single-use: {@link Scp03PendingSession.externalAuthenticate} consumes it.
 */
export class Scp03PendingSession {
  /** The host challenge of the INITIALIZE UPDATE. */
  readonly hostChallenge: Uint8Array;
  /** The card challenge returned. */
  readonly cardChallenge: Uint8Array;
  /** The `i` parameter announced. */
  readonly i: number;
  /** Logical channel of the INITIALIZE UPDATE. */
  readonly channel: number;
  #keys: Scp03SessionKeys | undefined;
  #hostCryptogram: Uint8Array;

  /** @internal Built by {@link scp03CardInitializeUpdate}. */
  constructor(
    keys: Scp03SessionKeys,
    hostChallenge: Uint8Array,
    cardChallenge: Uint8Array,
    hostCryptogram: Uint8Array,
    i: number,
    channel: number,
  ) {
    this.#keys = keys;
    this.hostChallenge = hostChallenge;
    this.cardChallenge = cardChallenge;
    this.#hostCryptogram = hostCryptogram;
    this.i = i;
    this.channel = channel;
  }

  /**
   * Checks EXTERNAL AUTHENTICATE (security level allowed by `i`, C-MAC, host cryptogram) and returns the open
   * card-side session. Consumes the pending state whatever the outcome.
   * @throws {ParseError} `SCP_SECURITY_LEVEL_INVALID` when P1 is not an SCP03 level or asks for R-MAC / R-ENC the
   *   `i` parameter does not offer (the ISD answers 6A86).
   * @throws {CryptoError} `SCP_CMAC_INVALID` (→ 6982) on a malformed command or bad C-MAC;
   *   `SCP_HOST_CRYPTOGRAM_INVALID` (→ 6300) on a wrong host cryptogram.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` when already used.
   */
  externalAuthenticate(cmd: CommandApdu | Uint8Array): Scp03Session {
    const keys = this.#keys;
    if (keys === undefined) throw new SecureChannelClosedError('externalAuthenticate');
    this.#keys = undefined;
    try {
      return cardExternalAuthenticate(cmd, this.#hostCryptogram, (c) => {
        const level = parseSecurityLevel(c.p1, 3);
        if ((level & 0x10 && !(this.i & SCP03_I.R_MAC)) || (level & 0x20 && !(this.i & SCP03_I.R_ENC)))
          throw new ParseError<GpErrorCode>(
            'SCP_SECURITY_LEVEL_INVALID',
            `security level ${level.toString(16)} not offered by i = ${this.i.toString(16)}`,
          );
        return new Scp03Session({ keys, securityLevel: level, role: 'card', channel: this.channel });
      });
    } finally {
      wipeKeys(keys);
      wipe(this.#hostCryptogram);
    }
  }
}

/**
 * Card side of INITIALIZE UPDATE: computes the card challenge (pseudo-random from the static ENC key, the
 * sequence counter and the SD AID when `i` has bit 10, else random or injected), the session keys and the card
 * cryptogram; returns the response data (without SW) and the pending state for EXTERNAL AUTHENTICATE.
 * @throws {ParseError} `SCP_INIT_UPDATE_INVALID` on a malformed INITIALIZE UPDATE (see {@link parseInitializeUpdate}).
 * @throws {ArgumentError} `BAD_ARGUMENT` on bad keys/options (e.g. pseudo-random without `sequenceCounter`/`aid`).
 */
export function scp03CardInitializeUpdate(
  cmd: CommandApdu | Uint8Array,
  opts: Scp03CardInitOptions,
): { response: Uint8Array; pending: Scp03PendingSession } {
  const iu = parseInitializeUpdate(asCommandApdu(cmd));
  checkStaticKeys(opts.keys);
  const i = opts.i ?? 0x70;
  assertUint(i, 'i', 0xff);
  const kdd = opts.kdd ?? new Uint8Array(10);
  const pseudo = (i & SCP03_I.PSEUDO_RANDOM) !== 0;
  let seq: Uint8Array | undefined;
  let cardChallenge: Uint8Array;
  if (pseudo) {
    if (opts.sequenceCounter === undefined || opts.aid === undefined)
      throw new ArgumentError('pseudo-random card challenge (i & 10) needs sequenceCounter and aid');
    seq = sequenceCounterBytes(opts.sequenceCounter);
    cardChallenge = opts.cardChallenge ?? scp03PseudoRandomChallenge(opts.keys.enc, seq, opts.aid);
  } else cardChallenge = opts.cardChallenge ?? (opts.random ?? randomBytes)(8);
  assertBytes(cardChallenge, 'cardChallenge', 8);
  const keys = scp03SessionKeys(opts.keys, iu.hostChallenge, cardChallenge);
  const { cardCryptogram, hostCryptogram } = scp03Cryptograms(keys.sMac, iu.hostChallenge, cardChallenge);
  const response = encodeScp03InitUpdateResponse({
    kdd,
    kvn: opts.kvn,
    i,
    cardChallenge,
    cardCryptogram,
    sequenceCounter: seq,
  });
  return {
    response,
    pending: new Scp03PendingSession(keys, iu.hostChallenge, copyBytes(cardChallenge), hostCryptogram, i, iu.channel),
  };
}

// ---------------------------------------------------------------- host-side handshake

/** Options of {@link Scp03Host.open}. */
export interface Scp03HostOptions {
  /** Static key set (possibly diversified with the card's KDD beforehand). */
  keys: StaticKeys;
  /** Security level to ask for in EXTERNAL AUTHENTICATE. */
  securityLevel: SecurityLevelValue;
  /** Key version number for INITIALIZE UPDATE (default 00 = first available). */
  kvn?: number;
  /** Host challenge to send instead of a random one (tests, replayed traces). */
  hostChallenge?: Uint8Array;
  /** Random source for the host challenge (default {@link randomBytes}). */
  random?: RandomSource;
  /** Logical channel (0–19, default 0). */
  channel?: number;
}

/**
 * Host side of an SCP03 secure channel over a `CardChannel` or a transmit function: {@link Scp03Host.open} authenticates, then
 * {@link Scp03Host.transmit} wraps each command and unwraps its response.
 * @example
 * const scp = await Scp03Host.open(transmit, { keys, securityLevel: 0x33 });
 * const rsp = await scp.transmit(hex`80 CA 00 66 00`); // plain data ‖ SW
 */
export class Scp03Host {
  /** The session (wrap/unwrap state). */
  readonly session: Scp03Session;
  /** What the card said in INITIALIZE UPDATE (KDD, KVN, i, challenge, sequence counter). */
  readonly cardInfo: Scp03InitUpdateResponse;
  readonly #transmit: ApduTransmit;

  private constructor(transmit: ApduTransmit, session: Scp03Session, cardInfo: Scp03InitUpdateResponse) {
    this.#transmit = transmit;
    this.session = session;
    this.cardInfo = cardInfo;
  }

  /**
   * Runs INITIALIZE UPDATE and EXTERNAL AUTHENTICATE and returns the open channel.
   * @throws {StatusWordError} `SW_xxxx` when either command does not answer 9000.
   * @throws {ParseError} `SCP_INIT_UPDATE_RESPONSE_INVALID` on a malformed INITIALIZE UPDATE response.
   * @throws {CryptoError} `SCP_CARD_CRYPTOGRAM_INVALID` when the card cryptogram does not verify (wrong keys).
   * @throws {ArgumentError} `BAD_ARGUMENT` on bad options.
   */
  static async open(link: ApduLink, opts: Scp03HostOptions): Promise<Scp03Host> {
    const transmit = transmitOf(link);
    checkStaticKeys(opts.keys);
    assertSecurityLevel(opts.securityLevel, 3);
    const { session, info } = await runHostHandshake(transmit, opts, {
      parseResponse: parseScp03InitUpdateResponse,
      derive: (info, hostChallenge) => {
        const keys = scp03SessionKeys(opts.keys, hostChallenge, info.cardChallenge);
        return { keys, ...scp03Cryptograms(keys.sMac, hostChallenge, info.cardChallenge) };
      },
      wipeKeys,
      openSession: (keys, channel) =>
        new Scp03Session({ keys, securityLevel: opts.securityLevel, role: 'host', channel }),
    });
    return new Scp03Host(transmit, session, info);
  }

  /**
   * Wraps `apdu`, sends it, and returns the unwrapped response (`data ‖ SW`, clear).
   * @throws {CryptoError} `SCP_RMAC_INVALID` when the response fails its R-MAC (the session closes).
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  async transmit(apdu: CommandApdu | Uint8Array): Promise<Uint8Array> {
    return this.session.unwrapResponse(await this.#transmit(this.session.wrapCommand(apdu)));
  }

  /** Closes the session (keys wiped). */
  close(): void {
    this.session.close();
  }
}

// ---------------------------------------------------------------- PUT KEY key data (Amd D §6.2.8, GPC 2.3 §11.8.2.3)

/**
 * Encrypts a key value for PUT KEY under the static DEK: AES-CBC, ICV 00×16 (Amd D §6.2.8; SCP03 has no
 * session DEK). A key that is not whole 16-byte blocks (AES-192) is right-padded with zeros first [K].
 * @throws {ArgumentError} `BAD_ARGUMENT` on a DEK that is not 16/24/32 bytes or an empty key.
 */
export function encryptKeyScp03(staticDek: Uint8Array, key: Uint8Array): Uint8Array {
  assertBytes(staticDek, 'staticDek', ...AES_KEY_LENGTHS);
  assertBytes(key, 'key');
  if (key.length === 0) throw new ArgumentError('key: empty');
  const padded = key.length % 16 === 0 ? key : padIso9797(key, 1, 16);
  return withCipher(new AesCipher(staticDek), (c) => c.cbcEncrypt(padded));
}

/**
 * Card side of {@link encryptKeyScp03}: decrypts and keeps the first `keyLength` bytes.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad DEK, data not whole blocks, or `keyLength` beyond the data.
 */
export function decryptKeyScp03(staticDek: Uint8Array, encrypted: Uint8Array, keyLength: number): Uint8Array {
  assertBytes(staticDek, 'staticDek', ...AES_KEY_LENGTHS);
  assertBytes(encrypted, 'encrypted');
  assertUint(keyLength, 'keyLength', encrypted.length);
  return withCipher(new AesCipher(staticDek), (c) => {
    const clear = c.cbcDecrypt(encrypted);
    const out = clear.slice(0, keyLength);
    wipe(clear);
    return out;
  });
}

/**
 * One AES key data field of PUT KEY: `88 ‖ L ‖ keyLength ‖ encryptedKey ‖ 03 ‖ KCV` (key type 88 = AES,
 * L = 1 + length of the encrypted key, KCV = AES-ECB(key, 01×16)[0:3]) (GPC 2.3 §11.8.2.3, tables 11-68/11-70).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a DEK or key that is not 16/24/32 bytes.
 */
export function scp03PutKeyData(staticDek: Uint8Array, key: Uint8Array): Uint8Array {
  assertBytes(key, 'key', ...AES_KEY_LENGTHS);
  const enc = encryptKeyScp03(staticDek, key);
  return concat(Uint8Array.of(0x88, enc.length + 1, key.length), enc, Uint8Array.of(3), kcvAes(key));
}

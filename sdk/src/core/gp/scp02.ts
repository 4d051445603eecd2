/**
 * GlobalPlatform Secure Channel Protocol 02 (GP Card Spec 2.2.1 appendix E), options i = 15 and 55: 3DES
 * session keys from the sequence counter, cryptograms, the pseudo-random card challenge, and
 * {@link Scp02Session}, the single-use secure-messaging object both ends use. {@link Scp02Host} runs the host
 * handshake over a transmit function; {@link scp02CardInitializeUpdate} and {@link Scp02PendingSession} run the
 * card side.
 *
 * Layouts (the pySim session in `test/vectors/gp-scp02.json` replays byte for byte; the rest cites GP 2.2.1):
 * - S-x = 3DES-CBC(static, const ‖ seq ‖ 00×12, ICV 0), const C-MAC 0101, R-MAC 0102, ENC 0182, DEK 0181 (E.4.1).
 * - Cryptograms: full-3DES CBC-MAC under S-ENC, pad `80…`, over `hostChal ‖ seq ‖ cardChal` (card) and
 *   `seq ‖ cardChal ‖ hostChal` (host) (E.4.2).
 * - C-MAC: ISO 9797-1 MAC algorithm 3 under S-MAC over the modified APDU `CLA′ INS P1 P2 (Lc+8) data` (CLA′ =
 *   channel 0 with b3 set), pad `80…`, Le not covered; ICV 00×8 for EXTERNAL AUTHENTICATE, afterwards the previous
 *   C-MAC, single-DES encrypted with S-MAC[0:8] (i b5, "ICV encryption") (E.3.2, E.3.4, E.4.4).
 * - C-DECRYPTION: MAC first over the clear data, then the data padded `80…` and 3DES-CBC(S-ENC, ICV 0)
 *   encrypted; no data → nothing encrypted [K] (GPPro); wire Lc = ciphertext + 8 (E.4.6).
 * - R-MAC: algorithm 3 under S-RMAC over `CLA″ INS P1 P2 Lc data ‖ Li ‖ respData ‖ SW`, pad `80…`, where the
 *   command part is the clear command without SM and channel (Lc 00 for cases 1/2), Li = response length mod 256;
 *   on an error SW Li = 00 and no data. ICV: the EXTERNAL AUTHENTICATE C-MAC (E.3.2), then the previous R-MAC;
 *   the R-MAC goes between data and SW (E.4.5). GPPro starts the R-MAC ICV at zero instead: this module
 *   follows the spec text.
 * - Short APDUs only: a protected command must fit a 1-byte Lc and Ne ≤ 256.
 *
 * @module
 */
import { assertBytes, assertUint, concat, copyBytes, equalCt, wipe } from '../bytes';
import { DesCipher, kcvDes, padIso9797, type RandomSource, RetailMac, randomBytes } from '../crypto';
import { ArgumentError, CryptoError, ParseError } from '../errors';
import { type CommandApdu, decodeCla, encodeCommandApdu } from '../iso7816';
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
  scpBareCla,
  scpMacCla,
  scpWireCla,
  securityFlags,
  splitResponse,
  transmitOf,
} from './security-level';

/** SCP02 session key derivation constants (GP 2.2.1 E.4.1). */
export const SCP02_DERIVATION = { C_MAC: 0x0101, R_MAC: 0x0102, DEK: 0x0181, ENC: 0x0182 } as const;

/** Bits of the SCP02 `i` parameter (GP 2.2.1 E.1.1). */
export const SCP02_I = {
  /** b1: three static keys (ENC, MAC, DEK) rather than one base key. */
  THREE_KEYS: 0x01,
  /** b2: C-MAC on the unmodified APDU (not supported here). */
  CMAC_ON_UNMODIFIED_APDU: 0x02,
  /** b3: explicit initiation (INITIALIZE UPDATE / EXTERNAL AUTHENTICATE). */
  EXPLICIT: 0x04,
  /** b4: ICV = MAC over the AID (implicit initiation, not supported here). */
  ICV_MAC_OVER_AID: 0x08,
  /** b5: ICV encryption for C-MAC chaining. */
  ICV_ENCRYPTION: 0x10,
  /** b6: R-MAC support. */
  R_MAC: 0x20,
  /** b7: well-known pseudo-random card challenge. */
  PSEUDO_RANDOM: 0x40,
} as const;

/** The four SCP02 session keys (16 bytes each). */
export interface Scp02SessionKeys {
  sEnc: Uint8Array;
  sMac: Uint8Array;
  sRmac: Uint8Array;
  sDek: Uint8Array;
}

function checkStaticKeys(keys: StaticKeys): void {
  checkStaticKeySet(keys, 16);
}

function wipeKeys(keys: Scp02SessionKeys): void {
  wipe(keys.sEnc, keys.sMac, keys.sRmac, keys.sDek);
}

function checkI(i: number): void {
  assertUint(i, 'i', 0xff);
  if ((i & 0x0f) !== 0x05)
    throw new ArgumentError(
      `i: ${i.toString(16).padStart(2, '0')} unsupported (need 3 keys, explicit initiation, C-MAC on the modified APDU, ICV zero: 15, 55, …)`,
    );
}

function checkKeyBlocks(b: Uint8Array, name: string): Uint8Array {
  assertBytes(b, name);
  if (b.length === 0 || b.length % 8 !== 0)
    throw new ArgumentError(`${name}: expected whole 8-byte blocks, got ${b.length} bytes`);
  return b;
}

function seqBytes(seq: number | Uint8Array): Uint8Array {
  if (seq instanceof Uint8Array) {
    assertBytes(seq, 'sequenceCounter', 2);
    return seq;
  }
  assertUint(seq, 'sequenceCounter', 0xffff);
  return Uint8Array.of(seq >>> 8, seq & 0xff);
}

function deriveKey(cipher: DesCipher, constant: number, seq: Uint8Array): Uint8Array {
  const block = new Uint8Array(16);
  block[0] = constant >>> 8;
  block[1] = constant & 0xff;
  block.set(seq, 2);
  return cipher.cbcEncrypt(block);
}

/**
 * The four session keys from the static keys and the 2-byte sequence counter (GP 2.2.1 E.4.1).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a static key that is not 16 bytes or a counter outside 0..FFFF.
 */
export function scp02SessionKeys(staticKeys: StaticKeys, sequenceCounter: number | Uint8Array): Scp02SessionKeys {
  checkStaticKeys(staticKeys);
  const seq = seqBytes(sequenceCounter);
  const enc = new DesCipher(staticKeys.enc);
  const mac = new DesCipher(staticKeys.mac);
  const dek = new DesCipher(staticKeys.dek);
  try {
    return {
      sEnc: deriveKey(enc, SCP02_DERIVATION.ENC, seq),
      sMac: deriveKey(mac, SCP02_DERIVATION.C_MAC, seq),
      sRmac: deriveKey(mac, SCP02_DERIVATION.R_MAC, seq),
      sDek: deriveKey(dek, SCP02_DERIVATION.DEK, seq),
    };
  } finally {
    enc.destroy();
    mac.destroy();
    dek.destroy();
  }
}

/** Full-3DES CBC-MAC (ISO 9797-1 alg 1 with a 2-key 3DES cipher), pad `80…`, ICV 0: the last cipher block. */
function full3desMac(cipher: DesCipher, data: Uint8Array): Uint8Array {
  const ct = cipher.cbcEncrypt(padIso9797(data, 2, 8));
  return ct.slice(ct.length - 8);
}

/**
 * The 8-byte card and host cryptograms (GP 2.2.1 E.4.2.1–2): full-3DES MAC under S-ENC over
 * `hostChallenge ‖ seq ‖ cardChallenge` and `seq ‖ cardChallenge ‖ hostChallenge`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on S-ENC not 16 bytes, a host challenge not 8, a card challenge not 6.
 */
export function scp02Cryptograms(
  sEnc: Uint8Array,
  sequenceCounter: number | Uint8Array,
  hostChallenge: Uint8Array,
  cardChallenge: Uint8Array,
): { cardCryptogram: Uint8Array; hostCryptogram: Uint8Array } {
  assertBytes(sEnc, 'sEnc', 16);
  const seq = seqBytes(sequenceCounter);
  assertBytes(hostChallenge, 'hostChallenge', 8);
  assertBytes(cardChallenge, 'cardChallenge', 6);
  return withCipher(new DesCipher(sEnc), (c) => ({
    cardCryptogram: full3desMac(c, concat(hostChallenge, seq, cardChallenge)),
    hostCryptogram: full3desMac(c, concat(seq, cardChallenge, hostChallenge)),
  }));
}

/**
 * The pseudo-random card challenge of i = 55 (GP 2.2.1 E.4.2.3): the 6 leftmost bytes of MAC algorithm 3 under
 * the C-MAC session key (derived from `staticMac` at `sequenceCounter`), ICV 0, over the AID padded `80…`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a key not 16 bytes, a counter outside 0..FFFF, an AID outside 5..16.
 */
export function scp02PseudoRandomChallenge(
  staticMac: Uint8Array,
  sequenceCounter: number | Uint8Array,
  aid: Uint8Array,
): Uint8Array {
  assertBytes(staticMac, 'staticMac', 16);
  const seq = seqBytes(sequenceCounter);
  checkSdAid(aid);
  const c = new DesCipher(staticMac);
  const sMac = deriveKey(c, SCP02_DERIVATION.C_MAC, seq);
  c.destroy();
  const mac = new RetailMac(sMac);
  try {
    return mac.mac(aid).slice(0, 6);
  } finally {
    mac.destroy();
    wipe(sMac);
  }
}

// ---------------------------------------------------------------- INITIALIZE UPDATE response (GP 2.2.1 E.5.1.6)

/** The fields of an SCP02 INITIALIZE UPDATE response. */
export interface Scp02InitUpdateResponse {
  /** Key diversification data (10 bytes). */
  kdd: Uint8Array;
  /** Key version number of the key set the card used. */
  kvn: number;
  /** 2-byte sequence counter. */
  sequenceCounter: Uint8Array;
  /** 6-byte card challenge. */
  cardChallenge: Uint8Array;
  /** 8-byte card cryptogram. */
  cardCryptogram: Uint8Array;
}

/**
 * Parses `KDD(10) ‖ KVN ‖ 02 ‖ seq(2) ‖ cardChallenge(6) ‖ cardCryptogram(8)` (28 bytes).
 * @throws {ParseError} `SCP_INIT_UPDATE_RESPONSE_INVALID` on another length or an SCP identifier other than 02.
 */
export function parseScp02InitUpdateResponse(data: Uint8Array): Scp02InitUpdateResponse {
  assertBytes(data, 'data');
  if (data.length !== 28)
    throw new ParseError<GpErrorCode>(
      'SCP_INIT_UPDATE_RESPONSE_INVALID',
      `SCP02 INITIALIZE UPDATE response must be 28 bytes, got ${data.length}`,
    );
  if (data[11] !== 0x02)
    throw new ParseError<GpErrorCode>(
      'SCP_INIT_UPDATE_RESPONSE_INVALID',
      `card answered SCP ${data[11]} where 02 was asked`,
      11,
    );
  return {
    kdd: data.slice(0, 10),
    kvn: data[10]!,
    sequenceCounter: data.slice(12, 14),
    cardChallenge: data.slice(14, 20),
    cardCryptogram: data.slice(20, 28),
  };
}

/**
 * Encodes the 28-byte INITIALIZE UPDATE response data (card side of {@link parseScp02InitUpdateResponse}).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a field of the wrong length.
 */
export function encodeScp02InitUpdateResponse(r: Scp02InitUpdateResponse): Uint8Array {
  assertBytes(r.kdd, 'kdd', 10);
  assertUint(r.kvn, 'kvn', 0xff);
  assertBytes(r.sequenceCounter, 'sequenceCounter', 2);
  assertBytes(r.cardChallenge, 'cardChallenge', 6);
  assertBytes(r.cardCryptogram, 'cardCryptogram', 8);
  const out = new Uint8Array(28);
  out.set(r.kdd, 0);
  out[10] = r.kvn;
  out[11] = 0x02;
  out.set(r.sequenceCounter, 12);
  out.set(r.cardChallenge, 14);
  out.set(r.cardCryptogram, 20);
  return out;
}

// ---------------------------------------------------------------- session

/** Options of the {@link Scp02Session} constructor. */
export interface Scp02SessionOptions {
  /** Session keys (copied; the copies are wiped on close). */
  keys: Scp02SessionKeys;
  /** Security level agreed in EXTERNAL AUTHENTICATE (00/01/03/11/13). */
  securityLevel: SecurityLevelValue;
  /** `host` wraps commands / unwraps responses; `card` does the reverse. */
  role: ScpRole;
  /** The `i` parameter (default `55`); its b5 switches ICV encryption. */
  i?: number;
  /** Logical channel the session lives on (0–19, default 0). */
  channel?: number;
}

/**
 * One SCP02 secure-channel session, single-use (STYLE §3.5): opened by EXTERNAL AUTHENTICATE, closed by
 * {@link Scp02Session.close} or a security failure. The C-MAC and R-MAC chaining values are private and never
 * reset within a session.
 *
 * Host: {@link Scp02Session.externalAuthenticateCommand}, then {@link Scp02Session.wrapCommand} /
 * {@link Scp02Session.unwrapResponse}. Card: {@link Scp02Session.acceptExternalAuthenticate}, then
 * {@link Scp02Session.unwrapCommand} / {@link Scp02Session.wrapResponse}.
 */
export class Scp02Session {
  /** The security level of the session. */
  readonly securityLevel: SecurityLevelValue;
  /** Which end this object serves. */
  readonly role: ScpRole;
  /** Logical channel of the session. */
  readonly channel: number;
  /** The `i` parameter. */
  readonly i: number;
  readonly #cMac: boolean;
  readonly #cDec: boolean;
  readonly #rMac: boolean;
  readonly #icvEncryption: boolean;
  readonly #keys: Uint8Array[];
  readonly #enc: DesCipher;
  readonly #mac: RetailMac;
  readonly #rmac: RetailMac;
  readonly #icvCipher: DesCipher;
  readonly #dek: DesCipher;
  /** Last C-MAC (raw), the source of the next ICV. */
  readonly #lastCMac = new Uint8Array(8);
  readonly #icv = new Uint8Array(8);
  /** Last R-MAC, or the EXTERNAL AUTHENTICATE C-MAC before the first response. */
  readonly #ricv = new Uint8Array(8);
  /** The stripped command the next response's R-MAC covers. */
  #rmacCommand: Uint8Array | undefined;
  #state: ScpSessionState = 'authenticating';

  /**
   * @throws {ArgumentError} `BAD_ARGUMENT` on keys that are not 16 bytes, an SCP02-invalid security level, an
   *   unsupported `i`, an unknown role or a channel outside 0..19.
   */
  constructor(opts: Scp02SessionOptions) {
    const { keys, securityLevel, role } = opts;
    assertSecurityLevel(securityLevel, 2);
    checkSessionRole(role);
    const i = opts.i ?? 0x55;
    checkI(i);
    const channel = opts.channel ?? 0;
    assertUint(channel, 'channel', 19);
    assertBytes(keys?.sEnc, 'keys.sEnc', 16);
    assertBytes(keys.sMac, 'keys.sMac', 16);
    assertBytes(keys.sRmac, 'keys.sRmac', 16);
    assertBytes(keys.sDek, 'keys.sDek', 16);
    this.securityLevel = securityLevel;
    this.role = role;
    this.channel = channel;
    this.i = i;
    const f = securityFlags(securityLevel);
    this.#cMac = f.cMac;
    this.#cDec = f.cDecryption;
    this.#rMac = f.rMac;
    this.#icvEncryption = (i & SCP02_I.ICV_ENCRYPTION) !== 0;
    this.#keys = [copyBytes(keys.sEnc), copyBytes(keys.sMac), copyBytes(keys.sRmac), copyBytes(keys.sDek)];
    this.#enc = new DesCipher(this.#keys[0]!);
    this.#mac = new RetailMac(this.#keys[1]!);
    this.#rmac = new RetailMac(this.#keys[2]!);
    this.#icvCipher = new DesCipher(this.#keys[1]!.subarray(0, 8));
    this.#dek = new DesCipher(this.#keys[3]!);
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
    this.#icvCipher.destroy();
    this.#dek.destroy();
    wipe(...this.#keys, this.#lastCMac, this.#icv, this.#ricv);
    this.#rmacCommand = undefined;
  }

  /** Never exposes key material. */
  toJSON(): string {
    return describeSession('Scp02Session', this.role, this.securityLevel, this.#state);
  }

  #require(role: ScpRole, state: ScpSessionState, what: string): void {
    checkSessionUse(this.#state, this.role, role, state, what);
  }

  #abort(code: GpErrorCode, message: string): never {
    this.close();
    throw new CryptoError<GpErrorCode>(code, message);
  }

  /** C-MAC over `CLA′ INS P1 P2 (len+8) data`, chained; remembers it as the next ICV source. */
  #cmac(cla: number, ins: number, p1: number, p2: number, data: Uint8Array, first: boolean): Uint8Array {
    const input = new Uint8Array(5 + data.length);
    input[0] = scpMacCla(cla);
    input[1] = ins;
    input[2] = p1;
    input[3] = p2;
    input[4] = data.length + 8;
    input.set(data, 5);
    const icv = this.#icv;
    if (first) icv.fill(0);
    else if (this.#icvEncryption) this.#icvCipher.encryptBlock(this.#lastCMac, 0, icv, 0);
    else icv.set(this.#lastCMac);
    this.#mac.macInto(input, this.#lastCMac, 0, icv);
    return this.#lastCMac.slice();
  }

  /** The stripped command `CLA″ INS P1 P2 Lc data` an R-MAC covers. */
  static #stripped(cla: number, ins: number, p1: number, p2: number, data: Uint8Array): Uint8Array {
    const out = new Uint8Array(5 + data.length);
    out[0] = scpBareCla(cla);
    out[1] = ins;
    out[2] = p1;
    out[3] = p2;
    out[4] = data.length;
    out.set(data, 5);
    return out;
  }

  /** R-MAC over `stripped command ‖ Li ‖ data ‖ SW`, chained from the previous R-MAC. */
  #rmacOf(command: Uint8Array, data: Uint8Array, sw: Uint8Array): Uint8Array {
    const input = new Uint8Array(command.length + 1 + data.length + 2);
    input.set(command, 0);
    input[command.length] = data.length & 0xff;
    input.set(data, command.length + 1);
    input.set(sw, command.length + 1 + data.length);
    return this.#rmac.mac(input, this.#ricv);
  }

  /**
   * Host: encrypts key data for PUT KEY under this session's S-DEK (3DES-ECB, GP 2.2.1 E.4.7).
   * @throws {ArgumentError} `BAD_ARGUMENT` on a key that is empty or not whole 8-byte blocks.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  encryptKey(key: Uint8Array): Uint8Array {
    if (this.#state === 'closed') throw new SecureChannelClosedError('encryptKey');
    return this.#dek.ecbEncrypt(checkKeyBlocks(key, 'key'));
  }

  /**
   * Card: decrypts PUT KEY key data under this session's S-DEK (3DES-ECB; nothing removed).
   * @throws {ArgumentError} `BAD_ARGUMENT` on data that is empty or not whole 8-byte blocks.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  decryptKey(encrypted: Uint8Array): Uint8Array {
    if (this.#state === 'closed') throw new SecureChannelClosedError('decryptKey');
    return this.#dek.ecbDecrypt(checkKeyBlocks(encrypted, 'encrypted'));
  }

  // ------------------------------------------------------------ EXTERNAL AUTHENTICATE

  /**
   * Host: the EXTERNAL AUTHENTICATE command `84 82 SL 00 10 hostCryptogram ‖ C-MAC` (ICV 00×8) on the session's
   * channel; the session is open afterwards.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a cryptogram that is not 8 bytes, a card-side session or a
   *   second call. @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  externalAuthenticateCommand(hostCryptogram: Uint8Array): Uint8Array {
    this.#require('host', 'authenticating', 'externalAuthenticateCommand');
    assertBytes(hostCryptogram, 'hostCryptogram', 8);
    const mac = this.#cmac(0x80, SCP_INS.EXTERNAL_AUTHENTICATE, this.securityLevel, 0, hostCryptogram, true);
    this.#ricv.set(mac);
    this.#state = 'open';
    return externalAuthenticateApdu(this.channel, this.securityLevel, hostCryptogram, mac);
  }

  /**
   * Card: verifies the C-MAC of EXTERNAL AUTHENTICATE (ICV 00×8) and returns the host cryptogram for the
   * caller to check; the session is open afterwards.
   * @throws {CryptoError} `SCP_CMAC_INVALID` (session closed; → 6982) when the command is not `84 82 SL 00` with
   *   16 bytes or the C-MAC does not verify.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  acceptExternalAuthenticate(cmd: CommandApdu | Uint8Array): Uint8Array {
    this.#require('card', 'authenticating', 'acceptExternalAuthenticate');
    const c = asCommandApdu(cmd);
    if (!isExternalAuthenticate(c, this.securityLevel))
      this.#abort('SCP_CMAC_INVALID', 'EXTERNAL AUTHENTICATE: malformed command');
    const hostCryptogram = c.data.slice(0, 8);
    const mac = this.#cmac(c.cla, c.ins, c.p1, c.p2, hostCryptogram, true);
    if (!equalCt(mac, c.data.subarray(8, 16))) this.#abort('SCP_CMAC_INVALID', 'EXTERNAL AUTHENTICATE: bad C-MAC');
    this.#ricv.set(mac);
    this.#state = 'open';
    return hostCryptogram;
  }

  // ------------------------------------------------------------ host side

  /**
   * Host: protects a command — C-MAC over the clear modified APDU, then C-DECRYPTION of the data (if on) — and
   * encodes it with the secure-messaging CLA on the session's channel; Le is kept. Level 00 only applies the
   * channel. Short APDUs only.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed APDU, a channel other than the session's, a protected
   *   command over 255 data bytes or Ne > 256, or on a card-side / not yet authenticated session.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  wrapCommand(cmd: CommandApdu | Uint8Array): Uint8Array {
    this.#require('host', 'open', 'wrapCommand');
    const c = asCommandApdu(cmd);
    const cla = checkPlainCommand(c, this.channel, this.#cMac, 'wrapCommand');
    if (!this.#cMac) return encodeCommandApdu({ ...c, cla });
    const plain = c.data;
    const n = plain.length;
    const lc = (this.#cDec && n > 0 ? n + 8 - (n % 8) : n) + 8;
    if (lc > 255 || (c.ne !== undefined && c.ne > 256))
      throw new ArgumentError(`wrapCommand: SCP02 needs a short APDU (protected Lc ${lc}, Ne ${c.ne})`);
    // Nothing below throws: the MAC chain moves only for a command that is actually wrapped.
    const mac = this.#cmac(c.cla, c.ins, c.p1, c.p2, plain, false);
    if (this.#rMac) this.#rmacCommand = Scp02Session.#stripped(c.cla, c.ins, c.p1, c.p2, plain);
    const data = this.#cDec && n > 0 ? this.#enc.cbcEncrypt(padIso9797(plain, 2, 8)) : plain;
    const body = new Uint8Array(data.length + 8);
    body.set(data, 0);
    body.set(mac, data.length);
    return encodeCommandApdu({ cla, ins: c.ins, p1: c.p1, p2: c.p2, data: body, ne: c.ne });
  }

  /**
   * Host: checks the R-MAC (constant time) of the response to the last wrapped command and returns
   * `data ‖ SW` without it. Without R-MAC the response is returned as is. An error SW that comes without an
   * R-MAC (2 bytes; e.g. the card aborted the session) is returned as is, unauthenticated.
   * @throws {CryptoError} `SCP_RMAC_INVALID` (the session is closed) when the R-MAC is missing or wrong.
   * @throws {ParseError} `RAPDU_TOO_SHORT` on fewer than 2 bytes.
   * @throws {ArgumentError} `BAD_ARGUMENT` when no wrapped command awaits its response.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  unwrapResponse(rapdu: Uint8Array): Uint8Array {
    this.#require('host', 'open', 'unwrapResponse');
    const { sw } = splitResponse(rapdu, 'unwrapResponse');
    if (!this.#rMac) return copyBytes(rapdu);
    const n = rapdu.length;
    const swBytes = rapdu.subarray(n - 2);
    const command = this.#rmacCommand;
    if (command === undefined) throw new ArgumentError('unwrapResponse: no wrapped command awaits a response');
    const protectedSw = isScpProtectedSw(sw);
    if (!protectedSw && n === 2) {
      this.#rmacCommand = undefined;
      return copyBytes(rapdu);
    }
    if (n < 10 || (!protectedSw && n !== 10)) this.#abort('SCP_RMAC_INVALID', 'response does not carry an R-MAC');
    const data = rapdu.subarray(0, n - 10);
    const expected = this.#rmacOf(command, data, swBytes);
    if (!equalCt(expected, rapdu.subarray(n - 10, n - 2))) this.#abort('SCP_RMAC_INVALID', 'R-MAC does not verify');
    this.#ricv.set(expected);
    this.#rmacCommand = undefined;
    return concat(data, swBytes);
  }

  // ------------------------------------------------------------ card side

  /**
   * Card: removes C-DECRYPTION and verifies the C-MAC (constant time); returns the plain command with the
   * secure-messaging bit cleared (channel kept). Level 00 returns the command unchanged.
   * @throws {CryptoError} `SCP_CMAC_INVALID` (the session is closed; → 6982) when the command has no
   *   secure-messaging CLA, is too short, extended, not decryptable, or the C-MAC is wrong.
   * @throws {ApduError} `APDU_TOO_SHORT` / `APDU_BAD_LENGTH` when raw bytes do not parse.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  unwrapCommand(cmd: CommandApdu | Uint8Array): CommandApdu {
    this.#require('card', 'open', 'unwrapCommand');
    const c = asCommandApdu(cmd);
    if (!this.#cMac) return c;
    const info = decodeCla(c.cla);
    if (!info.gpSecureMessaging) this.#abort('SCP_CMAC_INVALID', 'command without secure messaging');
    const n = c.data.length;
    if (n < 8 || n > 255 || c.extended === true)
      this.#abort('SCP_CMAC_INVALID', 'command length does not fit SCP02 (short APDU with a C-MAC)');
    const body = c.data.subarray(0, n - 8);
    const plain =
      this.#cDec && body.length > 0
        ? decryptPadded(
            body,
            8,
            (b) => this.#enc.cbcDecrypt(b),
            (why) => this.#abort('SCP_CMAC_INVALID', COMMAND_DECRYPT_FAILURE[why]),
          )
        : body.slice();
    const mac = this.#cmac(c.cla, c.ins, c.p1, c.p2, plain, false);
    if (!equalCt(mac, c.data.subarray(n - 8))) this.#abort('SCP_CMAC_INVALID', 'C-MAC does not verify');
    if (this.#rMac) this.#rmacCommand = Scp02Session.#stripped(c.cla, c.ins, c.p1, c.p2, plain);
    return { cla: scpWireCla(c.cla, info.channel, false), ins: c.ins, p1: c.p1, p2: c.p2, data: plain, ne: c.ne };
  }

  /**
   * Card: appends the R-MAC to a response, `data ‖ R-MAC ‖ SW`; on an error SW (not 9000/62xx/63xx) the data
   * is dropped and the R-MAC covers Li = 00 (GP 2.2.1 E.4.5). Without R-MAC the response is `data ‖ SW`.
   * @throws {ArgumentError} `BAD_ARGUMENT` on an SW outside 0..FFFF, no unwrapped command to answer, or a
   *   host-side / unauthenticated session.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  wrapResponse(data: Uint8Array, sw: number): Uint8Array {
    this.#require('card', 'open', 'wrapResponse');
    const swBytes = responseSwBytes(data, sw);
    if (!this.#rMac) return concat(data, swBytes);
    const command = this.#rmacCommand;
    if (command === undefined) throw new ArgumentError('wrapResponse: no unwrapped command to answer');
    this.#rmacCommand = undefined;
    const body = isScpProtectedSw(sw) ? data : new Uint8Array(0);
    const mac = this.#rmacOf(command, body, swBytes);
    this.#ricv.set(mac);
    return concat(body, mac, swBytes);
  }
}

// ---------------------------------------------------------------- card-side handshake

/** Options of {@link scp02CardInitializeUpdate}: what the ISD knows about its key set and state. */
export interface Scp02CardInitOptions {
  /** The static key set selected by the KVN of the command. */
  keys: StaticKeys;
  /** KVN of that key set (returned in the response). */
  kvn: number;
  /** Sequence counter of the key set (0..FFFF); session keys derive from it. The ISD increments it afterwards. */
  sequenceCounter: number;
  /** Key diversification data (10 bytes, default 00×10). */
  kdd?: Uint8Array;
  /** The `i` parameter (default `55`). */
  i?: number;
  /** AID of the security domain, required for a pseudo-random challenge (i b7, e.g. 55). */
  aid?: Uint8Array;
  /** Card challenge to use instead of generating one (tests, replayed traces). */
  cardChallenge?: Uint8Array;
  /** Random source for the card challenge when not pseudo-random (default {@link randomBytes}). */
  random?: RandomSource;
}

/**
 * Card side between INITIALIZE UPDATE and EXTERNAL AUTHENTICATE. Single-use:
 * {@link Scp02PendingSession.externalAuthenticate} consumes it.
 */
export class Scp02PendingSession {
  /** The host challenge of the INITIALIZE UPDATE. */
  readonly hostChallenge: Uint8Array;
  /** The card challenge returned. */
  readonly cardChallenge: Uint8Array;
  /** The `i` parameter. */
  readonly i: number;
  /** Logical channel of the INITIALIZE UPDATE. */
  readonly channel: number;
  #keys: Scp02SessionKeys | undefined;
  #hostCryptogram: Uint8Array;

  /** @internal Built by {@link scp02CardInitializeUpdate}. */
  constructor(
    keys: Scp02SessionKeys,
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
   * Checks EXTERNAL AUTHENTICATE (security level, C-MAC, host cryptogram) and returns the open card-side
   * session. Consumes the pending state whatever the outcome. R-MAC levels are accepted whatever b6 of `i`
   * says [K].
   * @throws {ParseError} `SCP_SECURITY_LEVEL_INVALID` when P1 is not an SCP02 level (→ 6A86).
   * @throws {CryptoError} `SCP_CMAC_INVALID` (→ 6982) on a malformed command or bad C-MAC;
   *   `SCP_HOST_CRYPTOGRAM_INVALID` (→ 6300) on a wrong host cryptogram.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` when already used.
   */
  externalAuthenticate(cmd: CommandApdu | Uint8Array): Scp02Session {
    const keys = this.#keys;
    if (keys === undefined) throw new SecureChannelClosedError('externalAuthenticate');
    this.#keys = undefined;
    try {
      return cardExternalAuthenticate(
        cmd,
        this.#hostCryptogram,
        (c) =>
          new Scp02Session({
            keys,
            securityLevel: parseSecurityLevel(c.p1, 2),
            role: 'card',
            i: this.i,
            channel: this.channel,
          }),
      );
    } finally {
      wipeKeys(keys);
      wipe(this.#hostCryptogram);
    }
  }
}

/**
 * Card side of INITIALIZE UPDATE: derives the session keys from the sequence counter, computes the card
 * challenge (pseudo-random from the AID when `i` has b7, else random or injected) and the card cryptogram;
 * returns the 28-byte response data (without SW) and the pending state for EXTERNAL AUTHENTICATE.
 * @throws {ParseError} `SCP_INIT_UPDATE_INVALID` on a malformed INITIALIZE UPDATE.
 * @throws {ArgumentError} `BAD_ARGUMENT` on bad keys/options (e.g. i = 55 without `aid`).
 */
export function scp02CardInitializeUpdate(
  cmd: CommandApdu | Uint8Array,
  opts: Scp02CardInitOptions,
): { response: Uint8Array; pending: Scp02PendingSession } {
  const iu = parseInitializeUpdate(asCommandApdu(cmd));
  checkStaticKeys(opts.keys);
  const i = opts.i ?? 0x55;
  checkI(i);
  const seq = seqBytes(opts.sequenceCounter);
  const keys = scp02SessionKeys(opts.keys, seq);
  let cardChallenge: Uint8Array;
  if (opts.cardChallenge !== undefined) cardChallenge = opts.cardChallenge;
  else if (i & SCP02_I.PSEUDO_RANDOM) {
    if (opts.aid === undefined) throw new ArgumentError('pseudo-random card challenge (i & 40) needs aid');
    cardChallenge = scp02PseudoRandomChallenge(opts.keys.mac, seq, opts.aid);
  } else cardChallenge = (opts.random ?? randomBytes)(6);
  assertBytes(cardChallenge, 'cardChallenge', 6);
  const { cardCryptogram, hostCryptogram } = scp02Cryptograms(keys.sEnc, seq, iu.hostChallenge, cardChallenge);
  const response = encodeScp02InitUpdateResponse({
    kdd: opts.kdd ?? new Uint8Array(10),
    kvn: opts.kvn,
    sequenceCounter: copyBytes(seq),
    cardChallenge,
    cardCryptogram,
  });
  return {
    response,
    pending: new Scp02PendingSession(keys, iu.hostChallenge, copyBytes(cardChallenge), hostCryptogram, i, iu.channel),
  };
}

// ---------------------------------------------------------------- host-side handshake

/** Options of {@link Scp02Host.open}. */
export interface Scp02HostOptions {
  /** Static key set (16-byte 3DES keys, possibly diversified with the card's KDD beforehand). */
  keys: StaticKeys;
  /** Security level to ask for in EXTERNAL AUTHENTICATE (00/01/03/11/13). */
  securityLevel: SecurityLevelValue;
  /** Key version number for INITIALIZE UPDATE (default 00 = first available). */
  kvn?: number;
  /** The card's `i` parameter (default `55`; only its ICV-encryption bit matters to the host). */
  i?: number;
  /** Host challenge to send instead of a random one (tests, replayed traces). */
  hostChallenge?: Uint8Array;
  /** Random source for the host challenge (default {@link randomBytes}). */
  random?: RandomSource;
  /** Logical channel (0–19, default 0). */
  channel?: number;
}

/**
 * Host side of an SCP02 secure channel over a `CardChannel` or a transmit function: {@link Scp02Host.open} authenticates, then
 * {@link Scp02Host.transmit} wraps each command and unwraps its response.
 * @example
 * const scp = await Scp02Host.open(transmit, { keys, securityLevel: 0x03 });
 * const rsp = await scp.transmit(hex`80 F2 20 02 02 4F 00 00`); // data ‖ SW
 */
export class Scp02Host {
  /** The session (wrap/unwrap state). */
  readonly session: Scp02Session;
  /** What the card said in INITIALIZE UPDATE (KDD, KVN, sequence counter, challenge). */
  readonly cardInfo: Scp02InitUpdateResponse;
  readonly #transmit: ApduTransmit;

  private constructor(transmit: ApduTransmit, session: Scp02Session, cardInfo: Scp02InitUpdateResponse) {
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
  static async open(link: ApduLink, opts: Scp02HostOptions): Promise<Scp02Host> {
    const transmit = transmitOf(link);
    checkStaticKeys(opts.keys);
    assertSecurityLevel(opts.securityLevel, 2);
    const i = opts.i ?? 0x55;
    checkI(i);
    const { session, info } = await runHostHandshake(transmit, opts, {
      parseResponse: parseScp02InitUpdateResponse,
      derive: (info, hostChallenge) => {
        const keys = scp02SessionKeys(opts.keys, info.sequenceCounter);
        return { keys, ...scp02Cryptograms(keys.sEnc, info.sequenceCounter, hostChallenge, info.cardChallenge) };
      },
      wipeKeys,
      openSession: (keys, channel) =>
        new Scp02Session({ keys, securityLevel: opts.securityLevel, role: 'host', i, channel }),
    });
    return new Scp02Host(transmit, session, info);
  }

  /**
   * Wraps `apdu`, sends it, and returns the unwrapped response (`data ‖ SW`).
   * @throws {CryptoError} `SCP_RMAC_INVALID` when the response fails its R-MAC (the session closes).
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  async transmit(apdu: CommandApdu | Uint8Array): Promise<Uint8Array> {
    return this.session.unwrapResponse(await this.#transmit(this.session.wrapCommand(apdu)));
  }

  /**
   * Encrypts a 3DES key for PUT KEY under this session's S-DEK ({@link encryptKeyScp02}).
   * @throws {ArgumentError} `BAD_ARGUMENT` on a key that is empty or not whole 8-byte blocks.
   * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` after close.
   */
  encryptKey(key: Uint8Array): Uint8Array {
    return this.session.encryptKey(key);
  }

  /** Closes the session (keys wiped). */
  close(): void {
    this.session.close();
  }
}

// ---------------------------------------------------------------- PUT KEY key data (GP 2.2.1 E.4.7, §11.8.2.3)

/**
 * Encrypts key data for PUT KEY: 3DES-ECB under the session DEK (GP 2.2.1 E.4.7, explicit initiation).
 * @throws {ArgumentError} `BAD_ARGUMENT` on S-DEK not 16 bytes or a key that is empty / not whole 8-byte blocks.
 */
export function encryptKeyScp02(sDek: Uint8Array, key: Uint8Array): Uint8Array {
  assertBytes(sDek, 'sDek', 16);
  checkKeyBlocks(key, 'key');
  return withCipher(new DesCipher(sDek), (c) => c.ecbEncrypt(key));
}

/**
 * Card side of {@link encryptKeyScp02}: 3DES-ECB decryption under the session DEK, nothing removed.
 * @throws {ArgumentError} `BAD_ARGUMENT` on S-DEK not 16 bytes or data not whole 8-byte blocks.
 */
export function decryptKeyScp02(sDek: Uint8Array, encrypted: Uint8Array): Uint8Array {
  assertBytes(sDek, 'sDek', 16);
  checkKeyBlocks(encrypted, 'encrypted');
  return withCipher(new DesCipher(sDek), (c) => c.ecbDecrypt(encrypted));
}

/**
 * One 3DES key data field of PUT KEY: `80 10 encryptedKey(16) 03 KCV` (key type 80 = DES, KCV =
 * 3DES-ECB(key, 00×8)[0:3]) (GP 2.2.1 §11.8.2.3, table 11-71).
 * @throws {ArgumentError} `BAD_ARGUMENT` on S-DEK or key not 16 bytes.
 */
export function scp02PutKeyData(sDek: Uint8Array, key: Uint8Array): Uint8Array {
  assertBytes(key, 'key', 16);
  return concat(Uint8Array.of(0x80, 0x10), encryptKeyScp02(sDek, key), Uint8Array.of(3), kcvDes(key));
}

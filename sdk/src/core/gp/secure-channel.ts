/**
 * Plumbing SCP02 and SCP03 share and that does not depend on the cipher: the session life cycle checks, the
 * EXTERNAL AUTHENTICATE command shape, padded-data decryption with a session abort, the card-side end of the
 * handshake and the host-side INITIALIZE UPDATE / EXTERNAL AUTHENTICATE exchange. Not exported from the package.
 *
 * @module
 * @internal
 */
import { assertBytes, assertUint, equalCt } from '../bytes';
import { type RandomSource, randomBytes, unpadIso7816 } from '../crypto';
import { ArgumentError, CryptoError } from '../errors';
import { type CommandApdu, decodeCla, encodeCommandApdu, parseCommandApdu, statusWordError } from '../iso7816';
import type { StaticKeys } from './diversification';
import {
  type ApduTransmit,
  type GpErrorCode,
  initializeUpdateCommand,
  SCP_INS,
  type ScpRole,
  SecureChannelClosedError,
  type SecurityLevelValue,
  scpWireCla,
  splitResponse,
} from './security-level';

/**
 * Where a session stands: waiting for EXTERNAL AUTHENTICATE, open, or closed for good.
 * @internal
 */
export type ScpSessionState = 'authenticating' | 'open' | 'closed';

/**
 * The command as a {@link CommandApdu}, parsing raw bytes.
 * @throws {ApduError} `APDU_TOO_SHORT` / `APDU_BAD_LENGTH` when raw bytes do not parse.
 * @internal
 */
export function asCommandApdu(cmd: CommandApdu | Uint8Array): CommandApdu {
  return cmd instanceof Uint8Array ? parseCommandApdu(cmd) : cmd;
}

/**
 * Runs `fn` with a cipher (or MAC) object and destroys it afterwards, whatever happens.
 * @internal
 */
export function withCipher<C extends { destroy(): void }, R>(cipher: C, fn: (cipher: C) => R): R {
  try {
    return fn(cipher);
  } finally {
    cipher.destroy();
  }
}

/**
 * Checks a static key set `{ enc, mac, dek }` whose keys each have one of `lengths` bytes.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `keys` is not an object or a key has another length.
 * @internal
 */
export function checkStaticKeySet(keys: StaticKeys, ...lengths: number[]): void {
  if (typeof keys !== 'object' || keys === null) throw new ArgumentError('keys: expected { enc, mac, dek }');
  assertBytes(keys.enc, 'keys.enc', ...lengths);
  assertBytes(keys.mac, 'keys.mac', ...lengths);
  assertBytes(keys.dek, 'keys.dek', ...lengths);
}

/**
 * Checks the AID of a security domain that enters a pseudo-random card challenge (5..16 bytes).
 * @throws {ArgumentError} `BAD_ARGUMENT` on another length.
 * @internal
 */
export function checkSdAid(aid: Uint8Array): void {
  assertBytes(aid, 'aid');
  if (aid.length < 5 || aid.length > 16) throw new ArgumentError(`aid: expected 5..16 bytes, got ${aid.length}`);
}

/**
 * Checks the role handed to a session constructor.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown role.
 * @internal
 */
export function checkSessionRole(role: ScpRole): void {
  if (role !== 'host' && role !== 'card') throw new ArgumentError(`role: expected 'host' or 'card'`);
}

/**
 * Checks that a session in `state` serving `role` may run `what`, which needs `wantRole` and `wantState`.
 * @throws {SecureChannelClosedError} `SCP_SESSION_CLOSED` when the session is closed.
 * @throws {ArgumentError} `BAD_ARGUMENT` on the wrong role or state.
 * @internal
 */
export function checkSessionUse(
  state: ScpSessionState,
  role: ScpRole,
  wantRole: ScpRole,
  wantState: ScpSessionState,
  what: string,
): void {
  if (state === 'closed') throw new SecureChannelClosedError(what);
  if (role !== wantRole) throw new ArgumentError(`${what}: not available on a ${role}-side session`);
  if (state !== wantState)
    throw new ArgumentError(
      `${what}: ${wantState === 'open' ? 'EXTERNAL AUTHENTICATE has not completed' : 'already authenticated'}`,
    );
}

/**
 * `Scp0xSession(role, level LL, state)`: what a session's `toJSON` shows (never key material).
 * @internal
 */
export function describeSession(
  name: string,
  role: ScpRole,
  level: SecurityLevelValue,
  state: ScpSessionState,
): string {
  return `${name}(${role}, level ${level.toString(16).padStart(2, '0')}, ${state})`;
}

/**
 * Checks the data and SW a card-side session is asked to protect and returns the 2 SW bytes.
 * @throws {ArgumentError} `BAD_ARGUMENT` on data that is not bytes or an SW outside 0..FFFF.
 * @internal
 */
export function responseSwBytes(data: Uint8Array, sw: number): Uint8Array {
  assertBytes(data, 'data');
  assertUint(sw, 'sw', 0xffff);
  return Uint8Array.of(sw >>> 8, sw & 0xff);
}

/**
 * The wire EXTERNAL AUTHENTICATE `84 82 SL 00 10 hostCryptogram ‖ C-MAC` on logical `channel`.
 * @internal
 */
export function externalAuthenticateApdu(
  channel: number,
  level: SecurityLevelValue,
  hostCryptogram: Uint8Array,
  mac: Uint8Array,
): Uint8Array {
  const data = new Uint8Array(hostCryptogram.length + mac.length);
  data.set(hostCryptogram, 0);
  data.set(mac, hostCryptogram.length);
  return encodeCommandApdu({
    cla: scpWireCla(0x80, channel, true),
    ins: SCP_INS.EXTERNAL_AUTHENTICATE,
    p1: level,
    p2: 0,
    data,
    ne: undefined,
  });
}

/**
 * True when `c` has the shape of an EXTERNAL AUTHENTICATE at `level`: INS 82 with a GlobalPlatform
 * secure-messaging CLA, P1 = level, P2 = 00 and 16 data bytes (the CLA is decoded only once INS matches).
 * @internal
 */
export function isExternalAuthenticate(c: CommandApdu, level: SecurityLevelValue): boolean {
  return (
    c.ins === SCP_INS.EXTERNAL_AUTHENTICATE &&
    decodeCla(c.cla).gpSecureMessaging &&
    c.p1 === level &&
    c.p2 === 0 &&
    c.data.length === 16
  );
}

/**
 * Why {@link decryptPadded} gave up: `blocks` (not whole blocks) or `padding` (not padded `80 00…`).
 * @internal
 */
export type DecryptFailure = 'blocks' | 'padding';

/**
 * The messages of a command whose C-DECRYPTION data does not decrypt.
 * @internal
 */
export const COMMAND_DECRYPT_FAILURE: Readonly<Record<DecryptFailure, string>> = {
  blocks: 'encrypted data is not whole blocks',
  padding: 'decrypted data is not padded 80 00…',
};

/**
 * Decrypts `body` (whole `blockSize` blocks) and removes its `80 00…` padding; on failure calls `fail`, which
 * aborts the session.
 * @internal
 */
export function decryptPadded(
  body: Uint8Array,
  blockSize: number,
  decrypt: (body: Uint8Array) => Uint8Array,
  fail: (why: DecryptFailure) => never,
): Uint8Array {
  if (body.length % blockSize !== 0) fail('blocks');
  try {
    return unpadIso7816(decrypt(body), blockSize);
  } catch {
    return fail('padding');
  }
}

/**
 * What the card-side end of the handshake needs of a session.
 * @internal
 */
export interface CardSideSession {
  acceptExternalAuthenticate(cmd: CommandApdu): Uint8Array;
  close(): void;
}

/**
 * Card side of EXTERNAL AUTHENTICATE after INITIALIZE UPDATE: `open` checks P1 and builds the session, whose
 * C-MAC check returns the host cryptogram; that must equal `expected` (constant time).
 * @throws {CryptoError} `SCP_HOST_CRYPTOGRAM_INVALID` on a wrong host cryptogram (the session is closed), and
 *   whatever `open` or the C-MAC check throw.
 * @internal
 */
export function cardExternalAuthenticate<S extends CardSideSession>(
  cmd: CommandApdu | Uint8Array,
  expected: Uint8Array,
  open: (c: CommandApdu) => S,
): S {
  const c = asCommandApdu(cmd);
  const session = open(c);
  const hostCryptogram = session.acceptExternalAuthenticate(c);
  if (!equalCt(hostCryptogram, expected)) {
    session.close();
    throw new CryptoError<GpErrorCode>('SCP_HOST_CRYPTOGRAM_INVALID', 'EXTERNAL AUTHENTICATE: wrong host cryptogram');
  }
  return session;
}

/**
 * The host options both protocols take for INITIALIZE UPDATE.
 * @internal
 */
export interface HostHandshakeOptions {
  kvn?: number;
  hostChallenge?: Uint8Array;
  random?: RandomSource;
  channel?: number;
}

/**
 * The protocol-specific steps of the host handshake.
 * @internal
 */
export interface HostHandshakeSteps<I extends { cardCryptogram: Uint8Array }, K, S> {
  /** Parses the INITIALIZE UPDATE response data. */
  parseResponse(data: Uint8Array): I;
  /** Session keys and both cryptograms from the card's answer. */
  derive(info: I, hostChallenge: Uint8Array): { keys: K; cardCryptogram: Uint8Array; hostCryptogram: Uint8Array };
  /** Wipes the session keys `derive` returned. */
  wipeKeys(keys: K): void;
  /** The host-side session (which copies the keys). */
  openSession(keys: K, channel: number): S;
}

/**
 * Host side of the handshake over `transmit`: INITIALIZE UPDATE, card cryptogram check, EXTERNAL AUTHENTICATE.
 * @throws {StatusWordError} `SW_xxxx` when either command does not answer 9000.
 * @throws {CryptoError} `SCP_CARD_CRYPTOGRAM_INVALID` when the card cryptogram does not verify.
 * @internal
 */
export async function runHostHandshake<
  I extends { cardCryptogram: Uint8Array },
  K,
  S extends { externalAuthenticateCommand(hostCryptogram: Uint8Array): Uint8Array; close(): void },
>(
  transmit: ApduTransmit,
  opts: HostHandshakeOptions,
  steps: HostHandshakeSteps<I, K, S>,
): Promise<{ session: S; info: I }> {
  const channel = opts.channel ?? 0;
  const hostChallenge = opts.hostChallenge ?? (opts.random ?? randomBytes)(8);
  const iuCmd = initializeUpdateCommand(opts.kvn ?? 0, hostChallenge, channel);
  const iu = splitResponse(await transmit(encodeCommandApdu(iuCmd)), 'INITIALIZE UPDATE');
  if (iu.sw !== 0x9000) throw statusWordError(iu.sw, 'INITIALIZE UPDATE');
  const info = steps.parseResponse(iu.data);
  const { keys, cardCryptogram, hostCryptogram } = steps.derive(info, hostChallenge);
  if (!equalCt(cardCryptogram, info.cardCryptogram)) {
    steps.wipeKeys(keys);
    throw new CryptoError<GpErrorCode>('SCP_CARD_CRYPTOGRAM_INVALID', 'card cryptogram does not verify: wrong keys?');
  }
  const session = steps.openSession(keys, channel);
  steps.wipeKeys(keys);
  const ea = splitResponse(
    await transmit(session.externalAuthenticateCommand(hostCryptogram)),
    'EXTERNAL AUTHENTICATE',
  );
  if (ea.sw !== 0x9000) {
    session.close();
    throw statusWordError(ea.sw, 'EXTERNAL AUTHENTICATE');
  }
  return { session, info };
}

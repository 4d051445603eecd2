/**
 * The card side of GlobalPlatform secure channels in the ISD: INITIALIZE UPDATE and EXTERNAL AUTHENTICATE for
 * SCP02 (i = 15 / 55) and SCP03 (i = 00 / 10 / 30 / 70), the per-channel session state, and secure messaging
 * of the commands that follow. The maths is `@simtap/sdk/core/gp`; this module adds the card's rules:
 *
 * - **State** lives in the channel's transient memory (`ctx.transient`), so a session belongs to one
 *   (interface, logical channel) and ends when the ISD is deselected or reselected, the channel closes, or the
 *   interface is reset or powered off. A new INITIALIZE UPDATE ends the current session first.
 * - **Key set.** P1 of INITIALIZE UPDATE is the KVN; 00 takes the first key set. Unknown KVN → 6A88 (unless
 *   the `ignoreUnknownKvn` quirk is on, then the first key set answers, as some cards do).
 * - **Sequence counter** (per key set, persistent): incremented in its own transaction by every INITIALIZE
 *   UPDATE that uses it — always for SCP02 (session keys derive from it), for SCP03 when `i` b5 (pseudo-random
 *   card challenge) is set — and the incremented value is the one used and returned. At its maximum (FFFF /
 *   FFFFFF) INITIALIZE UPDATE answers 6985.
 * - **Card challenge**: an injected one (test hook) if given, else pseudo-random when `i` says so (SCP03 b5,
 *   SCP02 b7), else drawn from the card's random source.
 * - **Errors**: wrong host cryptogram 6300, bad C-MAC / malformed EXTERNAL AUTHENTICATE 6982, security level the
 *   protocol or `i` does not offer 6A86, EXTERNAL AUTHENTICATE without a pending INITIALIZE UPDATE 6985. Any
 *   security error ends the session.
 *
 * @module
 */
import { wipe } from '@simtap/sdk/core/bytes';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import {
  decryptKeyScp03,
  decryptSecretDgi,
  GP_ERRORS,
  type Scp02PendingSession,
  type Scp02Session,
  type Scp03PendingSession,
  type Scp03Session,
  type SecurityLevelValue,
  scp02CardInitializeUpdate,
  scp03CardInitializeUpdate,
  scp03DgiCipher,
} from '@simtap/sdk/core/gp';
import { type CommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import type { ApduContext, CardInterface } from '../../runtime/applet';
import { findKeySet, maxSequenceCounter, readCounter, readKeySets, readKeys } from './key-sets';

/** What the card-challenge hook is told about the INITIALIZE UPDATE being answered. */
export interface IsdChallengeRequest {
  readonly scp: 2 | 3;
  readonly kvn: number;
  readonly i: number;
  /** The sequence counter value this INITIALIZE UPDATE uses (already incremented). */
  readonly sequenceCounter: number;
  readonly iface: CardInterface;
  readonly channel: number;
}

/**
 * Test hook: returns the card challenge to use (6 bytes SCP02, 8 bytes SCP03) or `undefined` for the normal
 * one. Lets tests replay recorded sessions and make random-challenge sessions deterministic.
 */
export type IsdChallengeHook = (request: IsdChallengeRequest) => Uint8Array | undefined;

/** Either protocol's card-side session. */
export type ScpSession = Scp02Session | Scp03Session;

/** The secure-channel state of one channel. */
export type ScpState =
  | {
      readonly kind: 'pending';
      readonly scp: 2 | 3;
      readonly kvn: number;
      readonly pending: Scp02PendingSession | Scp03PendingSession;
      /** SCP03: copy of the key set's static DEK (PUT KEY decryption); empty for SCP02. */
      readonly dek: Uint8Array;
    }
  | {
      readonly kind: 'open';
      readonly scp: 2 | 3;
      readonly kvn: number;
      readonly level: SecurityLevelValue;
      readonly session: ScpSession;
      readonly dek: Uint8Array;
    };

/** The open-session variant of {@link ScpState}. */
export type OpenScp = Extract<ScpState, { kind: 'open' }>;

/** Keys of the ISD's per-channel transient state. */
export const TRANSIENT = {
  SCP: 'isd.scp',
  /** STORE DATA sequence: target and next block number. */
  PERSO: 'isd.perso',
  /** GET STATUS continuation after 6310. */
  STATUS: 'isd.status',
} as const;

/** What INITIALIZE UPDATE needs besides the command. */
export interface InitializeUpdateParams {
  readonly aid: Uint8Array;
  readonly kdd: Uint8Array;
  readonly scp02I: number;
  readonly scp03I: number;
  readonly ignoreUnknownKvn: boolean;
  readonly challenge: IsdChallengeHook | undefined;
}

/** The channel's secure-channel state, if any. */
export function scpState(ctx: ApduContext): ScpState | undefined {
  return ctx.transient.get<ScpState>(TRANSIENT.SCP);
}

/** Ends the channel's session (pending or open): keys wiped, STORE DATA and GET STATUS state dropped. */
export function endSession(ctx: ApduContext): void {
  const s = ctx.transient.get<ScpState>(TRANSIENT.SCP);
  if (s !== undefined) {
    if (s.kind === 'open') s.session.close();
    wipe(s.dek);
    ctx.transient.delete(TRANSIENT.SCP);
  }
  ctx.transient.delete(TRANSIENT.PERSO);
  ctx.transient.delete(TRANSIENT.STATUS);
}

/**
 * INITIALIZE UPDATE `80 50 KVN 00 08 hostChallenge [Le]`: ends any session on the channel, picks the key set,
 * increments its sequence counter and answers the SCP02 (28 bytes) or SCP03 (29/32 bytes) response.
 * @throws {IsoException} 6A86 (P2 ≠ 00), 6700 (host challenge not 8 bytes), 6A88 (no such key set), 6985
 *   (sequence counter exhausted).
 */
export function initializeUpdate(ctx: ApduContext, cmd: CommandApdu, params: InitializeUpdateParams): Uint8Array {
  endSession(ctx);
  if (cmd.p2 !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
  if (cmd.data.length !== 8) IsoException.throwIt(SW.WRONG_LENGTH);
  const store = ctx.store;
  let ks = cmd.p1 === 0 ? readKeySets(store)[0] : findKeySet(store, cmd.p1);
  if (ks === undefined && params.ignoreUnknownKvn) ks = readKeySets(store)[0];
  if (ks === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
  const scp = ks.scp;
  const i = scp === 2 ? params.scp02I : params.scp03I;
  const usesCounter = scp === 2 || (i & 0x10) !== 0;
  let seq = readCounter(store, ks.kvn);
  if (usesCounter) {
    if (seq >= maxSequenceCounter(scp)) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    seq += 1;
  }
  const cardChallenge = params.challenge?.({
    scp,
    kvn: ks.kvn,
    i,
    sequenceCounter: seq,
    iface: ctx.iface,
    channel: ctx.channel,
  });
  const keys = readKeys(store, ks);
  const random = (n: number): Uint8Array => ctx.random(n);
  try {
    const r =
      scp === 3
        ? scp03CardInitializeUpdate(cmd, {
            keys,
            kvn: ks.kvn,
            kdd: params.kdd,
            i,
            sequenceCounter: usesCounter ? seq : undefined,
            aid: params.aid,
            cardChallenge,
            random,
          })
        : scp02CardInitializeUpdate(cmd, {
            keys,
            kvn: ks.kvn,
            sequenceCounter: seq,
            kdd: params.kdd,
            i,
            aid: params.aid,
            cardChallenge,
            random,
          });
    const kvn = ks.kvn;
    if (usesCounter) ctx.atomically(() => store.put(`seq/${kvn}`, seq));
    const dek = scp === 3 ? keys.dek.slice() : new Uint8Array(0);
    ctx.transient.set(TRANSIENT.SCP, { kind: 'pending', scp, kvn, pending: r.pending, dek } satisfies ScpState, () =>
      wipe(dek),
    );
    return r.response;
  } finally {
    wipe(keys.enc, keys.mac, keys.dek);
  }
}

/**
 * EXTERNAL AUTHENTICATE `84 82 SL 00 10 hostCryptogram C-MAC` after INITIALIZE UPDATE on the same channel:
 * opens the session at security level SL.
 * @throws {IsoException} 6300 (wrong host cryptogram), 6982 (no secure messaging indication, malformed, bad
 *   C-MAC), 6A86 (security level not offered); the pending state is consumed whatever the outcome.
 */
export function externalAuthenticate(
  ctx: ApduContext,
  cmd: CommandApdu,
  state: Extract<ScpState, { kind: 'pending' }>,
): undefined {
  ctx.transient.delete(TRANSIENT.SCP);
  let session: ScpSession;
  try {
    if (!ctx.cla.gpSecureMessaging) IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
    session = state.pending.externalAuthenticate(cmd);
  } catch (err) {
    wipe(state.dek);
    if (hasErrorCode(err, GP_ERRORS, 'SCP_HOST_CRYPTOGRAM_INVALID')) IsoException.throwIt(SW.AUTHENTICATION_FAILED);
    if (hasErrorCode(err, GP_ERRORS, 'SCP_CMAC_INVALID')) IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (hasErrorCode(err, GP_ERRORS, 'SCP_SECURITY_LEVEL_INVALID')) IsoException.throwIt(SW.INCORRECT_P1P2);
    throw err;
  }
  const dek = state.dek;
  ctx.transient.set(
    TRANSIENT.SCP,
    { kind: 'open', scp: state.scp, kvn: state.kvn, level: session.securityLevel, session, dek } satisfies ScpState,
    // Reset, power off, deselect or a tear: the session keys do not outlive the session.
    () => {
      session.close();
      wipe(dek);
    },
  );
  return undefined;
}

/**
 * Removes secure messaging from a command of an open session (C-MAC check, C-DECRYPTION); at level 00 the
 * command is returned as is (the SCP03 counter still moves).
 * @throws {IsoException} 6982 when the command fails verification; the session has then ended.
 */
export function unwrapCommand(ctx: ApduContext, state: OpenScp, cmd: CommandApdu): CommandApdu {
  try {
    return state.session.unwrapCommand(cmd);
  } catch (err) {
    endSession(ctx);
    if (hasErrorCode(err, GP_ERRORS, 'SCP_CMAC_INVALID', 'SCP_SESSION_CLOSED'))
      IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
    throw err;
  }
}

/**
 * Protects a response of an open session: returns the response data to send (data′ ‖ R-MAC, or `data` as is
 * without R-MAC) for a success SW, or `undefined` when the SW must go out alone (an error SW: SCP03 protects
 * no error response; SCP02 would append an R-MAC over `Li = 00`, which the runtime cannot send with an error
 * SW, so the R-MAC is left out and the R-MAC chain does not move — the SDK host accepts that).
 */
export function wrapResponse(state: OpenScp, data: Uint8Array, sw: number): Uint8Array | undefined {
  const sw1 = sw >>> 8;
  if (!(sw === SW.OK || sw1 === 0x62 || sw1 === 0x63)) return undefined;
  if ((state.level & 0x10) === 0) return data;
  const out = state.session.wrapResponse(data, sw);
  return out.subarray(0, out.length - 2);
}

/** True for a session at a level with C-MAC (01 and above): what card-management commands require. */
export function hasCMac(state: ScpState | undefined): state is OpenScp {
  return state !== undefined && state.kind === 'open' && (state.level & 0x01) !== 0;
}

/** The session's key decryption for PUT KEY: SCP03 AES-CBC under the static DEK, SCP02 3DES-ECB under S-DEK. */
export function sessionKeyDecryptor(state: OpenScp): (encrypted: Uint8Array, keyLength: number) => Uint8Array {
  if (state.scp === 3) return (encrypted, keyLength) => decryptKeyScp03(state.dek, encrypted, keyLength);
  const session = state.session as Scp02Session;
  return (encrypted, keyLength) => {
    const clear = session.decryptKey(encrypted);
    const key = clear.slice(0, keyLength);
    wipe(clear);
    return key;
  };
}

/**
 * The session's secret-DGI decryption for STORE DATA (EMV CPS): SCP03 AES-CBC (ICV zero) under the static DEK,
 * SCP02 3DES-ECB under S-DEK. The result may still carry the CPS padding (the application removes it).
 * @throws {IsoException} 6A80 when the value is empty or not whole cipher blocks.
 */
export function sessionDgiDecryptor(state: OpenScp): (encrypted: Uint8Array) => Uint8Array {
  const blockSize = state.scp === 3 ? 16 : 8;
  return (encrypted) => {
    if (encrypted.length === 0 || encrypted.length % blockSize !== 0) return IsoException.throwIt(SW.WRONG_DATA);
    if (state.scp === 2) return (state.session as Scp02Session).decryptKey(encrypted);
    const cipher = scp03DgiCipher(state.dek);
    try {
      return decryptSecretDgi(cipher, encrypted);
    } finally {
      cipher.destroy();
    }
  };
}

/**
 * A synchronous host side of SCP02/SCP03 over `Card.transmit`: what the issuer's personalization of an
 * in-process card ({@link personalizeThroughIsd}) and the tests' scripts use (the SDK's hosts are asynchronous;
 * tear enumeration and fuzzing need synchronous scripts).
 *
 * @module
 */
import { concat, equalCt, toHex } from '@simtap/sdk/core/bytes';
import { type RandomSource, randomBytes } from '@simtap/sdk/core/crypto';
import { defineErrors, SimtapError } from '@simtap/sdk/core/errors';
import {
  type DgiItem,
  initializeUpdateCommand,
  parseScp02InitUpdateResponse,
  parseScp03InitUpdateResponse,
  type Scp02InitUpdateResponse,
  Scp02Session,
  type Scp03InitUpdateResponse,
  Scp03Session,
  type SecretDgiCipher,
  type SecurityLevelValue,
  type StaticKeys,
  scp02Cryptograms,
  scp02DgiCipher,
  scp02SessionKeys,
  scp03Cryptograms,
  scp03DgiCipher,
  scp03SessionKeys,
  storeDataCommands,
} from '@simtap/sdk/core/gp';
import { type CommandApdu, encodeCommandApdu, SW } from '@simtap/sdk/core/iso7816';
import type { CardInterface } from '../../runtime/applet';
import type { Card } from '../../runtime/card';

/** Synchronous transmit: command bytes → response bytes. */
export type SyncTransmit = (apdu: Uint8Array) => Uint8Array;

/** `card.transmit` on one interface. */
export function cardTransmit(card: Card, iface: CardInterface): SyncTransmit {
  return (apdu) => card.transmit(iface, apdu);
}

/** The status word of a response. */
export function swOf(rsp: Uint8Array): number {
  return (rsp[rsp.length - 2]! << 8) | rsp[rsp.length - 1]!;
}

/** The data of a response (without SW). */
export function dataOf(rsp: Uint8Array): Uint8Array {
  return rsp.subarray(0, rsp.length - 2);
}

/** The codes of the errors of the issuer's synchronous hosts and `personalizeThroughIsd`. */
export const ISD_ERRORS = defineErrors({
  ISD_REFUSED: {
    class: 'HandshakeError / PersonalizationError',
    when:
      "the issuer's personalization of an in-process card (`personalizeThroughIsd`, `createSim({ personalized })`, " +
      '`createPsam`): SELECT, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, INSTALL or a STORE DATA answered `sw`',
    fix: 'read `sw`: `6982` a secret DGI not DEK-encrypted, `6985` already personalized, `6A80` a malformed DGI value',
  },
  ISD_CREDENTIALS_INVALID: {
    class: 'SimtapError',
    when: "the card's cryptogram does not verify under the keys given to `personalizeThroughIsd`",
    fix: "use the card's ISD keys (`simIsdKeys`, `psamIsdKeys`)",
  },
});

/** Code of an error of the issuer's synchronous hosts. */
export type IsdErrorCode = keyof typeof ISD_ERRORS;

/** Thrown by the sync hosts when the card refuses a command of the handshake; `sw` is the card's answer. */
export class HandshakeError extends SimtapError<'ISD_REFUSED'> {
  constructor(
    /** The card's status word. */
    readonly sw: number,
    what: string,
  ) {
    super('ISD_REFUSED', `${what} answered ${sw.toString(16).padStart(4, '0').toUpperCase()}`);
  }
}

/** An open host-side session over a synchronous transmit. */
export interface SyncScpHost {
  readonly session: Scp02Session | Scp03Session;
  readonly raw: SyncTransmit;
  /** The session's DEK cipher for secret DGIs (SCP03: the static DEK; SCP02: S-DEK); destroyed by `close`. */
  readonly dgiCipher: SecretDgiCipher;
  /** Wraps, sends, unwraps (clear data ‖ SW). */
  transmit(cmd: Uint8Array | CommandApdu): Uint8Array;
  /** Ends the session on the host side: session keys and the DEK cipher wiped. */
  close(): void;
}

/** Options of {@link openScp03Sync} and {@link openScp02Sync}. */
export interface SyncScpOptions {
  readonly keys: StaticKeys;
  readonly securityLevel: SecurityLevelValue;
  readonly kvn?: number;
  readonly hostChallenge?: Uint8Array;
  readonly channel?: number;
  /** SCP02 `i` (ICV encryption bit); default 55. */
  readonly i?: number;
}

const DEFAULT_HOST_CHALLENGE = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);

function host(
  session: Scp02Session | Scp03Session,
  raw: SyncTransmit,
  dgiCipher: SecretDgiCipher & { destroy(): void },
): SyncScpHost {
  return {
    session,
    raw,
    dgiCipher,
    transmit: (cmd) => session.unwrapResponse(raw(session.wrapCommand(cmd))),
    close: () => {
      session.close();
      dgiCipher.destroy();
    },
  };
}

/**
 * SCP03 INITIALIZE UPDATE + EXTERNAL AUTHENTICATE, synchronously.
 * @throws {HandshakeError} `ISD_REFUSED` when either command is refused; `SimtapError` `ISD_CREDENTIALS_INVALID` when the card
 *   cryptogram does not verify.
 */
export function openScp03Sync(raw: SyncTransmit, o: SyncScpOptions): SyncScpHost & { info: Scp03InitUpdateResponse } {
  const hc = o.hostChallenge ?? DEFAULT_HOST_CHALLENGE;
  const channel = o.channel ?? 0;
  const iu = raw(encodeCommandApdu(initializeUpdateCommand(o.kvn ?? 0, hc, channel)));
  if (swOf(iu) !== SW.OK) throw new HandshakeError(swOf(iu), 'INITIALIZE UPDATE');
  const info = parseScp03InitUpdateResponse(dataOf(iu));
  const keys = scp03SessionKeys(o.keys, hc, info.cardChallenge);
  const cg = scp03Cryptograms(keys.sMac, hc, info.cardChallenge);
  if (!equalCt(cg.cardCryptogram, info.cardCryptogram))
    throw new SimtapError<IsdErrorCode>(
      'ISD_CREDENTIALS_INVALID',
      'the card cryptogram does not verify: not the expected keys',
    );
  const session = new Scp03Session({ keys, securityLevel: o.securityLevel, role: 'host', channel });
  const ea = raw(session.externalAuthenticateCommand(cg.hostCryptogram));
  if (swOf(ea) !== SW.OK) throw new HandshakeError(swOf(ea), 'EXTERNAL AUTHENTICATE');
  return { ...host(session, raw, scp03DgiCipher(o.keys.dek)), info };
}

/**
 * SCP02 INITIALIZE UPDATE + EXTERNAL AUTHENTICATE, synchronously.
 * @throws {HandshakeError} `ISD_REFUSED` when either command is refused; `SimtapError` `ISD_CREDENTIALS_INVALID` when the card
 *   cryptogram does not verify.
 */
export function openScp02Sync(raw: SyncTransmit, o: SyncScpOptions): SyncScpHost & { info: Scp02InitUpdateResponse } {
  const hc = o.hostChallenge ?? DEFAULT_HOST_CHALLENGE;
  const channel = o.channel ?? 0;
  const iu = raw(encodeCommandApdu(initializeUpdateCommand(o.kvn ?? 0, hc, channel)));
  if (swOf(iu) !== SW.OK) throw new HandshakeError(swOf(iu), 'INITIALIZE UPDATE');
  const info = parseScp02InitUpdateResponse(dataOf(iu));
  const keys = scp02SessionKeys(o.keys, info.sequenceCounter);
  const cg = scp02Cryptograms(keys.sEnc, info.sequenceCounter, hc, info.cardChallenge);
  if (!equalCt(cg.cardCryptogram, info.cardCryptogram))
    throw new SimtapError<IsdErrorCode>(
      'ISD_CREDENTIALS_INVALID',
      'the card cryptogram does not verify: not the expected keys',
    );
  const session = new Scp02Session({
    keys,
    securityLevel: o.securityLevel,
    role: 'host',
    i: o.i ?? 0x55,
    channel,
  });
  const ea = raw(session.externalAuthenticateCommand(cg.hostCryptogram));
  if (swOf(ea) !== SW.OK) throw new HandshakeError(swOf(ea), 'EXTERNAL AUTHENTICATE');
  return { ...host(session, raw, scp02DgiCipher(keys.sDek)), info };
}

/**
 * `raw` with T=0 response retrieval: while the card answers 61xx, GET RESPONSE (`00 C0 00 00 xx`) collects the
 * rest, so a T=0 card (which answers every case-4 command with 61xx) is driven like a T=1 one.
 */
export function withGetResponse(raw: SyncTransmit): SyncTransmit {
  return (apdu) => {
    let rsp = raw(apdu);
    const parts: Uint8Array[] = [];
    while (rsp.length >= 2 && rsp[rsp.length - 2] === 0x61) {
      parts.push(rsp.subarray(0, rsp.length - 2));
      rsp = raw(Uint8Array.of(0x00, 0xc0, 0x00, 0x00, rsp[rsp.length - 1]!));
    }
    return parts.length === 0 ? rsp : concat(...parts, rsp);
  };
}

/** What {@link personalizeThroughIsd} needs. */
export interface IsdPersonalization {
  /** The card's interface to use (powered by the caller). */
  readonly iface: CardInterface;
  /** AID of the issuer security domain. */
  readonly isdAid: Uint8Array;
  /** The ISD key set to authenticate with. */
  readonly keySet: { readonly scp: 2 | 3; readonly kvn: number; readonly keys: StaticKeys; readonly i?: number };
  /** AID of the application to personalize. */
  readonly target: Uint8Array;
  /** Its DGIs, in order; secret ones (≥ 8000) go DEK-encrypted. */
  readonly items: readonly DgiItem[];
  /** Security level of the channel; default 33 (C-MAC, C-DEC, R-MAC, R-ENC). */
  readonly securityLevel?: SecurityLevelValue;
  /** Source of the host challenge; default the system's. */
  readonly random?: RandomSource;
}

/** A command the ISD refused during `personalizeThroughIsd`; `sw` is its status word. */
export class PersonalizationError extends HandshakeError {}

/**
 * The issuer's personalization of an application over the ISD, as a personalization bureau or the platform's
 * contactless management runs it: SELECT the ISD, open SCP03 (or SCP02) with the key set, INSTALL [for
 * personalization] of `target`, then the STORE DATA commands of `items` with every secret DGI encrypted under the
 * session's DEK (EMV CPS, `storeDataCommands`). Real APDUs through `card.transmit`; the channel is closed
 * afterwards. The card must be powered on `iface`.
 * @throws {HandshakeError} when SELECT, INITIALIZE UPDATE or EXTERNAL AUTHENTICATE is refused;
 *   {@link PersonalizationError} when INSTALL or a STORE DATA is refused (`sw`).
 */
export function personalizeThroughIsd(card: Card, p: IsdPersonalization): void {
  const raw = withGetResponse(cardTransmit(card, p.iface));
  const aid = p.isdAid;
  const select = raw(concat(Uint8Array.of(0x00, 0xa4, 0x04, 0x00, aid.length), aid, Uint8Array.of(0x00)));
  if (swOf(select) !== SW.OK) throw new HandshakeError(swOf(select), 'SELECT ISD');
  const o: SyncScpOptions = {
    keys: p.keySet.keys,
    kvn: p.keySet.kvn,
    securityLevel: p.securityLevel ?? 0x33,
    hostChallenge: (p.random ?? randomBytes)(8),
    ...(p.keySet.i === undefined ? {} : { i: p.keySet.i }),
  };
  const scp = p.keySet.scp === 3 ? openScp03Sync(raw, o) : openScp02Sync(raw, o);
  try {
    const t = p.target;
    const install = concat(
      Uint8Array.of(0x80, 0xe6, 0x20, 0x00, t.length + 6, 0x00, 0x00, t.length),
      t,
      Uint8Array.of(0x00, 0x00, 0x00, 0x00),
    );
    const r = scp.transmit(install);
    if (swOf(r) !== SW.OK) throw new PersonalizationError(swOf(r), `INSTALL [for personalization] of ${toHex(t)}`);
    for (const cmd of storeDataCommands(p.items, { cipher: scp.dgiCipher })) {
      const rsp = scp.transmit(cmd);
      if (swOf(rsp) !== SW.OK) throw new PersonalizationError(swOf(rsp), `STORE DATA block ${cmd[3]}`);
    }
  } finally {
    scp.close();
  }
}

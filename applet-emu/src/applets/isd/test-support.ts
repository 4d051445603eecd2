/**
 * Test support for the ISD: a synchronous host side of SCP02/SCP03 over `Card.transmit` (the SDK's hosts are
 * asynchronous; tear enumeration and fuzzing need synchronous scripts) and a small personalizable applet.
 * Not part of the package API.
 *
 * @internal
 * @module
 */
import { concat, equalCt, toHex } from '@simtap/sdk/core/bytes';
import {
  initializeUpdateCommand,
  parseScp02InitUpdateResponse,
  parseScp03InitUpdateResponse,
  type Scp02InitUpdateResponse,
  Scp02Session,
  type Scp03InitUpdateResponse,
  Scp03Session,
  type SecurityLevelValue,
  type StaticKeys,
  scp02Cryptograms,
  scp02SessionKeys,
  scp03Cryptograms,
  scp03SessionKeys,
} from '@simtap/sdk/core/gp';
import { type CommandApdu, encodeCommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import type { ApduContext, CardInterface } from '../../runtime/applet';
import type { Card } from '../../runtime/card';
import type { PersonalizableApplet, StoreDataItem } from '../personalization';

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

/** Thrown by the sync hosts when the handshake fails; `sw` is the card's answer. */
export class HandshakeError extends Error {
  constructor(
    readonly sw: number,
    what: string,
  ) {
    super(`${what} answered ${sw.toString(16).padStart(4, '0').toUpperCase()}`);
  }
}

/** An open host-side session over a synchronous transmit. */
export interface SyncScpHost {
  readonly session: Scp02Session | Scp03Session;
  readonly raw: SyncTransmit;
  /** Wraps, sends, unwraps (clear data ‖ SW). */
  transmit(cmd: Uint8Array | CommandApdu): Uint8Array;
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

function host(session: Scp02Session | Scp03Session, raw: SyncTransmit): SyncScpHost {
  return {
    session,
    raw,
    transmit: (cmd) => session.unwrapResponse(raw(session.wrapCommand(cmd))),
  };
}

/**
 * SCP03 INITIALIZE UPDATE + EXTERNAL AUTHENTICATE, synchronously.
 * @throws {HandshakeError} when either command is refused; `Error` when the card cryptogram is wrong.
 */
export function openScp03Sync(raw: SyncTransmit, o: SyncScpOptions): SyncScpHost & { info: Scp03InitUpdateResponse } {
  const hc = o.hostChallenge ?? DEFAULT_HOST_CHALLENGE;
  const channel = o.channel ?? 0;
  const iu = raw(encodeCommandApdu(initializeUpdateCommand(o.kvn ?? 0, hc, channel)));
  if (swOf(iu) !== SW.OK) throw new HandshakeError(swOf(iu), 'INITIALIZE UPDATE');
  const info = parseScp03InitUpdateResponse(dataOf(iu));
  const keys = scp03SessionKeys(o.keys, hc, info.cardChallenge);
  const cg = scp03Cryptograms(keys.sMac, hc, info.cardChallenge);
  if (!equalCt(cg.cardCryptogram, info.cardCryptogram)) throw new Error('card cryptogram does not verify');
  const session = new Scp03Session({ keys, securityLevel: o.securityLevel, role: 'host', channel });
  const ea = raw(session.externalAuthenticateCommand(cg.hostCryptogram));
  if (swOf(ea) !== SW.OK) throw new HandshakeError(swOf(ea), 'EXTERNAL AUTHENTICATE');
  return { ...host(session, raw), info };
}

/**
 * SCP02 INITIALIZE UPDATE + EXTERNAL AUTHENTICATE, synchronously.
 * @throws {HandshakeError} when either command is refused; `Error` when the card cryptogram is wrong.
 */
export function openScp02Sync(raw: SyncTransmit, o: SyncScpOptions): SyncScpHost & { info: Scp02InitUpdateResponse } {
  const hc = o.hostChallenge ?? DEFAULT_HOST_CHALLENGE;
  const channel = o.channel ?? 0;
  const iu = raw(encodeCommandApdu(initializeUpdateCommand(o.kvn ?? 0, hc, channel)));
  if (swOf(iu) !== SW.OK) throw new HandshakeError(swOf(iu), 'INITIALIZE UPDATE');
  const info = parseScp02InitUpdateResponse(dataOf(iu));
  const keys = scp02SessionKeys(o.keys, info.sequenceCounter);
  const cg = scp02Cryptograms(keys.sEnc, info.sequenceCounter, hc, info.cardChallenge);
  if (!equalCt(cg.cardCryptogram, info.cardCryptogram)) throw new Error('card cryptogram does not verify');
  const session = new Scp02Session({
    keys,
    securityLevel: o.securityLevel,
    role: 'host',
    i: o.i ?? 0x55,
    channel,
  });
  const ea = raw(session.externalAuthenticateCommand(cg.hostCryptogram));
  if (swOf(ea) !== SW.OK) throw new HandshakeError(swOf(ea), 'EXTERNAL AUTHENTICATE');
  return { ...host(session, raw), info };
}

/**
 * A personalizable test applet (type `simtap.test-perso`): each DGI costs two persistent writes — the value
 * under `dgi/<DGI hex>` and a running `count` — and the last DGI of a sequence sets `personalized`. DGI 0BAD is
 * refused with 6A80 (after the writes of earlier DGIs of the same command, which must then roll back); a DGI
 * after personalization → 6985. GET DATA `80 CA 00 00` returns the count (1 byte).
 */
export class TestPersoApplet implements PersonalizableApplet {
  static readonly TYPE = 'simtap.test-perso';
  static readonly DEFAULT_AID_HEX = 'F0 53 49 4D 54 41 50 50';
  readonly type = TestPersoApplet.TYPE;
  constructor(readonly aid: Uint8Array) {}

  select(): undefined {
    return undefined;
  }

  process(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    if (cmd.ins !== 0xca) throw new IsoException(SW.INS_NOT_SUPPORTED);
    return Uint8Array.of(ctx.store.getNumber('count') ?? 0);
  }

  storeData(ctx: ApduContext, item: StoreDataItem): void {
    if (ctx.store.has('personalized')) throw new IsoException(SW.CONDITIONS_NOT_SATISFIED);
    if (item.dgi === 0x0bad) throw new IsoException(SW.WRONG_DATA);
    ctx.atomically(() => {
      const hexDgi = toHex(Uint8Array.of(item.dgi >> 8, item.dgi & 0xff));
      ctx.store.put(`dgi/${hexDgi}`, concat(Uint8Array.of(item.encrypted ? 1 : 0), item.data));
      ctx.store.put('count', (ctx.store.getNumber('count') ?? 0) + 1);
      if (item.last) ctx.store.put('personalized', true);
    });
  }
}

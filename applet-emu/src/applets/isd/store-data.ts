/**
 * INSTALL [for personalization] and STORE DATA (GPC 2.3 §11.5.2.3, §11.11) in the ISD, routing DGIs to the
 * application being personalized per `../personalization.ts`.
 *
 * - `INSTALL [for personalization]` names the target; the STORE DATA sequence that follows (block numbers
 *   P2 = 00, 01, … in order) goes to that application's `storeData`, one DGI at a time, all DGIs of one command
 *   in one transaction. The sequence ends with the block that has P1 b8 set; `last` is true for the final DGI of
 *   that block only.
 * - Secret DGIs (≥ 0x8000: keys, PIN) are accepted only DEK-encrypted (EMV CPS): in a command with P1 b7b6 = 11,
 *   whose every DGI the ISD decrypts with the session's DEK before routing it (`encrypted: true`); in any other
 *   command a secret DGI is refused with 6982 — C-DECRYPTION of the channel alone is not enough. P1 b7b6 = 01
 *   (application-dependent encryption) and 10 (RFU) are refused with 6A86.
 * - Without a preceding INSTALL [for personalization], STORE DATA addresses the ISD itself: BER-TLV data
 *   (P1 b5b4 = 10) with tags `42` (IIN) and `45` (CIN) is stored; anything else goes to the optional
 *   {@link IsdStoreDataHook} (e.g. an eUICC-style extension in tests) or is refused with 6A88.
 *
 * @module
 */
import { equalBytes, wipe } from '@simtap/sdk/core/bytes';
import { SECRET_DGI_MIN, STORE_DATA_P1 } from '@simtap/sdk/core/gp';
import { type CommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import { decodeTlv, type Tlv } from '@simtap/sdk/core/tlv';
import type { ApduContext, CardInterface } from '../../runtime/applet';
import { TransientStore } from '../../runtime/memory';
import { isPersonalizable, type StoreDataItem } from '../personalization';
import type { Store } from './key-sets';
import { TRANSIENT } from './secure-channel';

/** A STORE DATA command addressed to the ISD itself that the ISD does not handle (for {@link IsdStoreDataHook}). */
export interface IsdStoreDataRequest {
  readonly p1: number;
  /** Block number (P2). */
  readonly block: number;
  /** Plaintext command data. */
  readonly data: Uint8Array;
  /** True when the command came with C-DECRYPTION. */
  readonly encrypted: boolean;
  /** P1 b8: last block. */
  readonly last: boolean;
  readonly iface: CardInterface;
  readonly channel: number;
}

/**
 * Extension point for STORE DATA to the ISD itself: returns the response data (or `undefined`), or throws an
 * `IsoException`. Runs inside the command's transaction with the ISD's context.
 */
export type IsdStoreDataHook = (request: IsdStoreDataRequest, ctx: ApduContext) => Uint8Array | undefined;

/** The personalization sequence of a channel. */
interface PersoState {
  /** AID of the application being personalized; `undefined` = the ISD itself. */
  readonly target: Uint8Array | undefined;
  /** Expected block number of the next STORE DATA. */
  readonly next: number;
}

/**
 * INSTALL [for personalization] `80 E6 20 00 Lc 00 00 Laid AID 00 00 00`: names the application the following
 * STORE DATA commands personalize; answers `00`.
 * @throws {IsoException} 6A86 (P1 other than 20, P2 ≠ 00), 6A80 (malformed data), 6A88 (no such application),
 *   6985 (application locked or not personalizable).
 */
export function installForPersonalization(ctx: ApduContext, cmd: CommandApdu, isdAid: Uint8Array): Uint8Array {
  if (cmd.p1 !== 0x20 || cmd.p2 !== 0x00) IsoException.throwIt(SW.INCORRECT_P1P2);
  const d = cmd.data;
  // load file AID, module AID, application AID, privileges, parameters, token: each length-prefixed.
  const fields: Uint8Array[] = [];
  let pos = 0;
  while (pos < d.length && fields.length < 6) {
    const n = d[pos]!;
    if (pos + 1 + n > d.length) IsoException.throwIt(SW.WRONG_DATA);
    fields.push(d.subarray(pos + 1, pos + 1 + n));
    pos += 1 + n;
  }
  if (pos !== d.length || fields.length < 3) IsoException.throwIt(SW.WRONG_DATA);
  const aid = fields[2]!;
  if (aid.length < 5 || aid.length > 16) IsoException.throwIt(SW.WRONG_DATA);
  const entry = ctx.card.registry.get(aid);
  if (entry === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
  let target: Uint8Array | undefined;
  if (!equalBytes(entry.aid, isdAid)) {
    if ((entry.lifecycle & 0x80) !== 0 || !isPersonalizable(entry.applet))
      IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    target = entry.aid;
  }
  ctx.transient.set(TRANSIENT.PERSO, { target, next: 0 } satisfies PersoState);
  return Uint8Array.of(0);
}

/**
 * Splits STORE DATA data into DGIs: `DGI(2) ‖ L(1 | FF L1 L2) ‖ value`.
 * @throws {IsoException} 6A80 on a truncated DGI.
 */
export function parseDgis(data: Uint8Array): Array<{ dgi: number; data: Uint8Array }> {
  const out: Array<{ dgi: number; data: Uint8Array }> = [];
  let pos = 0;
  while (pos < data.length) {
    if (pos + 3 > data.length) IsoException.throwIt(SW.WRONG_DATA);
    const dgi = (data[pos]! << 8) | data[pos + 1]!;
    let len = data[pos + 2]!;
    pos += 3;
    if (len === 0xff) {
      if (pos + 2 > data.length) IsoException.throwIt(SW.WRONG_DATA);
      len = (data[pos]! << 8) | data[pos + 1]!;
      pos += 2;
    }
    if (pos + len > data.length) IsoException.throwIt(SW.WRONG_DATA);
    out.push({ dgi, data: data.slice(pos, pos + len) });
    pos += len;
  }
  return out;
}

/** An {@link ApduContext} for the target application: its own store; scratch transient memory; no status. */
function targetContext(ctx: ApduContext, store: Store): ApduContext {
  const scratch = new TransientStore();
  return {
    iface: ctx.iface,
    channel: ctx.channel,
    apdu: ctx.apdu,
    cla: ctx.cla,
    store,
    transient: scratch,
    resetTransient: scratch,
    security: ctx.security,
    files: ctx.files,
    card: ctx.card,
    setStatus: () => undefined,
    atomically: (fn) => ctx.atomically(fn),
    random: (n) => ctx.random(n),
  };
}

/** Options of {@link storeData}. */
export interface StoreDataOptions {
  readonly isdAid: Uint8Array;
  /** True when the command came with C-DECRYPTION. */
  readonly encrypted: boolean;
  /** The session's DEK decryption of a secret DGI value (see `sessionDgiDecryptor`). */
  readonly decryptDgi: (encrypted: Uint8Array) => Uint8Array;
  readonly hook: IsdStoreDataHook | undefined;
}

function storeSelf(ctx: ApduContext, cmd: CommandApdu, opts: StoreDataOptions, last: boolean): Uint8Array | undefined {
  const structure = (cmd.p1 >> 3) & 3;
  let objs: Tlv[] | undefined;
  if (structure === 2) {
    try {
      objs = decodeTlv(cmd.data, { lenient: true });
    } catch {
      objs = undefined;
    }
  }
  if (objs !== undefined && objs.length > 0 && objs.every((o) => o.tag === 0x42 || o.tag === 0x45)) {
    for (const o of objs) if (o.value.length < 1 || o.value.length > 16) IsoException.throwIt(SW.WRONG_DATA);
    const list = objs;
    ctx.atomically(() => {
      for (const o of list) ctx.store.put(o.tag === 0x42 ? 'iin' : 'cin', o.value);
    });
    return undefined;
  }
  if (opts.hook === undefined)
    return IsoException.throwIt(objs === undefined && structure === 2 ? SW.WRONG_DATA : SW.REFERENCED_DATA_NOT_FOUND);
  const hook = opts.hook;
  const request: IsdStoreDataRequest = {
    p1: cmd.p1,
    block: cmd.p2,
    data: cmd.data,
    encrypted: opts.encrypted,
    last,
    iface: ctx.iface,
    channel: ctx.channel,
  };
  return ctx.atomically(() => hook(request, ctx));
}

/**
 * STORE DATA `80 E2 P1 P2 Lc data [Le]` (plaintext, after secure messaging): P1 b8 last block, b5b4 structure
 * (00/01 DGI, 10 BER-TLV), P2 block number.
 * @throws {IsoException} 6700 (no data), 6A86 (block out of sequence, BER-TLV to an application, P1 b7b6 01 or
 *   10), 6A80 (malformed DGI/TLV, an encrypted value that is not whole cipher blocks), 6982 (secret DGI ≥ 8000 not
 *   DEK-encrypted), 6A88 (target gone; ISD data not understood), or what the target application throws (6A80,
 *   6A88, 6985, …).
 */
export function storeData(ctx: ApduContext, cmd: CommandApdu, opts: StoreDataOptions): Uint8Array | undefined {
  if (cmd.data.length === 0) IsoException.throwIt(SW.WRONG_LENGTH);
  const state = ctx.transient.get<PersoState>(TRANSIENT.PERSO) ?? { target: undefined, next: 0 };
  if (cmd.p2 !== state.next) IsoException.throwIt(SW.INCORRECT_P1P2);
  const last = (cmd.p1 & 0x80) !== 0;
  let result: Uint8Array | undefined;
  const target = state.target;
  if (target === undefined) result = storeSelf(ctx, cmd, opts, last);
  else {
    if (((cmd.p1 >> 3) & 3) >= 2) IsoException.throwIt(SW.INCORRECT_P1P2);
    const encryption = cmd.p1 & STORE_DATA_P1.ENCRYPTED;
    if (encryption !== 0 && encryption !== STORE_DATA_P1.ENCRYPTED) IsoException.throwIt(SW.INCORRECT_P1P2);
    const dekEncrypted = encryption === STORE_DATA_P1.ENCRYPTED;
    const items = parseDgis(cmd.data);
    if (!dekEncrypted)
      for (const it of items) if (it.dgi >= SECRET_DGI_MIN) IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
    const reg = ctx.card.registry;
    const entry = reg.get(target);
    if (entry === undefined || !isPersonalizable(entry.applet))
      return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    const applet = entry.applet;
    const tctx = targetContext(ctx, reg.storeOf(target));
    const values = dekEncrypted ? items.map((it) => opts.decryptDgi(it.data)) : items.map((it) => it.data);
    try {
      ctx.atomically(() => {
        for (let j = 0; j < items.length; j++) {
          const item: StoreDataItem = {
            dgi: items[j]!.dgi,
            data: values[j]!,
            encrypted: dekEncrypted,
            last: last && j === items.length - 1,
          };
          applet.storeData(tctx, item);
        }
      });
    } finally {
      if (dekEncrypted) wipe(...values);
    }
  }
  if (last) ctx.transient.delete(TRANSIENT.PERSO);
  else ctx.transient.set(TRANSIENT.PERSO, { target, next: state.next + 1 } satisfies PersoState);
  return result;
}

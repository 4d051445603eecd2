/**
 * GET STATUS and SET STATUS of the ISD (GPC 2.3 §11.4 and §11.10) over the runtime's registry.
 *
 * @module
 */
import { equalBytes } from '@simtap/sdk/core/bytes';
import { type CommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import { decodeTlv, encodeTlv, type Tlv, tlv } from '@simtap/sdk/core/tlv';
import type { ApduContext } from '../../runtime/applet';
import { CARD_LIFECYCLE } from '../../runtime/applet';
import { TRANSIENT } from './secure-channel';

/** GET STATUS P1: what to list. */
export const STATUS_SCOPE = {
  ISD: 0x80,
  APPLICATIONS: 0x40,
  LOAD_FILES: 0x20,
  LOAD_FILES_AND_MODULES: 0x10,
} as const;

/**
 * Most response data bytes one GET STATUS returns before answering 6310 (so that the response still fits a
 * short APDU after R-ENCRYPTION padding and an R-MAC: 224 + 16 + 8 ≤ 256).
 */
export const MAX_STATUS_DATA = 224;

/** The tags a GET STATUS tag list (`5C`) may ask for; others are ignored. */
const STATUS_TAGS: readonly number[] = [0x4f, 0x9f70, 0xc5];

interface StatusQuery {
  readonly p1: number;
  readonly tlvFormat: boolean;
  readonly aid: Uint8Array;
  readonly tags: readonly number[];
  /** Index of the next entry to return (continuation). */
  readonly index: number;
}

interface StatusEntry {
  readonly aid: Uint8Array;
  readonly lifecycle: number;
  readonly privileges: Uint8Array;
}

function startsWith(aid: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > aid.length) return false;
  for (let i = 0; i < prefix.length; i++) if (aid[i] !== prefix[i]) return false;
  return true;
}

/** Parses a `5C` tag list (concatenated BER tags). */
function parseTagList(v: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < v.length) {
    let tag = v[i++]!;
    if ((tag & 0x1f) === 0x1f) {
      let more = true;
      while (more) {
        if (i >= v.length) IsoException.throwIt(SW.WRONG_DATA);
        const b = v[i++]!;
        tag = tag * 256 + b;
        more = (b & 0x80) !== 0;
        if (tag > 0xffffff) IsoException.throwIt(SW.WRONG_DATA);
      }
    }
    if (out.length >= 16) IsoException.throwIt(SW.WRONG_DATA);
    out.push(tag);
  }
  return out;
}

function parseCriteria(data: Uint8Array): { aid: Uint8Array; tags: number[] } {
  let objs: Tlv[];
  try {
    objs = decodeTlv(data, { lenient: true });
  } catch {
    return IsoException.throwIt(SW.WRONG_DATA);
  }
  const aid = objs.find((o) => o.tag === 0x4f);
  if (aid === undefined || aid.value.length > 16) return IsoException.throwIt(SW.WRONG_DATA);
  const list = objs.find((o) => o.tag === 0x5c);
  const tags = list === undefined ? [...STATUS_TAGS] : parseTagList(list.value).filter((t) => STATUS_TAGS.includes(t));
  return { aid: aid.value.slice(), tags: tags.length === 0 ? [...STATUS_TAGS] : tags };
}

function entriesOf(ctx: ApduContext, query: StatusQuery, isdAid: Uint8Array): StatusEntry[] {
  const reg = ctx.card.registry;
  const out: StatusEntry[] = [];
  if (query.p1 === STATUS_SCOPE.ISD) {
    const isd = reg.get(isdAid);
    if (isd !== undefined && startsWith(isd.aid, query.aid))
      out.push({ aid: isd.aid, lifecycle: reg.cardLifecycle, privileges: isd.privileges });
  } else if (query.p1 === STATUS_SCOPE.APPLICATIONS) {
    for (const e of reg.list())
      if (!equalBytes(e.aid, isdAid) && startsWith(e.aid, query.aid))
        out.push({ aid: e.aid, lifecycle: e.lifecycle, privileges: e.privileges });
  }
  // Load files: the emulator's applications are native, there are no executable load files to list.
  return out;
}

function encodeEntry(e: StatusEntry, query: StatusQuery): Uint8Array {
  if (!query.tlvFormat) {
    const out = new Uint8Array(e.aid.length + 3);
    out[0] = e.aid.length;
    out.set(e.aid, 1);
    out[e.aid.length + 1] = e.lifecycle;
    out[e.aid.length + 2] = e.privileges[0] ?? 0;
    return out;
  }
  const children: Tlv[] = [];
  for (const t of query.tags) {
    if (t === 0x4f) children.push(tlv(0x4f, e.aid));
    else if (t === 0x9f70) children.push(tlv(0x9f70, Uint8Array.of(e.lifecycle)));
    else children.push(tlv(0xc5, e.privileges));
  }
  return encodeTlv(tlv(0xe3, children));
}

/**
 * GET STATUS `80 F2 P1 P2 Lc 4F aidPrefix [5C tagList] [Le]`: P1 80 the ISD (its life cycle is the card's),
 * 40 applications and supplementary SDs, 20/10 executable load files (none on this card → 6A88); P2 b2 = 1
 * TLV format (`E3 { 4F, 9F70, C5 }`, filtered by the tag list), b2 = 0 legacy format (`len AID lifeCycle
 * privilege`); P2 b1 = 1 continues after 6310. `setSw` receives 6310 when more entries remain.
 * @throws {IsoException} 6A86 (P1/P2), 6A80 (search criteria without `4F`, malformed TLV), 6A88 (nothing
 *   matches, or "next" without a previous 6310).
 */
export function getStatus(
  ctx: ApduContext,
  cmd: CommandApdu,
  isdAid: Uint8Array,
  setSw: (sw: number) => void,
): Uint8Array {
  const p1 = cmd.p1;
  if (
    p1 !== STATUS_SCOPE.ISD &&
    p1 !== STATUS_SCOPE.APPLICATIONS &&
    p1 !== STATUS_SCOPE.LOAD_FILES &&
    p1 !== STATUS_SCOPE.LOAD_FILES_AND_MODULES
  )
    IsoException.throwIt(SW.INCORRECT_P1P2);
  if ((cmd.p2 & 0xfc) !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
  const tlvFormat = (cmd.p2 & 0x02) !== 0;
  let query: StatusQuery;
  if ((cmd.p2 & 0x01) !== 0) {
    const cont = ctx.transient.get<StatusQuery>(TRANSIENT.STATUS);
    ctx.transient.delete(TRANSIENT.STATUS);
    if (cont === undefined || cont.p1 !== p1 || cont.tlvFormat !== tlvFormat)
      return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    query = cont;
  } else {
    ctx.transient.delete(TRANSIENT.STATUS);
    const c = parseCriteria(cmd.data);
    query = { p1, tlvFormat, aid: c.aid, tags: c.tags, index: 0 };
  }
  const entries = entriesOf(ctx, query, isdAid);
  if (query.index >= entries.length) IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
  const parts: Uint8Array[] = [];
  let total = 0;
  let i = query.index;
  for (; i < entries.length; i++) {
    const enc = encodeEntry(entries[i]!, query);
    if (total + enc.length > MAX_STATUS_DATA && parts.length > 0) break;
    parts.push(enc);
    total += enc.length;
  }
  if (i < entries.length) {
    ctx.transient.set(TRANSIENT.STATUS, { ...query, index: i } satisfies StatusQuery);
    setSw(0x6310);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** True when the card life cycle may go from `from` to `to` (GPC 2.3 §5.1). */
export function cardTransitionAllowed(from: number, to: number): boolean {
  const { OP_READY, INITIALIZED, SECURED, CARD_LOCKED, TERMINATED } = CARD_LIFECYCLE;
  if (from === TERMINATED) return false;
  if (to === TERMINATED) return true;
  if (to === INITIALIZED) return from === OP_READY;
  if (to === SECURED) return from === OP_READY || from === INITIALIZED || from === CARD_LOCKED;
  if (to === CARD_LOCKED) return from === SECURED;
  return false;
}

const CARD_STATES: readonly number[] = [
  CARD_LIFECYCLE.INITIALIZED,
  CARD_LIFECYCLE.SECURED,
  CARD_LIFECYCLE.CARD_LOCKED,
  CARD_LIFECYCLE.TERMINATED,
];

/**
 * SET STATUS `80 F0 P1 P2 [Lc AID]`: P1 80 sets the card life cycle to P2 (data empty or the ISD AID);
 * P1 40 locks (P2 80) or unlocks (P2 00) the application named by the data.
 * @throws {IsoException} 6A86 (other P1, a P2 that is no card state / neither lock nor unlock), 6A80 (data not
 *   an AID / not the ISD's), 6A88 (no such application), 6985 (transition not allowed: backwards, from
 *   TERMINATED, lock of a locked / unlock of an unlocked application, the ISD through P1 40).
 */
export function setStatus(ctx: ApduContext, cmd: CommandApdu, isdAid: Uint8Array): undefined {
  const reg = ctx.card.registry;
  const data = cmd.data;
  if (cmd.p1 === 0x80) {
    if (data.length !== 0 && !equalBytes(data, isdAid)) IsoException.throwIt(SW.WRONG_DATA);
    if (!CARD_STATES.includes(cmd.p2)) IsoException.throwIt(SW.INCORRECT_P1P2);
    if (!cardTransitionAllowed(reg.cardLifecycle, cmd.p2)) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    ctx.atomically(() => reg.setCardLifecycle(cmd.p2));
    return undefined;
  }
  if (cmd.p1 !== 0x40) IsoException.throwIt(SW.INCORRECT_P1P2);
  if (cmd.p2 !== 0x80 && cmd.p2 !== 0x00) IsoException.throwIt(SW.INCORRECT_P1P2);
  if (data.length < 5 || data.length > 16) IsoException.throwIt(SW.WRONG_DATA);
  const entry = reg.get(data);
  if (entry === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
  if (equalBytes(entry.aid, isdAid)) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
  const locked = (entry.lifecycle & 0x80) !== 0;
  if (cmd.p2 === 0x80) {
    if (locked) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    ctx.atomically(() => reg.setLifecycle(entry.aid, entry.lifecycle | 0x80));
  } else {
    if (!locked) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    ctx.atomically(() => reg.setLifecycle(entry.aid, entry.lifecycle & 0x7f));
  }
  return undefined;
}

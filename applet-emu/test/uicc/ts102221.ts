/**
 * Test support: an independent reading of what a UICC answers, written from the clauses for the tests of issue 15.
 * It shares nothing with the runtime's encoders (only the SDK's BER-TLV parser and byte helpers), so a test that
 * decodes the card's answer with it checks the card against the specification, not against itself.
 *
 * - {@link decodeUiccFcp}: the FCP template of SELECT (P2=04) / STATUS, ETSI TS 102 221 §11.1.1.3 and §11.1.1.4.
 * - {@link decodeEfDirRecord} (TS 102 221 §13.1), {@link decodeIccid} (§13.2), {@link decodeArrRecord} (§9.2.3,
 *   ISO/IEC 7816-4 §9.3.3), {@link decodeImsi} (3GPP TS 31.102 §4.2.2), {@link decodeSpn} (§4.2.12),
 *   {@link decodeMsisdnRecord} (§4.2.26, ADN format of 3GPP TS 51.011 §10.5.1).
 *
 * Every error is a {@link UiccCheckError} whose message names the tag (or field) and the clause.
 *
 * @module
 */
import { toHex } from '@simtap/sdk/core/bytes';
import { decodeTlv, encodeLength, type Tlv, tagToBytes } from '@simtap/sdk/core/tlv';

const TS102221 = 'ETSI TS 102 221';
const TS31102 = '3GPP TS 31.102';

/** A rule of a clause the bytes break: `tag` (when one is at fault) and `clause` are what the message names. */
export class UiccCheckError extends Error {
  override readonly name = 'UiccCheckError';
  constructor(
    readonly what: string,
    readonly clause: string,
    detail: string,
  ) {
    super(`${what}: ${detail} (${clause})`);
  }
}

const tagHex = (tag: number): string => toHex(tagToBytes(tag));

/** Bytes a strictly decoded object takes: tag, minimal length field, value. */
function encodedSize(t: Tlv): number {
  return tagToBytes(t.tag).length + encodeLength(t.value.length).length + t.value.length;
}

/**
 * A sequence of BER-TLV objects filling `bytes` exactly — or, with `ffPadding`, followed by `FF` bytes only.
 * (The SDK decoder skips `00`/`FF` padding anywhere; the clauses allow none inside a template.)
 */
function tlvSequence(bytes: Uint8Array, what: string, clause: string, ffPadding = false): Tlv[] {
  let list: Tlv[];
  try {
    list = decodeTlv(bytes);
  } catch (e) {
    throw new UiccCheckError(what, clause, `malformed BER-TLV: ${(e as Error).message}`);
  }
  let used = 0;
  for (const t of list) used += encodedSize(t);
  for (let i = used; i < bytes.length; i++) {
    if (!ffPadding || bytes[i] !== 0xff)
      throw new UiccCheckError(
        what,
        clause,
        `byte ${i} (${toHex(bytes.subarray(i, i + 1))}) is not part of a data object`,
      );
  }
  return list;
}

function lengthIs(t: Tlv, what: string, clause: string, ...allowed: number[]): void {
  if (!allowed.includes(t.value.length))
    throw new UiccCheckError(
      `tag ${tagHex(t.tag)} (${what})`,
      clause,
      `length ${t.value.length}, expected ${allowed.join(' or ')}`,
    );
}

// ---------------------------------------------------------------- FCP (TS 102 221 §11.1.1.3, §11.1.1.4)

/** Where each FCP data object is specified (TS 102 221 §11.1.1.4.x). */
const FCP_TAGS: Readonly<Record<number, { name: string; clause: string }>> = {
  128: { name: 'file size', clause: `${TS102221} §11.1.1.4.1` },
  129: { name: 'total file size', clause: `${TS102221} §11.1.1.4.2` },
  130: { name: 'file descriptor', clause: `${TS102221} §11.1.1.4.3` },
  131: { name: 'file identifier', clause: `${TS102221} §11.1.1.4.4` },
  132: { name: 'DF name (AID)', clause: `${TS102221} §11.1.1.4.5` },
  165: { name: 'proprietary information', clause: `${TS102221} §11.1.1.4.6` },
  139: { name: 'security attributes, referenced', clause: `${TS102221} §11.1.1.4.7.3` },
  140: { name: 'security attributes, compact', clause: `${TS102221} §11.1.1.4.7.1` },
  171: { name: 'security attributes, expanded', clause: `${TS102221} §11.1.1.4.7.2` },
  136: { name: 'short file identifier', clause: `${TS102221} §11.1.1.4.8` },
  138: { name: 'life cycle status integer', clause: `${TS102221} §11.1.1.4.9` },
  198: { name: 'PIN status template DO', clause: `${TS102221} §11.1.1.4.10` },
};

/** Data objects of the FCP of an MF/DF/ADF (§11.1.1.3.1) and of an EF (§11.1.1.3.2). */
const DF_TAGS = new Set([0x82, 0x83, 0x84, 0xa5, 0x8a, 0x8b, 0x8c, 0xab, 0xc6, 0x81]);
const EF_TAGS = new Set([0x82, 0x83, 0xa5, 0x8a, 0x8b, 0x8c, 0xab, 0x80, 0x81, 0x88]);
/** Data objects inside `A5` (§11.1.1.4.6.1–§11.1.1.4.6.10). */
const A5_TAGS = new Set([0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89]);

export type UiccFileKind = 'MF' | 'DF' | 'ADF' | 'EF';
export type EfStructure = 'transparent' | 'linear-fixed' | 'cyclic';

/** A condition of an access rule (ISO/IEC 7816-4 §9.3.3, TS 102 221 §9.2.3). */
export type ArrCondition =
  | { kind: 'always' }
  | { kind: 'never' }
  | { kind: 'key'; keyRef: number; usage?: number }
  | { kind: 'sm'; tag: number; value: Uint8Array }
  | { kind: 'or'; of: ArrCondition[] }
  | { kind: 'and'; of: ArrCondition[] };

/**
 * One access rule: an AM_DO and the SC_DOs after it (several SC_DOs: any one suffices). `am` is the access-mode
 * byte of an `80` AM_DO; an `81`–`8F` AM_DO gives the command header bytes it names instead.
 */
export interface ArrRule {
  am?: number;
  command?: { cla?: number; ins?: number; p1?: number; p2?: number };
  conditions: ArrCondition[];
}

export type SecurityAttributes =
  | { format: 'referenced'; arrFid: number; records: { seid?: number; record: number }[] }
  | { format: 'compact'; am: number; sc: number[] }
  | { format: 'expanded'; rules: ArrRule[] };

/** What {@link decodeUiccFcp} read. */
export interface UiccFcp {
  kind: UiccFileKind;
  shareable: boolean;
  /** EF only: b6–b4 of the descriptor byte (`000` working, `001` internal). */
  efType?: 'working' | 'internal';
  structure?: EfStructure;
  recordLength?: number;
  records?: number;
  fid?: number;
  aid?: Uint8Array;
  lifeCycle: number;
  lcsName: string;
  security: SecurityAttributes;
  /** `8B` with one record: EF.ARR and the record (with SEID pairs: the first pair's record). */
  arr?: { fid: number; record: number };
  pinStatus?: { keyRef: number; enabled: boolean; usage?: number }[];
  fileSize?: number;
  totalSize?: number;
  /** EF: the SFI (absent `88`: the 5 low bits of the FID; `88 00`: none). Undefined for a DF. */
  sfi: number | undefined;
  /** MF: the UICC characteristics byte of `A5`/`80` (§11.1.1.4.6.1). */
  uiccCharacteristics?: number;
  /** The raw `A5` data objects by tag. */
  proprietary?: Map<number, Uint8Array>;
}

/** Name of a life cycle status integer (TS 102 221 §11.1.1.4.9, Table 11.8); undefined for RFU values. */
export function lcsName(v: number): string | undefined {
  if (v === 0x00) return 'no information given';
  if (v === 0x01) return 'creation';
  if (v === 0x03) return 'initialisation';
  if (v === 0x05 || v === 0x07) return 'operational activated';
  if (v === 0x04 || v === 0x06) return 'operational deactivated';
  if (v >= 0x0c && v <= 0x0f) return 'terminated';
  if (v >= 0x10) return 'proprietary';
  return undefined;
}

function fcpError(tag: number, detail: string): UiccCheckError {
  const info = FCP_TAGS[tag];
  return new UiccCheckError(
    `FCP tag ${tagHex(tag)}${info ? ` (${info.name})` : ''}`,
    info?.clause ?? `${TS102221} §11.1.1.3`,
    detail,
  );
}

function fcpLength(t: Tlv, ...allowed: number[]): void {
  if (!allowed.includes(t.value.length))
    throw fcpError(t.tag, `length ${t.value.length}, expected ${allowed.join(' or ')}`);
}

/**
 * Decodes and checks the FCP template a SELECT with P2=04 (or STATUS with P2=00) returns — the response data,
 * without SW1 SW2 — against ETSI TS 102 221 §11.1.1.3 (which objects, when) and §11.1.1.4 (how each is coded).
 * @throws {UiccCheckError} on anything the clauses do not allow; the message names the tag and the clause.
 */
export function decodeUiccFcp(bytes: Uint8Array): UiccFcp {
  const top = tlvSequence(bytes, 'FCP template (62)', `${TS102221} §11.1.1.3`);
  if (top.length !== 1 || top[0]!.tag !== 0x62)
    throw new UiccCheckError(
      'FCP template (62)',
      `${TS102221} §11.1.1.3`,
      `expected one 62 template, got ${top.map((t) => tagHex(t.tag)).join(' ') || 'nothing'}`,
    );
  const objects = tlvSequence(top[0]!.value, 'FCP template (62)', `${TS102221} §11.1.1.3`);
  const byTag = new Map<number, Tlv>();
  for (const t of objects) {
    if (!FCP_TAGS[t.tag]) throw fcpError(t.tag, 'unknown tag in the FCP template');
    if (byTag.has(t.tag)) throw fcpError(t.tag, 'appears twice');
    byTag.set(t.tag, t);
  }

  // 82 file descriptor (§11.1.1.4.3) decides which table of §11.1.1.3 applies.
  const fd = byTag.get(0x82);
  if (!fd) throw fcpError(0x82, 'missing (mandatory for every file, §11.1.1.3)');
  fcpLength(fd, 2, 5);
  const b1 = fd.value[0]!;
  if (b1 & 0x80) throw fcpError(0x82, `descriptor byte ${tagHex(b1)}: b8 must be 0`);
  const shareable = (b1 & 0x40) !== 0;
  const type = (b1 >> 3) & 7;
  const struct = b1 & 7;
  if (fd.value[1] !== 0x21) throw fcpError(0x82, `data coding byte ${tagHex(fd.value[1]!)}, expected 21`);
  const isDf = type === 0b111;
  if (!isDf && type !== 0b000 && type !== 0b001)
    throw fcpError(0x82, `file type bits b6–b4 = ${type.toString(2).padStart(3, '0')} (RFU)`);
  let structure: EfStructure | undefined;
  if (isDf) {
    if (struct !== 0) throw fcpError(0x82, `a DF has b3–b1 = 000, got ${struct.toString(2).padStart(3, '0')}`);
    fcpLength(fd, 2);
  } else {
    structure = struct === 1 ? 'transparent' : struct === 2 ? 'linear-fixed' : struct === 6 ? 'cyclic' : undefined;
    if (!structure) throw fcpError(0x82, `EF structure bits b3–b1 = ${struct.toString(2).padStart(3, '0')} (RFU)`);
    fcpLength(fd, structure === 'transparent' ? 2 : 5);
  }
  let recordLength: number | undefined;
  let records: number | undefined;
  if (fd.value.length === 5) {
    recordLength = (fd.value[2]! << 8) | fd.value[3]!;
    records = fd.value[4]!;
    if (recordLength === 0 || records === 0)
      throw fcpError(0x82, `record length ${recordLength} and ${records} records: both must be at least 1`);
  }

  // 83 file identifier (§11.1.1.4.4) and 84 DF name (§11.1.1.4.5).
  let fid: number | undefined;
  const fidTlv = byTag.get(0x83);
  if (fidTlv) {
    fcpLength(fidTlv, 2);
    fid = (fidTlv.value[0]! << 8) | fidTlv.value[1]!;
    if (fid === 0xffff || fid === 0x3fff) throw fcpError(0x83, `file identifier ${fid.toString(16)} is reserved`);
  }
  let aid: Uint8Array | undefined;
  const name = byTag.get(0x84);
  if (name) {
    if (name.value.length < 1 || name.value.length > 16)
      throw fcpError(0x84, `length ${name.value.length}, expected 1 to 16`);
    aid = Uint8Array.from(name.value);
  }
  const kind: UiccFileKind = !isDf ? 'EF' : fid === 0x3f00 ? 'MF' : aid ? 'ADF' : 'DF';

  // Presence (§11.1.1.3.1 for MF/DF/ADF, §11.1.1.3.2 for EF).
  const allowed = isDf ? DF_TAGS : EF_TAGS;
  const table = isDf ? `${TS102221} §11.1.1.3.1` : `${TS102221} §11.1.1.3.2`;
  for (const tag of byTag.keys()) {
    if (!allowed.has(tag))
      throw new UiccCheckError(`FCP tag ${tagHex(tag)} (${FCP_TAGS[tag]!.name})`, table, `not allowed for an ${kind}`);
  }
  const mandatory = isDf ? [0x82, 0x8a, 0xc6] : [0x82, 0x83, 0x8a, 0x80];
  if (kind === 'MF' || kind === 'DF') mandatory.push(0x83);
  if (kind === 'MF') mandatory.push(0xa5);
  for (const tag of mandatory) {
    if (!byTag.has(tag))
      throw new UiccCheckError(
        `FCP tag ${tagHex(tag)} (${FCP_TAGS[tag]!.name})`,
        table,
        `missing (mandatory for an ${kind})`,
      );
  }
  const secTags = [0x8b, 0x8c, 0xab].filter((t) => byTag.has(t));
  if (secTags.length !== 1)
    throw new UiccCheckError(
      'FCP security attributes (8B, 8C or AB)',
      `${TS102221} §11.1.1.4.7`,
      secTags.length === 0
        ? 'missing: exactly one is mandatory'
        : `${secTags.map(tagHex).join(' and ')}: exactly one allowed`,
    );

  // 8A life cycle status integer (§11.1.1.4.9).
  const lcsTlv = byTag.get(0x8a)!;
  fcpLength(lcsTlv, 1);
  const lifeCycle = lcsTlv.value[0]!;
  const lcs = lcsName(lifeCycle);
  if (lcs === undefined) throw fcpError(0x8a, `value ${tagHex(lifeCycle)} is RFU`);

  const security = decodeSecurity(byTag.get(secTags[0]!)!);
  const arr =
    security.format === 'referenced' ? { fid: security.arrFid, record: security.records[0]!.record } : undefined;

  // A5 proprietary information (§11.1.1.4.6).
  let uiccCharacteristics: number | undefined;
  let proprietary: Map<number, Uint8Array> | undefined;
  const a5 = byTag.get(0xa5);
  if (a5) {
    proprietary = new Map();
    for (const t of tlvSequence(a5.value, 'FCP tag A5 (proprietary information)', `${TS102221} §11.1.1.4.6`)) {
      if (!A5_TAGS.has(t.tag)) throw fcpError(0xa5, `unknown tag ${tagHex(t.tag)} inside A5`);
      if (proprietary.has(t.tag)) throw fcpError(0xa5, `tag ${tagHex(t.tag)} twice inside A5`);
      proprietary.set(t.tag, t.value);
    }
    const uc = proprietary.get(0x80);
    if (uc !== undefined && uc.length !== 1)
      throw new UiccCheckError(
        'FCP tag A5/80 (UICC characteristics)',
        `${TS102221} §11.1.1.4.6.1`,
        `length ${uc.length}, expected 1`,
      );
    if (kind === 'MF' && uc === undefined)
      throw new UiccCheckError(
        'FCP tag A5/80 (UICC characteristics)',
        `${TS102221} §11.1.1.4.6.1`,
        'missing in the MF',
      );
    if (kind !== 'MF' && uc !== undefined)
      throw new UiccCheckError(
        'FCP tag A5/80 (UICC characteristics)',
        `${TS102221} §11.1.1.4.6.1`,
        `only the MF has it, not an ${kind}`,
      );
    uiccCharacteristics = uc?.[0];
  }

  // C6 PIN status template DO (§11.1.1.4.10, §9.5.2).
  const c6 = byTag.get(0xc6);
  const pinStatus = c6 ? decodePinStatus(c6.value) : undefined;

  // 80 file size, 81 total file size (§11.1.1.4.1, §11.1.1.4.2).
  let fileSize: number | undefined;
  const fs = byTag.get(0x80);
  if (fs) {
    if (fs.value.length < 1 || fs.value.length > 4) throw fcpError(0x80, `length ${fs.value.length}, expected 1 to 4`);
    fileSize = fs.value.reduce((a, b) => a * 256 + b, 0);
    if (recordLength !== undefined && records !== undefined && fileSize !== recordLength * records)
      throw fcpError(0x80, `file size ${fileSize} is not record length ${recordLength} × ${records} records`);
  }
  let totalSize: number | undefined;
  const ts = byTag.get(0x81);
  if (ts) {
    if (ts.value.length < 2 || ts.value.length > 4) throw fcpError(0x81, `length ${ts.value.length}, expected 2 to 4`);
    totalSize = ts.value.reduce((a, b) => a * 256 + b, 0);
  }

  // 88 short file identifier (§11.1.1.4.8): absent → the 5 low bits of the FID; empty → no SFI.
  let sfi: number | undefined;
  if (!isDf) {
    const s = byTag.get(0x88);
    if (!s) sfi = fid! & 0x1f;
    else {
      fcpLength(s, 0, 1);
      if (s.value.length === 1) {
        const v = s.value[0]!;
        if (v & 0x07) throw fcpError(0x88, `byte ${tagHex(v)}: b3–b1 must be 000`);
        sfi = v >> 3;
        if (sfi === 0 || sfi === 31) throw fcpError(0x88, `SFI ${sfi} is not a valid SFI (1 to 30)`);
      }
    }
  }

  const out: UiccFcp = { kind, shareable, lifeCycle, lcsName: lcs, security, sfi };
  if (!isDf) out.efType = type === 0 ? 'working' : 'internal';
  if (structure) out.structure = structure;
  if (recordLength !== undefined) out.recordLength = recordLength;
  if (records !== undefined) out.records = records;
  if (fid !== undefined) out.fid = fid;
  if (aid) out.aid = aid;
  if (arr) out.arr = arr;
  if (pinStatus) out.pinStatus = pinStatus;
  if (fileSize !== undefined) out.fileSize = fileSize;
  if (totalSize !== undefined) out.totalSize = totalSize;
  if (uiccCharacteristics !== undefined) out.uiccCharacteristics = uiccCharacteristics;
  if (proprietary) out.proprietary = proprietary;
  return out;
}

function decodeSecurity(t: Tlv): SecurityAttributes {
  const v = t.value;
  if (t.tag === 0x8b) {
    // §11.1.1.4.7.3: EF.ARR FID + record number, or EF.ARR FID + (SEID, record number) pairs.
    if (v.length < 3 || (v.length > 3 && v.length % 2 !== 0))
      throw fcpError(0x8b, `length ${v.length}, expected 3 (FID, record) or 2 + 2n (FID, SEID/record pairs)`);
    const arrFid = (v[0]! << 8) | v[1]!;
    const records: { seid?: number; record: number }[] = [];
    if (v.length === 3) records.push({ record: v[2]! });
    else for (let i = 2; i < v.length; i += 2) records.push({ seid: v[i]!, record: v[i + 1]! });
    for (const r of records) if (r.record === 0) throw fcpError(0x8b, 'record number 00');
    return { format: 'referenced', arrFid, records };
  }
  if (t.tag === 0x8c) {
    // §11.1.1.4.7.1, ISO/IEC 7816-4 §9.3.2: an AM byte, then one SC byte per bit set in b7–b1.
    if (v.length < 1) throw fcpError(0x8c, 'empty');
    const am = v[0]!;
    let bits = 0;
    for (let m = 0x40; m; m >>= 1) if (am & m) bits++;
    if (v.length !== 1 + bits)
      throw fcpError(0x8c, `AM byte ${tagHex(am)} needs ${bits} SC bytes, got ${v.length - 1}`);
    return { format: 'compact', am, sc: Array.from(v.subarray(1)) };
  }
  return { format: 'expanded', rules: decodeRules(v, 'FCP tag AB (security attributes, expanded)', false) };
}

function decodePinStatus(v: Uint8Array): { keyRef: number; enabled: boolean; usage?: number }[] {
  const what = 'FCP tag C6 (PIN status template DO)';
  const clause = `${TS102221} §11.1.1.4.10`;
  const items = tlvSequence(v, what, clause);
  const ps = items[0];
  if (ps?.tag !== 0x90) throw new UiccCheckError(what, clause, 'must start with the PS_DO (90)');
  if (ps.value.length < 1) throw new UiccCheckError(what, clause, 'PS_DO (90) is empty');
  const out: { keyRef: number; enabled: boolean; usage?: number }[] = [];
  let usage: number | undefined;
  for (const t of items.slice(1)) {
    if (t.tag === 0x95) {
      lengthIs(t, 'usage qualifier in C6', clause, 1);
      if (usage !== undefined) throw new UiccCheckError(what, clause, 'two usage qualifiers (95) in a row');
      usage = t.value[0]!;
    } else if (t.tag === 0x83) {
      lengthIs(t, 'key reference in C6', clause, 1);
      const i = out.length;
      if (i >= ps.value.length * 8)
        throw new UiccCheckError(what, clause, `PS_DO has no bit for key reference ${i + 1}`);
      const enabled = (ps.value[i >> 3]! & (0x80 >> (i & 7))) !== 0;
      out.push(usage === undefined ? { keyRef: t.value[0]!, enabled } : { keyRef: t.value[0]!, enabled, usage });
      usage = undefined;
    } else throw new UiccCheckError(what, clause, `unknown tag ${tagHex(t.tag)}`);
  }
  if (usage !== undefined) throw new UiccCheckError(what, clause, 'usage qualifier (95) without a key reference (83)');
  if (out.length === 0) throw new UiccCheckError(what, clause, 'no key reference (83)');
  return out;
}

// ---------------------------------------------------------------- EF.ARR (TS 102 221 §9.2.3, ISO 7816-4 §9.3.3)

const ARR_CLAUSE = `${TS102221} §9.2.3, ISO/IEC 7816-4 §9.3.3`;

function decodeCondition(t: Tlv, what: string): ArrCondition {
  switch (t.tag) {
    case 0x90:
      lengthIs(t, 'SC_DO always', ARR_CLAUSE, 0);
      return { kind: 'always' };
    case 0x97:
      lengthIs(t, 'SC_DO never', ARR_CLAUSE, 0);
      return { kind: 'never' };
    case 0xa4: {
      let keyRef: number | undefined;
      let usage: number | undefined;
      for (const c of tlvSequence(t.value, `${what}: CRT A4`, ARR_CLAUSE)) {
        if (c.tag === 0x83 && keyRef === undefined) {
          lengthIs(c, 'key reference in CRT A4', ARR_CLAUSE, 1);
          keyRef = c.value[0]!;
        } else if (c.tag === 0x95 && usage === undefined) {
          lengthIs(c, 'usage qualifier in CRT A4', ARR_CLAUSE, 1);
          usage = c.value[0]!;
        } else throw new UiccCheckError(`${what}: CRT A4`, ARR_CLAUSE, `unexpected tag ${tagHex(c.tag)}`);
      }
      if (keyRef === undefined) throw new UiccCheckError(`${what}: CRT A4`, ARR_CLAUSE, 'no key reference (83)');
      return usage === undefined ? { kind: 'key', keyRef } : { kind: 'key', keyRef, usage };
    }
    case 0xb4:
    case 0xb6:
    case 0xb8:
      tlvSequence(t.value, `${what}: SM CRT ${tagHex(t.tag)}`, ARR_CLAUSE);
      return { kind: 'sm', tag: t.tag, value: Uint8Array.from(t.value) };
    case 0xa0:
    case 0xaf: {
      const of = tlvSequence(t.value, `${what}: ${tagHex(t.tag)} template`, ARR_CLAUSE).map((c) =>
        decodeCondition(c, what),
      );
      if (of.length === 0) throw new UiccCheckError(`${what}: ${tagHex(t.tag)} template`, ARR_CLAUSE, 'empty');
      return { kind: t.tag === 0xa0 ? 'or' : 'and', of };
    }
    default:
      throw new UiccCheckError(what, ARR_CLAUSE, `unknown SC_DO tag ${tagHex(t.tag)}`);
  }
}

function decodeRules(bytes: Uint8Array, what: string, ffPadding: boolean): ArrRule[] {
  const items = tlvSequence(bytes, what, ARR_CLAUSE, ffPadding);
  const rules: ArrRule[] = [];
  for (const t of items) {
    if (t.tag >= 0x80 && t.tag <= 0x8f) {
      const rule: ArrRule = { conditions: [] };
      if (t.tag === 0x80) {
        lengthIs(t, 'AM_DO access mode byte', ARR_CLAUSE, 1);
        rule.am = t.value[0]!;
      } else {
        const names = (['cla', 'ins', 'p1', 'p2'] as const).filter((_, i) => t.tag & (0x08 >> i));
        lengthIs(t, 'AM_DO command description', ARR_CLAUSE, names.length);
        rule.command = {};
        names.forEach((n, i) => {
          rule.command![n] = t.value[i]!;
        });
      }
      rules.push(rule);
    } else {
      const rule = rules.at(-1);
      if (!rule) throw new UiccCheckError(what, ARR_CLAUSE, `SC_DO ${tagHex(t.tag)} before any AM_DO`);
      rule.conditions.push(decodeCondition(t, what));
    }
  }
  for (const r of rules)
    if (r.conditions.length === 0) throw new UiccCheckError(what, ARR_CLAUSE, 'an AM_DO without any SC_DO');
  return rules;
}

/**
 * Decodes one EF.ARR record in expanded format: AM_DO (`80`, `81`–`8F`) each followed by its SC_DOs (`90` always,
 * `97` never, `A4` CRT of `83` key reference and `95` usage qualifier, `B4`/`B6`/`B8` SM CRTs, `A0` OR / `AF` AND
 * templates); trailing `FF` padding allowed.
 * @throws {UiccCheckError} on anything else.
 */
export function decodeArrRecord(record: Uint8Array): ArrRule[] {
  return decodeRules(record, 'EF.ARR record', true);
}

// ---------------------------------------------------------------- EF.DIR, EF.ICCID (TS 102 221 §13.1, §13.2)

/** One EF.DIR record: a `61` application template with `4F` AID, optional `50` label and `73`; `FF` padding after. */
export function decodeEfDirRecord(record: Uint8Array): { aid: Uint8Array; label?: string; discretionary?: Uint8Array } {
  const clause = `${TS102221} §13.1`;
  const top = tlvSequence(record, 'EF.DIR record', clause, true);
  if (top.length !== 1 || top[0]!.tag !== 0x61)
    throw new UiccCheckError('EF.DIR record', clause, 'expected one 61 application template');
  let aid: Uint8Array | undefined;
  let label: string | undefined;
  let discretionary: Uint8Array | undefined;
  for (const t of tlvSequence(top[0]!.value, 'EF.DIR tag 61 (application template)', clause)) {
    if (t.tag === 0x4f && !aid) {
      if (t.value.length < 1 || t.value.length > 16)
        throw new UiccCheckError('EF.DIR tag 4F (AID)', clause, `length ${t.value.length}, expected 1 to 16`);
      aid = Uint8Array.from(t.value);
    } else if (t.tag === 0x50 && label === undefined) {
      try {
        label = new TextDecoder('utf-8', { fatal: true }).decode(t.value);
      } catch {
        throw new UiccCheckError('EF.DIR tag 50 (application label)', clause, 'not UTF-8');
      }
    } else if (t.tag === 0x73 && !discretionary) discretionary = Uint8Array.from(t.value);
    else throw new UiccCheckError(`EF.DIR tag ${tagHex(t.tag)}`, clause, 'unexpected or repeated in 61');
  }
  if (!aid) throw new UiccCheckError('EF.DIR tag 4F (AID)', clause, 'missing');
  const out: { aid: Uint8Array; label?: string; discretionary?: Uint8Array } = { aid };
  if (label !== undefined) out.label = label;
  if (discretionary) out.discretionary = discretionary;
  return out;
}

/** Swapped-nibble BCD (the low nibble is the first digit), as EF.ICCID, EF.IMSI and dialling numbers store it. */
function swappedNibbles(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += (x & 15).toString(16).toUpperCase() + (x >> 4).toString(16).toUpperCase();
  return s;
}

/**
 * EF.ICCID (TS 102 221 §13.2): 10 bytes of BCD, nibbles swapped, `F` filler at the end → the string as the profile
 * writes it (`98 68 00 44 10 02 62 00 10 F0` → `8986004401202600010F`).
 */
export function decodeIccid(bytes: Uint8Array): string {
  const clause = `${TS102221} §13.2`;
  if (bytes.length !== 10) throw new UiccCheckError('EF.ICCID', clause, `length ${bytes.length}, expected 10`);
  const s = swappedNibbles(bytes);
  if (!/^[0-9]{18,20}F{0,2}$/.test(s) || s.length !== 20)
    throw new UiccCheckError('EF.ICCID', clause, `${s} is not 18 to 20 BCD digits padded with F`);
  return s;
}

// ---------------------------------------------------------------- USIM files (3GPP TS 31.102)

/** EF.IMSI (TS 31.102 §4.2.2): length byte, then digit 1 + parity nibble (`1001` odd, `0001` even), then digits. */
export function decodeImsi(bytes: Uint8Array): string {
  const clause = `${TS31102} §4.2.2`;
  if (bytes.length !== 9) throw new UiccCheckError('EF.IMSI', clause, `length ${bytes.length}, expected 9`);
  const n = bytes[0]!;
  if (n < 1 || n > 8) throw new UiccCheckError('EF.IMSI length byte', clause, `${n}, expected 1 to 8`);
  for (let i = 1 + n; i < 9; i++)
    if (bytes[i] !== 0xff) throw new UiccCheckError('EF.IMSI', clause, `byte ${i + 1} after the IMSI is not FF`);
  const parity = bytes[1]! & 0x0f;
  if (parity !== 0b1001 && parity !== 0b0001)
    throw new UiccCheckError(
      'EF.IMSI parity nibble',
      clause,
      `${parity.toString(2).padStart(4, '0')}, expected 1001 or 0001`,
    );
  let digits = swappedNibbles(bytes.subarray(1, 1 + n)).slice(1);
  if (parity === 0b0001) {
    if (!digits.endsWith('F')) throw new UiccCheckError('EF.IMSI', clause, 'even parity but no F filler');
    digits = digits.slice(0, -1);
  }
  if (!/^[0-9]+$/.test(digits)) throw new UiccCheckError('EF.IMSI', clause, `${digits} is not BCD`);
  if (digits.length > 15) throw new UiccCheckError('EF.IMSI', clause, `${digits.length} digits, at most 15`);
  return digits;
}

/** GSM default alphabet (unpacked) or UCS2 (`80` prefix) alpha identifier, `FF` padded (TS 31.102 Annex A). */
function decodeAlpha(b: Uint8Array, what: string, clause: string): string {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0xff) end--;
  const a = b.subarray(0, end);
  if (a[0] === 0x80) {
    let s = '';
    for (let i = 1; i + 1 < a.length; i += 2) s += String.fromCharCode((a[i]! << 8) | a[i + 1]!);
    return s;
  }
  if (a.some((x) => x >= 0x80)) throw new UiccCheckError(what, clause, 'coding other than GSM default or 80-UCS2');
  // The GSM default alphabet agrees with ASCII on letters, digits and space, which is what the profile uses.
  return String.fromCharCode(...a);
}

const DIAL_DIGITS = '0123456789*#p?x';

/**
 * EF.MSISDN record (TS 31.102 §4.2.26 in the ADN format of TS 51.011 §10.5.1): X alpha bytes, length of the BCD
 * number (TON/NPI + digits), TON/NPI, 10 bytes of BCD dialling number (`F` filler), CCP, Ext1. International TON
 * gives a leading `+`. An unused (all-FF) record decodes to `undefined`.
 */
export function decodeMsisdnRecord(
  record: Uint8Array,
): { alpha: string; ton: number; npi: number; number: string } | undefined {
  const clause = `${TS31102} §4.2.26, 3GPP TS 51.011 §10.5.1`;
  if (record.length < 14) throw new UiccCheckError('EF.MSISDN record', clause, `length ${record.length}, at least 14`);
  if (record.every((x) => x === 0xff)) return undefined;
  const x = record.length - 14;
  const alpha = decodeAlpha(record.subarray(0, x), 'EF.MSISDN alpha identifier', clause);
  const len = record[x]!;
  if (len < 2 || len > 11)
    throw new UiccCheckError('EF.MSISDN length of BCD number', clause, `${len}, expected 2 to 11`);
  const tonNpi = record[x + 1]!;
  if (!(tonNpi & 0x80)) throw new UiccCheckError('EF.MSISDN TON/NPI', clause, 'b8 must be 1');
  const ton = (tonNpi >> 4) & 7;
  const npi = tonNpi & 15;
  const bcd = record.subarray(x + 2, x + 12);
  let number = '';
  let ended = false;
  for (let i = 0; i < 20; i++) {
    const nib = i & 1 ? bcd[i >> 1]! >> 4 : bcd[i >> 1]! & 15;
    const inLength = i >> 1 < len - 1;
    if (nib === 15) {
      ended = true;
      continue;
    }
    if (ended || !inLength)
      throw new UiccCheckError('EF.MSISDN dialling number', clause, `digit after the end (nibble ${i + 1})`);
    number += DIAL_DIGITS[nib]!;
  }
  if (number.length === 0) throw new UiccCheckError('EF.MSISDN dialling number', clause, 'no digits');
  if (((number.length + 1) >> 1) + 1 !== len)
    throw new UiccCheckError('EF.MSISDN length of BCD number', clause, `${len} does not match ${number.length} digits`);
  return { alpha, ton, npi, number: ton === 1 ? `+${number}` : number };
}

/** EF.SPN (TS 31.102 §4.2.12): display condition byte, then 16 bytes of name (`FF` padded). */
export function decodeSpn(bytes: Uint8Array): { displayCondition: number; name: string } {
  const clause = `${TS31102} §4.2.12`;
  if (bytes.length !== 17) throw new UiccCheckError('EF.SPN', clause, `length ${bytes.length}, expected 17`);
  return { displayCondition: bytes[0]!, name: decodeAlpha(bytes.subarray(1), 'EF.SPN name', clause) };
}

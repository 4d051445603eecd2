/**
 * Data objects the issuer security domain serves with GET DATA and in its FCI: the card production life cycle
 * data (CPLC, tag 9F7F), card recognition data (tag 66 / 73, GPC 2.3 §H.2), the key information template
 * (tag E0, GPC 2.3 §11.3.3.1) and the ISD's FCI (GPC 2.3 §11.9.3.1). Pure functions: bytes in, bytes out.
 *
 * @module
 */
import { assertBytes, assertUint, fromHex } from '@simtap/sdk/core/bytes';
import { ArgumentError } from '@simtap/sdk/core/errors';
import { encodeTlv, type Tlv, tlv } from '@simtap/sdk/core/tlv';

/** The GlobalPlatform OID arc {iso(1) member-body(2) us(840) globalPlatform(114283)} as DER content bytes. */
export const GP_OID_HEX = '2A 86 48 86 FC 6B';
const GP_OID = fromHex(GP_OID_HEX);

/** Length of the CPLC data (without its `9F7F 2A` header). */
export const CPLC_LENGTH = 42;

/** Fields of the 42-byte CPLC, in order: [name, length]. The lengths add up to {@link CPLC_LENGTH}. */
export const CPLC_FIELDS: ReadonlyArray<readonly [string, number]> = Object.freeze([
  ['icFabricator', 2],
  ['icType', 2],
  ['osIdentifier', 2],
  ['osReleaseDate', 2],
  ['osReleaseLevel', 2],
  ['icFabricationDate', 2],
  ['icSerialNumber', 4],
  ['icBatchIdentifier', 2],
  ['icModuleFabricator', 2],
  ['icModulePackagingDate', 2],
  ['iccManufacturer', 2],
  ['icEmbeddingDate', 2],
  ['icPrePersonalizer', 2],
  ['icPrePersonalizationEquipmentDate', 2],
  ['icPrePersonalizationEquipmentId', 4],
  ['icPersonalizer', 2],
  ['icPersonalizationDate', 2],
  ['icPersonalizationEquipmentId', 4],
] as const);

/** Emulator vendor code used in the CPLC's fabricator/manufacturer fields: ASCII "ST" (simtap), not a real chip maker. */
const VENDOR = [0x53, 0x54];
/** YDDD date (last digit of the year, day of year, BCD) 2026-01-01, the profile's issue date: `60 01`. */
const ISSUE_DATE = [0x60, 0x01];

/**
 * Builds the card's 42-byte CPLC (Visa / GP 2.1.1 CPLC layout [K], docs/card.md; layout {@link CPLC_FIELDS}). Card-specific fields: IC serial
 * number = the last 4 bytes of `serial` (the e-purse application serial), IC batch identifier = bytes 4–5 of
 * the ICCID (BCD as printed); every vendor field is `53 54` ("ST", the emulator), every date `60 01`
 * (2026-01-01 in YDDD), OS release level `01 00`, equipment IDs `00 00 00 01`.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `iccid` is not 19–20 hex/BCD digits or `serial` is shorter than 4 bytes.
 * @example buildCplc('8986004401202600010F', serial).length // 42
 */
export function buildCplc(iccid: string, serial: Uint8Array): Uint8Array {
  if (typeof iccid !== 'string' || !/^[0-9A-Fa-f]{19,20}$/.test(iccid))
    throw new ArgumentError('buildCplc: iccid must be 19 or 20 BCD digits');
  assertBytes(serial, 'serial');
  if (serial.length < 4) throw new ArgumentError('buildCplc: serial must have at least 4 bytes');
  const id = fromHex(iccid.length === 20 ? iccid : `${iccid}F`);
  const out = new Uint8Array(CPLC_LENGTH);
  const put = (off: number, bytes: ArrayLike<number>): void => out.set(bytes, off);
  put(0, VENDOR); // IC fabricator
  put(2, [0x01, 0x00]); // IC type
  put(4, [0x54, 0x50]); // OS identifier "TP"
  put(6, ISSUE_DATE); // OS release date
  put(8, [0x01, 0x00]); // OS release level
  put(10, ISSUE_DATE); // IC fabrication date
  put(12, serial.subarray(serial.length - 4)); // IC serial number
  put(16, id.subarray(4, 6)); // IC batch identifier
  put(18, VENDOR); // IC module fabricator
  put(20, ISSUE_DATE); // IC module packaging date
  put(22, VENDOR); // ICC manufacturer
  put(24, ISSUE_DATE); // IC embedding date
  put(26, VENDOR); // IC pre-personalizer
  put(28, ISSUE_DATE); // IC pre-personalization equipment date
  put(30, [0, 0, 0, 1]); // IC pre-personalization equipment ID
  put(34, VENDOR); // IC personalizer
  put(36, ISSUE_DATE); // IC personalization date
  put(38, [0, 0, 0, 1]); // IC personalization equipment ID
  return out;
}

/**
 * Splits a 42-byte CPLC into its named fields (views), for tests and tools.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `cplc` is not 42 bytes.
 */
export function parseCplc(cplc: Uint8Array): Record<string, Uint8Array> {
  assertBytes(cplc, 'cplc', CPLC_LENGTH);
  const out: Record<string, Uint8Array> = {};
  let off = 0;
  for (const [name, len] of CPLC_FIELDS) {
    out[name] = cplc.subarray(off, off + len);
    off += len;
  }
  return out;
}

/** An OID object `06 L GP-arc ‖ suffix`. */
function gpOid(...suffix: number[]): Tlv {
  const v = new Uint8Array(GP_OID.length + suffix.length);
  v.set(GP_OID, 0);
  v.set(suffix, GP_OID.length);
  return tlv(0x06, v);
}

/** Secure channel protocols the card announces in its card recognition data. */
export interface ScpAnnouncement {
  /** 2 or 3. */
  readonly scp: 2 | 3;
  /** The `i` parameter (< 0x80). */
  readonly i: number;
}

/**
 * The card recognition data template `73` (GPC 2.3 §H.2): the GP card recognition OID {1 2 840 114283 1},
 * GP version 2.3.1 (`60`), the GP card identification scheme (`63`) and one secure channel protocol OID
 * {… 4 scp i} (`64`) per protocol offered.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an `i` ≥ 0x80 or an SCP other than 2/3.
 */
export function cardRecognitionTemplate(scps: readonly ScpAnnouncement[]): Tlv {
  const children: Tlv[] = [gpOid(0x01), tlv(0x60, [gpOid(0x02, 0x02, 0x03, 0x01)]), tlv(0x63, [gpOid(0x03)])];
  for (const s of scps) {
    if (s.scp !== 2 && s.scp !== 3) throw new ArgumentError('cardRecognitionTemplate: scp must be 2 or 3');
    assertUint(s.i, 'i', 0x7f);
    children.push(tlv(0x64, [gpOid(0x04, s.scp, s.i)]));
  }
  return tlv(0x73, children);
}

/** GET DATA `66`: card data `66 L 73 L …` ({@link cardRecognitionTemplate}). */
export function cardData(scps: readonly ScpAnnouncement[]): Uint8Array {
  return encodeTlv(tlv(0x66, [cardRecognitionTemplate(scps)]));
}

/** One key of the key information template. */
export interface KeyInfo {
  readonly kid: number;
  readonly kvn: number;
  /** GP key type: `0x88` AES, `0x80` DES (3DES). */
  readonly type: number;
  /** Key length in bytes. */
  readonly length: number;
}

/**
 * GET DATA `E0`: key information template, one `C0 04 KID KVN type length` per key (GPC 2.3 §11.3.3.1, basic
 * format).
 */
export function keyInformationTemplate(keys: readonly KeyInfo[]): Uint8Array {
  return encodeTlv(
    tlv(
      0xe0,
      keys.map((k) => tlv(0xc0, Uint8Array.of(k.kid, k.kvn, k.type, k.length))),
    ),
  );
}

/**
 * The ISD's FCI (SELECT response): `6F { 84 AID, A5 { 73 card recognition data, 9F65 01 FF } }` — the
 * proprietary template carries the security domain management data and the maximum command data length (255).
 */
export function isdFci(aid: Uint8Array, scps: readonly ScpAnnouncement[]): Uint8Array {
  return encodeTlv(
    tlv(0x6f, [tlv(0x84, aid.slice()), tlv(0xa5, [cardRecognitionTemplate(scps), tlv(0x9f65, Uint8Array.of(0xff))])]),
  );
}

/**
 * The GSM class (`A0`, 3GPP TS 51.011 / GSM 11.11 §9) a SIM answers a 2G handset with on the contact interface:
 * the responses to SELECT (read back with GET RESPONSE) and STATUS for a DF and an EF (§9.2.1), and the status
 * words of that class (`9F xx` response data waiting, `94 04` file not found, `98 04` access condition not met,
 * `67 xx` wrong P3 with the right length, `6B 00` wrong P1/P2, `6D 00` unknown INS, `6E 00` class not supported).
 * The card's dispatcher runs the commands; this module only lays out the bytes.
 * @module
 */
import type { AccessCondition, DedicatedFile, ElementaryFile, FileNode } from './file-system';

/** Status words of the GSM class. */
export const GSM_SW = {
  OK: 0x9000,
  /** `9F xx`: xx bytes of response data wait for GET RESPONSE. */
  RESPONSE_DATA: 0x9f00,
  NO_EF_SELECTED: 0x9400,
  OUT_OF_RANGE: 0x9402,
  FILE_NOT_FOUND: 0x9404,
  FILE_INCONSISTENT: 0x9408,
  ACCESS_NOT_FULFILLED: 0x9804,
  /** `67 xx`: P3 wrong, xx the right length. */
  WRONG_P3: 0x6700,
  WRONG_P1P2: 0x6b00,
  UNKNOWN_INS: 0x6d00,
  WRONG_CLASS: 0x6e00,
  TECHNICAL_PROBLEM: 0x6f00,
} as const;

/** An access condition as the GSM class codes it (§9.3): 0 ALW, 1 CHV1, 4 ADM, F NEV. */
function gsmCondition(c: AccessCondition): number {
  switch (c) {
    case 'always':
      return 0x0;
    case 'pin':
      return 0x1;
    case 'never':
      return 0xf;
    default:
      return 0x4; // secure messaging has no GSM equivalent: an administrative condition
  }
}

/** CHV status byte: b8 secret code initialised, b4–b1 attempts left. */
const CHV_3_TRIES = 0x83;
const UNBLOCK_10_TRIES = 0x8a;
/** File characteristics: b8 CHV1 disabled, b1 clock stop allowed. */
const FILE_CHARACTERISTICS = 0x81;

/**
 * The SELECT / STATUS response of the MF or a DF (§9.2.1): RFU, memory not allocated (none), FID, type (01 MF,
 * 02 DF), RFU, then the GSM data: file characteristics, the DFs and EFs directly under it that a handset can
 * select (a FID, on the contact interface), CHVs and unblock codes (4), CHV1 / UNBLOCK CHV1 / CHV2 / UNBLOCK CHV2
 * status. 22 bytes. `selectable`: whether the GSM class reaches a child (an applet's ADF it does not).
 */
export function gsmDfResponse(df: DedicatedFile, selectable: (node: FileNode) => boolean = () => true): Uint8Array {
  const reachable = df.children.filter((c) => c.fid !== undefined && selectable(c));
  const dfs = reachable.filter((c) => c.kind === 'df').length;
  const efs = reachable.length - dfs;
  const fid = df.fid ?? 0;
  return new Uint8Array([
    0x00,
    0x00,
    0x00,
    0x00,
    fid >> 8,
    fid & 0xff,
    df.parent === undefined ? 0x01 : 0x02,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    9, // the GSM data that follows
    FILE_CHARACTERISTICS,
    dfs,
    efs,
    0x04,
    0x00,
    CHV_3_TRIES,
    UNBLOCK_10_TRIES,
    CHV_3_TRIES,
    UNBLOCK_10_TRIES,
  ]);
}

/**
 * The SELECT response of an EF (§9.2.1): RFU, file size, FID, type 04, byte 8 (00), access conditions (READ ‖
 * UPDATE; INCREASE ‖ RFU; REHABILITATE ‖ INVALIDATE: the last three never), file status (01: not invalidated),
 * then 2 bytes: the structure (00 transparent, 01 linear fixed, 03 cyclic) and the record length. 15 bytes.
 */
export function gsmEfResponse(ef: ElementaryFile): Uint8Array {
  const record = ef.structure !== 'transparent';
  const size = record ? ef.size * ef.maxRecords : ef.size;
  const structure = ef.structure === 'transparent' ? 0x00 : ef.structure === 'cyclic' ? 0x03 : 0x01;
  return new Uint8Array([
    0x00,
    0x00,
    (size >> 8) & 0xff,
    size & 0xff,
    ef.fid >> 8,
    ef.fid & 0xff,
    0x04,
    0x00,
    (gsmCondition(ef.access.read) << 4) | gsmCondition(ef.access.update),
    0xff,
    0xff,
    0x01,
    0x02,
    structure,
    record ? ef.size : 0x00,
  ]);
}

/**
 * ISO/IEC 7816-4 file commands over a {@link FileSystem}: READ BINARY (B0), UPDATE BINARY (D6), READ RECORD
 * (B2), UPDATE RECORD (DC), APPEND RECORD (E2) with SFI referencing and access conditions, plus the file part
 * of SELECT (by FID, P1 00/01/02/03, and by path, P1 08/09) and FCP templates.
 *
 * Each logical channel has one {@link ChannelFiles}: its file cursor (current DF, current EF, current record)
 * and the command handler. Applets get it as `ctx.files` and delegate the file commands they do not handle
 * themselves: `default: return ctx.files.handle(cmd)`.
 *
 * @module
 */

import { type CommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import { encodeTlv, type Tlv, tlv } from '@simtap/sdk/core/tlv';
import type { AccessCondition, DedicatedFile, ElementaryFile, FileNode, FileSystem } from './file-system';

/**
 * Per-channel security state the access conditions check. Cleared when the applet on the channel is
 * deselected and on reset/power off. The selected applet sets the flags: `pinVerified` after a successful
 * VERIFY, `secureMessaging` while its secure channel protects every command (e.g. GP SCP C-MAC).
 */
export interface SecurityStatus {
  pinVerified: boolean;
  secureMessaging: boolean;
}

/** Options of {@link FileAccess.handle}. */
export interface FileHandleOptions {
  /** The applet verified secure messaging on this very command: satisfies `sm` conditions. */
  readonly secureMessaging?: boolean;
}

/** An operation an access condition guards. */
export type FileOperation = 'read' | 'update' | 'append';

/** Something that can carry a success status word other than 9000 (the command context). */
export interface StatusSink {
  setStatus(sw: number): void;
}

/** A channel's view of the file system: its cursor and the file command handler (`ctx.files`). */
export interface FileAccess {
  /** The card's file system (programmatic reads and writes, no access conditions). */
  readonly fs: FileSystem;
  /** The current DF of this channel. */
  readonly currentDf: DedicatedFile;
  /** The current EF of this channel, if any. */
  readonly currentEf: ElementaryFile | undefined;
  /** The current record number (0 = none). */
  readonly currentRecord: number;
  /** True for the INS codes {@link FileAccess.handle} implements (B0, D6, B2, DC, E2). */
  handles(ins: number): boolean;
  /**
   * Executes a file command against this channel's cursor, checking access conditions.
   * @throws {IsoException} with the ISO SW on any failure; 6D00 for an INS it does not handle.
   */
  handle(cmd: CommandApdu, options?: FileHandleOptions): Uint8Array | undefined;
  /**
   * Checks the access condition of `op` on `ef` for this channel.
   * @throws {IsoException} 6982 when unmet.
   */
  checkAccess(ef: ElementaryFile, op: FileOperation, options?: FileHandleOptions): void;
  /** Makes `ef` the current EF (and its parent the current DF); resets the record pointer. */
  selectEf(ef: ElementaryFile): void;
}

const INS_READ_BINARY = 0xb0;
const INS_UPDATE_BINARY = 0xd6;
const INS_READ_RECORD = 0xb2;
const INS_UPDATE_RECORD = 0xdc;
const INS_APPEND_RECORD = 0xe2;

function conditionMet(cond: AccessCondition, sec: SecurityStatus, sm: boolean): boolean {
  switch (cond) {
    case 'always':
      return true;
    case 'never':
      return false;
    case 'pin':
      return sec.pinVerified;
    case 'sm':
      return sm || sec.secureMessaging;
    case 'pin+sm':
      return sec.pinVerified && (sm || sec.secureMessaging);
    default:
      return false;
  }
}

/** Le `00` / `0000`: "as many bytes as there are". */
function isWildcardLe(cmd: CommandApdu): boolean {
  return cmd.extended === true ? cmd.ne === 65536 : cmd.ne === 256;
}

/**
 * A logical channel's file cursor and command handler. Created and reset by the card runtime.
 * @internal Applets use it through the {@link FileAccess} interface.
 */
export class ChannelFiles implements FileAccess {
  readonly fs: FileSystem;
  readonly #security: SecurityStatus;
  readonly #status: StatusSink;
  currentDf: DedicatedFile;
  currentEf: ElementaryFile | undefined = undefined;
  currentRecord = 0;

  readonly #iface: 'contact' | 'contactless';

  constructor(
    fs: FileSystem,
    security: SecurityStatus,
    status: StatusSink,
    iface: 'contact' | 'contactless' = 'contact',
  ) {
    this.fs = fs;
    this.#security = security;
    this.#status = status;
    this.#iface = iface;
    this.currentDf = fs.mf;
  }

  /** Back to the MF with no current EF (reset, power off, channel open). */
  reset(): void {
    this.moveTo(this.fs.mf);
  }

  /** Points the cursor at `node` (an EF makes its parent the current DF). */
  moveTo(node: FileNode): void {
    if (node.kind === 'df') {
      this.currentDf = node;
      this.currentEf = undefined;
    } else {
      this.currentDf = node.parent;
      this.currentEf = node;
    }
    this.currentRecord = 0;
  }

  /** Copies another channel's cursor (MANAGE CHANNEL open from a non-basic channel). */
  copyFrom(other: ChannelFiles): void {
    this.currentDf = other.currentDf;
    this.currentEf = other.currentEf;
    this.currentRecord = other.currentRecord;
  }

  /** Drops references to removed files. */
  revalidate(): void {
    if (!this.fs.contains(this.currentDf)) this.reset();
    else if (this.currentEf !== undefined && !this.fs.contains(this.currentEf)) {
      this.currentEf = undefined;
      this.currentRecord = 0;
    }
  }

  selectEf(ef: ElementaryFile): void {
    this.moveTo(ef);
  }

  handles(ins: number): boolean {
    return (
      ins === INS_READ_BINARY ||
      ins === INS_UPDATE_BINARY ||
      ins === INS_READ_RECORD ||
      ins === INS_UPDATE_RECORD ||
      ins === INS_APPEND_RECORD
    );
  }

  checkAccess(ef: ElementaryFile, op: FileOperation, options?: FileHandleOptions): void {
    const cond = op === 'append' ? (ef.access.append ?? ef.access.update) : ef.access[op];
    if (!conditionMet(cond, this.#security, options?.secureMessaging === true))
      IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
  }

  handle(cmd: CommandApdu, options?: FileHandleOptions): Uint8Array | undefined {
    this.revalidate();
    switch (cmd.ins) {
      case INS_READ_BINARY:
        return this.#readBinary(cmd, options);
      case INS_UPDATE_BINARY:
        this.#updateBinary(cmd, options);
        return undefined;
      case INS_READ_RECORD:
        return this.#readRecord(cmd, options);
      case INS_UPDATE_RECORD:
        this.#updateRecord(cmd, options);
        return undefined;
      case INS_APPEND_RECORD:
        this.#appendRecord(cmd, options);
        return undefined;
      default:
        return IsoException.throwIt(SW.INS_NOT_SUPPORTED);
    }
  }

  // ------------------------------------------------------------ binary

  /** P1 b8 = 1: SFI in P1 b5..b1 (b7b6 = 00), offset P2; else a 15-bit offset on the current EF. */
  #binaryTarget(p1: number, p2: number): number {
    if ((p1 & 0x80) !== 0) {
      if ((p1 & 0x60) !== 0 || (p1 & 0x1f) === 0) IsoException.throwIt(SW.INCORRECT_P1P2);
      this.#efBySfi(p1 & 0x1f);
      return p2;
    }
    this.#requireCurrentEf();
    return (p1 << 8) | p2;
  }

  #readBinary(cmd: CommandApdu, options: FileHandleOptions | undefined): Uint8Array {
    if (cmd.data.length > 0 || cmd.ne === undefined) IsoException.throwIt(SW.WRONG_LENGTH);
    const offset = this.#binaryTarget(cmd.p1, cmd.p2);
    const ef = this.currentEf!;
    if (ef.structure !== 'transparent') IsoException.throwIt(SW.COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE);
    this.checkAccess(ef, 'read', options);
    const content = this.fs.rawContent(ef);
    if (offset >= content.length) IsoException.throwIt(SW.WRONG_P1P2);
    const ne = cmd.ne;
    const end = Math.min(content.length, offset + ne);
    if (end - offset < ne && !isWildcardLe(cmd)) this.#status.setStatus(SW.END_OF_FILE);
    return content.slice(offset, end);
  }

  #updateBinary(cmd: CommandApdu, options: FileHandleOptions | undefined): void {
    if (cmd.data.length === 0) IsoException.throwIt(SW.WRONG_LENGTH);
    const offset = this.#binaryTarget(cmd.p1, cmd.p2);
    const ef = this.currentEf!;
    if (ef.structure !== 'transparent') IsoException.throwIt(SW.COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE);
    this.checkAccess(ef, 'update', options);
    this.fs.updateBinary(ef, offset, cmd.data);
  }

  // ------------------------------------------------------------ records

  /** P2 b8..b4: SFI (0 = current EF, 31 = RFU → 6A86). Makes the EF current; requires a record EF. */
  #recordTarget(p2: number): ElementaryFile {
    const sfi = p2 >> 3;
    if (sfi === 31) IsoException.throwIt(SW.INCORRECT_P1P2);
    const ef = sfi === 0 ? this.#requireCurrentEf() : this.#efBySfi(sfi);
    if (ef.structure === 'transparent') IsoException.throwIt(SW.COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE);
    return ef;
  }

  #readRecord(cmd: CommandApdu, options: FileHandleOptions | undefined): Uint8Array {
    if (cmd.data.length > 0 || cmd.ne === undefined) IsoException.throwIt(SW.WRONG_LENGTH);
    const mode = cmd.p2 & 7;
    if (mode === 7) IsoException.throwIt(SW.INCORRECT_P1P2);
    const ef = this.#recordTarget(cmd.p2);
    this.checkAccess(ef, 'read', options);
    if (mode === 5 || mode === 6) IsoException.throwIt(SW.FUNCTION_NOT_SUPPORTED); // "from P1 to last" / "last to P1"
    const n = mode === 4 ? this.#recordNumber(cmd.p1) : this.#recordByReference(ef, cmd.p1, mode);
    const rec = this.fs.readRecord(ef, n);
    this.currentRecord = n;
    if (rec.length < cmd.ne && !isWildcardLe(cmd)) this.#status.setStatus(SW.END_OF_FILE);
    return rec;
  }

  #updateRecord(cmd: CommandApdu, options: FileHandleOptions | undefined): void {
    if (cmd.data.length === 0) IsoException.throwIt(SW.WRONG_LENGTH);
    const mode = cmd.p2 & 7;
    if (mode !== 4 && mode !== 3) IsoException.throwIt(SW.INCORRECT_P1P2);
    const ef = this.#recordTarget(cmd.p2);
    this.checkAccess(ef, 'update', options);
    if (mode === 3) {
      // "Previous record" with P1 = 00 on a cyclic EF writes a new newest record (ISO 7816-4 §7.3.5).
      if (cmd.p1 !== 0 || ef.structure !== 'cyclic') IsoException.throwIt(SW.INCORRECT_P1P2);
      this.currentRecord = this.fs.appendRecord(ef, cmd.data);
      return;
    }
    const n = this.#recordNumber(cmd.p1);
    this.fs.updateRecord(ef, n, cmd.data);
    this.currentRecord = n;
  }

  #appendRecord(cmd: CommandApdu, options: FileHandleOptions | undefined): void {
    if (cmd.p1 !== 0 || (cmd.p2 & 7) !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    if (cmd.data.length === 0) IsoException.throwIt(SW.WRONG_LENGTH);
    const ef = this.#recordTarget(cmd.p2);
    this.checkAccess(ef, 'append', options);
    this.currentRecord = this.fs.appendRecord(ef, cmd.data);
  }

  /** Record number mode: P1 ≠ 0 is the number, P1 = 0 the current record. */
  #recordNumber(p1: number): number {
    const n = p1 === 0 ? this.currentRecord : p1;
    if (n === 0) IsoException.throwIt(SW.RECORD_NOT_FOUND);
    return n;
  }

  /**
   * Modes 000/001/010/011 (first/last/next/previous): with P1 = 0 they move the record pointer; with P1 ≠ 0
   * they search for a record whose first byte (its tag) is P1.
   */
  #recordByReference(ef: ElementaryFile, p1: number, mode: number): number {
    const count = this.fs.recordCount(ef);
    const cur = this.currentRecord;
    const matches = (i: number): boolean => p1 === 0 || this.fs.rawContent(ef)[recordStart(this.fs, ef, i)] === p1;
    let from: number;
    let step: number;
    switch (mode) {
      case 0:
        from = 1;
        step = 1;
        break;
      case 1:
        from = count;
        step = -1;
        break;
      case 2:
        from = cur + 1;
        step = 1;
        break;
      default:
        from = cur === 0 ? count : cur - 1;
        step = -1;
    }
    for (let i = from; i >= 1 && i <= count; i += step) if (matches(i)) return i;
    return IsoException.throwIt(SW.RECORD_NOT_FOUND);
  }

  #requireCurrentEf(): ElementaryFile {
    const ef = this.currentEf;
    if (ef === undefined) return IsoException.throwIt(SW.COMMAND_NOT_ALLOWED_NO_CURRENT_EF);
    return ef;
  }

  #efBySfi(sfi: number): ElementaryFile {
    const ef = this.fs.bySfi(this.currentDf, sfi);
    // A contact-only EF (the UICC's telecom files) does not exist for the contactless interface.
    if (ef === undefined || !this.fs.visibleOn(ef, this.#iface)) return IsoException.throwIt(SW.FILE_NOT_FOUND);
    if (ef !== this.currentEf) this.moveTo(ef);
    return ef;
  }
}

/** Offset of the first data byte of record `n` (record EF content layout: `len ‖ data` repeated). */
function recordStart(fs: FileSystem, ef: ElementaryFile, n: number): number {
  const content = fs.rawContent(ef);
  let o = 0;
  for (let i = 1; i < n && o < content.length; i++) o += 1 + content[o]!;
  return o + 1;
}

// ---------------------------------------------------------------- SELECT (file part)

/** SELECT P1 values that address files rather than applications (ISO/IEC 7816-4 §11.2.2). */
export function isFileSelectP1(p1: number): boolean {
  return p1 === 0x00 || p1 === 0x01 || p1 === 0x02 || p1 === 0x03 || p1 === 0x08 || p1 === 0x09;
}

function fidAt(data: Uint8Array, i: number): number {
  return (data[i]! << 8) | data[i + 1]!;
}

/**
 * Resolves the target of a SELECT by file identifier or path from the current DF `cur`:
 * P1 00 any file by FID (MF `3F00`; the current DF's children, itself, its parent, its siblings; empty data =
 * MF), 01 child DF, 02 child EF, 03 parent DF, 08 path from the MF, 09 path from the current DF.
 * @throws {IsoException} 6A82 not found, 6700 bad data length, 6A86 bad P1.
 */
export function resolveFileSelect(fs: FileSystem, cur: DedicatedFile, p1: number, data: Uint8Array): FileNode {
  const n = data.length;
  switch (p1) {
    case 0x00: {
      if (n === 0) return fs.mf;
      if (n !== 2) return IsoException.throwIt(SW.WRONG_LENGTH);
      const fid = fidAt(data, 0);
      if (fid === 0x3f00) return fs.mf;
      if (cur.fid === fid) return cur;
      const found =
        fs.child(cur, fid) ??
        (cur.parent !== undefined ? (cur.parent.fid === fid ? cur.parent : fs.child(cur.parent, fid)) : undefined);
      return found ?? IsoException.throwIt(SW.FILE_NOT_FOUND);
    }
    case 0x01:
    case 0x02: {
      if (n !== 2) return IsoException.throwIt(SW.WRONG_LENGTH);
      const c = fs.child(cur, fidAt(data, 0));
      if (c === undefined || c.kind !== (p1 === 0x01 ? 'df' : 'ef')) return IsoException.throwIt(SW.FILE_NOT_FOUND);
      return c;
    }
    case 0x03:
      if (n !== 0) return IsoException.throwIt(SW.WRONG_LENGTH);
      return cur.parent ?? IsoException.throwIt(SW.FILE_NOT_FOUND);
    case 0x08:
    case 0x09: {
      if (n === 0 || (n & 1) !== 0) return IsoException.throwIt(SW.WRONG_LENGTH);
      const path: number[] = [];
      for (let i = 0; i < n; i += 2) path.push(fidAt(data, i));
      return fs.resolvePath(path, p1 === 0x08 ? fs.mf : cur) ?? IsoException.throwIt(SW.FILE_NOT_FOUND);
    }
    default:
      return IsoException.throwIt(SW.INCORRECT_P1P2);
  }
}

/**
 * File descriptor bytes (ETSI TS 102 221 §11.1.1.4.3, ISO/IEC 7816-4 table 12): b7 set (shareable, as every file
 * of a UICC), b6–b4 `000` working EF or `111` DF/ADF, b3–b1 the EF structure.
 */
const FDB: Record<ElementaryFile['structure'], number> = {
  transparent: 0x41,
  'linear-fixed': 0x42,
  'linear-variable': 0x44,
  cyclic: 0x46,
};
const FDB_DF = 0x78;
/** The data coding byte TS 102 221 fixes (`21`: proprietary behaviour of write functions, 1 data unit = 1 byte). */
const DATA_CODING = 0x21;
/** Life cycle status integer: operational, activated. */
const LCSI_ACTIVATED = 0x05;
/** UICC characteristics of the MF's proprietary information (`71`: clock stop allowed, 3 V and 1.8 V classes). */
const UICC_CHARACTERISTICS = 0x71;
/** Key references of the PIN status template: PIN1 (`01`, disabled on this card) and ADM1 (`0A`, enabled). */
const PIN_STATUS = new Uint8Array([0x90, 0x01, 0x40, 0x83, 0x01, 0x01, 0x83, 0x01, 0x0a]);

function u16(v: number): Uint8Array {
  return new Uint8Array([(v >> 8) & 0xff, v & 0xff]);
}

/** File identifiers of the access rule reference files: EF.ARR under the MF (`2F06`) and in an ADF (`6F06`). */
export const ARR_FIDS: readonly number[] = [0x2f06, 0x6f06];
const ARR_CONDITIONS: readonly AccessCondition[] = ['always', 'never', 'pin', 'sm', 'pin+sm'];
/** EF.ARR's record of a DF (every DF operation `never`: the issuer changes the tree, not the terminal). */
export const ARR_DF_RECORD = ARR_CONDITIONS.length * ARR_CONDITIONS.length + 1;

/** The SC_DO of a condition (TS 102 221 §9.5.1, ISO/IEC 7816-4 §7.4.3, table 24). */
function securityConditionDo(c: AccessCondition): Uint8Array {
  // PIN1 (key reference 01), usage qualifier 08: user authentication, knowledge based.
  const pin = [0xa4, 0x06, 0x83, 0x01, 0x01, 0x95, 0x01, 0x08];
  const sm = [0xb4, 0x00]; // a cryptographic checksum on the command (secure messaging)
  switch (c) {
    case 'always':
      return new Uint8Array([0x90, 0x00]);
    case 'never':
      return new Uint8Array([0x97, 0x00]);
    case 'pin':
      return new Uint8Array(pin);
    case 'sm':
      return new Uint8Array(sm);
    default:
      return new Uint8Array([0xaf, pin.length + sm.length, ...pin, ...sm]);
  }
}

/**
 * The record of EF.ARR (expanded format, TS 102 221 §9.5.1) that states an EF's access conditions: READ (AM b1),
 * UPDATE (b2) and WRITE/APPEND (b3, as UPDATE). Records 1–25: read × update over always, never, pin, sm, pin+sm.
 */
export function arrRecordNumber(access: { read: AccessCondition; update: AccessCondition }): number {
  return ARR_CONDITIONS.indexOf(access.read) * ARR_CONDITIONS.length + ARR_CONDITIONS.indexOf(access.update) + 1;
}

/**
 * The records of the card's EF.ARR, each padded with `FF` to the longest: 25 EF records (see
 * {@link arrRecordNumber}) and the DF record {@link ARR_DF_RECORD}.
 */
export function arrRecords(): Uint8Array[] {
  const raw: Uint8Array[] = [];
  for (const read of ARR_CONDITIONS)
    for (const update of ARR_CONDITIONS) {
      const rule = (am: number, c: AccessCondition) => [0x80, 0x01, am, ...securityConditionDo(c)];
      raw.push(new Uint8Array(read === update ? rule(0x07, read) : [...rule(0x01, read), ...rule(0x06, update)]));
    }
  raw.push(new Uint8Array([0x80, 0x01, 0x7f, 0x97, 0x00])); // DF: delete, terminate, (de)activate, create: never
  const size = Math.max(...raw.map((r) => r.length));
  return raw.map((r) => {
    const out = new Uint8Array(size).fill(0xff);
    out.set(r);
    return out;
  });
}

/** The EF.ARR that rules `df` and what is under it: `2F06`/`6F06` in it or in a DF above it, when well formed. */
function arrFor(fs: FileSystem, df: DedicatedFile): ElementaryFile | undefined {
  for (let d: DedicatedFile | undefined = df; d !== undefined; d = d.parent)
    for (const fid of ARR_FIDS) {
      const c = fs.child(d, fid);
      if (c?.kind === 'ef' && c.structure === 'linear-fixed' && c.maxRecords >= ARR_DF_RECORD) return c;
    }
  return undefined;
}

/** The compact format's SC byte (ISO/IEC 7816-4 table 22): b8 all, b7 SM, b5 user authentication. */
function compactSc(c: AccessCondition): number {
  return { always: 0x00, never: 0xff, pin: 0x10, sm: 0x40, 'pin+sm': 0xd0 }[c];
}

/** The security attributes of `node`: a reference to its EF.ARR record (`8B`), else the compact format (`8C`). */
function securityAttributes(fs: FileSystem, node: FileNode): Tlv {
  const arr = arrFor(fs, node.kind === 'df' ? node : node.parent);
  if (arr !== undefined) {
    const record = node.kind === 'df' ? ARR_DF_RECORD : arrRecordNumber(node.access);
    return tlv(0x8b, new Uint8Array([...u16(arr.fid), record]));
  }
  if (node.kind === 'df') return tlv(0x8c, new Uint8Array([0x7f, ...new Array<number>(7).fill(0xff)]));
  return tlv(0x8c, new Uint8Array([0x03, compactSc(node.access.update), compactSc(node.access.read)]));
}

/**
 * The FCP template (`62`) of a file as ETSI TS 102 221 §11.1.1.3 lays it out (within ISO/IEC 7816-4 §7.4.3).
 * A DF, ADF or the MF: `82` descriptor `78 21`, `83` FID, `84` DF name, `A5` proprietary information (the MF:
 * `80` UICC characteristics), `8A` life cycle status (05, activated), `8B` security attributes, `C6` PIN status.
 * An EF: `82` descriptor (`41`/`42`/`44`/`46`, `21`, and record length and count for record EFs), `83` FID, `8A`,
 * `8B`, `80` file size, `88` SFI (empty when the EF has none: absent would mean the FID's 5 low bits).
 */
export function fileControlParameters(fs: FileSystem, node: FileNode): Uint8Array {
  const items: Tlv[] = [];
  if (node.kind === 'ef') {
    const recordEf = node.structure !== 'transparent';
    const fdb = FDB[node.structure];
    items.push(
      tlv(
        0x82,
        recordEf
          ? new Uint8Array([fdb, DATA_CODING, 0x00, node.size, node.maxRecords])
          : new Uint8Array([fdb, DATA_CODING]),
      ),
    );
    items.push(tlv(0x83, u16(node.fid)));
    items.push(tlv(0x8a, new Uint8Array([LCSI_ACTIVATED])));
    items.push(securityAttributes(fs, node));
    items.push(tlv(0x80, u16(recordEf ? node.size * node.maxRecords : node.size)));
    items.push(tlv(0x88, node.sfi === undefined ? new Uint8Array(0) : new Uint8Array([node.sfi << 3])));
  } else {
    items.push(tlv(0x82, new Uint8Array([FDB_DF, DATA_CODING])));
    if (node.fid !== undefined) items.push(tlv(0x83, u16(node.fid)));
    if (node.name !== undefined) items.push(tlv(0x84, node.name));
    if (node.parent === undefined) items.push(tlv(0xa5, [tlv(0x80, new Uint8Array([UICC_CHARACTERISTICS]))]));
    items.push(tlv(0x8a, new Uint8Array([LCSI_ACTIVATED])));
    items.push(securityAttributes(fs, node));
    items.push(tlv(0xc6, PIN_STATUS));
  }
  return encodeTlv(tlv(0x62, items));
}

/** The FMD template (`64`, ISO/IEC 7816-4 §7.4.1) SELECT answers with P2 = 08: this card keeps no file management data. */
export function fileManagementData(): Uint8Array {
  return new Uint8Array([0x64, 0x00]);
}

/** The FCI a DF without an owning applet answers: its stored FCI, else `6F { 83 FID, 84 name }`. */
export function dfFci(fs: FileSystem, df: DedicatedFile): Uint8Array {
  const stored = fs.fci(df);
  if (stored !== undefined) return stored;
  const items: Tlv[] = [];
  if (df.fid !== undefined) items.push(tlv(0x83, u16(df.fid)));
  if (df.name !== undefined) items.push(tlv(0x84, df.name));
  return encodeTlv(tlv(0x6f, items));
}

/**
 * The card's ISO/IEC 7816-4 file system (§7.1): the MF `3F00`, dedicated files (DFs, optionally named — a DF
 * named with an installed applet's AID is that applet's ADF) and elementary files: transparent, linear fixed,
 * linear variable and cyclic record EFs, each with an optional short EF identifier (SFI) and access conditions.
 *
 * Structure and contents live in persistent memory (`fs/…` keys), so they are transactional, tearable and part
 * of card images. Structure operations throw {@link FileSystemError}; content operations throw `IsoException`
 * with the ISO status word (so an applet that calls them from a command handler answers correctly).
 *
 * @module
 */
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { IsoException, SW } from '@simtap/sdk/core/iso7816';
import { FileSystemError } from './errors';
import type { JsonValue, PersistentMemory } from './memory';

/** EF structures (ISO/IEC 7816-4 §7.3.1). Records are at most 255 bytes. */
export type EfStructure = 'transparent' | 'linear-fixed' | 'linear-variable' | 'cyclic';

/**
 * Access condition of one operation on an EF:
 * - `always` / `never`;
 * - `pin`: the channel's `security.pinVerified` flag (set by the owning applet after VERIFY);
 * - `sm`: secure messaging — the channel's `security.secureMessaging` flag, or the applet saying it verified
 *   this command's SM (`files.handle(cmd, { secureMessaging: true })`);
 * - `pin+sm`: both.
 */
export type AccessCondition = 'always' | 'never' | 'pin' | 'sm' | 'pin+sm';

/** Access conditions of an EF; `append` defaults to `update`. */
export interface EfAccess {
  readonly read: AccessCondition;
  readonly update: AccessCondition;
  readonly append?: AccessCondition;
}

/** A dedicated file (the MF, a DF, an ADF or a DDF). */
export interface DedicatedFile {
  readonly kind: 'df';
  /** Node id, unique on the card (the MF is 0). */
  readonly id: number;
  /** File identifier, or `undefined` for a DF reachable only by name. */
  readonly fid: number | undefined;
  /** DF name (1..16 bytes; an AID for an ADF), if any. */
  readonly name: Uint8Array | undefined;
  /** Parent DF; `undefined` for the MF. */
  readonly parent: DedicatedFile | undefined;
  /** Children in creation order. */
  readonly children: readonly FileNode[];
  /** Reachable on the contact interface only (with everything under it), e.g. the UICC's telecom files. */
  readonly contactOnly: boolean;
}

/** An elementary file. */
export interface ElementaryFile {
  readonly kind: 'ef';
  readonly id: number;
  readonly fid: number;
  /** Short EF identifier 1..30, if any. */
  readonly sfi: number | undefined;
  readonly structure: EfStructure;
  /** Transparent: size in bytes. Record EFs: the record size (fixed) or the maximum record size (variable). */
  readonly size: number;
  /** Record EFs: the record capacity (cyclic: records kept). 0 for transparent EFs. */
  readonly maxRecords: number;
  readonly access: EfAccess;
  readonly parent: DedicatedFile;
  /** Reachable on the contact interface only. */
  readonly contactOnly: boolean;
}

/** A node of the file tree. */
export type FileNode = DedicatedFile | ElementaryFile;

/** Specification of a new DF. */
export interface DfSpec {
  /** File identifier (not 3F00, 3FFF, FFFF; unique among siblings). */
  readonly fid?: number;
  /** DF name, 1..16 bytes, unique on the card; naming a DF with an applet's AID makes it that applet's ADF. */
  readonly name?: Uint8Array;
  /** FCI returned when the DF is selected without an owning applet (default: generated `6F` template). */
  readonly fci?: Uint8Array;
  /** Reachable on the contact interface only, with everything under it (default false). */
  readonly contactOnly?: boolean;
}

/** Specification of a new EF. */
export interface EfSpec {
  readonly fid: number;
  readonly sfi?: number;
  readonly structure: EfStructure;
  /** Transparent: size in bytes (default: `content` length). */
  readonly size?: number;
  /** Record EFs: record size (fixed) or maximum record size (variable), 1..255. */
  readonly recordSize?: number;
  /** Record EFs: capacity, 1..254. */
  readonly maxRecords?: number;
  /** Default `{ read: 'always', update: 'never' }`. */
  readonly access?: Partial<EfAccess>;
  /** Transparent: initial content (zero-padded to `size`). */
  readonly content?: Uint8Array;
  /** Record EFs: initial records, record 1 first. */
  readonly records?: readonly Uint8Array[];
  /** Reachable on the contact interface only (default false). */
  readonly contactOnly?: boolean;
}

const ACCESS_VALUES: readonly AccessCondition[] = ['always', 'never', 'pin', 'sm', 'pin+sm'];
const STRUCTURES: readonly EfStructure[] = ['transparent', 'linear-fixed', 'linear-variable', 'cyclic'];
const DEFAULT_ACCESS: EfAccess = Object.freeze({ read: 'always', update: 'never' });
const EMPTY = new Uint8Array(0);
const MF_FID = 0x3f00;

/** @internal */
export class DfNode implements DedicatedFile {
  readonly kind = 'df';
  readonly nameHex: string | undefined;
  readonly children: FileNode[] = [];
  removed = false;
  constructor(
    readonly id: number,
    readonly fid: number | undefined,
    readonly name: Uint8Array | undefined,
    readonly parent: DfNode | undefined,
    readonly contactOnly = false,
  ) {
    this.nameHex = name === undefined ? undefined : toHex(name);
  }
}

/** @internal */
export class EfNode implements ElementaryFile {
  readonly kind = 'ef';
  removed = false;
  readonly contentKey: string;
  constructor(
    readonly id: number,
    readonly fid: number,
    readonly sfi: number | undefined,
    readonly structure: EfStructure,
    readonly size: number,
    readonly maxRecords: number,
    readonly access: EfAccess,
    readonly parent: DfNode,
    readonly contactOnly = false,
  ) {
    this.contentKey = `fs/c/${id}`;
  }
}

function specError(message: string): never {
  throw new FileSystemError('FILE_SPEC_INVALID', message);
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function checkFid(fid: unknown): number {
  if (!isInt(fid, 0, 0xffff) || fid === MF_FID || fid === 0x3fff || fid === 0xffff)
    specError(`file identifier ${String(fid)} is not usable (0000..FFFE, not 3F00/3FFF)`);
  return fid;
}

/** Length-prefixed record list codec: each record is `len(1) ‖ bytes`. */
function decodeRecords(content: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 0;
  while (o < content.length) {
    const n = content[o]!;
    out.push(content.subarray(o + 1, o + 1 + n));
    o += 1 + n;
  }
  return out;
}

function encodeRecords(records: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const r of records) len += 1 + r.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const r of records) {
    out[o++] = r.length;
    out.set(r, o);
    o += r.length;
  }
  return out;
}

/** Offset and length of record `n` (1-based) in an encoded list, or `undefined`. */
function locateRecord(content: Uint8Array, n: number): [number, number] | undefined {
  let o = 0;
  for (let i = 1; o < content.length; i++) {
    const len = content[o]!;
    if (i === n) return [o + 1, len];
    o += 1 + len;
  }
  return undefined;
}

function countRecords(content: Uint8Array): number {
  let o = 0;
  let i = 0;
  while (o < content.length) {
    o += 1 + content[o]!;
    i++;
  }
  return i;
}

/**
 * The card's file tree and contents. One per {@link Card} (`card.files`). All writes join the card's current
 * transaction (or run as their own).
 */
export class FileSystem {
  readonly #mem: PersistentMemory;
  readonly #mf: DfNode;
  readonly #byName = new Map<string, DfNode>();

  /** A file system over `mem` holding only the MF (call {@link FileSystem.rebuild} after loading an image). */
  constructor(mem: PersistentMemory) {
    this.#mem = mem;
    this.#mf = new DfNode(0, MF_FID, undefined, undefined);
  }

  /** The master file `3F00`. */
  get mf(): DedicatedFile {
    return this.#mf;
  }

  /** Whether `node` may be reached on `iface`: on contactless, not when it or a DF above it is contact-only. */
  visibleOn(node: FileNode, iface: 'contact' | 'contactless'): boolean {
    if (iface === 'contact') return true;
    for (let n: FileNode | undefined = node; n !== undefined; n = n.parent) if (n.contactOnly) return false;
    return true;
  }

  /**
   * Re-creates the in-memory tree from persistent memory (after an image was loaded into it).
   * @throws {FileSystemError} `FILE_SPEC_INVALID` when a stored node is inconsistent.
   */
  rebuild(): void {
    const ids = this.#mem
      .keys('fs/n/')
      .map((k) => Number(k.slice(5)))
      .sort((a, b) => a - b);
    const nodes = new Map<number, DfNode>([[0, this.#mf]]);
    for (const id of ids) {
      const m = this.#mem.peek(`fs/n/${id}`) as Record<string, JsonValue> | undefined;
      if (m === undefined || typeof m !== 'object' || m === null) specError(`stored file node ${id} is not an object`);
      const parent = nodes.get(m.p as number);
      if (parent === undefined) specError(`stored file node ${id} has no parent`);
      if (m.k === 'df') {
        const name = typeof m.name === 'string' ? fromHex(m.name) : undefined;
        const df = new DfNode(id, m.fid === null ? undefined : (m.fid as number), name, parent, m.co === true);
        parent.children.push(df);
        if (df.nameHex !== undefined) this.#byName.set(df.nameHex, df);
        nodes.set(id, df);
      } else {
        const acc = m.acc as unknown as EfAccess;
        const ef = new EfNode(
          id,
          m.fid as number,
          m.sfi === null ? undefined : (m.sfi as number),
          m.st as EfStructure,
          m.size as number,
          m.mr as number,
          Object.freeze({ ...acc }),
          parent,
          m.co === true,
        );
        parent.children.push(ef);
      }
    }
  }

  /**
   * Creates a DF under `parent`.
   * @throws {FileSystemError} `FILE_EXISTS` (FID among siblings, or DF name on the card), `FILE_SPEC_INVALID`,
   *   `FILE_NOT_IN_TREE`.
   */
  createDf(parent: DedicatedFile, spec: DfSpec = {}): DedicatedFile {
    const p = this.#live(parent) as DfNode;
    if (p.kind !== 'df') specError('createDf: parent must be a DF');
    const fid = spec.fid === undefined ? undefined : checkFid(spec.fid);
    if (fid !== undefined) this.#checkFidFree(p, fid);
    let name: Uint8Array | undefined;
    if (spec.name !== undefined) {
      if (!(spec.name instanceof Uint8Array) || spec.name.length < 1 || spec.name.length > 16)
        specError('createDf: a DF name is 1..16 bytes');
      name = spec.name.slice();
      if (this.#byName.has(toHex(name))) throw new FileSystemError('FILE_EXISTS', `DF name ${toHex(name)} exists`);
    }
    return this.#mem.atomically(() => {
      const id = this.#nextId();
      const df = new DfNode(id, fid, name, p, spec.contactOnly === true);
      this.#mem.put(`fs/n/${id}`, {
        p: p.id,
        k: 'df',
        fid: fid ?? null,
        name: name ? toHex(name) : null,
        ...(spec.contactOnly === true ? { co: true } : {}),
      });
      if (spec.fci !== undefined) this.#mem.put(`fs/fci/${id}`, spec.fci);
      this.#link(df);
      return df;
    });
  }

  /**
   * Creates an EF under `parent`.
   * @throws {FileSystemError} `FILE_EXISTS` (FID or SFI among siblings), `FILE_SPEC_INVALID`, `FILE_NOT_IN_TREE`.
   */
  createEf(parent: DedicatedFile, spec: EfSpec): ElementaryFile {
    const p = this.#live(parent) as DfNode;
    if (p.kind !== 'df') specError('createEf: parent must be a DF');
    const fid = checkFid(spec.fid);
    this.#checkFidFree(p, fid);
    if (!STRUCTURES.includes(spec.structure)) specError(`createEf: unknown structure ${String(spec.structure)}`);
    let sfi: number | undefined;
    if (spec.sfi !== undefined) {
      if (!isInt(spec.sfi, 1, 30)) specError(`createEf: SFI ${String(spec.sfi)} not in 1..30`);
      sfi = spec.sfi;
      if (this.bySfi(p, sfi) !== undefined) throw new FileSystemError('FILE_EXISTS', `SFI ${sfi} exists in this DF`);
    }
    const access = Object.freeze({ ...DEFAULT_ACCESS, ...(spec.access ?? {}) });
    for (const op of ['read', 'update', 'append'] as const) {
      const c = access[op];
      if (c !== undefined && !ACCESS_VALUES.includes(c)) specError(`createEf: access ${op} = ${String(c)}`);
    }
    let size: number;
    let maxRecords = 0;
    let content: Uint8Array;
    if (spec.structure === 'transparent') {
      size = spec.size ?? spec.content?.length ?? 0;
      if (!isInt(size, 0, 0x7fff)) specError(`createEf: size ${String(size)} not in 0..32767`);
      content = new Uint8Array(size);
      if (spec.content !== undefined) {
        if (spec.content.length > size) specError('createEf: content larger than size');
        content.set(spec.content);
      }
    } else {
      size = spec.recordSize ?? 0;
      maxRecords = spec.maxRecords ?? 0;
      if (!isInt(size, 1, 255)) specError(`createEf: recordSize ${String(size)} not in 1..255`);
      if (!isInt(maxRecords, 1, 254)) specError(`createEf: maxRecords ${String(maxRecords)} not in 1..254`);
      const records = spec.records ?? [];
      if (records.length > maxRecords) specError('createEf: more initial records than maxRecords');
      const fixed = spec.structure !== 'linear-variable';
      for (const r of records)
        if (!(r instanceof Uint8Array) || (fixed ? r.length !== size : r.length < 1 || r.length > size))
          specError('createEf: an initial record has the wrong length');
      content = encodeRecords(records);
    }
    return this.#mem.atomically(() => {
      const id = this.#nextId();
      const ef = new EfNode(id, fid, sfi, spec.structure, size, maxRecords, access, p, spec.contactOnly === true);
      const acc: { [k: string]: JsonValue } = { read: access.read, update: access.update };
      if (access.append !== undefined) acc.append = access.append;
      this.#mem.put(`fs/n/${id}`, {
        p: p.id,
        k: 'ef',
        fid,
        sfi: sfi ?? null,
        st: spec.structure,
        size,
        mr: maxRecords,
        acc,
        ...(spec.contactOnly === true ? { co: true } : {}),
      });
      this.#mem.put(ef.contentKey, content);
      this.#link(ef);
      return ef;
    });
  }

  /**
   * Deletes `node` and, for a DF, everything under it.
   * @throws {FileSystemError} `FILE_SPEC_INVALID` for the MF, `FILE_NOT_IN_TREE`.
   */
  remove(node: FileNode): void {
    const n = this.#live(node);
    if (n === this.#mf) specError('remove: the MF cannot be deleted');
    this.#mem.atomically(() => this.#removeRec(n));
  }

  /** The DF named `name` (exact match), if any. */
  findByName(name: Uint8Array): DedicatedFile | undefined {
    return this.#byName.get(toHex(name));
  }

  /** @internal Lookup by the hex of a DF name. */
  findByNameHex(nameHex: string): DfNode | undefined {
    return this.#byName.get(nameHex);
  }

  /** The child of `df` with file identifier `fid`, if any. */
  child(df: DedicatedFile, fid: number): FileNode | undefined {
    for (const c of df.children) if (c.fid === fid) return c;
    return undefined;
  }

  /** The EF of `df` with short identifier `sfi`, if any. */
  bySfi(df: DedicatedFile, sfi: number): ElementaryFile | undefined {
    for (const c of df.children) if (c.kind === 'ef' && c.sfi === sfi) return c;
    return undefined;
  }

  /** Follows FIDs from `from` (default the MF; a leading 3F00 is accepted); `undefined` when a step is missing. */
  resolvePath(path: readonly number[], from: DedicatedFile = this.#mf): FileNode | undefined {
    let node: FileNode = from;
    for (let i = 0; i < path.length; i++) {
      const fid = path[i]!;
      if (i === 0 && fid === MF_FID && from === this.#mf) continue;
      if (node.kind !== 'df') return undefined;
      const next = this.child(node, fid);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  /** True while `node` belongs to the tree (not removed). */
  contains(node: FileNode): boolean {
    return node === this.#mf || !(node as DfNode | EfNode).removed;
  }

  /** The stored FCI of a DF, if one was set. */
  fci(df: DedicatedFile): Uint8Array | undefined {
    const v = this.#mem.get(`fs/fci/${df.id}`);
    return v instanceof Uint8Array ? v : undefined;
  }

  /**
   * Sets (or with `undefined` clears) the FCI a DF answers when selected without an owning applet.
   * @throws {FileSystemError} `FILE_NOT_IN_TREE`.
   */
  setFci(df: DedicatedFile, fci: Uint8Array | undefined): void {
    this.#live(df);
    this.#mem.atomically(() => {
      if (fci === undefined) this.#mem.delete(`fs/fci/${df.id}`);
      else this.#mem.put(`fs/fci/${df.id}`, fci);
    });
  }

  // ------------------------------------------------------------ contents

  /**
   * Reads up to `length` bytes of a transparent EF from `offset` (fewer at the end of the file).
   * @throws {IsoException} 6981 (not transparent), 6B00 (offset beyond the end).
   */
  readBinary(ef: ElementaryFile, offset: number, length: number): Uint8Array {
    const content = this.#transparent(ef);
    if (offset > content.length) IsoException.throwIt(SW.WRONG_P1P2);
    const end = Math.min(content.length, offset + Math.max(0, length));
    return content.slice(offset, end);
  }

  /**
   * Overwrites `data.length` bytes of a transparent EF at `offset` (UPDATE BINARY semantics).
   * @throws {IsoException} 6981 (not transparent), 6B00 (offset beyond the end), 6700 (data runs past the end).
   */
  updateBinary(ef: ElementaryFile, offset: number, data: Uint8Array): void {
    const content = this.#transparent(ef);
    if (offset > content.length) IsoException.throwIt(SW.WRONG_P1P2);
    if (offset + data.length > content.length) IsoException.throwIt(SW.WRONG_LENGTH);
    const next = content.slice();
    next.set(data, offset);
    this.#mem.atomically(() => this.#mem.put((ef as EfNode).contentKey, next));
  }

  /**
   * Number of records held by a record EF.
   * @throws {IsoException} 6981 (transparent EF).
   */
  recordCount(ef: ElementaryFile): number {
    return countRecords(this.#recordContent(ef));
  }

  /**
   * Record `n` (1-based; cyclic: 1 is the newest) of a record EF, copied.
   * @throws {IsoException} 6981 (transparent EF), 6A83 (no such record).
   */
  readRecord(ef: ElementaryFile, n: number): Uint8Array {
    const content = this.#recordContent(ef);
    const at = locateRecord(content, n);
    if (at === undefined || n < 1) return IsoException.throwIt(SW.RECORD_NOT_FOUND);
    return content.slice(at[0], at[0] + at[1]);
  }

  /**
   * All records of a record EF, record 1 first (copies).
   * @throws {IsoException} 6981 (transparent EF).
   */
  records(ef: ElementaryFile): Uint8Array[] {
    return decodeRecords(this.#recordContent(ef)).map((r) => r.slice());
  }

  /**
   * Replaces record `n` (UPDATE RECORD semantics).
   * @throws {IsoException} 6981 (transparent EF), 6A83 (no such record), 6700 (wrong record length).
   */
  updateRecord(ef: ElementaryFile, n: number, data: Uint8Array): void {
    const content = this.#recordContent(ef);
    this.#checkRecordLength(ef, data);
    const at = locateRecord(content, n);
    if (at === undefined || n < 1) IsoException.throwIt(SW.RECORD_NOT_FOUND);
    const [off, len] = at;
    let next: Uint8Array;
    if (len === data.length) {
      next = content.slice();
      next.set(data, off);
    } else {
      next = new Uint8Array(content.length - len + data.length);
      next.set(content.subarray(0, off - 1));
      next[off - 1] = data.length;
      next.set(data, off);
      next.set(content.subarray(off + len), off + data.length);
    }
    this.#mem.atomically(() => this.#mem.put((ef as EfNode).contentKey, next));
  }

  /**
   * Appends a record (APPEND RECORD semantics): linear EFs add it last, cyclic EFs make it record 1 and drop
   * the oldest beyond capacity. Returns the new record's number.
   * @throws {IsoException} 6981 (transparent EF), 6A84 (linear EF full), 6700 (wrong record length).
   */
  appendRecord(ef: ElementaryFile, data: Uint8Array): number {
    const content = this.#recordContent(ef);
    this.#checkRecordLength(ef, data);
    const count = countRecords(content);
    let next: Uint8Array;
    let recNo: number;
    if (ef.structure === 'cyclic') {
      // Keep the newest (maxRecords − 1) old records after the new one.
      let keepEnd = 0;
      for (let i = 0; i < Math.min(count, ef.maxRecords - 1); i++) keepEnd += 1 + content[keepEnd]!;
      next = new Uint8Array(1 + data.length + keepEnd);
      next[0] = data.length;
      next.set(data, 1);
      next.set(content.subarray(0, keepEnd), 1 + data.length);
      recNo = 1;
    } else {
      if (count >= ef.maxRecords) IsoException.throwIt(SW.NOT_ENOUGH_MEMORY);
      next = new Uint8Array(content.length + 1 + data.length);
      next.set(content);
      next[content.length] = data.length;
      next.set(data, content.length + 1);
      recNo = count + 1;
    }
    this.#mem.atomically(() => this.#mem.put((ef as EfNode).contentKey, next));
    return recNo;
  }

  /** @internal Raw content of an EF (no copy; never mutate). */
  rawContent(ef: ElementaryFile): Uint8Array {
    const v = this.#mem.peek((ef as EfNode).contentKey);
    return v instanceof Uint8Array ? v : EMPTY;
  }

  // ------------------------------------------------------------ internals

  #transparent(ef: ElementaryFile): Uint8Array {
    if (ef.kind !== 'ef' || ef.structure !== 'transparent')
      IsoException.throwIt(SW.COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE);
    return this.rawContent(ef);
  }

  #recordContent(ef: ElementaryFile): Uint8Array {
    if (ef.kind !== 'ef' || ef.structure === 'transparent')
      IsoException.throwIt(SW.COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE);
    return this.rawContent(ef);
  }

  #checkRecordLength(ef: ElementaryFile, data: Uint8Array): void {
    if (ef.structure === 'linear-variable') {
      if (data.length < 1 || data.length > ef.size) IsoException.throwIt(SW.WRONG_LENGTH);
    } else if (data.length !== ef.size) IsoException.throwIt(SW.WRONG_LENGTH);
  }

  #live(node: FileNode): DfNode | EfNode {
    if (!(node instanceof DfNode || node instanceof EfNode) || !this.contains(node))
      throw new FileSystemError('FILE_NOT_IN_TREE', 'file node is not part of this card');
    if (node instanceof DfNode && node !== this.#mf) {
      // A DF of another card's tree is not ours: walk up to the MF.
      let p: DfNode | undefined = node;
      while (p.parent !== undefined) p = p.parent;
      if (p !== this.#mf) throw new FileSystemError('FILE_NOT_IN_TREE', 'file node is not part of this card');
    } else if (node instanceof EfNode) this.#live(node.parent);
    return node;
  }

  #checkFidFree(p: DfNode, fid: number): void {
    if (p.fid === fid || this.child(p, fid) !== undefined)
      throw new FileSystemError('FILE_EXISTS', `file ${fid.toString(16).padStart(4, '0')} exists here`);
  }

  #nextId(): number {
    const id = (this.#mem.peek('fs/next') as number | undefined) ?? 1;
    this.#mem.put('fs/next', id + 1);
    return id;
  }

  #link(node: DfNode | EfNode): void {
    const parent = node.parent!;
    parent.children.push(node);
    if (node instanceof DfNode && node.nameHex !== undefined) this.#byName.set(node.nameHex, node);
    this.#mem.onRollback(() => this.#unlink(node));
  }

  #unlink(node: DfNode | EfNode): void {
    const siblings = node.parent!.children;
    const i = siblings.indexOf(node);
    if (i >= 0) siblings.splice(i, 1);
    if (node instanceof DfNode && node.nameHex !== undefined && this.#byName.get(node.nameHex) === node)
      this.#byName.delete(node.nameHex);
  }

  #removeRec(node: DfNode | EfNode): void {
    if (node instanceof DfNode) for (const c of [...node.children]) this.#removeRec(c as DfNode | EfNode);
    this.#mem.delete(`fs/n/${node.id}`);
    this.#mem.delete(`fs/c/${node.id}`);
    this.#mem.delete(`fs/fci/${node.id}`);
    const siblings = node.parent!.children;
    const index = siblings.indexOf(node);
    this.#unlink(node);
    node.removed = true;
    this.#mem.onRollback(() => {
      node.removed = false;
      siblings.splice(index, 0, node);
      if (node instanceof DfNode && node.nameHex !== undefined) this.#byName.set(node.nameHex, node);
    });
  }
}

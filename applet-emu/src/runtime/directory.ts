/**
 * Directory DDFs: the PSE `1PAY.SYS.DDF01` (contact) and PPSE `2PAY.SYS.DDF01` (contactless) that terminals
 * select by name to discover the payment applications (EMV Book 1 §12.2, PBOC 2.0 part 5).
 *
 * A {@link DirectoryDdf} is a small built-in applet bound to a DF named after it: its directory EF (linear
 * variable records, SFI 1 by default) holds one `70 { 61 { 4F AID, 50 label, 87 priority, … } }` record per
 * application. Its FCI is generated (`6F { 84 name, A5 { 88 SFI } }` for a PSE; for a PPSE the `61` entries are
 * listed in `A5 { BF0C { … } }`) unless personalization stores one with {@link DirectoryDdf.setFci}.
 *
 * @module
 */
import { type CommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import { decodeTlv, encodeTlv, type Tlv, tlv } from '@simtap/sdk/core/tlv';
import type { ApduContext, Applet, AppletEnv, CardInterface } from './applet';
import type { Card } from './card';
import { RegistryError } from './errors';
import type { DedicatedFile, ElementaryFile } from './file-system';
import type { JsonValue, PersistentStore } from './memory';

/** One application listed in a directory. */
export interface DirectoryEntry {
  /** ADF name (tag 4F). */
  readonly aid: Uint8Array;
  /** Application label (tag 50, ASCII). */
  readonly label?: string;
  /** Application priority indicator (tag 87). */
  readonly priority?: number;
  /** Further encoded data objects placed inside the `61` template (e.g. `9F12` preferred name). */
  readonly extra?: Uint8Array;
}

/** Options of {@link DirectoryDdf}. */
export interface DirectoryDdfOptions {
  /** FID of the DDF (default none: selectable by name only). */
  readonly fid?: number;
  /** FID of the directory EF (default 0001). */
  readonly efFid?: number;
  /** SFI of the directory EF (default 1). */
  readonly sfi?: number;
  /** Capacity of the directory EF (default 16 records). */
  readonly maxRecords?: number;
  /** List the entries in the FCI (`BF0C`), PPSE style; default true for names starting `2PAY`. */
  readonly listInFci?: boolean;
  /** Interfaces on which the directory is visible (default both). */
  readonly interfaces?: readonly CardInterface[];
}

interface DdfConfig {
  fid: number | null;
  efFid: number;
  sfi: number;
  maxRecords: number;
  listInFci: boolean;
  interfaces: CardInterface[];
}

const ASCII = new TextEncoder();
const ASCII_DECODE = new TextDecoder();

/** The `70 { 61 { 4F, 50, 87, extra } }` directory record of an entry. */
export function directoryRecord(entry: DirectoryEntry): Uint8Array {
  const items: Tlv[] = [tlv(0x4f, entry.aid)];
  if (entry.label !== undefined) items.push(tlv(0x50, ASCII.encode(entry.label)));
  if (entry.priority !== undefined) items.push(tlv(0x87, Uint8Array.of(entry.priority & 0xff)));
  let body = encodeTlv(tlv(0x61, items));
  if (entry.extra !== undefined && entry.extra.length > 0) {
    const inner = encodeTlv(items);
    const merged = new Uint8Array(inner.length + entry.extra.length);
    merged.set(inner);
    merged.set(entry.extra, inner.length);
    body = encodeTlv({ tag: 0x61, value: merged });
  }
  return encodeTlv({ tag: 0x70, value: body });
}

/** A PSE/PPSE-style directory DDF (type `simtap.ddf`). */
export class DirectoryDdf implements Applet {
  /** Factory type of directory DDFs in card images. */
  static readonly TYPE = 'simtap.ddf';
  /** The contact Payment System Environment name. */
  static readonly PSE = '1PAY.SYS.DDF01';
  /** The contactless (Proximity) Payment System Environment name. */
  static readonly PPSE = '2PAY.SYS.DDF01';

  readonly aid: Uint8Array;
  readonly type = DirectoryDdf.TYPE;
  #config: DdfConfig | undefined;
  #store: PersistentStore | undefined;

  /**
   * A directory named `name` (ASCII string or bytes, 5..16 bytes). Install it with `card.registry.install`.
   */
  constructor(name: string | Uint8Array, options: DirectoryDdfOptions = {}) {
    this.aid = typeof name === 'string' ? ASCII.encode(name) : name.slice();
    const ppse = ASCII_DECODE.decode(this.aid).startsWith('2PAY');
    this.#config = {
      fid: options.fid ?? null,
      efFid: options.efFid ?? 0x0001,
      sfi: options.sfi ?? 1,
      maxRecords: options.maxRecords ?? 16,
      listInFci: options.listInFci ?? ppse,
      interfaces: [...(options.interfaces ?? ['contact', 'contactless'])],
    };
  }

  /** Rebuilds a directory from its store (card images). */
  static restore(env: AppletEnv): DirectoryDdf {
    const ddf = new DirectoryDdf(env.aid);
    ddf.#config = undefined;
    ddf.#store = env.store;
    return ddf;
  }

  #cfg(): DdfConfig {
    if (this.#config === undefined) {
      const stored = this.#store?.getJson<{ [k: string]: JsonValue }>('config');
      if (stored === undefined) throw new RegistryError('AID_NOT_FOUND', 'directory DDF has no stored configuration');
      this.#config = stored as unknown as DdfConfig;
    }
    return this.#config;
  }

  acceptsInterface(iface: CardInterface): boolean {
    return this.#cfg().interfaces.includes(iface);
  }

  onInstall(env: AppletEnv): void {
    const cfg = this.#cfg();
    this.#store = env.store;
    env.store.put('config', cfg as unknown as JsonValue);
    const df = env.files.createDf(env.files.mf, { ...(cfg.fid === null ? {} : { fid: cfg.fid }), name: this.aid });
    env.files.createEf(df, {
      fid: cfg.efFid,
      sfi: cfg.sfi,
      structure: 'linear-variable',
      recordSize: 255,
      maxRecords: cfg.maxRecords,
      access: { read: 'always', update: 'never' },
    });
  }

  /**
   * Adds an application to the directory (a new record; inside or outside a transaction).
   * @throws {RegistryError} `AID_NOT_FOUND` when this directory is not installed on `card`.
   * @throws {IsoException} 6A84 when the directory EF is full.
   */
  addEntry(card: Card, entry: DirectoryEntry): void {
    card.files.appendRecord(this.#dirEf(card), directoryRecord(entry));
  }

  /** The directory records (`70` templates), record 1 first. */
  records(card: Card): Uint8Array[] {
    return card.files.records(this.#dirEf(card));
  }

  /**
   * Stores the FCI this directory answers to SELECT (or, with `undefined`, returns to the generated one).
   * @throws {RegistryError} `AID_NOT_FOUND` when this directory is not installed on `card`.
   */
  setFci(card: Card, fci: Uint8Array | undefined): void {
    card.files.setFci(this.#df(card), fci);
  }

  select(ctx: ApduContext): Uint8Array {
    const card = ctx.card;
    const df = this.#df(card);
    const stored = card.files.fci(df);
    if (stored !== undefined) return stored;
    const cfg = this.#cfg();
    const prop: Tlv[] = [];
    if (cfg.listInFci) {
      const entries: Tlv[] = [];
      for (const rec of this.records(card))
        for (const t of decodeTlv(rec, { lenient: true }))
          if (t.tag === 0x70 && t.children) for (const c of t.children) if (c.tag === 0x61) entries.push(c);
      prop.push(tlv(0xbf0c, entries));
    } else prop.push(tlv(0x88, Uint8Array.of(cfg.sfi)));
    return encodeTlv(tlv(0x6f, [tlv(0x84, this.aid), tlv(0xa5, prop)]));
  }

  process(ctx: ApduContext, cmd: CommandApdu): Uint8Array | undefined {
    if (ctx.files.handles(cmd.ins)) return ctx.files.handle(cmd);
    return IsoException.throwIt(SW.INS_NOT_SUPPORTED);
  }

  #df(card: Card): DedicatedFile {
    const df = card.files.findByName(this.aid);
    if (df === undefined) throw new RegistryError('AID_NOT_FOUND', 'directory DDF is not installed on this card');
    return df;
  }

  #dirEf(card: Card): ElementaryFile {
    const ef = card.files.bySfi(this.#df(card), this.#cfg().sfi);
    if (ef === undefined) throw new RegistryError('AID_NOT_FOUND', 'directory EF missing');
    return ef;
  }
}

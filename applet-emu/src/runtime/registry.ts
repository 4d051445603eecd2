/**
 * The applet registry (GlobalPlatform's "GP registry"): installed applets in install order with their AID,
 * life-cycle state, privileges and default selection per interface, plus the card life-cycle state. Entries
 * live in persistent memory (`reg/…`), so installs and state changes are transactional and part of card
 * images; the issuer security domain implements GET STATUS / SET STATUS / INSTALL on top of this API.
 *
 * @module
 */
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import type { Applet, AppletEnv, AppletFactory, CardInterface } from './applet';
import { CARD_LIFECYCLE, LIFECYCLE } from './applet';
import type { Card } from './card';
import { CardImageError, RegistryError } from './errors';
import type { FileSystem } from './file-system';
import type { JsonValue, PersistentMemory } from './memory';
import { PersistentStore, TransientStore } from './memory';

/** A registry entry as callers see it (a snapshot: `aid` and `privileges` are copies). */
export interface RegistryEntry {
  readonly aid: Uint8Array;
  readonly applet: Applet;
  /** Factory key for card images, if the applet has one. */
  readonly type: string | undefined;
  /** GP life-cycle byte ({@link LIFECYCLE}). */
  readonly lifecycle: number;
  /** GP privileges, 3 bytes ({@link PRIVILEGE} for the first byte). */
  readonly privileges: Uint8Array;
  /** Interfaces on which this applet is selected by default (implicit selection). */
  readonly defaultFor: readonly CardInterface[];
}

/** Options of {@link Registry.install}. */
export interface InstallOptions {
  /** Life-cycle byte; default `SELECTABLE` (07). */
  readonly lifecycle?: number;
  /** Privileges, 3 bytes; default `00 00 00`. */
  readonly privileges?: Uint8Array;
  /** Default-selected on both interfaces (`true`) or the listed ones; default none. */
  readonly default?: boolean | readonly CardInterface[];
}

const IFACE_INDEX: Record<CardInterface, 0 | 1> = { contact: 0, contactless: 1 };
const REG_PREFIX = 'reg/a/';

/** @internal The runtime's mutable entry. */
export class Entry {
  installed = true;
  readonly resetTransient: [TransientStore, TransientStore] = [new TransientStore(), new TransientStore()];
  constructor(
    readonly aid: Uint8Array,
    readonly aidHex: string,
    readonly applet: Applet,
    readonly type: string | undefined,
    readonly seq: number,
    public lifecycle: number,
    public privileges: Uint8Array,
    public defaults: [boolean, boolean],
    readonly store: PersistentStore,
  ) {}

  /** Accepts `iface` per `Applet.acceptsInterface` (a throwing predicate counts as "no"). */
  accepts(iface: CardInterface): boolean {
    const f = this.applet.acceptsInterface;
    if (f === undefined) return true;
    try {
      return f.call(this.applet, iface) !== false;
    } catch {
      return false;
    }
  }

  info(): RegistryEntry {
    return Object.freeze({
      aid: this.aid.slice(),
      applet: this.applet,
      type: this.type,
      lifecycle: this.lifecycle,
      privileges: this.privileges.slice(),
      defaultFor: Object.freeze((['contact', 'contactless'] as const).filter((_, i) => this.defaults[i])),
    });
  }

  record(): JsonValue {
    return {
      seq: this.seq,
      type: this.type ?? null,
      lifecycle: this.lifecycle,
      privileges: toHex(this.privileges),
      default: [this.defaults[0], this.defaults[1]],
    };
  }
}

function checkAid(aid: unknown): Uint8Array {
  if (!(aid instanceof Uint8Array) || aid.length < 5 || aid.length > 16)
    throw new RegistryError('AID_INVALID', 'an AID is 5..16 bytes');
  return aid;
}

function checkLifecycle(lc: unknown): number {
  if (typeof lc !== 'number' || !Number.isInteger(lc) || lc < 0 || lc > 0xff)
    throw new RegistryError('LIFECYCLE_INVALID', `life-cycle state must be a byte, got ${String(lc)}`);
  return lc;
}

function checkPrivileges(p: unknown): Uint8Array {
  if (!(p instanceof Uint8Array) || p.length !== 3)
    throw new RegistryError('LIFECYCLE_INVALID', 'privileges are 3 bytes');
  return p.slice();
}

/** The card's applet registry (`card.registry`). */
export class Registry {
  readonly #mem: PersistentMemory;
  readonly #files: FileSystem;
  readonly #card: Card;
  readonly #entries: Entry[] = [];
  readonly #byHex = new Map<string, Entry>();

  /** @internal Created by the card. */
  constructor(mem: PersistentMemory, files: FileSystem, card: Card) {
    this.#mem = mem;
    this.#files = files;
    this.#card = card;
  }

  /**
   * Installs `applet` (calls its `onInstall` inside the same transaction) and returns its entry.
   * @throws {RegistryError} `AID_INVALID`, `AID_EXISTS`, `LIFECYCLE_INVALID`.
   * @throws whatever `onInstall` throws (the install is then rolled back).
   */
  install(applet: Applet, options: InstallOptions = {}): RegistryEntry {
    const aid = checkAid(applet?.aid).slice();
    const aidHex = toHex(aid);
    if (this.#byHex.has(aidHex)) throw new RegistryError('AID_EXISTS', `applet ${aidHex} is already installed`);
    const lifecycle = checkLifecycle(options.lifecycle ?? LIFECYCLE.SELECTABLE);
    const privileges = checkPrivileges(options.privileges ?? new Uint8Array(3));
    const d = options.default;
    const defaults: [boolean, boolean] =
      d === true
        ? [true, true]
        : Array.isArray(d)
          ? [d.includes('contact'), d.includes('contactless')]
          : [false, false];
    return this.#mem.atomically(() => {
      const seq = (this.#mem.peek('reg/next') as number | undefined) ?? 1;
      this.#mem.put('reg/next', seq + 1);
      const entry = new Entry(
        aid,
        aidHex,
        applet,
        applet.type,
        seq,
        lifecycle,
        privileges,
        [false, false],
        new PersistentStore(this.#mem, `app/${aidHex}/`),
      );
      this.#persist(entry);
      this.#add(entry, this.#entries.length);
      this.#mem.onRollback(() => this.#drop(entry));
      if (defaults[0]) this.setDefault('contact', aid);
      if (defaults[1]) this.setDefault('contactless', aid);
      applet.onInstall?.(this.#env(entry));
      return entry.info();
    });
  }

  /** Every installed applet, in install order. */
  list(): RegistryEntry[] {
    return this.#entries.map((e) => e.info());
  }

  /** The entry of `aid` (exact match), if installed. */
  get(aid: Uint8Array): RegistryEntry | undefined {
    return this.#byHex.get(toHex(aid))?.info();
  }

  /**
   * The persistent namespace of the applet `aid` (e.g. for the security domain's STORE DATA forwarding).
   * @throws {RegistryError} `AID_NOT_FOUND`.
   */
  storeOf(aid: Uint8Array): PersistentStore {
    return this.#require(aid).store;
  }

  /**
   * Sets the GP life-cycle byte of `aid` (SET STATUS). Selection checks it: only selectable states can be
   * selected; an applet already selected stays selected until deselected.
   * @throws {RegistryError} `AID_NOT_FOUND`, `LIFECYCLE_INVALID`.
   */
  setLifecycle(aid: Uint8Array, lifecycle: number): void {
    const e = this.#require(aid);
    const lc = checkLifecycle(lifecycle);
    this.#mem.atomically(() => {
      const old = e.lifecycle;
      e.lifecycle = lc;
      this.#mem.onRollback(() => {
        e.lifecycle = old;
      });
      this.#persist(e);
    });
  }

  /**
   * Sets the 3 privilege bytes of `aid`.
   * @throws {RegistryError} `AID_NOT_FOUND`, `LIFECYCLE_INVALID` (not 3 bytes).
   */
  setPrivileges(aid: Uint8Array, privileges: Uint8Array): void {
    const e = this.#require(aid);
    const p = checkPrivileges(privileges);
    this.#mem.atomically(() => {
      const old = e.privileges;
      e.privileges = p;
      this.#mem.onRollback(() => {
        e.privileges = old;
      });
      this.#persist(e);
    });
  }

  /**
   * Makes `aid` the default-selected applet of `iface` (or none with `undefined`); at most one per interface.
   * @throws {RegistryError} `AID_NOT_FOUND`.
   */
  setDefault(iface: CardInterface, aid: Uint8Array | undefined): void {
    const i = IFACE_INDEX[iface];
    const target = aid === undefined ? undefined : this.#require(aid);
    this.#mem.atomically(() => {
      for (const e of this.#entries) {
        const want = e === target;
        if (e.defaults[i] === want) continue;
        const old = e.defaults;
        const next: [boolean, boolean] = [old[0], old[1]];
        next[i] = want;
        e.defaults = next;
        this.#mem.onRollback(() => {
          e.defaults = old;
        });
        this.#persist(e);
      }
    });
  }

  /** The default-selected applet of `iface`, if any. */
  defaultFor(iface: CardInterface): RegistryEntry | undefined {
    return this.defaultEntry(iface)?.info();
  }

  /**
   * Deletes `aid` from the registry together with its persistent namespace (GP DELETE). Files stay; channels
   * where it was selected fall back to no selection.
   * @throws {RegistryError} `AID_NOT_FOUND`.
   */
  remove(aid: Uint8Array): void {
    const e = this.#require(aid);
    this.#mem.atomically(() => {
      e.store.clear();
      this.#mem.delete(REG_PREFIX + e.aidHex);
      const index = this.#entries.indexOf(e);
      this.#drop(e);
      this.#mem.onRollback(() => this.#add(e, index));
    });
  }

  /** The card life-cycle byte ({@link CARD_LIFECYCLE}); `SECURED` until set. */
  get cardLifecycle(): number {
    return (this.#mem.peek('card/lifecycle') as number | undefined) ?? CARD_LIFECYCLE.SECURED;
  }

  /**
   * Sets the card life-cycle byte.
   * @throws {RegistryError} `LIFECYCLE_INVALID`.
   */
  setCardLifecycle(lifecycle: number): void {
    const lc = checkLifecycle(lifecycle);
    this.#mem.atomically(() => this.#mem.put('card/lifecycle', lc));
  }

  // ------------------------------------------------------------ runtime-internal

  /** @internal Entries in install order (live objects). */
  get entries(): readonly Entry[] {
    return this.#entries;
  }

  /** @internal */
  byHex(aidHex: string): Entry | undefined {
    return this.#byHex.get(aidHex);
  }

  /** @internal */
  defaultEntry(iface: CardInterface): Entry | undefined {
    const i = IFACE_INDEX[iface];
    for (const e of this.#entries) if (e.defaults[i]) return e;
    return undefined;
  }

  /**
   * @internal Rebuilds the entries from persistent memory after an image was loaded, creating each applet with
   * the factory of its type.
   * @throws {CardImageError} `IMAGE_APPLET_UNKNOWN` (no factory), `IMAGE_CORRUPT` (bad record).
   */
  restore(factories: Readonly<Record<string, AppletFactory>>): void {
    const rows: Array<[string, Record<string, JsonValue>]> = [];
    for (const k of this.#mem.keys(REG_PREFIX)) {
      const v = this.#mem.peek(k);
      if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array)
        throw new CardImageError('IMAGE_CORRUPT', `registry record ${k} is not an object`);
      rows.push([k.slice(REG_PREFIX.length), v as Record<string, JsonValue>]);
    }
    rows.sort((a, b) => (a[1].seq as number) - (b[1].seq as number));
    for (const [aidHex, r] of rows) {
      const type = r.type;
      const factory = typeof type === 'string' && Object.hasOwn(factories, type) ? factories[type] : undefined;
      if (factory === undefined)
        throw new CardImageError('IMAGE_APPLET_UNKNOWN', `no factory for applet ${aidHex} of type ${String(type)}`);
      const d = r.default as unknown;
      if (
        typeof r.seq !== 'number' ||
        typeof r.lifecycle !== 'number' ||
        typeof r.privileges !== 'string' ||
        !Array.isArray(d) ||
        d.length !== 2
      )
        throw new CardImageError('IMAGE_CORRUPT', `registry record ${aidHex} is malformed`);
      const aid = fromHex(aidHex);
      const store = new PersistentStore(this.#mem, `app/${aidHex}/`);
      const applet = factory({ aid: aid.slice(), store, files: this.#files, card: this.#card });
      const entry = new Entry(
        aid,
        aidHex,
        applet,
        type as string,
        r.seq,
        r.lifecycle,
        fromHex(r.privileges),
        [d[0] === true, d[1] === true],
        store,
      );
      this.#add(entry, this.#entries.length);
    }
  }

  #env(e: Entry): AppletEnv {
    return { aid: e.aid.slice(), store: e.store, files: this.#files, card: this.#card };
  }

  #require(aid: Uint8Array): Entry {
    const e = aid instanceof Uint8Array ? this.#byHex.get(toHex(aid)) : undefined;
    if (e === undefined) throw new RegistryError('AID_NOT_FOUND', 'no such applet');
    return e;
  }

  #persist(e: Entry): void {
    this.#mem.put(REG_PREFIX + e.aidHex, e.record());
  }

  #add(e: Entry, index: number): void {
    this.#entries.splice(index, 0, e);
    this.#byHex.set(e.aidHex, e);
    e.installed = true;
  }

  #drop(e: Entry): void {
    const i = this.#entries.indexOf(e);
    if (i >= 0) this.#entries.splice(i, 1);
    if (this.#byHex.get(e.aidHex) === e) this.#byHex.delete(e.aidHex);
    e.installed = false;
  }
}

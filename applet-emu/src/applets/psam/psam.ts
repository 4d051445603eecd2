/**
 * The PSAM (purchase secure access module) applet of a consumption machine — docs/spec.md §6 and §15, docs/architecture.md ("The card"). A
 * PSAM is its own card in the POS: run it on a separate {@link Card} (contact interface, optionally T=0).
 *
 * It holds issuer master keys, never card keys, and every key carries a usage ({@link PSAM_KEY_USAGE}) that fixes
 * which commands may use it:
 *
 * - the **purchase** master key (usage 01) serves `80 70` / `80 72` only: for every purchase the PSAM diversifies
 *   the card's DPK from it and the card's application serial (one level) or issuer/city code and serial (two
 *   levels), computes SESPK and MAC1, and checks the card's MAC2. SESPK never leaves the PSAM;
 * - `80 1A` / `80 FA` (diversify a working key, then encrypt or MAC with it) take only the general-purpose usages
 *   {@link PSAM_KEY_USAGE.ENCRYPTION} (encrypt only) and {@link PSAM_KEY_USAGE.MAC} (MAC only);
 * - no other usage can be loaded: DGI 8001 refuses load, TAC, external-authentication, line-protection and
 *   PIN-unblock keys (6A80). A POS PSAM never holds the TAC key — TACs are the issuer's to verify — so no
 *   terminal can compute a TAC or a purchase session key, whatever APDUs it sends.
 *
 * Its terminal transaction sequence number (4 bytes, persistent) is used by one MAC1 and incremented in the same
 * transaction. Sessions are one-shot like the purse's: any command drops a pending MAC2 check (6985 afterwards)
 * and wipes its session key; the `80 1A` working key lasts until another `80 1A`, reset or deselection, and is
 * wiped then. `docs/card.md` ("PSAM") is the APDU reference.
 *
 * @module
 */
import { concat, equalCt, fromHex, readUint, toHex, wipe } from '@simtap/sdk/core/bytes';
import { DesCipher, RetailMac } from '@simtap/sdk/core/crypto';
import { type CommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import {
  creditSamForPurchaseCommandData,
  type InitSamForPurchaseCommandData,
  initSamForPurchaseCommandData,
  initSamForPurchaseResponse,
  initSamForPurchaseTwoLevelCommandData,
  PbocKeyDiversifier,
  PbocMac,
  PSAM_SFI,
  pbocCommandsOf,
  purchaseMac1,
  purchaseMac2,
  purchaseSessionKey,
  TERMINAL_ID_LENGTH,
  TTI,
} from '@simtap/sdk/core/pboc';
import { encodeTlv, tlv } from '@simtap/sdk/core/tlv';
import type { ApduContext, AppletEnv } from '../../runtime/applet';
import { LIFECYCLE } from '../../runtime/applet';
import type { Card } from '../../runtime/card';
import type { DedicatedFile, ElementaryFile, FileSystem } from '../../runtime/file-system';

import { type PersonalizableApplet, type StoreDataItem, secretDgiValue } from '../personalization';

/** The applet's persistent namespace (whatever the runtime calls its class). */
type StoreView = ApduContext['store'];

/** Factory type of the PSAM applet in card images. */
export const PSAM_TYPE = 'simtap.psam';

/** Default PSAM AID (reference profile `psams[].aid`). */
export const PSAM_DEFAULT_AID_HEX = 'A000000632010106';

/** Default PSAM DF file identifier. */
export const PSAM_DEFAULT_FID = 0xdf01;

/**
 * The PSAM's commands: the rows of the core's instruction table (`PBOC_COMMANDS` in `@simtap/sdk/core/pboc`) that
 * the PSAM application answers; `header` as documented in `docs/card.md`.
 */
export const PSAM_COMMANDS = /* @__PURE__ */ pbocCommandsOf('psam', 'applet');

/**
 * Key usage codes: first byte of a DGI 8001 entry, P1 of `80 1A`. A PSAM accepts no other usage: the purse's load,
 * TAC, external-authentication, line-protection and PIN-unblock keys are the issuer's and never go into a
 * terminal. The general-purpose codes 21/22 are a project decision [K].
 */
export const PSAM_KEY_USAGE = {
  /** Purchase master key: diversified to the card's DPK inside `80 70` / `80 72` only. */
  PURCHASE: 0x01,
  /** General-purpose encryption master key: `80 1A 21` then `80 FA 00` (3DES-ECB with the diversified key). */
  ENCRYPTION: 0x21,
  /** General-purpose MAC master key: `80 1A 22` then `80 FA 01` / `80 FA 05` (retail MAC with the diversified key). */
  MAC: 0x22,
} as const;

/** The usages DGI 8001 accepts. */
const LOADABLE_USAGES: readonly number[] = [PSAM_KEY_USAGE.PURCHASE, PSAM_KEY_USAGE.ENCRYPTION, PSAM_KEY_USAGE.MAC];

/** PSAM personalization DGIs. */
export const PSAM_DGI = {
  /** Terminal ID, 6 bytes (EF 0x16). */
  TERMINAL_ID: 0x0101,
  /** Next terminal transaction sequence number, 4 bytes. */
  TXN_SEQ: 0x0102,
  /** Master keys, repeated entries usage(1) ‖ version(1, 01..FF) ‖ key(16); usages 01, 21, 22 only. Secret. */
  KEYS: 0x8001,
} as const;

/** Options of {@link PsamApplet}. */
export interface PsamOptions {
  /** Application identifier; default {@link PSAM_DEFAULT_AID_HEX}. */
  readonly aid?: Uint8Array;
  /** DF file identifier; default DF01. */
  readonly fid?: number;
}

/** What `storeData` needs of its context (an `ApduContext` satisfies it). */
export interface PsamPersoEnv {
  readonly store: StoreView;
  readonly card: Card;
  atomically<T>(fn: () => T): T;
}

interface Mac2Session {
  readonly mac: PbocMac;
  readonly amount: number;
}

type WorkingKey =
  | { readonly usage: typeof PSAM_KEY_USAGE.ENCRYPTION; readonly cipher: DesCipher }
  | { readonly usage: typeof PSAM_KEY_USAGE.MAC; readonly mac: RetailMac };

interface MasterEntry {
  readonly bytes: Uint8Array;
  readonly diversifier: PbocKeyDiversifier;
  /** Card keys already derived from this master, by diversification data (latin-1 string). */
  readonly cards: Map<string, DesCipher>;
}

const SESSION = 'mac2';
const WORK = 'work';
const KEY_ENTRY_LENGTH = 18;
/** Store slot prefix of the test helpers' direct card keys (see `installDirectPurchaseKey` in `./install`). */
export const DIRECT_KEY_SLOT = 'direct';
const CARD_KEY_CACHE = 64;
const PURCHASE_TTIS: readonly number[] = [TTI.ED_PURCHASE, TTI.EP_PURCHASE, TTI.CAPP_PURCHASE];

function latin1(b: Uint8Array): string {
  return String.fromCharCode.apply(null, b as unknown as number[]);
}

/** The PSAM applet (type `simtap.psam`); see the module documentation. */
export class PsamApplet implements PersonalizableApplet {
  /** Factory type in card images. */
  static readonly TYPE = PSAM_TYPE;

  readonly aid: Uint8Array;
  readonly type = PSAM_TYPE;
  readonly #fid: number;
  readonly #masters = new Map<string, MasterEntry>();
  #adf: { fs: FileSystem; node: DedicatedFile } | undefined;

  /** A PSAM applet; install it with `card.registry.install` (or `installPsam`). */
  constructor(options: PsamOptions = {}) {
    this.aid = (options.aid ?? fromHex(PSAM_DEFAULT_AID_HEX)).slice();
    this.#fid = options.fid ?? PSAM_DEFAULT_FID;
  }

  /** Rebuilds the applet from its store (card images). */
  static restore(env: AppletEnv): PsamApplet {
    return new PsamApplet({ aid: env.aid, fid: env.store.getNumber('fid') });
  }

  onInstall(env: AppletEnv): void {
    const fs = env.files;
    const adf = fs.createDf(fs.mf, { fid: this.#fid, name: this.aid });
    fs.createEf(adf, {
      fid: PSAM_SFI.TERMINAL_ID,
      sfi: PSAM_SFI.TERMINAL_ID,
      structure: 'transparent',
      size: TERMINAL_ID_LENGTH,
    });
    env.store.put('fid', this.#fid);
    env.store.put('seq', 1);
    env.store.put('personalized', false);
  }

  select(): Uint8Array {
    return encodeTlv(tlv(0x6f, [tlv(0x84, this.aid)]));
  }

  process(ctx: ApduContext, cmd: CommandApdu): Uint8Array | undefined {
    const cla = ctx.cla;
    if (cla.chaining) IsoException.throwIt(SW.CHAINING_NOT_SUPPORTED);
    if (cla.sm !== 'none') IsoException.throwIt(SW.SECURE_MESSAGING_NOT_SUPPORTED);
    // One-shot: whatever this command is, the MAC2 check of the previous MAC1 ends with it, and its session key
    // is wiped when the command is done.
    const t = ctx.transient;
    const session = t.get<Mac2Session>(SESSION);
    if (session !== undefined) t.delete(SESSION);
    try {
      if (cla.kind === 'proprietary') {
        switch (cmd.ins) {
          case PSAM_COMMANDS.PSAM_INIT_FOR_PURCHASE.ins:
            return this.#initForPurchase(ctx, cmd);
          case PSAM_COMMANDS.PSAM_CREDIT_FOR_PURCHASE.ins:
            return this.#creditForPurchase(cmd, session);
          case PSAM_COMMANDS.PSAM_DES_INIT.ins:
            return this.#desInit(ctx, cmd);
          case PSAM_COMMANDS.PSAM_DES_CRYPT.ins:
            return this.#desCrypt(ctx, cmd);
          default:
            return IsoException.throwIt(SW.INS_NOT_SUPPORTED);
        }
      }
      if (ctx.files.handles(cmd.ins)) return ctx.files.handle(cmd);
      return IsoException.throwIt(SW.INS_NOT_SUPPORTED);
    } finally {
      session?.mac.destroy();
    }
  }

  /**
   * `80 70 00 00 1C|24`: {@link initSamForPurchaseCommandData} (one-level key diversification) or
   * {@link initSamForPurchaseTwoLevelCommandData} (issuer ID first) → {@link initSamForPurchaseResponse}.
   */
  #initForPurchase(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    const d = cmd.data;
    const twoLevel = d.length === initSamForPurchaseTwoLevelCommandData.length;
    if (d.length !== initSamForPurchaseCommandData.length && !twoLevel) IsoException.throwIt(SW.WRONG_LENGTH);
    const store = ctx.store;
    this.#requirePersonalized(store);
    const req: InitSamForPurchaseCommandData & { issuerId?: Uint8Array } = twoLevel
      ? initSamForPurchaseTwoLevelCommandData.decode(d)
      : initSamForPurchaseCommandData.decode(d);
    if (!PURCHASE_TTIS.includes(req.tti)) IsoException.throwIt(SW.WRONG_DATA);
    const seq = store.getNumber('seq') ?? 0;
    if (seq >= 0xffffffff) IsoException.throwIt(SW.TRANSACTION_COUNTER_MAX);
    const div = req.issuerId === undefined ? req.cardSerial : concat(req.cardSerial, req.issuerId);
    const dpk = this.#purchaseKey(store, req.keyVersion, div);
    const sespk = purchaseSessionKey(dpk.cipher, req.cardRandom, req.offlineCounter, seq);
    if (dpk.owned) dpk.cipher.destroy();
    const mac = new PbocMac(sespk);
    wipe(sespk);
    const fs = ctx.card.files;
    const terminalId = fs.readBinary(this.#terminalIdEf(fs), 0, TERMINAL_ID_LENGTH);
    const mac1 = purchaseMac1({
      sessionKey: mac,
      amount: req.amount,
      tti: req.tti,
      terminalId,
      date: req.date,
      time: req.time,
    });
    ctx.atomically(() => store.put('seq', seq + 1));
    const session: Mac2Session = { mac, amount: req.amount };
    ctx.transient.set(SESSION, session, () => mac.destroy());
    return initSamForPurchaseResponse.encode({ terminalTxnSeq: seq, mac1 });
  }

  /** `80 72 00 00 04 MAC2`: 9000, 9302 (bad MAC2) or 6985 (no MAC1 session just before). */
  #creditForPurchase(cmd: CommandApdu, session: Mac2Session | undefined): undefined {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    if (cmd.data.length !== creditSamForPurchaseCommandData.length) IsoException.throwIt(SW.WRONG_LENGTH);
    if (session === undefined) return IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    const expected = purchaseMac2({ sessionKey: session.mac, amount: session.amount });
    session.mac.destroy();
    if (!equalCt(expected, creditSamForPurchaseCommandData.decode(cmd.data).mac2)) IsoException.throwIt(SW.MAC_INVALID);
    return undefined;
  }

  /**
   * `80 1A P1=usage P2=version Lc divData`: the working key = the general-purpose master key of that usage (21
   * encryption, 22 MAC) diversified with divData (8 bytes: card serial; 16 bytes: card serial ‖ issuer ID, two
   * levels). Any other usage is refused with 6A86 — in particular the purchase key, which only `80 70` uses.
   */
  #desInit(ctx: ApduContext, cmd: CommandApdu): undefined {
    const usage = cmd.p1;
    if (usage !== PSAM_KEY_USAGE.ENCRYPTION && usage !== PSAM_KEY_USAGE.MAC) IsoException.throwIt(SW.INCORRECT_P1P2);
    const d = cmd.data;
    if (d.length !== 8 && d.length !== 16) IsoException.throwIt(SW.WRONG_LENGTH);
    const store = ctx.store;
    this.#requirePersonalized(store);
    const t = ctx.transient;
    const old = t.get<WorkingKey>(WORK);
    if (old !== undefined) {
      t.delete(WORK);
      destroyWorkingKey(old);
    }
    const cardKey = this.#deriveKey(store, usage, cmd.p2, d);
    const work: WorkingKey =
      usage === PSAM_KEY_USAGE.ENCRYPTION
        ? { usage, cipher: new DesCipher(cardKey) }
        : { usage, mac: new RetailMac(cardKey) };
    wipe(cardKey);
    t.set(WORK, work, () => destroyWorkingKey(work));
    return undefined;
  }

  /**
   * `80 FA P1 00 Lc data` with the working key: P1 00 3DES-ECB-encrypts (multiple of 8 bytes; encryption key only);
   * 01 MAC (ICV zero); 05 MAC with ICV = the first 8 data bytes (MAC key only). MAC = ISO 9797-1 padding 2, retail
   * MAC (algorithm 3), 4 bytes. 6985 when the working key's usage does not allow the operation.
   */
  #desCrypt(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    if (cmd.p2 !== 0 || (cmd.p1 !== 0x00 && cmd.p1 !== 0x01 && cmd.p1 !== 0x05))
      IsoException.throwIt(SW.INCORRECT_P1P2);
    const work = ctx.transient.get<WorkingKey>(WORK);
    if (work === undefined) return IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    const d = cmd.data;
    if (cmd.p1 === 0x00) {
      if (work.usage !== PSAM_KEY_USAGE.ENCRYPTION) return IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
      if (d.length === 0 || d.length % 8 !== 0) IsoException.throwIt(SW.WRONG_LENGTH);
      const out = new Uint8Array(d.length);
      for (let o = 0; o < d.length; o += 8) work.cipher.encryptBlock(d, o, out, o);
      return out;
    }
    if (work.usage !== PSAM_KEY_USAGE.MAC) return IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    if (cmd.p1 === 0x05) {
      if (d.length < 8) IsoException.throwIt(SW.WRONG_LENGTH);
      return work.mac.mac(d.subarray(8), d.subarray(0, 8)).slice(0, 4);
    }
    return work.mac.mac(d).slice(0, 4);
  }

  // ------------------------------------------------------------ personalization

  storeData(ctx: ApduContext, item: StoreDataItem): void {
    this.applyStoreData(ctx, item);
  }

  /**
   * Applies one PSAM DGI ({@link PSAM_DGI}); the last one marks the PSAM personalized. DGI 8001 arrives
   * DEK-encrypted (the ISD decrypts it; `item.encrypted`), possibly with ISO 9797-1 method 2 padding, which is
   * removed here.
   * @throws {IsoException} 6982 secret DGI not DEK-encrypted, 6985 already personalized, 6A80 malformed value
   *   (including a key entry with a usage other than 01/21/22 or key version 00), 6A88 unknown DGI.
   */
  applyStoreData(env: PsamPersoEnv, item: StoreDataItem): void {
    const { store, card } = env;
    if (item.dgi >= 0x8000 && !item.encrypted) IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (store.get('personalized') === true) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    const d = item.data;
    const fs = card.files;
    env.atomically(() => {
      switch (item.dgi) {
        case PSAM_DGI.TERMINAL_ID:
          if (d.length !== TERMINAL_ID_LENGTH) IsoException.throwIt(SW.WRONG_DATA);
          fs.updateBinary(this.#terminalIdEf(fs), 0, d);
          break;
        case PSAM_DGI.TXN_SEQ:
          if (d.length !== 4) IsoException.throwIt(SW.WRONG_DATA);
          store.put('seq', readUint(d, 0, 4));
          break;
        case PSAM_DGI.KEYS: {
          const keys = secretDgiValue(d, (n) => n > 0 && n % KEY_ENTRY_LENGTH === 0);
          try {
            for (let o = 0; o < keys.length; o += KEY_ENTRY_LENGTH)
              if (!LOADABLE_USAGES.includes(keys[o]!) || keys[o + 1] === 0) IsoException.throwIt(SW.WRONG_DATA);
            for (let o = 0; o < keys.length; o += KEY_ENTRY_LENGTH) {
              const key = keys.slice(o + 2, o + KEY_ENTRY_LENGTH);
              store.put(`key/${keys[o]}/${keys[o + 1]}`, key);
              wipe(key);
            }
          } finally {
            wipe(keys);
          }
          break;
        }
        default:
          IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
      }
      if (item.last) {
        store.put('personalized', true);
        card.registry.setLifecycle(this.aid, LIFECYCLE.PERSONALIZED);
      }
    });
  }

  // ------------------------------------------------------------ helpers

  #requirePersonalized(store: StoreView): void {
    if (store.get('personalized') !== true) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
  }

  #master(store: StoreView, usage: number, version: number): MasterEntry {
    const slot = `key/${usage}/${version}`;
    const bytes = store.getBytes(slot);
    if (bytes === undefined || bytes.length !== 16) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    const hit = this.#masters.get(slot);
    if (hit !== undefined && equalCt(hit.bytes, bytes)) {
      wipe(bytes);
      return hit;
    }
    if (hit !== undefined) destroyMaster(hit);
    const entry: MasterEntry = { bytes, diversifier: new PbocKeyDiversifier(bytes), cards: new Map() };
    this.#masters.set(slot, entry);
    return entry;
  }

  /** The 16-byte card key: one level (serial) or two levels (issuer ID first, then serial). */
  #deriveKey(store: StoreView, usage: number, version: number, div: Uint8Array): Uint8Array {
    const master = this.#master(store, usage, version);
    const serial = div.subarray(0, 8);
    if (div.length === 8) return master.diversifier.diversify(serial);
    const intermediate = master.diversifier.diversify(div.subarray(8, 16));
    const level2 = new PbocKeyDiversifier(intermediate);
    wipe(intermediate);
    try {
      return level2.diversify(serial);
    } finally {
      level2.destroy();
    }
  }

  /**
   * The card's purchase key DPK as a cipher, cached per master and diversification data (gates see the same cards
   * again). A test helper's direct key for exactly this card serial and key version takes precedence.
   */
  #purchaseKey(store: StoreView, version: number, div: Uint8Array): { cipher: DesCipher; owned: boolean } {
    const direct = div.length === 8 ? store.getBytes(`${DIRECT_KEY_SLOT}/${version}/${toHex(div)}`) : undefined;
    if (direct !== undefined) {
      const cipher = new DesCipher(direct);
      wipe(direct);
      return { cipher, owned: true };
    }
    const master = this.#master(store, PSAM_KEY_USAGE.PURCHASE, version);
    const id = latin1(div);
    const cached = master.cards.get(id);
    if (cached !== undefined) return { cipher: cached, owned: false };
    const key = this.#deriveKey(store, PSAM_KEY_USAGE.PURCHASE, version, div);
    const cipher = new DesCipher(key);
    wipe(key);
    if (master.cards.size >= CARD_KEY_CACHE) {
      const oldest = master.cards.entries().next();
      if (!oldest.done) {
        master.cards.delete(oldest.value[0]);
        oldest.value[1].destroy();
      }
    }
    master.cards.set(id, cipher);
    return { cipher, owned: false };
  }

  #terminalIdEf(fs: FileSystem): ElementaryFile {
    let node = this.#adf?.fs === fs ? this.#adf.node : undefined;
    if (node === undefined || !fs.contains(node)) {
      node = fs.findByName(this.aid);
      if (node === undefined) return IsoException.throwIt(SW.FILE_NOT_FOUND);
      this.#adf = { fs, node };
    }
    const ef = fs.bySfi(node, PSAM_SFI.TERMINAL_ID);
    if (ef === undefined) return IsoException.throwIt(SW.FILE_NOT_FOUND);
    return ef;
  }
}

function destroyWorkingKey(work: WorkingKey): void {
  if (work.usage === PSAM_KEY_USAGE.ENCRYPTION) work.cipher.destroy();
  else work.mac.destroy();
}

function destroyMaster(entry: MasterEntry): void {
  entry.diversifier.destroy();
  for (const c of entry.cards.values()) c.destroy();
  entry.cards.clear();
  wipe(entry.bytes);
}

/**
 * The GlobalPlatform issuer security domain (ISD) of the virtual SIM: secure channels (SCP02 i = 15/55, SCP03
 * i = 00/10/30/70, every security level), GET DATA, GET STATUS, SET STATUS, PUT KEY, INSTALL [for
 * personalization] and STORE DATA. `docs/card.md` lists every command with its status words.
 *
 * **Dispatch.** Chained commands → 6884. When the card is TERMINATED, everything but GET DATA → 6985.
 * INITIALIZE UPDATE and EXTERNAL AUTHENTICATE run the handshake (`./secure-channel`). A command with the GP
 * secure-messaging CLA bit is unwrapped by the channel's open session (none → 6982; failure → 6982 and the
 * session ends); its response is protected at the session's level. During a session at level ≥ 01 an
 * unprotected command ends the session and is refused with 6982, except GET DATA, which is answered in clear
 * and leaves the session alone. Card-management commands (GET STATUS, PUT KEY, SET STATUS, INSTALL, STORE DATA)
 * need a session at level ≥ 01 (C-MAC) — 6982 otherwise. GET DATA needs nothing.
 *
 * **State.** Persistent (the ISD's store): `cfg` (i parameters, quirks), `kdd`, `cplc`, `iin`, `cin` and the key
 * sets (`./key-sets`); the applet object holds only caches of immutable data, so a card image restores it with
 * {@link isdFactory}. Transient, per (interface, channel): the secure channel, the personalization sequence and
 * a GET STATUS continuation.
 *
 * @module
 */
import { assertBytes, assertUint } from '@simtap/sdk/core/bytes';
import { ArgumentError } from '@simtap/sdk/core/errors';
import type { StaticKeys } from '@simtap/sdk/core/gp';
import { type CommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import { encodeTlv, tlv } from '@simtap/sdk/core/tlv';
import type { ApduContext, Applet, AppletEnv, AppletFactory } from '../../runtime/applet';
import { CARD_LIFECYCLE } from '../../runtime/applet';
import { CPLC_LENGTH, cardData, isdFci, keyInformationTemplate, type ScpAnnouncement } from './card-data';
import {
  applyPutKey,
  type KeySetInfo,
  keyInfos,
  maxSequenceCounter,
  parsePutKey,
  readCounter,
  readKeySets,
  type Store,
  writeKeySet,
  writeKeySetList,
} from './key-sets';
import {
  endSession,
  externalAuthenticate,
  hasCMac,
  type IsdChallengeHook,
  initializeUpdate,
  type OpenScp,
  scpState,
  sessionDgiDecryptor,
  sessionKeyDecryptor,
  unwrapCommand,
  wrapResponse,
} from './secure-channel';
import { getStatus, setStatus } from './status';
import { type IsdStoreDataHook, installForPersonalization, storeData } from './store-data';

/** One static key set the ISD is created with. */
export interface IsdKeySetConfig {
  /** Key version number, 01..FF (unique). */
  readonly kvn: number;
  /** 2: SCP02 (16-byte 3DES keys); 3: SCP03 (16/24/32-byte AES keys, all three the same length). */
  readonly scp: 2 | 3;
  readonly keys: StaticKeys;
  /** Initial sequence counter (default 0: the first INITIALIZE UPDATE uses 1). */
  readonly sequenceCounter?: number;
}

/** Named workarounds for real-card behaviour, all off by default. */
export interface IsdQuirks {
  /** INITIALIZE UPDATE with an unknown KVN uses the first key set instead of answering 6A88. */
  readonly ignoreUnknownKvn?: boolean;
}

/** What an ISD is created with (stored at install; a restored ISD reads it back). */
export interface IsdConfig {
  /** Key sets in order; the first answers INITIALIZE UPDATE with KVN 00. At least one. */
  readonly keySets: readonly IsdKeySetConfig[];
  /** Key diversification data returned in INITIALIZE UPDATE (10 bytes). */
  readonly kdd: Uint8Array;
  /** CPLC (42 bytes) for GET DATA 9F7F. */
  readonly cplc: Uint8Array;
  /** SCP02 `i` parameter: 0x15 or 0x55 (default 0x55). */
  readonly scp02I?: number;
  /** SCP03 `i` parameter: 0x00, 0x10, 0x30 or 0x70 (default 0x70). */
  readonly scp03I?: number;
  /** Issuer identification number (GET DATA 42), 1..16 bytes. */
  readonly iin?: Uint8Array;
  /** Card image number (GET DATA 45), 1..16 bytes. */
  readonly cin?: Uint8Array;
  readonly quirks?: IsdQuirks;
}

/** Test and extension hooks (not persistent: pass them again to {@link isdFactory} when restoring). */
export interface IsdHooks {
  /** Injects card challenges (deterministic tests, recorded sessions). */
  readonly challenge?: IsdChallengeHook;
  /** Handles STORE DATA to the ISD itself that the ISD does not understand. */
  readonly storeData?: IsdStoreDataHook;
}

/** Persistent configuration record `cfg`. */
type StoredConfig = {
  readonly v: 1;
  readonly scp02I: number;
  readonly scp03I: number;
  readonly ignoreUnknownKvn: boolean;
};

/** The ISD's instructions (GPC 2.3 §11), with the header `docs/card.md` documents each under. */
export const ISD_COMMANDS = {
  INITIALIZE_UPDATE: { ins: 0x50, header: '80 50', label: 'INITIALIZE UPDATE' },
  EXTERNAL_AUTHENTICATE: { ins: 0x82, header: '84 82', label: 'EXTERNAL AUTHENTICATE' },
  GET_DATA: { ins: 0xca, header: '80 CA', label: 'GET DATA' },
  GET_STATUS: { ins: 0xf2, header: '80 F2', label: 'GET STATUS' },
  SET_STATUS: { ins: 0xf0, header: '80 F0', label: 'SET STATUS' },
  PUT_KEY: { ins: 0xd8, header: '80 D8', label: 'PUT KEY' },
  STORE_DATA: { ins: 0xe2, header: '80 E2', label: 'STORE DATA' },
  INSTALL: { ins: 0xe6, header: '80 E6 20 00', label: 'INSTALL [for personalization]' },
} as const;

const INS = {
  INITIALIZE_UPDATE: ISD_COMMANDS.INITIALIZE_UPDATE.ins,
  EXTERNAL_AUTHENTICATE: ISD_COMMANDS.EXTERNAL_AUTHENTICATE.ins,
  GET_DATA: ISD_COMMANDS.GET_DATA.ins,
  GET_STATUS: ISD_COMMANDS.GET_STATUS.ins,
  SET_STATUS: ISD_COMMANDS.SET_STATUS.ins,
  PUT_KEY: ISD_COMMANDS.PUT_KEY.ins,
  STORE_DATA: ISD_COMMANDS.STORE_DATA.ins,
  INSTALL: ISD_COMMANDS.INSTALL.ins,
} as const;

const KNOWN: readonly number[] = Object.values(INS);
const EMPTY = new Uint8Array(0);
const noStatus = (): void => undefined;

const SCP02_I_VALUES: readonly number[] = [0x15, 0x55];
const SCP03_I_VALUES: readonly number[] = [0x00, 0x10, 0x30, 0x70];

function validateConfig(c: IsdConfig): void {
  if (typeof c !== 'object' || c === null) throw new ArgumentError('ISD config: expected an object');
  if (!Array.isArray(c.keySets) || c.keySets.length === 0 || c.keySets.length > 8)
    throw new ArgumentError('ISD config: 1..8 key sets');
  const seen = new Set<number>();
  for (const ks of c.keySets) {
    assertUint(ks.kvn, 'kvn', 0xff);
    if (ks.kvn === 0 || seen.has(ks.kvn)) throw new ArgumentError(`ISD config: KVN ${ks.kvn} is 00 or repeated`);
    seen.add(ks.kvn);
    if (ks.scp !== 2 && ks.scp !== 3) throw new ArgumentError('ISD config: scp must be 2 or 3');
    const lengths = ks.scp === 2 ? [16] : [16, 24, 32];
    assertBytes(ks.keys?.enc, 'keys.enc', ...lengths);
    assertBytes(ks.keys.mac, 'keys.mac', ks.keys.enc.length);
    assertBytes(ks.keys.dek, 'keys.dek', ks.keys.enc.length);
    if (ks.sequenceCounter !== undefined) assertUint(ks.sequenceCounter, 'sequenceCounter', maxSequenceCounter(ks.scp));
  }
  assertBytes(c.kdd, 'kdd', 10);
  assertBytes(c.cplc, 'cplc', CPLC_LENGTH);
  if (c.scp02I !== undefined && !SCP02_I_VALUES.includes(c.scp02I))
    throw new ArgumentError('ISD config: scp02I must be 0x15 or 0x55');
  if (c.scp03I !== undefined && !SCP03_I_VALUES.includes(c.scp03I))
    throw new ArgumentError('ISD config: scp03I must be 0x00, 0x10, 0x30 or 0x70');
  for (const [name, v] of [
    ['iin', c.iin],
    ['cin', c.cin],
  ] as const)
    if (v !== undefined) {
      assertBytes(v, name);
      if (v.length < 1 || v.length > 16) throw new ArgumentError(`ISD config: ${name} must be 1..16 bytes`);
    }
}

/** The issuer security domain applet (type {@link IssuerSecurityDomain.TYPE}). */
export class IssuerSecurityDomain implements Applet {
  /** Factory type in card images. */
  static readonly TYPE = 'simtap.isd';
  /** Default AID (GP 2.2 ISD): A0 00 00 01 51 00 00 00. */
  static readonly DEFAULT_AID_HEX = 'A0 00 00 01 51 00 00 00';

  readonly aid: Uint8Array;
  readonly type = IssuerSecurityDomain.TYPE;
  readonly #config: IsdConfig | undefined;
  readonly #hooks: IsdHooks;
  // Caches of data that never changes after install.
  #cfg: StoredConfig | undefined;
  #kdd: Uint8Array | undefined;
  #cplc: Uint8Array | undefined;
  /** FCI and card data for the protocols announced (they change only when PUT KEY adds the other protocol). */
  #recognition: { key: string; fci: Uint8Array; cardData: Uint8Array } | undefined;

  /**
   * An ISD with `aid`. `config` is required to install it (it is written to the store at install) and unused
   * when the applet is rebuilt from a card image.
   * @throws {ArgumentError} `BAD_ARGUMENT` on an AID outside 5..16 bytes or an invalid `config`.
   */
  constructor(aid: Uint8Array, config?: IsdConfig, hooks: IsdHooks = {}) {
    assertBytes(aid, 'aid');
    if (aid.length < 5 || aid.length > 16) throw new ArgumentError('ISD AID must be 5..16 bytes');
    if (config !== undefined) validateConfig(config);
    this.aid = aid.slice();
    this.#config = config;
    this.#hooks = hooks;
  }

  /** Writes the configuration and key sets (inside the install transaction). */
  onInstall(env: AppletEnv): void {
    const c = this.#config;
    if (c === undefined) throw new ArgumentError('IssuerSecurityDomain: install needs a config');
    const store = env.store;
    store.put('cfg', {
      v: 1,
      scp02I: c.scp02I ?? 0x55,
      scp03I: c.scp03I ?? 0x70,
      ignoreUnknownKvn: c.quirks?.ignoreUnknownKvn === true,
    } satisfies StoredConfig);
    store.put('kdd', c.kdd);
    store.put('cplc', c.cplc);
    if (c.iin !== undefined) store.put('iin', c.iin);
    if (c.cin !== undefined) store.put('cin', c.cin);
    const list: KeySetInfo[] = [];
    for (const ks of c.keySets) {
      const info: KeySetInfo = { kvn: ks.kvn, scp: ks.scp, len: ks.keys.enc.length };
      writeKeySet(store, info, ks.keys, ks.sequenceCounter ?? 0);
      list.push(info);
    }
    writeKeySetList(store, list);
  }

  select(ctx: ApduContext): Uint8Array {
    endSession(ctx);
    return this.#recognitionData(ctx.store).fci;
  }

  deselect(ctx: ApduContext): void {
    endSession(ctx);
  }

  process(ctx: ApduContext, cmd: CommandApdu): Uint8Array | undefined {
    const cla = ctx.cla;
    if (cla.chaining) IsoException.throwIt(SW.CHAINING_NOT_SUPPORTED);
    const ins = cmd.ins;
    // GPC §5.1.1.5: a TERMINATED card answers GET DATA only.
    if (ins !== INS.GET_DATA && ctx.card.registry.cardLifecycle === CARD_LIFECYCLE.TERMINATED)
      IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    const state = scpState(ctx);
    if (ins === INS.INITIALIZE_UPDATE && cla.kind === 'proprietary' && !cla.gpSecureMessaging) {
      const cfg = this.#storedConfig(ctx.store);
      return initializeUpdate(ctx, cmd, {
        aid: this.aid,
        kdd: this.#kddOf(ctx.store),
        scp02I: cfg.scp02I,
        scp03I: cfg.scp03I,
        ignoreUnknownKvn: cfg.ignoreUnknownKvn,
        challenge: this.#hooks.challenge,
      });
    }
    if (state?.kind === 'pending') {
      if (ins === INS.EXTERNAL_AUTHENTICATE) return externalAuthenticate(ctx, cmd, state);
      endSession(ctx); // anything else between INITIALIZE UPDATE and EXTERNAL AUTHENTICATE drops the handshake
    }
    const open = state?.kind === 'open' ? state : undefined;
    if (ins === INS.EXTERNAL_AUTHENTICATE && state === undefined)
      return IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    if (cla.gpSecureMessaging) {
      // Verified before anything else, so both ends' MAC chains and counters stay in step whatever the command.
      if (open === undefined || open.level === 0) {
        endSession(ctx);
        return IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
      }
      return this.#secured(ctx, open, unwrapCommand(ctx, open, cmd));
    }
    if (open !== undefined) {
      if (open.level === 0) return this.#secured(ctx, open, unwrapCommand(ctx, open, cmd));
      if (ins !== INS.GET_DATA) {
        endSession(ctx);
        IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
      }
    }
    return this.#execute(ctx, undefined, cmd, noStatus);
  }

  /** Runs an unwrapped command of an open session and protects its response. */
  #secured(ctx: ApduContext, open: OpenScp, cmd: CommandApdu): Uint8Array | undefined {
    let data: Uint8Array | undefined;
    let sw: number = SW.OK;
    try {
      data = this.#execute(ctx, open, cmd, (w) => {
        sw = w;
      });
    } catch (err) {
      if (!(err instanceof IsoException)) throw err;
      sw = err.sw;
    }
    if (scpState(ctx) !== open) IsoException.throwIt(sw === SW.OK ? SW.SECURITY_STATUS_NOT_SATISFIED : sw); // session ended meanwhile
    const out = wrapResponse(open, data ?? EMPTY, sw);
    if (out === undefined) IsoException.throwIt(sw);
    if (sw !== SW.OK) ctx.setStatus(sw);
    return out;
  }

  /** One command in clear (`open` = the session it arrived in, if any). */
  #execute(
    ctx: ApduContext,
    open: OpenScp | undefined,
    cmd: CommandApdu,
    setSw: (sw: number) => void,
  ): Uint8Array | undefined {
    const ins = cmd.ins;
    if (!KNOWN.includes(ins)) IsoException.throwIt(SW.INS_NOT_SUPPORTED);
    if (ctx.cla.kind !== 'proprietary' && ins !== INS.GET_DATA) IsoException.throwIt(SW.CLA_NOT_SUPPORTED);
    if (ins === INS.GET_DATA) return this.#getData(ctx, cmd);
    if (ins === INS.EXTERNAL_AUTHENTICATE || ins === INS.INITIALIZE_UPDATE) {
      // Out of sequence: EXTERNAL AUTHENTICATE without INITIALIZE UPDATE, or either inside a session.
      if (open !== undefined) endSession(ctx);
      return IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    }
    if (!hasCMac(open)) return IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
    const encrypted = (open.level & 0x02) !== 0;
    switch (ins) {
      case INS.GET_STATUS:
        return getStatus(ctx, cmd, this.aid, setSw);
      case INS.SET_STATUS:
        return setStatus(ctx, cmd, this.aid);
      case INS.PUT_KEY: {
        const parsed = parsePutKey(cmd.p1, cmd.p2, cmd.data);
        return applyPutKey(ctx, parsed, sessionKeyDecryptor(open));
      }
      case INS.INSTALL:
        this.#requireNotLocked(ctx);
        return installForPersonalization(ctx, cmd, this.aid);
      default:
        this.#requireNotLocked(ctx);
        return storeData(ctx, cmd, {
          isdAid: this.aid,
          encrypted,
          decryptDgi: sessionDgiDecryptor(open),
          hook: this.#hooks.storeData,
        });
    }
  }

  #requireNotLocked(ctx: ApduContext): void {
    if (ctx.card.registry.cardLifecycle === CARD_LIFECYCLE.CARD_LOCKED)
      IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
  }

  /**
   * GET DATA `CLA CA P1 P2 [Le]` with P1P2 = 9F7F CPLC, 0066 card data, 00E0 key information, 00C1 sequence
   * counter of the default key set, 0042 IIN, 0045 CIN, 00CF key diversification data.
   */
  #getData(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    if (cmd.data.length !== 0) IsoException.throwIt(SW.WRONG_LENGTH);
    const store = ctx.store;
    switch ((cmd.p1 << 8) | cmd.p2) {
      case 0x9f7f:
        this.#cplc ??= encodeTlv(tlv(0x9f7f, this.#bytes(store, 'cplc')));
        return this.#cplc;
      case 0x0066:
        return this.#recognitionData(store).cardData;
      case 0x00e0:
        return keyInformationTemplate(keyInfos(store));
      case 0x00c1: {
        const ks = readKeySets(store)[0];
        if (ks === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
        const n = ks.scp === 2 ? 2 : 3;
        let v = readCounter(store, ks.kvn);
        const out = new Uint8Array(n);
        for (let i = n - 1; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v % 256;
        return encodeTlv(tlv(0xc1, out));
      }
      case 0x0042:
      case 0x0045: {
        const v = store.getBytes(cmd.p2 === 0x42 ? 'iin' : 'cin');
        if (v === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
        return encodeTlv(tlv(cmd.p2, v));
      }
      case 0x00cf:
        return encodeTlv(tlv(0xcf, this.#kddOf(store)));
      default:
        return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    }
  }

  #storedConfig(store: Store): StoredConfig {
    this.#cfg ??= store.getJson<StoredConfig>('cfg');
    if (this.#cfg === undefined) throw new Error('ISD configuration missing from the store');
    return this.#cfg;
  }

  #kddOf(store: Store): Uint8Array {
    this.#kdd ??= this.#bytes(store, 'kdd');
    return this.#kdd;
  }

  #bytes(store: Store, key: string): Uint8Array {
    const v = store.getBytes(key);
    if (v === undefined) throw new Error(`ISD record ${key} missing from the store`);
    return v;
  }

  /** FCI and card data announcing SCP03 and/or SCP02 (with their `i`) as key sets of each exist. */
  #recognitionData(store: Store): { key: string; fci: Uint8Array; cardData: Uint8Array } {
    const sets = readKeySets(store);
    const has3 = sets.some((k) => k.scp === 3);
    const has2 = sets.some((k) => k.scp === 2);
    const key = `${has3 ? 3 : ''}${has2 ? 2 : ''}`;
    const cached = this.#recognition;
    if (cached !== undefined && cached.key === key) return cached;
    const cfg = this.#storedConfig(store);
    const scps: ScpAnnouncement[] = [];
    if (has3) scps.push({ scp: 3, i: cfg.scp03I });
    if (has2) scps.push({ scp: 2, i: cfg.scp02I });
    const fresh = { key, fci: isdFci(this.aid, scps), cardData: cardData(scps) };
    this.#recognition = fresh;
    return fresh;
  }
}

/**
 * The image factory for {@link IssuerSecurityDomain.TYPE}: rebuilds the ISD from its restored store, with
 * `hooks` (hooks are not part of an image).
 * @example Card.fromSnapshot(snap, { factories: { [IssuerSecurityDomain.TYPE]: isdFactory() } })
 */
export function isdFactory(hooks: IsdHooks = {}): AppletFactory {
  return (env) => new IssuerSecurityDomain(env.aid, undefined, hooks);
}

/**
 * The PBOC 2.0 / JR/T 0025 electronic purse (EP) and electronic deposit (ED) applet with the transit composite
 * (CAPP) purchase of JT/T 978 — docs/spec.md §3–§5 (JR/T 0025.2—2010 §5), decisions in docs/spec.md §15. `docs/card.md` ("Electronic purse") is the
 * APDU reference; this comment explains the state model.
 *
 * **Persistent state** (the applet's store; every change of money state happens inside ONE `ctx.atomically`
 * per command, so a tear leaves all of it old or all of it new): `ep` / `ed` purse records (balance, online and
 * offline counters), `macFailures`, `lineMacFailures`, `deakFailures/<key id>`, `lock`, `proof` (TTI ‖ counter ‖
 * MAC2 ‖ TAC of the last committed transaction, for GET TRANSACTION PROVE), `pin` / `pinTries`, the keys
 * (`key/<type>/<index>` = version ‖ algorithm ‖ key) and the configuration (`params`, `opts`, the cached FCI).
 * The files (EF 0x15/0x16, the 0x18 log, the CAPP record files) live in the card's file system under the ADF and
 * join the same transaction.
 *
 * **Try counters** (PIN tries, the MAC-failure count, the DEAK and line-MAC counts) are kept the way a card
 * keeps them: the failure is written first, then the secret is compared, and a match undoes the count in the
 * same transaction as the command's effect ({@link countedCheck}). Every write before the comparison is the same
 * for a right and a wrong guess, so pulling the card at any point never tells them apart without the failure
 * having been counted.
 *
 * **Session** (transient memory of the channel, cleared on deselect, reset and power loss): a discriminated
 * union — none, `challenge` (after GET CHALLENGE), `load` (after INITIALIZE FOR LOAD), `purchase` (after
 * INITIALIZE FOR PURCHASE or CAPP PURCHASE, with its cache of CAPP record writes). Every command takes the
 * session out first, so any command drops it (one-shot, docs/spec.md §15 D3); only a successful UPDATE CAPP DATA CACHE
 * puts a CAPP purchase session back. A dropped session is wiped (the load session's SESLK MAC is destroyed) —
 * by `process` when a command does not put it back, by the transient store's clear hook on deselect, reset,
 * power loss and tears. Transitions:
 *
 * | session | command | next |
 * |---|---|---|
 * | any | GET CHALLENGE | `challenge` |
 * | `challenge` | EXTERNAL AUTHENTICATE, APPLICATION BLOCK/UNBLOCK | none (the challenge is consumed) |
 * | any | INITIALIZE FOR LOAD | `load` |
 * | `load` | CREDIT FOR LOAD | none (commit, or 9302/6985/6A80) |
 * | any | INITIALIZE FOR (CAPP) PURCHASE | `purchase` |
 * | CAPP `purchase` | UPDATE CAPP DATA CACHE (success) | the same session with one more cached write |
 * | `purchase` | DEBIT | none (commit with the cached writes, or 9302/6985/6A80/9401) |
 * | any | anything else | none |
 *
 * CREDIT and DEBIT re-read the purse before checking the MAC and answer 6985 when another logical channel moved
 * its counter or balance since INITIALIZE.
 *
 * **Decisions** (documented in `docs/card.md`, "Rules and decisions" and "Counters and locks"): the balance is
 * 4-byte two's complement (negative while overdrawn); a load beyond `maxBalance` → 6A80; CREDIT / DEBIT of a load
 * or a plain purchase of 0 → 6A80 (INITIALIZE of 0 answers, for reading the counters; a composite purchase of 0
 * is a gate's entry record); MAC failures (DEBIT MAC1, CREDIT MAC2, RELOAD PIN MAC) count consecutively and a
 * verified MAC resets the count; at `macFailureLimit` the application locks (`9303`) until APPLICATION UNBLOCK
 * (line protection, DLPK) or the issuer's DGI 0F01 through the ISD. Wrong EXTERNAL AUTHENTICATE cryptograms and
 * wrong line-protection MACs count against fixed limits ({@link EPURSE_TRY_LIMIT}); a blocked line key locks the
 * application until DGI 0F01 `00`.
 *
 * @module
 */
import { concat, equalBytes, equalCt, fromHex, wipe } from '@simtap/sdk/core/bytes';
import { DesCipher, macAlg3 } from '@simtap/sdk/core/crypto';
import { type CommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import {
  balanceResponse,
  PBOC_COMMANDS as C,
  creditForLoadCommandData,
  creditForLoadResponse,
  debitCommandData,
  debitResponse,
  diversificationDataOf,
  diversifyPbocKey,
  ef15,
  initForLoadResponse,
  initForPurchaseResponse,
  initializeCommandData,
  isPinBlock,
  loadMac1,
  loadMac2,
  loadSessionKey,
  loadTac,
  PbocMac,
  pbocExternalAuthCryptogram,
  purchaseMac1,
  purchaseMac2,
  purchaseSessionKey,
  purchaseTac,
  TTI,
  tacKey,
  transactionLogRecord,
  transactionProveCommandData,
  transactionProveResponse,
} from '@simtap/sdk/core/pboc';
import { decodeTlv, encodeTlv, tlv } from '@simtap/sdk/core/tlv';
import type { ApduContext, AppletEnv } from '../../runtime/applet';
import { LIFECYCLE } from '../../runtime/applet';
import type { Card } from '../../runtime/card';
import type { DedicatedFile, EfAccess, ElementaryFile, FileSystem } from '../../runtime/file-system';
import type { JsonValue } from '../../runtime/memory';
import { type PersonalizableApplet, type StoreDataItem, secretDgiValue } from '../personalization';

/** The applet's persistent namespace (whatever the runtime calls its class). */
type StoreView = ApduContext['store'];

import {
  CAPP_CACHE_LIMIT,
  DEFAULT_PURSE_PARAMETERS,
  EPURSE_DEFAULT_AID_HEX,
  EPURSE_DEFAULT_FID,
  EPURSE_DGI,
  EPURSE_SFI,
  EPURSE_TRY_LIMIT,
  EPURSE_TYPE,
  type EpurseKeyName,
  INTERFACE_RULE,
  LOG_RECORD_LENGTH,
} from './constants';
import {
  decodeKeys,
  decodeParameters,
  decodePurseState,
  decodeRecordFile,
  KEY_ENTRY_LENGTH,
  type PurseParameters,
  type PurseState,
  type RecordFileSpec,
} from './dgi';

/**
 * Lock state of the application. `blocked` and `mac-limit` are lifted by APPLICATION UNBLOCK or the issuer's
 * DGI 0F01 `00`; `line-mac-limit` (the line-protection key failed {@link EPURSE_TRY_LIMIT}`.LINE_MAC` times, so
 * APPLICATION UNBLOCK itself is blocked) only by DGI 0F01 `00` through the ISD; `permanent` by nothing.
 */
export type PurseLock = 'none' | 'blocked' | 'mac-limit' | 'line-mac-limit' | 'permanent';

/** The two purses: electronic purse (P2 02) and electronic deposit (P2 01). */
export type PurseId = 'ep' | 'ed';

/** Options of {@link EpurseApplet}. */
export interface EpurseOptions {
  /** Application identifier; default {@link EPURSE_DEFAULT_AID_HEX}. */
  readonly aid?: Uint8Array;
  /** ADF file identifier under the MF; default 3F01. */
  readonly fid?: number;
  /**
   * Accept UPDATE CAPP DATA CACHE with P2 b3..b1 = 011 as record-identifier addressing, as one real card
   * does with a real gate (docs/spec.md §4.5, §15 D10). Default **true** (interoperability with those terminals);
   * false answers 6A86.
   */
  readonly cappP2Mode011?: boolean;
}

/** What `storeData` needs of its context (an `ApduContext` satisfies it; `personalizeEpurse` builds one). */
export interface EpursePersoEnv {
  readonly store: StoreView;
  readonly card: Card;
  atomically<T>(fn: () => T): T;
}

interface StoredOptions {
  fid: number;
  cappP2Mode011: boolean;
}

interface KeyEntry {
  readonly slot: string;
  readonly index: number;
  readonly version: number;
  readonly algorithm: number;
  readonly key: Uint8Array;
}

/** One cached UPDATE CAPP DATA CACHE write: record number, or 0 to append to a cyclic file. */
interface CappWrite {
  readonly ef: ElementaryFile;
  readonly record: number;
  readonly data: Uint8Array;
}

interface ChallengeSession {
  readonly kind: 'challenge';
  readonly random: Uint8Array;
}

/** What INITIALIZE FOR LOAD / PURCHASE fixed for the CREDIT / DEBIT that follows. */
interface MoneySession {
  readonly purse: PurseId;
  readonly tti: number;
  readonly keyIndex: number;
  readonly amount: number;
  readonly terminalId: Uint8Array;
  /** The online (load) or offline (purchase) counter the transaction uses. */
  readonly counter: number;
}

interface LoadSession extends MoneySession {
  readonly kind: 'load';
  readonly oldBalance: number;
  /** Keyed with SESLK. */
  readonly mac: PbocMac;
}

interface PurchaseSession extends MoneySession {
  readonly kind: 'purchase';
  readonly capp: boolean;
  readonly balance: number;
  readonly random: Uint8Array;
  readonly cache: CappWrite[];
}

type Session = ChallengeSession | LoadSession | PurchaseSession;

/** What CREDIT or DEBIT commits once the MAC matches. */
interface Commit {
  /** Compares the terminal's MAC with the expected one (no writes). */
  readonly matches: () => boolean;
  /** The purse's state after the transaction. */
  readonly purse: PurseState;
  readonly overdraftLimit: number;
  readonly date: Uint8Array;
  readonly time: Uint8Array;
  /** MAC2 and TAC of the transaction: the proof GET TRANSACTION PROVE returns. */
  readonly mac2: Uint8Array;
  readonly tac: Uint8Array;
  /** A composite purchase's cached CAPP writes. */
  readonly cache?: readonly CappWrite[];
}

const SESSION = 'session';
const AUTHENTICATED = 'extAuth';
const MAC_FAILURES = 'macFailures';
const LINE_MAC_FAILURES = 'lineMacFailures';
/** Prefix of the per-key-id DEAK failure counts (`deakFailures/<kk>`, absent = 0). */
const DEAK_FAILURES = 'deakFailures/';
const ZH = fromHex('7A68');
const EF16_DEFAULT_LENGTH = 55;
/**
 * The stored proof of the last committed transaction: TTI (GET TRANSACTION PROVE's P2) ‖ its command data (the
 * counter) ‖ its answer (MAC2 ‖ TAC).
 */
const PROOF_HEAD = 1 + transactionProveCommandData.length;
const PROOF_LENGTH = PROOF_HEAD + transactionProveResponse.length;
const FILE_ACCESS_READ_ONLY: EfAccess = { read: 'always', update: 'never' };

function takeSession(ctx: ApduContext): Session | undefined {
  const t = ctx.transient;
  const s = t.get<Session>(SESSION);
  if (s !== undefined) t.delete(SESSION);
  return s;
}

/** Keeps `session` for the next command; the runtime wipes it if it is cleared first (deselect, reset, tear). */
function putSession(ctx: ApduContext, session: Session): void {
  ctx.transient.set(SESSION, session, () => wipeSession(session));
}

/** Destroys the key material of a dropped session (the purchase and challenge sessions hold none). */
function wipeSession(session: Session): void {
  if (session.kind === 'load') session.mac.destroy();
}

/**
 * A secret checked under a try counter, the way a card does it: `count` writes the failure, `matches` compares
 * afterwards, and on a match `onMatch` undoes the count and applies the command's effect — all one transaction.
 * The writes before the comparison are the same for a right and a wrong guess, so no tear tells them apart
 * before the failure is counted; a wrong guess commits the count. `matches` must not write.
 * @returns whether the secret matched.
 */
function countedCheck(ctx: ApduContext, count: () => void, matches: () => boolean, onMatch: () => void): boolean {
  return ctx.atomically(() => {
    count();
    if (!matches()) return false;
    onMatch();
    return true;
  });
}

function lockOf(store: StoreView): PurseLock {
  return (store.getString('lock') ?? 'none') as PurseLock;
}

/** The PBOC e-purse / e-deposit applet (type `simtap.epurse`); see the module documentation. */
export class EpurseApplet implements PersonalizableApplet {
  /** Factory type in card images. */
  static readonly TYPE = EPURSE_TYPE;

  readonly aid: Uint8Array;
  readonly type = EPURSE_TYPE;
  readonly #opts: StoredOptions;
  // Keyed objects per key slot (the key schedule of a store key); never handed to a session, so a session's wipe
  // cannot destroy them.
  readonly #ciphers = new Map<string, { bytes: Uint8Array; value: DesCipher }>();
  readonly #macs = new Map<string, { bytes: Uint8Array; value: PbocMac }>();
  #adf: { fs: FileSystem; node: DedicatedFile } | undefined;

  /**
   * A purse applet (visible on both interfaces; the per-command interface rules live in the purse parameters).
   * Install it with `card.registry.install` or `installEpurse`; a bad AID or FID surfaces there as
   * `RegistryError` / `FileSystemError`.
   */
  constructor(options: EpurseOptions = {}) {
    this.aid = (options.aid ?? fromHex(EPURSE_DEFAULT_AID_HEX)).slice();
    this.#opts = { fid: options.fid ?? EPURSE_DEFAULT_FID, cappP2Mode011: options.cappP2Mode011 ?? true };
  }

  /** Rebuilds the applet from its store (card images). */
  static restore(env: AppletEnv): EpurseApplet {
    const o = env.store.getJson<{ fid: number; cappP2Mode011: boolean }>('opts');
    return new EpurseApplet({ aid: env.aid, fid: o?.fid, cappP2Mode011: o?.cappP2Mode011 });
  }

  // ------------------------------------------------------------ install and selection

  onInstall(env: AppletEnv): void {
    const fs = env.files;
    const store = env.store;
    const adf = fs.createDf(fs.mf, { fid: this.#opts.fid, name: this.aid });
    fs.createEf(adf, { fid: 0x0015, sfi: EPURSE_SFI.EF15, structure: 'transparent', size: ef15.length });
    fs.createEf(adf, {
      fid: 0x0016,
      sfi: EPURSE_SFI.EF16,
      structure: 'transparent',
      size: EF16_DEFAULT_LENGTH,
      access: { read: 'always', update: 'sm' },
    });
    const idRecords = (n: number, size: number): Uint8Array[] =>
      Array.from({ length: n }, (_, i) => {
        const r = new Uint8Array(size);
        r[0] = i + 1;
        return r;
      });
    fs.createEf(adf, {
      fid: 0x0017,
      sfi: EPURSE_SFI.CAPP17,
      structure: 'linear-fixed',
      recordSize: 48,
      maxRecords: 4,
      records: idRecords(4, 48),
    });
    fs.createEf(adf, {
      fid: 0x0018,
      sfi: EPURSE_SFI.EF18,
      structure: 'cyclic',
      recordSize: LOG_RECORD_LENGTH,
      maxRecords: DEFAULT_PURSE_PARAMETERS.logRecords,
    });
    fs.createEf(adf, {
      fid: 0x001a,
      sfi: EPURSE_SFI.CAPP1A,
      structure: 'linear-fixed',
      recordSize: 128,
      maxRecords: 2,
      records: idRecords(2, 128),
    });
    fs.createEf(adf, { fid: 0x001e, sfi: EPURSE_SFI.TRAVEL1E, structure: 'cyclic', recordSize: 48, maxRecords: 10 });
    store.put('opts', { fid: this.#opts.fid, cappP2Mode011: this.#opts.cappP2Mode011 });
    store.put('params', { ...DEFAULT_PURSE_PARAMETERS });
    store.put('ep', { balance: 0, online: 0, offline: 0 });
    store.put('ed', { balance: 0, online: 0, offline: 0 });
    store.put('lock', 'none');
    store.put(MAC_FAILURES, 0);
    store.put(LINE_MAC_FAILURES, 0);
    store.put('pinTries', DEFAULT_PURSE_PARAMETERS.pinTryLimit);
    store.put('keys', {});
    store.put('capp', [EPURSE_SFI.CAPP17, EPURSE_SFI.CAPP1A, EPURSE_SFI.TRAVEL1E]);
    store.put('personalized', false);
    store.put('fci', this.#buildFci(fs, store));
  }

  select(ctx: ApduContext): Uint8Array {
    const store = ctx.store;
    const fci = store.getBytes('fci') ?? this.#buildFci(ctx.card.files, store);
    if (lockOf(store) !== 'none') ctx.setStatus(SW.SELECTED_FILE_INVALIDATED);
    return fci;
  }

  // ------------------------------------------------------------ dispatch

  process(ctx: ApduContext, cmd: CommandApdu): Uint8Array | undefined {
    if (ctx.cla.chaining) IsoException.throwIt(SW.CHAINING_NOT_SUPPORTED);
    const session = takeSession(ctx);
    try {
      return this.#dispatch(ctx, cmd, session);
    } finally {
      // One-shot: a session this command did not put back is dropped, and its keys with it.
      if (session !== undefined && ctx.transient.get(SESSION) !== session) wipeSession(session);
    }
  }

  #dispatch(ctx: ApduContext, cmd: CommandApdu, session: Session | undefined): Uint8Array | undefined {
    const cla = ctx.cla;
    const ins = cmd.ins;
    if (cla.kind === 'proprietary') {
      if (cla.sm !== 'none') {
        if (ins === C.APPLICATION_BLOCK.ins || ins === C.APPLICATION_UNBLOCK.ins)
          return this.#lineProtected(ctx, cmd, session);
        return IsoException.throwIt(SW.SECURE_MESSAGING_NOT_SUPPORTED);
      }
      switch (ins) {
        case C.GET_BALANCE.ins:
          return this.#getBalance(ctx, cmd);
        case C.INITIALIZE_FOR_LOAD.ins: // also FOR PURCHASE and FOR CAPP PURCHASE (P1)
          return this.#initialize(ctx, cmd);
        case C.CREDIT_FOR_LOAD.ins:
          return this.#credit(ctx, cmd, session);
        case C.DEBIT_FOR_PURCHASE.ins: // also FOR CAPP PURCHASE
          return this.#debit(ctx, cmd, session);
        case C.UPDATE_CAPP_DATA_CACHE.ins:
          return this.#updateCappCache(ctx, cmd, session);
        case C.GET_TRANSACTION_PROVE.ins:
          return this.#prove(ctx, cmd);
        case C.CHANGE_PIN.ins: // also RELOAD PIN (P1)
          return this.#changeOrReloadPin(ctx, cmd);
        case C.GET_DATA.ins:
          return this.#getData(ctx, cmd);
        case C.APPLICATION_BLOCK.ins:
        case C.APPLICATION_UNBLOCK.ins:
          return IsoException.throwIt(SW.SM_DATA_OBJECTS_MISSING);
        default:
          return IsoException.throwIt(SW.INS_NOT_SUPPORTED);
      }
    }
    if (cla.sm !== 'none') IsoException.throwIt(SW.SECURE_MESSAGING_NOT_SUPPORTED);
    switch (ins) {
      case C.VERIFY_PIN.ins:
        return this.#verify(ctx, cmd);
      case C.GET_CHALLENGE.ins:
        return this.#getChallenge(ctx, cmd);
      case C.EXTERNAL_AUTHENTICATE.ins:
        return this.#externalAuthenticate(ctx, cmd, session);
      case C.INTERNAL_AUTHENTICATE.ins:
        return this.#internalAuthenticate(ctx, cmd);
      default:
        if (ctx.files.handles(ins))
          return ctx.files.handle(cmd, { secureMessaging: ctx.transient.get(AUTHENTICATED) === true });
        return IsoException.throwIt(SW.INS_NOT_SUPPORTED);
    }
  }

  // ------------------------------------------------------------ balance, load, purchase

  #getBalance(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    if (cmd.p1 !== 0 || (cmd.p2 !== 1 && cmd.p2 !== 2)) IsoException.throwIt(SW.INCORRECT_P1P2);
    if (cmd.data.length !== 0) IsoException.throwIt(SW.WRONG_LENGTH);
    this.#requirePersonalized(ctx.store);
    const purse: PurseId = cmd.p2 === 1 ? 'ed' : 'ep';
    if (purse === 'ed') this.#requirePinRule(ctx, this.#params(ctx.store));
    return balanceResponse.encode({ balance: this.#purse(ctx.store, purse).balance >>> 0 });
  }

  #initialize(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    const p1 = cmd.p1;
    const p2 = cmd.p2;
    const load = p1 === C.INITIALIZE_FOR_LOAD.p1;
    const capp = p1 === C.INITIALIZE_FOR_CAPP_PURCHASE.p1;
    if (
      (!load && !capp && p1 !== C.INITIALIZE_FOR_PURCHASE.p1) ||
      (p2 !== 1 && p2 !== 2) ||
      (capp && p2 !== C.INITIALIZE_FOR_CAPP_PURCHASE.p2)
    )
      IsoException.throwIt(SW.INCORRECT_P1P2);
    if (cmd.data.length !== initializeCommandData.length) IsoException.throwIt(SW.WRONG_LENGTH);
    const { keyIndex, amount, terminalId } = initializeCommandData.decode(cmd.data);
    const store = ctx.store;
    this.#requireUsable(store);
    const params = this.#params(store);
    this.#requireInterface(ctx, params, load);
    const purse: PurseId = p2 === 1 ? 'ed' : 'ep';
    if (purse === 'ed') this.#requirePinRule(ctx, params);
    const key = this.#key(store, load ? 'DLK' : 'DPK', keyIndex);
    if (key === undefined) return IsoException.throwIt(SW.KEY_INDEX_NOT_SUPPORTED);
    let cipher: DesCipher;
    try {
      this.#tacMac(store, keyIndex); // 9403 without a DTK for the index
      cipher = this.#cipher(key.slot, key.key);
    } finally {
      wipe(key.key);
    }
    const state = this.#purse(store, purse);
    if (load) {
      if (state.online >= 0xffff) IsoException.throwIt(SW.TRANSACTION_COUNTER_MAX);
      if (state.balance + amount > params.maxBalance) IsoException.throwIt(SW.WRONG_DATA);
      const tti = purse === 'ep' ? TTI.EP_LOAD : TTI.ED_LOAD;
      const random = ctx.random(4);
      const seslk = loadSessionKey(cipher, random, state.online);
      const mac = new PbocMac(seslk);
      wipe(seslk);
      const oldBalance = state.balance >>> 0;
      const mac1 = loadMac1({ sessionKey: mac, oldBalance, amount, tti, terminalId });
      putSession(ctx, {
        kind: 'load',
        purse,
        tti,
        keyIndex,
        amount,
        terminalId,
        counter: state.online,
        oldBalance: state.balance,
        mac,
      });
      return initForLoadResponse.encode({
        oldBalance,
        onlineCounter: state.online,
        keyVersion: key.version,
        algorithmId: key.algorithm,
        random,
        mac1,
      });
    }
    if (state.offline >= 0xffff) IsoException.throwIt(SW.TRANSACTION_COUNTER_MAX);
    if (amount > state.balance + params.overdraftLimit) IsoException.throwIt(SW.INSUFFICIENT_BALANCE);
    const random = ctx.random(4);
    putSession(ctx, {
      kind: 'purchase',
      capp,
      purse,
      tti: capp ? TTI.CAPP_PURCHASE : purse === 'ep' ? TTI.EP_PURCHASE : TTI.ED_PURCHASE,
      keyIndex,
      amount,
      terminalId,
      counter: state.offline,
      balance: state.balance,
      random,
      cache: [],
    });
    return initForPurchaseResponse.encode({
      balance: state.balance >>> 0,
      offlineCounter: state.offline,
      overdraftLimit: params.overdraftLimit,
      keyVersion: key.version,
      algorithmId: key.algorithm,
      random,
    });
  }

  /**
   * CREDIT FOR LOAD. A load of 0 → 6A80 (INITIALIZE answers it: terminals read the counters that way). The purse
   * is re-read first: 6985 when another logical channel moved its online counter or balance since INITIALIZE
   * (nothing counted, whatever the MAC); then MAC2 under the MAC-failure count.
   */
  #credit(ctx: ApduContext, cmd: CommandApdu, session: Session | undefined): Uint8Array {
    if (cmd.p1 !== C.CREDIT_FOR_LOAD.p1 || cmd.p2 !== C.CREDIT_FOR_LOAD.p2) IsoException.throwIt(SW.INCORRECT_P1P2);
    if (cmd.data.length !== creditForLoadCommandData.length) IsoException.throwIt(SW.WRONG_LENGTH);
    if (session?.kind !== 'load') return IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    const store = ctx.store;
    this.#requireUsable(store);
    const s = session;
    if (s.amount === 0) IsoException.throwIt(SW.WRONG_DATA);
    const state = this.#purse(store, s.purse);
    if (state.online !== s.counter || state.balance !== s.oldBalance) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    const params = this.#params(store);
    const newBalance = state.balance + s.amount;
    if (newBalance > params.maxBalance) IsoException.throwIt(SW.WRONG_DATA);
    const { date, time, mac2 } = creditForLoadCommandData.decode(cmd.data);
    const m = { amount: s.amount, tti: s.tti, terminalId: s.terminalId, date, time };
    const expected = loadMac2({ sessionKey: s.mac, ...m });
    const tac = loadTac({
      tacKey: this.#tacMac(store, s.keyIndex),
      newBalance: newBalance >>> 0,
      onlineCounter: s.counter,
      ...m,
    });
    this.#commit(ctx, s, {
      matches: () => equalCt(expected, mac2),
      purse: { balance: newBalance, online: s.counter + 1, offline: state.offline },
      overdraftLimit: params.overdraftLimit,
      date,
      time,
      mac2,
      tac,
    });
    return creditForLoadResponse.encode({ tac });
  }

  /**
   * DEBIT FOR (CAPP) PURCHASE. A plain purchase of 0 → 6A80 (a composite purchase of 0 is a gate's entry record).
   * The purse is re-read first: 6985 when another logical channel moved its offline counter or balance since
   * INITIALIZE (nothing counted, whatever the MAC); then MAC1 under the MAC-failure count, committed with the
   * debit, the log record and the cached CAPP writes.
   */
  #debit(ctx: ApduContext, cmd: CommandApdu, session: Session | undefined): Uint8Array {
    if (cmd.p1 !== C.DEBIT_FOR_PURCHASE.p1 || cmd.p2 !== C.DEBIT_FOR_PURCHASE.p2)
      IsoException.throwIt(SW.INCORRECT_P1P2);
    if (cmd.data.length !== debitCommandData.length) IsoException.throwIt(SW.WRONG_LENGTH);
    if (session?.kind !== 'purchase') return IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    const store = ctx.store;
    this.#requireUsable(store);
    const s = session;
    if (s.amount === 0 && !s.capp) IsoException.throwIt(SW.WRONG_DATA);
    const params = this.#params(store);
    const state = this.#purse(store, s.purse);
    if (state.offline !== s.counter || state.balance !== s.balance) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    if (s.amount > state.balance + params.overdraftLimit) IsoException.throwIt(SW.INSUFFICIENT_BALANCE);
    const key = this.#key(store, 'DPK', s.keyIndex);
    if (key === undefined) return IsoException.throwIt(SW.KEY_INDEX_NOT_SUPPORTED);
    const { terminalTxnSeq, date, time, mac1 } = debitCommandData.decode(cmd.data);
    let sespk: Uint8Array;
    try {
      sespk = purchaseSessionKey(this.#cipher(key.slot, key.key), s.random, s.counter, terminalTxnSeq);
    } finally {
      wipe(key.key);
    }
    const mac = new PbocMac(sespk);
    wipe(sespk);
    let expected: Uint8Array;
    let mac2: Uint8Array;
    try {
      const m = { sessionKey: mac, amount: s.amount, tti: s.tti, terminalId: s.terminalId, date, time };
      expected = purchaseMac1(m);
      mac2 = purchaseMac2(m);
    } finally {
      mac.destroy();
    }
    const tac = purchaseTac({
      tacKey: this.#tacMac(store, s.keyIndex),
      amount: s.amount,
      tti: s.tti,
      terminalId: s.terminalId,
      terminalTxnSeq,
      date,
      time,
    });
    this.#commit(ctx, s, {
      matches: () => equalCt(expected, mac1),
      purse: { balance: state.balance - s.amount, online: state.online, offline: s.counter + 1 },
      overdraftLimit: params.overdraftLimit,
      date,
      time,
      mac2,
      tac,
      cache: s.cache,
    });
    return debitResponse.encode({ tac, mac2 });
  }

  /**
   * UPDATE CAPP DATA CACHE: P2 b8..b4 = SFI; b3..b1 000 → P1 is the record identifier (first byte of the
   * record; P1 00 on a cyclic file appends a new record), 100 → P1 is the record number; 011 is read as 000
   * when `cappP2Mode011` is on. The write is only cached; DEBIT commits it.
   */
  #updateCappCache(ctx: ApduContext, cmd: CommandApdu, session: Session | undefined): undefined {
    if (session?.kind !== 'purchase' || !session.capp) return IsoException.throwIt(SW.COMMAND_NOT_ACCEPTED);
    const p1 = cmd.p1;
    const sfi = cmd.p2 >> 3;
    const mode = cmd.p2 & 7;
    const byNumber = mode === 4;
    if (sfi === 0 || sfi === 31 || !(byNumber || mode === 0 || (mode === 3 && this.#opts.cappP2Mode011)))
      IsoException.throwIt(SW.INCORRECT_P1P2);
    const data = cmd.data;
    if (data.length === 0) IsoException.throwIt(SW.WRONG_LENGTH);
    const fs = ctx.card.files;
    const ef = fs.bySfi(this.#adfNode(fs), sfi);
    if (ef === undefined) return IsoException.throwIt(SW.FILE_NOT_FOUND);
    if (ef.structure === 'transparent') IsoException.throwIt(SW.COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE);
    const capp = ctx.store.getJson<number[]>('capp') ?? [];
    if (!capp.includes(sfi)) IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (ef.structure === 'linear-variable' ? data.length > ef.size : data.length !== ef.size)
      IsoException.throwIt(SW.WRONG_LENGTH);
    let record: number;
    if (byNumber) {
      if (p1 === 0 || p1 > fs.recordCount(ef)) IsoException.throwIt(SW.RECORD_NOT_FOUND);
      record = p1;
    } else if (p1 === 0) {
      if (ef.structure !== 'cyclic') IsoException.throwIt(SW.INCORRECT_P1P2);
      record = 0;
    } else {
      if (data[0] !== p1) IsoException.throwIt(SW.WRONG_DATA);
      record = 0;
      const count = fs.recordCount(ef);
      for (let i = 1; i <= count; i++)
        if (fs.readRecord(ef, i)[0] === p1) {
          record = i;
          break;
        }
      if (record === 0) IsoException.throwIt(SW.RECORD_NOT_FOUND);
    }
    const cache = session.cache;
    const at = record === 0 ? -1 : cache.findIndex((w) => w.ef === ef && w.record === record);
    const write: CappWrite = { ef, record, data: data.slice() };
    if (at >= 0) cache[at] = write;
    else {
      if (cache.length >= CAPP_CACHE_LIMIT) IsoException.throwIt(SW.NOT_ENOUGH_MEMORY);
      cache.push(write);
    }
    putSession(ctx, session);
    return undefined;
  }

  #prove(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    if (cmd.p1 !== C.GET_TRANSACTION_PROVE.p1) IsoException.throwIt(SW.INCORRECT_P1P2);
    if (cmd.data.length !== transactionProveCommandData.length) IsoException.throwIt(SW.WRONG_LENGTH);
    const proof = ctx.store.getBytes('proof');
    if (proof?.length !== PROOF_LENGTH || proof[0] !== cmd.p2 || !equalBytes(proof.subarray(1, PROOF_HEAD), cmd.data))
      return IsoException.throwIt(SW.MAC_NOT_AVAILABLE);
    return proof.slice(PROOF_HEAD);
  }

  // ------------------------------------------------------------ PIN

  #verify(ctx: ApduContext, cmd: CommandApdu): undefined {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    const store = ctx.store;
    this.#requireUsable(store);
    if (!store.has('pin')) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    const data = cmd.data;
    if (data.length === 0) {
      const tries = store.getNumber('pinTries') ?? 0;
      if (tries === 0) IsoException.throwIt(SW.AUTHENTICATION_METHOD_BLOCKED);
      if (ctx.security.pinVerified) return undefined;
      return IsoException.throwIt(SW.PIN_WRONG | tries);
    }
    if (data.length < 2 || data.length > 6) IsoException.throwIt(SW.WRONG_LENGTH);
    if (!isPinBlock(data)) IsoException.throwIt(SW.WRONG_DATA);
    this.#checkPin(ctx, data);
    ctx.security.pinVerified = true;
    return undefined;
  }

  /**
   * Compares `candidate` with the PIN under the PIN tries ({@link countedCheck}): a try is taken first; wrong →
   * 63Cx (x tries left); right → tries reset to `pinTryLimit` and `onMatch` (CHANGE PIN's new PIN) in the same
   * transaction. 6983 when no try is left, 6A88 without a PIN.
   */
  #checkPin(ctx: ApduContext, candidate: Uint8Array, onMatch?: () => void): undefined {
    const store = ctx.store;
    const pin = store.getBytes('pin');
    if (pin === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    const tries = store.getNumber('pinTries') ?? 0;
    let ok: boolean;
    try {
      if (tries === 0) IsoException.throwIt(SW.AUTHENTICATION_METHOD_BLOCKED);
      const limit = this.#params(store).pinTryLimit;
      ok = countedCheck(
        ctx,
        () => store.put('pinTries', tries - 1),
        () => equalCt(pin, candidate),
        () => {
          store.put('pinTries', limit);
          onMatch?.();
        },
      );
    } finally {
      wipe(pin);
    }
    if (!ok) {
      ctx.security.pinVerified = false;
      IsoException.throwIt(SW.PIN_WRONG | (tries - 1));
    }
    return undefined;
  }

  /** `80 5E 01 00` CHANGE PIN (old ‖ FF ‖ new) and `80 5E 00 00` RELOAD PIN (new ‖ MAC with DPUK). */
  #changeOrReloadPin(ctx: ApduContext, cmd: CommandApdu): undefined {
    if ((cmd.p1 !== 0 && cmd.p1 !== 1) || cmd.p2 !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    const store = ctx.store;
    this.#requireUsable(store);
    const data = cmd.data;
    const params = this.#params(store);
    if (cmd.p1 === 1) {
      const sep = data.indexOf(0xff);
      if (sep < 0) return IsoException.throwIt(SW.WRONG_DATA);
      const oldPin = data.subarray(0, sep);
      const newPin = data.slice(sep + 1);
      if (!isPinBlock(oldPin) || !isPinBlock(newPin)) IsoException.throwIt(SW.WRONG_DATA);
      this.#requirePinRule(ctx, params);
      this.#checkPin(ctx, oldPin, () => store.put('pin', newPin));
      ctx.security.pinVerified = true;
      return undefined;
    }
    if (data.length < 6 || data.length > 10) IsoException.throwIt(SW.WRONG_LENGTH);
    const newPin = data.slice(0, data.length - 4);
    if (!isPinBlock(newPin)) IsoException.throwIt(SW.WRONG_DATA);
    const dpuk = this.#firstKey(store, 'DPUK');
    if (dpuk === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    let expected: Uint8Array;
    try {
      expected = macAlg3(dpuk.key, newPin).subarray(0, 4);
    } finally {
      wipe(dpuk.key);
    }
    const mac = data.subarray(data.length - 4);
    this.#verifyMac(
      ctx,
      () => equalCt(expected, mac),
      () => {
        store.put('pin', newPin);
        store.put('pinTries', params.pinTryLimit);
      },
    );
    return undefined;
  }

  // ------------------------------------------------------------ authentication and line protection

  #getChallenge(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    if (cmd.data.length !== 0 || (cmd.ne !== 4 && cmd.ne !== 8)) IsoException.throwIt(SW.WRONG_LENGTH);
    const random = ctx.random(cmd.ne);
    putSession(ctx, { kind: 'challenge', random });
    return random.slice();
  }

  /**
   * 3DES-ECB(DEAK[P2], challenge); a 4-byte challenge is extended with 00000000. Wrong cryptograms count per key
   * id ({@link countedCheck}): 63Cx with x tries left, then 6983 once {@link EPURSE_TRY_LIMIT}`.EXTERNAL_AUTHENTICATE`
   * consecutive failures blocked the key id; a right cryptogram resets its count.
   */
  #externalAuthenticate(ctx: ApduContext, cmd: CommandApdu, session: Session | undefined): undefined {
    if (cmd.p1 !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    if (cmd.data.length !== 8) IsoException.throwIt(SW.WRONG_LENGTH);
    ctx.transient.delete(AUTHENTICATED);
    const store = ctx.store;
    const key = this.#key(store, 'DEAK', cmd.p2);
    if (key === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    const slot = DEAK_FAILURES + cmd.p2;
    const failures = store.getNumber(slot) ?? 0;
    const limit = EPURSE_TRY_LIMIT.EXTERNAL_AUTHENTICATE;
    let expected: Uint8Array;
    try {
      if (failures >= limit) IsoException.throwIt(SW.AUTHENTICATION_METHOD_BLOCKED);
      if (session?.kind !== 'challenge') return IsoException.throwIt(SW.REFERENCE_DATA_INVALIDATED);
      const challenge = new Uint8Array(8);
      challenge.set(session.random.subarray(0, 8));
      expected = pbocExternalAuthCryptogram(this.#cipher(key.slot, key.key), challenge);
    } finally {
      wipe(key.key);
    }
    const ok = countedCheck(
      ctx,
      () => store.put(slot, failures + 1),
      () => equalCt(expected, cmd.data),
      () => store.delete(slot),
    );
    if (!ok) IsoException.throwIt(SW.PIN_WRONG | (limit - failures - 1));
    ctx.transient.set(AUTHENTICATED, true);
    return undefined;
  }

  /**
   * 3DES-ECB of each 8-byte block of the data under the card-unique internal-authentication key: DEAK[P2]
   * diversified (PBOC method) with the application serial's diversification data (EF 0x15 bytes 12..19).
   */
  #internalAuthenticate(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    if (cmd.p1 !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    const data = cmd.data;
    if (data.length === 0 || data.length % 8 !== 0 || data.length > 248) IsoException.throwIt(SW.WRONG_LENGTH);
    const store = ctx.store;
    this.#requireUsable(store);
    const key = this.#key(store, 'DEAK', cmd.p2);
    if (key === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    const fs = ctx.card.files;
    let cipher: DesCipher;
    try {
      const serial = diversificationDataOf(ef15.decode(this.#ef15(fs)).applicationSerial);
      const material = concat(key.key, serial);
      cipher = this.#cached(this.#ciphers, `ia/${key.slot}`, material, () => {
        const k = diversifyPbocKey(key.key, serial);
        const c = new DesCipher(k);
        wipe(k);
        return c;
      });
      wipe(material);
    } finally {
      wipe(key.key);
    }
    const out = new Uint8Array(data.length);
    for (let o = 0; o < data.length; o += 8) cipher.encryptBlock(data, o, out, o);
    return out;
  }

  /**
   * APPLICATION BLOCK (`84 1E 00 P2`, P2 00 temporary / 01 permanent) and UNBLOCK (`84 18 00 00`): data = MAC(4)
   * = ISO 9797-1 alg 3 with DLPK over CLA ‖ INS ‖ P1 ‖ P2 ‖ Lc, padding method 2, ICV = the preceding GET
   * CHALLENGE random (4 bytes ‖ 00000000, or 8 bytes). Wrong MACs (6988) count ({@link countedCheck}); at
   * {@link EPURSE_TRY_LIMIT}`.LINE_MAC` the line key is blocked (6983) and the application locks
   * (`line-mac-limit`): UNBLOCK being line-protected itself, only the issuer's DGI 0F01 `00` through the ISD
   * lifts that. A verified MAC resets the count; UNBLOCK also the MAC-failure count.
   */
  #lineProtected(ctx: ApduContext, cmd: CommandApdu, session: Session | undefined): undefined {
    const block = cmd.ins === C.APPLICATION_BLOCK.ins;
    if (cmd.p1 !== 0 || (block ? cmd.p2 > 1 : cmd.p2 !== 0)) IsoException.throwIt(SW.INCORRECT_P1P2);
    const data = cmd.data;
    if (data.length === 0) IsoException.throwIt(SW.SM_DATA_OBJECTS_MISSING);
    if (data.length !== 4) IsoException.throwIt(SW.WRONG_LENGTH);
    const store = ctx.store;
    const key = this.#firstKey(store, 'DLPK');
    if (key === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    const lock = lockOf(store);
    const failures = store.getNumber(LINE_MAC_FAILURES) ?? 0;
    const limit = EPURSE_TRY_LIMIT.LINE_MAC;
    let expected: Uint8Array;
    try {
      // Nothing to block or unblock any more: answered before the MAC, so no guess is taken.
      if (lock === 'permanent') IsoException.throwIt(SW.APPLICATION_LOCKED);
      if (failures >= limit) IsoException.throwIt(SW.AUTHENTICATION_METHOD_BLOCKED);
      if (session?.kind !== 'challenge') return IsoException.throwIt(SW.REFERENCE_DATA_INVALIDATED);
      const icv = new Uint8Array(8);
      icv.set(session.random.subarray(0, 8));
      const header = Uint8Array.of(cmd.cla, cmd.ins, cmd.p1, cmd.p2, data.length);
      expected = macAlg3(key.key, header, { iv: icv }).subarray(0, 4);
    } finally {
      wipe(key.key);
    }
    const next: PurseLock = !block ? 'none' : cmd.p2 === 1 ? 'permanent' : lock === 'none' ? 'blocked' : lock;
    const locks = failures + 1 >= limit;
    const ok = countedCheck(
      ctx,
      () => {
        store.put(LINE_MAC_FAILURES, failures + 1);
        if (locks) store.put('lock', 'line-mac-limit');
      },
      () => equalCt(expected, data),
      () => {
        store.put(LINE_MAC_FAILURES, 0);
        if (locks || next !== lock) store.put('lock', next);
        if (!block && (store.getNumber(MAC_FAILURES) ?? 0) !== 0) store.put(MAC_FAILURES, 0);
      },
    );
    if (!ok) IsoException.throwIt(SW.SM_DATA_OBJECTS_INCORRECT);
    return undefined;
  }

  #getData(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    if (cmd.data.length !== 0) IsoException.throwIt(SW.WRONG_LENGTH);
    const value = cmd.p1 === 0 && cmd.p2 === 0 ? ctx.store.getBytes('getData') : undefined;
    if (value === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    return value;
  }

  // ------------------------------------------------------------ personalization

  storeData(ctx: ApduContext, item: StoreDataItem): void {
    this.applyStoreData(ctx, item);
  }

  /**
   * Applies one personalization DGI ({@link EPURSE_DGI}) to the applet's store and files, in one transaction.
   * The last item marks the application personalized (GP life cycle PERSONALIZED); afterwards only DGI 0F01 is
   * accepted.
   * @throws {IsoException} 6982 secret DGI without encryption, 6985 already personalized, 6A80 malformed value,
   *   6A88 unknown DGI.
   */
  applyStoreData(env: EpursePersoEnv, item: StoreDataItem): void {
    const { store, card } = env;
    const dgi = item.dgi;
    if (dgi >= 0x8000 && !item.encrypted) IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
    const personalized = store.get('personalized') === true;
    if (personalized && dgi !== EPURSE_DGI.STATUS) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    const data = item.data;
    const fs = card.files;
    env.atomically(() => {
      switch (dgi) {
        case EPURSE_DGI.EF15:
          if (data.length !== ef15.length) IsoException.throwIt(SW.WRONG_DATA);
          fs.updateBinary(this.#ef(fs, EPURSE_SFI.EF15), 0, data);
          break;
        case EPURSE_DGI.EF16: {
          if (data.length === 0 || data.length > 255) IsoException.throwIt(SW.WRONG_DATA);
          let ef = this.#ef(fs, EPURSE_SFI.EF16);
          if (ef.size !== data.length) {
            const access = ef.access;
            fs.remove(ef);
            ef = fs.createEf(this.#adfNode(fs), {
              fid: 0x0016,
              sfi: EPURSE_SFI.EF16,
              structure: 'transparent',
              size: data.length,
              access,
            });
          }
          fs.updateBinary(ef, 0, data);
          break;
        }
        case EPURSE_DGI.FCI_PROPRIETARY:
          if (data.length === 0 || data.length > 200) IsoException.throwIt(SW.WRONG_DATA);
          try {
            decodeTlv(data, { lenient: true });
          } catch {
            IsoException.throwIt(SW.WRONG_DATA);
          }
          store.put('fciA5', data);
          break;
        case EPURSE_DGI.GET_DATA:
          if (data.length === 0 || data.length > 255) IsoException.throwIt(SW.WRONG_DATA);
          store.put('getData', data);
          break;
        case EPURSE_DGI.PARAMETERS: {
          const p = decodeParameters(data);
          store.put('params', p as unknown as JsonValue);
          store.put('pinTries', p.pinTryLimit);
          const log = this.#ef(fs, EPURSE_SFI.EF18);
          if (log.maxRecords !== p.logRecords)
            this.#defineRecordFile(fs, store, {
              sfi: EPURSE_SFI.EF18,
              structure: 'cyclic',
              recordSize: LOG_RECORD_LENGTH,
              maxRecords: p.logRecords,
              records: fs.records(log).slice(0, p.logRecords),
            });
          break;
        }
        case EPURSE_DGI.EP_STATE:
        case EPURSE_DGI.ED_STATE: {
          const s = decodePurseState(data);
          store.put(dgi === EPURSE_DGI.EP_STATE ? 'ep' : 'ed', s as unknown as JsonValue);
          break;
        }
        case EPURSE_DGI.KEYS: {
          const dir = { ...(store.getJson<Record<string, number[]>>('keys') ?? {}) };
          const clear = secretDgiValue(data, (n) => n > 0 && n % KEY_ENTRY_LENGTH === 0);
          const keys = decodeKeys(clear);
          wipe(clear);
          for (const k of keys) {
            const v = new Uint8Array(18);
            v[0] = k.version;
            v[1] = k.algorithm;
            v.set(k.key, 2);
            store.put(`key/${k.type}/${k.index}`, v);
            wipe(v, k.key);
            const list = (dir[k.type] ?? []).filter((i) => i !== k.index);
            list.push(k.index);
            list.sort((a, b) => a - b);
            dir[k.type] = list;
          }
          store.put('keys', dir);
          break;
        }
        case EPURSE_DGI.PIN: {
          // A PIN block is 2..6 BCD bytes (`isPinBlock`), so a DEK-encrypted one always arrives padded.
          const pin = secretDgiValue(data, (n) => n >= 2 && n <= 6);
          if (!isPinBlock(pin)) IsoException.throwIt(SW.WRONG_DATA);
          store.put('pin', pin);
          wipe(pin);
          store.put('pinTries', this.#params(store).pinTryLimit);
          break;
        }
        case EPURSE_DGI.STATUS:
          this.#applyStatus(store, data);
          break;
        default: {
          if ((dgi & 0xff00) !== EPURSE_DGI.RECORD_FILE) IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
          const sfi = dgi & 0xff;
          if (sfi < 1 || sfi > 30 || sfi === EPURSE_SFI.EF15 || sfi === EPURSE_SFI.EF16)
            IsoException.throwIt(SW.WRONG_DATA);
          const spec = decodeRecordFile(sfi, data);
          if (sfi === EPURSE_SFI.EF18 && (spec.structure !== 'cyclic' || spec.recordSize !== LOG_RECORD_LENGTH))
            IsoException.throwIt(SW.WRONG_DATA);
          this.#defineRecordFile(fs, store, spec);
        }
      }
      store.put('fci', this.#buildFci(fs, store));
      if (item.last && !personalized) {
        store.put('personalized', true);
        card.registry.setLifecycle(this.aid, LIFECYCLE.PERSONALIZED);
      }
    });
  }

  /**
   * DGI 0F01, the issuer's path through the ISD secure channel: `00` lifts any lock but `permanent` and resets the
   * MAC-failure, line-MAC and DEAK counts (the only way out of a blocked line key or DEAK key id); `01` blocks,
   * `02` blocks permanently.
   */
  #applyStatus(store: StoreView, data: Uint8Array): void {
    if (data.length !== 1 || data[0]! > 2) IsoException.throwIt(SW.WRONG_DATA);
    if (lockOf(store) === 'permanent') IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    if (data[0] === 0) {
      store.put('lock', 'none');
      store.put(MAC_FAILURES, 0);
      store.put(LINE_MAC_FAILURES, 0);
      for (const k of store.keys()) if (k.startsWith(DEAK_FAILURES)) store.delete(k);
    } else store.put('lock', data[0] === 1 ? 'blocked' : 'permanent');
  }

  /** (Re)creates the record file `spec.sfi` (FID 00 ‖ SFI); non-log files become CAPP-writable. */
  #defineRecordFile(fs: FileSystem, store: StoreView, spec: RecordFileSpec): void {
    const adf = this.#adfNode(fs);
    const old = fs.bySfi(adf, spec.sfi);
    if (old !== undefined) fs.remove(old);
    const clash = fs.child(adf, spec.sfi);
    if (clash !== undefined) fs.remove(clash);
    fs.createEf(adf, {
      fid: spec.sfi,
      sfi: spec.sfi,
      structure: spec.structure,
      recordSize: spec.recordSize,
      maxRecords: spec.maxRecords,
      records: spec.records,
      access: FILE_ACCESS_READ_ONLY,
    });
    if (spec.sfi === EPURSE_SFI.EF18) {
      const p = this.#params(store);
      if (p.logRecords !== spec.maxRecords) store.put('params', { ...p, logRecords: spec.maxRecords });
      return;
    }
    const capp = store.getJson<number[]>('capp') ?? [];
    if (!capp.includes(spec.sfi)) store.put('capp', [...capp, spec.sfi]);
  }

  // ------------------------------------------------------------ helpers

  #buildFci(fs: FileSystem, store: StoreView): Uint8Array {
    let prop = store.getBytes('fciA5');
    if (prop === undefined) {
      const raw = this.#ef15(fs);
      const logRecords = this.#params(store).logRecords;
      prop = encodeTlv([
        tlv(0x5f2d, ZH),
        tlv(0x9f11, Uint8Array.of(0x01)),
        tlv(0x9f08, Uint8Array.of(ef15.decode(raw).applicationVersion)),
        tlv(0x9f0c, raw),
        tlv(0xbf0c, [tlv(0x9f4d, Uint8Array.of(EPURSE_SFI.EF18, logRecords))]),
      ]);
    }
    return encodeTlv(tlv(0x6f, [tlv(0x84, this.aid), { tag: 0xa5, value: prop }]));
  }

  #params(store: StoreView): PurseParameters {
    return store.getJson<PurseParameters & JsonValue>('params') ?? DEFAULT_PURSE_PARAMETERS;
  }

  #purse(store: StoreView, purse: PurseId): PurseState {
    const s = store.getJson<PurseState & JsonValue>(purse);
    if (s === undefined) return IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
    return s;
  }

  #requirePersonalized(store: StoreView): void {
    if (store.get('personalized') !== true) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
  }

  /** Unlocked (else 9303) and personalized (else 6985). */
  #requireUsable(store: StoreView): void {
    if (lockOf(store) !== 'none') IsoException.throwIt(SW.APPLICATION_LOCKED);
    this.#requirePersonalized(store);
  }

  #requireInterface(ctx: ApduContext, params: PurseParameters, load: boolean): void {
    const contact = ctx.iface === 'contact';
    const bit = load
      ? contact
        ? INTERFACE_RULE.LOAD_CONTACT
        : INTERFACE_RULE.LOAD_CONTACTLESS
      : contact
        ? INTERFACE_RULE.PURCHASE_CONTACT
        : INTERFACE_RULE.PURCHASE_CONTACTLESS;
    if ((params.rules & bit) === 0) IsoException.throwIt(SW.CONDITIONS_NOT_SATISFIED);
  }

  /** PIN-protected operations: a verified PIN, or the contact interface unless `PIN_ON_CONTACT` (else 6982). */
  #requirePinRule(ctx: ApduContext, params: PurseParameters): void {
    if (ctx.security.pinVerified) return;
    if (ctx.iface === 'contact' && (params.rules & INTERFACE_RULE.PIN_ON_CONTACT) === 0) return;
    IsoException.throwIt(SW.SECURITY_STATUS_NOT_SATISFIED);
  }

  /**
   * Commits a CREDIT or DEBIT once its MAC matches (`#verifyMac`): the purse's new state, the
   * log record, the cached CAPP writes (a composite purchase) and the proof for GET TRANSACTION PROVE — one
   * transaction with the MAC-failure count.
   */
  #commit(ctx: ApduContext, s: MoneySession, c: Commit): void {
    const log = transactionLogRecord.encode({
      counter: s.counter,
      overdraftLimit: c.overdraftLimit,
      amount: s.amount,
      tti: s.tti,
      terminalId: s.terminalId,
      date: c.date,
      time: c.time,
    });
    const proof = this.#proofRecord(s.tti, s.counter, c.mac2, c.tac);
    const store = ctx.store;
    const fs = ctx.card.files;
    const logEf = this.#ef(fs, EPURSE_SFI.EF18);
    this.#verifyMac(ctx, c.matches, () => {
      store.put(s.purse, c.purse as unknown as JsonValue);
      fs.appendRecord(logEf, log);
      for (const w of c.cache ?? []) {
        if (w.record === 0) fs.appendRecord(w.ef, w.data);
        else fs.updateRecord(w.ef, w.record, w.data);
      }
      store.put('proof', proof);
    });
  }

  /**
   * DEBIT MAC1, CREDIT MAC2 and RELOAD PIN MAC under the MAC-failure count ({@link countedCheck}; the application
   * is unlocked, callers checked): the failure and, at `macFailureLimit` (0 = no lock), the `mac-limit` lock are
   * written first; a match resets both and runs `commit` in the same transaction; a mismatch answers 9302.
   */
  #verifyMac(ctx: ApduContext, matches: () => boolean, commit: () => void): void {
    const store = ctx.store;
    const failures = store.getNumber(MAC_FAILURES) ?? 0;
    const limit = this.#params(store).macFailureLimit;
    const locks = limit > 0 && failures + 1 >= limit;
    const ok = countedCheck(
      ctx,
      () => {
        store.put(MAC_FAILURES, failures + 1);
        if (locks) store.put('lock', 'mac-limit');
      },
      matches,
      () => {
        store.put(MAC_FAILURES, 0);
        if (locks) store.put('lock', 'none');
        commit();
      },
    );
    if (!ok) IsoException.throwIt(SW.MAC_INVALID);
  }

  /** The key in `key/<type>/<index>`: a copy the caller wipes after use. */
  #key(store: StoreView, type: EpurseKeyName, index: number): KeyEntry | undefined {
    const slot = `key/${type}/${index}`;
    const b = store.getBytes(slot);
    if (b === undefined) return undefined;
    if (b.length !== 18) {
      wipe(b);
      return undefined;
    }
    // A copy, not a subarray: a view of the small on-heap array would make V8 move it off-heap (a malloc).
    const entry = { slot, index, version: b[0]!, algorithm: b[1]!, key: b.slice(2) };
    wipe(b);
    return entry;
  }

  #firstKey(store: StoreView, type: EpurseKeyName): KeyEntry | undefined {
    const first = store.getJson<Record<string, number[]>>('keys')?.[type]?.[0];
    return first === undefined ? undefined : this.#key(store, type, first);
  }

  /** The DTK used with key index `index`: the DTK of the same index, else the lowest-index DTK. */
  #tacKeyEntry(store: StoreView, index: number): KeyEntry | undefined {
    return this.#key(store, 'DTK', index) ?? this.#firstKey(store, 'DTK');
  }

  /** The cached TAC MAC for key index `index` (9403 without a DTK). */
  #tacMac(store: StoreView, index: number): PbocMac {
    const dtk = this.#tacKeyEntry(store, index);
    if (dtk === undefined) return IsoException.throwIt(SW.KEY_INDEX_NOT_SUPPORTED);
    try {
      return this.#cached(this.#macs, dtk.slot, dtk.key, () => {
        const k = tacKey(dtk.key);
        const m = new PbocMac(k);
        wipe(k);
        return m;
      });
    } finally {
      wipe(dtk.key);
    }
  }

  #cipher(slot: string, key: Uint8Array): DesCipher {
    return this.#cached(this.#ciphers, slot, key, () => new DesCipher(key));
  }

  /**
   * A keyed object cached per slot, rebuilt when the key bytes under the slot changed (personalization, images);
   * the key bytes are compared in constant time, and a replaced entry is wiped and destroyed.
   */
  #cached<T extends { destroy(): void }>(
    map: Map<string, { bytes: Uint8Array; value: T }>,
    slot: string,
    bytes: Uint8Array,
    make: () => T,
  ): T {
    const hit = map.get(slot);
    if (hit !== undefined && equalCt(hit.bytes, bytes)) return hit.value;
    const value = make();
    if (hit !== undefined) {
      wipe(hit.bytes);
      hit.value.destroy();
    }
    map.set(slot, { bytes: bytes.slice(), value });
    return value;
  }

  #adfNode(fs: FileSystem): DedicatedFile {
    const cached = this.#adf;
    if (cached !== undefined && cached.fs === fs && fs.contains(cached.node)) return cached.node;
    const node = fs.findByName(this.aid);
    if (node === undefined) return IsoException.throwIt(SW.FILE_NOT_FOUND);
    this.#adf = { fs, node };
    return node;
  }

  /** EF 0x15 as stored (30 bytes). */
  #ef15(fs: FileSystem): Uint8Array {
    return fs.readBinary(this.#ef(fs, EPURSE_SFI.EF15), 0, ef15.length);
  }

  #ef(fs: FileSystem, sfi: number): ElementaryFile {
    const ef = fs.bySfi(this.#adfNode(fs), sfi);
    if (ef === undefined) return IsoException.throwIt(SW.FILE_NOT_FOUND);
    return ef;
  }

  /** The proof {@link PROOF_HEAD} describes, for GET TRANSACTION PROVE. */
  #proofRecord(tti: number, counter: number, mac2: Uint8Array, tac: Uint8Array): Uint8Array {
    const p = new Uint8Array(PROOF_LENGTH);
    p[0] = tti;
    p.set(transactionProveCommandData.encode({ counter }), 1);
    p.set(transactionProveResponse.encode({ mac2, tac }), PROOF_HEAD);
    return p;
  }
}

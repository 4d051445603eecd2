/**
 * The consumption machine (POS, canteen till, transit gate) of DESIGN §4: it talks to the card over the
 * contactless link and to its PSAM, and turns each tap into a {@link PurchaseRecord} for the clearing batch.
 *
 * **Purchase** (TTI 06): SELECT (AID, or PPSE → AID) → READ BINARY EF 0x15 → INITIALIZE FOR PURCHASE →
 * PSAM `80 70` (MAC1) → DEBIT FOR PURCHASE → PSAM `80 72` (MAC2). 4 card APDUs (5 via the PPSE).
 *
 * **Transit** (TTI 09, composite purchase): `enter()` / `exit()` run INITIALIZE FOR CAPP PURCHASE → UPDATE CAPP
 * DATA CACHE (the travel record, see `./transit`) → PSAM MAC1 → DEBIT FOR CAPP PURCHASE, so the record and the
 * debit land together. The exit gate reads the entry record first (READ RECORD) and asks the caller's
 * {@link FareRule} for the fare; the entry gate charges {@link TransitOptions.entryCharge} (default 0).
 *
 * **Torn transactions.** When the card leaves the field after DEBIT was sent and before its answer arrived, the
 * card may or may not have committed. The machine keeps a {@link PendingPurchase} (card serial, offline counter,
 * amount, terminal sequence, date/time…) and throws {@link CardLeftFieldError} with it. At the next tap of the
 * same card (same application serial) — in `purchase()`/`enter()`/`exit()` or `recover()` — it resolves it before
 * anything else, deciding only on what the card proves:
 *
 * | GET TRANSACTION PROVE (TTI, counter) | PSAM check of the proof's MAC2 | EF 0x18 log (newest first) | verdict | what the machine reports |
 * |---|---|---|---|---|
 * | 9000 MAC2 ‖ TAC | accepted (the PSAM's MAC2 session of this terminal sequence was still open) | not read | **charged** | {@link PurchaseRecord} `completed`: the card's MAC2 and TAC as returned, `mac2Verified: true`, `recovered: 'transaction-prove'` |
 * | 9000 MAC2 ‖ TAC | cannot check (the session ended: another PSAM command, a restart; or the PSAM answers neither 9000 nor 9302) | a record with the counter matching TTI, amount, terminal, date and time | **charged** | `completed`: the card's MAC2 and TAC as returned, `mac2Verified: false`: the TAC is the proof, clearing verifies it with the issuer's TAC key |
 * | 9000 MAC2 ‖ TAC | refused (9302): the proof is another transaction's | matching record | **unproven** | {@link UnprovenPurchase} `unproven`, `reason: 'proof-refused'`, the log record; no TAC |
 * | 9406 (a later transaction replaced the proof) | — | matching record | **unproven** | `unproven`, `reason: 'proof-replaced'`, the log record; no TAC |
 * | 9000 not accepted, or 9406 | cannot check / refused / — | the counter's record is another terminal's (or another sale's), or the counter was never used | **not charged** | nothing: the pending record is dropped; the caller's purchase runs normally, so a retry charges once |
 * | 9000 not accepted, or 9406 | cannot check / refused / — | the log no longer reaches back to the counter | **unknown** | nothing: the pending record is kept and `RECOVERY_UNDETERMINED` thrown; `discardPending()` after a manual check |
 * | other SW, or the card leaves again | — | — | — | the pending record is kept; the error is thrown |
 *
 * The log is the card's unauthenticated word: it only ever tells "ours" from "not ours" next to a proof, and a log
 * record alone never makes a `completed` record. The machine never computes a TAC (it cannot: the TAC key is the
 * issuer's); a completed record carries the card's own TAC, which verifies at clearing only if the card made that
 * very purchase.
 *
 * Completed and unproven records both go to `onRecord` ({@link PurchaseResult}). When the pending purchase proves
 * charged or unproven and the new request is the same sale (same kind, same amount for a purchase, same station
 * for a gate), the call returns that record instead of debiting again; otherwise the new request runs after it.
 *
 * @module
 */
import type { CardChannel } from '../card/channel';
import { assertBytes, assertUint } from '../core/bytes';
import { ArgumentError, ParseError, SimtapError } from '../core/errors';
import { StatusWordError, SW } from '../core/iso7816';
import { ISO14443_106, type LinkProfile, type TapTimeOptions, TapTimer } from '../core/iso14443';
import { decodeDebitResponse, decodeInitForPurchaseResponse, type TransactionLogRecord, TTI } from '../core/pboc';
import { type Clock, systemClock, txnDateTime } from './clock';
import {
  debitApdu,
  INITIALIZE_P1,
  initializeApdu,
  type MachineCommandName,
  readRecordApdu,
  updateCappDataCacheApdu,
} from './commands';
import { type CardIdentity, EPURSE_DEFAULT_AID, identifyCard, proveTransaction, searchLog } from './epurse-client';
import { CardLeftFieldError, MacError } from './errors';
import { ApduLink, accept } from './link';
import type { PsamDriver } from './psam';
import {
  PendingBySerial,
  type PendingPurchase,
  type PurchaseKind,
  type PurchaseRecord,
  type PurchaseResult,
  type RecoveryProof,
  type TransitRecord,
  type TransitStation,
  type UnprovenPurchase,
  type UnprovenReason,
  type Writable,
} from './records';
import {
  assertStation,
  decodeTransitRecord,
  type EntryCharge,
  encodeTransitRecord,
  type FareRule,
  TRANSIT_RECORD_LENGTH,
} from './transit';

/** Transit settings of a gate. */
export interface TransitOptions {
  /** The exit fare. */
  readonly fare: FareRule;
  /** What the entry gate charges (0 or a deposit); default 0. */
  readonly entryCharge?: EntryCharge;
  /** SFI of the CAPP record file holding the travel record; default 0x17. */
  readonly cappSfi?: number;
  /** Record identifier (first byte) of the travel record; default 0x01. */
  readonly recordId?: number;
}

/** Options of {@link ConsumptionMachine}. */
export interface ConsumptionMachineOptions {
  /** The contactless reader's channel to cards (a call may pass another). */
  readonly card: CardChannel;
  /** The machine's PSAM (opened on first use when not yet open). */
  readonly psam: PsamDriver;
  /** Time source of the transaction date/time; default the system clock. */
  readonly clock?: Clock;
  /** Terminal-local time zone, minutes east of UTC; default 480 (China). */
  readonly timeZoneOffsetMinutes?: number;
  /** Purchase key index sent in INITIALIZE; default 1 (reference profile). */
  readonly keyIndex?: number;
  /** The e-purse AID; default A000000632010105. */
  readonly aid?: Uint8Array;
  /** Select the purse directly (default) or through the PPSE. */
  readonly selectVia?: 'aid' | 'ppse';
  /** Send EF 0x15's issuer identifier to the PSAM for two-level key diversification (`80 70 … 24`); default false. */
  readonly twoLevelDiversification?: boolean;
  /** Link profile of the tap-time estimate; default {@link ISO14443_106}. */
  readonly linkProfile?: LinkProfile;
  /** Options of the tap-time estimate. */
  readonly tapTimeOptions?: TapTimeOptions;
  /** Transit gate settings; required for `enter()` / `exit()`. */
  readonly transit?: TransitOptions;
  /** Records of EF 0x18 a recovery may read; default 10. */
  readonly logRecords?: number;
  /**
   * Called with every record: each completed purchase (also those a recovery completes), e.g. to append to the
   * clearing batch, and each unproven one a recovery finds (for the back office; it has no TAC).
   */
  readonly onRecord?: (record: PurchaseResult) => void;
  /** Pending records kept from an earlier run of this machine (see {@link ConsumptionMachine.pending}). */
  readonly pending?: readonly PendingPurchase[];
}

/** Per-call options shared by every tap. */
export interface TapOptions {
  /** The card channel of this tap; default the machine's. */
  readonly card?: CardChannel;
  /** Link profile of this tap's estimate; default the machine's. */
  readonly linkProfile?: LinkProfile;
}

/** A purchase request. */
export interface PurchaseRequest extends TapOptions {
  /** Amount in fen (0..2³²−1). */
  readonly amount: number;
}

/** A gate request. */
export interface GateRequest extends TapOptions {
  readonly station: TransitStation;
}

/** The result of resolving a card's pending purchase (module doc decision table). */
export type RecoveryOutcome =
  | { readonly outcome: 'none' }
  | { readonly outcome: 'charged'; readonly record: PurchaseRecord }
  | { readonly outcome: 'unproven'; readonly record: UnprovenPurchase }
  | { readonly outcome: 'not-charged'; readonly pending: PendingPurchase }
  | { readonly outcome: 'unknown'; readonly pending: PendingPurchase };

/** One tap: the card link with its timer, and where the PSAM count stood. */
interface Tap {
  readonly link: ApduLink;
  readonly timer: TapTimer;
  readonly profile: LinkProfile;
  readonly psamStart: number;
}

/** What a debit needs beyond the card identity. */
interface DebitSpec {
  readonly kind: PurchaseKind;
  readonly amount: number;
  readonly station?: TransitStation;
  readonly entry?: TransitRecord;
}

/** The card's proof of a completed record, and whether the PSAM accepted its MAC2. */
interface Evidence {
  readonly tac: Uint8Array;
  readonly mac2: Uint8Array;
  readonly mac2Verified: boolean;
}

/** What the PSAM made of a proof's MAC2. */
type Mac2Check = 'accepted' | 'refused' | 'unchecked';

const PURCHASE_FAMILY: readonly number[] = [TTI.EP_PURCHASE, TTI.CAPP_PURCHASE];

/**
 * A POS / gate / canteen till: purchases and transit entry/exit over a card channel, with a PSAM.
 * Calls are serialised (one tap at a time).
 * @example
 * const pos = new ConsumptionMachine({ card: reader, psam: new PsamDriver(samChannel) });
 * const rec = await pos.purchase({ amount: 1250 });
 * if (rec.status === 'completed') batch.push(rec); // rec.tac, rec.balanceAfter, rec.tapTime.totalUs
 * else backOffice.push(rec); // 'unproven': an earlier torn purchase of this sale the card cannot prove
 */
export class ConsumptionMachine {
  readonly #o: {
    card: CardChannel;
    psam: PsamDriver;
    clock: Clock;
    tz: number;
    keyIndex: number;
    select: { aid: Uint8Array; selectVia: 'aid' | 'ppse' };
    twoLevel: boolean;
    profile: LinkProfile;
    tapTimeOptions: TapTimeOptions;
    transit: TransitOptions | undefined;
    logRecords: number;
    onRecord: ((r: PurchaseResult) => void) | undefined;
  };
  readonly #pending: PendingBySerial<PendingPurchase>;
  #queue: Promise<unknown> = Promise.resolve();
  #psamOpen = false;

  /** @throws {ArgumentError} `BAD_ARGUMENT` on an invalid option. */
  constructor(options: ConsumptionMachineOptions) {
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options: expected an object');
    if (typeof options.card?.transmit !== 'function') throw new ArgumentError('card: expected a CardChannel');
    if (typeof options.psam?.initForPurchase !== 'function') throw new ArgumentError('psam: expected a PsamDriver');
    const keyIndex = options.keyIndex ?? 1;
    assertUint(keyIndex, 'keyIndex', 0xff);
    const tz = options.timeZoneOffsetMinutes ?? 480;
    if (!Number.isInteger(tz) || Math.abs(tz) > 14 * 60) throw new ArgumentError('timeZoneOffsetMinutes: out of range');
    const logRecords = options.logRecords ?? 10;
    assertUint(logRecords, 'logRecords', 254);
    const aid = options.aid ?? EPURSE_DEFAULT_AID;
    if (!(aid instanceof Uint8Array) || aid.length < 5 || aid.length > 16)
      throw new ArgumentError('aid: expected 5..16 bytes');
    const selectVia = options.selectVia ?? 'aid';
    if (selectVia !== 'aid' && selectVia !== 'ppse') throw new ArgumentError("selectVia: expected 'aid' or 'ppse'");
    const t = options.transit;
    if (t !== undefined) {
      if (typeof t.fare !== 'function') throw new ArgumentError('transit.fare: expected a function');
      assertUint(t.cappSfi ?? 0x17, 'transit.cappSfi', 30);
      assertUint(t.recordId ?? 1, 'transit.recordId', 0xff);
      if (typeof t.entryCharge === 'number') assertUint(t.entryCharge, 'transit.entryCharge', 0xffffffff);
    }
    this.#o = {
      card: options.card,
      psam: options.psam,
      clock: options.clock ?? systemClock,
      tz,
      keyIndex,
      select: { aid: aid.slice(), selectVia },
      twoLevel: options.twoLevelDiversification === true,
      profile: options.linkProfile ?? ISO14443_106,
      tapTimeOptions: options.tapTimeOptions ?? {},
      transit: t,
      logRecords,
      onRecord: options.onRecord,
    };
    this.#pending = new PendingBySerial(options.pending);
  }

  /** Purchases the card may or may not have committed, awaiting the card's next tap (persist them across restarts). */
  get pending(): readonly PendingPurchase[] {
    return this.#pending.list();
  }

  /**
   * Forgets the pending purchase of `cardSerial` (after a manual resolution). Returns it, if there was one.
   * @throws {ArgumentError} `BAD_ARGUMENT` unless `cardSerial` is 10 bytes.
   */
  discardPending(cardSerial: Uint8Array): PendingPurchase | undefined {
    assertBytes(cardSerial, 'cardSerial', 10);
    return this.#pending.remove(cardSerial);
  }

  /**
   * Opens the PSAM (select, read terminal ID) unless already open. Calls open it on first use anyway.
   * @throws the PSAM's `StatusWordError` / `TransportError`.
   */
  async open(): Promise<Uint8Array> {
    return this.#serial(async () => {
      await this.#ensurePsam();
      return this.#o.psam.terminalId;
    });
  }

  /**
   * One purchase (TTI 06) on the tapped card. Resolves a pending purchase of the same card first (module doc): when
   * that was the same sale and proves charged or unproven, returns its record instead of debiting again.
   * @returns the completed record, or the `unproven` record of an earlier torn attempt at the same sale.
   * @throws {InsufficientBalanceError} `SW_9401` when the balance does not cover `amount`.
   * @throws {CardLockedError} `SW_9303` / `SW_6283` when the application is locked.
   * @throws {MacError} `SW_9302`: the card refused MAC1 (`origin 'card'`, nothing debited) or the PSAM refused
   *   the card's MAC2 (`origin 'psam'`, debited: `err.record`).
   * @throws {CardLeftFieldError} `CARD_REMOVED`; `pending` set when the debit may have landed.
   * @throws {SimtapError} `RECOVERY_UNDETERMINED` when an earlier torn purchase of this card cannot be resolved.
   * @throws {StatusWordError} `SW_xxxx` for any other refusal; `ArgumentError` `BAD_ARGUMENT` on a bad amount.
   */
  async purchase(req: PurchaseRequest): Promise<PurchaseResult> {
    assertUint(req?.amount, 'amount', 0xffffffff);
    return this.#tap(req, async (tap) => {
      const id = await identifyCard(tap.link, this.#o.select);
      const same = (p: PendingPurchase) => p.kind === 'purchase' && p.amount === req.amount;
      const done = await this.#settle(tap, id, same);
      if (done !== undefined) return done;
      return this.#debit(tap, id, { kind: 'purchase', amount: req.amount });
    });
  }

  /**
   * Transit entry at `station`: a composite purchase of the entry charge that writes the entry record.
   * @throws {ArgumentError} `BAD_ARGUMENT` when the machine has no transit settings or the station is invalid.
   * @throws the errors of {@link ConsumptionMachine.purchase}.
   */
  async enter(req: GateRequest): Promise<PurchaseResult> {
    const transit = this.#transit();
    assertStation(req?.station);
    const ec = transit.entryCharge ?? 0;
    const amount = typeof ec === 'function' ? ec(req.station) : ec;
    assertUint(amount, 'entry charge', 0xffffffff);
    return this.#tap(req, async (tap) => {
      const id = await identifyCard(tap.link, this.#o.select);
      const same = (p: PendingPurchase) => p.kind === 'transit-entry' && sameStation(p.station, req.station);
      const done = await this.#settle(tap, id, same);
      if (done !== undefined) return done;
      return this.#debit(tap, id, { kind: 'transit-entry', amount, station: req.station });
    });
  }

  /**
   * Transit exit at `station`: reads the entry record, charges `fare(entry, station)` as a composite purchase
   * that writes the exit record.
   * @throws {ArgumentError} `BAD_ARGUMENT` when the machine has no transit settings, the station is invalid or
   *   the fare rule returns no valid amount.
   * @throws the errors of {@link ConsumptionMachine.purchase}.
   */
  async exit(req: GateRequest): Promise<PurchaseResult> {
    const transit = this.#transit();
    assertStation(req?.station);
    return this.#tap(req, async (tap) => {
      const id = await identifyCard(tap.link, this.#o.select);
      const same = (p: PendingPurchase) => p.kind === 'transit-exit' && sameStation(p.station, req.station);
      const done = await this.#settle(tap, id, same);
      if (done !== undefined) return done;
      const sfi = transit.cappSfi ?? 0x17;
      const entry = await readEntry(tap.link, sfi, transit.recordId ?? 1);
      const amount = transit.fare(entry, req.station);
      assertUint(amount, 'fare', 0xffffffff);
      return this.#debit(tap, id, { kind: 'transit-exit', amount, station: req.station, entry });
    });
  }

  /**
   * Resolves the pending purchase of the tapped card, if any (module doc decision table), without a new debit.
   * @throws {CardLeftFieldError} / `StatusWordError` when the tap itself fails (the pending record is kept).
   */
  async recover(req: TapOptions = {}): Promise<RecoveryOutcome> {
    return this.#tap(req, async (tap) => {
      const id = await identifyCard(tap.link, this.#o.select);
      const p = this.#pending.of(id.serial);
      if (p === undefined) return { outcome: 'none' };
      return this.#resolve(tap, p);
    });
  }

  // ------------------------------------------------------------ internals

  #transit(): TransitOptions {
    const t = this.#o.transit;
    if (t === undefined) throw new ArgumentError('this machine has no transit settings (options.transit)');
    return t;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #ensurePsam(): Promise<void> {
    if (this.#psamOpen) return;
    await this.#o.psam.open();
    this.#psamOpen = true;
  }

  #tap<T>(req: TapOptions, fn: (tap: Tap) => Promise<T>): Promise<T> {
    const channel = req.card ?? this.#o.card;
    const profile = req.linkProfile ?? this.#o.profile;
    return this.#serial(async () => {
      await this.#ensurePsam();
      const timer = new TapTimer();
      return fn({ link: new ApduLink(channel, 'card', timer), timer, profile, psamStart: this.#o.psam.apduCount });
    });
  }

  /** Resolves this card's pending purchase; returns its completed or unproven record when it is the same sale. */
  async #settle(
    tap: Tap,
    id: CardIdentity,
    sameSale: (p: PendingPurchase) => boolean,
  ): Promise<PurchaseResult | undefined> {
    const p = this.#pending.of(id.serial);
    if (p === undefined) return undefined;
    const r = await this.#resolve(tap, p);
    if (r.outcome === 'unknown')
      throw new SimtapError(
        'RECOVERY_UNDETERMINED',
        'an earlier torn purchase of this card cannot be resolved from the card; check it and discardPending()',
      );
    if ((r.outcome === 'charged' || r.outcome === 'unproven') && sameSale(p)) return r.record;
    return undefined;
  }

  async #resolve(tap: Tap, p: PendingPurchase): Promise<RecoveryOutcome> {
    // The card proves its last transaction if it has this TTI and counter: ours, or another terminal's when ours
    // never committed and the card was used elsewhere since. Only the PSAM's MAC2 check tells which for sure.
    const proof = await proveTransaction(tap.link, p.tti, p.offlineCounter);
    const check: Mac2Check = proof === undefined ? 'unchecked' : await this.#checkMac2(p, proof.mac2);
    if (proof !== undefined && check === 'accepted') {
      this.#pending.remove(p.cardSerial);
      const ev: Evidence = { tac: proof.tac, mac2: proof.mac2, mac2Verified: true };
      return { outcome: 'charged', record: this.#emit(this.#complete(tap, p, ev, 'transaction-prove')) };
    }
    const v = await searchLog(
      tap.link,
      {
        counter: p.offlineCounter,
        family: PURCHASE_FAMILY,
        tti: p.tti,
        amount: p.amount,
        terminalId: p.terminalId,
        date: p.date,
        time: p.time,
      },
      this.#o.logRecords,
    );
    if (v.verdict === 'unknown') return { outcome: 'unknown', pending: p };
    this.#pending.remove(p.cardSerial);
    if (v.verdict === 'not-committed') return { outcome: 'not-charged', pending: p };
    // The log shows our purchase. Only a proof the PSAM could not check still counts: its TAC, for clearing.
    if (proof !== undefined && check === 'unchecked') {
      const ev: Evidence = { tac: proof.tac, mac2: proof.mac2, mac2Verified: false };
      return { outcome: 'charged', record: this.#emit(this.#complete(tap, p, ev, 'transaction-prove')) };
    }
    const reason: UnprovenReason = proof === undefined ? 'proof-replaced' : 'proof-refused';
    return { outcome: 'unproven', record: this.#emit(this.#unproven(tap, p, reason, v.record)) };
  }

  /**
   * Has the PSAM check a proven MAC2 in the session it opened for this purchase, if that session is still open.
   * @throws the PSAM's `TransportError` (the pending record is kept).
   */
  async #checkMac2(p: PendingPurchase, mac2: Uint8Array): Promise<Mac2Check> {
    const psam = this.#o.psam;
    if (psam.openSessionSeq !== p.terminalTxnSeq) return 'unchecked';
    try {
      await psam.verifyMac2(mac2);
      return 'accepted';
    } catch (e) {
      if (e instanceof MacError) return 'refused';
      if (e instanceof StatusWordError) return 'unchecked'; // e.g. 6985: the PSAM no longer has the session
      throw e;
    }
  }

  #complete(tap: Tap, p: PendingPurchase, ev: Evidence, recovered: RecoveryProof | undefined): PurchaseRecord {
    // Completed in place on the rest copy, not as `{ ...core, status, … }`: a spread followed by more properties
    // makes V8 (Node 20) build a new hidden class per record (~8 µs, and old-generation garbage that made
    // scavenges take milliseconds). Same keys, same order.
    const { status: _, ...core } = p;
    const r = core as Writable<PurchaseRecord>;
    r.status = 'completed';
    r.tac = ev.tac;
    r.mac2 = ev.mac2;
    r.mac2Verified = ev.mac2Verified;
    r.recovered = recovered;
    r.apduCount = tap.link.apduCount;
    r.psamApduCount = this.#o.psam.apduCount - tap.psamStart;
    r.tapTime = tap.timer.estimate(tap.profile, this.#o.tapTimeOptions);
    return r;
  }

  #unproven(tap: Tap, p: PendingPurchase, reason: UnprovenReason, log: TransactionLogRecord): UnprovenPurchase {
    const { status: _, ...core } = p;
    const r = core as Writable<UnprovenPurchase>;
    r.status = 'unproven';
    r.reason = reason;
    r.log = log;
    r.apduCount = tap.link.apduCount;
    r.psamApduCount = this.#o.psam.apduCount - tap.psamStart;
    r.tapTime = tap.timer.estimate(tap.profile, this.#o.tapTimeOptions);
    return r;
  }

  #emit<R extends PurchaseResult>(r: R): R {
    this.#o.onRecord?.(r);
    return r;
  }

  async #debit(tap: Tap, id: CardIdentity, spec: DebitSpec): Promise<PurchaseRecord> {
    const o = this.#o;
    const psam = o.psam;
    const link = tap.link;
    const capp = spec.kind !== 'purchase';
    const tti = capp ? TTI.CAPP_PURCHASE : TTI.EP_PURCHASE;
    const terminalId = psam.terminalId;
    const { date, time } = txnDateTime(o.clock, o.tz);
    const init = decodeInitForPurchaseResponse(
      await link.run(
        capp ? 'INITIALIZE_FOR_CAPP_PURCHASE' : 'INITIALIZE_FOR_PURCHASE',
        initializeApdu(
          capp ? INITIALIZE_P1.CAPP_PURCHASE : INITIALIZE_P1.PURCHASE,
          o.keyIndex,
          spec.amount,
          terminalId,
        ),
        15,
      ),
    );
    const balanceBefore = init.balance | 0; // 4-byte two's complement: negative while overdrawn
    const balanceAfter = balanceBefore - spec.amount;
    if (capp && spec.station !== undefined) {
      const t = this.#transit();
      const recordId = t.recordId ?? 1;
      const record = encodeTransitRecord(recordId, {
        type: spec.kind === 'transit-entry' ? 'entry' : 'exit',
        station: spec.station,
        terminalId,
        amount: spec.amount,
        balance: Math.max(0, balanceAfter),
        date,
        time,
      });
      await link.run('UPDATE_CAPP_DATA_CACHE', updateCappDataCacheApdu(t.cappSfi ?? 0x17, recordId, record), 0);
    }
    const session = await psam.initForPurchase({
      cardRandom: init.random,
      offlineCounter: init.offlineCounter,
      amount: spec.amount,
      tti,
      date,
      time,
      keyVersion: init.keyVersion,
      algorithmId: init.algorithmId,
      cardSerial: id.serial,
      ...(o.twoLevel ? { issuerId: id.ef15.issuerId } : {}),
    });
    const pending: PendingPurchase = {
      status: 'pending',
      kind: spec.kind,
      tti,
      cardSerial: id.serial.slice(),
      offlineCounter: init.offlineCounter,
      amount: spec.amount,
      balanceBefore,
      balanceAfter,
      terminalId,
      terminalTxnSeq: session.terminalTxnSeq,
      date: date.slice(),
      time: time.slice(),
      keyVersion: init.keyVersion,
      algorithmId: init.algorithmId,
      ...(spec.station === undefined ? {} : { station: { ...spec.station } }),
      ...(spec.kind === 'transit-exit' ? { entry: spec.entry } : {}),
    };
    const command: MachineCommandName = capp ? 'DEBIT_FOR_CAPP_PURCHASE' : 'DEBIT_FOR_PURCHASE';
    let rsp: Uint8Array;
    try {
      rsp = await link.run(command, debitApdu(session.terminalTxnSeq, date, time, session.mac1), 8);
    } catch (e) {
      if (e instanceof CardLeftFieldError) {
        this.#pending.add(pending);
        throw new CardLeftFieldError(command, pending, { cause: e.cause });
      }
      throw e;
    }
    const { tac, mac2 } = decodeDebitResponse(rsp);
    let mac2Verified = false;
    try {
      await psam.verifyMac2(mac2);
      mac2Verified = true;
    } catch (e) {
      if (e instanceof MacError) {
        e.record = this.#emit(this.#complete(tap, pending, { tac, mac2, mac2Verified }, undefined));
        throw e;
      }
      // Any other PSAM failure: the card has committed; the record stays with the card's TAC, MAC2 unverified.
    }
    return this.#emit(this.#complete(tap, pending, { tac, mac2, mac2Verified }, undefined));
  }
}

function sameStation(a: TransitStation | undefined, b: TransitStation): boolean {
  return a !== undefined && a.line === b.line && a.station === b.station;
}

/** The travel record if it is an entry; undefined when absent, unreadable as a record, or an exit. */
async function readEntry(link: ApduLink, sfi: number, recordId: number): Promise<TransitRecord | undefined> {
  const r = await link.exchange('READ_RECORD', readRecordApdu(recordId, sfi, TRANSIT_RECORD_LENGTH));
  if (r.sw === SW.RECORD_NOT_FOUND || r.sw === SW.FILE_NOT_FOUND) return undefined;
  const data = accept('READ_RECORD', r, TRANSIT_RECORD_LENGTH);
  let rec: TransitRecord | undefined;
  try {
    rec = decodeTransitRecord(data);
  } catch (e) {
    if (e instanceof ParseError) return undefined; // a record some other system wrote: no usable entry
    throw e;
  }
  return rec?.type === 'entry' ? rec : undefined;
}

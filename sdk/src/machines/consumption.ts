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
 * anything else:
 *
 * | GET TRANSACTION PROVE (TTI, counter) | proof authenticated as ours | EF 0x18 log (newest first) | verdict |
 * |---|---|---|---|
 * | 9000 MAC2 ‖ TAC | yes: the PSAM accepts MAC2 (its session is still open) or recomputes the same TAC | not read | **charged**: the record is completed from the proof; never debited again |
 * | 9000 | cannot tell (no open PSAM session, no TAC key in the PSAM) | a record with the counter matching TTI, amount, terminal, date, time | **charged**, record from the proof (unverified) |
 * | 9000 | no: the proof is another terminal's | record with the counter is another terminal's, or the counter was never used | **not charged** |
 * | 9000 | no | matching record | inconsistent card: `TacError` (`record` set) |
 * | 9406 | — | matching record (a later transaction replaced the proof) | **charged**, record from the log, TAC recomputed by the PSAM when it holds the TAC key (`recovered: 'transaction-log'`) |
 * | 9406 | — | newest record of the purchase family has a lower counter, or the counter's record is another terminal's | **not charged**: the pending record is dropped; the caller's purchase runs normally, so a retry charges once |
 * | any | — | the log no longer reaches back to the counter | **unknown**: the pending record is kept and `RECOVERY_UNDETERMINED` thrown; `discardPending()` after a manual check |
 * | other SW, card leaves again | — | — | the pending record is kept; the error is thrown |
 *
 * When the pending purchase proves charged and the new request is the same sale (same kind, same amount for a
 * purchase, same station for a gate), the call returns the completed record instead of debiting again; otherwise
 * the completed record goes to `onRecord` and the new request runs.
 *
 * @module
 */
import type { CardChannel } from '../card/channel';
import { assertBytes, assertUint, equalCt } from '../core/bytes';
import { ArgumentError, ParseError, SimtapError } from '../core/errors';
import { StatusWordError, SW } from '../core/iso7816';
import { ISO14443_106, type LinkProfile, type TapTimeOptions, TapTimer } from '../core/iso14443';
import { decodeDebitResponse, decodeInitForPurchaseResponse, TTI } from '../core/pboc';
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
import { CardLeftFieldError, MacError, TacError } from './errors';
import { ApduLink, accept } from './link';
import type { PsamDriver } from './psam';
import {
  PendingBySerial,
  type PendingPurchase,
  type PurchaseKind,
  type PurchaseRecord,
  type RecoveryProof,
  type TransitRecord,
  type TransitStation,
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
  /** Called with every completed record (also those completed by a recovery), e.g. to append to the batch. */
  readonly onRecord?: (record: PurchaseRecord) => void;
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

/** The result of resolving a card's pending purchase. */
export type RecoveryOutcome =
  | { readonly outcome: 'none' }
  | { readonly outcome: 'charged'; readonly record: PurchaseRecord }
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

/** What a completed record can show of its authenticity. */
interface Evidence {
  tac: Uint8Array | undefined;
  mac2: Uint8Array | undefined;
  mac2Verified: boolean;
  tacVerified: boolean;
}

const PURCHASE_FAMILY: readonly number[] = [TTI.EP_PURCHASE, TTI.CAPP_PURCHASE];

/**
 * A POS / gate / canteen till: purchases and transit entry/exit over a card channel, with a PSAM.
 * Calls are serialised (one tap at a time).
 * @example
 * const pos = new ConsumptionMachine({ card: reader, psam: new PsamDriver(samChannel) });
 * const rec = await pos.purchase({ amount: 1250 }); // rec.tac, rec.balanceAfter, rec.tapTime.totalUs
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
    onRecord: ((r: PurchaseRecord) => void) | undefined;
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
   * One purchase (TTI 06) on the tapped card. Resolves a pending purchase of the same card first (module doc).
   * @throws {InsufficientBalanceError} `SW_9401` when the balance does not cover `amount`.
   * @throws {CardLockedError} `SW_9303` / `SW_6283` when the application is locked.
   * @throws {MacError} `SW_9302`: the card refused MAC1 (`origin 'card'`, nothing debited) or the PSAM refused
   *   the card's MAC2 (`origin 'psam'`, debited: `err.record`).
   * @throws {CardLeftFieldError} `CARD_REMOVED`; `pending` set when the debit may have landed.
   * @throws {SimtapError} `RECOVERY_UNDETERMINED` when an earlier torn purchase of this card cannot be resolved.
   * @throws {StatusWordError} `SW_xxxx` for any other refusal; `ArgumentError` `BAD_ARGUMENT` on a bad amount.
   */
  async purchase(req: PurchaseRequest): Promise<PurchaseRecord> {
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
  async enter(req: GateRequest): Promise<PurchaseRecord> {
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
  async exit(req: GateRequest): Promise<PurchaseRecord> {
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
      return this.#resolve(tap, id, p);
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

  /** Resolves this card's pending purchase; returns the completed record when it is the same sale. */
  async #settle(
    tap: Tap,
    id: CardIdentity,
    sameSale: (p: PendingPurchase) => boolean,
  ): Promise<PurchaseRecord | undefined> {
    const p = this.#pending.of(id.serial);
    if (p === undefined) return undefined;
    const r = await this.#resolve(tap, id, p);
    if (r.outcome === 'unknown')
      throw new SimtapError(
        'RECOVERY_UNDETERMINED',
        'an earlier torn purchase of this card cannot be resolved from the card; check it and discardPending()',
      );
    if (r.outcome === 'charged' && sameSale(p)) return r.record;
    return undefined;
  }

  async #resolve(tap: Tap, id: CardIdentity, p: PendingPurchase): Promise<RecoveryOutcome> {
    const psam = this.#o.psam;
    const proof = await proveTransaction(tap.link, p.tti, p.offlineCounter);
    // Is the proof ours? The card proves the last transaction with that counter, which may be another
    // terminal's when ours never committed and the card was used elsewhere since.
    let ours: boolean | undefined;
    const evidence: Evidence = { tac: undefined, mac2: undefined, mac2Verified: false, tacVerified: false };
    if (proof !== undefined) {
      evidence.tac = proof.tac;
      evidence.mac2 = proof.mac2;
      if (psam.openSessionSeq === p.terminalTxnSeq) {
        try {
          await psam.verifyMac2(proof.mac2);
          evidence.mac2Verified = true;
          ours = true;
        } catch (e) {
          if (!(e instanceof MacError)) throw e;
          ours = false;
        }
      } else {
        const tac = await this.#psamTac(id, p);
        if (tac !== undefined) ours = evidence.tacVerified = equalCt(tac, proof.tac);
      }
      if (ours === true) {
        this.#pending.remove(p.cardSerial);
        return { outcome: 'charged', record: this.#emit(this.#complete(tap, p, evidence, 'transaction-prove')) };
      }
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
    if (ours === false) {
      // The log shows our purchase but the card's proof of it does not authenticate.
      const record = this.#emit(this.#complete(tap, p, evidence, 'transaction-prove'));
      throw new TacError("the card's proof of this purchase does not authenticate", record);
    }
    if (proof !== undefined) {
      return { outcome: 'charged', record: this.#emit(this.#complete(tap, p, evidence, 'transaction-prove')) };
    }
    evidence.tac = await this.#psamTac(id, p);
    return { outcome: 'charged', record: this.#emit(this.#complete(tap, p, evidence, 'transaction-log')) };
  }

  /** The purchase TAC recomputed by the PSAM; undefined when the PSAM holds no TAC key (6A88). */
  async #psamTac(id: CardIdentity, p: PendingPurchase): Promise<Uint8Array | undefined> {
    try {
      return await this.#o.psam.computePurchaseTac({
        cardSerial: p.cardSerial,
        ...(this.#o.twoLevel ? { issuerId: id.ef15.issuerId } : {}),
        keyVersion: p.keyVersion,
        amount: p.amount,
        tti: p.tti,
        terminalId: p.terminalId,
        terminalTxnSeq: p.terminalTxnSeq,
        date: p.date,
        time: p.time,
      });
    } catch (e) {
      if (e instanceof StatusWordError) return undefined;
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
    r.tacVerified = ev.tacVerified;
    r.recovered = recovered;
    r.apduCount = tap.link.apduCount;
    r.psamApduCount = this.#o.psam.apduCount - tap.psamStart;
    r.tapTime = tap.timer.estimate(tap.profile, this.#o.tapTimeOptions);
    return r;
  }

  #emit(r: PurchaseRecord): PurchaseRecord {
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
    const evidence: Evidence = { tac, mac2, mac2Verified: false, tacVerified: false };
    try {
      await psam.verifyMac2(mac2);
      evidence.mac2Verified = true;
    } catch (e) {
      if (e instanceof MacError) {
        e.record = this.#emit(this.#complete(tap, pending, evidence, undefined));
        throw e;
      }
      // Any other PSAM failure: the card has committed; the record stays, unverified.
    }
    return this.#emit(this.#complete(tap, pending, evidence, undefined));
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

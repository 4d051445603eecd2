/**
 * The consumption machine (POS, canteen till, transit gate) of docs/architecture.md ("The machines"): it talks to the card over the
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
import { assertUint } from '../core/bytes';
import { ArgumentError, ParseError } from '../core/errors';
import { StatusWordError, SW } from '../core/iso7816';
import { debitResponse, EPURSE_SFI, initForPurchaseResponse, type TransactionLogRecord, TTI } from '../core/pboc';
import {
  debitApdu,
  INITIALIZE_P1,
  initializeApdu,
  type MachineCommandName,
  readRecordApdu,
  updateCappDataCacheApdu,
} from './commands';
import type { CardIdentity } from './epurse-client';
import { MacError } from './errors';
import { type ApduLink, accept } from './link';
import {
  assertInspect,
  type InspectOptions,
  MachineCore,
  type MachineOptions,
  recordOf,
  type Tap,
  type TapOptions,
} from './machine-core';
import type { PsamDriver } from './psam';
import type {
  PendingPurchase,
  PurchaseKind,
  PurchaseRecord,
  PurchaseResult,
  RecoveryProof,
  TransitRecord,
  TransitStation,
  UnprovenPurchase,
  UnprovenReason,
} from './records';
import {
  assertStation,
  decodeTransitRecord,
  type EntryCharge,
  encodeTransitRecord,
  type FareRule,
  TRANSIT_RECORD_LENGTH,
} from './transit';

export type { CardInspection, InspectOptions, TapOptions } from './machine-core';

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
export interface ConsumptionMachineOptions extends MachineOptions<PendingPurchase, PurchaseResult> {
  /** The machine's PSAM (opened on first use when not yet open). */
  readonly psam: PsamDriver;
  /** Send EF 0x15's issuer identifier to the PSAM for two-level key diversification (`80 70 … 24`); default false. */
  readonly twoLevelDiversification?: boolean;
  /** Transit gate settings; required for `enter()` / `exit()`. */
  readonly transit?: TransitOptions;
}

/** What every request that may debit takes: {@link InspectOptions.inspect}, a look at the card before the debit. */
export interface SaleOptions extends TapOptions, InspectOptions {}

/** A purchase request. */
export interface PurchaseRequest extends SaleOptions {
  /** Amount in fen (0..2³²−1). */
  readonly amount: number;
}

/** A gate request. */
export interface GateRequest extends SaleOptions {
  readonly station: TransitStation;
}

/** The result of resolving a card's pending purchase (module doc decision table). */
export type RecoveryOutcome =
  | { readonly outcome: 'none' }
  | { readonly outcome: 'charged'; readonly record: PurchaseRecord }
  | { readonly outcome: 'unproven'; readonly record: UnprovenPurchase }
  | { readonly outcome: 'not-charged'; readonly pending: PendingPurchase }
  | { readonly outcome: 'unknown'; readonly pending: PendingPurchase };

/** One tap, and where the PSAM's APDU count stood when it began. */
interface PurchaseTap extends Tap {
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
  readonly #core: MachineCore<PendingPurchase>;
  readonly #psam: PsamDriver;
  readonly #twoLevel: boolean;
  readonly #transitOptions: TransitOptions | undefined;
  readonly #onRecord: ((r: PurchaseResult) => void) | undefined;
  #psamOpen = false;

  /** @throws {ArgumentError} `BAD_ARGUMENT` on an invalid option. */
  constructor(options: ConsumptionMachineOptions) {
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options: expected an object');
    if (typeof options.psam?.initForPurchase !== 'function') throw new ArgumentError('psam: expected a PsamDriver');
    const t = options.transit;
    if (t !== undefined) {
      if (typeof t.fare !== 'function') throw new ArgumentError('transit.fare: expected a function');
      assertUint(t.cappSfi ?? EPURSE_SFI.CAPP17, 'transit.cappSfi', 30);
      assertUint(t.recordId ?? 1, 'transit.recordId', 0xff);
      if (typeof t.entryCharge === 'number') assertUint(t.entryCharge, 'transit.entryCharge', 0xffffffff);
    }
    this.#core = new MachineCore(options);
    this.#psam = options.psam;
    this.#twoLevel = options.twoLevelDiversification === true;
    this.#transitOptions = t;
    this.#onRecord = options.onRecord;
  }

  /** Purchases the card may or may not have committed, awaiting the card's next tap (persist them across restarts). */
  get pending(): readonly PendingPurchase[] {
    return this.#core.pending.list();
  }

  /**
   * Forgets the pending purchase of `cardSerial` (after a manual resolution). Returns it, if there was one.
   * @throws {ArgumentError} `BAD_ARGUMENT` unless `cardSerial` is 10 bytes.
   */
  discardPending(cardSerial: Uint8Array): PendingPurchase | undefined {
    return this.#core.discardPending(cardSerial);
  }

  /**
   * Opens the PSAM (select, read terminal ID) unless already open. Calls open it on first use anyway.
   * @throws the PSAM's `StatusWordError` / `TransportError`.
   */
  async open(): Promise<Uint8Array> {
    return this.#core.serial(async () => {
      await this.#ensurePsam();
      return this.#psam.terminalId;
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
    assertInspect(req);
    const same = (p: PendingPurchase) => p.kind === 'purchase' && p.amount === req.amount;
    return this.#sale(req, same, (tap, id) => this.#debit(tap, id, { kind: 'purchase', amount: req.amount }));
  }

  /**
   * Transit entry at `station`: a composite purchase of the entry charge that writes the entry record.
   * @throws {ArgumentError} `BAD_ARGUMENT` when the machine has no transit settings or the station is invalid.
   * @throws the errors of {@link ConsumptionMachine.purchase}.
   */
  async enter(req: GateRequest): Promise<PurchaseResult> {
    const transit = this.#transit();
    assertStation(req?.station);
    assertInspect(req);
    const ec = transit.entryCharge ?? 0;
    const charge = (): number => {
      const amount = typeof ec === 'function' ? ec(req.station) : ec;
      assertUint(amount, 'entry charge', 0xffffffff);
      return amount;
    };
    // Without inspect the charge is known before the tap (a bad one sends nothing); with it, after the inspection,
    // which may be what the charge depends on (a bus's transfer discount from the card's log).
    const early = req.inspect === undefined ? charge() : undefined;
    const same = (p: PendingPurchase) => p.kind === 'transit-entry' && sameStation(p.station, req.station);
    return this.#sale(req, same, (tap, id) =>
      this.#debit(tap, id, { kind: 'transit-entry', amount: early ?? charge(), station: req.station }),
    );
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
    assertInspect(req);
    const same = (p: PendingPurchase) => p.kind === 'transit-exit' && sameStation(p.station, req.station);
    return this.#sale(req, same, async (tap, id) => {
      const entry = await readEntry(tap.link, transit.cappSfi ?? EPURSE_SFI.CAPP17, transit.recordId ?? 1);
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
      const id = await this.#core.identify(tap);
      const p = this.#core.pending.of(id.serial);
      if (p === undefined) return { outcome: 'none' };
      return this.#resolve(tap, p);
    });
  }

  // ------------------------------------------------------------ internals

  #transit(): TransitOptions {
    const t = this.#transitOptions;
    if (t === undefined) throw new ArgumentError('this machine has no transit settings (options.transit)');
    return t;
  }

  async #ensurePsam(): Promise<void> {
    if (this.#psamOpen) return;
    await this.#psam.open();
    this.#psamOpen = true;
  }

  #tap<T>(req: TapOptions, fn: (tap: PurchaseTap) => Promise<T>): Promise<T> {
    return this.#core.tap(
      req,
      (tap) => fn({ link: tap.link, timer: tap.timer, profile: tap.profile, psamStart: this.#psam.apduCount }),
      () => this.#ensurePsam(),
    );
  }

  /**
   * A tap that sells: identifies the card, settles its pending purchase (module doc), and runs `debit` unless
   * that pending purchase was this very sale.
   */
  #sale(
    req: SaleOptions,
    sameSale: (p: PendingPurchase) => boolean,
    debit: (tap: PurchaseTap, id: CardIdentity) => Promise<PurchaseRecord>,
  ): Promise<PurchaseResult> {
    return this.#tap(req, async (tap) => {
      const id = await this.#core.identify(tap);
      const done = await this.#settle(tap, id, sameSale);
      if (done !== undefined) return done;
      if (req.inspect !== undefined) await this.#core.inspect(tap, id, req.inspect);
      return debit(tap, id);
    });
  }

  /** Resolves this card's pending purchase; returns its completed or unproven record when it is the same sale. */
  async #settle(
    tap: PurchaseTap,
    id: CardIdentity,
    sameSale: (p: PendingPurchase) => boolean,
  ): Promise<PurchaseResult | undefined> {
    const p = this.#core.pending.of(id.serial);
    if (p === undefined) return undefined;
    const r = await this.#resolve(tap, p);
    if (r.outcome === 'unknown')
      throw this.#core.undetermined(
        'an earlier torn purchase of this card cannot be resolved from the card; check it and discardPending()',
      );
    if ((r.outcome === 'charged' || r.outcome === 'unproven') && sameSale(p)) return r.record;
    return undefined;
  }

  async #resolve(tap: PurchaseTap, p: PendingPurchase): Promise<RecoveryOutcome> {
    // The card proves its last transaction if it has this TTI and counter: ours, or another terminal's when ours
    // never committed and the card was used elsewhere since. Only the PSAM's MAC2 check tells which for sure.
    const proof = await this.#core.prove(tap, p, p.offlineCounter);
    const check: Mac2Check = proof === undefined ? 'unchecked' : await this.#checkMac2(p, proof.mac2);
    if (proof !== undefined && check === 'accepted') {
      this.#core.pending.remove(p.cardSerial);
      const ev: Evidence = { tac: proof.tac, mac2: proof.mac2, mac2Verified: true };
      return { outcome: 'charged', record: this.#emit(this.#complete(tap, p, ev, 'transaction-prove')) };
    }
    const v = await this.#core.searchLog(tap, p, p.offlineCounter, PURCHASE_FAMILY);
    if (v.verdict === 'unknown') return { outcome: 'unknown', pending: p };
    this.#core.pending.remove(p.cardSerial);
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
    const psam = this.#psam;
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

  #complete(tap: PurchaseTap, p: PendingPurchase, ev: Evidence, recovered: RecoveryProof | undefined): PurchaseRecord {
    const r = recordOf<PurchaseRecord>(p);
    r.status = 'completed';
    r.tac = ev.tac;
    r.mac2 = ev.mac2;
    r.mac2Verified = ev.mac2Verified;
    r.recovered = recovered;
    r.apduCount = tap.link.apduCount;
    r.psamApduCount = this.#psam.apduCount - tap.psamStart;
    r.tapTime = this.#core.tapTime(tap);
    return r;
  }

  #unproven(tap: PurchaseTap, p: PendingPurchase, reason: UnprovenReason, log: TransactionLogRecord): UnprovenPurchase {
    const r = recordOf<UnprovenPurchase>(p);
    r.status = 'unproven';
    r.reason = reason;
    r.log = log;
    r.apduCount = tap.link.apduCount;
    r.psamApduCount = this.#psam.apduCount - tap.psamStart;
    r.tapTime = this.#core.tapTime(tap);
    return r;
  }

  #emit<R extends PurchaseResult>(r: R): R {
    this.#onRecord?.(r);
    return r;
  }

  async #debit(tap: PurchaseTap, id: CardIdentity, spec: DebitSpec): Promise<PurchaseRecord> {
    const core = this.#core;
    const psam = this.#psam;
    const link = tap.link;
    const capp = spec.kind !== 'purchase';
    const tti = capp ? TTI.CAPP_PURCHASE : TTI.EP_PURCHASE;
    const terminalId = psam.terminalId;
    const { date, time } = core.now();
    const init = initForPurchaseResponse.decode(
      await link.run(
        capp ? 'INITIALIZE_FOR_CAPP_PURCHASE' : 'INITIALIZE_FOR_PURCHASE',
        initializeApdu(
          capp ? INITIALIZE_P1.CAPP_PURCHASE : INITIALIZE_P1.PURCHASE,
          core.keyIndex,
          spec.amount,
          terminalId,
        ),
        initForPurchaseResponse.length,
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
      const apdu = updateCappDataCacheApdu(t.cappSfi ?? EPURSE_SFI.CAPP17, recordId, record);
      await link.run('UPDATE_CAPP_DATA_CACHE', apdu, 0);
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
      ...(this.#twoLevel ? { issuerId: id.ef15.issuerId } : {}),
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
    const apdu = debitApdu(session.terminalTxnSeq, date, time, session.mac1);
    const { tac, mac2 } = debitResponse.decode(await core.commit(tap, command, apdu, debitResponse.length, pending));
    let mac2Verified = false;
    try {
      await psam.verifyMac2(mac2);
      mac2Verified = true;
    } catch (e) {
      if (e instanceof MacError) {
        // The card has committed: the PSAM's refusal carries the debit as the card reported it.
        const record = this.#emit(this.#complete(tap, pending, { tac, mac2, mac2Verified }, undefined));
        throw new MacError(e.sw, 'PSAM_CREDIT_FOR_PURCHASE', { cause: e, record });
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

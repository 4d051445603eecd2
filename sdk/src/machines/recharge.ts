/**
 * The recharge machine (top-up kiosk) of docs/architecture.md ("The machines"): cash or bank in, load onto the card with the MAC2 of the
 * platform. The machine never holds the load key: it relays the card's MAC1 to a {@link LoadAuthorizer} (the
 * platform, through its application system) and sends back the MAC2 it returns.
 *
 * Flow: SELECT (AID, or PPSE → AID) → READ BINARY EF 0x15 → [VERIFY PIN] → INITIALIZE FOR LOAD → authorizer
 * (checks MAC1, returns MAC2) → CREDIT FOR LOAD → TAC checked by the authorizer (`verifyTac`) → {@link LoadRecord}.
 *
 * **Torn loads.** When the card leaves the field after CREDIT FOR LOAD was sent and before its answer arrived,
 * the machine keeps a {@link PendingLoad} and throws {@link CardLeftFieldError}. At the next tap of the same card
 * it resolves it, like the consumption machine, only on what the card proves. The load's proof is GET TRANSACTION
 * PROVE (TTI 02, online counter): MAC2 ‖ TAC of the card's last transaction. Its MAC2 identifies the load (the
 * machine knows the MAC2 it sent); its TAC is the card's proof, which the authorizer (the issuer) verifies:
 *
 * | GET TRANSACTION PROVE | EF 0x18 log | verdict | what the machine reports |
 * |---|---|---|---|
 * | 9000 with the MAC2 this machine sent | not read | **loaded** | {@link LoadRecord} `completed` with the card's TAC: `tacVerified` true when the authorizer verifies it, false when it cannot verify TACs; a TAC the authorizer rejects is thrown as `TacError` (`record` set), as in a plain load |
 * | 9000 with another MAC2 (another load's proof) | a record with the counter matching amount, terminal, date and time | **unproven** | {@link UnprovenLoad} `unproven`, `reason: 'proof-refused'`, the log record; no TAC |
 * | 9406 (a later transaction replaced the proof) | matching record | **unproven** | `unproven`, `reason: 'proof-replaced'`, the log record; no TAC |
 * | 9000 with another MAC2, or 9406 | the counter's record is another terminal's, or a lower newest load counter | **not loaded** | nothing: the pending load is dropped and a retry loads once |
 * | 9000 with another MAC2, or 9406 | too short to reach the counter | **unknown** | nothing: the pending load is kept and `RECOVERY_UNDETERMINED` thrown |
 *
 * A load is settled once: loaded (the platform credits the card float), not loaded (the platform refunds), or
 * unproven (neither: the platform settles it; the card's next online load proves its online counter in MAC1).
 * `load()` never loads a sale again whose earlier attempt the card's log shows: for an unproven earlier load of the
 * same amount it throws `RECOVERY_UNDETERMINED` and keeps the pending load; `recover()` hands it to `onRecord` as an
 * {@link UnprovenLoad}, or `discardPending()` drops it after a manual check. An unproven earlier load of another
 * amount goes to `onRecord` and the new load runs.
 *
 * @module
 */
import { assertOptionsObject } from '../card/arguments';
import { assertBytes, assertUint, equalCt } from '../core/bytes';
import { ArgumentError, CryptoError, SimtapError } from '../core/errors';
import {
  creditForLoadResponse,
  diversificationDataOf,
  IssuerTacVerifier,
  initForLoadResponse,
  loadMac1,
  loadMac2,
  loadSessionKey,
  PbocKeyDiversifier,
  PbocMac,
  type TransactionLogRecord,
  TTI,
} from '../core/pboc';
import type { SimtapProfile } from '../core/profile';
import { creditForLoadApdu, INITIALIZE_P1, initializeApdu, verifyPinApdu } from './commands';
import type { CardIdentity } from './epurse-client';
import { type MachineErrorCode, TacError } from './errors';
import {
  assertInspect,
  type InspectOptions,
  MachineCore,
  type MachineOptions,
  recordOf,
  type Tap,
  type TapOptions,
} from './machine-core';
import type { LoadRecord, LoadResult, PendingLoad, RecoveryProof, UnprovenLoad, UnprovenReason } from './records';

/** What the authorizer gets to decide on a load and compute its MAC2. */
export interface LoadAuthorizationRequest {
  /** The card's 10-byte application serial (EF 0x15). */
  readonly cardSerial: Uint8Array;
  /** Amount to load, fen. */
  readonly amount: number;
  /** The kiosk's terminal ID (6 bytes). */
  readonly terminalId: Uint8Array;
  /** Balance before the load, fen. */
  readonly oldBalance: number;
  /** The card's online counter (before the load). */
  readonly onlineCounter: number;
  /** The card's 4-byte random. */
  readonly random: Uint8Array;
  readonly keyVersion: number;
  readonly algId: number;
  /** The card's MAC1 (4 bytes). */
  readonly mac1: Uint8Array;
  /** YYYYMMDD (4 BCD bytes) the card will receive with MAC2. */
  readonly date: Uint8Array;
  /** hhmmss (3 BCD bytes). */
  readonly time: Uint8Array;
  /** 02 EP load (01 ED load). */
  readonly tti: number;
}

/** What the authorizer gets to verify a load's TAC. */
export interface LoadTacCheck {
  readonly cardSerial: Uint8Array;
  /** Balance after the load, fen. */
  readonly newBalance: number;
  /** The online counter the load used (before increment). */
  readonly onlineCounter: number;
  readonly amount: number;
  readonly tti: number;
  readonly terminalId: Uint8Array;
  readonly date: Uint8Array;
  readonly time: Uint8Array;
  /** The TAC the card returned (4 bytes). */
  readonly tac: Uint8Array;
}

/**
 * Authorizes loads: the platform (later over the wire), or {@link IssuerKeyAuthorizer} in tests. `authorize`
 * must verify MAC1 before computing MAC2, and throws to refuse.
 */
export interface LoadAuthorizer {
  /** Verifies MAC1 and returns MAC2. Throw to refuse (e.g. `CryptoError` `MAC1_INVALID`). */
  authorize(req: LoadAuthorizationRequest): Promise<{ mac2: Uint8Array }>;
  /** True when the TAC is the issuer's for this load. Optional: without it, records carry `tacVerified: false`. */
  verifyTac?(check: LoadTacCheck): Promise<boolean>;
}

/** Master keys of {@link IssuerKeyAuthorizer}. */
export interface IssuerLoadKeys {
  /** The issuer's load master key (16 bytes); the card's DLK is its PBOC diversification. */
  readonly loadMasterKey: Uint8Array;
  /** The issuer's TAC master key (16 bytes); enables `verifyTac`. */
  readonly tacMasterKey?: Uint8Array;
}

/**
 * A {@link LoadAuthorizer} holding the issuer's master keys (tests, demos, an issuer back office): derives DLK
 * from `loadMasterKey` with the card's diversification data (EF 0x15 serial, rightmost 8 bytes), verifies MAC1 in
 * constant time, computes MAC2; verifies TACs with the issuer's {@link IssuerTacVerifier} from `tacMasterKey`.
 * It stands for the issuer's platform: a kiosk that holds it holds the issuer's keys.
 */
export class IssuerKeyAuthorizer implements LoadAuthorizer {
  readonly #dlk: PbocKeyDiversifier;
  readonly #tac: IssuerTacVerifier | undefined;

  /** @throws {ArgumentError} `BAD_ARGUMENT` unless the master keys are 16 bytes. */
  constructor(keys: IssuerLoadKeys) {
    assertBytes(keys?.loadMasterKey, 'loadMasterKey', 16);
    if (keys.tacMasterKey !== undefined) assertBytes(keys.tacMasterKey, 'tacMasterKey', 16);
    this.#dlk = new PbocKeyDiversifier(keys.loadMasterKey);
    this.#tac = keys.tacMasterKey === undefined ? undefined : new IssuerTacVerifier(keys.tacMasterKey);
  }

  /**
   * An authorizer with the issuer keys of `profile`, named by the caller — for tests and demos,
   * `fromProfile(referenceProfile())` (test keys; never real money). There is no default: production code passes
   * its own keys to the constructor.
   * @throws {ArgumentError} `BAD_ARGUMENT` when `profile` has no issuer master keys.
   */
  static fromProfile(profile: SimtapProfile): IssuerKeyAuthorizer {
    const mk = (profile as Partial<SimtapProfile> | null | undefined)?.issuer?.masterKeys;
    if (typeof mk !== 'object' || mk === null) throw new ArgumentError('profile: expected a SimtapProfile');
    return new IssuerKeyAuthorizer({ loadMasterKey: mk.loadMasterKey, tacMasterKey: mk.tacMasterKey });
  }

  /**
   * Verifies MAC1 and returns MAC2.
   * @throws {CryptoError} `MAC1_INVALID` when MAC1 is not the card's.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed field.
   */
  async authorize(req: LoadAuthorizationRequest): Promise<{ mac2: Uint8Array }> {
    assertOptionsObject(req, 'req', false);
    assertBytes(req.cardSerial, 'cardSerial', 10);
    assertBytes(req.mac1, 'mac1', 4);
    const dlk = this.#dlk.diversify(diversificationDataOf(req.cardSerial));
    const seslk = loadSessionKey(dlk, req.random, req.onlineCounter);
    dlk.fill(0);
    const mac = new PbocMac(seslk);
    seslk.fill(0);
    try {
      const mac1 = loadMac1({
        sessionKey: mac,
        oldBalance: req.oldBalance,
        amount: req.amount,
        tti: req.tti,
        terminalId: req.terminalId,
      });
      if (!equalCt(mac1, req.mac1))
        throw new CryptoError<MachineErrorCode>('MAC1_INVALID', 'load MAC1 does not verify');
      const mac2 = loadMac2({
        sessionKey: mac,
        amount: req.amount,
        tti: req.tti,
        terminalId: req.terminalId,
        date: req.date,
        time: req.time,
      });
      return { mac2 };
    } finally {
      mac.destroy();
    }
  }

  /**
   * True when `check.tac` is the load TAC (docs/spec.md §15 D1) under the card's DTK.
   * @throws {SimtapError} `NO_TAC_KEY` when constructed without `tacMasterKey`; `BAD_ARGUMENT` on a bad field.
   */
  async verifyTac(check: LoadTacCheck): Promise<boolean> {
    if (this.#tac === undefined)
      throw new SimtapError<MachineErrorCode>('NO_TAC_KEY', 'IssuerKeyAuthorizer: no tacMasterKey');
    assertOptionsObject(check, 'check', false);
    assertBytes(check.cardSerial, 'cardSerial', 10);
    return this.#tac.verifyLoad(check, check.cardSerial);
  }

  /** Zeroes the key schedules; later calls throw `BAD_ARGUMENT`. */
  destroy(): void {
    this.#dlk.destroy();
    this.#tac?.destroy();
  }

  /** Never exposes key material. */
  toJSON(): string {
    return 'IssuerKeyAuthorizer(keys [redacted])';
  }
}

/** Options of {@link RechargeMachine}. */
export interface RechargeMachineOptions extends MachineOptions<PendingLoad, LoadResult> {
  /** Who computes MAC2 (the platform). */
  readonly authorizer: LoadAuthorizer;
  /** The kiosk's terminal ID (6 bytes). */
  readonly terminalId: Uint8Array;
}

/** A load request. */
export interface LoadRequest extends TapOptions, InspectOptions {
  /** Amount in fen (1..2³²−1). */
  readonly amount: number;
  /** PIN digits, when the card asks for the PIN before a load. */
  readonly pin?: string;
}

/** The result of resolving a card's pending load (module doc decision table). */
export type LoadRecoveryOutcome =
  | { readonly outcome: 'none' }
  | { readonly outcome: 'loaded'; readonly record: LoadRecord }
  | { readonly outcome: 'unproven'; readonly record: UnprovenLoad }
  | { readonly outcome: 'not-loaded'; readonly pending: PendingLoad }
  | { readonly outcome: 'unknown'; readonly pending: PendingLoad };

/** What the card shows of a pending load, before the machine acts on it. */
type LoadEvidence =
  | { readonly kind: 'proven'; readonly tac: Uint8Array }
  | { readonly kind: 'unproven'; readonly reason: UnprovenReason; readonly log: TransactionLogRecord }
  | { readonly kind: 'not-loaded' }
  | { readonly kind: 'unknown' };

const LOAD_FAMILY: readonly number[] = [TTI.EP_LOAD];

/**
 * A top-up kiosk: loads the tapped card with MAC2 from a {@link LoadAuthorizer}. Calls are serialised.
 * @example
 * const kiosk = new RechargeMachine({ card: reader, authorizer, terminalId });
 * const rec = await kiosk.load({ amount: 5000 }); // rec.balanceAfter, rec.tac, rec.tacVerified
 */
export class RechargeMachine {
  readonly #core: MachineCore<PendingLoad>;
  readonly #authorizer: LoadAuthorizer;
  readonly #terminalId: Uint8Array;
  readonly #onRecord: ((r: LoadResult) => void) | undefined;

  /** @throws {ArgumentError} `BAD_ARGUMENT` on an invalid option. */
  constructor(options: RechargeMachineOptions) {
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options: expected an object');
    if (typeof options.authorizer?.authorize !== 'function')
      throw new ArgumentError('authorizer: expected a LoadAuthorizer');
    assertBytes(options.terminalId, 'terminalId', 6);
    this.#core = new MachineCore(options);
    this.#authorizer = options.authorizer;
    this.#terminalId = options.terminalId.slice();
    this.#onRecord = options.onRecord;
  }

  /** Loads the cards may or may not have committed, awaiting their next tap. */
  get pending(): readonly PendingLoad[] {
    return this.#core.pending.list();
  }

  /**
   * Forgets the pending load of `cardSerial` (after a manual resolution); returns it, if there was one.
   * @throws {ArgumentError} `BAD_ARGUMENT` unless `cardSerial` is 10 bytes.
   */
  discardPending(cardSerial: Uint8Array): PendingLoad | undefined {
    return this.#core.discardPending(cardSerial);
  }

  /**
   * Loads `amount` onto the tapped card. A pending load of the same card is resolved first (module doc): when it
   * turns out loaded and has the same amount, its completed record is returned instead of loading again; when the
   * card's log shows it without proof and it has the same amount, nothing is loaded (`RECOVERY_UNDETERMINED`).
   * @throws {CryptoError} `MAC1_INVALID` (or whatever the authorizer throws) when the authorizer refuses.
   * @throws {MacError} `SW_9302` (origin `card`) when the card refuses MAC2.
   * @throws {CardLockedError} `SW_9303` / `SW_6283`; `SecurityStatusError` `SW_6982` when a PIN is needed.
   * @throws {CardLeftFieldError} `CARD_REMOVED`; `pending` set when the credit may have landed.
   * @throws {TacError} `TAC_INVALID` when the authorizer rejects the TAC (the card was credited: `err.record`).
   * @throws {SimtapError} `RECOVERY_UNDETERMINED` when an earlier torn load of this card cannot be resolved, or is
   *   unproven and of the same amount (the pending load is kept: `recover()` or `discardPending()`).
   * @throws {StatusWordError} `SW_xxxx` for any other refusal (6A80: above the maximum balance).
   */
  async load(req: LoadRequest): Promise<LoadRecord> {
    assertUint(req?.amount, 'amount', 0xffffffff);
    if (req.amount === 0) throw new ArgumentError('amount: a load needs at least 1 fen');
    assertInspect(req);
    const core = this.#core;
    return core.tap(req, async (tap) => {
      const id = await core.identify(tap);
      const p = core.pending.of(id.serial);
      if (p !== undefined) {
        const ev = await this.#examine(tap, p);
        if (ev.kind === 'unknown')
          throw core.undetermined(
            'an earlier torn load of this card cannot be resolved from the card; check it and discardPending()',
          );
        if (ev.kind === 'unproven' && p.amount === req.amount)
          throw core.undetermined(
            "the card's log shows an earlier torn load of this amount but the card cannot prove it: not loading " +
              'again; recover() hands it to the back office, or discardPending() after a check',
          );
        const r = await this.#settle(tap, p, ev);
        if (r.outcome === 'loaded' && r.record.amount === req.amount) return r.record;
      }
      if (req.inspect !== undefined) await core.inspect(tap, id, req.inspect);
      if (req.pin !== undefined) await tap.link.run('VERIFY_PIN', verifyPinApdu(req.pin), 0);
      return this.#credit(tap, id, req.amount);
    });
  }

  /**
   * Resolves the pending load of the tapped card, if any (module doc decision table), without loading again; an
   * unproven load goes to `onRecord` and leaves the pending book.
   * @throws {CardLeftFieldError} / `StatusWordError` when the tap itself fails (the pending record is kept).
   */
  async recover(req: TapOptions = {}): Promise<LoadRecoveryOutcome> {
    const core = this.#core;
    return core.tap(req, async (tap) => {
      const id = await core.identify(tap);
      const p = core.pending.of(id.serial);
      if (p === undefined) return { outcome: 'none' };
      return this.#settle(tap, p, await this.#examine(tap, p));
    });
  }

  // ------------------------------------------------------------ internals

  async #credit(tap: Tap, id: CardIdentity, amount: number): Promise<LoadRecord> {
    const core = this.#core;
    const link = tap.link;
    const tti = TTI.EP_LOAD;
    const terminalId = this.#terminalId;
    const { date, time } = core.now();
    const init = initForLoadResponse.decode(
      await link.run(
        'INITIALIZE_FOR_LOAD',
        initializeApdu(INITIALIZE_P1.LOAD, core.keyIndex, amount, terminalId),
        initForLoadResponse.length,
      ),
    );
    const balanceBefore = init.oldBalance | 0;
    const { mac2 } = await this.#authorizer.authorize({
      cardSerial: id.serial.slice(),
      amount,
      terminalId: terminalId.slice(),
      oldBalance: init.oldBalance,
      onlineCounter: init.onlineCounter,
      random: init.random,
      keyVersion: init.keyVersion,
      algId: init.algorithmId,
      mac1: init.mac1,
      date: date.slice(),
      time: time.slice(),
      tti,
    });
    assertBytes(mac2, 'authorizer mac2', 4);
    const pending: PendingLoad = {
      status: 'pending',
      tti,
      cardSerial: id.serial.slice(),
      onlineCounter: init.onlineCounter,
      amount,
      balanceBefore,
      balanceAfter: balanceBefore + amount,
      terminalId: terminalId.slice(),
      date: date.slice(),
      time: time.slice(),
      keyVersion: init.keyVersion,
      algorithmId: init.algorithmId,
      mac2: mac2.slice(),
    };
    const apdu = creditForLoadApdu(date, time, mac2);
    const { tac } = creditForLoadResponse.decode(
      await core.commit(tap, 'CREDIT_FOR_LOAD', apdu, creditForLoadResponse.length, pending),
    );
    return this.#finish(tap, pending, tac, undefined);
  }

  async #finish(tap: Tap, p: PendingLoad, tac: Uint8Array, recovered: RecoveryProof | undefined): Promise<LoadRecord> {
    const authorizer = this.#authorizer;
    const ok =
      authorizer.verifyTac === undefined
        ? undefined
        : await authorizer.verifyTac({
            cardSerial: p.cardSerial,
            newBalance: p.balanceAfter >>> 0,
            onlineCounter: p.onlineCounter,
            amount: p.amount,
            tti: p.tti,
            terminalId: p.terminalId,
            date: p.date,
            time: p.time,
            tac,
          });
    const record = recordOf<LoadRecord>(p);
    record.status = 'completed';
    record.tac = tac;
    record.tacVerified = ok === true;
    record.recovered = recovered;
    record.apduCount = tap.link.apduCount;
    record.tapTime = this.#core.tapTime(tap);
    this.#onRecord?.(record);
    if (ok === false) throw new TacError('the load TAC does not verify with the issuer key', record);
    return record;
  }

  /** What the card proves about `p` (module doc decision table); changes nothing. */
  async #examine(tap: Tap, p: PendingLoad): Promise<LoadEvidence> {
    const proof = await this.#core.prove(tap, p, p.onlineCounter);
    // The proof is ours when it carries the MAC2 this machine sent (another load may have used the counter since);
    // its TAC is what the authorizer verifies.
    if (proof !== undefined && equalCt(proof.mac2, p.mac2)) return { kind: 'proven', tac: proof.tac };
    const v = await this.#core.searchLog(tap, p, p.onlineCounter, LOAD_FAMILY);
    if (v.verdict === 'unknown') return { kind: 'unknown' };
    if (v.verdict === 'not-committed') return { kind: 'not-loaded' };
    // The log shows the load, but the card cannot prove it: no TAC to keep.
    return { kind: 'unproven', reason: proof === undefined ? 'proof-replaced' : 'proof-refused', log: v.record };
  }

  /** Acts on what the card proved: completes, hands off as unproven, or drops the pending load (or keeps it). */
  async #settle(tap: Tap, p: PendingLoad, ev: LoadEvidence): Promise<LoadRecoveryOutcome> {
    const book = this.#core.pending;
    switch (ev.kind) {
      case 'unknown':
        return { outcome: 'unknown', pending: p };
      case 'not-loaded':
        book.remove(p.cardSerial);
        return { outcome: 'not-loaded', pending: p };
      case 'unproven': {
        book.remove(p.cardSerial);
        const record = recordOf<UnprovenLoad>(p);
        record.status = 'unproven';
        record.reason = ev.reason;
        record.log = ev.log;
        record.apduCount = tap.link.apduCount;
        record.tapTime = this.#core.tapTime(tap);
        this.#onRecord?.(record);
        return { outcome: 'unproven', record };
      }
      case 'proven':
        book.remove(p.cardSerial);
        return { outcome: 'loaded', record: await this.#finish(tap, p, ev.tac, 'transaction-prove') };
    }
  }
}

/**
 * (23) Wallets (`@simtap/host/wallets`): the float — the platform's mirror of every card's purse — and the money
 * that moves it.
 *
 * - **Loads.** `authorizeLoad` checks the card's MAC1 with the issuer's keys, holds the funds (a pending transfer
 *   from the phone account or the client's cash to the card's float: the hold counts against the phone account at
 *   once) and returns MAC2. `confirmLoad` verifies the card's load TAC and posts. A load torn anywhere is settled by
 *   `resolveLoad` at the card's next contact, from the card's own word: its online counter still at the load's
 *   means the card never credited it (void, the funds return); a counter past it must come with the card's
 *   GET TRANSACTION PROVE answer, whose MAC2 must be this load's and whose TAC must verify (post). Nothing is
 *   voided on a timer: a load unresolved for long moves to suspense (`LedgerStore.suspendStale`) for the back office.
 * - **Clearing.** `submitBatch` takes the offline purchase records a merchant's machines collected: every TAC is
 *   verified with the issuer's TAC key; a record moves its amount from the card's float to the merchant and awards
 *   points in one linked transfer whose idempotency key is the debit's identity as its TAC covers it (card,
 *   terminal, terminal sequence), so a record clears once whatever batch, client or retry brings it (`DUPLICATE` the
 *   second time, also when only its offline counter was changed); counters missing between a card's lowest and
 *   highest cleared ones are reported as gaps.
 * - **Loads settled by a later MAC1.** A new load's verified MAC1 proves the card's online counter; a load still
 *   pending at an earlier counter is settled from it when that is unambiguous (see `authorizeLoad`).
 * @module
 */
import { equalCt, fromHex, toHex } from '@simtap/sdk/core/bytes';
import { ArgumentError, hasErrorCode } from '@simtap/sdk/core/errors';
import { TTI } from '@simtap/sdk/core/pboc';
import type { CardRecord, ContactlessManagement } from '../contactless';
import type { IssuerKeyStore } from '../keys';
import {
  LEDGER_ERRORS,
  LedgerError,
  type LedgerStore,
  type RecordWrite,
  requestHash,
  type Transfer,
  type TransferLeg,
} from '../ledger';
import { ACCOUNT, REF } from '../platform/accounts';
import type { PlatformConfig } from '../platform/config';
import { PlatformError } from '../platform/errors';
import { CallIdempotency } from '../platform/idempotency';
import {
  cardAmountParam,
  cardSerialParam,
  counterParam,
  dateParam,
  hexParam,
  intParam,
  msisdnParam,
  paramsObject,
  terminalIdParam,
  timeParam,
} from '../platform/params';
import type { Points } from '../points';

/** Where the money of a load comes from (`simtap.v1`). */
export type LoadFunding = { readonly source: 'cash' } | { readonly source: 'phoneAccount'; readonly msisdn: string };

/** `wallet.authorizeLoad`: the card's INITIALIZE FOR LOAD answer, the machine's date and time, the funding. */
export interface AuthorizeLoadParams {
  readonly client: string;
  readonly idempotencyKey: string;
  readonly cardSerial: string;
  readonly terminalId: string;
  readonly amount: number;
  readonly oldBalance: number;
  readonly onlineCounter: number;
  readonly random: string;
  readonly mac1: string;
  readonly date: string;
  readonly time: string;
  readonly funding: LoadFunding;
}

/** A load's status on the wire: a suspended load is still `pending` for its client. */
export type LoadStatus = 'pending' | 'posted' | 'voided';

/** `wallet.load`. */
export interface LoadView {
  readonly loadId: string;
  readonly status: LoadStatus;
  readonly amount: number;
  readonly cardSerial: string;
  /** The card's online counter the load used; `null` for an air load whose card session has not started. */
  readonly onlineCounter: number | null;
  /** True for a load over the air (settled by the platform at the phone's contacts). */
  readonly air: boolean;
  /** True while it waits in suspense for the back office. */
  readonly suspended: boolean;
  /** Epoch ms of the authorization. */
  readonly createdAt: number;
}

/** One offline purchase record of `clearing.submitBatch`. */
export interface PurchaseRecord {
  readonly cardSerial: string;
  readonly offlineCounter: number;
  readonly amount: number;
  /** 06 EP purchase, 09 composite (CAPP) purchase. */
  readonly tti: number;
  readonly terminalId: string;
  readonly terminalSeq: number;
  readonly date: string;
  readonly time: string;
  readonly tac: string;
}

/** Why a record was not cleared. */
export type ClearingRejectCode = 'BAD_TAC' | 'DUPLICATE' | 'UNKNOWN_CARD' | 'FLOAT_SHORT';

/** The codes of a rejected record, and what each means. */
export const CLEARING_REJECT_CODES: Readonly<Record<ClearingRejectCode, string>> = {
  BAD_TAC: "the record's TAC is not the one the card's TAC key makes for it: the card did not make this record",
  DUPLICATE:
    'this debit (card, terminal, terminal sequence) or this card and offline counter cleared before (in this batch, ' +
    'another batch, or from another client)',
  UNKNOWN_CARD: 'no card with this serial was ever issued',
  FLOAT_SHORT:
    "the card's float is below the amount: the platform's mirror is behind the card (a load not yet resolved); " +
    'the record clears when submitted again after the load is resolved',
};

/** What `clearing.submitBatch` answers. */
export interface BatchOutcome {
  /** Records cleared. */
  readonly accepted: number;
  /** Fen moved to the merchant. */
  readonly settled: number;
  /** Points awarded with them. */
  readonly points: number;
  readonly rejected: ReadonlyArray<{ readonly index: number; readonly code: ClearingRejectCode }>;
  /** For each card of the batch, the offline counters missing between its lowest and highest cleared one. */
  readonly gaps: ReadonlyArray<{ readonly cardSerial: string; readonly missing: readonly number[] }>;
}

/** Most records in one batch. */
export const MAX_BATCH_RECORDS = 1000;

/** Options of {@link Wallets}. */
export interface WalletsOptions {
  readonly ledger: LedgerStore;
  readonly keys: IssuerKeyStore;
  readonly contactless: ContactlessManagement;
  readonly points: Points;
  readonly config: PlatformConfig;
}

const BATCHES = 'clearing-batches';
const LOAD_CONFIRMED = 'confirmed: the load TAC verified';
const LOAD_PROVEN = "resolved: the card's proof (MAC2 and TAC of GET TRANSACTION PROVE) verified";
const LOAD_NEVER_CREDITED = "resolved: the card's online counter shows it never credited the load";
const LOAD_PROVEN_BY_COUNTER =
  "resolved: a later MAC1 proves the card's online counter moved past the load's, and no other load used that counter";
const LOAD_SUPERSEDED =
  "resolved: a later MAC1 proves the card's counter moved past the load's, which another posted load used";

/**
 * The details a load keeps with its pending transfer. An air load (`air: true`) is held before its card session
 * exists: its session fields come from its {@link AirSession} record once INITIALIZE FOR LOAD has answered.
 */
interface LoadMeta {
  readonly cardSerial: string;
  readonly onlineCounter: number;
  readonly oldBalance: number;
  readonly terminalId: string;
  readonly random: string;
  readonly date: string;
  readonly time: string;
  readonly air?: boolean;
  readonly msisdn?: string;
}

/**
 * The card session of an air load, recorded (compare-and-set) before its MAC2 leaves the platform: what INITIALIZE
 * FOR LOAD answered, with a MAC1 that verified. `cancelled`: the load was refunded before any session.
 */
export interface AirSession {
  readonly onlineCounter: number;
  readonly oldBalance: number;
  readonly terminalId: string;
  readonly random: string;
  readonly date: string;
  readonly time: string;
  /** Sessions opened for the load (a session at an unchanged counter replaces the last one). */
  readonly attempt: number;
  readonly cancelled?: boolean;
}

/** The first outcome of an air top-up request: its load and card. */
interface AirRequest {
  readonly hash: string;
  readonly cardSerial: string;
}

/** What {@link Wallets.beginAirSession} answers. */
export type AirSessionStart =
  /** The session is recorded: send CREDIT FOR LOAD with this MAC2. */
  | { readonly kind: 'mac2'; readonly mac2: string }
  /** The card's verified counter shows the load's earlier session was credited or superseded: it is settled. */
  | { readonly kind: 'settled'; readonly status: LoadStatus }
  /** The card moved past the load's session and the platform cannot tell from the counter alone: back office. */
  | { readonly kind: 'unresolved' };

const AIR_SESSIONS = 'air-load-sessions';
const AIR_REQUESTS = 'air-load-requests';
const AIR_NOT_STARTED = 'refunded: the air load never reached the card';

/** The wallets sub-platform. */
export class Wallets {
  readonly #ledger: LedgerStore;
  readonly #keys: IssuerKeyStore;
  readonly #cards: ContactlessManagement;
  readonly #points: Points;
  readonly #config: PlatformConfig;
  readonly #cardLocks = new KeyedLocks();
  readonly #idem: CallIdempotency;

  constructor(options: WalletsOptions) {
    this.#ledger = options.ledger;
    this.#keys = options.keys;
    this.#cards = options.contactless;
    this.#points = options.points;
    this.#config = options.config;
    this.#idem = new CallIdempotency(options.ledger);
  }

  /** `wallet.float`: the platform's mirror of the card's purse. @throws PlatformError `UNKNOWN_CARD` */
  async float(params: { cardSerial: string }): Promise<{ balance: number }> {
    paramsObject(params);
    const card = await this.#cards.mustRecord(cardSerialParam(params.cardSerial));
    const a = await this.#ledger.getAccount(ACCOUNT.float(card.cardSerial));
    return { balance: a?.balance ?? 0 };
  }

  // ---------------------------------------------------------------- loads

  /**
   * `wallet.authorizeLoad`: verifies MAC1, holds the funds in a pending load, returns MAC2. Idempotent per
   * (client, key): the same request again returns the same load and MAC2.
   * @throws PlatformError `UNKNOWN_CARD`, `CARD_BLOCKED`, `BALANCE_LIMIT`, `FUNDING_REFUSED`, `UNKNOWN_CUSTOMER`;
   *   IssuerKeyError `BAD_MAC1`; LedgerError `INSUFFICIENT_FUNDS`, `IDEMPOTENCY_CONFLICT`
   */
  async authorizeLoad(params: AuthorizeLoadParams): Promise<{ loadId: string; mac2: string }> {
    paramsObject(params);
    const cardSerial = cardSerialParam(params.cardSerial);
    const terminalId = terminalIdParam(params.terminalId);
    const amount = cardAmountParam(params.amount);
    const oldBalance = intParam(params.oldBalance, 'oldBalance', 0, 0xffffffff);
    const onlineCounter = counterParam(params.onlineCounter, 'onlineCounter');
    const random = hexParam(params.random, 'random', 4);
    const mac1 = hexParam(params.mac1, 'mac1', 4);
    const date = dateParam(params.date);
    const time = timeParam(params.time);
    const funding = paramsObject(params.funding, 'funding');
    if (funding.source !== 'cash' && funding.source !== 'phoneAccount')
      throw new ArgumentError('funding.source must be "cash" or "phoneAccount"');
    const msisdn = funding.source === 'phoneAccount' ? msisdnParam(funding.msisdn, 'funding.msisdn') : undefined;
    const fields = { cardSerial, terminalId, amount, oldBalance, onlineCounter, random, mac1, date, time };
    const from = msisdn === undefined ? ACCOUNT.cash(params.client) : ACCOUNT.phone(msisdn);
    const hold = (mac2: Uint8Array) =>
      this.#ledger
        .hold({
          client: params.client,
          idempotencyKey: params.idempotencyKey,
          from,
          to: ACCOUNT.float(cardSerial),
          amount,
          memo: `load of card ${cardSerial}`,
          ref: REF.load(cardSerial),
          meta: {
            cardSerial,
            onlineCounter,
            oldBalance,
            terminalId,
            random,
            date,
            time,
            mac1,
            funding: funding.source,
          },
        })
        .then((r) => ({ loadId: r.transfer.id, mac2: toHex(mac2) }));
    const mac2Fields = {
      cardSerial: fromHex(cardSerial),
      amount,
      tti: TTI.EP_LOAD,
      terminalId: fromHex(terminalId),
      onlineCounter,
      random: fromHex(random),
      date: fromHex(date),
      time: fromHex(time),
    };
    return this.#idem.run(
      params.client,
      params.idempotencyKey,
      'wallet.authorizeLoad',
      { ...fields, funding: msisdn === undefined ? 'cash' : `phoneAccount:${msisdn}` },
      async () => {
        const card = await this.#cards.mustBeActive(cardSerial);
        if (oldBalance + amount > this.#config.maxBalance)
          throw new PlatformError(
            'BALANCE_LIMIT',
            `${oldBalance} + ${amount} fen is over the purse's maximum balance of ${this.#config.maxBalance}`,
          );
        // A MAC1 that does not verify rejects with the key store's IssuerKeyError BAD_MAC1: no MAC2, nothing held.
        const { mac2 } = await this.#keys.authorizeLoad({ ...mac2Fields, oldBalance, mac1: fromHex(mac1) });
        if (msisdn === undefined) await this.#ledger.openAccount(from, 'CASH');
        else {
          if (msisdn !== card.msisdn)
            throw new PlatformError(
              'FUNDING_REFUSED',
              `phone account ${msisdn} is not the holder's of card ${cardSerial}`,
            );
          if (!(await this.#ledger.getAccount(from)))
            throw new PlatformError('UNKNOWN_CUSTOMER', `no customer ${msisdn}`);
        }
        await this.#settleByProvenCounter(cardSerial, onlineCounter);
        return hold(mac2);
      },
      // A retry: the ledger answers the first hold (or IDEMPOTENCY_CONFLICT); MAC1 was checked the first time, and
      // the MAC2 is recomputed only once the hold is known to be this load's.
      async () => {
        const answer = await hold(new Uint8Array(4));
        return { ...answer, mac2: toHex(await this.#keys.loadMac2(mac2Fields)) };
      },
    );
  }

  /**
   * `wallet.confirmLoad`: verifies the card's load TAC and posts the load. Repeating it returns the first result.
   * @throws PlatformError `UNKNOWN_LOAD`, `BAD_TAC` (the load stays pending), `LOAD_STATE`
   */
  async confirmLoad(params: { loadId: string; tac: string }): Promise<{ status: 'posted'; float: number }> {
    paramsObject(params);
    const tac = hexParam(params.tac, 'tac', 4);
    const { transfer, meta } = await this.#load(params.loadId);
    if (transfer.state === 'voided') throw new PlatformError('LOAD_STATE', `load ${transfer.id} was voided`);
    if (!(await this.#loadTacVerifies(transfer, meta, tac))) {
      if (transfer.state === 'posted') throw new PlatformError('LOAD_STATE', `load ${transfer.id} is already posted`);
      throw new PlatformError('BAD_TAC', `the TAC of load ${transfer.id} does not verify; the load stays pending`);
    }
    const r = await this.#settle('post', transfer.id, LOAD_CONFIRMED);
    return { status: 'posted', float: await this.#floatAfter(r.balances, meta.cardSerial) };
  }

  /**
   * `wallet.resolveLoad`: settles a torn load from the card's next contact. `onlineCounter` still at the load's →
   * voided (the funds return). Past it → `mac2` and `tac` from GET TRANSACTION PROVE are required: this load's MAC2
   * and a verifying TAC → posted; anything else → `BAD_TAC`, and the load stays pending for the back office.
   * Repeating the call that settled it returns the first result.
   * @throws PlatformError `UNKNOWN_LOAD`, `BAD_TAC`, `LOAD_STATE`; ArgumentError when the proof is missing or the
   *   counter is below the load's
   */
  async resolveLoad(params: {
    loadId: string;
    onlineCounter: number;
    mac2?: string;
    tac?: string;
  }): Promise<{ status: 'posted' | 'voided'; float: number }> {
    paramsObject(params);
    const counter = counterParam(params.onlineCounter, 'onlineCounter');
    const { transfer, meta } = await this.#load(params.loadId);
    if (meta.air)
      throw new PlatformError(
        'LOAD_STATE',
        `load ${transfer.id} is an air load: the platform settles it from the card's proof at the phone's next contact`,
      );
    if (counter < meta.onlineCounter)
      throw new ArgumentError(`onlineCounter ${counter} is below the load's ${meta.onlineCounter}: not this card's`);
    if (counter === meta.onlineCounter) {
      const r = await this.#settle('void', transfer.id, LOAD_NEVER_CREDITED);
      return { status: 'voided', float: await this.#floatAfter(r.balances, meta.cardSerial) };
    }
    if (params.mac2 === undefined || params.tac === undefined)
      throw new ArgumentError('the card has moved past the load: mac2 and tac of GET TRANSACTION PROVE are required');
    const mac2 = hexParam(params.mac2, 'mac2', 4);
    const tac = hexParam(params.tac, 'tac', 4);
    if (transfer.state === 'voided') throw new PlatformError('LOAD_STATE', `load ${transfer.id} was voided`);
    if (!(await this.#isThisLoadsProof(transfer, meta, mac2, tac))) {
      if (transfer.state === 'posted') throw new PlatformError('LOAD_STATE', `load ${transfer.id} is already posted`);
      throw new PlatformError(
        'BAD_TAC',
        `the card's proof is not load ${transfer.id}'s; it stays pending until the back office resolves it`,
      );
    }
    const r = await this.#settle('post', transfer.id, LOAD_PROVEN);
    return { status: 'posted', float: await this.#floatAfter(r.balances, meta.cardSerial) };
  }

  /** `wallet.load`. @throws PlatformError `UNKNOWN_LOAD` */
  async load(params: { loadId: string }): Promise<LoadView> {
    paramsObject(params);
    const { transfer, meta } = await this.#load(params.loadId);
    return Wallets.#view(transfer, meta);
  }

  // ---------------------------------------------------------------- air loads

  /**
   * Air top-up, the money side: holds `amount` from the customer's phone account for a load of their active card,
   * at once (the hold counts against the phone account; nothing reaches the card yet). Idempotent per (client,
   * key) like every money-moving call: the same request again answers the same load, also after the card was lost
   * meanwhile; other params under the key are `IDEMPOTENCY_CONFLICT`.
   * @throws PlatformError `UNKNOWN_CUSTOMER`, `UNKNOWN_CARD` (the customer has no card), `CARD_BLOCKED`,
   *   `BALANCE_LIMIT` (float, loads in flight and the amount over the purse's maximum); LedgerError
   *   `INSUFFICIENT_FUNDS`, `IDEMPOTENCY_CONFLICT`
   */
  async holdAirLoad(params: {
    client: string;
    idempotencyKey: string;
    method: string;
    msisdn: string;
    amount: number;
  }): Promise<{ loadId: string; cardSerial: string; status: LoadStatus }> {
    paramsObject(params);
    const msisdn = msisdnParam(params.msisdn);
    const amount = cardAmountParam(params.amount);
    const call = { msisdn, amount };
    const hash = requestHash(params.method, call);
    const place = async () => {
      if (typeof params.idempotencyKey !== 'string' || !/^[\x20-\x7e]{1,64}$/.test(params.idempotencyKey))
        throw new ArgumentError('idempotencyKey must be 1–64 printable ASCII characters');
      const id = `${params.client.length}:${params.client}/${params.idempotencyKey}`;
      let request = (await this.#ledger.getRecord<AirRequest>(AIR_REQUESTS, id))?.value;
      if (!request) {
        if (!(await this.#ledger.getAccount(ACCOUNT.phone(msisdn))))
          throw new PlatformError('UNKNOWN_CUSTOMER', `no customer ${msisdn}`);
        const cards = await this.#cards.cardsOf(msisdn);
        const card = cards.find((c) => c.status === 'active') ?? cards[0];
        if (!card) throw new PlatformError('UNKNOWN_CARD', `customer ${msisdn} has no card`);
        if (card.status !== 'active')
          throw new PlatformError('CARD_BLOCKED', `card ${card.cardSerial} is ${card.status}, not active`);
        const float = (await this.#ledger.getAccount(ACCOUNT.float(card.cardSerial)))?.balance ?? 0;
        const inFlight = (await this.pendingLoads({ cardSerial: card.cardSerial })).reduce((n, l) => n + l.amount, 0);
        if (float + inFlight + amount > this.#config.maxBalance)
          throw new PlatformError(
            'BALANCE_LIMIT',
            `${float} fen on the card, ${inFlight} in flight and ${amount} more is over the purse's maximum of ${this.#config.maxBalance}`,
          );
        try {
          await this.#ledger.writeRecords([
            { collection: AIR_REQUESTS, id, value: { hash, cardSerial: card.cardSerial }, expectVersion: 0 },
          ]);
        } catch (e) {
          if (!hasErrorCode(e, LEDGER_ERRORS, 'RECORD_CONFLICT')) throw e;
        }
        request = (await this.#ledger.getRecord<AirRequest>(AIR_REQUESTS, id))!.value;
      }
      if (request.hash !== hash)
        throw new LedgerError('IDEMPOTENCY_CONFLICT', 'this idempotency key was used for another call');
      const cardSerial = request.cardSerial;
      const r = await this.#ledger.hold({
        client: params.client,
        idempotencyKey: params.idempotencyKey,
        from: ACCOUNT.phone(msisdn),
        to: ACCOUNT.float(cardSerial),
        amount,
        memo: `air load of card ${cardSerial}`,
        ref: REF.load(cardSerial),
        meta: { cardSerial, air: true, msisdn, funding: 'phoneAccount' },
      });
      const now = await this.#ledger.getTransfer(r.transfer.id);
      const state = now?.state ?? r.transfer.state;
      return {
        loadId: r.transfer.id,
        cardSerial,
        status: (state === 'posted' ? 'posted' : state === 'voided' ? 'voided' : 'pending') as LoadStatus,
      };
    };
    // The request record binds the key to the card chosen the first time, so a retry rebuilds the same hold.
    return this.#idem.run(params.client, params.idempotencyKey, params.method, call, place, place);
  }

  /** The card's air loads still pending (or suspended), oldest first. */
  async pendingAirLoads(params: { cardSerial: string }): Promise<LoadView[]> {
    return (await this.pendingLoads(params)).filter((l) => l.air);
  }

  /** The air load's recorded card session, or `undefined` before its first INITIALIZE FOR LOAD. */
  async airSession(loadId: string): Promise<AirSession | undefined> {
    const { transfer, meta } = await this.#load(loadId);
    if (!meta.air) throw new PlatformError('LOAD_STATE', `load ${transfer.id} is not an air load`);
    return (await this.#ledger.getRecord<AirSession>(AIR_SESSIONS, transfer.id))?.value;
  }

  /**
   * Air load, the card's INITIALIZE FOR LOAD answered: verifies its MAC1 (which proves the card's online counter
   * now) and decides.
   * - No session yet, or the last session at this same counter (so its CREDIT never happened): the new session is
   *   recorded, compare-and-set, before the MAC2 is returned — `{ kind: 'mac2' }`.
   * - The counter moved past the last session: settled from the verified counter when unambiguous (the load was
   *   the only one at its counter → posted; another posted load used it → voided) — `{ kind: 'settled' }` — else
   *   `{ kind: 'unresolved' }` and it stays pending for the back office.
   * @throws IssuerKeyError `BAD_MAC1`; PlatformError `LOAD_STATE` (not pending, not air, refunded, or another
   *   writer's session), `BALANCE_LIMIT`
   */
  async beginAirSession(params: {
    loadId: string;
    terminalId: string;
    oldBalance: number;
    onlineCounter: number;
    random: string;
    mac1: string;
    date: string;
    time: string;
  }): Promise<AirSessionStart> {
    paramsObject(params);
    const terminalId = terminalIdParam(params.terminalId);
    const oldBalance = intParam(params.oldBalance, 'oldBalance', 0, 0xffffffff);
    const onlineCounter = counterParam(params.onlineCounter, 'onlineCounter');
    const random = hexParam(params.random, 'random', 4);
    const mac1 = hexParam(params.mac1, 'mac1', 4);
    const date = dateParam(params.date);
    const time = timeParam(params.time);
    const { transfer, meta } = await this.#load(params.loadId);
    if (!meta.air) throw new PlatformError('LOAD_STATE', `load ${transfer.id} is not an air load`);
    if (transfer.state !== 'pending' && transfer.state !== 'suspended')
      throw new PlatformError('LOAD_STATE', `load ${transfer.id} is ${transfer.state}`);
    const stored = await this.#ledger.getRecord<AirSession>(AIR_SESSIONS, transfer.id);
    if (stored?.value.cancelled) throw new PlatformError('LOAD_STATE', `load ${transfer.id} was refunded`);
    // The MAC1 first: it is what proves the counter (a refusal leaves everything as it was).
    const { mac2 } = await this.#keys.authorizeLoad({
      cardSerial: fromHex(meta.cardSerial),
      amount: transfer.amount,
      tti: TTI.EP_LOAD,
      terminalId: fromHex(terminalId),
      onlineCounter,
      random: fromHex(random),
      date: fromHex(date),
      time: fromHex(time),
      oldBalance,
      mac1: fromHex(mac1),
    });
    try {
      const last = stored?.value;
      if (last !== undefined && onlineCounter < last.onlineCounter)
        throw new PlatformError('LOAD_STATE', `the card's counter ${onlineCounter} is below the load's session`);
      if (last !== undefined && onlineCounter > last.onlineCounter) {
        await this.#settleByProvenCounter(meta.cardSerial, onlineCounter);
        const after = await this.#ledger.getTransfer(transfer.id);
        if (after?.state === 'posted' || after?.state === 'voided') return { kind: 'settled', status: after.state };
        return { kind: 'unresolved' };
      }
      if (oldBalance + transfer.amount > this.#config.maxBalance)
        throw new PlatformError(
          'BALANCE_LIMIT',
          `${oldBalance} + ${transfer.amount} fen is over the purse's maximum balance of ${this.#config.maxBalance}`,
        );
      // Loads of the card at earlier counters are settled by this proof first (a machine's, or an air load's).
      await this.#settleByProvenCounter(meta.cardSerial, onlineCounter);
      const session: AirSession = {
        onlineCounter,
        oldBalance,
        terminalId,
        random,
        date,
        time,
        attempt: (last?.attempt ?? 0) + 1,
      };
      try {
        await this.#ledger.writeRecords([
          { collection: AIR_SESSIONS, id: transfer.id, value: session, expectVersion: stored?.version ?? 0 },
        ]);
      } catch (e) {
        if (hasErrorCode(e, LEDGER_ERRORS, 'RECORD_CONFLICT'))
          throw new PlatformError('LOAD_STATE', `load ${transfer.id}: another session was recorded meanwhile`);
        throw e;
      }
      return { kind: 'mac2', mac2: toHex(mac2) };
    } finally {
      mac2.fill(0);
    }
  }

  /**
   * Air load settled from the card's GET TRANSACTION PROVE: this load's MAC2 and a load TAC that verifies for its
   * session → posted. Repeating it answers the same.
   * @throws PlatformError `BAD_TAC` (not this load's proof: nothing changes), `LOAD_STATE` (no session, voided)
   */
  async proveAirLoad(params: {
    loadId: string;
    mac2: string;
    tac: string;
  }): Promise<{ status: 'posted'; float: number }> {
    paramsObject(params);
    const mac2 = hexParam(params.mac2, 'mac2', 4);
    const tac = hexParam(params.tac, 'tac', 4);
    const { transfer, meta } = await this.#load(params.loadId);
    const session = meta.air ? (await this.#ledger.getRecord<AirSession>(AIR_SESSIONS, transfer.id))?.value : undefined;
    if (!session || session.cancelled)
      throw new PlatformError('LOAD_STATE', `load ${transfer.id} has no card session to prove`);
    if (transfer.state === 'voided') throw new PlatformError('LOAD_STATE', `load ${transfer.id} was voided`);
    if (!(await this.#isThisLoadsProof(transfer, meta, mac2, tac)))
      throw new PlatformError('BAD_TAC', `the card's proof is not load ${transfer.id}'s`);
    const r = await this.#settle('post', transfer.id, LOAD_PROVEN);
    return { status: 'posted', float: await this.#floatAfter(r.balances, meta.cardSerial) };
  }

  /**
   * Refunds an air load that never reached the card: allowed only while no card session was ever recorded for it
   * (no MAC2 left the platform), which this call closes for good (compare-and-set) before voiding. Repeating it
   * answers the same.
   * @throws PlatformError `LOAD_STATE` (a session exists: only the card's proof can settle it; or posted)
   */
  async cancelAirLoad(params: { loadId: string; reason?: string }): Promise<{ status: 'voided' }> {
    paramsObject(params);
    const { transfer, meta } = await this.#load(params.loadId);
    if (!meta.air) throw new PlatformError('LOAD_STATE', `load ${transfer.id} is not an air load`);
    const stored = await this.#ledger.getRecord<AirSession>(AIR_SESSIONS, transfer.id);
    if (stored && !stored.value.cancelled)
      throw new PlatformError('LOAD_STATE', `load ${transfer.id} reached the card: only the card's proof settles it`);
    if (!stored) {
      const closed = { cancelled: true, attempt: 0 } as unknown as AirSession;
      try {
        await this.#ledger.writeRecords([
          { collection: AIR_SESSIONS, id: transfer.id, value: closed, expectVersion: 0 },
        ]);
      } catch (e) {
        if (hasErrorCode(e, LEDGER_ERRORS, 'RECORD_CONFLICT'))
          throw new PlatformError('LOAD_STATE', `load ${transfer.id}: a card session was recorded meanwhile`);
        throw e;
      }
    }
    if (transfer.state === 'voided') return { status: 'voided' };
    await this.#settle('void', transfer.id, params.reason ?? AIR_NOT_STARTED);
    return { status: 'voided' };
  }

  /** The card's loads still pending (or suspended), oldest first: what its next contact must resolve. */
  async pendingLoads(params: { cardSerial: string }): Promise<LoadView[]> {
    paramsObject(params);
    const serial = (await this.#cards.mustRecord(cardSerialParam(params.cardSerial))).cardSerial;
    const all = await this.#ledger.listTransfers({ ref: REF.load(serial) });
    return all
      .filter((t) => t.state === 'pending' || t.state === 'suspended')
      .map((t) => Wallets.#view(t, t.meta as unknown as LoadMeta));
  }

  /**
   * The back office's report of loads in flight: every pending load with its age, and the suspended ones (still
   * unresolved after the ledger's `suspendAfterMs`, moved to suspense by `suspendStale`), oldest first.
   */
  async loadReport(): Promise<{ pending: LoadView[]; suspended: LoadView[] }> {
    const pick = async (state: 'pending' | 'suspended') =>
      (await this.#ledger.listTransfers({ state }))
        .filter((t) => t.ref?.startsWith('load:'))
        .map((t) => Wallets.#view(t, t.meta as unknown as LoadMeta));
    return { pending: await pick('pending'), suspended: await pick('suspended') };
  }

  static #view(t: Transfer, meta: LoadMeta): LoadView {
    return {
      loadId: t.id,
      status: t.state === 'posted' ? 'posted' : t.state === 'voided' ? 'voided' : 'pending',
      amount: t.amount,
      cardSerial: meta.cardSerial,
      onlineCounter: Number.isInteger(meta.onlineCounter) ? meta.onlineCounter : null,
      air: meta.air === true,
      suspended: t.state === 'suspended',
      createdAt: t.createdAt,
    };
  }

  async #load(loadId: unknown): Promise<{ transfer: Transfer; meta: LoadMeta }> {
    if (typeof loadId !== 'string' || loadId.length === 0 || loadId.length > 128)
      throw new ArgumentError('loadId must be a load id');
    const t = await this.#ledger.getTransfer(loadId);
    if (!t?.ref?.startsWith('load:')) throw new PlatformError('UNKNOWN_LOAD', `no load ${loadId}`);
    return { transfer: t, meta: await this.#withSession(t) };
  }

  /** The load's meta, with its air session's fields when it is an air load with a live session. */
  async #withSession(t: Transfer): Promise<LoadMeta> {
    const meta = t.meta as unknown as LoadMeta;
    if (!meta.air) return meta;
    const s = (await this.#ledger.getRecord<AirSession>(AIR_SESSIONS, t.id))?.value;
    if (!s || s.cancelled) return meta;
    return {
      ...meta,
      onlineCounter: s.onlineCounter,
      oldBalance: s.oldBalance,
      terminalId: s.terminalId,
      random: s.random,
      date: s.date,
      time: s.time,
    };
  }

  /**
   * True when GET TRANSACTION PROVE's answer is this load's: the MAC2 the platform gave for its session, and a load TAC
   * that verifies for it.
   */
  async #isThisLoadsProof(t: Transfer, meta: LoadMeta, mac2: string, tac: string): Promise<boolean> {
    const expected = await this.#keys.loadMac2({
      cardSerial: fromHex(meta.cardSerial),
      amount: t.amount,
      tti: TTI.EP_LOAD,
      terminalId: fromHex(meta.terminalId),
      onlineCounter: meta.onlineCounter,
      random: fromHex(meta.random),
      date: fromHex(meta.date),
      time: fromHex(meta.time),
    });
    const mine = equalCt(expected, fromHex(mac2));
    expected.fill(0);
    return mine && (await this.#loadTacVerifies(t, meta, tac));
  }

  async #loadTacVerifies(t: Transfer, meta: LoadMeta, tac: string): Promise<boolean> {
    return this.#keys.verifyLoadTac(
      {
        newBalance: meta.oldBalance + t.amount,
        onlineCounter: meta.onlineCounter,
        amount: t.amount,
        tti: TTI.EP_LOAD,
        terminalId: fromHex(meta.terminalId),
        date: fromHex(meta.date),
        time: fromHex(meta.time),
        tac: fromHex(tac),
      },
      fromHex(meta.cardSerial),
    );
  }

  /**
   * A verified MAC1 proves the card's online counter is `counter` now. A load still pending at an earlier counter
   * `n` is then settled from that proof alone: the card's counter moved past `n`, so a CREDIT FOR LOAD at `n`
   * succeeded, and only a MAC2 of this platform for a load at `n` can have made it — if the pending load is the only
   * load of the card at `n`, it was credited (post); if another load at `n` was posted, this one never was and can
   * no longer be (its session is gone), so void. Anything else (several candidates) is left for the back office. A
   * load at the same counter is left alone: two terminals may hold sessions on one card in an order the platform
   * cannot see.
   */
  async #settleByProvenCounter(cardSerial: string, counter: number): Promise<void> {
    const loads = await this.#ledger.listTransfers({ ref: REF.load(cardSerial) });
    const counters = new Map<string, number | undefined>();
    for (const t of loads) {
      const m = await this.#withSession(t);
      counters.set(t.id, Number.isInteger(m.onlineCounter) ? m.onlineCounter : undefined);
    }
    for (const t of loads) {
      if (t.state !== 'pending' && t.state !== 'suspended') continue;
      const n = counters.get(t.id);
      if (n === undefined || n >= counter) continue;
      const others = loads.filter((o) => o.id !== t.id && counters.get(o.id) === n);
      try {
        if (others.length === 0) await this.#ledger.post({ transferId: t.id, reason: LOAD_PROVEN_BY_COUNTER });
        else if (others.some((o) => o.state === 'posted'))
          await this.#ledger.void({ transferId: t.id, reason: LOAD_SUPERSEDED });
      } catch (e) {
        // Settled meanwhile by a concurrent call: that settlement stands.
        if (!hasErrorCode(e, LEDGER_ERRORS, 'TRANSFER_STATE')) throw e;
      }
    }
  }

  /**
   * The card's float after a settlement: from the settlement's own balances when it moved the float (a replay gives
   * the first figure), else (a void, which leaves the float alone) read now.
   */
  async #floatAfter(balances: Readonly<Record<string, number>>, cardSerial: string): Promise<number> {
    const id = ACCOUNT.float(cardSerial);
    return balances[id] ?? (await this.#ledger.getAccount(id))?.balance ?? 0;
  }

  async #settle(op: 'post' | 'void', id: string, reason: string) {
    try {
      return await (op === 'post'
        ? this.#ledger.post({ transferId: id, reason })
        : this.#ledger.void({ transferId: id, reason }));
    } catch (e) {
      if (hasErrorCode(e, LEDGER_ERRORS, 'TRANSFER_STATE'))
        throw new PlatformError('LOAD_STATE', `load ${id} is already settled: ${(e as Error).message}`);
      throw e;
    }
  }

  // ---------------------------------------------------------------- clearing

  /**
   * `clearing.submitBatch`: clears a batch of offline purchase records to the client's merchant, in one atomic
   * ledger commit. Idempotent per (client, key): the same batch again returns the first outcome; another batch under
   * the key fails with `IDEMPOTENCY_CONFLICT` and nothing moves.
   *
   * A record is one card debit, named by what its TAC covers: the card, the terminal and the terminal's transaction
   * sequence (the offline counter is not under the TAC). Every TAC is verified first; a debit recorded before, or a
   * card and offline counter cleared before (or twice in the batch), is `DUPLICATE`; a record the card's float cannot
   * cover is `FLOAT_SHORT` (it clears when sent again once the float caught up). What clears is one linked transfer:
   * per card, the sum of its records from its float to the merchant; per customer, the points; and, as records
   * written with it (all or none), each debit, each card's cleared counters and the batch's outcome. A 0-fen record (a
   * gate entry) moves nothing but is recorded and counts for gaps.
   * @throws PlatformError `NO_MERCHANT`; LedgerError `IDEMPOTENCY_CONFLICT`; ArgumentError naming a malformed record
   */
  async submitBatch(params: {
    client: string;
    idempotencyKey: string;
    records: readonly PurchaseRecord[];
  }): Promise<BatchOutcome> {
    paramsObject(params);
    if (!Array.isArray(params.records) || params.records.length > MAX_BATCH_RECORDS)
      throw new ArgumentError(`records must be an array of at most ${MAX_BATCH_RECORDS} records`);
    const records = params.records.map((r, i) => checkRecord(r, `records[${i}]`));
    const client = params.client;
    const key = params.idempotencyKey;
    if (typeof key !== 'string' || !/^[\x20-\x7e]{1,64}$/.test(key))
      throw new ArgumentError('idempotencyKey must be 1–64 printable ASCII characters');
    const merchantId = this.#config.clients.find((c) => c.id === client)?.merchantId;
    const hash = requestHash('clearing.submitBatch', { records });
    if (!merchantId) {
      // Refused before the ledger: the key is bound to the refusal as for any money-moving call.
      const refuse = async (): Promise<never> => {
        throw new PlatformError('NO_MERCHANT', `client ${client} settles to no merchant`);
      };
      const conflict = async (): Promise<never> => {
        throw new LedgerError('IDEMPOTENCY_CONFLICT', 'this idempotency key was used for another call');
      };
      return this.#idem.run(client, key, 'clearing.submitBatch', { records: hash }, refuse, conflict);
    }
    const batchId = `${client.length}:${client}/${key}`;
    const prior = await this.#batchOutcome(batchId, hash);
    if (prior) return prior;
    // Every TAC once: the verdict does not change between attempts.
    const cardList = [...new Set(records.map((r) => r.cardSerial))];
    const cardRecords = await Promise.all(cardList.map((c) => this.#cards.record(c)));
    const cards = new Map(cardList.map((c, i) => [c, cardRecords[i]]));
    const tacOk = await Promise.all(
      records.map((r) =>
        cards.get(r.cardSerial)
          ? this.#keys.verifyPurchaseTac(
              {
                amount: r.amount,
                tti: r.tti,
                terminalId: fromHex(r.terminalId),
                terminalTxnSeq: r.terminalSeq,
                date: fromHex(r.date),
                time: fromHex(r.time),
                tac: fromHex(r.tac),
              },
              fromHex(r.cardSerial),
            )
          : Promise.resolve(false),
      ),
    );
    // Batches of this instance that share a card run one after the other (their counters and floats would conflict);
    // others run side by side. Another instance's batch on the same card is a RECORD_CONFLICT: plan again.
    const release = await this.#cardLocks.acquire(cardList);
    try {
      return await this.#clear(records, cards, tacOk, merchantId, batchId, hash, client, key);
    } finally {
      release();
    }
  }

  async #clear(
    records: readonly PurchaseRecord[],
    cards: ReadonlyMap<string, CardRecord | undefined>,
    tacOk: readonly boolean[],
    merchantId: string,
    batchId: string,
    hash: string,
    client: string,
    key: string,
  ): Promise<BatchOutcome> {
    for (let attempt = 0; ; attempt++) {
      const plan = await this.#planBatch(records, cards, tacOk, merchantId, batchId, hash);
      try {
        await this.#ledger.transferLinked({
          client,
          idempotencyKey: key,
          legs: plan.legs,
          records: plan.writes,
          rememberFailure: false,
        });
        return plan.outcome;
      } catch (e) {
        if (hasErrorCode(e, LEDGER_ERRORS, 'IDEMPOTENCY_CONFLICT')) {
          // The same batch committed meanwhile (a concurrent retry), or the key belongs to something else.
          const stored = await this.#batchOutcome(batchId, hash);
          if (stored) return stored;
          throw e;
        }
        // A concurrent batch or load changed a card's counters or float between the reads and the commit: plan again.
        const raced =
          hasErrorCode(e, LEDGER_ERRORS, 'RECORD_CONFLICT') || hasErrorCode(e, LEDGER_ERRORS, 'INSUFFICIENT_FUNDS');
        if (!raced || attempt >= 50) throw e;
        const stored = await this.#batchOutcome(batchId, hash);
        if (stored) return stored;
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
      }
    }
  }

  /** Reads what the batch depends on and decides every record: the legs, the record writes and the outcome. */
  async #planBatch(
    records: readonly PurchaseRecord[],
    cards: ReadonlyMap<string, CardRecord | undefined>,
    tacOk: readonly boolean[],
    merchantId: string,
    batchId: string,
    hash: string,
  ) {
    const known = [...cards].filter(([, c]) => c !== undefined).map(([s]) => s);
    const [summaries, floats, debits, pointsAccounts] = await Promise.all([
      Promise.all(known.map((s) => this.#ledger.getRecord<ClearedCounters>(CLEARED_COUNTERS, s))),
      Promise.all(known.map((s) => this.#ledger.getAccount(ACCOUNT.float(s)))),
      Promise.all(
        records.map((r, i) =>
          tacOk[i] ? this.#ledger.getRecord(CLEARED_DEBITS, debitIdentity(r)) : Promise.resolve(undefined),
        ),
      ),
      Promise.all(
        [...new Set(known.map((s) => cards.get(s)!.msisdn))].map(
          async (m) => [m, (await this.#ledger.getAccount(ACCOUNT.points(m))) !== undefined] as const,
        ),
      ),
    ]);
    const summary = new Map(known.map((s, i) => [s, summaries[i]]));
    const ranges = new Map(known.map((s, i) => [s, summaries[i]?.value.ranges.map((x) => [...x] as Range) ?? []]));
    const available = new Map(known.map((s, i) => [s, floats[i]?.available ?? 0]));
    const hasPoints = new Map(pointsAccounts);
    const seenDebits = new Set<string>();
    const perCard = new Map<string, number>();
    const perCustomer = new Map<string, number>();
    const writes: RecordWrite[] = [];
    const rejected: Array<{ index: number; code: ClearingRejectCode }> = [];
    let accepted = 0;
    let settled = 0;
    let points = 0;
    const touched = new Set<string>();
    for (const [index, r] of records.entries()) {
      const card = cards.get(r.cardSerial);
      const reject = (code: ClearingRejectCode) => rejected.push({ index, code });
      if (!card) {
        reject('UNKNOWN_CARD');
        continue;
      }
      if (!tacOk[index]) {
        reject('BAD_TAC');
        continue;
      }
      const identity = debitIdentity(r);
      const cleared = ranges.get(r.cardSerial)!;
      if (debits[index] || seenDebits.has(identity) || inRanges(cleared, r.offlineCounter)) {
        reject('DUPLICATE');
        continue;
      }
      const left = available.get(r.cardSerial)!;
      if (r.amount > left) {
        reject('FLOAT_SHORT');
        continue;
      }
      touched.add(r.cardSerial);
      available.set(r.cardSerial, left - r.amount);
      seenDebits.add(identity);
      addToRanges(cleared, r.offlineCounter);
      accepted++;
      settled += r.amount;
      if (r.amount > 0) perCard.set(r.cardSerial, (perCard.get(r.cardSerial) ?? 0) + r.amount);
      const earned = hasPoints.get(card.msisdn) ? this.#points.pointsFor(merchantId, r.amount) : 0;
      if (earned > 0) {
        perCustomer.set(card.msisdn, (perCustomer.get(card.msisdn) ?? 0) + earned);
        points += earned;
      }
      writes.push({
        collection: CLEARED_DEBITS,
        id: identity,
        value: { ...r, batch: batchId, index },
        expectVersion: 0,
      });
    }
    const legs: TransferLeg[] = [];
    for (const [cardSerial, amount] of perCard)
      legs.push({
        from: ACCOUNT.float(cardSerial),
        to: ACCOUNT.merchant(merchantId),
        amount,
        memo: `cleared purchases, card ${cardSerial}`,
        ref: REF.purchase(cardSerial),
        meta: { batch: batchId },
      });
    for (const [msisdn, earned] of perCustomer)
      legs.push({
        from: ACCOUNT.pointsFunding,
        to: ACCOUNT.points(msisdn),
        amount: earned,
        memo: `points: cleared purchases at ${merchantId}`,
        ref: REF.points(msisdn),
        meta: { kind: 'award', merchantId, batch: batchId },
      });
    const gaps: Array<{ cardSerial: string; missing: number[] }> = [];
    for (const cardSerial of [...new Set(records.map((r) => r.cardSerial))].sort()) {
      const cleared = ranges.get(cardSerial);
      if (!cleared) continue;
      const missing: number[] = [];
      for (let i = 1; i < cleared.length; i++)
        for (let c = cleared[i - 1]![1] + 1; c < cleared[i]![0]; c++) missing.push(c);
      if (missing.length > 0) gaps.push({ cardSerial, missing });
      const before = summary.get(cardSerial);
      if (touched.has(cardSerial))
        writes.push({
          collection: CLEARED_COUNTERS,
          id: cardSerial,
          value: { ranges: cleared } satisfies ClearedCounters,
          expectVersion: before?.version ?? 0,
        });
    }
    const outcome: BatchOutcome = { accepted, settled, points, rejected, gaps };
    writes.push({ collection: BATCHES, id: batchId, value: { hash, outcome }, expectVersion: 0 });
    return { legs, writes, outcome };
  }

  async #batchOutcome(batchId: string, hash: string): Promise<BatchOutcome | undefined> {
    const prior = await this.#ledger.getRecord<{ hash: string; outcome: BatchOutcome }>(BATCHES, batchId);
    if (!prior) return undefined;
    if (prior.value.hash !== hash)
      throw new LedgerError('IDEMPOTENCY_CONFLICT', 'this idempotency key was used for another batch');
    return prior.value.outcome;
  }

  /**
   * The card's cleared offline counters as disjoint ranges, and the counters missing between them (what the back
   * office chases).
   */
  async clearedCounters(params: { cardSerial: string }): Promise<{ ranges: Range[]; missing: number[] }> {
    paramsObject(params);
    const serial = cardSerialParam(params.cardSerial);
    const ranges = (await this.#ledger.getRecord<ClearedCounters>(CLEARED_COUNTERS, serial))?.value.ranges ?? [];
    const missing: number[] = [];
    for (let i = 1; i < ranges.length; i++) for (let c = ranges[i - 1]![1] + 1; c < ranges[i]![0]; c++) missing.push(c);
    return { ranges: ranges.map((x) => [...x] as Range), missing };
  }
}

/**
 * In-process locks by key: `acquire(keys)` joins the queue of every key at once (so a later caller cannot overtake a
 * waiting one on any key), waits until it is first in all of them, and returns the release. FIFO per key and no
 * cycle: a caller queued before another on one key is queued before it on every key they share.
 */
class KeyedLocks {
  readonly #tails = new Map<string, Promise<void>>();

  async acquire(keys: readonly string[]): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const waits: Promise<void>[] = [];
    const tails: Array<[string, Promise<void>]> = [];
    for (const k of new Set(keys)) {
      waits.push(this.#tails.get(k) ?? Promise.resolve());
      const tail = mine;
      this.#tails.set(k, tail);
      tails.push([k, tail]);
    }
    await Promise.all(waits);
    return () => {
      release();
      for (const [k, tail] of tails) if (this.#tails.get(k) === tail) this.#tails.delete(k);
    };
  }
}

/** An inclusive range of offline counters. */
export type Range = [number, number];

/** A card's cleared offline counters, as sorted disjoint inclusive ranges. */
interface ClearedCounters {
  readonly ranges: Range[];
}

function inRanges(ranges: readonly Range[], c: number): boolean {
  return ranges.some(([lo, hi]) => c >= lo && c <= hi);
}

/** Adds `c` to sorted disjoint ranges, merging neighbours. */
function addToRanges(ranges: Range[], c: number): void {
  let i = 0;
  while (i < ranges.length && ranges[i]![1] < c - 1) i++;
  if (i === ranges.length || ranges[i]![0] > c + 1) {
    ranges.splice(i, 0, [c, c]);
    return;
  }
  const r = ranges[i]!;
  r[0] = Math.min(r[0], c);
  r[1] = Math.max(r[1], c);
  const next = ranges[i + 1];
  if (next && next[0] <= r[1] + 1) {
    r[1] = Math.max(r[1], next[1]);
    ranges.splice(i + 1, 1);
  }
}

/** The identity of a card debit, as its TAC covers it: card, terminal, terminal transaction sequence. */
function debitIdentity(r: PurchaseRecord): string {
  return `${r.cardSerial}:${r.terminalId}:${r.terminalSeq}`;
}

const CLEARED_DEBITS = 'cleared-debits';
const CLEARED_COUNTERS = 'cleared-counters';

/** Checks one purchase record and returns it normalized (hex uppercase). */
function checkRecord(r: PurchaseRecord, name: string): PurchaseRecord {
  paramsObject(r, name);
  const tti = intParam(r.tti, `${name}.tti`, 0, 0xff);
  if (tti !== TTI.EP_PURCHASE && tti !== TTI.CAPP_PURCHASE)
    throw new ArgumentError(`${name}.tti must be 6 (EP purchase) or 9 (composite purchase)`);
  return {
    cardSerial: cardSerialParam(r.cardSerial, `${name}.cardSerial`),
    offlineCounter: counterParam(r.offlineCounter, `${name}.offlineCounter`),
    amount: intParam(r.amount, `${name}.amount`, 0, 0xffffffff),
    tti,
    terminalId: terminalIdParam(r.terminalId, `${name}.terminalId`),
    terminalSeq: intParam(r.terminalSeq, `${name}.terminalSeq`, 0, 0xffffffff),
    date: dateParam(r.date, `${name}.date`),
    time: timeParam(r.time, `${name}.time`),
    tac: hexParam(r.tac, `${name}.tac`, 4),
  };
}

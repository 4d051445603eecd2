/**
 * (21) Customers (`@simtap/host/customers`): customers by MSISDN with their cards, and the phone account — cash
 * top-up at a service point, balance, statement — and the patent's online charge to the phone account: a machine
 * asks for a challenge, the card answers it with INTERNAL AUTHENTICATE under its DEAK, and once the issuer's keys
 * say the answer is the card's the platform debits the phone account directly (no purse involved).
 *
 * Money: a top-up is `cash:<client>` → `phone:<msisdn>`; a charge is `phone:<msisdn>` → `merchant:<merchant>`
 * (and points to the customer, as for a cleared purchase).
 * @example
 * const { balance } = await customers.topUpPhoneAccount({ client: 'mart-1', idempotencyKey: 't-1', msisdn: '13800138001', amount: 5000 });
 * @module
 */
import { randomBytes } from 'node:crypto';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { ArgumentError, hasErrorCode } from '@simtap/sdk/core/errors';
import type { ContactlessManagement } from '../contactless';
import type { IssuerKeyStore } from '../keys';
import { LEDGER_ERRORS, type LedgerStore, type TransferLeg } from '../ledger';
import { ACCOUNT, PLATFORM_CLIENT, REF } from '../platform/accounts';
import type { PlatformConfig } from '../platform/config';
import { PlatformError } from '../platform/errors';
import { CallIdempotency } from '../platform/idempotency';
import { cardAmountParam, cardSerialParam, intParam, msisdnParam, paramsObject } from '../platform/params';
import type { Points } from '../points';

/** A customer as stored. */
export interface CustomerRecord {
  readonly msisdn: string;
  readonly createdAt: number;
}

/** One line of a phone account's statement. */
export interface StatementLine {
  readonly transferId: string;
  /** Epoch ms. */
  readonly at: number;
  /** Fen: positive in, negative out. */
  readonly amount: number;
  /** What it was (top-up, load funding, charge, redemption). */
  readonly memo: string;
  /** `posted`, or `pending` for a load still in flight (its amount is held). */
  readonly state: string;
}

/** Options of {@link Customers}. */
export interface CustomersOptions {
  readonly ledger: LedgerStore;
  readonly keys: IssuerKeyStore;
  readonly contactless: ContactlessManagement;
  readonly points: Points;
  readonly config: PlatformConfig;
  readonly now?: () => number;
}

const CUSTOMERS = 'customers';
const CHALLENGES = 'charge-challenges';

interface ChallengeRecord {
  readonly cardSerial: string;
  readonly challenge: string;
  readonly expiresAt: number;
  /** `client\u0000idempotencyKey` of the charge that used it. */
  readonly usedBy: string | null;
}

/** Customers and their phone accounts. */
export class Customers {
  readonly #ledger: LedgerStore;
  readonly #keys: IssuerKeyStore;
  readonly #cards: ContactlessManagement;
  readonly #points: Points;
  readonly #config: PlatformConfig;
  readonly #now: () => number;
  readonly #idem: CallIdempotency;

  constructor(options: CustomersOptions) {
    this.#ledger = options.ledger;
    this.#keys = options.keys;
    this.#cards = options.contactless;
    this.#points = options.points;
    this.#config = options.config;
    this.#now = options.now ?? Date.now;
    this.#idem = new CallIdempotency(options.ledger);
  }

  /**
   * Registers a customer: the record, the phone account and the points account; an opening balance (configuration)
   * is paid in once. Registering again returns the customer.
   */
  async register(params: { msisdn: string; openingBalance?: number }): Promise<CustomerRecord> {
    paramsObject(params);
    const msisdn = msisdnParam(params.msisdn);
    const opening = params.openingBalance ?? 0;
    if (opening !== 0) cardAmountParam(opening, 'openingBalance');
    await this.#ledger.openAccount(ACCOUNT.phone(msisdn), 'PHONE');
    await this.#ledger.openAccount(ACCOUNT.points(msisdn), 'POINTS_LIABILITY');
    if (opening > 0) {
      await this.#ledger.openAccount(ACCOUNT.opening, 'SETTLEMENT');
      await this.#ledger.transfer({
        client: PLATFORM_CLIENT,
        idempotencyKey: `opening:${msisdn}`,
        from: ACCOUNT.opening,
        to: ACCOUNT.phone(msisdn),
        amount: opening,
        memo: 'opening balance',
      });
    }
    const record: CustomerRecord = { msisdn, createdAt: this.#now() };
    try {
      await this.#ledger.writeRecords([{ collection: CUSTOMERS, id: msisdn, value: record, expectVersion: 0 }]);
      return record;
    } catch (e) {
      if (!hasErrorCode(e, LEDGER_ERRORS, 'RECORD_CONFLICT')) throw e;
      return (await this.#ledger.getRecord<CustomerRecord>(CUSTOMERS, msisdn))!.value;
    }
  }

  /** The customer. @throws PlatformError `UNKNOWN_CUSTOMER` */
  async get(params: { msisdn: string }): Promise<CustomerRecord & { cards: string[] }> {
    paramsObject(params);
    const msisdn = msisdnParam(params.msisdn);
    const r = await this.#ledger.getRecord<CustomerRecord>(CUSTOMERS, msisdn);
    if (!r) throw new PlatformError('UNKNOWN_CUSTOMER', `no customer ${msisdn}`);
    const { cards } = await this.#cards.list({ msisdn });
    return { ...r.value, cards: cards.map((c) => c.cardSerial) };
  }

  /**
   * `customers.topUpPhoneAccount`: cash paid in at the client's service point. Idempotent per (client, key).
   * @throws PlatformError `UNKNOWN_CUSTOMER`; LedgerError `IDEMPOTENCY_CONFLICT`
   */
  async topUpPhoneAccount(params: {
    client: string;
    idempotencyKey: string;
    msisdn: string;
    amount: number;
  }): Promise<{ balance: number }> {
    paramsObject(params);
    const msisdn = msisdnParam(params.msisdn);
    const amount = cardAmountParam(params.amount);
    const move = async () => {
      const r = await this.#ledger.transfer({
        client: params.client,
        idempotencyKey: params.idempotencyKey,
        from: ACCOUNT.cash(params.client),
        to: ACCOUNT.phone(msisdn),
        amount,
        memo: 'phone account top-up (cash)',
      });
      return { balance: r.balances[ACCOUNT.phone(msisdn)]! };
    };
    return this.#idem.run(
      params.client,
      params.idempotencyKey,
      'customers.topUpPhoneAccount',
      { msisdn, amount },
      async () => {
        await this.#mustExist(msisdn);
        await this.#ledger.openAccount(ACCOUNT.cash(params.client), 'CASH');
        return move();
      },
      move,
    );
  }

  /** `customers.phoneAccount`: the balance (fen; what is held for loads in flight is not subtracted). */
  async phoneAccount(params: { msisdn: string }): Promise<{ balance: number; available: number }> {
    paramsObject(params);
    const msisdn = msisdnParam(params.msisdn);
    const a = await this.#ledger.getAccount(ACCOUNT.phone(msisdn));
    if (!a) throw new PlatformError('UNKNOWN_CUSTOMER', `no customer ${msisdn}`);
    return { balance: a.balance, available: a.available };
  }

  /** The phone account's statement, newest last (at most `limit` lines, the latest). */
  async statement(params: { msisdn: string; limit?: number }): Promise<{ balance: number; lines: StatementLine[] }> {
    paramsObject(params);
    const msisdn = msisdnParam(params.msisdn);
    const limit = params.limit === undefined ? 100 : intParam(params.limit, 'limit', 1, 10_000);
    const { balance } = await this.phoneAccount({ msisdn });
    const account = ACCOUNT.phone(msisdn);
    const transfers = await this.#ledger.listTransfers({ account });
    const lines = transfers
      .filter((t) => t.state !== 'voided')
      .slice(-limit)
      .map((t) => ({
        transferId: t.id,
        at: t.createdAt,
        amount: t.to === account ? t.amount : -t.amount,
        memo: t.memo,
        state: t.state === 'posted' ? 'posted' : 'pending',
      }));
    return { balance, lines };
  }

  /**
   * A fresh 8-byte challenge for an online charge of `cardSerial`, valid for `challengeTtlMs`: the machine sends it
   * to the card in INTERNAL AUTHENTICATE and passes the answer to {@link chargePhoneAccount}. Each challenge pays
   * one charge.
   * @throws PlatformError `UNKNOWN_CARD`, `CARD_BLOCKED`
   */
  async chargeChallenge(params: { cardSerial: string }): Promise<{ challenge: string; expiresAt: number }> {
    paramsObject(params);
    const card = await this.#cards.mustBeActive(cardSerialParam(params.cardSerial));
    const challenge = toHex(randomBytes(8));
    const expiresAt = this.#now() + (this.#config.challengeTtlMs ?? 60_000);
    const record: ChallengeRecord = { cardSerial: card.cardSerial, challenge, expiresAt, usedBy: null };
    await this.#ledger.writeRecords([{ collection: CHALLENGES, id: challenge, value: record, expectVersion: 0 }]);
    return { challenge, expiresAt };
  }

  /**
   * The online charge to the phone account: once the card has proven itself (its INTERNAL AUTHENTICATE answer to
   * a challenge of {@link chargeChallenge}, checked with the issuer's keys), `amount` moves from the card holder's
   * phone account to the client's merchant, with points as for a purchase. Idempotent per (client, key).
   * @throws PlatformError `UNKNOWN_CARD`, `CARD_BLOCKED`, `BAD_CARD_PROOF`, `NO_MERCHANT`; LedgerError
   *   `INSUFFICIENT_FUNDS`, `IDEMPOTENCY_CONFLICT`
   */
  async chargePhoneAccount(params: {
    client: string;
    idempotencyKey: string;
    cardSerial: string;
    amount: number;
    challenge: string;
    response: string;
  }): Promise<{ balance: number; transferId: string; points: number }> {
    paramsObject(params);
    const serial = cardSerialParam(params.cardSerial);
    const amount = cardAmountParam(params.amount);
    if (typeof params.challenge !== 'string' || !/^[0-9A-Fa-f]{16}$/.test(params.challenge))
      throw new ArgumentError('challenge must be 16 hex digits');
    if (typeof params.response !== 'string' || !/^([0-9A-Fa-f]{2}){1,64}$/.test(params.response))
      throw new ArgumentError('response must be hex');
    const challengeId = params.challenge.toUpperCase();
    const response = params.response.toUpperCase();
    const pay = async (card: { msisdn: string }, merchantId: string) => {
      const legs: TransferLeg[] = [
        {
          from: ACCOUNT.phone(card.msisdn),
          to: ACCOUNT.merchant(merchantId),
          amount,
          memo: `online charge, card ${serial}`,
          ref: REF.charge(serial),
          meta: { challenge: challengeId },
        },
      ];
      const award = this.#points.awardLeg(card.msisdn, merchantId, amount, { cardSerial: serial, charge: challengeId });
      if (award) legs.push(award);
      const r = await this.#ledger.transferLinked({
        client: params.client,
        idempotencyKey: params.idempotencyKey,
        legs,
      });
      return {
        balance: r.balances[ACCOUNT.phone(card.msisdn)]!,
        transferId: r.transfers[0]!.id,
        points: award?.amount ?? 0,
      };
    };
    return this.#idem.run(
      params.client,
      params.idempotencyKey,
      'customers.chargePhoneAccount',
      { cardSerial: serial, amount, challenge: challengeId, response },
      () => this.#chargeFirst(params.client, params.idempotencyKey, serial, amount, challengeId, response, pay),
      async () => pay(await this.#cards.mustRecord(serial), this.#merchantOf(params.client)),
    );
  }

  async #chargeFirst(
    client: string,
    idempotencyKey: string,
    serial: string,
    _amount: number,
    challengeId: string,
    response: string,
    pay: (
      card: { msisdn: string },
      merchantId: string,
    ) => Promise<{ balance: number; transferId: string; points: number }>,
  ): Promise<{ balance: number; transferId: string; points: number }> {
    const params = { client, idempotencyKey, response };
    const merchantId = this.#merchantOf(client);
    const card = await this.#cards.mustBeActive(serial);
    const use = `${params.client}\u0000${params.idempotencyKey}`;
    const stored = await this.#ledger.getRecord<ChallengeRecord>(CHALLENGES, challengeId);
    const c = stored?.value;
    if (!stored || !c || c.cardSerial !== serial || (c.usedBy !== null && c.usedBy !== use))
      throw new PlatformError('BAD_CARD_PROOF', 'the challenge is unknown, for another card, or used');
    if (c.usedBy === null && c.expiresAt < this.#now())
      throw new PlatformError('BAD_CARD_PROOF', 'the challenge has expired: ask for a new one');
    const ok = await this.#keys.verifyInternalAuthenticate({
      cardSerial: fromHex(serial),
      challenge: fromHex(challengeId),
      response: fromHex(params.response),
    });
    if (!ok) throw new PlatformError('BAD_CARD_PROOF', "the INTERNAL AUTHENTICATE answer is not the card's");
    if (c.usedBy === null) {
      // The challenge is spent before any money moves: two charges racing on one challenge cannot both pay.
      try {
        await this.#ledger.writeRecords([
          { collection: CHALLENGES, id: challengeId, value: { ...c, usedBy: use }, expectVersion: stored.version },
        ]);
      } catch (e) {
        if (hasErrorCode(e, LEDGER_ERRORS, 'RECORD_CONFLICT'))
          throw new PlatformError('BAD_CARD_PROOF', 'the challenge was used by another charge');
        throw e;
      }
    }
    return pay(card, merchantId);
  }

  #merchantOf(client: string): string {
    const c = this.#config.clients.find((x) => x.id === client);
    if (!c?.merchantId) throw new PlatformError('NO_MERCHANT', `client ${client} settles to no merchant`);
    return c.merchantId;
  }

  async #mustExist(msisdn: string): Promise<void> {
    if (!(await this.#ledger.getRecord(CUSTOMERS, msisdn)))
      throw new PlatformError('UNKNOWN_CUSTOMER', `no customer ${msisdn}`);
  }
}

/**
 * A supermarket till: a contactless reader, a PSAM in its contact slot, a {@link ConsumptionMachine} for purse
 * sales, and a {@link MachineAgent} that keeps the sales' purchase records on the till's disk until the back office
 * has stored them. A basket the purse cannot pay is charged online to the customer's phone account: the till asks
 * the back office for a challenge, the card answers it with INTERNAL AUTHENTICATE (its DEAK), and the back office
 * has the platform charge the phone account with the card's answer.
 * @module
 */
import { createPsam } from '@simtap/applet-emu/applets/psam';
import { type Card, CardRemovedError, CardTornError } from '@simtap/applet-emu/runtime';
import { type CardChannel, InProcessChannel, transportError } from '@simtap/sdk/card';
import { type ClearingRecord, clearingRecord, MachineAgent } from '@simtap/sdk/clients';
import { concat, fromHex, toHex } from '@simtap/sdk/core/bytes';
import { defineErrors, SimtapError } from '@simtap/sdk/core/errors';
import { formatSw, parseResponseApdu } from '@simtap/sdk/core/iso7816';
import { type CardInspection, type Clock, ConsumptionMachine, PsamDriver } from '@simtap/sdk/machines';

/** What the till's look at the card throws when the purse cannot pay: the tap goes on to the online charge. */
const PAY_ONLINE = Symbol('pay online');

/** The till's own refusals. */
export const TILL_ERRORS = defineErrors({
  CARD_BLACKLISTED: {
    class: 'TillError',
    when: "the card is on the blacklist of the till's config",
    fix: 'refuse the card; the customer reports to the service desk',
  },
  TILL_CARD_REFUSED: {
    class: 'TillError',
    when: 'the card refused SELECT or INTERNAL AUTHENTICATE of the online charge',
    fix: 'ask for another card or another way to pay',
  },
  PURCHASE_UNPROVEN: {
    class: 'TillError',
    when: 'the purse purchase did not complete with a TAC (the card left the field during DEBIT)',
    fix: "tap the card again: the machine's recovery settles it",
  },
});
/** A code of {@link TILL_ERRORS}. */
export type TillErrorCode = keyof typeof TILL_ERRORS;

/** A refusal of the till. */
export class TillError extends SimtapError<TillErrorCode> {}

/** The parameters of one online charge, as `customers.chargePhoneAccount` takes them. */
export interface ChargeRequest {
  readonly idempotencyKey: string;
  readonly cardSerial: string;
  readonly amount: number;
  readonly challenge: string;
  readonly response: string;
}

/** What a till needs of its back office for an online charge. */
export interface ChargeService {
  /** A fresh challenge for the card (`customers.chargeChallenge`). */
  chargeChallenge(cardSerial: string): Promise<{ readonly challenge: string }>;
  /** The charge with the card's answer (`customers.chargePhoneAccount`, idempotent by its key). */
  chargePhoneAccount(
    request: ChargeRequest,
  ): Promise<{ readonly balance: number; readonly transferId: string; readonly points: number }>;
}

/** The names of the online requests a till sends its back office over the machine link (`MachineAgent.request`). */
export const CHARGE_REQUESTS = { challenge: 'charge.challenge', phoneAccount: 'charge.phoneAccount' } as const;

/**
 * The online charge over the till's own machine link: each call is a `machine.request` to the back office, which
 * makes the platform call on its session ({@link BackOffice} answers them). The platform's refusals come back as the
 * same errors (`InsufficientFundsError`, …); a charge whose answer was lost (`REQUEST_UNANSWERED`) is sent again
 * with its idempotency key.
 */
export function chargesOverLink(agent: MachineAgent): ChargeService {
  const text = (v: unknown, what: string): string => {
    if (typeof v !== 'string') throw new TillError('TILL_CARD_REFUSED', `the back office answered no ${what}`);
    return v;
  };
  const int = (v: unknown, what: string): number => {
    if (!Number.isSafeInteger(v)) throw new TillError('TILL_CARD_REFUSED', `the back office answered no ${what}`);
    return v as number;
  };
  return {
    async chargeChallenge(cardSerial) {
      const r = (await agent.request(CHARGE_REQUESTS.challenge, { cardSerial })) as { challenge?: unknown } | null;
      return { challenge: text(r?.challenge, 'challenge') };
    },
    async chargePhoneAccount(request) {
      const r = (await agent.request(CHARGE_REQUESTS.phoneAccount, request)) as Record<string, unknown> | null;
      return {
        balance: int(r?.balance, 'balance'),
        transferId: text(r?.transferId, 'transfer id'),
        points: int(r?.points, 'points'),
      };
    },
  };
}

/** A contactless reader: the card presented last, powered afresh at each tap. */
export class ContactlessReader implements CardChannel {
  readonly description: string;
  #card: Card | undefined;

  constructor(description: string) {
    this.description = description;
  }

  /** A card enters the field (its transient state reset, as at a real tap). */
  present(card: Card): void {
    if (card.isPowered('contactless')) card.powerOff('contactless');
    card.powerOn('contactless');
    this.#card = card;
  }

  /** The card leaves the field. */
  remove(): void {
    this.#card?.powerOff('contactless');
    this.#card = undefined;
  }

  async transmit(capdu: Uint8Array): Promise<Uint8Array> {
    const card = this.#card;
    if (card === undefined) throw transportError('CARD_REMOVED', `${this.description}: no card in the field`);
    try {
      return card.transmit('contactless', capdu);
    } catch (e) {
      // the card lost power (left the field, or a tear): to the machine, the card is gone mid-command
      if (e instanceof CardTornError || e instanceof CardRemovedError) {
        this.#card = undefined;
        throw transportError('CARD_REMOVED', `${this.description}: ${e.message}`, e);
      }
      throw e;
    }
  }

  async close(): Promise<void> {
    this.remove();
  }
}

/** One sale at a till: paid from the purse (cleared later) or charged online to the phone account. */
export interface Sale {
  readonly till: string;
  /** The till's sale number, 1, 2, … */
  readonly saleNo: number;
  readonly cardSerial: string;
  /** The basket, fen. */
  readonly basket: number;
  /**
   * The purse's balance before the sale, fen: as the till read it, or, for a sale a tap settled after an earlier torn
   * attempt (the DEBIT had landed), the balance that sale started from.
   */
  readonly purseBefore: number;
  readonly method: 'purse' | 'phoneAccount';
  /** The purse's balance after the sale, fen (unchanged for an online charge). */
  readonly purseAfter: number;
  /** The purchase record the till buffered for clearing (purse sales). */
  readonly record?: ClearingRecord;
  /** The online charge and its answer (phone-account sales). */
  readonly charge?: {
    readonly request: ChargeRequest;
    readonly balance: number;
    readonly transferId: string;
    readonly points: number;
  };
}

/** Options of {@link Till}. */
export interface TillOptions {
  /** The till's machine id at the back office. */
  readonly id: string;
  /** Its secret at the back office (hex). */
  readonly secret: string;
  /** The back office's `/v1/machine` URL. */
  readonly hubUrl: string;
  /** The platform's blacklist key the till checks configs with (hex). */
  readonly blacklistPublicKey: string;
  /** The till's disk: its record buffer and config. */
  readonly bufferDir: string;
  /** Its PSAM's terminal ID (6 bytes hex); the PSAM is a `pos-1` PSAM of the reference profile with this ID. */
  readonly terminalId: string;
  /** The back office's online charge; default over the till's own machine link ({@link chargesOverLink}). */
  readonly charges?: ChargeService;
  /** The machine's clock (transaction date and time); default the system's. */
  readonly clock?: Clock;
  /** The DEAK key index of INTERNAL AUTHENTICATE (P2); default 1, the reference profile's. */
  readonly deakKeyIndex?: number;
}

/**
 * A till of the supermarket.
 * @example
 * const till = new Till({ id: 'till-1', secret, hubUrl, blacklistPublicKey, bufferDir, terminalId });
 * await till.start();
 * const sale = await till.checkout(sim, 2345); // purse when it can pay, else the phone account
 */
export class Till {
  readonly id: string;
  readonly agent: MachineAgent;
  readonly reader: ContactlessReader;
  readonly #machine: ConsumptionMachine;
  readonly #charges: ChargeService;
  readonly #deakKeyIndex: number;
  readonly #psam: Card;
  #saleNo = 0;

  constructor(options: TillOptions) {
    this.id = options.id;

    this.#deakKeyIndex = options.deakKeyIndex ?? 1;
    this.reader = new ContactlessReader(`${options.id} reader`);
    this.#psam = createPsam('pos-1', { terminalId: fromHex(options.terminalId) });
    this.#psam.powerOn('contact');
    const psam = this.#psam;
    const psamChannel = new InProcessChannel(
      { transmit: (c) => psam.transmit('contact', c) },
      { description: `${options.id} PSAM` },
    );
    this.#machine = new ConsumptionMachine({
      card: this.reader,
      psam: new PsamDriver(psamChannel),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.agent = new MachineAgent({
      url: options.hubUrl,
      machineId: options.id,
      secret: options.secret,
      blacklistPublicKey: options.blacklistPublicKey,
      bufferDir: options.bufferDir,
      reconnect: { initialDelayMs: 50, maxDelayMs: 1000 },
    });
    this.#charges = options.charges ?? chargesOverLink(this.agent);
  }

  /** Connects the till to its back office. */
  start(): Promise<void> {
    return this.agent.start();
  }

  /**
   * Checks out a basket with the card on the reader: the purse pays when its balance covers the basket (the record
   * goes to the till's buffer, for clearing), otherwise the phone account is charged online.
   * @throws {TillError} `CARD_BLACKLISTED`, `TILL_CARD_REFUSED`, `PURCHASE_UNPROVEN`; the platform's refusals of the
   *   online charge (`INSUFFICIENT_FUNDS`, `BAD_CARD_PROOF`, …) as `PlatformCallError`s.
   */
  async checkout(card: Card, basket: number): Promise<Sale> {
    this.reader.present(card);
    try {
      // One tap: the machine's SELECT and EF 0x15, then this look at the card (blacklist, GET BALANCE) before it
      // debits; when the purse cannot pay, the look stops the purchase and the same tap goes on to the online charge.
      let seen: { cardSerial: string; balance: number; saleNo: number } | undefined;
      const inspect = async (c: CardInspection): Promise<void> => {
        const cardSerial = toHex(c.identity.serial);
        if (this.agent.isBlacklisted(cardSerial))
          throw new TillError('CARD_BLACKLISTED', `${this.id}: card ${cardSerial} is blacklisted`);
        const balance = await c.readBalance();
        seen = { cardSerial, balance, saleNo: ++this.#saleNo };
        if (basket > balance) throw PAY_ONLINE;
      };
      try {
        const result = await this.#machine.purchase({ amount: basket, inspect });
        if (result.status !== 'completed')
          throw new TillError(
            'PURCHASE_UNPROVEN',
            `${this.id}: sale ${seen?.saleNo ?? '?'} has no TAC (${result.status})`,
          );
        const record = { ...clearingRecord(result), machine: 'till' };
        await this.agent.record(record);
        // Without `seen`, the tap settled an earlier torn attempt at this sale (no new look at the card).
        const base = seen ?? {
          cardSerial: record.cardSerial,
          balance: result.balanceAfter + basket,
          saleNo: ++this.#saleNo,
        };
        return {
          till: this.id,
          saleNo: base.saleNo,
          cardSerial: base.cardSerial,
          basket,
          purseBefore: base.balance,
          method: 'purse',
          purseAfter: result.balanceAfter,
          record,
        };
      } catch (e) {
        if (e !== PAY_ONLINE || seen === undefined) throw e;
      }
      const { cardSerial, balance, saleNo } = seen;
      const { challenge } = await this.#charges.chargeChallenge(cardSerial);
      const response = await this.#internalAuthenticate(challenge);
      const request: ChargeRequest = {
        idempotencyKey: `charge:${this.id}:${challenge}`,
        cardSerial,
        amount: basket,
        challenge,
        response,
      };
      const answer = await this.#charges.chargePhoneAccount(request);
      return {
        till: this.id,
        saleNo,
        cardSerial,
        basket,
        purseBefore: balance,
        method: 'phoneAccount',
        purseAfter: balance,
        charge: { request, ...answer },
      };
    } finally {
      this.reader.remove();
    }
  }

  /**
   * Sends a sale's online charge again with the same key (what the till does when the answer was lost): the platform
   * answers the first charge's result and moves nothing.
   */
  retryCharge(sale: Sale): ReturnType<ChargeService['chargePhoneAccount']> {
    if (!sale.charge) throw new TillError('TILL_CARD_REFUSED', `sale ${sale.saleNo} was not an online charge`);
    return this.#charges.chargePhoneAccount(sale.charge.request);
  }

  /** Waits until the back office has stored every record of the till. */
  delivered(timeoutMs = 10_000): Promise<void> {
    return this.agent.delivered({ timeoutMs });
  }

  async stop(): Promise<void> {
    await this.agent.stop();
    this.#psam.powerOff('contact');
  }

  /**
   * INTERNAL AUTHENTICATE `00 88 00 kk 08 <challenge> 00` in the tap that read the card: the e-purse is still selected
   * (the tap's SELECT; nothing since has selected anything else). The card's answer, hex.
   */
  async #internalAuthenticate(challenge: string): Promise<string> {
    const apdu = concat(
      Uint8Array.of(0x00, 0x88, 0x00, this.#deakKeyIndex, 0x08),
      fromHex(challenge),
      Uint8Array.of(0),
    );
    const answer = parseResponseApdu(await this.reader.transmit(apdu));
    if (answer.sw !== 0x9000 || answer.data.length === 0)
      throw new TillError('TILL_CARD_REFUSED', `INTERNAL AUTHENTICATE: ${formatSw(answer.sw)}`);
    return toHex(answer.data).toUpperCase();
  }
}

/**
 * The errors machines throw that integrators branch on. Status words travel as {@link StatusWordError}s
 * (code `SW_xxxx`) through the per-command status tables of `./commands`; the subclasses below add what a till
 * or gate needs to decide: a locked card, a MAC the card or the PSAM refused, a card that left the field.
 *
 * | error | code | when |
 * |---|---|---|
 * | `InsufficientBalanceError` (core) | `SW_9401` | INITIALIZE: amount above balance + overdraft |
 * | {@link CardLockedError} | `SW_9303` / `SW_6283` | the e-purse application is locked or blocked |
 * | {@link MacError} | `SW_9302` | the card refused MAC1/MAC2 (`origin: 'card'`) or the PSAM refused MAC2 (`'psam'`) |
 * | {@link CardLeftFieldError} | `CARD_REMOVED` | the card went away mid-flow; `pending` set when money may have moved |
 * | {@link TacError} | `TAC_INVALID` | the authorizer rejects a load's TAC (the money moved; `record` has the load) |
 * | `CryptoError` (core) | `MAC1_INVALID` | a load authorizer rejected the card's MAC1 |
 * | `StatusWordError` (core) | `SW_xxxx` | every other non-9000 status word |
 *
 * @module
 */
import { CryptoError, TransportError } from '../core/errors';
import { ApplicationLockedError, SecurityStatusError } from '../core/iso7816';
import type { LoadRecord, PendingLoad, PendingPurchase, PurchaseRecord } from './records';

/** Which device a machine command goes to. */
export type CommandTarget = 'card' | 'psam';

/** 9303 (application permanently locked) or 6283 (application blocked): this card cannot pay until unlocked. */
export class CardLockedError extends ApplicationLockedError {}

/**
 * 9302: a MAC was refused. `origin` says who refused it: `'card'` (the card rejected the PSAM's MAC1 or the
 * issuer's load MAC2) or `'psam'` (the PSAM rejected the card's purchase MAC2 — the card is not genuine, and
 * it may already have been debited: `record` then holds the debit as the card reported it).
 */
export class MacError extends SecurityStatusError {
  /** The device that refused the MAC. */
  readonly origin: CommandTarget;
  /** The transaction as far as it went, when the card had already committed it (PSAM MAC2 refusal). */
  record: PurchaseRecord | undefined;
  constructor(sw: number, command?: string, options?: { cause?: unknown }) {
    super(sw, command, options);
    this.origin = typeof command === 'string' && command.startsWith('PSAM_') ? 'psam' : 'card';
  }
}

/**
 * The card left the field (transport `CARD_REMOVED`) in the middle of a machine flow. `command` is the step
 * that failed. When the card may have committed the money movement (the card went away after DEBIT/CREDIT was
 * sent and before its answer arrived), `pending` holds what the machine kept: the next tap of the same card
 * resolves it (see the decision table in `./consumption`). When `pending` is undefined, nothing was charged.
 */
export class CardLeftFieldError extends TransportError {
  /** The command during which the card went away. */
  readonly command: string;
  /** The transaction that may have landed on the card, awaiting resolution at the next tap; else undefined. */
  readonly pending: PendingPurchase | PendingLoad | undefined;
  constructor(command: string, pending: PendingPurchase | PendingLoad | undefined, options?: { cause?: unknown }) {
    super(
      'CARD_REMOVED',
      pending === undefined
        ? `the card left the field during ${command}; nothing was charged`
        : `the card left the field during ${command}; the outcome is resolved at the next tap of this card`,
      options,
    );
    this.command = command;
    this.pending = pending;
  }
}

/**
 * A load's TAC does not verify with the issuer's TAC key (the recharge machine's authorizer checks it). The money
 * moved on the card: `record` holds the load as the card reported it. (Purchase TACs are never checked by a
 * machine: no terminal holds the TAC key; clearing verifies them.)
 */
export class TacError extends CryptoError {
  /** The load as the card reported it. */
  readonly record: LoadRecord;
  constructor(message: string, record: LoadRecord) {
    super('TAC_INVALID', message);
    this.record = record;
  }
}

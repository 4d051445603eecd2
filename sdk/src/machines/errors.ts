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
 * The machines' own codes are the keys of {@link MACHINE_ERRORS}; match them with the core's `hasErrorCode(err,
 * MACHINE_ERRORS, 'RECOVERY_UNDETERMINED')`.
 *
 * @module
 */
import { type CodeOfClass, CryptoError, defineErrors, TransportError, type TransportErrorCode } from '../core/errors';
import { ApplicationLockedError, SecurityStatusError } from '../core/iso7816';
import { PBOC_COMMANDS, type PbocDevice } from '../core/pboc';
import type { LoadRecord, PendingLoad, PendingPurchase, PurchaseRecord } from './records';

/** The codes the machines throw (status words aside: those are `SW_xxxx`, and a card leaving is `CARD_REMOVED`). */
export const MACHINE_ERRORS = defineErrors({
  MACHINE_BAD_RESPONSE: {
    class: 'MachineResponseError',
    when: 'a command answered 9000 with the wrong data length',
    fix: 'the card or PSAM is not the expected product: refuse it',
  },
  TRANSIT_RECORD_INVALID: {
    class: 'ParseError',
    when: 'a transit (CAPP) record has the wrong length or an unknown type',
    fix: 'treat the trip as unknown; do not overwrite the record blindly',
  },
  MAC1_INVALID: {
    class: 'CryptoError',
    when: "a load authorizer rejected the card's MAC1 (wrong card keys or a forged card)",
    fix: 'refuse the load; nothing was credited',
  },
  TAC_INVALID: {
    class: 'TacError',
    when: "the platform's authorizer (`LoadAuthorizer`) finds that a load's TAC does not verify under the issuer's key",
    fix: 'the money moved: keep `record` (a `LoadRecord`) and flag the load for the issuer',
  },
  NO_TAC_KEY: {
    class: 'SimtapError',
    when: '`IssuerKeyAuthorizer` asked to verify a TAC without a `tacMasterKey`',
    fix: 'configure the TAC master key',
  },
  PSAM_NOT_OPEN: {
    class: 'SimtapError',
    when: 'a `PsamDriver` method called before `open()`',
    fix: 'call `open()` first',
  },
  RECOVERY_UNDETERMINED: {
    class: 'SimtapError',
    when: 'an earlier torn purchase or load of this card cannot be resolved from the card',
    fix: 'check the card by hand, then `discardPending()`',
  },
});

/** Code of an error the machines throw (see {@link MACHINE_ERRORS}). */
export type MachineErrorCode = keyof typeof MACHINE_ERRORS;

/** Which device a machine command goes to. */
export type CommandTarget = PbocDevice;

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
  readonly record: PurchaseRecord | undefined;
  /** `command` names a machine command: its device is the `origin`. */
  constructor(sw: number, command?: string, options?: { cause?: unknown; record?: PurchaseRecord }) {
    super(sw, command, options);
    const row = typeof command === 'string' && Object.hasOwn(PBOC_COMMANDS, command) ? command : undefined;
    this.origin = row === undefined ? 'card' : PBOC_COMMANDS[row as keyof typeof PBOC_COMMANDS].device;
    this.record = options?.record;
  }
}

/**
 * The card left the field (transport `CARD_REMOVED`) in the middle of a machine flow. `command` is the step
 * that failed. When the card may have committed the money movement (the card went away after DEBIT/CREDIT was
 * sent and before its answer arrived), `pending` holds what the machine kept: the next tap of the same card
 * resolves it (see the decision table in `./consumption`). When `pending` is undefined, nothing was charged.
 */
export class CardLeftFieldError extends TransportError<Extract<TransportErrorCode, 'CARD_REMOVED'>> {
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
export class TacError extends CryptoError<CodeOfClass<typeof MACHINE_ERRORS, 'TacError'>> {
  /** The load as the card reported it. */
  readonly record: LoadRecord;
  constructor(message: string, record: LoadRecord) {
    super('TAC_INVALID', message);
    this.record = record;
  }
}

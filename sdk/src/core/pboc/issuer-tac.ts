/**
 * The issuer's side of the TAC (transaction authentication code, docs/architecture.md, "TACs are the issuer's"): the card appends a TAC to
 * every purchase and load, a MAC under its TAC key DTK_left ⊕ DTK_right, and only the issuer can derive that key
 * (DTK is the PBOC diversification of the issuer's TAC master key with the card's serial). A terminal cannot check
 * a TAC and cannot make one: machines store TACs exactly as the card gave them, and clearing verifies them here.
 *
 * {@link IssuerTacVerifier} is what clearing (wallet management) and the tests and demos standing in for it use.
 * It holds the issuer's TAC master key: never give it to a terminal or a PSAM, whoever holds that key can mint a
 * valid TAC for any card.
 *
 * @module
 */
import { assertBytes, equalCt } from '../bytes';
import { diversificationDataOf } from './formats';
import { PbocKeyDiversifier } from './keys';
import { type LoadTacInput, loadTac, PbocMac, type PurchaseTacInput, purchaseTac, tacKey } from './mac';

/** What a purchase TAC covers: amount ‖ TTI ‖ terminal ID ‖ terminal transaction sequence ‖ date ‖ time. */
export type PurchaseTacFields = Omit<PurchaseTacInput, 'tacKey'>;

/** What a load TAC covers: new balance ‖ online counter ‖ amount ‖ TTI ‖ terminal ID ‖ date ‖ time. */
export type LoadTacFields = Omit<LoadTacInput, 'tacKey'>;

/** The TAC as a record carries it (4 bytes, as the card returned it). */
export interface WithTac {
  readonly tac: Uint8Array;
}

/**
 * The issuer's TAC check: derives each card's TAC key from the issuer's TAC master key and the card's application
 * serial, recomputes purchase and load TACs, and compares them in constant time. Per-card keys are wiped after
 * each call; {@link IssuerTacVerifier.destroy} wipes the master key schedule.
 * @example
 * const issuer = new IssuerTacVerifier(profile.issuer.masterKeys.tacMasterKey);
 * issuer.verifyPurchase(record, record.cardSerial); // true when the card made this record
 */
export class IssuerTacVerifier {
  readonly #master: PbocKeyDiversifier;

  /**
   * @param issuerTacMasterKey the issuer's TAC master key (16 bytes); the key schedule is built once, the bytes are
   *   not kept.
   * @throws {ArgumentError} `BAD_ARGUMENT` unless `issuerTacMasterKey` is 16 bytes.
   */
  constructor(issuerTacMasterKey: Uint8Array) {
    assertBytes(issuerTacMasterKey, 'issuerTacMasterKey', 16);
    this.#master = new PbocKeyDiversifier(issuerTacMasterKey);
  }

  /**
   * The purchase TAC card `cardSerial` computes for `fields`.
   * @param cardSerial the card's 10-byte application serial (EF 0x15); its rightmost 8 bytes diversify DTK.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed serial or field; after {@link IssuerTacVerifier.destroy}.
   */
  purchaseTac(fields: PurchaseTacFields, cardSerial: Uint8Array): Uint8Array {
    return this.#withTacKey(cardSerial, (key) =>
      purchaseTac({
        tacKey: key,
        amount: fields.amount,
        tti: fields.tti,
        terminalId: fields.terminalId,
        terminalTxnSeq: fields.terminalTxnSeq,
        date: fields.date,
        time: fields.time,
      }),
    );
  }

  /**
   * The load TAC card `cardSerial` computes for `fields`.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed serial or field; after {@link IssuerTacVerifier.destroy}.
   */
  loadTac(fields: LoadTacFields, cardSerial: Uint8Array): Uint8Array {
    return this.#withTacKey(cardSerial, (key) =>
      loadTac({
        tacKey: key,
        newBalance: fields.newBalance,
        onlineCounter: fields.onlineCounter,
        amount: fields.amount,
        tti: fields.tti,
        terminalId: fields.terminalId,
        date: fields.date,
        time: fields.time,
      }),
    );
  }

  /**
   * True when `record.tac` is the TAC card `cardSerial` makes for this purchase (constant-time compare). A
   * purchase record of the machines passes as is: `verifyPurchase(record, record.cardSerial)`.
   * @throws {ArgumentError} `BAD_ARGUMENT` unless `record.tac` is 4 bytes, or on a malformed serial or field.
   */
  verifyPurchase(record: PurchaseTacFields & WithTac, cardSerial: Uint8Array): boolean {
    assertBytes(record?.tac, 'tac', 4);
    return compare(this.purchaseTac(record, cardSerial), record.tac);
  }

  /**
   * True when `record.tac` is the TAC card `cardSerial` makes for this load (constant-time compare).
   * @throws {ArgumentError} `BAD_ARGUMENT` unless `record.tac` is 4 bytes, or on a malformed serial or field.
   */
  verifyLoad(record: LoadTacFields & WithTac, cardSerial: Uint8Array): boolean {
    assertBytes(record?.tac, 'tac', 4);
    return compare(this.loadTac(record, cardSerial), record.tac);
  }

  /** Zeroes the master key schedule; later calls throw `BAD_ARGUMENT`. */
  destroy(): void {
    this.#master.destroy();
  }

  /** Never exposes key material. */
  toJSON(): string {
    return 'IssuerTacVerifier(key [redacted])';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }

  /** Runs `fn` with a MAC keyed with the card's TAC key; DTK, the TAC key and the MAC state are wiped after. */
  #withTacKey<T>(cardSerial: Uint8Array, fn: (key: PbocMac) => T): T {
    const div = diversificationDataOf(cardSerial);
    const dtk = this.#master.diversify(div);
    const key = tacKey(dtk);
    dtk.fill(0);
    let mac: PbocMac;
    try {
      mac = new PbocMac(key);
    } finally {
      key.fill(0);
    }
    try {
      return fn(mac);
    } finally {
      mac.destroy();
    }
  }
}

function compare(expected: Uint8Array, given: Uint8Array): boolean {
  try {
    return equalCt(expected, given);
  } finally {
    expected.fill(0);
  }
}

/**
 * The commands machines send (to the e-purse card and to the PSAM), their APDU builders, and one status table
 * per command that maps a status word to the typed error integrators branch on (STYLE §3.4, Keyple
 * `STATUS_TABLE` style): {@link checkStatus} applies the command's table, then the base table, then the
 * generic {@link statusWordError}.
 *
 * APDU layouts: spec digest a.1/a.2 (card) and a.4 (PSAM). All builders return fresh arrays.
 *
 * @module
 */
import { assertBytes, assertUint } from '../core/bytes';
import { ArgumentError } from '../core/errors';
import {
  ConditionsNotSatisfiedError,
  InsufficientBalanceError,
  type ResponseApdu,
  SecurityStatusError,
  StatusWordError,
  SW,
  statusWordError,
} from '../core/iso7816';
import { CardLockedError, type CommandTarget, MacError } from './errors';

/** Every command a machine sends, with its label and the device it goes to. */
export const MACHINE_COMMANDS = {
  /** `00 A4 04 00` SELECT by name (PPSE, e-purse ADF) — ISO 7816-4 §11.2.2. */
  SELECT: { label: 'SELECT', target: 'card' },
  /** `00 B0 (80|SFI) 00` READ BINARY with short EF identifier (EF 0x15) — digest a.1. */
  READ_BINARY: { label: 'READ BINARY', target: 'card' },
  /** `00 B2 rec (SFI<<3|4)` READ RECORD (EF 0x18 log, transit record) — digest a.1. */
  READ_RECORD: { label: 'READ RECORD', target: 'card' },
  /** `80 5C 00 02 04` GET BALANCE — digest a.2. */
  GET_BALANCE: { label: 'GET BALANCE', target: 'card' },
  /** `00 20 00 00` VERIFY PIN — digest a.2. */
  VERIFY_PIN: { label: 'VERIFY PIN', target: 'card' },
  /** `80 50 01 02 0B` INITIALIZE FOR PURCHASE — digest a.2. */
  INITIALIZE_FOR_PURCHASE: { label: 'INITIALIZE FOR PURCHASE', target: 'card' },
  /** `80 50 03 02 0B` INITIALIZE FOR CAPP PURCHASE — digest a.2. */
  INITIALIZE_FOR_CAPP_PURCHASE: { label: 'INITIALIZE FOR CAPP PURCHASE', target: 'card' },
  /** `80 DC P1 P2` UPDATE CAPP DATA CACHE — digest a.2. */
  UPDATE_CAPP_DATA_CACHE: { label: 'UPDATE CAPP DATA CACHE', target: 'card' },
  /** `80 54 01 00 0F` DEBIT FOR PURCHASE — digest a.2. */
  DEBIT_FOR_PURCHASE: { label: 'DEBIT FOR PURCHASE', target: 'card' },
  /** `80 54 01 00 0F` DEBIT FOR CAPP PURCHASE — digest a.2. */
  DEBIT_FOR_CAPP_PURCHASE: { label: 'DEBIT FOR CAPP PURCHASE', target: 'card' },
  /** `80 50 00 02 0B` INITIALIZE FOR LOAD — digest a.2. */
  INITIALIZE_FOR_LOAD: { label: 'INITIALIZE FOR LOAD', target: 'card' },
  /** `80 52 00 00 0B` CREDIT FOR LOAD — digest a.2. */
  CREDIT_FOR_LOAD: { label: 'CREDIT FOR LOAD', target: 'card' },
  /** `80 5A 00 TTI 02` GET TRANSACTION PROVE — digest a.2, DESIGN §7. */
  GET_TRANSACTION_PROVE: { label: 'GET TRANSACTION PROVE', target: 'card' },
  /** `00 A4` SELECT of the PSAM application (by AID or FID) — digest a.4. */
  PSAM_SELECT: { label: 'PSAM SELECT', target: 'psam' },
  /** `00 B0 96 00 06` read the PSAM terminal ID (EF 0x16) — digest a.4. */
  PSAM_READ_TERMINAL_ID: { label: 'PSAM READ TERMINAL ID', target: 'psam' },
  /** `80 70 00 00 1C/24` INIT_SAM_FOR_PURCHASE (MAC1) — digest a.4. */
  PSAM_INIT_FOR_PURCHASE: { label: 'PSAM INIT FOR PURCHASE', target: 'psam' },
  /** `80 72 00 00 04` CREDIT_SAM_FOR_PURCHASE (check the card's MAC2) — digest a.4. */
  PSAM_CREDIT_FOR_PURCHASE: { label: 'PSAM CREDIT FOR PURCHASE', target: 'psam' },
  /** `80 1A` DES INIT (diversify a key into the PSAM's work key) — digest a.4. */
  PSAM_DES_INIT: { label: 'PSAM DES INIT', target: 'psam' },
  /** `80 FA` DES CRYPT (encrypt / MAC with the work key) — digest a.4. */
  PSAM_DES_CRYPT: { label: 'PSAM DES CRYPT', target: 'psam' },
} as const satisfies Record<string, { label: string; target: CommandTarget }>;

/** Name of a {@link MACHINE_COMMANDS} entry. */
export type MachineCommandName = keyof typeof MACHINE_COMMANDS;

/** Builds the typed error for a status word of a command. */
export type StatusErrorFactory = new (sw: number, command: MachineCommandName) => StatusWordError;

/** One row of a status table: what the SW means for that command and which error it becomes. */
export interface StatusRule {
  readonly text: string;
  readonly error: StatusErrorFactory;
}

/** A status table: status word → rule. */
export type StatusTable = Readonly<Record<number, StatusRule>>;

/** Rules every command shares (an entry of a command's own table overrides it). */
export const BASE_STATUS_TABLE: StatusTable = Object.freeze({
  [SW.APPLICATION_LOCKED]: { text: 'application permanently locked', error: CardLockedError },
  [SW.SELECTED_FILE_INVALIDATED]: { text: 'application blocked', error: CardLockedError },
  [SW.MAC_INVALID]: { text: 'MAC invalid', error: MacError },
  [SW.SECURITY_STATUS_NOT_SATISFIED]: { text: 'security status not satisfied', error: SecurityStatusError },
  [SW.CONDITIONS_NOT_SATISFIED]: { text: 'conditions of use not satisfied', error: ConditionsNotSatisfiedError },
  [SW.INSUFFICIENT_BALANCE]: { text: 'insufficient balance', error: InsufficientBalanceError },
});

const plain: StatusErrorFactory = StatusWordError;
const initPurchase: StatusTable = {
  [SW.INSUFFICIENT_BALANCE]: { text: 'the balance does not cover the amount', error: InsufficientBalanceError },
  [SW.TRANSACTION_COUNTER_MAX]: { text: 'offline counter exhausted', error: plain },
  [SW.KEY_INDEX_NOT_SUPPORTED]: { text: 'purchase key index not supported', error: plain },
};
const debit: StatusTable = {
  [SW.MAC_INVALID]: { text: "the card rejected the PSAM's MAC1", error: MacError },
  [SW.CONDITIONS_NOT_SATISFIED]: { text: 'no open purchase session', error: ConditionsNotSatisfiedError },
};

/** Per-command status tables (rules beyond {@link BASE_STATUS_TABLE}). */
export const STATUS_TABLES: Readonly<Record<MachineCommandName, StatusTable>> = Object.freeze({
  SELECT: { [SW.FILE_NOT_FOUND]: { text: 'application not on this card', error: plain } },
  READ_BINARY: { [SW.FILE_NOT_FOUND]: { text: 'EF 0x15 not found', error: plain } },
  READ_RECORD: { [SW.RECORD_NOT_FOUND]: { text: 'record not found', error: plain } },
  GET_BALANCE: {},
  VERIFY_PIN: { [SW.AUTHENTICATION_METHOD_BLOCKED]: { text: 'PIN blocked', error: SecurityStatusError } },
  INITIALIZE_FOR_PURCHASE: initPurchase,
  INITIALIZE_FOR_CAPP_PURCHASE: initPurchase,
  UPDATE_CAPP_DATA_CACHE: {
    [SW.CONDITIONS_NOT_SATISFIED]: { text: 'no open composite purchase session', error: ConditionsNotSatisfiedError },
    [SW.RECORD_NOT_FOUND]: { text: 'CAPP record not found', error: plain },
  },
  DEBIT_FOR_PURCHASE: debit,
  DEBIT_FOR_CAPP_PURCHASE: debit,
  INITIALIZE_FOR_LOAD: {
    [SW.TRANSACTION_COUNTER_MAX]: { text: 'online counter exhausted', error: plain },
    [SW.KEY_INDEX_NOT_SUPPORTED]: { text: 'load key index not supported', error: plain },
    [SW.SECURITY_STATUS_NOT_SATISFIED]: { text: 'PIN not verified', error: SecurityStatusError },
  },
  CREDIT_FOR_LOAD: {
    [SW.MAC_INVALID]: { text: "the card rejected the issuer's MAC2", error: MacError },
    [SW.CONDITIONS_NOT_SATISFIED]: { text: 'no open load session', error: ConditionsNotSatisfiedError },
  },
  GET_TRANSACTION_PROVE: { [SW.MAC_NOT_AVAILABLE]: { text: 'no proof for that counter', error: plain } },
  PSAM_SELECT: { [SW.FILE_NOT_FOUND]: { text: 'PSAM application not found', error: plain } },
  PSAM_READ_TERMINAL_ID: {},
  PSAM_INIT_FOR_PURCHASE: {
    [SW.REFERENCED_DATA_NOT_FOUND]: { text: 'the PSAM holds no key for this card', error: plain },
  },
  PSAM_CREDIT_FOR_PURCHASE: {
    [SW.MAC_INVALID]: { text: "the PSAM rejected the card's MAC2", error: MacError },
    [SW.CONDITIONS_NOT_SATISFIED]: { text: 'no open PSAM purchase session', error: ConditionsNotSatisfiedError },
  },
  PSAM_DES_INIT: {},
  PSAM_DES_CRYPT: {},
});

/**
 * The typed error for `sw` answered to `command`: the command's rule, else the base rule, else the generic
 * {@link statusWordError}. The rule's text is appended to the message.
 */
export function errorForStatus(command: MachineCommandName, sw: number): StatusWordError {
  const rule = STATUS_TABLES[command][sw] ?? BASE_STATUS_TABLE[sw];
  if (rule === undefined) return statusWordError(sw, command);
  const err = new rule.error(sw, command);
  err.message += ` (${rule.text})`;
  return err;
}

/**
 * Returns `resp` when its SW is 9000; otherwise throws the error of the command's status table.
 * @throws {StatusWordError} `SW_xxxx` (or a subclass: `InsufficientBalanceError`, {@link CardLockedError},
 *   {@link MacError}, `SecurityStatusError`, `ConditionsNotSatisfiedError`).
 */
export function checkStatus(command: MachineCommandName, resp: ResponseApdu): ResponseApdu {
  if (resp.sw !== SW.OK) throw errorForStatus(command, resp.sw);
  return resp;
}

// ---------------------------------------------------------------- APDU builders (card)

/** P2 of the e-purse commands: 01 = electronic deposit (ED), 02 = electronic purse (EP). */
export type PurseKind = 0x01 | 0x02;

function apdu(cla: number, ins: number, p1: number, p2: number, data: Uint8Array | undefined, le?: number): Uint8Array {
  const nc = data === undefined ? 0 : data.length;
  const out = new Uint8Array(4 + (nc > 0 ? 1 + nc : 0) + (le === undefined ? 0 : 1));
  out[0] = cla;
  out[1] = ins;
  out[2] = p1;
  out[3] = p2;
  if (data !== undefined && nc > 0) {
    out[4] = nc;
    out.set(data, 5);
  }
  if (le !== undefined) out[out.length - 1] = le & 0xff;
  return out;
}

/**
 * `00 A4 04 00 Lc name 00`: SELECT by DF name (first or only occurrence).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `name` is 1..16 bytes.
 */
export function selectByNameApdu(name: Uint8Array): Uint8Array {
  assertBytes(name, 'name');
  if (name.length < 1 || name.length > 16) throw new ArgumentError(`name: expected 1..16 bytes, got ${name.length}`);
  return apdu(0x00, 0xa4, 0x04, 0x00, name, 0x00);
}

/**
 * `00 A4 00 00 02 FID 00`: SELECT by file identifier.
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `fid` is 2 bytes.
 */
export function selectByFidApdu(fid: Uint8Array): Uint8Array {
  assertBytes(fid, 'fid', 2);
  return apdu(0x00, 0xa4, 0x00, 0x00, fid, 0x00);
}

/**
 * `00 B0 (80|SFI) offset Le`: READ BINARY by short EF identifier.
 * @throws {ArgumentError} `BAD_ARGUMENT` on SFI outside 1..30, offset outside 0..255 or Le outside 0..255.
 */
export function readBinarySfiApdu(sfi: number, offset: number, le: number): Uint8Array {
  assertUint(sfi, 'sfi', 30);
  assertUint(offset, 'offset', 0xff);
  assertUint(le, 'le', 0xff);
  return apdu(0x00, 0xb0, 0x80 | sfi, offset, undefined, le);
}

/**
 * `00 B2 record (SFI<<3|4) Le`: READ RECORD by record number.
 * @throws {ArgumentError} `BAD_ARGUMENT` on record outside 1..254, SFI outside 1..30 or Le outside 0..255.
 */
export function readRecordApdu(record: number, sfi: number, le = 0): Uint8Array {
  assertUint(record, 'record', 0xfe);
  assertUint(sfi, 'sfi', 30);
  assertUint(le, 'le', 0xff);
  return apdu(0x00, 0xb2, record, (sfi << 3) | 0x04, undefined, le);
}

/** `80 5C 00 P2 04`: GET BALANCE. */
export function getBalanceApdu(kind: PurseKind = 0x02): Uint8Array {
  return apdu(0x80, 0x5c, 0x00, kind, undefined, 0x04);
}

/**
 * `00 20 00 00 Lc PIN`: VERIFY with the PIN as packed BCD digits (odd lengths padded with F).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `pin` is 4..12 decimal digits.
 */
export function verifyPinApdu(pin: string): Uint8Array {
  if (typeof pin !== 'string' || !/^[0-9]{4,12}$/.test(pin)) throw new ArgumentError('pin: expected 4..12 digits');
  const digits = pin.length % 2 === 0 ? pin : `${pin}F`;
  const data = new Uint8Array(digits.length / 2);
  for (let i = 0; i < data.length; i++) data[i] = Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return apdu(0x00, 0x20, 0x00, 0x00, data);
}

/** What INITIALIZE FOR LOAD / PURCHASE / CAPP PURCHASE selects (P1 of `80 50`). */
export const INITIALIZE_P1 = { LOAD: 0x00, PURCHASE: 0x01, CAPP_PURCHASE: 0x03 } as const;

/**
 * `80 50 P1 P2 0B keyIndex(1) amount(4) terminalId(6) Le`: INITIALIZE FOR LOAD (Le 10) / PURCHASE /
 * CAPP PURCHASE (Le 0F).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range key index or amount, or a terminal ID not 6 bytes.
 */
export function initializeApdu(
  p1: (typeof INITIALIZE_P1)[keyof typeof INITIALIZE_P1],
  keyIndex: number,
  amount: number,
  terminalId: Uint8Array,
  kind: PurseKind = 0x02,
): Uint8Array {
  assertUint(keyIndex, 'keyIndex', 0xff);
  assertUint(amount, 'amount', 0xffffffff);
  assertBytes(terminalId, 'terminalId', 6);
  const out = apdu(0x80, 0x50, p1, kind, new Uint8Array(11), p1 === INITIALIZE_P1.LOAD ? 0x10 : 0x0f);
  out[5] = keyIndex;
  writeU32(out, 6, amount);
  out.set(terminalId, 10);
  return out;
}

/**
 * `80 54 01 00 0F terminalTxnSeq(4) date(4) time(3) MAC1(4) 08`: DEBIT FOR PURCHASE / DEBIT FOR CAPP PURCHASE.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad sequence number or a wrong-length field.
 */
export function debitApdu(terminalTxnSeq: number, date: Uint8Array, time: Uint8Array, mac1: Uint8Array): Uint8Array {
  assertUint(terminalTxnSeq, 'terminalTxnSeq', 0xffffffff);
  assertBytes(date, 'date', 4);
  assertBytes(time, 'time', 3);
  assertBytes(mac1, 'mac1', 4);
  const out = apdu(0x80, 0x54, 0x01, 0x00, new Uint8Array(15), 0x08);
  writeU32(out, 5, terminalTxnSeq);
  out.set(date, 9);
  out.set(time, 13);
  out.set(mac1, 16);
  return out;
}

/**
 * `80 52 00 00 0B date(4) time(3) MAC2(4) 04`: CREDIT FOR LOAD.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a wrong-length field.
 */
export function creditForLoadApdu(date: Uint8Array, time: Uint8Array, mac2: Uint8Array): Uint8Array {
  assertBytes(date, 'date', 4);
  assertBytes(time, 'time', 3);
  assertBytes(mac2, 'mac2', 4);
  const out = apdu(0x80, 0x52, 0x00, 0x00, new Uint8Array(11), 0x04);
  out.set(date, 5);
  out.set(time, 9);
  out.set(mac2, 12);
  return out;
}

/**
 * `80 DC P1 P2 Lc record`: UPDATE CAPP DATA CACHE. With `recordId` addressing (default) P1 is the record
 * identifier and P2 = SFI<<3; with `recordNumber` addressing P2 = SFI<<3 | 4.
 * @throws {ArgumentError} `BAD_ARGUMENT` on SFI outside 1..30, P1 outside 0..255 or a record of 0 / > 255 bytes.
 */
export function updateCappDataCacheApdu(
  sfi: number,
  p1: number,
  record: Uint8Array,
  addressing: 'recordId' | 'recordNumber' = 'recordId',
): Uint8Array {
  assertUint(sfi, 'sfi', 30);
  assertUint(p1, 'p1', 0xff);
  assertBytes(record, 'record');
  if (record.length < 1 || record.length > 255)
    throw new ArgumentError(`record: expected 1..255 bytes, got ${record.length}`);
  return apdu(0x80, 0xdc, p1, (sfi << 3) | (addressing === 'recordId' ? 0 : 4), record);
}

/**
 * `80 5A 00 TTI 02 counter(2) 08`: GET TRANSACTION PROVE for the transaction that used `counter`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a TTI outside 0..255 or a counter outside 0..65535.
 */
export function getTransactionProveApdu(tti: number, counter: number): Uint8Array {
  assertUint(tti, 'tti', 0xff);
  assertUint(counter, 'counter', 0xffff);
  const out = apdu(0x80, 0x5a, 0x00, tti, new Uint8Array(2), 0x08);
  out[5] = counter >>> 8;
  out[6] = counter & 0xff;
  return out;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

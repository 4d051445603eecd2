/**
 * The commands machines send (to the e-purse card and to the PSAM), their APDU builders, and one status table
 * per command that maps a status word to the typed error integrators branch on (STYLE §3.4, Keyple
 * `STATUS_TABLE` style): {@link checkStatus} applies the command's table, then the base table, then the
 * generic {@link statusWordError}.
 *
 * The bytes are the core's: CLA, INS, P1 and P2 come from its instruction table (`PBOC_COMMANDS`, built with
 * `pbocApdu`) and every data field from its codecs (`@simtap/sdk/core/pboc`), the ones the card decodes them with.
 * All builders return fresh arrays.
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
import {
  balanceResponse,
  creditForLoadCommandData,
  creditForLoadResponse,
  debitCommandData,
  debitResponse,
  encodePinBlock,
  initForLoadResponse,
  initForPurchaseResponse,
  initializeCommandData,
  PBOC_COMMANDS,
  type PbocCommandName,
  pbocApdu,
  transactionProveCommandData,
  transactionProveResponse,
} from '../core/pboc';
import { CardLockedError, MacError } from './errors';

/** The names of the commands machines send: the core's rows but the issuer's and the card holder's own. */
const MACHINE_COMMAND_NAMES = [
  'SELECT',
  'READ_BINARY',
  'READ_RECORD',
  'GET_BALANCE',
  'VERIFY_PIN',
  'INITIALIZE_FOR_PURCHASE',
  'INITIALIZE_FOR_CAPP_PURCHASE',
  'UPDATE_CAPP_DATA_CACHE',
  'DEBIT_FOR_PURCHASE',
  'DEBIT_FOR_CAPP_PURCHASE',
  'INITIALIZE_FOR_LOAD',
  'CREDIT_FOR_LOAD',
  'GET_TRANSACTION_PROVE',
  'PSAM_SELECT',
  'PSAM_READ_TERMINAL_ID',
  'PSAM_INIT_FOR_PURCHASE',
  'PSAM_CREDIT_FOR_PURCHASE',
  'PSAM_DES_INIT',
  'PSAM_DES_CRYPT',
] as const satisfies readonly PbocCommandName[];

/** Name of a command machines send (a row of {@link MACHINE_COMMANDS}). */
export type MachineCommandName = (typeof MACHINE_COMMAND_NAMES)[number];

/**
 * Every command a machine sends: its row of the core's `PBOC_COMMANDS` (label, bytes, and `device`, the card or
 * the PSAM it goes to).
 */
export const MACHINE_COMMANDS: { readonly [K in MachineCommandName]: (typeof PBOC_COMMANDS)[K] } =
  /* @__PURE__ */ Object.freeze(
    Object.fromEntries(MACHINE_COMMAND_NAMES.map((n) => [n, PBOC_COMMANDS[n]])) as {
      [K in MachineCommandName]: (typeof PBOC_COMMANDS)[K];
    },
  );

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
 * Checks that `command` names a {@link MACHINE_COMMANDS} entry (callers from JavaScript get no type check).
 * @throws {ArgumentError} `BAD_ARGUMENT` otherwise, listing the names.
 */
function assertCommandName(command: unknown): asserts command is MachineCommandName {
  if (typeof command !== 'string' || !Object.hasOwn(MACHINE_COMMANDS, command))
    throw new ArgumentError(
      `command: expected one of ${Object.keys(MACHINE_COMMANDS).join(', ')}, got ${
        typeof command === 'string' ? `"${command}"` : typeof command
      }`,
    );
}

/**
 * The typed error for `sw` answered to `command`: the command's rule, else the base rule, else the generic
 * {@link statusWordError}. The rule's text is appended to the message.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `command` is not a {@link MachineCommandName} or `sw` is not 0..FFFF.
 */
export function errorForStatus(command: MachineCommandName, sw: number): StatusWordError {
  assertCommandName(command);
  assertUint(sw, 'sw', 0xffff);
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
 * @throws {ArgumentError} `BAD_ARGUMENT` when `command` is not a {@link MachineCommandName} or `resp` is not a
 *   response (`{ sw }` with `sw` 0..FFFF).
 */
export function checkStatus(command: MachineCommandName, resp: ResponseApdu): ResponseApdu {
  assertCommandName(command);
  if (typeof resp !== 'object' || resp === null) throw new ArgumentError('resp: expected a ResponseApdu');
  assertUint(resp.sw, 'resp.sw', 0xffff);
  if (resp.sw !== SW.OK) throw errorForStatus(command, resp.sw);
  return resp;
}

// ---------------------------------------------------------------- APDU builders (card)

/** P2 of the e-purse commands: 01 = electronic deposit (ED), 02 = electronic purse (EP). */
export type PurseKind = 0x01 | 0x02;

function assertPurseKind(kind: unknown): asserts kind is PurseKind {
  if (kind !== 0x01 && kind !== 0x02) throw new ArgumentError(`kind: expected 1 (ED) or 2 (EP), got ${String(kind)}`);
}

/**
 * `00 A4 04 00 Lc name 00`: SELECT by DF name (first or only occurrence).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `name` is 1..16 bytes.
 */
export function selectByNameApdu(name: Uint8Array): Uint8Array {
  assertBytes(name, 'name');
  if (name.length < 1 || name.length > 16) throw new ArgumentError(`name: expected 1..16 bytes, got ${name.length}`);
  return pbocApdu('SELECT', { p1: 0x04, data: name, le: 0x00 });
}

/**
 * `00 A4 00 00 02 FID 00`: SELECT by file identifier.
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `fid` is 2 bytes.
 */
export function selectByFidApdu(fid: Uint8Array): Uint8Array {
  assertBytes(fid, 'fid', 2);
  return pbocApdu('SELECT', { p1: 0x00, data: fid, le: 0x00 });
}

/**
 * `00 B0 (80|SFI) offset Le`: READ BINARY by short EF identifier.
 * @throws {ArgumentError} `BAD_ARGUMENT` on SFI outside 1..30, offset outside 0..255 or Le outside 0..255.
 */
export function readBinarySfiApdu(sfi: number, offset: number, le: number): Uint8Array {
  assertUint(sfi, 'sfi', 30);
  assertUint(offset, 'offset', 0xff);
  assertUint(le, 'le', 0xff);
  return pbocApdu('READ_BINARY', { p1: 0x80 | sfi, p2: offset, le });
}

/**
 * `00 B2 record (SFI<<3|4) Le`: READ RECORD by record number.
 * @throws {ArgumentError} `BAD_ARGUMENT` on record outside 1..254, SFI outside 1..30 or Le outside 0..255.
 */
export function readRecordApdu(record: number, sfi: number, le = 0): Uint8Array {
  assertUint(record, 'record', 0xfe);
  assertUint(sfi, 'sfi', 30);
  assertUint(le, 'le', 0xff);
  return pbocApdu('READ_RECORD', { p1: record, p2: (sfi << 3) | 0x04, le });
}

/**
 * `80 5C 00 P2 04`: GET BALANCE.
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `kind` is 1 (ED) or 2 (EP).
 */
export function getBalanceApdu(kind: PurseKind = 0x02): Uint8Array {
  assertPurseKind(kind);
  return pbocApdu('GET_BALANCE', { p2: kind, le: balanceResponse.length });
}

/**
 * `00 20 00 00 Lc PIN`: VERIFY with the PIN as packed BCD digits (odd lengths padded with F).
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `pin` is 4..12 decimal digits.
 */
export function verifyPinApdu(pin: string): Uint8Array {
  return pbocApdu('VERIFY_PIN', { data: encodePinBlock(pin) });
}

/** What INITIALIZE FOR LOAD / PURCHASE / CAPP PURCHASE selects (P1 of `80 50`, from the core's rows). */
export const INITIALIZE_P1 = {
  LOAD: PBOC_COMMANDS.INITIALIZE_FOR_LOAD.p1,
  PURCHASE: PBOC_COMMANDS.INITIALIZE_FOR_PURCHASE.p1,
  CAPP_PURCHASE: PBOC_COMMANDS.INITIALIZE_FOR_CAPP_PURCHASE.p1,
} as const;

/**
 * `80 50 P1 P2 0B keyIndex(1) amount(4) terminalId(6) Le`: INITIALIZE FOR LOAD (Le 10) / PURCHASE /
 * CAPP PURCHASE (Le 0F); the data is the core's `initializeCommandData`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on a P1 not in {@link INITIALIZE_P1}, a kind not 1/2 (CAPP: 2 only), an
 *   out-of-range key index or amount, or a terminal ID not 6 bytes.
 */
export function initializeApdu(
  p1: (typeof INITIALIZE_P1)[keyof typeof INITIALIZE_P1],
  keyIndex: number,
  amount: number,
  terminalId: Uint8Array,
  kind: PurseKind = 0x02,
): Uint8Array {
  if (p1 !== INITIALIZE_P1.LOAD && p1 !== INITIALIZE_P1.PURCHASE && p1 !== INITIALIZE_P1.CAPP_PURCHASE)
    throw new ArgumentError(`p1: expected 0 (load), 1 (purchase) or 3 (CAPP purchase), got ${String(p1)}`);
  assertPurseKind(kind);
  const data = initializeCommandData.encode({ keyIndex, amount, terminalId });
  if (p1 === INITIALIZE_P1.LOAD)
    return pbocApdu('INITIALIZE_FOR_LOAD', { p2: kind, data, le: initForLoadResponse.length });
  const name = p1 === INITIALIZE_P1.PURCHASE ? 'INITIALIZE_FOR_PURCHASE' : 'INITIALIZE_FOR_CAPP_PURCHASE';
  return pbocApdu(name, { p2: kind, data, le: initForPurchaseResponse.length });
}

/**
 * `80 54 01 00 0F terminalTxnSeq(4) date(4) time(3) MAC1(4) 08`: DEBIT FOR PURCHASE / DEBIT FOR CAPP PURCHASE (the
 * core's `debitCommandData`).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a bad sequence number or a wrong-length field.
 */
export function debitApdu(terminalTxnSeq: number, date: Uint8Array, time: Uint8Array, mac1: Uint8Array): Uint8Array {
  const data = debitCommandData.encode({ terminalTxnSeq, date, time, mac1 });
  return pbocApdu('DEBIT_FOR_PURCHASE', { data, le: debitResponse.length });
}

/**
 * `80 52 00 00 0B date(4) time(3) MAC2(4) 04`: CREDIT FOR LOAD (the core's `creditForLoadCommandData`).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a wrong-length field.
 */
export function creditForLoadApdu(date: Uint8Array, time: Uint8Array, mac2: Uint8Array): Uint8Array {
  const data = creditForLoadCommandData.encode({ date, time, mac2 });
  return pbocApdu('CREDIT_FOR_LOAD', { data, le: creditForLoadResponse.length });
}

/**
 * `80 DC P1 P2 Lc record`: UPDATE CAPP DATA CACHE. With `recordId` addressing (default) P1 is the record
 * identifier and P2 = SFI<<3; with `recordNumber` addressing P2 = SFI<<3 | 4.
 * @throws {ArgumentError} `BAD_ARGUMENT` on SFI outside 1..30, P1 outside 0..255, a record of 0 / > 255 bytes or
 *   an addressing other than `'recordId'` / `'recordNumber'`.
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
  if (addressing !== 'recordId' && addressing !== 'recordNumber')
    throw new ArgumentError("addressing: expected 'recordId' or 'recordNumber'");
  return pbocApdu('UPDATE_CAPP_DATA_CACHE', { p1, p2: (sfi << 3) | (addressing === 'recordId' ? 0 : 4), data: record });
}

/**
 * `80 5A 00 TTI 02 counter(2) 08`: GET TRANSACTION PROVE for the transaction that used `counter` (the core's
 * `transactionProveCommandData`).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a TTI outside 0..255 or a counter outside 0..65535.
 */
export function getTransactionProveApdu(tti: number, counter: number): Uint8Array {
  assertUint(tti, 'tti', 0xff);
  const data = transactionProveCommandData.encode({ counter });
  return pbocApdu('GET_TRANSACTION_PROVE', { p2: tti, data, le: transactionProveResponse.length });
}

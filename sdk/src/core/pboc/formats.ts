/**
 * PBOC / JR/T 0025 e-purse data formats: transaction type identifiers, the data fields of the INITIALIZE /
 * CREDIT / DEBIT commands and responses, EF 0x15 (public application basic data) and the EF 0x18
 * transaction log record. Every codec has a fixed length, rejects any other length with a `ParseError`,
 * and carries `examples` (`[hex, decoded]`) for round-trip tests and docs.
 *
 * Numbers are unsigned big-endian (amounts and balances in fen, 4 bytes); identifiers, dates (4 BCD bytes
 * YYYYMMDD), times (3 BCD bytes hhmmss), randoms and MACs stay raw bytes, so a decoder never rejects what a
 * real card stored.
 *
 * @module
 */
import { assertBytes, assertUint, fromHex, readUint } from '../bytes';
import { ParseError } from '../errors';

/** Transaction type identifiers (TTI), JR/T 0025 / spec digest a.1. */
export const TTI = {
  /** Electronic deposit (ED) load. */
  ED_LOAD: 0x01,
  /** Electronic purse (EP) load. */
  EP_LOAD: 0x02,
  /** Unload (ED). */
  UNLOAD: 0x03,
  /** ED withdrawal. */
  ED_WITHDRAWAL: 0x04,
  /** ED purchase. */
  ED_PURCHASE: 0x05,
  /** EP purchase. */
  EP_PURCHASE: 0x06,
  /** Overdraft-limit update. */
  OVERDRAFT_LIMIT_UPDATE: 0x07,
  /** Composite application (CAPP, transit) purchase. */
  CAPP_PURCHASE: 0x09,
} as const;
/** Name of a {@link TTI} entry. */
export type TtiName = keyof typeof TTI;

/** A fixed-length PBOC data codec with its round-trip examples. */
export interface PbocCodec<T> {
  /** Short name used in error messages and docs. */
  readonly name: string;
  /** The encoded length in bytes. */
  readonly length: number;
  /** @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range field. */
  encode(value: T): Uint8Array;
  /** @throws {ParseError} `PBOC_BAD_LENGTH` unless `bytes` has exactly {@link PbocCodec.length} bytes. */
  decode(bytes: Uint8Array): T;
  /** `[hex, decoded]` pairs: decode(hex) equals decoded and encode(decoded) equals hex. */
  readonly examples: ReadonlyArray<readonly [string, T]>;
}

type Field<T> =
  | { key: keyof T & string; kind: 'uint'; size: number }
  | { key: keyof T & string; kind: 'bytes'; size: number };

function defineCodec<T extends object>(
  name: string,
  fields: ReadonlyArray<Field<T>>,
  examples: ReadonlyArray<readonly [string, T]>,
): PbocCodec<T> {
  const length = fields.reduce((n, f) => n + f.size, 0);
  return Object.freeze({
    name,
    length,
    examples,
    encode(value: T): Uint8Array {
      const out = new Uint8Array(length);
      let off = 0;
      for (const f of fields) {
        const v = (value as Record<string, unknown>)[f.key];
        if (f.kind === 'uint') {
          assertUint(v, `${name}.${f.key}`, 2 ** (8 * f.size) - 1);
          for (let i = f.size - 1, x = v; i >= 0; i--, x = Math.floor(x / 256)) out[off + i] = x % 256;
        } else {
          assertBytes(v, `${name}.${f.key}`, f.size);
          out.set(v, off);
        }
        off += f.size;
      }
      return out;
    },
    decode(bytes: Uint8Array): T {
      if (!(bytes instanceof Uint8Array)) throw new ParseError('PBOC_BAD_LENGTH', `${name}: expected bytes`);
      if (bytes.length !== length)
        throw new ParseError('PBOC_BAD_LENGTH', `${name}: expected ${length} bytes, got ${bytes.length}`);
      const out: Record<string, unknown> = {};
      let off = 0;
      for (const f of fields) {
        out[f.key] = f.kind === 'uint' ? readUint(bytes, off, f.size) : bytes.slice(off, off + f.size);
        off += f.size;
      }
      return out as T;
    },
  });
}

const h = fromHex;

// ---------------------------------------------------------------- command data

/** Data field of INITIALIZE FOR LOAD / PURCHASE / CAPP PURCHASE (`80 50 P1 P2 0B`). */
export interface InitializeCommandData {
  keyIndex: number;
  amount: number;
  terminalId: Uint8Array;
}

/** INITIALIZE command data: keyIndex(1) ‖ amount(4) ‖ terminalId(6) = 11 bytes. */
export const initializeCommandData: PbocCodec<InitializeCommandData> = defineCodec(
  'InitializeCommandData',
  [
    { key: 'keyIndex', kind: 'uint', size: 1 },
    { key: 'amount', kind: 'uint', size: 4 },
    { key: 'terminalId', kind: 'bytes', size: 6 },
  ],
  [['0100001000001122334455', { keyIndex: 1, amount: 0x1000, terminalId: h('001122334455') }]],
);

/** Data field of CREDIT FOR LOAD (`80 52 00 00 0B`). */
export interface CreditForLoadCommandData {
  date: Uint8Array;
  time: Uint8Array;
  mac2: Uint8Array;
}

/** CREDIT FOR LOAD command data: date(4) ‖ time(3) ‖ MAC2(4) = 11 bytes. */
export const creditForLoadCommandData: PbocCodec<CreditForLoadCommandData> = defineCodec(
  'CreditForLoadCommandData',
  [
    { key: 'date', kind: 'bytes', size: 4 },
    { key: 'time', kind: 'bytes', size: 3 },
    { key: 'mac2', kind: 'bytes', size: 4 },
  ],
  [['201112212148223A845BF0', { date: h('20111221'), time: h('214822'), mac2: h('3A845BF0') }]],
);

/** Data field of DEBIT FOR PURCHASE / DEBIT FOR CAPP PURCHASE (`80 54 01 00 0F`). */
export interface DebitCommandData {
  terminalTxnSeq: number;
  date: Uint8Array;
  time: Uint8Array;
  mac1: Uint8Array;
}

/** DEBIT command data: terminalTxnSeq(4) ‖ date(4) ‖ time(3) ‖ MAC1(4) = 15 bytes. */
export const debitCommandData: PbocCodec<DebitCommandData> = defineCodec(
  'DebitCommandData',
  [
    { key: 'terminalTxnSeq', kind: 'uint', size: 4 },
    { key: 'date', kind: 'bytes', size: 4 },
    { key: 'time', kind: 'bytes', size: 3 },
    { key: 'mac1', kind: 'bytes', size: 4 },
  ],
  [
    [
      '0000000120120229135100F15CAB75',
      { terminalTxnSeq: 1, date: h('20120229'), time: h('135100'), mac1: h('F15CAB75') },
    ],
  ],
);

// ---------------------------------------------------------------- responses

/** Response data of INITIALIZE FOR LOAD. */
export interface InitForLoadResponse {
  oldBalance: number;
  /** Online counter before this load. */
  onlineCounter: number;
  keyVersion: number;
  algorithmId: number;
  random: Uint8Array;
  mac1: Uint8Array;
}

/** INITIALIZE FOR LOAD response: oldBalance(4) ‖ onlineCtr(2) ‖ keyVer(1) ‖ algId(1) ‖ random(4) ‖ MAC1(4) = 16 bytes. */
export const initForLoadResponse: PbocCodec<InitForLoadResponse> = defineCodec(
  'InitForLoadResponse',
  [
    { key: 'oldBalance', kind: 'uint', size: 4 },
    { key: 'onlineCounter', kind: 'uint', size: 2 },
    { key: 'keyVersion', kind: 'uint', size: 1 },
    { key: 'algorithmId', kind: 'uint', size: 1 },
    { key: 'random', kind: 'bytes', size: 4 },
    { key: 'mac1', kind: 'bytes', size: 4 },
  ],
  [
    [
      '0000000000000200112233442988AE5A',
      { oldBalance: 0, onlineCounter: 0, keyVersion: 2, algorithmId: 0, random: h('11223344'), mac1: h('2988AE5A') },
    ],
    [
      '000186A0FFFE0101A1B2C3D401020304',
      {
        oldBalance: 100000,
        onlineCounter: 0xfffe,
        keyVersion: 1,
        algorithmId: 1,
        random: h('A1B2C3D4'),
        mac1: h('01020304'),
      },
    ],
  ],
);

/** Response data of INITIALIZE FOR PURCHASE and INITIALIZE FOR CAPP PURCHASE. */
export interface InitForPurchaseResponse {
  balance: number;
  /** Offline counter before this purchase. */
  offlineCounter: number;
  overdraftLimit: number;
  keyVersion: number;
  algorithmId: number;
  random: Uint8Array;
}

/**
 * INITIALIZE FOR PURCHASE / CAPP PURCHASE response: balance(4) ‖ offlineCtr(2) ‖ overdraftLimit(3) ‖
 * keyVer(1) ‖ algId(1) ‖ random(4) = 15 bytes.
 */
export const initForPurchaseResponse: PbocCodec<InitForPurchaseResponse> = defineCodec(
  'InitForPurchaseResponse',
  [
    { key: 'balance', kind: 'uint', size: 4 },
    { key: 'offlineCounter', kind: 'uint', size: 2 },
    { key: 'overdraftLimit', kind: 'uint', size: 3 },
    { key: 'keyVersion', kind: 'uint', size: 1 },
    { key: 'algorithmId', kind: 'uint', size: 1 },
    { key: 'random', kind: 'bytes', size: 4 },
  ],
  [
    [
      '000000000000000000010011223344',
      { balance: 0, offlineCounter: 0, overdraftLimit: 0, keyVersion: 1, algorithmId: 0, random: h('11223344') },
    ],
    [
      '00002710002A0003E80100DEADBEEF',
      {
        balance: 10000,
        offlineCounter: 42,
        overdraftLimit: 1000,
        keyVersion: 1,
        algorithmId: 0,
        random: h('DEADBEEF'),
      },
    ],
  ],
);

/** Response data of DEBIT FOR PURCHASE / DEBIT FOR CAPP PURCHASE. */
export interface DebitResponse {
  tac: Uint8Array;
  mac2: Uint8Array;
}

/** DEBIT response: TAC(4) ‖ MAC2(4) = 8 bytes. */
export const debitResponse: PbocCodec<DebitResponse> = defineCodec(
  'DebitResponse',
  [
    { key: 'tac', kind: 'bytes', size: 4 },
    { key: 'mac2', kind: 'bytes', size: 4 },
  ],
  [['1122334456988A13', { tac: h('11223344'), mac2: h('56988A13') }]],
);

// ---------------------------------------------------------------- files

/** EF 0x15, public application basic data (JT/T 978 / JR/T 0025). */
export interface Ef15 {
  /** Issuer identifier (8 bytes, e.g. city/issuer code). */
  issuerId: Uint8Array;
  applicationType: number;
  applicationVersion: number;
  /** Application serial number (10 BCD bytes); its rightmost 8 bytes diversify the card keys. */
  applicationSerial: Uint8Array;
  /** Start date YYYYMMDD (4 BCD bytes). */
  startDate: Uint8Array;
  /** Expiry date YYYYMMDD (4 BCD bytes). */
  expiryDate: Uint8Array;
  /** Issuer-defined FCI data (2 bytes). */
  fciCustom: Uint8Array;
}

/** EF 0x15: issuerId(8) ‖ appType(1) ‖ appVersion(1) ‖ serial(10) ‖ start(4) ‖ expiry(4) ‖ fciCustom(2) = 30 bytes. */
export const ef15: PbocCodec<Ef15> = defineCodec(
  'Ef15',
  [
    { key: 'issuerId', kind: 'bytes', size: 8 },
    { key: 'applicationType', kind: 'uint', size: 1 },
    { key: 'applicationVersion', kind: 'uint', size: 1 },
    { key: 'applicationSerial', kind: 'bytes', size: 10 },
    { key: 'startDate', kind: 'bytes', size: 4 },
    { key: 'expiryDate', kind: 'bytes', size: 4 },
    { key: 'fciCustom', kind: 'bytes', size: 2 },
  ],
  [
    [
      '440100000000000002010000440120260000000120260101203612310000',
      {
        issuerId: h('4401000000000000'),
        applicationType: 2,
        applicationVersion: 1,
        applicationSerial: h('00004401202600000001'),
        startDate: h('20260101'),
        expiryDate: h('20361231'),
        fciCustom: h('0000'),
      },
    ],
  ],
);

/** One EF 0x18 transaction detail record. */
export interface TransactionLogRecord {
  /** The online or offline counter value the transaction used (before increment). */
  counter: number;
  overdraftLimit: number;
  amount: number;
  tti: number;
  terminalId: Uint8Array;
  /** YYYYMMDD, 4 BCD bytes. */
  date: Uint8Array;
  /** hhmmss, 3 BCD bytes. */
  time: Uint8Array;
}

/**
 * EF 0x18 record: counter(2) ‖ overdraftLimit(3) ‖ amount(4) ‖ TTI(1) ‖ terminalId(6) ‖ date(4) ‖ time(3)
 * = 23 bytes (newest is record 1).
 */
export const transactionLogRecord: PbocCodec<TransactionLogRecord> = defineCodec(
  'TransactionLogRecord',
  [
    { key: 'counter', kind: 'uint', size: 2 },
    { key: 'overdraftLimit', kind: 'uint', size: 3 },
    { key: 'amount', kind: 'uint', size: 4 },
    { key: 'tti', kind: 'uint', size: 1 },
    { key: 'terminalId', kind: 'bytes', size: 6 },
    { key: 'date', kind: 'bytes', size: 4 },
    { key: 'time', kind: 'bytes', size: 3 },
  ],
  [
    // A real T-Union record (spec digest a.1): counter 042D, 5.00 yuan composite purchase.
    [
      '042D000000000001F40930008900034020241229141740',
      {
        counter: 0x042d,
        overdraftLimit: 0,
        amount: 500,
        tti: TTI.CAPP_PURCHASE,
        terminalId: h('300089000340'),
        date: h('20241229'),
        time: h('141740'),
      },
    ],
  ],
);

/** Every codec of this module, for generic round-trip tests and generated docs. */
export const PBOC_CODECS: ReadonlyArray<PbocCodec<object>> = [
  initializeCommandData,
  creditForLoadCommandData,
  debitCommandData,
  initForLoadResponse,
  initForPurchaseResponse,
  debitResponse,
  ef15,
  transactionLogRecord,
] as ReadonlyArray<PbocCodec<object>>;

/**
 * Decodes an INITIALIZE FOR LOAD response data field (16 bytes, without SW).
 * @throws {ParseError} `PBOC_BAD_LENGTH` on any other length.
 */
export const decodeInitForLoadResponse = (b: Uint8Array): InitForLoadResponse => initForLoadResponse.decode(b);
/** Encodes an INITIALIZE FOR LOAD response data field. @throws {ArgumentError} `BAD_ARGUMENT` on a bad field. */
export const encodeInitForLoadResponse = (v: InitForLoadResponse): Uint8Array => initForLoadResponse.encode(v);
/**
 * Decodes an INITIALIZE FOR PURCHASE / CAPP PURCHASE response data field (15 bytes).
 * @throws {ParseError} `PBOC_BAD_LENGTH` on any other length.
 */
export const decodeInitForPurchaseResponse = (b: Uint8Array): InitForPurchaseResponse =>
  initForPurchaseResponse.decode(b);
/** Encodes an INITIALIZE FOR PURCHASE response data field. @throws {ArgumentError} `BAD_ARGUMENT` on a bad field. */
export const encodeInitForPurchaseResponse = (v: InitForPurchaseResponse): Uint8Array =>
  initForPurchaseResponse.encode(v);
/** Decodes a DEBIT response (TAC ‖ MAC2). @throws {ParseError} `PBOC_BAD_LENGTH` unless 8 bytes. */
export const decodeDebitResponse = (b: Uint8Array): DebitResponse => debitResponse.decode(b);
/** Encodes a DEBIT response. @throws {ArgumentError} `BAD_ARGUMENT` on a bad field. */
export const encodeDebitResponse = (v: DebitResponse): Uint8Array => debitResponse.encode(v);
/** Decodes EF 0x15 (30 bytes). @throws {ParseError} `PBOC_BAD_LENGTH` on any other length. */
export const decodeEf15 = (b: Uint8Array): Ef15 => ef15.decode(b);
/** Encodes EF 0x15. @throws {ArgumentError} `BAD_ARGUMENT` on a bad field. */
export const encodeEf15 = (v: Ef15): Uint8Array => ef15.encode(v);
/** Decodes an EF 0x18 record (23 bytes). @throws {ParseError} `PBOC_BAD_LENGTH` on any other length. */
export const decodeTransactionLogRecord = (b: Uint8Array): TransactionLogRecord => transactionLogRecord.decode(b);
/** Encodes an EF 0x18 record. @throws {ArgumentError} `BAD_ARGUMENT` on a bad field. */
export const encodeTransactionLogRecord = (v: TransactionLogRecord): Uint8Array => transactionLogRecord.encode(v);

/** The 8 bytes that diversify the card keys: the rightmost 8 bytes of the 10-byte application serial. */
export function diversificationDataOf(applicationSerial: Uint8Array): Uint8Array {
  assertBytes(applicationSerial, 'applicationSerial', 10);
  return applicationSerial.slice(2);
}

/**
 * PBOC / JR/T 0025 e-purse and PSAM data formats — the one home of their byte layouts, which the card
 * (`applet-emu`), the PSAM and the machines all use: transaction type identifiers, the e-purse's files and their
 * SFIs, the data fields of the e-purse commands (INITIALIZE, CREDIT FOR LOAD, DEBIT, GET TRANSACTION PROVE) and
 * of the PSAM's (INIT SAM FOR PURCHASE, CREDIT SAM FOR PURCHASE) and their answers, EF 0x15 (public application
 * basic data), the EF 0x18 transaction log record and the transit travel record of the CAPP file. Every codec
 * has a fixed length, rejects any other length with a `ParseError` (`PBOC_BAD_LENGTH`), and carries `examples`
 * (`[hex, decoded]`, real bytes where a public source has them) for round-trip tests and docs.
 *
 * Numbers are unsigned big-endian (amounts and balances in fen, 4 bytes); identifiers, dates (4 BCD bytes
 * YYYYMMDD), times (3 BCD bytes hhmmss), randoms and MACs stay raw bytes, so a decoder never rejects what a
 * real card stored.
 *
 * @module
 */
import { assertBytes, assertUint, fromHex, readUint, writeUint } from '../bytes';
import { ArgumentError, defineErrors, ParseError } from '../errors';

/** The codes of the {@link ParseError}s the PBOC codecs throw. */
export const PBOC_ERRORS = defineErrors({
  PBOC_BAD_LENGTH: {
    class: 'ParseError',
    when:
      'a fixed-layout PBOC record (EF15, log record, travel record, INITIALIZE response, PSAM answer, …) is not ' +
      'bytes or not its exact length',
    fix: 'the card answered malformed data: reject it',
  },
});

/** Code of a {@link ParseError} from the PBOC codecs. */
export type PbocErrorCode = keyof typeof PBOC_ERRORS;

/** Transaction type identifiers (TTI), docs/spec.md §3.6, JR/T 0025.2 Annex A. */
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
  /** The fields in order: `name u<n>` an unsigned big-endian integer of n bytes, `name b<n>` n raw bytes. */
  readonly layout: string;
  /** The encoded length in bytes. */
  readonly length: number;
  /** @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range field. */
  encode(value: T): Uint8Array;
  /** @throws {ParseError} `PBOC_BAD_LENGTH` unless `bytes` has exactly {@link PbocCodec.length} bytes. */
  decode(bytes: Uint8Array): T;
  /** `[hex, decoded]` pairs: decode(hex) equals decoded and encode(decoded) equals hex. */
  readonly examples: ReadonlyArray<readonly [string, T]>;
}

/**
 * A codec's layout: its fields in order, `name u<n>` for an unsigned big-endian integer of n bytes (1..6) and
 * `name b<n>` for n raw bytes, separated by `, ` — `'keyIndex u1, amount u4, terminalId b6'`.
 */
type FieldsOf<L extends string, Kind extends 'u' | 'b'> = L extends `${infer F}, ${infer Rest}`
  ? FieldOf<F, Kind> | FieldsOf<Rest, Kind>
  : FieldOf<L, Kind>;
type FieldOf<F extends string, Kind extends 'u' | 'b'> = F extends `${infer K} ${Kind}${number}` ? K : never;
type KeysOf<L extends string> = FieldsOf<L, 'u'> | FieldsOf<L, 'b'>;
/**
 * `unknown` when layout `L` names exactly the fields of `T`, integers as `u` and byte strings as `b`; otherwise an
 * object type naming what is wrong, so the codec's definition does not compile.
 */
type LayoutCheck<T, L extends string> = [KeysOf<L>] extends [keyof T]
  ? [Exclude<keyof T, KeysOf<L>>] extends [never]
    ? [WrongKind<T, L>] extends [never]
      ? unknown
      : { wrongKind: WrongKind<T, L> }
    : { missing: Exclude<keyof T, KeysOf<L>> }
  : { unknown: Exclude<KeysOf<L>, keyof T> };
/** The fields of `L` whose kind does not fit their type in `T` (`u` needs a number, `b` a `Uint8Array`). */
type WrongKind<T, L extends string> =
  | { [K in FieldsOf<L, 'u'> & keyof T]: T[K] extends number ? never : K }[FieldsOf<L, 'u'> & keyof T]
  | { [K in FieldsOf<L, 'b'> & keyof T]: T[K] extends Uint8Array ? never : K }[FieldsOf<L, 'b'> & keyof T];

interface Field {
  readonly key: string;
  readonly uint: boolean;
  readonly size: number;
  /** The argument name in error messages. */
  readonly label: string;
  readonly max: number;
}

/**
 * A fixed-length codec from its layout ({@link LayoutCheck}): `u` fields decode to numbers, `b` fields to copies of
 * their bytes.
 */
function defineCodec<T extends object, const L extends string>(
  name: string,
  layout: L & LayoutCheck<T, L>,
  examples: ReadonlyArray<readonly [string, T]>,
): PbocCodec<T> {
  // Parsed once, with argument names and limits, not per call (encoders run on every purchase).
  const fields: Field[] = layout.split(', ').map((spec) => {
    const m = /^(\w+) ([ub])([1-9][0-9]*)$/.exec(spec);
    if (m === null || (m[2] === 'u' && Number(m[3]) > 6)) throw new Error(`${name}: bad layout field "${spec}"`);
    const size = Number(m[3]);
    return { key: m[1]!, uint: m[2] === 'u', size, label: `${name}.${m[1]}`, max: 2 ** (8 * size) - 1 };
  });
  const length = fields.reduce((n, f) => n + f.size, 0);
  return Object.freeze({
    name,
    layout,
    length,
    examples,
    encode(value: T): Uint8Array {
      if (typeof value !== 'object' || value === null) throw new ArgumentError(`${name}: expected an object`);
      const out = new Uint8Array(length);
      let off = 0;
      for (const f of fields) {
        const v = (value as Record<string, unknown>)[f.key];
        if (f.uint) {
          assertUint(v, f.label, f.max);
          writeUint(out, off, v, f.size);
        } else {
          assertBytes(v, f.label, f.size);
          out.set(v, off);
        }
        off += f.size;
      }
      return out;
    },
    decode(bytes: Uint8Array): T {
      if (!(bytes instanceof Uint8Array))
        throw new ParseError<PbocErrorCode>('PBOC_BAD_LENGTH', `${name}: expected bytes`);
      if (bytes.length !== length)
        throw new ParseError<PbocErrorCode>(
          'PBOC_BAD_LENGTH',
          `${name}: expected ${length} bytes, got ${bytes.length}`,
        );
      const out: Record<string, unknown> = {};
      let off = 0;
      for (const f of fields) {
        out[f.key] = f.uint ? readUint(bytes, off, f.size) : bytes.slice(off, off + f.size);
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
  'keyIndex u1, amount u4, terminalId b6',
  [
    // pboc-ep-mac.json load-ed-blog / purchase-ep-blog: key index 01, 40.96 yuan, terminal 001122334455.
    ['0100001000001122334455', { keyIndex: 1, amount: 0x1000, terminalId: h('001122334455') }],
    // pboc-ep-mac.json load-ep-dpj365-real-card: a real card's INITIALIZE FOR LOAD (key index 00).
    ['0000001234000000000001', { keyIndex: 0, amount: 0x1234, terminalId: h('000000000001') }],
  ],
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
  'date b4, time b3, mac2 b4',
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
  'terminalTxnSeq u4, date b4, time b3, mac1 b4',
  [
    [
      '0000000120120229135100F15CAB75',
      { terminalTxnSeq: 1, date: h('20120229'), time: h('135100'), mac1: h('F15CAB75') },
    ],
  ],
);

/** Data field of GET TRANSACTION PROVE (`80 5A 00 TTI 02`). */
export interface TransactionProveCommandData {
  /** The counter the transaction used: INITIALIZE's online (load) or offline (purchase) counter. */
  counter: number;
}

/** GET TRANSACTION PROVE command data: counter(2) = 2 bytes. */
export const transactionProveCommandData: PbocCodec<TransactionProveCommandData> = defineCodec(
  'TransactionProveCommandData',
  'counter u2',
  [
    ['0000', { counter: 0 }],
    ['042D', { counter: 0x042d }],
  ],
);

// ---------------------------------------------------------------- PIN

/**
 * A PIN as the e-purse carries it (VERIFY, CHANGE / RELOAD PIN, DGI 8010): 4..12 decimal digits packed two to a
 * byte, an odd count padded with F.
 * @throws {ArgumentError} `BAD_ARGUMENT` unless `pin` is a string of 4..12 decimal digits.
 * @example encodePinBlock('12345') // 12 34 5F
 */
export function encodePinBlock(pin: string): Uint8Array {
  if (typeof pin !== 'string' || !/^[0-9]{4,12}$/.test(pin)) throw new ArgumentError('pin: expected 4..12 digits');
  return fromHex(pin.length % 2 === 1 ? `${pin}F` : pin);
}

/** True for a well-formed PIN block ({@link encodePinBlock}): 2..6 bytes of digits, only the last nibble may be F. */
export function isPinBlock(b: Uint8Array): boolean {
  if (!(b instanceof Uint8Array) || b.length < 2 || b.length > 6) return false;
  for (let i = 0; i < b.length; i++) {
    const hi = b[i]! >> 4;
    const lo = b[i]! & 0x0f;
    if (hi > 9) return false;
    if (lo > 9 && !(lo === 0x0f && i === b.length - 1)) return false;
  }
  return true;
}

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
  'oldBalance u4, onlineCounter u2, keyVersion u1, algorithmId u1, random b4, mac1 b4',
  [
    [
      '0000000000000200112233442988AE5A',
      { oldBalance: 0, onlineCounter: 0, keyVersion: 2, algorithmId: 0, random: h('11223344'), mac1: h('2988AE5A') },
    ],
    // pboc-ep-mac.json load-ep-dpj365-real-card: the real card's answer (without SW 9000).
    [
      '0000000000000001F9CABA916C394D64',
      { oldBalance: 0, onlineCounter: 0, keyVersion: 0, algorithmId: 1, random: h('F9CABA91'), mac1: h('6C394D64') },
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
  'balance u4, offlineCounter u2, overdraftLimit u3, keyVersion u1, algorithmId u1, random b4',
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
export const debitResponse: PbocCodec<DebitResponse> = defineCodec('DebitResponse', 'tac b4, mac2 b4', [
  ['1122334456988A13', { tac: h('11223344'), mac2: h('56988A13') }],
]);

/** Response data of CREDIT FOR LOAD. */
export interface CreditForLoadResponse {
  tac: Uint8Array;
}

/** CREDIT FOR LOAD response: TAC(4) = 4 bytes. */
export const creditForLoadResponse: PbocCodec<CreditForLoadResponse> = defineCodec('CreditForLoadResponse', 'tac b4', [
  ['A1B2C3D4', { tac: h('A1B2C3D4') }],
]);

/** Response data of GET BALANCE (`80 5C 00 P2 04`). */
export interface BalanceResponse {
  /** The balance as 4 unsigned bytes: the card keeps it in two's complement (`| 0` gives the signed fen). */
  balance: number;
}

/** GET BALANCE response: balance(4) = 4 bytes. */
export const balanceResponse: PbocCodec<BalanceResponse> = defineCodec('BalanceResponse', 'balance u4', [
  ['00002710', { balance: 10000 }],
  // 1 fen overdrawn: two's complement −1.
  ['FFFFFFFF', { balance: 0xffffffff }],
]);

/** Response data of GET TRANSACTION PROVE: the proof of the card's last committed transaction. */
export interface TransactionProveResponse {
  /** The transaction's MAC2 (a purchase: the card's; a load: the MAC2 the card accepted). */
  mac2: Uint8Array;
  tac: Uint8Array;
}

/** GET TRANSACTION PROVE response: MAC2(4) ‖ TAC(4) = 8 bytes. */
export const transactionProveResponse: PbocCodec<TransactionProveResponse> = defineCodec(
  'TransactionProveResponse',
  'mac2 b4, tac b4',
  [['56988A1311223344', { mac2: h('56988A13'), tac: h('11223344') }]],
);

// ---------------------------------------------------------------- PSAM commands and responses

/** Data field of INIT SAM FOR PURCHASE with one-level key diversification (`80 70 00 00 1C`). */
export interface InitSamForPurchaseCommandData {
  /** The card's random from INITIALIZE FOR (CAPP) PURCHASE. */
  cardRandom: Uint8Array;
  /** The card's offline counter from INITIALIZE. */
  offlineCounter: number;
  amount: number;
  tti: number;
  date: Uint8Array;
  time: Uint8Array;
  keyVersion: number;
  algorithmId: number;
  /** The card's diversification data: the rightmost 8 bytes of its application serial. */
  cardSerial: Uint8Array;
}

const INIT_SAM_LAYOUT =
  'cardRandom b4, offlineCounter u2, amount u4, tti u1, date b4, time b3, keyVersion u1, algorithmId u1, cardSerial b8';

/** The published purchase worked example (pboc-ep-mac.json purchase-ep-blog) as the PSAM receives it. */
const INIT_SAM_EXAMPLE: InitSamForPurchaseCommandData = {
  cardRandom: h('11223344'),
  offlineCounter: 0,
  amount: 0x1000,
  tti: TTI.EP_PURCHASE,
  date: h('20120229'),
  time: h('135100'),
  keyVersion: 1,
  algorithmId: 0,
  cardSerial: h('0000000000000001'),
};

/**
 * INIT SAM FOR PURCHASE command data, one level: cardRandom(4) ‖ offlineCtr(2) ‖ amount(4) ‖ TTI(1) ‖ date(4) ‖
 * time(3) ‖ keyVer(1) ‖ algId(1) ‖ cardSerial(8) = 28 bytes.
 */
export const initSamForPurchaseCommandData: PbocCodec<InitSamForPurchaseCommandData> = defineCodec(
  'InitSamForPurchaseCommandData',
  INIT_SAM_LAYOUT,
  [['11223344000000001000062012022913510001000000000000000001', INIT_SAM_EXAMPLE]],
);

/** Data field of INIT SAM FOR PURCHASE with two-level key diversification (`80 70 00 00 24`). */
export interface InitSamForPurchaseTwoLevelCommandData extends InitSamForPurchaseCommandData {
  /** The issuer (city) identifier of EF 0x15: the first diversification level. */
  issuerId: Uint8Array;
}

/** INIT SAM FOR PURCHASE command data, two levels: the one-level fields ‖ issuerId(8) = 36 bytes. */
export const initSamForPurchaseTwoLevelCommandData: PbocCodec<InitSamForPurchaseTwoLevelCommandData> = defineCodec(
  'InitSamForPurchaseTwoLevelCommandData',
  `${INIT_SAM_LAYOUT}, issuerId b8`,
  [
    [
      '112233440000000010000620120229135100010000000000000000014401000000000000',
      { ...INIT_SAM_EXAMPLE, issuerId: h('4401000000000000') },
    ],
  ],
);

/** Response data of INIT SAM FOR PURCHASE. */
export interface InitSamForPurchaseResponse {
  /** The terminal transaction sequence number the PSAM assigned to this purchase. */
  terminalTxnSeq: number;
  /** MAC1 for DEBIT FOR PURCHASE. */
  mac1: Uint8Array;
}

/** INIT SAM FOR PURCHASE response: terminalTxnSeq(4) ‖ MAC1(4) = 8 bytes (pboc-ep-mac.json purchase-ep-blog). */
export const initSamForPurchaseResponse: PbocCodec<InitSamForPurchaseResponse> = defineCodec(
  'InitSamForPurchaseResponse',
  'terminalTxnSeq u4, mac1 b4',
  [['00000001F15CAB75', { terminalTxnSeq: 1, mac1: h('F15CAB75') }]],
);

/** Data field of CREDIT SAM FOR PURCHASE (`80 72 00 00 04`). */
export interface CreditSamForPurchaseCommandData {
  /** The card's MAC2 from DEBIT. */
  mac2: Uint8Array;
}

/** CREDIT SAM FOR PURCHASE command data: MAC2(4) = 4 bytes (pboc-ep-mac.json purchase-ep-blog). */
export const creditSamForPurchaseCommandData: PbocCodec<CreditSamForPurchaseCommandData> = defineCodec(
  'CreditSamForPurchaseCommandData',
  'mac2 b4',
  [['56988A13', { mac2: h('56988A13') }]],
);

// ---------------------------------------------------------------- files

/** Short file identifiers of the e-purse application's elementary files (FID = 00 ‖ SFI). */
export const EPURSE_SFI = {
  /** Public application basic data ({@link ef15}), transparent 30 bytes. */
  EF15: 0x15,
  /** Cardholder basic data, transparent (55 bytes until personalized otherwise). */
  EF16: 0x16,
  /** Composite-application data, linear fixed 48 × 4 (records 01..04 by identifier); the travel record's file. */
  CAPP17: 0x17,
  /** Transaction detail ({@link transactionLogRecord}), cyclic 23-byte records (newest = 1). */
  EF18: 0x18,
  /** Composite-application process data, linear fixed 128 × 2 (records 01..02 by identifier). */
  CAPP1A: 0x1a,
  /** Transit travel records, cyclic 48 × 10 (written by composite purchases). */
  TRAVEL1E: 0x1e,
} as const;

/** Short file identifiers of the PSAM application's elementary files. */
export const PSAM_SFI = {
  /** The terminal ID, transparent 6 bytes (EF 0x16 of the PSAM DF). */
  TERMINAL_ID: 0x16,
} as const;

/** Length of the PSAM's terminal ID (EF 0x16), and of every terminal ID in the e-purse commands. */
export const TERMINAL_ID_LENGTH = 6;

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
  'issuerId b8, applicationType u1, applicationVersion u1, applicationSerial b10, startDate b4, expiryDate b4, fciCustom b2',
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
  'counter u2, overdraftLimit u3, amount u4, tti u1, terminalId b6, date b4, time b3',
  [
    // A real T-Union record (docs/spec.md §3.4, JR/T 0025.2 Annex C): counter 042D, 5.00 yuan composite purchase.
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

/** A travel record of the transit composite application (one record of the CAPP file, 48 bytes). */
export interface CappTravelRecord {
  /** Record identifier: byte 0, the P1 of UPDATE CAPP DATA CACHE. */
  recordId: number;
  /** Length of the rest of the record: 46 (0x2E) as gates write it. */
  length: number;
  /** {@link TRAVEL_RECORD_TYPE}: 03 entry, 04 exit; 00 never written. */
  type: number;
  /** The gate's terminal ID. */
  terminalId: Uint8Array;
  /** {@link TRAVEL_RECORD_SUBTYPE}: 01 metro. */
  subType: number;
  line: number;
  station: number;
  /** Amount charged at this gate, fen. */
  amount: number;
  /** Balance after this gate's debit, fen. */
  balance: number;
  /** YYYYMMDD, 4 BCD bytes. */
  date: Uint8Array;
  /** hhmmss, 3 BCD bytes. */
  time: Uint8Array;
  /** Reserved, 19 bytes (00 as gates write them). */
  reserved: Uint8Array;
}

/** Type byte of a {@link CappTravelRecord} (JT/T 978 travel record types). */
export const TRAVEL_RECORD_TYPE = {
  /** Never written. */
  NONE: 0x00,
  /** Written by an entry gate. */
  ENTRY: 0x03,
  /** Written by an exit gate. */
  EXIT: 0x04,
} as const;

/** Sub-type byte of a {@link CappTravelRecord}. */
export const TRAVEL_RECORD_SUBTYPE = {
  METRO: 0x01,
} as const;

/**
 * The travel record a gate writes into the card's CAPP file at entry and exit (modelled on the JT/T 978 travel
 * record): recordId(1) ‖ length(1) ‖ type(1) ‖ terminalId(6) ‖ subType(1) ‖ line(2) ‖ station(2) ‖ amount(4) ‖
 * balance(4) ‖ date(4) ‖ time(3) ‖ reserved(19) = 48 bytes.
 */
export const cappTravelRecord: PbocCodec<CappTravelRecord> = defineCodec(
  'CappTravelRecord',
  'recordId u1, length u1, type u1, terminalId b6, subType u1, line u2, station u2, amount u4, balance u4, date b4, time b3, reserved b19',
  [
    // gate-1's entry at line 1, station 7, charging nothing, balance 100.00 yuan after.
    [
      '012E03440100000002010001000700000000000027102026030110030400000000000000000000000000000000000000',
      {
        recordId: 1,
        length: 0x2e,
        type: TRAVEL_RECORD_TYPE.ENTRY,
        terminalId: h('440100000002'),
        subType: TRAVEL_RECORD_SUBTYPE.METRO,
        line: 1,
        station: 7,
        amount: 0,
        balance: 10000,
        date: h('20260301'),
        time: h('100304'),
        reserved: new Uint8Array(19),
      },
    ],
  ],
);

/** Every codec of this module, for generic round-trip tests and generated docs. */
export const PBOC_CODECS: ReadonlyArray<PbocCodec<object>> = [
  initializeCommandData,
  creditForLoadCommandData,
  debitCommandData,
  transactionProveCommandData,
  initForLoadResponse,
  initForPurchaseResponse,
  creditForLoadResponse,
  debitResponse,
  balanceResponse,
  transactionProveResponse,
  initSamForPurchaseCommandData,
  initSamForPurchaseTwoLevelCommandData,
  initSamForPurchaseResponse,
  creditSamForPurchaseCommandData,
  ef15,
  transactionLogRecord,
  cappTravelRecord,
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

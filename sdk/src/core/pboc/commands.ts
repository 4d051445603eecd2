/**
 * The instruction table of the PBOC / JR/T 0025 e-purse and of the consumption machine's PSAM: CLA, INS, P1 and
 * P2 of every command a terminal sends them, and the ISO/IEC 7816-4 file commands the machines use on the way
 * (SELECT, READ BINARY, READ RECORD). The card (`applet-emu`) dispatches on it, the machines build their APDUs
 * from it ({@link pbocApdu}), and `docs/card.md` documents every `header` (a test checks it). The data fields and
 * answers are the codecs of `./formats`.
 *
 * @module
 */
import { ArgumentError } from '../errors';
import { encodeCommandApdu } from '../iso7816';

/** Which device answers a command: the e-purse card or the machine's PSAM. */
export type PbocDevice = 'card' | 'psam';

/**
 * Who on that device answers it: the application (`'applet'`: the e-purse or the PSAM applet) or the card's
 * runtime (`'runtime'`: ISO/IEC 7816-4 selection and file commands).
 */
export type PbocHandler = 'applet' | 'runtime';

/** One row of {@link PBOC_COMMANDS}. */
export interface PbocCommand {
  readonly device: PbocDevice;
  readonly handler: PbocHandler;
  readonly cla: number;
  readonly ins: number;
  /** P1, or `null` when it is a parameter of the command. */
  readonly p1: number | null;
  /** P2, or `null` when it is a parameter of the command. */
  readonly p2: number | null;
  /** The header as `docs/card.md` writes it; lower-case letters are parameters. */
  readonly header: string;
  /** Human-readable name, used in error messages. */
  readonly label: string;
}

/**
 * Every command of the e-purse and the PSAM, one row per command as a terminal sends it (so INITIALIZE is three
 * rows, one per P1). CLA is the basic channel's; `docs/card.md` ("Electronic purse", "PSAM") is the reference of
 * their data, answers and status words.
 */
// biome-ignore format: one row per command, read as a table
export const PBOC_COMMANDS = {
  // ------------------------------------------------ card: ISO/IEC 7816-4 selection and files (the runtime)
  /** ISO 7816-4 §11.2.2 SELECT by DF name (P1 04: the PPSE, the e-purse ADF). */
  SELECT: { device: 'card', handler: 'runtime', cla: 0x00, ins: 0xa4, p1: null, p2: 0x00, header: '00 A4 pp 00', label: 'SELECT' },
  /** ISO 7816-4 §11.3.3 READ BINARY with a short EF identifier in P1 (EF 0x15). */
  READ_BINARY: { device: 'card', handler: 'runtime', cla: 0x00, ins: 0xb0, p1: null, p2: null, header: '00 B0 pp pp', label: 'READ BINARY' },
  /** ISO 7816-4 §11.4.3 READ RECORD, P2 = SFI<<3 | mode (EF 0x18 log, travel record). */
  READ_RECORD: { device: 'card', handler: 'runtime', cla: 0x00, ins: 0xb2, p1: null, p2: null, header: '00 B2 pp pp', label: 'READ RECORD' },

  // ------------------------------------------------ card: the e-purse application
  /** ISO 7816-4 §11.5.6 VERIFY: PIN check (P2 00); empty data asks for the tries left. */
  VERIFY_PIN: { device: 'card', handler: 'applet', cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x00, header: '00 20 00 00', label: 'VERIFY' },
  /** ISO 7816-4 §11.5.3 EXTERNAL AUTHENTICATE: the terminal authenticates to the card (key id in P2). */
  EXTERNAL_AUTHENTICATE: { device: 'card', handler: 'applet', cla: 0x00, ins: 0x82, p1: 0x00, p2: null, header: '00 82 00 kk', label: 'EXTERNAL AUTHENTICATE' },
  /** ISO 7816-4 §11.5.5 GET CHALLENGE: 4 or 8 random bytes for EXTERNAL AUTHENTICATE / line protection. */
  GET_CHALLENGE: { device: 'card', handler: 'applet', cla: 0x00, ins: 0x84, p1: 0x00, p2: 0x00, header: '00 84 00 00', label: 'GET CHALLENGE' },
  /** ISO 7816-4 §11.5.2 INTERNAL AUTHENTICATE: the card authenticates to the terminal (key id in P2). */
  INTERNAL_AUTHENTICATE: { device: 'card', handler: 'applet', cla: 0x00, ins: 0x88, p1: 0x00, p2: null, header: '00 88 00 kk', label: 'INTERNAL AUTHENTICATE' },
  /** PBOC APPLICATION UNBLOCK, line-protected (the issuer). */
  APPLICATION_UNBLOCK: { device: 'card', handler: 'applet', cla: 0x84, ins: 0x18, p1: 0x00, p2: 0x00, header: '84 18 00 00', label: 'APPLICATION UNBLOCK' },
  /** PBOC APPLICATION BLOCK (P2 00 temporary, 01 permanent), line-protected (the issuer). */
  APPLICATION_BLOCK: { device: 'card', handler: 'applet', cla: 0x84, ins: 0x1e, p1: 0x00, p2: null, header: '84 1E 00 pp', label: 'APPLICATION BLOCK' },
  /** PBOC INITIALIZE FOR LOAD (P1 00; P2 01 ED, 02 EP): data {@link initializeCommandData}, answer {@link initForLoadResponse}. */
  INITIALIZE_FOR_LOAD: { device: 'card', handler: 'applet', cla: 0x80, ins: 0x50, p1: 0x00, p2: null, header: '80 50 00 pp', label: 'INITIALIZE FOR LOAD' },
  /** PBOC INITIALIZE FOR PURCHASE (P1 01; P2 01 ED, 02 EP): answer {@link initForPurchaseResponse}. */
  INITIALIZE_FOR_PURCHASE: { device: 'card', handler: 'applet', cla: 0x80, ins: 0x50, p1: 0x01, p2: null, header: '80 50 01 pp', label: 'INITIALIZE FOR PURCHASE' },
  /** JT/T 978 INITIALIZE FOR CAPP PURCHASE (P1 03, EP only): as INITIALIZE FOR PURCHASE. */
  INITIALIZE_FOR_CAPP_PURCHASE: { device: 'card', handler: 'applet', cla: 0x80, ins: 0x50, p1: 0x03, p2: 0x02, header: '80 50 03 02', label: 'INITIALIZE FOR CAPP PURCHASE' },
  /** PBOC CREDIT FOR LOAD: data {@link creditForLoadCommandData}, answer {@link creditForLoadResponse}. */
  CREDIT_FOR_LOAD: { device: 'card', handler: 'applet', cla: 0x80, ins: 0x52, p1: 0x00, p2: 0x00, header: '80 52 00 00', label: 'CREDIT FOR LOAD' },
  /** PBOC DEBIT FOR PURCHASE: data {@link debitCommandData}, answer {@link debitResponse}. */
  DEBIT_FOR_PURCHASE: { device: 'card', handler: 'applet', cla: 0x80, ins: 0x54, p1: 0x01, p2: 0x00, header: '80 54 01 00', label: 'DEBIT FOR PURCHASE' },
  /** JT/T 978 DEBIT FOR CAPP PURCHASE: the same bytes as DEBIT FOR PURCHASE, inside a composite purchase. */
  DEBIT_FOR_CAPP_PURCHASE: { device: 'card', handler: 'applet', cla: 0x80, ins: 0x54, p1: 0x01, p2: 0x00, header: '80 54 01 00', label: 'DEBIT FOR CAPP PURCHASE' },
  /** PBOC GET TRANSACTION PROVE (P2 = TTI): data {@link transactionProveCommandData}, answer {@link transactionProveResponse}. */
  GET_TRANSACTION_PROVE: { device: 'card', handler: 'applet', cla: 0x80, ins: 0x5a, p1: 0x00, p2: null, header: '80 5A 00 tt', label: 'GET TRANSACTION PROVE' },
  /** PBOC GET BALANCE of the ED (P2 01) or EP (P2 02): answer {@link balanceResponse}. */
  GET_BALANCE: { device: 'card', handler: 'applet', cla: 0x80, ins: 0x5c, p1: 0x00, p2: null, header: '80 5C 00 pp', label: 'GET BALANCE' },
  /** PBOC CHANGE PIN (old ‖ FF ‖ new). */
  CHANGE_PIN: { device: 'card', handler: 'applet', cla: 0x80, ins: 0x5e, p1: 0x01, p2: 0x00, header: '80 5E 01 00', label: 'CHANGE PIN' },
  /** PBOC RELOAD PIN (new ‖ MAC with the DPUK). */
  RELOAD_PIN: { device: 'card', handler: 'applet', cla: 0x80, ins: 0x5e, p1: 0x00, p2: 0x00, header: '80 5E 00 00', label: 'RELOAD PIN' },
  /** Proprietary GET DATA (P1P2 0000: the issuer's card data object, 9 bytes on the recorded card). */
  GET_DATA: { device: 'card', handler: 'applet', cla: 0x80, ins: 0xca, p1: 0x00, p2: 0x00, header: '80 CA 00 00', label: 'GET DATA' },
  /** JT/T 978 UPDATE CAPP DATA CACHE inside a composite purchase (P1 record, P2 SFI<<3 | mode). */
  UPDATE_CAPP_DATA_CACHE: { device: 'card', handler: 'applet', cla: 0x80, ins: 0xdc, p1: null, p2: null, header: '80 DC pp pp', label: 'UPDATE CAPP DATA CACHE' },

  // ------------------------------------------------ PSAM: selection and files (the runtime)
  /** ISO 7816-4 §11.2.2 SELECT of the PSAM application: by DF name (P1 04) or file identifier (P1 00). */
  PSAM_SELECT: { device: 'psam', handler: 'runtime', cla: 0x00, ins: 0xa4, p1: null, p2: 0x00, header: '00 A4 pp 00', label: 'PSAM SELECT' },
  /** ISO 7816-4 §11.3.3 READ BINARY of the terminal ID (SFI 0x16, offset 0). */
  PSAM_READ_TERMINAL_ID: { device: 'psam', handler: 'runtime', cla: 0x00, ins: 0xb0, p1: 0x96, p2: 0x00, header: '00 B0 96 00', label: 'PSAM READ TERMINAL ID' },

  // ------------------------------------------------ PSAM: the PSAM application
  /** INIT SAM FOR PURCHASE: data {@link initSamForPurchaseCommandData} (Lc 1C) or the two-level form (Lc 24), answer {@link initSamForPurchaseResponse}. */
  PSAM_INIT_FOR_PURCHASE: { device: 'psam', handler: 'applet', cla: 0x80, ins: 0x70, p1: 0x00, p2: 0x00, header: '80 70 00 00', label: 'INIT SAM FOR PURCHASE' },
  /** CREDIT SAM FOR PURCHASE: the PSAM checks the card's MAC2 ({@link creditSamForPurchaseCommandData}). */
  PSAM_CREDIT_FOR_PURCHASE: { device: 'psam', handler: 'applet', cla: 0x80, ins: 0x72, p1: 0x00, p2: 0x00, header: '80 72 00 00', label: 'CREDIT SAM FOR PURCHASE' },
  /** DES INIT: diversifies a working key from a general-purpose master key (P1 usage 21 or 22, P2 version). */
  PSAM_DES_INIT: { device: 'psam', handler: 'applet', cla: 0x80, ins: 0x1a, p1: null, p2: null, header: '80 1A uu vv', label: 'DES INIT (diversify)' },
  /** DES CRYPT: encrypts (P1 00) or MACs (P1 01 zero ICV, 05 ICV in the data) with the working key. */
  PSAM_DES_CRYPT: { device: 'psam', handler: 'applet', cla: 0x80, ins: 0xfa, p1: null, p2: 0x00, header: '80 FA pp 00', label: 'DES CRYPT / MAC' },
} as const satisfies Record<string, PbocCommand>;

/** Name of a {@link PBOC_COMMANDS} row. */
export type PbocCommandName = keyof typeof PBOC_COMMANDS;

/** The rows of {@link PBOC_COMMANDS} that `device`'s `handler` answers, by name (e.g. the e-purse applet's). */
export function pbocCommandsOf<D extends PbocDevice, H extends PbocHandler>(
  device: D,
  handler: H,
): {
  readonly [K in PbocCommandName as (typeof PBOC_COMMANDS)[K] extends { device: D; handler: H }
    ? K
    : never]: (typeof PBOC_COMMANDS)[K];
} {
  const out: Record<string, PbocCommand> = {};
  for (const [name, row] of Object.entries(PBOC_COMMANDS) as Array<[string, PbocCommand]>)
    if (row.device === device && row.handler === handler) out[name] = row;
  return Object.freeze(out) as never;
}

/** What {@link pbocApdu} puts into a command beyond its row's fixed bytes. */
export interface PbocApduParts {
  /** P1; required when the row's P1 is a parameter, otherwise it must equal the row's. */
  readonly p1?: number;
  /** P2; required when the row's P2 is a parameter, otherwise it must equal the row's. */
  readonly p2?: number;
  /** The data field (0..255 bytes; none when absent or empty). */
  readonly data?: Uint8Array;
  /** The Le byte, 0..255 (`0x00` asks for up to 256 bytes); none when absent. */
  readonly le?: number;
}

const NO_DATA = new Uint8Array(0);

/**
 * A short command APDU of the command `name`: CLA and INS from {@link PBOC_COMMANDS}, P1 and P2 from the row
 * where it fixes them, else from `parts`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown name, a missing parameter byte, a P1/P2 other than the
 *   row's fixed one, a byte outside 0..255 or more than 255 data bytes.
 * @example pbocApdu('GET_BALANCE', { p2: 0x02, le: 4 }) // 80 5C 00 02 04
 */
export function pbocApdu(name: PbocCommandName, parts: PbocApduParts = {}): Uint8Array {
  const row: PbocCommand | undefined = Object.hasOwn(PBOC_COMMANDS, name) ? PBOC_COMMANDS[name] : undefined;
  if (row === undefined) throw new ArgumentError(`unknown PBOC command ${String(name)}`);
  const data = parts.data ?? NO_DATA;
  if (data.length > 255) throw new ArgumentError(`${row.label}: at most 255 data bytes, got ${data.length}`);
  const le = parts.le;
  if (le !== undefined && (!Number.isInteger(le) || le < 0 || le > 0xff))
    throw new ArgumentError(`${row.label}: le: expected a byte, got ${String(le)}`);
  return encodeCommandApdu({
    cla: row.cla,
    ins: row.ins,
    p1: parameter(row, 'p1', parts.p1),
    p2: parameter(row, 'p2', parts.p2),
    data,
    ne: le === undefined ? undefined : le === 0 ? 256 : le,
  });
}

function parameter(row: PbocCommand, which: 'p1' | 'p2', given: number | undefined): number {
  const fixed = row[which];
  if (fixed === null) {
    if (given === undefined) throw new ArgumentError(`${row.label}: ${which} is a parameter: pass it`);
    return given;
  }
  if (given !== undefined && given !== fixed)
    throw new ArgumentError(`${row.label}: ${which} is ${fixed.toString(16).padStart(2, '0')}, got ${String(given)}`);
  return fixed;
}

/**
 * Calibrated tap-time profiles: how long a card computes (per command family and per crypto primitive call), how
 * long the reader takes around it (polling until it finds the card, its own handling of each command, its
 * decision), and the SIM's own link to the phone's NFC controller (SWP, ETSI TS 102 613). With the air model of
 * `timing.ts` they split a tap into **reader**, **air**, **link** and **card** time.
 *
 * Every number is either a published measurement (cited in the profile's `sources`) or a value fitted so that
 * the modelled purchase lands on the published transaction time the profile is tied to (`calibration`); the
 * reasoning is in `docs/tap-time.md`. The published figures the profiles are tied to:
 * - **TfL / NFC SIMs** — NFC phones' SIM-based transactions tested at about 500 ms (PaymentsSource 2012, TfL), too
 *   slow against TfL's 350–500 ms target (NFC Times, Dec 2010); more than 80 % of the SIM's time is computing
 *   inside the secure element and the SWP link adds about 3 % (issue 16's sources).
 * - **Oyster** — a card tapped at a gate authorises in 200–300 ms (TfL, NFC Times Dec 2010; The Register 2010);
 *   a whole bus tap takes about 530 ms of which about 100 ms is the reader's polling (Consult Hyperion for TfL, 2013).
 * - **FeliCa** — a fare deduction in about 100 ms (212 kbit/s); **Calypso** — a transaction under 200 ms.
 * - **Java Card** — a DES call through the Java Card API about 12 ms where the coprocessor needs 0.1–0.2 ms.
 * @module
 */
import { ArgumentError } from '../errors';

/** A published source a number rests on. */
export interface TapTimeSource {
  readonly what: string;
  readonly where: string;
}

/** How long a card computes, µs. A command costs `apduUs` + its family's base + its calls and updates. */
export interface CardProcessingProfile {
  readonly name: string;
  readonly label: string;
  /** From the field (or the SIM's supply) to answering REQA: the card's boot. */
  readonly powerUpUs: number;
  /** Every command: the OS/VM receiving it, dispatching to the applet, sending the answer. */
  readonly apduUs: number;
  /** SELECT: the applet or file lookup, the applet's activation, the FCI. */
  readonly selectUs: number;
  /** A read from persistent memory (READ BINARY/RECORD, GET DATA, GET BALANCE, GET TRANSACTION PROVE). */
  readonly readUs: number;
  /** One crypto primitive call as the applet makes it (a DES/3DES/AES block operation, a MAC, the RNG). */
  readonly cryptoCallUs: number;
  /** One atomic update of persistent memory with anti-tearing (backup, write, commit). */
  readonly nvmUpdateUs: number;
  /** Commands of no family above. */
  readonly otherUs: number;
  readonly sources: readonly TapTimeSource[];
}

/** How long the reader takes around the card, µs. */
export interface ReaderProfile {
  readonly name: string;
  readonly label: string;
  /** From the card entering the field until the reader's poll finds it (field on, polling loop): the wait. */
  readonly pollingUs: number;
  /** The reader's own handling of each command: firmware, driver, host, its SAM/PSAM work between commands. */
  readonly perApduUs: number;
  /** After the last answer: the decision (fare, authorisation, record kept, gate or display). */
  readonly decisionUs: number;
  readonly sources: readonly TapTimeSource[];
}

/**
 * The SIM's link to the phone's NFC controller, µs: the Single Wire Protocol (ETSI TS 102 613) carrying each
 * command and answer as HCI messages in SHDLC frames between the controller and the SIM.
 */
export interface SimLinkProfile {
  readonly name: string;
  readonly label: string;
  /** SWP bit rate, bit/s (TS 102 613: 212 kbit/s up to 1.6 Mbit/s). */
  readonly bitRate: number;
  /** Bytes each message adds (SHDLC header and CRC, HCP header). */
  readonly overheadBytes: number;
  /** Per message (command or answer): the controller's forwarding and the SHDLC acknowledgement. */
  readonly perMessageUs: number;
  /** Once per tap: the controller routing the card emulation to the SIM (activating the SWP interface). */
  readonly activationUs: number;
  readonly sources: readonly TapTimeSource[];
}

const JAVA_CARD_DES: TapTimeSource = {
  what: 'a DES call through the Java Card API about 12 ms, the coprocessor alone 0.1–0.2 ms',
  where: 'issue 16 (Java Card performance measurements); docs/tap-time.md',
};
const TFL_NFC_SIM: TapTimeSource = {
  what: 'NFC SIM transactions tested at about 500 ms; TfL target 350–500 ms; > 80 % of the time computing in the SE, SWP about 3 %',
  where: 'PaymentsSource 2012 (TfL); NFC Times, 28 Dec 2010; issue 16',
};
const OYSTER: TapTimeSource = {
  what: 'an Oyster card authorises in 200–300 ms at the gate',
  where: 'NFC Times, 28 Dec 2010 (TfL); The Register, 23 Dec 2010',
};
const BUS_TAP: TapTimeSource = {
  what: 'a whole bus tap about 530 ms, of which about 100 ms is the reader polling',
  where: 'Consult Hyperion for TfL, 2013 (issue 16)',
};
const FELICA_CALYPSO: TapTimeSource = {
  what: 'FeliCa fare deduction about 100 ms; Calypso transaction under 200 ms',
  where: 'issue 16',
};
const ISO_POWER_UP: TapTimeSource = {
  what: 'a PICC answers REQA within 5 ms of entering the field',
  where: 'ISO/IEC 14443-3:2018 §5.2.1',
};
const SWP: TapTimeSource = {
  what: 'SWP: 212 kbit/s to 1.6 Mbit/s, SHDLC frames, HCI messages between the NFC controller and the UICC',
  where: 'ETSI TS 102 613, ETSI TS 102 622',
};

/** The card side of the four profiles. */
export const CARD_PROCESSING = {
  /**
   * A Java Card SIM of the NFC-SIM years behind SWP (the patent's SIM): every crypto call through the Java Card
   * API at the measured 12 ms; the VM's dispatch, the applet selection and the flash updates with anti-tearing
   * fitted so that a purchase lands on the ~500 ms TfL measured, with > 80 % of it computing.
   */
  'javacard-sim': {
    name: 'javacard-sim',
    label: 'Java Card SIM',
    powerUpUs: 5_000,
    apduUs: 25_000,
    selectUs: 60_000,
    readUs: 15_000,
    cryptoCallUs: 12_000,
    nvmUpdateUs: 70_000,
    otherUs: 10_000,
    sources: [JAVA_CARD_DES, TFL_NFC_SIM, ISO_POWER_UP],
  },
  /**
   * A native-OS transit CPU card (Oyster-class): crypto on the coprocessor through a thin native API, EEPROM
   * updates with anti-tearing; fitted to the 200–300 ms of an Oyster tap at the gate.
   */
  'native-transit': {
    name: 'native-transit',
    label: 'native transit card',
    powerUpUs: 5_000,
    apduUs: 8_000,
    selectUs: 20_000,
    readUs: 10_000,
    cryptoCallUs: 3_000,
    nvmUpdateUs: 40_000,
    otherUs: 5_000,
    sources: [OYSTER, ISO_POWER_UP],
  },
  /**
   * A modern secure element: crypto calls near the coprocessor's 0.1–0.2 ms plus a light API, fast flash with
   * anti-tearing; fitted to FeliCa's ~100 ms fare deduction at 212 kbit/s (and under Calypso's 200 ms at 106).
   */
  'fast-se': {
    name: 'fast-se',
    label: 'modern secure element',
    powerUpUs: 3_000,
    apduUs: 3_000,
    selectUs: 8_000,
    readUs: 2_000,
    cryptoCallUs: 2_500,
    nvmUpdateUs: 15_000,
    otherUs: 2_000,
    sources: [JAVA_CARD_DES, FELICA_CALYPSO, ISO_POWER_UP],
  },
} as const satisfies Record<string, CardProcessingProfile>;

/** Readers: a metro gate, a bus validator, a shop till (with their PSAM), and none (the card side only). */
export const READERS = {
  /** A metro gate: polls fast, decides fast (the gate opens on the decision). */
  gate: {
    name: 'gate',
    label: 'metro gate',
    pollingUs: 50_000,
    perApduUs: 3_000,
    decisionUs: 40_000,
    sources: [OYSTER, BUS_TAP],
  },
  /**
   * A bus validator: the ~100 ms polling Consult Hyperion measured; its slower host (fare rules, display, log)
   * fitted so that a native card's whole tap lands on the ~530 ms measured.
   */
  'bus-validator': {
    name: 'bus-validator',
    label: 'bus validator',
    pollingUs: 100_000,
    perApduUs: 5_000,
    decisionUs: 220_000,
    sources: [BUS_TAP],
  },
  /** A shop till: polls like a bus validator, its PSAM computes MAC1 and checks MAC2 between the card's commands. */
  till: {
    name: 'till',
    label: 'shop till',
    pollingUs: 100_000,
    perApduUs: 8_000,
    decisionUs: 60_000,
    sources: [BUS_TAP],
  },
} as const satisfies Record<string, ReaderProfile>;

/** The SWP link of an NFC SIM: fitted so that it adds about 3 % of a SIM's purchase. */
export const SIM_LINKS = {
  swp: {
    name: 'swp',
    label: 'SWP',
    bitRate: 1_600_000,
    overheadBytes: 8,
    perMessageUs: 1_000,
    activationUs: 5_000,
    sources: [SWP, TFL_NFC_SIM],
  },
} as const satisfies Record<string, SimLinkProfile>;

/** A card processing profile's name. */
export type CardProcessingName = keyof typeof CARD_PROCESSING;
/** A reader profile's name. */
export type ReaderName = keyof typeof READERS;

/** What one command costs the card: its family and the crypto calls and NVM updates the applet makes. */
export interface CommandCost {
  readonly family: 'select' | 'read' | 'crypto' | 'write' | 'other';
  readonly cryptoCalls: number;
  readonly nvmUpdates: number;
}

/**
 * The cost of a command by its header, for the commands of this project's cards (ISO/IEC 7816-4, GlobalPlatform,
 * PBOC / JR/T 0025): e.g. DEBIT FOR PURCHASE = 4 crypto calls (the session key, MAC1 checked, MAC2, TAC) and 2
 * atomic updates (the purse with its counter, the transaction log).
 */
export function commandCost(cla: number, ins: number, p1 = 0, p2 = 0): CommandCost {
  const proprietary = cla >= 0 && (cla & 0x80) !== 0;
  const c = (family: CommandCost['family'], cryptoCalls = 0, nvmUpdates = 0): CommandCost => ({
    family,
    cryptoCalls,
    nvmUpdates,
  });
  switch (ins) {
    case 0xa4:
      return c('select');
    case 0xb0:
    case 0xb2:
    case 0xca:
    case 0xcb:
    case 0xc0:
    case 0x5c: // GET BALANCE
    case 0xf2: // STATUS / GET STATUS
      return c('read');
    case 0x5a: // GET TRANSACTION PROVE: the stored MAC2/TAC
      return c('read');
    case 0x50:
      if (proprietary && p2 === 0x00) return c('crypto', 4); // GP INITIALIZE UPDATE: 3 session keys + cryptogram
      // PBOC INITIALIZE FOR LOAD: the random, the session key, MAC1; FOR PURCHASE / CAPP PURCHASE: the random.
      return p1 === 0x00 ? c('crypto', 3) : c('crypto', 1);
    case 0x54: // DEBIT FOR (CAPP) PURCHASE
      return c('write', 4, 2);
    case 0x52: // CREDIT FOR LOAD: MAC2 checked, the TAC; the purse, the log
      return c('write', 2, 2);
    case 0x82: // EXTERNAL AUTHENTICATE: the host cryptogram, the C-MAC
      return c('crypto', 2);
    case 0x88:
    case 0x84:
      return c('crypto', 1);
    case 0xdc:
      // UPDATE CAPP DATA CACHE (80 DC) keeps the record for the DEBIT that follows; ISO UPDATE RECORD writes it.
      return proprietary ? c('other') : c('write', 0, 1);
    case 0xd6:
    case 0xe2:
      return c('write', 0, 1);
    case 0xe6:
    case 0xe8:
    case 0xd8:
      return c('write', 1, 2);
    case 0x20: // VERIFY: the PIN compared, its counter updated
      return c('write', 0, 1);
    default:
      return c('other');
  }
}

/** The card's processing time of one command under `profile`, µs. */
export function cardProcessingUs(profile: CardProcessingProfile, cla: number, ins: number, p1 = 0, p2 = 0): number {
  const cost = commandCost(cla, ins, p1, p2);
  const base =
    cost.family === 'select'
      ? profile.selectUs
      : cost.family === 'read'
        ? profile.readUs
        : cost.family === 'other'
          ? profile.otherUs
          : 0;
  return profile.apduUs + base + cost.cryptoCalls * profile.cryptoCallUs + cost.nvmUpdates * profile.nvmUpdateUs;
}

/** The time the SWP hop adds to one command/answer pair, µs. */
export function simLinkUs(link: SimLinkProfile, commandBytes: number, responseBytes: number): number {
  const usPerByte = 8e6 / link.bitRate;
  return 2 * link.perMessageUs + (commandBytes + responseBytes + 2 * link.overheadBytes) * usPerByte;
}

function nonNegative(v: unknown, name: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new ArgumentError(`${name}: expected a finite number of µs ≥ 0, got ${String(v)}`);
}

/**
 * Checks a card, reader or link profile given in options (hand-built ones included).
 * @throws {ArgumentError} `BAD_ARGUMENT` naming the field.
 */
export function assertTapProfiles(o: { card?: unknown; reader?: unknown; simLink?: unknown }): void {
  const obj = (v: unknown, name: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null) throw new ArgumentError(`${name}: expected a profile object`);
    return v as Record<string, unknown>;
  };
  if (o.card !== undefined) {
    const c = obj(o.card, 'card');
    for (const k of ['powerUpUs', 'apduUs', 'selectUs', 'readUs', 'cryptoCallUs', 'nvmUpdateUs', 'otherUs'])
      nonNegative(c[k], `card.${k}`);
  }
  if (o.reader !== undefined) {
    const r = obj(o.reader, 'reader');
    for (const k of ['pollingUs', 'perApduUs', 'decisionUs']) nonNegative(r[k], `reader.${k}`);
  }
  if (o.simLink !== undefined) {
    const l = obj(o.simLink, 'simLink');
    if (typeof l.bitRate !== 'number' || !(l.bitRate > 0))
      throw new ArgumentError('simLink.bitRate: expected bit/s > 0');
    for (const k of ['overheadBytes', 'perMessageUs', 'activationUs']) nonNegative(l[k], `simLink.${k}`);
  }
}

/**
 * Tap-time model: estimates how long a contactless APDU exchange keeps the card in the field.
 *
 * Two link kinds:
 * - **`iso14443-4`**: 13.56 MHz, ISO/IEC 14443 Type A at 106/212/424/848 kbit/s. Activation (REQA/ATQA,
 *   anticollision and SELECT per cascade level, RATS/ATS, PPS when the rate is above 106 kbit/s), then every APDU
 *   as I-blocks (chained when longer than the frame size, each chained block acknowledged by an R(ACK)), the
 *   minimum frame delay times between frames, the card's processing time and, when that exceeds FWT, S(WTX)
 *   round trips.
 * - **`rf-sim-2g4`**: a 2.4 GHz RF-SIM link described only by assumptions (bit rate, packet overhead, payload
 *   size, turnaround, connection setup). No public normative figures were available; every default is [K].
 *
 * Conventions (read these before comparing with a trace):
 * - ISO timings are computed exactly in carrier cycles (1/fc) and converted to µs once, rounded to 1 ns.
 * - A frame lasts SOF + 9 bits per byte + EOF etu. Every frame is followed by the minimum gap before the other
 *   side's next frame, and that gap is counted with the frame: `commandAirUs` = the reader's frames (command
 *   I-blocks, R(ACK)s acknowledging a chained response, S(WTX) replies) with their gaps, `responseAirUs` = the
 *   card's frames (R(ACK)s acknowledging a chained command, response I-blocks, S(WTX) requests) with theirs.
 * - `processingUs` is the card's time from the end of the minimum FDT after the last command block until its
 *   answer starts; `totalUs = activationUs + Σ (commandAirUs + responseAirUs + processingUs)`.
 * - Reader-side software latency (PC/SC, USB, host) is not modelled.
 *
 * Sources (normative = the standard requires the value; typical = an assumed value within the allowed range):
 * ISO/IEC 14443-2 (fc, bit coding), ISO/IEC 14443-3:2018 (etu, frames, FDT, anticollision; clause numbers of
 * that edition), ISO/IEC 14443-4:2008 (RATS/ATS/PPS, block format, FWT, WTX, chaining; clause numbers of that
 * edition, which the 2016/2018 editions renumber in places). [K] marks a value or clause not checked against the
 * text of the standard.
 *
 * @module
 */
import { assertBytes } from '../bytes';
import { ArgumentError } from '../errors';
import {
  assertTapProfiles,
  type CardProcessingProfile,
  cardProcessingUs,
  type ReaderProfile,
  type SimLinkProfile,
  simLinkUs,
} from './profiles';

// ---------------------------------------------------------------- constants

/**
 * ISO/IEC 14443 Type A timing constants, in carrier cycles (1/fc) unless the name says otherwise.
 * Each entry says whether the value is normative (N) or a modelling choice (M).
 */
export const ISO14443_TIMING = {
  /** fc = 13.56 MHz ± 7 kHz. N: ISO/IEC 14443-2 §6 (power transfer) [K clause]. */
  FC_HZ: 13_560_000,
  /** 1 etu = 128/(D·fc) with D = 1, 2, 4, 8 for fc/128 … fc/16 (≈ 106 … 848 kbit/s). N: 14443-3:2018 §6.1. */
  ETU_CYCLES: { 106: 128, 212: 64, 424: 32, 848: 16 },
  /** Each byte is 8 data bits + 1 odd parity bit. N: 14443-3:2018 §6.2.3.2.1 (standard frame, fc/128 … fc/16). */
  BITS_PER_BYTE: 9,
  /** Start of communication: 1 bit period (sequence Z PCD→PICC, sequence D PICC→PCD). N: 14443-2 §8 [K clause]. */
  SOF_BITS: 1,
  /**
   * End of communication: 1 bit period counted (PCD: logic 0 then idle sequence Y; PICC: unmodulated sequence F).
   * M: the idle part belongs to the following frame delay; the error is below 1 etu per frame.
   */
  EOF_BITS: 1,
  /** Short frame (REQA/WUPA): S + 7 data bits + E = 9 bit periods. N: 14443-3:2018 §6.2.3.1. */
  SHORT_FRAME_BITS: 9,
  /** CRC_A appended to every frame except REQA/ATQA/ANTICOLLISION and its UID answer. N: 14443-3:2018 §6.2.4. */
  CRC_A_BYTES: 2,
  /**
   * FDT PCD→PICC, n = 9, last PCD bit 0: (9·128 + 20)/fc ≈ 86.43 µs. N (exact for REQA/ANTICOLLISION, whose last
   * bit is a known 0; minimum for other frames): 14443-3:2018 §6.2.1.1.
   */
  FDT_PCD_PICC_LAST_0: 1172,
  /**
   * FDT PCD→PICC, n = 9, last PCD bit 1: (9·128 + 84)/fc ≈ 91.15 µs. N (§6.2.1.1); M: used for every frame whose
   * last bit is not known (it ends in CRC_A), an upper bound of the minimum, ≤ 64/fc ≈ 4.7 µs too long.
   * M [K]: the fc/128 figure is used at every bit rate.
   */
  FDT_PCD_PICC_LAST_1: 1236,
  /** FDT PICC→PCD minimum ≈ 86.43 µs. N: 14443-3:2018 §6.2.1.2 (a minimum; readers may wait longer). */
  FDT_PICC_PCD_MIN: 1172,
  /** SFGT = 256·16/fc · 2^SFGI (SFGI 0: none beyond the FDT). N: 14443-4:2008 §5.2.5. */
  SFGT_UNIT: 4096,
  /** FWT = 256·16/fc · 2^FWI ≈ 302 µs · 2^FWI, FWI 0..14. N: 14443-4:2008 §7.2. */
  FWT_UNIT: 4096,
  /**
   * A PICC shall accept a request within 5 ms of entering the unmodulated field. N (a maximum, used here as the
   * assumed power-up time of a card tapping into an already polling field): 14443-3:2018 §5.2.1 [K clause].
   */
  POWER_UP_US: 5000,
} as const;

/** Valid Type A bit rates in kbit/s (fc/128, fc/64, fc/32, fc/16). */
export type Iso14443BitRate = 106 | 212 | 424 | 848;

/** FSDI/FSCI 0..8 → FSD/FSC in bytes (whole frame: prologue, INF and CRC). N: 14443-4:2008 §5.1, §5.2.3. */
export const FRAME_SIZES = [16, 24, 32, 40, 48, 64, 96, 128, 256] as const;

/** A frame size from {@link FRAME_SIZES}. */
export type FrameSize = (typeof FRAME_SIZES)[number];

/** The four ISO/IEC 14443-4 block kinds' fixed sizes around the prologue (PCB ‖ [CID] ‖ [NAD]). */
const PCB_BYTES = 1; // 14443-4:2008 §7.1.1.1 (N)
const WTX_INF_BYTES = 1; // S(WTX) INF = WTXM byte, 14443-4:2008 §7.3 (N)

/** Activation frame sizes in bytes (without CRC unless noted), 14443-3:2018 §6.4–§6.5 and 14443-4:2008 §5. */
const ACT = {
  /** ATQA: 2 bytes, no CRC. N: §6.5.2. */
  ATQA: 2,
  /** ANTICOLLISION: SEL ‖ NVB = 20, no CRC. N: §6.5.3.1. */
  ANTICOLLISION: 2,
  /** Answer to ANTICOLLISION: UID CLn (4) ‖ BCC, no CRC. N: §6.5.3.1. */
  UID_CLN: 5,
  /** SELECT: SEL ‖ NVB = 70 ‖ UID CLn (4) ‖ BCC, + CRC_A. N: §6.5.3.1. */
  SELECT: 7,
  /** SAK: 1 byte + CRC_A. N: §6.5.3.4. */
  SAK: 1,
  /** RATS: E0 ‖ FSDI·CID, + CRC_A. N: 14443-4:2008 §5.1. */
  RATS: 2,
  /** PPS request: PPSS ‖ PPS0 ‖ PPS1, + CRC_A. N: 14443-4:2008 §5.3. */
  PPS: 3,
  /** PPS response: PPSS, + CRC_A. N: 14443-4:2008 §5.4. */
  PPS_RESPONSE: 1,
} as const;

/** UID size in bytes → cascade levels (single/double/triple). N: 14443-3:2018 §6.5.4. */
const CASCADE_LEVELS = { 4: 1, 7: 2, 10: 3 } as const;

// ---------------------------------------------------------------- profiles

/** A 13.56 MHz ISO/IEC 14443-4 Type A link. */
export interface Iso14443LinkProfile {
  readonly kind: 'iso14443-4';
  /** Bit rate in kbit/s, both directions; above 106 it is reached with PPS after the ATS. */
  readonly bitRate: Iso14443BitRate;
  /** FSC: largest frame the card accepts (ATS T0 FSCI). ISO default when T0 is absent: 32; typical JavaCard: 256. */
  readonly fsc: FrameSize;
  /** FSD: largest frame the reader accepts (RATS FSDI). Typical readers send FSDI 8 (256). */
  readonly fsd: FrameSize;
  /** CID byte in every block (14443-4:2008 §7.1.1.2). Typical: false. */
  readonly cid: boolean;
  /** NAD byte in the first I-block of each chain (14443-4:2008 §7.1.1.3 [K: first block only]). Typical: false. */
  readonly nad: boolean;
  /** Frame waiting time integer, 0..14 (ATS TB(1)). ISO default when absent: 4 (≈ 4.8 ms); typical here: 7 (≈ 38.7 ms). */
  readonly fwi: number;
  /** Multiplier the card asks for in each S(WTX), 1..59 (14443-4:2008 §7.3). Typical here: 1 (most WTX round trips). */
  readonly wtxm: number;
  /** Start-up frame guard time integer, 0..14 (ATS TB(1)); ISO default 0. */
  readonly sfgi: number;
  /** UID size: 4, 7 or 10 bytes → 1, 2 or 3 cascade levels. Typical here: 4 (phone card emulation) [K]. */
  readonly uidLength: 4 | 7 | 10;
  /** ATS length in bytes from TL to the last historical byte (CRC excluded), ≤ FSD − 2. Typical here: 12 [K]. */
  readonly atsLength: number;
  /** Time from entering the field until the card accepts REQA, µs. Default 5000 (the ISO maximum). */
  readonly powerUpUs: number;
}

/**
 * A 2.4 GHz RF-SIM link. Every field is an assumption [K]: RF-SIM link layers are proprietary, so the defaults
 * describe a BLE-1M-like packet radio (1 Mbit/s, 10 bytes of preamble/address/header/CRC per packet, 150 µs
 * turnaround) carrying APDUs in 32-byte payloads with one link-layer ACK per packet.
 */
export interface RfSim2g4LinkProfile {
  readonly kind: 'rf-sim-2g4';
  /** Air bit rate in bit/s. Default 1 000 000 [K]. */
  readonly bitRate: number;
  /** Largest APDU payload per packet, bytes. Default 32 [K]. */
  readonly maxPayload: number;
  /** Bytes added to every packet (preamble, address, header, CRC). Default 10 [K]. */
  readonly packetOverheadBytes: number;
  /** Radio turnaround after every packet, µs. Default 150 [K]. */
  readonly turnaroundUs: number;
  /** Whether every data packet is answered by an empty ACK packet. Default true [K]. */
  readonly ackPackets: boolean;
  /** Discovery and link establishment once per tap, µs. Default 20 000 [K]. */
  readonly connectionSetupUs: number;
}

/** A link model for {@link estimateTapTime}; discriminated by `kind`. */
export type LinkProfile = Iso14443LinkProfile | RfSim2g4LinkProfile;

const ISO_DEFAULTS: Iso14443LinkProfile = {
  kind: 'iso14443-4',
  bitRate: 106,
  fsc: 256,
  fsd: 256,
  cid: false,
  nad: false,
  fwi: 7,
  wtxm: 1,
  sfgi: 0,
  uidLength: 4,
  atsLength: 12,
  powerUpUs: ISO14443_TIMING.POWER_UP_US,
};

const RFSIM_DEFAULTS: RfSim2g4LinkProfile = {
  kind: 'rf-sim-2g4',
  bitRate: 1_000_000,
  maxPayload: 32,
  packetOverheadBytes: 10,
  turnaroundUs: 150,
  ackPackets: true,
  connectionSetupUs: 20_000,
};

/**
 * An ISO/IEC 14443-4 profile: the typical defaults (see {@link Iso14443LinkProfile}) with `overrides` applied.
 * @throws {ArgumentError} `BAD_ARGUMENT` when a field is outside its domain.
 * @example iso14443Profile({ bitRate: 424, fsc: 32, cid: true })
 */
export function iso14443Profile(overrides: Partial<Omit<Iso14443LinkProfile, 'kind'>> = {}): Iso14443LinkProfile {
  const p: Iso14443LinkProfile = Object.freeze({ ...ISO_DEFAULTS, ...overrides, kind: 'iso14443-4' });
  assertLinkProfile(p);
  return p;
}

/**
 * A 2.4 GHz RF-SIM profile: the assumed defaults (see {@link RfSim2g4LinkProfile}) with `overrides` applied.
 * @throws {ArgumentError} `BAD_ARGUMENT` when a field is outside its domain.
 */
export function rfSimProfile(overrides: Partial<Omit<RfSim2g4LinkProfile, 'kind'>> = {}): RfSim2g4LinkProfile {
  const p: RfSim2g4LinkProfile = Object.freeze({ ...RFSIM_DEFAULTS, ...overrides, kind: 'rf-sim-2g4' });
  assertLinkProfile(p);
  return p;
}

/** ISO/IEC 14443-4 at 106 kbit/s (fc/128) with the typical defaults. */
export const ISO14443_106: Iso14443LinkProfile = /* @__PURE__ */ iso14443Profile({ bitRate: 106 });
/** ISO/IEC 14443-4 at 212 kbit/s (fc/64, via PPS) with the typical defaults. */
export const ISO14443_212: Iso14443LinkProfile = /* @__PURE__ */ iso14443Profile({ bitRate: 212 });
/** ISO/IEC 14443-4 at 424 kbit/s (fc/32, via PPS) with the typical defaults. */
export const ISO14443_424: Iso14443LinkProfile = /* @__PURE__ */ iso14443Profile({ bitRate: 424 });
/** ISO/IEC 14443-4 at 848 kbit/s (fc/16, via PPS) with the typical defaults. */
export const ISO14443_848: Iso14443LinkProfile = /* @__PURE__ */ iso14443Profile({ bitRate: 848 });
/** 2.4 GHz RF-SIM with the assumed defaults (1 Mbit/s). */
export const RFSIM_2G4: RfSim2g4LinkProfile = /* @__PURE__ */ rfSimProfile();

function isBitRate(v: unknown): v is Iso14443BitRate {
  return v === 106 || v === 212 || v === 424 || v === 848;
}

function isIntIn(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function isNonNegative(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

function bad(field: string, value: unknown, domain: string): never {
  throw new ArgumentError(`link profile ${field}: expected ${domain}, got ${String(value)}`);
}

/**
 * Checks every field of a link profile (hand-built ones included).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an unknown `kind` or a field outside its domain.
 */
export function assertLinkProfile(profile: unknown): asserts profile is LinkProfile {
  if (typeof profile !== 'object' || profile === null) throw new ArgumentError('link profile: expected an object');
  const p = profile as Record<string, unknown>;
  if (p.kind === 'iso14443-4') {
    if (!isBitRate(p.bitRate)) bad('bitRate', p.bitRate, '106, 212, 424 or 848');
    if (!FRAME_SIZES.includes(p.fsc as FrameSize)) bad('fsc', p.fsc, `one of ${FRAME_SIZES.join(', ')}`);
    if (!FRAME_SIZES.includes(p.fsd as FrameSize)) bad('fsd', p.fsd, `one of ${FRAME_SIZES.join(', ')}`);
    if (typeof p.cid !== 'boolean') bad('cid', p.cid, 'a boolean');
    if (typeof p.nad !== 'boolean') bad('nad', p.nad, 'a boolean');
    if (!isIntIn(p.fwi, 0, 14)) bad('fwi', p.fwi, 'an integer in 0..14');
    if (!isIntIn(p.wtxm, 1, 59)) bad('wtxm', p.wtxm, 'an integer in 1..59');
    if (!isIntIn(p.sfgi, 0, 14)) bad('sfgi', p.sfgi, 'an integer in 0..14');
    if (!(p.uidLength === 4 || p.uidLength === 7 || p.uidLength === 10)) bad('uidLength', p.uidLength, '4, 7 or 10');
    // TL counts itself, so the shortest ATS is 1 byte; the ATS frame (with CRC_A) must fit in FSD (§5.2.2).
    if (!isIntIn(p.atsLength, 1, (p.fsd as number) - ISO14443_TIMING.CRC_A_BYTES))
      bad('atsLength', p.atsLength, `an integer in 1..${(p.fsd as number) - ISO14443_TIMING.CRC_A_BYTES} (FSD − 2)`);
    if (!isNonNegative(p.powerUpUs)) bad('powerUpUs', p.powerUpUs, 'a finite number ≥ 0');
    return;
  }
  if (p.kind === 'rf-sim-2g4') {
    if (!(typeof p.bitRate === 'number' && Number.isFinite(p.bitRate) && p.bitRate > 0))
      bad('bitRate', p.bitRate, 'a finite number of bit/s > 0');
    if (!isIntIn(p.maxPayload, 1, 65_535)) bad('maxPayload', p.maxPayload, 'an integer in 1..65535');
    if (!isIntIn(p.packetOverheadBytes, 0, 65_535))
      bad('packetOverheadBytes', p.packetOverheadBytes, 'an integer in 0..65535');
    if (!isNonNegative(p.turnaroundUs)) bad('turnaroundUs', p.turnaroundUs, 'a finite number ≥ 0');
    if (typeof p.ackPackets !== 'boolean') bad('ackPackets', p.ackPackets, 'a boolean');
    if (!isNonNegative(p.connectionSetupUs)) bad('connectionSetupUs', p.connectionSetupUs, 'a finite number ≥ 0');
    return;
  }
  bad('kind', p.kind, "'iso14443-4' or 'rf-sim-2g4'");
}

// ---------------------------------------------------------------- unit helpers

const US_PER_CYCLE = 1e6 / ISO14443_TIMING.FC_HZ;

/** Rounds µs to 1 ns (3 decimals). */
function roundUs(us: number): number {
  return Math.round(us * 1000) / 1000;
}

/** Carrier cycles → µs (unrounded). */
function cyclesToUs(cycles: number): number {
  return cycles * US_PER_CYCLE;
}

/**
 * Duration of one bit (etu) in µs at `bitRate`: 128/fc ≈ 9.4395 µs at 106 kbit/s, halved at each step up.
 * @throws {ArgumentError} `BAD_ARGUMENT` when `bitRate` is not 106, 212, 424 or 848.
 */
export function etuUs(bitRate: Iso14443BitRate): number {
  if (!isBitRate(bitRate)) bad('bitRate', bitRate, '106, 212, 424 or 848');
  return cyclesToUs(ISO14443_TIMING.ETU_CYCLES[bitRate]);
}

/** Cycles of a standard frame of `bytes` bytes (CRC included in `bytes` when the frame has one). */
function frameCycles(bytes: number, etu: number): number {
  const T = ISO14443_TIMING;
  return (T.SOF_BITS + T.BITS_PER_BYTE * bytes + T.EOF_BITS) * etu;
}

/**
 * Largest INF field of one block within `frameSize`: FSC/FSD − PCB − [CID] − [NAD] − CRC_A (14443-4:2008 §7.1).
 * @throws {ArgumentError} `BAD_ARGUMENT` when `frameSize` is not one of {@link FRAME_SIZES}.
 */
export function maxInfLength(frameSize: FrameSize, cid: boolean, nad: boolean): number {
  if (!FRAME_SIZES.includes(frameSize)) bad('frame size', frameSize, `one of ${FRAME_SIZES.join(', ')}`);
  return frameSize - PCB_BYTES - (cid ? 1 : 0) - (nad ? 1 : 0) - ISO14443_TIMING.CRC_A_BYTES;
}

/** I-blocks of one chain and the bytes of all their frames (prologue, INF and CRC_A). */
interface ChainPlan {
  blocks: number;
  frameBytes: number;
}

/**
 * Splits `length` INF bytes into I-blocks (14443-4:2008 §7.5.2): NAD, when used, only in the first block, so the
 * first block carries one byte less; an empty APDU still takes one block.
 */
function chainPlan(length: number, frameSize: number, cid: boolean, nad: boolean): ChainPlan {
  const perBlock = frameSize - PCB_BYTES - (cid ? 1 : 0) - ISO14443_TIMING.CRC_A_BYTES;
  const first = perBlock - (nad ? 1 : 0);
  const blocks = length <= first ? 1 : 1 + Math.ceil((length - first) / perBlock);
  const overhead = PCB_BYTES + (cid ? 1 : 0) + ISO14443_TIMING.CRC_A_BYTES;
  return { blocks, frameBytes: length + blocks * overhead + (nad ? 1 : 0) };
}

/**
 * Number of I-blocks an APDU (or response) of `length` bytes needs at `frameSize` (FSC for commands, FSD for
 * responses); every block but the last is chained and acknowledged by one R(ACK).
 * @throws {ArgumentError} `BAD_ARGUMENT` on a negative or non-integer length or a bad frame size.
 */
export function iBlockCount(length: number, frameSize: FrameSize, cid = false, nad = false): number {
  if (!isIntIn(length, 0, Number.MAX_SAFE_INTEGER)) bad('length', length, 'an integer ≥ 0');
  maxInfLength(frameSize, cid, nad);
  return chainPlan(length, frameSize, cid, nad).blocks;
}

// ---------------------------------------------------------------- processing model

/** Card processing time of one command, µs, from its CLA, INS, P1 and P2 (−1 when the command is shorter). */
export type ProcessingModel = (cla: number, ins: number, p1: number, p2: number) => number;

/**
 * Typical card processing times by command family, µs. All are assumptions [K] for a JavaCard-class chip
 * (3DES/AES coprocessor, EEPROM/flash writes of a few ms), not figures from a standard.
 */
export const TYPICAL_PROCESSING_US = {
  /** Reads from memory: READ BINARY B0, READ RECORD B2, GET DATA CA/CB, GET RESPONSE C0, PBOC GET BALANCE 5C. */
  READ: 500,
  /** SELECT A4 (ISO/IEC 7816-4 §11.2.2): file system walk, FCI build. */
  SELECT: 1000,
  /** Cryptogram/MAC computation: GP INITIALIZE UPDATE / PBOC INITIALIZE FOR LOAD or PURCHASE 50, EXTERNAL AUTH 82,
   *  INTERNAL AUTH 88, GET CHALLENGE 84, EMV GET PROCESSING OPTIONS A8, GENERATE AC AE, PBOC GET TRANSACTION PROVE 5A. */
  CRYPTO: 2000,
  /** Persistent writes (with MAC/TAC where the command has them): UPDATE BINARY D6, UPDATE RECORD DC, APPEND
   *  RECORD / GP STORE DATA E2, PBOC CREDIT FOR LOAD 52, DEBIT FOR PURCHASE 54, GP INSTALL E6, LOAD E8, PUT KEY D8. */
  WRITE: 5000,
  /** Anything else. */
  OTHER: 1000,
} as const;

/**
 * The default {@link ProcessingModel}: {@link TYPICAL_PROCESSING_US} by INS (the class byte is not needed for the
 * families above).
 */
export function typicalProcessingUs(_cla: number, ins: number): number {
  switch (ins) {
    case 0xb0:
    case 0xb2:
    case 0xca:
    case 0xcb:
    case 0xc0:
    case 0x5c:
      return TYPICAL_PROCESSING_US.READ;
    case 0xa4:
      return TYPICAL_PROCESSING_US.SELECT;
    case 0x50:
    case 0x82:
    case 0x88:
    case 0x84:
    case 0xa8:
    case 0xae:
    case 0x5a:
      return TYPICAL_PROCESSING_US.CRYPTO;
    case 0xd6:
    case 0xdc:
    case 0xe2:
    case 0x52:
    case 0x54:
    case 0xe6:
    case 0xe8:
    case 0xd8:
      return TYPICAL_PROCESSING_US.WRITE;
    default:
      return TYPICAL_PROCESSING_US.OTHER;
  }
}

// ---------------------------------------------------------------- estimate

/** One command/response pair as seen by the reader. */
export interface TapExchange {
  command: Uint8Array;
  response: Uint8Array;
  /** The card's processing time for this command, µs; overrides the options' default. */
  processingUs?: number;
}

/** Options of {@link estimateTapTime}. */
export interface TapTimeOptions {
  /** Count the once-per-tap activation (power-up, anticollision, RATS, PPS / RF-SIM connection). Default true. */
  includeActivation?: boolean;
  /**
   * Processing time of exchanges without their own: a constant in µs, or a model. Default: the `card` profile's
   * costs when one is given, else {@link typicalProcessingUs}.
   */
  defaultProcessingUs?: number | ProcessingModel;
  /** The card's processing profile (`CARD_PROCESSING`): its command costs and its power-up time. */
  card?: CardProcessingProfile;
  /** The reader around the card (`READERS`): polling, its handling of each command, its decision. Default none. */
  reader?: ReaderProfile;
  /** The SIM's link to the phone's NFC controller (`SIM_LINKS.swp`). Default none (a card, or an RF-SIM). */
  simLink?: SimLinkProfile;
}

/** Where a tap's time goes, µs (rounded to 1 ns); the four add up to `totalUs`. */
export interface TapTimeSplit {
  /** Polling until the card is found, the reader's handling of each command, its decision. */
  readerUs: number;
  /** Anticollision, RATS/PPS (or the RF-SIM connection) and every frame of every command and answer. */
  airUs: number;
  /** The SIM's SWP hop to the NFC controller (0 without one). */
  linkUs: number;
  /** The card's power-up and its processing of every command. */
  cardUs: number;
}

/** The time one APDU adds to the tap, µs (rounded to 1 ns). */
export interface ApduTiming {
  /** Reader→card frames of this APDU with the minimum gap after each (see the module conventions). */
  commandAirUs: number;
  /** Card→reader frames of this APDU with the minimum gap after each. */
  responseAirUs: number;
  /** The card's processing time counted. */
  processingUs: number;
  /** Frames (ISO) or packets (RF-SIM) in both directions: `framesUp + framesDown`. */
  frames: number;
  /** Frames sent by the reader: I-blocks, R(ACK)s, S(WTX) replies (RF-SIM: data and ACK packets). */
  framesUp: number;
  /** Frames sent by the card: R(ACK)s, I-blocks, S(WTX) requests (RF-SIM: data and ACK packets). */
  framesDown: number;
  /** S(WTX) round trips the card needed because processing exceeded FWT (always 0 for RF-SIM). */
  wtx: number;
}

/** The result of {@link estimateTapTime}; all times in µs rounded to 1 ns. */
export interface TapTimeEstimate {
  /** `activationUs + Σ (commandAirUs + responseAirUs + processingUs)`. */
  totalUs: number;
  /** Once per tap; 0 when `includeActivation` is false. */
  activationUs: number;
  perApdu: ApduTiming[];
  apduCount: number;
  /** Command APDU bytes, framing excluded. */
  bytesUp: number;
  /** Response APDU bytes (data ‖ SW), framing excluded. */
  bytesDown: number;
  /** Short link description for reports, e.g. `106 kbit/s` or `2.4 GHz RF-SIM, 1 Mbit/s`. */
  link: string;
  /** Where the time goes: reader, air, link, card. */
  split: TapTimeSplit;
  /** `totalUs` without the reader's polling: from finding the card to the reader's decision. */
  transactionUs: number;
  /** The profiles the estimate used, by name (`undefined` where none was given). */
  profiles: { card: string | undefined; reader: string | undefined; simLink: string | undefined };
}

/** What the model needs of an exchange: lengths, header, processing. */
interface ExchangeRecord {
  up: number;
  down: number;
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  processingUs: number | undefined;
}

function checkProcessing(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!isNonNegative(v)) throw new ArgumentError(`${name}: expected a finite number of µs ≥ 0, got ${String(v)}`);
  return v;
}

function toRecord(command: Uint8Array, response: Uint8Array, processingUs: unknown, name: string): ExchangeRecord {
  assertBytes(command, `${name}.command`);
  assertBytes(response, `${name}.response`);
  return {
    up: command.length,
    down: response.length,
    cla: command[0] ?? -1,
    ins: command[1] ?? -1,
    p1: command[2] ?? -1,
    p2: command[3] ?? -1,
    processingUs: checkProcessing(processingUs, `${name}.processingUs`),
  };
}

/** Activation time of an ISO profile in carrier cycles (see {@link activationUs}). */
function isoActivationCycles(p: Iso14443LinkProfile): number {
  const T = ISO14443_TIMING;
  const etu = T.ETU_CYCLES[106]; // REQA … ATS and PPS always run at fc/128 (14443-4:2008 §5.3)
  const crc = T.CRC_A_BYTES;
  const pcd0 = T.FDT_PCD_PICC_LAST_0;
  const pcd1 = T.FDT_PCD_PICC_LAST_1;
  const picc = T.FDT_PICC_PCD_MIN;
  // REQA 26h: 7 bits b1..b7 = 0,1,1,0,0,1,0, so the last bit is 0 (§6.4.1).
  let c = T.SHORT_FRAME_BITS * etu + pcd0;
  c += frameCycles(ACT.ATQA, etu) + picc;
  // Per cascade level (single card, no collision): ANTICOLLISION (ends NVB 20h, odd parity 0 → last bit 0),
  // UID CLn ‖ BCC, SELECT, SAK.
  const level =
    frameCycles(ACT.ANTICOLLISION, etu) +
    pcd0 +
    frameCycles(ACT.UID_CLN, etu) +
    picc +
    frameCycles(ACT.SELECT + crc, etu) +
    pcd1 +
    frameCycles(ACT.SAK + crc, etu) +
    picc;
  c += CASCADE_LEVELS[p.uidLength] * level;
  // RATS → ATS; after the ATS the reader waits at least SFGT (SFGI 0: no SFGT, §5.2.5).
  const sfgt = p.sfgi === 0 ? 0 : T.SFGT_UNIT * 2 ** p.sfgi;
  c += frameCycles(ACT.RATS + crc, etu) + pcd1;
  c += frameCycles(p.atsLength + crc, etu) + Math.max(picc, sfgt);
  // PPS (§5.3–5.4) only to leave fc/128; the card is assumed to allow the rate in TA(1).
  if (p.bitRate !== 106) c += frameCycles(ACT.PPS + crc, etu) + pcd1 + frameCycles(ACT.PPS_RESPONSE + crc, etu) + picc;
  return c;
}

/**
 * The once-per-tap activation time of `profile`, µs: ISO = power-up + REQA/ATQA + cascade levels + RATS/ATS
 * [+ SFGT] [+ PPS]; RF-SIM = `connectionSetupUs`.
 * @throws {ArgumentError} `BAD_ARGUMENT` on an invalid profile.
 */
export function activationUs(profile: LinkProfile): number {
  assertLinkProfile(profile);
  if (profile.kind === 'rf-sim-2g4') return roundUs(profile.connectionSetupUs);
  return roundUs(profile.powerUpUs + cyclesToUs(isoActivationCycles(profile)));
}

function isoApdu(r: ExchangeRecord, processingUs: number, p: Iso14443LinkProfile): ApduTiming {
  const T = ISO14443_TIMING;
  const etu = T.ETU_CYCLES[p.bitRate];
  const up = chainPlan(r.up, p.fsc, p.cid, p.nad);
  const down = chainPlan(r.down, p.fsd, p.cid, p.nad);
  const prologue = PCB_BYTES + (p.cid ? 1 : 0);
  const rBlockBytes = prologue + T.CRC_A_BYTES; // R(ACK): PCB [CID] CRC_A (§7.1)
  const wtxBytes = prologue + WTX_INF_BYTES + T.CRC_A_BYTES; // S(WTX): PCB [CID] WTXM CRC_A (§7.3)
  // WTX (§7.3): the card must answer within FWT or ask for FWT·WTXM more; worst case it asks each time.
  const fwt = T.FWT_UNIT * 2 ** p.fwi;
  const procCycles = processingUs * T.FC_HZ * 1e-6;
  const wtx = procCycles > fwt ? Math.ceil((procCycles - fwt) / (fwt * p.wtxm)) : 0;
  // Reader frames: command I-blocks, one R(ACK) per chained response block, one S(WTX) reply per request.
  const framesUp = up.blocks + (down.blocks - 1) + wtx;
  const bytesUp = up.frameBytes + (down.blocks - 1) * rBlockBytes + wtx * wtxBytes;
  // Card frames: one R(ACK) per chained command block, response I-blocks, S(WTX) requests.
  const framesDown = up.blocks - 1 + down.blocks + wtx;
  const bytesDown = (up.blocks - 1) * rBlockBytes + down.frameBytes + wtx * wtxBytes;
  const framing = T.SOF_BITS + T.EOF_BITS;
  const cmdCycles = (framesUp * framing + T.BITS_PER_BYTE * bytesUp) * etu + framesUp * T.FDT_PCD_PICC_LAST_1;
  const rspCycles = (framesDown * framing + T.BITS_PER_BYTE * bytesDown) * etu + framesDown * T.FDT_PICC_PCD_MIN;
  return {
    commandAirUs: roundUs(cyclesToUs(cmdCycles)),
    responseAirUs: roundUs(cyclesToUs(rspCycles)),
    processingUs: roundUs(processingUs),
    frames: framesUp + framesDown,
    framesUp,
    framesDown,
    wtx,
  };
}

function rfSimApdu(r: ExchangeRecord, processingUs: number, p: RfSim2g4LinkProfile): ApduTiming {
  const usPerByte = 8e6 / p.bitRate;
  const cmdPackets = Math.max(1, Math.ceil(r.up / p.maxPayload));
  const rspPackets = Math.max(1, Math.ceil(r.down / p.maxPayload));
  const packetUs = (payload: number, packets: number): number =>
    (packets * p.packetOverheadBytes + payload) * usPerByte + packets * p.turnaroundUs;
  const acks = p.ackPackets ? 1 : 0;
  // Reader: command packets + an ACK per response packet; card: response packets + an ACK per command packet.
  const commandAirUs = packetUs(r.up, cmdPackets) + acks * packetUs(0, rspPackets);
  const responseAirUs = packetUs(r.down, rspPackets) + acks * packetUs(0, cmdPackets);
  const framesUp = cmdPackets + acks * rspPackets;
  const framesDown = rspPackets + acks * cmdPackets;
  return {
    commandAirUs: roundUs(commandAirUs),
    responseAirUs: roundUs(responseAirUs),
    processingUs: roundUs(processingUs),
    frames: framesUp + framesDown,
    framesUp,
    framesDown,
    wtx: 0,
  };
}

function resolveDefaultProcessing(
  opt: TapTimeOptions['defaultProcessingUs'],
  card?: CardProcessingProfile,
): ProcessingModel {
  if (opt === undefined && card !== undefined) return (cla, ins, p1, p2) => cardProcessingUs(card, cla, ins, p1, p2);
  if (opt === undefined) return typicalProcessingUs;
  if (typeof opt === 'function') return opt;
  const v = checkProcessing(opt, 'defaultProcessingUs') as number;
  return () => v;
}

function modelled(model: ProcessingModel, r: ExchangeRecord): number {
  const v: unknown = model(r.cla, r.ins, r.p1, r.p2);
  if (!isNonNegative(v))
    throw new ArgumentError(`defaultProcessingUs: the model returned ${String(v)}, expected a finite number ≥ 0`);
  return v;
}

function linkLabel(p: LinkProfile): string {
  if (p.kind === 'iso14443-4') return `${p.bitRate} kbit/s`;
  const rate = p.bitRate >= 1e6 ? `${+(p.bitRate / 1e6).toFixed(3)} Mbit/s` : `${+(p.bitRate / 1e3).toFixed(3)} kbit/s`;
  return `2.4 GHz RF-SIM, ${rate}`;
}

function estimateRecords(
  records: readonly ExchangeRecord[],
  profile: LinkProfile,
  opts: TapTimeOptions,
): TapTimeEstimate {
  assertLinkProfile(profile);
  if (opts.includeActivation !== undefined && typeof opts.includeActivation !== 'boolean')
    throw new ArgumentError(`includeActivation: expected a boolean, got ${String(opts.includeActivation)}`);
  assertTapProfiles(opts);
  const { card, reader, simLink } = opts;
  const model = resolveDefaultProcessing(opts.defaultProcessingUs, card);
  const withActivation = opts.includeActivation !== false;
  // The ISO activation counts the card's power-up (the card profile's when given); the rest of it is air.
  const iso = profile.kind === 'iso14443-4';
  const link = iso && card !== undefined ? { ...profile, powerUpUs: card.powerUpUs } : profile;
  const activation = withActivation ? activationUs(link) : 0;
  const powerUp = withActivation && iso ? (link as Iso14443LinkProfile).powerUpUs : 0;
  const perApdu: ApduTiming[] = [];
  let air = activation - powerUp;
  let cardUs = powerUp;
  let linkUs = simLink !== undefined && withActivation ? simLink.activationUs : 0;
  let bytesUp = 0;
  let bytesDown = 0;
  for (const r of records) {
    const proc = r.processingUs ?? modelled(model, r);
    const t = iso ? isoApdu(r, proc, profile) : rfSimApdu(r, proc, profile as RfSim2g4LinkProfile);
    perApdu.push(t);
    air += t.commandAirUs + t.responseAirUs;
    cardUs += t.processingUs;
    if (simLink !== undefined) linkUs += simLinkUs(simLink, r.up, r.down);
    bytesUp += r.up;
    bytesDown += r.down;
  }
  const polling = reader !== undefined && withActivation ? reader.pollingUs : 0;
  const readerUs = reader === undefined ? 0 : polling + reader.perApduUs * records.length + reader.decisionUs;
  const split: TapTimeSplit = {
    readerUs: roundUs(readerUs),
    airUs: roundUs(air),
    linkUs: roundUs(linkUs),
    cardUs: roundUs(cardUs),
  };
  const total = readerUs + air + linkUs + cardUs;
  return {
    totalUs: roundUs(total),
    activationUs: activation,
    perApdu,
    apduCount: records.length,
    bytesUp,
    bytesDown,
    link: linkLabel(profile),
    split,
    transactionUs: roundUs(total - polling),
    profiles: { card: card?.name, reader: reader?.name, simLink: simLink?.name },
  };
}

/**
 * Estimates the tap time of `exchanges` over `profile` (see the module doc for what is counted).
 * @throws {ArgumentError} `BAD_ARGUMENT` on an invalid profile, a non-`Uint8Array` command/response, or a
 *   negative/non-finite processing time.
 * @example formatTapTime(estimateTapTime([{ command: hex`00A4040007A0000003330101`, response: hex`9000` }], ISO14443_106))
 */
export function estimateTapTime(
  exchanges: readonly TapExchange[],
  profile: LinkProfile,
  opts: TapTimeOptions = {},
): TapTimeEstimate {
  if (!Array.isArray(exchanges)) throw new ArgumentError('exchanges: expected an array');
  const records = exchanges.map((e, i) => {
    if (typeof e !== 'object' || e === null) throw new ArgumentError(`exchanges[${i}]: expected an object`);
    return toRecord(e.command, e.response, e.processingUs, `exchanges[${i}]`);
  });
  return estimateRecords(records, profile, opts);
}

/**
 * One-line summary, e.g. `9 APDUs, 183 B up / 121 B down, ≈ 96.4 ms at 106 kbit/s`; with profiles, the split after
 * it: `… ≈ 616.3 ms at 106 kbit/s (reader 192.0 + air 30.1 + SWP 14.3 + card 380.0 ms)`.
 */
export function formatTapTime(est: TapTimeEstimate): string {
  const apdus = `${est.apduCount} APDU${est.apduCount === 1 ? '' : 's'}`;
  const line = `${apdus}, ${est.bytesUp} B up / ${est.bytesDown} B down, ≈ ${(est.totalUs / 1000).toFixed(1)} ms at ${est.link}`;
  const p = est.profiles;
  if (p === undefined || (p.card === undefined && p.reader === undefined && p.simLink === undefined)) return line;
  return `${line} (${formatTapSplit(est)})`;
}

/** The split of a tap, e.g. `reader 192.0 + air 30.1 + SWP 14.3 + card 380.0 ms`. */
export function formatTapSplit(est: TapTimeEstimate): string {
  const ms = (us: number) => (us / 1000).toFixed(1);
  const s = est.split;
  const parts = [`reader ${ms(s.readerUs)}`, `air ${ms(s.airUs)}`];
  if (s.linkUs > 0) parts.push(`SWP ${ms(s.linkUs)}`);
  parts.push(`card ${ms(s.cardUs)} ms`);
  return parts.join(' + ');
}

/**
 * Accumulates exchanges as a channel sees them (it keeps only lengths, CLA/INS and processing, not the bytes)
 * and estimates the tap time on demand.
 * @example const timer = new TapTimer(); timer.record(cmd, rsp); formatTapTime(timer.estimate(ISO14443_106))
 */
export class TapTimer {
  #records: ExchangeRecord[] = [];

  /**
   * Records one exchange.
   * @throws {ArgumentError} `BAD_ARGUMENT` when `command`/`response` is not a `Uint8Array` or `processingUs` is
   *   negative or not finite.
   */
  record(command: Uint8Array, response: Uint8Array, processingUs?: number): void {
    this.#records.push(toRecord(command, response, processingUs, 'record'));
  }

  /** Exchanges recorded since construction or the last {@link TapTimer.reset}. */
  get count(): number {
    return this.#records.length;
  }

  /**
   * Estimates the tap time of the recorded exchanges over `profile`.
   * @throws {ArgumentError} `BAD_ARGUMENT` on an invalid profile or options.
   */
  estimate(profile: LinkProfile, opts: TapTimeOptions = {}): TapTimeEstimate {
    return estimateRecords(this.#records, profile, opts);
  }

  /** Forgets every recorded exchange (a new tap). */
  reset(): void {
    this.#records = [];
  }
}

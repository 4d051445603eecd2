/**
 * The consumption machine's side of its PSAM (secure access module), docs/spec.md §6: select the PSAM
 * application, read the terminal ID, compute MAC1 for a purchase (`80 70`), check the card's MAC2 (`80 72`),
 * and the generic DES functions (`80 1A` / `80 FA`) with the PSAM's general-purpose keys.
 *
 * A PSAM never computes a TAC: the TAC is the card's proof to the issuer, and only the issuer holds the TAC key
 * (`IssuerTacVerifier` in `@simtap/sdk/core/pboc`). Machines store the TAC as the card returned it.
 *
 * @module
 */
import { assertCardChannel, assertOptionsObject } from '../card/arguments';
import type { CardChannel } from '../card/channel';
import { assertBytes, assertUint, fromHex } from '../core/bytes';
import { ArgumentError, SimtapError } from '../core/errors';
import {
  creditSamForPurchaseCommandData,
  diversificationDataOf,
  initSamForPurchaseCommandData,
  initSamForPurchaseResponse,
  initSamForPurchaseTwoLevelCommandData,
  pbocApdu,
  TERMINAL_ID_LENGTH,
} from '../core/pboc';
import { selectByFidApdu, selectByNameApdu } from './commands';
import type { MachineErrorCode } from './errors';
import { ApduLink } from './link';

/** Default PSAM application AID (reference profile `psams[].aid`). */
export const PSAM_DEFAULT_AID: Uint8Array = /* @__PURE__ */ fromHex('A000000632010106');
/** Default PSAM application FID (reference profile `psams[].fid`). */
export const PSAM_DEFAULT_FID: Uint8Array = /* @__PURE__ */ fromHex('DF01');

/** Options of {@link PsamDriver}. */
export interface PsamDriverOptions {
  /** Select the PSAM application by AID (default) or by FID. */
  readonly selectBy?: 'aid' | 'fid';
  /** PSAM application AID; default {@link PSAM_DEFAULT_AID}. */
  readonly aid?: Uint8Array;
  /** PSAM application FID; default {@link PSAM_DEFAULT_FID}. */
  readonly fid?: Uint8Array;
}

/** Inputs of INIT_SAM_FOR_PURCHASE (`80 70`), from the card's INITIALIZE response and the machine. */
export interface PsamPurchaseRequest {
  /** The card's 4-byte random from INITIALIZE FOR (CAPP) PURCHASE. */
  readonly cardRandom: Uint8Array;
  /** The card's offline counter from INITIALIZE. */
  readonly offlineCounter: number;
  /** Amount in fen. */
  readonly amount: number;
  /** 06 EP purchase, 09 composite purchase. */
  readonly tti: number;
  /** YYYYMMDD, 4 BCD bytes. */
  readonly date: Uint8Array;
  /** hhmmss, 3 BCD bytes. */
  readonly time: Uint8Array;
  readonly keyVersion: number;
  readonly algorithmId: number;
  /** The card's application serial: 10 bytes (the rightmost 8 are sent) or the 8 diversification bytes. */
  readonly cardSerial: Uint8Array;
  /** Issuer/city identifier (8 bytes) for two-level diversification (`Lc 24`); omit for one level (`Lc 1C`). */
  readonly issuerId?: Uint8Array;
}

/** What the PSAM answers to INIT_SAM_FOR_PURCHASE. */
export interface PsamPurchaseSession {
  /** The terminal transaction sequence number the PSAM assigned. */
  readonly terminalTxnSeq: number;
  /** MAC1 for DEBIT FOR PURCHASE (4 bytes). */
  readonly mac1: Uint8Array;
}

/**
 * Drives a PSAM over a {@link CardChannel}. Calls must not overlap (the machines serialise them).
 * @example
 * const psam = new PsamDriver(channel); const tid = await psam.open();
 * const { terminalTxnSeq, mac1 } = await psam.initForPurchase({ ... }); await psam.verifyMac2(mac2);
 */
export class PsamDriver {
  readonly #link: ApduLink;
  readonly #options: Required<PsamDriverOptions>;
  #terminalId: Uint8Array | undefined;
  #openSeq: number | undefined;

  /** @throws {ArgumentError} `BAD_ARGUMENT` on a channel that is none, a malformed AID (5..16 bytes) or FID (2 bytes). */
  constructor(channel: CardChannel, options: PsamDriverOptions = {}) {
    assertCardChannel(channel, 'channel');
    assertOptionsObject(options, 'options');
    const aid = options.aid ?? PSAM_DEFAULT_AID;
    const fid = options.fid ?? PSAM_DEFAULT_FID;
    assertBytes(aid, 'aid');
    if (aid.length < 5 || aid.length > 16) throw new ArgumentError('aid: expected 5..16 bytes');
    assertBytes(fid, 'fid', 2);
    const selectBy = options.selectBy ?? 'aid';
    if (selectBy !== 'aid' && selectBy !== 'fid') throw new ArgumentError("selectBy: expected 'aid' or 'fid'");
    this.#link = new ApduLink(channel, 'psam');
    this.#options = { selectBy, aid: aid.slice(), fid: fid.slice() };
  }

  /** True once {@link PsamDriver.open} succeeded. */
  get isOpen(): boolean {
    return this.#terminalId !== undefined;
  }

  /** PSAM APDUs sent so far. */
  get apduCount(): number {
    return this.#link.apduCount;
  }

  /**
   * The terminal ID read by {@link PsamDriver.open} (6 bytes, a copy).
   * @throws {SimtapError} `PSAM_NOT_OPEN` before `open()`.
   */
  get terminalId(): Uint8Array {
    if (this.#terminalId === undefined)
      throw new SimtapError<MachineErrorCode>('PSAM_NOT_OPEN', 'PsamDriver: call open() first');
    return this.#terminalId.slice();
  }

  /** The terminal sequence of the purchase whose MAC2 the PSAM still awaits (`80 72`), if any. */
  get openSessionSeq(): number | undefined {
    return this.#openSeq;
  }

  /**
   * Selects the PSAM application and reads the terminal ID (`00 B0 96 00 06`, EF 0x16).
   * @returns the 6-byte terminal ID.
   * @throws {StatusWordError} `SW_xxxx` when the PSAM refuses; `TransportError` when the link fails.
   * @throws {MachineResponseError} `MACHINE_BAD_RESPONSE` when the terminal ID is not 6 bytes.
   */
  async open(): Promise<Uint8Array> {
    const o = this.#options;
    this.#openSeq = undefined;
    await this.#link.run('PSAM_SELECT', o.selectBy === 'aid' ? selectByNameApdu(o.aid) : selectByFidApdu(o.fid));
    const tid = await this.#link.run('PSAM_READ_TERMINAL_ID', READ_TERMINAL_ID, TERMINAL_ID_LENGTH);
    this.#terminalId = tid.slice();
    return tid.slice();
  }

  /**
   * INIT_SAM_FOR_PURCHASE `80 70 00 00 1C` (one-level) or `24` (two-level, with `issuerId`): the PSAM derives the
   * card's purchase key, computes SESPK and MAC1, and assigns the terminal transaction sequence number.
   * @throws {ArgumentError} `BAD_ARGUMENT` on an out-of-range or wrong-length field.
   * @throws {StatusWordError} `SW_xxxx` when the PSAM refuses; `MACHINE_BAD_RESPONSE` unless 8 bytes come back.
   */
  async initForPurchase(req: PsamPurchaseRequest): Promise<PsamPurchaseSession> {
    assertOptionsObject(req, 'req', false);
    assertBytes(req.cardSerial, 'cardSerial', 8, 10);
    const oneLevel = {
      cardRandom: req.cardRandom,
      offlineCounter: req.offlineCounter,
      amount: req.amount,
      tti: req.tti,
      date: req.date,
      time: req.time,
      keyVersion: req.keyVersion,
      algorithmId: req.algorithmId,
      // The rightmost 8 bytes as a copy: a subarray would move the serial off-heap (a malloc per call).
      cardSerial: req.cardSerial.length === 10 ? diversificationDataOf(req.cardSerial) : req.cardSerial,
    };
    const data =
      req.issuerId === undefined
        ? initSamForPurchaseCommandData.encode(oneLevel)
        : initSamForPurchaseTwoLevelCommandData.encode({ ...oneLevel, issuerId: req.issuerId });
    this.#openSeq = undefined;
    const rsp = await this.#link.run(
      'PSAM_INIT_FOR_PURCHASE',
      pbocApdu('PSAM_INIT_FOR_PURCHASE', { data, le: initSamForPurchaseResponse.length }),
      initSamForPurchaseResponse.length,
    );
    const session = initSamForPurchaseResponse.decode(rsp);
    this.#openSeq = session.terminalTxnSeq;
    return session;
  }

  /**
   * CREDIT_SAM_FOR_PURCHASE `80 72 00 00 04 MAC2`: the PSAM checks the card's MAC2 against the open session.
   * @throws {MacError} `SW_9302` (origin `psam`) when MAC2 is wrong.
   * @throws {StatusWordError} `SW_xxxx` for any other refusal (e.g. 6985: no open session).
   */
  async verifyMac2(mac2: Uint8Array): Promise<void> {
    const apdu = pbocApdu('PSAM_CREDIT_FOR_PURCHASE', { data: creditSamForPurchaseCommandData.encode({ mac2 }) });
    try {
      await this.#link.run('PSAM_CREDIT_FOR_PURCHASE', apdu, 0);
    } finally {
      this.#openSeq = undefined;
    }
  }

  /**
   * DES INIT `80 1A keyUsage keyVersion Lc divData`: makes the PSAM's master key (`keyUsage`, `keyVersion`)
   * diversified with `diversificationData` (8 or 16 bytes) its work key. Any command ends a pending MAC2 check.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a bad byte or data length.
   * @throws {StatusWordError} `SW_xxxx` when the PSAM refuses (6A88: no such key; 6985: a usage `80 1A` may not
   *   use, e.g. the purchase key).
   */
  async desInit(keyUsage: number, keyVersion: number, diversificationData: Uint8Array): Promise<void> {
    assertUint(keyUsage, 'keyUsage', 0xff);
    assertUint(keyVersion, 'keyVersion', 0xff);
    assertBytes(diversificationData, 'diversificationData', 8, 16);
    this.#openSeq = undefined;
    const apdu = pbocApdu('PSAM_DES_INIT', { p1: keyUsage, p2: keyVersion, data: diversificationData });
    await this.#link.run('PSAM_DES_INIT', apdu, 0);
  }

  /**
   * DES CRYPT `80 FA P1 P2 Lc data Le` with the work key loaded by {@link PsamDriver.desInit}: P1 00 encrypts
   * (ECB), 01 MACs with a zero ICV, 05 MACs with the first 8 data bytes as ICV. Returns the PSAM's output.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a bad byte or empty/oversized data.
   * @throws {StatusWordError} `SW_xxxx` when the PSAM refuses (6985: no work key, or one whose usage forbids P1).
   */
  async desCrypt(p1: number, p2: number, data: Uint8Array): Promise<Uint8Array> {
    assertUint(p1, 'p1', 0xff);
    assertUint(p2, 'p2', 0xff);
    assertBytes(data, 'data');
    if (data.length < 1 || data.length > 255) throw new ArgumentError('data: expected 1..255 bytes');
    this.#openSeq = undefined;
    const apdu = pbocApdu('PSAM_DES_CRYPT', { p1, p2, data, le: 0x00 });
    return (await this.#link.run('PSAM_DES_CRYPT', apdu)).slice();
  }
}

const READ_TERMINAL_ID = /* @__PURE__ */ pbocApdu('PSAM_READ_TERMINAL_ID', { le: TERMINAL_ID_LENGTH });

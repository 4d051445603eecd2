/**
 * Test and benchmark fixtures for the e-purse: a personalized purse card of the reference profile, a scripted
 * random source, and {@link PurseTerminal}, a minimal consumption/recharge machine that drives a purse card and
 * a PSAM card APDU by APDU (the SDK's machines are the real ones; this one exists so the card side can be tested
 * without them).
 *
 * @module
 */
import { fromHex, readUint, toHex, uintToBytes } from '@simtap/sdk/core/bytes';
import { defineErrors, SimtapError } from '@simtap/sdk/core/errors';
import { loadMac1, loadMac2, loadSessionKey, loadTac, TTI } from '@simtap/sdk/core/pboc';
import { type CardProfile, cardProfile } from '@simtap/sdk/core/profile';
import type { CardInterface } from '../../runtime/applet';
import { Card, type CardOptions } from '../../runtime/card';
import { createPsam } from '../psam/install';
import type { EpurseApplet } from './epurse';
import { type EpursePersonalization, type InstallEpurseOptions, installEpurse, personalizeEpurse } from './install';

/** The codes of the {@link SimtapError}s the e-purse test fixtures throw. */
export const EPURSE_TESTING_ERRORS = defineErrors({
  RANDOM_SCRIPT: {
    class: 'SimtapError',
    when: '`ScriptedRandom` (applet-emu e-purse testing) has a queued value of another length than the card drew',
    fix: "fix the test's queued randoms",
  },
  PSAM_FAILED: {
    class: 'SimtapError',
    when: '`PurseTerminal` could not read the PSAM terminal ID',
    fix: 'check the PSAM card of the test',
  },
  GET_BALANCE_FAILED: {
    class: 'SimtapError',
    when: '`PurseTerminal.balance()` got a non-9000 SW',
    fix: 'check the purse state in the test',
  },
});

/** Code of a {@link SimtapError} from the e-purse test fixtures. */
export type EpurseTestingErrorCode = keyof typeof EPURSE_TESTING_ERRORS;

/** A response split into data and status word. */
export interface Rapdu {
  readonly data: Uint8Array;
  readonly sw: number;
}

/** Sends `apdu` (bytes or hex) on `iface` and splits the response. */
export function send(card: Card, iface: CardInterface, apdu: Uint8Array | string): Rapdu {
  const r = card.transmit(iface, typeof apdu === 'string' ? fromHex(apdu) : apdu);
  return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
}

/**
 * A deterministic random source: queued values are served first (each must match the requested length), then a
 * counter-derived pattern. Pass `random.next` as the card's `random` option.
 */
export class ScriptedRandom {
  readonly #queue: Uint8Array[] = [];
  #n = 0;

  /** Queues values (bytes or hex) for the next draws. */
  push(...values: Array<Uint8Array | string>): this {
    for (const v of values) this.#queue.push(typeof v === 'string' ? fromHex(v) : v.slice());
    return this;
  }

  /** The random source function. */
  readonly next = (length: number): Uint8Array => {
    const q = this.#queue.shift();
    if (q !== undefined) {
      if (q.length !== length)
        throw new SimtapError<EpurseTestingErrorCode>('RANDOM_SCRIPT', `queued ${q.length} bytes, card drew ${length}`);
      return q;
    }
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = (this.#n * 31 + i * 7 + 0x5a) & 0xff;
    this.#n++;
    return out;
  };
}

/** Options of {@link createPurseCard}. */
export interface PurseCardOptions {
  /** Card of the reference profile; default `card-1`. */
  readonly card?: CardProfile | string;
  readonly install?: InstallEpurseOptions;
  readonly personalization?: EpursePersonalization;
  /** Card runtime options (random source, T=0, …); default a {@link ScriptedRandom} and a silent logger. */
  readonly cardOptions?: CardOptions;
  /** Skip personalization (an installed, blank purse). */
  readonly blank?: boolean;
}

/** A new card with the e-purse installed and personalized from the profile, powered on both interfaces. */
export function createPurseCard(options: PurseCardOptions = {}): { card: Card; applet: EpurseApplet } {
  const card = new Card({
    random: new ScriptedRandom().next,
    logger: { error: () => undefined },
    ...options.cardOptions,
  });
  const applet = installEpurse(card, options.install);
  if (options.blank !== true) personalizeEpurse(card, options.card ?? 'card-1', options.personalization);
  card.powerOn('contact');
  card.powerOn('contactless');
  return { card, applet };
}

/** One record write of a composite purchase: `80 DC P1 P2 data`. */
export interface CappUpdate {
  readonly p1: number;
  readonly p2: number;
  readonly data: Uint8Array;
}

/** Options of one {@link PurseTerminal.purchase}. */
export interface PurchaseOptions {
  /** Composite (CAPP) purchase with these cache writes; default a plain EP purchase. */
  readonly capp?: readonly CappUpdate[];
  /** ED purchase (P2 01) instead of EP. */
  readonly ed?: boolean;
  readonly keyIndex?: number;
  /** YYYYMMDD / hhmmss BCD; default 2026-03-01 12:00:00. */
  readonly date?: Uint8Array;
  readonly time?: Uint8Array;
  /** Flip a bit of MAC1 before sending DEBIT (the card must answer 9302). */
  readonly corruptMac1?: boolean;
  /** Send INITIALIZE without Le (case 3), as many real terminals do. */
  readonly case3?: boolean;
}

/** What a purchase produced (fields absent when the flow stopped earlier). */
export interface PurchaseResult {
  /** Status word of the last card command sent. */
  readonly sw: number;
  readonly balanceBefore?: number;
  readonly counter?: number;
  readonly random?: Uint8Array;
  readonly terminalTxnSeq?: number;
  readonly mac1?: Uint8Array;
  readonly tac?: Uint8Array;
  readonly mac2?: Uint8Array;
  /** SW of the PSAM's MAC2 check. */
  readonly psamSw?: number;
  readonly date: Uint8Array;
  readonly time: Uint8Array;
  readonly tti: number;
}

/** Options of one {@link PurseTerminal.load}. */
export interface LoadOptions {
  /** The card's profile (its DLK and TAC key); default `card-1`. */
  readonly profile?: CardProfile;
  /** ED load (P2 01) instead of EP. */
  readonly ed?: boolean;
  /** YYYYMMDD / hhmmss BCD; default 2026-03-01 12:00:00. */
  readonly date?: Uint8Array;
  readonly time?: Uint8Array;
}

/** What a load produced. */
export interface LoadResult {
  readonly sw: number;
  readonly counter?: number;
  readonly mac1Ok?: boolean;
  readonly mac2?: Uint8Array;
  readonly tac?: Uint8Array;
  /** The TAC the issuer expects (computed with the profile's TAC key). */
  readonly expectedTac?: Uint8Array;
  readonly date: Uint8Array;
  readonly time: Uint8Array;
}

const DEFAULT_DATE = fromHex('20260301');
const DEFAULT_TIME = fromHex('120000');

/** A purchase stopped before DEBIT ({@link PurseTerminal.startPurchase}); `debit` is absent when it failed. */
export interface StartedPurchase extends PurchaseResult {
  /** Sends DEBIT FOR PURCHASE (MAC1 corrupted if `corruptMac1`) and checks MAC2 in the PSAM. */
  readonly debit?: (corruptMac1?: boolean) => PurchaseResult;
}

/** A load stopped before CREDIT ({@link PurseTerminal.startLoad}); `credit` is absent when INITIALIZE failed. */
export interface StartedLoad extends LoadResult {
  /** Sends CREDIT FOR LOAD with the platform's MAC2 (corrupted if `corruptMac2`). */
  readonly credit?: (corruptMac2?: boolean) => LoadResult;
}

/**
 * A minimal machine: purchases through a PSAM (consumption machine) and loads with the issuer keys of a card
 * profile (recharge machine + platform). Commands go to the purse on `iface` (default contactless), on logical
 * channel `channel` (default 0; 1..3 are written into the CLA).
 */
export class PurseTerminal {
  readonly card: Card;
  readonly psam: Card;
  iface: CardInterface;
  /** Logical channel 0..3 of the purse commands (open and select it first). */
  channel = 0;
  /** The PSAM's terminal ID (read at construction). */
  readonly terminalId: Uint8Array;
  #serial: Uint8Array | undefined;

  /**
   * @param psam a powered-off or powered PSAM card (default `createPsam('pos-1')`).
   */
  constructor(card: Card, psam: Card = createPsam('pos-1'), iface: CardInterface = 'contactless') {
    this.card = card;
    this.psam = psam;
    this.iface = iface;
    if (!psam.isPowered('contact')) psam.powerOn('contact');
    const tid = send(psam, 'contact', '00 B0 96 00 06');
    if (tid.sw !== 0x9000)
      throw new SimtapError<EpurseTestingErrorCode>('PSAM_FAILED', `PSAM terminal ID: SW ${tid.sw.toString(16)}`);
    this.terminalId = tid.data.slice();
  }

  /** Sends a purse command on the terminal's interface and channel. */
  send(apdu: Uint8Array | string): Rapdu {
    if (this.channel === 0) return send(this.card, this.iface, apdu);
    const b = typeof apdu === 'string' ? fromHex(apdu) : apdu.slice();
    b[0] = (b[0]! & 0xfc) | this.channel;
    return send(this.card, this.iface, b);
  }

  /** SELECT the purse by AID and read its application serial (EF 0x15); returns the SELECT response. */
  select(aidHex = 'A000000632010105'): Rapdu {
    const aid = fromHex(aidHex);
    const r = this.send(Uint8Array.of(0x00, 0xa4, 0x04, 0x00, aid.length, ...aid, 0x00));
    if (r.sw === 0x9000 || r.sw === 0x6283) {
      const ef15 = this.send('00 B0 95 00 1E');
      if (ef15.sw === 0x9000) this.#serial = ef15.data.slice(12, 20);
    }
    return r;
  }

  /** A full purchase: INITIALIZE, PSAM MAC1, [CAPP cache writes], DEBIT, PSAM MAC2 check. */
  purchase(amount: number, o: PurchaseOptions = {}): PurchaseResult {
    const started = this.startPurchase(amount, o);
    return started.debit === undefined ? started : started.debit(o.corruptMac1);
  }

  /** The first part of {@link PurseTerminal.purchase}: INITIALIZE, PSAM MAC1 and the CAPP cache writes. */
  startPurchase(amount: number, o: Omit<PurchaseOptions, 'corruptMac1'> = {}): StartedPurchase {
    const date = o.date ?? DEFAULT_DATE;
    const time = o.time ?? DEFAULT_TIME;
    const capp = o.capp !== undefined;
    const tti = capp ? TTI.CAPP_PURCHASE : o.ed ? TTI.ED_PURCHASE : TTI.EP_PURCHASE;
    const init = this.send(
      hexApdu(
        0x80,
        0x50,
        capp ? 0x03 : 0x01,
        o.ed ? 0x01 : 0x02,
        [Uint8Array.of(o.keyIndex ?? 1), uintToBytes(amount, 4), this.terminalId],
        o.case3 ? undefined : 0x0f,
      ),
    );
    if (init.sw !== 0x9000) return { sw: init.sw, date, time, tti };
    const d = init.data;
    const balanceBefore = readUint(d, 0, 4) | 0;
    const counter = readUint(d, 4, 2);
    const random = d.slice(11, 15);
    const serial = this.#serial ?? new Uint8Array(8);
    const mac1r = send(
      this.psam,
      'contact',
      hexApdu(0x80, 0x70, 0x00, 0x00, [
        random,
        d.subarray(4, 6),
        uintToBytes(amount, 4),
        Uint8Array.of(tti),
        date,
        time,
        d.subarray(9, 11),
        serial,
      ]),
    );
    if (mac1r.sw !== 0x9000) return { sw: mac1r.sw, balanceBefore, counter, random, date, time, tti };
    const terminalTxnSeq = readUint(mac1r.data, 0, 4);
    const mac1 = mac1r.data.slice(4, 8);
    for (const u of o.capp ?? []) {
      const r = this.send(hexApdu(0x80, 0xdc, u.p1, u.p2, [u.data]));
      if (r.sw !== 0x9000) return { sw: r.sw, balanceBefore, counter, random, terminalTxnSeq, mac1, date, time, tti };
    }
    const base = { balanceBefore, counter, random, terminalTxnSeq, mac1, date, time, tti };
    const debit = (corruptMac1 = false): PurchaseResult => {
      const sentMac1 = mac1.slice();
      if (corruptMac1) sentMac1[0]! ^= 0x01;
      const r = this.send(
        hexApdu(0x80, 0x54, 0x01, 0x00, [uintToBytes(terminalTxnSeq, 4), date, time, sentMac1], 0x08),
      );
      if (r.sw !== 0x9000) return { sw: r.sw, ...base };
      const tac = r.data.slice(0, 4);
      const mac2 = r.data.slice(4, 8);
      const check = send(this.psam, 'contact', hexApdu(0x80, 0x72, 0x00, 0x00, [mac2]));
      return { sw: r.sw, ...base, tac, mac2, psamSw: check.sw };
    };
    return { sw: init.sw, ...base, debit };
  }

  /**
   * A full load as recharge machine + platform: INITIALIZE FOR LOAD, MAC1 check and MAC2 with the card's DLK
   * from the profile, CREDIT FOR LOAD, expected TAC.
   */
  load(amount: number, o: LoadOptions & { corruptMac2?: boolean } = {}): LoadResult {
    const started = this.startLoad(amount, o);
    return started.credit === undefined ? started : started.credit(o.corruptMac2);
  }

  /** The first part of {@link PurseTerminal.load}: INITIALIZE FOR LOAD, the MAC1 check and the platform's MAC2. */
  startLoad(amount: number, o: LoadOptions = {}): StartedLoad {
    const cp = o.profile ?? cardProfile('card-1');
    const date = o.date ?? DEFAULT_DATE;
    const time = o.time ?? DEFAULT_TIME;
    const tti = o.ed ? TTI.ED_LOAD : TTI.EP_LOAD;
    const init = this.send(
      hexApdu(
        0x80,
        0x50,
        0x00,
        o.ed ? 0x01 : 0x02,
        [Uint8Array.of(cp.keyIndex), uintToBytes(amount, 4), this.terminalId],
        0x10,
      ),
    );
    if (init.sw !== 0x9000) return { sw: init.sw, date, time };
    const d = init.data;
    const oldBalance = readUint(d, 0, 4);
    const counter = readUint(d, 4, 2);
    const seslk = loadSessionKey(cp.keys.DLK.key, d.subarray(8, 12), counter);
    const terminalId = this.terminalId;
    const mac1Ok =
      toHex(loadMac1({ sessionKey: seslk, oldBalance, amount, tti, terminalId })) === toHex(d.subarray(12, 16));
    const mac2 = loadMac2({ sessionKey: seslk, amount, tti, terminalId, date, time });
    const expectedTac = loadTac({
      tacKey: cp.tacSingleDesKey,
      newBalance: (oldBalance + amount) >>> 0,
      onlineCounter: counter,
      amount,
      tti,
      terminalId,
      date,
      time,
    });
    const base = { counter, mac1Ok, mac2, expectedTac, date, time };
    const credit = (corruptMac2 = false): LoadResult => {
      const sent = mac2.slice();
      if (corruptMac2) sent[3]! ^= 0x80;
      const r = this.send(hexApdu(0x80, 0x52, 0x00, 0x00, [date, time, sent], 0x04));
      if (r.sw !== 0x9000) return { sw: r.sw, ...base };
      return { sw: r.sw, ...base, tac: r.data.slice() };
    };
    return { sw: init.sw, ...base, credit };
  }

  /** GET BALANCE of the EP (or ED), as a signed number; throws on a non-9000 SW. */
  balance(ed = false): number {
    const r = this.send(ed ? '80 5C 00 01 04' : '80 5C 00 02 04');
    if (r.sw !== 0x9000)
      throw new SimtapError<EpurseTestingErrorCode>('GET_BALANCE_FAILED', `GET BALANCE: SW ${r.sw.toString(16)}`);
    return readUint(r.data, 0, 4) | 0;
  }
}

/** Builds a short command APDU from parts. */
export function hexApdu(
  cla: number,
  ins: number,
  p1: number,
  p2: number,
  parts: readonly Uint8Array[] = [],
  le?: number,
): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(4 + (n > 0 ? 1 + n : 0) + (le === undefined ? 0 : 1));
  out.set([cla, ins, p1, p2]);
  let o = 4;
  if (n > 0) {
    out[o++] = n;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
  }
  if (le !== undefined) out[o] = le;
  return out;
}

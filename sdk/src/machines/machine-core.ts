/**
 * What the consumption machine and the recharge machine share: their common options and the checks of them, one
 * tap at a time (a serial queue), the tap itself (a counted, timed link to the card, the card identified), the
 * book of torn transactions awaiting their card's next tap, the command that moves money (a card leaving the
 * field during it leaves a pending record), the card's proof and log of a pending transaction, and the records the
 * machines complete in place.
 *
 * @internal
 * @module
 */
import type { CardChannel } from '../card/channel';
import { assertBytes, assertUint } from '../core/bytes';
import { ArgumentError, SimtapError } from '../core/errors';
import {
  CARD_PROCESSING,
  ISO14443_106,
  type LinkProfile,
  READERS,
  SIM_LINKS,
  type TapTimeEstimate,
  type TapTimeOptions,
  TapTimer,
} from '../core/iso14443';
import { balanceResponse, type TransactionLogRecord } from '../core/pboc';

/**
 * The tap-time options a machine uses unless told otherwise: the patent's SIM — a Java Card SIM behind SWP — at a
 * shop till's reader (`docs/tap-time.md`). Transit gates and validators pass their own reader.
 */
export const DEFAULT_TAP_TIME_OPTIONS: TapTimeOptions = Object.freeze({
  card: CARD_PROCESSING['javacard-sim'],
  simLink: SIM_LINKS.swp,
  reader: READERS.till,
});

import { type Clock, systemClock, type TxnDateTime, txnDateTime } from './clock';
import { getBalanceApdu, type MachineCommandName } from './commands';
import {
  type CardIdentity,
  EPURSE_DEFAULT_AID,
  identifyCard,
  type LogVerdict,
  proveTransaction,
  readLogRecord,
  type SelectOptions,
  searchLog,
  type TransactionProof,
} from './epurse-client';
import { CardLeftFieldError, type MachineErrorCode } from './errors';
import { ApduLink, assertCommonMachineOptions, assertTapRequest } from './link';
import { PendingBySerial, type PendingLoad, type PendingPurchase, type Writable } from './records';

/** Per-call options shared by every tap. */
export interface TapOptions {
  /** The card channel of this tap; default the machine's. */
  readonly card?: CardChannel;
  /** Link profile of this tap's estimate; default the machine's. */
  readonly linkProfile?: LinkProfile;
}

/** What {@link InspectOptions.inspect} can do with the card in the field, inside the tap. */
export interface CardInspection {
  /** The card's EF 0x15 and application serial, as the tap read them. */
  readonly identity: CardIdentity;
  /**
   * Reads the card's transaction log (EF 0x18) newest first: at most `records` (default the machine's `logRecords`),
   * stopping at the log's end or after the first record `until` is true of (that record included). One READ RECORD
   * per record, counted in the tap and its modelled time: a machine that needs today's rides passes
   * `until: (r) => date(r) < today` and reads today's records plus one, not the whole log.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a bad option; the link's errors.
   */
  readLog(options?: {
    readonly records?: number;
    readonly until?: (record: TransactionLogRecord) => boolean;
  }): Promise<TransactionLogRecord[]>;
  /**
   * The purse's balance in fen (GET BALANCE, one APDU; negative while overdrawn): what a till reads to choose between
   * the purse and another way to pay.
   * @throws the link's errors.
   */
  readBalance(): Promise<number>;
}

/** The option of every request that may move money: a look at the card inside the tap. */
export interface InspectOptions {
  /**
   * Looks at the card inside the tap before anything moves money: after the card is identified and a torn
   * transaction of it settled, before INITIALIZE (and, at an exit gate, before the entry record is read). Throwing
   * refuses the tap: nothing moves and the error is the call's. Blacklist checks and fare inputs read from the card (the
   * day's rides for a daily cap) belong here: they reuse the tap's SELECT and EF 0x15, and their APDUs count in the
   * record's `tapTime`. Not called when the tap settles a torn attempt at the same sale or load (nothing new moves).
   */
  readonly inspect?: (card: CardInspection) => void | Promise<void>;
}

/**
 * The options both machines take; `P` is the machine's pending record, `R` the record it reports. Each machine's
 * options extend these.
 */
export interface MachineOptions<P, R> {
  /** The reader's channel to cards (a call may pass another). */
  readonly card: CardChannel;
  /** Time source of the transaction date/time; default the system clock. */
  readonly clock?: Clock;
  /** Terminal-local time zone, minutes east of UTC; default 480 (China). */
  readonly timeZoneOffsetMinutes?: number;
  /** Key index sent in INITIALIZE (the purchase key of a till, the load key of a kiosk); default 1 (reference profile). */
  readonly keyIndex?: number;
  /** The e-purse AID; default A000000632010105. */
  readonly aid?: Uint8Array;
  /** Select the purse directly (default) or through the PPSE. */
  readonly selectVia?: 'aid' | 'ppse';
  /** Link profile of the tap-time estimate; default {@link ISO14443_106}. */
  readonly linkProfile?: LinkProfile;
  /** Options of the tap-time estimate; default {@link DEFAULT_TAP_TIME_OPTIONS} (a Java Card SIM behind SWP at a till). */
  readonly tapTimeOptions?: TapTimeOptions;
  /** Records of EF 0x18 a recovery may read; default 10. */
  readonly logRecords?: number;
  /** Called with every record the machine makes: each completed one (also those a recovery completes) and each unproven one. */
  readonly onRecord?: (record: R) => void;
  /** Pending records kept from an earlier run of this machine (its `pending`; persist them across restarts). */
  readonly pending?: readonly P[];
}

/** One tap: the card link with its timer, and the link profile of its estimate. */
export interface Tap {
  readonly link: ApduLink;
  readonly timer: TapTimer;
  readonly profile: LinkProfile;
}

/** A torn transaction a machine keeps: a purchase or a load. */
export type PendingTransaction = PendingPurchase | PendingLoad;

/**
 * The part both machines are built on: one instance per machine, holding its common settings.
 * @internal
 */
export class MachineCore<P extends PendingTransaction> {
  readonly card: CardChannel;
  readonly clock: Clock;
  /** Terminal-local time zone, minutes east of UTC. */
  readonly tz: number;
  /** Key index of INITIALIZE. */
  readonly keyIndex: number;
  readonly select: SelectOptions;
  readonly profile: LinkProfile;
  readonly tapTimeOptions: TapTimeOptions;
  /** Records of EF 0x18 a recovery may read. */
  readonly logRecords: number;
  /** Torn transactions awaiting their card's next tap. */
  readonly pending: PendingBySerial<P>;
  #queue: Promise<unknown> = Promise.resolve();

  /** @throws {ArgumentError} `BAD_ARGUMENT` on an invalid common option. */
  constructor(options: MachineOptions<P, never>) {
    if (typeof options.card?.transmit !== 'function') throw new ArgumentError('card: expected a CardChannel');
    assertCommonMachineOptions(options);
    const keyIndex = options.keyIndex ?? 1;
    assertUint(keyIndex, 'keyIndex', 0xff);
    const tz = options.timeZoneOffsetMinutes ?? 480;
    if (!Number.isInteger(tz) || Math.abs(tz) > 14 * 60) throw new ArgumentError('timeZoneOffsetMinutes: out of range');
    const logRecords = options.logRecords ?? 10;
    assertUint(logRecords, 'logRecords', 254);
    const aid = options.aid ?? EPURSE_DEFAULT_AID;
    if (!(aid instanceof Uint8Array) || aid.length < 5 || aid.length > 16)
      throw new ArgumentError('aid: expected 5..16 bytes');
    const selectVia = options.selectVia ?? 'aid';
    if (selectVia !== 'aid' && selectVia !== 'ppse') throw new ArgumentError("selectVia: expected 'aid' or 'ppse'");
    this.card = options.card;
    this.clock = options.clock ?? systemClock;
    this.tz = tz;
    this.keyIndex = keyIndex;
    this.select = { aid: aid.slice(), selectVia };
    this.profile = options.linkProfile ?? ISO14443_106;
    this.tapTimeOptions = options.tapTimeOptions ?? DEFAULT_TAP_TIME_OPTIONS;
    this.logRecords = logRecords;
    this.pending = new PendingBySerial(options.pending);
  }

  /**
   * Forgets the pending transaction of `cardSerial`; returns it, if there was one.
   * @throws {ArgumentError} `BAD_ARGUMENT` unless `cardSerial` is 10 bytes.
   */
  discardPending(cardSerial: Uint8Array): P | undefined {
    assertBytes(cardSerial, 'cardSerial', 10);
    return this.pending.remove(cardSerial);
  }

  /** Runs `fn` after every call queued before it has settled (one tap at a time). */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * One tap, in the queue: `prepare` (e.g. open the PSAM), then `fn` with a fresh timed link to the card.
   * @throws {ArgumentError} `BAD_ARGUMENT` on a malformed `req`.
   */
  tap<T>(req: TapOptions, fn: (tap: Tap) => Promise<T>, prepare?: () => Promise<void>): Promise<T> {
    assertTapRequest(req);
    const channel = req.card ?? this.card;
    const profile = req.linkProfile ?? this.profile;
    return this.serial(async () => {
      if (prepare !== undefined) await prepare();
      const timer = new TapTimer();
      return fn({ link: new ApduLink(channel, 'card', timer), timer, profile });
    });
  }

  /** Selects the e-purse and reads EF 0x15. */
  identify(tap: Tap): Promise<CardIdentity> {
    return identifyCard(tap.link, this.select);
  }

  /**
   * Runs `inspect` with the {@link CardInspection} of the tap; the inspection is over when `inspect` settles (a
   * kept reference then refuses to send: the card may be another tap's by then).
   */
  async inspect(tap: Tap, identity: CardIdentity, inspect: NonNullable<InspectOptions['inspect']>): Promise<void> {
    let open = true;
    const guard = (): void => {
      if (!open) throw new ArgumentError('the inspection is over: the card is no longer this tap’s');
    };
    const max = this.logRecords;
    const card: CardInspection = {
      identity: { ef15: identity.ef15, serial: identity.serial.slice() },
      readLog: async (o = {}) => {
        guard();
        if (typeof o !== 'object' || o === null) throw new ArgumentError('readLog: options must be an object');
        const records = o.records ?? max;
        assertUint(records, 'records', 254);
        if (o.until !== undefined && typeof o.until !== 'function')
          throw new ArgumentError('until: expected a function');
        const out: TransactionLogRecord[] = [];
        for (let n = 1; n <= records; n++) {
          guard();
          const r = await readLogRecord(tap.link, n);
          if (r === undefined) break;
          out.push(r);
          if (o.until?.(r)) break;
        }
        return out;
      },
      readBalance: async () => {
        guard();
        const data = await tap.link.run('GET_BALANCE', getBalanceApdu(0x02), balanceResponse.length);
        return balanceResponse.decode(data).balance | 0; // two's complement: negative while overdrawn
      },
    };
    try {
      await inspect(card);
    } finally {
      open = false;
    }
  }

  /** The transaction date and time, read once from the clock. */
  now(): TxnDateTime {
    return txnDateTime(this.clock, this.tz);
  }

  /** The tap-time estimate of `tap` so far. */
  tapTime(tap: Tap): TapTimeEstimate {
    return tap.timer.estimate(tap.profile, this.tapTimeOptions);
  }

  /**
   * Sends the command that moves money (DEBIT, CREDIT FOR LOAD) and returns its data. When the card leaves the
   * field before answering, it may have committed: `pending` goes into the book and the error carries it.
   * @throws {CardLeftFieldError} `CARD_REMOVED` with `pending` set; the link's other errors as they are.
   */
  async commit(
    tap: Tap,
    command: MachineCommandName,
    apdu: Uint8Array,
    length: number,
    pending: P,
  ): Promise<Uint8Array> {
    try {
      return await tap.link.run(command, apdu, length);
    } catch (e) {
      if (e instanceof CardLeftFieldError) {
        this.pending.add(pending);
        throw new CardLeftFieldError(command, pending, { cause: e.cause });
      }
      throw e;
    }
  }

  /** GET TRANSACTION PROVE for `p` (its TTI and `counter`): the card's proof, `undefined` on 9406. */
  prove(tap: Tap, p: P, counter: number): Promise<TransactionProof | undefined> {
    return proveTransaction(tap.link, p.tti, counter);
  }

  /** What the card's log says of `p` (which used `counter`, one of the TTIs of `family`). */
  searchLog(tap: Tap, p: P, counter: number, family: readonly number[]): Promise<LogVerdict> {
    const { tti, amount, terminalId, date, time } = p;
    return searchLog(tap.link, { counter, family, tti, amount, terminalId, date, time }, this.logRecords);
  }

  /** The error of a pending transaction the card cannot settle. Code `RECOVERY_UNDETERMINED`. */
  undetermined(message: string): SimtapError<MachineErrorCode> {
    return new SimtapError<MachineErrorCode>('RECOVERY_UNDETERMINED', message);
  }
}

/**
 * `p` without its `status`, for a machine to complete in place as a record of another status. Completing in place
 * (not `{ ...core, status, … }`): a spread followed by more properties makes V8 (Node 20) build a new hidden class
 * per record (~8 µs, and old-generation garbage that made scavenges take milliseconds). The machine sets the same
 * keys in the same order every time.
 */
export function recordOf<R>(p: { readonly status: string }): Writable<R> {
  const { status: _, ...core } = p;
  return core as unknown as Writable<R>;
}

/** @throws {ArgumentError} `BAD_ARGUMENT` when `inspect` is given and is no function. */
export function assertInspect(req: InspectOptions): void {
  if (req.inspect !== undefined && typeof req.inspect !== 'function')
    throw new ArgumentError('inspect: expected a function');
}

/**
 * The operator's machines: metro gates (entry / exit) and a bus validator, each a `ConsumptionMachine` with its own
 * PSAM and a `MachineAgent` to the back office (records on its disk until stored, the fare config it runs); and the
 * recharge kiosk, a `RechargeMachine` whose authorizer is the platform. Every ride is a composite purchase (TTI 09)
 * that writes the card's travel record with the debit: record 1 for the metro (entry, then exit with the distance
 * fare), record 2 for the bus (its boarding), so a bus ride never looks like an open metro trip.
 *
 * @module
 */
import { createPsam } from '@simtap/applet-emu/applets/psam';
import type { CardChannel } from '@simtap/sdk/card';
import type { LoadFunding, PlatformClient } from '@simtap/sdk/clients';
import { type ClearingRecord, clearingRecord, MachineAgent, PlatformLoadAuthorizer } from '@simtap/sdk/clients';
import { bcdToString, fromHex, toHex } from '@simtap/sdk/core/bytes';
import { ArgumentError } from '@simtap/sdk/core/errors';
import { READERS } from '@simtap/sdk/core/iso14443';
import {
  type CardInspection,
  type Clock,
  ConsumptionMachine,
  DEFAULT_TAP_TIME_OPTIONS,
  type LoadRecord,
  PsamDriver,
  type PurchaseResult,
  RechargeMachine,
  type TransitStation,
  txnDateTime,
} from '@simtap/sdk/machines';
import {
  type CardDay,
  cardDay,
  type FareQuote,
  type FareRules,
  fareRulesFrom,
  isTransfer,
  LOG_DEPTH,
  metroFull,
  minutesOf,
  quote,
} from './fares';

/** What a machine is set up with. */
export interface MachineSetup {
  readonly id: string;
  readonly secret: string;
  readonly terminalId: string;
  /** The back office's `/v1/machine` URL (the bus: its radio link's). */
  readonly hubUrl: string;
  readonly blacklistPublicKey: string;
  readonly bufferDir: string;
  readonly clock: Clock;
}

/** One tap at a gate or validator. */
export interface Ride {
  readonly machineId: string;
  readonly what: 'metro-entry' | 'metro-exit' | 'bus';
  readonly cardSerial: string;
  /** The station (metro) or the stop (bus). */
  readonly station: TransitStation;
  readonly amount: number;
  readonly quote: FareQuote | undefined;
  readonly balanceAfter: number;
  readonly record: ClearingRecord;
  readonly time: string;
}

/** Refused taps. */
export class RideRefused extends Error {}

function psamFor(terminalIdHex: string): PsamDriver {
  const card = createPsam('gate-1', { terminalId: fromHex(terminalIdHex) });
  card.powerOn('contact');
  return new PsamDriver(card.channel('contact'));
}

/** A channel for machines built before any card is in the field. */
const NO_CARD: CardChannel = {
  description: 'no card',
  transmit: () => Promise.reject(new ArgumentError('no card in the field: pass the tap’s channel')),
  close: () => Promise.resolve(),
};

/** A fare machine: a consumption machine, its PSAM, and its agent. */
abstract class FareMachine {
  readonly id: string;
  readonly terminalId: string;
  protected readonly clock: Clock;
  #agent: MachineAgent;
  readonly #setup: MachineSetup;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(setup: MachineSetup) {
    this.id = setup.id;
    this.terminalId = setup.terminalId;
    this.clock = setup.clock;
    this.#setup = setup;
    this.#agent = this.#newAgent();
  }

  #newAgent(): MachineAgent {
    const s = this.#setup;
    return new MachineAgent({
      url: s.hubUrl,
      machineId: s.id,
      secret: s.secret,
      blacklistPublicKey: s.blacklistPublicKey,
      bufferDir: s.bufferDir,
      reconnect: { initialDelayMs: 20, maxDelayMs: 150 },
    });
  }

  /** The machine's link to the back office. */
  get agent(): MachineAgent {
    return this.#agent;
  }

  start(): Promise<void> {
    return this.#agent.start();
  }

  /** Power cycle: the agent stops (records stay on the disk) and a new one starts from the disk. */
  async restart(): Promise<void> {
    await this.#agent.stop();
    this.#agent = this.#newAgent();
    await this.#agent.start();
  }

  stop(): Promise<void> {
    return this.#agent.stop();
  }

  /** The fare rules of the config the machine runs. */
  rules(): FareRules {
    return fareRulesFrom(this.#agent.config?.fares);
  }

  /** One tap at a time. */
  protected serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /**
   * The tap's look at the card, inside the machine's tap (the same SELECT and EF 0x15, its APDUs in the record's
   * tap time), before anything is debited: refuses a blacklisted card and, with `withDay`, reads the card's day from
   * its log — today's records plus the one before them, not the whole log (the log is newest first). `day()` is the
   * result once the inspection has run.
   */
  protected inspection(withDay: boolean): {
    inspect: (card: CardInspection) => Promise<void>;
    day: () => CardDay;
    rules: FareRules;
  } {
    const rules = this.rules();
    const today = bcdToString(txnDateTime(this.clock).date);
    let day: CardDay | undefined;
    return {
      rules,
      inspect: async (card) => {
        const serial = toHex(card.identity.serial);
        if (this.#agent.isBlacklisted(serial)) throw new RideRefused(`${serial} is blacklisted`);
        const log = withDay
          ? await card.readLog({ records: LOG_DEPTH, until: (r) => bcdToString(r.date) < today })
          : [];
        day = cardDay(log, today, rules);
      },
      day: () => {
        if (day === undefined) throw new ArgumentError('the card has not been inspected');
        return day;
      },
    };
  }

  /** Keeps the record for the back office (durable on the machine's disk before this resolves). */
  protected async keep(
    r: PurchaseResult,
    what: Ride['what'],
    station: TransitStation,
    q: FareQuote | undefined,
  ): Promise<Ride> {
    if (r.status !== 'completed') throw new RideRefused(`the card could not prove an earlier torn ride (${r.reason})`);
    // The machine's kind rides along for the operator console's tap times (not under the TAC).
    const record = { ...clearingRecord(r), machine: this instanceof BusValidator ? 'bus' : 'gate' };
    await this.#agent.record(record);
    return {
      machineId: this.id,
      what,
      cardSerial: record.cardSerial,
      station,
      amount: r.amount,
      quote: q,
      balanceAfter: r.balanceAfter,
      record,
      time: record.time,
    };
  }
}

/** A metro gate at one station: entry (0 fen, writes the entry record) or exit (the fare). */
export class MetroGate extends FareMachine {
  readonly station: TransitStation;
  readonly direction: 'entry' | 'exit';
  readonly #machine: ConsumptionMachine;
  #pricing: { day: () => CardDay; rules: FareRules; quote?: FareQuote } | undefined;

  constructor(setup: MachineSetup, station: TransitStation, direction: 'entry' | 'exit') {
    super(setup);
    this.station = station;
    this.direction = direction;
    this.#machine = new ConsumptionMachine({
      card: NO_CARD,
      psam: psamFor(setup.terminalId),
      clock: setup.clock,
      transit: { fare: (entry, exit) => this.#price(entry, exit) },
      tapTimeOptions: { ...DEFAULT_TAP_TIME_OPTIONS, reader: READERS.gate }, // a gate polls and decides fast
    });
  }

  #price(entry: Parameters<typeof metroFull>[1], exit: TransitStation): number {
    const p = this.#pricing;
    if (p === undefined) throw new ArgumentError('no tap under way');
    const full = metroFull(p.rules, entry, exit);
    // The trip starts at the entry: a transfer is counted from the entry time, on the entry's day.
    const sameDay = entry !== undefined && bcdToString(entry.date) === bcdToString(txnDateTime(this.clock).date);
    const day = p.day();
    const transfer = sameDay && isTransfer(day, 'metro', minutesOf(entry.time), p.rules);
    p.quote = quote(full, transfer, day, p.rules);
    return p.quote.fare;
  }

  /** A tap of `card` at the gate. */
  tap(card: CardChannel): Promise<Ride> {
    return this.serial(async () => {
      if (this.direction === 'entry') {
        // The entry charges nothing and needs no history: only the blacklist.
        const { inspect } = this.inspection(false);
        const r = await this.#machine.enter({ station: this.station, card, inspect });
        return this.keep(r, 'metro-entry', this.station, undefined);
      }
      const look = this.inspection(true);
      this.#pricing = { day: look.day, rules: look.rules };
      try {
        const r = await this.#machine.exit({ station: this.station, card, inspect: look.inspect });
        return await this.keep(r, 'metro-exit', this.station, this.#pricing.quote);
      } finally {
        this.#pricing = undefined;
      }
    });
  }
}

/** A bus validator: the flat fare, the transfer discount and the cap, at boarding. */
export class BusValidator extends FareMachine {
  readonly route: number;
  readonly #machine: ConsumptionMachine;
  #fare = 0;

  constructor(setup: MachineSetup, route: number) {
    super(setup);
    this.route = route;
    this.#machine = new ConsumptionMachine({
      card: NO_CARD,
      psam: psamFor(setup.terminalId),
      clock: setup.clock,
      // Record 2 of the CAPP file: the bus's own travel record (the metro's entry/exit stays in record 1).
      transit: { fare: () => 0, entryCharge: () => this.#fare, recordId: 2 },
      tapTimeOptions: { ...DEFAULT_TAP_TIME_OPTIONS, reader: READERS['bus-validator'] },
    });
  }

  /** A boarding at `stop`. */
  board(card: CardChannel, stop: number): Promise<Ride> {
    return this.serial(async () => {
      const look = this.inspection(true);
      const { rules } = look;
      let q: FareQuote | undefined;
      // The fare is priced inside the tap, from the day the inspection read (the entry charge is asked after it).
      const inspect = async (c: CardInspection): Promise<void> => {
        await look.inspect(c);
        const day = look.day();
        const now = minutesOf(txnDateTime(this.clock).time);
        q = quote(rules.busFlat, isTransfer(day, 'bus', now, rules), day, rules);
        this.#fare = q.fare;
      };
      const station = { line: this.route, station: stop };
      const r = await this.#machine.enter({ station, card, inspect });
      return this.keep(r, 'bus', station, q);
    });
  }
}

/** The recharge kiosk: loads paid in cash or from the card holder's phone account, authorized by the platform. */
export class Kiosk {
  readonly terminalId: string;
  readonly #client: PlatformClient;
  readonly #clock: Clock;
  readonly #machines = new Map<string, RechargeMachine>();

  constructor(client: PlatformClient, terminalIdHex: string, clock: Clock) {
    this.#client = client;
    this.terminalId = terminalIdHex;
    this.#clock = clock;
  }

  #machine(funding: LoadFunding): RechargeMachine {
    const key = funding.source === 'cash' ? 'cash' : `phone:${funding.msisdn}`;
    let m = this.#machines.get(key);
    if (m === undefined) {
      m = new RechargeMachine({
        card: NO_CARD,
        authorizer: new PlatformLoadAuthorizer(this.#client, { funding }),
        terminalId: fromHex(this.terminalId),
        clock: this.#clock,
      });
      this.#machines.set(key, m);
    }
    return m;
  }

  /** Loads `amount` fen onto the tapped card. */
  load(card: CardChannel, amount: number, funding: LoadFunding): Promise<LoadRecord> {
    return this.#machine(funding).load({ amount, card });
  }
}

/**
 * The transit fare rules: the back office's table (pushed to every machine in its config as named integers), the
 * terminal numbering plan, and the pure functions the gates, the bus validator and the back office's audit share.
 *
 * **How a machine knows a card's day.** From the card itself, never from the config: at each tap the machine reads
 * the card's transaction log (EF 0x18, the 10 newest debits and loads the card wrote itself, with amount, TTI,
 * terminal, date and time). Today's rides are the log's records dated today at a metro exit gate or a bus validator
 * of this operator (told by the terminal ID's kind digits, {@link TERMINAL_KIND}); their sum is the day total, and
 * a 0-fen ride today means the card is capped (a fare is 0 only under the cap: the transfer discount is smaller
 * than every fare). So an offline bus applies the cap and the transfer as well as an online gate. The log is short:
 * {@link checkFareRules} refuses a cap that paid rides could not reach within 8 records (2 spare for loads and
 * shopping), and once capped every ride adds a fresh 0-fen record, so the mark stays in view.
 *
 * @module
 */
import { bcdToString } from '@simtap/sdk/core/bytes';
import { ArgumentError } from '@simtap/sdk/core/errors';
import type { TransactionLogRecord } from '@simtap/sdk/core/pboc';
import { distanceFare, type FareRule, type TransitRecord, type TransitStation } from '@simtap/sdk/machines';

/** The operator's fare rules, fen and minutes. */
export interface FareRules {
  /** Metro: fare up to `metroIncludedStops` stops. */
  readonly metroBase: number;
  readonly metroIncludedStops: number;
  /** Metro: per stop beyond the included ones. */
  readonly metroPerStop: number;
  /** Metro: highest fare (also the fare of an exit without an entry record). */
  readonly metroMax: number;
  /** Bus: flat fare. */
  readonly busFlat: number;
  /** Taken off a ride that starts within `transferWindowMinutes` of a ride of the other mode. */
  readonly transferDiscount: number;
  readonly transferWindowMinutes: number;
  /** A card's rides of one day cost at most this much; further rides cost 0. */
  readonly dailyCap: number;
}

/** The rules of the example. */
export const DEFAULT_FARES: FareRules = {
  metroBase: 300,
  metroIncludedStops: 4,
  metroPerStop: 50,
  metroMax: 600,
  busFlat: 200,
  transferDiscount: 100,
  transferWindowMinutes: 60,
  dailyCap: 800,
};

/** The names of the rules in the machines' config (`MachineConfig.fares`). */
const FARE_KEYS: Readonly<Record<keyof FareRules, string>> = {
  metroBase: 'metro.base',
  metroIncludedStops: 'metro.includedStops',
  metroPerStop: 'metro.perStop',
  metroMax: 'metro.max',
  busFlat: 'bus.flat',
  transferDiscount: 'transfer.discount',
  transferWindowMinutes: 'transfer.windowMinutes',
  dailyCap: 'cap.daily',
};

/** Records of the card's transaction log (EF 0x18 of the reference card). */
export const LOG_DEPTH = 10;

/** The rules as the config's fare table. */
export function fareTable(rules: FareRules): Record<string, number> {
  return Object.fromEntries(Object.entries(FARE_KEYS).map(([k, name]) => [name, rules[k as keyof FareRules]]));
}

/**
 * The rules from a machine's config.
 * @throws {ArgumentError} `BAD_ARGUMENT` when the machine has no config yet or a rule is missing.
 */
export function fareRulesFrom(table: Readonly<Record<string, number>> | undefined): FareRules {
  if (table === undefined) throw new ArgumentError('no fare table: the machine has not received its config yet');
  const out: Record<string, number> = {};
  for (const [k, name] of Object.entries(FARE_KEYS)) {
    const v = table[name];
    if (v === undefined) throw new ArgumentError(`fare table: ${name} is missing`);
    out[k] = v;
  }
  return out as unknown as FareRules;
}

/**
 * Checks what the card-based cap and transfer need (module doc): a discount below every fare, and a cap that the
 * cheapest rides reach within `LOG_DEPTH − 2` log records (a bus ride is one record, a metro trip two).
 * @throws {ArgumentError} `BAD_ARGUMENT` naming the broken rule.
 */
export function checkFareRules(rules: FareRules): void {
  for (const [k, v] of Object.entries(rules))
    if (!Number.isSafeInteger(v) || v < 0) throw new ArgumentError(`${k}: a non-negative integer`);
  if (rules.transferDiscount >= Math.min(rules.busFlat, rules.metroBase))
    throw new ArgumentError('transferDiscount: must be below the bus fare and the metro base fare');
  if (rules.metroMax < rules.metroBase) throw new ArgumentError('metroMax: below metroBase');
  const perRecord = Math.min(rules.busFlat - rules.transferDiscount, (rules.metroBase - rules.transferDiscount) / 2);
  const reach = Math.floor((LOG_DEPTH - 2) * perRecord);
  if (rules.dailyCap > reach)
    throw new ArgumentError(
      `dailyCap: at most ${reach} fen, what the cheapest rides reach in ${LOG_DEPTH - 2} records`,
    );
}

/** Terminal kinds: digits 5–6 of the operator's terminal IDs (`4401 KK LL SS UU`: city, kind, line, stop, unit). */
export const TERMINAL_KIND = { metroEntry: '11', metroExit: '12', bus: '21', kiosk: '91' } as const;
export type TerminalKind = keyof typeof TERMINAL_KIND;

/** The city prefix of the operator's terminal IDs. */
export const CITY = '4401';

/** A terminal ID of the plan, 12 digits. */
export function terminalId(kind: TerminalKind, line: number, stop: number, unit: number): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${CITY}${TERMINAL_KIND[kind]}${two(line)}${two(stop)}${two(unit)}`;
}

/** The kind of one of the operator's terminals; undefined for any other terminal. */
export function terminalKind(tid: string): TerminalKind | undefined {
  if (!tid.startsWith(CITY)) return undefined;
  const digits = tid.slice(4, 6);
  return (Object.keys(TERMINAL_KIND) as TerminalKind[]).find((k) => TERMINAL_KIND[k] === digits);
}

/** A ride as the card's log shows it. */
export interface LoggedRide {
  readonly mode: 'metro' | 'bus';
  readonly amount: number;
  /** YYYYMMDD. */
  readonly date: string;
  /** Minutes since midnight (terminal-local). */
  readonly minutes: number;
}

/** What the card's log says of its day. */
export interface CardDay {
  /** Fen spent on rides today. */
  readonly total: number;
  /** The cap is reached (the total, or a 0-fen ride today). */
  readonly capped: boolean;
  /** Today's rides, newest first. */
  readonly rides: readonly LoggedRide[];
}

/** Minutes since midnight of a BCD hhmmss. */
export function minutesOf(time: Uint8Array | string): number {
  const t = typeof time === 'string' ? time : bcdToString(time);
  return Number(t.slice(0, 2)) * 60 + Number(t.slice(2, 4)) + Number(t.slice(4, 6)) / 60;
}

/** A log record as a ride (a metro exit or a bus boarding of this operator), else undefined. */
function rideOf(r: TransactionLogRecord): LoggedRide | undefined {
  const kind = terminalKind(bcdToString(r.terminalId));
  if (kind !== 'metroExit' && kind !== 'bus') return undefined;
  return {
    mode: kind === 'bus' ? 'bus' : 'metro',
    amount: r.amount,
    date: bcdToString(r.date),
    minutes: minutesOf(r.time),
  };
}

/** Today's rides of a card from its log (newest first), the day total and whether it is capped. */
export function cardDay(log: readonly TransactionLogRecord[], today: string, rules: FareRules): CardDay {
  const rides = log.map(rideOf).filter((r): r is LoggedRide => r !== undefined && r.date === today);
  const total = rides.reduce((s, r) => s + r.amount, 0);
  return { total, capped: total >= rules.dailyCap || rides.some((r) => r.amount === 0), rides };
}

/**
 * True when a ride of `mode` starting at `startMinutes` today is a transfer: the newest earlier ride of the day is of
 * the other mode and within the window.
 */
export function isTransfer(day: CardDay, mode: 'metro' | 'bus', startMinutes: number, rules: FareRules): boolean {
  const before = day.rides.find((r) => r.minutes <= startMinutes);
  return before !== undefined && before.mode !== mode && startMinutes - before.minutes <= rules.transferWindowMinutes;
}

/** A priced ride. */
export interface FareQuote {
  /** The fare before discount and cap. */
  readonly full: number;
  readonly transfer: boolean;
  /** The fare charged. */
  readonly fare: number;
  /** The cap lowered the fare (to 0 or to what was left under it). */
  readonly capped: boolean;
}

/** Prices a ride of `full` fen for a card whose day is `day`. */
export function quote(full: number, transfer: boolean, day: CardDay, rules: FareRules): FareQuote {
  const discounted = transfer ? Math.max(0, full - rules.transferDiscount) : full;
  const room = day.capped ? 0 : Math.max(0, rules.dailyCap - day.total);
  const fare = Math.min(discounted, room);
  return { full, transfer, fare, capped: fare < discounted };
}

/** The metro's distance fare (the SDK's `distanceFare`; stops = |Δstation| on a line). */
export function metroDistanceFare(rules: FareRules): FareRule {
  return distanceFare({
    base: rules.metroBase,
    includedStops: rules.metroIncludedStops,
    perStop: rules.metroPerStop,
    max: rules.metroMax,
  });
}

/** The full metro fare of a trip from `entry` (undefined: no entry record) to `exit`. */
export function metroFull(rules: FareRules, entry: TransitRecord | undefined, exit: TransitStation): number {
  return metroDistanceFare(rules)(entry, exit);
}

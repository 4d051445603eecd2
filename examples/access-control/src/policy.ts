/**
 * Permissions: the back office keeps groups (cards, doors, days, a time window) and pushes them to the doors as the
 * machine link's door rules, one rule per group and door; a door decides from the rules it runs, the platform's
 * signed blacklist it runs, and its own clock — offline, without asking anyone.
 *
 * @module
 */
import type { MachineConfig } from '@simtap/sdk/clients';
import type { CardCheck } from './reader';

/** A door rule as the machine link carries it (`{ door, cards?, days?, from, to }`). */
export type DoorRule = NonNullable<MachineConfig['doors']>[number];

/** A group of cards and where and when they open. */
export interface AccessGroup {
  readonly name: string;
  /** Card serials, 20 hex digits. */
  readonly cards: readonly string[];
  /** Door names. */
  readonly doors: readonly string[];
  /** 0 Sunday … 6 Saturday; absent: every day. For a window past midnight, the day it opens. */
  readonly days?: readonly number[];
  /** HHMM the window opens. */
  readonly from: string;
  /** HHMM it closes (before `from`: the next morning; equal: all day). */
  readonly to: string;
}

/** The door rules of `groups`: one per group and door. */
export function doorRules(groups: readonly AccessGroup[]): DoorRule[] {
  return groups.flatMap((g) =>
    g.doors.map((door) => ({
      door,
      cards: g.cards.map((c) => c.toUpperCase()),
      ...(g.days ? { days: [...g.days] } : {}),
      from: g.from,
      to: g.to,
    })),
  );
}

/** A door's local time: weekday, `HHMM`, and the date and time as the audit log writes them. */
export interface LocalTime {
  /** 0 Sunday … 6 Saturday. */
  readonly day: number;
  readonly hhmm: string;
  /** `YYYY-MM-DD hh:mm:ss`. */
  readonly stamp: string;
  /** `YYYYMMDD`. */
  readonly date: string;
}

/** `at` as a door at `offsetMinutes` east of UTC reads it (default UTC+8). */
export function localTime(at: Date, offsetMinutes = 480): LocalTime {
  const t = new Date(at.getTime() + offsetMinutes * 60_000);
  const two = (n: number) => String(n).padStart(2, '0');
  const y = String(t.getUTCFullYear());
  const mo = two(t.getUTCMonth() + 1);
  const d = two(t.getUTCDate());
  const h = two(t.getUTCHours());
  const mi = two(t.getUTCMinutes());
  const s = two(t.getUTCSeconds());
  return { day: t.getUTCDay(), hhmm: `${h}${mi}`, stamp: `${y}-${mo}-${d} ${h}:${mi}:${s}`, date: `${y}${mo}${d}` };
}

/** True when `rule`'s window is open at `at` (a window past midnight belongs to the day it opened). */
export function windowOpen(rule: Pick<DoorRule, 'days' | 'from' | 'to'>, at: LocalTime): boolean {
  const onDay = (day: number) => rule.days === undefined || rule.days.includes(day);
  const yesterday = (at.day + 6) % 7;
  if (rule.from === rule.to) return onDay(at.day);
  if (rule.from < rule.to) return onDay(at.day) && at.hhmm >= rule.from && at.hhmm < rule.to;
  return (onDay(at.day) && at.hhmm >= rule.from) || (onDay(yesterday) && at.hhmm < rule.to);
}

/** Why a door opened or stayed shut. */
export const ACCESS_REASONS = {
  granted: 'authentic card, in a group for this door, within its window',
  noConfig: 'the door has no config from the back office yet: it stays shut',
  unreadable: 'not a card of the scheme (no e-purse / EF 0x15) or it left the field',
  notAuthentic: 'the card failed INTERNAL AUTHENTICATE under its serial: a clone or another issuer',
  readerRefused: "the card refused the reader's EXTERNAL AUTHENTICATE",
  expired: 'the card is past its expiry date (EF 0x15)',
  blacklisted: "on the platform's signed blacklist (lost or blocked)",
  noPermission: 'in no group for this door',
  outsideHours: 'in a group for this door, but not within its days and hours',
} as const;
/** A reason of {@link ACCESS_REASONS}. */
export type AccessReason = keyof typeof ACCESS_REASONS;

/** What a door knows when it decides. */
export interface DecisionInput {
  readonly door: string;
  readonly check: CardCheck;
  /** The door rules the door runs (`undefined`: no config yet). */
  readonly rules: readonly DoorRule[] | undefined;
  readonly isBlacklisted: (serial: string) => boolean;
  readonly at: LocalTime;
}

/** The decision: open or not, and why. Checks in order: config, card, expiry, blacklist, group, window. */
export function decide(input: DecisionInput): { readonly granted: boolean; readonly reason: AccessReason } {
  const refuse = (reason: AccessReason) => ({ granted: false, reason });
  const { check, rules, at } = input;
  if (rules === undefined) return refuse('noConfig');
  switch (check.kind) {
    case 'unreadable':
      return refuse('unreadable');
    case 'forged':
      return refuse('notAuthentic');
    case 'readerRefused':
      return refuse('readerRefused');
    case 'authentic':
      break;
    default:
      return check satisfies never;
  }
  if (check.expiry < at.date) return refuse('expired');
  if (input.isBlacklisted(check.serial)) return refuse('blacklisted');
  const mine = rules.filter((r) => r.door === input.door && (r.cards === undefined || r.cards.includes(check.serial)));
  if (mine.length === 0) return refuse('noPermission');
  if (!mine.some((r) => windowOpen(r, at))) return refuse('outsideHours');
  return { granted: true, reason: 'granted' };
}

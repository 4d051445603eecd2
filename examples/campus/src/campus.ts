/**
 * The campus application system on one card per student: canteen tills, a top-up kiosk, and library and dorm doors,
 * run by one back office over a simulated day against a simtap platform.
 *
 * {@link runCampus} connects to the platform as `campus-1` (merchant M-CAMPUS-1), starts the back office and its
 * machines (each a `MachineAgent` on the back office's `MachineHub`), pushes the menu, the door rules and the
 * platform's blacklist, plays the day ({@link DAY}), clears the tills' records, reads every purse back from its card
 * and checks it against the platform's float, and returns a {@link CampusReport} ({@link formatReport} prints it).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Card } from '@simtap/applet-emu/runtime';
import { createSim } from '@simtap/applet-emu/sim';
import { type MachineSpec, PlatformClient } from '@simtap/sdk/clients';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import type { RandomSource } from '@simtap/sdk/core/crypto';
import { cardProfile, referenceProfile, type SimtapProfile } from '@simtap/sdk/core/profile';
import { type Clock, readPurse } from '@simtap/sdk/machines';
import { CampusBackOffice, type ClearingBatch } from './back-office';
import { CampusDoor, type DoorDecision, type DoorReason, type DoorRule } from './door';
import { CampusError } from './errors';
import { CampusMachine, CanteenTill, type LoadOutcome, type SaleOutcome, TopUpKiosk } from './machines';
import { CampusReader } from './reader';

/** A student: a name, the profile card they carry, and the dorm they live in (none: a day student). */
export interface Student {
  readonly name: string;
  /** The card's label in the profile (`card-1`, `fleet-7`, …): active on the platform, its float 0. */
  readonly card: string;
  readonly dorm?: string;
}

/** The students of the day: a resident of each dorm and a day student. */
export const STUDENTS: readonly [Student, Student, Student] = [
  { name: 'Li Wei', card: 'card-1', dorm: 'dorm-east' },
  { name: 'Zhang Min', card: 'card-2', dorm: 'dorm-west' },
  { name: 'Chen Jie', card: 'card-3' },
];

/** The canteen menu the back office pushes to the tills, fen. */
export const MENU: Readonly<Record<string, number>> = { breakfast: 450, lunch: 1250, dinner: 1000, fruit: 300 };

/** Library opening hours; dorm doors open to their residents from 06:00 until the 23:30 curfew. */
export const LIBRARY_HOURS = { from: '0800', to: '2200' } as const;
export const DORM_HOURS = { from: '0600', to: '2330' } as const;

/** The doors of the campus. */
export const DOORS = ['library', 'dorm-east', 'dorm-west'] as const;
/** The tills of the canteens. */
export const TILLS = ['till-1', 'till-2'] as const;

/** One thing a student does (`who`: index into the students). */
export type DayEvent =
  | { readonly at: string; readonly who: number; readonly kind: 'deposit'; readonly amount: number }
  | {
      readonly at: string;
      readonly who: number;
      readonly kind: 'load';
      readonly amount: number;
      readonly funding: 'cash' | 'phoneAccount';
    }
  | {
      readonly at: string;
      readonly who: number;
      readonly kind: 'meal';
      readonly till: (typeof TILLS)[number];
      readonly item: string;
    }
  | { readonly at: string; readonly who: number; readonly kind: 'door'; readonly door: (typeof DOORS)[number] }
  | { readonly at: string; readonly who: number; readonly kind: 'lost' };

/**
 * The simulated day: 0 lives in dorm-east, 1 in dorm-west (her parents pay into her phone account), 2 is a day
 * student who runs short at dinner and loses the card in the evening — whoever tries it afterwards is refused.
 */
export const DAY: readonly DayEvent[] = [
  { at: '0730', who: 0, kind: 'load', amount: 5000, funding: 'cash' },
  { at: '0735', who: 0, kind: 'door', door: 'library' },
  { at: '0740', who: 0, kind: 'meal', till: 'till-1', item: 'breakfast' },
  { at: '0745', who: 1, kind: 'deposit', amount: 10000 },
  { at: '0750', who: 1, kind: 'load', amount: 8000, funding: 'phoneAccount' },
  { at: '0755', who: 1, kind: 'meal', till: 'till-1', item: 'breakfast' },
  { at: '0830', who: 2, kind: 'load', amount: 2000, funding: 'cash' },
  { at: '0900', who: 2, kind: 'door', door: 'library' },
  { at: '1000', who: 0, kind: 'door', door: 'library' },
  { at: '1200', who: 0, kind: 'meal', till: 'till-2', item: 'lunch' },
  { at: '1205', who: 1, kind: 'meal', till: 'till-2', item: 'lunch' },
  { at: '1210', who: 2, kind: 'meal', till: 'till-1', item: 'lunch' },
  { at: '1215', who: 2, kind: 'meal', till: 'till-1', item: 'fruit' },
  { at: '1300', who: 2, kind: 'door', door: 'dorm-west' },
  { at: '1730', who: 2, kind: 'meal', till: 'till-2', item: 'dinner' },
  { at: '1800', who: 1, kind: 'meal', till: 'till-2', item: 'dinner' },
  { at: '1830', who: 1, kind: 'door', door: 'dorm-east' },
  { at: '1835', who: 1, kind: 'door', door: 'dorm-west' },
  { at: '1900', who: 2, kind: 'lost' },
  { at: '1910', who: 2, kind: 'door', door: 'library' },
  { at: '1915', who: 2, kind: 'meal', till: 'till-1', item: 'fruit' },
  { at: '1920', who: 2, kind: 'load', amount: 1000, funding: 'cash' },
  { at: '2100', who: 0, kind: 'door', door: 'dorm-east' },
  { at: '2345', who: 0, kind: 'door', door: 'dorm-east' },
];

/** Options of {@link runCampus}. */
export interface CampusOptions {
  /** The platform, `ws://host:port`. */
  readonly url: string;
  /** The campus's platform client id (default `campus-1`) and secret (default the profile's). */
  readonly clientId?: string;
  readonly secret?: string;
  /** The profile of the cards (default the reference profile; `withFleet(n)` for fleet cards). */
  readonly profile?: SimtapProfile;
  /** Three students (default {@link STUDENTS}): the day's roles by position. */
  readonly students?: readonly [Student, Student, Student];
  /** The simulated day, YYYY-MM-DD (default 2026-09-07, a Monday), in China time. */
  readonly day?: string;
  /** Clear with the platform every this many records (default 4). */
  readonly clearEvery?: number;
  /** The doors' random source (INTERNAL AUTHENTICATE challenges); default the system's. */
  readonly random?: RandomSource;
  /** Checks the platform's ledger at the end (e.g. `() => platform.verify()` in-process, or a console client). */
  readonly verifyLedger?: () => Promise<{ ok: boolean }>;
  /** Where the machines keep their buffers (default a temporary directory, removed at the end). */
  readonly workDir?: string;
  /** Sees each emulated SIM the system's people carry, once, before its first tap (e.g. to watch it: `sim.observe`). */
  readonly onSim?: (sim: Card, holder: string) => void;
}

/** One line of the day. */
export interface TimelineEntry {
  readonly at: string;
  readonly student: string;
  readonly place: string;
  readonly what: string;
  readonly ok: boolean;
  readonly outcome: string;
}

/** A student at the end of the day. */
export interface StudentSummary {
  readonly name: string;
  readonly card: string;
  readonly serial: string;
  readonly dorm: string | undefined;
  /** The purse as read back from the card, fen. */
  readonly purse: number;
  /** The platform's float of the card, fen. */
  readonly float: number;
  readonly phoneAccount: number;
  readonly cardStatus: string;
}

/** What {@link runCampus} returns. */
export interface CampusReport {
  readonly day: string;
  readonly timeline: readonly TimelineEntry[];
  readonly students: readonly StudentSummary[];
  readonly doors: readonly (DoorDecision & { readonly at: string; readonly student: string })[];
  readonly sales: readonly (SaleOutcome & { readonly at: string; readonly student: string; readonly till: string })[];
  readonly loads: readonly (LoadOutcome & {
    readonly at: string;
    readonly student: string;
    readonly funding: string;
  })[];
  readonly clearing: {
    readonly batches: readonly ClearingBatch[];
    /** Records the tills delivered to the back office. */
    readonly records: number;
    readonly cleared: number;
    readonly rejected: number;
    /** Sum of the cleared records' amounts, fen. */
    readonly clearedTotal: number;
  };
  readonly merchant: { readonly id: string; readonly payableBefore: number; readonly payable: number };
  readonly machines: readonly {
    readonly id: string;
    readonly kind: string;
    readonly configVersion: number | undefined;
    readonly blacklistVersion: number | undefined;
    readonly recordsReceived: number;
  }[];
  readonly checks: {
    /** Every purse read from its card equals the platform's float. */
    readonly pursesMatchFloats: boolean;
    /** The merchant's payable grew by exactly the cleared records' total. */
    readonly payableMatchesCleared: boolean;
    /** `ledger.verify`, when a verifier was given. */
    readonly ledgerOk: boolean | undefined;
  };
}

/** The machine clock of the simulated day: set to each event's time. */
class DayClock implements Clock {
  #at: Date;
  constructor(readonly day: string) {
    this.#at = this.#date('0000');
  }
  #date(hhmm: string): Date {
    return new Date(`${this.day}T${hhmm.slice(0, 2)}:${hhmm.slice(2, 4)}:00+08:00`);
  }
  set(hhmm: string): void {
    this.#at = this.#date(hhmm);
  }
  now(): Date {
    return new Date(this.#at.getTime());
  }
}

/** ¥ with two decimals from fen. */
export function yuan(fen: number): string {
  return `${fen < 0 ? '-' : ''}¥${(Math.abs(fen) / 100).toFixed(2)}`;
}

const REFUSALS: Record<string, string> = {
  blacklisted: 'card on the blacklist',
  insufficientBalance: 'balance too low',
  insufficientFunds: 'not enough in the phone account',
  notOnMenu: 'not on the menu',
  noConfig: 'no config yet',
  unproven: 'an earlier torn tap is unproven',
};

const hhmm = (at: string) => `${at.slice(0, 2)}:${at.slice(2, 4)}`;

const DOOR_WORDS: Record<DoorReason, string> = {
  granted: 'opens',
  notGenuine: 'stays shut: not a genuine card',
  doorRefused: 'stays shut: the card refused the door',
  blacklisted: 'stays shut: card on the blacklist',
  notPermitted: 'stays shut: not a resident',
  outsideHours: 'stays shut: outside its hours',
  noConfig: 'stays shut: no config yet',
};

/** The door rules of the config: the library for everyone in its hours, each dorm for its residents. */
export function doorRules(students: readonly { serial: string; dorm?: string | undefined }[]): DoorRule[] {
  const rules: DoorRule[] = [{ door: 'library', ...LIBRARY_HOURS }];
  for (const dorm of DOORS.filter((d) => d !== 'library')) {
    const cards = students.filter((s) => s.dorm === dorm).map((s) => s.serial);
    if (cards.length > 0) rules.push({ door: dorm, cards, ...DORM_HOURS });
  }
  return rules;
}

/**
 * Runs the campus for a day against the platform at `url` and returns its report.
 * @throws {CampusError} `CAMPUS_CARD_UNUSABLE` when a student's card is not active on the platform or already holds
 *   a float (the emulated cards start empty: run against a fresh platform); the platform's and the machines' errors.
 */
export async function runCampus(options: CampusOptions): Promise<CampusReport> {
  const profile = options.profile ?? referenceProfile();
  const clientId = options.clientId ?? 'campus-1';
  const clientProfile = profile.platform.clients.find((c) => c.id === clientId);
  const secret = options.secret ?? (clientProfile ? toHex(clientProfile.secret) : undefined);
  if (secret === undefined) throw new CampusError('NO_SECRET', `no secret for platform client ${clientId}`);
  const students = options.students ?? STUDENTS;
  const day = options.day ?? '2026-09-07';
  const clock = new DayClock(day);
  const runId = `campus-${day}-${randomBytes(6).toString('hex')}`;
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), 'simtap-campus-')));
  const platform = new PlatformClient({ url: options.url, clientId, secret });
  const cleanups: (() => Promise<unknown>)[] = [() => platform.close()];
  if (options.workDir === undefined) cleanups.push(() => rm(workDir, { recursive: true, force: true }));

  try {
    // The students' cards: active on the platform, no float yet (their SIMs start empty).
    const people = await Promise.all(
      students.map(async (s) => {
        const cp = cardProfile(s.card, profile);
        const serial = toHex(cp.applicationSerial).toUpperCase();
        const view = await platform.cards.get({ cardSerial: serial });
        const { balance } = await platform.wallet.float({ cardSerial: serial });
        if (view.status !== 'active' || balance !== 0)
          throw new CampusError(
            'CAMPUS_CARD_UNUSABLE',
            `${s.card} (${serial}) is ${view.status} with a float of ${yuan(balance)}: the emulated cards start ` +
              'empty — run against a fresh platform',
          );
        const sim: Card = createSim({ profile, card: s.card, personalized: true });
        options.onSim?.(sim, s.name);
        return { ...s, serial, msisdn: cp.msisdn, sim };
      }),
    );
    const payableBefore = (await platform.merchants.balance()).payable;

    // The back office and its machines.
    const specs: MachineSpec[] = [
      ...TILLS.map((id) => ({ id, kind: 'till' as const, secret: randomBytes(32).toString('hex') })),
      { id: 'kiosk-1', kind: 'kiosk', secret: randomBytes(32).toString('hex') },
      ...DOORS.map((d) => ({ id: `door-${d}`, kind: 'door' as const, secret: randomBytes(32).toString('hex') })),
    ];
    const office = new CampusBackOffice({ platform, machines: specs, clearEvery: options.clearEvery ?? 4, runId });
    cleanups.unshift(() => office.close());
    const { url: hubUrl, blacklistPublicKey } = await office.start();
    const machines = new Map(
      specs.map((s) => [
        s.id,
        new CampusMachine({
          id: s.id,
          kind: s.kind,
          secret: s.secret as string,
          hubUrl,
          blacklistPublicKey,
          bufferDir: join(workDir, s.id),
        }),
      ]),
    );
    for (const m of machines.values()) {
      cleanups.unshift(() => m.agent.stop());
      await m.agent.start();
    }
    const machine = (id: string) => machines.get(id)!;
    const tills = new Map(
      TILLS.map((id, i) => [
        id,
        new CanteenTill({
          machine: machine(id),
          reader: new CampusReader(`${id} reader`),
          terminalId: fromHex(`4401000001${String(i + 1).padStart(2, '0')}`),
          clock,
        }),
      ]),
    );
    const kiosk = new TopUpKiosk({
      machine: machine('kiosk-1'),
      reader: new CampusReader('kiosk-1 reader'),
      platform,
      terminalId: fromHex('440100000109'),
      clock,
    });
    const master = profile.issuer.masterKeys.externalAuthMasterKey;
    const doors = new Map(
      DOORS.map((d) => [
        d,
        new CampusDoor({
          door: d,
          machine: machine(`door-${d}`),
          reader: new CampusReader(`${d} door reader`),
          externalAuthMasterKey: master,
          clock,
          ...(options.random ? { random: options.random } : {}),
        }),
      ]),
    );
    const rules = doorRules(people);
    await office.pushConfig({ ...MENU }, rules);

    // The day.
    const report = {
      timeline: [] as TimelineEntry[],
      doors: [] as CampusReport['doors'][number][],
      sales: [] as CampusReport['sales'][number][],
      loads: [] as CampusReport['loads'][number][],
    };
    const line = (e: Omit<TimelineEntry, 'student'>, who: number) =>
      report.timeline.push({ ...e, student: people[who]!.name });
    for (const ev of DAY) {
      clock.set(ev.at);
      const p = people[ev.who]!;
      switch (ev.kind) {
        case 'deposit': {
          const { balance } = await platform.customers.topUpPhoneAccount({
            idempotencyKey: `${runId}:deposit-${ev.at}-${ev.who}`,
            msisdn: p.msisdn,
            amount: ev.amount,
          });
          line(
            {
              at: ev.at,
              place: 'service desk',
              what: `pays ${yuan(ev.amount)} into the phone account`,
              ok: true,
              outcome: `phone account ${yuan(balance)}`,
            },
            ev.who,
          );
          break;
        }
        case 'load': {
          const funding =
            ev.funding === 'cash'
              ? ({ source: 'cash' } as const)
              : ({ source: 'phoneAccount', msisdn: p.msisdn } as const);
          const r = await kiosk.load(p.sim, ev.amount, funding);
          report.loads.push({ ...r, at: ev.at, student: p.name, funding: ev.funding });
          line(
            {
              at: ev.at,
              place: 'kiosk-1',
              what: `load ${yuan(ev.amount)} (${ev.funding === 'cash' ? 'cash' : 'phone account'})`,
              ok: r.status === 'loaded',
              outcome:
                r.status === 'loaded' ? `purse ${yuan(r.balanceAfter)}` : `refused: ${REFUSALS[r.reason] ?? r.reason}`,
            },
            ev.who,
          );
          break;
        }
        case 'meal': {
          const r = await tills.get(ev.till)!.sell(p.sim, ev.item);
          report.sales.push({ ...r, at: ev.at, student: p.name, till: ev.till });
          line(
            {
              at: ev.at,
              place: ev.till,
              what: `${ev.item} ${r.amount === undefined ? '' : yuan(r.amount)}`.trim(),
              ok: r.status === 'sold',
              outcome:
                r.status === 'sold' ? `purse ${yuan(r.balanceAfter)}` : `refused: ${REFUSALS[r.reason] ?? r.reason}`,
            },
            ev.who,
          );
          break;
        }
        case 'door': {
          const d = await doors.get(ev.door)!.tap(p.sim);
          report.doors.push({ ...d, at: ev.at, student: p.name });
          line(
            { at: ev.at, place: ev.door, what: 'taps the door', ok: d.granted, outcome: DOOR_WORDS[d.reason] },
            ev.who,
          );
          break;
        }
        case 'lost': {
          const { blacklistVersion } = await platform.cards.reportLost({ cardSerial: p.serial });
          const version = await office.pushConfig({ ...MENU }, rules);
          line(
            {
              at: ev.at,
              place: 'service desk',
              what: 'reports the card lost',
              ok: true,
              outcome: `blacklist v${blacklistVersion} → config v${version} on every machine`,
            },
            ev.who,
          );
          break;
        }
      }
    }

    // The end of the day: every till's records stored, cleared with the platform.
    for (const id of TILLS) await machine(id).agent.delivered({ timeoutMs: 5000 });
    await office.flush();

    // Read every purse back from its card, and what the platform holds.
    const desk = new CampusReader('service desk reader');
    const summaries: StudentSummary[] = [];
    for (const p of people) {
      desk.present(p.sim);
      const purse = await readPurse(desk, { counters: 'none' });
      desk.remove();
      const float = (await platform.wallet.float({ cardSerial: p.serial })).balance;
      const phoneAccount = (await platform.customers.phoneAccount({ msisdn: p.msisdn })).balance;
      const cardStatus = (await platform.cards.get({ cardSerial: p.serial })).status;
      summaries.push({
        name: p.name,
        card: p.card,
        serial: p.serial,
        dorm: p.dorm,
        purse: purse.balance,
        float,
        phoneAccount,
        cardStatus,
      });
    }
    const payable = (await platform.merchants.balance()).payable;
    const cleared = office.records.filter((r) => r.status === 'cleared');
    const clearedTotal = cleared.reduce((sum, r) => sum + r.record.amount, 0);
    const ledgerOk = options.verifyLedger ? (await options.verifyLedger()).ok : undefined;
    return {
      day,
      timeline: report.timeline,
      students: summaries,
      doors: report.doors,
      sales: report.sales,
      loads: report.loads,
      clearing: {
        batches: office.batches,
        records: office.records.length,
        cleared: cleared.length,
        rejected: office.records.filter((r) => r.status === 'rejected').length,
        clearedTotal,
      },
      merchant: { id: clientProfile?.merchantId ?? clientId, payableBefore, payable },
      machines: office.hub.machines.map((m) => ({
        id: m.id,
        kind: m.kind,
        configVersion: m.configVersion,
        blacklistVersion: m.blacklistVersion,
        recordsReceived: m.recordsReceived,
      })),
      checks: {
        pursesMatchFloats: summaries.every((s) => s.purse === s.float),
        payableMatchesCleared: payable - payableBefore === clearedTotal,
        ledgerOk,
      },
    };
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

/** The report as short readable text. */
export function formatReport(r: CampusReport): string {
  const out: string[] = [];
  const mark = (ok: boolean) => (ok ? 'ok' : '--');
  out.push(`campus, ${r.day}: canteen tills, a top-up kiosk, library and dorm doors on one card`);
  out.push('');
  for (const t of r.timeline)
    out.push(
      `  ${hhmm(t.at)}  ${t.student.padEnd(10)} ${t.place.padEnd(13)} ${t.what.padEnd(36)} ${mark(t.ok)}  ${t.outcome}`,
    );
  out.push('');
  out.push('  student     card    dorm       purse (card)  float       phone acct  card');
  for (const s of r.students)
    out.push(
      `  ${s.name.padEnd(11)} ${s.card.padEnd(7)} ${(s.dorm ?? '—').padEnd(10)} ${yuan(s.purse).padStart(12)}  ` +
        `${yuan(s.float).padEnd(10)}  ${yuan(s.phoneAccount).padStart(10)}  ${s.cardStatus}`,
    );
  out.push('');
  const c = r.clearing;
  const batches = c.batches.map((b) => `#${b.batch} ${b.accepted}/${b.records} ${yuan(b.settled)} (${b.trigger})`);
  out.push(
    `  clearing: ${c.records} records from the tills, ${c.cleared} cleared (${yuan(c.clearedTotal)}), ` +
      `${c.rejected} rejected; batches ${batches.join(', ')}`,
  );
  out.push(
    `  ${r.merchant.id} payable: ${yuan(r.merchant.payableBefore)} → ${yuan(r.merchant.payable)}; ` +
      `doors: ${r.doors.filter((d) => d.granted).length} opened, ${r.doors.filter((d) => !d.granted).length} refused`,
  );
  out.push(
    `  machines: ${r.machines.map((m) => `${m.id} v${m.configVersion ?? '-'}`).join(', ')} ` +
      `(config with the blacklist v${r.machines[0]?.blacklistVersion ?? '-'})`,
  );
  out.push(
    `  checks: purse = float ${mark(r.checks.pursesMatchFloats)}, payable = cleared ${mark(r.checks.payableMatchesCleared)}, ` +
      `ledger.verify ${r.checks.ledgerOk === undefined ? 'not run' : mark(r.checks.ledgerOk)}`,
  );
  return out.join('\n');
}

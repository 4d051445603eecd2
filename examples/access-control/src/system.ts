/**
 * The access-control application system, run against a platform: a back office (client `access-1`, no merchant)
 * with three doors — lobby, lab, server room — on its machine link, the holders' emulated SIMs tapped at the doors
 * through a week (a fixed clock set step by step), a card reported lost and refused at every door after one
 * blacklist poll, and the money checked unmoved: every purse, read from its card, equals its float, floats and phone
 * accounts as before, and — given an operator's console — `ledger.verify` ok.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Card } from '@simtap/applet-emu/runtime';
import { InProcessChannel } from '@simtap/sdk/card';
import { hasPlatformErrorCode, PlatformClient } from '@simtap/sdk/clients';
import { toHex } from '@simtap/sdk/core/bytes';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { type Clock, readPurse } from '@simtap/sdk/machines';
import { BackOffice, type DoorSpec, type PollResult } from './back-office';
import { createAccessSims, HOLDERS, type Holder, holderCard, serialOf } from './cards';
import { type AccessEvent, DoorController } from './door';
import type { AccessGroup, AccessReason } from './policy';

/** The doors: machine id → door name. */
export const DOORS = { 'door-lobby': 'lobby', 'door-lab': 'lab', 'door-server': 'server-room' } as const;
/** A door name. */
export type DoorName = (typeof DOORS)[keyof typeof DOORS];

/** The groups the back office starts with (times are the doors' local time, UTC+8). */
export function accessGroups(): AccessGroup[] {
  return [
    {
      name: 'staff',
      cards: [serialOf('alice'), serialOf('bob')],
      doors: ['lobby', 'lab'],
      days: [1, 2, 3, 4, 5],
      from: '0800',
      to: '1900',
    },
    {
      name: 'night-guard',
      cards: [serialOf('guard')],
      doors: ['lobby', 'lab', 'server-room'],
      from: '2200',
      to: '0600',
    },
    {
      name: 'admins',
      cards: [serialOf('admin')],
      doors: ['lobby', 'server-room'],
      days: [1, 2, 3, 4, 5],
      from: '0700',
      to: '2000',
    },
  ];
}

/** Who taps: a holder, Alice's clone, or a SIM without an e-purse. */
export type Tapper = Holder | 'clone' | 'foreign';

/** One tap of the scenario and what should come of it. */
export interface ScenarioTap {
  /** Local time (UTC+8), `YYYY-MM-DDThh:mm`. */
  readonly at: string;
  readonly who: Tapper;
  readonly door: DoorName;
  readonly expect: AccessReason;
  readonly note?: string;
}

/** The week: before the loss report, Bob's card; after it, the same taps after one poll. */
export const SCENARIO: {
  readonly before: readonly ScenarioTap[];
  readonly afterReport: readonly ScenarioTap[];
  readonly afterPoll: readonly ScenarioTap[];
} = {
  before: [
    { at: '2026-03-02T09:30', who: 'alice', door: 'lobby', expect: 'granted' },
    { at: '2026-03-02T09:31', who: 'alice', door: 'lab', expect: 'granted' },
    { at: '2026-03-02T09:32', who: 'alice', door: 'server-room', expect: 'noPermission' },
    { at: '2026-03-02T09:40', who: 'bob', door: 'lab', expect: 'granted' },
    { at: '2026-03-02T10:00', who: 'admin', door: 'server-room', expect: 'granted' },
    { at: '2026-03-02T10:05', who: 'visitor', door: 'lobby', expect: 'noPermission' },
    { at: '2026-03-02T10:10', who: 'clone', door: 'lobby', expect: 'notAuthentic', note: "Alice's serial, wrong DEAK" },
    { at: '2026-03-02T10:11', who: 'foreign', door: 'lobby', expect: 'unreadable', note: 'no e-purse' },
    { at: '2026-03-02T23:30', who: 'alice', door: 'lobby', expect: 'outsideHours' },
    { at: '2026-03-02T23:35', who: 'guard', door: 'server-room', expect: 'granted' },
    { at: '2026-03-03T02:15', who: 'guard', door: 'lab', expect: 'granted', note: "Monday's window, past midnight" },
    { at: '2026-03-03T02:20', who: 'admin', door: 'lobby', expect: 'outsideHours' },
    { at: '2026-03-07T10:00', who: 'alice', door: 'lobby', expect: 'outsideHours', note: 'Saturday' },
    { at: '2026-03-07T10:05', who: 'guard', door: 'lobby', expect: 'outsideHours' },
  ],
  afterReport: [
    { at: '2026-03-09T08:46', who: 'bob', door: 'lobby', expect: 'granted', note: 'reported lost, not yet polled' },
  ],
  afterPoll: [
    { at: '2026-03-09T08:50', who: 'bob', door: 'lobby', expect: 'blacklisted' },
    { at: '2026-03-09T08:51', who: 'bob', door: 'lab', expect: 'blacklisted' },
    { at: '2026-03-09T08:52', who: 'bob', door: 'server-room', expect: 'blacklisted' },
    { at: '2026-03-09T08:55', who: 'alice', door: 'lobby', expect: 'granted' },
  ],
};

/** A tap as it went. */
export interface TapResult extends ScenarioTap {
  readonly event: AccessEvent;
  /** The decision is the expected one. */
  readonly ok: boolean;
}

/** A card's money: purse read from the card, float and phone account before and after. */
export interface CardMoney {
  readonly holder: Holder;
  readonly serial: string;
  readonly purse: number;
  readonly floatBefore: number;
  readonly float: number;
  readonly phoneBefore: number;
  readonly phone: number;
}

/** What {@link runAccessControl} returns. */
export interface AccessReport {
  readonly taps: readonly TapResult[];
  readonly lost: {
    readonly holder: Holder;
    readonly serial: string;
    readonly reportedVersion: number;
    readonly poll: PollResult;
    /** Doors that refused the card as blacklisted after the poll. */
    readonly refusedAt: readonly string[];
  };
  readonly audit: {
    readonly events: readonly AccessEvent[];
    /** Every door's journal, event for event, is in the back office's log, and nothing else is. */
    readonly complete: boolean;
    readonly gaps: number;
  };
  readonly doors: readonly { machineId: string; door: string; configVersion: number; blacklistVersion: number }[];
  readonly money: {
    readonly cards: readonly CardMoney[];
    /** `merchants.balance` for `access-1`: NO_MERCHANT (nothing to settle). */
    readonly merchant: 'none' | number;
    readonly purchaseRecords: number;
    /** `ledger.verify` through the operator's console, when one was given. */
    readonly ledger: { readonly ok: boolean; readonly entries: number } | undefined;
    /** Purses equal floats, floats and phone accounts unchanged, no records, no merchant payable. */
    readonly unmoved: boolean;
  };
  /** Every tap as expected, the audit complete, the lost card refused everywhere, no money moved. */
  readonly ok: boolean;
}

/** Options of {@link runAccessControl}. */
export interface AccessControlOptions {
  /** The platform, `ws://host:port`. */
  readonly url: string;
  /** The application client (default `access-1` of the reference profile). */
  readonly client?: { readonly id: string; readonly secret: Uint8Array | string };
  /** An operator's console client, for `ledger.verify` in the report (default none). */
  readonly console?: { readonly id: string; readonly secret: Uint8Array | string };
  /** The doors' working directory (default a temp dir, removed at the end). */
  readonly dir?: string;
  /** The holder whose card is reported lost (default Bob). */
  readonly lostHolder?: Holder;
  /** Sees each emulated SIM the system's people carry, once, before its first tap (e.g. to watch it: `sim.observe`). */
  readonly onSim?: (sim: Card, holder: string) => void;
}

/** A clock the scenario sets, as a door's real-time clock would read. */
class ScenarioClock implements Clock {
  #at = new Date(0);
  set(localIso: string): void {
    this.#at = new Date(`${localIso}:00+08:00`);
  }
  now(): Date {
    return new Date(this.#at.getTime());
  }
}

const clientSecret = (id: string) => {
  const c = referenceProfile().platform.clients.find((x) => x.id === id);
  if (!c) throw new Error(`no client ${id} in the reference profile`);
  return c.secret;
};

/** Runs the system (see the module's description) and reports what it saw. */
export async function runAccessControl(options: AccessControlOptions): Promise<AccessReport> {
  const profile = referenceProfile();
  const client = options.client ?? { id: 'access-1', secret: clientSecret('access-1') };
  const platform = new PlatformClient({ url: options.url, clientId: client.id, secret: client.secret });
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'simtap-access-')));
  const clock = new ScenarioClock();
  const doors: DoorController[] = [];
  let office: BackOffice | undefined;
  try {
    await platform.connect();
    const specs: DoorSpec[] = Object.entries(DOORS).map(([machineId, door]) => ({
      machineId,
      door,
      secret: randomBytes(32),
    }));
    office = await BackOffice.open({ platform, doors: specs, groups: accessGroups() });
    for (const s of specs) {
      const door = new DoorController({
        door: s.door,
        machineId: s.machineId,
        hubUrl: office.url,
        secret: s.secret,
        blacklistPublicKey: office.blacklistPublicKey,
        masterKey: profile.issuer.masterKeys.externalAuthMasterKey,
        dir: join(dir, s.machineId),
        clock,
      });
      doors.push(door);
      await door.start();
    }
    await Promise.all(doors.map((d) => d.runs(office!.configVersion)));

    const sims = createAccessSims();
    for (const [holder, sim] of Object.entries(sims.holders)) options.onSim?.(sim, holder);
    const holders = Object.keys(HOLDERS) as Holder[];
    const before = await moneyOf(platform, holders);

    const cardOf = (who: Tapper): Card =>
      who === 'clone' ? sims.clone : who === 'foreign' ? sims.foreign : sims.holders[who];
    const doorOf = (name: DoorName) => doors.find((d) => d.door === name)!;
    const taps: TapResult[] = [];
    const play = async (list: readonly ScenarioTap[]) => {
      for (const t of list) {
        clock.set(t.at);
        const event = await doorOf(t.door).tap(cardOf(t.who));
        taps.push({ ...t, event, ok: event.reason === t.expect });
      }
    };

    await play(SCENARIO.before);
    const lostHolder = options.lostHolder ?? 'bob';
    const lostSerial = serialOf(lostHolder);
    const reported = await platform.cards.reportLost({ cardSerial: lostSerial });
    await play(SCENARIO.afterReport.map((t) => ({ ...t, who: t.who === 'bob' ? lostHolder : t.who })));
    const poll = await office.pollBlacklist();
    await play(SCENARIO.afterPoll.map((t) => ({ ...t, who: t.who === 'bob' ? lostHolder : t.who })));
    const refusedAt = taps
      .slice(-SCENARIO.afterPoll.length)
      .filter((t) => t.event.card === lostSerial && t.event.reason === 'blacklisted')
      .map((t) => t.door);

    const total = doors.reduce((n, d) => n + d.journal.length, 0);
    await office.auditCount(total).catch(() => undefined);
    const complete = doors.every((d) => {
      const logged = office!.audit.filter((e) => e.machineId === d.machineId);
      return JSON.stringify(logged) === JSON.stringify(d.journal);
    });
    const auditEvents = [...office.audit];

    const after = await moneyOf(platform, holders);
    const cards: CardMoney[] = [];
    for (const h of holders) {
      const purse = await purseOf(sims.holders[h]);
      const b = before.get(h)!;
      const a = after.get(h)!;
      cards.push({
        holder: h,
        serial: serialOf(h),
        purse,
        floatBefore: b.float,
        float: a.float,
        phoneBefore: b.phone,
        phone: a.phone,
      });
    }
    let merchant: 'none' | number;
    try {
      merchant = (await platform.merchants.balance()).payable;
    } catch (e) {
      if (!hasPlatformErrorCode(e, 'NO_MERCHANT')) throw e;
      merchant = 'none';
    }
    const ledger = options.console ? await verifyLedger(options.url, options.console) : undefined;
    const unmoved =
      cards.every((c) => c.purse === c.float && c.float === c.floatBefore && c.phone === c.phoneBefore) &&
      office.records.length === 0 &&
      merchant === 'none' &&
      (ledger?.ok ?? true);

    const doorStates = doors.map((d) => ({
      machineId: d.machineId,
      door: d.door,
      configVersion: d.agent.config?.version ?? 0,
      blacklistVersion: d.agent.config?.blacklistVersion ?? 0,
    }));
    return {
      taps,
      lost: { holder: lostHolder, serial: lostSerial, reportedVersion: reported.blacklistVersion, poll, refusedAt },
      audit: { events: auditEvents, complete, gaps: office.gaps.length },
      doors: doorStates,
      money: { cards, merchant, purchaseRecords: office.records.length, ledger, unmoved },
      ok:
        taps.every((t) => t.ok) && complete && office.gaps.length === 0 && refusedAt.length === doors.length && unmoved,
    };
  } finally {
    for (const d of doors) await d.stop();
    await office?.close();
    await platform.close();
    if (ownDir) await rm(dir, { recursive: true, force: true });
  }
}

async function moneyOf(platform: PlatformClient, holders: readonly Holder[]) {
  const out = new Map<Holder, { float: number; phone: number }>();
  for (const h of holders) {
    const c = holderCard(h);
    const { balance: float } = await platform.wallet.float({ cardSerial: toHex(c.applicationSerial) });
    const { balance: phone } = await platform.customers.phoneAccount({ msisdn: c.msisdn });
    out.set(h, { float, phone });
  }
  return out;
}

async function purseOf(card: Card): Promise<number> {
  if (card.isPowered('contactless')) card.powerOff('contactless');
  card.powerOn('contactless');
  try {
    const channel = new InProcessChannel({ transmit: (c) => card.transmit('contactless', c) });
    return (await readPurse(channel, { counters: 'none' })).balance;
  } finally {
    card.powerOff('contactless');
  }
}

async function verifyLedger(url: string, op: { readonly id: string; readonly secret: Uint8Array | string }) {
  const console_ = new PlatformClient({ url, clientId: op.id, secret: op.secret, endpoint: 'console' });
  try {
    const r = await console_.call('ledger.verify');
    return { ok: r.ok, entries: r.entries };
  } finally {
    await console_.close();
  }
}

/** The report as a few readable lines. */
export function formatReport(r: AccessReport): string {
  const yuan = (fen: number) => `¥${(fen / 100).toFixed(2)}`;
  const lines = ['access-control: 3 doors on the back office link (client access-1, no merchant)', ''];
  lines.push(' # local time        door         card                  decision                expected');
  r.taps.forEach((t, i) => {
    const who = t.who === 'clone' || t.who === 'foreign' ? t.who : `${t.who}`;
    const decision = `${t.event.granted ? 'OPEN ' : 'shut '} ${t.event.reason}`;
    lines.push(
      `${String(i + 1).padStart(2)} ${t.event.at.slice(0, 16)}  ${t.door.padEnd(12)} ${who.padEnd(8)} ${t.event.card.slice(-8).padEnd(12)} ${decision.padEnd(23)} ${t.ok ? 'ok' : `EXPECTED ${t.expect}`}${t.note ? `  (${t.note})` : ''}`,
    );
  });
  const p = r.lost.poll;
  lines.push(
    '',
    `lost card: ${r.lost.holder} ${r.lost.serial} reported through access-1 (blacklist v${r.lost.reportedVersion}); ` +
      `one poll v${p.from}→v${p.to} (+${p.added.length} −${p.removed.length}), config ${p.configVersion} acked by ${p.acked.length}/3 doors; ` +
      `refused at ${r.lost.refusedAt.length}/3 doors: ${r.lost.refusedAt.join(', ')}`,
  );
  const granted = r.audit.events.filter((e) => e.granted).length;
  lines.push(
    `audit log: ${r.audit.events.length} events (${granted} opened, ${r.audit.events.length - granted} refused) — ` +
      `${r.audit.complete ? 'complete: every door journal, event for event' : 'INCOMPLETE'}, ${r.audit.gaps} gaps`,
  );
  const m = r.money;
  const cards = m.cards.map((c) => `${c.holder} ${yuan(c.purse)}=${yuan(c.float)}`).join(', ');
  lines.push(
    `money: purse = float on every card (${cards}); phone accounts and floats unchanged: ` +
      `${m.cards.every((c) => c.float === c.floatBefore && c.phone === c.phoneBefore) ? 'yes' : 'NO'}; ` +
      `merchant payable: ${m.merchant === 'none' ? 'none (no merchant)' : yuan(m.merchant)}; purchase records: ${m.purchaseRecords}` +
      (m.ledger ? `; ledger.verify ${m.ledger.ok ? 'ok' : 'FAILED'} (${m.ledger.entries} entries)` : ''),
  );
  lines.push('', r.ok ? 'access-control: ok — no money moved' : 'access-control: FAILED');
  return lines.join('\n');
}

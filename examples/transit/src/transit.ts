/**
 * The transit application system on a simulated day: a back office (MachineHub, fare config, clearing, audit,
 * TIDES export), six metro gates, a bus validator whose radio link is down for the first hour (its records wait on
 * its disk, across a restart, and go up once), and a recharge kiosk; three riders on emulated SIMs. The machines'
 * clock is a simulated one the day advances; the links, the platform and the clearing are real.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Card } from '@simtap/applet-emu/runtime';
import { createSim } from '@simtap/applet-emu/sim';
import type { Platform } from '@simtap/host/platform';
import type { CardChannel } from '@simtap/sdk/card';
import { MACHINE_PATH, PlatformClient } from '@simtap/sdk/clients';
import { toHex } from '@simtap/sdk/core/bytes';
import { type CardProfile, fleetCard, referenceProfile, type SimtapProfile } from '@simtap/sdk/core/profile';
import { type Clock, readPurse } from '@simtap/sdk/machines';
import { BackOffice, type BatchSummary, type Device } from './back-office';
import { DEFAULT_FARES, type FareRules, terminalId } from './fares';
import { BusValidator, Kiosk, MetroGate, type Ride } from './machines';
import { RadioLink } from './radio-link';
import { tidesCsv, tidesRows, yuanAmount } from './tides';

/** The fleet numbers of the transit riders' cards (`fleet-1101` …). */
export const TRANSIT_FLEET = [1101, 1102, 1103] as const;

/** The riders' cards. */
export function transitCards(): CardProfile[] {
  return TRANSIT_FLEET.map((n) => fleetCard(n));
}

/** The reference profile with the riders' cards, for their SIMs. */
export function transitProfile(): SimtapProfile {
  const p = referenceProfile();
  return { ...p, cards: [...p.cards, ...transitCards()] };
}

/** Registers the riders (phone accounts at 0) and issues their cards active on an in-process platform. */
export async function issueTransitCards(platform: Platform): Promise<void> {
  for (const c of transitCards()) {
    await platform.customers.register({ msisdn: c.msisdn, openingBalance: 0 });
    await platform.contactless.issue({
      cardSerial: toHex(c.applicationSerial),
      iccid: c.iccid,
      msisdn: c.msisdn,
      kdd: toHex(c.isd.kdd),
      status: 'active',
    });
  }
}

/** Options of {@link runTransit}. */
export interface TransitOptions {
  /** The platform, `ws://host:port`. Its ledger must know the riders' cards active ({@link issueTransitCards}). */
  readonly url: string;
  /** The metro-1 client secret (default: the reference profile's). */
  readonly secret?: string;
  readonly rules?: FareRules;
  /** Clear every N records (default 4)… */
  readonly clearEveryRecords?: number;
  /** …or T ms (default 250). */
  readonly clearEveryMs?: number;
  /** Where the TIDES CSV is written (default: not written; the report carries it). */
  readonly tidesPath?: string;
  /** `ledger.verify` of the platform, when the caller can run it. */
  readonly verifyLedger?: () => Promise<boolean>;
  /** Sees each emulated SIM the system's people carry, once, before its first tap (e.g. to watch it: `sim.observe`). */
  readonly onSim?: (sim: Card, holder: string) => void;
}

/** A priced tap, for the report. */
export interface RideLine {
  readonly time: string;
  readonly rider: string;
  readonly machine: string;
  readonly fare: number;
  readonly note: string;
}

/** A rider's money, to the fen. */
export interface RiderLine {
  readonly rider: string;
  readonly serial: string;
  readonly loaded: number;
  readonly spent: number;
  /** Read from the card. */
  readonly purse: number;
  /** The platform's mirror of the purse. */
  readonly float: number;
}

/** What {@link runTransit} returns. */
export interface TransitReport {
  readonly serviceDate: string;
  readonly rules: FareRules;
  readonly rides: readonly RideLine[];
  readonly riders: readonly RiderLine[];
  readonly bus: {
    /** Records on the bus's disk when its link came back. */
    readonly buffered: number;
    /** Bus records the back office stored, and how many distinct (machine, seq). */
    readonly stored: number;
    readonly distinct: number;
    /** Records the bus made in all. */
    readonly made: number;
    /** Resent records the hub recognised and skipped. */
    readonly duplicatesSkipped: number;
  };
  readonly clearing: {
    readonly batches: readonly BatchSummary[];
    /** Sum of the records the platform accepted, fen. */
    readonly cleared: number;
    readonly records: number;
    readonly rejected: number;
    readonly payableBefore: number;
    readonly payableAfter: number;
  };
  readonly audit: { readonly records: number; readonly mismatches: number };
  readonly tides: { readonly rows: number; readonly csv: string; readonly path: string | undefined };
  readonly ledgerOk: boolean | undefined;
  /** Every purse = its float, payable = cleared, the bus's records once, the audit clean, the ledger verified. */
  readonly ok: boolean;
}

/** The service day of the simulation (terminal-local, UTC+8). */
export const SERVICE_DATE = '2026-03-02';

/** The machines' clock: set to a time of the simulated day. */
class DayClock implements Clock {
  #t = 0;
  set(hhmm: string): void {
    const [h, m] = hhmm.split(':').map(Number) as [number, number];
    this.#t = Date.parse(`${SERVICE_DATE}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+08:00`);
  }
  now(): Date {
    return new Date(this.#t);
  }
}

/** A card in a reader's field: powered afresh for each tap. */
function tapOf(card: Card): CardChannel {
  if (card.isPowered('contactless')) card.powerOff('contactless');
  card.powerOn('contactless');
  return card.channel('contactless');
}

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Runs the transit system's day against the platform at `url` and reports the money to the fen.
 * @throws when a machine or the platform refuses something the day needs (the message says what).
 */
export async function runTransit(options: TransitOptions): Promise<TransitReport> {
  const profile = transitProfile();
  const rules = options.rules ?? DEFAULT_FARES;
  const secret = options.secret ?? toHex(profile.platform.clients.find((c) => c.id === 'metro-1')!.secret);
  const client = new PlatformClient({ url: options.url, clientId: 'metro-1', secret });
  const work = mkdtempSync(join(tmpdir(), 'simtap-transit-'));
  const clock = new DayClock();
  clock.set('05:00');
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(work, { recursive: true, force: true })];
  try {
    // ------------------------------------------------------------ the back office and its machines
    const stations = [1, 4, 9];
    const devices: Device[] = [];
    for (const s of stations)
      for (const what of ['metro-entry', 'metro-exit'] as const)
        devices.push({
          id: `gate-L2-S${s}-${what === 'metro-entry' ? 'in' : 'out'}`,
          secret: randomBytes(32).toString('hex'),
          kind: 'gate',
          terminalId: terminalId(what === 'metro-entry' ? 'metroEntry' : 'metroExit', 2, s, 1),
          what,
          station: { line: 2, station: s },
        });
    const busDevice: Device = {
      id: 'bus-15-01',
      secret: randomBytes(32).toString('hex'),
      kind: 'validator',
      terminalId: terminalId('bus', 15, 0, 1),
      what: 'bus',
      station: { line: 15, station: 0 },
    };
    devices.push(busDevice);
    const { office, url: hubUrl } = await BackOffice.open({
      client,
      devices,
      rules,
      clearEveryRecords: options.clearEveryRecords ?? 4,
      clearEveryMs: options.clearEveryMs ?? 250,
      runId: `transit-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
    });
    cleanups.push(() => office.close());
    let duplicatesSkipped = 0;
    office.hub.on('records', (e) => {
      if (e.machineId === busDevice.id) duplicatesSkipped += e.duplicates;
    });
    const radio = new RadioLink(hubUrl);
    const radioUrl = await radio.listen(MACHINE_PATH);
    cleanups.push(() => radio.close());
    const { publicKey } = await client.cards.blacklistKey();
    const setup = (d: Device, url: string) => ({
      id: d.id,
      secret: d.secret,
      terminalId: d.terminalId,
      hubUrl: url,
      blacklistPublicKey: publicKey,
      bufferDir: join(work, d.id),
      clock,
    });
    const gates = new Map<string, MetroGate>();
    for (const d of devices.filter((x) => x.what !== 'bus'))
      gates.set(d.id, new MetroGate(setup(d, hubUrl), d.station, d.what === 'metro-entry' ? 'entry' : 'exit'));
    const bus = new BusValidator(setup(busDevice, radioUrl), 15);
    const machines = [...gates.values(), bus];
    for (const m of machines) {
      await m.start();
      cleanups.push(() => m.stop());
    }
    await until('every machine to run config 1', () => machines.every((m) => m.agent.config?.version === 1));
    const kiosk = new Kiosk(client, terminalId('kiosk', 2, 1, 1), clock);
    const payableBefore = (await client.merchants.balance()).payable;

    // ------------------------------------------------------------ riders
    const cards = transitCards();
    const names = ['Ana', 'Bo', 'Chen'];
    const riders = cards.map((c, i) => ({
      name: names[i]!,
      profile: c,
      serial: toHex(c.applicationSerial),
      sim: createSim({ profile, card: c.label, personalized: true }),
      loaded: 0,
    }));
    for (const r of riders) options.onSim?.(r.sim, r.name);
    const [ana, bo, chen] = riders as [(typeof riders)[0], (typeof riders)[0], (typeof riders)[0]];
    const rides: RideLine[] = [];
    const made: Ride[] = [];
    const note = (r: Ride): string => {
      const q = r.quote;
      if (q === undefined) return 'entry record written';
      const parts = [`full ¥${yuanAmount(q.full)}`];
      if (q.transfer) parts.push(`transfer −¥${yuanAmount(Math.min(rules.transferDiscount, q.full))}`);
      if (q.capped) parts.push(`daily cap ¥${yuanAmount(rules.dailyCap)}`);
      return parts.join(', ');
    };
    const at = async (time: string, rider: typeof ana, where: string, act: () => Promise<Ride>) => {
      clock.set(time);
      const r = await act();
      made.push(r);
      rides.push({ time, rider: rider.name, machine: where, fare: r.amount, note: note(r) });
    };
    const gate = (station: number, dir: 'in' | 'out') => gates.get(`gate-L2-S${station}-${dir}`)!;
    const metro = (t: string, rider: typeof ana, station: number, dir: 'in' | 'out') =>
      at(t, rider, `metro S${station} ${dir}`, () => gate(station, dir).tap(tapOf(rider.sim)));
    const board = (t: string, rider: typeof ana, stop: number) =>
      at(t, rider, `bus 15 stop ${stop}`, () => bus.board(tapOf(rider.sim), stop));
    const load = async (time: string, rider: typeof ana, amount: number, funding: 'cash' | 'phoneAccount') => {
      clock.set(time);
      const f =
        funding === 'cash'
          ? { source: 'cash' as const }
          : { source: 'phoneAccount' as const, msisdn: rider.profile.msisdn };
      const rec = await kiosk.load(tapOf(rider.sim), amount, f);
      rider.loaded += rec.amount;
      office.recordLoad(rec, funding);
      rides.push({ time, rider: rider.name, machine: 'kiosk', fare: -rec.amount, note: `load (${funding})` });
    };

    // ------------------------------------------------------------ the day
    await load('07:50', ana, 3000, 'cash');
    clock.set('07:52');
    await client.customers.topUpPhoneAccount({ msisdn: bo.profile.msisdn, amount: 2000 }); // cash at the service point
    await load('07:53', bo, 2000, 'phoneAccount');
    await load('07:55', chen, 1000, 'cash');

    clock.set('08:00');
    radio.down(); // the bus leaves the depot: no coverage for an hour
    await until('the bus to lose its link', () => bus.agent.state !== 'connected');
    await board('08:05', ana, 3);
    await board('08:20', bo, 6);
    clock.set('08:30');
    await bus.restart(); // engine restart, still offline: records and config come back from the disk
    await metro('08:35', ana, 1, 'in');
    await board('08:45', chen, 9);
    await metro('08:52', ana, 9, 'out');
    clock.set('09:00');
    const buffered = bus.agent.pending;
    radio.up();
    await bus.agent.delivered({ timeoutMs: 15_000 });

    await metro('09:40', bo, 4, 'in');
    await metro('09:58', bo, 9, 'out');
    await board('10:10', bo, 12);
    await metro('10:20', chen, 1, 'in');
    await metro('10:31', chen, 4, 'out');
    await metro('17:30', ana, 9, 'in');
    await metro('17:55', ana, 1, 'out');
    await board('18:20', ana, 4);
    await metro('19:00', ana, 1, 'in');
    await metro('19:12', ana, 4, 'out');

    // ------------------------------------------------------------ end of day: deliver, clear, check
    for (const m of machines) await m.agent.delivered({ timeoutMs: 15_000 });
    // The last records go out when T ms have passed (no final flush needed); drain() is the safety net.
    await until('the clearing of the last records', () => office.unsettled === 0, 10 * (options.clearEveryMs ?? 250));
    await office.drain();
    const payableAfter = (await client.merchants.balance()).payable;
    const riderLines: RiderLine[] = [];
    for (const r of riders) {
      const purse = await readPurse(tapOf(r.sim), { counters: 'none', logRecords: 0 });
      r.sim.powerOff('contactless');
      const { balance: float } = await client.wallet.float({ cardSerial: r.serial });
      const spent = made.filter((m) => m.cardSerial === r.serial).reduce((s, m) => s + m.amount, 0);
      riderLines.push({ rider: r.name, serial: r.serial, loaded: r.loaded, spent, purse: purse.balance, float });
    }
    const busStored = office.stored.filter((s) => s.machineId === busDevice.id);
    const cleared = office.stored.filter((s) => s.status === 'cleared');
    const audited = office.audit();
    const rows = tidesRows(audited, office.loads);
    const csv = tidesCsv(rows);
    if (options.tidesPath !== undefined) writeFileSync(options.tidesPath, csv);
    const ledgerOk = options.verifyLedger ? await options.verifyLedger() : undefined;
    const clearedFen = cleared.reduce((s, c) => s + c.record.amount, 0);
    const report: Omit<TransitReport, 'ok'> = {
      serviceDate: SERVICE_DATE,
      rules,
      rides,
      riders: riderLines,
      bus: {
        buffered,
        stored: busStored.length,
        distinct: new Set(busStored.map((s) => s.seq)).size,
        made: made.filter((m) => m.machineId === busDevice.id).length,
        duplicatesSkipped,
      },
      clearing: {
        batches: office.batches,
        cleared: clearedFen,
        records: cleared.length,
        rejected: office.stored.length - cleared.length,
        payableBefore,
        payableAfter,
      },
      audit: { records: audited.length, mismatches: audited.filter((a) => !a.ok).length },
      tides: { rows: rows.length, csv, path: options.tidesPath },
      ledgerOk,
    };
    const ok =
      report.riders.every((r) => r.purse === r.float && r.purse === r.loaded - r.spent) &&
      payableAfter - payableBefore === clearedFen &&
      report.clearing.rejected === 0 &&
      report.bus.stored === report.bus.made &&
      report.bus.distinct === report.bus.made &&
      report.audit.mismatches === 0 &&
      ledgerOk !== false;
    return { ...report, ok };
  } finally {
    for (const c of cleanups.reverse()) await c();
    await client.close();
  }
}

/** The report as a few readable lines. */
export function formatReport(r: TransitReport): string {
  const y = (fen: number) => `¥${yuanAmount(fen)}`;
  const f = r.rules;
  const lines = [
    `transit, service day ${r.serviceDate}: metro ${y(f.metroBase)} up to ${f.metroIncludedStops} stops + ${y(f.metroPerStop)}/stop (max ${y(f.metroMax)}), ` +
      `bus ${y(f.busFlat)}, transfer −${y(f.transferDiscount)} within ${f.transferWindowMinutes} min, daily cap ${y(f.dailyCap)}`,
    '',
    ...r.rides.map(
      (l) =>
        `  ${l.time}  ${l.rider.padEnd(5)} ${l.machine.padEnd(16)} ${(l.fare < 0 ? `+${y(-l.fare)}` : y(l.fare)).padStart(8)}  ${l.note}`,
    ),
    '',
    `bus offline 08:00–09:00: ${r.bus.buffered} records held on its disk (across a restart), ${r.bus.stored} of ${r.bus.made} stored once, ${r.bus.duplicatesSkipped} resent duplicates skipped`,
    `clearing: ${r.clearing.batches.length} batches (${r.clearing.batches.map((b) => `${b.records}/${b.reason}`).join(' ')}), ` +
      `${r.clearing.records} records ${y(r.clearing.cleared)} accepted, ${r.clearing.rejected} rejected; ` +
      `M-METRO-1 payable ${y(r.clearing.payableBefore)} → ${y(r.clearing.payableAfter)}`,
    ...r.riders.map(
      (x) =>
        `  ${x.rider.padEnd(5)} ${x.serial}  loaded ${y(x.loaded)} − rides ${y(x.spent)} = purse ${y(x.purse)}, float ${y(x.float)} ${x.purse === x.float ? '✓' : '✗'}`,
    ),
    `audit: ${r.audit.records} records replayed, ${r.audit.mismatches} fares differ; TIDES fare_transactions: ${r.tides.rows} rows${r.tides.path ? ` → ${r.tides.path}` : ''}`,
    `ledger.verify: ${r.ledgerOk === undefined ? 'not run' : r.ledgerOk ? 'ok' : 'FAILED'}; ${r.ok ? 'all money accounted for to the fen' : 'MISMATCH'}`,
  ];
  return lines.join('\n');
}

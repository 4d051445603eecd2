/**
 * The whole patent in one run (`npm start`): the account operation platform on the embedded default (SQLite in a
 * temporary directory, `simtap.v1` on 127.0.0.1), a fleet of phones whose blank SIMs the platform personalizes and
 * loads over the air (one load torn: the link drops after the SIM credited, and the reconnection settles it), the
 * four application systems' days on the same platform at once (transit, access control, campus, supermarket:
 * every kind of machine, clearing, points, a lost card refused), then the fleet's rush hour at the supermarket's
 * tills for `durationS` seconds (seeded baskets; a fleet card reported lost mid-rush and refused at the till), and a
 * final report: the ledger per sub-platform, money in = money out, every purse = its float, tap-time percentiles
 * by machine, APDUs counted.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { VirtualPhone } from '@simtap/applet-emu/ota';
import type { Card } from '@simtap/applet-emu/runtime';
import { createSim } from '@simtap/applet-emu/sim';
import { issueAccessCards, runAccessControl } from '@simtap/example-access-control';
import { runCampus } from '@simtap/example-campus';
import { BackOffice, type Customer, runSupermarket, TILL_ERRORS, Till } from '@simtap/example-supermarket';
import { issueTransitCards, runTransit } from '@simtap/example-transit';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { type KindTotal, openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer, type PlatformServer } from '@simtap/host/server';
import { TRANSPORT_ERRORS } from '@simtap/sdk/card';
import { InsufficientFundsError, PlatformClient } from '@simtap/sdk/clients';
import { toHex } from '@simtap/sdk/core/bytes';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { type CardProfile, fleetCard, referenceProfile, type SimtapProfile } from '@simtap/sdk/core/profile';
import { readPurse } from '@simtap/sdk/machines';
import { TapMeter, type TapTimeLine } from './meter';
import type { Progress } from './progress';

/** Options of {@link runPatent}. */
export interface PatentOptions {
  /** Phones in the fleet (2..500; default 40). */
  readonly fleet?: number;
  /** Seconds of the fleet's rush hour at the tills (default 5). */
  readonly durationS?: number;
  /** Seed of the rush hour's choices (default 1). */
  readonly seed?: number;
  /** Where it reports what happens. */
  readonly progress: Progress;
}

/** One application system's day, as its own report judged it. */
export interface SystemLine {
  readonly system: string;
  readonly ok: boolean;
  readonly summary: string;
}

/** What {@link runPatent} returns. */
export interface PatentReport {
  readonly fleet: number;
  readonly seed: number;
  readonly air: {
    readonly personalized: number;
    readonly loaded: number;
    /** Fen loaded over the air. */
    readonly amount: number;
    /** The torn load: its status when the link dropped, and how it ended. */
    readonly torn: { readonly first: string; readonly settled: boolean };
  };
  readonly systems: readonly SystemLine[];
  readonly rush: {
    readonly seconds: number;
    readonly sales: number;
    readonly purse: number;
    readonly online: number;
    readonly refused: number;
    /** The torn purchase: the card left the field after DEBIT; recovered at the next tap, charged once. */
    readonly torn: { readonly chargedOnce: boolean; readonly recovered: boolean };
    /** Cash paid in at the service desk when a phone account could not pay, fen. */
    readonly deskTopUps: number;
    /** Sales of the lost card refused after the blacklist reached the tills. */
    readonly lostRefused: number;
    readonly cleared: number;
    readonly points: number;
    readonly payableDelta: number;
  };
  /**
   * The lost card replaced by the operator: the new card issued at once, the lost card's float held for its late
   * offline records until `heldUntil`; `purse` is what its SIM holds (read from the card).
   */
  readonly replaced: {
    readonly lost: string;
    readonly by: string;
    readonly moved: number;
    readonly held: number;
    readonly heldUntil: string | null;
    readonly purse: number;
  };
  readonly ledger: readonly KindTotal[];
  readonly verify: { readonly ok: boolean; readonly entries: number; readonly journalHead: string };
  /** Fleet purses read from the SIMs = their floats. */
  readonly pursesMatchFloats: boolean;
  readonly moneyIn: number;
  readonly moneyOut: number;
  readonly tapTimes: readonly TapTimeLine[];
  readonly apdus: { readonly contactless: number; readonly air: number };
  /** WebSocket messages the platform received and sent, by endpoint. */
  readonly messages: PlatformServer['traffic'];
  readonly seconds: number;
  readonly ok: boolean;
}

const FLEET_BASE = 7000;
const CASH_IN = 10_000;
const AIR_LOAD = 5_000;
const yuan = (fen: number) => `¥${(fen / 100).toFixed(2)}`;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** A small seeded generator (mulberry32): the rush hour's choices are the same for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function clientOf(profile: SimtapProfile, id: string) {
  const c = profile.platform.clients.find((x) => x.id === id);
  if (!c) throw new Error(`the profile has no client ${id}`);
  return c;
}

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Runs the whole patent and reports it.
 * @throws {Error} when a part cannot run at all (the message says which); money mismatches are in the report.
 */
export async function runPatent(options: PatentOptions): Promise<PatentReport> {
  const fleetSize = options.fleet ?? 40;
  const durationS = options.durationS ?? 5;
  const seed = options.seed ?? 1;
  if (!Number.isInteger(fleetSize) || fleetSize < 4 || fleetSize > 500)
    throw new RangeError(`fleet must be an integer in 4..500, got ${fleetSize}`);
  if (!(durationS >= 0 && durationS <= 600)) throw new RangeError(`duration must be 0..600 s, got ${durationS}`);
  const progress = options.progress;
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'simtap-patent-'));
  const profile = referenceProfile();
  const meter = new TapMeter();
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(work, { recursive: true, force: true })];
  try {
    // ------------------------------------------------------------ the platform
    const platform: Platform = await openPlatform({
      ledger: openSqliteLedger({ path: join(work, 'simtap.db') }),
      keys: SoftwareIssuerKeyStore.fromProfile(profile), // test keys: never real money
      config: platformConfigFromProfile(profile),
    });
    cleanups.push(() => platform.close());
    const server: PlatformServer = createPlatformServer({
      platform,
      clients: profile.platform.clients,
      port: 0,
      logger: quiet,
    });
    const { url } = await server.listen();
    cleanups.push(() => server.close());
    const mart = clientOf(profile, 'mart-1');
    const app = new PlatformClient({ url, clientId: mart.id, secret: mart.secret, heartbeatMs: 0 });
    cleanups.push(() => app.close());
    progress.phase(`platform: SQLite ledger in ${work}, simtap.v1 on ${url}`);

    // ------------------------------------------------------------ the fleet, over the air
    progress.phase(`fleet: ${fleetSize} phones with blank SIMs; the platform personalizes and loads them over the air`);
    const fleet: { card: CardProfile; sim: Card; phone: VirtualPhone; serial: string }[] = [];
    let tornDropped = false;
    for (let i = 0; i < fleetSize; i++) {
      const card = fleetCard(FLEET_BASE + i, profile);
      await platform.customers.register({ msisdn: card.msisdn, openingBalance: 0 });
      await platform.contactless.issue({
        cardSerial: toHex(card.applicationSerial),
        iccid: card.iccid,
        msisdn: card.msisdn,
        kdd: toHex(card.isd.kdd),
      });
      const sim = createSim({
        profile: { ...profile, cards: [...profile.cards, card] },
        card: card.label,
        epurse: true,
      });
      meter.watch(sim, 'fleet');
      const phone = new VirtualPhone({
        card: sim,
        url,
        msisdn: card.msisdn,
        iccid: card.iccid,
        reconnect: { minMs: 20, maxMs: 200 },
        heartbeatMs: 0,
        // the first phone's link drops once, right after its SIM processed CREDIT FOR LOAD
        ...(i === 0
          ? {
              faults: (apdu: Uint8Array) => {
                if (!tornDropped && apdu[0] === 0x80 && apdu[1] === 0x52) {
                  tornDropped = true;
                  return 'drop-after' as const;
                }
                return 'deliver' as const;
              },
            }
          : {}),
      });
      cleanups.push(() => phone.close());
      fleet.push({ card, sim, phone, serial: toHex(card.applicationSerial) });
    }
    let personalized = 0;
    await Promise.all(
      fleet.map(async ({ phone }) => {
        const ready = phone.waitForNotice('ready', 60_000);
        await phone.connect();
        await ready;
        progress.update({ personalized: ++personalized });
      }),
    );
    // cash at the service desk into each phone account, then the air top-up
    for (const f of fleet)
      await app.customers.topUpPhoneAccount({
        idempotencyKey: `desk-${f.serial}`,
        msisdn: f.card.msisdn,
        amount: CASH_IN,
      });
    let loaded = 0;
    const airTopUp = async (f: (typeof fleet)[number]) => {
      const r = await app.wallet.airTopUp({
        idempotencyKey: `air-${f.serial}`,
        msisdn: f.card.msisdn,
        amount: AIR_LOAD,
      });
      if (r.status === 'posted') progress.update({ loaded: ++loaded });
      return r.status;
    };
    const statuses = await Promise.all(fleet.map(airTopUp));
    const tornFirst = statuses[0]!;
    // the torn load (phone 0): settled from the card's proof when the phone is back
    let tornSettled = tornFirst === 'posted';
    const deadline = Date.now() + 20_000;
    while (!tornSettled && Date.now() < deadline) {
      tornSettled = (await app.wallet.float({ cardSerial: fleet[0]!.serial })).balance === AIR_LOAD;
      if (!tornSettled) await new Promise((r) => setTimeout(r, 20));
    }
    if (tornSettled && tornFirst !== 'posted') progress.update({ loaded: ++loaded });
    if (statuses.slice(1).some((st) => st !== 'posted')) throw new Error(`air top-ups: ${statuses.join(', ')}`);
    progress.phase(
      `fleet: ${personalized} SIMs personalized over the air, ${loaded} loaded ${yuan(AIR_LOAD)} each from their phone ` +
        `accounts; one link dropped after CREDIT FOR LOAD (answered ${tornFirst}), ${tornSettled ? "posted once from the card's proof at the reconnection" : 'NOT settled'}`,
    );
    for (const f of fleet) await f.phone.close();

    // ------------------------------------------------------------ the four application systems, at once
    progress.phase('the four application systems run their day on the platform at once');
    await issueTransitCards(platform);
    await issueAccessCards(platform);
    const operator = clientOf(profile, 'operator-1');
    const shoppers: Customer[] = fleet.slice(1, 4).map((f) => ({
      label: f.card.label,
      msisdn: f.card.msisdn,
      serial: f.serial.toUpperCase(),
      sim: f.sim,
    }));
    const watch = (system: string) => (sim: Card) => meter.watch(sim, system);
    for (const c of shoppers) meter.watch(c.sim, 'supermarket');
    const verifyLedger = async () => (await platform.verify()).ok;
    const ticker = setInterval(() => progress.update({ taps: meter.count }), 100);
    let systems: SystemLine[];
    try {
      const [transit, access, campus, supermarket] = await Promise.all([
        runTransit({ url, verifyLedger, onSim: watch('transit') }),
        runAccessControl({
          url,
          console: { id: operator.id, secret: operator.secret },
          onSim: watch('access-control'),
        }),
        runCampus({ url, verifyLedger: () => platform.verify(), onSim: watch('campus') }),
        runSupermarket({ url, customers: shoppers, workDir: join(work, 'supermarket-day') }),
      ]);
      const campusOk =
        campus.checks.pursesMatchFloats && campus.checks.payableMatchesCleared && campus.checks.ledgerOk !== false;
      systems = [
        {
          system: 'transit',
          ok: transit.ok,
          summary: `${transit.rides.length} taps (metro gates, a bus offline for an hour, a recharge kiosk), ${transit.clearing.records} records cleared ${yuan(transit.clearing.cleared)} in ${transit.clearing.batches.length} batches, TIDES ${transit.tides.rows} rows`,
        },
        {
          system: 'access-control',
          ok: access.ok,
          summary: `${access.taps.length} door taps, ${access.lost.holder}'s card reported lost and refused at ${access.lost.refusedAt.length} doors after one blacklist poll`,
        },
        {
          system: 'campus',
          ok: campusOk,
          summary: `${campus.sales.length} canteen sales, ${campus.loads.length} kiosk loads, ${campus.doors.length} library/dorm door taps, ${campus.clearing.records} records cleared ${yuan(campus.clearing.cleared)}`,
        },
        {
          system: 'supermarket',
          ok: supermarket.checks.every((c) => c.ok),
          summary: `${supermarket.sales.length} sales on fleet SIMs (${supermarket.charges.count} charged online ${yuan(supermarket.charges.amount)}), ${supermarket.batches.reduce((n, b) => n + b.points, 0) + supermarket.charges.points} points awarded${supermarket.checks
            .filter((c) => !c.ok)
            .map((c) => `; FAILED: ${c.name}`)
            .join('')}`,
        },
      ];
    } finally {
      clearInterval(ticker);
    }
    meter.flush();
    for (const l of systems) progress.phase(`  ${l.ok ? '✓' : '✗'} ${l.system.padEnd(15)} ${l.summary}`);

    // ------------------------------------------------------------ the fleet's rush hour at the supermarket
    progress.phase(`rush hour: the fleet checks out at the supermarket's tills for ${durationS} s (seed ${seed})`);
    const rush = await rushHour({ url, app, fleet: fleet.slice(4), work, durationS, seed, progress, meter, platform });
    meter.flush();

    // ------------------------------------------------------------ the books
    progress.phase('the books: every fleet purse read from its SIM, the ledger by sub-platform, ledger.verify');
    let pursesMatchFloats = true;
    const purses = new Map<string, number>();
    for (const f of fleet) {
      if (f.sim.isPowered('contactless')) f.sim.powerOff('contactless');
      f.sim.powerOn('contactless');
      const purse = await readPurse(f.sim.channel('contactless'), { counters: 'none', logRecords: 0 });
      f.sim.powerOff('contactless');
      purses.set(f.serial, purse.balance);
      const { balance } = await app.wallet.float({ cardSerial: f.serial });
      if (purse.balance !== balance) pursesMatchFloats = false;
    }
    // The operator replaces the card reported lost in the rush: the new card is issued at once; the lost card's
    // float stays with it for the offline records its machines may still upload (the platform's hold).
    const lost = fleet.at(-1)!;
    const next = fleetCard(FLEET_BASE + fleetSize, profile);
    const operatorClient = new PlatformClient({
      url,
      clientId: operator.id,
      secret: operator.secret,
      endpoint: 'console',
      heartbeatMs: 0,
    });
    cleanups.push(() => operatorClient.close());
    const r = await operatorClient.call('cards.replace', {
      lostCardSerial: lost.serial,
      replacement: { cardSerial: toHex(next.applicationSerial), iccid: next.iccid, kdd: toHex(next.isd.kdd) },
    });
    const replaced = {
      lost: lost.card.label,
      by: next.label,
      moved: r.moved,
      held: r.held,
      heldUntil: r.heldUntil,
      purse: purses.get(lost.serial) ?? Number.NaN,
    };
    const ledger = await platform.ledger.summary();
    const v = await platform.verify();
    const sumOf = (...kinds: string[]) =>
      ledger.filter((k) => kinds.includes(k.kind)).reduce((s, k) => s + k.balance, 0);
    // money came in as cash and opening balances (CASH, SETTLEMENT are negative as it comes in) and is held as
    // phone accounts, purses' floats, pending loads, merchants' payables and suspense
    const moneyIn = -sumOf('CASH', 'SETTLEMENT');
    const moneyOut = sumOf('PHONE', 'CARD_FLOAT', 'PENDING_LOAD', 'MERCHANT_PAYABLE', 'SUSPENSE');
    meter.stop();
    const report: Omit<PatentReport, 'ok'> = {
      fleet: fleetSize,
      seed,
      air: { personalized, loaded, amount: loaded * AIR_LOAD, torn: { first: tornFirst, settled: tornSettled } },
      systems,
      rush,
      replaced,
      ledger,
      verify: { ok: v.ok, entries: v.entries, journalHead: v.journalHead },
      pursesMatchFloats,
      moneyIn,
      moneyOut,
      tapTimes: meter.lines(),
      apdus: { contactless: meter.apdus, air: meter.airApdus },
      messages: structuredClone(server.traffic),
      seconds: (performance.now() - started) / 1000,
    };
    const ok =
      personalized === fleetSize &&
      loaded === fleetSize &&
      tornSettled &&
      systems.every((l) => l.ok) &&
      rush.payableDelta === rush.cleared + rush.online &&
      rush.lostRefused > 0 &&
      rush.torn.recovered &&
      rush.torn.chargedOnce &&
      replaced.moved === 0 &&
      replaced.held === replaced.purse &&
      pursesMatchFloats &&
      moneyIn === moneyOut &&
      v.ok;
    return { ...report, ok };
  } finally {
    meter.stop();
    for (const c of cleanups.reverse()) await c();
  }
}

interface RushContext {
  readonly url: string;
  readonly app: PlatformClient;
  readonly fleet: readonly { card: CardProfile; sim: Card; serial: string }[];
  readonly work: string;
  readonly durationS: number;
  readonly seed: number;
  readonly progress: Progress;
  readonly meter: TapMeter;
  readonly platform: Platform;
}

const RUSH_TILLS = 4;
const TORN_BASKET = 100;

/**
 * A purchase torn after the card committed DEBIT (its answer lost), then the same sale again at the same till: the
 * till's machine resolves the pending purchase from the card's proof and records it once. The card's persistent
 * writes of one purse sale are counted on a first sale, so that the tear strikes at the last of them.
 */
async function tornPurchase(
  till: Till,
  f: { sim: Card; serial: string },
): Promise<{ chargedOnce: boolean; recovered: boolean }> {
  const w0 = f.sim.persistentWrites;
  const first = await till.checkout(f.sim, TORN_BASKET);
  const writes = f.sim.persistentWrites - w0;
  if (first.method !== 'purse') throw new Error('the torn purchase needs a purse that can pay');
  const before = first.purseAfter;
  f.sim.tearAt(writes, 'after');
  const tear = await till.checkout(f.sim, TORN_BASKET).then(
    () => undefined,
    (e: unknown) => e,
  );
  f.sim.clearTear();
  if (!hasErrorCode(tear, TRANSPORT_ERRORS, 'CARD_REMOVED'))
    throw new Error(`the torn purchase did not tear: ${tear instanceof Error ? tear.message : String(tear)}`);
  const again = await till.checkout(f.sim, TORN_BASKET);
  // What the card holds now, read on its own (a fresh power-up, not the till's word).
  if (f.sim.isPowered('contactless')) f.sim.powerOff('contactless');
  f.sim.powerOn('contactless');
  const purse = await readPurse(f.sim.channel('contactless'), { counters: 'none', logRecords: 0 });
  f.sim.powerOff('contactless');
  return {
    // the next tap settled the torn sale (the DEBIT had landed) and returned that very sale's record, no new debit
    recovered: again.record !== undefined && again.purseBefore === before && again.purseAfter === before - TORN_BASKET,
    chargedOnce: purse.balance === before - TORN_BASKET,
  };
}
const DESK_TOP_UP = 10_000;

/**
 * The fleet at the supermarket's tills: one worker per till takes a free card at random and checks out a seeded
 * basket (the purse pays when it can, else the phone account online); halfway the last card is reported lost, the
 * back office pushes the new blacklist, and that card is refused at a till. Then every record is delivered and
 * cleared.
 */
async function rushHour(o: RushContext): Promise<PatentReport['rush']> {
  const random = seededRandom(o.seed);
  const specs = Array.from({ length: RUSH_TILLS }, (_, i) => ({
    id: `rush-till-${i + 1}`,
    secret: randomBytes(32).toString('hex').toUpperCase(),
  }));
  // A rush of hundreds of sales a second per till, each online charge two requests over its link: above the hub's
  // default 100 messages a second per machine, which is for a real till's pace.
  const office = await BackOffice.open({
    platform: o.app,
    tills: specs,
    clearEvery: 16,
    clearIntervalMs: 250,
    limits: { ratePerSecond: 100_000, rateBurst: 100_000 },
  });
  const tills = specs.map(
    (s, i) =>
      new Till({
        id: s.id,
        secret: s.secret,
        hubUrl: office.url,
        blacklistPublicKey: office.blacklistPublicKey,
        bufferDir: join(o.work, 'rush', s.id),
        terminalId: `44010000031${i}`,
      }),
  );
  try {
    for (const t of tills) await t.start();
    await until('the tills to run config 1', () => tills.every((t) => t.agent.config?.version === 1));
    for (const f of o.fleet) o.meter.watch(f.sim, 'supermarket');
    const payableBefore = (await o.app.merchants.balance()).payable;
    const lost = o.fleet.at(-1)!;
    const busy = new Set<string>([lost.serial]); // the lost card is checked out on purpose below, not at random
    let sales = 0;
    let purse = 0;
    let online = 0;
    let refused = 0;
    let lostRefused = 0;
    let deskTopUps = 0;
    const end = performance.now() + o.durationS * 1000;
    // one customer at a till at a time
    const atTill = new Set<Till>();
    const claim = async (till: Till) => {
      while (atTill.has(till)) await new Promise((r) => setTimeout(r, 1));
      atTill.add(till);
    };
    const worker = async (till: Till) => {
      while (performance.now() < end) {
        const free = o.fleet.filter((f) => !busy.has(f.serial));
        if (free.length === 0) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        const f = free[Math.floor(random() * free.length)]!;
        const basket = 100 + Math.floor(random() * 2900);
        busy.add(f.serial);
        await claim(till);
        try {
          const sale = await till.checkout(f.sim, basket);
          sales++;
          if (sale.method === 'purse') purse += basket;
          else online += basket;
        } catch (e) {
          // the purse and the phone account are short: the customer pays ¥100 in cash into the phone account at
          // the service desk and queues again
          if (!(e instanceof InsufficientFundsError)) throw e;
          refused++;
          await o.app.customers.topUpPhoneAccount({
            idempotencyKey: `rush-desk-${f.serial}-${refused}`,
            msisdn: f.card.msisdn,
            amount: DESK_TOP_UP,
          });
          deskTopUps += DESK_TOP_UP;
        } finally {
          busy.delete(f.serial);
          atTill.delete(till);
        }
        o.progress.update({ taps: o.meter.count, sales });
      }
    };
    const reportLost = async () => {
      await new Promise((r) => setTimeout(r, (o.durationS * 1000) / 2));
      const { blacklistVersion } = await o.app.cards.reportLost({ cardSerial: lost.serial });
      office.hub.pushConfig('all', { version: 2, blacklist: await o.app.cards.blacklist() });
      await until('the tills to run config 2', () => tills.every((t) => t.agent.config?.version === 2));
      await claim(tills[0]!);
      try {
        await tills[0]!.checkout(lost.sim, 500);
        sales++;
      } catch (e) {
        if (hasErrorCode(e, TILL_ERRORS, 'CARD_BLACKLISTED')) lostRefused++;
        else throw e;
      } finally {
        atTill.delete(tills[0]!);
      }
      o.progress.phase(
        `  ${lost.card.label} reported lost (blacklist v${blacklistVersion}): pushed to ${tills.length} tills, refused at ${tills[0]!.id}`,
      );
    };
    const torn = await tornPurchase(tills[1]!, o.fleet[0]!);
    o.progress.phase(
      `  ${o.fleet[0]!.card.label} left ${tills[1]!.id}'s field after DEBIT committed (the answer lost); the next tap ` +
        `recovered the sale by GET TRANSACTION PROVE: ${torn.recovered && torn.chargedOnce ? 'charged once, its record cleared with the rest' : 'NOT recovered as charged once'}`,
    );
    sales += 2;
    purse += 2 * TORN_BASKET;
    await Promise.all([...tills.map(worker), reportLost()]);
    for (const t of tills) await t.delivered(15_000);
    await office.flush();
    const cleared = office.batches.reduce((s, b) => s + b.settled, 0);
    const points = office.batches.reduce((s, b) => s + b.points, 0);
    const payableDelta = (await o.app.merchants.balance()).payable - payableBefore;
    return {
      seconds: o.durationS,
      sales,
      purse,
      online,
      refused,
      lostRefused,
      torn,
      deskTopUps,
      cleared,
      points,
      payableDelta,
    };
  } finally {
    for (const t of tills) await t.stop();
    await office.close();
  }
}

const KIND_NAMES: Readonly<Record<string, string>> = {
  PHONE: '(21) phone accounts',
  CARD_FLOAT: '(23) card floats (= purses)',
  PENDING_LOAD: '(23) loads in flight',
  MERCHANT_PAYABLE: '(23) merchant payables',
  SUSPENSE: 'suspense',
  CASH: 'cash taken in',
  SETTLEMENT: 'bank / opening balances',
  POINTS_LIABILITY: '(22) points liability (points)',
  POINTS_FUNDING: '(22) points funding (points)',
};

/** The final report as readable lines. */
export function formatPatentReport(r: PatentReport): string {
  const mark = (ok: boolean) => (ok ? '✓' : '✗');
  const lines = [
    '',
    `The whole patent — ${r.fleet} phones, seed ${r.seed}, ${r.seconds.toFixed(1)} s`,
    '',
    `over the air    ${r.air.personalized} SIMs personalized, ${r.air.loaded} loaded (${yuan(r.air.amount)}); torn load ${r.air.torn.first} → ${r.air.torn.settled ? 'posted once' : 'NOT settled'} ${mark(r.air.torn.settled)}`,
    ...r.systems.map((s) => `${s.system.padEnd(15)} ${mark(s.ok)} ${s.summary}`),
    `rush hour       ${r.rush.sales} sales in ${r.rush.seconds} s (${yuan(r.rush.purse)} from purses, ${yuan(r.rush.online)} charged online), ${r.rush.refused} short (${yuan(r.rush.deskTopUps)} cash paid in at the desk); ` +
      `lost card refused ${r.rush.lostRefused}× ${mark(r.rush.lostRefused > 0)}`,
    `                torn purchase recovered at the next tap, charged once ${mark(r.rush.torn.recovered && r.rush.torn.chargedOnce)}`,
    `                cleared ${yuan(r.rush.cleared)} (+${r.rush.points} points); mart-1 payable +${yuan(r.rush.payableDelta)} = cleared + online ${mark(r.rush.payableDelta === r.rush.cleared + r.rush.online)}`,
    `lost card       ${r.replaced.lost} replaced by ${r.replaced.by}: its float ${yuan(r.replaced.held)} held until ${r.replaced.heldUntil?.slice(0, 10) ?? '–'} for late offline records, = its purse on the SIM ${mark(r.replaced.moved === 0 && r.replaced.held === r.replaced.purse)}`,
    '',
    'ledger by sub-platform                accounts        balance',
    ...r.ledger
      .filter((k) => k.accounts > 0)
      .map(
        (k) =>
          `  ${(KIND_NAMES[k.kind] ?? k.kind).padEnd(34)} ${String(k.accounts).padStart(8)} ${(k.kind.startsWith('POINTS') ? String(k.balance) : yuan(k.balance)).padStart(14)}${k.reserved ? `  (${yuan(k.reserved)} held)` : ''}`,
      ),
    `  money in ${yuan(r.moneyIn)} = money held ${yuan(r.moneyOut)} ${mark(r.moneyIn === r.moneyOut)}; every fleet purse = its float ${mark(r.pursesMatchFloats)}`,
    `  ledger.verify ${r.verify.ok ? 'ok' : 'FAILED'}: ${r.verify.entries} journal entries, head ${r.verify.journalHead.slice(0, 16)}…`,
    '',
    'tap time, ms (model: Java Card SIM behind SWP, 106 kbit/s, each machine its reader; docs/tap-time.md)',
    `  ${'machine'.padEnd(38)} ${'reader'.padEnd(13)} ${'taps'.padStart(5)} ${'APDUs'.padStart(6)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'max'.padStart(7)}   ${'p50'.padStart(7)} = ${'reader'.padStart(6)} + ${'air'.padStart(5)} + ${'SWP'.padStart(5)} + ${'card'.padStart(5)}`,
    ...r.tapTimes.map((t) => {
      const f = (v: number, w: number) => v.toFixed(1).padStart(w);
      const s = t.p50Split;
      return (
        `  ${t.machine.padEnd(38)} ${t.reader.padEnd(13)} ${String(t.taps).padStart(5)} ${String(t.apdus).padStart(6)} ${f(t.p50, 7)} ${f(t.p95, 7)} ${f(t.max, 7)}` +
        `   ${f(t.p50, 7)} = ${f(s.reader, 6)} + ${f(s.air, 5)} + ${f(s.swp, 5)} + ${f(s.card, 5)}`
      );
    }),
    `  APDUs: ${r.apdus.contactless} contactless, ${r.apdus.air} over the air; platform messages (received/sent): ` +
      (Object.entries(r.messages) as [string, { received: number; sent: number }][])
        .map(([e, m]) => `/v1/${e} ${m.received}/${m.sent}`)
        .join(', '),
    '',
    r.ok ? 'every fen accounted for' : 'MISMATCH: see the ✗ lines',
  ];
  return lines.join('\n');
}

/**
 * The campus against a real simtap-host (`createPlatformServer` over an in-memory SQLite ledger) on 127.0.0.1: the
 * back office's hub and its six machines over real WebSockets, emulated SIMs and PSAMs. Money to the fen — every
 * purse read from its card equals its float, the merchant's payable equals the cleared records, `ledger.verify`
 * passes — and the doors opened or refused as the pushed rules and the platform's blacklist say.
 */
import { createSim } from '@simtap/applet-emu/sim';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer } from '@simtap/host/server';
import { toHex } from '@simtap/sdk/core/bytes';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { cardProfile, referenceProfile, type SimtapProfile, withFleet } from '@simtap/sdk/core/profile';
import { fixedClock } from '@simtap/sdk/machines';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CAMPUS_ERRORS,
  CampusDoor,
  CampusMachine,
  CampusReader,
  type CampusReport,
  checkDoorRules,
  formatReport,
  MENU,
  runCampus,
  type Student,
} from '../src/index';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fixed random source: the doors' challenges are the same every run. */
const seeded = (n: number) => new Uint8Array(n).fill(0x5a);

async function startPlatform(
  profile: SimtapProfile = referenceProfile(),
): Promise<{ platform: Platform; url: string }> {
  const platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(profile),
    config: platformConfigFromProfile(referenceProfile()),
  });
  const server = createPlatformServer({ platform, clients: referenceProfile().platform.clients, port: 0 });
  const { url } = await server.listen();
  cleanups.push(() => platform.close());
  cleanups.push(() => server.close());
  return { platform, url };
}

/** Money to the fen: purse = float for every card, payable = the cleared records, the ledger verifies. */
async function expectMoneyToTheFen(r: CampusReport, platform: Platform): Promise<void> {
  for (const s of r.students) expect(s.purse, `${s.name}: purse = float`).toBe(s.float);
  const sold = r.sales.reduce((sum, s) => sum + (s.status === 'sold' ? s.amount : 0), 0);
  expect(r.clearing.clearedTotal).toBe(sold);
  expect(r.clearing.cleared).toBe(r.sales.filter((s) => s.status === 'sold').length);
  expect(r.clearing.rejected).toBe(0);
  expect(r.merchant.payable - r.merchant.payableBefore).toBe(r.clearing.clearedTotal);
  expect(r.clearing.batches.reduce((sum, b) => sum + b.settled, 0)).toBe(r.clearing.clearedTotal);
  expect((await platform.verify()).ok).toBe(true);
  expect(r.checks).toEqual({ pursesMatchFloats: true, payableMatchesCleared: true, ledgerOk: true });
}

describe('campus: a day on card-1..3 against a real simtap-host', () => {
  it('clears every sale to the fen and opens the doors the rules and the blacklist allow', async () => {
    const { platform, url } = await startPlatform();
    const r = await runCampus({ url, random: seeded, verifyLedger: () => platform.verify() });
    await expectMoneyToTheFen(r, platform);

    // loads − sales, to the fen, on each card
    const [li, zhang, chen] = r.students;
    expect(li).toMatchObject({ purse: 5000 - MENU.breakfast! - MENU.lunch!, cardStatus: 'active' });
    expect(zhang).toMatchObject({ purse: 8000 - MENU.breakfast! - MENU.lunch! - MENU.dinner!, phoneAccount: 2000 });
    expect(chen).toMatchObject({ purse: 2000 - MENU.lunch! - MENU.fruit!, cardStatus: 'lost' });
    expect(r.merchant).toEqual({ id: 'M-CAMPUS-1', payableBefore: 0, payable: 5950 });
    for (const s of r.students) expect((await platform.wallets.float({ cardSerial: s.serial })).balance).toBe(s.purse);

    // cleared every 4 records, the rest at the end of the day
    expect(r.clearing.batches.map((b) => [b.records, b.accepted, b.settled, b.trigger])).toEqual([
      [4, 4, 450 + 450 + 1250 + 1250, 'threshold'],
      [3, 3, 1250 + 300 + 1000, 'flush'],
    ]);

    // the refusals: a balance too low, then the lost card everywhere
    expect(r.sales.filter((s) => s.status === 'refused').map((s) => [s.at, s.student, s.reason])).toEqual([
      ['1730', 'Chen Jie', 'insufficientBalance'],
      ['1915', 'Chen Jie', 'blacklisted'],
    ]);
    expect(r.loads.map((l) => [l.at, l.status])).toEqual([
      ['0730', 'loaded'],
      ['0750', 'loaded'],
      ['0830', 'loaded'],
      ['1920', 'refused'],
    ]);

    // the doors: opening hours, residents only, the curfew, the blacklist
    expect(r.doors.map((d) => [d.at, d.student, d.door, d.granted, d.reason])).toEqual([
      ['0735', 'Li Wei', 'library', false, 'outsideHours'],
      ['0900', 'Chen Jie', 'library', true, 'granted'],
      ['1000', 'Li Wei', 'library', true, 'granted'],
      ['1300', 'Chen Jie', 'dorm-west', false, 'notPermitted'],
      ['1830', 'Zhang Min', 'dorm-east', false, 'notPermitted'],
      ['1835', 'Zhang Min', 'dorm-west', true, 'granted'],
      ['1910', 'Chen Jie', 'library', false, 'blacklisted'],
      ['2100', 'Li Wei', 'dorm-east', true, 'granted'],
      ['2345', 'Li Wei', 'dorm-east', false, 'outsideHours'],
    ]);

    // every machine runs the second config (with the lost card's blacklist)
    expect(r.machines.map((m) => [m.id, m.configVersion])).toEqual([
      ['till-1', 2],
      ['till-2', 2],
      ['kiosk-1', 2],
      ['door-library', 2],
      ['door-dorm-east', 2],
      ['door-dorm-west', 2],
    ]);
    expect(r.machines.find((m) => m.id === 'till-1')!.recordsReceived).toBe(4);
    const text = formatReport(r);
    expect(text).toContain('checks: purse = float ok, payable = cleared ok, ledger.verify ok');
    expect(text.split('\n').length).toBeLessThan(45);

    // the same platform again: the emulated cards would start empty while the platform holds their floats
    const again = await runCampus({ url }).catch((e: unknown) => e);
    expect(hasErrorCode(again, CAMPUS_ERRORS, 'CAMPUS_CARD_UNUSABLE')).toBe(true);
  });

  it('runs on fleet cards issued on the platform', async () => {
    const profile = withFleet(3);
    const { platform, url } = await startPlatform(profile);
    for (const n of [0, 1, 2]) {
      const cp = cardProfile(`fleet-${n}`, profile);
      await platform.customers.register({ msisdn: cp.msisdn, openingBalance: 0 });
      await platform.contactless.issue({
        cardSerial: toHex(cp.applicationSerial).toUpperCase(),
        iccid: cp.iccid,
        msisdn: cp.msisdn,
        kdd: toHex(cp.isd.kdd).toUpperCase(),
        status: 'active',
      });
    }
    const students: [Student, Student, Student] = [
      { name: 'Wang Fang', card: 'fleet-0', dorm: 'dorm-west' },
      { name: 'Zhao Lei', card: 'fleet-1', dorm: 'dorm-east' },
      { name: 'Sun Yu', card: 'fleet-2' },
    ];
    const r = await runCampus({ url, profile, students, clearEvery: 2, verifyLedger: () => platform.verify() });
    await expectMoneyToTheFen(r, platform);
    expect(r.students.map((s) => s.card)).toEqual(['fleet-0', 'fleet-1', 'fleet-2']);
    expect(r.clearing.batches.length).toBe(4); // 7 records, every 2: three at the threshold, one at the end
    // Wang Fang lives in dorm-west: at 07:35 the library is shut, at 23:45 dorm-east (not hers) refuses her
    expect(r.doors.at(-1)).toMatchObject({ student: 'Wang Fang', door: 'dorm-east', reason: 'notPermitted' });
  });
});

describe('campus doors', () => {
  const serial = '00004401202600000001';
  const at = (iso: string) => new Date(iso);

  it('checks the rules: residents only, hours past midnight, weekdays', () => {
    const rules = [
      { door: 'library', from: '0800', to: '2200', days: [1, 2, 3, 4, 5] },
      { door: 'dorm-east', cards: [serial], from: '0600', to: '0100' },
    ];
    expect(checkDoorRules(rules, 'library', serial, at('2026-09-07T08:00:00+08:00'))).toBe('granted'); // Monday
    expect(checkDoorRules(rules, 'library', serial, at('2026-09-07T22:00:00+08:00'))).toBe('outsideHours');
    expect(checkDoorRules(rules, 'library', serial, at('2026-09-06T10:00:00+08:00'))).toBe('outsideHours'); // Sunday
    expect(checkDoorRules(rules, 'dorm-east', serial, at('2026-09-07T00:30:00+08:00'))).toBe('granted');
    expect(checkDoorRules(rules, 'dorm-east', serial, at('2026-09-07T03:00:00+08:00'))).toBe('outsideHours');
    expect(checkDoorRules(rules, 'dorm-east', '00004401202600000002', at('2026-09-07T12:00:00+08:00'))).toBe(
      'notPermitted',
    );
    expect(checkDoorRules(rules, 'gym', serial, at('2026-09-07T12:00:00+08:00'))).toBe('notPermitted');
  });

  it('keeps the door shut for a card that does not prove the issuer’s key (a door with the wrong key sees the same)', async () => {
    const card = createSim({ card: 'card-1', personalized: true });
    const machine = new CampusMachine({
      id: 'door-lab',
      kind: 'door',
      secret: '11'.repeat(32),
      hubUrl: 'ws://127.0.0.1:1',
      blacklistPublicKey: '22'.repeat(32),
      bufferDir: '/nonexistent-never-started',
    });
    const wrongKey = Uint8Array.from({ length: 16 }, (_, i) => i);
    const door = new CampusDoor({
      door: 'lab',
      machine,
      reader: new CampusReader('lab door reader'),
      externalAuthMasterKey: wrongKey,
      clock: fixedClock(at('2026-09-07T10:00:00+08:00')),
      random: seeded,
    });
    expect(await door.tap(card)).toEqual({ door: 'lab', serial, granted: false, reason: 'notGenuine' });
    // with the right key the card authenticates; this door has no config from a back office yet
    const right = new CampusDoor({
      door: 'lab',
      machine,
      reader: new CampusReader('lab door reader'),
      externalAuthMasterKey: referenceProfile().issuer.masterKeys.externalAuthMasterKey,
      clock: fixedClock(at('2026-09-07T10:00:00+08:00')),
    });
    expect(await right.tap(card)).toMatchObject({ granted: false, reason: 'noConfig' });
  });
});

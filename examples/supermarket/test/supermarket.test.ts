/**
 * The supermarket against a real simtap-host (in-process server on 127.0.0.1, in-memory ledger, reference profile),
 * over real WebSockets — the back office's platform session, the tills' `/v1/machine` links — with emulated SIMs and
 * PSAMs: the money to the fen (every purse read from its card equals its float, the merchant's payable grew by the
 * cleared records plus the online charges, the phone accounts by the cash paid in less the charges, ledger.verify
 * ok), points 1 per yuan of each payment, the online charge chosen exactly when the basket exceeds the purse, and a
 * charge sent again with its key moving nothing.
 */
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer, type PlatformServer } from '@simtap/host/server';
import { hasPlatformErrorCode, PlatformClient } from '@simtap/sdk/clients';
import { toHex } from '@simtap/sdk/core/bytes';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { cardProfile, referenceProfile, withFleet } from '@simtap/sdk/core/profile';
import { fixedClock, readPurse } from '@simtap/sdk/machines';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Customer,
  createCustomer,
  DEFAULT_SCENARIO,
  formatReport,
  runSupermarket,
  type Scenario,
  SUPERMARKET_ERRORS,
  type SupermarketReport,
} from '../src/index';

const profile = referenceProfile();
const MART_SECRET = toHex(profile.platform.clients.find((c) => c.id === 'mart-1')!.secret);
const clock = fixedClock(new Date('2026-12-03T02:15:00Z'), 1000);

let platform: Platform;
let server: PlatformServer;
let url: string;

beforeAll(async () => {
  platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(profile),
    config: platformConfigFromProfile(profile),
  });
  server = createPlatformServer({ platform, clients: profile.platform.clients, port: 0 });
  ({ url } = await server.listen());
});

afterAll(async () => {
  await server?.close();
  await platform?.close();
});

/** The purse as the card itself says (a fresh tap). */
async function purseOf(c: Customer): Promise<number> {
  if (c.sim.isPowered('contactless')) c.sim.powerOff('contactless');
  c.sim.powerOn('contactless');
  try {
    return (await readPurse(c.sim.channel('contactless'), { logRecords: 0, counters: 'none' })).balance;
  } finally {
    c.sim.powerOff('contactless');
  }
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const points = (fen: number) => Math.floor(fen / 100); // M-MART-1: 1 point per yuan

/** The platform's books of the customers and the merchant, read in process. */
async function books(customers: readonly Customer[]) {
  return {
    payable: (await platform.merchantBalance({ client: 'mart-1' })).payable,
    customers: await Promise.all(
      customers.map(async (c) => ({
        float: (await platform.wallets.float({ cardSerial: c.serial })).balance,
        phone: (await platform.customers.phoneAccount({ msisdn: c.msisdn })).balance,
        points: (await platform.points.balance({ msisdn: c.msisdn })).points,
      })),
    ),
  };
}

/** Runs a day and checks the money to the fen against the platform's own books and the cards. */
async function runAndCheck(customers: readonly Customer[], scenario: Scenario): Promise<SupermarketReport> {
  const before = await books(customers);
  const report = await runSupermarket({ url, secret: MART_SECRET, customers, scenario, clock });
  const after = await books(customers);

  // the online charge exactly when the basket exceeds the purse — the purses simulated from the scenario alone
  const purses = [...scenario.loads];
  expect(report.sales).toHaveLength(scenario.baskets.length);
  for (const [i, b] of scenario.baskets.entries()) {
    const sale = report.sales[i]!;
    const purse = purses[b.customer]!;
    expect(sale).toMatchObject({ till: b.till, cardSerial: customers[b.customer]!.serial, basket: b.amount });
    expect(sale.purseBefore).toBe(purse);
    expect(sale.method).toBe(b.amount > purse ? 'phoneAccount' : 'purse');
    if (sale.method === 'purse') purses[b.customer] = purse - b.amount;
  }
  const onPurse = report.sales.filter((s) => s.method === 'purse');
  const online = report.sales.filter((s) => s.method === 'phoneAccount');

  // every purse, read from its card, equals its float (and the simulation)
  for (const [i, c] of customers.entries()) {
    const purse = await purseOf(c);
    expect(purse).toBe(after.customers[i]!.float);
    expect(before.customers[i]!.float).toBe(0); // a card never loaded: its new SIM's purse is 0 too
    expect(purse).toBe(purses[i]);
  }
  // every record cleared once, and the merchant's payable grew by the cleared records plus the online charges
  const cleared = sum(report.batches.map((b) => b.settled));
  expect(sum(report.batches.map((b) => b.accepted))).toBe(onPurse.length);
  expect(report.batches.every((b) => b.rejected === 0)).toBe(true);
  expect(cleared).toBe(sum(onPurse.map((s) => s.basket)));
  expect(after.payable - before.payable).toBe(cleared + sum(online.map((s) => s.basket)));
  // phone accounts: the cash paid in, less the charges; points: 1 per yuan of each payment
  for (const [i, c] of customers.entries()) {
    const mine = report.sales.filter((s) => s.cardSerial === c.serial);
    expect(after.customers[i]!.phone - before.customers[i]!.phone).toBe(
      scenario.phoneTopUps[i]! - sum(mine.filter((s) => s.method === 'phoneAccount').map((s) => s.basket)),
    );
    expect(after.customers[i]!.points - before.customers[i]!.points).toBe(sum(mine.map((s) => points(s.basket))));
  }
  expect((await platform.verify()).ok).toBe(true);
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  return report;
}

describe('supermarket against a real simtap-host', () => {
  let report: SupermarketReport;
  let customers: Customer[];

  it('runs the day: purse = float, payable = cleared records + online charges, points per yuan, online exactly above the purse', async () => {
    customers = ['card-1', 'card-2', 'card-3'].map((l) => createCustomer(l, profile));
    report = await runAndCheck(customers, DEFAULT_SCENARIO);
    // the default day charges online four times, twice by a single fen, once when the basket equals the purse not
    expect(report.sales.map((s) => s.method === 'phoneAccount')).toEqual([
      false,
      false,
      true,
      false,
      true,
      false,
      true,
      false,
      true,
    ]);
    // the back office cleared at 4 records, then the rest at closing; each till's records stored once
    expect(report.batches.map((b) => b.records)).toEqual([4, 1]);
    expect(report.tills).toEqual([
      { id: 'till-1', configVersion: 1, records: 1 },
      { id: 'till-2', configVersion: 1, records: 4 },
    ]);
    expect(report.merchant).toMatchObject({ payableBefore: 0, payable: 7499 + 7132, cleared: 7499, charged: 7132 });
    const text = formatReport(report);
    expect(text).toContain('checks: 7/7 ok');
    expect(text.split('\n').length).toBeLessThan(30);
  });

  it('a charge sent again with its key moves nothing; the key with another amount is refused', async () => {
    expect(report.retry).toMatchObject({ sameAnswer: true, phoneAccountMoved: 0, payableMoved: 0 });
    const before = await books(customers);
    const statement = await platform.customers.statement({ msisdn: customers[2]!.msisdn });
    const first = report.sales.find((s) => s.charge)!.charge!;
    const client = new PlatformClient({ url, clientId: 'mart-1', secret: MART_SECRET });
    try {
      const again = await client.customers.chargePhoneAccount(first.request);
      expect(again.transferId).toBe(first.transferId);
      expect(again.points).toBe(first.points);
      const changed = await client.customers
        .chargePhoneAccount({ ...first.request, amount: first.request.amount + 1 })
        .catch((e: unknown) => e);
      expect(hasPlatformErrorCode(changed, 'IDEMPOTENCY_CONFLICT')).toBe(true);
    } finally {
      await client.close();
    }
    expect(await books(customers)).toEqual(before);
    expect((await platform.customers.statement({ msisdn: customers[2]!.msisdn })).lines).toHaveLength(
      statement.lines.length,
    );
    expect((await platform.verify()).ok).toBe(true);
  });

  it('refuses to start with a SIM whose purse is not its float (card-3 again, new SIM at 0): nothing moves', async () => {
    const before = await books(customers);
    const fresh = ['card-1', 'card-2', 'card-3'].map((l) => createCustomer(l, profile));
    const e = await runSupermarket({ url, secret: MART_SECRET, customers: fresh, clock }).catch((x: unknown) => x);
    expect(hasErrorCode(e, SUPERMARKET_ERRORS, 'PURSE_NOT_FLOAT')).toBe(true);
    expect(await books(customers)).toEqual(before);
  });

  it('runs again on the same platform with fleet cards it issued: the books move by that day alone', async () => {
    const fleet = withFleet(3, profile);
    const labels = ['fleet-0', 'fleet-1', 'fleet-2'];
    for (const label of labels) {
      const c = cardProfile(label, fleet);
      await platform.customers.register({ msisdn: c.msisdn, openingBalance: 0 });
      await platform.contactless.issue({
        cardSerial: toHex(c.applicationSerial),
        iccid: c.iccid,
        msisdn: c.msisdn,
        kdd: toHex(c.isd.kdd),
        status: 'active',
      });
    }
    const day: Scenario = {
      phoneTopUps: [3_000, 0, 1_000],
      loads: [1_000, 700, 0],
      baskets: [
        { till: 'till-2', customer: 0, amount: 1_001 }, // one fen above: online
        { till: 'till-1', customer: 1, amount: 700 },
        { till: 'till-2', customer: 2, amount: 999 }, // empty purse: online
        { till: 'till-1', customer: 0, amount: 1_000 },
        { till: 'till-2', customer: 0, amount: 250 }, // online
      ],
    };
    const r = await runAndCheck(
      labels.map((l) => createCustomer(l, fleet)),
      day,
    );
    expect(r.sales.map((s) => s.method)).toEqual(['phoneAccount', 'purse', 'phoneAccount', 'purse', 'phoneAccount']);
    expect(r.merchant.payable - r.merchant.payableBefore).toBe(1_001 + 700 + 999 + 1_000 + 250);
  });
});

/**
 * The transit system's day against a real simtap-host (in-process server, real sockets, emulated SIMs): every
 * purse read from its card equals its float, the merchant's payable equals its cleared records, ledger.verify
 * passes; the distance fare, the transfer discount and the daily cap are what the card got charged; the bus's
 * offline hour reaches the back office once; the TIDES export holds every cleared ride and load.
 */
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer, type PlatformServer } from '@simtap/host/server';
import { fromHex } from '@simtap/sdk/core/bytes';
import { CORE_ERRORS, hasErrorCode } from '@simtap/sdk/core/errors';
import type { TransactionLogRecord } from '@simtap/sdk/core/pboc';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardDay, checkFareRules, DEFAULT_FARES, isTransfer, quote, terminalId, terminalKind } from '../src/fares';
import { TIDES_COLUMNS } from '../src/tides';
import { issueTransitCards, runTransit, type TransitReport } from '../src/transit';

let platform: Platform;
let server: PlatformServer;
let report: TransitReport;

beforeAll(async () => {
  const profile = referenceProfile();
  platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(profile),
    config: platformConfigFromProfile(profile),
  });
  await issueTransitCards(platform);
  server = createPlatformServer({ platform, clients: profile.platform.clients, port: 0 });
  const { url } = await server.listen();
  report = await runTransit({ url, verifyLedger: async () => (await platform.verify()).ok });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await platform?.close();
});

const ride = (rider: string, time: string) => report.rides.find((r) => r.rider === rider && r.time === time)!;

describe('the transit day against a real simtap-host', () => {
  it('accounts for the money to the fen: purse (from the card) = float, payable = cleared records, ledger verified', async () => {
    expect(report.ok).toBe(true);
    expect(report.riders.map((r) => [r.rider, r.loaded, r.spent, r.purse, r.float])).toEqual([
      ['Ana', 3000, 800, 2200, 2200],
      ['Bo', 2000, 650, 1350, 1350],
      ['Chen', 1000, 500, 500, 500],
    ]);
    const { payable } = await platform.merchantBalance({ client: 'metro-1' });
    expect(payable).toBe(report.clearing.cleared);
    expect(payable - report.clearing.payableBefore).toBe(1950);
    expect(report.clearing.batches.reduce((s, b) => s + b.settled, 0)).toBe(payable);
    expect(report.clearing.rejected).toBe(0);
    expect(report.ledgerOk).toBe(true);
    expect((await platform.verify()).ok).toBe(true);
  });

  it('clears every N records or T ms, each record once', () => {
    const { batches } = report.clearing;
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.some((b) => b.reason === 'records')).toBe(true);
    expect(batches.filter((b) => b.reason === 'records').every((b) => b.records >= 4)).toBe(true);
    expect(batches.some((b) => b.reason === 'final')).toBe(false); // N records or T ms cleared everything
    expect(batches.every((b) => b.rejected.length === 0 && b.accepted === b.records)).toBe(true);
    expect(batches.reduce((s, b) => s + b.records, 0)).toBe(report.clearing.records);
    expect(report.clearing.records).toBe(15);
  });

  it('charges the distance fare, the transfer discount within the window, and nothing past the daily cap', () => {
    expect(ride('Bo', '09:58').fare).toBe(350); // 5 stops: ¥3 + ¥0.50, the bus 98 min earlier: no transfer
    expect(ride('Chen', '10:31').fare).toBe(300); // 3 stops: the base fare
    expect(ride('Ana', '08:52').fare).toBe(400); // 8 stops ¥5, entered 30 min after the bus: −¥1
    expect(ride('Bo', '10:10').fare).toBe(100); // bus 12 min after the metro exit: −¥1
    expect(ride('Ana', '17:55').fare).toBe(200); // ¥5 trip, ¥6 spent: what is left under the ¥8 cap
    expect(ride('Ana', '18:20').fare).toBe(0); // capped
    expect(ride('Ana', '19:12').fare).toBe(0); // capped (the card's 0-fen ride of today says so)
    expect(report.riders.find((r) => r.rider === 'Ana')!.spent).toBe(DEFAULT_FARES.dailyCap);
    expect(report.audit).toEqual({ records: 15, mismatches: 0 });
  });

  it("delivers the bus's offline hour exactly once (held on its disk across a restart)", () => {
    expect(report.bus.buffered).toBe(3);
    expect(report.bus.made).toBe(5);
    expect(report.bus.stored).toBe(5);
    expect(report.bus.distinct).toBe(5);
  });

  it('exports the cleared rides and the loads as TIDES fare_transactions', () => {
    const [header, ...lines] = report.tides.csv.trimEnd().split('\r\n');
    expect(header).toBe(TIDES_COLUMNS.join(','));
    expect(lines).toHaveLength(18); // 15 rides + 3 loads
    const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [TIDES_COLUMNS[i], v])));
    expect(new Set(rows.map((r) => r.transaction_id)).size).toBe(18);
    const rideRows = rows.filter((r) => r.fare_action !== 'Add');
    const fen = (a: string) => Math.round(Number(a) * 100);
    expect(rideRows.reduce((s, r) => s + fen(r.amount!), 0)).toBe(report.clearing.cleared);
    expect(rows.filter((r) => r.fare_action === 'Add').map((r) => r.amount)).toEqual(['30.00', '20.00', '10.00']);
    expect(rows.filter((r) => r.fare_action === 'Transfer entrance')).toHaveLength(4);
    expect(rows.filter((r) => r.fare_capped === 'true').map((r) => r.event_timestamp)).toEqual([
      '2026-03-02T17:55:00+08:00',
      '2026-03-02T18:20:00+08:00',
      '2026-03-02T19:00:00+08:00',
      '2026-03-02T19:12:00+08:00',
    ]);
    expect(rows.every((r) => r.service_date === '2026-03-02' && r.currency_type === 'CNY')).toBe(true);
  });
});

describe('fare rules', () => {
  const log = (tid: string, amount: number, time: string, date = '20260302'): TransactionLogRecord => ({
    counter: 0,
    overdraftLimit: 0,
    amount,
    tti: 9,
    terminalId: fromHex(tid),
    date: fromHex(date),
    time: fromHex(time),
  });
  const exitGate = terminalId('metroExit', 2, 9, 1);
  const busTid = terminalId('bus', 15, 0, 1);

  it('reads the day from the card log: rides of today at exit gates and buses; a 0-fen ride marks the cap', () => {
    expect(terminalKind(exitGate)).toBe('metroExit');
    expect(terminalKind('440100000001')).toBeUndefined(); // a shop's POS
    const day = cardDay(
      [
        log(busTid, 200, '090000'),
        log(terminalId('metroEntry', 2, 1, 1), 0, '083000'),
        log('440100000001', 1250, '082000'), // shopping
        log(exitGate, 300, '230000', '20260301'), // yesterday
      ],
      '20260302',
      DEFAULT_FARES,
    );
    expect(day.total).toBe(200);
    expect(day.capped).toBe(false);
    expect(isTransfer(day, 'metro', 9 * 60 + 30, DEFAULT_FARES)).toBe(true);
    expect(isTransfer(day, 'metro', 10 * 60 + 1, DEFAULT_FARES)).toBe(false);
    expect(isTransfer(day, 'bus', 9 * 60 + 30, DEFAULT_FARES)).toBe(false);
    const marked = cardDay([log(busTid, 0, '200000'), log(exitGate, 0, '190000')], '20260302', DEFAULT_FARES);
    expect(marked.capped).toBe(true);
    expect(quote(500, false, marked, DEFAULT_FARES)).toMatchObject({ fare: 0, capped: true });
  });

  it('refuses rules the card log cannot keep: a discount as large as a fare, a cap out of the log’s reach', () => {
    expect(() => checkFareRules(DEFAULT_FARES)).not.toThrow();
    const refused = (r: Partial<typeof DEFAULT_FARES>) => {
      try {
        checkFareRules({ ...DEFAULT_FARES, ...r });
        return false;
      } catch (e) {
        return hasErrorCode(e, CORE_ERRORS, 'BAD_ARGUMENT');
      }
    };
    expect(refused({ transferDiscount: 200 })).toBe(true);
    expect(refused({ dailyCap: 2000 })).toBe(true);
  });
});

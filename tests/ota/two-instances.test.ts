/**
 * Two `simtap-host` processes on one PostgreSQL database serve one fleet: a phone is connected to instance B, an
 * application system talks to instance A. A top-up requested at A reaches the phone on B (LISTEN/NOTIFY on the
 * shared database, no other server); a lost-card report at A blocks the card on B's phone at once; a top-up for a
 * phone that is off waits, and is loaded when the phone next connects — to A.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualPhone } from '@simtap/applet-emu/ota';
import { createSim } from '@simtap/applet-emu/sim';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openPostgresLedger } from '@simtap/host/ledger';
import { openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { freshSchema, postgresForTests, type TestSchema } from '@simtap/host/testing';
import { PlatformClient } from '@simtap/sdk/clients';
import { toHex } from '@simtap/sdk/core/bytes';
import { fleetCard } from '@simtap/sdk/core/profile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostProcess, startHost } from '../support/host-process';
import { APP, OPENING, profile, readPurse } from './ota-support';

const url = await postgresForTests('two simtap-host instances on one PostgreSQL (tests/ota/two-instances.test.ts)');

describe.skipIf(url === undefined)('two simtap-host instances on one PostgreSQL', () => {
  let schema: TestSchema;
  let platform: Platform;
  let a: HostProcess;
  let b: HostProcess;
  let dir: string;
  const phones: VirtualPhone[] = [];
  const clients: PlatformClient[] = [];

  beforeAll(async () => {
    schema = await freshSchema(url!);
    const u = new URL(url!);
    u.searchParams.set('options', `-c search_path=${schema.name}`);
    const databaseUrl = u.toString();
    // The issuer's office: customers and blank cards, straight into the shared database.
    platform = await openPlatform({
      ledger: await openPostgresLedger({ connectionString: url!, schema: schema.name }),
      keys: SoftwareIssuerKeyStore.fromProfile(profile),
      config: platformConfigFromProfile(profile),
    });
    for (const n of [1, 2]) {
      const card = fleetCard(n);
      await platform.customers.register({ msisdn: card.msisdn, openingBalance: OPENING });
      await platform.contactless.issue({
        cardSerial: toHex(card.applicationSerial),
        iccid: card.iccid,
        msisdn: card.msisdn,
        kdd: toHex(card.isd.kdd),
      });
    }
    dir = mkdtempSync(join(tmpdir(), 'simtap-two-'));
    [a, b] = await Promise.all([
      startHost({ dataDir: join(dir, 'a'), databaseUrl }),
      startHost({ dataDir: join(dir, 'b'), databaseUrl }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(phones.map((p) => p.close()));
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled([a?.stop('SIGTERM'), b?.stop('SIGTERM')]);
    await platform?.close();
    await schema?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const phoneOf = (
    n: number,
    host: HostProcess,
    sim = createSim({
      profile: { ...profile, cards: [...profile.cards, fleetCard(n)] },
      card: `fleet-${n}`,
      epurse: true,
    }),
  ) => {
    const card = fleetCard(n);
    const phone = new VirtualPhone({
      card: sim,
      url: host.url,
      msisdn: card.msisdn,
      iccid: card.iccid,
      heartbeatMs: 0,
      reconnect: false,
    });
    phones.push(phone);
    return { phone, sim, card };
  };
  const clientOf = async (host: HostProcess) => {
    const c = new PlatformClient({ url: host.url, clientId: APP.id, secret: APP.secret, heartbeatMs: 0 });
    clients.push(c);
    await c.connect();
    return c;
  };

  it('a top-up asked at A loads the card whose phone is on B; a lost card reported at A is blocked on B', async () => {
    const { phone, sim, card } = phoneOf(1, b);
    const ready = phone.waitForNotice('ready', 20_000);
    expect((await phone.connect()).status).toBe('issued');
    await ready; // personalized by B
    const client = await clientOf(a);
    const r = await client.call('wallet.airTopUp', { idempotencyKey: 'two-1', msisdn: card.msisdn, amount: 3000 });
    expect(r.status).toBe('posted');
    expect(readPurse(sim).balance).toBe(3000);
    expect((await client.call('wallet.float', { cardSerial: toHex(card.applicationSerial) })).balance).toBe(3000);
    // An online charge asked at A: the card proves itself through its phone on B.
    const charged = await client.call('customers.chargeOverTheAir', {
      idempotencyKey: 'two-c',
      msisdn: card.msisdn,
      amount: 700,
    });
    expect(charged.balance).toBe(OPENING - 3000 - 700);
    const blocked = phone.waitForNotice('blocked', 20_000);
    await client.call('cards.reportLost', { cardSerial: toHex(card.applicationSerial) });
    await blocked;
    expect(readPurse(sim).blocked).toBe(true);
  });

  it('a top-up for a phone that is off waits; the phone connects to A and it is loaded, once', async () => {
    const first = phoneOf(2, b);
    const ready = first.phone.waitForNotice('ready', 20_000);
    await first.phone.connect();
    await ready;
    await first.phone.close();
    const client = await clientOf(b);
    const r = await client.call('wallet.airTopUp', {
      idempotencyKey: 'two-2',
      msisdn: first.card.msisdn,
      amount: 1800,
    });
    expect(r.status).toBe('pending');
    const again = phoneOf(2, a, first.sim);
    const loaded = again.phone.waitForNotice('loaded', 20_000);
    await again.phone.connect();
    expect(await loaded).toMatchObject({ loadId: r.loadId, amount: 1800 });
    expect(readPurse(first.sim).balance).toBe(1800);
    expect((await client.call('wallet.load', { loadId: r.loadId })).status).toBe('posted');
    expect((await client.call('customers.phoneAccount', { msisdn: first.card.msisdn })).balance).toBe(OPENING - 1800);
    const v = await platform.verify();
    expect(v).toMatchObject({ ok: true, sum: 0 });
  });
});

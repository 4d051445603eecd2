/**
 * The access-control system against a real simtap-host (in-process `createPlatformServer` on 127.0.0.1, reference
 * profile, in-memory ledger), real WebSockets (platform and machine link) and emulated SIMs: decisions by group and
 * time window on a fixed clock, a clone and a foreign card refused, a lost card refused at every door after one
 * blacklist poll, the audit log complete, no money moved; and a door offline across two polls catching up with the
 * whole list.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer } from '@simtap/host/server';
import { PlatformClient } from '@simtap/sdk/clients';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { fixedClock } from '@simtap/sdk/machines';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BackOffice,
  createAccessSims,
  DoorController,
  decide,
  HOLDERS,
  type Holder,
  holderCard,
  issueAccessCards,
  localTime,
  runAccessControl,
  SCENARIO,
  serialOf,
  windowOpen,
} from '../src/index';

const profile = referenceProfile();
const secretOf = (id: string) => profile.platform.clients.find((c) => c.id === id)!.secret;
const MASTER = profile.issuer.masterKeys.externalAuthMasterKey;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startPlatform(): Promise<{ platform: Platform; url: string }> {
  const platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(profile),
    config: platformConfigFromProfile(profile),
  });
  await issueAccessCards(platform);
  const server = createPlatformServer({ platform, clients: profile.platform.clients, port: 0, logger: quiet });
  const { url } = await server.listen();
  cleanups.push(() => platform.close());
  cleanups.push(() => server.close());
  return { platform, url };
}

function client(url: string, id: string, endpoint: 'app' | 'console' = 'app'): PlatformClient {
  const c = new PlatformClient({ url, clientId: id, secret: secretOf(id), endpoint });
  cleanups.push(() => c.close());
  return c;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'simtap-access-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const HOLDER_LIST = Object.keys(HOLDERS) as Holder[];

describe('access-control against a real platform', () => {
  it('opens by group and time window, refuses clones, foreign and lost cards, logs every decision, moves no money', async () => {
    const { url } = await startPlatform();
    const op = client(url, 'operator-1', 'console');
    const app = client(url, 'access-1');
    const verifiedBefore = await op.call('ledger.verify');
    const floatsBefore = await Promise.all(
      HOLDER_LIST.map((h) => app.wallet.float({ cardSerial: serialOf(h) }).then((r) => r.balance)),
    );
    const phonesBefore = await Promise.all(
      HOLDER_LIST.map((h) => app.customers.phoneAccount({ msisdn: holderCard(h).msisdn }).then((r) => r.balance)),
    );

    const dir = tempDir();
    const report = await runAccessControl({ url, dir, console: { id: 'operator-1', secret: secretOf('operator-1') } });

    // Every tap decided as the scenario says (group, door, day, window past midnight, clone, foreign, lost).
    const expected = [...SCENARIO.before, ...SCENARIO.afterReport, ...SCENARIO.afterPoll];
    expect(report.taps.map((t) => [t.who, t.door, t.event.reason])).toEqual(
      expected.map((t) => [t.who, t.door, t.expect]),
    );
    for (const t of report.taps) expect(t.event.granted).toBe(t.expect === 'granted');
    const byWho = (who: string) => report.taps.filter((t) => t.who === who);
    expect(byWho('clone').map((t) => [t.event.card, t.event.reason])).toEqual([[serialOf('alice'), 'notAuthentic']]);
    expect(byWho('foreign').map((t) => [t.event.card, t.event.reason])).toEqual([['-', 'unreadable']]);
    expect(byWho('visitor').every((t) => !t.event.granted)).toBe(true);

    // The lost card: granted after the report and before the poll, refused at all three doors after one poll.
    expect(report.lost.holder).toBe('bob');
    expect(report.lost.poll.added).toEqual([serialOf('bob')]);
    expect(report.lost.poll.to).toBe(report.lost.reportedVersion);
    expect([...report.lost.poll.acked].sort()).toEqual(['door-lab', 'door-lobby', 'door-server']);
    expect(report.lost.refusedAt).toEqual(['lobby', 'lab', 'server-room']);
    for (const d of report.doors) expect(d.blacklistVersion).toBe(report.lost.reportedVersion);
    const platformList = await app.cards.blacklist();
    expect(platformList.added).toContain(serialOf('bob'));
    expect((await app.cards.get({ cardSerial: serialOf('bob') })).status).toBe('lost');

    // The audit log: one event per tap, in each door's order, numbered without gaps, equal to the doors' journals on disk.
    expect(report.audit.complete).toBe(true);
    expect(report.audit.gaps).toBe(0);
    expect(report.audit.events).toHaveLength(report.taps.length);
    const tapEvents = report.taps.map((t) => t.event);
    expect([...report.audit.events].sort(bySeq)).toEqual([...tapEvents].sort(bySeq));
    for (const machineId of ['door-lobby', 'door-lab', 'door-server']) {
      const logged = report.audit.events.filter((e) => e.machineId === machineId);
      expect(logged.map((e) => e.auditSeq)).toEqual(logged.map((_, i) => i + 1));
      const journal = readFileSync(join(dir, machineId, 'audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(journal).toEqual(logged);
    }

    // No money moved: every purse (read from its card) equals its float; floats and phone accounts as before; no
    // records cleared; access-1 has no merchant; the ledger verifies.
    expect(report.ok).toBe(true);
    expect(report.money.unmoved).toBe(true);
    expect(report.money.purchaseRecords).toBe(0);
    expect(report.money.merchant).toBe('none');
    expect(report.money.cards.map((c) => c.holder)).toEqual(HOLDER_LIST);
    for (const [i, c] of report.money.cards.entries()) {
      expect(c.purse).toBe(c.float);
      expect(c.float).toBe(floatsBefore[i]);
      expect(c.phone).toBe(phonesBefore[i]);
    }
    const floatsAfter = await Promise.all(
      HOLDER_LIST.map((h) => app.wallet.float({ cardSerial: serialOf(h) }).then((r) => r.balance)),
    );
    const phonesAfter = await Promise.all(
      HOLDER_LIST.map((h) => app.customers.phoneAccount({ msisdn: holderCard(h).msisdn }).then((r) => r.balance)),
    );
    expect(floatsAfter).toEqual(floatsBefore);
    expect(phonesAfter).toEqual(phonesBefore);
    const verified = await op.call('ledger.verify');
    expect(verified.ok).toBe(true);
    expect(verified.sum).toBe(0);
    expect(verified.sum).toBe(verifiedBefore.sum);
    expect(report.money.ledger?.ok).toBe(true);
  });

  it('a door offline across two polls refuses the delta it cannot apply and catches up with the whole list', async () => {
    const { url } = await startPlatform();
    const app = client(url, 'access-1');
    const dir = tempDir();
    const doors = [
      { machineId: 'door-lobby', door: 'lobby', secret: 'A1'.repeat(32) },
      { machineId: 'door-lab', door: 'lab', secret: 'B2'.repeat(32) },
    ];
    const office = await BackOffice.open({
      platform: app,
      doors,
      groups: [{ name: 'all', cards: HOLDER_LIST.map(serialOf), doors: ['lobby', 'lab'], from: '0000', to: '0000' }],
    });
    cleanups.push(() => office.close());
    const clock = fixedClock(new Date('2026-03-04T02:00:00Z')); // Wednesday 10:00 at the doors
    const door = (i: number) => {
      const d = new DoorController({
        ...doors[i]!,
        hubUrl: office.url,
        blacklistPublicKey: office.blacklistPublicKey,
        masterKey: MASTER,
        dir: join(dir, doors[i]!.machineId),
        clock,
      });
      cleanups.push(() => d.stop());
      return d;
    };
    const lobby = door(0);
    let lab = door(1);
    await lobby.start();
    await lab.start();
    await Promise.all([lobby.runs(1), lab.runs(1)]);
    const sims = createAccessSims();
    expect((await lab.tap(sims.holders.alice)).reason).toBe('granted');

    await lab.stop(); // the lab's link goes down
    while (office.hub.machine('door-lab')?.connected) await new Promise((r) => setTimeout(r, 5));
    await app.cards.reportLost({ cardSerial: serialOf('alice') });
    const first = await office.pollBlacklist();
    await app.cards.reportLost({ cardSerial: serialOf('guard') });
    const second = await office.pollBlacklist();
    expect(first.acked).toEqual(['door-lobby']);
    expect(second.acked).toEqual(['door-lobby']);
    expect(second.pending).toEqual(['door-lab']);
    expect((await lobby.tap(sims.holders.guard)).reason).toBe('blacklisted');

    // Back on line with the config it stored: the newest delta starts after its version, so it refuses it
    // (blacklistGap) and the back office sends it the whole list.
    lab = door(1);
    const refused = new Promise((resolve) => office.hub.on('configRefused', resolve));
    await lab.start();
    expect(await refused).toMatchObject({ machineId: 'door-lab', reason: 'blacklistGap' });
    await lab.runs(office.configVersion);
    expect(lab.agent.config?.blacklistVersion).toBe(second.to);
    expect((await lab.tap(sims.holders.alice)).reason).toBe('blacklisted');
    expect((await lab.tap(sims.holders.guard)).reason).toBe('blacklisted');
    expect((await lab.tap(sims.holders.admin)).reason).toBe('granted');
    // The restarted controller read its journal back: its events go on from 2, and the audit log has them all.
    expect(lab.journal.map((e) => e.auditSeq)).toEqual([1, 2, 3, 4]);
    await office.auditCount(5);
    expect(office.audit.filter((e) => e.machineId === 'door-lab')).toEqual(lab.journal);
    expect(office.gaps).toEqual([]);
  });
});

describe('the audit trail over a broken link', () => {
  /** A TCP relay to the back office that the test can take down (new connections refused, open ones reset). */
  async function relay(target: string) {
    const { port } = new URL(target);
    const open = new Set<Socket>();
    let down = false;
    const server = createServer((inbound) => {
      if (down) return inbound.destroy();
      const outbound = connect(Number(port), '127.0.0.1');
      for (const s of [inbound, outbound]) {
        open.add(s);
        s.on('error', () => undefined).on('close', () => open.delete(s));
      }
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    cleanups.push(() => {
      for (const s of open) s.destroy();
    });
    return {
      url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}${new URL(target).pathname}`,
      takeDown() {
        down = true;
        for (const s of open) s.resetAndDestroy();
      },
      bringUp() {
        down = false;
      },
    };
  }

  it('a door cut off from the back office, and restarted while cut off, keeps deciding; every decision reaches the audit log once, in order', async () => {
    const { url } = await startPlatform();
    const app = client(url, 'access-1');
    const dir = tempDir();
    const spec = { machineId: 'door-lab', door: 'lab', secret: 'B2'.repeat(32) };
    const office = await BackOffice.open({
      platform: app,
      doors: [spec],
      groups: [{ name: 'all', cards: HOLDER_LIST.map(serialOf), doors: ['lab'], from: '0000', to: '0000' }],
    });
    cleanups.push(() => office.close());
    const link = await relay(office.url);
    const clock = fixedClock(new Date('2026-03-04T02:00:00Z'));
    const controller = () => {
      const d = new DoorController({
        ...spec,
        hubUrl: link.url,
        blacklistPublicKey: office.blacklistPublicKey,
        masterKey: MASTER,
        dir: join(dir, spec.machineId),
        clock,
      });
      cleanups.push(() => d.stop());
      return d;
    };
    let lab = controller();
    await lab.start();
    await lab.runs(1);
    const sims = createAccessSims();
    await lab.tap(sims.holders.alice);
    await office.auditCount(1);

    link.takeDown();
    for (const h of ['guard', 'admin', 'alice'] as const) await lab.tap(sims.holders[h]);
    await lab.stop(); // powered off while cut off: the decisions wait in its buffer on the disk
    lab = controller();
    await lab.start();
    await lab.tap(sims.holders.guard);
    await new Promise((r) => setTimeout(r, 100));
    expect(office.audit).toHaveLength(1); // nothing got through meanwhile

    link.bringUp();
    await office.auditCount(5);
    await lab.agent.delivered({ timeoutMs: 5000 });
    expect(lab.journal.map((e) => e.auditSeq)).toEqual([1, 2, 3, 4, 5]);
    expect(office.audit).toEqual(lab.journal); // every decision, once, in order: the restart's copy of #4 dropped
    expect(office.gaps).toEqual([]);
    expect(office.records).toEqual([]);
  });
});

describe('the door policy', () => {
  const rule = { door: 'lab', cards: [serialOf('guard')], days: [1], from: '2200', to: '0600' };
  const at = (iso: string) => localTime(new Date(`${iso}+08:00`));

  it('keeps a window past midnight on the day it opened', () => {
    expect(windowOpen(rule, at('2026-03-02T22:00:00'))).toBe(true); // Monday 22:00
    expect(windowOpen(rule, at('2026-03-03T05:59:00'))).toBe(true); // Tuesday 05:59, Monday's window
    expect(windowOpen(rule, at('2026-03-03T06:00:00'))).toBe(false);
    expect(windowOpen(rule, at('2026-03-03T22:00:00'))).toBe(false); // Tuesday is not a day of the rule
    expect(windowOpen({ from: '0800', to: '0800' }, at('2026-03-07T03:00:00'))).toBe(true); // all day, every day
  });

  it('refuses an expired card and a door without config, whatever the rules', () => {
    const check = { kind: 'authentic' as const, serial: serialOf('guard'), expiry: '20260301' };
    const base = { door: 'lab', check, rules: [rule], isBlacklisted: () => false, at: at('2026-03-02T23:00:00') };
    expect(decide(base).reason).toBe('expired');
    expect(decide({ ...base, check: { ...check, expiry: '20361231' } }).reason).toBe('granted');
    expect(decide({ ...base, rules: undefined }).reason).toBe('noConfig');
  });

  it('a reader with the wrong master key never opens: the genuine card does not verify under it', async () => {
    const { checkCard } = await import('../src/reader');
    const sims = createAccessSims();
    const card = sims.holders.admin;
    card.powerOn('contactless');
    const { InProcessChannel } = await import('@simtap/sdk/card');
    const channel = new InProcessChannel({ transmit: (c) => card.transmit('contactless', c) });
    const wrong = await checkCard(channel, fromHex('0F0E0D0C0B0A09080706050403020100'));
    expect(wrong).toEqual({ kind: 'forged', serial: serialOf('admin') });
    const right = await checkCard(channel, MASTER);
    expect(right.kind).toBe('authentic');
    expect(toHex(holderCard('admin').applicationSerial).toUpperCase()).toBe(serialOf('admin'));
  });
});

function bySeq(a: { machineId: string; auditSeq: number }, b: { machineId: string; auditSeq: number }): number {
  return a.machineId === b.machineId ? a.auditSeq - b.auditSeq : a.machineId < b.machineId ? -1 : 1;
}

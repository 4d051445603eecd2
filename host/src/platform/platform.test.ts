/**
 * The platform as a whole: seeding is idempotent across restarts, operations are logged one line each, and no key
 * of the profile — master, per-card, ISD, TAC, blacklist seed — ever appears in what the platform logs, answers,
 * throws or serializes (every flow is run, refusals included, and everything it produced is scanned).
 */
import { hkdfSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { concat, toHex } from '@simtap/sdk/core/bytes';
import { diversifyKdf3 } from '@simtap/sdk/core/gp';
import { diversifyPbocKey } from '@simtap/sdk/core/pboc';
import { CARD_KEY_NAMES, MASTER_KEY_NAMES } from '@simtap/sdk/core/profile';
import { describe, expect, it } from 'vitest';
import { SoftwareIssuerKeyStore } from '../keys';
import { openSqliteLedger } from '../ledger';
import { openPlatform, type PlatformLogger, platformConfigFromProfile } from './index';
import { flipHex, loadParams, loadTacOf, profile, purchaseRecord, SERIAL1 } from './platform.test-support';

const seed = new Uint8Array(
  hkdfSync(
    'sha256',
    concat(profile.issuer.masterKeys.tacMasterKey, profile.issuer.masterKeys.loadMasterKey),
    new Uint8Array(0),
    'simtap blacklist signing v1',
    32,
  ),
);
const SECRETS = [
  ...MASTER_KEY_NAMES.map((n) => toHex(profile.issuer.masterKeys[n])),
  toHex(profile.card.isd.scp03.diversified.masterKey),
  ...profile.cards.flatMap((c) => [
    ...CARD_KEY_NAMES.map((n) => toHex(c.keys[n].key)),
    toHex(c.tacSingleDesKey),
    toHex(diversifyPbocKey(c.keys.DEAK.key, c.diversificationData)),
    ...Object.values(diversifyKdf3(profile.card.isd.scp03.diversified.masterKey, c.isd.kdd)).map((k) => toHex(k)),
  ]),
  toHex(seed),
  ...profile.platform.clients.map((c) => toHex(c.secret)),
];

function expectNoSecrets(text: string): void {
  const upper = text.toUpperCase();
  for (const s of SECRETS) {
    expect(upper.includes(s), 'a key in the output').toBe(false);
    expect(upper.includes(s.slice(0, 16)), 'half a key in the output').toBe(false);
  }
}

describe('platform', () => {
  it('seeds once: a restart on the same database registers nothing twice and keeps the money', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'simtap-platform-'));
    try {
      const open = () =>
        openPlatform({
          ledger: openSqliteLedger({ path: join(dir, 'simtap.db') }),
          keys: SoftwareIssuerKeyStore.fromProfile(profile),
          config: platformConfigFromProfile(profile),
        });
      let p = await open();
      await p.customers.topUpPhoneAccount({ client: 'mart-1', idempotencyKey: 'k', msisdn: '13800138001', amount: 99 });
      const before = await p.verify();
      await p.close();
      p = await open();
      const after = await p.verify();
      expect(after).toEqual(before);
      expect(await p.customers.phoneAccount({ msisdn: '13800138001' })).toMatchObject({ balance: 99 });
      expect((await p.contactless.list()).cards).toHaveLength(profile.cards.length);
      await p.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('logs one line per operation and never a key, in logs, answers, errors or serialized objects', async () => {
    const lines: string[] = [];
    const logger: PlatformLogger = {
      debug: (o, m) => lines.push(JSON.stringify({ level: 'debug', ...o, msg: m })),
      warn: (o, m) => lines.push(JSON.stringify({ level: 'warn', ...o, msg: m })),
    };
    const keys = SoftwareIssuerKeyStore.fromProfile(profile);
    const p = await openPlatform({
      ledger: openSqliteLedger({ path: ':memory:' }),
      keys,
      config: platformConfigFromProfile(profile),
      logger,
    });
    const out: string[] = [];
    const run = async (f: () => Promise<unknown>) => {
      try {
        out.push(JSON.stringify(await f()));
      } catch (e) {
        out.push(String(e), inspect(e), JSON.stringify(e), (e as Error).stack ?? '');
      }
    };
    await run(() =>
      p.customers.topUpPhoneAccount({ client: 'mart-1', idempotencyKey: 't', msisdn: '13800138001', amount: 9000 }),
    );
    const load = { amount: 5000, oldBalance: 0, onlineCounter: 0 };
    const lp = loadParams('card-1', { ...load, key: 'l' });
    await run(() => p.wallets.authorizeLoad({ ...lp, idempotencyKey: 'l-bad', mac1: flipHex(lp.mac1) }));
    let loadId = '';
    await run(async () => {
      const r = await p.wallets.authorizeLoad(lp);
      loadId = r.loadId;
      return r;
    });
    await run(() => p.wallets.confirmLoad({ loadId, tac: flipHex(loadTacOf('card-1', load)) }));
    await run(() => p.wallets.confirmLoad({ loadId, tac: loadTacOf('card-1', load) }));
    const rec = purchaseRecord('card-1', 0, 100);
    await run(() =>
      p.wallets.submitBatch({
        client: 'mart-1',
        idempotencyKey: 'b',
        records: [rec, { ...rec, tac: flipHex(rec.tac) }],
      }),
    );
    await run(async () => {
      const { challenge } = await p.customers.chargeChallenge({ cardSerial: SERIAL1 });
      return p.customers.chargePhoneAccount({
        client: 'mart-1',
        idempotencyKey: 'c',
        cardSerial: SERIAL1,
        amount: 1,
        challenge,
        response: '0011223344556677',
      });
    });
    await run(() => p.contactless.reportLost({ cardSerial: SERIAL1 }));
    await run(() => p.contactless.signedBlacklist({ sinceVersion: 0 }));
    await run(() => p.points.redeem({ client: 'mart-1', idempotencyKey: 'r', msisdn: '13800138001', points: 1 }));
    await run(() => p.verify());
    out.push(JSON.stringify(p), inspect(p, { depth: 5 }), JSON.stringify(keys), inspect(keys));

    expect(lines.length).toBeGreaterThanOrEqual(12);
    expect(lines.some((l) => l.includes('"op":"wallet.authorizeLoad"') && l.includes('BAD_MAC1'))).toBe(true);
    expect(lines.some((l) => l.includes('"op":"wallet.confirmLoad"') && l.includes('"level":"debug"'))).toBe(true);
    for (const text of [...lines, ...out]) expectNoSecrets(text);
    await p.close();
  });
});

/**
 * The tills' online charge over their machine link (`chargesOverLink`, the back office's `onRequest`) against a real
 * simtap-host: a challenge comes back through the hub; what a till may ask is only its own charges — another till's
 * idempotency key, an unknown request or malformed params are refused and nothing moves; offline a till cannot ask.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer, type PlatformServer } from '@simtap/host/server';
import { MACHINE_LINK_ERRORS, PlatformClient } from '@simtap/sdk/clients';
import { toHex } from '@simtap/sdk/core/bytes';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { cardProfile, referenceProfile } from '@simtap/sdk/core/profile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackOffice, CHARGE_REQUESTS, chargesOverLink, Till } from '../src/index';

const profile = referenceProfile();
const MART_SECRET = toHex(profile.platform.clients.find((c) => c.id === 'mart-1')!.secret);
const SERIAL = toHex(cardProfile('card-1').applicationSerial).toUpperCase();

let platform: Platform;
let server: PlatformServer;
let mart: PlatformClient;
let office: BackOffice;
let till: Till;
let dir: string;

beforeAll(async () => {
  platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(profile),
    config: platformConfigFromProfile(profile),
  });
  server = createPlatformServer({ platform, clients: profile.platform.clients, port: 0 });
  const { url } = await server.listen();
  mart = new PlatformClient({ url, clientId: 'mart-1', secret: MART_SECRET });
  const tills = ['till-1', 'till-2'].map((id) => ({ id, secret: randomBytes(32).toString('hex').toUpperCase() }));
  office = await BackOffice.open({ platform: mart, tills });
  dir = mkdtempSync(join(tmpdir(), 'simtap-charges-link-'));
  till = new Till({
    ...tills[0]!,
    hubUrl: office.url,
    blacklistPublicKey: office.blacklistPublicKey,
    bufferDir: join(dir, 'till-1'),
    terminalId: '440100000911',
  });
  await till.start();
  await new Promise<void>((resolve) => till.agent.on('connection', (e) => e.state === 'connected' && resolve()));
});

afterAll(async () => {
  await till?.stop();
  await office?.close();
  await mart?.close();
  await server?.close();
  await platform?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("a till's online charge over its machine link", () => {
  it('a challenge comes back through the back office', async () => {
    const { challenge } = await chargesOverLink(till.agent).chargeChallenge(SERIAL);
    expect(challenge).toMatch(/^[0-9A-F]{16}$/);
  });

  it("refuses another till's key, an unknown request and malformed params: UNAVAILABLE, nothing charged", async () => {
    const phone = async () => (await mart.customers.phoneAccount({ msisdn: cardProfile('card-1').msisdn })).balance;
    const before = await phone();
    const { challenge } = await chargesOverLink(till.agent).chargeChallenge(SERIAL);
    const charge = {
      idempotencyKey: `charge:till-2:${challenge}`, // till-2's key space: till-1 may not charge under it
      cardSerial: SERIAL,
      amount: 100,
      challenge,
      response: '00'.repeat(8),
    };
    for (const [name, params] of [
      [CHARGE_REQUESTS.phoneAccount, charge],
      ['refund.everything', { cardSerial: SERIAL }],
      [CHARGE_REQUESTS.phoneAccount, { ...charge, idempotencyKey: `charge:till-1:${challenge}`, amount: '100' }],
      [CHARGE_REQUESTS.challenge, { serial: SERIAL }],
    ] as const)
      await expect(till.agent.request(name, params), name).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await phone()).toBe(before);
    expect(office.charges).toEqual([]);
  });

  it('a stopped till cannot ask: the request fails at once', async () => {
    const offline = new Till({
      id: 'till-2',
      secret: randomBytes(32).toString('hex'),
      hubUrl: 'ws://127.0.0.1:9/v1/machine',
      blacklistPublicKey: office.blacklistPublicKey,
      bufferDir: join(dir, 'till-2'),
      terminalId: '440100000912',
    });
    await offline.start();
    const err = await chargesOverLink(offline.agent)
      .chargeChallenge(SERIAL)
      .catch((e: unknown) => e);
    expect(hasErrorCode(err, MACHINE_LINK_ERRORS, 'NOT_CONNECTED')).toBe(true);
    await offline.stop();
  });
});

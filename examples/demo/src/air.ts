/**
 * The walkthrough's over-the-air part (the mobile network): the platform runs in process on 127.0.0.1 (SQLite in
 * memory), card-2's SIM is blank in a virtual phone; the platform authenticates the SIM's ISD over SCP03 through the
 * phone, personalizes the e-purse over the air, and loads it from the customer's phone account (`wallet.airTopUp`);
 * the purse is read back from the card.
 * @module
 */
import { VirtualPhone } from '@simtap/applet-emu/ota';
import { createSim } from '@simtap/applet-emu/sim';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, platformConfigFromProfile } from '@simtap/host/platform';
import { createPlatformServer } from '@simtap/host/server';
import { PlatformClient } from '@simtap/sdk/clients';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { cardProfile, referenceProfile } from '@simtap/sdk/core/profile';

/** What the over-the-air part did. */
export interface AirResult {
  /** The notices the phone got, in order. */
  readonly notices: readonly string[];
  /** The load's status (`posted`). */
  readonly status: string;
  /** The purse as read from the card, fen. */
  readonly purse: number;
  /** The platform's float for the card, fen. */
  readonly float: number;
  /** The customer's phone account after the top-up, fen. */
  readonly phoneAccount: number;
}

const CASH = 5000;
const AIR = 2000;
const yuan = (fen: number) => `¥${(fen / 100).toFixed(2)}`;

/**
 * Runs the over-the-air part, printing one line per event to `out`.
 * @throws {Error} naming what failed (the load not posted, purse ≠ float).
 */
export async function runAirDemo(out: (line: string) => void = (l) => console.log(l)): Promise<AirResult> {
  const profile = referenceProfile();
  const card = cardProfile('card-2', profile);
  const platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(profile), // test keys: never real money
    config: platformConfigFromProfile(profile),
  });
  const server = createPlatformServer({ platform, clients: profile.platform.clients, port: 0 });
  const { url } = await server.listen();
  const mart = profile.platform.clients.find((c) => c.id === 'mart-1')!;
  const client = new PlatformClient({ url, clientId: mart.id, secret: mart.secret, heartbeatMs: 0 });
  const sim = createSim({ card: 'card-2', epurse: true });
  const phone = new VirtualPhone({ card: sim, url, msisdn: card.msisdn, iccid: card.iccid, heartbeatMs: 0 });
  const notices: string[] = [];
  phone.on('notice', (n) => {
    notices.push(n.kind);
    out(`  phone: ${n.kind.padEnd(13)} ${n.message}`);
  });
  try {
    out(`platform on ${url}; card-2's SIM blank in a phone (ICCID ${card.iccid}, MSISDN ${card.msisdn})`);
    await client.customers.topUpPhoneAccount({ idempotencyKey: 'demo-cash', msisdn: card.msisdn, amount: CASH });
    out(`  cash ${yuan(CASH)} paid into the phone account at mart-1's service desk`);
    const ready = phone.waitForNotice('ready', 30_000);
    await phone.connect();
    await ready;
    const r = await client.wallet.airTopUp({ idempotencyKey: 'demo-air', msisdn: card.msisdn, amount: AIR });
    if (r.status !== 'posted') throw new Error(`the air top-up is ${r.status}, not posted`);
    out(`  wallet.airTopUp ${yuan(AIR)}: ${r.status}`);
    await phone.close();
    sim.powerOn('contact');
    sim.transmit('contact', fromHex('00A4040008A00000063201010500'));
    const bal = sim.transmit('contact', fromHex('805C000204'));
    sim.powerOff('contact');
    const purse = new DataView(bal.buffer, bal.byteOffset).getInt32(0);
    const float = (await client.wallet.float({ cardSerial: toHex(card.applicationSerial) })).balance;
    const phoneAccount = (await client.customers.phoneAccount({ msisdn: card.msisdn })).balance;
    if (purse !== AIR || float !== purse)
      throw new Error(`purse ${purse} fen, float ${float} fen: expected ${AIR} both`);
    out(`  card-2 read back: purse ${yuan(purse)} = float ${yuan(float)}; phone account ${yuan(phoneAccount)}`);
    return { notices, status: r.status, purse, float, phoneAccount };
  } finally {
    await phone.close();
    await client.close();
    await server.close();
    await platform.close();
  }
}

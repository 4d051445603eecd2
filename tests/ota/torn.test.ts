/**
 * Torn air top-ups, every step enumerated: a top-up waits for a phone that is off; the phone then connects and the
 * link is cut at command k of that contact (every k of a clean contact — the SIM's authentication, the purse's
 * check, the load script), before the SIM sees the command or after it processed it and before the answer arrives.
 * The phone reconnects by itself; at that contact the load ends posted or refunded, exactly once: the customer's
 * phone account plus the purse equal what they were (the money only moved between them), the platform's float
 * equals the purse read from the card, and the ledger verifies.
 */
import type { PhoneFault } from '@simtap/applet-emu/ota';
import { toHex } from '@simtap/sdk/core/bytes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENING, type OtaHarness, readPurse, startOta, until } from './ota-support';

const AMOUNT = 1500;
let h: OtaHarness;
let next = 100;

beforeAll(async () => {
  h = await startOta({ airTopUpWaitMs: 3_000 });
});
afterAll(async () => {
  await h?.stop();
});

/** A personalized card whose phone is off, with an air top-up waiting for it. */
async function cardWithPendingTopUp() {
  const card = await h.issueBlank(next++);
  const first = h.phone(card);
  const ready = first.phone.waitForNotice('ready', 15_000);
  await first.phone.connect();
  await ready;
  await first.phone.close();
  const client = await h.client();
  const r = await client.call('wallet.airTopUp', {
    idempotencyKey: `torn-${card.label}`,
    msisdn: card.msisdn,
    amount: AMOUNT,
  });
  expect(r.status).toBe('pending');
  return { card, sim: first.sim, loadId: r.loadId, client };
}

/** The commands of a clean contact that finds one waiting top-up (measured, not assumed). */
let cleanCommands: string[] = [];

describe('torn air top-ups', () => {
  it('a clean contact with a waiting top-up: the commands, and the load posted', async () => {
    const { card, sim, loadId, client } = await cardWithPendingTopUp();
    const seen: string[] = [];
    const { phone } = h.phone(card, {
      sim,
      faults: (apdu) => {
        seen.push(toHex(apdu.subarray(0, 2)));
        return 'deliver';
      },
    });
    const ready = phone.waitForNotice('ready', 15_000);
    await phone.connect();
    await ready;
    cleanCommands = seen;
    // SELECT ISD, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE; SELECT purse, READ BINARY; SELECT, INITIALIZE FOR LOAD, CREDIT.
    expect(seen).toEqual(['00A4', '8050', '8482', '00A4', '00B0', '00A4', '8050', '8052']);
    expect((await client.call('wallet.load', { loadId })).status).toBe('posted');
    expect(readPurse(sim).balance).toBe(AMOUNT);
  });

  const modes: PhoneFault[] = ['drop-before', 'drop-after'];
  for (let k = 0; k < 8; k++)
    for (const mode of modes)
      it(`link cut at command ${k} of the contact (${mode}): settled once at the next contact`, async () => {
        expect(cleanCommands.length).toBe(8);
        const { card, sim, loadId, client } = await cardWithPendingTopUp();
        const before = { phone: OPENING, purse: readPurse(sim).balance };
        let fired = false;
        const { phone } = h.phone(card, {
          sim,
          faults: (_apdu, index) => {
            if (index !== k || fired) return 'deliver';
            fired = true;
            return mode;
          },
        });
        await phone.connect().catch(() => {}); // a cut during the hello: the phone says hello again by itself
        await until(
          async () => (await client.call('wallet.load', { loadId })).status !== 'pending',
          15_000,
          'the load settled',
        );
        expect(fired).toBe(true);
        const load = await client.call('wallet.load', { loadId });
        const paid = load.status === 'posted' ? AMOUNT : 0;
        const purse = readPurse(sim);
        const account = await client.call('customers.phoneAccount', { msisdn: card.msisdn });
        expect(purse.balance).toBe(before.purse + paid);
        expect(account.balance).toBe(before.phone - paid);
        expect(account.available).toBe(account.balance); // nothing held any more
        expect(account.balance + purse.balance).toBe(before.phone + before.purse);
        expect((await client.call('wallet.float', { cardSerial: toHex(card.applicationSerial) })).balance).toBe(
          purse.balance,
        );
        // Every tear here leaves the card able to take the load: it ends posted (a refund needs a card that refuses).
        expect(load.status).toBe('posted');
        const statement = await client.call('customers.statement', { msisdn: card.msisdn });
        expect(statement.lines.filter((l) => l.amount === -AMOUNT || l.amount === AMOUNT)).toHaveLength(1);
        expect((await h.platform.verify()).ok).toBe(true);
        await phone.close();
      });
});

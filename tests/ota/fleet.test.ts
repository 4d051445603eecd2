/**
 * A fleet over the air: 200 virtual phones, each with a blank SIM issued to its customer, connect to one platform
 * at once; every SIM is personalized over SCP03 through its phone, then every card is topped up over the air from
 * its customer's phone account. Read back from each card, every purse equals the platform's float for it; the
 * money only moved between phone accounts and purses; the ledger verifies.
 */
import { toHex } from '@simtap/sdk/core/bytes';
import { afterAll, expect, it } from 'vitest';
import { OPENING, type OtaHarness, readPurse, startOta } from './ota-support';

const PHONES = 200;
let h: OtaHarness | undefined;
afterAll(async () => {
  await h?.stop();
});

it(`personalizes and tops up ${PHONES} blank SIMs over the air; every purse equals its float`, async () => {
  h = await startOta();
  const harness = h;
  const cards = [];
  for (let n = 0; n < PHONES; n++) cards.push(await harness.issueBlank(1000 + n));
  const phones = cards.map((card) => ({ card, ...harness.phone(card) }));
  await Promise.all(
    phones.map(async ({ phone }) => {
      const ready = phone.waitForNotice('ready', 60_000);
      await phone.connect();
      await ready;
    }),
  );
  for (const { phone } of phones) expect(phone.notices.map((n) => n.kind)).toContain('personalized');
  const client = await harness.client();
  const amounts = cards.map((_, i) => 100 + ((i * 7919) % 4900));
  const results = await Promise.all(
    cards.map((card, i) =>
      client.call('wallet.airTopUp', { idempotencyKey: `fleet-${i}`, msisdn: card.msisdn, amount: amounts[i]! }),
    ),
  );
  expect(results.filter((r) => r.status !== 'posted')).toEqual([]);
  let purses = 0;
  let accounts = 0;
  for (const [i, { card, sim }] of phones.entries()) {
    const purse = readPurse(sim);
    expect(purse.serial).toBe(toHex(card.applicationSerial));
    expect(purse.balance).toBe(amounts[i]);
    const float = await client.call('wallet.float', { cardSerial: toHex(card.applicationSerial) });
    expect(float.balance).toBe(purse.balance);
    purses += purse.balance;
    accounts += (await client.call('customers.phoneAccount', { msisdn: card.msisdn })).balance;
  }
  expect(purses + accounts).toBe(PHONES * OPENING);
  const v = await harness.platform.verify();
  expect(v.ok).toBe(true);
  expect(v.sum).toBe(0);
}, 120_000);

/**
 * The mobile network end to end: virtual phones holding emulated SIMs on a real `simtap.v1` server (127.0.0.1),
 * the platform driving each SIM through its phone. What the card holds is read from the card itself.
 */
import { createSim } from '@simtap/applet-emu/sim';
import { toHex } from '@simtap/sdk/core/bytes';
import { fleetCard } from '@simtap/sdk/core/profile';
import { afterEach, describe, expect, it } from 'vitest';
import { OPENING, type OtaHarness, profile, readPurse, startOta } from './ota-support';

let h: OtaHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const serialOf = (c: { applicationSerial: Uint8Array }) => toHex(c.applicationSerial);

describe('over the air', () => {
  it('personalizes a blank SIM at its first contact over SCP03, then records it personalized → active', async () => {
    h = await startOta();
    const card = await h.issueBlank(1);
    expect((await h.platform.contactless.get({ cardSerial: serialOf(card) })).status).toBe('issued');
    const { phone, sim } = h.phone(card);
    expect(readPurse(sim).serial).toBeUndefined(); // blank: EF 0x15 not readable
    const ready = phone.waitForNotice('ready', 15_000);
    const hello = await phone.connect();
    expect(hello).toEqual({ cardSerial: serialOf(card), status: 'issued' });
    await ready;
    expect(phone.notices.map((n) => n.kind)).toEqual(['authenticated', 'personalized', 'ready']);
    expect((await h.platform.contactless.get({ cardSerial: serialOf(card) })).status).toBe('active');
    const purse = readPurse(sim);
    expect(purse.serial).toBe(serialOf(card));
    expect(purse.balance).toBe(0);
    // A second contact finds it personalized and does nothing more.
    await phone.close();
    const again = h.phone(card, { sim });
    const ready2 = again.phone.waitForNotice('ready', 15_000);
    expect((await again.phone.connect()).status).toBe('active');
    await ready2;
    expect(again.phone.notices.map((n) => n.kind)).toEqual(['authenticated', 'ready']);
  });

  it('tops a card up over the air from the phone account: posted, the purse equals the float', async () => {
    h = await startOta();
    const card = await h.issueBlank(2);
    const { phone, sim } = h.phone(card);
    const ready = phone.waitForNotice('ready', 15_000);
    await phone.connect();
    await ready;
    const client = await h.client();
    const r = await client.call('wallet.airTopUp', { idempotencyKey: 'air-1', msisdn: card.msisdn, amount: 2500 });
    expect(r.status).toBe('posted');
    expect(readPurse(sim).balance).toBe(2500);
    expect((await client.call('wallet.float', { cardSerial: serialOf(card) })).balance).toBe(2500);
    expect((await client.call('customers.phoneAccount', { msisdn: card.msisdn })).balance).toBe(OPENING - 2500);
    // The same request again: the first outcome, nothing moves.
    expect(
      await client.call('wallet.airTopUp', { idempotencyKey: 'air-1', msisdn: card.msisdn, amount: 2500 }),
    ).toEqual(r);
    expect(readPurse(sim).balance).toBe(2500);
    // Other params under the key: a conflict.
    await expect(
      client.call('wallet.airTopUp', { idempotencyKey: 'air-1', msisdn: card.msisdn, amount: 2600 }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    const load = await client.call('wallet.load', { loadId: r.loadId });
    expect(load).toMatchObject({ status: 'posted', amount: 2500, air: true, onlineCounter: 0 });
    expect((await h.platform.verify()).ok).toBe(true);
  });

  it('holds a top-up for an unreachable phone as pending and loads it at the next contact', async () => {
    h = await startOta();
    const card = await h.issueBlank(3);
    const client = await h.client();
    // Not yet personalized: no top-up for it.
    await expect(
      client.call('wallet.airTopUp', { idempotencyKey: 'air-0', msisdn: card.msisdn, amount: 1200 }),
    ).rejects.toMatchObject({ code: 'CARD_BLOCKED' });
    const first = h.phone(card);
    const ready = first.phone.waitForNotice('ready', 15_000);
    await first.phone.connect();
    await ready;
    await first.phone.close();
    const r = await client.call('wallet.airTopUp', { idempotencyKey: 'air-2', msisdn: card.msisdn, amount: 1200 });
    expect(r.status).toBe('pending');
    // Held at once: the phone account's available balance is down, its balance not yet.
    expect(await client.call('customers.phoneAccount', { msisdn: card.msisdn })).toMatchObject({
      balance: OPENING,
      available: OPENING - 1200,
    });
    const { phone, sim } = h.phone(card, { sim: first.sim });
    const loaded = phone.waitForNotice('loaded', 15_000);
    await phone.connect();
    const notice = await loaded;
    expect(notice).toMatchObject({ loadId: r.loadId, amount: 1200, balance: 1200 });
    expect(readPurse(sim).balance).toBe(1200);
    expect((await client.call('wallet.load', { loadId: r.loadId })).status).toBe('posted');
    expect((await client.call('customers.phoneAccount', { msisdn: card.msisdn })).balance).toBe(OPENING - 1200);
  });

  it('lets the customer top up from the phone (phone.topUp), idempotent by key', async () => {
    h = await startOta();
    const card = await h.issueBlank(4);
    const { phone, sim } = h.phone(card);
    const ready = phone.waitForNotice('ready', 15_000);
    await phone.connect();
    await ready;
    const r = await phone.topUp({ idempotencyKey: 'phone-1', amount: 700 });
    expect(r.status).toBe('posted');
    expect(await phone.topUp({ idempotencyKey: 'phone-1', amount: 700 })).toEqual(r);
    expect(readPurse(sim).balance).toBe(700);
    // Over the purse's maximum balance (100,000 fen): refused before anything is held.
    await expect(phone.topUp({ idempotencyKey: 'phone-2', amount: OPENING })).rejects.toMatchObject({
      code: 'BALANCE_LIMIT',
    });
    expect((await h.platform.customers.phoneAccount({ msisdn: card.msisdn })).available).toBe(OPENING - 700);
    expect(readPurse(sim).balance).toBe(700);
  });

  it('charges the phone account online with the card proving itself through its phone (INTERNAL AUTHENTICATE over the air)', async () => {
    h = await startOta();
    const card = await h.issueBlank(10);
    const client = await h.client();
    const { phone } = h.phone(card);
    const ready = phone.waitForNotice('ready', 15_000);
    await phone.connect();
    await ready;
    const before = await client.call('merchants.balance');
    const params = { idempotencyKey: 'ota-charge-1', msisdn: card.msisdn, amount: 2500 };
    const r = await client.call('customers.chargeOverTheAir', params);
    expect(r.balance).toBe(OPENING - 2500);
    expect((await client.call('merchants.balance')).payable).toBe(before.payable + 2500);
    // The same call again: the first outcome; other params: a conflict.
    expect(await client.call('customers.chargeOverTheAir', params)).toEqual(r);
    await expect(client.call('customers.chargeOverTheAir', { ...params, amount: 2501 })).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
    });
    expect((await client.call('customers.phoneAccount', { msisdn: card.msisdn })).balance).toBe(OPENING - 2500);
    // The phone off: nothing moves, and the key keeps that answer.
    await phone.close();
    const off = { idempotencyKey: 'ota-charge-2', msisdn: card.msisdn, amount: 100 };
    await expect(client.call('customers.chargeOverTheAir', off)).rejects.toMatchObject({ code: 'PHONE_UNREACHABLE' });
    await expect(client.call('customers.chargeOverTheAir', off)).rejects.toMatchObject({ code: 'PHONE_UNREACHABLE' });
    expect((await client.call('customers.phoneAccount', { msisdn: card.msisdn })).balance).toBe(OPENING - 2500);
    expect((await h.platform.verify()).ok).toBe(true);
  });

  it('refuses a phone that forges its identity, and a SIM with other ISD keys; records both without secrets', async () => {
    h = await startOta();
    const victim = await h.issueBlank(5);
    const thief = await h.issueBlank(6);
    // The thief's own SIM, claiming the victim's ICCID and MSISDN: its ISD cannot answer with the victim's keys.
    const thiefSim = createSim({
      profile: { ...profile, cards: [...profile.cards, thief] },
      card: thief.label,
      epurse: true,
    });
    const forged = h.phone(victim, { sim: thiefSim, reconnect: false });
    await expect(forged.phone.connect()).rejects.toMatchObject({ code: 'IDENTITY_REFUSED' });
    // Its own ICCID with the victim's MSISDN: refused before any card command.
    const mixed = h.phone({ ...thief, msisdn: victim.msisdn }, { sim: thiefSim, reconnect: false });
    await expect(mixed.phone.connect()).rejects.toMatchObject({ code: 'IDENTITY_REFUSED' });
    // An unknown ICCID.
    const unknown = h.phone({ ...thief, iccid: '89860000000000000000' }, { sim: thiefSim, reconnect: false });
    await expect(unknown.phone.connect()).rejects.toMatchObject({ code: 'IDENTITY_REFUSED' });
    // The right identity on a SIM whose ISD has the GlobalPlatform default keys, not the issuer's.
    const wrongKeys = createSim({
      profile: { ...profile, cards: [...profile.cards, victim] },
      card: victim.label,
      epurse: true,
      defaultKeys: true,
    });
    const clone = h.phone(victim, { sim: wrongKeys, reconnect: false });
    await expect(clone.phone.connect()).rejects.toMatchObject({ code: 'IDENTITY_REFUSED' });
    // Nothing was done to anyone's card or money.
    expect((await h.platform.contactless.get({ cardSerial: serialOf(victim) })).status).toBe('issued');
    expect(readPurse(thiefSim).serial).toBeUndefined();
    const refusals = await h.platform.ledger.listRecords<Record<string, unknown>>('ota-refusals');
    expect(refusals).toHaveLength(4);
    const reasons = refusals.map((r) => String(r.value.reason));
    expect(reasons.filter((r) => r.startsWith('secure channel failed'))).toHaveLength(2);
    expect(reasons).toContain('unknown ICCID');
    const text = JSON.stringify(refusals);
    for (const secret of ['404142434445464748494A4B4C4D4E4F', toHex(victim.keys.DLK.key)])
      expect(text).not.toContain(secret);
    // The victim's own phone still works.
    const real = h.phone(victim);
    const ready = real.phone.waitForNotice('ready', 15_000);
    await real.phone.connect();
    await ready;
    expect(readPurse(real.sim).serial).toBe(serialOf(victim));
  });

  it('blocks a lost card on the SIM at once when its phone is connected; the float goes to the replacement', async () => {
    // No hold: the float moves to the replacement at once (the hold is host/src/contactless's test).
    h = await startOta({ lostCardHoldMs: 0 });
    const card = await h.issueBlank(7);
    const { phone, sim } = h.phone(card);
    const ready = phone.waitForNotice('ready', 15_000);
    await phone.connect();
    await ready;
    const client = await h.client();
    await client.call('wallet.airTopUp', { idempotencyKey: 'air-3', msisdn: card.msisdn, amount: 900 });
    const blocked = phone.waitForNotice('blocked', 15_000);
    const lost = await client.call('cards.reportLost', { cardSerial: serialOf(card) });
    expect(lost.status).toBe('lost');
    await blocked;
    const purse = readPurse(sim);
    expect(purse.blocked).toBe(true);
    expect(purse.balance).toBe(900);
    expect((await client.call('cards.blacklist', {})).added).toContain(serialOf(card));
    // The operator replaces it: the float moves to the new card, once; the new SIM is personalized with it.
    const operator = await h.console();
    const next = fleetCard(8);
    const replacement = { cardSerial: serialOf(next), iccid: next.iccid, kdd: toHex(next.isd.kdd) };
    const replaced = await operator.call('cards.replace', { lostCardSerial: serialOf(card), replacement });
    expect(replaced).toEqual({ cardSerial: serialOf(next), moved: 900, movedTo: 'card', held: 0, heldUntil: null });
    expect(await operator.call('cards.replace', { lostCardSerial: serialOf(card), replacement })).toEqual(replaced);
    expect((await client.call('wallet.float', { cardSerial: serialOf(card) })).balance).toBe(0);
    const newPhone = h.phone({ ...next, msisdn: card.msisdn });
    const newReady = newPhone.phone.waitForNotice('ready', 15_000);
    await newPhone.phone.connect();
    await newReady;
    expect(newPhone.phone.notices.map((n) => n.kind)).toContain('personalized');
    expect(readPurse(newPhone.sim)).toMatchObject({ serial: serialOf(next), balance: 900 });
    expect((await client.call('wallet.float', { cardSerial: serialOf(next) })).balance).toBe(900);
    // The customer's top-ups now go to the new card.
    expect(
      await client.call('wallet.airTopUp', { idempotencyKey: 'air-5', msisdn: card.msisdn, amount: 100 }),
    ).toMatchObject({ status: 'posted' });
    expect(readPurse(newPhone.sim).balance).toBe(1000);
    expect(readPurse(sim).balance).toBe(900); // the lost SIM is blocked and keeps what it had
    expect((await h.platform.verify()).ok).toBe(true);
  });

  it('issues a blank card from the console; its SIM is personalized at first contact', async () => {
    h = await startOta();
    const operator = await h.console();
    const card = fleetCard(11);
    const issued = await operator.call('cards.issue', {
      cardSerial: serialOf(card),
      iccid: card.iccid,
      msisdn: card.msisdn,
      kdd: toHex(card.isd.kdd),
    });
    expect(issued).toMatchObject({ status: 'issued', msisdn: card.msisdn });
    expect(
      await operator.call('cards.issue', {
        cardSerial: serialOf(card),
        iccid: card.iccid,
        msisdn: card.msisdn,
        kdd: toHex(card.isd.kdd),
      }),
    ).toEqual(issued);
    const { phone, sim } = h.phone(card);
    const ready = phone.waitForNotice('ready', 15_000);
    await phone.connect();
    await ready;
    expect(readPurse(sim).serial).toBe(serialOf(card));
    expect((await operator.call('cards.get', { cardSerial: serialOf(card) })).status).toBe('active');
  });

  it('refuses a top-up for a customer whose only card is lost', async () => {
    h = await startOta();
    const card = await h.issueBlank(12);
    const { phone } = h.phone(card);
    const ready = phone.waitForNotice('ready', 15_000);
    await phone.connect();
    await ready;
    const client = await h.client();
    await client.call('cards.reportLost', { cardSerial: serialOf(card) });
    // A top-up of the customer now targets no lost card.
    await expect(
      client.call('wallet.airTopUp', { idempotencyKey: 'air-4', msisdn: card.msisdn, amount: 100 }),
    ).rejects.toMatchObject({ code: 'CARD_BLOCKED' });
  });

  it('blocks a lost card at its next contact when its phone was off', async () => {
    h = await startOta();
    const card = await h.issueBlank(9);
    const first = h.phone(card);
    const ready = first.phone.waitForNotice('ready', 15_000);
    await first.phone.connect();
    await ready;
    await first.phone.close();
    await h.platform.contactless.reportLost({ cardSerial: serialOf(card) });
    const again = h.phone(card, { sim: first.sim });
    const blocked = again.phone.waitForNotice('blocked', 15_000);
    await again.phone.connect();
    await blocked;
    expect(readPurse(first.sim).blocked).toBe(true);
  });
});

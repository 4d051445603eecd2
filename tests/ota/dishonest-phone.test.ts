/**
 * A phone is a relay the platform does not trust. Here the phone lies about the SIM's answers during an air
 * top-up — a status word of refusal after the card credited, a flipped TAC or MAC1, a refusal the card never made —
 * and in every case the money stays whole: the purse (read from the card) plus the phone account equal what they
 * were, the platform's float equals the purse, and a load is refunded only when the card never got its MAC2.
 */
import type { Card } from '@simtap/applet-emu/runtime';
import { toHex } from '@simtap/sdk/core/bytes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENING, type OtaHarness, readPurse, startOta, until } from './ota-support';

const AMOUNT = 800;
let h: OtaHarness;
let next = 300;

beforeAll(async () => {
  h = await startOta({ airTopUpWaitMs: 3_000 });
});
afterAll(async () => {
  await h?.stop();
});

/** A SIM whose answers pass through `lie` (command, true answer → what the phone relays) once `armed`. */
function lyingSim(sim: Card, lie: (apdu: Uint8Array, answer: Uint8Array) => Uint8Array | undefined) {
  const state = { armed: false, lied: 0 };
  const proxy = new Proxy(sim, {
    get(target, prop, receiver) {
      if (prop === 'transmit')
        return (iface: 'contact' | 'contactless', apdu: Uint8Array) => {
          const answer = target.transmit(iface, apdu);
          if (!state.armed) return answer;
          const forged = lie(apdu, answer);
          if (forged === undefined) return answer;
          state.lied++;
          return forged;
        };
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { card: proxy as Card, state };
}

const ins = (apdu: Uint8Array) => (apdu[0]! << 8) | apdu[1]!;
const flipFirst = (answer: Uint8Array) => {
  const a = answer.slice();
  a[0]! ^= 0x01;
  return a;
};

async function topUpThroughLyingPhone(
  lie: (apdu: Uint8Array, answer: Uint8Array) => Uint8Array | undefined,
  once = true,
) {
  const card = await h.issueBlank(next++);
  const sim = h.phone(card).sim; // a blank SIM of the card, not yet in any phone
  let done = false;
  const lying = lyingSim(sim, (apdu, answer) => {
    if (once && done) return undefined;
    const forged = lie(apdu, answer);
    if (forged !== undefined) done = true;
    return forged;
  });
  const { phone } = h.phone(card, { sim: lying.card });
  const ready = phone.waitForNotice('ready', 15_000);
  await phone.connect();
  await ready;
  lying.state.armed = true;
  const client = await h.client();
  const r = await client.call('wallet.airTopUp', {
    idempotencyKey: `lie-${card.label}`,
    msisdn: card.msisdn,
    amount: AMOUNT,
  });
  await until(
    async () => (await client.call('wallet.load', { loadId: r.loadId })).status !== 'pending',
    10_000,
    'the load settled',
  );
  const load = await client.call('wallet.load', { loadId: r.loadId });
  const purse = readPurse(sim);
  const account = await client.call('customers.phoneAccount', { msisdn: card.msisdn });
  expect(lying.state.lied).toBeGreaterThan(0);
  expect(purse.balance + account.balance).toBe(OPENING);
  expect(account.available).toBe(account.balance);
  expect((await client.call('wallet.float', { cardSerial: toHex(card.applicationSerial) })).balance).toBe(
    purse.balance,
  );
  expect((await h.platform.verify()).ok).toBe(true);
  await phone.close();
  return { status: load.status, purse: purse.balance };
}

describe('a dishonest phone', () => {
  it('says CREDIT FOR LOAD failed although the card credited: no refund — the proof posts it', async () => {
    const r = await topUpThroughLyingPhone((apdu) => (ins(apdu) === 0x8052 ? Uint8Array.of(0x69, 0x88) : undefined));
    expect(r).toEqual({ status: 'posted', purse: AMOUNT });
  });

  it('flips the TAC of CREDIT FOR LOAD: not posted on it — the proof posts it', async () => {
    const r = await topUpThroughLyingPhone((apdu, answer) => (ins(apdu) === 0x8052 ? flipFirst(answer) : undefined));
    expect(r).toEqual({ status: 'posted', purse: AMOUNT });
  });

  it('flips MAC1 of INITIALIZE FOR LOAD: no MAC2 ever leaves, the load is refunded, the purse untouched', async () => {
    const r = await topUpThroughLyingPhone((apdu, answer) =>
      ins(apdu) === 0x8050 ? flipFirst(answer.slice(0)) : undefined,
    );
    // The balance is the answer's first byte: flipping it changes what MAC1 covers, so MAC1 does not verify.
    expect(r).toEqual({ status: 'voided', purse: 0 });
  });

  it('says the card refused INITIALIZE FOR LOAD: refunded, the purse untouched', async () => {
    const r = await topUpThroughLyingPhone((apdu) => (ins(apdu) === 0x8050 ? Uint8Array.of(0x69, 0x85) : undefined));
    expect(r).toEqual({ status: 'voided', purse: 0 });
  });

  it('forges GET TRANSACTION PROVE after hiding the CREDIT answer: the forged proof is refused, the counter proof posts it', async () => {
    const r = await topUpThroughLyingPhone(
      (apdu, answer) =>
        ins(apdu) === 0x8052 ? Uint8Array.of(0x6f, 0x00) : ins(apdu) === 0x805a ? flipFirst(answer) : undefined,
      false,
    );
    expect(r).toEqual({ status: 'posted', purse: AMOUNT });
  });
});

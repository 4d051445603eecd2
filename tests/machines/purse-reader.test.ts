/**
 * End to end: the SDK's readPurse against the real e-purse applet, in process — what it reads matches what the
 * machines did, and reading changes nothing on the card (no persistent write, counters and proof untouched).
 */
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { TTI } from '@simtap/sdk/core/pboc';
import { readPurse } from '@simtap/sdk/machines';
import { describe, expect, it } from 'vitest';
import { contactless, kiosk, pos, purseCard } from './fixtures';

describe('readPurse on the emulated card', () => {
  it('reads the balance, the counters INITIALIZE reports and the log the machines wrote, without writing', async () => {
    const card = purseCard();
    const loaded = await kiosk(card).load({ amount: 5000 });
    const { machine } = pos(card);
    const first = await machine.purchase({ amount: 1250 });
    const second = await machine.purchase({ amount: 300 });
    if (first.status !== 'completed' || second.status !== 'completed') throw new Error('expected completed purchases');

    const channel = contactless(card);
    const writes = card.persistentWrites;
    const r = await readPurse(channel);
    expect(card.persistentWrites).toBe(writes); // nothing persistent changed
    expect(r).toMatchObject({
      purse: 'ep',
      balance: 5000 - 1250 - 300,
      onlineCounter: { value: loaded.onlineCounter + 1, source: 'card' },
      offlineCounter: { value: second.offlineCounter + 1, source: 'card' },
    });
    expect(toHex(r.serial)).toBe(toHex(first.cardSerial));
    expect(r.log.map((x) => [x.tti, x.counter, x.amount])).toEqual([
      [TTI.EP_PURCHASE, second.offlineCounter, 300],
      [TTI.EP_PURCHASE, first.offlineCounter, 1250],
      [TTI.EP_LOAD, loaded.onlineCounter, 5000],
    ]);

    // The proof of the last purchase is still there: GET TRANSACTION PROVE answers with its MAC2 and TAC.
    const ctr = second.offlineCounter.toString(16).padStart(4, '0');
    const proof = await channel.transmit(fromHex(`805A000602${ctr}08`));
    expect(toHex(proof)).toBe(`${toHex(second.mac2)}${toHex(second.tac)}9000`);
    // Reading again reads the same; the next purchase uses the offline counter read.
    expect(await readPurse(channel)).toEqual(r);
    const third = await machine.purchase({ amount: 1 });
    expect(third).toMatchObject({ status: 'completed', offlineCounter: r.offlineCounter!.value });
  });

  it('falls back to the log when the card cannot pay 1 fen or is full, and reads a fresh card', async () => {
    const fresh = purseCard('card-1', 0);
    const empty = await readPurse(contactless(fresh));
    // INITIALIZE FOR PURCHASE of 1 fen is refused (9401) and the log is empty: no offline counter to tell.
    expect(empty).toMatchObject({
      balance: 0,
      onlineCounter: { value: 0, source: 'card' },
      offlineCounter: undefined,
      log: [],
    });

    const full = purseCard('card-1', 0);
    const loaded = await kiosk(full).load({ amount: 100_000 }); // the profile's maxBalance
    const r = await readPurse(contactless(full));
    expect(r.balance).toBe(100_000);
    // INITIALIZE FOR LOAD of 1 fen is refused (6A80: above the maximum), so the log's load record tells.
    expect(r.onlineCounter).toEqual({ value: loaded.onlineCounter + 1, source: 'log' });
    expect(r.offlineCounter).toEqual({ value: 0, source: 'card' });
  });
});

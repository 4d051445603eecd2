/**
 * End to end: torn transactions. The card is torn (runtime tear API) or pulled away (response dropped) between
 * DEBIT / CREDIT's persistent writes and its response; the next tap of the same card resolves the pending record.
 * Whatever the tear point, the card is charged (or loaded) exactly once and the machine reports it exactly once.
 */
import { InProcessChannel } from '@simtap/sdk/card';
import { TTI } from '@simtap/sdk/core/pboc';
import { CardLeftFieldError, type LoadRecord, type PendingPurchase, type PurchaseRecord } from '@simtap/sdk/machines';
import { describe, expect, it } from 'vitest';
import { type Card, contactless, dropResponseOn, kiosk, pos, purseCard, readPurse, tearOn, writesOf } from './fixtures';

const INS_DEBIT = 0x54;
const INS_CREDIT = 0x52;

/** Persistent writes of one DEBIT FOR PURCHASE on a fresh card (what the tear points range over). */
async function debitWrites(): Promise<number> {
  const card = purseCard('card-1', 5000);
  const counted = writesOf(card, contactless(card), INS_DEBIT);
  await pos(card, 'pos-1', { card: counted.channel }).machine.purchase({ amount: 1250 });
  return counted.writes();
}

describe('torn purchase', () => {
  it('tear after the commit: the next tap completes the record from GET TRANSACTION PROVE, no second debit', async () => {
    const card = purseCard('card-1', 5000);
    const writes = await debitWrites();
    const records: PurchaseRecord[] = [];
    const { machine } = pos(card, 'pos-1', { onRecord: (r) => records.push(r) });
    const e = await machine
      .purchase({ amount: 1250, card: tearOn(card, INS_DEBIT, writes, 'after') })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CardLeftFieldError);
    expect(e).toMatchObject({ code: 'CARD_REMOVED', command: 'DEBIT_FOR_PURCHASE' });
    const pending = (e as CardLeftFieldError).pending as PendingPurchase;
    expect(pending).toMatchObject({ status: 'pending', offlineCounter: 0, amount: 1250 });
    expect(machine.pending).toHaveLength(1);

    card.powerOn('contactless'); // the customer taps again
    const r = await machine.purchase({ amount: 1250 });
    expect(r).toMatchObject({ recovered: 'transaction-prove', mac2Verified: true, amount: 1250, balanceAfter: 3750 });
    expect(r.apduCount).toBe(3); // SELECT, READ BINARY, GET TRANSACTION PROVE
    expect(r.tac).toBeDefined();
    expect(records).toEqual([r]);
    expect(machine.pending).toEqual([]);
    expect(readPurse(card)).toMatchObject({ balance: 3750, offlineCounter: 1 });
  });

  it('tear before the commit: the next tap finds the debit did not land and charges once', async () => {
    const card = purseCard('card-1', 5000);
    const writes = await debitWrites();
    const { machine } = pos(card);
    await expect(
      machine.purchase({ amount: 1250, card: tearOn(card, INS_DEBIT, writes, 'before') }),
    ).rejects.toBeInstanceOf(CardLeftFieldError);
    expect(readPurse(card)).toMatchObject({ balance: 5000, offlineCounter: 0 });
    card.powerOn('contactless');
    const r = await machine.purchase({ amount: 1250 });
    expect(r).toMatchObject({ recovered: undefined, offlineCounter: 0, balanceAfter: 3750, terminalTxnSeq: 2 });
    expect(readPurse(card)).toMatchObject({ balance: 3750, offlineCounter: 1 });
  });

  it('every tear point of DEBIT: exactly one debit and one record after the next tap', async () => {
    const writes = await debitWrites();
    expect(writes).toBeGreaterThan(0);
    const seen = new Set<number>();
    for (let w = 1; w <= writes; w++) {
      for (const when of ['before', 'after'] as const) {
        const card = purseCard('card-1', 5000);
        const records: PurchaseRecord[] = [];
        const { machine } = pos(card, 'pos-1', { onRecord: (r) => records.push(r) });
        const e = await machine
          .purchase({ amount: 1250, card: tearOn(card, INS_DEBIT, w, when) })
          .catch((x: unknown) => x);
        expect(e, `write ${w} ${when}`).toBeInstanceOf(CardLeftFieldError);
        const mid = readPurse(card);
        seen.add(mid.balance);
        expect([5000, 3750], `write ${w} ${when}`).toContain(mid.balance);
        expect(mid.offlineCounter).toBe(mid.balance === 5000 ? 0 : 1); // balance and counter move together
        card.powerOn('contactless');
        await machine.purchase({ amount: 1250 });
        expect(readPurse(card), `write ${w} ${when}`).toMatchObject({ balance: 3750, offlineCounter: 1 });
        expect(records).toHaveLength(1);
        expect(records[0]).toMatchObject({ amount: 1250, offlineCounter: 0 });
        expect(machine.pending).toEqual([]);
      }
    }
    expect([...seen].sort()).toEqual([3750, 5000]); // both sides of the commit were exercised
  });

  it('response dropped by the reader: recovered at the next tap', async () => {
    const card = purseCard('card-1', 5000);
    const { machine } = pos(card);
    await expect(machine.purchase({ amount: 500, card: dropResponseOn(card, INS_DEBIT) })).rejects.toBeInstanceOf(
      CardLeftFieldError,
    );
    card.powerOn('contactless');
    const out = await machine.recover();
    expect(out).toMatchObject({ outcome: 'charged', record: { recovered: 'transaction-prove', amount: 500 } });
    expect(await machine.recover()).toEqual({ outcome: 'none' });
    expect(readPurse(card)).toMatchObject({ balance: 4500, offlineCounter: 1 });
  });

  it('the card was used at another POS in between: resolved from the log, never charged twice', async () => {
    const card = purseCard('card-1', 5000);
    const home = pos(card, 'pos-1');
    await expect(home.machine.purchase({ amount: 1250, card: dropResponseOn(card, INS_DEBIT) })).rejects.toBeInstanceOf(
      CardLeftFieldError,
    );
    card.powerOn('contactless');
    await pos(card, 'gate-1').machine.purchase({ amount: 300 }); // elsewhere: its proof replaces ours
    const out = await home.machine.recover();
    expect(out).toMatchObject({ outcome: 'charged', record: { recovered: 'transaction-log', amount: 1250 } });
    // pos-1 holds the TAC master key: the log-recovered record carries the TAC it recomputed
    expect(out.outcome === 'charged' && out.record.tac !== undefined).toBe(true);
    expect(readPurse(card)).toMatchObject({ balance: 5000 - 1250 - 300, offlineCounter: 2 });
  });

  it('a torn purchase that did not land, then a purchase elsewhere: not charged, the retry charges once', async () => {
    const card = purseCard('card-1', 5000);
    const writes = await debitWrites();
    const home = pos(card, 'pos-1');
    await expect(
      home.machine.purchase({ amount: 1250, card: tearOn(card, INS_DEBIT, writes, 'before') }),
    ).rejects.toBeInstanceOf(CardLeftFieldError);
    card.powerOn('contactless');
    await pos(card, 'gate-1').machine.purchase({ amount: 300 }); // uses counter 0
    const r = await home.machine.purchase({ amount: 1250 });
    expect(r).toMatchObject({ recovered: undefined, offlineCounter: 1 });
    expect(readPurse(card)).toMatchObject({ balance: 5000 - 300 - 1250, offlineCounter: 2 });
  });

  it('another card tapping in between leaves the pending record of the first', async () => {
    const card = purseCard('card-1', 5000);
    const other = purseCard('card-2', 5000);
    const { machine } = pos(card);
    await expect(machine.purchase({ amount: 100, card: dropResponseOn(card, INS_DEBIT) })).rejects.toBeInstanceOf(
      CardLeftFieldError,
    );
    await machine.purchase({
      amount: 100,
      card: new InProcessChannel({ transmit: (c) => other.transmit('contactless', c) }),
    });
    expect(machine.pending).toHaveLength(1);
    card.powerOn('contactless');
    expect(await machine.recover()).toMatchObject({ outcome: 'charged' });
    expect(readPurse(card).balance).toBe(4900);
    expect(readPurse(other).balance).toBe(4900);
  });

  it('torn metro exit: recovered at the same gate without a second fare', async () => {
    const card = purseCard('card-1', 5000);
    const fare = () => 400;
    const { machine } = pos(card, 'gate-1', { transit: { fare } });
    await machine.enter({ station: { line: 1, station: 1 } });
    await expect(
      machine.exit({ station: { line: 1, station: 9 }, card: dropResponseOn(card, INS_DEBIT) }),
    ).rejects.toMatchObject({ command: 'DEBIT_FOR_CAPP_PURCHASE' });
    card.powerOn('contactless');
    const r = await machine.exit({ station: { line: 1, station: 9 } });
    expect(r).toMatchObject({
      kind: 'transit-exit',
      recovered: 'transaction-prove',
      amount: 400,
      tti: TTI.CAPP_PURCHASE,
    });
    expect(readPurse(card)).toMatchObject({ balance: 4600, offlineCounter: 2 });
  });
});

describe('torn load', () => {
  async function creditWrites(): Promise<number> {
    const card = purseCard('card-1', 0);
    const counted = writesOf(card, contactless(card), INS_CREDIT);
    await kiosk(card, { card: counted.channel }).load({ amount: 5000 });
    return counted.writes();
  }

  it('every tear point of CREDIT FOR LOAD: loaded exactly once after the next tap', async () => {
    const writes = await creditWrites();
    const outcomes = new Set<string>();
    for (let w = 1; w <= writes; w++) {
      for (const when of ['before', 'after'] as const) {
        const card: Card = purseCard('card-1', 0);
        const records: LoadRecord[] = [];
        const k = kiosk(card, { onRecord: (r) => records.push(r) });
        const e = await k.load({ amount: 5000, card: tearOn(card, INS_CREDIT, w, when) }).catch((x: unknown) => x);
        expect(e, `write ${w} ${when}`).toBeInstanceOf(CardLeftFieldError);
        const landed = readPurse(card).balance === 5000;
        card.powerOn('contactless');
        const r = await k.load({ amount: 5000 });
        outcomes.add(`${landed}/${r.recovered}`);
        expect(r.tacVerified).toBe(true);
        expect(readPurse(card), `write ${w} ${when}`).toMatchObject({ balance: 5000, onlineCounter: 1 });
        expect(records).toHaveLength(1);
        expect(k.pending).toEqual([]);
      }
    }
    expect([...outcomes].sort()).toEqual(['false/undefined', 'true/transaction-prove']);
  });
});

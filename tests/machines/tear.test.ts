/**
 * End to end: torn transactions. The card is torn (runtime tear API) or pulled away (response dropped) between
 * DEBIT / CREDIT's persistent writes and its response; the next tap of the same card resolves the pending record.
 * Whatever the tear point, the card is charged (or loaded) exactly once and the machine reports it exactly once.
 *
 * The machines decide only on what the card proves: a completed record carries the card's own TAC, which the
 * issuer's key verifies (`clears`); a purchase the card's log shows without proof is reported `unproven`, never
 * completed with a TAC nobody can check.
 */
import { InProcessChannel } from '@simtap/sdk/card';
import { encodeTransactionLogRecord, TTI } from '@simtap/sdk/core/pboc';
import { CardLeftFieldError, type LoadResult, type PendingPurchase, type PurchaseResult } from '@simtap/sdk/machines';
import { describe, expect, it } from 'vitest';
import {
  type Card,
  clears,
  contactless,
  dropResponseOn,
  forgedLogOn,
  kiosk,
  pos,
  purseCard,
  readPurse,
  tearOn,
  writesOf,
} from './fixtures';

const INS_DEBIT = 0x54;
const INS_CREDIT = 0x52;

/** Persistent writes of one DEBIT FOR PURCHASE on a fresh card (what the tear points range over). */
async function debitWrites(): Promise<number> {
  const card = purseCard('card-1', 5000);
  const counted = writesOf(card, contactless(card), INS_DEBIT);
  await pos(card, 'pos-1', { card: counted.channel }).machine.purchase({ amount: 1250 });
  return counted.writes();
}

/** A channel to card-2 of the profile: another customer at the same till. */
function otherCustomer(): { card: Card; channel: InProcessChannel } {
  const card = purseCard('card-2', 5000);
  return { card, channel: new InProcessChannel({ transmit: (c) => card.transmit('contactless', c) }) };
}

/** The EF 0x18 record the card would write for `p`: what a forger puts in the log. */
const logRecordOf = (p: PendingPurchase): Uint8Array =>
  encodeTransactionLogRecord({
    counter: p.offlineCounter,
    overdraftLimit: 0,
    amount: p.amount,
    tti: p.tti,
    terminalId: p.terminalId,
    date: p.date,
    time: p.time,
  });

describe('torn purchase', () => {
  it('tear after the commit, PSAM session still open: completed from GET TRANSACTION PROVE, MAC2 verified, TAC clears', async () => {
    const card = purseCard('card-1', 5000);
    const writes = await debitWrites();
    const records: PurchaseResult[] = [];
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
    expect(r).toMatchObject({
      status: 'completed',
      recovered: 'transaction-prove',
      mac2Verified: true,
      amount: 1250,
      balanceAfter: 3750,
    });
    expect(r.apduCount).toBe(3); // SELECT, READ BINARY, GET TRANSACTION PROVE
    expect(clears(r)).toBe(true); // the card's TAC, stored as given: the issuer's key verifies it
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
    expect(clears(r)).toBe(true);
    expect(readPurse(card)).toMatchObject({ balance: 3750, offlineCounter: 1 });
  });

  it('every tear point of DEBIT: exactly one debit and one completed record, whose TAC clears, after the next tap', async () => {
    const writes = await debitWrites();
    expect(writes).toBeGreaterThan(0);
    const seen = new Set<number>();
    for (let w = 1; w <= writes; w++) {
      for (const when of ['before', 'after'] as const) {
        const card = purseCard('card-1', 5000);
        const records: PurchaseResult[] = [];
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
        expect(records[0]).toMatchObject({ status: 'completed', amount: 1250, offlineCounter: 0 });
        expect(clears(records[0]!), `write ${w} ${when}`).toBe(true);
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
    expect(out.outcome === 'charged' && clears(out.record)).toBe(true);
    expect(await machine.recover()).toEqual({ outcome: 'none' });
    expect(readPurse(card)).toMatchObject({ balance: 4500, offlineCounter: 1 });
  });

  it("another customer paid at the same till in between (the PSAM's session ended): completed with mac2Verified false, the TAC clears", async () => {
    const card = purseCard('card-1', 5000);
    const records: PurchaseResult[] = [];
    const { machine } = pos(card, 'pos-1', { onRecord: (r) => records.push(r) });
    await expect(machine.purchase({ amount: 1250, card: dropResponseOn(card, INS_DEBIT) })).rejects.toBeInstanceOf(
      CardLeftFieldError,
    );
    const other = otherCustomer();
    await machine.purchase({ amount: 100, card: other.channel }); // a new PSAM session for card-2
    card.powerOn('contactless');
    const r = await machine.purchase({ amount: 1250 });
    expect(r).toMatchObject({ status: 'completed', recovered: 'transaction-prove', mac2Verified: false, amount: 1250 });
    expect(clears(r)).toBe(true);
    expect(records.map((x) => [x.status, x.amount])).toEqual([
      ['completed', 100],
      ['completed', 1250],
    ]);
    expect(records.every(clears)).toBe(true);
    expect(readPurse(card)).toMatchObject({ balance: 3750, offlineCounter: 1 });
  });

  it("the card was used at another POS in between and its proof replaced ours (9406): 'unproven', no TAC, no second debit", async () => {
    const card = purseCard('card-1', 5000);
    const records: PurchaseResult[] = [];
    const home = pos(card, 'pos-1', { onRecord: (r) => records.push(r) });
    await expect(home.machine.purchase({ amount: 1250, card: dropResponseOn(card, INS_DEBIT) })).rejects.toBeInstanceOf(
      CardLeftFieldError,
    );
    card.powerOn('contactless');
    const elsewhere = await pos(card, 'gate-1').machine.purchase({ amount: 300 }); // its proof replaces ours
    expect(clears(elsewhere)).toBe(true);
    const r = await home.machine.purchase({ amount: 1250 }); // the customer taps again for the same sale
    expect(r).toMatchObject({
      status: 'unproven',
      reason: 'proof-replaced',
      amount: 1250,
      offlineCounter: 0,
      log: { counter: 0, amount: 1250, tti: TTI.EP_PURCHASE },
    });
    expect(r).not.toHaveProperty('tac');
    expect(records).toEqual([r]);
    expect(home.machine.pending).toEqual([]);
    expect(readPurse(card)).toMatchObject({ balance: 5000 - 1250 - 300, offlineCounter: 2 }); // charged once
  });

  it('a proof from another terminal (same amount, date and time; the PSAM refuses its MAC2): not charged, the retry charges once', async () => {
    const card = purseCard('card-1', 5000);
    const writes = await debitWrites();
    const records: PurchaseResult[] = [];
    const home = pos(card, 'pos-1', { onRecord: (r) => records.push(r) });
    await expect(
      home.machine.purchase({ amount: 1250, card: tearOn(card, INS_DEBIT, writes, 'before') }),
    ).rejects.toBeInstanceOf(CardLeftFieldError);
    card.powerOn('contactless');
    // gate-1's clock reads the same instant: its purchase with counter 0 differs from ours only by the terminal
    await pos(card, 'gate-1').machine.purchase({ amount: 1250 });
    const r = await home.machine.purchase({ amount: 1250 });
    expect(r).toMatchObject({ status: 'completed', recovered: undefined, offlineCounter: 1, mac2Verified: true });
    expect(records).toEqual([r]);
    expect(records.every(clears)).toBe(true);
    expect(readPurse(card)).toMatchObject({ balance: 5000 - 1250 - 1250, offlineCounter: 2 });
  });

  it('a proof from another terminal the PSAM cannot check (its session ended): the log tells, not charged', async () => {
    const card = purseCard('card-1', 5000);
    const writes = await debitWrites();
    const home = pos(card, 'pos-1');
    await expect(
      home.machine.purchase({ amount: 1250, card: tearOn(card, INS_DEBIT, writes, 'before') }),
    ).rejects.toBeInstanceOf(CardLeftFieldError);
    card.powerOn('contactless');
    await pos(card, 'gate-1').machine.purchase({ amount: 1250 });
    await home.machine.purchase({ amount: 100, card: otherCustomer().channel }); // ends home's MAC2 session
    expect(await home.machine.recover()).toMatchObject({ outcome: 'not-charged' });
    expect(readPurse(card)).toMatchObject({ balance: 5000 - 1250, offlineCounter: 1 });
  });

  it('a forged log record cannot make a completed record: without a proof the PSAM accepts it is unproven at best', async () => {
    // no proof at all (the debit never landed, nothing since: 9406), the forged log claims our purchase
    const a = purseCard('card-1', 5000);
    const writes = await debitWrites();
    const recordsA: PurchaseResult[] = [];
    const homeA = pos(a, 'pos-1', { onRecord: (r) => recordsA.push(r) });
    const ea = (await homeA.machine
      .purchase({ amount: 1250, card: tearOn(a, INS_DEBIT, writes, 'before') })
      .catch((x: unknown) => x)) as CardLeftFieldError;
    a.powerOn('contactless');
    const forgedA = forgedLogOn(a, [logRecordOf(ea.pending as PendingPurchase)]);
    expect(await homeA.machine.purchase({ amount: 1250, card: forgedA })).toMatchObject({ status: 'unproven' });
    expect(recordsA.map((r) => r.status)).toEqual(['unproven']);
    expect(readPurse(a)).toMatchObject({ balance: 5000, offlineCounter: 0 }); // nothing charged, nothing claimed

    // another terminal's proof, refused by the PSAM whose session is still open; the forged log claims ours
    const b = purseCard('card-1', 5000);
    const recordsB: PurchaseResult[] = [];
    const homeB = pos(b, 'pos-1', { onRecord: (r) => recordsB.push(r) });
    const eb = (await homeB.machine
      .purchase({ amount: 1250, card: tearOn(b, INS_DEBIT, writes, 'before') })
      .catch((x: unknown) => x)) as CardLeftFieldError;
    b.powerOn('contactless');
    await pos(b, 'gate-1').machine.purchase({ amount: 1250 });
    const forgedB = forgedLogOn(b, [logRecordOf(eb.pending as PendingPurchase)]);
    expect(await homeB.machine.recover({ card: forgedB })).toMatchObject({
      outcome: 'unproven',
      record: { reason: 'proof-refused' },
    });
    expect(recordsB.filter((r) => r.status === 'completed')).toEqual([]);
  });

  it("a forged log next to another terminal's proof the PSAM cannot check: completed, but clearing rejects its TAC", async () => {
    const card = purseCard('card-1', 5000);
    const writes = await debitWrites();
    const home = pos(card, 'pos-1');
    const e = (await home.machine
      .purchase({ amount: 1250, card: tearOn(card, INS_DEBIT, writes, 'before') })
      .catch((x: unknown) => x)) as CardLeftFieldError;
    card.powerOn('contactless');
    await pos(card, 'gate-1').machine.purchase({ amount: 1250 });
    await home.machine.purchase({ amount: 100, card: otherCustomer().channel });
    const forged = forgedLogOn(card, [logRecordOf(e.pending as PendingPurchase)]);
    const out = await home.machine.recover({ card: forged });
    expect(out).toMatchObject({ outcome: 'charged', record: { mac2Verified: false } });
    // the TAC is gate-1's, as the card gave it: it does not verify for this record, so clearing refuses it
    expect(out.outcome === 'charged' && clears(out.record)).toBe(false);
  });

  it('another card tapping in between leaves the pending record of the first', async () => {
    const card = purseCard('card-1', 5000);
    const other = otherCustomer();
    const { machine } = pos(card);
    await expect(machine.purchase({ amount: 100, card: dropResponseOn(card, INS_DEBIT) })).rejects.toBeInstanceOf(
      CardLeftFieldError,
    );
    await machine.purchase({ amount: 100, card: other.channel });
    expect(machine.pending).toHaveLength(1);
    card.powerOn('contactless');
    const out = await machine.recover();
    expect(out).toMatchObject({ outcome: 'charged' });
    expect(out.outcome === 'charged' && clears(out.record)).toBe(true);
    expect(readPurse(card).balance).toBe(4900);
    expect(readPurse(other.card).balance).toBe(4900);
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
    expect(clears(r)).toBe(true);
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
        const records: LoadResult[] = [];
        const k = kiosk(card, { onRecord: (r) => records.push(r) });
        const e = await k.load({ amount: 5000, card: tearOn(card, INS_CREDIT, w, when) }).catch((x: unknown) => x);
        expect(e, `write ${w} ${when}`).toBeInstanceOf(CardLeftFieldError);
        const landed = readPurse(card).balance === 5000;
        card.powerOn('contactless');
        const r = await k.load({ amount: 5000 });
        outcomes.add(`${landed}/${r.recovered}`);
        expect(r.tacVerified).toBe(true);
        expect(clears(r)).toBe(true);
        expect(readPurse(card), `write ${w} ${when}`).toMatchObject({ balance: 5000, onlineCounter: 1 });
        expect(records).toHaveLength(1);
        expect(k.pending).toEqual([]);
      }
    }
    expect([...outcomes].sort()).toEqual(['false/undefined', 'true/transaction-prove']);
  });

  it("a purchase replaced the load's proof: the kiosk does not load again; recover() reports it 'unproven'", async () => {
    const card = purseCard('card-1', 0);
    const records: LoadResult[] = [];
    const k = kiosk(card, { onRecord: (r) => records.push(r) });
    await expect(k.load({ amount: 5000, card: dropResponseOn(card, INS_CREDIT) })).rejects.toBeInstanceOf(
      CardLeftFieldError,
    );
    card.powerOn('contactless');
    await pos(card).machine.purchase({ amount: 100 }); // the card's proof is now the purchase's
    await expect(k.load({ amount: 5000 })).rejects.toMatchObject({ code: 'RECOVERY_UNDETERMINED' });
    expect(k.pending).toHaveLength(1);
    expect(readPurse(card)).toMatchObject({ balance: 4900, onlineCounter: 1 }); // loaded once
    const out = await k.recover();
    expect(out).toMatchObject({ outcome: 'unproven', record: { reason: 'proof-replaced', amount: 5000 } });
    expect(records).toEqual([out.outcome === 'unproven' ? out.record : undefined]);
    expect(k.pending).toEqual([]);
    expect(readPurse(card)).toMatchObject({ balance: 4900, onlineCounter: 1 });
  });
});

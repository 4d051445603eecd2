/**
 * End to end: metro gates (PSAM gate-1) with the composite (CAPP) purchase against the real e-purse applet.
 */
import { toHex } from '@simtap/sdk/core/bytes';
import { TTI } from '@simtap/sdk/core/pboc';
import { decodeTransitRecord, distanceFare, type TransitOptions } from '@simtap/sdk/machines';
import { describe, expect, it } from 'vitest';
import { clears, pos, purseCard, readPurse, readTravelRecord, terminalIdOf } from './fixtures';

const fare = distanceFare({ base: 200, includedStops: 4, perStop: 50, max: 900 });

describe('metro gates', () => {
  it('enter (no charge) then exit with a distance fare: one debit, travel records on the card', async () => {
    const card = purseCard('card-1', 5000);
    const transit: TransitOptions = { fare };
    const entryGate = pos(card, 'gate-1', { transit }).machine;
    const exitGate = pos(card, 'gate-1', { transit }).machine;

    const entered = await entryGate.enter({ station: { line: 2, station: 3 } });
    expect(entered).toMatchObject({ kind: 'transit-entry', tti: TTI.CAPP_PURCHASE, amount: 0, balanceAfter: 5000 });
    expect(entered.apduCount).toBe(5);
    const onCard = decodeTransitRecord(readTravelRecord(card));
    expect(onCard).toMatchObject({ type: 'entry', station: { line: 2, station: 3 }, amount: 0, balance: 5000 });
    expect(toHex(onCard!.terminalId)).toBe(toHex(terminalIdOf('gate-1')));

    const exited = await exitGate.exit({ station: { line: 2, station: 11 } }); // 8 stops: 200 + 4 × 50
    expect(exited).toMatchObject({ kind: 'transit-exit', amount: 400, balanceBefore: 5000, balanceAfter: 4600 });
    expect(exited.entry).toMatchObject({ type: 'entry', station: { line: 2, station: 3 } });
    expect(exited.apduCount).toBe(6);
    expect(clears(entered) && clears(exited)).toBe(true); // the card's TACs, as clearing verifies them
    expect(decodeTransitRecord(readTravelRecord(card))).toMatchObject({
      type: 'exit',
      station: { line: 2, station: 11 },
      amount: 400,
      balance: 4600,
    });
    const state = readPurse(card);
    expect(state).toMatchObject({ balance: 4600, offlineCounter: 2 });
    expect(state.log.slice(0, 2).map((r) => [r.counter, r.amount, r.tti])).toEqual([
      [1, 400, TTI.CAPP_PURCHASE],
      [0, 0, TTI.CAPP_PURCHASE],
    ]);
  });

  it('a deposit at entry is deducted from the exit fare; a second exit pays the no-entry fare', async () => {
    const card = purseCard('card-1', 5000);
    const gate = pos(card, 'gate-1', { transit: { fare, entryCharge: 300 } }).machine;
    await gate.enter({ station: { line: 1, station: 1 } });
    const out = await gate.exit({ station: { line: 1, station: 3 } });
    expect(out.amount).toBe(0); // 200 fare − 300 deposit, never below 0
    const again = await gate.exit({ station: { line: 1, station: 5 } });
    expect(again).toMatchObject({ amount: 900, entry: undefined });
    expect(clears(out) && clears(again)).toBe(true);
    expect(readPurse(card).balance).toBe(5000 - 300 - 0 - 900);
  });
});

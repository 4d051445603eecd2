/**
 * The tap-time model against the published figures each profile is tied to (docs/tap-time.md), on the real flows:
 * a till's purchase and a metro gate's exit, run by the SDK's machines against the emulated e-purse and PSAM, the
 * estimate read from the record each machine makes. Each tie: the modelled value within ±25 % of the published one.
 * Then the directions the sources give: computing dominates a Java Card SIM (> 80 %, SWP about 3 %), so a faster
 * link saves little there and more on a fast secure element; the Java Card API's crypto calls are what make the
 * SIM slow; the order of the profiles.
 */
import {
  CARD_PROCESSING,
  ISO14443_106,
  ISO14443_212,
  ISO14443_424,
  type LinkProfile,
  READERS,
  RFSIM_2G4,
  SIM_LINKS,
  type TapTimeEstimate,
  type TapTimeOptions,
} from '@simtap/sdk/core/iso14443';
import { DEFAULT_TAP_TIME_OPTIONS, distanceFare } from '@simtap/sdk/machines';
import { describe, expect, it } from 'vitest';
import { pos, purseCard } from './fixtures';

const SIM: TapTimeOptions = { card: CARD_PROCESSING['javacard-sim'], simLink: SIM_LINKS.swp };
const NATIVE: TapTimeOptions = { card: CARD_PROCESSING['native-transit'] };
const FAST: TapTimeOptions = { card: CARD_PROCESSING['fast-se'] };
const RF_SIM: TapTimeOptions = { card: CARD_PROCESSING['javacard-sim'] }; // the same SIM chip, its antenna on the SIM

/** A till's purchase of ¥12.50 on a fresh card, estimated under `options` over `link`. */
async function purchase(options: TapTimeOptions, link: LinkProfile = ISO14443_106): Promise<TapTimeEstimate> {
  const card = purseCard('card-1', 5000);
  const r = await pos(card, 'pos-1', { tapTimeOptions: options, linkProfile: link }).machine.purchase({ amount: 1250 });
  if (r.status !== 'completed') throw new Error(`purchase ${r.status}`);
  return r.tapTime;
}

/** A metro exit (after an entry) on a fresh card: the composite purchase at the exit gate. */
async function metroExit(options: TapTimeOptions, link: LinkProfile = ISO14443_106): Promise<TapTimeEstimate> {
  const card = purseCard('card-1', 5000);
  const transit = { fare: distanceFare({ base: 200, includedStops: 4, perStop: 50, max: 900 }) };
  await pos(card, 'gate-1', { transit }).machine.enter({ station: { line: 2, station: 3 } });
  const gate = pos(card, 'gate-1', { transit, tapTimeOptions: options, linkProfile: link }).machine;
  const exit = await gate.exit({ station: { line: 2, station: 11 } });
  return exit.tapTime;
}

/** `modelled` within ±25 % of `published`. */
function within25(modelled: number, published: number): void {
  expect(modelled).toBeGreaterThanOrEqual(published * 0.75);
  expect(modelled).toBeLessThanOrEqual(published * 1.25);
}

const ms = (us: number) => us / 1000;
/** The card side's share of computing: card time over card + air + link. */
const computing = (e: TapTimeEstimate) => e.split.cardUs / (e.split.cardUs + e.split.airUs + e.split.linkUs);

describe('calibration: each profile against the figure it is tied to', () => {
  it('NFC SIM (Java Card behind SWP) at a gate: ~500 ms per transaction (TfL), > 80 % computing, SWP ~3 %', async () => {
    const e = await purchase({ ...SIM, reader: READERS.gate });
    within25(ms(e.transactionUs), 500);
    expect(computing(e)).toBeGreaterThan(0.8);
    within25(e.split.linkUs / (e.split.cardUs + e.split.airUs + e.split.linkUs), 0.03);
    expect(e.profiles).toEqual({ card: 'javacard-sim', reader: 'gate', simLink: 'swp' });
    // Over TfL's 350 ms wish, around its 500 ms ceiling: "too slow" for the Underground.
    expect(ms(e.transactionUs)).toBeGreaterThan(350);
  });

  it('RF-SIM (the same SIM chip, 2.4 GHz, no SWP) at a gate: ~500 ms (the SIM computes most of it)', async () => {
    const e = await purchase({ ...RF_SIM, reader: READERS.gate }, RFSIM_2G4);
    within25(ms(e.transactionUs), 500);
    expect(e.split.linkUs).toBe(0);
    expect(computing(e)).toBeGreaterThan(0.8);
  });

  it('native transit card at a gate: 200–300 ms to authorise (Oyster, TfL)', async () => {
    const e = await purchase({ ...NATIVE, reader: READERS.gate });
    within25(ms(e.transactionUs), 250);
    expect(ms(e.transactionUs)).toBeGreaterThanOrEqual(200);
    expect(ms(e.transactionUs)).toBeLessThanOrEqual(300);
  });

  it('native transit card at a bus validator: the whole tap ~530 ms, ~100 ms of it polling (Consult Hyperion, 2013)', async () => {
    const e = await purchase({ ...NATIVE, reader: READERS['bus-validator'] });
    within25(ms(e.totalUs), 530);
    expect(ms(e.totalUs - e.transactionUs)).toBeCloseTo(100, 3); // the polling
  });

  it('fast secure element: ~100 ms at 212 kbit/s (FeliCa fare deduction), under 200 ms at 106 (Calypso)', async () => {
    within25(ms((await purchase(FAST, ISO14443_212)).transactionUs), 100);
    expect(ms((await purchase(FAST)).transactionUs)).toBeLessThan(200);
  });
});

describe('calibration: what a change of profile or bit rate does', () => {
  it('4× the bit rate saves little where the card computes (SIM < 5 %) and more on a fast SE (> 10 %)', async () => {
    const simSlow = await purchase(SIM);
    const simFast = await purchase(SIM, ISO14443_424);
    expect(simFast.split.cardUs).toBe(simSlow.split.cardUs);
    expect(simFast.split.airUs).toBeLessThan(simSlow.split.airUs);
    expect(1 - simFast.totalUs / simSlow.totalUs).toBeLessThan(0.05);
    const seSlow = await purchase(FAST);
    const seFast = await purchase(FAST, ISO14443_424);
    expect(1 - seFast.totalUs / seSlow.totalUs).toBeGreaterThan(0.1);
  });

  it('the SWP hop adds about 3 % to a SIM; the Java Card API crypto calls make the SIM slow', async () => {
    const withSwp = await purchase(SIM);
    const without = await purchase({ card: SIM.card });
    within25(withSwp.totalUs / without.totalUs - 1, 0.03);
    // The same SIM with the coprocessor's own 0.15 ms per DES call: the purchase's 5 calls saved ~12 ms each.
    const coprocessor = await purchase({ ...SIM, card: { ...CARD_PROCESSING['javacard-sim'], cryptoCallUs: 150 } });
    expect(ms(withSwp.split.cardUs - coprocessor.split.cardUs)).toBeCloseTo(5 * (12 - 0.15), 1);
  });

  it('orders the profiles: fast SE < native card < NFC SIM ≈ RF-SIM, for a purchase and a metro exit', async () => {
    for (const flow of [purchase, metroExit]) {
      const [fast, native, sim, rf] = await Promise.all([flow(FAST), flow(NATIVE), flow(SIM), flow(RF_SIM, RFSIM_2G4)]);
      expect(fast.totalUs).toBeLessThan(native.totalUs);
      expect(native.totalUs).toBeLessThan(sim.totalUs);
      expect(Math.abs(rf.totalUs / sim.totalUs - 1)).toBeLessThan(0.15);
    }
  });

  it('every record carries the split the machine modelled; the default is the patent SIM behind SWP at a till', async () => {
    const card = purseCard('card-1', 5000);
    const r = await pos(card, 'pos-1').machine.purchase({ amount: 100 });
    if (r.status !== 'completed') throw new Error('expected a completed purchase');
    const { readerUs, airUs, linkUs, cardUs } = r.tapTime.split;
    expect(readerUs + airUs + linkUs + cardUs).toBeCloseTo(r.tapTime.totalUs, 0);
    expect(r.tapTime.profiles).toEqual({
      card: DEFAULT_TAP_TIME_OPTIONS.card!.name,
      reader: DEFAULT_TAP_TIME_OPTIONS.reader!.name,
      simLink: DEFAULT_TAP_TIME_OPTIONS.simLink!.name,
    });
    expect(readerUs).toBe(READERS.till.pollingUs + 4 * READERS.till.perApduUs + READERS.till.decisionUs);
  });
});

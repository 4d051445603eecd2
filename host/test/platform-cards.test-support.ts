/**
 * Support of `platform-cards.test.ts`: the platform core (in-memory SQLite ledger, the reference profile's issuer
 * keys and platform section) beside real emulated cards — the e-purse applet personalized from the profile
 * (card-1 … card-3, balance 0, so every float starts equal to its purse) —, PSAMs and the SDK's machines; and the
 * two adapters between the machines and the platform:
 * - {@link clearingRecord}: a machine's completed purchase record as a `clearing.submitBatch` record (hex, BCD);
 * - {@link PlatformLoadAuthorizer}: a `LoadAuthorizer` that is the platform's wallets (`authorizeLoad` with MAC1,
 *   `confirmLoad` with the card's TAC).
 *
 * The card side is read back from the card itself (SDK `readPurse`, GET TRANSACTION PROVE), never from a machine's
 * record.
 */
import { createPsam } from '@simtap/applet-emu/applets/psam';
import type { Card } from '@simtap/applet-emu/runtime';
import { createPurseCard } from '@simtap/applet-emu/testing';
import { SoftwareIssuerKeyStore } from '@simtap/host/keys';
import { openSqliteLedger } from '@simtap/host/ledger';
import { openPlatform, PLATFORM_ERRORS, type Platform, platformConfigFromProfile } from '@simtap/host/platform';
import type { LoadFunding, PurchaseRecord } from '@simtap/host/wallets';
import { type CardChannel, InProcessChannel } from '@simtap/sdk/card';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { TTI, transactionProveResponse } from '@simtap/sdk/core/pboc';
import { cardProfile, psamProfile, referenceProfile } from '@simtap/sdk/core/profile';
import {
  type Clock,
  ConsumptionMachine,
  type ConsumptionMachineOptions,
  fixedClock,
  getTransactionProveApdu,
  type LoadAuthorizationRequest,
  type LoadAuthorizer,
  type LoadTacCheck,
  PsamDriver,
  type PurchaseResult,
  RechargeMachine,
  type RechargeMachineOptions,
  readPurse,
} from '@simtap/sdk/machines';
import { expect } from 'vitest';

/** The profile's cards, each with its own customer (card-1 ↔ 13800138001, …). */
export const CARD_LABELS = ['card-1', 'card-2', 'card-3'] as const;
export type CardLabel = (typeof CARD_LABELS)[number];

/** The kiosk's terminal ID (the profile names PSAM terminals only). */
export const KIOSK_TERMINAL_ID = '440100000009';

/** A card serial no card was ever issued with. */
export const UNISSUED_SERIAL = '00004401202699999999';

/** The machines' clock: 2026-03-01 10:03:04 in China, one second later at each reading. */
export const machineClock = (): Clock => fixedClock(new Date('2026-03-01T02:03:04Z'), 1000);

/** A card of the world: the emulated card, its serial (hex) and its holder's MSISDN. */
export interface WorldCard {
  readonly label: CardLabel;
  readonly card: Card;
  readonly serial: string;
  readonly msisdn: string;
}

/** The platform and the profile's three cards. */
export interface World {
  readonly platform: Platform;
  readonly cards: Readonly<Record<CardLabel, WorldCard>>;
  close(): Promise<void>;
}

/** Opens the platform (seeded: merchants, customers, cards `active`) and makes the three cards with balance 0. */
export async function openWorld(): Promise<World> {
  const profile = referenceProfile();
  const platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:' }),
    keys: SoftwareIssuerKeyStore.fromProfile(profile),
    config: platformConfigFromProfile(profile),
  });
  const cards = {} as Record<CardLabel, WorldCard>;
  for (const label of CARD_LABELS) {
    const p = cardProfile(label, profile);
    const { card } = createPurseCard({ card: label, personalization: { balance: 0 } });
    cards[label] = { label, card, serial: toHex(p.applicationSerial), msisdn: p.msisdn };
  }
  return { platform, cards, close: () => platform.close() };
}

/** A reader's channel to the card (contactless), powering the field on if a tear left it off. */
export function tap(card: Card): InProcessChannel {
  if (!card.isPowered('contactless')) card.powerOn('contactless');
  return new InProcessChannel({ transmit: (c) => card.transmit('contactless', c) }, { description: 'card' });
}

/** The purse balance as the card itself answers GET BALANCE. */
export async function purseBalance(card: Card): Promise<number> {
  return (await readPurse(tap(card), { counters: 'none', logRecords: 0 })).balance;
}

/** What the card shows at its next contact: balance, online counter and its proof of the load with `counter`. */
export interface NextContact {
  readonly balance: number;
  /** The online counter the card's next load would use: past the torn load's when the card credited it. */
  readonly onlineCounter: number;
  /** GET TRANSACTION PROVE (80 5A, TTI 02, `counter`): MAC2 ‖ TAC as hex, or `undefined` on 9406. */
  readonly proof: { readonly mac2: string; readonly tac: string } | undefined;
}

/** Reads the card at its next contact (SDK `readPurse`, then GET TRANSACTION PROVE of the load's counter). */
export async function nextContact(card: Card, loadCounter: number): Promise<NextContact> {
  const channel = tap(card);
  const purse = await readPurse(channel, { logRecords: 0 });
  const onlineCounter = purse.onlineCounter;
  if (onlineCounter?.source !== 'card') throw new Error('the card did not answer its online counter');
  const r = await channel.transmit(getTransactionProveApdu(TTI.EP_LOAD, loadCounter));
  const sw = (r[r.length - 2]! << 8) | r[r.length - 1]!;
  let proof: NextContact['proof'];
  if (sw === 0x9000) {
    const p = transactionProveResponse.decode(r.subarray(0, r.length - 2));
    proof = { mac2: toHex(p.mac2), tac: toHex(p.tac) };
  } else if (sw !== 0x9406) throw new Error(`GET TRANSACTION PROVE answered ${sw.toString(16)}`);
  return { balance: purse.balance, onlineCounter: onlineCounter.value, proof };
}

/** `hex` with bit 0 of its last byte flipped (a one-bit forgery of a MAC or TAC). */
export function flipBit(hex: string): string {
  const b = fromHex(hex);
  b[b.length - 1]! ^= 0x01;
  return toHex(b);
}

/**
 * The adapter of clearing: a machine's completed purchase record as `clearing.submitBatch` takes it — card serial
 * and terminal ID as hex, date and time as their BCD digits, the card's TAC as the card gave it.
 */
export function clearingRecord(r: PurchaseResult): PurchaseRecord {
  if (r.status !== 'completed') throw new Error(`the purchase is ${r.status}: no TAC to clear`);
  return {
    cardSerial: toHex(r.cardSerial),
    offlineCounter: r.offlineCounter,
    amount: r.amount,
    tti: r.tti,
    terminalId: toHex(r.terminalId),
    terminalSeq: r.terminalTxnSeq,
    date: toHex(r.date),
    time: toHex(r.time),
    tac: toHex(r.tac),
  };
}

/** One load the platform authorized through {@link PlatformLoadAuthorizer}. */
export interface AuthorizedLoad {
  readonly loadId: string;
  readonly cardSerial: string;
  readonly onlineCounter: number;
  readonly amount: number;
  readonly mac2: string;
}

/**
 * A recharge machine's {@link LoadAuthorizer} that is the platform: `authorize` relays the card's INITIALIZE FOR
 * LOAD answer to `wallets.authorizeLoad` (MAC1 checked, funds held) and returns its MAC2; `verifyTac` confirms the
 * load with the card's TAC (`wallets.confirmLoad`): true when it posted, false on `BAD_TAC` (the load stays
 * pending). Every other refusal is thrown to the machine, which then does not credit the card.
 */
export class PlatformLoadAuthorizer implements LoadAuthorizer {
  readonly loads: AuthorizedLoad[] = [];
  readonly #platform: Platform;
  readonly #client: string;
  readonly #funding: LoadFunding;

  constructor(platform: Platform, client: string, funding: LoadFunding) {
    this.#platform = platform;
    this.#client = client;
    this.#funding = funding;
  }

  /** The last load authorized. */
  get last(): AuthorizedLoad {
    const l = this.loads[this.loads.length - 1];
    if (!l) throw new Error('no load was authorized');
    return l;
  }

  async authorize(req: LoadAuthorizationRequest): Promise<{ mac2: Uint8Array }> {
    const cardSerial = toHex(req.cardSerial);
    const random = toHex(req.random);
    const { loadId, mac2 } = await this.#platform.wallets.authorizeLoad({
      client: this.#client,
      idempotencyKey: `load:${cardSerial}:${req.onlineCounter}:${random}`,
      cardSerial,
      terminalId: toHex(req.terminalId),
      amount: req.amount,
      oldBalance: req.oldBalance,
      onlineCounter: req.onlineCounter,
      random,
      mac1: toHex(req.mac1),
      date: toHex(req.date),
      time: toHex(req.time),
      funding: this.#funding,
    });
    this.loads.push({ loadId, cardSerial, onlineCounter: req.onlineCounter, amount: req.amount, mac2 });
    return { mac2: fromHex(mac2) };
  }

  async verifyTac(check: LoadTacCheck): Promise<boolean> {
    const serial = toHex(check.cardSerial);
    const load = this.loads.filter((l) => l.cardSerial === serial && l.onlineCounter === check.onlineCounter).pop();
    if (!load) throw new Error(`no load of ${serial} with online counter ${check.onlineCounter} was authorized`);
    try {
      await this.#platform.wallets.confirmLoad({ loadId: load.loadId, tac: toHex(check.tac) });
      return true;
    } catch (e) {
      if (hasErrorCode(e, PLATFORM_ERRORS, 'BAD_TAC')) return false;
      throw e;
    }
  }
}

/** A top-up kiosk of `client` whose authorizer is the platform, funding its loads from `funding`. */
export function kiosk(
  world: World,
  client: string,
  funding: LoadFunding,
  extra: Partial<RechargeMachineOptions> = {},
): { machine: RechargeMachine; authorizer: PlatformLoadAuthorizer } {
  const authorizer = new PlatformLoadAuthorizer(world.platform, client, funding);
  const machine = new RechargeMachine({
    card: tap(world.cards['card-1'].card),
    authorizer,
    terminalId: fromHex(KIOSK_TERMINAL_ID),
    clock: machineClock(),
    ...extra,
  });
  return { machine, authorizer };
}

/** A till (or gate) with the PSAM `label` of the profile; each sale names the card it taps. */
export function till(
  world: World,
  label = 'pos-1',
  extra: Partial<ConsumptionMachineOptions> = {},
): { machine: ConsumptionMachine; terminalId: string } {
  const psam = createPsam(label);
  psam.powerOn('contact');
  const driver = new PsamDriver(new InProcessChannel({ transmit: (c) => psam.transmit('contact', c) }));
  const machine = new ConsumptionMachine({
    card: tap(world.cards['card-1'].card),
    psam: driver,
    clock: machineClock(),
    ...extra,
  });
  return { machine, terminalId: toHex(psamProfile(label).terminalId) };
}

/** A completed purchase of `amount` by `card` at `machine`, as the clearing record it makes. */
export async function buy(machine: ConsumptionMachine, card: WorldCard, amount: number): Promise<PurchaseRecord> {
  return clearingRecord(await machine.purchase({ amount, card: tap(card.card) }));
}

/**
 * A channel that tears the card (runtime tear API: power lost at the `write`-th persistent write of the command,
 * `before` or `after` it lands) the first time a command with instruction `ins` is sent; the machine sees the card
 * leave the field instead of the answer.
 */
export function tearOn(card: Card, ins: number, write: number, when: 'before' | 'after'): CardChannel {
  const inner = tap(card);
  let armed = true;
  return {
    description: 'tearing channel',
    async transmit(c) {
      if (!armed || c[1] !== ins) return inner.transmit(c);
      armed = false;
      card.tearAt(write, when);
      try {
        return await inner.transmit(c);
      } finally {
        card.clearTear();
      }
    },
    close: () => inner.close(),
  };
}

/** A channel that counts the card's persistent writes while it processes commands with instruction `ins`. */
export function countingWrites(card: Card, ins: number): { channel: CardChannel; writes: () => number } {
  const inner = tap(card);
  let writes = 0;
  const channel: CardChannel = {
    description: 'write-counting channel',
    async transmit(c) {
      const before = card.persistentWrites;
      try {
        return await inner.transmit(c);
      } finally {
        if (c[1] === ins) writes += card.persistentWrites - before;
      }
    },
    close: () => inner.close(),
  };
  return { channel, writes: () => writes };
}

/** A channel that flips bit 0 of the last data byte of the first `ins` answer (a TAC corrupted on the way). */
export function corruptAnswerOn(card: Card, ins: number): CardChannel {
  const inner = tap(card);
  let armed = true;
  return {
    description: 'corrupting channel',
    async transmit(c) {
      const r = await inner.transmit(c);
      if (armed && c[1] === ins && r.length > 2) {
        armed = false;
        const out = r.slice();
        out[out.length - 3]! ^= 0x01;
        return out;
      }
      return r;
    },
    close: () => inner.close(),
  };
}

/** The money of the world: every account the tests look at. */
export interface Money {
  readonly floats: Readonly<Record<CardLabel, number>>;
  readonly purses: Readonly<Record<CardLabel, number>>;
  readonly phones: Readonly<Record<CardLabel, number>>;
  readonly points: Readonly<Record<CardLabel, number>>;
  readonly payable: Readonly<Record<'mart-1' | 'metro-1', number>>;
  readonly entries: number;
}

/** Reads the floats, the purses (from the cards), the phone and points accounts, the payables, the journal length. */
export async function money(world: World): Promise<Money> {
  const { platform } = world;
  const floats = {} as Record<CardLabel, number>;
  const purses = {} as Record<CardLabel, number>;
  const phones = {} as Record<CardLabel, number>;
  const points = {} as Record<CardLabel, number>;
  for (const label of CARD_LABELS) {
    const c = world.cards[label];
    floats[label] = (await platform.wallets.float({ cardSerial: c.serial })).balance;
    purses[label] = await purseBalance(c.card);
    phones[label] = (await platform.customers.phoneAccount({ msisdn: c.msisdn })).balance;
    points[label] = (await platform.points.balance({ msisdn: c.msisdn })).points;
  }
  const payable = {
    'mart-1': (await platform.merchantBalance({ client: 'mart-1' })).payable,
    'metro-1': (await platform.merchantBalance({ client: 'metro-1' })).payable,
  };
  const { entries } = await platform.verify();
  return { floats, purses, phones, points, payable, entries };
}

/**
 * The money check that ends every test: each card's float is its purse as the card answers it (so the floats sum to
 * the purses), no load is left pending, and the ledger verifies (journal chain, zero sum, stored balances).
 */
export async function expectMoneyMirrorsCards(world: World): Promise<void> {
  const m = await money(world);
  const sum = (r: Readonly<Record<CardLabel, number>>) => CARD_LABELS.reduce((s, l) => s + r[l], 0);
  expect(m.floats).toEqual(m.purses);
  expect(sum(m.floats)).toBe(sum(m.purses));
  for (const label of CARD_LABELS)
    expect(await world.platform.wallets.pendingLoads({ cardSerial: world.cards[label].serial })).toEqual([]);
  const v = await world.platform.verify();
  expect(v.problems).toEqual([]);
  expect(v).toMatchObject({ ok: true, sum: 0 });
}

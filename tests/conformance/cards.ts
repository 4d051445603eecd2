/**
 * The card side of the conformance suite: the reference profile's cards as real emulated e-purse applets
 * (`@simtap/applet-emu/testing`, balance 0 so that each purse starts equal to its float on a fresh platform), a
 * PSAM-backed till (the SDK's `ConsumptionMachine`), and the card commands a recharge machine sends — INITIALIZE FOR
 * LOAD, CREDIT FOR LOAD, GET TRANSACTION PROVE — with the card's own answers (MAC1, TAC, proofs): nothing here
 * computes a MAC or a TAC. Small parts of `host/test/platform-cards.test-support.ts`, copied (a root test may not
 * import another package's test folder).
 */
import { createPsam } from '@simtap/applet-emu/applets/psam';
import type { Card } from '@simtap/applet-emu/runtime';
import { createPurseCard } from '@simtap/applet-emu/testing';
import { InProcessChannel } from '@simtap/sdk/card';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { balanceResponse, initForLoadResponse, TTI, transactionProveResponse } from '@simtap/sdk/core/pboc';
import { cardProfile, psamProfile } from '@simtap/sdk/core/profile';
import {
  type Clock,
  ConsumptionMachine,
  creditForLoadApdu,
  EPURSE_DEFAULT_AID,
  fixedClock,
  getBalanceApdu,
  getTransactionProveApdu,
  INITIALIZE_P1,
  initializeApdu,
  PsamDriver,
  readPurse,
  selectByNameApdu,
} from '@simtap/sdk/machines';

/** The profile's cards, each with its own customer (card-1 ↔ 13800138001, …). */
export const CARD_LABELS = ['card-1', 'card-2', 'card-3'] as const;
export type CardLabel = (typeof CARD_LABELS)[number];

/** A top-up kiosk's terminal ID (the profile names PSAM terminals only). */
export const KIOSK_TERMINAL_ID = '440100000009';
/** A card serial no card was ever issued with. */
export const UNISSUED_SERIAL = '00004401202699999999';
/** The purse's maximum balance in the reference profile (fen). */
export const MAX_BALANCE = 100_000;

const INS_CREDIT_FOR_LOAD = 0x52;

/** One emulated card of the profile. */
export interface EmulatedCard {
  readonly label: CardLabel;
  readonly card: Card;
  /** The PBOC application serial, 20 hex digits (uppercase). */
  readonly serial: string;
  readonly msisdn: string;
  /** The DLK key index INITIALIZE FOR LOAD names. */
  readonly keyIndex: number;
}

/** The profile's three cards, personalized with balance 0. */
export function emulatedCards(): Readonly<Record<CardLabel, EmulatedCard>> {
  const out = {} as Record<CardLabel, EmulatedCard>;
  for (const label of CARD_LABELS) {
    const p = cardProfile(label);
    const { card } = createPurseCard({ card: label, personalization: { balance: 0 } });
    out[label] = { label, card, serial: toHex(p.applicationSerial), msisdn: p.msisdn, keyIndex: p.keyIndex };
  }
  return out;
}

/** The machines' clock: 2026-03-01 10:03:04 in China, one second later at each reading. */
export const machineClock = (): Clock => fixedClock(new Date('2026-03-01T02:03:04Z'), 1000);

/** A reader's channel to the card (contactless), powering the field on if a tear left it off. */
export function tap(card: Card): InProcessChannel {
  if (!card.isPowered('contactless')) card.powerOn('contactless');
  return new InProcessChannel({ transmit: (c) => card.transmit('contactless', c) }, { description: 'card' });
}

/** A command to the card (contactless, powered on first if needed): its data and status word. */
export function apdu(card: Card, command: Uint8Array): { data: Uint8Array; sw: number } {
  if (!card.isPowered('contactless')) card.powerOn('contactless');
  const r = card.transmit('contactless', command);
  return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
}

function expectOk(what: string, r: { data: Uint8Array; sw: number }): Uint8Array {
  if (r.sw !== 0x9000) throw new Error(`${what} answered ${r.sw.toString(16).toUpperCase()}`);
  return r.data;
}

/** SELECT of the e-purse (the start of every contact). */
export function selectPurse(c: EmulatedCard): void {
  expectOk('SELECT', apdu(c.card, selectByNameApdu(EPURSE_DEFAULT_AID)));
}

/** The card's INITIALIZE FOR LOAD answer, as `wallet.authorizeLoad` takes its fields (hex uppercase). */
export interface InitForLoad {
  readonly oldBalance: number;
  readonly onlineCounter: number;
  readonly random: string;
  readonly mac1: string;
}

/** SELECT, then INITIALIZE FOR LOAD (EP) of `amount` at `terminalId`: the card's own answer. */
export function initializeForLoad(c: EmulatedCard, amount: number, terminalId = KIOSK_TERMINAL_ID): InitForLoad {
  selectPurse(c);
  const data = expectOk(
    'INITIALIZE FOR LOAD',
    apdu(c.card, initializeApdu(INITIALIZE_P1.LOAD, c.keyIndex, amount, fromHex(terminalId))),
  );
  const r = initForLoadResponse.decode(data);
  return { oldBalance: r.oldBalance, onlineCounter: r.onlineCounter, random: toHex(r.random), mac1: toHex(r.mac1) };
}

/** CREDIT FOR LOAD with the platform's MAC2: the card's TAC (hex), or the status word when the card refused. */
export function creditForLoad(c: EmulatedCard, date: string, time: string, mac2: string): string | number {
  const r = apdu(c.card, creditForLoadApdu(fromHex(date), fromHex(time), fromHex(mac2)));
  return r.sw === 0x9000 ? toHex(r.data) : r.sw;
}

/**
 * CREDIT FOR LOAD torn by power loss at the card's `write`-th persistent write of the command, `before` it lands
 * or `after`: the answer is lost (the card leaves the field). Answers the number of writes the command made.
 */
export function tornCreditForLoad(
  c: EmulatedCard,
  date: string,
  time: string,
  mac2: string,
  write: number,
  when: 'before' | 'after',
): void {
  c.card.tearAt(write, when);
  try {
    apdu(c.card, creditForLoadApdu(fromHex(date), fromHex(time), fromHex(mac2)));
    throw new Error('CREDIT FOR LOAD answered: the tear did not strike');
  } catch (e) {
    if ((e as { code?: string }).code !== 'CARD_TORN') throw e;
  } finally {
    c.card.clearTear();
  }
}

/** CREDIT FOR LOAD with the platform's MAC2, counting the card's persistent writes: the TAC and the count. */
export function countedCreditForLoad(
  c: EmulatedCard,
  date: string,
  time: string,
  mac2: string,
): { tac: string; writes: number } {
  const before = c.card.persistentWrites;
  const tac = creditForLoad(c, date, time, mac2);
  if (typeof tac !== 'string') throw new Error(`CREDIT FOR LOAD answered ${tac.toString(16)}`);
  return { tac, writes: c.card.persistentWrites - before };
}

/** The purse balance as the card answers GET BALANCE. */
export function purseBalance(c: EmulatedCard): number {
  selectPurse(c);
  return balanceResponse.decode(expectOk('GET BALANCE', apdu(c.card, getBalanceApdu()))).balance | 0;
}

/** What the card shows at its next contact: balance, online counter and its proof of the load at `loadCounter`. */
export interface NextContact {
  readonly balance: number;
  /** The online counter the card's next load would use: past the torn load's when the card credited it. */
  readonly onlineCounter: number;
  /** GET TRANSACTION PROVE (TTI 02, the load's counter): MAC2 ‖ TAC as hex, or `undefined` on 9406. */
  readonly proof: { readonly mac2: string; readonly tac: string } | undefined;
}

/** Reads the card at its next contact (SDK `readPurse`, then GET TRANSACTION PROVE of the load's counter). */
export async function nextContact(c: EmulatedCard, loadCounter: number): Promise<NextContact> {
  const channel = tap(c.card);
  const purse = await readPurse(channel, { logRecords: 0 });
  const onlineCounter = purse.onlineCounter;
  if (onlineCounter?.source !== 'card') throw new Error('the card did not answer its online counter');
  const r = apdu(c.card, getTransactionProveApdu(TTI.EP_LOAD, loadCounter));
  let proof: NextContact['proof'];
  if (r.sw === 0x9000) {
    const p = transactionProveResponse.decode(r.data);
    proof = { mac2: toHex(p.mac2), tac: toHex(p.tac) };
  } else if (r.sw !== 0x9406) throw new Error(`GET TRANSACTION PROVE answered ${r.sw.toString(16)}`);
  return { balance: purse.balance, onlineCounter: onlineCounter.value, proof };
}

/** `hex` with bit 0 of its last byte flipped (a one-bit forgery of a MAC or TAC). */
export function flipBit(hex: string): string {
  const b = fromHex(hex);
  b[b.length - 1]! ^= 0x01;
  return toHex(b);
}

/** A till with the PSAM `label` of the profile (its own PSAM card); each sale names the card it taps. */
export function till(cards: Readonly<Record<CardLabel, EmulatedCard>>, label = 'pos-1') {
  const psam = createPsam(label);
  psam.powerOn('contact');
  const driver = new PsamDriver(new InProcessChannel({ transmit: (c) => psam.transmit('contact', c) }));
  const machine = new ConsumptionMachine({ card: tap(cards['card-1'].card), psam: driver, clock: machineClock() });
  return { machine, terminalId: toHex(psamProfile(label).terminalId) };
}

/** A channel that tears the card at the `write`-th persistent write of the first CREDIT FOR LOAD sent through it. */
export function tearingChannel(card: Card, write: number, when: 'before' | 'after') {
  const inner = tap(card);
  let armed = true;
  return {
    description: 'tearing channel',
    async transmit(c: Uint8Array): Promise<Uint8Array> {
      if (!armed || c[1] !== INS_CREDIT_FOR_LOAD) return inner.transmit(c);
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

/** A channel to the card that counts its persistent writes while it processes CREDIT FOR LOAD. */
export function countingChannel(card: Card) {
  const inner = tap(card);
  let writes = 0;
  const channel = {
    description: 'write-counting channel',
    async transmit(c: Uint8Array): Promise<Uint8Array> {
      const before = card.persistentWrites;
      try {
        return await inner.transmit(c);
      } finally {
        if (c[1] === INS_CREDIT_FOR_LOAD) writes += card.persistentWrites - before;
      }
    },
    close: () => inner.close(),
  };
  return { channel, writes: () => writes };
}

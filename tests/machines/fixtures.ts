/**
 * End-to-end fixtures for the machine tests: a card of the reference profile with the real e-purse applet, PSAM
 * cards `pos-1` / `gate-1` with the real PSAM applet, in-process channels to them, and read-backs of the purse
 * state straight from the card (GET BALANCE, INITIALIZE with amount 0 for the counters, READ RECORD).
 *
 * Every import of `@simtap/applet-emu` lives in this file.
 */

import { installEpurse, personalizeEpurse } from '@simtap/applet-emu/applets/epurse';
import { createPsam } from '@simtap/applet-emu/applets/psam';
import { Card, type CardInterface } from '@simtap/applet-emu/runtime';
import { type CardChannel, InProcessChannel, transportError } from '@simtap/sdk/card';
import { fromHex, readUint } from '@simtap/sdk/core/bytes';
import { decodeTransactionLogRecord, IssuerTacVerifier, type TransactionLogRecord } from '@simtap/sdk/core/pboc';
import { psamProfile, referenceProfile } from '@simtap/sdk/core/profile';
import {
  ConsumptionMachine,
  type ConsumptionMachineOptions,
  fixedClock,
  IssuerKeyAuthorizer,
  type LoadResult,
  PsamDriver,
  type PurchaseResult,
  RechargeMachine,
  type RechargeMachineOptions,
} from '@simtap/sdk/machines';

export { Card };

/** A deterministic random source for the card (reproducible sessions). */
export function counterRandom(seed = 1): (n: number) => Uint8Array {
  let x = seed;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      out[i] = x >>> 24;
    }
    return out;
  };
}

/** card-1 of the reference profile with the e-purse installed and personalized, powered on (contactless). */
export function purseCard(label = 'card-1', balance?: number): Card {
  const card = new Card({ random: counterRandom(), logger: { error: () => undefined } });
  installEpurse(card);
  personalizeEpurse(card, label, balance === undefined ? {} : { balance });
  card.powerOn('contactless');
  return card;
}

/** The card as the contactless reader sees it. */
export function contactless(card: Card, iface: CardInterface = 'contactless'): InProcessChannel {
  return new InProcessChannel({ transmit: (c) => card.transmit(iface, c) }, { description: 'card (contactless)' });
}

/** A PSAM card of the profile (`pos-1`, `gate-1`), powered on, with a channel to it. */
export function psamCard(
  label = 'pos-1',
  options: Parameters<typeof createPsam>[1] = {},
): { card: Card; channel: InProcessChannel } {
  const card = createPsam(label, options);
  card.powerOn('contact');
  return { card, channel: new InProcessChannel({ transmit: (c) => card.transmit('contact', c) }) };
}

/** The fixed machine clock of the tests: 2026-03-01 10:03:04 in China. */
export const CLOCK_DATE = new Date('2026-03-01T02:03:04Z');

/** A POS (or gate) over `card` with a fresh PSAM `label`. */
export function pos(
  card: Card,
  label = 'pos-1',
  extra: Partial<ConsumptionMachineOptions> = {},
  psamOptions: Parameters<typeof createPsam>[1] = {},
): { machine: ConsumptionMachine; psam: Card; driver: PsamDriver; channel: CardChannel } {
  const sam = psamCard(label, psamOptions);
  const channel = contactless(card);
  const driver = new PsamDriver(sam.channel);
  const machine = new ConsumptionMachine({
    card: channel,
    psam: driver,
    clock: fixedClock(CLOCK_DATE, 1000),
    ...extra,
  });
  return { machine, psam: sam.card, driver, channel };
}

/**
 * Clearing's check, as wallet management makes it: the issuer's TAC verifier built from the reference profile's
 * TAC master key. No machine or PSAM holds this key.
 */
export const clearing: IssuerTacVerifier = new IssuerTacVerifier(referenceProfile().issuer.masterKeys.tacMasterKey);

/** True when the record is completed and its TAC (as the card gave it) verifies under the issuer's TAC key. */
export function clears(r: PurchaseResult | LoadResult): boolean {
  if (r.status !== 'completed') return false;
  return 'offlineCounter' in r
    ? clearing.verifyPurchase(r, r.cardSerial)
    : clearing.verifyLoad({ ...r, newBalance: r.balanceAfter }, r.cardSerial);
}

/** A top-up kiosk over `card` with the issuer-key authorizer of the reference profile. */
export function kiosk(card: Card, extra: Partial<RechargeMachineOptions> = {}): RechargeMachine {
  return new RechargeMachine({
    card: contactless(card),
    authorizer: IssuerKeyAuthorizer.fromProfile(referenceProfile()),
    terminalId: fromHex('440100000009'),
    clock: fixedClock(CLOCK_DATE, 1000),
    ...extra,
  });
}

/** The terminal ID of a profile PSAM. */
export const terminalIdOf = (label: string): Uint8Array => psamProfile(label).terminalId;

function send(card: Card, hex: string): { data: Uint8Array; sw: number } {
  const r = card.transmit('contactless', fromHex(hex));
  return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
}

/** The purse as the card reports it: balance, offline and online counters, transaction log (newest first). */
export interface PurseState {
  balance: number;
  offlineCounter: number;
  onlineCounter: number;
  log: TransactionLogRecord[];
}

/**
 * Reads the purse state back from the card (powering the contactless interface on if a tear left it off):
 * GET BALANCE, INITIALIZE FOR PURCHASE / LOAD of 0 fen (counters; the sessions are dropped), READ RECORD EF 0x18.
 */
export function readPurse(card: Card): PurseState {
  if (!card.isPowered('contactless')) card.powerOn('contactless');
  const sel = send(card, '00A4040008A00000063201010500');
  if (sel.sw !== 0x9000) throw new Error(`SELECT: ${sel.sw.toString(16)}`);
  const bal = send(card, '805C000204');
  const p = send(card, '805001020B0100000000000000000000' + '0F');
  const l = send(card, '805000020B0100000000000000000000' + '10');
  if (bal.sw !== 0x9000 || p.sw !== 0x9000 || l.sw !== 0x9000) throw new Error('purse read-back failed');
  const log: TransactionLogRecord[] = [];
  for (let n = 1; n <= 10; n++) {
    const r = send(card, `00B2${n.toString(16).padStart(2, '0')}C417`);
    if (r.sw !== 0x9000 || r.data.every((b) => b === 0)) break;
    log.push(decodeTransactionLogRecord(r.data.slice()));
  }
  return {
    balance: readUint(bal.data, 0, 4) | 0,
    offlineCounter: readUint(p.data, 4, 2),
    onlineCounter: readUint(l.data, 4, 2),
    log,
  };
}

/** The travel record (CAPP file 0x17, record 1) as stored on the card. */
export function readTravelRecord(card: Card): Uint8Array {
  if (!card.isPowered('contactless')) card.powerOn('contactless');
  send(card, '00A4040008A00000063201010500');
  const r = send(card, '00B201BC30');
  if (r.sw !== 0x9000) throw new Error(`READ RECORD: ${r.sw.toString(16)}`);
  return r.data.slice();
}

/** Counts the persistent writes the card makes while processing commands with instruction `ins`. */
export function writesOf(card: Card, inner: CardChannel, ins: number): { channel: CardChannel; writes: () => number } {
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

/**
 * A channel that tears the card (runtime tear API: power lost at the `write`-th persistent write of the command,
 * `before` or `after` it lands) the first time a command with instruction `ins` is sent. The machine sees the
 * card leave the field (TransportError CARD_REMOVED) instead of the response.
 */
export function tearOn(card: Card, ins: number, write: number, when: 'before' | 'after'): CardChannel {
  const inner = contactless(card);
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

/** A channel that lets the card process the first `ins` command, then drops its response (card pulled away). */
export function dropResponseOn(card: Card, ins: number): CardChannel {
  const inner = contactless(card);
  let armed = true;
  return {
    description: 'response-dropping channel',
    async transmit(c) {
      const r = await inner.transmit(c);
      if (armed && c[1] === ins) {
        armed = false;
        card.powerOff('contactless');
        throw transportError('CARD_REMOVED', 'card left the field before the response');
      }
      return r;
    },
    close: () => inner.close(),
  };
}

/** A channel that flips a bit of the last data byte of the first `ins` response (a forged/corrupted answer). */
export function corruptResponseOn(card: Card, ins: number): CardChannel {
  const inner = contactless(card);
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

/**
 * A channel whose EF 0x18 log answers are forged: READ RECORD `n` of SFI 0x18 returns `records[n - 1]` (23 bytes)
 * when given, else what the card answers. Stands for a card (or a reader in the middle) lying about its log.
 */
export function forgedLogOn(card: Card, records: readonly Uint8Array[]): CardChannel {
  const inner = contactless(card);
  return {
    description: 'log-forging channel',
    async transmit(c) {
      const forged = c[1] === 0xb2 && c[3] === ((0x18 << 3) | 4) ? records[c[2]! - 1] : undefined;
      if (forged === undefined) return inner.transmit(c);
      const out = new Uint8Array(forged.length + 2);
      out.set(forged, 0);
      out[forged.length] = 0x90;
      return out;
    },
    close: () => inner.close(),
  };
}

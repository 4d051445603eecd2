/**
 * What the sub-platform tests share: a platform on an in-memory SQLite ledger with the reference profile (a clock the
 * test moves), and the card's side of the cryptography computed from the profile's per-card keys — the MAC1 and TAC
 * a card would make — so the platform's checks are exercised without a card (the tests in host/test run real cards).
 */
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { type ErrorTable, hasErrorCode } from '@simtap/sdk/core/errors';
import { loadMac1, loadSessionKey, loadTac, purchaseTac, TTI } from '@simtap/sdk/core/pboc';
import { cardProfile, referenceProfile } from '@simtap/sdk/core/profile';
import { expect } from 'vitest';
import { SoftwareIssuerKeyStore } from '../keys';
import { openSqliteLedger } from '../ledger';
import { openPlatform, type Platform, type PlatformConfig, platformConfigFromProfile } from './index';

export const profile = referenceProfile();
export const CARD1 = cardProfile('card-1');
export const CARD2 = cardProfile('card-2');
export const SERIAL1 = toHex(CARD1.applicationSerial);
export const SERIAL2 = toHex(CARD2.applicationSerial);
export const TERMINAL = '440100000009';
export const DATE = '20261203';
export const TIME = '101500';

/** A platform on a fresh in-memory ledger (the profile's configuration, with `config` over it), and its clock. */
export async function testPlatform(
  config: Partial<PlatformConfig> = {},
): Promise<{ platform: Platform; clock: { now: number } }> {
  const clock = { now: Date.UTC(2026, 11, 3, 10, 0, 0) };
  const platform = await openPlatform({
    ledger: openSqliteLedger({ path: ':memory:', now: () => clock.now }),
    keys: SoftwareIssuerKeyStore.fromProfile(profile),
    config: { ...platformConfigFromProfile(profile), ...config },
    now: () => clock.now,
  });
  return { platform, clock };
}

/** The INITIALIZE FOR LOAD answer card `label` would give, as `wallet.authorizeLoad` params (MAC1 from its DLK). */
export function loadParams(
  label: string,
  o: { amount: number; oldBalance: number; onlineCounter: number; random?: string; key: string; client?: string },
) {
  const card = cardProfile(label);
  const random = o.random ?? '1A2B3C4D';
  const seslk = loadSessionKey(card.keys.DLK.key, fromHex(random), o.onlineCounter);
  const mac1 = loadMac1({
    sessionKey: seslk,
    oldBalance: o.oldBalance,
    amount: o.amount,
    tti: TTI.EP_LOAD,
    terminalId: fromHex(TERMINAL),
  });
  return {
    client: o.client ?? 'mart-1',
    idempotencyKey: o.key,
    cardSerial: toHex(card.applicationSerial),
    terminalId: TERMINAL,
    amount: o.amount,
    oldBalance: o.oldBalance,
    onlineCounter: o.onlineCounter,
    random,
    mac1: toHex(mac1),
    date: DATE,
    time: TIME,
    funding: { source: 'phoneAccount' as const, msisdn: card.msisdn },
  };
}

/** The load TAC card `label` makes for a load of `amount` onto `oldBalance` at `onlineCounter`. */
export function loadTacOf(label: string, o: { amount: number; oldBalance: number; onlineCounter: number }): string {
  const card = cardProfile(label);
  return toHex(
    loadTac({
      tacKey: card.tacSingleDesKey,
      newBalance: o.oldBalance + o.amount,
      onlineCounter: o.onlineCounter,
      amount: o.amount,
      tti: TTI.EP_LOAD,
      terminalId: fromHex(TERMINAL),
      date: fromHex(DATE),
      time: fromHex(TIME),
    }),
  );
}

/** A purchase record card `label` would make (its TAC from the card's TAC key). */
export function purchaseRecord(label: string, offlineCounter: number, amount: number, terminalSeq = offlineCounter) {
  const card = cardProfile(label);
  const tac = purchaseTac({
    tacKey: card.tacSingleDesKey,
    amount,
    tti: TTI.EP_PURCHASE,
    terminalId: fromHex(TERMINAL),
    terminalTxnSeq: terminalSeq,
    date: fromHex(DATE),
    time: fromHex(TIME),
  });
  return {
    cardSerial: toHex(card.applicationSerial),
    offlineCounter,
    amount,
    tti: TTI.EP_PURCHASE,
    terminalId: TERMINAL,
    terminalSeq,
    date: DATE,
    time: TIME,
    tac: toHex(tac),
  };
}

/** Flips one bit of a hex string. */
export function flipHex(hex: string, bit = 0): string {
  const b = fromHex(hex);
  b[bit >> 3]! ^= 0x80 >> (bit & 7);
  return toHex(b);
}

/** Expects `p` to reject with `code` of `table`. */
export async function rejectsWithCode(p: Promise<unknown>, table: ErrorTable, code: string): Promise<void> {
  const e = await p.then(
    () => new Error(`resolved; expected ${code}`),
    (err: unknown) => err,
  );
  if (!hasErrorCode(e, table, code)) throw e;
  expect(hasErrorCode(e, table, code)).toBe(true);
}

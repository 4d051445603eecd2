/**
 * The supermarket's application system, run against a platform: the back office (mart-1), two tills, a kiosk at the
 * service desk, and customers with a SIM e-purse and a phone account. The day: phone accounts funded in cash at the
 * service desk, purses loaded at the kiosk, baskets checked out — by the purse when it covers the basket (records
 * cleared by the back office, points by the merchant's rule), otherwise charged online to the phone account — one
 * online charge sent again with its key, and the books read back.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Card } from '@simtap/applet-emu/runtime';
import { createSim } from '@simtap/applet-emu/sim';
import { PlatformClient } from '@simtap/sdk/clients';
import { toHex } from '@simtap/sdk/core/bytes';
import { defineErrors, SimtapError } from '@simtap/sdk/core/errors';
import { cardProfile, referenceProfile, type SimtapProfile } from '@simtap/sdk/core/profile';
import { type Clock, RechargeMachine, readPurse } from '@simtap/sdk/machines';
import { BackOffice } from './back-office';
import { ContactlessReader, type Sale, Till } from './till';

/** The platform client of the supermarket. */
export const MART_CLIENT_ID = 'mart-1';
/** The merchant's earn rule (the reference profile's M-MART-1). */
export const POINTS_PER_YUAN = 1;
/** The tills and their PSAMs' terminal IDs; the kiosk's terminal ID. */
export const TILLS = [
  { id: 'till-1', terminalId: '440100000201' },
  { id: 'till-2', terminalId: '440100000202' },
] as const;
export const KIOSK_TERMINAL_ID = '440100000209';

/** Refusals of {@link runSupermarket} before the day starts. */
export const SUPERMARKET_ERRORS = defineErrors({
  PURSE_NOT_FLOAT: {
    class: 'SupermarketError',
    when: "a customer's purse, read from the SIM, is not the platform's float of the card (the card was used on this platform before)",
    fix: 'run against a fresh platform, or give customers whose SIMs hold their floats',
  },
});

/** A refusal of {@link runSupermarket}. */
export class SupermarketError extends SimtapError<keyof typeof SUPERMARKET_ERRORS> {}

/** A customer: a card of the profile in a SIM (its e-purse), and the holder's phone number. */
export interface Customer {
  readonly label: string;
  readonly msisdn: string;
  /** Application serial, hex. */
  readonly serial: string;
  readonly sim: Card;
}

/**
 * The SIM of `label` with its e-purse personalized at `balance` fen (default 0): right only when the platform's
 * float of the card is that balance (a card never loaded: 0).
 */
export function createCustomer(label: string, profile: SimtapProfile = referenceProfile(), balance = 0): Customer {
  const cp = cardProfile(label, profile);
  return {
    label,
    msisdn: cp.msisdn,
    serial: toHex(cp.applicationSerial).toUpperCase(),
    sim: createSim({ profile, card: label, personalized: { balance } }),
  };
}

/** A basket: which till, which customer (index into the customers), how much (fen). */
export interface Basket {
  readonly till: (typeof TILLS)[number]['id'];
  readonly customer: number;
  readonly amount: number;
}

/** The day: cash paid into phone accounts and purses (by customer index), then the baskets. */
export interface Scenario {
  readonly phoneTopUps: readonly number[];
  readonly loads: readonly number[];
  readonly baskets: readonly Basket[];
}

/** The default day: three customers, nine baskets — four of them above their purse (two by a single fen). */
export const DEFAULT_SCENARIO: Scenario = {
  phoneTopUps: [10_000, 10_000, 8_000],
  loads: [5_000, 2_000, 500],
  baskets: [
    { till: 'till-1', customer: 0, amount: 1_250 },
    { till: 'till-2', customer: 1, amount: 1_880 },
    { till: 'till-1', customer: 2, amount: 2_345 }, // purse 5.00: online
    { till: 'till-2', customer: 0, amount: 3_750 }, // exactly the purse: purse
    { till: 'till-1', customer: 1, amount: 121 }, // purse 1.20: online
    { till: 'till-2', customer: 2, amount: 499 },
    { till: 'till-1', customer: 0, amount: 99 }, // purse 0: online, no point
    { till: 'till-2', customer: 1, amount: 120 }, // exactly the purse
    { till: 'till-1', customer: 2, amount: 4_567 }, // online
  ],
};

/** Options of {@link runSupermarket}. */
export interface SupermarketOptions {
  /** The platform, `ws://host:port`. */
  readonly url: string;
  /** mart-1's secret (hex); default the reference profile's. */
  readonly secret?: string;
  /** The customers (default card-1..3 of the reference profile, purses 0: their floats must be 0). */
  readonly customers?: readonly Customer[];
  readonly scenario?: Scenario;
  /** The machines' clock; default the system's. */
  readonly clock?: Clock;
  /** Where the tills keep their disks (default a temporary directory, removed at the end). */
  readonly workDir?: string;
  /** Records the back office clears at once (default 4). */
  readonly clearEvery?: number;
  /** Log lines of the back office. */
  readonly log?: (line: string) => void;
}

/** A customer at the end of the day. */
export interface CustomerReport {
  readonly label: string;
  readonly msisdn: string;
  readonly serial: string;
  /** The purse as read from the card, fen. */
  readonly purse: number;
  /** The platform's float of the card, fen. */
  readonly float: number;
  readonly phoneAccountBefore: number;
  readonly phoneAccount: number;
  readonly pointsBefore: number;
  readonly points: number;
}

/** A check of the report. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
}

/** What {@link runSupermarket} returns. */
export interface SupermarketReport {
  readonly tills: readonly {
    readonly id: string;
    readonly configVersion: number | undefined;
    readonly records: number;
  }[];
  readonly loads: readonly { readonly label: string; readonly amount: number; readonly balanceAfter: number }[];
  readonly sales: readonly Sale[];
  readonly batches: readonly {
    readonly records: number;
    readonly accepted: number;
    readonly settled: number;
    readonly points: number;
    readonly rejected: number;
  }[];
  readonly charges: { readonly count: number; readonly amount: number; readonly points: number };
  /** The first online charge sent again with its key: the same answer, nothing moved. */
  readonly retry:
    | {
        readonly idempotencyKey: string;
        readonly sameAnswer: boolean;
        readonly phoneAccountMoved: number;
        readonly payableMoved: number;
      }
    | undefined;
  readonly customers: readonly CustomerReport[];
  readonly merchant: {
    readonly payableBefore: number;
    readonly payable: number;
    /** Fen cleared from purse records. */
    readonly cleared: number;
    /** Fen charged online. */
    readonly charged: number;
  };
  readonly checks: readonly Check[];
  /** `ledger.verify` of the platform, when the caller could ask it (an operator's session). */
  readonly ledgerVerified?: boolean;
}

/** Points the merchant's rule awards for one payment (the platform's: floor(amount / 100 × points per yuan)). */
export function pointsFor(amount: number): number {
  return Math.floor((amount * POINTS_PER_YUAN) / 100);
}

/**
 * Runs the supermarket's day against the platform at `url` and reads the books back.
 * @throws the platform's or a machine's error when a step fails (a refused load, a card refused, …).
 */
export async function runSupermarket(options: SupermarketOptions): Promise<SupermarketReport> {
  const profile = referenceProfile();
  const secret =
    options.secret ?? toHex(profile.platform.clients.find((c) => c.id === MART_CLIENT_ID)!.secret).toUpperCase();
  const scenario = options.scenario ?? DEFAULT_SCENARIO;
  const customers = options.customers ?? ['card-1', 'card-2', 'card-3'].map((l) => createCustomer(l, profile));
  const ownDir = options.workDir === undefined;
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'simtap-supermarket-'));
  const platform = new PlatformClient({ url: options.url, clientId: MART_CLIENT_ID, secret });
  const tillSecrets = TILLS.map(() => randomBytes(32).toString('hex').toUpperCase());
  let office: BackOffice | undefined;
  const tills: Till[] = [];
  try {
    const before = await Promise.all(customers.map((c) => books(platform, c)));
    for (const [i, c] of customers.entries()) {
      const purse = await purseOf(c);
      if (purse !== before[i]!.float)
        throw new SupermarketError(
          'PURSE_NOT_FLOAT',
          `${c.label}: the SIM's purse is ${yuan(purse)} but the platform's float is ${yuan(before[i]!.float)} — was the card used on this platform before?`,
        );
    }
    const payableBefore = (await platform.merchants.balance()).payable;

    office = await BackOffice.open({
      platform,
      tills: TILLS.map((t, i) => ({ id: t.id, secret: tillSecrets[i]! })),
      clearEvery: options.clearEvery ?? 4,
      ...(options.log ? { log: options.log } : {}),
    });
    const configured = TILLS.map((t) => {
      const till = new Till({
        id: t.id,
        secret: tillSecrets[TILLS.indexOf(t)]!,
        hubUrl: office!.url,
        blacklistPublicKey: office!.blacklistPublicKey,
        bufferDir: join(workDir, t.id),
        terminalId: t.terminalId,
        ...(options.clock ? { clock: options.clock } : {}),
      });
      tills.push(till);
      return new Promise<void>((resolve) => {
        const off = till.agent.on('config', () => {
          off();
          resolve();
        });
      });
    });
    await Promise.all(tills.map((t) => t.start()));
    await Promise.all(configured);

    // The service desk: cash into phone accounts; cash loaded onto purses at the kiosk.
    for (const [i, amount] of scenario.phoneTopUps.entries())
      if (amount > 0) await platform.customers.topUpPhoneAccount({ msisdn: customers[i]!.msisdn, amount });
    const kioskReader = new ContactlessReader('kiosk reader');
    const kiosk = new RechargeMachine({
      card: kioskReader,
      authorizer: office.loads,
      terminalId: Uint8Array.from(Buffer.from(KIOSK_TERMINAL_ID, 'hex')),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const loads: SupermarketReport['loads'][number][] = [];
    for (const [i, amount] of scenario.loads.entries()) {
      if (amount <= 0) continue;
      kioskReader.present(customers[i]!.sim);
      const load = await kiosk.load({ amount });
      kioskReader.remove();
      loads.push({ label: customers[i]!.label, amount, balanceAfter: load.balanceAfter });
    }

    // The tills.
    const sales: Sale[] = [];
    for (const b of scenario.baskets) {
      const till = tills.find((t) => t.id === b.till)!;
      sales.push(await till.checkout(customers[b.customer]!.sim, b.amount));
    }

    // Closing time: every record at the back office, everything cleared.
    await Promise.all(tills.map((t) => t.delivered()));
    await office.flush();

    // A lost answer: the first online charge sent again with its key — after closing, so that no clearing batch
    // moves the payable while the retry is measured.
    let retry: SupermarketReport['retry'];
    const first = sales.find((s) => s.charge);
    if (first?.charge) {
      const owner = customers.find((c) => c.serial === first.cardSerial)!;
      const phoneBefore = (await platform.customers.phoneAccount({ msisdn: owner.msisdn })).balance;
      const payable0 = (await platform.merchants.balance()).payable;
      const again = await tills.find((t) => t.id === first.till)!.retryCharge(first);
      retry = {
        idempotencyKey: first.charge.request.idempotencyKey,
        sameAnswer: again.transferId === first.charge.transferId && again.points === first.charge.points,
        phoneAccountMoved: (await platform.customers.phoneAccount({ msisdn: owner.msisdn })).balance - phoneBefore,
        payableMoved: (await platform.merchants.balance()).payable - payable0,
      };
    }

    const after = await Promise.all(customers.map((c) => books(platform, c)));
    const customerReports: CustomerReport[] = [];
    for (const [i, c] of customers.entries()) {
      const purse = await purseOf(c);
      customerReports.push({
        label: c.label,
        msisdn: c.msisdn,
        serial: c.serial,
        purse,
        float: after[i]!.float,
        phoneAccountBefore: before[i]!.phoneAccount,
        phoneAccount: after[i]!.phoneAccount,
        pointsBefore: before[i]!.points,
        points: after[i]!.points,
      });
    }
    const payable = (await platform.merchants.balance()).payable;
    const batches = office.batches.map((b) => ({
      records: b.records.length,
      accepted: b.accepted,
      settled: b.settled,
      points: b.points,
      rejected: b.rejected.length,
    }));
    const onlineCharges = office.charges;
    const charges = {
      count: onlineCharges.length,
      amount: onlineCharges.reduce((s, c) => s + c.request.amount, 0),
      points: onlineCharges.reduce((s, c) => s + c.points, 0),
    };
    const cleared = batches.reduce((s, b) => s + b.settled, 0);
    const report = {
      tills: tills.map((t) => ({
        id: t.id,
        configVersion: t.agent.config?.version,
        records: office!.records.get(t.id)?.length ?? 0,
      })),
      loads,
      sales,
      batches,
      charges,
      retry,
      customers: customerReports,
      merchant: { payableBefore, payable, cleared, charged: charges.amount },
    };
    return { ...report, checks: checksOf(report, scenario) };
  } finally {
    for (const t of tills) await t.stop();
    await office?.close();
    await platform.close();
    if (ownDir) rmSync(workDir, { recursive: true, force: true });
  }
}

/** The purse as the card says, at a tap on the service desk's reader. */
async function purseOf(c: Customer): Promise<number> {
  const reader = new ContactlessReader('desk reader');
  reader.present(c.sim);
  try {
    return (await readPurse(reader, { logRecords: 0, counters: 'none' })).balance;
  } finally {
    reader.remove();
  }
}

/** A customer's float, phone account and points on the platform. */
async function books(platform: PlatformClient, c: Customer) {
  const [float, phone, points] = await Promise.all([
    platform.wallet.float({ cardSerial: c.serial }),
    platform.customers.phoneAccount({ msisdn: c.msisdn }),
    platform.points.balance({ msisdn: c.msisdn }),
  ]);
  return { float: float.balance, phoneAccount: phone.balance, points: points.points };
}

/** The report's own checks: the money to the fen, the points, the choice of the online charge, the retry. */
function checksOf(r: Omit<SupermarketReport, 'checks'>, scenario: Scenario): Check[] {
  const purseSales = r.sales.filter((s) => s.method === 'purse');
  const online = r.sales.filter((s) => s.method === 'phoneAccount');
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  const bySerial = (serial: string) => r.sales.filter((s) => s.cardSerial === serial);
  return [
    { name: 'every purse equals its float', ok: r.customers.every((c) => c.purse === c.float) },
    {
      name: 'every record cleared once',
      ok:
        sum(r.batches.map((b) => b.accepted)) === purseSales.length &&
        r.merchant.cleared === sum(purseSales.map((s) => s.basket)),
    },
    {
      name: 'payable grew by the cleared records and the online charges',
      ok: r.merchant.payable - r.merchant.payableBefore === r.merchant.cleared + r.merchant.charged,
    },
    {
      name: 'phone accounts: cash in, online charges out',
      ok: r.customers.every(
        (c, i) =>
          c.phoneAccount - c.phoneAccountBefore ===
          (scenario.phoneTopUps[i] ?? 0) - sum(bySerial(c.serial).flatMap((s) => (s.charge ? [s.basket] : []))),
      ),
    },
    {
      name: `points: ${POINTS_PER_YUAN} per yuan of each payment`,
      ok: r.customers.every(
        (c) => c.points - c.pointsBefore === sum(bySerial(c.serial).map((s) => pointsFor(s.basket))),
      ),
    },
    {
      name: 'online charge exactly when the basket exceeds the purse',
      ok:
        r.sales.every((s) => (s.method === 'phoneAccount') === s.basket > s.purseBefore) &&
        r.charges.count === online.length,
    },
    {
      name: 'a retried charge moves nothing',
      ok:
        r.retry === undefined || (r.retry.sameAnswer && r.retry.phoneAccountMoved === 0 && r.retry.payableMoved === 0),
    },
  ];
}

/** ¥ with two decimals from fen. */
export function yuan(fen: number): string {
  return `${fen < 0 ? '-' : ''}¥${(Math.abs(fen) / 100).toFixed(2)}`;
}

/** The report as a few readable lines. */
export function formatReport(r: SupermarketReport): string {
  const lines: string[] = [];
  const label = (serial: string) => r.customers.find((c) => c.serial === serial)?.label ?? serial;
  lines.push(
    `supermarket (mart-1, ${POINTS_PER_YUAN} point per yuan): ${r.tills.map((t) => `${t.id} config v${t.configVersion ?? '?'}`).join(', ')}`,
  );
  for (const l of r.loads)
    lines.push(`  kiosk    ${l.label.padEnd(8)} +${yuan(l.amount)} cash → purse ${yuan(l.balanceAfter)}`);
  for (const s of r.sales) {
    const who = `${s.till} ${label(s.cardSerial).padEnd(8)} ${yuan(s.basket).padStart(8)}`;
    lines.push(
      s.method === 'purse'
        ? `  ${who}  purse ${yuan(s.purseBefore)} → ${yuan(s.purseAfter)}, cleared later`
        : `  ${who}  online to the phone account (purse only ${yuan(s.purseBefore)}), +${s.charge?.points ?? 0} pts`,
    );
  }
  const cleared = r.batches.reduce((a, b) => a + b.accepted, 0);
  const points = r.batches.reduce((a, b) => a + b.points, 0);
  lines.push(
    `clearing: ${r.batches.length} batches, ${cleared} records, ${yuan(r.merchant.cleared)}, ${points} points`,
  );
  lines.push(`online:   ${r.charges.count} charges, ${yuan(r.charges.amount)}, ${r.charges.points} points`);
  if (r.retry)
    lines.push(
      `retry:    ${r.retry.idempotencyKey.slice(0, 32)}… ${r.retry.sameAnswer ? 'same answer' : 'DIFFERENT answer'}, moved ${yuan(r.retry.phoneAccountMoved)}`,
    );
  for (const c of r.customers)
    lines.push(
      `  ${c.label.padEnd(8)} purse ${yuan(c.purse)} = float ${yuan(c.float)}; phone account ${yuan(c.phoneAccount)}; points ${c.points} (+${c.points - c.pointsBefore})`,
    );
  lines.push(
    `merchant payable +${yuan(r.merchant.payable - r.merchant.payableBefore)} = cleared ${yuan(r.merchant.cleared)} + online ${yuan(r.merchant.charged)}`,
  );
  const failed = r.checks.filter((c) => !c.ok);
  const verify = r.ledgerVerified === undefined ? '' : `; ledger.verify ${r.ledgerVerified ? 'ok' : 'FAILED'}`;
  lines.push(
    `checks: ${r.checks.length - failed.length}/${r.checks.length} ok${verify}${failed.map((c) => `\n  FAILED: ${c.name}`).join('')}`,
  );
  return lines.join('\n');
}

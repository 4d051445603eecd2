/**
 * (22) Points (`@simtap/host/points`): loyalty points as a liability in the ledger, not a number on the side.
 * Cleared purchases and online charges at a merchant with an earn rule (`pointsPerYuan`) award
 * `floor(amount / 100 × pointsPerYuan)` points in the same linked transfer that pays the merchant
 * (`points-funding` → `points:<msisdn>`); a redemption turns points into fen on the phone account
 * (`points:<msisdn>` → `points-funding` and `settlement:points-redemption` → `phone:<msisdn>`, linked); points
 * not redeemed within `pointsExpiryDays` of their award expire, oldest first (`points:<msisdn>` → `points-funding`).
 *
 * Points accounts only ever exchange points with each other: the ledger's zero sum holds for points and for fen
 * separately.
 * @module
 */
import { ArgumentError } from '@simtap/sdk/core/errors';
import type { LedgerStore, TransferLeg, TransferMeta } from '../ledger';
import { ACCOUNT, PLATFORM_CLIENT, REF } from '../platform/accounts';
import type { PlatformConfig } from '../platform/config';
import { PlatformError } from '../platform/errors';
import { CallIdempotency } from '../platform/idempotency';
import { intParam, msisdnParam, paramsObject } from '../platform/params';

const DAY_MS = 24 * 60 * 60 * 1000;

/** One line of a customer's points history. */
export interface PointsLine {
  readonly at: number;
  /** Positive: awarded; negative: redeemed or expired. */
  readonly points: number;
  readonly kind: 'award' | 'redeem' | 'expire';
  readonly memo: string;
}

/** Options of {@link Points}. */
export interface PointsOptions {
  readonly ledger: LedgerStore;
  readonly config: PlatformConfig;
  readonly now?: () => number;
}

/** The points sub-platform. */
export class Points {
  readonly #ledger: LedgerStore;
  readonly #config: PlatformConfig;
  readonly #now: () => number;
  readonly #idem: CallIdempotency;

  constructor(options: PointsOptions) {
    this.#ledger = options.ledger;
    this.#config = options.config;
    this.#now = options.now ?? Date.now;
    this.#idem = new CallIdempotency(options.ledger);
  }

  /** The merchant's earn rule: points per yuan (0 when it awards none or is unknown). */
  pointsPerYuan(merchantId: string): number {
    return this.#config.merchants.find((m) => m.id === merchantId)?.pointsPerYuan ?? 0;
  }

  /** The points `amount` fen spent at `merchantId` earns. */
  pointsFor(merchantId: string, amount: number): number {
    return Math.floor((amount * this.pointsPerYuan(merchantId)) / 100);
  }

  /**
   * The leg that awards the points of a payment, to link with the payment itself (so points are awarded exactly
   * when the money clears); `undefined` when it earns none.
   */
  awardLeg(msisdn: string, merchantId: string, amount: number, meta: TransferMeta): TransferLeg | undefined {
    const points = this.pointsFor(merchantId, amount);
    if (points <= 0) return undefined;
    return {
      from: ACCOUNT.pointsFunding,
      to: ACCOUNT.points(msisdn),
      amount: points,
      memo: `points: ${amount} fen at ${merchantId}`,
      ref: REF.points(msisdn),
      meta: { ...meta, kind: 'award', merchantId },
    };
  }

  /** `points.balance`. @throws PlatformError `UNKNOWN_CUSTOMER` */
  async balance(params: { msisdn: string }): Promise<{ points: number }> {
    paramsObject(params);
    const msisdn = msisdnParam(params.msisdn);
    const a = await this.#ledger.getAccount(ACCOUNT.points(msisdn));
    if (!a) throw new PlatformError('UNKNOWN_CUSTOMER', `no customer ${msisdn}`);
    return { points: a.balance };
  }

  /**
   * Redeems points into the phone account (`fenPerPoint` fen each, default 1). Idempotent per (client, key).
   * @throws PlatformError `UNKNOWN_CUSTOMER`; LedgerError `INSUFFICIENT_FUNDS` (not enough points), `IDEMPOTENCY_CONFLICT`
   */
  async redeem(params: {
    client: string;
    idempotencyKey: string;
    msisdn: string;
    points: number;
  }): Promise<{ points: number; balance: number; credited: number }> {
    paramsObject(params);
    const msisdn = msisdnParam(params.msisdn);
    const points = intParam(params.points, 'points', 1, 1e12);
    const credited = points * (this.#config.fenPerPoint ?? 1);
    const move = () => this.#redeemLegs(params.client, params.idempotencyKey, msisdn, points, credited);
    return this.#idem.run(
      params.client,
      params.idempotencyKey,
      'points.redeem',
      { msisdn, points },
      async () => {
        await this.balance({ msisdn });
        return move();
      },
      move,
    );
  }

  async #redeemLegs(
    client: string,
    idempotencyKey: string,
    msisdn: string,
    points: number,
    credited: number,
  ): Promise<{ points: number; balance: number; credited: number }> {
    const params = { client, idempotencyKey };
    const r = await this.#ledger.transferLinked({
      client: params.client,
      idempotencyKey: params.idempotencyKey,
      legs: [
        {
          from: ACCOUNT.points(msisdn),
          to: ACCOUNT.pointsFunding,
          amount: points,
          memo: 'points redeemed',
          ref: REF.points(msisdn),
          meta: { kind: 'redeem' },
        },
        {
          from: ACCOUNT.pointsRedemption,
          to: ACCOUNT.phone(msisdn),
          amount: credited,
          memo: `${points} points redeemed`,
        },
      ],
    });
    return {
      points: r.balances[ACCOUNT.points(msisdn)]!,
      balance: r.balances[ACCOUNT.phone(msisdn)]!,
      credited,
    };
  }

  /** The customer's points history, oldest first. */
  async history(params: { msisdn: string }): Promise<{ points: number; lines: PointsLine[] }> {
    const { points } = await this.balance(params);
    const transfers = await this.#ledger.listTransfers({ ref: REF.points(params.msisdn) });
    const lines = transfers.map((t) => {
      const kind = (t.meta.kind as PointsLine['kind'] | undefined) ?? 'award';
      return { at: t.createdAt, points: kind === 'award' ? t.amount : -t.amount, kind, memo: t.memo };
    });
    return { points, lines };
  }

  /**
   * Expires points awarded more than `pointsExpiryDays` before `asOf` (default now) and not yet spent, oldest
   * first (redemptions and earlier expiries consume the oldest awards). One transfer per customer under a key
   * derived from `asOf`: a retry of the same run, or a later run, expires nothing twice.
   */
  async expire(params: { asOf?: number } = {}): Promise<{ expired: Array<{ msisdn: string; points: number }> }> {
    paramsObject(params);
    const asOf = params.asOf ?? this.#now();
    if (!Number.isSafeInteger(asOf) || asOf < 0) throw new ArgumentError('asOf must be epoch milliseconds');
    const cutoff = asOf - (this.#config.pointsExpiryDays ?? 365) * DAY_MS;
    const expired: Array<{ msisdn: string; points: number }> = [];
    for (const { id: msisdn } of await this.#ledger.listRecords('customers')) {
      const transfers = await this.#ledger.listTransfers({ ref: REF.points(msisdn) });
      let old = 0;
      let spent = 0;
      for (const t of transfers) {
        if (t.state !== 'posted') continue;
        if (t.meta.kind === 'award' || t.meta.kind === undefined) {
          if (t.createdAt <= cutoff) old += t.amount;
        } else spent += t.amount;
      }
      const due = old - spent;
      if (due <= 0) continue;
      await this.#ledger.transfer({
        client: PLATFORM_CLIENT,
        idempotencyKey: `expire:${msisdn}:${asOf}`,
        from: ACCOUNT.points(msisdn),
        to: ACCOUNT.pointsFunding,
        amount: due,
        memo: `points awarded before ${new Date(cutoff).toISOString().slice(0, 10)} expired`,
        ref: REF.points(msisdn),
        meta: { kind: 'expire' },
      });
      expired.push({ msisdn, points: due });
    }
    return { expired };
  }
}

/**
 * What the sub-platforms need to know besides the ledger and the keys: the merchants and their earn rules, which
 * client settles to which merchant, the customers and cards of the first start, the purse's maximum balance.
 * {@link platformConfigFromProfile} reads it from a profile (the reference profile is the embedded default).
 * @module
 */
import { toHex } from '@simtap/sdk/core/bytes';
import type { SimtapProfile } from '@simtap/sdk/core/profile';

/** A merchant the platform owes for cleared purchases and online charges. */
export interface MerchantConfig {
  readonly id: string;
  readonly name: string;
  /** (22) Points awarded per yuan (100 fen) of a cleared purchase or an online charge; 0 = none. */
  readonly pointsPerYuan: number;
}

/** A client of the platform (an application system or an operator) as the sub-platforms see it. */
export interface ClientConfig {
  readonly id: string;
  readonly role: 'application' | 'operator';
  /** The merchant its clearing and charges pay, or `null` (an access-control system moves no money). */
  readonly merchantId: string | null;
}

/** A card issued at the first start. */
export interface CardConfig {
  readonly cardSerial: string;
  readonly iccid: string;
  readonly msisdn: string;
  /** The ISD's key diversification data (hex). */
  readonly kdd: string;
}

/** A customer registered at the first start. */
export interface CustomerConfig {
  readonly msisdn: string;
  readonly phoneAccountOpeningBalance: number;
}

/** What the platform needs to personalize and load its cards over the air. */
export interface IssuanceConfig {
  /** AID of the cards' issuer security domain (hex). */
  readonly isdAid: string;
  /** AID of the e-purse (hex). */
  readonly epurseAid: string;
  /** Key index, version and algorithm of the cards' purse keys (INITIALIZE's key index byte, DGI 8001). */
  readonly keyIndex: number;
  readonly keyVersion: number;
  readonly algorithmId: number;
  /** The PIN a card is personalized with (the customer changes it). */
  readonly pin: string;
  /** The profile the cards' common data (EF 0x15 fields, purse parameters) come from. */
  readonly profile: SimtapProfile;
}

/** The sub-platforms' configuration. */
export interface PlatformConfig {
  /** How cards are personalized and loaded over the air. */
  readonly issuance: IssuanceConfig;
  readonly merchants: readonly MerchantConfig[];
  readonly clients: readonly ClientConfig[];
  readonly customers: readonly CustomerConfig[];
  /** Cards registered at the first start, `active` (the embedded default: `simtap.v1` says so). */
  readonly cards: readonly CardConfig[];
  /** The purse's maximum balance, fen: a load above it is refused with `BALANCE_LIMIT`. */
  readonly maxBalance: number;
  /** Fen paid into the phone account per redeemed point. Default 1. */
  readonly fenPerPoint?: number;
  /** Days after which unredeemed points expire. Default 365. */
  readonly pointsExpiryDays?: number;
  /** How long (ms) an online-charge challenge stays valid. Default 60 s. */
  readonly challengeTtlMs?: number;
  /**
   * How long (ms) a lost card's float stays with it after the loss report, so that the offline records its machines
   * upload late still clear; then `cards.replace` moves what is left to the phone account. Default 7 days. 0: the
   * float moves to the replacement at once (a record of the lost card arriving later is `FLOAT_SHORT`).
   */
  readonly lostCardHoldMs?: number;
}

/** The platform configuration of a profile: its `platform` section, its cards and the purse's maximum balance. */
export function platformConfigFromProfile(profile: SimtapProfile): PlatformConfig {
  const platform = profile.platform;
  const first = profile.cards[0]!;
  return {
    issuance: {
      isdAid: toHex(profile.card.isd.aid),
      epurseAid: toHex(profile.card.epurse.aid),
      keyIndex: first.keyIndex,
      keyVersion: first.keyVersion,
      algorithmId: first.algorithmId,
      pin: first.pin,
      profile,
    },
    merchants: platform.merchants.map((m) => ({ id: m.id, name: m.name, pointsPerYuan: m.pointsPerYuan })),
    clients: platform.clients.map((c) => ({ id: c.id, role: c.role, merchantId: c.merchantId ?? null })),
    customers: platform.customers.map((c) => ({
      msisdn: c.msisdn,
      phoneAccountOpeningBalance: c.phoneAccountOpeningBalance,
    })),
    cards: profile.cards.map((c) => ({
      cardSerial: toHex(c.applicationSerial),
      iccid: c.iccid,
      msisdn: c.msisdn,
      kdd: toHex(c.isd.kdd),
    })),
    maxBalance: profile.card.epurse.maxBalance,
  };
}

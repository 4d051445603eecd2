/**
 * The ledger accounts of the sub-platforms, by name. Every money flow of `docs/architecture.md` is a transfer
 * between two of these.
 * @module
 */

/** Account ids. */
export const ACCOUNT = {
  /** (21) A customer's phone account (PHONE). */
  phone: (msisdn: string): string => `phone:${msisdn}`,
  /** (23) The platform's mirror of a card's purse (CARD_FLOAT). */
  float: (cardSerial: string): string => `float:${cardSerial}`,
  /** (23) What the platform owes a merchant (MERCHANT_PAYABLE). */
  merchant: (merchantId: string): string => `merchant:${merchantId}`,
  /** Cash received by an application system's service points and kiosks (CASH). */
  cash: (clientId: string): string => `cash:${clientId}`,
  /** (22) A customer's points (POINTS_LIABILITY, in points). */
  points: (msisdn: string): string => `points:${msisdn}`,
  /** (22) The issuer's funding of awarded points (POINTS_FUNDING, in points). */
  pointsFunding: 'points-funding',
  /** (22) Where the fen paid out for redeemed points come from (SETTLEMENT). */
  pointsRedemption: 'settlement:points-redemption',
  /** Opening balances of phone accounts given by configuration (SETTLEMENT). */
  opening: 'settlement:opening',
} as const;

/** Transfer references (`ref`), to list a card's loads and cleared purchases and a customer's points. */
export const REF = {
  load: (cardSerial: string): string => `load:${cardSerial}`,
  purchase: (cardSerial: string): string => `purchase:${cardSerial}`,
  points: (msisdn: string): string => `points:${msisdn}`,
  charge: (cardSerial: string): string => `charge:${cardSerial}`,
  replace: (cardSerial: string): string => `replace:${cardSerial}`,
} as const;

/** The client under which the platform's own derived idempotency keys live (a cleared record's, an expiry's). */
export const PLATFORM_CLIENT = 'simtap-platform';

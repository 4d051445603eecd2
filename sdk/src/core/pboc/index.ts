/**
 * PBOC 2.0 / JR/T 0025 electronic purse and deposit: key diversification, session keys, MAC1/MAC2/TAC,
 * the e-purse data formats, and the issuer's TAC verification.
 *
 * @module
 */
export * from './formats';
export * from './issuer-tac';
export * from './keys';
export * from './mac';

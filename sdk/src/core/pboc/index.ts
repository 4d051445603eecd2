/**
 * PBOC 2.0 / JR/T 0025 electronic purse and deposit: key diversification, session keys, MAC1/MAC2/TAC,
 * and the e-purse data formats.
 *
 * @module
 */
export * from './formats';
export * from './keys';
export * from './mac';

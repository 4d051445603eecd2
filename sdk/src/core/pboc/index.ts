/**
 * PBOC 2.0 / JR/T 0025 electronic purse and deposit: the instruction table of the e-purse and the PSAM, their
 * data formats (the codecs of every command's data and answer, EF 0x15, the log and travel records), key
 * diversification, session keys, MAC1/MAC2/TAC, the issuer's TAC verification, and the e-purse's personalization
 * layout (its DGIs, their codecs, and the ordered DGIs of one card).
 *
 * @module
 */
export * from './commands';
export * from './formats';
export * from './issuer-tac';
export * from './keys';
export * from './mac';
export * from './personalization';

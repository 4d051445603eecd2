/**
 * The protocol core of simtap: bytes, BER-TLV, ISO/IEC 7816-4 APDUs and status words, card cryptography,
 * GlobalPlatform secure-channel maths, PBOC e-purse formats and MACs, and the reference profile.
 *
 * This module imports nothing else of the project; the card emulator, the machines and the platform all
 * build on it. Each area is also published as its own subpath (`@simtap/sdk/core/tlv`, …).
 *
 * @module
 */
export * from './bytes';
export * from './crypto';
export * from './errors';
export * from './gp';
export * from './iso7816';
export * from './iso14443';
export * from './pboc';
export * from './profile';
export * from './tlv';

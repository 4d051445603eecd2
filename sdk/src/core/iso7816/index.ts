/**
 * ISO/IEC 7816-4 essentials: command/response APDUs, class byte (logical channels, SM), status words and
 * T=0 response handling (61xx / 6Cxx, GET RESPONSE).
 *
 * @module
 */
export * from './apdu';
export * from './cla';
export * from './status-words';
export * from './t0';

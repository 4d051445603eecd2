/**
 * ISO/IEC 14443 (13.56 MHz Type A) and 2.4 GHz RF-SIM link models: the tap-time estimate of an APDU exchange.
 *
 * @module
 */
export * from './profiles';
export * from './timing';

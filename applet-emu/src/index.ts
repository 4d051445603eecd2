/**
 * `@simtap/applet-emu` — the virtual dual-interface SIM: the card runtime (power, interfaces, logical channels,
 * selection, files, persistent memory with atomic transactions and tear injection, card images), the applets
 * (issuer security domain, e-purse, PSAM) and the bridges that make it a card in other programs (vpcd).
 *
 * @module
 */
export * from './bridges/vpcd';
export * from './runtime';

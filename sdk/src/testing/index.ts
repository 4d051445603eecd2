/**
 * `@simtap/sdk/testing`: what tests in every package share — the public test vectors, the real-pcscd helper and
 * the probe for the optional PC/SC parts. Test support, not for production code.
 *
 * @module
 */
export * from './pcsc-parts';
export * from './pcscd';
export * from './vectors';

/**
 * GlobalPlatform: static-key diversification and secure-channel maths shared by the card (ISD) and the host.
 *
 * @module
 */
export * from './diversification';

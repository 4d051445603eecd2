/**
 * `@simtap/applet-emu/testing`: what tests and benchmarks in every package share to drive the emulated cards —
 * personalized purse cards and a scripted purse terminal, a synchronous SCP02/SCP03 host over `Card.transmit`, a
 * small personalizable applet, the card port the vpcd bridge serves, and the error tables of the CLI and of these
 * fixtures (for the generated error reference). Test support, not for production code; the keys are the reference
 * profile's test keys, named where they are used.
 *
 * @module
 */
export * from './applets/epurse/testing';
export * from './applets/isd/test-support';
export { CardPort, type CardPortOptions } from './cli/card-port';
export { CLI_ERRORS, CLI_EXIT_STATUSES, type CliErrorCode, type CliExitStatus } from './cli/errors';
export { PHONE_CLI_EXIT_STATUSES } from './cli/phone-options';

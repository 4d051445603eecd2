/**
 * `@simtap/sdk` — what integrators import: the protocol core, and (as they land) card channels, machines and
 * platform clients.
 *
 * @module
 */

export * from './card';
export * from './core';
export * from './machines';

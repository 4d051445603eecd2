/**
 * Machines: the consumption machine (POS, gate, canteen till) with its PSAM driver and the recharge machine
 * (top-up kiosk), over any `CardChannel` (`@simtap/sdk/card`). They return typed records (the card's TAC as the card gave it,
 * counters, balances, APDU count, tap-time estimate), throw typed errors integrators branch on, and resolve torn
 * transactions at the next tap on what the card proves (completed, or unproven for the back office).
 *
 * @module
 */
export { type Clock, fixedClock, systemClock, type TxnDateTime, txnDateTime } from './clock';
export {
  BASE_STATUS_TABLE,
  checkStatus,
  creditForLoadApdu,
  debitApdu,
  errorForStatus,
  getBalanceApdu,
  getTransactionProveApdu,
  INITIALIZE_P1,
  initializeApdu,
  MACHINE_COMMANDS,
  type MachineCommandName,
  type PurseKind,
  readBinarySfiApdu,
  readRecordApdu,
  STATUS_TABLES,
  type StatusErrorFactory,
  type StatusRule,
  type StatusTable,
  selectByFidApdu,
  selectByNameApdu,
  updateCappDataCacheApdu,
  verifyPinApdu,
} from './commands';
export {
  type CardInspection,
  ConsumptionMachine,
  type ConsumptionMachineOptions,
  type GateRequest,
  type PurchaseRequest,
  type RecoveryOutcome,
  type SaleOptions,
  type TapOptions,
  type TransitOptions,
} from './consumption';
export { type CardIdentity, EPURSE_DEFAULT_AID } from './epurse-client';
export {
  CardLeftFieldError,
  CardLockedError,
  type CommandTarget,
  MACHINE_ERRORS,
  MacError,
  type MachineErrorCode,
  TacError,
} from './errors';
export { MachineResponseError } from './link';
export { DEFAULT_TAP_TIME_OPTIONS, type MachineOptions } from './machine-core';
export {
  PSAM_DEFAULT_AID,
  PSAM_DEFAULT_FID,
  PsamDriver,
  type PsamDriverOptions,
  type PsamPurchaseRequest,
  type PsamPurchaseSession,
} from './psam';
export { type CounterReading, type PurseReading, type ReadPurseOptions, readPurse } from './purse-reader';
export {
  IssuerKeyAuthorizer,
  type IssuerLoadKeys,
  type LoadAuthorizationRequest,
  type LoadAuthorizer,
  type LoadRecoveryOutcome,
  type LoadRequest,
  type LoadTacCheck,
  RechargeMachine,
  type RechargeMachineOptions,
} from './recharge';
export type {
  LoadRecord,
  LoadResult,
  PendingLoad,
  PendingPurchase,
  PurchaseCore,
  PurchaseKind,
  PurchaseRecord,
  PurchaseResult,
  RecoveryProof,
  TransitRecord,
  TransitStation,
  UnprovenLoad,
  UnprovenPurchase,
  UnprovenReason,
} from './records';
export {
  assertStation,
  type DistanceFareOptions,
  decodeTransitRecord,
  distanceFare,
  type EntryCharge,
  encodeTransitRecord,
  type FareRule,
  flatFare,
  TRANSIT_RECORD_LENGTH,
} from './transit';

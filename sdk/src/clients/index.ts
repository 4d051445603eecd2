/**
 * `@simtap/sdk/clients`: {@link PlatformClient}, the client of the account operation platform's `simtap.v1`
 * protocol — typed methods for everything on `/v1/app`, authentication from a client id and secret, reconnects with
 * backoff that re-send money-moving calls with their idempotency key (a caller that got an answer got exactly one
 * effect), `AbortSignal` and timeouts on every call, errors as classes by `data.code`, events as an async iterator or
 * listeners. And the application system's own machines over `/v1/machine`: {@link MachineHub} (the application
 * system's endpoint) and {@link MachineAgent} (the machine's link: a crash-safe record buffer delivered exactly once,
 * configs with the platform's signed blacklist verified before use).
 * @example
 * import { PlatformClient } from '@simtap/sdk/clients';
 * const client = new PlatformClient({
 *   url: 'ws://127.0.0.1:7800',
 *   clientId: 'mart-1',
 *   secret: 'A9324805AC9A0F9CAF5D24A7AA40B1C9B1F60FEA8385DD67BC0F5DD0DCBD52DD',
 * });
 * const { payable } = await client.merchants.balance();
 * await client.close();
 * @module
 */

export {
  applyBlacklistDelta,
  type BlacklistDeltaFields,
  type BlacklistRefusal,
  type BlacklistState,
  blacklistMessage,
  blacklistPublicKey,
  type SignedBlacklistDelta,
  verifyBlacklistDelta,
} from './blacklist';
export {
  AbortError,
  AuthenticationError,
  BadCardProofError,
  BadMac1Error,
  BadProofError,
  BadTacError,
  BalanceLimitError,
  type CallErrorContext,
  CardBlockedError,
  CardStateError,
  CLIENT_ERRORS,
  ClientClosedError,
  type ClientErrorCode,
  ConnectionError,
  ForbiddenError,
  FundingRefusedError,
  hasPlatformErrorCode,
  IdempotencyConflictError,
  InsufficientFundsError,
  InternalError,
  LoadStateError,
  NoMerchantError,
  PhoneUnreachableError,
  PlatformCallError,
  PlatformClientError,
  PlatformTimeoutError,
  ProtocolError,
  RateLimitedError,
  TimeoutError,
  UnauthenticatedError,
  UnavailableError,
  UnknownCardError,
  UnknownCustomerError,
  UnknownLoadError,
} from './errors';
export {
  type ConnectionEvent,
  type ConnectionState,
  type EventTopic,
  type Listener,
  type PlatformClientEventMap,
  type PlatformEvent,
  type PlatformEventName,
  TOPIC_EVENTS,
} from './events';
export {
  type DeliveredOptions,
  MachineAgent,
  type MachineAgentConfig,
  type MachineAgentEventMap,
  type MachineAgentOptions,
  type MachineLinkState,
  type MachineReconnectOptions,
} from './machine-agent';
export { MACHINE_LINK_ERRORS, MachineLinkError, type MachineLinkErrorCode } from './machine-errors';
export {
  type HubRefusal,
  MachineHub,
  type MachineHubEventMap,
  type MachineHubLimits,
  type MachineHubOptions,
  type MachineInfo,
  type MachineSpec,
} from './machine-hub';
export {
  CONFIG_REFUSALS,
  type ConfigRefusal,
  checkMachineParams,
  DoorRuleSchema,
  FareTableSchema,
  isMachineEvent,
  MACHINE_CLOSE_CODES,
  MACHINE_KINDS,
  MACHINE_MAX_BATCH,
  MACHINE_MAX_EVENT_DATA,
  MACHINE_MAX_FRAME_BYTES,
  MACHINE_MESSAGES,
  MACHINE_PATH,
  type MachineConfig,
  MachineConfigSchema,
  type MachineEvent,
  MachineEventSchema,
  MachineId,
  type MachineKind,
  MachineKindSchema,
  type MachineLogger,
  type MachineMessageName,
  type MachineMessageSpec,
  type MachineParamsOf,
  type MachinePurchaseRecord,
  type MachineRecord,
  type MachineRecordEntry,
  MachineRecordEntrySchema,
  MachineRecordSchema,
  type MachineResultOf,
  type MachineStatus,
  MachineStatusSchema,
  Seq,
  SignedBlacklistDeltaSchema,
} from './machine-protocol';
export {
  type ClearingRecord,
  clearingRecord,
  type LoadFunding,
  PlatformLoadAuthorizer,
  type PlatformLoadAuthorizerOptions,
} from './machines';
export {
  type CallArgs,
  type CallOptions,
  type CallParams,
  type CardsApi,
  type ClearingApi,
  type ClientMethod,
  type CustomersApi,
  type EventIteratorOptions,
  type EventsApi,
  type MerchantsApi,
  type MoneyMethod,
  PlatformClient,
  type PlatformClientOptions,
  type PointsApi,
  type ReconnectOptions,
  type SocketHandler,
  type TlsOptions,
  type WalletApi,
  type WebSocketConstructor,
  type WebSocketLike,
} from './platform-client';
export { RecordBuffer } from './record-buffer';

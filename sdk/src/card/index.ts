/**
 * Card channels: one {@link CardChannel} interface over the in-process emulator, PC/SC readers and recorded
 * traces, with transport failures reported as `TransportError` codes distinct from card status words.
 *
 * @module
 */
export {
  assertCommandApdu,
  type CardChannel,
  isCardGoneError,
  MAX_COMMAND_LENGTH,
  TRANSPORT_ERRORS,
  type TransportErrorCode,
  transportError,
} from './channel';
export { InProcessChannel, type InProcessChannelOptions, type SyncApduCard } from './in-process';
export { PCSC_INSTALL_HINT, PcscChannel, type PcscOpenOptions, type PcscReaderInfo } from './pcsc';
export {
  commandsMatch,
  cryptoFieldRange,
  type RecordedTrace,
  type TraceExchange,
  type TraceMismatch,
  TracePlayer,
  type TracePlayerOptions,
  TraceRecorder,
  type TraceRecorderOptions,
} from './trace';

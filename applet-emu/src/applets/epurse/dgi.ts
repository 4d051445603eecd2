/**
 * Codecs of the e-purse personalization DGIs (see {@link EPURSE_DGI}): the applet decodes them in `storeData`,
 * personalization tools and tests encode them. They live in the SDK core (`@simtap/sdk/core/pboc`, the e-purse's
 * personalization layout), shared with the platform; this module re-exports them. Decoders throw `IsoException`
 * 6A80 on a malformed value (what STORE DATA answers); encoders throw `ArgumentError` on out-of-range input.
 *
 * @module
 */
export {
  decodeKeys,
  decodeParameters,
  decodePurseState,
  decodeRecordFile,
  encodeKeys,
  encodeParameters,
  /** PIN digits as the BCD bytes VERIFY carries: the core's PIN block codec. */
  encodePinBlock as encodePin,
  encodePurseState,
  encodeRecordFile,
  isPinBlock,
  KEY_ENTRY_LENGTH,
  type PurseKeyEntry,
  type PurseParameters,
  type PurseState,
  type RecordFileSpec,
} from '@simtap/sdk/core/pboc';

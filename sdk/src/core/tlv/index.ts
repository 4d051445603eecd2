/**
 * TLV codecs: BER-TLV (ISO/IEC 7816-4 §5.2, ISO/IEC 8825-1) and SIMPLE-TLV (ISO/IEC 7816-4 §5.2.1).
 * Each codec's `examples` table is re-exported under a codec-specific name.
 *
 * @module
 */
export {
  decodeTlv,
  decodeTlvOne,
  encodeLength,
  encodeTlv,
  examples as berTlvExamples,
  findAllTlv,
  findTlv,
  type TagClass,
  TLV_DEFAULT_MAX_DEPTH,
  TLV_ERRORS,
  type Tlv,
  type TlvDecodeOptions,
  TlvError,
  type TlvErrorCode,
  type TlvPath,
  tagClass,
  tagIsConstructed,
  tagToBytes,
  tlv,
} from './ber-tlv';
export {
  decodeSimpleTlv,
  decodeSimpleTlvOne,
  encodeSimpleTlv,
  examples as simpleTlvExamples,
  type SimpleTlv,
  type SimpleTlvDecodeOptions,
} from './simple-tlv';

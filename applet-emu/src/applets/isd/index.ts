/**
 * The GlobalPlatform issuer security domain of the virtual SIM (`docs/card.md`, "Issuer security domain").
 *
 * @module
 */
export {
  buildCplc,
  CPLC_FIELDS,
  CPLC_LENGTH,
  cardData,
  cardRecognitionTemplate,
  GP_OID_HEX,
  isdFci,
  type KeyInfo,
  keyInformationTemplate,
  parseCplc,
  type ScpAnnouncement,
} from './card-data';
export {
  ISD_COMMANDS,
  type IsdConfig,
  type IsdHooks,
  type IsdKeySetConfig,
  type IsdQuirks,
  IssuerSecurityDomain,
  isdFactory,
} from './isd';
export {
  KEY_TYPE_AES,
  KEY_TYPE_DES,
  type KeySetInfo,
  MAX_KEY_SETS,
  maxSequenceCounter,
  readKeySets,
} from './key-sets';
export type { IsdChallengeHook, IsdChallengeRequest } from './secure-channel';
export { cardTransitionAllowed, MAX_STATUS_DATA, STATUS_SCOPE } from './status';
export type { IsdStoreDataHook, IsdStoreDataRequest } from './store-data';
export { HandshakeError, ISD_ERRORS, type IsdErrorCode, PersonalizationError } from './sync-host';

/**
 * The PSAM (purchase secure access module) applet of the consumption machines and the helpers that build PSAM
 * cards from the profile.
 *
 * @module
 */
export {
  type CreatePsamOptions,
  createPsam,
  type DirectPurchaseKey,
  installDirectPurchaseKey,
  installPsam,
  installPsamIsd,
  MASTER_KEY_USAGE,
  PSAM_FACTORIES,
  type PsamPersonalization,
  personalizePsam,
  psamDgis,
  psamIsdKdd,
  psamIsdKeys,
} from './install';
export {
  PSAM_COMMANDS,
  PSAM_DEFAULT_AID_HEX,
  PSAM_DEFAULT_FID,
  PSAM_DGI,
  PSAM_KEY_USAGE,
  PSAM_TYPE,
  PsamApplet,
  type PsamOptions,
  type PsamPersoEnv,
} from './psam';

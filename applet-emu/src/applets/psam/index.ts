/**
 * The PSAM (purchase secure access module) applet of the consumption machines and the helpers that build PSAM
 * cards from the profile.
 *
 * @module
 */
export {
  createPsam,
  installPsam,
  MASTER_KEY_USAGE,
  PSAM_FACTORIES,
  type PsamPersonalization,
  personalizePsam,
  psamDgis,
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

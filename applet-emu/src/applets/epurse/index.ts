/**
 * The PBOC / JR/T 0025 electronic purse applet (EP, ED, transit composite purchase) and the helpers that
 * install and personalize it.
 *
 * @module
 */
export * from './constants';
export * from './dgi';
export { EpurseApplet, type EpurseOptions, type EpursePersoEnv, type PurseId, type PurseLock } from './epurse';
export {
  EPURSE_FACTORIES,
  type EpursePersonalization,
  epurseDgis,
  findEpurse,
  type InstallEpurseOptions,
  installEpurse,
  personalizeEpurse,
} from './install';

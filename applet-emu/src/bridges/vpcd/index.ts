/**
 * PC/SC virtual reader bridge: presents an emulated card to pcscd through vsmartcard's vpcd driver.
 *
 * @module
 */
export {
  formatVpcdTrace,
  type VirtualCardPort,
  VPCD_CONTROL,
  VPCD_DEFAULT_PORT,
  type VpcdApduEvent,
  type VpcdBackoff,
  VpcdBridge,
  type VpcdBridgeEvents,
  type VpcdBridgeOptions,
  type VpcdBridgeState,
  type VpcdLogger,
} from './vpcd';

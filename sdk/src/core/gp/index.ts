/**
 * GlobalPlatform: static-key diversification and secure-channel maths shared by the card (ISD) and the host.
 *
 * @module
 */
export * from './cps';
export * from './diversification';
export * from './scp02';
export * from './scp03';
export {
  type ApduLink,
  type ApduTransmit,
  assertSecurityLevel,
  GP_ERRORS,
  type GpErrorCode,
  type InitializeUpdateCommand,
  initializeUpdateCommand,
  isSecurityLevel,
  parseInitializeUpdate,
  parseSecurityLevel,
  SCP_INS,
  type ScpRole,
  type ScpVersion,
  SecureChannelClosedError,
  type SecurityFlags,
  SecurityLevel,
  type SecurityLevelValue,
  securityFlags,
  transmitOf,
} from './security-level';

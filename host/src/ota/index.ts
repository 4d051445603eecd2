/**
 * The mobile network's platform side (`@simtap/host/ota`): phones relay their SIM on `/v1/ota`; the platform
 * authenticates the SIM's ISD over SCP03, personalizes blank cards, blocks lost ones and tops cards up over the air,
 * settling torn loads from the card's proof. See {@link OtaService}.
 * @module
 */
export { LocalOtaBus, type OtaBus, type OtaBusMessage } from './bus';
export { OTA_ERRORS, OtaError, type OtaErrorCode } from './errors';
export type { PhoneLink } from './phone-connection';
export { openPostgresOtaBus, type PostgresOtaBusOptions } from './postgres-bus';
export {
  OTA_TERMINAL_ID,
  type OtaLoadEvent,
  type OtaLogger,
  OtaService,
  type OtaServiceOptions,
} from './service';

/**
 * `@simtap/applet-emu/ota` — the phone of the mobile network: {@link VirtualPhone} holds an emulated SIM and relays
 * it to the platform's `/v1/ota` (`phone.hello`, `card.transmit`, `phone.notice`, `phone.topUp`), as a handset's
 * baseband does; it holds no key.
 *
 * @module
 */
export {
  hasPhoneCallCode,
  PHONE_ERRORS,
  PhoneCallError,
  PhoneConnectionError,
  PhoneError,
  type PhoneErrorCode,
  type PhoneErrorContext,
  PhoneProtocolError,
} from './errors';
export {
  OTA_PATH,
  OTA_SUBPROTOCOL,
  type PhoneFault,
  type PhoneHello,
  type PhoneListener,
  type PhoneLogger,
  type PhoneNotice,
  type PhoneNoticeKind,
  type PhoneReconnectOptions,
  type PhoneState,
  type PhoneStateEvent,
  type PhoneTopUpOptions,
  type PhoneTopUpParams,
  type PhoneTopUpResult,
  VirtualPhone,
  type VirtualPhoneEventMap,
  type VirtualPhoneOptions,
} from './phone';

/**
 * The errors of the over-the-air link (`@simtap/host/ota`).
 * @module
 */
import { type CodeOfClass, defineErrors, SimtapError } from '@simtap/sdk/core/errors';

/** The codes of {@link OtaError}. */
export const OTA_ERRORS = defineErrors({
  IDENTITY_REFUSED: {
    class: 'OtaError',
    when:
      "a phone's hello names an ICCID the platform never issued or an MSISDN that is not the card's, or its SIM " +
      "fails the ISD's SCP03 authentication with the keys of the card it claims (recorded in `ota-refusals`)",
    fix: 'the phone must hold the SIM it names; a card with other ISD keys is not one of the issuer’s',
  },
  CARD_ABSENT: {
    class: 'OtaError',
    when: 'the phone answered a card command with `CARD_ABSENT` (the SIM removed or powered off)',
    fix: 'nothing: the platform resumes what it was doing at the phone’s next contact',
  },
  LINK_LOST: {
    class: 'OtaError',
    when: "the phone's connection closed, or it did not answer a card command in time",
    fix: 'nothing: whatever was torn is resolved from the card’s proof at the next contact',
  },
  CARD_REFUSED: {
    class: 'OtaError',
    when: 'the SIM answered a status word the step cannot go on with (`sw`)',
    fix: 'read `sw`; the load is left for the card’s proof or refunded when it never reached the card',
  },
  BAD_CARD_RESPONSE: {
    class: 'OtaError',
    when: "a card response that is not what the command returns (length), or a phone's answer that is not an APDU",
    fix: 'a broken or dishonest phone: the platform stops the contact',
  },
});

/** Code of an {@link OtaError}. */
export type OtaErrorCode = CodeOfClass<typeof OTA_ERRORS, 'OtaError'>;

/** An error of the over-the-air link; `sw` is set for `CARD_REFUSED`. */
export class OtaError extends SimtapError<OtaErrorCode> {
  constructor(
    code: OtaErrorCode,
    message: string,
    /** The card's status word (`CARD_REFUSED`). */
    readonly sw?: number,
  ) {
    super(code, message);
    this.name = 'OtaError';
  }
}

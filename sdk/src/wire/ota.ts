/**
 * `/v1/ota`, the mobile network's endpoint: what a phone and the platform say to each other. A phone is a relay,
 * not a principal — it never holds a key and the platform believes nothing it says until the SIM's issuer security
 * domain has authenticated over SCP03, end to end through the phone.
 *
 * 1. The phone opens `/v1/ota` (subprotocol `simtap.v1`) and calls `phone.hello { msisdn, iccid }` within the
 *    authentication timeout (else close 4408). An ICCID the platform never issued, or an MSISDN that is not the
 *    card's, is refused (`IDENTITY_REFUSED`, close 4403).
 * 2. While `phone.hello` is in flight the platform drives the SIM with `card.transmit` requests (the phone sends the
 *    command APDU to the SIM over the contact interface, as a handset's baseband does, and answers the response):
 *    SELECT of the ISD, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE at security level 33. A card whose cryptogram
 *    does not verify under the keys of the ICCID's card is refused (`IDENTITY_REFUSED`, close 4403) and recorded.
 * 3. `phone.hello` answers `{ cardSerial, status }`; the platform then does what the card needs — personalization
 *    of a blank SIM, the block of a lost card, the resolution of torn loads, air top-ups waiting for it — and keeps
 *    the connection for top-ups that come later. `phone.notice` tells the phone's user what happened.
 * 4. The customer may ask for a top-up from the phone (`phone.topUp`, from the phone account) once the SIM is
 *    authenticated.
 *
 * These schemas are the project's design (`PROTOCOL.md` fixes `phone.hello` and the relaying principle); the
 * server checks every phone message against them.
 * @module
 */
import { z } from 'zod';
import type { WireErrorCode } from './errors';
import { Amount, CardSerial, CardStatus, IdempotencyKey, LoadId, LoadStatus, Msisdn } from './schemas';

/** An ICCID: 18 to 20 hex digits (the last may be the padding `F`). */
export const Iccid = z
  .string()
  .regex(/^[0-9A-Fa-f]{18,20}$/, '18–20 hex digits')
  .describe('the SIM’s ICCID');

/** A command or response APDU as hex. */
const ApduHex = (min: number, max: number) =>
  z
    .string()
    .regex(/^(?:[0-9A-Fa-f]{2})+$/, 'hex bytes')
    .refine((s) => s.length / 2 >= min && s.length / 2 <= max, `${min}–${max} bytes`);

/** One message of `/v1/ota`. */
export interface OtaMessageSpec {
  /** Who sends it. */
  readonly from: 'phone' | 'platform';
  readonly summary: string;
  readonly params: z.ZodType;
  /** The result schema (a request), or `undefined` for a notification. */
  readonly result: z.ZodType | undefined;
  readonly errors: readonly WireErrorCode[];
  readonly example: { readonly params: unknown; readonly result?: unknown };
}

const SERIAL = '00004401202600000001';

/** The requests and notifications of `/v1/ota`. */
export const OTA_MESSAGES = {
  'phone.hello': {
    from: 'phone',
    summary:
      'The phone says which SIM it holds. The platform answers once the SIM has authenticated over SCP03 through ' +
      '`card.transmit`; until then the phone must answer those requests. Refused: `IDENTITY_REFUSED` (unknown ' +
      'ICCID, MSISDN not the card’s, secure channel failed), then close 4403.',
    params: z.strictObject({ msisdn: Msisdn, iccid: Iccid }),
    result: z.object({ cardSerial: CardSerial, status: CardStatus }),
    errors: ['IDENTITY_REFUSED', 'CARD_ABSENT'],
    example: {
      params: { msisdn: '13800138001', iccid: '8986004401202600010F' },
      result: { cardSerial: SERIAL, status: 'active' },
    },
  },
  'phone.topUp': {
    from: 'phone',
    summary:
      'The customer tops the purse up from the phone account, over the air (after `phone.hello`). Idempotent per ' +
      'card and key; `pending` when the load is torn (settled exactly once at the next contact).',
    params: z.strictObject({ idempotencyKey: IdempotencyKey, amount: Amount }),
    result: z.object({ loadId: LoadId, status: LoadStatus }),
    errors: ['UNAUTHENTICATED', 'INSUFFICIENT_FUNDS', 'BALANCE_LIMIT', 'CARD_BLOCKED', 'IDEMPOTENCY_CONFLICT'],
    example: {
      params: { idempotencyKey: 'phone-top-1', amount: 2000 },
      result: { loadId: '0b6f2f4e-58a4-4c1e-9d55-0c6c1f7e9a10', status: 'posted' },
    },
  },
  'card.transmit': {
    from: 'platform',
    summary:
      'The platform’s command for the SIM (contact interface); the phone answers the SIM’s response with its status ' +
      'word. A phone whose SIM does not answer (removed, powered off) answers `CARD_ABSENT`.',
    params: z.strictObject({ apdu: ApduHex(4, 261) }),
    result: z.object({ response: ApduHex(2, 258) }),
    errors: ['CARD_ABSENT'],
    example: {
      params: { apdu: '00A4040008A00000015100000000' },
      result: { response: '6F108408A000000151000000A5049F6501FF9000' },
    },
  },
  'phone.notice': {
    from: 'platform',
    summary:
      'What the platform did with the SIM, for the phone’s user (a notification). `ready`: the platform has done ' +
      'what the card needed at this contact; the phone stays reachable for top-ups.',
    params: z.object({
      kind: z.enum(['authenticated', 'personalized', 'loaded', 'refunded', 'pending', 'blocked', 'refused', 'ready']),
      message: z.string().max(500),
      cardSerial: CardSerial.optional(),
      loadId: LoadId.optional(),
      amount: Amount.optional(),
      balance: z.number().int().optional(),
    }),
    result: undefined,
    errors: [],
    example: {
      params: {
        kind: 'loaded',
        message: 'loaded 20.00 over the air; purse 70.00',
        cardSerial: SERIAL,
        amount: 2000,
        balance: 7000,
      },
    },
  },
} as const satisfies Record<string, OtaMessageSpec>;

/** A message name of `/v1/ota`. */
export type OtaMessageName = keyof typeof OTA_MESSAGES;
/** The params of `/v1/ota` message `M`. */
export type OtaParamsOf<M extends OtaMessageName> = z.output<(typeof OTA_MESSAGES)[M]['params']>;
/** The result of `/v1/ota` request `M`. */
export type OtaResultOf<M extends 'phone.hello' | 'phone.topUp' | 'card.transmit'> = z.output<
  NonNullable<(typeof OTA_MESSAGES)[M]['result']>
>;
/** The kinds of `phone.notice`. */
export type OtaNoticeKind = OtaParamsOf<'phone.notice'>['kind'];

/** Checks the params of an `/v1/ota` message: the parsed params, or a readable reason. */
export function checkOtaParams<M extends OtaMessageName>(
  name: M,
  params: unknown,
): { ok: true; params: OtaParamsOf<M> } | { ok: false; reason: string } {
  const r = OTA_MESSAGES[name].params.safeParse(params ?? {});
  if (r.success) return { ok: true, params: r.data as OtaParamsOf<M> };
  return {
    ok: false,
    reason: r.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || 'params'}: ${i.message}`)
      .join('; '),
  };
}

/** Checks the result of a `card.transmit` the phone answered: the response bytes' hex, or a reason. */
export function checkCardResponse(result: unknown): { ok: true; response: string } | { ok: false; reason: string } {
  const r = OTA_MESSAGES['card.transmit'].result.safeParse(result);
  return r.success
    ? { ok: true, response: r.data.response.toUpperCase() }
    : { ok: false, reason: 'not a response APDU' };
}

/** Type guard: `name` is a message a phone may send. */
export function isPhoneRequest(name: string): name is 'phone.hello' | 'phone.topUp' {
  return name === 'phone.hello' || name === 'phone.topUp';
}

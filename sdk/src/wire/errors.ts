/**
 * The error codes of `simtap.v1` (`error.data.code` of a JSON-RPC error -32000) and the protocol layer's JSON-RPC
 * codes and WebSocket close codes, as data. The first group is fixed by the protocol; the rest are the project's
 * additions, documented in `docs/protocol.md`.
 * @module
 */

/** JSON-RPC 2.0 error codes of the protocol layer. */
export const JSONRPC_ERRORS = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  /** Every application error: `error.data.code` says which. */
  APPLICATION: -32000,
} as const;

/** The application error codes of `simtap.v1`, each with what it means. */
export const WIRE_ERROR_CODES = {
  // fixed by the protocol
  UNAUTHENTICATED: 'a call before `session.authenticate` succeeded',
  BAD_PROOF: 'a wrong proof or an unknown client id; the connection closes with 4401',
  FORBIDDEN:
    'a client on an endpoint of another role (the connection closes with 4403), or a call its role may not make',
  RATE_LIMITED: 'too many calls on this connection; slow down (the connection closes with 4429 if it goes on)',
  IDEMPOTENCY_CONFLICT: 'the idempotency key was used with another method or other params',
  UNKNOWN_CARD: 'no card with this serial was issued',
  CARD_BLOCKED: 'the card is blocked, lost or not yet active',
  INSUFFICIENT_FUNDS: 'the account to debit has not enough available',
  BAD_MAC1: "the load's MAC1 is not the card's",
  BAD_TAC: 'a TAC or a card proof does not verify; a load stays pending',
  UNKNOWN_LOAD: 'no load with this id',
  LOAD_STATE: 'the load is not in a state that allows the call',
  BALANCE_LIMIT: 'the load would take the purse over its maximum balance',
  // the project's
  UNKNOWN_CUSTOMER: 'no customer (phone account) with this MSISDN',
  NO_MERCHANT: 'the client settles to no merchant',
  FUNDING_REFUSED: "a load funded from a phone account that is not the card holder's",
  BAD_CARD_PROOF: "the card's INTERNAL AUTHENTICATE answer, or its challenge, is not valid",
  CARD_STATE: 'a life-cycle change the card cannot make',
  PHONE_UNREACHABLE:
    "the card's phone is not connected to the platform, for a call that needs the card now (`customers.chargeOverTheAir`); nothing moved",
  IDENTITY_REFUSED:
    "`/v1/ota`: a phone's SIM is not the card it claims (unknown ICCID, another card's MSISDN, or its secure channel failed); the connection closes with 4403",
  CARD_ABSENT:
    '`/v1/ota`: the SIM did not answer the command (removed, powered off); the platform resumes at the next contact',
  TIMEOUT: 'the platform did not finish the call in time; retry it with the same idempotency key',
  UNAVAILABLE: 'the platform is shutting down or its store is unavailable; retry with the same idempotency key',
  INTERNAL: 'an unexpected error of the platform; nothing is known to have moved, retry with the same key',
} as const;

/** An application error code of `simtap.v1`. */
export type WireErrorCode = keyof typeof WIRE_ERROR_CODES;

/** The codes the protocol fixes (the others are the project's additions). */
export const FIXED_ERROR_CODES = [
  'UNAUTHENTICATED',
  'BAD_PROOF',
  'FORBIDDEN',
  'RATE_LIMITED',
  'IDEMPOTENCY_CONFLICT',
  'UNKNOWN_CARD',
  'CARD_BLOCKED',
  'INSUFFICIENT_FUNDS',
  'BAD_MAC1',
  'BAD_TAC',
  'UNKNOWN_LOAD',
  'LOAD_STATE',
  'BALANCE_LIMIT',
] as const satisfies readonly WireErrorCode[];

/** WebSocket close codes. */
export const CLOSE_CODES = {
  /** The server is going away (shutdown). */
  GOING_AWAY: 1001,
  /** A frame that breaks RFC 6455 (unmasked, a reserved opcode or bit, a bad control frame). */
  PROTOCOL_ERROR: 1002,
  /** A text frame that is not UTF-8. */
  INVALID_FRAME_PAYLOAD: 1007,
  /** A peer that does not read what it subscribed to (its buffered events passed the limit). */
  POLICY_VIOLATION: 1008,
  /** A frame over the limit. */
  MESSAGE_TOO_BIG: 1009,
  AUTHENTICATION_FAILED: 4401,
  WRONG_ENDPOINT: 4403,
  AUTHENTICATION_TIMEOUT: 4408,
  /** `/v1/ota`: the SIM connected again through another link; this one is closed (the phone must not reconnect). */
  SUPERSEDED: 4409,
  RATE_LIMIT: 4429,
} as const;

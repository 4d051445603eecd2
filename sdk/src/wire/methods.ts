/**
 * The method catalogue of `simtap.v1`: for each method, the endpoints that serve it, its params and result schemas
 * (every arriving message is validated against them before any handler runs), whether it moves money (then it
 * takes an `idempotencyKey`), the error codes it may answer, and an example exchange (`docs/protocol.md` is
 * generated from this table and a test checks the examples against the schemas).
 * @module
 */
import { z } from 'zod';
import type { WireErrorCode } from './errors';
import {
  Amount,
  CardSerial,
  CardStatus,
  ClientId,
  Counter,
  DateBcd,
  Fen,
  hexBytes,
  IdempotencyKey,
  LoadId,
  LoadStatus,
  Msisdn,
  PurchaseRecord,
  TerminalId,
  TimeBcd,
} from './schemas';

/** An endpoint of the platform. */
export type Endpoint = 'app' | 'console' | 'ota';

/** The endpoint paths. */
export const ENDPOINT_PATHS = { app: '/v1/app', console: '/v1/console', ota: '/v1/ota' } as const satisfies Record<
  Endpoint,
  string
>;

/** The WebSocket subprotocol. */
export const SUBPROTOCOL = 'simtap.v1';

/** One method of the catalogue. */
export interface MethodSpec {
  readonly endpoints: readonly Endpoint[];
  /** `true` when the method moves money: it takes an `idempotencyKey`, and a retry returns the first outcome. */
  readonly moneyMoving: boolean;
  /** Fixed by the protocol (`true`) or the project's addition. */
  readonly fixed: boolean;
  readonly summary: string;
  readonly params: z.ZodType;
  readonly result: z.ZodType;
  readonly errors: readonly WireErrorCode[];
  readonly example: { readonly params: unknown; readonly result: unknown };
}

const Empty = z.strictObject({});
const Balance = z.object({ balance: z.number().int() });
const LoadFunding = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('cash') }),
  z.strictObject({ source: z.literal('phoneAccount'), msisdn: Msisdn }),
]);
const CardView = z.object({ cardSerial: CardSerial, msisdn: Msisdn, iccid: z.string(), status: CardStatus });
const LoadView = z.object({
  loadId: LoadId,
  status: LoadStatus,
  amount: Amount,
  cardSerial: CardSerial,
  onlineCounter: Counter.nullable().describe('the counter the load used; null: an air load not yet at the card'),
  air: z.boolean().default(false).describe('a load over the air, settled by the platform at the phone’s contacts'),
  suspended: z.boolean(),
  createdAt: z.number().int(),
});
const Delta = z.object({
  version: z.number().int().min(0),
  added: z.array(CardSerial),
  removed: z.array(CardSerial),
  since: z.number().int().min(0),
  signature: hexBytes(64).describe('Ed25519 over the delta (docs/protocol.md), hex'),
});

/** The event topics of `events.subscribe`. */
const Topic = z.enum(['loads', 'cards', 'clearing', 'taps']);
/** One purchase record as the platform cleared (or refused) it: what `event.tap` and the console's feed carry. */
const TapView = z.object({
  at: z.number().int().describe('epoch ms the platform received the record'),
  clientId: ClientId,
  terminalId: TerminalId,
  machine: z.string().nullable().describe("the machine's kind, as the machine said"),
  cardSerial: CardSerial,
  amount: Fen,
  offlineCounter: Counter,
  tapUs: z.number().int().nullable().describe("the tap's time at the machine, µs, as the machine said"),
  balance: z.number().int().nullable().describe('the purse balance after the debit, as the machine read it'),
  date: DateBcd,
  time: TimeBcd,
  status: z.enum(['cleared', 'rejected']),
  code: z.string().nullable().describe('why it was rejected (`BAD_TAC`, `DUPLICATE`, `UNKNOWN_CARD`, `FLOAT_SHORT`)'),
});
/** A clearing batch as the console shows it. */
const BatchView = z.object({
  at: z.number().int(),
  clientId: ClientId,
  accepted: z.number().int(),
  settled: Fen,
  points: z.number().int(),
  rejected: z.array(z.object({ index: z.number().int(), cardSerial: z.string(), code: z.string() })),
  gaps: z.array(z.object({ cardSerial: CardSerial, missing: z.array(Counter) })),
});
/** A load in the console's feed. */
const LoadItem = z.object({
  at: z.number().int(),
  loadId: LoadId,
  cardSerial: CardSerial,
  amount: Amount,
  status: LoadStatus,
  air: z.boolean().nullable(),
  clientId: z.string().nullable(),
});
const Traffic = z.object({ received: z.number().int(), sent: z.number().int() });
const PerSecond = z.array(z.number().int()).length(60);

const SERIAL = '00004401202600000001';
const MSISDN = '13800138001';
/** A cleared tap, as `event.tap` and `console.snapshot` show it. */
const EXAMPLE_TAP = {
  at: 1796292059500,
  clientId: 'mart-1',
  terminalId: '000000000101',
  machine: 'till',
  cardSerial: SERIAL,
  amount: 1250,
  offlineCounter: 3,
  tapUs: 41200,
  balance: 3750,
  date: '20261204',
  time: '100059',
  status: 'cleared',
  code: null,
};
const LOAD_ID = '0b6f2f4e-58a4-4c1e-9d55-0c6c1f7e9a10';

/** Every method of `simtap.v1`. */
export const METHODS = {
  'session.authenticate': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: true,
    summary:
      'Proves the client: `proof = hex(HMAC-SHA256(secret, nonce ‖ ASCII(endpoint path)))` over the nonce of ' +
      '`session.challenge`. Answers the client and its role; a wrong proof is `BAD_PROOF` and close 4401.',
    params: z.strictObject({ clientId: ClientId, proof: hexBytes(32) }),
    result: z.object({ clientId: ClientId, role: z.enum(['application', 'operator']) }),
    errors: ['BAD_PROOF', 'FORBIDDEN'],
    example: {
      params: { clientId: 'mart-1', proof: '5D0F3A9CB21E44D08A7713C6E2F0915B6A4C8D2E1F3B5A7C9E0D2F4A6B8C1E3D' },
      result: { clientId: 'mart-1', role: 'application' },
    },
  },
  'customers.topUpPhoneAccount': {
    endpoints: ['app'],
    moneyMoving: true,
    fixed: true,
    summary: "Cash paid in at the client's service point, credited to the customer's phone account.",
    params: z.strictObject({ idempotencyKey: IdempotencyKey, msisdn: Msisdn, amount: Amount }),
    result: Balance,
    errors: ['UNKNOWN_CUSTOMER', 'IDEMPOTENCY_CONFLICT'],
    example: { params: { idempotencyKey: 'top-1', msisdn: MSISDN, amount: 5000 }, result: { balance: 5000 } },
  },
  'customers.phoneAccount': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: true,
    summary: "The phone account's balance (and what is available, holds of loads in flight deducted).",
    params: z.strictObject({ msisdn: Msisdn }),
    result: z.object({ balance: z.number().int(), available: z.number().int() }),
    errors: ['UNKNOWN_CUSTOMER'],
    example: { params: { msisdn: MSISDN }, result: { balance: 5000, available: 5000 } },
  },
  'customers.statement': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: false,
    summary: "The phone account's latest movements (top-ups, loads funded, charges, redemptions), oldest first.",
    params: z.strictObject({ msisdn: Msisdn, limit: z.number().int().min(1).max(10_000).optional() }),
    result: z.object({
      balance: z.number().int(),
      lines: z.array(
        z.object({
          transferId: z.string(),
          at: z.number().int(),
          amount: z.number().int(),
          memo: z.string(),
          state: z.enum(['posted', 'pending']),
        }),
      ),
    }),
    errors: ['UNKNOWN_CUSTOMER'],
    example: {
      params: { msisdn: MSISDN, limit: 10 },
      result: {
        balance: 5000,
        lines: [
          {
            transferId: LOAD_ID,
            at: 1796292000000,
            amount: 5000,
            memo: 'phone account top-up (cash)',
            state: 'posted',
          },
        ],
      },
    },
  },
  'customers.chargeChallenge': {
    endpoints: ['app'],
    moneyMoving: false,
    fixed: false,
    summary:
      'A fresh 8-byte challenge for an online charge to the phone account: the machine sends it to the card in ' +
      'INTERNAL AUTHENTICATE; valid 60 s, one charge.',
    params: z.strictObject({ cardSerial: CardSerial }),
    result: z.object({ challenge: hexBytes(8), expiresAt: z.number().int() }),
    errors: ['UNKNOWN_CARD', 'CARD_BLOCKED'],
    example: { params: { cardSerial: SERIAL }, result: { challenge: '8C1F0A33D2E49B70', expiresAt: 1796292060000 } },
  },
  'customers.chargePhoneAccount': {
    endpoints: ['app'],
    moneyMoving: true,
    fixed: false,
    summary:
      "The patent's online charge: once the card answered the challenge (INTERNAL AUTHENTICATE, checked with the " +
      "issuer's keys), the amount moves from the holder's phone account to the client's merchant, with points.",
    params: z.strictObject({
      idempotencyKey: IdempotencyKey,
      cardSerial: CardSerial,
      amount: Amount,
      challenge: hexBytes(8),
      response: z.string().regex(/^([0-9A-Fa-f]{2}){8,248}$/, 'hex'),
    }),
    result: z.object({ balance: z.number().int(), transferId: z.string(), points: z.number().int() }),
    errors: [
      'UNKNOWN_CARD',
      'CARD_BLOCKED',
      'BAD_CARD_PROOF',
      'NO_MERCHANT',
      'INSUFFICIENT_FUNDS',
      'IDEMPOTENCY_CONFLICT',
    ],
    example: {
      params: {
        idempotencyKey: 'charge-7',
        cardSerial: SERIAL,
        amount: 1234,
        challenge: '8C1F0A33D2E49B70',
        response: '3F2A99C01B7E5D46',
      },
      result: { balance: 3766, transferId: LOAD_ID, points: 12 },
    },
  },
  'customers.chargeOverTheAir': {
    endpoints: ['app'],
    moneyMoving: true,
    fixed: false,
    summary:
      'The online charge with the card proving itself through its phone: the platform sends INTERNAL AUTHENTICATE of ' +
      "a fresh challenge to the customer's SIM over the air (wherever the phone is connected), checks the answer with " +
      "the issuer's keys, and moves the amount from the phone account to the client's merchant, with points. " +
      '`PHONE_UNREACHABLE` (nothing moved) when the phone is not connected.',
    params: z.strictObject({ idempotencyKey: IdempotencyKey, msisdn: Msisdn, amount: Amount }),
    result: z.object({ balance: z.number().int(), transferId: z.string(), points: z.number().int() }),
    errors: [
      'UNKNOWN_CUSTOMER',
      'UNKNOWN_CARD',
      'CARD_BLOCKED',
      'PHONE_UNREACHABLE',
      'BAD_CARD_PROOF',
      'NO_MERCHANT',
      'INSUFFICIENT_FUNDS',
      'IDEMPOTENCY_CONFLICT',
    ],
    example: {
      params: { idempotencyKey: 'charge-8', msisdn: MSISDN, amount: 2500 },
      result: { balance: 2500, transferId: LOAD_ID, points: 25 },
    },
  },
  'wallet.authorizeLoad': {
    endpoints: ['app'],
    moneyMoving: true,
    fixed: true,
    summary:
      "Verifies the card's MAC1 (its INITIALIZE FOR LOAD answer), holds the funds in a pending load and returns the " +
      'MAC2 for CREDIT FOR LOAD.',
    params: z.strictObject({
      idempotencyKey: IdempotencyKey,
      cardSerial: CardSerial,
      terminalId: TerminalId,
      amount: Amount,
      oldBalance: z.number().int().min(0).max(0xffffffff),
      onlineCounter: Counter,
      random: hexBytes(4),
      mac1: hexBytes(4),
      date: DateBcd,
      time: TimeBcd,
      funding: LoadFunding,
    }),
    result: z.object({ loadId: LoadId, mac2: hexBytes(4) }),
    errors: [
      'UNKNOWN_CARD',
      'CARD_BLOCKED',
      'BALANCE_LIMIT',
      'BAD_MAC1',
      'FUNDING_REFUSED',
      'UNKNOWN_CUSTOMER',
      'INSUFFICIENT_FUNDS',
      'IDEMPOTENCY_CONFLICT',
    ],
    example: {
      params: {
        idempotencyKey: 'load-1',
        cardSerial: SERIAL,
        terminalId: '440100000009',
        amount: 5000,
        oldBalance: 0,
        onlineCounter: 0,
        random: '1A2B3C4D',
        mac1: '8F3E2C11',
        date: '20261203',
        time: '101500',
        funding: { source: 'phoneAccount', msisdn: MSISDN },
      },
      result: { loadId: LOAD_ID, mac2: '5E7A0C92' },
    },
  },
  'wallet.confirmLoad': {
    endpoints: ['app'],
    moneyMoving: false,
    fixed: true,
    summary: "Verifies the card's load TAC (its CREDIT FOR LOAD answer) and posts the load. Idempotent by loadId.",
    params: z.strictObject({ loadId: LoadId, tac: hexBytes(4) }),
    result: z.object({ status: z.literal('posted'), float: z.number().int() }),
    errors: ['UNKNOWN_LOAD', 'BAD_TAC', 'LOAD_STATE'],
    example: { params: { loadId: LOAD_ID, tac: 'C0FFEE42' }, result: { status: 'posted', float: 5000 } },
  },
  'wallet.resolveLoad': {
    endpoints: ['app'],
    moneyMoving: false,
    fixed: true,
    summary:
      "Settles a torn load from the card's next contact: its online counter still at the load's → voided; past it, " +
      "with the card's GET TRANSACTION PROVE answer (mac2, tac; required then) → posted.",
    params: z.strictObject({
      loadId: LoadId,
      onlineCounter: Counter,
      mac2: hexBytes(4).optional(),
      tac: hexBytes(4).optional(),
    }),
    result: z.object({ status: z.enum(['posted', 'voided']), float: z.number().int() }),
    errors: ['UNKNOWN_LOAD', 'BAD_TAC', 'LOAD_STATE'],
    example: { params: { loadId: LOAD_ID, onlineCounter: 0 }, result: { status: 'voided', float: 0 } },
  },
  'wallet.float': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: true,
    summary: "The platform's mirror of the card's purse.",
    params: z.strictObject({ cardSerial: CardSerial }),
    result: Balance,
    errors: ['UNKNOWN_CARD'],
    example: { params: { cardSerial: SERIAL }, result: { balance: 5000 } },
  },
  'wallet.airTopUp': {
    endpoints: ['app'],
    moneyMoving: true,
    fixed: true,
    summary:
      "Loads the customer's card over the air from the phone account: the amount is held at once, then loaded " +
      'through the phone (the call waits up to a few seconds for it). `pending` while the phone is unreachable or ' +
      'the load is torn, settled exactly once at the next contact (`wallet.load`, `event.load`); `voided` (the ' +
      "project's addition) when the card refused the load and the funds went back.",
    params: z.strictObject({ idempotencyKey: IdempotencyKey, msisdn: Msisdn, amount: Amount }),
    result: z.object({ loadId: LoadId, status: z.enum(['posted', 'pending', 'voided']) }),
    errors: [
      'UNKNOWN_CUSTOMER',
      'UNKNOWN_CARD',
      'CARD_BLOCKED',
      'INSUFFICIENT_FUNDS',
      'BALANCE_LIMIT',
      'IDEMPOTENCY_CONFLICT',
    ],
    example: {
      params: { idempotencyKey: 'air-1', msisdn: MSISDN, amount: 2000 },
      result: { loadId: LOAD_ID, status: 'pending' },
    },
  },
  'wallet.load': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: true,
    summary: 'A load and its status.',
    params: z.strictObject({ loadId: LoadId }),
    result: LoadView,
    errors: ['UNKNOWN_LOAD'],
    example: {
      params: { loadId: LOAD_ID },
      result: {
        loadId: LOAD_ID,
        status: 'pending',
        amount: 5000,
        cardSerial: SERIAL,
        onlineCounter: 0,
        air: false,
        suspended: false,
        createdAt: 1796292000000,
      },
    },
  },
  'wallet.pendingLoads': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: false,
    summary: "The card's loads not yet settled: what its next contact must resolve.",
    params: z.strictObject({ cardSerial: CardSerial }),
    result: z.object({ loads: z.array(LoadView) }),
    errors: ['UNKNOWN_CARD'],
    example: { params: { cardSerial: SERIAL }, result: { loads: [] } },
  },
  'clearing.submitBatch': {
    endpoints: ['app'],
    moneyMoving: true,
    fixed: true,
    summary:
      "Clears offline purchase records to the client's merchant: every TAC verified, each debit once, gaps reported.",
    params: z.strictObject({ idempotencyKey: IdempotencyKey, records: z.array(PurchaseRecord).max(1000) }),
    result: z.object({
      accepted: z.number().int(),
      settled: Fen,
      points: z.number().int(),
      rejected: z.array(
        z.object({ index: z.number().int(), code: z.enum(['BAD_TAC', 'DUPLICATE', 'UNKNOWN_CARD', 'FLOAT_SHORT']) }),
      ),
      gaps: z.array(z.object({ cardSerial: CardSerial, missing: z.array(Counter) })),
    }),
    errors: ['NO_MERCHANT', 'IDEMPOTENCY_CONFLICT'],
    example: {
      params: {
        idempotencyKey: 'batch-1',
        records: [
          {
            cardSerial: SERIAL,
            offlineCounter: 0,
            amount: 1250,
            tti: 6,
            terminalId: '440100000009',
            terminalSeq: 88,
            date: '20261203',
            time: '101500',
            tac: '19A4C3E0',
          },
        ],
      },
      result: { accepted: 1, settled: 1250, points: 12, rejected: [], gaps: [] },
    },
  },
  'merchants.balance': {
    endpoints: ['app'],
    moneyMoving: false,
    fixed: true,
    summary: "What the platform owes the client's merchant.",
    params: Empty,
    result: z.object({ payable: Fen }),
    errors: ['NO_MERCHANT'],
    example: { params: {}, result: { payable: 1250 } },
  },
  'points.balance': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: true,
    summary: "The customer's points.",
    params: z.strictObject({ msisdn: Msisdn }),
    result: z.object({ points: z.number().int() }),
    errors: ['UNKNOWN_CUSTOMER'],
    example: { params: { msisdn: MSISDN }, result: { points: 12 } },
  },
  'points.redeem': {
    endpoints: ['app'],
    moneyMoving: true,
    fixed: false,
    summary: 'Redeems points into the phone account (1 fen per point in the embedded default).',
    params: z.strictObject({
      idempotencyKey: IdempotencyKey,
      msisdn: Msisdn,
      points: z.number().int().min(1).max(1e12),
    }),
    result: z.object({ points: z.number().int(), balance: z.number().int(), credited: Fen }),
    errors: ['UNKNOWN_CUSTOMER', 'INSUFFICIENT_FUNDS', 'IDEMPOTENCY_CONFLICT'],
    example: {
      params: { idempotencyKey: 'redeem-1', msisdn: MSISDN, points: 10 },
      result: { points: 2, balance: 10, credited: 10 },
    },
  },
  'cards.get': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: true,
    summary: "A card's identities and life-cycle status.",
    params: z.strictObject({ cardSerial: CardSerial }),
    result: CardView,
    errors: ['UNKNOWN_CARD'],
    example: {
      params: { cardSerial: SERIAL },
      result: { cardSerial: SERIAL, msisdn: MSISDN, iccid: '8986004401202600010F', status: 'active' },
    },
  },
  'cards.reportLost': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: true,
    summary: 'Reports the card lost: it is refused from now on and enters the blacklist machines fetch.',
    params: z.strictObject({ cardSerial: CardSerial }),
    result: z.object({ status: z.literal('lost'), blacklistVersion: z.number().int() }),
    errors: ['UNKNOWN_CARD', 'CARD_STATE'],
    example: { params: { cardSerial: SERIAL }, result: { status: 'lost', blacklistVersion: 1 } },
  },
  'cards.blacklist': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: true,
    summary:
      'The blacklist changes since `sinceVersion` (default 0: the whole list), signed by the platform (Ed25519 over ' +
      '`simtap-blacklist-v1\\n<since>\\n<version>\\n+serial…\\n-serial…`, serials sorted).',
    params: z.strictObject({ sinceVersion: z.number().int().min(0).optional() }),
    result: Delta,
    errors: [],
    example: {
      params: { sinceVersion: 0 },
      result: { version: 1, added: [SERIAL], removed: [], since: 0, signature: '7A'.repeat(64) },
    },
  },
  'cards.blacklistKey': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: false,
    summary: "The platform's Ed25519 public key (raw, hex) that blacklist deltas are signed with.",
    params: Empty,
    result: z.object({ publicKey: hexBytes(32) }),
    errors: [],
    example: { params: {}, result: { publicKey: '3B'.repeat(32) } },
  },
  'cards.list': {
    endpoints: ['console'],
    moneyMoving: false,
    fixed: true,
    summary:
      'The card registry with each card’s float, filtered by status, MSISDN or serial prefix, in serial order; ' +
      '`limit` (the project’s addition) caps the answer and `truncated` says more matched. `lastSeen` (the ' +
      'project’s addition): the last purse balance a machine reported for the card since this instance started ' +
      '(a cleared tap, or a load the card answered), or null.',
    params: z.strictObject({
      status: CardStatus.optional(),
      msisdn: Msisdn.optional(),
      cardSerial: z
        .string()
        .regex(/^[0-9A-Fa-f]{0,20}$/)
        .optional(),
      limit: z.number().int().min(1).max(1000).optional(),
    }),
    result: z.object({
      cards: z.array(
        z.object({
          cardSerial: CardSerial,
          msisdn: Msisdn,
          iccid: z.string(),
          status: CardStatus,
          float: z.number().int(),
          lastSeen: z
            .object({ balance: z.number().int(), at: z.number().int(), source: z.enum(['tap', 'load']) })
            .nullable()
            .optional(),
        }),
      ),
      truncated: z.boolean().optional(),
    }),
    errors: [],
    example: {
      params: {},
      result: {
        cards: [
          {
            cardSerial: SERIAL,
            msisdn: MSISDN,
            iccid: '8986004401202600010F',
            status: 'active',
            float: 5000,
            lastSeen: { balance: 3750, at: 1796292000000, source: 'tap' },
          },
        ],
        truncated: false,
      },
    },
  },
  'cards.block': {
    endpoints: ['console'],
    moneyMoving: false,
    fixed: false,
    summary: 'Blocks a card (onto the blacklist).',
    params: z.strictObject({ cardSerial: CardSerial, reason: z.string().max(256).optional() }),
    result: z.object({ status: CardStatus, blacklistVersion: z.number().int() }),
    errors: ['UNKNOWN_CARD', 'CARD_STATE'],
    example: {
      params: { cardSerial: SERIAL, reason: 'fraud check' },
      result: { status: 'blocked', blacklistVersion: 2 },
    },
  },
  'cards.unblock': {
    endpoints: ['console'],
    moneyMoving: false,
    fixed: false,
    summary: 'Unblocks a blocked card (off the blacklist).',
    params: z.strictObject({ cardSerial: CardSerial, reason: z.string().max(256).optional() }),
    result: z.object({ status: CardStatus, blacklistVersion: z.number().int() }),
    errors: ['UNKNOWN_CARD', 'CARD_STATE'],
    example: { params: { cardSerial: SERIAL }, result: { status: 'active', blacklistVersion: 3 } },
  },
  'cards.issue': {
    endpoints: ['console'],
    moneyMoving: false,
    fixed: false,
    summary:
      'Issues a card to a customer (the phone account opened if new): registered `issued`, its SIM blank; the ' +
      'platform personalizes it over the air at its first contact. Issuing the same card again answers the same.',
    params: z.strictObject({
      cardSerial: CardSerial,
      iccid: z.string().regex(/^[0-9A-Fa-f]{18,20}$/, '18–20 hex digits'),
      msisdn: Msisdn,
      kdd: hexBytes(10).describe("the ISD's key diversification data"),
    }),
    result: CardView,
    errors: ['CARD_STATE'],
    example: {
      params: {
        cardSerial: '00004401202690000007',
        iccid: '89860044012026000007',
        msisdn: '13900000007',
        kdd: '00004401202690000007',
      },
      result: {
        cardSerial: '00004401202690000007',
        msisdn: '13900000007',
        iccid: '89860044012026000007',
        status: 'issued',
      },
    },
  },
  'cards.replace': {
    endpoints: ['console'],
    moneyMoving: false,
    fixed: false,
    summary:
      'Replaces a lost card: issues the new one to the same customer at once (the lost card is blocked on its SIM at ' +
      "its next contact, the new one personalized at its first) and moves the lost card's float exactly once. The " +
      "float is held for the lost card's late offline records until `heldUntil` (the platform's hold, default 7 " +
      'days from the loss report); asked again after it, what is left goes to the phone account. Without a hold it ' +
      'moves to the new card at once. Repeating the call answers the same, with what changed.',
    params: z.strictObject({
      lostCardSerial: CardSerial,
      replacement: z.strictObject({
        cardSerial: CardSerial,
        iccid: z.string().regex(/^[0-9A-Fa-f]{18,20}$/, '18–20 hex digits'),
        kdd: hexBytes(10),
      }),
    }),
    result: z.object({
      cardSerial: CardSerial,
      moved: Fen.describe('fen moved out of the lost card’s float'),
      movedTo: z
        .enum(['card', 'phoneAccount'])
        .nullable()
        .describe('the new card’s float (onto its purse at personalization) or the phone account; null while held'),
      held: Fen.describe('fen still held for the lost card’s late offline records (0 once moved)'),
      heldUntil: z.string().datetime().nullable().describe('when the hold ends (ISO 8601); null once moved'),
    }),
    errors: ['UNKNOWN_CARD', 'CARD_STATE'],
    example: {
      params: {
        lostCardSerial: SERIAL,
        replacement: { cardSerial: '00004401202690000008', iccid: '89860044012026000008', kdd: '00004401202690000008' },
      },
      result: {
        cardSerial: '00004401202690000008',
        moved: 0,
        movedTo: null,
        held: 900,
        heldUntil: '2026-03-09T09:00:00.000Z',
      },
    },
  },
  'ledger.verify': {
    endpoints: ['console'],
    moneyMoving: false,
    fixed: true,
    summary: 'Recomputes every balance from the journal, checks the chain and the zero sum; answers the head.',
    params: Empty,
    result: z.object({
      ok: z.boolean(),
      accounts: z.number().int(),
      sum: z.number().int(),
      journalHead: z.string().regex(/^[0-9a-f]{64}$/),
      entries: z.number().int(),
    }),
    errors: [],
    example: {
      params: {},
      result: { ok: true, accounts: 19, sum: 0, journalHead: 'c6e1'.padEnd(64, '0'), entries: 20 },
    },
  },
  'ledger.loadReport': {
    endpoints: ['console'],
    moneyMoving: false,
    fixed: false,
    summary: 'Loads in flight for the back office: pending ones, and the suspended ones (unresolved for too long).',
    params: Empty,
    result: z.object({ pending: z.array(LoadView), suspended: z.array(LoadView) }),
    errors: [],
    example: { params: {}, result: { pending: [], suspended: [] } },
  },
  'ledger.summary': {
    endpoints: ['console'],
    moneyMoving: false,
    fixed: false,
    summary:
      'The ledger by sub-platform: the stored balances of every account kind (phone accounts, card floats, pending ' +
      'loads, merchant payables, points, suspense, and where money came in: cash, settlement, points funding), ' +
      'with the sums that must be 0 (`fenSum` over the fen kinds, `pointsSum` over the points kinds).',
    params: Empty,
    result: z.object({
      kinds: z.array(
        z.object({
          kind: z.string(),
          subPlatform: z.string(),
          label: z.string(),
          unit: z.enum(['fen', 'points']),
          accounts: z.number().int(),
          balance: z.number().int(),
          reserved: z.number().int(),
        }),
      ),
      fenSum: z.number().int(),
      pointsSum: z.number().int(),
    }),
    errors: [],
    example: {
      params: {},
      result: {
        kinds: [
          {
            kind: 'PHONE',
            subPlatform: 'customers',
            label: 'Phone accounts',
            unit: 'fen',
            accounts: 3,
            balance: 5000,
            reserved: 0,
          },
          {
            kind: 'CASH',
            subPlatform: 'money in',
            label: 'Cash received',
            unit: 'fen',
            accounts: 4,
            balance: -5000,
            reserved: 0,
          },
        ],
        fenSum: 0,
        pointsSum: 0,
      },
    },
  },
  'console.snapshot': {
    endpoints: ['console'],
    moneyMoving: false,
    fixed: false,
    summary:
      "The operator console's live view of this instance since it started: connections and WebSocket traffic by " +
      'endpoint, counts over the last 60 s (`rates`: taps, loads, cleared records, fen) and per second (`series`, ' +
      'oldest first), the newest taps, loads and clearing batches, and the tap-time histogram by machine kind ' +
      '(`counts[i]` taps at most `bucketsMs[i]`, the last count above the last edge). Held in memory: a restart ' +
      'starts it again; the money is in the ledger (`ledger.summary`, `ledger.verify`).',
    params: Empty,
    result: z.object({
      now: z.number().int(),
      startedAt: z.number().int(),
      connections: z.object({ app: z.number().int(), console: z.number().int(), ota: z.number().int() }),
      traffic: z.object({ app: Traffic, console: Traffic, ota: Traffic }),
      rates: z.object({
        taps: z.number().int(),
        loads: z.number().int(),
        cleared: z.number().int(),
        fen: z.number().int(),
      }),
      series: z.object({ start: z.number().int(), taps: PerSecond, loads: PerSecond, cleared: PerSecond }),
      taps: z.array(TapView).max(100),
      loads: z.array(LoadItem).max(100),
      batches: z.array(BatchView).max(50),
      tapTimes: z.object({
        bucketsMs: z.array(z.number()),
        machines: z.array(
          z.object({
            machine: z.string(),
            count: z.number().int(),
            counts: z.array(z.number().int()),
            p50Ms: z.number(),
            p95Ms: z.number(),
            maxMs: z.number(),
          }),
        ),
      }),
    }),
    errors: [],
    example: {
      params: {},
      result: {
        now: 1796292060000,
        startedAt: 1796292000000,
        connections: { app: 2, console: 1, ota: 0 },
        traffic: {
          app: { received: 12, sent: 12 },
          console: { received: 3, sent: 5 },
          ota: { received: 0, sent: 0 },
        },
        rates: { taps: 1, loads: 0, cleared: 1, fen: 1250 },
        series: {
          start: 1796292001000,
          taps: [...Array(59).fill(0), 1],
          loads: Array(60).fill(0),
          cleared: [...Array(59).fill(0), 1],
        },
        taps: [EXAMPLE_TAP],
        loads: [],
        batches: [
          {
            at: 1796292059500,
            clientId: 'mart-1',
            accepted: 1,
            settled: 1250,
            points: 12,
            rejected: [],
            gaps: [],
          },
        ],
        tapTimes: {
          bucketsMs: [25, 50, 100, 200, 300, 500, 1000],
          machines: [
            { machine: 'till', count: 1, counts: [0, 1, 0, 0, 0, 0, 0, 0], p50Ms: 41.2, p95Ms: 41.2, maxMs: 41.2 },
          ],
        },
      },
    },
  },
  'events.subscribe': {
    endpoints: ['app', 'console'],
    moneyMoving: false,
    fixed: false,
    summary:
      'Starts the event notifications of the topics (`loads`, `cards`, `clearing`, `taps`): `event.load`, ' +
      '`event.card`, `event.batch`, `event.tap`. An application client gets the events of its own calls and of the ' +
      'cards; the console all. Topics add up over calls; an event may come again when its call is retried under ' +
      'the same key.',
    params: z.strictObject({ topics: z.array(Topic).min(1).max(4) }),
    result: z.object({ topics: z.array(Topic) }),
    errors: [],
    example: { params: { topics: ['loads', 'cards'] }, result: { topics: ['loads', 'cards'] } },
  },
} as const satisfies Record<string, MethodSpec>;

/** A method name of `simtap.v1`. */
export type MethodName = keyof typeof METHODS;
/** The params of method `M`. */
export type ParamsOf<M extends MethodName> = z.input<(typeof METHODS)[M]['params']>;
/** The result of method `M`. */
export type ResultOf<M extends MethodName> = z.output<(typeof METHODS)[M]['result']>;

/** The methods an endpoint serves. */
export function methodsOf(endpoint: Endpoint): MethodName[] {
  return (Object.keys(METHODS) as MethodName[]).filter((m) =>
    (METHODS[m].endpoints as readonly Endpoint[]).includes(endpoint),
  );
}

/** Notifications the server sends. */
export const NOTIFICATIONS = {
  'session.challenge': {
    summary: 'Sent right after the upgrade: the nonce the client proves its secret over.',
    params: z.object({ nonce: hexBytes(32) }),
    example: { nonce: 'A1'.repeat(32) },
  },
  'event.load': {
    summary: 'A load was authorized, posted or voided (`at`, `air`: the project’s additions).',
    params: z.object({
      loadId: LoadId,
      cardSerial: CardSerial,
      status: LoadStatus,
      amount: Amount,
      at: z.number().int().optional().describe('epoch ms of the change'),
      air: z.boolean().optional().describe('a load over the air'),
    }),
    example: { loadId: LOAD_ID, cardSerial: SERIAL, status: 'posted', amount: 5000, at: 1796292000000, air: false },
  },
  'event.card': {
    summary: "A card's status changed (blocked, lost, active again).",
    params: z.object({ cardSerial: CardSerial, status: CardStatus, blacklistVersion: z.number().int() }),
    example: { cardSerial: SERIAL, status: 'lost', blacklistVersion: 1 },
  },
  'event.batch': {
    summary: 'A clearing batch was cleared (`at` and `batch`, its rejects and gaps: the project’s additions).',
    params: z.object({
      clientId: ClientId,
      accepted: z.number().int(),
      settled: Fen,
      rejected: z.number().int(),
      at: z.number().int().optional(),
      batch: BatchView.optional(),
    }),
    example: { clientId: 'mart-1', accepted: 1, settled: 1250, rejected: 0 },
  },
  'event.tap': {
    summary:
      'A purchase record reached clearing (topic `taps`): cleared or rejected, with what its machine said of the ' +
      'tap (kind, tap time, balance after).',
    params: TapView,
    example: EXAMPLE_TAP,
  },
} as const;

/** A notification name. */
export type NotificationName = keyof typeof NOTIFICATIONS;
/** The params of notification `N`. */
export type NotificationOf<N extends NotificationName> = z.output<(typeof NOTIFICATIONS)[N]['params']>;

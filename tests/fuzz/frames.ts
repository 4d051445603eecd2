/**
 * The fuzzer's frames: fast-check arbitraries (sampled with a seed, so a run is reproducible) for every class of bad
 * input — not JSON, truncated JSON, JSON of every type, batches, bad envelopes (jsonrpc, ids of every type, extra
 * members), unknown and near-miss methods, every catalogue method with its params mutated (missing, extra and
 * prototype keys, wrong types, huge / negative / fractional numbers and raw number literals JSON.stringify cannot
 * write, long strings, unicode, lone surrogates), responses and notifications from the client, binary frames — and
 * hand-written valid calls that cannot succeed (unknown cards, customers and loads, bad MAC1, no merchant).
 *
 * {@link expectFor} is the oracle: what the server must answer to a frame on a connection, from the frame as the
 * server receives it (UTF-8 round trip) read with the protocol's own `parseFrame` and `checkParams`. A frame the
 * server would run as a valid call is `unsafe` and never sent: nothing the fuzzer sends may move money.
 */
import { checkOtaParams, checkParams, type Endpoint, METHODS, type MethodName, parseFrame } from '@simtap/sdk/wire';
import fc from 'fast-check';
import type { AnswerCode, Expect } from './lane';

/** Where a frame goes. */
export interface Ctx {
  readonly endpoint: Endpoint;
  /** The authenticated client, if any. */
  readonly clientId?: string;
}

/** A frame to send, before its id is chosen (`call`) or as it is. */
export type Gen =
  | { readonly t: 'call'; readonly method: unknown; readonly params: unknown; readonly cls: string }
  | { readonly t: 'text'; readonly text: string; readonly cls: string }
  | { readonly t: 'bin'; readonly data: Uint8Array; readonly cls: string }
  | {
      readonly t: 'safe';
      readonly method: MethodName;
      readonly params: Record<string, unknown>;
      readonly codes: readonly AnswerCode[];
      /** Call again under a key used before (of another call): `IDEMPOTENCY_CONFLICT`, or the first outcome. */
      readonly reuseKey: boolean;
      readonly cls: string;
    };

/** A frame ready to send, with what the server must answer. */
export interface Planned {
  readonly data: string | Uint8Array;
  readonly binary: boolean;
  readonly expect: Expect | null;
  readonly cls: string;
}

const ALL_METHODS = Object.keys(METHODS) as MethodName[];
const methodsOf = (e: Endpoint) => ALL_METHODS.filter((m) => (METHODS[m].endpoints as readonly string[]).includes(e));

/** Raw JSON number literals (and non-JSON ones) put in place of a marker string after `JSON.stringify`. */
const RAW = [
  '1e400',
  '-1e400',
  '-0',
  '-0.0',
  '1.0',
  '1E2',
  '5e-324',
  '1e-400',
  '100000000000000000000000000001',
  '4294967296.0',
  '4294967295.5',
  '9007199254740993',
  '-9007199254740993',
  '0x10',
  'NaN',
  'Infinity',
  '-Infinity',
  '1_000',
  '01',
  '+1',
  '.5',
  'undefined',
  'true1',
] as const;
const RAW_MARK = '\u0000raw:';
const rawValue = (lit: string) => `${RAW_MARK}${lit}`;

/** `JSON.stringify` with the raw literals written as they are. */
export function serialize(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.includes('raw:') ? text.replace(/"\\u0000raw:([^"]*)"/g, (_m, lit: string) => lit) : text;
}

/** Sets an own, enumerable property (also `__proto__`, which plain assignment would not make a key). */
function setKey(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
];

/** Long strings (up to 16 KiB here; the big-frame lanes send bigger ones). */
const longString = fc
  .constantFrom(65, 257, 1025, 4097, 16_385)
  .chain((n) => fc.constantFrom('A', '9', 'é', '𝕏', '\ud800', ' ').map((c) => c.repeat(n)));

/** Values of every kind, weighted to the edges. */
export const weird: fc.Arbitrary<unknown> = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      1e308,
      -1e308,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 2,
      2 ** 64,
      -(2 ** 63),
      0xffffffff,
      0x100000000,
      0x10000,
      -1,
      -0,
      0,
      0.5,
      1.5,
      Number.MIN_VALUE,
      'NaN',
      'Infinity',
      '-Infinity',
      '1e308',
      '0',
      '1',
      '',
      ' ',
      '\u0000',
      '\ud800',
      'x\udc00',
      '\ud83d',
      '\u202e\u0041',
      '𝕏𝕐',
      'ＡＢＣ',
      '００００４４０１２０２６００００００００１',
      '00004401202600000001\n',
      ' 00004401202600000001',
      '0000440120260000000G',
      '13800138001\u0000',
      '١٣٨٠٠١٣٨٠٠١',
      null,
      true,
      false,
      [],
      {},
      [1],
      [null],
      { source: 'cash' },
      { toString: 'x' },
    ),
    weight: 6,
  },
  { arbitrary: fc.constantFrom(...RAW).map(rawValue), weight: 3 },
  { arbitrary: fc.integer(), weight: 2 },
  { arbitrary: fc.double(), weight: 2 },
  { arbitrary: fc.string({ maxLength: 30 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }), weight: 2 },
  { arbitrary: fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFabcdef'), maxLength: 70 }), weight: 3 },
  { arbitrary: longString, weight: 1 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 2 },
  { arbitrary: fc.constant(nested(100)), weight: 1 },
);

/** `[[[…]]]`, `depth` deep. */
function nested(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const keyPool = fc.oneof(
  fc.constantFrom(...PROTO_KEYS),
  fc.constantFrom(
    '',
    'idempotencyKey ',
    'AMOUNT',
    'cardserial',
    'extra',
    'client',
    'role',
    'clientId',
    'id',
    'jsonrpc',
  ),
  fc.string({ maxLength: 12 }),
);

type Mutation = (p: Record<string, unknown>) => unknown;

/** One change to a params object (applied to a copy). */
function mutationArb(base: Record<string, unknown>): fc.Arbitrary<Mutation> {
  const keys = Object.keys(base);
  const existing = keys.length > 0 ? fc.constantFrom(...keys) : keyPool;
  const nestedKeys = keys.filter((k) => typeof base[k] === 'object' && base[k] !== null);
  const options: Array<fc.Arbitrary<Mutation>> = [
    existing.map((k) => (p) => {
      delete p[k];
      return p;
    }),
    fc.tuple(existing, weird).map(([k, v]) => (p) => {
      setKey(p, k, v);
      return p;
    }),
    fc.tuple(keyPool, weird).map(([k, v]) => (p) => {
      setKey(p, k, v);
      return p;
    }),
    fc
      .tuple(
        fc.constantFrom(...PROTO_KEYS),
        fc.constantFrom({ polluted: true }, { prototype: { polluted: 1 } }, null, 1),
      )
      .map(([k, v]) => (p) => {
        setKey(p, k, v);
        return p;
      }),
  ];
  if (nestedKeys.length > 0)
    options.push(
      fc.tuple(fc.constantFrom(...nestedKeys), keyPool, weird).map(([k, inner, v]) => (p) => {
        const n = p[k];
        const target = Array.isArray(n) ? n[0] : n;
        if (typeof target === 'object' && target !== null) setKey(target as Record<string, unknown>, inner, v);
        return p;
      }),
    );
  return fc.oneof(...options);
}

const mutatedByMethod = new Map<MethodName, fc.Arbitrary<unknown>>();

/** A method's params, mutated 1–3 times, or replaced by a value of another type. */
export function mutatedParams(method: MethodName): fc.Arbitrary<unknown> {
  let a = mutatedByMethod.get(method);
  if (a === undefined) {
    a = makeMutatedParams(method);
    mutatedByMethod.set(method, a);
  }
  return a;
}

function makeMutatedParams(method: MethodName): fc.Arbitrary<unknown> {
  const base = METHODS[method].example.params as Record<string, unknown>;
  return fc.oneof(
    {
      arbitrary: fc
        .array(mutationArb(base), { minLength: 1, maxLength: 3 })
        .map((ms) => ms.reduce<unknown>((p, m) => m(p as Record<string, unknown>), structuredClone(base))),
      weight: 8,
    },
    { arbitrary: weird, weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );
}

/** Names next to the catalogue's: other case, a character more or less, spaces, look-alikes, prototype names. */
export const nearMissMethod: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...ALL_METHODS).chain((m) =>
    fc.constantFrom(
      m.toUpperCase(),
      m.replace('.', '_'),
      m.replace('.', '/'),
      `${m} `,
      ` ${m}`,
      `${m}.`,
      `${m}\u0000`,
      m.slice(0, -1),
      `${m}s`,
      m.replace('a', 'а'), // Cyrillic a
      m.split('.').reverse().join('.'),
      `v1.${m}`,
      `${m}/v1`,
    ),
  ),
  fc.constantFrom(
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'valueOf',
    'rpc.discover',
    'session.challenge',
    'event.load',
    'phone.hello',
    'session.logout',
    'ledger.transfer',
    'ledger.reset',
    'admin.shutdown',
    '.',
    'x'.repeat(64),
  ),
  fc.string({ minLength: 1, maxLength: 20 }),
);

const idArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.constantFrom(
    0,
    -0,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    2 ** 53,
    1e308,
    0.5,
    -1,
    'x'.repeat(64),
    'x'.repeat(65),
  ),
  fc.string({ maxLength: 70 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.constantFrom(...RAW).map(rawValue),
  fc.constantFrom(null, true, false, {}, [], [1], { id: 1 }),
);

/** A request envelope with one or more members wrong (or all right but for the method or params). */
export const envelope: fc.Arbitrary<Gen> = fc
  .record(
    {
      jsonrpc: fc.oneof(
        { arbitrary: fc.constant('2.0'), weight: 4 },
        {
          arbitrary: fc.constantFrom('2', '1.0', '2.0 ', '2.00', 2, 2.0, null, true, ['2.0'], { v: '2.0' }, '３.０'),
          weight: 2,
        },
      ),
      id: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 1e6 }), weight: 2 }, { arbitrary: idArb, weight: 3 }),
      method: fc.oneof(
        { arbitrary: fc.constantFrom(...ALL_METHODS), weight: 3 },
        { arbitrary: nearMissMethod, weight: 2 },
        { arbitrary: weird, weight: 1 },
      ),
      params: fc.oneof(weird, ...ALL_METHODS.map(mutatedParams)),
      extra: fc.option(fc.tuple(keyPool, weird), { nil: undefined }),
    },
    { requiredKeys: [] },
  )
  .map((r) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (k !== 'extra' && Object.hasOwn(r, k)) setKey(o, k, v);
    if (r.extra) setKey(o, r.extra[0], r.extra[1]);
    return { t: 'text' as const, text: serialize(o), cls: 'envelope' };
  });

/** Frames that are not JSON, or not all of it. */
export const notJson: fc.Arbitrary<Gen> = fc.oneof(
  fc.string({ maxLength: 200 }).map((text) => ({ t: 'text' as const, text, cls: 'not JSON: text' })),
  fc.string({ unit: 'binary', maxLength: 100 }).map((text) => ({ t: 'text' as const, text, cls: 'not JSON: unicode' })),
  fc.tuple(fc.constantFrom(...ALL_METHODS), fc.nat()).map(([m, n]) => {
    const full = serialize({ jsonrpc: '2.0', id: n, method: m, params: METHODS[m].example.params });
    return { t: 'text' as const, text: full.slice(0, n % full.length), cls: 'truncated JSON' };
  }),
  fc
    .constantFrom(
      '',
      ' ',
      '\n',
      '{',
      '}',
      '[',
      '{"jsonrpc":"2.0","id":1,"method":"wallet.float"',
      '{"jsonrpc":"2.0","id":1,"method":"wallet.float",}',
      "{'jsonrpc':'2.0','id':1,'method':'wallet.float'}",
      '{"jsonrpc":"2.0","id":1,"method":"wallet.float"} {"jsonrpc":"2.0","id":2,"method":"wallet.float"}',
      '{"jsonrpc":"2.0","id":1,"method":"wallet.float"}\u0000',
      '\ufeff{"jsonrpc":"2.0","id":1,"method":"wallet.float"}',
      '/* c */{"jsonrpc":"2.0","id":1,"method":"wallet.float"}',
      '{"jsonrpc":"2.0","id":NaN,"method":"wallet.float"}',
      '{"jsonrpc":"2.0","id":1,"method":"wallet.float","params":{"cardSerial":"\\ud800"}}x',
      '{"jsonrpc":"2.0","id":1,"method":"wallet.float","params":{"cardSerial":"\\x41"}}',
      '{"jsonrpc":"2.0","id":1,"method":"wallet.float","params":{"cardSerial":"\t"}}',
      'null garbage',
      'undefined',
      'NaN',
      '0x7b',
    )
    .map((text) => ({ t: 'text' as const, text, cls: 'not JSON: by hand' })),
);

/** Big frames of deep nesting (100 KB – 250 KB), JSON or almost. */
export const deepJson: fc.Arbitrary<Gen> = fc
  .constantFrom(
    '['.repeat(100_000),
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    `${'{"a":'.repeat(50_000)}1${'}'.repeat(49_999)}`,
    `${'{"a":'.repeat(20_000)}{}${'}'.repeat(20_000)}`,
    `{"jsonrpc":"2.0","id":1,"method":"wallet.float","params":{"cardSerial":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`,
    `{"jsonrpc":"2.0","id":${'['.repeat(50_000)}${']'.repeat(50_000)},"method":"wallet.float"}`,
  )
  .map((text) => ({ t: 'text' as const, text, cls: 'deep nesting' }));

/** JSON that is not a request object: every JSON type at the top, batches, deep nesting. */
export const otherJson: fc.Arbitrary<Gen> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => ({ t: 'text' as const, text: serialize(v), cls: 'JSON of any type' })),
  fc.array(fc.tuple(fc.constantFrom(...ALL_METHODS), fc.nat()), { maxLength: 20 }).map((calls) => ({
    t: 'text' as const,
    text: serialize(calls.map(([m, id]) => ({ jsonrpc: '2.0', id, method: m, params: METHODS[m].example.params }))),
    cls: 'batch',
  })),
  fc
    .constantFrom('null', 'true', '0', '-0', '1e308', '1e400', '"2.0"', '[]', '{}', '[[]]')
    .map((text) => ({ t: 'text' as const, text, cls: 'JSON by hand' })),
);

/** Responses and notifications sent by the client (out of order: nobody asked), and malformed responses. */
export const outOfOrder: fc.Arbitrary<Gen> = fc.oneof(
  fc.tuple(idArb, fc.jsonValue({ maxDepth: 2 })).map(([id, result]) => ({
    t: 'text' as const,
    text: serialize({ jsonrpc: '2.0', id, result }),
    cls: 'response from the client',
  })),
  fc.tuple(idArb, fc.integer(), fc.string({ maxLength: 20 })).map(([id, code, message]) => ({
    t: 'text' as const,
    text: serialize({ jsonrpc: '2.0', id, error: { code, message } }),
    cls: 'error response from the client',
  })),
  fc.tuple(idArb, weird).map(([id, v]) => ({
    t: 'text' as const,
    text: serialize({ jsonrpc: '2.0', id, result: v, error: v }),
    cls: 'malformed response',
  })),
  fc
    .tuple(
      fc.oneof(
        fc.constantFrom(...ALL_METHODS),
        fc.constantFrom('session.challenge', 'event.load', 'event.card'),
        nearMissMethod,
      ),
      weird,
    )
    .map(([method, params]) => ({
      t: 'text' as const,
      text: serialize({ jsonrpc: '2.0', method, params }),
      cls: 'notification from the client',
    })),
);

/** A method with its params mutated, on a proper envelope (the id chosen when sent). */
export function mutatedCall(methods: readonly MethodName[]): fc.Arbitrary<Gen> {
  return fc.oneof(
    ...methods.map((method) =>
      mutatedParams(method).map((params) => ({ t: 'call' as const, method, params, cls: `params: ${method}` })),
    ),
  );
}

/** A near-miss or unknown method with plausible params. */
export const unknownMethodCall: fc.Arbitrary<Gen> = fc
  .tuple(nearMissMethod, fc.constantFrom(...ALL_METHODS))
  .map(([method, like]) => ({
    t: 'call' as const,
    method,
    params: METHODS[like].example.params,
    cls: 'unknown method',
  }));

/** Prototype members in the envelope or the params, written into the JSON text. */
export const prototypeKeys: fc.Arbitrary<Gen> = fc
  .tuple(fc.constantFrom(...ALL_METHODS), fc.constantFrom(...PROTO_KEYS), fc.boolean(), fc.nat(1e6))
  .map(([method, key, inParams, id]) => {
    const params = serialize(METHODS[method].example.params);
    const inject = `"${key}":{"polluted":true,"prototype":{"polluted":true}},`;
    const text = inParams
      ? `{"jsonrpc":"2.0","id":${id},"method":"${method}","params":{${inject}${params.slice(1)}}`
      : `{${inject}"jsonrpc":"2.0","id":${id},"method":"${method}","params":${params}}`;
    return { t: 'text' as const, text, cls: 'prototype keys' };
  });

/** Binary frames. */
export const binary: fc.Arbitrary<Gen> = fc
  .oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc
      .constantFrom(...ALL_METHODS)
      .map((m) => new TextEncoder().encode(serialize({ jsonrpc: '2.0', id: 1, method: m }))),
  )
  .map((data) => ({ t: 'bin' as const, data, cls: 'binary frame' }));

// ---------------------------------------------------------------- valid calls that cannot succeed

/** The profile's first card: known and active. */
export const KNOWN_SERIAL = '00004401202600000001';
const hexOf = (bytes: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789ABCDEF'), minLength: bytes * 2, maxLength: bytes * 2 });
/** A serial no card has (the profile's start with 0000). */
const unknownSerial = hexOf(9).map((h) => `EE${h}`);
/** An MSISDN no customer has (the profile's are 1380013800x). */
const unknownMsisdn = fc
  .string({ unit: fc.constantFrom(...'0123456789'), minLength: 6, maxLength: 6 })
  .map((d) => `19990${d}`);
const loadId = fc.oneof(
  fc.uuid(),
  fc.string({ unit: fc.constantFrom(...'abcdef0123456789-'), minLength: 1, maxLength: 128 }),
);
const key = fc
  .string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), minLength: 8, maxLength: 64 })
  .map((k) => `fz-${k}`.slice(0, 64));
const amount = fc.integer({ min: 1, max: 0xffffffff });
const date = fc.constantFrom('20261203', '20270101', '19991231');
const time = fc.constantFrom('101500', '000000', '235959');
const terminalId = hexOf(6);
const record = fc.record({
  cardSerial: fc.oneof(unknownSerial, fc.constant(KNOWN_SERIAL)),
  offlineCounter: fc.integer({ min: 0, max: 0xffff }),
  amount: fc.integer({ min: 0, max: 0xffffffff }),
  tti: fc.constantFrom(6, 9),
  terminalId,
  terminalSeq: fc.nat(),
  date,
  time,
  tac: hexOf(4),
});

const safe = (method: MethodName, params: fc.Arbitrary<Record<string, unknown>>, ...codes: AnswerCode[]) =>
  fc.tuple(params, fc.nat(7)).map(([p, n]) => ({
    t: 'safe' as const,
    method,
    params: p,
    codes,
    reuseKey: n === 0 && 'idempotencyKey' in p,
    cls: `valid, fails: ${method} → ${codes.join('|')}`,
  }));

/**
 * Valid calls of the endpoint (and client) that cannot succeed, each with the code it must fail with: unknown cards,
 * customers and loads, a MAC1 that is not the card's, the purse's maximum balance, a charge with no challenge, a
 * client with no merchant, the session authenticated again, an over-the-air load (no phone, no customer).
 */
export function failingCalls(ctx: Ctx): fc.Arbitrary<Gen> {
  const noMerchant = ctx.clientId === 'access-1';
  const common: Array<fc.Arbitrary<Gen>> = [
    safe('customers.phoneAccount', fc.record({ msisdn: unknownMsisdn }), 'UNKNOWN_CUSTOMER'),
    safe(
      'customers.statement',
      fc.record({ msisdn: unknownMsisdn, limit: fc.integer({ min: 1, max: 10_000 }) }),
      'UNKNOWN_CUSTOMER',
    ),
    safe('points.balance', fc.record({ msisdn: unknownMsisdn }), 'UNKNOWN_CUSTOMER'),
    safe('wallet.float', fc.record({ cardSerial: unknownSerial }), 'UNKNOWN_CARD'),
    // not wallet.pendingLoads: it answers { loads: [] } for a card that does not exist (its catalogue entry says
    // UNKNOWN_CARD)
    safe('wallet.load', fc.record({ loadId }), 'UNKNOWN_LOAD'),
    safe('cards.get', fc.record({ cardSerial: unknownSerial }), 'UNKNOWN_CARD'),
    safe('cards.reportLost', fc.record({ cardSerial: unknownSerial }), 'UNKNOWN_CARD'),
    safe(
      'session.authenticate',
      fc.record({ clientId: fc.constantFrom('mart-1', 'operator-1', 'nobody'), proof: hexOf(32) }),
      'FORBIDDEN',
    ),
  ];
  if (ctx.endpoint === 'console')
    return fc.oneof(
      ...common,
      safe(
        'cards.block',
        fc.record({ cardSerial: unknownSerial, reason: fc.string({ maxLength: 256 }) }),
        'UNKNOWN_CARD',
      ),
      safe('cards.unblock', fc.record({ cardSerial: unknownSerial }), 'UNKNOWN_CARD'),
    );
  const mac1Load = fc.record({
    idempotencyKey: key,
    cardSerial: fc.constant(KNOWN_SERIAL),
    terminalId,
    amount: fc.integer({ min: 1, max: 100_000 }),
    oldBalance: fc.constant(0),
    onlineCounter: fc.integer({ min: 0, max: 0xffff }),
    random: hexOf(4),
    mac1: fc.constant('00000000'),
    date,
    time,
    funding: fc.constantFrom<Record<string, unknown>>(
      { source: 'cash' },
      { source: 'phoneAccount', msisdn: '13800138001' },
    ),
  });
  return fc.oneof(
    ...common,
    safe(
      'customers.topUpPhoneAccount',
      fc.record({ idempotencyKey: key, msisdn: unknownMsisdn, amount }),
      'UNKNOWN_CUSTOMER',
    ),
    safe('customers.chargeChallenge', fc.record({ cardSerial: unknownSerial }), 'UNKNOWN_CARD'),
    safe(
      'customers.chargePhoneAccount',
      fc.record({
        idempotencyKey: key,
        cardSerial: fc.constant(KNOWN_SERIAL),
        amount,
        challenge: hexOf(8),
        response: hexOf(8),
      }),
      noMerchant ? 'NO_MERCHANT' : 'BAD_CARD_PROOF',
    ),
    safe(
      'customers.chargePhoneAccount',
      fc.record({ idempotencyKey: key, cardSerial: unknownSerial, amount, challenge: hexOf(8), response: hexOf(8) }),
      noMerchant ? 'NO_MERCHANT' : 'UNKNOWN_CARD',
    ),
    safe('wallet.authorizeLoad', mac1Load, 'BAD_MAC1'),
    safe(
      'wallet.authorizeLoad',
      mac1Load.map((p) => ({ ...p, cardSerial: `EE${p.random}0000000000AA`.slice(0, 20) })),
      'UNKNOWN_CARD',
    ),
    safe(
      'wallet.authorizeLoad',
      mac1Load.map((p) => ({ ...p, oldBalance: 0xffffffff })),
      'BALANCE_LIMIT',
    ),
    safe('wallet.confirmLoad', fc.record({ loadId, tac: hexOf(4) }), 'UNKNOWN_LOAD'),
    safe(
      'wallet.resolveLoad',
      fc.record({ loadId, onlineCounter: fc.integer({ min: 0, max: 0xffff }) }),
      'UNKNOWN_LOAD',
    ),
    safe(
      'wallet.airTopUp',
      fc.record({ idempotencyKey: key, msisdn: unknownMsisdn, amount }),
      'PHONE_UNREACHABLE',
      'UNKNOWN_CUSTOMER',
    ),
    safe(
      'points.redeem',
      fc.record({ idempotencyKey: key, msisdn: unknownMsisdn, points: fc.integer({ min: 1, max: 1e12 }) }),
      'UNKNOWN_CUSTOMER',
    ),
    ...(noMerchant
      ? [
          safe('merchants.balance', fc.constant({}), 'NO_MERCHANT'),
          safe(
            'clearing.submitBatch',
            fc.record({ idempotencyKey: key, records: fc.array(record, { maxLength: 5 }) }),
            'NO_MERCHANT',
          ),
        ]
      : []),
  );
}

/** The mixture a lane sends on `ctx`: every class above, weighted. */
export function mixture(ctx: Ctx): fc.Arbitrary<Gen> {
  const own = methodsOf(ctx.endpoint === 'ota' ? 'app' : ctx.endpoint);
  const parts: Array<{ arbitrary: fc.Arbitrary<Gen>; weight: number }> = [
    { arbitrary: mutatedCall(own), weight: 200 },
    { arbitrary: mutatedCall(ALL_METHODS), weight: 40 },
    { arbitrary: envelope, weight: 70 },
    { arbitrary: notJson, weight: 40 },
    { arbitrary: otherJson, weight: 30 },
    { arbitrary: outOfOrder, weight: 25 },
    { arbitrary: unknownMethodCall, weight: 25 },
    { arbitrary: prototypeKeys, weight: 20 },
    { arbitrary: binary, weight: 10 },
    { arbitrary: deepJson, weight: 1 },
  ];
  if (ctx.clientId !== undefined) parts.push({ arbitrary: failingCalls(ctx), weight: 70 });
  return fc.oneof(...parts);
}

/** What the server must answer to `text` on `ctx`; `'unsafe'` for a call it would run (never sent). */
export function expectFor(text: string, ctx: Ctx, cls: string): Expect | null | 'unsafe' {
  const wire = Buffer.from(text, 'utf8').toString('utf8'); // lone surrogates go out as U+FFFD
  const f = parseFrame(wire);
  switch (f.kind) {
    case 'invalid':
      return { id: f.id, codes: [f.error.code], cls };
    case 'notification':
    case 'result':
    case 'error':
      return null;
    case 'request':
      break;
  }
  if (ctx.endpoint === 'ota') {
    // Phones (no hello said on a fuzz lane): only phone.hello and phone.topUp exist there.
    if (f.method === 'phone.topUp') return { id: f.id, codes: ['UNAUTHENTICATED'], cls };
    if (f.method !== 'phone.hello') return { id: f.id, codes: [-32601], cls };
    return checkOtaParams('phone.hello', f.params).ok ? 'unsafe' : { id: f.id, codes: [-32602], cls };
  }
  if (ctx.clientId === undefined) {
    if (f.method !== 'session.authenticate') return { id: f.id, codes: ['UNAUTHENTICATED'], cls };
    const c = checkParams(ctx.endpoint, f.method, f.params);
    return c.ok ? 'unsafe' : { id: f.id, codes: [c.error.code], cls };
  }
  const c = checkParams(ctx.endpoint, f.method, f.params);
  if (!c.ok) return { id: f.id, codes: [c.error.code], cls };
  if (f.method === 'session.authenticate') return { id: f.id, codes: ['FORBIDDEN'], cls };
  return 'unsafe';
}

/** What a lane's frames share: the ids and the idempotency keys used so far. */
export class LaneState {
  #id = 0;
  /**
   * Keys of the failing calls sent, with the codes they may fail with: the same array as in their expectation, so
   * that a later call under the key adds `IDEMPOTENCY_CONFLICT` to them (the two may run at once, the later first).
   */
  readonly keys: Array<{ readonly key: string; readonly codes: AnswerCode[] }> = [];
  readonly #prefix: string;

  /** `prefix` makes the lane's idempotency keys its own (keys are scoped to the client, lanes share clients). */
  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  nextId(): number {
    return ++this.#id;
  }

  /** A key no call has used. */
  freshKey(id: number): string {
    return `${this.#prefix}-${id}`.slice(0, 64);
  }
}

/**
 * Turns a sample into a frame on `ctx`: `call`s get the next id; a failing call gets a key of its own (or one used
 * before, then `IDEMPOTENCY_CONFLICT` or the first call's outcome is also right); a frame the server would run (but a
 * hand-written failing call) is `undefined`.
 */
export function plan(g: Gen, ctx: Ctx, state: LaneState): Planned | undefined {
  switch (g.t) {
    case 'bin':
      return { data: g.data, binary: true, expect: { id: null, codes: [-32600], cls: g.cls }, cls: g.cls };
    case 'safe': {
      const id = state.nextId();
      let params = g.params;
      let codes: AnswerCode[] = [...g.codes];
      let cls = g.cls;
      if ('idempotencyKey' in params) {
        const before = g.reuseKey && state.keys.length > 0 ? state.keys[id % state.keys.length] : undefined;
        if (before) {
          params = { ...params, idempotencyKey: before.key };
          codes = [...new Set([...codes, ...before.codes, 'IDEMPOTENCY_CONFLICT'])];
          if (!before.codes.includes('IDEMPOTENCY_CONFLICT')) before.codes.push('IDEMPOTENCY_CONFLICT');
          cls = `${cls} (key used before)`;
        } else {
          params = { ...params, idempotencyKey: state.freshKey(id) };
          state.keys.push({ key: params.idempotencyKey as string, codes });
        }
      }
      const text = serialize({ jsonrpc: '2.0', id, method: g.method, params });
      const c = checkParams(ctx.endpoint, g.method, JSON.parse(text).params);
      if (!c.ok) throw new Error(`a hand-written failing call does not fit its schema: ${text} ${c.error.message}`);
      return { data: text, binary: false, expect: { id, codes, cls }, cls };
    }
    case 'call':
    case 'text': {
      const text =
        g.t === 'text'
          ? g.text
          : serialize(
              g.params === undefined
                ? { jsonrpc: '2.0', id: state.nextId(), method: g.method }
                : { jsonrpc: '2.0', id: state.nextId(), method: g.method, params: g.params },
            );
      const e = expectFor(text, ctx, g.cls);
      if (e === 'unsafe') return undefined;
      return { data: text, binary: false, expect: e, cls: g.cls };
    }
  }
}

/**
 * `count` frames for `ctx`, sampled with `seed`, each at most `maxBytes` (the big-frame lanes send the big ones); also
 * says how many samples were dropped as unsafe (calls the server would run).
 */
export function frames(
  ctx: Ctx,
  count: number,
  seed: number,
  maxBytes = 128 * 1024,
): { frames: Planned[]; unsafe: number } {
  const state = new LaneState(`fz-${seed}`);
  const out: Planned[] = [];
  let unsafe = 0;
  let round = 0;
  while (out.length < count) {
    for (const g of fc.sample(mixture(ctx), { seed: seed + round * 7919, numRuns: count - out.length + 16 })) {
      const p = plan(g, ctx, state);
      if (p === undefined) unsafe++;
      else if (out.length < count && byteLength(p.data) <= maxBytes) out.push(p);
    }
    round++;
  }
  return { frames: out, unsafe };
}

/** A frame's size on the wire. */
export function byteLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
}

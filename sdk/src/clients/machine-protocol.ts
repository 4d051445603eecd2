/**
 * `/v1/machine`: what an application system ({@link MachineHub}) and its machines ({@link MachineAgent}) say to
 * each other. The application system serves it, not the platform; it is `simtap.v1` in form — a WebSocket with the
 * subprotocol `simtap.v1`, one JSON-RPC 2.0 message per text frame, every message checked against its schema in
 * {@link MACHINE_MESSAGES} before anything acts on it.
 *
 * 1. **Session.** Right after the upgrade the hub sends `session.challenge { nonce }` (32 random bytes). The machine
 *    answers `session.authenticate { clientId: machineId, proof }` with `proof = hex(HMAC-SHA256(machine secret,
 *    nonce ‖ ASCII('/v1/machine')))`. The hub compares in constant time; a wrong proof or an unknown id is
 *    answered `BAD_PROOF` and closed with 4401, no authentication within 10 s is closed with 4408. The answer
 *    `{ machineId, kind, storedSeq }` tells the machine the highest record sequence number the application system
 *    has stored for it. A second session of the same machine closes the first with 4409.
 * 2. **Status.** The machine then sends `machine.status` (its config and blacklist versions, its last and acked
 *    sequence numbers, the records it holds), and again when it likes (`detail`: free key/values).
 * 3. **Config.** The hub sends `machine.config { version, fares?, doors?, blacklist }` when it has a config the
 *    machine does not run (at `pushConfig`, and after a status that shows an older version). `blacklist` is a delta
 *    of `cards.blacklist` exactly as the platform signed it: the machine checks the Ed25519 signature with the
 *    platform's key it was set up with — never a key from the link — and applies the delta only from its own
 *    version (or a whole list). It stores the config durably, then acknowledges `machine.configAck { version,
 *    blacklistVersion }`; a config it does not apply is answered `machine.configRefused { version, reason }`
 *    ({@link CONFIG_REFUSALS}) and changes nothing. Both are notifications: the ack is a state report, repeated
 *    for a repeated config.
 * 4. **Records.** The machine numbers its records 1, 2, 3, … (`seq`, per machine, kept on its disk) and sends them
 *    oldest first, one `machine.records { batch: [{ seq, record }] }` request at a time. The hub hands the records
 *    above its stored sequence to the application system in order, and answers `{ storedSeq }` only once they are
 *    stored; records at or below it are duplicates and skipped. The machine forgets records up to `storedSeq`.
 *    So a record is stored exactly once by (machineId, seq), whatever breaks in between. A machine whose buffer
 *    never met the hub (a new disk) renumbers its records above the `storedSeq` of its first session.
 *
 * Limits: frames of at most 1 MiB (larger close with 1009), batches of at most {@link MACHINE_MAX_BATCH} records,
 * a per-connection rate limit (refusals answered `RATE_LIMITED`; a machine that goes on is closed with 4429),
 * pings every 15 s. Application errors are JSON-RPC -32000 with `data.code` from `simtap.v1`'s codes
 * (`UNAUTHENTICATED`, `BAD_PROOF`, `RATE_LIMITED`, `UNAVAILABLE` when the application system could not store a
 * batch: the machine sends it again later).
 * @module
 */
import { z } from 'zod';
import { fromHex } from '../core/bytes';
import { ArgumentError } from '../core/errors';
import { CLOSE_CODES, ClientId, hexBytes, MAX_FRAME_BYTES, METHODS, PurchaseRecord, type WireErrorCode } from '../wire';

/** The path of the endpoint. */
export const MACHINE_PATH = '/v1/machine';

/** The largest frame either end accepts (1 MiB: a whole blacklist of tens of thousands of cards fits). */
export const MACHINE_MAX_FRAME_BYTES = MAX_FRAME_BYTES;

/** The most records in one `machine.records` batch. */
export const MACHINE_MAX_BATCH = 500;

/** The close codes of `/v1/machine` (those of `simtap.v1`). */
export const MACHINE_CLOSE_CODES = {
  /** The hub shuts down; the machine reconnects. */
  GOING_AWAY: CLOSE_CODES.GOING_AWAY,
  /** A frame over {@link MACHINE_MAX_FRAME_BYTES}. */
  MESSAGE_TOO_BIG: CLOSE_CODES.MESSAGE_TOO_BIG,
  /** A wrong proof or an unknown machine id; final for the machine. */
  AUTHENTICATION_FAILED: CLOSE_CODES.AUTHENTICATION_FAILED,
  /** No `session.authenticate` within the hub's `authTimeoutMs` (10 s). */
  AUTHENTICATION_TIMEOUT: CLOSE_CODES.AUTHENTICATION_TIMEOUT,
  /** The same machine opened a newer session; final for the machine whose session this was. */
  SUPERSEDED: CLOSE_CODES.SUPERSEDED,
  /** The machine kept sending past the rate limit. */
  RATE_LIMIT: CLOSE_CODES.RATE_LIMIT,
} as const;

/** The kinds of machines an application system runs. */
export const MACHINE_KINDS = {
  gate: 'a metro or station gate (entry/exit, composite purchase)',
  validator: 'a bus validator',
  till: 'a shop or canteen till',
  door: 'a door reader (access control: no money moves)',
  kiosk: 'a recharge kiosk',
} as const;

/** A kind of {@link MACHINE_KINDS}. */
export type MachineKind = keyof typeof MACHINE_KINDS;

/** A machine kind. */
export const MachineKindSchema = z.enum(Object.keys(MACHINE_KINDS) as [MachineKind, ...MachineKind[]]);

/** A machine id: the `clientId` of its session (1–64 characters of A–Z a–z 0–9 . _ : -). */
export const MachineId = ClientId;

/** A record sequence number: 1, 2, 3, … per machine. */
export const Seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const SeqOrZero = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Version = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** The most a `machine.request`'s `params` may take as JSON, characters. */
export const MACHINE_MAX_REQUEST = 16_384;

/** A JSON value of at most {@link MACHINE_MAX_REQUEST} characters. */
const RequestParams = z.unknown().refine((v) => {
  try {
    const text = JSON.stringify(v);
    return text !== undefined && text.length <= MACHINE_MAX_REQUEST;
  } catch {
    return false;
  }
}, `a JSON value of at most ${MACHINE_MAX_REQUEST} characters`);

/** The most a machine event's `data` may take as JSON, characters (a batch of records is kept under a frame). */
export const MACHINE_MAX_EVENT_DATA = 4096;

/** A value of a machine event's `data`: a short string, a number, a boolean or null. */
const EventValue = z.union([z.string().max(256), z.number(), z.boolean(), z.null()]);

/**
 * A machine event: something that happened at the machine and moved no money (a door's decision, a tamper alarm),
 * delivered like a purchase record: durable on the machine's disk once `record()` resolves, then stored by the
 * application system exactly once and in order. `event` names it (`door.decision`), `at` is the machine's time as it
 * tells it, `data` at most 32 named short values.
 */
export const MachineEventSchema = z.strictObject({
  event: z
    .string()
    .regex(/^[a-z][a-z0-9]*(?:\.[a-z][a-z0-9]*)*$/, 'dotted lower-case name')
    .max(64),
  at: z.string().min(1).max(40),
  data: z
    .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,31}$/, 'a name of 1–32 letters, digits or _'), EventValue)
    .refine((d) => Object.keys(d).length <= 32, 'at most 32 values')
    .refine(
      (d) => JSON.stringify(d).length <= MACHINE_MAX_EVENT_DATA,
      `at most ${MACHINE_MAX_EVENT_DATA} characters as JSON`,
    ),
});
/** A machine event (see {@link MachineEventSchema}). */
export type MachineEvent = z.output<typeof MachineEventSchema>;

/**
 * A record a machine delivers: an offline purchase record as `clearing.submitBatch` takes it, or a
 * {@link MachineEvent}. Tell them apart with {@link isMachineEvent}.
 */
export const MachineRecordSchema = z.union([PurchaseRecord, MachineEventSchema]);
/** A record a machine delivers (see `clearingRecord` for a till's purchase). */
export type MachineRecord = z.output<typeof MachineRecordSchema>;
/** A purchase record a machine delivers. */
export type MachinePurchaseRecord = z.output<typeof PurchaseRecord>;

/** True for a {@link MachineEvent}, false for a purchase record. */
export function isMachineEvent(record: MachineRecord): record is MachineEvent {
  return 'event' in record;
}

/** A record with its sequence number. */
export const MachineRecordEntrySchema = z.strictObject({ seq: Seq, record: MachineRecordSchema });
/** A record with its sequence number. */
export type MachineRecordEntry = z.output<typeof MachineRecordEntrySchema>;

/** A signed blacklist delta, as `cards.blacklist` answers it. */
export const SignedBlacklistDeltaSchema = METHODS['cards.blacklist'].result;

const Name = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, '1–64 characters of A–Z a–z 0–9 . _ : -');
const Hhmm = z.string().regex(/^(?:[01][0-9]|2[0-3])[0-5][0-9]$/, 'HHMM');

/** Fares by name, in fen (`{ flat: 200 }`, `{ 'zone-1': 200, 'zone-2': 350 }`). */
export const FareTableSchema = z
  .record(Name, z.number().int().min(0).max(0xffffffff))
  .refine((t) => Object.keys(t).length <= 1000, 'at most 1000 fares');

/** A door rule: the cards (all that are not blacklisted when absent) that open `door`, on `days`, from–to. */
export const DoorRuleSchema = z.strictObject({
  door: Name,
  cards: z.array(hexBytes(10)).max(100_000).optional().describe('card serials; absent: every card not blacklisted'),
  days: z
    .array(z.number().int().min(0).max(6))
    .min(1)
    .max(7)
    .optional()
    .describe('0 Sunday … 6 Saturday; absent: every day'),
  from: Hhmm.describe('opening time, HHMM'),
  to: Hhmm.describe('closing time, HHMM (before `from`: past midnight)'),
});

/** What the hub pushes to a machine (see the module's description). */
export const MachineConfigSchema = z.strictObject({
  version: Seq.describe("the application system's config version; a machine never goes back to an older one"),
  fares: FareTableSchema.optional(),
  doors: z.array(DoorRuleSchema).max(1000).optional(),
  blacklist: SignedBlacklistDeltaSchema,
});
/** A config for machines: its version, fares, door rules, and the platform's signed blacklist delta. */
export type MachineConfig = z.output<typeof MachineConfigSchema>;

/** Why a machine refuses a config. */
export const CONFIG_REFUSALS = {
  badSignature: "the blacklist delta's Ed25519 signature does not verify under the platform's key",
  stale: "the config's version, or its blacklist's, is older than the machine's",
  blacklistGap: "the blacklist delta does not start at the machine's version: push a whole list (`sinceVersion` 0)",
  invalid: 'the config does not fit the schema',
} as const;
/** A reason of {@link CONFIG_REFUSALS}. */
export type ConfigRefusal = keyof typeof CONFIG_REFUSALS;

/** A machine's report of itself (`machine.status`). */
export const MachineStatusSchema = z.strictObject({
  configVersion: Version.describe('the config it runs (0: none)'),
  blacklistVersion: Version,
  lastSeq: SeqOrZero.describe('the last sequence number it gave a record'),
  ackedSeq: SeqOrZero.describe('the last one the hub acknowledged'),
  pending: SeqOrZero.describe('records held, not yet acknowledged'),
  detail: z
    .record(Name, z.union([z.string().max(256), z.number(), z.boolean()]))
    .refine((d) => Object.keys(d).length <= 32, 'at most 32 entries')
    .optional(),
});
/** A machine's report of itself. */
export type MachineStatus = z.output<typeof MachineStatusSchema>;

/** One message of `/v1/machine`. */
export interface MachineMessageSpec {
  /** Who sends it. */
  readonly from: 'hub' | 'machine';
  readonly summary: string;
  readonly params: z.ZodType;
  /** The result schema of a request; `undefined` for a notification. */
  readonly result: z.ZodType | undefined;
  readonly errors: readonly WireErrorCode[];
  readonly example: { readonly params: unknown; readonly result?: unknown };
}

const SERIAL = '00004401202600000001';
const RECORD_EXAMPLE = {
  cardSerial: SERIAL,
  offlineCounter: 7,
  amount: 200,
  tti: 9,
  terminalId: '440100000101',
  terminalSeq: 42,
  date: '20261203',
  time: '081502',
  tac: '1A2B3C4D',
};

/**
 * The messages of `/v1/machine`: sender, params and result schemas, error codes, an example each.
 * @example
 * import { MACHINE_MESSAGES } from '@simtap/sdk/clients';
 * MACHINE_MESSAGES['machine.records'].params.safeParse({ batch: [] }).success; // false: at least one record
 */
export const MACHINE_MESSAGES = {
  'session.challenge': {
    from: 'hub',
    summary: 'Sent right after the upgrade: the nonce the machine proves its secret over.',
    params: z.object({ nonce: hexBytes(32) }),
    result: undefined,
    errors: [],
    example: { params: { nonce: 'A1'.repeat(32) } },
  },
  'session.authenticate': {
    from: 'machine',
    summary:
      "Proves the machine: `proof = hex(HMAC-SHA256(secret, nonce ‖ ASCII('/v1/machine')))`. Answers the machine's " +
      'kind and the highest record sequence number stored for it; a wrong proof is `BAD_PROOF` and close 4401.',
    params: z.strictObject({ clientId: MachineId, proof: hexBytes(32) }),
    result: z.object({ machineId: MachineId, kind: MachineKindSchema, storedSeq: SeqOrZero }),
    errors: ['BAD_PROOF'],
    example: {
      params: { clientId: 'gate-7', proof: '5D0F3A9CB21E44D08A7713C6E2F0915B6A4C8D2E1F3B5A7C9E0D2F4A6B8C1E3D' },
      result: { machineId: 'gate-7', kind: 'gate', storedSeq: 41 },
    },
  },
  'machine.status': {
    from: 'machine',
    summary: 'The machine reports itself: after authenticating, and whenever it likes.',
    params: MachineStatusSchema,
    result: undefined,
    errors: [],
    example: {
      params: { configVersion: 3, blacklistVersion: 12, lastSeq: 44, ackedSeq: 41, pending: 3 },
    },
  },
  'machine.config': {
    from: 'hub',
    summary:
      'The config the machine should run. It verifies the blacklist signature with the platform key it was set up ' +
      'with, stores the config and answers `machine.configAck`, or `machine.configRefused` and keeps its own.',
    params: MachineConfigSchema,
    result: undefined,
    errors: [],
    example: {
      params: {
        version: 4,
        fares: { flat: 200 },
        blacklist: {
          version: 13,
          since: 12,
          added: ['00004401202600000003'],
          removed: [],
          signature: 'AB'.repeat(64),
        },
      },
    },
  },
  'machine.configAck': {
    from: 'machine',
    summary: 'The machine runs config `version` (stored on its disk), with its blacklist at `blacklistVersion`.',
    params: z.strictObject({ version: Seq, blacklistVersion: Version }),
    result: undefined,
    errors: [],
    example: { params: { version: 4, blacklistVersion: 13 } },
  },
  'machine.configRefused': {
    from: 'machine',
    summary: 'The machine did not apply config `version` (see `CONFIG_REFUSALS`); it runs the one it had.',
    params: z.strictObject({
      version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
      reason: z.enum(Object.keys(CONFIG_REFUSALS) as [ConfigRefusal, ...ConfigRefusal[]]),
      configVersion: Version,
      blacklistVersion: Version,
    }),
    result: undefined,
    errors: [],
    example: { params: { version: 4, reason: 'blacklistGap', configVersion: 3, blacklistVersion: 10 } },
  },
  'machine.records': {
    from: 'machine',
    summary:
      'Records, oldest first, with strictly increasing sequence numbers. Answered once the application system ' +
      'stored those above its stored sequence (the rest are duplicates): the highest sequence number stored.',
    params: z.strictObject({
      batch: z
        .array(MachineRecordEntrySchema)
        .min(1)
        .max(MACHINE_MAX_BATCH)
        .refine((b) => b.every((e, i) => i === 0 || e.seq > b[i - 1]!.seq), 'sequence numbers strictly increasing'),
    }),
    result: z.object({ storedSeq: SeqOrZero }),
    errors: ['UNAUTHENTICATED', 'RATE_LIMITED', 'UNAVAILABLE'],
    example: {
      params: { batch: [{ seq: 42, record: RECORD_EXAMPLE }] },
      result: { storedSeq: 42 },
    },
  },
  'machine.request': {
    from: 'machine',
    summary:
      'An online request of the machine to its application system, answered while the machine waits (a till’s ' +
      'online charge, an online authorization): `name` says which, `params` are the application system’s. The ' +
      'answer is its result, or its refusal as the `simtap.v1` error code it gave (`INSUFFICIENT_FUNDS`, …); ' +
      '`UNAVAILABLE` when it takes no requests or failed. Not buffered: a machine offline cannot ask.',
    params: z.strictObject({
      name: z
        .string()
        .regex(/^[a-z][a-zA-Z0-9]*(?:\.[a-z][a-zA-Z0-9]*)*$/, 'a dotted name (charge.phoneAccount)')
        .max(64),
      params: RequestParams,
    }),
    result: z.object({ result: z.unknown() }),
    errors: ['UNAUTHENTICATED', 'RATE_LIMITED', 'UNAVAILABLE'],
    example: {
      params: { name: 'charge.challenge', params: { cardSerial: SERIAL } },
      result: { result: { challenge: '1A2B3C4D5E6F7081' } },
    },
  },
} as const satisfies Record<string, MachineMessageSpec>;

/** A message name of `/v1/machine`. */
export type MachineMessageName = keyof typeof MACHINE_MESSAGES;
/** The params of message `M`. */
export type MachineParamsOf<M extends MachineMessageName> = z.output<(typeof MACHINE_MESSAGES)[M]['params']>;
/** The result of request `M`. */
export type MachineResultOf<M extends 'session.authenticate' | 'machine.records'> = z.output<
  (typeof MACHINE_MESSAGES)[M]['result']
>;

/**
 * Checks the params of a `/v1/machine` message: the parsed params, or a readable reason.
 * @example
 * import { checkMachineParams } from '@simtap/sdk/clients';
 * const r = checkMachineParams('machine.configAck', { version: 4, blacklistVersion: 13 });
 * if (r.ok) console.log(r.params.version);
 */
export function checkMachineParams<M extends MachineMessageName>(
  name: M,
  params: unknown,
): { readonly ok: true; readonly params: MachineParamsOf<M> } | { readonly ok: false; readonly reason: string } {
  const r = MACHINE_MESSAGES[name].params.safeParse(params ?? {});
  if (r.success) return { ok: true, params: r.data as MachineParamsOf<M> };
  return {
    ok: false,
    reason: r.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || 'params'}: ${i.message}`)
      .join('; '),
  };
}

/** Where the hub and the agent log (a pino logger fits). Records, secrets and keys are never logged. */
export interface MachineLogger {
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** @internal A logger that drops everything. */
export const SILENT_LOGGER: MachineLogger = {
  info() {},
  debug() {},
  warn() {},
  error() {},
};

/** @internal Listeners by event name; a listener that throws does not stop the others. */
export class TypedEmitter<M extends object> {
  readonly #listeners = new Map<keyof M, Set<(event: never) => void>>();

  on<K extends keyof M>(name: K, listener: (event: M[K]) => void): () => void {
    const set = this.#listeners.get(name) ?? new Set();
    this.#listeners.set(name, set);
    set.add(listener as (event: never) => void);
    return () => this.off(name, listener);
  }

  off<K extends keyof M>(name: K, listener: (event: M[K]) => void): void {
    this.#listeners.get(name)?.delete(listener as (event: never) => void);
  }

  emit<K extends keyof M>(name: K, event: M[K]): void {
    for (const fn of [...(this.#listeners.get(name) ?? [])]) {
      try {
        (fn as (event: M[K]) => void)(event);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}

/** @internal A secret as bytes (hex or bytes, not empty). */
export function secretOf(secret: Uint8Array | string, name: string): Uint8Array {
  if (secret instanceof Uint8Array && secret.length > 0) return Uint8Array.from(secret);
  if (typeof secret === 'string' && /^(?:[0-9A-Fa-f]{2})+$/.test(secret)) return fromHex(secret);
  throw new ArgumentError(`${name}: bytes or an even number of hex digits`);
}

/** @internal A positive finite number, or the fallback. */
export function positiveOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value))
    throw new ArgumentError(`${name}: a positive number`);
  return value;
}

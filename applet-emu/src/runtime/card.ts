/**
 * The card OS of the virtual dual-interface SIM: power and answer-to-reset per interface, logical channels
 * (MANAGE CHANNEL), application and file selection, the one command dispatcher, optional T=0 behaviour, and
 * the persistent-memory transaction and tear hooks.
 *
 * **Dispatch.** `transmit` answers every command with data ‖ SW, synchronously; it throws only when the card
 * is not powered on that interface ({@link CardRemovedError}) or power is lost during the command
 * ({@link CardTornError}). In order: fewer than 4 bytes → 6700; invalid CLA (FF, 20–3F) → 6E00; a logical
 * channel not open → 6881; malformed Lc/Le → 6700; then, for interindustry CLAs, MANAGE CHANNEL (70), SELECT
 * (A4) and, in T=0 mode, GET RESPONSE (C0) are handled by the runtime (CLA chaining → 6884, SM indicated in the
 * CLA → 6882 since the runtime cannot verify it). File commands
 * (B0 D6 B2 DC E2, interindustry CLA) addressed at files outside the selected applet's ADF are served by the
 * runtime; everything else goes to the selected applet's `process` (none selected → 6D00). Applets throw
 * `IsoException`; the dispatcher alone emits SWs. Any other exception is logged (command header and error
 * only) and answered 6F00.
 *
 * **Selection.** SELECT by name (P1 04) matches installed, selectable applets whose AID starts with the data
 * (full or partial), in install order: P2 b2b1 00 first, 01 last, 10 next, 11 previous occurrence (next and
 * previous are relative to the applet selected on the channel); P2 0C suppresses the FCI. An empty name selects
 * the interface's default applet. Not found, locked or not yet selectable (GP life cycle), or invisible on the
 * interface → 6A82 and the current selection stays. SELECT by FID (P1 00/01/02/03) and path (P1 08/09) move the
 * channel's file cursor; reaching another applet's ADF (a DF named with its AID) selects that applet; reaching
 * an ADF itself returns the applet's FCI, an EF its FCP (`62`), a plain DF its stored FCI or a generated one.
 *
 * **Channels.** Each interface has channels 0–19; channel 0 opens at power-up with the interface's default
 * applet implicitly selected. `00 70 00 00 01` opens the lowest free channel (answering its number),
 * `00 70 00 0n` opens channel n, `00 70 80 0n` closes n (`P2 00` closes the channel it is sent on). Errors:
 * channel number > 19 or not open → 6881, none free → 6A81, opening an open channel or closing channel 0 → 6A86.
 * A channel opened from channel 0 gets the default applet; from channel n it gets n's applet and file cursor.
 *
 * **Lengths.** Response data is returned whatever the Le (T=1 / ISO 14443-4 style, and as real contactless
 * e-purse cards answer case-3 INITIALIZE commands). With `t0: true` the contact interface behaves like T=0:
 * data of a command with command data (or without Le) is withheld behind `61xx` for GET RESPONSE, and a case 2
 * command whose Le differs from the data length gets `6Cxx`.
 *
 * @module
 */
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { ArgumentError, TransportError, type TransportErrorCode } from '@simtap/sdk/core/errors';
import {
  type ClaInfo,
  type CommandApdu,
  decodeCla,
  encodeResponseApdu,
  IsoException,
  parseCommandApdu,
  SW,
  T0ResponseBuffer,
} from '@simtap/sdk/core/iso7816';
import { encodeTlv, tlv } from '@simtap/sdk/core/tlv';
import type { ApduContext, AppletFactory, CardInterface, SelectReason } from './applet';
import { CARD_LIFECYCLE, isSelectableLifecycle, PRIVILEGE } from './applet';
import { DirectoryDdf } from './directory';
import { CardImageError, CardRemovedError, CardTornError } from './errors';
import {
  ChannelFiles,
  dfFci,
  fileControlParameters,
  fileManagementData,
  isFileSelectP1,
  resolveFileSelect,
  type SecurityStatus,
} from './file-commands';
import { type DedicatedFile, type DfNode, type ElementaryFile, type FileNode, FileSystem } from './file-system';
import { GSM_SW, gsmDfResponse, gsmEfResponse } from './gsm';
import { PersistentMemory, PersistentStore, type StoredValue, type TearWhen, TransientStore } from './memory';
import { type Entry, Registry } from './registry';
import { SampleApplet } from './sample-applet';

/** A card as a terminal's channel ({@link Card.channel}); the shape of the SDK's `CardChannel`. */
export interface CardApduChannel {
  /** Sends one C-APDU; resolves with `data ‖ SW1 SW2`. */
  transmit(capdu: Uint8Array): Promise<Uint8Array>;
  /** Detaches the channel (idempotent); the card itself is untouched. */
  close(): Promise<void>;
  readonly description: string;
}

/**
 * The reference profile's ATR (`sdk/profile/reference-profile.json` `card.atr`): T=0 and T=1 offered, TA1 95.
 */
export const DEFAULT_ATR_HEX = '3B 9D 95 80 31 FE 9F 00 66 46 53 05 10 00 11 71 DF 05 90 00 94';

/**
 * Default ISO 14443-4 ATS: TL 12 (18 bytes), T0 78 (TA/TB/TC present, FSCI 8 = 256-byte frames), TA 80 (106 kbit/s only,
 * same divisor both ways), TB 70 (FWI 7 ≈ 38.7 ms, SFGI 0), TC 02 (CID supported, NAD not), then the same 13
 * historical bytes as the ATR so both interfaces identify the same chip.
 */
export const DEFAULT_ATS_HEX = '12 78 80 70 02 00 66 46 53 05 10 00 11 71 DF 05 90 00';

/** Receives runtime error reports. Never given command data, response data or store contents. */
export interface CardLogger {
  error(message: string, context: Readonly<Record<string, unknown>>): void;
}

/** Options of {@link Card}. */
export interface CardOptions {
  /** Answer-to-reset of the contact interface; default {@link DEFAULT_ATR_HEX}. */
  readonly atr?: Uint8Array;
  /** Answer-to-select of the contactless interface; default {@link DEFAULT_ATS_HEX}. */
  readonly ats?: Uint8Array;
  /** T=0 fidelity on the contact interface (61xx + GET RESPONSE, 6Cxx); default false. */
  readonly t0?: boolean;
  /** Where unexpected applet/runtime errors go; default `console.error`. */
  readonly logger?: CardLogger;
  /** Random source for `ctx.random` (inject a deterministic one for tear enumeration); default WebCrypto. */
  readonly random?: (length: number) => Uint8Array;
  /** Extra applet factories by type, for {@link Card.fromSnapshot} (built-in types are always known). */
  readonly factories?: Readonly<Record<string, AppletFactory>>;
}

/** The persistent state of a card: every record of its persistent memory (registry, files, applet stores). */
export interface CardSnapshot {
  readonly version: 1;
  readonly records: ReadonlyArray<readonly [string, StoredValue]>;
}

/** Built-in applet factories, keyed by type. */
export const BUILTIN_FACTORIES: Readonly<Record<string, AppletFactory>> = Object.freeze({
  [DirectoryDdf.TYPE]: (env) => DirectoryDdf.restore(env),
  [SampleApplet.TYPE]: (env) => new SampleApplet(env.aid),
});

const EMPTY = new Uint8Array(0);
const CHANNELS = 20;
const INS_MANAGE_CHANNEL = 0x70;
const INS_SELECT = 0xa4;
const INS_STATUS = 0xf2;
const INS_READ_BINARY = 0xb0;
const INS_READ_RECORD = 0xb2;
/** The GSM class byte (TS 51.011). */
const CLA_GSM = 0xa0;

/**
 * STATUS of TS 102 221 §11.1.2: CLA `8X`/`CX`–`FX` (proprietary, channel in the CLA), INS F2, P1 00/01/02, P2
 * 00/01/0C. GlobalPlatform's GET STATUS shares `80 F2` with P1 80/40/20/10: it goes to the selected applet.
 */
function isUiccStatus(cla: number, cmd: CommandApdu): boolean {
  return (
    (cla & 0x80) !== 0 &&
    cla !== 0xff &&
    cmd.ins === INS_STATUS &&
    cmd.p1 <= 0x02 &&
    (cmd.p2 === 0x00 || cmd.p2 === 0x01 || cmd.p2 === 0x0c)
  );
}
const INS_GET_RESPONSE = 0xc0;

const defaultLogger: CardLogger = {
  error(message, context) {
    console.error(`[simtap card] ${message}`, context);
  },
};

function defaultRandom(length: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

function swBytes(sw: number): Uint8Array {
  const out = new Uint8Array(2);
  out[0] = sw >> 8;
  out[1] = sw & 0xff;
  return out;
}

/** True for a status word a card may send: SW1 61–6F or 90–9F. */
export function isValidSw(sw: number): boolean {
  if (!Number.isInteger(sw) || sw < 0 || sw > 0xffff) return false;
  const sw1 = sw >> 8;
  return (sw1 >= 0x61 && sw1 <= 0x6f) || (sw1 >= 0x90 && sw1 <= 0x9f);
}

function startsWith(aid: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > aid.length) return false;
  for (let i = 0; i < prefix.length; i++) if (aid[i] !== prefix[i]) return false;
  return true;
}

function header(bytes: Uint8Array): string {
  return toHex(bytes.subarray(0, 4), ' ');
}

const NO_CLA: ClaInfo = decodeCla(0);
const NO_STORE_PREFIX = 'card/none/';

/** @internal A logical channel of one interface. */
class Channel {
  open = false;
  entry: Entry | undefined = undefined;
  readonly transient = new TransientStore();
  readonly security: SecurityStatus = { pinVerified: false, secureMessaging: false };
  readonly t0 = new T0ResponseBuffer();
  readonly ctx: Ctx;
  readonly files: ChannelFiles;
  /** The GSM class's response data waiting for `A0 C0` GET RESPONSE (after a SELECT). */
  gsmResponse: Uint8Array | undefined = undefined;

  constructor(
    readonly port: Port,
    readonly number: number,
    card: Card,
    fs: FileSystem,
    noStore: PersistentStore,
    random: (n: number) => Uint8Array,
  ) {
    this.ctx = new Ctx(card, port.iface, number, this.transient, this.security, noStore, random);
    this.files = new ChannelFiles(fs, this.security, this.ctx, port.iface);
    this.ctx.files = this.files;
  }

  clearSession(): void {
    this.transient.clear();
    this.security.pinVerified = false;
    this.security.secureMessaging = false;
  }

  resetState(): void {
    this.open = false;
    this.entry = undefined;
    this.clearSession();
    this.t0.clear();
    this.gsmResponse = undefined;
    this.files.reset();
  }
}

/** @internal One interface of the card. */
class Port {
  powered = false;
  readonly channels: Channel[] = [];
  constructor(
    readonly iface: CardInterface,
    readonly index: 0 | 1,
    readonly answer: Uint8Array,
    readonly t0: boolean,
  ) {}
}

/** @internal The reusable {@link ApduContext} of a channel. */
class Ctx implements ApduContext {
  apdu: Uint8Array = EMPTY;
  cla: ClaInfo = NO_CLA;
  store: PersistentStore;
  resetTransient: TransientStore;
  files!: ChannelFiles;
  status: number = SW.OK;
  readonly #random: (n: number) => Uint8Array;

  constructor(
    readonly card: Card,
    readonly iface: CardInterface,
    readonly channel: number,
    readonly transient: TransientStore,
    readonly security: SecurityStatus,
    noStore: PersistentStore,
    random: (n: number) => Uint8Array,
  ) {
    this.store = noStore;
    this.resetTransient = new TransientStore();
    this.#random = random;
  }

  setStatus(sw: number): void {
    const sw1 = sw >> 8;
    if (!Number.isInteger(sw) || !(sw === SW.OK || sw1 === 0x62 || sw1 === 0x63 || sw1 === 0x91) || sw > 0xffff)
      throw new ArgumentError(`setStatus: ${String(sw)} is not a success status word (9000, 62xx, 63xx, 91xx)`);
    this.status = sw;
  }

  atomically<T>(fn: () => T): T {
    return this.card.atomically(fn);
  }

  random(length: number): Uint8Array {
    if (!Number.isInteger(length) || length < 0 || length > 65536)
      throw new ArgumentError(`random: length ${String(length)} not in 0..65536`);
    const r = this.#random(length);
    if (!(r instanceof Uint8Array) || r.length !== length)
      throw new ArgumentError('random: the card random source returned the wrong length');
    return r;
  }
}

let pendingRestore: ReadonlyArray<readonly [string, StoredValue]> | undefined;

/** What {@link Card.observe} calls. */
export interface CardObserver {
  /** `iface` was powered on (or reset). */
  powerOn?(iface: CardInterface): void;
  /** A command on `iface` and its response (data ‖ SW). */
  exchange?(iface: CardInterface, capdu: Uint8Array, rapdu: Uint8Array): void;
}

/**
 * A virtual dual-interface SIM card. Create it, install applets (`card.registry.install`), power an interface
 * on and `transmit` APDUs.
 * @example
 * const card = new Card();
 * card.registry.install(new SampleApplet(), { default: true });
 * card.powerOn('contactless');
 * card.transmit('contactless', hex`80 CA 00 00 04`); // counter ‖ 90 00
 */
export class Card {
  /** The applet registry (install, life cycle, privileges, default selection). */
  readonly registry: Registry;
  /** The file system (MF, DFs, EFs and their contents). */
  readonly files: FileSystem;
  readonly #mem: PersistentMemory;
  readonly #ports: [Port, Port];
  readonly #logger: CardLogger;
  #observers: readonly CardObserver[] = [];

  /**
   * A blank card (only the MF), powered off on both interfaces.
   * @throws {ArgumentError} `BAD_ARGUMENT` for an ATR/ATS that is not 2..33 bytes / 1..254 bytes.
   */
  constructor(options: CardOptions = {}) {
    const restore = pendingRestore;
    pendingRestore = undefined;
    const atr = options.atr ?? fromHex(DEFAULT_ATR_HEX);
    const ats = options.ats ?? fromHex(DEFAULT_ATS_HEX);
    if (!(atr instanceof Uint8Array) || atr.length < 2 || atr.length > 33)
      throw new ArgumentError('atr: expected 2..33 bytes');
    if (!(ats instanceof Uint8Array) || ats.length < 1 || ats.length > 254)
      throw new ArgumentError('ats: expected 1..254 bytes');
    this.#logger = options.logger ?? defaultLogger;
    const random = options.random ?? defaultRandom;
    this.#mem = new PersistentMemory();
    this.#mem.onTear = () => this.#powerLoss();
    this.files = new FileSystem(this.#mem);
    this.registry = new Registry(this.#mem, this.files, this);
    if (restore !== undefined) {
      try {
        this.#mem.load(restore);
        this.files.rebuild();
      } catch (err) {
        throw new CardImageError('IMAGE_CORRUPT', 'card image content is inconsistent', undefined, { cause: err });
      }
      this.registry.restore({ ...BUILTIN_FACTORIES, ...(options.factories ?? {}) });
    }
    const noStore = new PersistentStore(this.#mem, NO_STORE_PREFIX);
    this.#ports = [
      new Port('contact', 0, atr.slice(), options.t0 === true),
      new Port('contactless', 1, ats.slice(), false),
    ];
    for (const port of this.#ports)
      for (let n = 0; n < CHANNELS; n++) port.channels.push(new Channel(port, n, this, this.files, noStore, random));
  }

  /**
   * Rebuilds a card from a {@link CardSnapshot}: persistent memory, file tree and registry (applets are created
   * by the factory of their type; built-in types are always known).
   * @throws {CardImageError} `IMAGE_CORRUPT` (malformed snapshot), `IMAGE_APPLET_UNKNOWN` (no factory).
   */
  static fromSnapshot(snapshot: CardSnapshot, options: CardOptions = {}): Card {
    if (
      snapshot === null ||
      typeof snapshot !== 'object' ||
      snapshot.version !== 1 ||
      !Array.isArray(snapshot.records) ||
      !snapshot.records.every((r) => Array.isArray(r) && r.length === 2 && typeof r[0] === 'string')
    )
      throw new CardImageError('IMAGE_CORRUPT', 'not a card snapshot');
    pendingRestore = snapshot.records;
    try {
      return new Card(options);
    } finally {
      pendingRestore = undefined;
    }
  }

  /**
   * The persistent state (copies), for images and state comparisons.
   * @throws {StoreError} `TRANSACTION_OPEN` inside `atomically`.
   */
  snapshot(): CardSnapshot {
    return { version: 1, records: this.#mem.entries() };
  }

  // ------------------------------------------------------------ power

  /**
   * Powers `iface` on (or resets it when already on): closes channels 1–19, clears that interface's transient
   * memory, implicitly selects the default applet on channel 0 and returns the ATR (contact) or ATS
   * (contactless). After a tear this is the power-up that brings the card back.
   * @throws {CardTornError} `CARD_TORN` when an injected tear strikes during the implicit selection.
   */
  powerOn(iface: CardInterface): Uint8Array {
    const port = this.#port(iface);
    if (this.#mem.torn) this.#mem.revive();
    this.#resetPort(port);
    port.powered = true;
    const ch0 = port.channels[0]!;
    ch0.open = true;
    this.#implicitSelect(port, ch0, this.registry.defaultEntry(iface));
    for (const o of this.#observers) o.powerOn?.(iface);
    return port.answer.slice();
  }

  /**
   * Watches the card from outside, as a reader's logic analyser would: `powerOn` at every power-up (a new tap on
   * the contactless interface), `exchange` after every command that got a response. Observers see bytes only and
   * cannot change them; an observer that throws is a bug of the caller and propagates. Returns the unsubscribe.
   * @example
   * let apdus = 0;
   * const stop = card.observe({ exchange: () => void apdus++ });
   */
  observe(observer: CardObserver): () => void {
    this.#observers = [...this.#observers, observer];
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  /** Warm reset of `iface` (same as {@link Card.powerOn}); returns the ATR/ATS. */
  reset(iface: CardInterface): Uint8Array {
    return this.powerOn(iface);
  }

  /** Powers `iface` off (card removed from the field / phone off): its transient state is lost. */
  powerOff(iface: CardInterface): void {
    const port = this.#port(iface);
    this.#resetPort(port);
    port.powered = false;
  }

  /** True while `iface` is powered. */
  isPowered(iface: CardInterface): boolean {
    return this.#port(iface).powered;
  }

  /** The open logical channels of `iface`. */
  openChannels(iface: CardInterface): number[] {
    const out: number[] = [];
    for (const c of this.#port(iface).channels) if (c.open) out.push(c.number);
    return out;
  }

  /** The AID of the applet selected on `channel` of `iface`, if any. */
  selectedAid(iface: CardInterface, channel = 0): Uint8Array | undefined {
    const c = this.#port(iface).channels[channel];
    return c?.open && c.entry?.installed ? c.entry.aid.slice() : undefined;
  }

  // ------------------------------------------------------------ memory and tears

  /**
   * Runs `fn` as one persistent-memory transaction: all its writes land or none (nested calls join).
   * @throws whatever `fn` throws, after rolling back; {@link CardTornError} on an injected tear.
   */
  atomically<T>(fn: () => T): T {
    return this.#mem.atomically(fn);
  }

  /**
   * Test hook: simulates power loss at the `n`-th persistent write from now (1-based; data writes and
   * transaction commits count), `before` it lands or `after`. The command in progress throws
   * {@link CardTornError}, both interfaces power off, an uncommitted transaction is rolled back.
   * @throws {StoreError} `STORE_VALUE_INVALID` when `n` is not a positive integer.
   */
  tearAt(n: number, when: TearWhen = 'before'): void {
    this.#mem.armTear(n, when);
  }

  /** Cancels a tear armed with {@link Card.tearAt}. */
  clearTear(): void {
    this.#mem.disarmTear();
  }

  /** Persistent writes so far (what {@link Card.tearAt} counts). */
  get persistentWrites(): number {
    return this.#mem.writeCount;
  }

  /** Committed persistent-memory transactions so far. */
  get commitCount(): number {
    return this.#mem.commitCount;
  }

  /** Tears that struck this card so far. */
  get tearCount(): number {
    return this.#mem.tearCount;
  }

  // ------------------------------------------------------------ transmit

  /**
   * This card on one interface as a channel a terminal talks to: `transmit(capdu)` resolves with the response;
   * when the card is not powered on `iface` or loses power during the command, it rejects with `TransportError`
   * `CARD_REMOVED` (what a real reader reports); after `close()` with `TRANSPORT_CLOSED`. It fits the SDK's
   * `CardChannel` (machines, `readPurse`, `Scp03Host.open`) without an adapter. Powering the card stays with the
   * caller.
   * @throws {ArgumentError} `BAD_ARGUMENT` for an unknown interface.
   * @example
   * const card = createSim({ personalized: true });
   * card.powerOn('contactless');
   * const pos = new ConsumptionMachine({ card: card.channel('contactless'), psam });
   */
  channel(iface: CardInterface, description = `in-process card (${iface})`): CardApduChannel {
    this.#port(iface);
    let open = true;
    return {
      description,
      transmit: async (capdu) => {
        if (!open)
          throw new TransportError<TransportErrorCode>('TRANSPORT_CLOSED', `${description}: channel is closed`);
        try {
          return this.transmit(iface, capdu);
        } catch (e) {
          if (e instanceof CardRemovedError || e instanceof CardTornError)
            throw new TransportError<TransportErrorCode>('CARD_REMOVED', `${description}: ${e.message}`, { cause: e });
          throw e;
        }
      },
      close: async () => {
        open = false;
      },
    };
  }

  /**
   * Sends one command APDU on `iface` and returns the response (data ‖ SW1 SW2). Synchronous; never throws
   * for any byte content.
   * @throws {CardRemovedError} `CARD_NOT_POWERED` when `iface` is not powered.
   * @throws {CardTornError} `CARD_TORN` when an injected tear strikes during the command.
   * @throws {ArgumentError} `BAD_ARGUMENT` for an unknown interface or a non-`Uint8Array` command.
   */
  transmit(iface: CardInterface, capdu: Uint8Array): Uint8Array {
    const port = this.#port(iface);
    if (!port.powered) throw new CardRemovedError();
    if (!(capdu instanceof Uint8Array)) throw new ArgumentError('transmit: expected a Uint8Array command APDU');
    let out: Uint8Array;
    try {
      out = this.#handle(port, capdu);
    } catch (err) {
      if (this.#mem.torn) throw new CardTornError();
      this.#logError('runtime error', err, port.iface, -1, capdu, undefined);
      out = swBytes(SW.NO_PRECISE_DIAGNOSIS);
    }
    if (this.#mem.torn) throw new CardTornError();
    for (const o of this.#observers) o.exchange?.(iface, capdu, out);
    return out;
  }

  #handle(port: Port, bytes: Uint8Array): Uint8Array {
    if (bytes.length < 4) return swBytes(SW.WRONG_LENGTH);
    const info = decodeCla(bytes[0]!);
    if (info.kind === 'invalid') return swBytes(SW.CLA_NOT_SUPPORTED);
    const ch = port.channels[info.channel]!;
    if (!ch.open) return swBytes(SW.LOGICAL_CHANNEL_NOT_SUPPORTED);
    let cmd: CommandApdu;
    try {
      cmd = parseCommandApdu(bytes);
    } catch {
      return swBytes(SW.WRONG_LENGTH);
    }
    // The GSM class of a 2G handset (TS 51.011): the contact interface's SIM files only.
    if (bytes[0] === CLA_GSM) return this.#gsm(port, ch, cmd);
    const interindustry = info.kind !== 'proprietary';
    const ins = cmd.ins;
    // T=0 GET RESPONSE: interindustry CLA always; a proprietary CLA (e.g. `80 C0`, as GlobalPlatform tools send
    // after a `80 50` INITIALIZE UPDATE) only while response data is pending, so applets keep proprietary INS C0.
    if (port.t0 && ins === INS_GET_RESPONSE && (interindustry || ch.t0.pending > 0)) {
      if (info.chaining) return swBytes(SW.CHAINING_NOT_SUPPORTED);
      return ch.t0.handleGetResponse(cmd);
    }
    if (ch.t0.pending > 0) ch.t0.clear();
    if (ch.entry !== undefined && !ch.entry.installed) ch.entry = undefined;
    const ctx = ch.ctx;
    ctx.apdu = bytes;
    ctx.cla = info;
    ctx.status = SW.OK;
    let data: Uint8Array | undefined;
    try {
      if (interindustry && (ins === INS_MANAGE_CHANNEL || ins === INS_SELECT)) {
        if (info.chaining) IsoException.throwIt(SW.CHAINING_NOT_SUPPORTED);
        if (info.sm !== 'none') IsoException.throwIt(SW.SECURE_MESSAGING_NOT_SUPPORTED);
        data = ins === INS_SELECT ? this.#select(port, ch, cmd) : this.#manageChannel(port, ch, cmd);
      } else if (isUiccStatus(bytes[0]!, cmd)) data = this.#status(ch, cmd);
      else data = this.#route(ch, cmd, interindustry);
      if (data !== undefined && !(data instanceof Uint8Array))
        throw new TypeError('applet returned response data that is not a Uint8Array');
      if (data !== undefined && data.length > 65536) throw new RangeError('response data longer than 65536 bytes');
    } catch (err) {
      if (this.#mem.torn) throw err;
      if (err instanceof IsoException && isValidSw(err.sw)) return swBytes(err.sw);
      this.#logError('unexpected error while processing a command', err, port.iface, ch.number, bytes, ch.entry);
      return swBytes(SW.NO_PRECISE_DIAGNOSIS);
    }
    const sw = ctx.status;
    if (port.t0) return ch.t0.respond(cmd, data ?? EMPTY, sw);
    return encodeResponseApdu(data ?? EMPTY, sw);
  }

  #route(ch: Channel, cmd: CommandApdu, interindustry: boolean): Uint8Array | undefined {
    const entry = ch.entry;
    const files = ch.files;
    if (interindustry && files.handles(cmd.ins)) {
      files.revalidate();
      if (entry === undefined || this.#ownerOf(files.currentDf) !== entry) {
        // Files outside the selected applet's ADF are the runtime's: no applet can verify SM for them.
        if (ch.ctx.cla.sm !== 'none') IsoException.throwIt(SW.SECURE_MESSAGING_NOT_SUPPORTED);
        return files.handle(cmd);
      }
    }
    if (entry === undefined) return IsoException.throwIt(SW.INS_NOT_SUPPORTED);
    this.#bind(ch, entry);
    return entry.applet.process(ch.ctx, cmd);
  }

  // ------------------------------------------------------------ STATUS (TS 102 221 §11.1.2)

  /** P2 00: the current DF's FCP (as SELECT answers it); 01: the current application's DF name (`84`); 0C: none. */
  #status(ch: Channel, cmd: CommandApdu): Uint8Array | undefined {
    const files = ch.files;
    files.revalidate();
    if (cmd.p2 === 0x0c) return undefined;
    if (cmd.p2 === 0x00) return fileControlParameters(this.files, files.currentDf);
    const aid = ch.entry?.aid;
    if (aid === undefined) return IsoException.throwIt(SW.REFERENCED_DATA_NOT_FOUND);
    return encodeTlv(tlv(0x84, aid));
  }

  // ------------------------------------------------------------ the GSM class (TS 51.011 §9)

  #gsm(port: Port, ch: Channel, cmd: CommandApdu): Uint8Array {
    const sw = (v: number, data: Uint8Array = EMPTY) => encodeResponseApdu(data, v);
    if (port.iface !== 'contact') return sw(GSM_SW.WRONG_CLASS);
    const files = ch.files;
    files.revalidate();
    const pending = ch.gsmResponse;
    ch.gsmResponse = undefined;
    // P3: the command data length, else the expected length (00 = 256).
    const p3 = cmd.data.length > 0 ? cmd.data.length : (cmd.ne ?? 0);
    // What the GSM SELECT below reaches: not an applet's ADF (the e-purse's 3F01 is counted nowhere).
    const gsmSelectable = (n: FileNode) => this.#ownerOf(n.kind === 'df' ? n : n.parent) === undefined;
    const readable = (ef: ElementaryFile) => {
      try {
        files.checkAccess(ef, 'read');
        return true;
      } catch {
        return false;
      }
    };
    switch (cmd.ins) {
      case INS_SELECT: {
        if (cmd.p1 !== 0 || cmd.p2 !== 0) return sw(GSM_SW.WRONG_P1P2);
        if (cmd.data.length !== 2) return sw(GSM_SW.WRONG_P3 | 0x02);
        let node: FileNode;
        try {
          node = resolveFileSelect(this.files, files.currentDf, 0x00, cmd.data);
        } catch {
          return sw(GSM_SW.FILE_NOT_FOUND);
        }
        // An applet's files are its own (ISO selection): a handset reaches the SIM's files only.
        if (this.#ownerOf(node.kind === 'df' ? node : node.parent) !== undefined) return sw(GSM_SW.FILE_NOT_FOUND);
        files.moveTo(node);
        ch.gsmResponse = node.kind === 'df' ? gsmDfResponse(node, gsmSelectable) : gsmEfResponse(node);
        return sw(GSM_SW.RESPONSE_DATA | ch.gsmResponse.length);
      }
      case INS_GET_RESPONSE: {
        if (cmd.p1 !== 0 || cmd.p2 !== 0) return sw(GSM_SW.WRONG_P1P2);
        if (pending === undefined) return sw(GSM_SW.TECHNICAL_PROBLEM);
        if (p3 > pending.length) {
          ch.gsmResponse = pending;
          return sw(GSM_SW.WRONG_P3 | pending.length);
        }
        return sw(GSM_SW.OK, pending.subarray(0, p3));
      }
      case INS_STATUS: {
        if (cmd.p1 !== 0 || cmd.p2 !== 0) return sw(GSM_SW.WRONG_P1P2);
        const r = gsmDfResponse(files.currentDf, gsmSelectable);
        if (p3 > r.length) return sw(GSM_SW.WRONG_P3 | r.length);
        return sw(GSM_SW.OK, r.subarray(0, p3));
      }
      case INS_READ_BINARY: {
        const ef = files.currentEf;
        if (ef === undefined) return sw(GSM_SW.NO_EF_SELECTED);
        if (ef.structure !== 'transparent') return sw(GSM_SW.FILE_INCONSISTENT);
        if (!readable(ef)) return sw(GSM_SW.ACCESS_NOT_FULFILLED);
        const content = this.files.rawContent(ef);
        const offset = (cmd.p1 << 8) | cmd.p2;
        if (offset >= content.length) return sw(GSM_SW.OUT_OF_RANGE);
        const left = content.length - offset;
        if (p3 > left) return sw(GSM_SW.WRONG_P3 | Math.min(left, 0xff));
        return sw(GSM_SW.OK, content.slice(offset, offset + p3));
      }
      case INS_READ_RECORD: {
        const ef = files.currentEf;
        if (ef === undefined) return sw(GSM_SW.NO_EF_SELECTED);
        if (ef.structure === 'transparent') return sw(GSM_SW.FILE_INCONSISTENT);
        if (cmd.p2 < 0x02 || cmd.p2 > 0x04) return sw(GSM_SW.WRONG_P1P2);
        if (!readable(ef)) return sw(GSM_SW.ACCESS_NOT_FULFILLED);
        const count = this.files.recordCount(ef);
        const current = files.currentRecord;
        let n: number;
        if (cmd.p2 === 0x04) n = cmd.p1 === 0 ? current : cmd.p1;
        else if (cmd.p1 !== 0) return sw(GSM_SW.WRONG_P1P2);
        else if (cmd.p2 === 0x02) n = current + 1;
        else n = current === 0 ? count : current - 1;
        if (n < 1 || n > count) return sw(GSM_SW.OUT_OF_RANGE);
        const record = this.files.readRecord(ef, n);
        if (p3 !== record.length) return sw(GSM_SW.WRONG_P3 | record.length);
        files.currentRecord = n;
        return sw(GSM_SW.OK, record);
      }
      default:
        return sw(GSM_SW.UNKNOWN_INS);
    }
  }

  // ------------------------------------------------------------ SELECT

  #select(port: Port, ch: Channel, cmd: CommandApdu): Uint8Array | undefined {
    if (cmd.p1 === 0x04) return this.#selectByName(port, ch, cmd);
    if (isFileSelectP1(cmd.p1)) return this.#selectFile(port, ch, cmd);
    return IsoException.throwIt(SW.INCORRECT_P1P2);
  }

  #selectByName(port: Port, ch: Channel, cmd: CommandApdu): Uint8Array | undefined {
    const p2 = cmd.p2;
    if ((p2 & 0xf0) !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    const name = cmd.data;
    let target: Entry | undefined;
    if (name.length === 0) {
      target = this.registry.defaultEntry(port.iface);
      if (target !== undefined && !this.#selectable(port, target)) target = undefined;
    } else if (name.length <= 16) target = this.#findByName(port, name, p2 & 3, ch.entry);
    if (target === undefined) return IsoException.throwIt(SW.FILE_NOT_FOUND);
    const fci = this.#selectEntry(ch, target, 'aid');
    return (p2 & 0x0c) === 0x0c ? undefined : fci;
  }

  /** Occurrence: 0 first, 1 last, 2 next, 3 previous (relative to `current`). */
  #findByName(port: Port, name: Uint8Array, occurrence: number, current: Entry | undefined): Entry | undefined {
    const entries = this.registry.entries;
    const n = entries.length;
    const ok = (e: Entry): boolean => startsWith(e.aid, name) && this.#selectable(port, e);
    if (occurrence === 0) {
      for (let i = 0; i < n; i++) if (ok(entries[i]!)) return entries[i];
      return undefined;
    }
    const curIndex = current !== undefined && ok(current) ? entries.indexOf(current) : -1;
    if (occurrence === 1 || (occurrence === 3 && curIndex < 0)) {
      for (let i = n - 1; i >= 0; i--) if (ok(entries[i]!)) return entries[i];
      return undefined;
    }
    if (occurrence === 2) {
      for (let i = curIndex + 1; i < n; i++) if (ok(entries[i]!)) return entries[i];
      return undefined;
    }
    for (let i = curIndex - 1; i >= 0; i--) if (ok(entries[i]!)) return entries[i];
    return undefined;
  }

  #selectFile(port: Port, ch: Channel, cmd: CommandApdu): Uint8Array | undefined {
    const p2 = cmd.p2;
    if ((p2 & 0xf3) !== 0) IsoException.throwIt(SW.INCORRECT_P1P2);
    const files = ch.files;
    files.revalidate();
    const node = resolveFileSelect(this.files, files.currentDf, cmd.p1, cmd.data);
    if (!this.files.visibleOn(node, port.iface)) IsoException.throwIt(SW.FILE_NOT_FOUND);
    const df = node.kind === 'df' ? node : node.parent;
    const owner = this.#ownerOf(df);
    const isAdf = node.kind === 'df' && owner !== undefined && (node as DfNode).nameHex === owner.aidHex;
    let fci: Uint8Array | undefined;
    if (owner !== undefined && (owner !== ch.entry || isAdf)) {
      if (!this.#selectable(port, owner)) IsoException.throwIt(SW.FILE_NOT_FOUND);
      fci = this.#selectEntry(ch, owner, 'file');
    }
    files.moveTo(node);
    const control = p2 & 0x0c;
    if (control === 0x0c) return undefined;
    if (control === 0x08) return fileManagementData();
    if (isAdf) return fci;
    if (node.kind === 'ef' || control === 0x04) return fileControlParameters(this.files, node);
    return dfFci(this.files, node);
  }

  /** The applet owning `df`: the nearest DF (itself or an ancestor) named with an installed applet's AID. */
  #ownerOf(df: DedicatedFile): Entry | undefined {
    for (let d: DedicatedFile | undefined = df; d !== undefined; d = d.parent) {
      const h = (d as DfNode).nameHex;
      if (h !== undefined) {
        const e = this.registry.byHex(h);
        if (e !== undefined) return e;
      }
    }
    return undefined;
  }

  #selectable(port: Port, e: Entry): boolean {
    if (!(e.installed && isSelectableLifecycle(e.lifecycle) && e.accepts(port.iface))) return false;
    // GPC 2.3.1 §5.1.1–5.1.2 (card life-cycle states and transitions): in CARD_LOCKED and TERMINATED only the issuer security domain (a security domain
    // holding the card-lock privilege) stays selectable; every other application answers "not found".
    const cardState = this.registry.cardLifecycle;
    if (cardState === CARD_LIFECYCLE.CARD_LOCKED || cardState === CARD_LIFECYCLE.TERMINATED) {
      const p0 = e.privileges[0] ?? 0;
      return (p0 & PRIVILEGE.SECURITY_DOMAIN) !== 0 && (p0 & PRIVILEGE.CARD_LOCK) !== 0;
    }
    return true;
  }

  /** Deselects the current applet, selects `target`, points the cursor at its ADF (or the MF); returns the FCI. */
  #selectEntry(ch: Channel, target: Entry, reason: SelectReason): Uint8Array | undefined {
    this.#deselect(ch);
    ch.files.moveTo(this.files.findByNameHex(target.aidHex) ?? this.files.mf);
    ch.entry = target;
    this.#bind(ch, target);
    ch.ctx.status = SW.OK;
    let fci: Uint8Array | undefined;
    try {
      fci = target.applet.select(ch.ctx, reason);
      if (fci !== undefined && !(fci instanceof Uint8Array))
        throw new TypeError('applet select() returned an FCI that is not a Uint8Array');
    } catch (err) {
      ch.entry = undefined;
      ch.clearSession();
      throw err;
    }
    return fci;
  }

  #implicitSelect(port: Port, ch: Channel, target: Entry | undefined): void {
    if (target === undefined || !this.#selectable(port, target)) return;
    ch.ctx.apdu = EMPTY;
    ch.ctx.cla = NO_CLA;
    try {
      this.#selectEntry(ch, target, 'implicit');
    } catch (err) {
      if (this.#mem.torn) throw new CardTornError();
      if (!(err instanceof IsoException))
        this.#logError('unexpected error in implicit selection', err, port.iface, ch.number, EMPTY, target);
    }
  }

  #deselect(ch: Channel): void {
    const prev = ch.entry;
    if (prev !== undefined) {
      ch.entry = undefined;
      const hook = prev.applet.deselect;
      if (hook !== undefined && prev.installed) {
        this.#bind(ch, prev);
        try {
          hook.call(prev.applet, ch.ctx);
        } catch (err) {
          if (this.#mem.torn) throw err;
          if (!(err instanceof IsoException))
            this.#logError('unexpected error in deselect', err, ch.port.iface, ch.number, ch.ctx.apdu, prev);
        }
      }
    }
    ch.clearSession();
  }

  #bind(ch: Channel, entry: Entry): void {
    const ctx = ch.ctx;
    ctx.store = entry.store;
    ctx.resetTransient = entry.resetTransient[ch.port.index];
  }

  // ------------------------------------------------------------ MANAGE CHANNEL

  #manageChannel(port: Port, ch: Channel, cmd: CommandApdu): Uint8Array | undefined {
    if (cmd.data.length > 0) IsoException.throwIt(SW.WRONG_LENGTH);
    const p2 = cmd.p2;
    if (cmd.p1 === 0x00) {
      let n = p2;
      if (p2 === 0) {
        n = 0;
        for (let i = 1; i < CHANNELS; i++)
          if (!port.channels[i]!.open) {
            n = i;
            break;
          }
        if (n === 0) IsoException.throwIt(SW.FUNCTION_NOT_SUPPORTED);
      } else {
        if (p2 >= CHANNELS) IsoException.throwIt(SW.LOGICAL_CHANNEL_NOT_SUPPORTED);
        if (port.channels[p2]!.open) IsoException.throwIt(SW.INCORRECT_P1P2);
      }
      this.#openChannel(port, ch, port.channels[n]!);
      return p2 === 0 ? Uint8Array.of(n) : undefined;
    }
    if (cmd.p1 === 0x80) {
      const n = p2 === 0 ? ch.number : p2;
      if (n >= CHANNELS) IsoException.throwIt(SW.LOGICAL_CHANNEL_NOT_SUPPORTED);
      if (n === 0) IsoException.throwIt(SW.INCORRECT_P1P2);
      const target = port.channels[n]!;
      if (!target.open) IsoException.throwIt(SW.LOGICAL_CHANNEL_NOT_SUPPORTED);
      this.#deselect(target);
      target.resetState();
      return undefined;
    }
    return IsoException.throwIt(SW.INCORRECT_P1P2);
  }

  #openChannel(port: Port, from: Channel, c: Channel): void {
    c.resetState();
    c.open = true;
    if (from.number === 0) {
      this.#implicitSelect(port, c, this.registry.defaultEntry(port.iface));
      return;
    }
    if (from.entry !== undefined) this.#implicitSelect(port, c, from.entry);
    c.files.copyFrom(from.files);
  }

  // ------------------------------------------------------------ internals

  #port(iface: CardInterface): Port {
    if (iface === 'contact') return this.#ports[0];
    if (iface === 'contactless') return this.#ports[1];
    throw new ArgumentError(`unknown card interface ${String(iface)}`);
  }

  #resetPort(port: Port): void {
    for (const c of port.channels) c.resetState();
    for (const e of this.registry.entries) e.resetTransient[port.index].clear();
  }

  #powerLoss(): void {
    for (const port of this.#ports) {
      this.#resetPort(port);
      port.powered = false;
    }
  }

  #logError(
    message: string,
    err: unknown,
    iface: CardInterface,
    channel: number,
    apdu: Uint8Array,
    entry: Entry | undefined,
  ): void {
    try {
      this.#logger.error(message, {
        iface,
        channel,
        header: apdu.length >= 4 ? header(apdu) : undefined,
        aid: entry?.aidHex,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        stack: err instanceof Error ? err.stack : undefined,
      });
    } catch {
      // A failing logger must not take the card down.
    }
  }
}

/**
 * The seam between a machine and a {@link CardChannel}: every exchange is counted and (for the card) fed to a
 * {@link TapTimer}; T=0 leftovers (`61xx` → GET RESPONSE, `6Cxx` → re-send) are completed; a card that leaves
 * the field becomes a {@link CardLeftFieldError}; status words go through the command's status table.
 *
 * @module
 */
import { assertCardChannel, assertOptionsObject } from '../card/arguments';
import type { CardChannel } from '../card/channel';
import { ArgumentError, type CodeOfClass, hasErrorCode, ParseError, TRANSPORT_ERRORS } from '../core/errors';
import { parseResponseApdu, type ResponseApdu, transmitT0 } from '../core/iso7816';
import { assertLinkProfile, type TapTimer } from '../core/iso14443';
import { checkStatus, MACHINE_COMMANDS, type MachineCommandName } from './commands';
import { CardLeftFieldError, type CommandTarget, type MACHINE_ERRORS } from './errors';

/** A response had the right status word but the wrong data length. Code `MACHINE_BAD_RESPONSE`. */
export class MachineResponseError extends ParseError<CodeOfClass<typeof MACHINE_ERRORS, 'MachineResponseError'>> {
  constructor(command: MachineCommandName, expected: number, got: number) {
    super(
      'MACHINE_BAD_RESPONSE',
      `${MACHINE_COMMANDS[command].label}: expected ${expected} response bytes, got ${got}`,
      undefined,
    );
  }
}

/**
 * Checks the request of a machine method that taps a card: an object whose `card` (when given) is a channel and
 * `linkProfile` (when given) a valid link profile.
 * @throws {ArgumentError} `BAD_ARGUMENT` otherwise.
 * @internal shared by the machines.
 */
export function assertTapRequest(req: unknown): asserts req is { card?: CardChannel; linkProfile?: object } {
  assertOptionsObject(req, 'request', false);
  const { card, linkProfile } = req as { card?: unknown; linkProfile?: unknown };
  if (card !== undefined) assertCardChannel(card, 'card');
  if (linkProfile !== undefined) assertLinkProfile(linkProfile);
}

/**
 * Checks the options both machines share: `clock` (an object with `now()`), `onRecord` (a function),
 * `linkProfile` (a valid link profile), `tapTimeOptions` (an object), `pending` (an array of records with a 10-byte `cardSerial`).
 * @throws {ArgumentError} `BAD_ARGUMENT` on the first that is malformed.
 * @internal shared by the machines.
 */
export function assertCommonMachineOptions(o: {
  readonly clock?: unknown;
  readonly onRecord?: unknown;
  readonly linkProfile?: unknown;
  readonly tapTimeOptions?: unknown;
  readonly pending?: unknown;
}): void {
  const { clock, onRecord, linkProfile, tapTimeOptions, pending } = o;
  if (
    clock !== undefined &&
    (typeof clock !== 'object' || clock === null || typeof (clock as { now?: unknown }).now !== 'function')
  )
    throw new ArgumentError('clock: expected a Clock (an object with now())');
  if (onRecord !== undefined && typeof onRecord !== 'function')
    throw new ArgumentError('onRecord: expected a function');
  if (linkProfile !== undefined) assertLinkProfile(linkProfile);
  assertOptionsObject(tapTimeOptions, 'tapTimeOptions');
  if (pending !== undefined) {
    if (!Array.isArray(pending)) throw new ArgumentError('pending: expected an array of pending records');
    pending.forEach((p: unknown, i) => {
      const serial = (p as { cardSerial?: unknown } | null)?.cardSerial;
      if (!(serial instanceof Uint8Array) || serial.length !== 10)
        throw new ArgumentError(`pending[${i}]: expected a pending record with a 10-byte cardSerial`);
    });
  }
}

/**
 * A counted, timed APDU link to one device (the card or the PSAM).
 * @internal exported for the machines and their tests.
 */
export class ApduLink {
  readonly channel: CardChannel;
  readonly target: CommandTarget;
  /** Exchanges sent on this link (GET RESPONSE and 6Cxx re-sends included). */
  apduCount = 0;
  /** Fed with every exchange when set (the card link of a tap). */
  timer: TapTimer | undefined;

  constructor(channel: CardChannel, target: CommandTarget, timer?: TapTimer) {
    this.channel = channel;
    this.target = target;
    this.timer = timer;
  }

  async #raw(command: MachineCommandName, capdu: Uint8Array): Promise<Uint8Array> {
    let rsp: Uint8Array;
    try {
      rsp = await this.channel.transmit(capdu);
    } catch (e) {
      if (this.target === 'card' && hasErrorCode(e, TRANSPORT_ERRORS, 'CARD_REMOVED'))
        throw new CardLeftFieldError(command, undefined, { cause: e });
      throw e;
    }
    this.apduCount++;
    this.timer?.record(capdu, rsp);
    return rsp;
  }

  /**
   * Sends `capdu` (completing a T=0 `61xx`/`6Cxx` dialogue) and returns the response, whatever its SW.
   * @throws {CardLeftFieldError} `CARD_REMOVED` when the card left the field; other `TransportError`s as is.
   */
  async exchange(command: MachineCommandName, capdu: Uint8Array): Promise<ResponseApdu> {
    const first = await this.#raw(command, capdu);
    const sw1 = first.length >= 2 ? first[first.length - 2] : undefined;
    if (sw1 !== 0x61 && sw1 !== 0x6c) return splitResponse(first);
    let pending: Uint8Array | undefined = first;
    const full = await transmitT0((c) => {
      if (pending !== undefined) {
        const r = pending;
        pending = undefined;
        return Promise.resolve(r);
      }
      return this.#raw(command, c);
    }, capdu);
    return parseResponseApdu(full);
  }

  /**
   * Sends `capdu`, checks the SW through the command's status table and the data length, returns the data.
   * @throws {StatusWordError} `SW_xxxx` (typed subclasses per the status table) on a non-9000 SW.
   * @throws {MachineResponseError} `MACHINE_BAD_RESPONSE` when the data is not `length` bytes.
   * @throws {CardLeftFieldError} `CARD_REMOVED` when the card left the field.
   */
  async run(command: MachineCommandName, capdu: Uint8Array, length?: number): Promise<Uint8Array> {
    return accept(command, await this.exchange(command, capdu), length);
  }
}

/**
 * {@link parseResponseApdu}, with `data` a copy when the response is a plain `Uint8Array`: a view would make V8
 * move the small on-heap array to an off-heap buffer, about 1 µs per APDU, the largest cost of the link.
 * Anything else (a `Buffer`, fewer than 2 bytes, not bytes) goes to `parseResponseApdu` as before.
 */
function splitResponse(r: Uint8Array): ResponseApdu {
  if (!(r instanceof Uint8Array) || r.length < 2 || Object.getPrototypeOf(r) !== Uint8Array.prototype)
    return parseResponseApdu(r);
  const n = r.length;
  const sw1 = r[n - 2]!;
  const sw2 = r[n - 1]!;
  return { data: r.slice(0, n - 2), sw: (sw1 << 8) | sw2, sw1, sw2 };
}

/**
 * The data of `r` after the command's status table (9000 only) and the length check.
 * @throws {StatusWordError} `SW_xxxx` (typed subclasses per the status table) on a non-9000 SW.
 * @throws {MachineResponseError} `MACHINE_BAD_RESPONSE` when the data is not `length` bytes.
 */
export function accept(command: MachineCommandName, r: ResponseApdu, length?: number): Uint8Array {
  checkStatus(command, r);
  if (length !== undefined && r.data.length !== length) throw new MachineResponseError(command, length, r.data.length);
  return r.data;
}

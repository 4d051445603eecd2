/**
 * `simtap-card`: runs a virtual simtap SIM (or, with `--psam`, a PSAM of the profile) in pcscd's vpcd virtual
 * reader until told to stop, keeping its card image on disk. {@link main} is the whole program minus process wiring (signals, exit code), so tests run it
 * in-process with an {@link AbortSignal} and captured output.
 *
 * @module
 */
import { toHex } from '@simtap/sdk/core/bytes';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { createPsam } from '../applets/psam';
import { VpcdBridge, type VpcdLogger } from '../bridges/vpcd';
import { LIFECYCLE } from '../runtime/applet';
import type { Card, CardLogger } from '../runtime/card';
import { CardImageError, RUNTIME_ERRORS } from '../runtime/errors';
import { type ImageLock, ImageLockedError, lockImage, saveImage } from '../runtime/image-file';
import { createSim, loadSim } from '../sim';
import { CardPort, formatTraceLine } from './card-port';
import { CLI_NAME, CLI_VERSION, type CliOptions, CliUsageError, EXIT_USAGE, helpText, parseCliArgs } from './options';

/** Where the CLI writes: `out` for status and trace lines, `err` for warnings and errors. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** What {@link main} reports once the card is running (before the first connection attempt completes). */
export interface CliReady {
  readonly options: CliOptions;
  readonly card: Card;
  readonly bridge: VpcdBridge;
}

/** Options of {@link main}. */
export interface MainOptions {
  /** Output sink (default: `process.stdout` / `process.stderr`). */
  io?: CliIo;
  /** Stops the card: image saved, bridge closed, `main` resolves 0. */
  signal?: AbortSignal;
  /** Called once the card is built and the bridge started. */
  onReady?: (ready: CliReady) => void;
  /** Bridge reconnection backoff and connect timeout (tests shorten them). */
  backoff?: { initialDelayMs?: number; maxDelayMs?: number };
  /** How often a waiting line is printed while vpcd is not connected (default {@link WAIT_REPORT_MS}). */
  waitReportMs?: number;
}

/** How often `simtap-card` reports that it is still waiting for pcscd's vpcd. */
export const WAIT_REPORT_MS = 5000;

/** Exit status of a runtime failure (unreadable image, failed save). */
export const EXIT_FAILURE = 1;

const processIo: CliIo = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
};

function describe(err: unknown): string {
  if (err instanceof CardImageError || err instanceof ImageLockedError) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause} [${err.code}]`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Saves the card image after commits, one save at a time: a request during a save schedules exactly one more,
 * so the file always ends with the newest committed state. Failures are reported and counted, never thrown.
 */
class ImageSaver {
  failures = 0;
  saves = 0;
  #dirty = false;
  #running: Promise<void> | null = null;

  constructor(
    private readonly card: Card,
    private readonly path: string,
    private readonly io: CliIo,
  ) {}

  request(): void {
    this.#dirty = true;
    this.#running ??= this.#loop();
  }

  async #loop(): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false;
      try {
        await saveImage(this.card, this.path);
        this.saves++;
      } catch (err) {
        this.failures++;
        this.io.err(`${CLI_NAME}: ${describe(err)}`);
      }
    }
    this.#running = null;
  }

  /** Resolves when no save is running or pending. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Saves now (after any running save); false when it failed (already reported). */
  async saveNow(): Promise<boolean> {
    await this.flush();
    const before = this.failures;
    this.request();
    await this.flush();
    return this.failures === before;
  }
}

/** Loads the image at `path`, or creates the card from the profile when there is none (`created` true). */
async function openCard(
  options: CliOptions,
  logger: CardLogger,
): Promise<{ card: Card; created: boolean } | { error: string }> {
  const psam = options.psam;
  const fresh = (): Card =>
    psam !== undefined
      ? createPsam(psam, { card: { logger } })
      : createSim({
          card: options.card,
          defaultKeys: options.defaultKeys,
          personalized: options.personalized,
          logger,
        });
  if (options.image === undefined) return { card: fresh(), created: true };
  try {
    return { card: await loadSim(options.image, { logger }), created: false };
  } catch (err) {
    if (hasErrorCode(err, RUNTIME_ERRORS, 'IMAGE_NOT_FOUND')) return { card: fresh(), created: true };
    return { error: `cannot load card image ${options.image}: ${describe(err)}; the file was left untouched` };
  }
}

const SELECT_ISD = Uint8Array.of(0x00, 0xa4, 0x04, 0x0c, 0x08, 0xa0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00, 0x00);
const GET_CIN = Uint8Array.of(0x80, 0xca, 0x00, 0x45, 0x00);
const READ_TERMINAL_ID = Uint8Array.of(0x00, 0xb0, 0x96, 0x00, 0x06);

/** What a card turned out to be: a SIM of the profile (with or without a personalized e-purse) or a PSAM. */
type Identity =
  | { kind: 'sim'; label: string; iccid: string; purse: boolean }
  | { kind: 'psam'; label: string; terminalId: string };

const ok = (rsp: Uint8Array): boolean => rsp.length >= 2 && rsp[rsp.length - 2] === 0x90 && rsp[rsp.length - 1] === 0;

function selectByName(aid: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + aid.length);
  out.set([0x00, 0xa4, 0x04, 0x0c, aid.length]);
  out.set(aid, 5);
  return out;
}

/**
 * Which profile card `card` is, asked on the contact interface (left powered off): a PSAM by the terminal ID in its
 * EF 0x16, a SIM by the ICCID its ISD answers to GET DATA 0045; `undefined` when neither answers or the
 * value is not in the profile.
 */
function identify(card: Card): Identity | undefined {
  const profile = referenceProfile();
  try {
    card.powerOn('contact');
    // The PSAM first: a PSAM card has an ISD too.
    for (const p of profile.psams) {
      if (!ok(card.transmit('contact', selectByName(p.aid)))) continue;
      const rsp = card.transmit('contact', READ_TERMINAL_ID);
      if (!ok(rsp)) continue;
      const tid = toHex(rsp.subarray(0, rsp.length - 2));
      const match = profile.psams.find((q) => toHex(q.terminalId) === tid);
      return match === undefined ? undefined : { kind: 'psam', label: match.label, terminalId: tid };
    }
    if (ok(card.transmit('contact', SELECT_ISD))) {
      const rsp = card.transmit('contact', GET_CIN);
      if (rsp.length < 4 || !ok(rsp) || rsp[0] !== 0x45) return undefined;
      const cin = toHex(rsp.subarray(2, rsp.length - 2));
      const c = profile.cards.find((p) => (p.iccid.length % 2 === 0 ? p.iccid : `${p.iccid}F`) === cin);
      if (c === undefined) return undefined;
      const purse = card.registry.get(profile.card.epurse.aid);
      return { kind: 'sim', label: c.label, iccid: c.iccid, purse: purse?.lifecycle === LIFECYCLE.PERSONALIZED };
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    card.powerOff('contact');
  }
}

/** Notes on options that apply to new images only, when the loaded card does not match them. */
function imageNotes(options: CliOptions, id: Identity | undefined, created: boolean): string[] {
  const notes: string[] = [];
  const holds = id === undefined ? 'an unknown card' : id.kind === 'psam' ? `PSAM ${id.label}` : id.label;
  if (options.psam !== undefined) {
    if (id?.kind !== 'psam' || id.label !== options.psam)
      notes.push(`the image holds ${holds}; --psam ${options.psam} applies to new images only`);
    return notes;
  }
  if (id !== undefined && (id.kind === 'psam' || id.label !== options.card))
    notes.push(`the image holds ${holds}; --card ${options.card} applies to new images only`);
  if (!created && options.defaultKeys)
    notes.push('the image keeps its ISD keys; --default-keys applies to new images only');
  if (!created && options.personalized && !(id?.kind === 'sim' && id.purse))
    notes.push('the image keeps its applications; --personalized applies to new images only');
  return notes;
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Runs `simtap-card` with `argv` (without `node` and the script) and resolves with the exit status: 0 after
 * `--help`, `--version` or a clean stop through `signal`; {@link EXIT_USAGE} (2) for a bad command line;
 * {@link EXIT_FAILURE} (1) for a card image in use by another process (`IMAGE_LOCKED`), one that cannot be read or
 * saved, or pcscd's vpcd unreachable for longer than `--wait`. The image stays locked (`<image>.lock`) while it runs.
 * @example
 * const stop = new AbortController();
 * const status = main(['--card', 'card-2', '--image', 'card-2.img'], { signal: stop.signal });
 * // … later
 * stop.abort(); await status; // 0
 */
export async function main(argv: readonly string[], opts: MainOptions = {}): Promise<number> {
  const io = opts.io ?? processIo;
  let options: CliOptions;
  try {
    const command = parseCliArgs(argv);
    if (command.kind === 'help') {
      io.out(helpText());
      return 0;
    }
    if (command.kind === 'version') {
      io.out(`${CLI_NAME} ${CLI_VERSION}`);
      return 0;
    }
    options = command.options;
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    io.err(`${CLI_NAME}: ${err.message} (see ${CLI_NAME} --help)`);
    return EXIT_USAGE;
  }

  let lock: ImageLock | undefined;
  if (options.image !== undefined) {
    try {
      lock = await lockImage(options.image);
    } catch (err) {
      if (err instanceof ImageLockedError) {
        io.err(
          `${CLI_NAME}: ${err.message}; stop that process first (or, if no simtap-card runs as process ` +
            `${err.holder.pid}, delete ${err.lockPath})`,
        );
      } else io.err(`${CLI_NAME}: ${describe(err)}`);
      return EXIT_FAILURE;
    }
  }
  try {
    return await run(options, io, opts);
  } finally {
    await lock?.release();
  }
}

/** The run itself, once the command line is parsed and the image (if any) locked. */
async function run(options: CliOptions, io: CliIo, opts: MainOptions): Promise<number> {
  const cardLogger: CardLogger = {
    error: (message, context) => io.err(`${CLI_NAME}: card error: ${message} ${JSON.stringify(context)}`),
  };
  const opened = await openCard(options, cardLogger);
  if ('error' in opened) {
    io.err(`${CLI_NAME}: ${opened.error}`);
    return EXIT_FAILURE;
  }
  const { card, created } = opened;
  const image = options.image;
  const saver = image === undefined ? undefined : new ImageSaver(card, image, io);
  if (saver && created && !(await saver.saveNow())) return EXIT_FAILURE;

  const port = new CardPort(card, options.iface, { onCommit: () => saver?.request() });
  // Connection changes are reported from the state events below; other bridge warnings (a card that threw) go to
  // err. Why vpcd is unreachable (the bridge logs it at warn once, then at debug) goes into the waiting lines.
  let unreachable = '';
  const reachability = (m: string): boolean => {
    const why = /^vpcd at .* (?:still )?not reachable \((.*)\)/.exec(m)?.[1];
    if (why === undefined) return false;
    unreachable = why.replace(/^Error: /, '').replace(/^connect /, '');
    return true;
  };
  const logger: VpcdLogger = {
    info: () => {},
    warn: (m) => {
      if (!reachability(m) && !/^disconnected from vpcd/.test(m)) io.err(`${CLI_NAME}: ${m}`);
    },
    debug: (m) => void reachability(m),
  };
  const bridge = new VpcdBridge(port, {
    host: options.vpcdHost,
    port: options.vpcdPort,
    logger,
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
  });
  const waiter = new VpcdWaiter(
    bridge,
    options.waitSeconds,
    opts.waitReportMs ?? WAIT_REPORT_MS,
    io,
    () => unreachable,
  );
  if (options.trace) {
    bridge.on('apdu', (e) => io.out(formatTraceLine(options.iface, e.command, e.response, e.durationMs)));
  }

  const id = identify(card);
  const label =
    id === undefined
      ? 'unknown card (not in the profile)'
      : id.kind === 'psam'
        ? `PSAM ${id.label} terminal ${id.terminalId}`
        : `${id.label} ICCID ${id.iccid}${id.purse ? ' with a personalized e-purse' : ''}`;
  for (const note of imageNotes(options, id, created)) io.out(`${CLI_NAME}: note: ${note}`);
  const where = image === undefined ? 'no image (state kept in memory only)' : `image ${image}`;
  const source = image === undefined ? '' : created ? ' (created)' : ' (loaded)';
  const keys =
    created && options.psam === undefined
      ? options.defaultKeys
        ? ', ISD default keys'
        : ', ISD diversified keys'
      : '';
  io.out(
    `${CLI_NAME} ${CLI_VERSION}: ${label} on vpcd ${bridge.address} (${options.iface}${keys}), ${where}${source}, ` +
      `pid ${process.pid}`,
  );
  waiter.start();
  bridge.start();
  opts.onReady?.({ options, card, bridge });

  const outcome = await Promise.race([aborted(opts.signal).then(() => 'stopped' as const), waiter.gaveUp]);
  waiter.stop();
  await bridge.close();
  let status = outcome === 'stopped' ? 0 : EXIT_FAILURE;
  if (saver) {
    if (!(await saver.saveNow())) status = EXIT_FAILURE;
    else io.out(`${CLI_NAME}: ${outcome}; card image saved to ${image}`);
  } else io.out(`${CLI_NAME}: ${outcome}`);
  return status;
}

/**
 * Reports the bridge's connection to the user and bounds the wait for it: one line when waiting starts (at start,
 * or when vpcd goes away), one every `reportMs` while it lasts, and after `waitSeconds` without a connection
 * (0 = never) it gives up — {@link gaveUp} resolves.
 */
class VpcdWaiter {
  /** Resolves with `'gave up'` when the wait ran out. */
  readonly gaveUp: Promise<'gave up'>;
  #giveUp!: (v: 'gave up') => void;
  #since = 0;
  #timer: NodeJS.Timeout | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #everConnected = false;
  #done = false;

  constructor(
    private readonly bridge: VpcdBridge,
    private readonly waitSeconds: number,
    private readonly reportMs: number,
    private readonly io: CliIo,
    private readonly reason: () => string,
  ) {
    this.gaveUp = new Promise((resolve) => {
      this.#giveUp = resolve;
    });
    bridge.on('state', (state) => {
      if (this.#done) return;
      if (state === 'connected') {
        this.#everConnected = true;
        this.#clear();
        this.#say(`card inserted in the vpcd reader at ${bridge.address}`);
      } else if (state === 'retrying' && this.#since === 0) {
        this.#say(`vpcd at ${bridge.address} went away; reconnecting${this.#limit()}`);
        this.#begin();
      }
    });
  }

  /** Starts the first wait (call before the bridge starts). */
  start(): void {
    const hint = 'is pcscd running with vsmartcard-vpcd?';
    this.#begin();
    // The first line waits for the first failed attempt: a vpcd that answers at once needs no waiting line.
    const first = (state: string): void => {
      if (state === 'connected' || state === 'closed' || this.#done) this.bridge.off('state', first);
      else if (state === 'retrying' && !this.#everConnected) {
        this.bridge.off('state', first);
        this.#say(`waiting for pcscd's vpcd at ${this.bridge.address} (${hint})${this.#limit()}`);
      }
    };
    this.bridge.on('state', first);
  }

  /** Stops reporting and timing for good. */
  stop(): void {
    this.#done = true;
    this.#clear();
  }

  #limit(): string {
    return this.waitSeconds === 0 ? '' : `; giving up after ${this.waitSeconds} s (--wait)`;
  }

  #say(line: string): void {
    this.io.out(`${CLI_NAME}: ${line}`);
  }

  #begin(): void {
    this.#clear();
    this.#since = Date.now();
    this.#ticker = setInterval(() => {
      const s = Math.round((Date.now() - this.#since) / 1000);
      const why = this.reason();
      this.#say(`waiting for pcscd's vpcd at ${this.bridge.address} (${s} s${why ? `; ${why}` : ''})…`);
    }, this.reportMs);
    if (this.waitSeconds > 0) {
      this.#timer = setTimeout(() => {
        this.stop();
        const why = this.reason();
        this.io.err(
          `${CLI_NAME}: gave up: pcscd's vpcd at ${this.bridge.address} not reachable for ${this.waitSeconds} s` +
            `${why ? ` (${why})` : ''}; start pcscd with the vsmartcard vpcd driver, or use --wait 0 to wait forever`,
        );
        this.#giveUp('gave up');
      }, this.waitSeconds * 1000);
    }
  }

  #clear(): void {
    if (this.#ticker) clearInterval(this.#ticker);
    if (this.#timer) clearTimeout(this.#timer);
    this.#ticker = undefined;
    this.#timer = undefined;
    this.#since = 0;
  }
}

/**
 * `simtap-phone`: a phone of the mobile network holding a virtual SIM, connected to the platform's `/v1/ota` until
 * told to stop, keeping the SIM's image on disk. {@link phoneMain} is the whole program minus process wiring
 * (signals, exit code), so tests run it in-process with an {@link AbortSignal} and captured output.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import type { SimtapProfile } from '@simtap/sdk/core/profile';
import {
  hasPhoneCallCode,
  PHONE_ERRORS,
  PhoneError,
  type PhoneLogger,
  type PhoneNotice,
  type PhoneReconnectOptions,
  VirtualPhone,
} from '../bridges/ota';
import type { Card } from '../runtime/card';
import { CardImageError, RUNTIME_ERRORS } from '../runtime/errors';
import { type ImageLock, ImageLockedError, lockImage, saveImage } from '../runtime/image-file';
import { createSim, loadSim } from '../sim';
import { type CliIo, EXIT_FAILURE } from './main';
import { CliUsageError, EXIT_USAGE } from './options';
import {
  PHONE_CLI_NAME,
  PHONE_CLI_VERSION,
  PHONE_LOG_LEVELS,
  type PhoneCliOptions,
  type PhoneLogLevel,
  parsePhoneArgs,
  phoneCard,
  phoneHelpText,
} from './phone-options';

/** Options of {@link phoneMain}. */
export interface PhoneMainOptions {
  /** Output sink (default: `process.stdout` / `process.stderr`). */
  io?: CliIo;
  /** Stops the phone: link closed with 1000, image saved, `phoneMain` resolves 0. */
  signal?: AbortSignal;
  /** Reconnection backoff (tests shorten it). */
  reconnect?: PhoneReconnectOptions;
  /** Called once the phone is built, before it connects. */
  onPhone?: (phone: VirtualPhone) => void;
}

/** How long `--top-up` waits for the platform's answer, reconnects included. */
const TOP_UP_TIMEOUT_MS = 60_000;

const processIo: CliIo = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
};

const say = (io: CliIo, line: string): void => io.out(`${PHONE_CLI_NAME}: ${line}`);
const complain = (io: CliIo, line: string): void => io.err(`${PHONE_CLI_NAME}: ${line}`);

function describeError(err: unknown): string {
  if (err instanceof CardImageError || err instanceof ImageLockedError) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause} [${err.code}]`;
  }
  if (err instanceof PhoneError) return `${err.message} [${err.code}]`;
  return err instanceof Error ? err.message : String(err);
}

/** Fen as yuan with two decimals: `2000` → `20.00`. */
export function formatYuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const a = Math.abs(fen);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

/** A platform's text made safe for one terminal line: no control characters, at most 200 characters. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return clean.length > 200 ? `${clean.slice(0, 199)}…` : clean;
}

/**
 * The line `simtap-phone` prints for a notice.
 * @example formatNotice({ kind: 'loaded', message: '…', amount: 2000, balance: 7000 }) // 'loaded 20.00 yuan over the air, purse 70.00'
 */
export function formatNotice(n: PhoneNotice): string {
  const message = oneLine(n.message);
  const card = n.cardSerial === undefined ? 'the card' : `card ${n.cardSerial}`;
  const purse = n.balance === undefined ? '' : `, purse ${formatYuan(n.balance)}`;
  switch (n.kind) {
    case 'personalized':
      return `personalized: ${card} is active`;
    case 'loaded':
      return n.amount === undefined ? `loaded: ${message}` : `loaded ${formatYuan(n.amount)} yuan over the air${purse}`;
    case 'refunded':
      return n.amount === undefined ? `refunded: ${message}` : `refunded ${formatYuan(n.amount)} yuan${purse}`;
    case 'pending':
      return `pending${n.loadId === undefined ? '' : ` load ${n.loadId}`}: ${message}`;
    case 'blocked':
      return `blocked: ${card}${message ? `: ${message}` : ''}`;
    case 'authenticated':
      return `authenticated: ${card}${message ? `: ${message}` : ''}`;
    default:
      return `${n.kind}: ${message}`;
  }
}

/** The phone's log on stderr, from `level` up. */
function phoneLogger(io: CliIo, level: PhoneLogLevel): PhoneLogger {
  const rank = PHONE_LOG_LEVELS.indexOf(level);
  const at = (l: PhoneLogLevel) =>
    PHONE_LOG_LEVELS.indexOf(l) <= rank ? (m: string) => io.err(`${PHONE_CLI_NAME}: [${l}] ${m}`) : () => {};
  return { warn: at('warn'), info: at('info'), debug: at('debug') };
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Runs `simtap-phone` with `argv` (without `node` and the script) and resolves with the exit status: 0 after
 * `--help`, `--version`, a clean stop through `signal` or `--exit-when-ready`; 1 (`EXIT_FAILURE`) when the
 * platform refuses the SIM or cannot be reached at start; 2 (`EXIT_USAGE`) for a bad command line or an unusable
 * `--image`. The image stays locked (`<image>.lock`) while it runs.
 * @example
 * const stop = new AbortController();
 * const status = phoneMain(['--image', 'sim-1.img'], { signal: stop.signal });
 * // … later
 * stop.abort(); await status; // 0
 */
export async function phoneMain(argv: readonly string[], opts: PhoneMainOptions = {}): Promise<number> {
  const io = opts.io ?? processIo;
  let options: PhoneCliOptions;
  try {
    const command = parsePhoneArgs(argv);
    if (command.kind === 'help') {
      io.out(phoneHelpText());
      return 0;
    }
    if (command.kind === 'version') {
      io.out(`${PHONE_CLI_NAME} ${PHONE_CLI_VERSION}`);
      return 0;
    }
    options = command.options;
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    complain(io, `${err.message} (see ${PHONE_CLI_NAME} --help)`);
    return EXIT_USAGE;
  }

  let lock: ImageLock | undefined;
  if (options.image !== undefined) {
    try {
      lock = await lockImage(options.image);
    } catch (err) {
      complain(io, `cannot use --image ${options.image}: ${describeError(err)}`);
      return EXIT_USAGE;
    }
  }
  try {
    return await run(options, io, opts);
  } finally {
    await lock?.release();
  }
}

/** The SIM of the image (created blank when there is none), or a blank SIM in memory. */
async function openSim(
  options: PhoneCliOptions,
  profile: SimtapProfile,
): Promise<{ card: Card; created: boolean } | { error: string }> {
  const blank = (): Card => createSim({ profile, card: options.card, epurse: true });
  if (options.image === undefined) return { card: blank(), created: true };
  try {
    return { card: await loadSim(options.image), created: false };
  } catch (err) {
    if (!hasErrorCode(err, RUNTIME_ERRORS, 'IMAGE_NOT_FOUND'))
      return { error: `cannot load --image ${options.image}: ${describeError(err)}; the file was left untouched` };
  }
  const card = blank();
  try {
    await saveImage(card, options.image);
  } catch (err) {
    return { error: `cannot create --image ${options.image}: ${describeError(err)}` };
  }
  return { card, created: true };
}

/** The run itself, once the command line is parsed and the image (if any) locked. */
async function run(options: PhoneCliOptions, io: CliIo, opts: PhoneMainOptions): Promise<number> {
  const held = phoneCard(options.card);
  const opened = await openSim(options, held.profile);
  if ('error' in opened) {
    complain(io, opened.error);
    return EXIT_USAGE;
  }
  const { card, created } = opened;
  const image = options.image;
  const profileCard = held.card;
  let savedCommits = card.commitCount;
  let saveFailed = false;
  const save = async (): Promise<void> => {
    if (image === undefined || card.commitCount === savedCommits) return;
    const commits = card.commitCount;
    try {
      await saveImage(card, image);
      savedCommits = commits;
    } catch (err) {
      saveFailed = true;
      complain(io, `cannot save the SIM image: ${describeError(err)}`);
    }
  };

  const phone = new VirtualPhone({
    card,
    url: options.url,
    msisdn: options.msisdn ?? profileCard.msisdn,
    iccid: options.iccid ?? profileCard.iccid,
    logger: phoneLogger(io, options.logLevel),
    afterCommand: save,
    ...(opts.reconnect ? { reconnect: opts.reconnect } : {}),
  });

  let stop!: (status: number) => void;
  const stopped = new Promise<number>((resolve) => {
    stop = resolve;
  });
  let everReady = false;
  const onReady = async (): Promise<void> => {
    let status = 0;
    if (options.topUp !== undefined) {
      const amount = options.topUp;
      try {
        const r = await phone.topUp(
          { idempotencyKey: `${PHONE_CLI_NAME}-${randomUUID()}`, amount },
          { timeoutMs: TOP_UP_TIMEOUT_MS },
        );
        say(io, `top-up of ${formatYuan(amount)} yuan from the phone account: load ${r.loadId} ${r.status}`);
      } catch (err) {
        complain(io, `top-up of ${formatYuan(amount)} yuan refused: ${describeError(err)}`);
        status = EXIT_FAILURE;
      }
    }
    if (options.exitWhenReady) stop(status);
  };
  phone.on('notice', (n) => {
    io.out(formatNotice(n));
    if (n.kind === 'ready' && !everReady) {
      everReady = true;
      void onReady();
    }
  });
  let connected = false;
  phone.on('state', (e) => {
    if (e.state === 'authenticated' && e.hello) {
      say(
        io,
        `${connected ? 'reconnected' : 'connected'} to ${phone.url}: card ${e.hello.cardSerial} is ${e.hello.status}`,
      );
      connected = true;
    } else if (e.state === 'reconnecting' && connected) {
      const why = e.closeCode === undefined ? '' : ` (close ${e.closeCode})`;
      say(io, `link lost${why}; reconnecting in ${(((e.delayMs ?? 0) + 50) / 1000).toFixed(1)} s`);
    } else if (e.state === 'closed' && e.error && connected) {
      // after the start: a refusal at a reconnect (the start's failures are reported by connect below)
      complain(io, refusalLine(e.error));
      stop(EXIT_FAILURE);
    }
  });
  opts.onPhone?.(phone);

  const identity =
    options.msisdn === undefined && options.iccid === undefined
      ? `${options.card}`
      : `${options.card} claiming MSISDN ${phone.msisdn}, ICCID ${phone.iccid}`;
  const where =
    image === undefined ? 'a blank SIM in memory' : `SIM image ${image} (${created ? 'created blank' : 'loaded'})`;
  io.out(`${PHONE_CLI_NAME} ${PHONE_CLI_VERSION}: ${identity}, ${where}; platform ${phone.url}, pid ${process.pid}`);

  const connecting = phone.connect().then(
    () => undefined,
    (err: unknown) => err,
  );
  const first = await Promise.race([connecting, aborted(opts.signal).then(() => 'stopped' as const)]);
  let status: number;
  if (first === 'stopped') status = 0;
  else if (first !== undefined) {
    complain(
      io,
      hasErrorCode(first, PHONE_ERRORS, 'PHONE_CONNECT_FAILED') ? unreachableLine(first) : refusalLine(first),
    );
    status = EXIT_FAILURE;
  } else status = await Promise.race([stopped, aborted(opts.signal).then(() => 0)]);
  await phone.close();
  await save();
  if (saveFailed) status = EXIT_FAILURE;
  say(io, `stopped${image === undefined ? '' : `; SIM image saved to ${image}`}`);
  return status;
}

function unreachableLine(err: unknown): string {
  return `cannot reach the platform: ${describeError(err)}`;
}

function refusalLine(err: unknown): string {
  if (hasPhoneCallCode(err, 'IDENTITY_REFUSED') || hasErrorCode(err, PHONE_ERRORS, 'PHONE_REFUSED'))
    return `the platform refused the SIM: ${describeError(err)}`;
  return `the platform ended the link: ${describeError(err)}`;
}

/**
 * Command-line options of `simtap-phone`, kept as one table ({@link PHONE_CLI_OPTIONS}) that the parser, the
 * `--help` text and the tests read, as `simtap-card`'s are.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import {
  type CardProfile,
  cardProfile,
  FLEET_MAX_CARD,
  fleetCard,
  referenceProfile,
  type SimtapProfile,
} from '@simtap/sdk/core/profile';
import { Amount, Iccid, Msisdn } from '@simtap/sdk/wire';
import type { CliExitStatus } from './errors';
import { CLI_VERSION, CliUsageError, cardLabels } from './options';

/** Name of the command, as installed by the package's `bin`. */
export const PHONE_CLI_NAME = 'simtap-phone';

/** Version printed by `--version` (the `@simtap/applet-emu` package version). */
export const PHONE_CLI_VERSION: string = CLI_VERSION;

/** The platform `simtap-phone` connects to by default (the embedded default's listen address). */
export const DEFAULT_PLATFORM_URL = 'ws://127.0.0.1:7800';

/** The levels of `--log-level`, quietest first. */
export const PHONE_LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
/** A `--log-level`. */
export type PhoneLogLevel = (typeof PHONE_LOG_LEVELS)[number];

/** The settings of one `simtap-phone` run. */
export interface PhoneCliOptions {
  /** The card whose SIM the phone holds: a card of the reference profile, or `fleet-<n>`. */
  card: string;
  /** SIM image file; `undefined` keeps a blank SIM in memory. */
  image: string | undefined;
  /** The platform, `ws://HOST:PORT` (the phone appends `/v1/ota`). */
  url: string;
  /** The MSISDN to claim instead of the card's. */
  msisdn: string | undefined;
  /** The ICCID to claim instead of the card's. */
  iccid: string | undefined;
  /** Fen to top up from the phone account once ready. */
  topUp: number | undefined;
  /** Exit 0 after the first `ready` notice (after the top-up's answer with `--top-up`). */
  exitWhenReady: boolean;
  /** What the phone's log (on stderr) shows. */
  logLevel: PhoneLogLevel;
}

/** What the command line asks for. */
export type PhoneCliCommand = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: PhoneCliOptions };

/** One row of the option table. */
export interface PhoneCliOptionDef {
  readonly name: string;
  readonly short?: string;
  /** Placeholder of the value in `--help`; absent for a flag. */
  readonly value?: string;
  readonly help: string;
  readonly default?: string;
  /**
   * Validates the value (a string, or `true` for a flag) and stores it.
   * @throws {CliUsageError} `CLI_USAGE` for a bad value.
   */
  readonly apply: (opts: PhoneCliOptions, value: string | true) => void;
}

const text = (v: string | true): string => (v === true ? '' : v);

const FLEET_LABEL = /^fleet-(0|[1-9][0-9]{0,5})$/;

/** Whether `label` names a card `simtap-phone` can hold: one of the reference profile's, or `fleet-<n>`. */
export function isPhoneCardLabel(label: string): boolean {
  if (cardLabels().includes(label)) return true;
  const n = FLEET_LABEL.exec(label)?.[1];
  return n !== undefined && Number(n) <= FLEET_MAX_CARD;
}

/**
 * The card `label` names and a profile holding it: a card of the reference profile, or the synthetic `fleet-<n>`
 * (`fleetCard(n)`: own serial, ICCID, MSISDN and keys) added to the reference profile.
 * @throws {ArgumentError} `BAD_ARGUMENT` for a label that is neither (see {@link isPhoneCardLabel}).
 */
export function phoneCard(label: string): { readonly profile: SimtapProfile; readonly card: CardProfile } {
  const reference = referenceProfile();
  const n = FLEET_LABEL.exec(label)?.[1];
  if (n === undefined) return { profile: reference, card: cardProfile(label, reference) };
  const card = fleetCard(Number(n), reference);
  return { profile: { ...reference, cards: [...reference.cards, card] }, card };
}

/**
 * Checks `--url`: `ws://` or `wss://` with a host, no credentials; a path is kept as given.
 * @throws {CliUsageError} `CLI_USAGE` for anything else.
 */
export function parsePlatformUrl(value: string): string {
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  if (u === undefined || (u.protocol !== 'ws:' && u.protocol !== 'wss:') || u.hostname === '')
    throw new CliUsageError(`--url expects ws://HOST:PORT (or wss://), got "${value}"`);
  if (u.username !== '' || u.password !== '') throw new CliUsageError('--url takes no user name or password');
  return value;
}

/** The options of `simtap-phone`, in `--help` order. `help` and `version` are handled by {@link parsePhoneArgs}. */
export const PHONE_CLI_OPTIONS: readonly PhoneCliOptionDef[] = [
  {
    name: 'card',
    value: 'LABEL',
    help:
      `card whose SIM the phone holds: of the reference profile (${cardLabels().join(', ')}), or a synthetic ` +
      `fleet card fleet-0 … fleet-${FLEET_MAX_CARD}`,
    default: 'card-1',
    apply: (o, v) => {
      if (!isPhoneCardLabel(text(v)))
        throw new CliUsageError(
          `--card must be one of ${cardLabels().join(', ')} or fleet-0 … fleet-${FLEET_MAX_CARD}; got "${text(v)}"`,
        );
      o.card = text(v);
    },
  },
  {
    name: 'image',
    value: 'FILE',
    help: "the SIM's image: created blank (e-purse installed, not personalized) on first use, saved after every command",
    apply: (o, v) => {
      if (text(v) === '') throw new CliUsageError('--image expects a file path');
      o.image = text(v);
    },
  },
  {
    name: 'url',
    value: 'ws://HOST:PORT',
    help: 'the platform; the phone connects to its /v1/ota endpoint',
    default: DEFAULT_PLATFORM_URL,
    apply: (o, v) => {
      o.url = parsePlatformUrl(text(v));
    },
  },
  {
    name: 'msisdn',
    value: 'DIGITS',
    help: "claim this MSISDN instead of the card's (to see the platform refuse it)",
    apply: (o, v) => {
      if (!Msisdn.safeParse(text(v)).success) throw new CliUsageError(`--msisdn expects 5–15 digits, got "${text(v)}"`);
      o.msisdn = text(v);
    },
  },
  {
    name: 'iccid',
    value: 'HEX',
    help: "claim this ICCID instead of the card's (to see the platform refuse it)",
    apply: (o, v) => {
      if (!Iccid.safeParse(text(v)).success)
        throw new CliUsageError(`--iccid expects 18–20 hex digits, got "${text(v)}"`);
      o.iccid = text(v).toUpperCase();
    },
  },
  {
    name: 'top-up',
    value: 'FEN',
    help: 'once ready, top the purse up by FEN from the phone account (2000 = 20.00 yuan)',
    apply: (o, v) => {
      const t = text(v);
      const n = /^\d{1,10}$/.test(t) ? Number(t) : Number.NaN;
      if (!Amount.safeParse(n).success)
        throw new CliUsageError(`--top-up expects whole fen in 1..${0xffffffff}, got "${t}"`);
      o.topUp = n;
    },
  },
  {
    name: 'exit-when-ready',
    help: 'exit 0 after the first ready notice (after the top-up answer with --top-up), for scripts',
    apply: (o, v) => {
      o.exitWhenReady = v === true;
    },
  },
  {
    name: 'log-level',
    value: 'LEVEL',
    help: `what the phone logs on stderr (${PHONE_LOG_LEVELS.join(', ')}; debug: one line per command, INS and SW)`,
    default: 'warn',
    apply: (o, v) => {
      const level = PHONE_LOG_LEVELS.find((l) => l === text(v));
      if (level === undefined)
        throw new CliUsageError(`--log-level must be one of ${PHONE_LOG_LEVELS.join(', ')}; got "${text(v)}"`);
      o.logLevel = level;
    },
  },
];

const ACTIONS: readonly PhoneCliOptionDef[] = [
  { name: 'help', short: 'h', help: 'show this help and exit', apply: () => {} },
  { name: 'version', short: 'V', help: 'print the version and exit', apply: () => {} },
];

function defaults(): PhoneCliOptions {
  return {
    card: 'card-1',
    image: undefined,
    url: DEFAULT_PLATFORM_URL,
    msisdn: undefined,
    iccid: undefined,
    topUp: undefined,
    exitWhenReady: false,
    logLevel: 'warn',
  };
}

/** node:util's parse errors as one short line. */
function usageLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const option = /'(?:-\w, )?(--?[\w-]+)/.exec(msg)?.[1] ?? '';
  switch ((err as { code?: string }).code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take/.test(msg) ? `option ${option} does not take a value` : `option ${option} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${/'([^']*)'/.exec(msg)?.[1] ?? ''}'`;
    default:
      return msg.split('\n')[0]!;
  }
}

/**
 * Parses the command line (without `node` and the script).
 * @throws {CliUsageError} `CLI_USAGE` for an unknown option, a missing or bad value, an option given twice, or a
 *   stray argument.
 * @example parsePhoneArgs(['--card', 'card-2', '--exit-when-ready']) // { kind: 'run', options: { card: 'card-2', … } }
 */
export function parsePhoneArgs(argv: readonly string[]): PhoneCliCommand {
  const all = [...PHONE_CLI_OPTIONS, ...ACTIONS];
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const def of all)
    config[def.name] = {
      type: def.value === undefined ? 'boolean' : 'string',
      ...(def.short === undefined ? {} : { short: def.short }),
    };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: false, tokens: true });
  } catch (err) {
    throw new CliUsageError(usageLine(err));
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new CliUsageError(`--${token.name} given more than once`);
    seen.add(token.name);
  }
  if (seen.has('help')) return { kind: 'help' };
  if (seen.has('version')) return { kind: 'version' };
  const options = defaults();
  for (const def of PHONE_CLI_OPTIONS) {
    const v = parsed.values[def.name];
    if (v === undefined || v === false) continue;
    def.apply(options, v as string | true);
  }
  return { kind: 'run', options };
}

/** The exit statuses of `simtap-phone` (the numbers are `simtap-card`'s constants). */
export const PHONE_CLI_EXIT_STATUSES: readonly CliExitStatus[] = Object.freeze([
  {
    status: 0,
    constant: undefined,
    when: '`--help`, `--version`, a clean stop (SIGINT / SIGTERM; link closed with 1000, image saved), or `--exit-when-ready` once ready',
    fix: '—',
  },
  {
    status: 1,
    constant: 'EXIT_FAILURE',
    when:
      'the platform refused the SIM (`IDENTITY_REFUSED`) or cannot be reached at start; the image cannot be saved; ' +
      'with `--exit-when-ready`, a refused top-up',
    fix: 'read the stderr line',
  },
  {
    status: 2,
    constant: 'EXIT_USAGE',
    when: 'a bad command line (`CLI_USAGE`), or an `--image` that cannot be used (locked, unreadable, not a SIM image)',
    fix: 'fix the arguments or the image path',
  },
]);

/** The `--help` text: usage, every option of {@link PHONE_CLI_OPTIONS} with its default, exit statuses, examples. */
export function phoneHelpText(): string {
  const all = [...PHONE_CLI_OPTIONS, ...ACTIONS];
  const heads = all.map((d) => {
    const short = d.short !== undefined ? `-${d.short}, ` : '    ';
    return `  ${short}--${d.name}${d.value !== undefined ? ` ${d.value}` : ''}`;
  });
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  const lines = all.map((d, i) => {
    const dflt = d.default !== undefined ? ` (default ${d.default})` : '';
    return `${heads[i]!.padEnd(width)}${d.help}${dflt}`;
  });
  return [
    `Usage: ${PHONE_CLI_NAME} [options]`,
    '',
    "A phone of the mobile network: holds a virtual SIM of the reference profile and relays it to the platform's",
    "/v1/ota endpoint (simtap.v1), as a handset's baseband does. The phone holds no key: the platform authenticates",
    'the SIM over SCP03 through it, then personalizes it, loads it over the air and tells the phone (one line per',
    'notice). It reconnects by itself when the link drops, until SIGINT or SIGTERM.',
    '',
    'Options:',
    ...lines,
    '',
    'Exit status: 0 after a clean stop (SIGINT / SIGTERM), --help, --version or --exit-when-ready; 1 when the',
    'platform refuses the SIM (IDENTITY_REFUSED) or cannot be reached at start; 2 on a bad command line or an',
    'unusable --image.',
    '',
    'Examples:',
    `  ${PHONE_CLI_NAME} --image sim-1.img                              # card-1's SIM, its image kept across runs`,
    `  ${PHONE_CLI_NAME} --card card-2 --top-up 2000 --exit-when-ready  # load 20.00 yuan once ready, then exit`,
    `  ${PHONE_CLI_NAME} --msisdn 13800138009                           # another number: the platform refuses the SIM`,
    '',
  ].join('\n');
}

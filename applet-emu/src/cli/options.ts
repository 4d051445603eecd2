/**
 * Command-line options of `simtap-card`, kept as one table ({@link CLI_OPTIONS}): the parser, the `--help` text
 * and the tests all read it, so a new option is one more row (name, value placeholder, help, default, and an
 * `apply` that validates the value and stores it).
 *
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import { parseArgs } from 'node:util';
import { SimtapError } from '@simtap/sdk/core/errors';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { version as packageVersion } from '../../package.json';
import type { CardInterface } from '../runtime/applet';

/** Name of the command, as installed by the package's `bin`. */
export const CLI_NAME = 'simtap-card';

/** Version printed by `--version` (the `@simtap/applet-emu` package version). */
export const CLI_VERSION: string = packageVersion;

/** Exit status of a bad command line (the convention of most Unix tools). */
export const EXIT_USAGE = 2;

/** Host and port of pcscd's vpcd slot 0, the default `--vpcd`. */
export const DEFAULT_VPCD = '127.0.0.1:35963';

/** How long `simtap-card` waits for pcscd's vpcd before it gives up (`--wait`, seconds; 0 = forever). */
export const DEFAULT_WAIT_SECONDS = 30;

/** Largest `--wait`: one day. */
const MAX_WAIT_SECONDS = 86_400;

/** The settings of one `simtap-card` run. */
export interface CliOptions {
  /** Card of the reference profile (`card-1`, `card-2`, `card-3`). */
  card: string;
  /** Card image file; `undefined` keeps the card in memory only. */
  image: string | undefined;
  /** Create the ISD with the static default keys 40..4F instead of KDF3-diversified keys. */
  defaultKeys: boolean;
  /** New cards: install the e-purse and personalize it from the card of the profile. */
  personalized: boolean;
  /** Run this PSAM of the profile (`pos-1`, `gate-1`) instead of a SIM; `undefined` runs the SIM. */
  psam: string | undefined;
  /** Host of pcscd's vpcd listener. */
  vpcdHost: string;
  /** Port of pcscd's vpcd listener (slot n = 35963 + n). */
  vpcdPort: number;
  /** Card interface the reader talks to. */
  iface: CardInterface;
  /** Print one line per APDU. */
  trace: boolean;
  /** Give up (exit 1) after this many seconds without a vpcd connection, at start or after losing it; 0 = never. */
  waitSeconds: number;
}

/** What the command line asks for. */
export type CliCommand = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: CliOptions };

/**
 * A bad command line: unknown option, missing or bad value, stray argument. Code `CLI_USAGE`;
 * the CLI prints the message with a hint to `--help` and exits with {@link EXIT_USAGE}.
 */
export class CliUsageError extends SimtapError {
  constructor(message: string) {
    super('CLI_USAGE', message);
  }
}

/** One row of the option table. */
export interface CliOptionDef {
  /** Long name without the dashes. */
  readonly name: string;
  /** One-letter alias, if any. */
  readonly short?: string;
  /** Placeholder of the value in `--help` (`PATH`); absent for a flag. */
  readonly value?: string;
  /** One-line description for `--help`. */
  readonly help: string;
  /** Default shown in `--help`. */
  readonly default?: string;
  /**
   * Validates the value (a string, or `true` for a flag) and stores it in `opts`.
   * @throws {CliUsageError} `CLI_USAGE` for a bad value.
   */
  readonly apply: (opts: CliOptions, value: string | true) => void;
}

/** The labels of the reference profile's cards. */
export function cardLabels(): string[] {
  return referenceProfile().cards.map((c) => c.label);
}

/** The labels of the reference profile's PSAMs. */
export function psamLabels(): string[] {
  return referenceProfile().psams.map((p) => p.label);
}

/** A DNS host name (RFC 1123 labels: letters, digits, inner hyphens, 1..63 characters; 253 in all). */
function isHostName(host: string): boolean {
  if (host.length > 253) return false;
  return host.split('.').every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

/**
 * Parses `HOST:PORT`: an IPv4 address, a host name, or an IPv6 address in brackets (`[::1]:35963`).
 * @throws {CliUsageError} `CLI_USAGE` when the host is empty or not an address or host name (`256.1.1.1`), or the
 *   port is not 1..65535.
 */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port < 1 || port > 65535)
    throw new CliUsageError(`--vpcd expects HOST:PORT with a port in 1..65535, got "${text}"`);
  const v6 = m[1];
  const host = (v6 ?? m[2])!;
  // All digits and dots reads as an IPv4 address (a host name's last label is never all digits).
  const valid = v6 !== undefined ? isIPv6(v6) : /^[\d.]+$/.test(host) ? isIPv4(host) : isHostName(host);
  if (!valid)
    throw new CliUsageError(
      `--vpcd expects HOST:PORT with an IPv4 address, a host name or a bracketed IPv6 address; "${host}" is none`,
    );
  return { host, port };
}

function choice(option: string, value: string, choices: readonly string[]): string {
  if (!choices.includes(value))
    throw new CliUsageError(`--${option} must be one of ${choices.join(', ')}; got "${value}"`);
  return value;
}

const flag = (v: string | true): boolean => v === true;
const text = (v: string | true): string => (v === true ? '' : v);

/** The options of `simtap-card`, in `--help` order. `help` and `version` are handled by {@link parseCliArgs}. */
export const CLI_OPTIONS: readonly CliOptionDef[] = [
  {
    name: 'card',
    value: 'LABEL',
    help: `card of the reference profile to emulate (${cardLabels().join(', ')})`,
    default: 'card-1',
    apply: (o, v) => {
      o.card = choice('card', text(v), cardLabels());
    },
  },
  {
    name: 'image',
    value: 'PATH',
    help: 'card image: loaded if present, else created; saved crash-safe after each commit and on exit',
    apply: (o, v) => {
      if (text(v) === '') throw new CliUsageError('--image expects a file path');
      o.image = text(v);
    },
  },
  {
    name: 'default-keys',
    help: 'new cards: ISD static keys 40..4F instead of KDF3-diversified keys',
    apply: (o, v) => {
      o.defaultKeys = flag(v);
    },
  },
  {
    name: 'personalized',
    help: 'new cards: install the e-purse and personalize it from the profile (keys, EF 0x15, PIN, initial balance)',
    apply: (o, v) => {
      o.personalized = flag(v);
    },
  },
  {
    name: 'psam',
    value: 'LABEL',
    help: `run a PSAM of the profile instead of a SIM (${psamLabels().join(', ')}); contact interface by default`,
    apply: (o, v) => {
      o.psam = choice('psam', text(v), psamLabels());
    },
  },
  {
    name: 'vpcd',
    value: 'HOST:PORT',
    help: "pcscd's vpcd listener (slot n listens on 35963 + n)",
    default: DEFAULT_VPCD,
    apply: (o, v) => {
      const { host, port } = parseHostPort(text(v));
      o.vpcdHost = host;
      o.vpcdPort = port;
    },
  },
  {
    name: 'wait',
    value: 'SECONDS',
    help: "give up (exit 1) after this long without pcscd's vpcd, at start or after losing it; 0 = forever",
    default: String(DEFAULT_WAIT_SECONDS),
    apply: (o, v) => {
      const t = text(v);
      const n = /^\d{1,6}$/.test(t) ? Number(t) : Number.NaN;
      if (!(n <= MAX_WAIT_SECONDS))
        throw new CliUsageError(`--wait expects whole seconds in 0..${MAX_WAIT_SECONDS} (0 = forever), got "${t}"`);
      o.waitSeconds = n;
    },
  },
  {
    name: 'interface',
    value: 'IFACE',
    help: 'card interface the reader talks to (contactless, contact)',
    default: 'contactless; contact with --psam',
    apply: (o, v) => {
      o.iface = choice('interface', text(v), ['contactless', 'contact']) as CardInterface;
    },
  },
  {
    name: 'trace',
    help: 'print one line per APDU (command → response, time); key and PIN data redacted',
    apply: (o, v) => {
      o.trace = flag(v);
    },
  },
];

const ACTIONS: readonly CliOptionDef[] = [
  { name: 'help', short: 'h', help: 'show this help and exit', apply: () => {} },
  { name: 'version', short: 'V', help: 'print the version and exit', apply: () => {} },
];

function defaults(): CliOptions {
  const { host, port } = parseHostPort(DEFAULT_VPCD);
  return {
    card: 'card-1',
    image: undefined,
    defaultKeys: false,
    personalized: false,
    psam: undefined,
    vpcdHost: host,
    vpcdPort: port,
    iface: 'contactless',
    trace: false,
    waitSeconds: DEFAULT_WAIT_SECONDS,
  };
}

/** Rewrites node:util's parse errors into one short line. */
function usageMessage(err: unknown): string {
  const code = (err as { code?: string }).code;
  const msg = err instanceof Error ? err.message : String(err);
  const option = /'(?:-\w, )?(--?[\w-]+)/.exec(msg)?.[1] ?? '';
  switch (code) {
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
 * @throws {CliUsageError} `CLI_USAGE` for an unknown option, a missing or bad value, or a stray argument.
 * @example parseCliArgs(['--card', 'card-2', '--trace']) // { kind: 'run', options: { card: 'card-2', … } }
 */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  const all = [...CLI_OPTIONS, ...ACTIONS];
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const def of all) {
    config[def.name] = { type: def.value === undefined ? 'boolean' : 'string' };
    if (def.short !== undefined) config[def.name]!.short = def.short;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: false, tokens: true });
  } catch (err) {
    throw new CliUsageError(usageMessage(err));
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option') continue;
    const def = all.find((d) => d.name === token.name)!;
    if (def.value !== undefined && seen.has(def.name)) throw new CliUsageError(`--${def.name} given more than once`);
    seen.add(def.name);
  }
  if (seen.has('help')) return { kind: 'help' };
  if (seen.has('version')) return { kind: 'version' };
  const options = defaults();
  for (const def of CLI_OPTIONS) {
    const v = parsed.values[def.name];
    if (v === undefined || v === false) continue;
    def.apply(options, v as string | true);
  }
  if (options.psam !== undefined) {
    const clash = ['card', 'default-keys', 'personalized'].filter((n) => seen.has(n));
    if (clash.length > 0)
      throw new CliUsageError(
        `--psam runs a PSAM, not a SIM: --${clash.join(', --')} ${clash.length === 1 ? 'does' : 'do'} not apply`,
      );
    if (!seen.has('interface')) options.iface = 'contact';
  }
  return { kind: 'run', options };
}

/** The `--help` text: usage, every option of {@link CLI_OPTIONS} with its default, and an example. */
export function helpText(): string {
  const all = [...CLI_OPTIONS, ...ACTIONS];
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
    `Usage: ${CLI_NAME} [options]`,
    '',
    'Runs a virtual simtap SIM (GlobalPlatform ISD, and with --personalized the PBOC e-purse) or, with --psam, a',
    "PSAM of the reference profile in pcscd's vpcd virtual reader until SIGINT or SIGTERM.",
    'Needs pcscd with the vsmartcard vpcd driver (Debian: apt-get install pcscd vsmartcard-vpcd opensc; without a',
    'service manager start it with `pcscd --foreground &`). One process per image: --image is locked (PATH.lock).',
    '',
    'Options:',
    ...lines,
    '',
    'Stopping: Ctrl-C (SIGINT) or SIGTERM saves the image, releases its lock and exits 0; a second signal while',
    'stopping exits 1 at once.',
    '',
    'Exit status: 0 after a clean stop, --help or --version; 1 when the image is in use by another process, cannot',
    "be read or saved, or pcscd's vpcd stays unreachable past --wait; 2 on a bad command line.",
    "Through npx you see npx's status, not this one: npm runs the command through `sh -c`, and where /bin/sh is dash",
    '(Debian, Ubuntu) Ctrl-C ends that shell too, so npm re-raises SIGINT and npx exits 130 after the card has',
    'stopped cleanly. SIGTERM sent to npx ends the shell, not the card; the card notices and stops cleanly itself.',
    "To see the card's own status run node_modules/.bin/simtap-card, or signal its pid (printed at start).",
    '',
    'Examples:',
    `  ${CLI_NAME} --personalized --image card-1.img           # the SIM with its e-purse, vpcd slot 0`,
    `  ${CLI_NAME} --psam pos-1 --vpcd 127.0.0.1:35964         # the POS's PSAM, vpcd slot 1`,
    `  ${CLI_NAME} --card card-2 --image card-2.img --trace`,
    '',
  ].join('\n');
}

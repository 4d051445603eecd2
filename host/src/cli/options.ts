/**
 * The command line of `simtap-host`: one table of options ({@link CLI_OPTIONS}) that the parser, `--help` and the
 * tests read. Parsing never throws: a bad command line is a {@link CliCommand} of kind `usage` with one line saying
 * what is wrong (the command prints it and exits 2).
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import { parseArgs } from 'node:util';
import { version as packageVersion } from '../../package.json';

/** Name of the command, as the package's `bin` installs it. */
export const CLI_NAME = 'simtap-host';
/** The `@simtap/host` package version, printed by `--version`. */
export const CLI_VERSION: string = packageVersion;

/** Exit status of a clean stop, `--help`, `--version`. */
export const EXIT_OK = 0;
/** Exit status when the platform cannot start (store, keys, listen address) or crashes. */
export const EXIT_FAILURE = 1;
/** Exit status of a bad command line or an unusable data directory. */
export const EXIT_USAGE = 2;

/** Default `--listen`. */
export const DEFAULT_LISTEN = '127.0.0.1:7800';
/** Default `--data`. */
export const DEFAULT_DATA_DIR = './data';
/** Default `cert --out`. */
export const DEFAULT_CERT_DIR = './data/tls';
/** The pino levels `--log-level` takes. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** A `--log-level`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What a `simtap-host` run is given. */
export interface RunOptions {
  readonly host: string;
  readonly port: number;
  /** The data directory as given (resolved against the working directory by the command). */
  readonly dataDir: string;
  /** PostgreSQL instead of SQLite (`--database-url` or `SIMTAP_DATABASE_URL`). */
  readonly databaseUrl: string | undefined;
  readonly tlsKey: string | undefined;
  readonly tlsCert: string | undefined;
  readonly logLevel: LogLevel;
  /** How long a lost card's float is held for its late offline records, ms (`--lost-card-hold DAYS`). */
  readonly lostCardHoldMs: number;
}

/** Default `--lost-card-hold`, days. */
export const DEFAULT_LOST_CARD_HOLD_DAYS = 7;

/** What the command line asks for. */
export type CliCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'usage'; readonly message: string }
  | { readonly kind: 'run'; readonly options: RunOptions }
  | { readonly kind: 'cert'; readonly out: string; readonly force: boolean };

/** One option of the table. */
export interface CliOptionDef {
  readonly name: string;
  readonly short?: string;
  /** The value's placeholder in `--help`; absent for a flag. */
  readonly value?: string;
  readonly help: string;
  /** `run` (the server) or `cert` (the subcommand); `both` for `--help`. */
  readonly of: 'run' | 'cert' | 'both';
}

/** Every option of `simtap-host` and of `simtap-host cert`. */
export const CLI_OPTIONS: readonly CliOptionDef[] = [
  {
    name: 'listen',
    value: 'HOST:PORT',
    help: `where to listen (default ${DEFAULT_LISTEN}; port 0 picks a free one; IPv6 as [::1]:7800)`,
    of: 'run',
  },
  {
    name: 'data',
    value: 'DIR',
    help: `folder of the SQLite database simtap.db and other files (default ${DEFAULT_DATA_DIR}; created if missing)`,
    of: 'run',
  },
  {
    name: 'database-url',
    value: 'URL',
    help: 'keep the ledger in PostgreSQL at postgres://… instead of SQLite (default: $SIMTAP_DATABASE_URL)',
    of: 'run',
  },
  {
    name: 'lost-card-hold',
    value: 'DAYS',
    help:
      `how long a lost card's float waits for its late offline records before the rest goes to the phone account ` +
      `(hourly sweep; default ${DEFAULT_LOST_CARD_HOLD_DAYS}; 0: to the replacement at once; fractions allowed)`,
    of: 'run',
  },
  { name: 'tls-key', value: 'FILE', help: 'private key (PEM) to serve wss:// (with --tls-cert)', of: 'run' },
  { name: 'tls-cert', value: 'FILE', help: 'certificate (PEM) to serve wss:// (with --tls-key)', of: 'run' },
  {
    name: 'log-level',
    value: 'LEVEL',
    help: `${LOG_LEVELS.join(', ')} (default info); JSON lines on stderr, one per connection at info, per request at debug`,
    of: 'run',
  },
  {
    name: 'out',
    value: 'DIR',
    help: `cert: where to write ca.crt, ca.key, localhost.crt, localhost.key (default ${DEFAULT_CERT_DIR})`,
    of: 'cert',
  },
  { name: 'force', help: 'cert: replace certificate files that exist', of: 'cert' },
  { name: 'help', short: 'h', help: 'print this help', of: 'both' },
  { name: 'version', short: 'V', help: 'print the version', of: 'both' },
];

/** The `--help` text. */
export function helpText(): string {
  const rows = (of: CliOptionDef['of']) =>
    CLI_OPTIONS.filter((o) => o.of === of || o.of === 'both').map((o) => {
      const left = `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.value ? ` ${o.value}` : ''}`;
      return `  ${left.padEnd(26)} ${o.help}`;
    });
  return [
    `Usage: ${CLI_NAME} [options]`,
    `       ${CLI_NAME} cert [--out DIR] [--force]`,
    '',
    'Runs the simtap account operation platform: the simtap.v1 WebSocket server (/v1/app, /v1/console, /v1/ota) on',
    "the embedded default — the reference profile's clients, merchants, cards and issuer keys (test keys: never real",
    'money). Prints one line when it listens; SIGTERM or SIGINT stops it gracefully (requests in flight finish,',
    'every connection closes with 1001).',
    '',
    'Options:',
    ...rows('run'),
    '',
    `${CLI_NAME} cert makes a development CA and a certificate for localhost (127.0.0.1, ::1) signed by it:`,
    ...rows('cert').filter((r) => /--(out|force) /.test(r)),
    '',
    'Exit status: 0 stopped cleanly (or --help, --version); 1 the platform could not start or failed; 2 a bad',
    'command line or an unusable data directory.',
  ].join('\n');
}

/** Parses the arguments (without `node` and the script). Never throws. */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = {}): CliCommand {
  const isCert = argv[0] === 'cert';
  const args = isCert ? argv.slice(1) : argv;
  const allowed = CLI_OPTIONS.filter((o) => o.of === 'both' || o.of === (isCert ? 'cert' : 'run'));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: true,
      options: Object.fromEntries(
        allowed.map((o) => [
          o.name,
          { type: o.value ? ('string' as const) : ('boolean' as const), ...(o.short ? { short: o.short } : {}) },
        ]),
      ),
    });
  } catch (e) {
    return { kind: 'usage', message: usageMessage(e, args, isCert) };
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) return { kind: 'help' };
  if (v.version) return { kind: 'version' };
  if (parsed.positionals.length > 0)
    return { kind: 'usage', message: `unexpected argument ${JSON.stringify(parsed.positionals[0])}` };
  for (const [name, value] of Object.entries(v))
    if (value === '') return { kind: 'usage', message: `--${name} needs a value` };
  if (isCert) return { kind: 'cert', out: (v.out as string | undefined) ?? DEFAULT_CERT_DIR, force: v.force === true };

  const listen = parseListen((v.listen as string | undefined) ?? DEFAULT_LISTEN);
  if (typeof listen === 'string') return { kind: 'usage', message: listen };
  const logLevel = (v['log-level'] as string | undefined) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    return {
      kind: 'usage',
      message: `--log-level must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(logLevel)}`,
    };
  const tlsKey = v['tls-key'] as string | undefined;
  const tlsCert = v['tls-cert'] as string | undefined;
  if ((tlsKey === undefined) !== (tlsCert === undefined))
    return { kind: 'usage', message: '--tls-key and --tls-cert go together' };
  const fromOption = v['database-url'] as string | undefined;
  const databaseUrl = fromOption ?? (env.SIMTAP_DATABASE_URL || undefined);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\/./.test(databaseUrl))
    return {
      kind: 'usage',
      message: `${fromOption === undefined ? 'SIMTAP_DATABASE_URL' : '--database-url'} must be a postgres:// or postgresql:// URL`,
    };
  const holdText = (v['lost-card-hold'] as string | undefined) ?? String(DEFAULT_LOST_CARD_HOLD_DAYS);
  const holdDays = /^\d{1,4}(\.\d{1,6})?$/.test(holdText) ? Number(holdText) : Number.NaN;
  if (!(holdDays >= 0 && holdDays <= 3650))
    return {
      kind: 'usage',
      message: `--lost-card-hold must be a number of days from 0 to 3650, not ${JSON.stringify(holdText)}`,
    };
  return {
    kind: 'run',
    options: {
      host: listen.host,
      port: listen.port,
      dataDir: (v.data as string | undefined) ?? DEFAULT_DATA_DIR,
      databaseUrl,
      tlsKey,
      tlsCert,
      logLevel: logLevel as LogLevel,
      lostCardHoldMs: Math.round(holdDays * 24 * 3600 * 1000),
    },
  };
}

/** `HOST:PORT` (IPv6 in brackets), or what is wrong with it. */
export function parseListen(text: string): { host: string; port: number } | string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const bad = `--listen must be HOST:PORT (e.g. ${DEFAULT_LISTEN} or [::1]:7800), not ${JSON.stringify(text)}`;
  if (!m) return bad;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port > 65535) return `--listen: port ${port} is above 65535`;
  if (m[1] !== undefined ? !isIPv6(host) : !(isIPv4(host) || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)))
    return bad;
  return { host, port };
}

function usageMessage(e: unknown, args: readonly string[], isCert: boolean): string {
  const code = (e as { code?: string }).code;
  const message = e instanceof Error ? e.message : String(e);
  const named = /'(-{1,2}[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && named !== undefined) {
    const other = CLI_OPTIONS.find((o) => `--${o.name}` === named);
    if (other !== undefined) return `${named} is an option of ${other.of === 'cert' ? `${CLI_NAME} cert` : CLI_NAME}`;
    return `unknown option ${named}${isCert ? ' for cert' : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && named !== undefined) {
    const def = CLI_OPTIONS.find((o) => `--${o.name}` === named || `-${o.short}` === named);
    return def?.value ? `--${def.name} needs a value (${def.value})` : `--${def?.name ?? named} takes no value`;
  }
  return `${message.split('\n')[0]} (arguments: ${args.join(' ')})`;
}

/**
 * Test and bench helper: the optional parts of the PC/SC path (the `smartcard` npm module, pcscd, vsmartcard's vpcd
 * driver, `opensc-tool`), whether this machine has them, and the one line a test file or bench section prints when it
 * skips for want of one.
 *
 * Each caller names the parts it needs ({@link checkPcscParts}); a missing part is a skip with one line naming the
 * Debian packages and the command that enables them, and under `CI=true` an error instead (CI installs every part in
 * `.ci/install-system-packages`, so a skip there would hide a broken install).
 *
 * `SIMTAP_PCSC_ASSUME_MISSING` (a comma-separated list of parts, or `all`) makes the probe report parts missing on a
 * machine that has them: the seam that proves the skip lines and the `CI=true` failure without uninstalling anything.
 *
 * @example
 * const skip = await checkPcscParts('PcscChannel through pcscd', ['pcscd', 'vpcd', 'smartcard']);
 * describe.skipIf(skip !== null)('…', () => {});
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';

/** An optional part of the PC/SC path. */
export type PcscPart = 'smartcard' | 'pcscd' | 'vpcd' | 'opensc-tool';

/** Every optional part, in the order the skip line lists them. */
export const PCSC_PARTS: readonly PcscPart[] = ['pcscd', 'vpcd', 'opensc-tool', 'smartcard'];

/** The Debian package that provides each part. */
export const PCSC_PART_PACKAGES: Readonly<Record<PcscPart, string>> = {
  pcscd: 'pcscd',
  vpcd: 'vsmartcard-vpcd',
  'opensc-tool': 'opensc',
  // The module itself comes from npm; it compiles against libpcsclite-dev during `npm install`.
  smartcard: 'libpcsclite-dev',
};

/** Environment variable that reports parts missing (`all`, or e.g. `smartcard,opensc-tool`). */
export const ASSUME_MISSING_ENV = 'SIMTAP_PCSC_ASSUME_MISSING';

/** vsmartcard's reader.conf entry that makes pcscd load the vpcd driver. */
const VPCD_READER_CONF = '/etc/reader.conf.d/vpcd';

/** Why a part cannot be used, and what enables it (`install`: Debian packages; `command`: anything else). */
export interface MissingPart {
  readonly part: PcscPart;
  readonly reason: string;
  /** The part is installed but cannot be used as is (e.g. pcscd not running, no root to start it). */
  readonly command?: string;
}

/** Answers whether a part is usable: `null` when it is, else why not. */
export type PcscPartProbe = (part: PcscPart) => Promise<MissingPart | null>;

/** An executable in PATH (or in the sbin directories, where Debian puts pcscd). */
export function findExecutable(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Reads the LIBPATH of the vpcd reader.conf entry and checks the driver exists. */
export function vpcdDriverInstalled(): boolean {
  let conf: string;
  try {
    conf = fs.readFileSync(VPCD_READER_CONF, 'utf8');
  } catch {
    return false;
  }
  const lib = /^\s*LIBPATH\s+(\S+)/m.exec(conf)?.[1];
  return lib !== undefined && fs.existsSync(lib);
}

/** PIDs of running processes named `pcscd` (what `pgrep -x pcscd` prints, zombies excluded). */
export function runningPcscdPids(): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'pcscd') continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') pids.push(Number(entry));
    } catch {
      // process gone
    }
  }
  return pids;
}

/** Loads the optional `smartcard` module as the SDK's PcscChannel does; why not, when it cannot. */
async function smartcardProblem(): Promise<string | null> {
  const specifier = 'smartcard';
  try {
    const mod = (await import(specifier)) as Record<string, unknown>;
    const lib = (typeof mod.Context === 'function' ? mod : mod.default) as { Context?: unknown } | undefined;
    return typeof lib?.Context === 'function' ? null : 'the smartcard module has no PC/SC Context';
  } catch (e) {
    const msg = e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(msg))
      return 'the optional smartcard module is not installed (its build during npm install needs libpcsclite-dev)';
    return `the smartcard module does not load (${msg})`;
  }
}

/** The parts `SIMTAP_PCSC_ASSUME_MISSING` reports missing. */
export function assumedMissing(env: NodeJS.ProcessEnv = process.env): Set<PcscPart> {
  const raw = (env[ASSUME_MISSING_ENV] ?? '').trim();
  if (raw === '' || raw === '0') return new Set();
  if (raw === '1' || raw === 'all') return new Set(PCSC_PARTS);
  const parts = raw.split(',').map((s) => s.trim());
  for (const p of parts) {
    if (!(PCSC_PARTS as readonly string[]).includes(p))
      throw new Error(`${ASSUME_MISSING_ENV}: unknown part "${p}" (expected all or ${PCSC_PARTS.join(', ')})`);
  }
  return new Set(parts as PcscPart[]);
}

/** The machine's own answer: looks for each part (and honours `SIMTAP_PCSC_ASSUME_MISSING`). */
export const systemPcscProbe: PcscPartProbe = async (part) => {
  if (assumedMissing().has(part))
    return { part, reason: `${part} reported missing (${ASSUME_MISSING_ENV}=${process.env[ASSUME_MISSING_ENV]})` };
  switch (part) {
    case 'pcscd':
      if (process.platform !== 'linux')
        return { part, reason: `the pcscd tests need Linux (this is ${process.platform})` };
      if (findExecutable('pcscd') === null) return { part, reason: 'pcscd is not installed' };
      if (runningPcscdPids().length === 0 && typeof process.getuid === 'function' && process.getuid() !== 0)
        return {
          part,
          reason: 'pcscd is not running and starting it needs root',
          command: 'sudo pcscd --foreground &',
        };
      return null;
    case 'vpcd':
      return vpcdDriverInstalled() ? null : { part, reason: `the vpcd driver is not installed (${VPCD_READER_CONF})` };
    case 'opensc-tool':
      return findExecutable('opensc-tool') === null ? { part, reason: 'opensc-tool is not installed' } : null;
    case 'smartcard': {
      const problem = await smartcardProblem();
      return problem === null ? null : { part, reason: problem };
    }
  }
};

/** The parts of `parts` that `probe` reports missing, in {@link PCSC_PARTS} order. */
export async function missingPcscParts(
  parts: readonly PcscPart[],
  probe: PcscPartProbe = systemPcscProbe,
): Promise<MissingPart[]> {
  const out: MissingPart[] = [];
  for (const part of PCSC_PARTS) {
    if (!parts.includes(part)) continue;
    const missing = await probe(part);
    if (missing !== null) out.push(missing);
  }
  return out;
}

/**
 * The command that enables the missing parts: `sudo apt-get install <packages>` (`&& npm install` when the
 * `smartcard` module has to be rebuilt), or the part's own command (start pcscd as root).
 */
export function enablingCommand(missing: readonly MissingPart[]): string {
  const install = missing.filter((m) => m.command === undefined);
  const commands: string[] = [];
  if (install.length > 0) {
    const packages = [...new Set(install.map((m) => PCSC_PART_PACKAGES[m.part]))];
    commands.push(`sudo apt-get install ${packages.join(' ')}`);
    if (install.some((m) => m.part === 'smartcard')) commands.push('npm install');
  }
  for (const m of missing) if (m.command !== undefined && !commands.includes(m.command)) commands.push(m.command);
  return commands.join(' && ');
}

/** The one line printed for a skip: what was skipped, why, and the command that enables it. */
export function pcscSkipLine(subject: string, missing: readonly MissingPart[]): string {
  const why = missing.map((m) => m.reason).join('; ');
  return `${subject} skipped: ${why}; enable with \`${enablingCommand(missing)}\``;
}

/** Options of {@link checkPcscParts}. */
export interface CheckPcscPartsOptions {
  /** How parts are looked for (default {@link systemPcscProbe}). */
  probe?: PcscPartProbe;
  /** Whether a missing part is a failure (default: `CI=true` in the environment). */
  ci?: boolean;
  /** Where the skip line goes (default `console.warn`). */
  log?: (line: string) => void;
}

/** A part a run under `CI=true` needs is missing. */
export class PcscPartMissingError extends Error {
  readonly missing: readonly MissingPart[];
  constructor(line: string, missing: readonly MissingPart[]) {
    super(`CI=true, so this is a failure, not a skip: ${line}`);
    this.name = 'PcscPartMissingError';
    this.missing = missing;
  }
}

/**
 * Checks that every part in `parts` is usable. Returns `null` when they are; otherwise prints one skip line
 * ({@link pcscSkipLine}) and returns it — or, under `CI=true`, throws {@link PcscPartMissingError} with that line.
 */
export async function checkPcscParts(
  subject: string,
  parts: readonly PcscPart[],
  options: CheckPcscPartsOptions = {},
): Promise<string | null> {
  const missing = await missingPcscParts(parts, options.probe);
  if (missing.length === 0) return null;
  const line = pcscSkipLine(subject, missing);
  if (options.ci ?? process.env.CI === 'true') throw new PcscPartMissingError(line, missing);
  (options.log ?? ((l: string) => console.warn(l)))(line);
  return line;
}

/**
 * The optional PC/SC parts: each test file and bench section that needs one checks for it; a missing part is a skip
 * with one line naming the Debian packages and the enabling command, and under CI=true a failure. Proven with the
 * parts reported missing (SIMTAP_PCSC_ASSUME_MISSING, the seam) on a machine that may well have them, through the
 * real test runner, the real bench and the real postinstall script.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ASSUME_MISSING_ENV,
  assumedMissing,
  checkPcscParts,
  enablingCommand,
  type MissingPart,
  missingPcscParts,
  PCSC_PARTS,
  PcscPartMissingError,
  type PcscPartProbe,
  pcscSkipLine,
  systemPcscProbe,
} from '../src/testing/pcsc-parts';
import { startPcscd } from '../src/testing/pcscd';

const REPO = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

const allMissing: PcscPartProbe = async (part) => ({ part, reason: `${part} is missing` });

/** The environment of a child run: this one without CI and vitest's own variables, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(VITEST|CI$|TEST$|NODE_OPTIONS$|FORCE_COLOR$)/.test(k)) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Runs a command to its end: exit code and combined output (never rejects). */
async function runToEnd(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; out: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: REPO, env, maxBuffer: 1 << 24 });
    return { code: 0, out: stdout + stderr, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      out: `${err.stdout}${err.stderr}`,
      stderr: `${err.stderr}`,
    };
  }
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('the skip line', () => {
  it('is one line naming what is missing, the Debian packages and the command that enables them', async () => {
    const missing = await missingPcscParts(PCSC_PARTS, allMissing);
    const line = pcscSkipLine('PcscChannel through real pcscd', missing);
    expect(line).not.toContain('\n');
    expect(line).toBe(
      'PcscChannel through real pcscd skipped: pcscd is missing; vpcd is missing; opensc-tool is missing; ' +
        'smartcard is missing; enable with `sudo apt-get install pcscd vsmartcard-vpcd opensc libpcsclite-dev && npm install`',
    );
  });

  it('asks for npm install only when the smartcard module is missing, and names the part-specific command', () => {
    expect(enablingCommand([{ part: 'opensc-tool', reason: 'r' }])).toBe('sudo apt-get install opensc');
    expect(enablingCommand([{ part: 'smartcard', reason: 'r' }])).toBe(
      'sudo apt-get install libpcsclite-dev && npm install',
    );
    const notRoot: MissingPart = {
      part: 'pcscd',
      reason: 'pcscd is not running',
      command: 'sudo pcscd --foreground &',
    };
    expect(enablingCommand([notRoot, { part: 'vpcd', reason: 'r' }])).toBe(
      'sudo apt-get install vsmartcard-vpcd && sudo pcscd --foreground &',
    );
  });

  it('checkPcscParts prints it once and returns it; null when every part is there', async () => {
    const lines: string[] = [];
    const only =
      (p: string): PcscPartProbe =>
      async (part) =>
        part === p ? { part, reason: `${p} gone` } : null;
    const line = await checkPcscParts('x', ['pcscd', 'smartcard'], {
      probe: only('smartcard'),
      ci: false,
      log: (l) => lines.push(l),
    });
    expect(lines).toEqual([line]);
    expect(line).toBe('x skipped: smartcard gone; enable with `sudo apt-get install libpcsclite-dev && npm install`');
    expect(
      await checkPcscParts('x', ['pcscd'], { probe: only('smartcard'), ci: false, log: (l) => lines.push(l) }),
    ).toBeNull();
    expect(lines).toHaveLength(1);
  });

  it('is a failure under CI=true: PcscPartMissingError carrying the line', async () => {
    const err = await checkPcscParts('x', ['vpcd'], { probe: allMissing, ci: true, log: () => {} }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PcscPartMissingError);
    expect((err as Error).message).toBe(
      'CI=true, so this is a failure, not a skip: x skipped: vpcd is missing; enable with `sudo apt-get install vsmartcard-vpcd`',
    );
    vi.stubEnv('CI', 'true');
    await expect(checkPcscParts('x', ['vpcd'], { probe: allMissing, log: () => {} })).rejects.toBeInstanceOf(
      PcscPartMissingError,
    );
  });
});

describe(`${ASSUME_MISSING_ENV}`, () => {
  it('names parts (or all) to report missing, and rejects an unknown part', () => {
    expect([...assumedMissing({})]).toEqual([]);
    expect([...assumedMissing({ [ASSUME_MISSING_ENV]: 'all' })]).toEqual([...PCSC_PARTS]);
    expect([...assumedMissing({ [ASSUME_MISSING_ENV]: '1' })]).toEqual([...PCSC_PARTS]);
    expect([...assumedMissing({ [ASSUME_MISSING_ENV]: 'smartcard, opensc-tool' })]).toEqual([
      'smartcard',
      'opensc-tool',
    ]);
    expect(() => assumedMissing({ [ASSUME_MISSING_ENV]: 'pcsc' })).toThrow(/unknown part "pcsc"/);
  });

  it('makes the system probe report the part missing and startPcscd skip with the line, or throw under CI=true', async () => {
    vi.stubEnv(ASSUME_MISSING_ENV, 'smartcard');
    vi.stubEnv('CI', '');
    expect(await systemPcscProbe('smartcard')).toEqual({
      part: 'smartcard',
      reason: `smartcard reported missing (${ASSUME_MISSING_ENV}=smartcard)`,
    });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(await startPcscd({ subject: 'seam test', needs: ['smartcard'] })).toBeNull();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(
      /^seam test skipped: .*smartcard reported missing .*libpcsclite-dev && npm install`$/,
    );
    vi.stubEnv('CI', 'true');
    await expect(startPcscd({ subject: 'seam test', needs: ['smartcard'] })).rejects.toBeInstanceOf(
      PcscPartMissingError,
    );
  });
});

describe('with the PC/SC parts reported missing, end to end', () => {
  const PCSC_FILES = ['sdk/src/card/pcsc.pcscd.test.ts', 'applet-emu/src/cli/simtap-card.pcscd.test.ts'];

  it('the test files skip with their one-line reasons and exit 0; under CI=true they fail', async () => {
    const vitest = path.join(REPO, 'node_modules/.bin/vitest');
    const skip = await runToEnd(vitest, ['run', ...PCSC_FILES], childEnv({ [ASSUME_MISSING_ENV]: 'all' }));
    expect(skip.code, skip.out).toBe(0);
    expect(skip.out).toContain(
      'PcscChannel through real pcscd skipped: pcscd reported missing (SIMTAP_PCSC_ASSUME_MISSING=all); vpcd reported',
    );
    expect(skip.out).toContain('simtap-card in real pcscd skipped: pcscd reported missing');
    expect(skip.out).toContain(
      'enable with `sudo apt-get install pcscd vsmartcard-vpcd opensc libpcsclite-dev && npm install`',
    );
    expect(skip.out).toMatch(/Tests\s+\d+ skipped/);

    const ci = await runToEnd(vitest, ['run', ...PCSC_FILES], childEnv({ [ASSUME_MISSING_ENV]: 'all', CI: 'true' }));
    expect(ci.code, ci.out).not.toBe(0);
    expect(ci.out).toContain('CI=true, so this is a failure, not a skip: PcscChannel through real pcscd skipped');
    expect(ci.out).toContain('CI=true, so this is a failure, not a skip: simtap-card in real pcscd skipped');
  }, 120_000);

  it('npm run bench skips its PC/SC section with the line and exits 0; under CI=true it exits 1', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'simtap-bench-'));
    try {
      const out = path.join(dir, 'results.json');
      const args = ['--conditions=source', '--import', 'tsx', 'bench/run.ts', 'pcsc', '--out', out];
      const skip = await runToEnd(process.execPath, args, childEnv({ [ASSUME_MISSING_ENV]: 'all' }));
      expect(skip.code, skip.out).toBe(0);
      expect(skip.out).toMatch(/ {2}PC\/SC benchmark skipped: pcscd reported missing .* && npm install`\n/);
      expect(JSON.parse(readFileSync(out, 'utf8')).rows).toEqual([]);
      const ci = await runToEnd(process.execPath, args, childEnv({ [ASSUME_MISSING_ENV]: 'all', CI: 'true' }));
      expect(ci.code, ci.out).toBe(1);
      expect(ci.out).toContain(
        'FAILED SUITE pcsc: CI=true, so this is a failure, not a skip:   PC/SC benchmark skipped',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('the postinstall script prints one line why PC/SC is off and how to fix it, and never fails the install', async () => {
    const script = path.join(REPO, 'scripts/postinstall.mjs');
    const off = await runToEnd(process.execPath, [script], childEnv({ [ASSUME_MISSING_ENV]: 'smartcard' }));
    expect(off.code).toBe(0);
    expect(off.stderr).toBe(
      'simtap: PC/SC support is off: the optional module smartcard is not usable because it is reported missing ' +
        `(${ASSUME_MISSING_ENV}); everything else works, and the PC/SC tests skip. To enable it: ` +
        (process.platform === 'linux'
          ? 'sudo apt-get install libpcsclite-dev pcscd vsmartcard-vpcd opensc, then npm install again.\n'
          : 'see "Run the virtual SIM in PC/SC" in README.md, then npm install again.\n'),
    );
    // Without the seam it speaks only when the module really does not load here.
    const real = await runToEnd(process.execPath, [script], childEnv({}));
    expect(real.code).toBe(0);
    const loads = (await systemPcscProbe('smartcard')) === null;
    if (loads) expect(real.out).toBe('');
    else expect(real.out).toMatch(/^simtap: PC\/SC support is off: .*\n$/);
  }, 60_000);
});

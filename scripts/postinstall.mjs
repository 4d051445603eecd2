#!/usr/bin/env node
// The repository's npm `postinstall`: prints one line when the optional PC/SC module `smartcard` could not be built
// or loaded (npm drops a failed optional dependency silently; only its debug log says so), naming why and the fix.
// Silent when the module loads. Never fails the install: every outcome exits 0.
//
// SIMTAP_PCSC_ASSUME_MISSING=smartcard (or all) reports the module missing, so tests can see the line.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const HEADER = '/usr/include/PCSC/winscard.h';

/** Why the module is unusable, or null when it loads. */
async function problem() {
  const assumed = (process.env.SIMTAP_PCSC_ASSUME_MISSING ?? '').split(',').map((s) => s.trim());
  if (assumed.some((p) => p === 'all' || p === '1' || p === 'smartcard'))
    return 'it is reported missing (SIMTAP_PCSC_ASSUME_MISSING)';
  const specifier = 'smartcard';
  try {
    const mod = await import(specifier);
    const lib = typeof mod.Context === 'function' ? mod : mod.default;
    return typeof lib?.Context === 'function' ? null : 'it loads but has no PC/SC Context';
  } catch (e) {
    const message = e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
    if (existsSync(join(ROOT, 'node_modules', 'smartcard', 'package.json'))) return `it does not load (${message})`;
    if (/optional/.test(process.env.npm_config_omit ?? ''))
      return 'optional dependencies were omitted (--omit=optional; install without it)';
    if (process.platform === 'linux' && !existsSync(HEADER))
      return `its build needs libpcsclite-dev, which is not installed (no ${HEADER})`;
    return 'its build failed (run `npm install --foreground-scripts` to see the compiler output)';
  }
}

try {
  const why = await problem();
  if (why !== null) {
    const fix =
      process.platform === 'linux'
        ? 'sudo apt-get install libpcsclite-dev pcscd vsmartcard-vpcd opensc, then npm install again'
        : 'see "Run the virtual SIM in PC/SC" in README.md, then npm install again';
    console.warn(
      `simtap: PC/SC support is off: the optional module smartcard is not usable because ${why}; ` +
        `everything else works, and the PC/SC tests skip. To enable it: ${fix}.`,
    );
  }
} catch {
  // A postinstall check must never fail the install.
}

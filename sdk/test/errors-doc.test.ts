/**
 * Keeps `docs/errors.md` true: every error code the sources throw on purpose has a row in one of its tables,
 * and every row names a code the sources still throw (no stale rows).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const DOC = join(root, 'docs', 'errors.md');

/** A stable error code: upper-case words joined by `_` (`TLV_BAD_TAG`, `TIMEOUT`). */
const CODE = '[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*';
const CODE_RE = new RegExp(`^${CODE}$`);

/** Constructors whose first argument is a command name (`'CREDIT_FOR_LOAD'`), not an error code. */
const FIRST_ARG_NOT_A_CODE = new Set(['CardLeftFieldError', 'MachineResponseError']);

function sourceFolders(): string[] {
  const examples = join(root, 'examples');
  const demos = readdirSync(examples, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(examples, d.name, 'src'));
  return [join(root, 'sdk', 'src'), join(root, 'applet-emu', 'src'), ...demos];
}

function sourceFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    return [];
  }
  return entries
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dir, f));
}

/** Code string literals handed to error constructors, or listed in code unions and code tables. */
function codesIn(text: string): string[] {
  const found: string[] = [];
  const literals = (s: string): void => {
    for (const m of s.matchAll(new RegExp(`'(${CODE})'`, 'g'))) found.push(m[1]!);
  };
  // new XxxError('CODE', …) / transportError('CODE', …) / super('CODE', …) / this.#abort('CODE', …)
  const call = new RegExp(`(?:\\bnew\\s+(\\w*Error)|\\btransportError|\\bsuper|\\.#abort)\\(\\s*'(${CODE})'`, 'g');
  for (const m of text.matchAll(call)) if (!FIRST_ARG_NOT_A_CODE.has(m[1] ?? '')) found.push(m[2]!);
  // type XxxCode = 'A' | 'B';
  for (const m of text.matchAll(/\btype\s+\w*Code\s*=([^;]*);/g)) literals(m[1]!);
  // constructor(code: 'A' | 'B' = 'A', …)
  for (const m of text.matchAll(/\bcode\??\s*:\s*('[^']*'(?:\s*\|\s*'[^']*')*)/g)) literals(m[1]!);
  // export const TLV_ERRORS = { CODE: 'meaning', … } as const (keys are the codes)
  for (const m of text.matchAll(/\bconst\s+\w*_ERRORS?(?:_CODES)?\s*=\s*\{([\s\S]*?)\}\s*as\s+const/g)) {
    for (const k of m[1]!.matchAll(new RegExp(`^\\s*(${CODE})\\s*:`, 'gm'))) found.push(k[1]!);
  }
  return found;
}

/** Every code found in the sources, with the files it occurs in. */
function sourceCodes(): Map<string, string[]> {
  const codes = new Map<string, string[]>();
  for (const dir of sourceFolders()) {
    for (const file of sourceFiles(dir)) {
      for (const code of codesIn(readFileSync(file, 'utf8'))) {
        const where = codes.get(code) ?? [];
        const rel = relative(root, file);
        if (!where.includes(rel)) where.push(rel);
        codes.set(code, where);
      }
    }
  }
  return codes;
}

/** The backticked codes in the first column of the doc's tables (header and separator rows skipped). */
function docCodes(doc: string): string[] {
  const out: string[] = [];
  for (const line of doc.split('\n')) {
    if (!line.startsWith('|') || /^\|[\s:|-]+\|?$/.test(line)) continue;
    const first = line.split('|')[1] ?? '';
    for (const m of first.matchAll(/`([^`]+)`/g)) if (CODE_RE.test(m[1]!)) out.push(m[1]!);
  }
  return out;
}

const doc = readFileSync(DOC, 'utf8');
const documented = docCodes(doc);
const found = sourceCodes();

describe('docs/errors.md', () => {
  it('finds the codes of every error family in the sources (the scan works)', () => {
    for (const code of ['BAD_ARGUMENT', 'HEX_INVALID', 'TLV_TRUNCATED_TAG', 'APDU_BAD_LENGTH', 'TIMEOUT']) {
      expect(found.has(code), code).toBe(true);
    }
    for (const code of ['CARD_NOT_POWERED', 'IMAGE_IO', 'SCP_CMAC_INVALID', 'TAC_INVALID', 'CLI_USAGE']) {
      expect(found.has(code), code).toBe(true);
    }
    expect(found.has('CREDIT_FOR_LOAD'), 'command names are not codes').toBe(false);
  });

  it('documents every code the sources throw', () => {
    const missing = [...found].filter(([code]) => !documented.includes(code)).map(([c, f]) => `${c} (${f.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('has no stale rows: every documented code is still thrown', () => {
    const sw = readFileSync(join(root, 'sdk', 'src', 'core', 'iso7816', 'status-words.ts'), 'utf8').toUpperCase();
    const stale = documented.filter((code) => {
      const word = /^SW_([0-9A-F]{4})$/.exec(code);
      // Status-word codes are built at run time (`SW_${hex}`): the SW must be a named constant.
      return word ? !sw.includes(`0X${word[1]}`) : !found.has(code);
    });
    expect(stale).toEqual([]);
  });

  it('has one row per code', () => {
    const seen = new Set<string>();
    const twice = documented.filter((c) => seen.size === seen.add(c).size);
    expect(twice).toEqual([]);
  });

  it('lists the CLI exit statuses the CLI defines', () => {
    const cli = join(root, 'applet-emu', 'src', 'cli');
    const consts = sourceFiles(cli).flatMap((f) => [
      ...readFileSync(f, 'utf8').matchAll(/export const (EXIT_\w+) = (\d+);/g),
    ]);
    expect(consts.length).toBeGreaterThan(0);
    for (const [, name, value] of consts) expect(doc).toContain(`| \`${value}\` | \`${name}\` |`);
  });
});

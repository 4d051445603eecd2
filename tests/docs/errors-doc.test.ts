/**
 * Keeps the error-code tables and `docs/errors.md` true: the doc is the generated text of the tables
 * (`npm run docs:gen`); every code the sources throw on purpose is in one table of the registry (`ERROR_DOC`);
 * every table code is still thrown (no stale rows); and no source compares an error `code` with a string literal
 * (code matches go through `hasErrorCode` and a table).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_DOC, errorsDoc, root } from '../../scripts/gen-docs';
import { filesUnder } from './source-files';

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
  return [join(root, 'sdk', 'src'), join(root, 'applet-emu', 'src'), join(root, 'host', 'src'), ...demos];
}

function sourceFiles(dir: string): string[] {
  return filesUnder(dir, (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'));
}

/** Code string literals the sources throw: handed to error constructors, or fixed by a class's code type. */
function thrownIn(text: string): string[] {
  const found: string[] = [];
  // new XxxError('CODE', …) / new XxxError<Union>('CODE', …) / transportError('CODE', …) / super('CODE', …) /
  // this.#abort('CODE', …)
  const call = new RegExp(
    `(?:\\bnew\\s+(\\w*Error)(?:<[^>()]*>)?|\\btransportError|\\bsuper|\\.#abort)\\(\\s*'(${CODE})'`,
    'g',
  );
  for (const m of text.matchAll(call)) if (!FIRST_ARG_NOT_A_CODE.has(m[1] ?? '')) found.push(m[2]!);
  // function pcscCode(e: unknown): TransportErrorCode { … return 'PCSC_ERROR'; }: codes a code mapper returns
  for (const m of text.matchAll(/\bfunction\s+\w+\([^)]*\):\s*\w*ErrorCode\s*\{([\s\S]*?)\n\}/g)) {
    for (const r of m[1]!.matchAll(new RegExp(`\\breturn\\s+'(${CODE})'`, 'g'))) found.push(r[1]!);
  }
  // constructor(code: CardGoneErrorCode = 'CARD_NOT_POWERED', …): a default code
  for (const m of text.matchAll(new RegExp(`\\bcode\\??\\s*:\\s*\\w+\\s*=\\s*'(${CODE})'`, 'g'))) found.push(m[1]!);
  return found;
}

/** Every code the sources throw, with the files it occurs in. */
function thrownCodes(): Map<string, string[]> {
  const codes = new Map<string, string[]>();
  for (const dir of sourceFolders()) {
    for (const file of sourceFiles(dir)) {
      for (const code of thrownIn(readFileSync(file, 'utf8'))) {
        const where = codes.get(code) ?? [];
        const rel = relative(root, file);
        if (!where.includes(rel)) where.push(rel);
        codes.set(code, where);
      }
    }
  }
  return codes;
}

/** The codes of every table of the registry (the `SW_xxxx` family row is no code), in doc order. */
const tabled = ERROR_DOC.flatMap((s) => s.tables.flatMap((t) => Object.keys(t.table))).filter((c) => CODE_RE.test(c));
const thrown = thrownCodes();

describe('error-code tables and docs/errors.md', () => {
  it('docs/errors.md is the text generated from the tables (run `npm run docs:gen`)', () => {
    expect(readFileSync(DOC, 'utf8')).toBe(errorsDoc());
  });

  it('finds the codes of every error family in the sources (the scan works)', () => {
    for (const code of ['BAD_ARGUMENT', 'HEX_INVALID', 'TLV_TRUNCATED_TAG', 'APDU_BAD_LENGTH', 'TIMEOUT']) {
      expect(thrown.has(code), code).toBe(true);
    }
    for (const code of ['CARD_NOT_POWERED', 'CARD_TORN', 'IMAGE_IO', 'SCP_CMAC_INVALID', 'TAC_INVALID', 'CLI_USAGE']) {
      expect(thrown.has(code), code).toBe(true);
    }
    expect(thrown.has('CREDIT_FOR_LOAD'), 'command names are not codes').toBe(false);
  });

  it('has every code the sources throw in a table', () => {
    const missing = [...thrown].filter(([code]) => !tabled.includes(code)).map(([c, f]) => `${c} (${f.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('has no stale rows: every table code is still thrown', () => {
    const sw = readFileSync(join(root, 'sdk', 'src', 'core', 'iso7816', 'status-words.ts'), 'utf8').toUpperCase();
    const stale = tabled.filter((code) => {
      const word = /^SW_([0-9A-F]{4})$/.exec(code);
      // Status-word codes are built at run time (`SW_${hex}`): the SW must be a named constant.
      return word ? !sw.includes(`0X${word[1]}`) : !thrown.has(code);
    });
    expect(stale).toEqual([]);
  });

  it('has one row per code across all tables', () => {
    const seen = new Set<string>();
    const twice = tabled.filter((c) => seen.size === seen.add(c).size);
    expect(twice).toEqual([]);
  });

  it('lists the CLI exit statuses the CLI defines', () => {
    const doc = readFileSync(DOC, 'utf8');
    const cli = join(root, 'applet-emu', 'src', 'cli');
    const consts = sourceFiles(cli).flatMap((f) => [
      ...readFileSync(f, 'utf8').matchAll(/export const (EXIT_\w+) = (\d+);/g),
    ]);
    expect(consts.length).toBeGreaterThan(0);
    for (const [, name, value] of consts) expect(doc).toContain(`| \`${value}\` | \`${name}\` |`);
  });
});

describe('code matches', () => {
  /** `code === 'X'`, `.code !== 'X'`, `case 'X':` and `['X', …].includes(….code)` where X is a table code. */
  function literalMatches(): string[] {
    const codes = new Set(tabled);
    const out: string[] = [];
    const patterns = [
      new RegExp(`\\bcode\\s*[!=]==?\\s*'(${CODE})'`, 'g'),
      new RegExp(`'(${CODE})'\\s*[!=]==?\\s*[\\w.?]*\\bcode\\b`, 'g'),
      new RegExp(`\\bcase\\s+'(${CODE})'\\s*:`, 'g'),
      new RegExp(`\\[\\s*'(${CODE})'[^\\]]*\\]\\.includes\\([\\w.?]*code\\)`, 'g'),
    ];
    for (const dir of [...sourceFolders(), join(root, 'scripts'), join(root, 'bench')]) {
      for (const file of sourceFiles(dir)) {
        const text = readFileSync(file, 'utf8');
        for (const re of patterns) {
          for (const m of text.matchAll(re)) if (codes.has(m[1]!)) out.push(`${relative(root, file)}: ${m[1]}`);
        }
      }
    }
    return [...new Set(out)].sort();
  }

  it('compares no error code with a string literal (use hasErrorCode with the table)', () => {
    expect(literalMatches()).toEqual([]);
  });
});

/**
 * The operator console's files (`/console/`): built by the host's build (`host/scripts/build-console.mjs` into
 * `host/dist/console/`), read once when the server starts and served from memory with a strict Content Security
 * Policy — the page loads nothing but its own files and opens no socket but the platform's. No file outside the
 * folder is ever named: a request is looked up in the map of the files read.
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The path the console is served under. */
export const CONSOLE_PATH = '/console/';

/** The headers every console answer carries. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
};

/** One file of the console, ready to send. */
export interface ConsoleAsset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

/** The console's files by request path (`/console/`, `/console/console.js`, …), or why there are none. */
export type ConsoleAssets =
  | { readonly ok: true; readonly dir: string; readonly files: ReadonlyMap<string, ConsoleAsset> }
  | { readonly ok: false; readonly reason: string };

/**
 * Where the build puts the console: `dist/console` of the `@simtap/host` package, found from this module's file
 * (in `src/server/` when run from source, in `dist/` when bundled).
 */
export function defaultConsoleDir(): string | undefined {
  const here = typeof __filename === 'string' ? dirname(__filename) : dirname(fileURLToPath(import.meta.url as string));
  for (let dir = here, i = 0; i < 6; i++, dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (!existsSync(pkg)) continue;
    try {
      if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === '@simtap/host')
        return join(dir, 'dist', 'console');
    } catch {
      // not a package file we can read: keep looking up
    }
  }
  return undefined;
}

/** Reads the console's files (at most 64, 8 MiB in all) from `dir` (default {@link defaultConsoleDir}). */
export function loadConsoleAssets(dir: string | undefined = defaultConsoleDir()): ConsoleAssets {
  if (dir === undefined) return { ok: false, reason: 'the console files were not found' };
  const root = resolve(dir);
  if (!existsSync(join(root, 'index.html')))
    return { ok: false, reason: `the console is not built (no ${join(root, 'index.html')}): run npm run build` };
  const files = new Map<string, ConsoleAsset>();
  let total = 0;
  for (const name of readdirSync(root)) {
    const path = join(root, name);
    const type = TYPES[extname(name)];
    if (type === undefined || !statSync(path).isFile()) continue;
    const body = readFileSync(path);
    total += body.length;
    if (files.size >= 64 || total > 8 * 1024 * 1024) break;
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    files.set(name === 'index.html' ? CONSOLE_PATH : CONSOLE_PATH + name, { body, type, etag });
  }
  return { ok: true, dir: root, files };
}

/**
 * The parent's side of the ledger crash tests (SQLite and PostgreSQL): starts `ledger-crash-child.ts` on a database
 * from operation `start`, collects the lines it acknowledges, and tells when it is ready and when it exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(import.meta.url), '../../..');
const CHILD = join(REPO, 'host/test/ledger-crash-child.ts');

/** A running child. */
export interface CrashRun {
  child: ChildProcess;
  lines: string[];
  ready: Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

/**
 * Starts the child on `db` (a file path or a `postgres://` URL) running operations `start` … `count - 1` (or, with
 * `final`, replaying every one), with `env` added to the environment.
 */
export function startCrashChild(
  db: string,
  start: number,
  count: number,
  final = false,
  env: Record<string, string> = {},
): CrashRun {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CHILD, db, String(start), String(count), ...(final ? ['final'] : [])],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  const lines: string[] = [];
  let buf = '';
  let err = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    onReady = r;
  });
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'ready') onReady();
      else lines.push(line);
      nl = buf.indexOf('\n');
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      onReady();
      r({ code, signal });
    }),
  );
  return { child, lines, ready, exit, stderr: () => err };
}

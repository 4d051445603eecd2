/**
 * The real `simtap-host` process for the root tests: started from the sources (`node --conditions=source --import tsx
 * host/src/cli/simtap-host.ts`, as `host/src/cli/cli.test.ts` does) with `--listen` and `--data`, its stdout and
 * stderr kept, its URL read from the listening line. It is stopped by its own pid only (SIGKILL, or SIGTERM for a
 * graceful stop); `stopAll` ends the ones a test left running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** The repository root (the working directory of the process). */
export const REPO = resolve(import.meta.dirname, '../..');

/** How a process ended. */
export interface HostExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running `simtap-host`. */
export interface HostProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** `ws://127.0.0.1:PORT` (append an endpoint path). */
  readonly url: string;
  readonly port: number;
  /** Everything the process wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<HostExit>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Sends `signal` to the process and waits for its exit. */
  stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<HostExit>;
}

/** Options of {@link startHost}. */
export interface StartHostOptions {
  /** The `--data` directory. */
  readonly dataDir: string;
  /** The port (default 0: a free one). */
  readonly port?: number;
  /** `--log-level` (default the command's: info). */
  readonly logLevel?: string;
  /** How long to wait for the listening line (default 20 s). */
  readonly startTimeoutMs?: number;
  /** `--database-url`: PostgreSQL instead of the SQLite file under `dataDir`. */
  readonly databaseUrl?: string;
}

const running = new Set<ChildProcess>();

/** Starts `simtap-host --listen 127.0.0.1:PORT --data DIR` and resolves once it listens. */
export async function startHost(o: StartHostOptions): Promise<HostProcess> {
  const args = [
    '--conditions=source',
    '--import',
    'tsx',
    'host/src/cli/simtap-host.ts',
    '--listen',
    `127.0.0.1:${o.port ?? 0}`,
    '--data',
    o.dataDir,
    ...(o.logLevel ? ['--log-level', o.logLevel] : []),
    ...(o.databaseUrl ? ['--database-url', o.databaseUrl] : []),
  ];
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let done = false;
  const exited = new Promise<HostExit>((r) =>
    child.once('exit', (code, signal) => {
      done = true;
      running.delete(child);
      r({ code, signal });
    }),
  );
  const deadline = Date.now() + (o.startTimeoutMs ?? 20_000);
  const listening = () => /listening on (ws:\/\/127\.0\.0\.1:(\d+)) /.exec(stdout);
  let m = listening();
  for (; m === null; m = listening()) {
    if (done) throw new Error(`simtap-host exited before listening: ${stdout}${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`simtap-host did not listen in time: ${stdout}${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    child,
    pid: child.pid!,
    url: m[1]!,
    port: Number(m[2]),
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    alive: () => !done,
    async stop(signal) {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}

/** Starts it on `port`, retrying for a while when the port is not free yet (a killed process's listener). */
export async function startHostOnPort(o: StartHostOptions & { readonly port: number }): Promise<HostProcess> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await startHost(o);
    } catch (e) {
      if (!/EADDRINUSE|cannot listen/.test(String(e)) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}

/** SIGKILLs the processes this module started that are still running (by their pid). */
export function stopAll(): void {
  for (const c of running) c.kill('SIGKILL');
}

/** The lines of a pino log that are not JSON, or say `uncaught`, or are at level error or above. */
export function logProblems(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    if (line.trim() === '') continue;
    let o: { level?: number; msg?: string };
    try {
      o = JSON.parse(line) as { level?: number; msg?: string };
    } catch {
      out.push(line.slice(0, 500));
      continue;
    }
    if ((o.level ?? 0) >= 50 || /uncaught|unhandled/i.test(o.msg ?? '')) out.push(line.slice(0, 500));
  }
  return out;
}

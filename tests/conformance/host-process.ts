/**
 * The real `simtap-host` process for the conformance suite: started from the working tree's sources (`node
 * --conditions=source --import tsx host/src/cli/simtap-host.ts`, as the CLI's own process test does, so the suite
 * never runs a stale `dist/`) on a free port (`--listen 127.0.0.1:0`) with `--data` in a fresh temporary folder; the
 * URL is read from the line it prints when it listens. `stop()` sends SIGTERM and waits for the exit; `restart()`
 * starts it again on the same data folder (a new port).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '../..');
const LISTENING = /^simtap-host listening on (ws:\/\/127\.0\.0\.1:\d+) \(data: (.*), store: sqlite\)$/m;

/** A running (or stopped) `simtap-host`. */
export interface HostProcess {
  /** `ws://127.0.0.1:PORT` of the current run (append `/v1/app`, `/v1/console`). */
  readonly url: string;
  /** The `--data` folder (kept across restarts, removed by `dispose()`). */
  readonly data: string;
  /** What the current run printed on stdout. */
  readonly stdout: string;
  /** What the current run printed on stderr (JSON log lines). */
  readonly stderr: string;
  /** SIGTERM, then the exit status (a graceful stop is 0). */
  stop(): Promise<number | null>;
  /** Stops (if running) and starts again on the same data folder; the URL changes. */
  restart(): Promise<void>;
  /** Stops (SIGKILL if it does not stop in time) and removes the data folder. */
  dispose(): Promise<void>;
}

interface Run {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<number | null>;
  stdout: string;
  stderr: string;
}

async function spawnHost(data: string, logLevel: string): Promise<Run> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      'host/src/cli/simtap-host.ts',
      '--listen',
      '127.0.0.1:0',
      '--data',
      data,
      '--log-level',
      logLevel,
    ],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const run = { child, stdout: '', stderr: '' } as { -readonly [K in keyof Run]: Run[K] };
  run.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  child.stdout!.on('data', (d: Buffer) => {
    run.stdout += d.toString('utf8');
  });
  child.stderr!.on('data', (d: Buffer) => {
    run.stderr += d.toString('utf8');
  });
  run.url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`simtap-host printed no listening line within 30 s:\n${run.stdout}\n${run.stderr}`));
    }, 30_000);
    const check = () => {
      const m = LISTENING.exec(run.stdout);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      ok(m[1]!);
    };
    child.stdout!.on('data', check);
    void run.exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`simtap-host exited with ${code} before listening:\n${run.stdout}\n${run.stderr}`));
    });
  });
  return run;
}

/** Starts `simtap-host` on a free port with a fresh `--data` folder and waits for its listening line. */
export async function startHost(o: { logLevel?: string } = {}): Promise<HostProcess> {
  const data = mkdtempSync(join(tmpdir(), 'simtap-conformance-'));
  const logLevel = o.logLevel ?? 'warn';
  let run: Run | undefined = await spawnHost(data, logLevel);
  const stop = async (): Promise<number | null> => {
    const r = run;
    if (r === undefined) return null;
    run = undefined;
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
    const kill = setTimeout(() => r.child.kill('SIGKILL'), 15_000);
    const code = await r.exited;
    clearTimeout(kill);
    return code;
  };
  return {
    data,
    get url() {
      if (run === undefined) throw new Error('simtap-host is not running');
      return run.url;
    },
    get stdout() {
      return run?.stdout ?? '';
    },
    get stderr() {
      return run?.stderr ?? '';
    },
    stop,
    async restart() {
      await stop();
      run = await spawnHost(data, logLevel);
    },
    async dispose() {
      await stop();
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/**
 * The whole-patent run's progress display: on a terminal one status line redrawn in place (phase, counters,
 * elapsed time) under the lines already printed; elsewhere (a pipe, a CI log) plain lines only — each phase, and
 * the counters at most once a second.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';

/** Counters shown on the status line. */
export interface ProgressCounters {
  personalized?: number;
  loaded?: number;
  taps?: number;
  sales?: number;
}

/** Where the run reports. */
export interface Progress {
  /** A line that stays (a phase begins or ends). */
  phase(line: string): void;
  /** New counter values (merged with the previous ones). */
  update(counters: ProgressCounters): void;
  /** Clears the status line. */
  done(): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Redraw a status line in place (stdout is a terminal). */
  readonly tty: boolean;
  /** Where lines go (default `process.stdout.write`). */
  readonly write?: (text: string) => void;
  /** Counter lines in plain mode: at most one per this many ms (default 1000; 0: none). */
  readonly plainEveryMs?: number;
}

/** A progress display on stdout. */
export function createProgress(options: ProgressOptions): Progress {
  const write = options.write ?? ((t: string) => void process.stdout.write(t));
  const start = performance.now();
  const counters: ProgressCounters = {};
  const plainEvery = options.plainEveryMs ?? 1000;
  let lastPlain = Number.NEGATIVE_INFINITY;
  let status = '';
  let lastDraw = Number.NEGATIVE_INFINITY;
  const elapsed = () => `${((performance.now() - start) / 1000).toFixed(1)} s`;
  const counterText = () =>
    (Object.entries(counters) as [string, number][])
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k} ${v}`)
      .join(' · ');
  const clear = () => {
    if (options.tty && status !== '') write('\r\u001b[K');
    status = '';
  };
  return {
    phase(line) {
      clear();
      write(`${line}\n`);
    },
    update(c) {
      Object.assign(counters, c);
      const now = performance.now();
      if (options.tty) {
        if (now - lastDraw < 50) return;
        lastDraw = now;
        status = `  … ${counterText()} · ${elapsed()}`;
        write(`\r\u001b[K${status}`);
      } else if (plainEvery > 0 && now - lastPlain >= plainEvery) {
        lastPlain = now;
        write(`  … ${counterText()} · ${elapsed()}\n`);
      }
    },
    done: clear,
  };
}

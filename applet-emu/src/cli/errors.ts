/**
 * The error codes of the `simtap-card` CLI (its exit statuses are `EXIT_FAILURE` and `EXIT_USAGE`).
 *
 * @module
 */
import { defineErrors } from '@simtap/sdk/core/errors';

/** The codes of the CLI's errors: a bad command line, and an ATS the PC/SC port cannot turn into an ATR. */
export const CLI_ERRORS = defineErrors({
  CLI_USAGE: {
    class: 'CliUsageError',
    when: 'unknown option, missing or bad value, stray argument',
    fix: 'see `simtap-card --help`; exit status 2',
  },
  ATS_INVALID: {
    class: 'ParseError',
    when: "the card's ATS is empty, shorter than its TL, or has more than 15 historical bytes",
    fix: "fix the emulated card's ATS",
  },
});

/** Code of an error of the CLI. */
export type CliErrorCode = keyof typeof CLI_ERRORS;

/** One exit status of `simtap-card`: its number, the constant that names it (none for 0), when and what to do. */
export interface CliExitStatus {
  readonly status: number;
  readonly constant: string | undefined;
  readonly when: string;
  readonly fix: string;
}

/** The exit statuses of `simtap-card` (the constants `EXIT_FAILURE`, `EXIT_USAGE` hold the numbers). */
export const CLI_EXIT_STATUSES: readonly CliExitStatus[] = Object.freeze([
  {
    status: 0,
    constant: undefined,
    when: '`--help`, `--version`, or a clean stop (SIGINT / SIGTERM; the image is saved)',
    fix: '—',
  },
  {
    status: 1,
    constant: 'EXIT_FAILURE',
    when:
      "the card image is in use by another process (`IMAGE_LOCKED`), cannot be read or saved; pcscd's vpcd " +
      'unreachable for longer than `--wait`; an unexpected crash; a second signal while stopping',
    fix: 'read the stderr line; see `IMAGE_*` above',
  },
  { status: 2, constant: 'EXIT_USAGE', when: 'a bad command line (`CLI_USAGE`)', fix: 'fix the arguments' },
]);

#!/usr/bin/env node
/**
 * The `simtap-phone` executable: {@link phoneMain} wired to the process (argv, SIGINT/SIGTERM, exit status).
 * See `simtap-phone --help`.
 *
 * @module
 */
import { phoneMain } from './phone-main';

const stop = new AbortController();
let signals = 0;
const onSignal = (): void => {
  // The first signal stops cleanly (link closed with 1000, image saved); a second one while stopping gives up.
  if (++signals > 1) process.exit(1);
  stop.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// Under npx a SIGTERM sent to npx ends npm's `sh -c` but never reaches this process, which would run on as an
// orphan holding its SIM image: under npm exec a change of parent counts as a stop (as for simtap-card).
let orphanWatch: NodeJS.Timeout | undefined;
if (process.env.npm_command === 'exec') {
  const parent = process.ppid;
  orphanWatch = setInterval(() => {
    if (process.ppid === parent || stop.signal.aborted) return;
    process.stderr.write('simtap-phone: npx went away (its shell ended); stopping\n');
    onSignal();
  }, 500);
  orphanWatch.unref();
}

phoneMain(process.argv.slice(2), { signal: stop.signal }).then(
  (status) => {
    clearInterval(orphanWatch);
    process.exitCode = status;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    setTimeout(() => process.exit(status), 2000).unref(); // in case a stray handle keeps the loop alive
  },
  (err: unknown) => {
    process.stderr.write(`simtap-phone: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

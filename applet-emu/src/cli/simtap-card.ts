#!/usr/bin/env node
/**
 * The `simtap-card` executable: {@link main} wired to the process (argv, SIGINT/SIGTERM, exit status).
 * See `simtap-card --help`.
 *
 * @module
 */
import { main } from './main';

const stop = new AbortController();
let signals = 0;
const onSignal = (): void => {
  // The first signal stops cleanly (image saved); a second one while stopping gives up at once.
  if (++signals > 1) process.exit(1);
  stop.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

main(process.argv.slice(2), { signal: stop.signal }).then(
  (status) => {
    process.exitCode = status;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    setTimeout(() => process.exit(status), 2000).unref(); // in case a stray handle keeps the loop alive
  },
  (err: unknown) => {
    process.stderr.write(`simtap-card: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

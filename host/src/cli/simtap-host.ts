#!/usr/bin/env node
/**
 * The `simtap-host` executable: {@link main} wired to the process (argv, streams, SIGTERM/SIGINT, exit status).
 * The first signal stops the server gracefully; a second one while stopping exits at once. See
 * `simtap-host --help`.
 * @module
 */
import { main } from './main';

const stop = new AbortController();
let signals = 0;
const onSignal = (): void => {
  if (++signals > 1) process.exit(1);
  stop.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// Under npx, npm runs this through `sh -c`: a SIGTERM sent to npx ends that shell but never reaches this process,
// which would run on as an orphan holding its port and database. So under npm exec a change of parent is a stop.
let orphanWatch: NodeJS.Timeout | undefined;
if (process.env.npm_command === 'exec') {
  const parent = process.ppid;
  orphanWatch = setInterval(() => {
    if (process.ppid === parent || stop.signal.aborted) return;
    process.stderr.write('simtap-host: npx went away (its shell ended); stopping\n');
    onSignal();
  }, 500);
  orphanWatch.unref();
}

main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: stop.signal,
}).then(
  (status) => {
    clearInterval(orphanWatch);
    process.exitCode = status;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    setTimeout(() => process.exit(status), 2000).unref(); // in case a stray handle keeps the loop alive
  },
  (err: unknown) => {
    process.stderr.write(`simtap-host: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

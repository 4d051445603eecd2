/**
 * `npm start`: runs the walkthrough ({@link runDemo}), then the over-the-air part ({@link runAirDemo}: the platform
 * personalizes and loads a blank SIM through its phone), and exits 0, or prints what failed and exits 1.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { runAirDemo } from './air';
import { runDemo } from './demo';

const started = performance.now();
try {
  const color = process.stdout.isTTY === true;
  await runDemo({ color });
  console.log(
    color
      ? '\n\u001b[1mOver the air: the platform loads card-2 through its phone\u001b[22m'
      : '\nOver the air: the platform loads card-2 through its phone',
  );
  await runAirDemo();
  console.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  process.exitCode = 0;
} catch (e) {
  console.error(`\nsimtap demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}

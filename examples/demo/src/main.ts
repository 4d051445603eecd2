/**
 * `npm start`: the whole patent ({@link runPatent}) — the platform, a fleet of phones loaded over the air, the four
 * application systems, a rush hour, the books — after the card walkthrough ({@link runDemo}) unless
 * `--no-walkthrough`. `npm start -- --help` lists the options. Exit 0 when every fen is accounted for, 1 on a
 * mismatch or a failure (named), 2 on a bad option.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { runDemo } from './demo';
import { formatPatentReport, runPatent } from './patent/patent';
import { createProgress } from './patent/progress';

const HELP = `Usage: npm start -- [options]

Runs the whole patent in one process on the embedded default (SQLite, 127.0.0.1):
the card walkthrough, then the platform, a fleet of phones whose blank SIMs are
personalized and loaded over the air, the transit, access-control, campus and
supermarket systems' day, the fleet's rush hour at the tills, and the books.

Options:
  --fleet N          phones in the fleet, 4..500 (default 40)
  --duration S       seconds of the rush hour, 0..600 (default 5)
  --seed N           seed of the rush hour's choices (default 1)
  --no-walkthrough   skip the card walkthrough
  -h, --help         this text
`;

function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new RangeError(`--${name} expects a number, got ${value}`);
  return Number(value);
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      fleet: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      'no-walkthrough': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
}
let fleet = 40;
let durationS = 5;
let seed = 1;
try {
  args = parse();
  fleet = intOption(args.fleet, 'fleet', 40);
  durationS = intOption(args.duration, 'duration', 5);
  seed = intOption(args.seed, 'seed', 1);
  if (!Number.isInteger(fleet) || fleet < 4 || fleet > 500)
    throw new RangeError(`--fleet must be 4..500, got ${fleet}`);
  if (durationS > 600) throw new RangeError(`--duration must be 0..600, got ${durationS}`);
  if (!Number.isInteger(seed)) throw new RangeError(`--seed must be an integer, got ${seed}`);
} catch (e) {
  console.error(`simtap: ${e instanceof Error ? e.message : String(e)}\n\n${HELP}`);
  process.exit(2);
}

if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const color = process.stdout.isTTY === true;
const bold = (s: string) => (color ? `\u001b[1m${s}\u001b[22m` : s);
const progress = createProgress({ tty: color });
try {
  if (!args['no-walkthrough']) {
    await runDemo({ color });
    console.log(`\n${bold('The whole patent on one platform')}`);
  }
  const report = await runPatent({ fleet, durationS, seed, progress });
  progress.done();
  console.log(formatPatentReport(report));
  process.exitCode = report.ok ? 0 : 1;
} catch (e) {
  progress.done();
  console.error(`\nsimtap demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
// phones' reconnect timers and sockets are closed; exit at once even if a library keeps a handle
process.exit(process.exitCode ?? 0);

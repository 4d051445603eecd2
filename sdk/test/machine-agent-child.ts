/**
 * The machine process of the kill test (`sdk/src/clients/machine-kill.test.ts`): a MachineAgent on `bufferDir`
 * whose hub is down records purchases first…first+count−1, eight `record()` calls in flight at a time, and prints `ack <n>` on
 * stdout as each one resolves (the record is then durable). The parent kills it with SIGKILL part-way.
 *
 * Usage: node --conditions=source --import tsx sdk/test/machine-agent-child.ts <url> <bufferDir> <first> <count>
 *   <publicKeyHex>
 */
import { MachineAgent } from '@simtap/sdk/clients';
import { GATE_SECRET, purchase } from './machine-support';

const [url, bufferDir, firstText, countText, publicKey] = process.argv.slice(2);
if (!url || !bufferDir || !firstText || !countText || !publicKey) {
  process.stderr.write('usage: machine-agent-child <url> <bufferDir> <first> <count> <publicKeyHex>\n');
  process.exit(2);
}
const first = Number(firstText);
const last = first + Number(countText) - 1;
const agent = new MachineAgent({
  url,
  machineId: 'gate-1',
  secret: GATE_SECRET,
  blacklistPublicKey: publicKey,
  bufferDir,
  reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
});
await agent.start();
process.stdout.write('started\n');
const IN_FLIGHT = 8;
for (let n = first; n <= last; n += IN_FLIGHT) {
  const calls: Promise<void>[] = [];
  for (let k = n; k < n + IN_FLIGHT && k <= last; k++)
    calls.push(agent.record(purchase(k)).then(() => void process.stdout.write(`ack ${k}\n`)));
  await Promise.all(calls);
}
process.stdout.write('done\n');
await agent.stop();

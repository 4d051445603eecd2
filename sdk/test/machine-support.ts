/**
 * Fixtures of the `/v1/machine` tests (`sdk/src/clients/machine-*.test.ts` and the child process of the kill test):
 * machine secrets, purchase records numbered by their terminal sequence, an Ed25519 key pair that signs blacklist
 * deltas as the platform does, a free port, and waiting for an event.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer } from 'node:net';
import {
  type BlacklistDeltaFields,
  blacklistMessage,
  type MachineAgent,
  type MachineAgentEventMap,
  type MachineHub,
  type MachineHubEventMap,
  type MachineRecord,
  type SignedBlacklistDelta,
} from '@simtap/sdk/clients';
import { toHex } from '@simtap/sdk/core/bytes';

/** Test machines' secrets (hex). */
export const GATE_SECRET = '5C1A0E7F3B2D4C6E8A9B0C1D2E3F405162738495A6B7C8D9EAFB0C1D2E3F4051';
export const TILL_SECRET = '0F1E2D3C4B5A69788796A5B4C3D2E1F00112233445566778899AABBCCDDEEFF0';

/** A purchase record whose `terminalSeq` is `n` (so a test can tell records apart). */
export function purchase(n: number, cardSerial = '00004401202600000001'): MachineRecord {
  return {
    cardSerial,
    offlineCounter: n % 0x10000,
    amount: 200,
    tti: 9,
    terminalId: '440100000101',
    terminalSeq: n,
    date: '20261203',
    time: '081502',
    tac: toHex(Uint8Array.of(n >>> 24, n >>> 16, n >>> 8, n)).toUpperCase(),
  };
}

/** A platform stand-in: an Ed25519 key pair that signs blacklist deltas over {@link blacklistMessage}. */
export function blacklistSigner(): {
  readonly publicKey: Uint8Array;
  sign(delta: BlacklistDeltaFields): SignedBlacklistDelta;
} {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    publicKey: new Uint8Array(Buffer.from(jwk.x!, 'base64url')),
    sign: (delta) => ({
      ...delta,
      added: [...delta.added],
      removed: [...delta.removed],
      signature: toHex(new Uint8Array(sign(null, blacklistMessage(delta), privateKey))).toUpperCase(),
    }),
  };
}

/** A port nothing listens on (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Resolves with the first event `subscribe` delivers that `test` accepts (rejects after `timeoutMs`):
 * `nextEvent((l) => hub.on('configAck', l), (e) => e.version === 2)`.
 */
export function nextEvent<E>(
  subscribe: (listener: (event: E) => void) => () => void,
  test: (event: E) => boolean = () => true,
  timeoutMs = 5000,
): Promise<E> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = subscribe((event) => {
      if (!test(event)) return;
      clearTimeout(timer);
      off();
      resolve(event);
    });
  });
}

/** The next `name` event of a hub that `test` accepts. */
export function hubEvent<K extends keyof MachineHubEventMap>(
  hub: MachineHub,
  name: K,
  test: (event: MachineHubEventMap[K]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<MachineHubEventMap[K]> {
  return nextEvent<MachineHubEventMap[K]>((listener) => hub.on(name, listener), test, timeoutMs);
}

/** The next `name` event of an agent that `test` accepts. */
export function agentEvent<K extends keyof MachineAgentEventMap>(
  agent: MachineAgent,
  name: K,
  test: (event: MachineAgentEventMap[K]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<MachineAgentEventMap[K]> {
  return nextEvent<MachineAgentEventMap[K]>((listener) => agent.on(name, listener), test, timeoutMs);
}

/**
 * In-process card throughput (issue 3): plain APDU round trips through the virtual SIM (createSim, ISD selected)
 * and the cost of SCP03 at security level 33 (C-MAC, C-DECRYPTION, R-MAC, R-ENCRYPTION) per APDU, each beside
 * the raw work measured in the same run.
 *
 * **SCP03 overhead, defined.** Per protected APDU an integrator's host pays `wrapCommand` + `unwrapResponse`
 * (the "host side" rows, which carry the ≤ 10 µs target); the emulated card pays `unwrapCommand` +
 * `wrapResponse`. The "both ends" rows do all four (reported, not held to the target), and the round-trip row
 * shows the whole SL 33 exchange through the ISD against the plain one. The raw rows are the AES-CBC
 * encryptions/decryptions and AES-CMACs that the same APDU needs, done directly with AesCipher / AesCmac on
 * prepared buffers.
 */
import { createSim, simIsdKeys } from '@simtap/applet-emu/sim';
// Test support of the ISD (not exported by the package): the synchronous SCP03 host over Card.transmit.
import { cardTransmit, openScp03Sync } from '@simtap/applet-emu/testing';
import { InProcessChannel } from '@simtap/sdk/card';
import { hex } from '@simtap/sdk/core/bytes';
import { AesCipher, AesCmac } from '@simtap/sdk/core/crypto';
import { Scp03Session } from '@simtap/sdk/core/gp';
import { encodeResponseApdu, parseCommandApdu } from '@simtap/sdk/core/iso7816';
import { type BenchRow, type Measurement, measure, row } from './lib';

const IFACE = 'contactless';
const SELECT_ISD = hex`00 A4 04 00 08 A0 00 00 01 51 00 00 00 00`;
const GET_CPLC = hex`80 CA 9F 7F 00`;
/** A case-4 command with 32 bytes of data (C-DECRYPTION path); the card side answers a bare 9000. */
const CASE4_32 = hex`80 E2 00 00 20 ${'11'.repeat(32)} 00`;

const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;

/**
 * Median µs/op of `step(i)` for i = 0..n-1, timed in batches of `batch` (for operations that consume prepared,
 * ordered inputs, which `measure()` cannot replay).
 */
function measureSeq(name: string, n: number, step: (i: number) => unknown, batch = 500): Measurement {
  const samples: number[] = [];
  for (let b = 0; b + batch <= n; b += batch) {
    const t0 = nowUs();
    for (let i = b; i < b + batch; i++) step(i);
    samples.push((nowUs() - t0) / batch);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)]!;
  return { name, usPerOp: median, opsPerSec: 1e6 / median };
}

/** Mean µs/op of `count` awaited calls after `warmup` untimed ones. */
async function measureAsync(name: string, fn: () => Promise<unknown>, count: number, warmup = 5000) {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let done = 0; done < count; done += 1000) {
    const t0 = nowUs();
    for (let i = 0; i < 1000; i++) await fn();
    samples.push((nowUs() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)]!;
  return { name, usPerOp: median, opsPerSec: 1e6 / median };
}

const KEYS = {
  sEnc: hex`404142434445464748494A4B4C4D4E4F`,
  sMac: hex`505152535455565758595A5B5C5D5E5F`,
  sRmac: hex`606162636465666768696A6B6C6D6E6F`,
};
const HOST_CRYPTOGRAM = hex`0102030405060708`;

/** A host and a card session at SL 33 after the same EXTERNAL AUTHENTICATE (so replicas stay in lockstep). */
function sessionPair(): { host: Scp03Session; card: Scp03Session } {
  const host = new Scp03Session({ keys: KEYS, securityLevel: 0x33, role: 'host' });
  const card = new Scp03Session({ keys: KEYS, securityLevel: 0x33, role: 'card' });
  card.acceptExternalAuthenticate(host.externalAuthenticateCommand(HOST_CRYPTOGRAM));
  return { host, card };
}

/**
 * SCP03 SL 33 per-APDU costs for one command/response shape: host side, card side and both ends, each beside
 * the raw AES work of the same APDU.
 */
function scp03Rows(shape: string, command: Uint8Array, responseData: Uint8Array): BenchRow[] {
  const group = 'SCP03 SL 33 per APDU';
  const n = 60_000;
  // Wire images from a lockstep pair: commands the card unwraps, responses the host unwraps.
  const ref = sessionPair();
  const wrappedCmds: Uint8Array[] = new Array(n);
  const wrappedRsps: Uint8Array[] = new Array(n);
  for (let i = 0; i < n; i++) {
    wrappedCmds[i] = ref.host.wrapCommand(command);
    ref.card.unwrapCommand(wrappedCmds[i]!);
    wrappedRsps[i] = ref.card.wrapResponse(responseData, 0x9000);
    ref.host.unwrapResponse(wrappedRsps[i]!);
  }
  const hostOnly = sessionPair().host;
  const host = measureSeq(`host wrapCommand + unwrapResponse (${shape})`, n, (i) => {
    hostOnly.wrapCommand(command);
    return hostOnly.unwrapResponse(wrappedRsps[i]!);
  });
  const cardOnly = sessionPair().card;
  const card = measureSeq(`card unwrapCommand + wrapResponse (${shape})`, n, (i) => {
    cardOnly.unwrapCommand(wrappedCmds[i]!);
    return cardOnly.wrapResponse(responseData, 0x9000);
  });
  const pair = sessionPair();
  const both = measureSeq(`both ends: wrap, unwrap, wrap, unwrap (${shape})`, n, () => {
    pair.card.unwrapCommand(pair.host.wrapCommand(command));
    return pair.host.unwrapResponse(pair.card.wrapResponse(responseData, 0x9000));
  });

  // Raw: the AES operations an SL 33 APDU of this shape needs, on prepared buffers.
  const enc = new AesCipher(KEYS.sEnc);
  const cmac = new AesCmac(KEYS.sMac);
  const rmac = new AesCmac(KEYS.sRmac);
  const c = parseCommandApdu(command);
  const encIn = c.data.length > 0 ? new Uint8Array(c.data.length + 16 - (c.data.length % 16)) : undefined;
  const lcWrapped = (encIn?.length ?? 0) + 8;
  const cmacIn = new Uint8Array(16 + 5 + lcWrapped - 8); // chain ‖ header ‖ data′
  const rspPadded =
    responseData.length > 0 ? new Uint8Array(responseData.length + 16 - (responseData.length % 16)) : undefined;
  const rmacIn = new Uint8Array(16 + (rspPadded?.length ?? 0) + 2); // chain ‖ data′ ‖ SW
  const ctr = new Uint8Array(16);
  const icv = new Uint8Array(16);
  const hostRaw = (): unknown => {
    // wrap: [counter ICV + CBC-encrypt data] + C-MAC; unwrap: R-MAC + [counter ICV + CBC-decrypt data].
    if (encIn) {
      enc.encryptBlock(ctr, 0, icv, 0);
      enc.cbcEncrypt(encIn, icv);
    }
    cmac.mac(cmacIn);
    rmac.mac(rmacIn);
    if (rspPadded) {
      enc.encryptBlock(ctr, 0, icv, 0);
      return enc.cbcDecrypt(rspPadded, icv);
    }
    return icv;
  };
  const cardRaw = (): unknown => {
    cmac.mac(cmacIn);
    if (encIn) {
      enc.encryptBlock(ctr, 0, icv, 0);
      enc.cbcDecrypt(encIn, icv);
    }
    if (rspPadded) {
      enc.encryptBlock(ctr, 0, icv, 0);
      enc.cbcEncrypt(rspPadded, icv);
    }
    return rmac.mac(rmacIn);
  };
  const blocks = (b: Uint8Array | undefined) => (b ? b.length / 16 : 0);
  const ops =
    `${encIn ? `ICV + ${blocks(encIn)}-block CBC, ` : ''}CMAC ${cmacIn.length} B, CMAC ${rmacIn.length} B` +
    (rspPadded ? `, ICV + ${blocks(rspPadded)}-block CBC` : '');
  const rawHost = measure(`AES (host side): ${ops}`, hostRaw);
  const rawCard = measure(`AES (card side): ${ops}`, cardRaw);
  const rawBoth = measure(`AES, both ends (${shape})`, () => {
    hostRaw();
    return cardRaw();
  });
  return [
    row(
      group,
      host,
      rawHost,
      { maxUsPerOp: 10 },
      'target: the SCP03 overhead an integrator pays per APDU (host session: C-MAC chain, C-DECRYPTION of data, R-MAC check, R-DECRYPTION)',
    ),
    row(group, card, rawCard),
    row(
      group,
      both,
      rawBoth,
      undefined,
      `host and emulated card together (the whole SL 33 protection); not the target's measure (${both.usPerOp > 10 ? 'above' : 'within'} 10 µs)`,
    ),
  ];
}

export async function benchCard(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const card = createSim({ logger: { error: () => undefined } });
  card.powerOn(IFACE);

  // Plain round trips: Card.transmit (dispatcher, ISD) vs parsing the same command and encoding the same answer.
  const group = 'APDU round trip in-process (one core)';
  for (const [label, cmd] of [
    ['SELECT ISD', SELECT_ISD],
    ['GET DATA 9F7F (CPLC)', GET_CPLC],
  ] as const) {
    const rsp = card.transmit(IFACE, cmd);
    const data = rsp.slice(0, rsp.length - 2);
    const sw = (rsp[rsp.length - 2]! << 8) | rsp[rsp.length - 1]!;
    const raw = measure(`parseCommandApdu + encodeResponseApdu (${rsp.length} B)`, () => {
      parseCommandApdu(cmd);
      return encodeResponseApdu(data, sw);
    });
    const m = measure(`${label} (Card.transmit)`, () => card.transmit(IFACE, cmd));
    rows.push(row(group, m, raw, { maxUsPerOp: 20 }, 'target ≥ 50,000 plain APDUs/s = ≤ 20 µs per round trip'));
  }
  const channel = new InProcessChannel({ transmit: (c) => card.transmit(IFACE, c) });
  const direct = measure('GET DATA 9F7F (Card.transmit)', () => card.transmit(IFACE, GET_CPLC));
  rows.push(
    row(
      group,
      await measureAsync('GET DATA 9F7F (await InProcessChannel.transmit)', () => channel.transmit(GET_CPLC), 100_000),
      direct,
      undefined,
      'the SDK channel over the same card: one promise per APDU',
    ),
  );

  // SL 33 through the ISD: the full protected exchange vs the plain one.
  const plain = measure('GET DATA 9F7F plain (Card.transmit)', () => card.transmit(IFACE, GET_CPLC));
  const host = openScp03Sync(cardTransmit(card, IFACE), { keys: simIsdKeys().scp03, securityLevel: 0x33 });
  const cplc = host.transmit(GET_CPLC);
  const protectedRt = measure('GET DATA 9F7F at SL 33 (host wrap → ISD → host unwrap)', () => host.transmit(GET_CPLC));
  rows.push(
    row(
      'SCP03 SL 33 round trip through the ISD',
      protectedRt,
      plain,
      undefined,
      `difference ${(protectedRt.usPerOp - plain.usPerOp).toFixed(2)} µs per APDU (both ends of SCP03 plus the ISD's secure-channel dispatch); CPLC response ${cplc.length - 2} B`,
    ),
  );

  rows.push(...scp03Rows(`GET DATA, ${cplc.length - 2} B response`, GET_CPLC, cplc.slice(0, cplc.length - 2)));
  rows.push(...scp03Rows('32 B command data, 9000', CASE4_32, new Uint8Array(0)));
  return rows;
}

// VirtualPhone against a stub /v1/ota endpoint (stub-platform.test-support.ts): the hello, the card.transmit relay
// with real APDUs and SCP03 end to end, CARD_ABSENT, bad params, torn links (faults), reconnects, top-ups, notices.
import net from 'node:net';
import { hex, toHex } from '@simtap/sdk/core/bytes';
import { hasErrorCode } from '@simtap/sdk/core/errors';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { afterEach, describe, expect, it } from 'vitest';
import type { Card } from '../../runtime/card';
import { createSim } from '../../sim';
import { hasPhoneCallCode, PHONE_ERRORS, PhoneCallError } from './errors';
import { type PhoneFault, type PhoneState, VirtualPhone, type VirtualPhoneOptions } from './phone';
import { SELECT_ISD, StubPlatform } from './stub-platform.test-support';

const CARD = referenceProfile().cards[0]!;
const SERIAL = toHex(CARD.applicationSerial);
const GET_CIN = hex`80 CA 00 45 00`;

let platform: StubPlatform | undefined;
const phones: VirtualPhone[] = [];

afterEach(async () => {
  await Promise.all(phones.splice(0).map((p) => p.close()));
  await platform?.close();
  platform = undefined;
});

function phone(
  card: Card,
  options: Partial<VirtualPhoneOptions> & { url: string },
): VirtualPhone & { states: PhoneState[] } {
  const p = new VirtualPhone({
    card,
    msisdn: CARD.msisdn,
    iccid: CARD.iccid,
    reconnect: { minMs: 5, maxMs: 20 },
    ...options,
  });
  const states: PhoneState[] = [];
  p.on('state', (e) => states.push(e.state));
  phones.push(p);
  return Object.assign(p, { states });
}

const blankSim = (): Card => createSim({ card: 'card-1', epurse: true });

async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('VirtualPhone: the hello', () => {
  it('says hello with its identity and resolves once the SIM authenticated over SCP03 through the relay', async () => {
    platform = await StubPlatform.start();
    const card = blankSim();
    const p = phone(card, { url: platform.url });
    const notices: string[] = [];
    p.on('notice', (n) => notices.push(n.kind));
    const ready = p.waitForNotice('ready', 5000);
    await expect(p.connect()).resolves.toEqual({ cardSerial: SERIAL, status: 'issued' });
    expect(platform.hellos).toEqual([{ msisdn: CARD.msisdn, iccid: CARD.iccid }]);
    expect(platform.connections[0]!.ws.protocol).toBe('simtap.v1');
    expect(platform.connections[0]!.scpCounters).toEqual([1]);
    expect(p.url).toBe(`${platform.url}/v1/ota`);
    await expect(ready).resolves.toMatchObject({ kind: 'ready' });
    expect(notices).toEqual(['ready']);
    expect(p.states).toEqual(['connecting', 'open', 'authenticated']);
    expect(p.hello).toEqual({ cardSerial: SERIAL, status: 'issued' });
    expect(p.commandCount).toBe(3); // SELECT, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE
    await expect(p.connect()).resolves.toEqual({ cardSerial: SERIAL, status: 'issued' }); // at once
    await p.close();
    expect(await platform.connections[0]!.closed).toBe(1000);
    expect(p.state).toBe('closed');
    expect(card.isPowered('contact')).toBe(false);
  });

  it('rejects with IDENTITY_REFUSED when the platform refuses the SIM, and does not reconnect', async () => {
    platform = await StubPlatform.start();
    const p = phone(blankSim(), { url: platform.url, msisdn: '13800138009' });
    const err = await p.connect().catch((e: unknown) => e);
    expect(hasPhoneCallCode(err, 'IDENTITY_REFUSED')).toBe(true);
    expect(err).toBeInstanceOf(PhoneCallError);
    expect(p.state).toBe('closed');
    expect(await platform.connections[0]!.closed).toBe(4403);
    await new Promise((r) => setTimeout(r, 60));
    expect(platform.connections).toHaveLength(1);
    await expect(p.connect()).rejects.toBe(err);
    await expect(p.topUp({ idempotencyKey: 'k', amount: 1 })).rejects.toMatchObject({ code: 'PHONE_CLOSED' });
  });

  it('a close 4403 without an answer is PHONE_REFUSED', async () => {
    platform = await StubPlatform.start({
      hello: async (conn) => {
        conn.ws.close(4403, 'go away');
        return { none: true };
      },
    });
    const err = await phone(blankSim(), { url: platform.url })
      .connect()
      .catch((e: unknown) => e);
    expect(hasErrorCode(err, PHONE_ERRORS, 'PHONE_REFUSED')).toBe(true);
    expect(err).toMatchObject({ closeCode: 4403 });
  });

  it('rejects with PHONE_CONNECT_FAILED when nothing listens, or the server selects no simtap.v1', async () => {
    const port = await deadPort();
    const p = phone(blankSim(), { url: `ws://127.0.0.1:${port}` });
    const err = await p.connect().catch((e: unknown) => e);
    expect(hasErrorCode(err, PHONE_ERRORS, 'PHONE_CONNECT_FAILED')).toBe(true);
    expect(p.state).toBe('closed');

    platform = await StubPlatform.start({ subprotocol: false });
    await expect(phone(blankSim(), { url: platform.url }).connect()).rejects.toMatchObject({
      code: 'PHONE_CONNECT_FAILED',
    });
  });

  it('checks its options', () => {
    const card = blankSim();
    const base = { card, msisdn: CARD.msisdn, iccid: CARD.iccid };
    for (const bad of [
      { ...base, url: 'http://127.0.0.1:1' },
      { ...base, url: 'not a url' },
      { ...base, url: 'ws://127.0.0.1:1', msisdn: '12ab' },
      { ...base, url: 'ws://127.0.0.1:1', iccid: '1234' },
      { ...base, url: 'ws://127.0.0.1:1', reconnect: { minMs: -1 } },
    ])
      expect(() => new VirtualPhone(bad)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(new VirtualPhone({ ...base, url: 'wss://example.test:7800/proxy/ota' }).url).toBe(
      'wss://example.test:7800/proxy/ota',
    );
  });
});

describe('VirtualPhone: card.transmit', () => {
  it('relays real APDUs to the SIM and answers its response as uppercase hex', async () => {
    platform = await StubPlatform.start();
    const p = phone(blankSim(), { url: platform.url });
    await p.connect();
    const conn = platform.connections[0]!;
    const raw = await conn.request('card.transmit', { apdu: toHex(SELECT_ISD).toLowerCase() });
    expect(raw.ok).toBe(true);
    const response = (raw as { result: { response: string } }).result.response;
    expect(response).toMatch(/^6F[0-9A-F]*9000$/); // FCI template, 9000, uppercase
    expect(response).toContain('A000000151000000');
    const cin = await conn.transmit(GET_CIN);
    expect(cin.ok && toHex(cin.response)).toBe(`450A${CARD.iccid}9000`);
  });

  it('answers CARD_ABSENT when the SIM is powered off or torn', async () => {
    platform = await StubPlatform.start();
    const card = blankSim();
    const p = phone(card, { url: platform.url });
    await p.connect();
    const conn = platform.connections[0]!;
    card.powerOff('contact');
    const off = await conn.transmit(SELECT_ISD);
    expect(off).toMatchObject({ ok: false, error: { code: -32000, data: { code: 'CARD_ABSENT' } } });

    card.powerOn('contact');
    card.tearAt(1); // INITIALIZE UPDATE's counter write
    const torn = await conn.transmit(hex`80 50 00 00 08 01 02 03 04 05 06 07 08 00`);
    expect(torn).toMatchObject({ ok: false, error: { code: -32000, data: { code: 'CARD_ABSENT' } } });
    expect(card.isPowered('contact')).toBe(false);
  });

  it('answers -32602 for bad params and -32601 for methods it does not serve', async () => {
    platform = await StubPlatform.start();
    const p = phone(blankSim(), { url: platform.url });
    await p.connect();
    const conn = platform.connections[0]!;
    for (const params of [{ apdu: 'XYZ0' }, { apdu: '00A4' }, {}, { apdu: '00A40400', extra: 1 }, 'x', null]) {
      const r = await conn.request('card.transmit', params);
      expect(r, JSON.stringify(params)).toMatchObject({ ok: false, error: { code: -32602 } });
    }
    expect(await conn.request('card.reset', {})).toMatchObject({ ok: false, error: { code: -32601 } });
    expect(p.commandCount).toBe(3); // none of them reached the SIM
  });

  it('calls afterCommand after each command, before the answer goes out; logs no APDU data at info', async () => {
    platform = await StubPlatform.start();
    const card = blankSim();
    const seen: number[] = [];
    const info: string[] = [];
    const debug: string[] = [];
    const commands: string[] = [];
    const p = phone(card, {
      url: platform.url,
      faults: (apdu) => {
        commands.push(toHex(apdu));
        return 'deliver';
      },
      afterCommand: async (c) => {
        await new Promise((r) => setTimeout(r, 1));
        seen.push(c.commitCount);
      },
      logger: { info: (m) => info.push(m), warn: (m) => info.push(m), debug: (m) => debug.push(m) },
    });
    await p.connect();
    expect(seen).toHaveLength(3);
    expect(seen[2]).toBe(card.commitCount); // INITIALIZE UPDATE committed its counter before its answer
    expect(commands).toHaveLength(3);
    for (const c of commands) expect(info.join('\n')).not.toContain(c.slice(4)); // no command data at info
    expect(debug.some((l) => /INS 50 → SW 9000/.test(l))).toBe(true);
  });
});

describe('VirtualPhone: torn links', () => {
  /** Drops INITIALIZE UPDATE (command #1 of the first hello) as `fault`. */
  const onInitUpdate =
    (fault: PhoneFault) =>
    (_apdu: Uint8Array, index: number): PhoneFault =>
      index === 1 ? fault : 'deliver';

  it('drop-before: the SIM never sees the command; without reconnect the connect fails PHONE_LINK_LOST', async () => {
    platform = await StubPlatform.start();
    const card = blankSim();
    const commits = card.commitCount;
    const p = phone(card, { url: platform.url, reconnect: false, faults: onInitUpdate('drop-before') });
    const err = await p.connect().catch((e: unknown) => e);
    expect(hasErrorCode(err, PHONE_ERRORS, 'PHONE_LINK_LOST')).toBe(true);
    expect(card.commitCount).toBe(commits); // INITIALIZE UPDATE's counter did not move
    expect(await platform.connections[0]!.closed).toBe(1006);
    // The next phone's authentication is the card's first INITIALIZE UPDATE.
    await phone(card, { url: platform.url }).connect();
    expect(platform.connections[1]!.scpCounters).toEqual([1]);
  });

  it('drop-before, then reconnect and a new hello: the SIM authenticates with its first counter', async () => {
    platform = await StubPlatform.start();
    const card = blankSim();
    const p = phone(card, { url: platform.url, faults: onInitUpdate('drop-before') });
    await expect(p.connect()).resolves.toEqual({ cardSerial: SERIAL, status: 'issued' });
    expect(platform.hellos).toHaveLength(2);
    expect(platform.connections[0]!.scpCounters).toEqual([]);
    expect(platform.connections[1]!.scpCounters).toEqual([1]);
    expect(p.states).toEqual(['connecting', 'open', 'reconnecting', 'connecting', 'open', 'authenticated']);
  });

  it('drop-after: the SIM processed the command, the answer never went out; the new hello sees the next counter', async () => {
    platform = await StubPlatform.start();
    const card = blankSim();
    const commits = card.commitCount;
    const p = phone(card, { url: platform.url, faults: onInitUpdate('drop-after') });
    await p.connect();
    expect(platform.connections[0]!.scpCounters).toEqual([]);
    expect(platform.connections[1]!.scpCounters).toEqual([2]); // the dropped INITIALIZE UPDATE used 1
    expect(card.commitCount).toBe(commits + 2);
  });

  it('cut(): drops the link and says hello again; close(): 1000 and no reconnect', async () => {
    platform = await StubPlatform.start();
    const p = phone(blankSim(), { url: platform.url });
    await p.connect();
    const ready = p.waitForNotice('ready', 5000);
    p.cut();
    expect(await platform.connections[0]!.closed).toBe(1006);
    await ready;
    expect(p.state).toBe('authenticated');
    expect(platform.hellos).toHaveLength(2);
    await p.close();
    expect(await platform.connections[1]!.closed).toBe(1000);
    await new Promise((r) => setTimeout(r, 60));
    expect(platform.connections).toHaveLength(2);
    expect(p.states.at(-1)).toBe('closed');
  });

  it('reconnects when the platform goes away and comes back', async () => {
    platform = await StubPlatform.start();
    const port = Number(new URL(platform.url).port);
    const p = phone(blankSim(), { url: platform.url });
    await p.connect();
    await platform.close();
    await new Promise((r) => setTimeout(r, 50)); // a few failed attempts
    expect(p.state).not.toBe('closed');
    platform = await StubPlatform.start({ port }).catch(() => undefined);
    if (platform === undefined) return; // the port was taken meanwhile: nothing more to see
    await p.waitForNotice('ready', 5000);
    expect(p.state).toBe('authenticated');
  });
});

describe('VirtualPhone: top-ups and notices', () => {
  it('tops up once authenticated', async () => {
    platform = await StubPlatform.start();
    const p = phone(blankSim(), { url: platform.url });
    const result = p.topUp({ idempotencyKey: 'top-1', amount: 2000 }); // before connect: sent after the hello
    await p.connect();
    await expect(result).resolves.toEqual({ loadId: 'load-top-1', status: 'posted' });
    expect(platform.topUps).toEqual([{ idempotencyKey: 'top-1', amount: 2000 }]);
  });

  it('repeats a top-up with the same key after a cut, until it gets an answer', async () => {
    let calls = 0;
    platform = await StubPlatform.start({
      topUp: async (conn, params) => {
        if (++calls === 1) conn.ws.terminate(); // the link drops before the answer
        return { ok: true, result: { loadId: `load-${params.idempotencyKey}`, status: 'posted' } };
      },
    });
    const p = phone(blankSim(), { url: platform.url });
    await p.connect();
    await expect(p.topUp({ idempotencyKey: 'top-2', amount: 500 })).resolves.toEqual({
      loadId: 'load-top-2',
      status: 'posted',
    });
    expect(platform.topUps).toEqual([
      { idempotencyKey: 'top-2', amount: 500 },
      { idempotencyKey: 'top-2', amount: 500 },
    ]);
    expect(platform.hellos).toHaveLength(2);
  });

  it("rejects with the platform's code, or PHONE_TIMEOUT with effectUnknown and the key", async () => {
    platform = await StubPlatform.start({
      topUp: async (_conn, params) =>
        params.amount > 1000
          ? { ok: false, error: { code: -32000, message: 'no', data: { code: 'INSUFFICIENT_FUNDS' } } }
          : new Promise(() => {}),
    });
    const p = phone(blankSim(), { url: platform.url });
    await p.connect();
    const refused = await p.topUp({ idempotencyKey: 'a', amount: 5000 }).catch((e: unknown) => e);
    expect(hasPhoneCallCode(refused, 'INSUFFICIENT_FUNDS')).toBe(true);
    const late = await p.topUp({ idempotencyKey: 'b', amount: 100 }, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(hasErrorCode(late, PHONE_ERRORS, 'PHONE_TIMEOUT')).toBe(true);
    expect(late).toMatchObject({ effectUnknown: true, idempotencyKey: 'b' });
    await expect(p.topUp({ idempotencyKey: '', amount: 1 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });

  it('emits valid notices, ignores invalid ones; waitForNotice times out', async () => {
    platform = await StubPlatform.start({ afterHello: () => {} });
    const p = phone(blankSim(), { url: platform.url });
    await p.connect();
    const conn = platform.connections[0]!;
    const loaded = p.waitForNotice('loaded', 5000);
    conn.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'phone.notice', params: { kind: 'nonsense' } }));
    conn.notice({ kind: 'loaded', message: 'loaded', cardSerial: SERIAL, amount: 2000, balance: 7000 });
    await expect(loaded).resolves.toMatchObject({ amount: 2000, balance: 7000 });
    expect(p.notices.map((n) => n.kind)).toEqual(['loaded']);
    await expect(p.waitForNotice('blocked', 50)).rejects.toMatchObject({ code: 'PHONE_TIMEOUT' });
    const pending = p.waitForNotice('ready', 5000).catch((e: unknown) => e);
    await p.close();
    expect(await pending).toMatchObject({ code: 'PHONE_CLOSED' });
  });
});

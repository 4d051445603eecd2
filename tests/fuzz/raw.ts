/**
 * Raw TCP peers for what a WebSocket library will not send: slow-loris upgrades (headers that never end, or come a
 * byte at a time), upgrades by hand that then stall (silent, or half a frame), refused upgrades, bytes that are not
 * HTTP, and frames that break RFC 6455 (unmasked, reserved opcodes, RSV bits, long or fragmented control frames).
 * Each peer records what the server did to it: the HTTP status, the close code of its close frame, when the socket
 * closed.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** What the server did to a raw peer. */
export interface RawOutcome {
  readonly name: string;
  /** The HTTP status line's code, when the server answered the upgrade. */
  readonly status: number | undefined;
  /** The code of the server's close frame, when one came. */
  readonly closeCode: number | undefined;
  /** Text frames the server sent (the challenge, answers). */
  readonly texts: string[];
  /** Ms from the connection to the server closing it; `undefined` if it did not before `timeoutMs`. */
  readonly closedAfterMs: number | undefined;
}

/** A raw connection to the server that keeps what it receives. */
export class RawPeer {
  readonly name: string;
  readonly socket: Socket;
  readonly connected: Promise<void>;
  readonly ended: Promise<number>;
  #buf = Buffer.alloc(0);
  #headerEnd = -1;
  #status: number | undefined;
  #closeCode: number | undefined;
  readonly #texts: string[] = [];
  readonly #t0 = performance.now();
  #onFrame: (() => void) | undefined;

  constructor(port: number, name: string) {
    this.name = name;
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('error', () => {});
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.connected.catch(() => {});
    this.ended = new Promise((resolve) => this.socket.once('close', () => resolve(performance.now() - this.#t0)));
    this.socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#parse();
    });
  }

  /** The status of the HTTP answer, once its headers came. */
  get status(): number | undefined {
    return this.#status;
  }

  get texts(): readonly string[] {
    return this.#texts;
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Completes a WebSocket upgrade on `path` by hand (`protocol` `simtap.v1` unless given). */
  async upgrade(path: string, protocol: string | null = 'simtap.v1'): Promise<number | undefined> {
    await this.connected;
    this.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
        (protocol === null ? '' : `Sec-WebSocket-Protocol: ${protocol}\r\n`) +
        '\r\n',
    );
    const end = performance.now() + 5000;
    while (this.#status === undefined && !this.socket.destroyed && performance.now() < end)
      await new Promise((r) => setTimeout(r, 5));
    return this.#status;
  }

  /** Resolves when a text frame has come (the challenge) or the socket ended. */
  async firstText(timeoutMs = 5000): Promise<void> {
    if (this.#texts.length > 0) return;
    await Promise.race([
      new Promise<void>((resolve) => {
        this.#onFrame = resolve;
      }),
      this.ended,
      new Promise((r) => setTimeout(r, timeoutMs)),
    ]);
  }

  /** Waits for the server to close the socket (at most `timeoutMs`), then drops it; says what happened. */
  async outcome(timeoutMs: number): Promise<RawOutcome> {
    const closedAfterMs = await Promise.race([
      this.ended,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), timeoutMs)),
    ]);
    this.socket.destroy();
    return {
      name: this.name,
      status: this.#status,
      closeCode: this.#closeCode,
      texts: [...this.#texts],
      closedAfterMs: closedAfterMs === undefined ? undefined : Math.round(closedAfterMs),
    };
  }

  #parse(): void {
    if (this.#headerEnd < 0) {
      const i = this.#buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(this.#buf.subarray(0, i).toString('latin1'));
      this.#status = m ? Number(m[1]) : 0;
      this.#headerEnd = i + 4;
      this.#buf = this.#buf.subarray(this.#headerEnd);
      if (this.#status !== 101) return;
    }
    if (this.#status !== 101) return;
    for (;;) {
      const f = readFrame(this.#buf);
      if (f === undefined) return;
      this.#buf = this.#buf.subarray(f.size);
      if (f.opcode === 0x1) this.#texts.push(f.payload.toString('utf8'));
      if (f.opcode === 0x8) this.#closeCode = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
      this.#onFrame?.();
    }
  }
}

/** One server frame (unmasked) at the start of `buf`, or `undefined` when it is not all there. */
function readFrame(buf: Buffer): { opcode: number; payload: Buffer; size: number } | undefined {
  if (buf.length < 2) return undefined;
  const opcode = buf[0]! & 0x0f;
  let len = buf[1]! & 0x7f;
  let at = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    at = 10;
  }
  if (buf.length < at + len) return undefined;
  return { opcode, payload: buf.subarray(at, at + len), size: at + len };
}

/** A client frame: masked unless told, FIN unless told, RSV bits as given. */
export function clientFrame(
  opcode: number,
  payload: Buffer,
  o: { fin?: boolean; mask?: boolean; rsv?: number; declaredLength?: number } = {},
): Buffer {
  const fin = o.fin ?? true;
  const mask = o.mask ?? true;
  const len = o.declaredLength ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127);
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(len));
    head.push(...b);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i % 4]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}

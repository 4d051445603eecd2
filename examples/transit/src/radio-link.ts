/**
 * The bus's radio link to the back office, as a TCP relay on 127.0.0.1 that can go down (no coverage): while down
 * it cuts the open connections and refuses new ones, so the bus's agent keeps its records on its disk.
 *
 * @module
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class RadioLink {
  readonly #target: { host: string; port: number };
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #up = true;

  /** A relay to the `ws://host:port/…` URL `target`. */
  constructor(target: string) {
    const u = new URL(target);
    this.#target = { host: u.hostname, port: Number(u.port) };
    this.#server = createServer((client) => this.#accept(client));
  }

  #accept(client: Socket): void {
    if (!this.#up) {
      client.destroy();
      return;
    }
    const upstream = connect(this.#target.port, this.#target.host);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  /** Starts relaying; the URL machines use instead of the back office's. */
  async listen(path: string): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const a = this.#server.address();
    if (a === null || typeof a === 'string') throw new Error('the relay has no TCP address');
    return `ws://127.0.0.1:${a.port}${path}`;
  }

  /** No coverage: open connections cut, new ones refused. */
  down(): void {
    this.#up = false;
    for (const s of this.#sockets) s.destroy();
  }

  /** Coverage again. */
  up(): void {
    this.#up = true;
  }

  get isUp(): boolean {
    return this.#up;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

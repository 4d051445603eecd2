/**
 * What every page of the console gets and gives: the calls it may make, the toast, and the hooks the router and
 * the session drive.
 * @module
 */

/** The page's way to the platform and to the operator. */
export interface Context {
  /** Calls a method of `/v1/console`; rejects with an `RpcError` (also when not connected). */
  call<T>(method: string, params?: object): Promise<T>;
  /** True while logged in on an open socket (polls skip their turn otherwise). */
  connected(): boolean;
  /** Fetches `page` again shortly (once for a burst of events), if it is the page shown. */
  soon(page: Page): void;
  /** Shows `text` in the toast line; errors stay longer. */
  toast(text: string, kind?: 'ok' | 'error'): void;
}

/** A page behind a hash route. */
export interface Page {
  /** `#/live` and so on. */
  readonly route: string;
  readonly section: HTMLElement;
  /** Fetch again every this many ms while shown; 0: only on entering and after a reconnection. */
  readonly periodMs: number;
  /** Fetches what the page shows and renders it. */
  refresh(): Promise<void>;
  /** A server notification: pages apply the ones they show, shown or not. */
  event(method: string, params: unknown): void;
  /** Logged out: forget everything shown. */
  clear(): void;
}

/**
 * The `simtap.v1` WebSocket server (`@simtap/host/server`): the platform core on the network, as
 * `../shared/PROTOCOL.md` and `docs/protocol.md` describe it — endpoints `/v1/app` (applications), `/v1/console`
 * (operators; the operator console's page is served at `/console/`) and `/v1/ota` (phones), the session
 * handshake, the method catalogue of `@simtap/sdk/wire` dispatched to the sub-platforms, event notifications, and
 * the limits that keep one peer from hurting the others: a rate limit, request timeouts, requests in flight,
 * backpressure, heartbeats.
 * The `simtap-host` command runs it on the embedded default.
 * @example
 * import { createPlatformServer } from '@simtap/host/server';
 * const profile = referenceProfile(); // test keys and secrets: never real money
 * const server = createPlatformServer({ platform, clients: profile.platform.clients, port: 7800 });
 * const { url } = await server.listen(); // 'ws://127.0.0.1:7800'
 * process.once('SIGTERM', async () => { await server.close(); await platform.close(); });
 * @module
 */
export type { ConnectionInfo, ServerClient, ServerLogger } from './connection';
export {
  CONSOLE_HEADERS,
  CONSOLE_PATH,
  type ConsoleAsset,
  type ConsoleAssets,
  defaultConsoleDir,
  loadConsoleAssets,
} from './console-assets';
export { ConsoleFeed, type LastSeen, type ServerView, TAP_TIME_BUCKETS_MS } from './console-feed';
export { LEDGER_KINDS } from './dispatch';
export { toRpcError, WireAnswer } from './errors';
export { EVENT_TOPICS, type EventName, type EventTopic, type PlatformEvent } from './events';
export { DEFAULT_LIMITS, type ServerLimits } from './limits';
export {
  createPlatformServer,
  DEFAULT_HOST,
  DEFAULT_PORT,
  type ListenAddress,
  type PlatformServer,
  type PlatformServerOptions,
} from './server';

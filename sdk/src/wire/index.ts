/**
 * The `simtap.v1` protocol as data (`@simtap/sdk/wire`): the method catalogue with a zod schema for every params,
 * result and notification (the TypeScript types are inferred from them), the error codes, the close codes, the
 * JSON-RPC framing and the session proof. The platform's server and `PlatformClient` are both built on it; it
 * imports nothing else of the project.
 * @example
 * import { checkParams, parseFrame } from '@simtap/sdk/wire';
 * const frame = parseFrame('{"jsonrpc":"2.0","id":1,"method":"wallet.float","params":{"cardSerial":"00004401202600000001"}}');
 * if (frame.kind === 'request') checkParams('app', frame.method, frame.params).ok; // true
 * @module
 */
export * from './errors';
export * from './jsonrpc';
export * from './methods';
export * from './ota';
export * from './schemas';

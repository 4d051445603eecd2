/**
 * JSON-RPC 2.0 framing of `simtap.v1`: one message per WebSocket text frame. `parseFrame` turns a frame into a
 * request, a notification, a response or a protocol error (-32700 / -32600) without ever throwing;
 * `checkParams` validates a request's params against the method's schema (-32601 / -32602); the builders make
 * the answers. The session proof is here too, since client and server compute it the same way.
 * @module
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { JSONRPC_ERRORS, type WireErrorCode } from './errors';
import { type Endpoint, METHODS, type MethodName } from './methods';

/** Frames up to this size are always accepted (a clearing batch of 500 records fits). */
export const GUARANTEED_FRAME_BYTES = 256 * 1024;
/** Frames over this size close the connection with 1009. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** A request id: a string of up to 64 characters or a safe integer. */
export const RequestId = z.union([
  z.string().max(64),
  z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
]);
/** A request id. */
export type RequestId = z.infer<typeof RequestId>;

const Request = z.strictObject({
  jsonrpc: z.literal('2.0'),
  id: RequestId,
  method: z.string().min(1).max(64),
  params: z.unknown().optional(),
});
const Notification = z.strictObject({
  jsonrpc: z.literal('2.0'),
  method: z.string().min(1).max(64),
  params: z.unknown().optional(),
});
const ErrorObject = z.object({
  code: z.number().int(),
  message: z.string(),
  data: z.object({ code: z.string() }).passthrough().optional(),
});
const Response = z.union([
  z.strictObject({ jsonrpc: z.literal('2.0'), id: RequestId, result: z.unknown() }),
  z.strictObject({ jsonrpc: z.literal('2.0'), id: RequestId.nullable(), error: ErrorObject }),
]);

/** A JSON-RPC error object. */
export type RpcError = z.infer<typeof ErrorObject>;

/** What a frame is. */
export type Frame =
  | { readonly kind: 'request'; readonly id: RequestId; readonly method: string; readonly params: unknown }
  | { readonly kind: 'notification'; readonly method: string; readonly params: unknown }
  | { readonly kind: 'result'; readonly id: RequestId; readonly result: unknown }
  | { readonly kind: 'error'; readonly id: RequestId | null; readonly error: RpcError }
  /** Not a JSON-RPC message: answer `error` (with `id` when one could be read). */
  | { readonly kind: 'invalid'; readonly id: RequestId | null; readonly error: RpcError };

/** Parses one text frame; never throws. Batches (arrays) are refused with -32600. */
export function parseFrame(text: string): Frame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'invalid', id: null, error: { code: JSONRPC_ERRORS.PARSE_ERROR, message: 'parse error: not JSON' } };
  }
  if (Array.isArray(value)) return invalid(null, 'batches are not accepted: send one message per frame');
  if (typeof value !== 'object' || value === null) return invalid(null, 'a message is a JSON object');
  const o = value as Record<string, unknown>;
  const id = RequestId.safeParse(o.id).success ? (o.id as RequestId) : null;
  if ('result' in o || 'error' in o) {
    const r = Response.safeParse(o);
    if (!r.success) return invalid(id, `invalid response: ${summarize(r.error)}`);
    return 'result' in r.data
      ? { kind: 'result', id: r.data.id, result: r.data.result }
      : { kind: 'error', id: r.data.id, error: r.data.error };
  }
  if ('id' in o) {
    const r = Request.safeParse(o);
    if (!r.success) return invalid(id, `invalid request: ${summarize(r.error)}`);
    return { kind: 'request', id: r.data.id, method: r.data.method, params: r.data.params };
  }
  const n = Notification.safeParse(o);
  if (!n.success) return invalid(null, `invalid notification: ${summarize(n.error)}`);
  return { kind: 'notification', method: n.data.method, params: n.data.params };
}

function invalid(id: RequestId | null, message: string): Frame {
  return { kind: 'invalid', id, error: { code: JSONRPC_ERRORS.INVALID_REQUEST, message } };
}

/** One line naming what failed validation (paths and messages, at most 5). */
export function summarize(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** A method's params checked against its schema, or the JSON-RPC error to answer. */
export type CheckedParams<M extends MethodName = MethodName> =
  | { readonly ok: true; readonly method: M; readonly params: z.output<(typeof METHODS)[M]['params']> }
  | { readonly ok: false; readonly error: RpcError };

/** Checks that `endpoint` serves `method` (-32601) and that `params` fit its schema (-32602). */
export function checkParams(endpoint: Endpoint, method: string, params: unknown): CheckedParams {
  if (
    !Object.hasOwn(METHODS, method) ||
    !(METHODS[method as MethodName].endpoints as readonly string[]).includes(endpoint)
  )
    return {
      ok: false,
      error: { code: JSONRPC_ERRORS.METHOD_NOT_FOUND, message: `method not found: ${method.slice(0, 64)}` },
    };
  const m = method as MethodName;
  const r = METHODS[m].params.safeParse(params ?? {});
  if (!r.success)
    return {
      ok: false,
      error: { code: JSONRPC_ERRORS.INVALID_PARAMS, message: `invalid params: ${summarize(r.error)}` },
    };
  return { ok: true, method: m, params: r.data as never };
}

/** A success response frame. */
export function resultFrame(id: RequestId, result: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result });
}

/** An error response frame (protocol layer). */
export function errorFrame(id: RequestId | null, error: RpcError): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error });
}

/** An application error: -32000 with `data.code`. */
export function applicationError(code: WireErrorCode, message: string, data: Record<string, unknown> = {}): RpcError {
  return { code: JSONRPC_ERRORS.APPLICATION, message, data: { ...data, code } };
}

/** A request frame. */
export function requestFrame(id: RequestId, method: string, params?: unknown): string {
  return JSON.stringify(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params });
}

/** A notification frame. */
export function notificationFrame(method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', method, params });
}

/**
 * The session proof: `hex(HMAC-SHA256(key = secret, message = nonce ‖ ASCII(path)))`, uppercase.
 * @example sessionProof(secretBytes, nonceBytes, '/v1/app')
 */
export function sessionProof(secret: Uint8Array, nonce: Uint8Array, path: string): string {
  return createHmac('sha256', secret).update(nonce).update(Buffer.from(path, 'ascii')).digest('hex').toUpperCase();
}

/** True when `error` is an application error (-32000) whose `data.code` is one of `codes`. */
export function hasWireCode(error: RpcError | undefined, ...codes: readonly WireErrorCode[]): boolean {
  const code = error?.code === JSONRPC_ERRORS.APPLICATION ? error.data?.code : undefined;
  return code !== undefined && (codes as readonly string[]).includes(code);
}

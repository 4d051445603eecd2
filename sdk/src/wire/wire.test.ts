import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkParams,
  FIXED_ERROR_CODES,
  JSONRPC_ERRORS,
  METHODS,
  type MethodName,
  methodsOf,
  NOTIFICATIONS,
  parseFrame,
  sessionProof,
  WIRE_ERROR_CODES,
} from './index';

/** The methods and endpoints `../shared/PROTOCOL.md` fixes. */
const FIXED_APP = [
  'customers.topUpPhoneAccount',
  'customers.phoneAccount',
  'wallet.authorizeLoad',
  'wallet.confirmLoad',
  'wallet.resolveLoad',
  'wallet.float',
  'wallet.airTopUp',
  'wallet.load',
  'clearing.submitBatch',
  'merchants.balance',
  'points.balance',
  'cards.get',
  'cards.reportLost',
  'cards.blacklist',
];

describe('the method catalogue', () => {
  it('has every method the protocol fixes, on its endpoint, marked fixed', () => {
    for (const m of FIXED_APP) {
      expect(methodsOf('app'), m).toContain(m);
      expect(METHODS[m as MethodName].fixed, m).toBe(true);
    }
    for (const m of ['ledger.verify', 'cards.list']) expect(methodsOf('console')).toContain(m);
    expect(Object.values(METHODS).filter((m) => m.fixed)).toHaveLength(FIXED_APP.length + 3); // + authenticate, verify, list
  });

  it('takes an idempotency key exactly on the money-moving methods', () => {
    for (const [name, m] of Object.entries(METHODS)) {
      const shape = (m.params as unknown as { shape?: Record<string, unknown> }).shape ?? {};
      expect('idempotencyKey' in shape, name).toBe(m.moneyMoving);
    }
  });

  it("has examples that fit the method's own schemas", () => {
    for (const [name, m] of Object.entries(METHODS)) {
      expect(m.params.safeParse(m.example.params).success, `${name} params`).toBe(true);
      expect(m.result.safeParse(m.example.result).success, `${name} result`).toBe(true);
    }
    for (const [name, n] of Object.entries(NOTIFICATIONS))
      expect(n.params.safeParse(n.example).success, name).toBe(true);
  });

  it('names only error codes of the table, and the table has the fixed ones', () => {
    for (const c of FIXED_ERROR_CODES) expect(WIRE_ERROR_CODES).toHaveProperty(c);
    for (const m of Object.values(METHODS)) for (const c of m.errors) expect(WIRE_ERROR_CODES).toHaveProperty(c);
  });
});

describe('frames', () => {
  it('parses requests, notifications and responses, and names what is wrong with the rest', () => {
    expect(parseFrame('{"jsonrpc":"2.0","id":7,"method":"wallet.float","params":{}}')).toMatchObject({
      kind: 'request',
      id: 7,
      method: 'wallet.float',
    });
    expect(parseFrame('{"jsonrpc":"2.0","method":"session.challenge","params":{"nonce":"00"}}').kind).toBe(
      'notification',
    );
    expect(parseFrame('{"jsonrpc":"2.0","id":"a","result":{"balance":1}}')).toMatchObject({ kind: 'result', id: 'a' });
    expect(parseFrame('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}').kind).toBe('error');
    expect(parseFrame('{nope')).toMatchObject({ kind: 'invalid', error: { code: JSONRPC_ERRORS.PARSE_ERROR } });
    for (const bad of [
      '[]',
      '5',
      'null',
      '{"jsonrpc":"1.0","id":1,"method":"x"}',
      '{"jsonrpc":"2.0","id":{},"method":"x"}',
      '{"jsonrpc":"2.0","id":1,"method":"x","extra":1}',
    ])
      expect(parseFrame(bad), bad).toMatchObject({ kind: 'invalid', error: { code: JSONRPC_ERRORS.INVALID_REQUEST } });
    expect(parseFrame('{"jsonrpc":"2.0","id":3,"method":7}')).toMatchObject({ kind: 'invalid', id: 3 });
  });

  it('never throws on any text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          const f = parseFrame(text);
          expect(['request', 'notification', 'result', 'error', 'invalid']).toContain(f.kind);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('checks params against the method of the endpoint', () => {
    expect(checkParams('app', 'wallet.float', { cardSerial: '00004401202600000001' }).ok).toBe(true);
    expect(checkParams('app', 'wallet.float', { cardSerial: '0000440120260000000' })).toMatchObject({
      ok: false,
      error: { code: JSONRPC_ERRORS.INVALID_PARAMS },
    });
    expect(checkParams('app', 'wallet.float', { cardSerial: '00004401202600000001', x: 1 }).ok).toBe(false);
    expect(checkParams('app', 'ledger.verify', {})).toMatchObject({
      ok: false,
      error: { code: JSONRPC_ERRORS.METHOD_NOT_FOUND },
    });
    expect(checkParams('app', 'toString', {})).toMatchObject({
      ok: false,
      error: { code: JSONRPC_ERRORS.METHOD_NOT_FOUND },
    });
    expect(checkParams('console', 'ledger.verify', undefined).ok).toBe(true);
    const big = checkParams('app', 'customers.topUpPhoneAccount', {
      idempotencyKey: 'k',
      msisdn: '13800138001',
      amount: 1e300,
    });
    expect(big.ok).toBe(false);
  });
});

describe('session proof', () => {
  it('is HMAC-SHA256(secret, nonce ‖ path) in uppercase hex', () => {
    const secret = Buffer.from('8AADFCE9764FD8CFF91813DF02D367966F1A50EF8881315135F43EAE71EC9F40', 'hex');
    const nonce = Buffer.alloc(32, 0xa1);
    const expected = createHmac('sha256', secret)
      .update(Buffer.concat([nonce, Buffer.from('/v1/app')]))
      .digest('hex');
    expect(sessionProof(secret, nonce, '/v1/app')).toBe(expected.toUpperCase());
    expect(sessionProof(secret, nonce, '/v1/console')).not.toBe(expected.toUpperCase());
  });
});

it('imports nothing of the project outside sdk/src/wire (only zod and node:)', () => {
  const dir = dirname(fileURLToPath(import.meta.url));
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts') && !x.endsWith('.test.ts'))) {
    const text = readFileSync(join(dir, f), 'utf8');
    for (const [, spec] of text.matchAll(/^(?:import|export)[^\n]*from '([^']+)'/gm))
      expect(spec, f).toMatch(/^(\.\/[a-z-]+|zod|node:[a-z]+)$/);
  }
});

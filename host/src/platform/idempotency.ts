/**
 * Idempotency of the money-moving methods, above the ledger. The ledger binds a key to its transfer; but a method
 * checks things before it reaches the ledger (the card's status, MAC1, the balance limit, the customer), and
 * `simtap.v1` binds the key to the whole call: a repeat with the same params returns the first outcome — its result
 * or its refusal — and other params under the key are `IDEMPOTENCY_CONFLICT`.
 *
 * - A key the ledger already holds is a retry: the method's `replay` goes straight to the ledger, skipping the
 *   checks that may no longer pass (a card lost since still gets its load's first answer), and the ledger answers
 *   the first outcome or `IDEMPOTENCY_CONFLICT` (other params).
 * - A refusal before the ledger (a `PlatformError` or the key store's `BAD_MAC1`) is kept as a record under the key
 *   with the hash of the call, so the same call gets it again and another call under the key is a conflict.
 * @module
 */
import { ArgumentError, hasErrorCode } from '@simtap/sdk/core/errors';
import { IssuerKeyError, KEYS_ERRORS } from '../keys';
import { LEDGER_ERRORS, LedgerError, type LedgerStore, requestHash } from '../ledger';
import { PLATFORM_ERRORS, PlatformError } from './errors';

const REFUSALS = 'refusals';

interface StoredRefusal {
  readonly hash: string;
  readonly error: { readonly family: 'platform' | 'keys'; readonly code: string; readonly message: string };
}

/** Runs money-moving calls under their `(client, idempotencyKey)`. */
export class CallIdempotency {
  readonly #ledger: LedgerStore;

  constructor(ledger: LedgerStore) {
    this.#ledger = ledger;
  }

  /**
   * Runs `first` for a new key, `replay` for a key the ledger holds, or answers a stored refusal.
   * @param params the call's params without `client` and `idempotencyKey` (what the key is bound to)
   */
  async run<T>(
    client: string,
    idempotencyKey: unknown,
    method: string,
    params: Record<string, unknown>,
    first: () => Promise<T>,
    replay: () => Promise<T>,
  ): Promise<T> {
    if (typeof idempotencyKey !== 'string' || !/^[\x20-\x7e]{1,64}$/.test(idempotencyKey))
      throw new ArgumentError('idempotencyKey must be 1–64 printable ASCII characters');
    const id = `${client.length}:${client}/${idempotencyKey}`;
    const hash = requestHash(method, params);
    const refused = await this.#refusal(id, hash);
    if (refused) throw refused;
    if (await this.#ledger.idempotencyOf(client, idempotencyKey)) return replay();
    try {
      return await first();
    } catch (e) {
      const family = hasErrorCode(e, KEYS_ERRORS, 'BAD_MAC1')
        ? 'keys'
        : e instanceof PlatformError && hasErrorCode(e, PLATFORM_ERRORS)
          ? 'platform'
          : undefined;
      if (!family) throw e;
      // Refused before the ledger: bind the key to this refusal (unless a concurrent call under it got further).
      if (await this.#ledger.idempotencyOf(client, idempotencyKey))
        throw new LedgerError(
          'IDEMPOTENCY_CONFLICT',
          `idempotency key ${JSON.stringify(idempotencyKey)} was used for another call`,
        );
      const err = e as PlatformError | IssuerKeyError;
      const value: StoredRefusal = { hash, error: { family, code: err.code, message: err.message } };
      try {
        await this.#ledger.writeRecords([{ collection: REFUSALS, id, value, expectVersion: 0 }]);
      } catch (w) {
        if (!hasErrorCode(w, LEDGER_ERRORS, 'RECORD_CONFLICT')) throw w;
        const again = await this.#refusal(id, hash);
        if (again) throw again;
      }
      throw e;
    }
  }

  /** The stored refusal under `id` as its error, a conflict when it was another call, or `undefined`. */
  async #refusal(id: string, hash: string): Promise<Error | undefined> {
    const r = await this.#ledger.getRecord<StoredRefusal>(REFUSALS, id);
    if (!r) return undefined;
    if (r.value.hash !== hash)
      return new LedgerError('IDEMPOTENCY_CONFLICT', 'this idempotency key was used for another call');
    const { family, code, message } = r.value.error;
    return family === 'keys'
      ? new IssuerKeyError(code as IssuerKeyError['code'], message)
      : new PlatformError(code as PlatformError['code'], message);
  }
}

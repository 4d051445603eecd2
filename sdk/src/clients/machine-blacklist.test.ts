/**
 * The machine side of the signed blacklist: the SDK recomputes the platform's message bytes and verifies the
 * platform's signature (cross-checked with the host's own signer and verifier), and a machine's blacklist moves only
 * by deltas that are signed, from its version, and not older than it. Also: every `/v1/machine` message example fits
 * its schema.
 */
import { blacklistMessage as hostBlacklistMessage } from '@simtap/host/contactless';
import { SoftwareIssuerKeyStore, verifyBlacklistSignature } from '@simtap/host/keys';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { CORE_ERRORS, hasErrorCode } from '@simtap/sdk/core/errors';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { afterAll, describe, expect, it } from 'vitest';
import { blacklistSigner } from '../../test/machine-support';
import {
  applyBlacklistDelta,
  type BlacklistState,
  blacklistMessage,
  blacklistPublicKey,
  MACHINE_MESSAGES,
  MachineConfigSchema,
  verifyBlacklistDelta,
} from './index';

const A = '00004401202600000003';
const B = '00004401202600000004';
const C = '00004401202600000005';

describe('blacklist signatures, cross-checked with the platform (host)', () => {
  const keys = SoftwareIssuerKeyStore.fromProfile(referenceProfile());
  afterAll(() => keys.destroy());

  const deltas = [
    { since: 0, version: 0, added: [], removed: [] },
    { since: 0, version: 3, added: [B, A], removed: [] },
    { since: 3, version: 7, added: [C], removed: [B, A] },
  ];

  it('recomputes the bytes the platform signs', () => {
    for (const d of deltas) expect(toHex(blacklistMessage(d))).toBe(toHex(hostBlacklistMessage(d)));
    expect(new TextDecoder().decode(blacklistMessage(deltas[2]!))).toBe(
      `simtap-blacklist-v1\n3\n7\n+${C}\n-${A}\n-${B}`,
    );
  });

  it("verifies the platform's signatures with Node's Ed25519, and the platform's verifier agrees", async () => {
    const publicKey = await keys.blacklistPublicKey();
    for (const d of deltas) {
      const signature = await keys.signBlacklist(hostBlacklistMessage(d));
      const signed = { ...d, signature: toHex(signature) };
      expect(verifyBlacklistDelta(publicKey, signed)).toBe(true);
      expect(verifyBlacklistDelta(toHex(publicKey), signed)).toBe(true);
      expect(verifyBlacklistSignature(publicKey, blacklistMessage(d), signature)).toBe(true);
      // any change of what was signed: refused
      expect(verifyBlacklistDelta(publicKey, { ...signed, version: d.version + 1 })).toBe(false);
      expect(verifyBlacklistDelta(publicKey, { ...signed, since: d.since + 1 })).toBe(false);
      expect(verifyBlacklistDelta(publicKey, { ...signed, added: [...d.added, '00004401202600000009'] })).toBe(false);
    }
  });

  it('refuses a forged, truncated or non-hex signature and another key', async () => {
    const d = deltas[1]!;
    const signature = toHex(await keys.signBlacklist(hostBlacklistMessage(d)));
    const publicKey = await keys.blacklistPublicKey();
    const flipped = toHex(fromHex(signature).map((b, i) => (i === 10 ? b ^ 1 : b)));
    expect(verifyBlacklistDelta(publicKey, { ...d, signature: flipped })).toBe(false);
    expect(verifyBlacklistDelta(publicKey, { ...d, signature: signature.slice(0, 126) })).toBe(false);
    expect(verifyBlacklistDelta(publicKey, { ...d, signature: `${signature.slice(0, 126)}ZZ` })).toBe(false);
    expect(verifyBlacklistDelta(blacklistSigner().publicKey, { ...d, signature })).toBe(false);
  });

  it('takes the key as 32 bytes or 64 hex digits, nothing else', () => {
    expect(() => blacklistPublicKey(new Uint8Array(31))).toThrow();
    expect(() => blacklistPublicKey('AB'.repeat(33))).toThrow();
    try {
      blacklistPublicKey('not hex');
      expect.unreachable();
    } catch (e) {
      expect(hasErrorCode(e, CORE_ERRORS, 'BAD_ARGUMENT')).toBe(true);
    }
  });
});

describe('applyBlacklistDelta', () => {
  const platform = blacklistSigner();
  const key = platform.publicKey;
  const empty: BlacklistState = { version: 0, serials: new Set() };
  const apply = (state: BlacklistState, d: Parameters<typeof platform.sign>[0]) =>
    applyBlacklistDelta(state, platform.sign(d), key);

  it('applies a whole list, then deltas from its own version', () => {
    const v3 = apply(empty, { since: 0, version: 3, added: [A, B], removed: [] });
    if (!v3.ok) throw new Error(v3.reason);
    expect([...v3.state.serials].sort()).toEqual([A, B]);
    const v5 = apply(v3.state, { since: 3, version: 5, added: [C], removed: [A] });
    if (!v5.ok) throw new Error(v5.reason);
    expect(v5.state.version).toBe(5);
    expect([...v5.state.serials].sort()).toEqual([B, C]);
    expect([...v3.state.serials].sort()).toEqual([A, B]); // pure: the old state is unchanged
    // a whole list of a newer version replaces the list
    const v6 = apply(v5.state, { since: 0, version: 6, added: [A], removed: [] });
    expect(v6.ok && [...v6.state.serials]).toEqual([A]);
    // lower-case serials are kept upper-case
    const lower = apply(empty, { since: 0, version: 1, added: ['0000440120260000000a'], removed: [] });
    expect(lower.ok && [...lower.state.serials]).toEqual(['0000440120260000000A']);
  });

  it('refuses a forged delta, a gap, and an older version (a replay would delist cards)', () => {
    const v5: BlacklistState = { version: 5, serials: new Set([B, C]) };
    const forged = { ...platform.sign({ since: 5, version: 6, added: [], removed: [] }), removed: [B] };
    expect(applyBlacklistDelta(v5, forged, key)).toEqual({ ok: false, reason: 'badSignature' });
    expect(apply(v5, { since: 4, version: 7, added: [], removed: [] })).toEqual({ ok: false, reason: 'blacklistGap' });
    expect(apply(v5, { since: 6, version: 7, added: [], removed: [] })).toEqual({ ok: false, reason: 'blacklistGap' });
    expect(apply(v5, { since: 0, version: 3, added: [], removed: [] })).toEqual({ ok: false, reason: 'stale' });
    expect(apply(v5, { since: 3, version: 4, added: [], removed: [C] })).toEqual({ ok: false, reason: 'stale' });
    // the machine's own version again: nothing changes
    const same = apply(v5, { since: 2, version: 5, added: [], removed: [B] });
    expect(same.ok && [...same.state.serials].sort()).toEqual([B, C]);
  });
});

describe('the /v1/machine catalogue', () => {
  it('has an example of every message that fits its schemas', () => {
    for (const [name, spec] of Object.entries(MACHINE_MESSAGES)) {
      expect(spec.params.safeParse(spec.example.params).success, `${name} params`).toBe(true);
      if (spec.result) {
        const result = (spec.example as { result?: unknown }).result;
        expect(spec.result.safeParse(result).success, `${name} result`).toBe(true);
      }
    }
  });

  it('refuses configs that do not fit (unknown fields, bad times, version 0)', () => {
    const blacklist = blacklistSigner().sign({ since: 0, version: 1, added: [], removed: [] });
    expect(MachineConfigSchema.safeParse({ version: 1, blacklist }).success).toBe(true);
    expect(MachineConfigSchema.safeParse({ version: 0, blacklist }).success).toBe(false);
    expect(MachineConfigSchema.safeParse({ version: 1, blacklist, extra: 1 }).success).toBe(false);
    expect(
      MachineConfigSchema.safeParse({ version: 1, blacklist, doors: [{ door: 'lab', from: '2460', to: '0800' }] })
        .success,
    ).toBe(false);
    expect(
      MachineConfigSchema.safeParse({
        version: 1,
        blacklist,
        doors: [{ door: 'lab', days: [1, 2, 3, 4, 5], from: '0800', to: '2000' }],
        fares: { flat: 200, 'zone-2': 350 },
      }).success,
    ).toBe(true);
    expect(
      MACHINE_MESSAGES['machine.records'].params.safeParse({
        batch: [
          { seq: 2, record: MACHINE_MESSAGES['machine.records'].example.params.batch[0]!.record },
          { seq: 2, record: MACHINE_MESSAGES['machine.records'].example.params.batch[0]!.record },
        ],
      }).success,
    ).toBe(false);
  });
});

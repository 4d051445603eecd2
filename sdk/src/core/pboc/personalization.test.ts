import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../bytes';
import { CORE_ERRORS, hasErrorCode } from '../errors';
import { CARD_KEY_NAMES, cardEf15, cardProfile, referenceProfile } from '../profile';
import { decodeEf15, encodeEf15, encodePinBlock } from './formats';
import {
  DEFAULT_INTERFACE_RULES,
  decodeKeys,
  decodeParameters,
  decodePurseState,
  decodeRecordFile,
  EPURSE_DGI,
  EPURSE_KEY_TYPE,
  epursePersonalizationItems,
  KEY_ENTRY_LENGTH,
} from './personalization';

const profile = referenceProfile();
const card1 = cardProfile('card-1');

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('epursePersonalizationItems', () => {
  it('gives EF 0x15, parameters, EP state, keys and PIN of a profile card, in order, keys and PIN secret', () => {
    const items = epursePersonalizationItems(card1);
    expect(items.map((i) => i.dgi)).toEqual([
      EPURSE_DGI.EF15,
      EPURSE_DGI.PARAMETERS,
      EPURSE_DGI.EP_STATE,
      EPURSE_DGI.KEYS,
      EPURSE_DGI.PIN,
    ]);
    expect(items.map((i) => i.secret)).toEqual([false, false, false, true, true]);
    const [ef15, params, state, keys, pin] = items.map((i) => i.data) as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    expect(toHex(ef15)).toBe(toHex(encodeEf15(cardEf15(card1))));
    expect(toHex(decodeEf15(ef15).applicationSerial)).toBe(toHex(card1.applicationSerial));
    const ep = profile.card.epurse;
    expect(decodeParameters(params)).toEqual({
      maxBalance: ep.maxBalance,
      overdraftLimit: ep.overdraftLimit,
      logRecords: ep.transactionLogRecords,
      macFailureLimit: ep.macFailureLimit,
      pinTryLimit: ep.pinTryLimit,
      rules: DEFAULT_INTERFACE_RULES,
    });
    expect(decodePurseState(state)).toEqual({ balance: card1.initialBalance, online: 0, offline: 0 });
    expect(keys).toHaveLength(6 * KEY_ENTRY_LENGTH);
    expect(decodeKeys(keys)).toEqual(
      CARD_KEY_NAMES.map((type) => ({
        type,
        index: card1.keyIndex,
        version: card1.keyVersion,
        algorithm: card1.algorithmId,
        key: card1.keys[type].key,
      })),
    );
    expect(decodeKeys(keys).map((k) => EPURSE_KEY_TYPE[k.type])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(toHex(pin)).toBe(toHex(encodePinBlock(card1.pin)));
  });

  it('without keys and PIN (a platform that holds no clear card key): the public DGIs only, the same bytes', () => {
    const { keys: _, pin: __, ...publicCard } = card1;
    const items = epursePersonalizationItems(publicCard);
    expect(items.map((i) => i.dgi)).toEqual([EPURSE_DGI.EF15, EPURSE_DGI.PARAMETERS, EPURSE_DGI.EP_STATE]);
    expect(items.map((i) => toHex(i.data))).toEqual(
      epursePersonalizationItems(card1)
        .filter((i) => !i.secret)
        .map((i) => toHex(i.data)),
    );
    const { initialBalance: ___, ...noBalance } = publicCard;
    expect(decodePurseState(epursePersonalizationItems(noBalance)[2]!.data).balance).toBe(0);
  });

  it('applies the overrides: parameters, balance, counters, optional DGIs before the secrets, replacement keys', () => {
    const record = hex`01020304`;
    const items = epursePersonalizationItems(card1, {
      parameters: { maxBalance: 5000, rules: 0x1f },
      balance: -20,
      onlineCounter: 3,
      offlineCounter: 4,
      cardholder: hex`AABB`,
      fciProprietary: hex`9F0801 02`,
      getData: hex`0102`,
      recordFiles: [{ sfi: 0x09, structure: 'linear-fixed', recordSize: 4, maxRecords: 2, records: [record] }],
      keys: [{ type: 'DPK', index: 2, version: 3, algorithm: 0, key: card1.keys.DPK.key }],
    });
    expect(items.map((i) => i.dgi)).toEqual([0x0101, 0x0201, 0x0202, 0x0102, 0x0103, 0x0104, 0x0309, 0x8001, 0x8010]);
    expect(decodeParameters(items[1]!.data)).toMatchObject({ maxBalance: 5000, rules: 0x1f });
    expect(decodePurseState(items[2]!.data)).toEqual({ balance: -20, online: 3, offline: 4 });
    expect(decodeRecordFile(0x09, items[6]!.data).records.map((b) => toHex(b))).toEqual([toHex(record)]);
    expect(decodeKeys(items[7]!.data)).toEqual([
      { type: 'DPK', index: 2, version: 3, algorithm: 0, key: card1.keys.DPK.key },
    ]);
  });

  it('refuses overrides out of range with BAD_ARGUMENT', () => {
    for (const f of [
      () => epursePersonalizationItems(card1, { balance: 2 ** 31 }),
      () => epursePersonalizationItems(card1, { parameters: { pinTryLimit: 0 } }),
      () => epursePersonalizationItems(card1, { onlineCounter: 0x10000 }),
      () => epursePersonalizationItems({ ...card1, pin: '12a4' }),
      () => epursePersonalizationItems({ ...card1, keyIndex: 256 }),
    ])
      expect(hasErrorCode(thrown(f), CORE_ERRORS, 'BAD_ARGUMENT')).toBe(true);
  });
});

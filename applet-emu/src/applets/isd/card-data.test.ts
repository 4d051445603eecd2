import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { cardProfile } from '@simtap/sdk/core/profile';
import { decodeTlv, findTlv } from '@simtap/sdk/core/tlv';
import { describe, expect, it } from 'vitest';
import { buildCplc, CPLC_FIELDS, CPLC_LENGTH, cardData, isdFci, keyInformationTemplate, parseCplc } from './card-data';

describe('CPLC', () => {
  it('has 18 fields adding up to 42 bytes', () => {
    expect(CPLC_FIELDS).toHaveLength(18);
    expect(CPLC_FIELDS.reduce((n, [, len]) => n + len, 0)).toBe(CPLC_LENGTH);
  });

  it('is built from the ICCID and the application serial of each card, the rest fixed', () => {
    const serials = new Set<string>();
    for (const label of ['card-1', 'card-2', 'card-3']) {
      const c = cardProfile(label);
      const cplc = buildCplc(c.iccid, c.applicationSerial);
      expect(cplc.length).toBe(42);
      const f = parseCplc(cplc);
      expect(toHex(f.icSerialNumber!)).toBe(toHex(c.applicationSerial.subarray(6)));
      expect(toHex(f.icBatchIdentifier!)).toBe(c.iccid.slice(8, 12));
      expect(toHex(f.icFabricator!)).toBe('5354');
      expect(toHex(f.icPersonalizationDate!)).toBe('6001');
      serials.add(toHex(f.icSerialNumber!));
    }
    expect(serials.size).toBe(3);
    expect(toHex(buildCplc('8986004401202600010', hex`01020304`).subarray(16, 18))).toBe('0120');
  });

  it('refuses a malformed ICCID or a short serial', () => {
    expect(() => buildCplc('89860', hex`01020304`)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => buildCplc('8986004401202600010X', hex`01020304`)).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENT' }),
    );
    expect(() => buildCplc('8986004401202600010F', hex`010203`)).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENT' }),
    );
    expect(() => parseCplc(new Uint8Array(41))).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });
});

describe('card recognition data, key information, FCI', () => {
  it('card data: GP OIDs, version 2.3.1, one SCP entry per protocol', () => {
    const data = cardData([
      { scp: 3, i: 0x70 },
      { scp: 2, i: 0x55 },
    ]);
    const t = decodeTlv(data);
    const rec = findTlv(t, '66/73')!.children!;
    expect(rec.map((c) => c.tag.toString(16))).toEqual(['6', '60', '63', '64', '64']);
    expect(toHex(rec[0]!.value)).toBe('2A864886FC6B01');
    expect(toHex(rec[1]!.value)).toBe('060A2A864886FC6B02020301');
    expect(toHex(rec[3]!.value)).toBe('06092A864886FC6B040370');
    expect(toHex(rec[4]!.value)).toBe('06092A864886FC6B040255');
    expect(() => cardData([{ scp: 3, i: 0x80 }])).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });

  it('key information template: one C0 per key', () => {
    expect(
      toHex(
        keyInformationTemplate([
          { kid: 1, kvn: 0x30, type: 0x88, length: 16 },
          { kid: 2, kvn: 0x30, type: 0x88, length: 32 },
        ]),
      ),
    ).toBe('E00CC00401308810C00402308820');
  });

  it('FCI: 6F { 84 AID, A5 { 73 …, 9F65 FF } }', () => {
    const aid = fromHex('A000000151000000');
    const fci = decodeTlv(isdFci(aid, [{ scp: 3, i: 0x70 }]));
    expect(toHex(findTlv(fci, '6F/84')!.value)).toBe('A000000151000000');
    expect(toHex(findTlv(fci, '6F/A5/9F65')!.value)).toBe('FF');
    expect(findTlv(fci, '6F/A5/73')!.children).toHaveLength(4);
  });
});

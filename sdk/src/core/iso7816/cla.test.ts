import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../errors';
import { claChannel, decodeCla, withChannel } from './cla';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('decodeCla', () => {
  it('00..03: first interindustry, channels 0-3, no SM', () => {
    for (let c = 0; c <= 3; c++)
      expect(decodeCla(c)).toEqual({
        kind: 'interindustry-first',
        channel: c,
        chaining: false,
        sm: 'none',
        gpSecureMessaging: false,
      });
  });

  it('first interindustry SM indications and chaining (04, 08, 0C, 10, 1F)', () => {
    expect(decodeCla(0x04)).toMatchObject({ sm: 'proprietary', gpSecureMessaging: true, channel: 0 });
    expect(decodeCla(0x08)).toMatchObject({ sm: 'header-not-authenticated', gpSecureMessaging: false });
    expect(decodeCla(0x0c)).toMatchObject({ sm: 'header-authenticated', gpSecureMessaging: false });
    expect(decodeCla(0x10)).toMatchObject({ kind: 'interindustry-first', chaining: true, sm: 'none', channel: 0 });
    expect(decodeCla(0x1f)).toMatchObject({ chaining: true, sm: 'header-authenticated', channel: 3 });
  });

  it('40..4F: further interindustry, channels 4-19', () => {
    for (let i = 0; i < 16; i++)
      expect(decodeCla(0x40 + i)).toEqual({
        kind: 'interindustry-further',
        channel: 4 + i,
        chaining: false,
        sm: 'none',
        gpSecureMessaging: false,
      });
  });

  it('60..7F: further interindustry with SM (b6) and chaining (b5)', () => {
    for (let i = 0; i < 16; i++)
      expect(decodeCla(0x60 + i)).toMatchObject({ channel: 4 + i, sm: 'sm', gpSecureMessaging: true, chaining: false });
    expect(decodeCla(0x50)).toMatchObject({ channel: 4, sm: 'none', chaining: true });
    expect(decodeCla(0x7f)).toMatchObject({ channel: 19, sm: 'sm', chaining: true });
  });

  it('80..83 proprietary channels 0-3, 84 GP secure messaging', () => {
    for (let c = 0; c <= 3; c++)
      expect(decodeCla(0x80 + c)).toEqual({
        kind: 'proprietary',
        channel: c,
        chaining: false,
        sm: 'none',
        gpSecureMessaging: false,
      });
    expect(decodeCla(0x84)).toEqual({
      kind: 'proprietary',
      channel: 0,
      chaining: false,
      sm: 'proprietary',
      gpSecureMessaging: true,
    });
    expect(decodeCla(0x87)).toMatchObject({ channel: 3, gpSecureMessaging: true });
  });

  it('C0..CF proprietary channels 4-19, E0..EF with GP SM', () => {
    for (let i = 0; i < 16; i++) {
      expect(decodeCla(0xc0 + i)).toEqual({
        kind: 'proprietary',
        channel: 4 + i,
        chaining: false,
        sm: 'none',
        gpSecureMessaging: false,
      });
      expect(decodeCla(0xe0 + i)).toEqual({
        kind: 'proprietary',
        channel: 4 + i,
        chaining: false,
        sm: 'sm',
        gpSecureMessaging: true,
      });
    }
  });

  it('FF and the reserved 20..3F are invalid', () => {
    for (const c of [0xff, 0x20, 0x2c, 0x3f])
      expect(decodeCla(c)).toEqual({
        kind: 'invalid',
        channel: 0,
        chaining: false,
        sm: 'none',
        gpSecureMessaging: false,
      });
  });

  it('GSM class A0 is proprietary channel 0', () => {
    expect(decodeCla(0xa0)).toMatchObject({ kind: 'proprietary', channel: 0, sm: 'none' });
  });

  it('rejects non-bytes with ArgumentError', () => {
    for (const bad of [-1, 256, 1.5, Number.NaN, '1' as unknown as number])
      expect(() => decodeCla(bad)).toThrow(ArgumentError);
  });

  it('returns shared frozen objects', () => {
    expect(decodeCla(0x84)).toBe(decodeCla(0x84));
    expect(Object.isFrozen(decodeCla(0x84))).toBe(true);
  });
});

describe('claChannel / withChannel', () => {
  it('claChannel reads the channel of both forms', () => {
    expect(claChannel(0x03)).toBe(3);
    expect(claChannel(0x84)).toBe(0);
    expect(claChannel(0x4f)).toBe(19);
    expect(claChannel(0xe1)).toBe(5);
    expect(claChannel(0xff)).toBe(0);
  });

  it('re-encodes known values', () => {
    expect(withChannel(0x00, 1)).toBe(0x01);
    expect(withChannel(0x00, 4)).toBe(0x40);
    expect(withChannel(0x00, 19)).toBe(0x4f);
    expect(withChannel(0x80, 4)).toBe(0xc0);
    expect(withChannel(0x84, 5)).toBe(0xe1);
    expect(withChannel(0x04, 4)).toBe(0x60);
    expect(withChannel(0x10, 4)).toBe(0x50);
    expect(withChannel(0xe1, 2)).toBe(0x86);
    expect(withChannel(0x61, 0)).toBe(0x04);
    expect(withChannel(0x4f, 3)).toBe(0x03);
    expect(withChannel(0x0c, 2)).toBe(0x0e);
    expect(withChannel(0xa0, 1)).toBe(0xa1);
  });

  it('ISO SM 08 moved to a further channel comes back as GP-style 04 (documented lossy mapping)', () => {
    expect(withChannel(0x08, 4)).toBe(0x60);
    expect(withChannel(withChannel(0x08, 4), 0)).toBe(0x04);
  });

  it('round-trips channels 0-19 for 00, 04, 10, 80, 84, 90', () => {
    for (const base of [0x00, 0x04, 0x10, 0x80, 0x84, 0x90]) {
      const info0 = decodeCla(base);
      for (let ch = 0; ch <= 19; ch++) {
        const c = withChannel(base, ch);
        const info = decodeCla(c);
        expect(info.channel).toBe(ch);
        expect(info.chaining).toBe(info0.chaining);
        expect(info.gpSecureMessaging).toBe(info0.gpSecureMessaging);
        expect(info.kind === 'proprietary').toBe(info0.kind === 'proprietary');
        expect(claChannel(c)).toBe(ch);
        expect(withChannel(c, 0)).toBe(base);
        for (let ch2 = 0; ch2 <= 19; ch2++) expect(withChannel(c, ch2)).toBe(withChannel(base, ch2));
      }
    }
  });

  it('throws ArgumentError for channel > 19, invalid classes and inexpressible combinations', () => {
    expect(codeOf(() => withChannel(0x00, 20))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => withChannel(0x00, -1))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => withChannel(0xff, 0))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => withChannel(0x20, 0))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => withChannel(0x0c, 4))).toBe('BAD_ARGUMENT');
    expect(codeOf(() => withChannel(0xa0, 4))).toBe('BAD_ARGUMENT');
  });
});

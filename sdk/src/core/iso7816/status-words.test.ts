import { describe, expect, it } from 'vitest';
import { ArgumentError, SimtapError } from '../errors';
import { command, parseResponseApdu } from './apdu';
import {
  ApplicationLockedError,
  bytesAvailableSw,
  ConditionsNotSatisfiedError,
  checkSw,
  describeSw,
  formatSw,
  InsufficientBalanceError,
  IsoException,
  isBytesAvailable,
  isOk,
  isPinWrong,
  isSuccess,
  isWarning,
  isWrongLe,
  pinTriesLeft,
  pinWrongSw,
  SecurityStatusError,
  StatusWordError,
  SW,
  SW_INFO,
  statusWordError,
  wrongLeSw,
} from './status-words';

describe('SW table and catalogue', () => {
  it('covers every status word of docs/spec.md §7', () => {
    const required = [
      0x9000, 0x6100, 0x6c00, 0x6281, 0x6282, 0x6283, 0x6300, 0x63c0, 0x6581, 0x6700, 0x6881, 0x6882, 0x6884, 0x6900,
      0x6901, 0x6981, 0x6982, 0x6983, 0x6984, 0x6985, 0x6986, 0x6987, 0x6988, 0x6a80, 0x6a81, 0x6a82, 0x6a83, 0x6a84,
      0x6a86, 0x6a88, 0x6b00, 0x6d00, 0x6e00, 0x6f00, 0x9302, 0x9303, 0x9401, 0x9402, 0x9403, 0x9406,
    ];
    const values = new Set<number>(Object.values(SW));
    for (const sw of required) {
      expect(values.has(sw), formatSw(sw)).toBe(true);
      expect(SW_INFO[sw], formatSw(sw)).toBeDefined();
    }
  });

  it('has unique values, and SW_INFO names agree with SW', () => {
    const entries = Object.entries(SW);
    expect(new Set(entries.map(([, v]) => v)).size).toBe(entries.length);
    for (const [name, sw] of entries) {
      const info = SW_INFO[sw]!;
      expect(info.name).toBe(name);
      expect(info.meaning.length).toBeGreaterThan(3);
      expect(['ISO 7816-4', 'PBOC', 'GP']).toContain(info.source);
    }
    expect(Object.keys(SW_INFO).length).toBe(entries.length);
  });

  it('attributes sources', () => {
    expect(SW_INFO[0x9401]!.source).toBe('PBOC');
    expect(SW_INFO[0x6901]!.source).toBe('PBOC');
    expect(SW_INFO[0x6300]!.source).toBe('GP');
    expect(SW_INFO[0x6a82]!.source).toBe('ISO 7816-4');
  });
});

describe('describeSw / formatSw', () => {
  it('describes catalogue entries', () => {
    expect(describeSw(0x9000)).toBe('normal processing');
    expect(describeSw(0x6a82)).toBe('file or application not found');
    expect(describeSw(0x9401)).toBe('insufficient balance');
    expect(describeSw(0x6985)).toBe('conditions of use not satisfied');
  });

  it('describes the families', () => {
    expect(describeSw(0x6120)).toBe('32 bytes available');
    expect(describeSw(0x6100)).toBe('256 or more bytes available');
    expect(describeSw(0x6c2a)).toBe('wrong Le, exact length is 42');
    expect(describeSw(0x6c00)).toBe('wrong Le, exact length is 256');
    expect(describeSw(0x63c2)).toBe('verification failed, 2 tries left');
    expect(describeSw(0x63c1)).toBe('verification failed, 1 try left');
    expect(describeSw(0x63c0)).toBe('verification failed, 0 tries left');
  });

  it('unknown → "unknown status word"', () => {
    expect(describeSw(0x6a99)).toBe('unknown status word');
    expect(describeSw(0x1234)).toBe('unknown status word');
  });

  it('formats four upper-case hex digits', () => {
    expect(formatSw(0x6a82)).toBe('6A82');
    expect(formatSw(0x0001)).toBe('0001');
    expect(() => formatSw(0x10000)).toThrow(ArgumentError);
  });
});

describe('classification and family helpers', () => {
  it('isOk / isSuccess: 9000 and 61xx', () => {
    for (const sw of [0x9000, 0x6100, 0x6120]) expect(isOk(sw)).toBe(true);
    for (const sw of [0x6283, 0x6300, 0x6a82, 0x9001]) expect(isOk(sw)).toBe(false);
    expect(isSuccess).toBe(isOk);
  });

  it('isWarning: 62xx and 63xx', () => {
    for (const sw of [0x6281, 0x6283, 0x6300, 0x63c3]) expect(isWarning(sw)).toBe(true);
    for (const sw of [0x9000, 0x6120, 0x6400, 0x6a82]) expect(isWarning(sw)).toBe(false);
  });

  it('builds and recognises family members', () => {
    expect(bytesAvailableSw(0x20)).toBe(0x6120);
    expect(bytesAvailableSw(256)).toBe(0x6100);
    expect(bytesAvailableSw(1000)).toBe(0x6100);
    expect(wrongLeSw(0x2a)).toBe(0x6c2a);
    expect(wrongLeSw(256)).toBe(0x6c00);
    expect(() => wrongLeSw(0)).toThrow(ArgumentError);
    expect(pinWrongSw(3)).toBe(0x63c3);
    expect(() => pinWrongSw(16)).toThrow(ArgumentError);
    expect(pinTriesLeft(0x63c3)).toBe(3);
    expect(pinTriesLeft(0x6300)).toBeUndefined();
    expect(isBytesAvailable(0x6110)).toBe(true);
    expect(isWrongLe(0x6c10)).toBe(true);
    expect(isPinWrong(0x63cf)).toBe(true);
    expect(isPinWrong(0x6300)).toBe(false);
  });
});

describe('terminal-side errors', () => {
  it('StatusWordError carries sw, code SW_xxxx, command and a described message', () => {
    const cmd = command(0x00, 0xa4, 0x04, 0x00);
    const e = new StatusWordError(0x6a82, cmd);
    expect(e).toBeInstanceOf(SimtapError);
    expect(e.code).toBe('SW_6A82');
    expect(e.sw).toBe(0x6a82);
    expect(e.command).toBe(cmd);
    expect(e.message).toContain('file or application not found');
    expect(e.message).toContain('00 A4 04 00');
    expect(new StatusWordError(0x9401, 'DEBIT').message).toContain('DEBIT');
    expect(e.name).toBe('StatusWordError');
  });

  it('statusWordError picks the subclass integrators act on', () => {
    const cases: Array<[number, new (...a: never[]) => StatusWordError]> = [
      [0x9401, InsufficientBalanceError],
      [0x6982, SecurityStatusError],
      [0x6988, SecurityStatusError],
      [0x9302, SecurityStatusError],
      [0x6300, SecurityStatusError],
      [0x9303, ApplicationLockedError],
      [0x6283, ApplicationLockedError],
      [0x6985, ConditionsNotSatisfiedError],
    ];
    for (const [sw, cls] of cases) {
      const e = statusWordError(sw, 'X');
      expect(e, formatSw(sw)).toBeInstanceOf(cls);
      expect(e.code).toBe(`SW_${formatSw(sw)}`);
      expect(e.name).toBe(cls.name);
    }
    const plain = statusWordError(0x6a82);
    expect(plain.constructor).toBe(StatusWordError);
  });

  it('checkSw returns the response on 9000 and throws otherwise (61xx included)', () => {
    const ok = parseResponseApdu(Uint8Array.of(1, 2, 0x90, 0x00));
    expect(checkSw(ok)).toBe(ok);
    expect(() => checkSw(parseResponseApdu(Uint8Array.of(0x94, 0x01)), 'DEBIT')).toThrow(InsufficientBalanceError);
    expect(() => checkSw(parseResponseApdu(Uint8Array.of(0x61, 0x10)))).toThrow(StatusWordError);
  });
});

describe('card side', () => {
  it('IsoException.throwIt throws an IsoException carrying the SW', () => {
    let caught: unknown;
    try {
      IsoException.throwIt(SW.WRONG_LENGTH);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(IsoException);
    expect((caught as IsoException).sw).toBe(0x6700);
    expect((caught as IsoException).name).toBe('IsoException');
    expect(() => new IsoException(0x1_0000)).toThrow(ArgumentError);
  });
});

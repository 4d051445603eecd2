/**
 * The card's answers to reset (issue 15: SIM tools must see a UICC): the contact ATR, the contactless ATS and the
 * ATR a PC/SC reader builds from it, read by a small ISO/IEC 7816-3 parser here, then by pcsc-tools' ATR_analysis.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, toHex } from '@simtap/sdk/core/bytes';
import { afterAll, describe, expect, it } from 'vitest';
import { pcscContactlessAtr } from '../../src/cli/card-port';
import { Card, DEFAULT_ATR_HEX, DEFAULT_ATS_HEX } from '../../src/runtime/card';

// ---------------------------------------------------------------- ISO/IEC 7816-3 §8.2 ATR parser

interface Atr {
  ts: number;
  k: number;
  /** Interface bytes by name: `TA1`, `TB3`, `TD2`, … */
  iface: Record<string, number>;
  /** T of every TDi, in order. */
  protocols: number[];
  historical: Uint8Array;
  tck?: number;
}

/** Parses an ATR (ISO/IEC 7816-3 §8.2); throws on anything short, long or with a bad TCK. */
function parseAtr(atr: Uint8Array): Atr {
  let pos = 0;
  const next = (what: string): number => {
    const b = atr[pos++];
    if (b === undefined) throw new Error(`ATR ends before ${what} (§8.2)`);
    return b;
  };
  const ts = next('TS');
  if (ts !== 0x3b && ts !== 0x3f) throw new Error(`TS ${toHex(Uint8Array.of(ts))} is neither 3B nor 3F (§8.1)`);
  const t0 = next('T0');
  const k = t0 & 15;
  let y = t0 >> 4;
  const iface: Record<string, number> = {};
  const protocols: number[] = [];
  for (let i = 1; y !== 0; i++) {
    for (const [bit, name] of [
      [1, 'TA'],
      [2, 'TB'],
      [4, 'TC'],
    ] as const)
      if (y & bit) iface[`${name}${i}`] = next(`${name}${i}`);
    if (y & 8) {
      const td = next(`TD${i}`);
      iface[`TD${i}`] = td;
      protocols.push(td & 15);
      y = td >> 4;
    } else y = 0;
  }
  const historical = atr.slice(pos, pos + k);
  if (historical.length < k) throw new Error(`${k - historical.length} historical bytes missing (T0 says K=${k})`);
  pos += k;
  // §8.2.5: TCK is present unless only T=0 is indicated.
  const tckPresent = protocols.some((t) => t !== 0);
  const out: Atr = { ts, k, iface, protocols, historical };
  if (tckPresent) {
    out.tck = next('TCK');
    const x = atr.subarray(1, pos).reduce((a, b) => a ^ b, 0);
    if (x !== 0) throw new Error(`TCK ${toHex(Uint8Array.of(out.tck))}: XOR of T0..TCK is ${x}, not 0 (§8.2.5)`);
  }
  if (pos !== atr.length) throw new Error(`${atr.length - pos} bytes after the ATR`);
  return out;
}

interface Historical {
  category: number;
  objects: { tag: number; value: Uint8Array }[];
  status: { lcs: number; sw: number };
}

/** Historical bytes of category 00 (ISO/IEC 7816-4 §8.1.1): COMPACT-TLV objects, then the 3-byte status indicator. */
function parseHistorical(h: Uint8Array): Historical {
  if (h[0] !== 0x00) throw new Error(`category indicator ${toHex(h.subarray(0, 1))}, expected 00`);
  if (h.length < 4) throw new Error('no room for the status indicator');
  const end = h.length - 3;
  const objects: { tag: number; value: Uint8Array }[] = [];
  let pos = 1;
  while (pos < end) {
    const tag = h[pos]! >> 4;
    const len = h[pos]! & 15;
    if (pos + 1 + len > end) throw new Error(`COMPACT-TLV ${tag.toString(16)}${len.toString(16)} runs into the status`);
    objects.push({ tag, value: h.slice(pos + 1, pos + 1 + len) });
    pos += 1 + len;
  }
  return { category: 0, objects, status: { lcs: h[end]!, sw: (h[end + 1]! << 8) | h[end + 2]! } };
}

/** ISO/IEC 14443-4 §5.2 ATS: TL, T0 (b7 TC, b6 TB, b5 TA, b4–b1 FSCI), TA, TB, TC, historical bytes. */
function parseAts(ats: Uint8Array): { fsci: number; ta?: number; tb?: number; tc?: number; historical: Uint8Array } {
  const tl = ats[0];
  if (tl !== ats.length) throw new Error(`TL ${tl} but ${ats.length} bytes`);
  const t0 = ats[1]!;
  if (t0 & 0x80) throw new Error('T0 b8 must be 0');
  let pos = 2;
  const out: { fsci: number; ta?: number; tb?: number; tc?: number; historical: Uint8Array } = {
    fsci: t0 & 15,
    historical: new Uint8Array(0),
  };
  if (t0 & 0x10) out.ta = ats[pos++]!;
  if (t0 & 0x20) out.tb = ats[pos++]!;
  if (t0 & 0x40) out.tc = ats[pos++]!;
  if (pos > tl) throw new Error('interface bytes past TL');
  out.historical = ats.slice(pos, tl);
  return out;
}

const ATR = fromHex(DEFAULT_ATR_HEX);
const ATS = fromHex(DEFAULT_ATS_HEX);
const HISTORICAL = '006646530510001171DF059000';

describe('the contact ATR', () => {
  it('is what a powered card answers', () => {
    const card = new Card();
    expect(toHex(card.powerOn('contact'))).toBe(toHex(ATR));
    expect(toHex(card.reset('contact'))).toBe(toHex(ATR));
  });

  it('parses per ISO/IEC 7816-3 §8.2: K=13, T=0 and T=1, TCK checks, nothing left over', () => {
    const a = parseAtr(ATR);
    expect(a.ts).toBe(0x3b);
    expect(a.k).toBe(13);
    expect(a.iface).toEqual({ TA1: 0x95, TD1: 0x80, TD2: 0x31, TA3: 0xfe, TB3: 0x9f });
    expect(a.protocols).toEqual([0, 1]);
    expect(a.tck).toBe(ATR.at(-1));
    expect(ATR.subarray(1).reduce((x, b) => x ^ b, 0)).toBe(0);
    expect(toHex(a.historical)).toBe(HISTORICAL);
  });

  it('carries category 00 historical bytes: 66 pre-issuing data, 71 card capabilities, status 05 9000', () => {
    const h = parseHistorical(parseAtr(ATR).historical);
    expect(h.objects.map((o) => [o.tag, toHex(o.value)])).toEqual([
      [6, '465305100011'],
      [7, 'DF'],
    ]);
    expect(h.status).toEqual({ lcs: 0x05, sw: 0x9000 });
  });

  it('the parser rejects a bad TCK, a missing historical byte and a trailing byte', () => {
    const badTck = ATR.slice();
    badTck[badTck.length - 1]! ^= 1;
    expect(() => parseAtr(badTck)).toThrow(/TCK/);
    expect(() => parseAtr(Uint8Array.from([...ATR.subarray(0, 8), ...ATR.subarray(9)]))).toThrow(/TCK|missing/);
    expect(() => parseAtr(Uint8Array.from([...ATR, 0]))).toThrow(/after the ATR/);
  });
});

describe('the contactless ATS and the PC/SC ATR made from it', () => {
  it('is what the contactless interface answers; TA/TB/TC per T0; the same 13 historical bytes', () => {
    expect(toHex(new Card().powerOn('contactless'))).toBe(toHex(ATS));
    const s = parseAts(ATS);
    expect(s).toMatchObject({ fsci: 8, ta: 0x80, tb: 0x70, tc: 0x02 });
    expect(toHex(s.historical)).toBe(HISTORICAL);
  });

  it('gives 3B 8D 80 01 ‖ historical bytes ‖ TCK (PC/SC part 3 §3.1.3.2.3.1), which parses', () => {
    const atr = pcscContactlessAtr(ATS);
    expect(toHex(atr.subarray(0, 4))).toBe('3B8D8001');
    const a = parseAtr(atr);
    expect(a.iface).toEqual({ TD1: 0x80, TD2: 0x01 });
    expect(a.protocols).toEqual([0, 1]);
    expect(toHex(a.historical)).toBe(HISTORICAL);
    expect(parseHistorical(a.historical).status).toEqual({ lcs: 0x05, sw: 0x9000 });
  });
});

// ---------------------------------------------------------------- pcsc-tools' ATR_analysis

/** ANSI SGR sequences (ATR_analysis colours its output). */
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;]*m`, 'g');

const SKIP_LINE =
  'the ATR analysis of pcsc-tools skipped: ATR_analysis is missing; enable with `sudo apt-get install pcsc-tools`';

function atrAnalysisInstalled(): boolean {
  const r = spawnSync('ATR_analysis', ['-v'], { encoding: 'utf8', timeout: 10_000 });
  return r.error === undefined && r.status === 0;
}

const haveAtrAnalysis = atrAnalysisInstalled();
if (!haveAtrAnalysis) {
  // Under CI=true a failure, not a skip (as postgresForTests in host/src/testing/postgres.ts); the parser tests
  // above still run and report.
  if (process.env.CI === 'true')
    it('has ATR_analysis (CI=true)', () => {
      throw new Error(`CI=true, so this is a failure, not a skip: ${SKIP_LINE}`);
    });
  else console.warn(SKIP_LINE);
}

describe.skipIf(!haveAtrAnalysis)('ATR_analysis (pcsc-tools)', () => {
  // ATR_analysis downloads a newer smartcard_list.txt when its cached one is missing or older than 10 hours and
  // the ATR is not listed. A fresh copy of the installed list in a cache of our own keeps it off the network.
  const cache = mkdtempSync(join(tmpdir(), 'simtap-atr-analysis-'));
  const list = join(cache, 'smartcard_list.txt');
  if (existsSync('/usr/share/pcsc/smartcard_list.txt')) copyFileSync('/usr/share/pcsc/smartcard_list.txt', list);
  else writeFileSync(list, '');
  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  /** The analysis of `atr` (ANSI colours removed) and the lines that report a problem. */
  function analyse(atr: Uint8Array): { text: string; problems: string[] } {
    const spaced = toHex(atr).replace(/(..)(?!$)/g, '$1 ');
    const text = execFileSync('ATR_analysis', [spaced], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, HOME: cache, XDG_CACHE_HOME: cache },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).replace(ANSI_COLOUR, '');
    const problems = text
      .split('\n')
      .filter((l) => /error|wrong|not correct|truncated|too long|\(unknown\)|RFU|Updating/i.test(l));
    // A T=1 ATR must end with a checked TCK; without that line the last byte was taken as historical.
    if (!/^\+ TCK = [0-9A-F]{2} \(correct checksum\)$/m.test(text)) problems.push('no "(correct checksum)" TCK line');
    return { text, problems };
  }

  const contactless = pcscContactlessAtr(ATS);
  const corrupt = (atr: Uint8Array, how: 'tck' | 'drop'): Uint8Array => {
    if (how === 'drop') return Uint8Array.from([...atr.subarray(0, atr.length - 3), ...atr.subarray(-2)]);
    const c = atr.slice();
    c[c.length - 1]! ^= 0x01;
    return c;
  };

  it.each([
    ['contact', ATR],
    ['PC/SC contactless', contactless],
  ])('finds nothing wrong with the %s ATR', (_, atr) => {
    const { text, problems } = analyse(atr);
    expect(problems).toEqual([]);
    expect(text).toContain('Historical bytes: 00 66 46 53 05 10 00 11 71 DF 05 90 00');
    expect(text).toContain('LCS (life card cycle): 05 (Operational state (activated))');
    expect(text).toContain('SW: 9000 (Normal processing.)');
    expect(text).toMatch(/Protocol T = 1/);
  });

  it.each([
    ['contact', ATR, 'tck'],
    ['contact', ATR, 'drop'],
    ['PC/SC contactless', contactless, 'tck'],
    ['PC/SC contactless', contactless, 'drop'],
  ] as const)('reports the %s ATR with a corrupted %s (so the check can fail)', (_, atr, how) => {
    expect(analyse(corrupt(atr, how)).problems).not.toEqual([]);
  });
});

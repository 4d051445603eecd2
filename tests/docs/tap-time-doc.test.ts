/**
 * docs/tap-time.md and docs/tap-time.svg stay true: the numbers are recomputed from the real flows with
 * `tapTimeFigures()` (scripts/tap-time-figure.ts) and must be the ones the doc's tables and the figure's bars carry,
 * to 0.1 ms (run `npm run docs:tap-time` after changing the model).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatTapSplit } from '@simtap/sdk/core/iso14443';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  docBlocks,
  FLOWS,
  fillDoc,
  PARTS,
  root,
  TAP_PROFILES,
  type TapTimeFigures,
  tapTimeFigures,
  tapTimeSvg,
} from '../../scripts/tap-time-figure';

const DOC = readFileSync(join(root, 'docs/tap-time.md'), 'utf8');
const SVG = readFileSync(join(root, 'docs/tap-time.svg'), 'utf8');
const ms1 = (us: number) => (us / 1000).toFixed(1);

let fig: TapTimeFigures;
beforeAll(async () => {
  fig = await tapTimeFigures();
});

describe('docs/tap-time.md', () => {
  it('carries every generated table as the model computes it', () => {
    expect(fillDoc(DOC, docBlocks(fig))).toBe(DOC);
  });

  it("has a row per flow × profile whose split adds up to the bar's total (0.1 ms)", () => {
    expect(fig.bars).toHaveLength(FLOWS.length * TAP_PROFILES.length);
    const rows = DOC.split('\n').filter((l) => /^\| .+ \| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| \*\*/.test(l));
    expect(rows).toHaveLength(fig.bars.length);
    for (const [i, b] of fig.bars.entries()) {
      const cells = rows[i]!.split('|').map((c) => c.trim());
      const [reader, air, link, card, total, transaction] = cells.slice(4, 10).map((c) => Number(c.replace(/\*/g, '')));
      expect([reader, air, link, card]).toEqual(
        [b.split.readerUs, b.split.airUs, b.split.linkUs, b.split.cardUs].map((us) => Number(ms1(us))),
      );
      expect(total).toBe(Number(ms1(b.totalUs)));
      expect(transaction).toBe(Number(ms1(b.transactionUs)));
      expect(Math.abs(reader! + air! + link! + card! - total!)).toBeLessThanOrEqual(0.2); // each part rounded
    }
  });

  it('states the calibration ties that hold, and shows the figure', () => {
    for (const t of fig.ties) {
      if (t.below === true) expect(t.modelledMs).toBeLessThan(t.publishedMs);
      else expect(Math.abs(t.modelledMs / t.publishedMs - 1)).toBeLessThanOrEqual(0.25);
    }
    expect(DOC).not.toMatch(/\| NO \|$/m);
    expect(DOC).toContain('](tap-time.svg)');
  });

  it("quotes formatTapTime's split of the NFC SIM's metro exit as the model prints it", () => {
    const exit = fig.bars.find((b) => b.profile === 'nfc-sim' && b.flow === 'metro-exit')!;
    const printed = formatTapSplit({ split: exit.split } as Parameters<typeof formatTapSplit>[0]);
    expect(DOC).toContain(`≈ ${ms1(exit.totalUs)} ms at 106 kbit/s (${printed})`);
  });
});

describe('docs/tap-time.svg', () => {
  it('is the figure the script draws', () => {
    expect(SVG).toBe(tapTimeSvg(fig.bars));
  });

  it('has one bar per flow × profile, each part and the total to 0.1 ms, nothing external', () => {
    for (const b of fig.bars) {
      for (const p of PARTS) {
        const us = b.split[p.field];
        const re = new RegExp(
          `data-flow='${b.flow}' data-profile='${b.profile}' data-part='${p.name}' data-ms='([\\d.]+)'`,
        );
        const m = SVG.match(re);
        if (us === 0) expect(m, `${b.profile} ${b.flow} ${p.name}`).toBeNull();
        else expect(m?.[1], `${b.profile} ${b.flow} ${p.name}`).toBe(ms1(us));
      }
      const total = SVG.match(
        new RegExp(`data-flow='${b.flow}' data-profile='${b.profile}' data-total-ms='([\\d.]+)'`),
      );
      expect(total?.[1]).toBe(ms1(b.totalUs));
      expect(SVG).toContain(`>${ms1(b.totalUs)} ms`);
    }
    for (const p of PARTS) expect(SVG).toContain(p.legend);
    expect(SVG).not.toMatch(/href=|@import|url\(/);
  });
});

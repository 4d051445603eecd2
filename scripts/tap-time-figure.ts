/**
 * `npm run docs:tap-time`: where the time of a tap goes, per tap profile, on the real flows.
 *
 * Runs a till's purchase and a metro exit (after its entry) with the SDK's machines (`ConsumptionMachine`, a
 * `PsamDriver` over the real PSAM applet) against an emulated SIM (`createSim`, the real e-purse), captures each
 * tap's exchanges from outside the card (`card.observe`), and estimates them under the four tap profiles of
 * issue 16 with the reader that fits the flow (a purchase at a shop till, an exit at a metro gate). Writes
 * `docs/tap-time.svg` (a stacked bar per flow × profile: reader / air / link / card) and the generated tables of
 * `docs/tap-time.md` (between their `<!-- tap-time:NAME -->` markers); `tests/docs/tap-time-doc.test.ts` recomputes
 * both with {@link tapTimeFigures} and fails when a committed file is stale.
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPsam } from '@simtap/applet-emu/applets/psam';
import type { Card } from '@simtap/applet-emu/runtime';
import { createSim } from '@simtap/applet-emu/sim';
import { InProcessChannel } from '@simtap/sdk/card';
import {
  CARD_PROCESSING,
  cardProcessingUs,
  commandCost,
  estimateTapTime,
  ISO14443_106,
  ISO14443_212,
  ISO14443_424,
  ISO14443_848,
  type LinkProfile,
  READERS,
  type ReaderName,
  RFSIM_2G4,
  SIM_LINKS,
  type TapExchange,
  type TapTimeEstimate,
  type TapTimeOptions,
  type TapTimeSplit,
} from '@simtap/sdk/core/iso14443';
import { ConsumptionMachine, distanceFare, fixedClock, PsamDriver } from '@simtap/sdk/machines';

/** The repository root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One of the four tap profiles of issue 16: a card processing profile, its SIM link if any, its air link. */
export interface TapProfile {
  readonly key: 'nfc-sim' | 'native' | 'rf-sim' | 'fast';
  readonly label: string;
  /** What it stands for, in a few words. */
  readonly what: string;
  readonly options: TapTimeOptions;
  readonly link: LinkProfile;
}

/** The four tap profiles, in the order of the figure. Every ISO one at 106 kbit/s so the bars compare the cards. */
export const TAP_PROFILES: readonly TapProfile[] = [
  {
    key: 'nfc-sim',
    label: 'NFC SIM',
    what: 'Java Card SIM behind SWP, 106 kbit/s',
    options: { card: CARD_PROCESSING['javacard-sim'], simLink: SIM_LINKS.swp },
    link: ISO14443_106,
  },
  {
    key: 'native',
    label: 'native transit card',
    what: 'native-OS CPU card, 106 kbit/s',
    options: { card: CARD_PROCESSING['native-transit'] },
    link: ISO14443_106,
  },
  {
    key: 'rf-sim',
    label: 'RF-SIM',
    what: 'the same Java Card SIM, its own 2.4 GHz radio',
    options: { card: CARD_PROCESSING['javacard-sim'] },
    link: RFSIM_2G4,
  },
  {
    key: 'fast',
    label: 'fast SE',
    what: 'modern secure element, 106 kbit/s',
    options: { card: CARD_PROCESSING['fast-se'] },
    link: ISO14443_106,
  },
];

/** The two flows of the figure and the reader each is made at. */
export const FLOWS = [
  { key: 'purchase', label: 'purchase', reader: 'till' },
  { key: 'metro-exit', label: 'metro exit', reader: 'gate' },
] as const satisfies readonly { key: string; label: string; reader: ReaderName }[];

/** A flow's key. */
export type FlowKey = (typeof FLOWS)[number]['key'];

/** One bar: a flow under a profile, times in µs (the estimate's, rounded to 1 ns). */
export interface TapBar {
  readonly flow: FlowKey;
  readonly flowLabel: string;
  readonly profile: TapProfile['key'];
  readonly profileLabel: string;
  readonly reader: ReaderName;
  readonly link: string;
  readonly apdus: number;
  readonly totalUs: number;
  /** The total without the reader's polling. */
  readonly transactionUs: number;
  readonly split: TapTimeSplit;
}

/** A calibration tie: a profile's modelled value against the published figure it is fitted to. */
export interface TapTie {
  readonly profile: string;
  readonly published: string;
  readonly publishedMs: number;
  readonly modelled: string;
  readonly modelledMs: number;
  /** The published figure is an upper bound (the modelled value must be below it), not a value to be near. */
  readonly below?: boolean;
}

/** The card's side of the till's purchase (air + link + card, no reader) at each bit rate under one profile. */
export interface BitRateRow {
  readonly profile: string;
  /** Total at 106, 212, 424, 848 kbit/s, µs. */
  readonly totalUs: readonly number[];
  readonly airUs: readonly number[];
}

/** Everything the doc and the figure show. */
export interface TapTimeFigures {
  /** The exchanges of each flow as the card saw them. */
  readonly exchanges: Record<FlowKey, readonly TapExchange[]>;
  readonly bars: readonly TapBar[];
  readonly ties: readonly TapTie[];
  readonly bitRates: readonly BitRateRow[];
}

const BIT_RATES = [
  [106, ISO14443_106],
  [212, ISO14443_212],
  [424, ISO14443_424],
  [848, ISO14443_848],
] as const;

/** The machines' fixed clock (the tests'): 2026-03-01 10:03:04 in China. */
const CLOCK = new Date('2026-03-01T02:03:04Z');
const FARE = distanceFare({ base: 200, includedStops: 4, perStop: 50, max: 900 });

/** Records what `sim` sees on its contactless interface while `fn` runs (one tap: the field switched on first). */
async function captureTap(sim: Card, fn: () => Promise<unknown>): Promise<TapExchange[]> {
  const seen: TapExchange[] = [];
  if (sim.isPowered('contactless')) sim.powerOff('contactless');
  const stop = sim.observe({
    exchange: (iface, command, response) => {
      if (iface === 'contactless') seen.push({ command: command.slice(), response: response.slice() });
    },
  });
  try {
    sim.powerOn('contactless');
    await fn();
  } finally {
    stop();
    sim.powerOff('contactless');
  }
  return seen;
}

/** A machine (a till or a gate: the PSAM's label) reading `sim` on its contactless interface. */
function machine(sim: Card, psamLabel: 'pos-1' | 'gate-1', extra: { transit?: { fare: typeof FARE } } = {}) {
  const psam = createPsam(psamLabel);
  psam.powerOn('contact');
  return new ConsumptionMachine({
    card: new InProcessChannel({ transmit: (c) => sim.transmit('contactless', c) }, { description: 'reader' }),
    psam: new PsamDriver(new InProcessChannel({ transmit: (c) => psam.transmit('contact', c) })),
    clock: fixedClock(CLOCK, 1000),
    tapTimeOptions: { ...TAP_PROFILES[0]!.options, reader: READERS.till },
    ...extra,
  });
}

/** The real flows: a purchase of ¥12.50 at a till; a metro entry, then the exit 8 stops on (¥4.00). */
async function runFlows(): Promise<Record<FlowKey, readonly TapExchange[]>> {
  const shopper = createSim({ card: 'card-1', personalized: { balance: 5000 } });
  const till = machine(shopper, 'pos-1');
  let purchase: TapTimeEstimate | undefined;
  const bought = await captureTap(shopper, async () => {
    const r = await till.purchase({ amount: 1250 });
    if (r.status !== 'completed') throw new Error(`tap-time figure: the purchase is ${r.status}`);
    purchase = r.tapTime;
  });
  // The capture is what the machine saw: its own estimate (the NFC SIM at a till) is the figure's.
  const check = estimateTapTime(bought, ISO14443_106, { ...TAP_PROFILES[0]!.options, reader: READERS.till });
  if (purchase === undefined || check.totalUs !== purchase.totalUs || check.apduCount !== purchase.apduCount)
    throw new Error('tap-time figure: the captured purchase differs from what the till saw');

  const rider = createSim({ card: 'card-1', personalized: { balance: 5000 } });
  const transit = { fare: FARE };
  const entry = machine(rider, 'gate-1', { transit });
  const exit = machine(rider, 'gate-1', { transit });
  await captureTap(rider, () => entry.enter({ station: { line: 2, station: 3 } }));
  const exited = await captureTap(rider, async () => {
    const r = await exit.exit({ station: { line: 2, station: 11 } });
    if (r.status !== 'completed' || r.amount !== 400) throw new Error('tap-time figure: the metro exit failed');
  });
  return { purchase: bought, 'metro-exit': exited };
}

const ms = (us: number): number => Math.round(us) / 1000;

/**
 * Runs the flows and models them: the bars of the figure, the calibration ties, the bit-rate table.
 * @example const { bars } = await tapTimeFigures(); // 8 bars: 2 flows × 4 profiles
 */
export async function tapTimeFigures(): Promise<TapTimeFigures> {
  const exchanges = await runFlows();
  const estimate = (flow: FlowKey, p: TapProfile, reader: ReaderName, link: LinkProfile = p.link) =>
    estimateTapTime(exchanges[flow], link, { ...p.options, reader: READERS[reader] });
  /** The card's side alone: no reader (air, link and card). */
  const cardSide = (flow: FlowKey, p: TapProfile, link: LinkProfile = p.link) =>
    estimateTapTime(exchanges[flow], link, p.options);
  const bars: TapBar[] = [];
  for (const p of TAP_PROFILES)
    for (const f of FLOWS) {
      const e = estimate(f.key, p, f.reader);
      bars.push({
        flow: f.key,
        flowLabel: f.label,
        profile: p.key,
        profileLabel: p.label,
        reader: f.reader,
        link: e.link,
        apdus: e.apduCount,
        totalUs: e.totalUs,
        transactionUs: e.transactionUs,
        split: e.split,
      });
    }
  const [sim, native, rf, fast] = TAP_PROFILES as [TapProfile, TapProfile, TapProfile, TapProfile];
  const ties: TapTie[] = [
    {
      profile: 'NFC SIM (Java Card SIM + SWP, 106 kbit/s)',
      published: 'TfL: NFC-SIM transactions ~500 ms',
      publishedMs: 500,
      modelled: 'purchase at a gate, transaction (no polling)',
      modelledMs: ms(estimate('purchase', sim, 'gate').transactionUs),
    },
    {
      profile: 'RF-SIM (the same SIM, 2.4 GHz)',
      published: 'the same SIM chip: ~500 ms',
      publishedMs: 500,
      modelled: 'purchase at a gate, transaction (no polling)',
      modelledMs: ms(estimate('purchase', rf, 'gate').transactionUs),
    },
    {
      profile: 'native transit card (106 kbit/s)',
      published: 'Oyster at a gate: 200–300 ms',
      publishedMs: 250,
      modelled: 'purchase at a gate, transaction (no polling)',
      modelledMs: ms(estimate('purchase', native, 'gate').transactionUs),
    },
    {
      profile: 'native transit card (106 kbit/s)',
      published: 'a whole bus tap ~530 ms (100 ms polling)',
      publishedMs: 530,
      modelled: 'purchase at a bus validator, whole tap',
      modelledMs: ms(estimate('purchase', native, 'bus-validator').totalUs),
    },
    {
      profile: 'fast SE (212 kbit/s)',
      published: 'FeliCa fare deduction ~100 ms (212 kbit/s)',
      publishedMs: 100,
      modelled: 'purchase, the card side (air + card, no reader)',
      modelledMs: ms(cardSide('purchase', fast, ISO14443_212).totalUs),
    },
    {
      profile: 'fast SE (106 kbit/s)',
      published: 'Calypso: under 200 ms',
      publishedMs: 200,
      below: true,
      modelled: 'purchase, the card side (air + card, no reader)',
      modelledMs: ms(cardSide('purchase', fast, ISO14443_106).totalUs),
    },
  ];
  const bitRates: BitRateRow[] = [sim, native, fast].map((p) => {
    const es = BIT_RATES.map(([, link]) => cardSide('purchase', p, link));
    return { profile: p.label, totalUs: es.map((e) => e.totalUs), airUs: es.map((e) => e.split.airUs) };
  });
  return { exchanges, bars, ties, bitRates };
}

// ---------------------------------------------------------------- the doc's tables

const f1 = (us: number): string => (us / 1000).toFixed(1);

/** The split table: one row per bar, ms to 0.1. */
export function splitTable(bars: readonly TapBar[]): string {
  const head = [
    '| profile | flow (reader) | APDUs | reader ms | air ms | link (SWP) ms | card ms | total ms | without polling ms | card share |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const rows = bars.map((b) => {
    const s = b.split;
    const share = Math.round((100 * s.cardUs) / (s.cardUs + s.airUs + s.linkUs));
    return `| ${b.profileLabel} (${b.link}) | ${b.flowLabel} (${READERS[b.reader].label}) | ${b.apdus} | ${f1(s.readerUs)} | ${f1(s.airUs)} | ${f1(s.linkUs)} | ${f1(s.cardUs)} | **${f1(b.totalUs)}** | ${f1(b.transactionUs)} | ${share} % |`;
  });
  return [...head, ...rows].join('\n');
}

/** The calibration table: each tie, the modelled value and its distance from the published one. */
export function tiesTable(ties: readonly TapTie[]): string {
  const head = [
    '| profile | published figure | modelled | modelled ms | off by | holds (±25 %, or below a bound) |',
    '|---|---|---|--:|--:|:-:|',
  ];
  const rows = ties.map((t) => {
    const off = t.modelledMs / t.publishedMs - 1;
    const pct = `${off >= 0 ? '+' : '−'}${Math.abs(100 * off).toFixed(0)} %`;
    const holds = t.below === true ? t.modelledMs < t.publishedMs : Math.abs(off) <= 0.25;
    return `| ${t.profile} | ${t.published} | ${t.modelled} | ${t.modelledMs.toFixed(1)} | ${t.below === true ? 'bound' : pct} | ${holds ? 'yes' : 'NO'} |`;
  });
  return [...head, ...rows].join('\n');
}

/** The bit-rate table: the card's side of the till's purchase (air + link + card) at each ISO 14443 bit rate. */
export function bitRateTable(rows: readonly BitRateRow[]): string {
  const head = [
    '| profile | 106 kbit/s | 212 kbit/s | 424 kbit/s | 848 kbit/s | 106 → 424 saves | air at 106 → 424 |',
    '|---|--:|--:|--:|--:|--:|--:|',
  ];
  const body = rows.map((r) => {
    const [t106, , t424] = r.totalUs as [number, number, number, number];
    const saves = `${f1(t106 - t424)} ms (${((100 * (t106 - t424)) / t106).toFixed(1)} %)`;
    return `| ${r.profile} | ${r.totalUs.map(f1).join(' | ')} | ${saves} | ${f1(r.airUs[0]!)} → ${f1(r.airUs[2]!)} ms |`;
  });
  return [...head, ...body].join('\n');
}

const msOf = (us: number): string => String(us / 1000);

/** The profiles' parameters (`CARD_PROCESSING`, `READERS`, `SIM_LINKS`), ms. */
export function profilesTable(): string {
  const cards = Object.values(CARD_PROCESSING);
  const cardRows = [
    ['power-up (field on → answers REQA)', 'powerUpUs'],
    ['every command (OS/VM dispatch, answer)', 'apduUs'],
    ['+ SELECT', 'selectUs'],
    ['+ a read (READ BINARY/RECORD, GET DATA/BALANCE)', 'readUs'],
    ['+ each crypto call (DES/3DES/AES block op, MAC, RNG)', 'cryptoCallUs'],
    ['+ each NVM update with anti-tearing', 'nvmUpdateUs'],
    ['+ any other command', 'otherUs'],
  ] as const;
  const readers = Object.values(READERS);
  const swp = SIM_LINKS.swp;
  return [
    `| card, ms | ${cards.map((c) => `\`${c.name}\``).join(' | ')} |`,
    `|---|${cards.map(() => '--:').join('|')}|`,
    ...cardRows.map(([what, k]) => `| ${what} | ${cards.map((c) => msOf(c[k])).join(' | ')} |`),
    '',
    `| reader, ms | ${readers.map((r) => `\`${r.name}\``).join(' | ')} |`,
    `|---|${readers.map(() => '--:').join('|')}|`,
    `| polling (card in the field → found) | ${readers.map((r) => msOf(r.pollingUs)).join(' | ')} |`,
    `| per command (firmware, host, PSAM) | ${readers.map((r) => msOf(r.perApduUs)).join(' | ')} |`,
    `| decision (after the last answer) | ${readers.map((r) => msOf(r.decisionUs)).join(' | ')} |`,
    '',
    '| SIM link | `swp` |',
    '|---|--:|',
    `| bit rate | ${swp.bitRate / 1e6} Mbit/s |`,
    `| bytes added per message (SHDLC + HCP) | ${swp.overheadBytes} |`,
    `| per message (controller forwarding, SHDLC ack), ms | ${msOf(swp.perMessageUs)} |`,
    `| once per tap (routing to the SIM), ms | ${msOf(swp.activationUs)} |`,
  ].join('\n');
}

/** What each command of the two flows costs the card under each card profile, ms. */
export function commandsTable(exchanges: Record<FlowKey, readonly TapExchange[]>): string {
  const names: Record<string, string> = {
    a4: 'SELECT (e-purse AID)',
    b0: 'READ BINARY EF 0x15',
    b2: 'READ RECORD (travel record)',
    '50': 'INITIALIZE FOR (CAPP) PURCHASE',
    dc: 'UPDATE CAPP DATA CACHE',
    '54': 'DEBIT FOR (CAPP) PURCHASE',
  };
  const cards = Object.values(CARD_PROCESSING);
  const rows: string[] = [];
  const seen = new Set<string>();
  for (const f of FLOWS)
    for (const e of exchanges[f.key]) {
      const [cla, ins, p1, p2] = [e.command[0]!, e.command[1]!, e.command[2]!, e.command[3]!];
      const key = ins.toString(16).padStart(2, '0');
      if (seen.has(key)) continue;
      seen.add(key);
      const used = FLOWS.filter((g) => exchanges[g.key].some((x) => x.command[1] === ins)).map((g) => g.label);
      const c = commandCost(cla, ins, p1, p2);
      const hdr = [cla, ins, p1, p2].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(' ');
      rows.push(
        `| \`${hdr}\` ${names[key] ?? ''} | ${used.join(', ')} | ${e.command.length} / ${e.response.length} | ${c.family}: ${c.cryptoCalls} crypto call${c.cryptoCalls === 1 ? '' : 's'}, ${c.nvmUpdates} NVM update${c.nvmUpdates === 1 ? '' : 's'} | ${cards.map((p) => msOf(cardProcessingUs(p, cla, ins, p1, p2))).join(' | ')} |`,
      );
    }
  return [
    `| command | in | bytes up / down | cost | ${cards.map((p) => `\`${p.name}\` ms`).join(' | ')} |`,
    `|---|---|--:|---|${cards.map(() => '--:').join('|')}|`,
    ...rows,
  ].join('\n');
}

/** The generated blocks of docs/tap-time.md by marker name. */
export function docBlocks(fig: TapTimeFigures): Record<string, string> {
  return {
    profiles: profilesTable(),
    commands: commandsTable(fig.exchanges),
    split: splitTable(fig.bars),
    ties: tiesTable(fig.ties),
    'bit-rates': bitRateTable(fig.bitRates),
  };
}

/**
 * `doc` with each `<!-- tap-time:NAME -->` … `<!-- /tap-time:NAME -->` block replaced by its generated text.
 * @throws {Error} when a marker is missing.
 */
export function fillDoc(doc: string, blocks: Record<string, string>): string {
  let out = doc;
  for (const [name, text] of Object.entries(blocks)) {
    const re = new RegExp(`(<!-- tap-time:${name} -->\\n)[\\s\\S]*?(\\n<!-- /tap-time:${name} -->)`);
    if (!re.test(out)) throw new Error(`docs/tap-time.md: no <!-- tap-time:${name} --> block`);
    out = out.replace(re, (_m, a: string, b: string) => `${a}${text}${b}`);
  }
  return out;
}

// ---------------------------------------------------------------- the figure

/** The four parts of a bar: the split's field, its legend, its colour (Okabe–Ito, colour-blind safe). */
export const PARTS = [
  { field: 'readerUs', name: 'reader', legend: 'reader (polling, per-command handling, decision)', color: '#8c8c8c' },
  { field: 'airUs', name: 'air', legend: 'air (activation, frames, FDTs)', color: '#56b4e9' },
  { field: 'linkUs', name: 'link', legend: 'link (SWP to the NFC controller)', color: '#e69f00' },
  { field: 'cardUs', name: 'card', legend: 'card (power-up, processing)', color: '#009e73' },
] as const satisfies readonly { field: keyof TapTimeSplit; name: string; legend: string; color: string }[];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const px = (n: number): string => String(Math.round(n * 10) / 10);

/** docs/tap-time.svg: one stacked horizontal bar per flow × profile, a legend, ms labels, an axis. */
export function tapTimeSvg(bars: readonly TapBar[]): string {
  const W = 1000;
  const left = 180;
  const right = 24;
  const barH = 24;
  const gapIn = 6; // between a profile's two bars
  const headH = 22; // a profile's heading above its bars
  const gapOut = 16; // between profiles
  const plotW = W - left - right;
  const maxMs = Math.max(...bars.map((b) => b.totalUs / 1000));
  const step = 100;
  // Room to the right of the longest bar for its total and the parts too narrow to carry their own label.
  const axisMax = Math.ceil((maxMs * 1.45) / step) * step;
  const x = (msv: number): number => left + (msv / axisMax) * plotW;
  const profiles = [...new Set(bars.map((b) => b.profile))];
  const top = 118;
  const groupH = (n: number) => headH + n * barH + (n - 1) * gapIn;
  const plotH =
    profiles.reduce((h, key) => h + groupH(bars.filter((b) => b.profile === key).length), 0) +
    (profiles.length - 1) * gapOut;
  const axisY = top + plotH + 10;
  const H = axisY + 48;
  const font = "font-family='system-ui, -apple-system, &quot;Segoe UI&quot;, Helvetica, Arial, sans-serif'";
  const out: string[] = [
    `<svg xmlns='http://www.w3.org/2000/svg' width='${W}' height='${H}' viewBox='0 0 ${W} ${H}' ${font} font-size='13' role='img' aria-labelledby='title desc'>`,
    `<title id='title'>Where the time of a tap goes, per tap profile</title>`,
    `<desc id='desc'>Modelled tap time of a purchase at a shop till and of a metro exit at a metro gate, for four tap profiles, split into reader, air, link and card time, in milliseconds. Generated by scripts/tap-time-figure.ts.</desc>`,
    `<rect width='${W}' height='${H}' fill='#ffffff'/>`,
    `<text x='16' y='26' font-size='17' font-weight='600' fill='#222'>Where the time of a tap goes (modelled, ms)</text>`,
    `<text x='16' y='46' fill='#555'>The real flows on the emulated SIM: a purchase at a shop till, a metro exit at a gate; the reader's polling included.</text>`,
  ];
  // Legend: two rows of two.
  for (const [i, p] of PARTS.entries()) {
    const lx = 16 + (i % 2) * 400;
    const ly = 62 + Math.floor(i / 2) * 22;
    out.push(`<rect x='${lx}' y='${ly}' width='14' height='14' fill='${p.color}'/>`);
    out.push(`<text x='${lx + 20}' y='${ly + 12}' fill='#333'>${esc(p.legend)}</text>`);
  }
  // Grid and axis.
  for (let v = 0; v <= axisMax; v += step) {
    const gx = px(x(v));
    out.push(`<line x1='${gx}' y1='${top - 4}' x2='${gx}' y2='${axisY}' stroke='${v === 0 ? '#666' : '#e6e6e6'}'/>`);
    out.push(`<text x='${gx}' y='${axisY + 16}' text-anchor='middle' fill='#555' font-size='12'>${v}</text>`);
  }
  out.push(`<line x1='${left}' y1='${axisY}' x2='${px(x(axisMax))}' y2='${axisY}' stroke='#666'/>`);
  out.push(`<text x='${px(x(axisMax))}' y='${axisY + 34}' text-anchor='end' fill='#333'>ms</text>`);
  // Bars, a profile at a time under its heading.
  let y = top;
  for (const key of profiles) {
    const group = bars.filter((b) => b.profile === key);
    const first = group[0]!;
    const what = TAP_PROFILES.find((p) => p.key === key)?.what ?? first.link;
    out.push(
      `<text x='16' y='${y + 14}'><tspan font-weight='600' fill='#222'>${esc(first.profileLabel)}</tspan><tspan fill='#666'> — ${esc(what)}</tspan></text>`,
    );
    for (const [j, b] of group.entries()) {
      const by = y + headH + j * (barH + gapIn);
      const ty = px(by + barH / 2 + 4.5);
      out.push(
        `<text x='${left - 10}' y='${ty}' text-anchor='end' fill='#444'>${esc(`${b.flowLabel} · ${READERS[b.reader].label}`)}</text>`,
      );
      let acc = 0;
      const unlabelled: string[] = [];
      for (const p of PARTS) {
        const us = b.split[p.field];
        if (us <= 0) continue;
        const x0 = x(acc / 1000);
        const w = x((acc + us) / 1000) - x0;
        acc += us;
        const label = f1(us);
        out.push(
          `<rect x='${px(x0)}' y='${by}' width='${px(w)}' height='${barH}' fill='${p.color}' data-flow='${b.flow}' data-profile='${b.profile}' data-part='${p.name}' data-ms='${label}'><title>${esc(`${b.profileLabel}, ${b.flowLabel}: ${p.name} ${label} ms`)}</title></rect>`,
        );
        if (w >= label.length * 7 + 8) {
          const dark = p.name === 'air' || p.name === 'link';
          out.push(
            `<text x='${px(x0 + w / 2)}' y='${ty}' text-anchor='middle' fill='${dark ? '#1a1a1a' : '#ffffff'}' font-size='12'>${label}</text>`,
          );
        } else unlabelled.push(`${p.name === 'link' ? 'SWP' : p.name} ${label}`);
      }
      const extra =
        unlabelled.length === 0
          ? ''
          : `<tspan font-weight='400' fill='#666'>  (${esc(unlabelled.join(' · '))})</tspan>`;
      out.push(
        `<text x='${px(x(b.totalUs / 1000) + 8)}' y='${ty}' font-weight='600' fill='#222' data-flow='${b.flow}' data-profile='${b.profile}' data-total-ms='${f1(b.totalUs)}'>${f1(b.totalUs)} ms${extra}</text>`,
      );
    }
    y += groupH(group.length) + gapOut;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------- main

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const fig = await tapTimeFigures();
  writeFileSync(join(root, 'docs/tap-time.svg'), tapTimeSvg(fig.bars));
  console.log('wrote docs/tap-time.svg');
  const docPath = join(root, 'docs/tap-time.md');
  const blocks = docBlocks(fig);
  let doc: string | undefined;
  try {
    doc = readFileSync(docPath, 'utf8');
  } catch {
    doc = undefined;
  }
  if (doc !== undefined) {
    writeFileSync(docPath, fillDoc(doc, blocks));
    console.log('wrote the tables of docs/tap-time.md');
  }
  for (const text of Object.values(blocks)) console.log(`\n${text}`);
}

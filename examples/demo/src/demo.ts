/**
 * The simtap walkthrough that `npm start` runs, entirely in-process on the reference profile: issue card-1,
 * personalize its e-purse through the issuer security domain over SCP03, load it at a kiosk, buy at a shop POS
 * (the card leaves the field mid-purchase and the next tap recovers it), ride the metro, open a door, and read
 * the purse back from the card.
 *
 * @module
 */
import { epurseDgis } from '@simtap/applet-emu/applets/epurse';
import { createPsam } from '@simtap/applet-emu/applets/psam';
import type { Card } from '@simtap/applet-emu/runtime';
import { createSim } from '@simtap/applet-emu/sim';
import { InProcessChannel } from '@simtap/sdk/card';
import { bcdToString, concat, fromHex, toHex } from '@simtap/sdk/core/bytes';
import type { RandomSource } from '@simtap/sdk/core/crypto';
import { SimtapError } from '@simtap/sdk/core/errors';
import { diversifyKdf3, Scp03Host, SECRET_DGI_MIN, scp03DgiCipher, storeDataCommands } from '@simtap/sdk/core/gp';
import { formatSw, parseResponseApdu } from '@simtap/sdk/core/iso7816';
import { IssuerTacVerifier, type TransactionLogRecord, TTI } from '@simtap/sdk/core/pboc';
import { cardProfile, referenceProfile } from '@simtap/sdk/core/profile';
import { decodeTlv } from '@simtap/sdk/core/tlv';
import {
  CardLeftFieldError,
  type Clock,
  ConsumptionMachine,
  type FareRule,
  IssuerKeyAuthorizer,
  PsamDriver,
  RechargeMachine,
  readPurse,
  selectByNameApdu,
  systemClock,
  type TransitStation,
} from '@simtap/sdk/machines';
import { openDoor } from './door';
import { DemoReader } from './reader';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Where the walkthrough prints, one line per call; default `console.log`. */
  readonly out?: (line: string) => void;
  /** The machines' clock (transaction date and time); default the system clock. */
  readonly clock?: Clock;
  /** Random source of the card, the issuer's host challenge and the door reader; default the system's. */
  readonly random?: RandomSource;
  /** ANSI bold / colour (e.g. when stdout is a TTY); default false. */
  readonly color?: boolean;
}

/** One printed step: its card APDUs and estimated tap time (undefined for steps without a tap). */
export interface DemoStep {
  readonly title: string;
  readonly apdus: number;
  readonly tapTimeUs: number | undefined;
}

/** What the walkthrough ends with, as read back from the card. */
export interface DemoResult {
  readonly steps: readonly DemoStep[];
  /** EP balance, fen. */
  readonly balance: number;
  readonly onlineCounter: number;
  readonly offlineCounter: number;
  /** EF 0x18, newest first. */
  readonly log: readonly TransactionLogRecord[];
  /** The metro fare the exit gate charged, fen. */
  readonly metroFare: number;
}

/** A step of the walkthrough failed; `message` names the step and the cause. */
export class DemoError extends SimtapError {
  constructor(
    readonly step: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('DEMO_FAILED', `${step}: ${message}`, options);
  }
}

/** Kiosk terminal ID (the reference profile names PSAM terminals only). */
export const KIOSK_TERMINAL_ID = '440100000009';
/** The amounts of the walkthrough, fen. */
export const LOAD_AMOUNT = 5000;
export const SHOP_AMOUNT = 1250;
/** Where the metro ride starts and ends. */
export const METRO_ENTRY: TransitStation = { line: 2, station: 3 };
export const METRO_EXIT: TransitStation = { line: 2, station: 14 };

/** The demo's metro fare: ¥2 base plus ¥1 for every 5 stations travelled; ¥6 without an entry record. */
export const metroFare: FareRule = (entry, exit) => {
  if (entry?.type !== 'entry') return 600;
  const stations = Math.abs(exit.station - entry.station.station);
  return Math.max(0, 200 + 100 * Math.floor(stations / 5) - entry.amount);
};

const INS_DEBIT = 0x54;
const hex00 = Uint8Array.of(0x00);
const TTI_NAMES: Readonly<Record<number, string>> = {
  [TTI.EP_LOAD]: 'load',
  [TTI.EP_PURCHASE]: 'purchase',
  [TTI.CAPP_PURCHASE]: 'composite purchase',
};

/** ¥ with two decimals from fen. */
export function yuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  return `${sign}¥${(Math.abs(fen) / 100).toFixed(2)}`;
}

function dataOf(r: Uint8Array): Uint8Array {
  return r.subarray(0, r.length - 2);
}

/** A PSAM card of the profile, in its machine's contact slot. */
function psamSlot(label: string): { card: Card; driver: PsamDriver } {
  const card = createPsam(label);
  card.powerOn('contact');
  const channel = new InProcessChannel({ transmit: (c) => card.transmit('contact', c) }, { description: label });
  return { card, driver: new PsamDriver(channel) };
}

const TITLE = 20;

/** Prints the walkthrough: a header, one or two aligned lines per step, then the card's state. */
class Printer {
  readonly steps: DemoStep[] = [];
  readonly #out: (line: string) => void;
  readonly #color: boolean;

  constructor(out: (line: string) => void, color: boolean) {
    this.#out = out;
    this.#color = color;
  }

  line(text = ''): void {
    this.#out(text);
  }

  bold(text: string): string {
    return this.#color ? `\u001b[1m${text}\u001b[22m` : text;
  }

  paint(text: string, good: boolean): string {
    return this.#color ? `\u001b[${good ? 32 : 31}m${text}\u001b[39m` : text;
  }

  header(): void {
    this.line(` # ${'step'.padEnd(TITLE)}${'APDUs'.padStart(6)}${'tap time'.padStart(10)}   what happened`);
  }

  step(title: string, reader: DemoReader | undefined, lines: readonly string[]): void {
    const n = this.steps.length + 1;
    const apdus = reader?.apdus ?? 0;
    const tapTimeUs = reader === undefined ? undefined : reader.estimate().totalUs;
    this.steps.push({ title, apdus, tapTimeUs });
    const time = tapTimeUs === undefined ? '–' : `${(tapTimeUs / 1000).toFixed(1)} ms`;
    const head = `${String(n).padStart(2)} ${this.bold(title.padEnd(TITLE))}${String(apdus).padStart(6)}${time.padStart(10)}`;
    lines.forEach((text, i) => {
      this.line(`${i === 0 ? head : ' '.repeat(3 + TITLE + 6 + 10)}   ${text}`);
    });
  }
}

/**
 * Runs the walkthrough and returns the card's final state as read back from it.
 * @throws {DemoError} `DEMO_FAILED` naming the step that failed (a refused command, an unexpected outcome).
 */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const p = new Printer(opts.out ?? ((l) => console.log(l)), opts.color === true);
  const clock = opts.clock ?? systemClock;
  const profile = referenceProfile();
  const cp = cardProfile('card-1', profile);
  let current = 'setup';
  const fail = (message: string): never => {
    throw new DemoError(current, message);
  };
  const expectOk = (what: string, r: Uint8Array): Uint8Array => {
    if (parseResponseApdu(r).sw !== 0x9000) fail(`${what} answered ${formatSw(parseResponseApdu(r).sw)}`);
    return dataOf(r);
  };

  try {
    p.line(p.bold('simtap walkthrough: card-1 of the reference profile, in-process'));
    p.line('APDUs = card APDUs of the step; tap time = ISO/IEC 14443 estimate at 106 kbit/s, activation included.');
    p.line();
    p.header();

    // 1. Issue: the SIM with its ISD and a blank e-purse; the PSAM cards of the POS and the gate.
    current = 'issue';
    const card = createSim({ card: 'card-1', epurse: true, random: opts.random });
    const pos = psamSlot('pos-1');
    const gate = psamSlot('gate-1');
    const tid = (label: string) => toHex(profile.psams.find((s) => s.label === label)!.terminalId);
    p.step('Issue', undefined, [
      `card-1 ICCID ${cp.iccid}: ISD ${toHex(profile.card.isd.aid)}, e-purse ${toHex(profile.card.epurse.aid)} (blank)`,
      `PSAM cards pos-1 (terminal ${tid('pos-1')}) and gate-1 (terminal ${tid('gate-1')})`,
    ]);

    // 2. Personalize the e-purse through the ISD over SCP03 (what contactless management does over the air).
    current = 'personalize';
    const issuer = new DemoReader(card, 'contactless', 'issuer reader');
    issuer.tap();
    expectOk('SELECT ISD', await issuer.transmit(selectByNameApdu(profile.card.isd.aid)));
    const kddData = expectOk('GET DATA CF (KDD)', await issuer.transmit(Uint8Array.of(0x80, 0xca, 0x00, 0xcf, 0x00)));
    const kdd = kddData.subarray(2);
    const keys = diversifyKdf3(profile.card.isd.scp03.diversified.masterKey, kdd);
    const scp = await Scp03Host.open((a) => issuer.transmit(a), {
      keys,
      securityLevel: 0x33,
      ...(opts.random ? { random: opts.random } : {}),
    });
    const aid = profile.card.epurse.aid;
    const install = concat(
      Uint8Array.of(0x80, 0xe6, 0x20, 0x00, aid.length + 6, 0x00, 0x00, aid.length),
      aid,
      Uint8Array.of(0x00, 0x00, 0x00, 0x00),
    );
    expectOk('INSTALL [for personalization]', await scp.transmit(install));
    const dgis = epurseDgis(cp, {}, profile);
    // EMV CPS: the key and PIN DGIs travel encrypted under the DEK, on top of the channel's C-DECRYPTION.
    const dek = scp03DgiCipher(keys.dek);
    const commands = storeDataCommands(dgis, { cipher: dek });
    dek.destroy();
    for (const cmd of commands) expectOk(`STORE DATA block ${cmd[3]}`, await scp.transmit(cmd));
    const status = expectOk(
      'GET STATUS',
      await scp.transmit(concat(Uint8Array.of(0x80, 0xf2, 0x40, 0x02, aid.length + 2, 0x4f, aid.length), aid, hex00)),
    );
    const lifecycle = decodeTlv(status)[0]?.children?.find((t) => t.tag === 0x9f70)?.value[0];
    if (lifecycle !== 0x0f) fail(`the e-purse is not PERSONALIZED after STORE DATA (life cycle ${lifecycle})`);
    scp.close();
    const seq = toHex(scp.cardInfo.sequenceCounter ?? new Uint8Array(0));
    const dgiName = (d: { dgi: number }) => d.dgi.toString(16).padStart(4, '0').toUpperCase();
    const dgiList = dgis.map(dgiName).join(' ');
    const secretList = dgis
      .filter((d) => d.dgi >= SECRET_DGI_MIN)
      .map(dgiName)
      .join(', ');
    p.step('Personalize (SCP03)', issuer, [
      `ISD: SCP03 SL 33, card-1's KDF3 keys (KDD ${toHex(kdd)}, KVN ${scp.cardInfo.kvn.toString(16)}, counter ${seq})`,
      `INSTALL [for personalization], STORE DATA × ${commands.length}: DGI ${dgiList} (C-DEC; ${secretList} DEK-encrypted)`,
      `GET STATUS: e-purse life cycle 0F PERSONALIZED, balance ${yuan(cp.initialBalance)}`,
    ]);

    // 3. Recharge: the kiosk relays MAC1 to the issuer (here IssuerKeyAuthorizer) and loads with its MAC2.
    current = 'recharge';
    const kioskReader = new DemoReader(card, 'contactless', 'kiosk reader');
    const kiosk = new RechargeMachine({
      card: kioskReader,
      authorizer: IssuerKeyAuthorizer.fromProfile(profile),
      terminalId: fromHex(KIOSK_TERMINAL_ID),
      clock,
    });
    kioskReader.tap();
    const load = await kiosk.load({ amount: LOAD_AMOUNT });
    if (!load.tacVerified) fail('the issuer did not verify the load TAC');
    p.step(`Recharge ${yuan(LOAD_AMOUNT)}`, kioskReader, [
      `kiosk ${KIOSK_TERMINAL_ID}: ${yuan(load.balanceBefore)} → ${yuan(load.balanceAfter)}, ` +
        `online counter ${load.onlineCounter} → ${load.onlineCounter + 1}, ` +
        `TAC ${toHex(load.tac!)} verified by the issuer`,
    ]);

    // 4. Shop: the card leaves the field after DEBIT reached it, before its answer.
    current = 'shop (torn)';
    const posReader = new DemoReader(card, 'contactless', 'POS pos-1 reader');
    const shop = new ConsumptionMachine({ card: posReader, psam: pos.driver, clock });
    posReader.tap();
    posReader.pullAwayAfter(INS_DEBIT);
    const torn = await shop.purchase({ amount: SHOP_AMOUNT }).then(
      () => fail('the purchase completed although the card left the field'),
      (e: unknown) => {
        if (!(e instanceof CardLeftFieldError)) throw e;
        return e;
      },
    );
    const pending = shop.pending[0] ?? fail('the POS kept no pending record');
    p.step(`Shop ${yuan(SHOP_AMOUNT)} (torn)`, posReader, [
      `POS pos-1: the card left the field after ${torn.command.replace(/_/g, ' ')}, before its answer`,
      `pending record: counter ${pending.offlineCounter}, ${yuan(pending.amount)}, terminal seq ${pending.terminalTxnSeq}; ` +
        'outcome unknown until the next tap',
    ]);

    // 5. The same card taps again: the POS resolves the torn purchase before anything else, on the card's proof
    //    only. The TAC is the issuer's check: no terminal can compute it; clearing verifies it with the issuer's key.
    current = 'shop (recovery)';
    posReader.tap();
    const retry = await shop.purchase({ amount: SHOP_AMOUNT });
    const recovered =
      retry.status === 'completed' ? retry : fail(`the card did not prove the torn purchase (${retry.reason})`);
    if (recovered.recovered === undefined) fail('the retry debited again instead of recovering the torn purchase');
    if (shop.pending.length !== 0) fail('the pending record is still there after the recovery');
    const clearing = new IssuerTacVerifier(profile.issuer.masterKeys.tacMasterKey);
    const tacOk = clearing.verifyPurchase(recovered, recovered.cardSerial);
    clearing.destroy();
    if (!tacOk) fail("the recovered record's TAC does not verify with the issuer's TAC key");
    const proof =
      `GET TRANSACTION PROVE (TTI 06, counter ${recovered.offlineCounter}) → MAC2 ‖ TAC, ` +
      (recovered.mac2Verified
        ? 'MAC2 accepted by PSAM pos-1'
        : "MAC2 not checkable by PSAM pos-1 (its session ended): the card's TAC is the proof");
    p.step('Shop, next tap', posReader, [
      `recovery: ${proof}`,
      `found: charged once (${yuan(recovered.balanceBefore)} → ${yuan(recovered.balanceAfter)}), card's TAC ` +
        `${toHex(recovered.tac)} verified with the issuer's TAC key (as clearing does); no second DEBIT`,
    ]);

    // 6–7. Metro: composite purchases at gate-1 write the travel record together with the debit.
    current = 'metro entry';
    const gateReader = new DemoReader(card, 'contactless', 'gate-1 reader');
    const gates = new ConsumptionMachine({ card: gateReader, psam: gate.driver, clock, transit: { fare: metroFare } });
    gateReader.tap();
    const entered = await gates.enter({ station: METRO_ENTRY });
    p.step('Metro in', gateReader, [
      `gate-1, line ${METRO_ENTRY.line} station ${METRO_ENTRY.station}: entry record written with a ${yuan(entered.amount)} ` +
        'composite purchase (TTI 09)',
    ]);
    current = 'metro exit';
    gateReader.tap();
    const exited = await gates.exit({ station: METRO_EXIT });
    const stations = Math.abs(METRO_EXIT.station - METRO_ENTRY.station);
    p.step('Metro out', gateReader, [
      `gate-1, line ${METRO_EXIT.line} station ${METRO_EXIT.station}: ${stations} stations = ¥2.00 + ¥1.00 × ` +
        `${Math.floor(stations / 5)} = ${yuan(exited.amount)}; ${yuan(exited.balanceBefore)} → ${yuan(exited.balanceAfter)}`,
    ]);

    // 8–9. Access control: mutual authentication with DEAK; a reader with the wrong key is refused.
    current = 'door';
    const doorReader = new DemoReader(card, 'contactless', 'door reader');
    doorReader.tap();
    const door = await openDoor(doorReader, profile.issuer.masterKeys.externalAuthMasterKey, { random: opts.random });
    if (!door.granted) fail(`the door refused the card (EXTERNAL AUTHENTICATE ${door.externalAuthSw.toString(16)})`);
    p.step('Door (issuer key)', doorReader, [
      `${p.paint('opens', true)}: card proven by INTERNAL AUTHENTICATE, reader by EXTERNAL AUTHENTICATE (9000)`,
    ]);
    current = 'door (wrong key)';
    doorReader.tap();
    const rogue = await openDoor(doorReader, fromHex('0F0E0D0C0B0A09080706050403020100'), { random: opts.random });
    if (rogue.granted || rogue.cardAuthenticated) fail('a reader with the wrong key opened the door');
    p.step('Door (wrong key)', doorReader, [
      `${p.paint('stays shut', false)}: the card's cryptogram does not verify, EXTERNAL AUTHENTICATE → ` +
        rogue.externalAuthSw.toString(16).toUpperCase().padStart(4, '0'),
    ]);

    // 10. Read the purse back from the card.
    current = 'read back';
    const back = new DemoReader(card, 'contactless', 'read-back reader');
    back.tap();
    // readPurse: SELECT, EF 0x15, GET BALANCE, each counter from an INITIALIZE of 1 fen that the next command
    // abandons (nothing moves), and the newest EF 0x18 records.
    const purse = await readPurse(back, { logRecords: profile.card.epurse.transactionLogRecords });
    const balance = purse.balance;
    const log = [...purse.log];
    const result: DemoResult = {
      steps: p.steps,
      balance,
      onlineCounter: purse.onlineCounter?.value ?? fail('the card did not tell its online counter'),
      offlineCounter: purse.offlineCounter?.value ?? fail('the card did not tell its offline counter'),
      log,
      metroFare: exited.amount,
    };
    p.step('Read back', back, [
      `readPurse: SELECT, EF 0x15, GET BALANCE, INITIALIZE ×2 (counters; 1 fen, abandoned), READ RECORD EF 0x18 (${purse.log.length} records)`,
    ]);
    card.powerOff('contactless'); // the card leaves; the read-back's INITIALIZE sessions go with the field
    const expected = LOAD_AMOUNT - SHOP_AMOUNT - exited.amount;
    if (balance !== expected) fail(`balance ${balance} fen, expected ${expected}`);
    if (log.length !== 4) fail(`${log.length} transaction log records, expected 4`);
    printState(p, result, expected);
    return result;
  } catch (e) {
    if (e instanceof DemoError) throw e;
    const code = e instanceof SimtapError ? ` [${e.code}]` : '';
    throw new DemoError(current, `${e instanceof Error ? e.message : String(e)}${code}`, { cause: e });
  }
}

function printState(p: Printer, r: DemoResult, expected: number): void {
  const date = (d: Uint8Array) => bcdToString(d).replace(/^(\d{4})(\d{2})(\d{2})$/, '$1-$2-$3');
  const time = (t: Uint8Array) => bcdToString(t).replace(/^(\d{2})(\d{2})(\d{2})$/, '$1:$2:$3');
  p.line();
  p.line(p.bold('card-1 as read back from the card'));
  p.line(
    `  balance          ${yuan(r.balance).padEnd(9)} (${LOAD_AMOUNT} − ${SHOP_AMOUNT} − ${r.metroFare} = ${expected} fen)`,
  );
  p.line(`  online counter   ${String(r.onlineCounter).padEnd(9)} (loads)`);
  p.line(`  offline counter  ${String(r.offlineCounter).padEnd(9)} (purchases)`);
  p.line();
  p.line('  transaction log, EF 0x18 (newest first)');
  p.line(
    `  ${'rec'.padStart(3)}  ${'counter'.padStart(7)}  ${'TTI'.padEnd(22)}  ${'amount'.padStart(8)}  ${'terminal'.padEnd(12)}  date        time`,
  );
  r.log.forEach((e, i) => {
    const tti = `${e.tti.toString(16).padStart(2, '0')} ${TTI_NAMES[e.tti] ?? '?'}`;
    p.line(
      `  ${String(i + 1).padStart(3)}  ${String(e.counter).padStart(7)}  ${tti.padEnd(22)}  ${yuan(e.amount).padStart(8)}  ` +
        `${toHex(e.terminalId).padEnd(12)}  ${date(e.date)}  ${time(e.time)}`,
    );
  });
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concat, fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { diversifyKdf3, Scp03Host, storeDataCommands } from '@simtap/sdk/core/gp';
import { cardProfile, referenceProfile } from '@simtap/sdk/core/profile';
import { describe, expect, it } from 'vitest';
import { epurseDgis } from './applets/epurse';
import { cardTransmit, openScp03Sync, swOf, TestPersoApplet } from './applets/isd/test-support';
import { CARD_LIFECYCLE } from './runtime/applet';
import { saveImage } from './runtime/image-file';
import { createSim, ISD_PRIVILEGES, loadSim, restoreSim, SIM_FACTORIES, simIsdKeys } from './sim';

describe('createSim', () => {
  it('card-1 by default: profile ATR, ISD default-selected on both interfaces with its privileges, SECURED', () => {
    const card = createSim();
    const profile = referenceProfile();
    expect(toHex(card.powerOn('contact'))).toBe(toHex(profile.card.atr));
    card.powerOn('contactless');
    for (const iface of ['contact', 'contactless'] as const)
      expect(toHex(card.selectedAid(iface)!)).toBe('A000000151000000');
    const isd = card.registry.get(profile.card.isd.aid)!;
    expect(toHex(isd.privileges)).toBe(toHex(Uint8Array.from(ISD_PRIVILEGES)));
    expect(isd.type).toBe('simtap.isd');
    expect(card.registry.cardLifecycle).toBe(CARD_LIFECYCLE.SECURED);
  });

  it('keys: KDF3 of the profile master with the card KDD, or 40..4F with defaultKeys', async () => {
    const profile = referenceProfile();
    const k2 = simIsdKeys({ card: 'card-2' });
    const div = diversifyKdf3(profile.card.isd.scp03.diversified.masterKey, fromHex('00004401202600000002'));
    expect(toHex(k2.scp03.enc)).toBe(toHex(div.enc));
    expect(toHex(simIsdKeys({ defaultKeys: true }).scp03.dek)).toBe('404142434445464748494A4B4C4D4E4F');
    const card = createSim({ card: 'card-2' });
    card.powerOn('contactless');
    const scp = await Scp03Host.open(async (a) => card.transmit('contactless', a), {
      keys: k2.scp03,
      securityLevel: 0x33,
    });
    expect(toHex(scp.cardInfo.kdd)).toBe('00004401202600000002');
    expect(() => createSim({ card: 'card-9' })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });

  it('extra installers run after the ISD; the card life cycle option; invalid overrides are refused', () => {
    const card = createSim({
      cardLifecycle: CARD_LIFECYCLE.OP_READY,
      applets: [
        (c, ctx) => {
          expect(ctx.cardProfile.label).toBe('card-1');
          expect(c.registry.list().map((e) => e.type)).toEqual(['simtap.isd', 'simtap.usim']);
          c.registry.install(new TestPersoApplet(fromHex(TestPersoApplet.DEFAULT_AID_HEX)));
        },
      ],
    });
    expect(card.registry.list().map((e) => e.type)).toEqual(['simtap.isd', 'simtap.usim', 'simtap.test-perso']);
    expect(card.registry.cardLifecycle).toBe(CARD_LIFECYCLE.OP_READY);
    expect(() => createSim({ isd: { scp03I: 0x20 } })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => createSim({ isd: { scp02I: 0x14 } })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => createSim({ isd: { keySets: [] } })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => createSim({ isd: { kdd: hex`00` } })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    const k = simIsdKeys().scp03;
    expect(() =>
      createSim({
        isd: {
          keySets: [
            { kvn: 1, scp: 3, keys: k },
            { kvn: 1, scp: 3, keys: k },
          ],
        },
      }),
    ).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() =>
      createSim({ isd: { keySets: [{ kvn: 1, scp: 2, keys: { ...k, enc: new Uint8Array(24) } }] } }),
    ).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });
});

describe('restoring a SIM', () => {
  it('from a snapshot (SIM_FACTORIES knows simtap.isd) and from an image file', async () => {
    const card = createSim({ card: 'card-3' });
    card.powerOn('contact');
    const keys = simIsdKeys({ card: 'card-3' }).scp03;
    openScp03Sync(cardTransmit(card, 'contact'), { keys, securityLevel: 0x01 });
    expect(Object.keys(SIM_FACTORIES)).toContain('simtap.isd');

    const copy = restoreSim(card.snapshot());
    copy.powerOn('contact');
    const h = openScp03Sync(cardTransmit(copy, 'contact'), { keys, securityLevel: 0x33 });
    expect(toHex(h.info.sequenceCounter!)).toBe('000002');
    expect(swOf(h.transmit(hex`80 F2 80 02 02 4F 00 00`))).toBe(0x9000);

    const dir = await mkdtemp(join(tmpdir(), 'simtap-sim-'));
    try {
      const path = join(dir, 'card-3.img');
      await saveImage(copy, path);
      const loaded = await loadSim(path);
      loaded.powerOn('contactless');
      const h2 = openScp03Sync(cardTransmit(loaded, 'contactless'), { keys, securityLevel: 0x13 });
      expect(toHex(h2.info.sequenceCounter!)).toBe('000003');
      expect(toHex(dataOf(loaded.transmit('contactless', hex`80 CA 00 45 00`)))).toBe('450A8986004401202600030F');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function dataOf(rsp: Uint8Array): Uint8Array {
  return rsp.subarray(0, rsp.length - 2);
}

describe('createSim with the e-purse', () => {
  const SELECT_PURSE = hex`00 A4 04 00 08 A0 00 00 06 32 01 01 05 00`;
  const GET_BALANCE = hex`80 5C 00 02 04`;

  it('personalized: the profile card (EF 0x15, PIN, initial balance 0), listed in the PPSE', () => {
    const card = createSim({ card: 'card-2', personalized: true });
    card.powerOn('contactless');
    expect(swOf(card.transmit('contactless', SELECT_PURSE))).toBe(0x9000);
    expect(toHex(card.transmit('contactless', GET_BALANCE))).toBe('000000009000');
    const ef15 = card.transmit('contactless', hex`00 B0 95 00 1E`);
    expect(toHex(dataOf(ef15).subarray(10, 20))).toBe('00004401202600000002');
    expect(swOf(card.transmit('contactless', hex`00 20 00 00 03 12 34 56`))).toBe(0x9000);
    const ppse = card.transmit('contactless', hex`00 A4 04 00 0E 32 50 41 59 2E 53 59 53 2E 44 44 46 30 31 00`);
    expect(swOf(ppse)).toBe(0x9000);
    expect(card.registry.list().map((e) => e.type)).toContain('simtap.epurse');
  });

  it('personalized with overrides: the balance; installers still run after the purse', () => {
    const seen: (string | undefined)[][] = [];
    const card = createSim({
      personalized: { balance: 5000 },
      applets: [(c) => seen.push(c.registry.list().map((e) => e.type))],
    });
    expect(seen[0]).toContain('simtap.epurse');
    card.powerOn('contact');
    card.transmit('contact', SELECT_PURSE);
    expect(toHex(card.transmit('contact', GET_BALANCE))).toBe('000013889000');
    expect(() => createSim({ personalized: { balance: 2 ** 31 } })).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENT' }),
    );
  });

  it('epurse: installed blank, then personalized by the issuer through the ISD over SCP03', () => {
    const card = createSim({ epurse: true });
    card.powerOn('contact');
    const t = cardTransmit(card, 'contact');
    expect(swOf(t(SELECT_PURSE))).toBe(0x9000);
    expect(swOf(t(GET_BALANCE))).toBe(0x6985); // not personalized
    expect(swOf(t(hex`00 A4 04 00 08 A0 00 00 01 51 00 00 00 00`))).toBe(0x9000);
    const scp = openScp03Sync(t, { keys: simIsdKeys().scp03, securityLevel: 0x33 });
    expect(toHex(scp.transmit(hex`80 E6 20 00 0E 00 00 08 A0 00 00 06 32 01 01 05 00 00 00 00`))).toBe('009000');
    const dgis = epurseDgis(cardProfile('card-1'), { balance: 700 });
    // The key and PIN DGIs in plaintext are refused (6982) even at SL 33 …
    const keys = dgis.find((d) => d.dgi === 0x8001)!;
    const plain = concat(
      hex`80 E2 00 00`,
      Uint8Array.of(keys.data.length + 3),
      hex`80 01`,
      Uint8Array.of(keys.data.length),
      keys.data,
    );
    expect(swOf(scp.transmit(plain))).toBe(0x6982);
    // … and accepted DEK-encrypted (EMV CPS), in their own commands.
    const commands = storeDataCommands(dgis, { cipher: scp.dgiCipher });
    expect(commands.filter((c) => (c[2]! & 0x60) === 0x60).length).toBe(dgis.filter((d) => d.dgi >= 0x8000).length);
    for (const cmd of commands) expect(swOf(scp.transmit(cmd))).toBe(0x9000);
    expect(swOf(t(SELECT_PURSE))).toBe(0x9000);
    expect(toHex(t(GET_BALANCE))).toBe('000002BC9000');
    expect(card.registry.get(hex`A000000632010105`)!.lifecycle).toBe(0x0f);
  });

  it('a personalized SIM survives a card image (SIM_FACTORIES knows the e-purse and the PSAM)', async () => {
    expect(Object.keys(SIM_FACTORIES)).toEqual(expect.arrayContaining(['simtap.epurse', 'simtap.psam']));
    const card = createSim({ personalized: { balance: 1234 } });
    const dir = await mkdtemp(join(tmpdir(), 'simtap-sim-'));
    try {
      const path = join(dir, 'card-1.img');
      await saveImage(card, path);
      const loaded = await loadSim(path);
      loaded.powerOn('contactless');
      loaded.transmit('contactless', SELECT_PURSE);
      expect(toHex(loaded.transmit('contactless', GET_BALANCE))).toBe('000004D29000');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('neither option: no e-purse (the ISD alone)', () => {
    expect(
      createSim()
        .registry.list()
        .map((e) => e.type),
    ).toEqual(['simtap.isd', 'simtap.usim']); // the USIM of the UICC, always there
    expect(createSim({ epurse: false, personalized: false }).registry.list()).toHaveLength(2); // ISD and USIM
  });
});

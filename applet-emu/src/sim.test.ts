import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, hex, toHex } from '@simtap/sdk/core/bytes';
import { diversifyKdf3, Scp03Host } from '@simtap/sdk/core/gp';
import { referenceProfile } from '@simtap/sdk/core/profile';
import { describe, expect, it } from 'vitest';
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
          expect(c.registry.list()).toHaveLength(1);
          c.registry.install(new TestPersoApplet(fromHex(TestPersoApplet.DEFAULT_AID_HEX)));
        },
      ],
    });
    expect(card.registry.list().map((e) => e.type)).toEqual(['simtap.isd', 'simtap.test-perso']);
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

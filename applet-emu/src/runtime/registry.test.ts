import { hex, toHex } from '@simtap/sdk/core/bytes';
import { describe, expect, it } from 'vitest';
import type { Applet, AppletEnv } from './applet';
import { CARD_LIFECYCLE, isSelectableLifecycle, LIFECYCLE } from './applet';
import { Card } from './card';
import { RegistryError } from './errors';
import { SampleApplet } from './sample-applet';

function applet(aid: Uint8Array, onInstall?: (env: AppletEnv) => void): Applet {
  return { aid, onInstall, select: () => undefined, process: () => undefined };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof RegistryError) return err.code;
    throw err;
  }
  return undefined;
}

describe('Registry', () => {
  it('lists entries in install order with life cycle, privileges and defaults', () => {
    const card = new Card();
    card.registry.install(applet(hex`A0 00 00 01 51 00 00 00`), {
      lifecycle: LIFECYCLE.PERSONALIZED,
      privileges: hex`9E 00 00`,
      default: true,
    });
    card.registry.install(applet(hex`A0 00 00 00 01`), { default: ['contactless'] });
    const list = card.registry.list();
    expect(list.map((e) => toHex(e.aid))).toEqual(['A000000151000000', 'A000000001']);
    expect(list[0]!.lifecycle).toBe(0x0f);
    expect(toHex(list[0]!.privileges)).toBe('9E0000');
    expect(list[0]!.defaultFor).toEqual(['contact']); // the second install took contactless
    expect(list[1]!.defaultFor).toEqual(['contactless']);
    expect(list[1]!.lifecycle).toBe(LIFECYCLE.SELECTABLE);
    expect(toHex(card.registry.defaultFor('contact')!.aid)).toBe('A000000151000000');
  });

  it('refuses invalid and duplicate AIDs and bad states', () => {
    const card = new Card();
    card.registry.install(applet(hex`A0 00 00 00 01`));
    expect(code(() => card.registry.install(applet(hex`A0 00 00 00 01`)))).toBe('AID_EXISTS');
    expect(code(() => card.registry.install(applet(hex`A0 00 00 00`)))).toBe('AID_INVALID');
    expect(code(() => card.registry.install(applet(new Uint8Array(17))))).toBe('AID_INVALID');
    expect(code(() => card.registry.install(applet(hex`A0 00 00 00 02`), { lifecycle: 256 }))).toBe(
      'LIFECYCLE_INVALID',
    );
    expect(code(() => card.registry.install(applet(hex`A0 00 00 00 02`), { privileges: hex`00` }))).toBe(
      'LIFECYCLE_INVALID',
    );
    expect(code(() => card.registry.setLifecycle(hex`A0 00 00 00 09`, 7))).toBe('AID_NOT_FOUND');
    expect(code(() => card.registry.setCardLifecycle(-1))).toBe('LIFECYCLE_INVALID');
  });

  it('rolls an install back when onInstall throws', () => {
    const card = new Card();
    const writes = card.persistentWrites;
    expect(() =>
      card.registry.install(
        applet(hex`A0 00 00 00 01`, (env) => {
          env.files.createDf(env.files.mf, { fid: 0x1000, name: env.aid });
          env.store.put('x', 1);
          throw new Error('install failed');
        }),
      ),
    ).toThrow('install failed');
    expect(card.registry.list()).toEqual([]);
    expect(card.files.mf.children).toHaveLength(0);
    expect(card.snapshot().records).toEqual([]);
    expect(card.persistentWrites).toBeGreaterThan(writes);
  });

  it('changes life cycle, privileges and the card state persistently', () => {
    const card = new Card();
    const aid = hex`A0 00 00 00 01`;
    card.registry.install(applet(aid));
    card.registry.setLifecycle(aid, LIFECYCLE.LOCKED);
    card.registry.setPrivileges(aid, hex`80 00 00`);
    expect(card.registry.cardLifecycle).toBe(CARD_LIFECYCLE.SECURED);
    card.registry.setCardLifecycle(CARD_LIFECYCLE.CARD_LOCKED);
    const e = card.registry.get(aid)!;
    expect([e.lifecycle, toHex(e.privileges)]).toEqual([0x83, '800000']);
    expect(card.registry.cardLifecycle).toBe(0x7f);
    // A rolled-back SET STATUS leaves the old state.
    expect(() =>
      card.atomically(() => {
        card.registry.setLifecycle(aid, LIFECYCLE.SELECTABLE);
        throw new Error('abort');
      }),
    ).toThrow();
    expect(card.registry.get(aid)!.lifecycle).toBe(0x83);
  });

  it('removes an applet with its store, and undoes the removal on rollback', () => {
    const card = new Card();
    const s = new SampleApplet();
    card.registry.install(s);
    const store = card.registry.storeOf(s.aid);
    expect(store.getNumber('counter')).toBe(0);
    expect(() =>
      card.atomically(() => {
        card.registry.remove(s.aid);
        throw new Error('abort');
      }),
    ).toThrow();
    expect(card.registry.get(s.aid)).toBeDefined();
    expect(store.getNumber('counter')).toBe(0);
    card.registry.remove(s.aid);
    expect(card.registry.get(s.aid)).toBeUndefined();
    expect(store.keys()).toEqual([]);
    expect(code(() => card.registry.remove(s.aid))).toBe('AID_NOT_FOUND');
  });

  it('classifies selectable GP life-cycle bytes', () => {
    expect([0x03, 0x07, 0x0f, 0x83, 0x87, 0x8f, 0x1f].map(isSelectableLifecycle)).toEqual([
      false,
      true,
      true,
      false,
      false,
      false,
      true,
    ]);
  });
});

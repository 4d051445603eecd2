import { fromHex } from '@simtap/sdk/core/bytes';
import { describe, expect, it } from 'vitest';
import { CARD_LIFECYCLE, PRIVILEGE } from './applet';
import { Card } from './card';
import { SampleApplet } from './sample-applet';

const SD_AID = fromHex('A000000151000000');
const APP_AID = fromHex('F0534D5441500101');
const select = (aid: Uint8Array) => Uint8Array.of(0x00, 0xa4, 0x04, 0x00, aid.length, ...aid, 0x00);
const sw = (r: Uint8Array) => (r[r.length - 2]! << 8) | r[r.length - 1]!;

function card(): Card {
  const c = new Card();
  c.atomically(() => {
    c.registry.install(new SampleApplet(SD_AID, { fid: 0x3f10 }), {
      privileges: Uint8Array.of(PRIVILEGE.SECURITY_DOMAIN | PRIVILEGE.CARD_LOCK | PRIVILEGE.CARD_RESET, 0, 0),
      default: true,
    });
    c.registry.install(new SampleApplet(APP_AID, { fid: 0x3f11 }));
  });
  c.powerOn('contactless');
  return c;
}

describe('card life cycle and selection (GPC 2.3 §5.1)', () => {
  it('keeps applications selectable while the card is SECURED', () => {
    const c = card();
    c.registry.setCardLifecycle(CARD_LIFECYCLE.SECURED);
    expect(sw(c.transmit('contactless', select(APP_AID)))).toBe(0x9000);
  });

  for (const [name, state] of [
    ['CARD_LOCKED', CARD_LIFECYCLE.CARD_LOCKED],
    ['TERMINATED', CARD_LIFECYCLE.TERMINATED],
  ] as const) {
    it(`in ${name} only the issuer security domain can be selected`, () => {
      const c = card();
      c.registry.setCardLifecycle(state);
      expect(sw(c.transmit('contactless', select(APP_AID)))).toBe(0x6a82);
      expect(sw(c.transmit('contactless', select(SD_AID)))).toBe(0x9000);
    });
  }
});

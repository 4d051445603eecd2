import { hex, toHex } from '@simtap/sdk/core/bytes';
import { TransportError } from '@simtap/sdk/core/errors';
import { Scp03Host } from '@simtap/sdk/core/gp';
import { describe, expect, it } from 'vitest';
import { createSim, simIsdKeys } from '../sim';
import { Card } from './card';

describe('Card.channel: the card as a terminal channel in one call', () => {
  it('transmits, reports a card out of the field as CARD_REMOVED, and closes', async () => {
    const card = createSim({ personalized: { balance: 4321 } });
    const ch = card.channel('contactless');
    expect(ch.description).toBe('in-process card (contactless)');
    // Not powered: what a reader reports when no card is in the field.
    await expect(ch.transmit(hex`80 5C 00 02 04`)).rejects.toMatchObject({ code: 'CARD_REMOVED' });
    card.powerOn('contactless');
    expect(toHex(await ch.transmit(hex`00 A4 04 00 08 A000000632010105 00`)).slice(-4)).toBe('9000');
    expect(toHex(await ch.transmit(hex`80 5C 00 02 04`))).toBe('000010E19000');
    await ch.close();
    await ch.close();
    await expect(ch.transmit(hex`80 5C 00 02 04`)).rejects.toMatchObject({ code: 'TRANSPORT_CLOSED' });
    expect(() => new Card().channel('bluetooth' as never)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });

  it('is what Scp03Host.open takes, with no adapter', async () => {
    const card = createSim();
    card.powerOn('contact');
    const ch = card.channel('contact');
    await ch.transmit(hex`00 A4 04 00 08 A000000151000000 00`);
    const scp = await Scp03Host.open(ch, { keys: simIsdKeys().scp03, securityLevel: 0x33 });
    expect(toHex(await scp.transmit(hex`80 CA 00 CF 00`))).toBe('CF0A000044012026000000019000');
    await expect(Scp03Host.open({} as never, { keys: simIsdKeys().scp03, securityLevel: 0x01 })).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
    });
  });

  it('surfaces a torn command as TransportError CARD_REMOVED', async () => {
    const card = createSim({ personalized: { balance: 100 } });
    card.powerOn('contact');
    const ch = card.channel('contact');
    await ch.transmit(hex`00 A4 04 00 08 A000000632010105 00`);
    card.tearAt(1);
    // VERIFY writes the try counter first: the tear strikes there.
    const err = await ch.transmit(hex`00 20 00 00 03 123456`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ code: 'CARD_REMOVED' });
  });
});

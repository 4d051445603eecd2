import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../core/bytes';
import { ArgumentError, type CardGoneErrorCode, TransportError } from '../core/errors';
import { isCardGoneError, TRANSPORT_ERRORS } from './channel';
import { InProcessChannel, type SyncApduCard } from './in-process';

/** What the emulator's `CardRemovedError` / `CardTornError` are: `TransportError`s with a card-gone code. */
const cardGone = (code: CardGoneErrorCode): Error => new TransportError<CardGoneErrorCode>(code, 'card gone');

/** Answers SELECT with 9000, `00 EE` throws what `nextThrow` holds, anything else 6D00. */
function scriptedCard(): SyncApduCard & { seen: string[]; nextThrow?: unknown } {
  const card: SyncApduCard & { seen: string[]; nextThrow?: unknown } = {
    seen: [],
    transmit(capdu) {
      card.seen.push(toHex(capdu));
      if (capdu[1] === 0xee) throw card.nextThrow;
      return capdu[1] === 0xa4 ? fromHex('6F07840500010203049000') : fromHex('6D00');
    },
  };
  return card;
}

describe('InProcessChannel', () => {
  it('passes the command to the card and resolves with its response, whatever the SW', async () => {
    const card = scriptedCard();
    const ch = new InProcessChannel(card);
    expect(toHex(await ch.transmit(fromHex('00A4040005F001020304')))).toBe('6F07840500010203049000');
    expect(toHex(await ch.transmit(fromHex('80CA000009')))).toBe('6D00');
    expect(card.seen).toEqual(['00A4040005F001020304', '80CA000009']);
    expect(ch.description).toBe('in-process card');
    expect(new InProcessChannel(card, { description: 'purse' }).description).toBe('purse');
  });

  it.each([
    ['an error with code CARD_NOT_POWERED', cardGone('CARD_NOT_POWERED')],
    ['an error with code CARD_TORN', Object.assign(new Error('torn'), { code: 'CARD_TORN' })],
    ['an error with code CARD_REMOVED', Object.assign(new Error('gone'), { code: 'CARD_REMOVED' })],
  ])('turns %s into TransportError CARD_REMOVED', async (_, thrown) => {
    const card = scriptedCard();
    card.nextThrow = thrown;
    const ch = new InProcessChannel(card);
    const err = await ch.transmit(fromHex('00EE0000')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ code: 'CARD_REMOVED' });
    expect((err as Error).cause).toBe(thrown);
    expect(toHex(await ch.transmit(fromHex('00A4040000')))).toMatch(/9000$/); // the channel stays usable
  });

  it('lets any other error of the card propagate unchanged', async () => {
    const card = scriptedCard();
    const bug = new RangeError('index out of range');
    card.nextThrow = bug;
    await expect(new InProcessChannel(card).transmit(fromHex('00EE0000'))).rejects.toBe(bug);
  });

  it('fails with TRANSPORT_CLOSED after close (idempotent) without touching the card', async () => {
    const card = scriptedCard();
    const ch = new InProcessChannel(card);
    await ch.close();
    await ch.close();
    await expect(ch.transmit(fromHex('00A4040000'))).rejects.toMatchObject({ code: 'TRANSPORT_CLOSED' });
    expect(card.seen).toEqual([]);
  });

  it('rejects a command that is not 4 to 65544 bytes with BAD_ARGUMENT', async () => {
    const ch = new InProcessChannel(scriptedCard());
    await expect(ch.transmit(fromHex('00A404'))).rejects.toBeInstanceOf(ArgumentError);
    await expect(ch.transmit(new Uint8Array(65545))).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(ch.transmit('00A40400' as unknown as Uint8Array)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});

describe('channel helpers', () => {
  it('isCardGoneError recognises removal and tearing only, by code', () => {
    expect(isCardGoneError(cardGone('CARD_NOT_POWERED'))).toBe(true);
    expect(isCardGoneError(cardGone('CARD_TORN'))).toBe(true);
    expect(isCardGoneError(new TransportError('CARD_REMOVED', 'gone'))).toBe(true);
    expect(isCardGoneError(Object.assign(new Error('x'), { name: 'CardRemovedError' }))).toBe(false);
    expect(isCardGoneError({ code: 'CARD_TORN' })).toBe(false);
    expect(isCardGoneError(new TransportError('TIMEOUT', 'slow'))).toBe(false);
    expect(isCardGoneError(new Error('x'))).toBe(false);
    expect(isCardGoneError(null)).toBe(false);
    expect(isCardGoneError('CARD_REMOVED')).toBe(false);
  });

  it('documents every transport code channels use', () => {
    expect(Object.keys(TRANSPORT_ERRORS).sort()).toEqual(
      [
        'BAD_RESPONSE',
        'CARD_REMOVED',
        'PCSC_ERROR',
        'PCSC_UNAVAILABLE',
        'READER_NOT_FOUND',
        'TIMEOUT',
        'TRACE_EXHAUSTED',
        'TRACE_MISMATCH',
        'TRANSPORT_CLOSED',
      ].sort(),
    );
  });
});

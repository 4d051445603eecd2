import { describe, expect, it } from 'vitest';
import { transportError } from '../card/channel';
import { fromHex, toHex } from '../core/bytes';
import { TransportError } from '../core/errors';
import { InsufficientBalanceError } from '../core/iso7816';
import { ISO14443_106, TapTimer } from '../core/iso14443';
import { CardLeftFieldError } from './errors';
import { ApduLink, MachineResponseError } from './link';
import { cardRemoved, ScriptedChannel } from './test-support';

describe('ApduLink', () => {
  it('counts exchanges and feeds the tap timer', async () => {
    const ch = new ScriptedChannel([
      { cmd: '00A4', rsp: '6F009000' },
      { cmd: '805C', rsp: '000013889000' },
    ]);
    const timer = new TapTimer();
    const link = new ApduLink(ch, 'card', timer);
    await link.run('SELECT', fromHex('00A4040002AABB00'));
    expect(toHex(await link.run('GET_BALANCE', fromHex('805C000204'), 4))).toBe('00001388');
    expect(link.apduCount).toBe(2);
    expect(timer.count).toBe(2);
    expect(timer.estimate(ISO14443_106).apduCount).toBe(2);
  });

  it('completes 61xx with GET RESPONSE and 6Cxx with a re-send, counting every exchange', async () => {
    const ch = new ScriptedChannel([
      { cmd: '8070000024', rsp: '6108' },
      { cmd: '00C0000008', rsp: '00000001A1B2C3D49000' },
      { cmd: '00B0960000', rsp: '6C06' },
      { cmd: '00B0960006', rsp: '4401000000019000' },
    ]);
    const link = new ApduLink(ch, 'psam');
    const r = await link.run('PSAM_INIT_FOR_PURCHASE', fromHex(`8070000024${'00'.repeat(36)}`), 8);
    expect(toHex(r)).toBe('00000001A1B2C3D4');
    expect(toHex(await link.run('PSAM_READ_TERMINAL_ID', fromHex('00B0960000'), 6))).toBe('440100000001');
    expect(link.apduCount).toBe(4);
  });

  it('maps a card leaving the field to CardLeftFieldError (card link only)', async () => {
    const card = new ApduLink(new ScriptedChannel([{ cmd: '', fail: cardRemoved() }]), 'card');
    const e = await card.run('DEBIT_FOR_PURCHASE', fromHex('80540100')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CardLeftFieldError);
    expect(e).toBeInstanceOf(TransportError);
    expect(e).toMatchObject({ code: 'CARD_REMOVED', command: 'DEBIT_FOR_PURCHASE', pending: undefined });
    expect(card.apduCount).toBe(0);
    const psam = new ApduLink(new ScriptedChannel([{ cmd: '', fail: cardRemoved() }]), 'psam');
    const p = await psam.run('PSAM_SELECT', fromHex('00A40400')).catch((x: unknown) => x);
    expect(p).toBeInstanceOf(TransportError);
    expect(p).not.toBeInstanceOf(CardLeftFieldError);
  });

  it('passes other transport errors through', async () => {
    const err = transportError('TIMEOUT', 'slow');
    const link = new ApduLink(new ScriptedChannel([{ cmd: '', fail: err }]), 'card');
    await expect(link.run('SELECT', fromHex('00A40400'))).rejects.toBe(err);
  });

  it('applies the status table and checks the data length', async () => {
    const link = new ApduLink(
      new ScriptedChannel([
        { cmd: '', rsp: '9401' },
        { cmd: '', rsp: '01029000' },
      ]),
      'card',
    );
    await expect(link.run('INITIALIZE_FOR_PURCHASE', fromHex('80500102'))).rejects.toBeInstanceOf(
      InsufficientBalanceError,
    );
    const e = await link.run('INITIALIZE_FOR_PURCHASE', fromHex('80500102'), 15).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MachineResponseError);
    expect(e).toMatchObject({ code: 'MACHINE_BAD_RESPONSE' });
  });
});

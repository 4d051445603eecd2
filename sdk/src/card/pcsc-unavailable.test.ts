import { describe, expect, it, vi } from 'vitest';
import { TransportError } from '../core/errors';
import { PcscChannel } from './pcsc';

// Simulates an install without the optional `smartcard` package (or without libpcsclite at run time).
vi.mock('smartcard', () => {
  throw new Error("Cannot find package 'smartcard' imported from pcsc.ts");
});

describe('PcscChannel without the smartcard package', () => {
  it('fails with PCSC_UNAVAILABLE and says how to install it', async () => {
    const err = await PcscChannel.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ code: 'PCSC_UNAVAILABLE' });
    expect((err as Error).message).toContain('npm i smartcard');
    expect((err as Error).message).toContain('libpcsclite-dev');
    await expect(PcscChannel.listReaders()).rejects.toMatchObject({ code: 'PCSC_UNAVAILABLE' });
  });
});

/**
 * Test support for the ISD: a synchronous host side of SCP02/SCP03 over `Card.transmit` (the SDK's hosts are
 * asynchronous; tear enumeration and fuzzing need synchronous scripts) and a small personalizable applet.
 * Not part of the package API.
 *
 * @internal
 * @module
 */
import { concat, toHex } from '@simtap/sdk/core/bytes';
import { type CommandApdu, IsoException, SW } from '@simtap/sdk/core/iso7816';
import type { ApduContext } from '../../runtime/applet';
import type { PersonalizableApplet, StoreDataItem } from '../personalization';

export {
  cardTransmit,
  dataOf,
  HandshakeError,
  openScp02Sync,
  openScp03Sync,
  type SyncScpHost,
  type SyncScpOptions,
  type SyncTransmit,
  swOf,
} from './sync-host';

/**
 * A personalizable test applet (type `simtap.test-perso`): each DGI costs two persistent writes — the value
 * under `dgi/<DGI hex>` and a running `count` — and the last DGI of a sequence sets `personalized`. DGI 0BAD is
 * refused with 6A80 (after the writes of earlier DGIs of the same command, which must then roll back); a DGI
 * after personalization → 6985. GET DATA `80 CA 00 00` returns the count (1 byte).
 */
export class TestPersoApplet implements PersonalizableApplet {
  static readonly TYPE = 'simtap.test-perso';
  static readonly DEFAULT_AID_HEX = 'F0 53 49 4D 54 41 50 50';
  readonly type = TestPersoApplet.TYPE;
  constructor(readonly aid: Uint8Array) {}

  select(): undefined {
    return undefined;
  }

  process(ctx: ApduContext, cmd: CommandApdu): Uint8Array {
    if (cmd.ins !== 0xca) throw new IsoException(SW.INS_NOT_SUPPORTED);
    return Uint8Array.of(ctx.store.getNumber('count') ?? 0);
  }

  storeData(ctx: ApduContext, item: StoreDataItem): void {
    if (ctx.store.has('personalized')) throw new IsoException(SW.CONDITIONS_NOT_SATISFIED);
    if (item.dgi === 0x0bad) throw new IsoException(SW.WRONG_DATA);
    ctx.atomically(() => {
      const hexDgi = toHex(Uint8Array.of(item.dgi >> 8, item.dgi & 0xff));
      ctx.store.put(`dgi/${hexDgi}`, concat(Uint8Array.of(item.encrypted ? 1 : 0), item.data));
      ctx.store.put('count', (ctx.store.getNumber('count') ?? 0) + 1);
      if (item.last) ctx.store.put('personalized', true);
    });
  }
}

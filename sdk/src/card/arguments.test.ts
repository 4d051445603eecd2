/**
 * What an integrator calling `@simtap/sdk/card` from JavaScript gets for wrong arguments: `BAD_ARGUMENT` naming the
 * argument, never a bare `TypeError`.
 */

import { describeHostileArguments, optionsBag } from '../../test/hostile-arguments';
import { fromHex } from '../core/bytes';
import * as card from '.';
import { assertCardChannel } from './arguments';

const channel = () => new card.InProcessChannel({ transmit: () => fromHex('9000') });

describeHostileArguments(
  '@simtap/sdk/card given hostile arguments',
  {
    'new InProcessChannel(card)': (v) => new card.InProcessChannel(v as never),
    'new InProcessChannel(card, options)': (v) =>
      new card.InProcessChannel({ transmit: () => fromHex('9000') }, v as never),
    'inProcess.transmit(capdu)': (v) => channel().transmit(v as never),
    'new TracePlayer(exchanges)': (v) => new card.TracePlayer(v as never),
    'new TracePlayer(exchanges, options)': (v) => new card.TracePlayer([], v as never),
    'TracePlayer.fromTrace(trace)': (v) => card.TracePlayer.fromTrace(v as never),
    'player.transmit(capdu)': (v) => new card.TracePlayer([{ c: '00A40400', r: '9000' }]).transmit(v as never),
    'new TraceRecorder(inner)': (v) => new card.TraceRecorder(v as never),
    'new TraceRecorder(inner, options)': (v) => new card.TraceRecorder(channel(), v as never),
    'recorder.transmit(capdu)': (v) => new card.TraceRecorder(channel()).transmit(v as never),
    'recorder.toTrace(id)': (v) => new card.TraceRecorder(channel()).toTrace(v as never),
    'commandsMatch(expected)': (v) => card.commandsMatch(v as never, new Uint8Array(4)),
    'commandsMatch(expected, actual)': (v) => card.commandsMatch(new Uint8Array(4), v as never),
    'cryptoFieldRange(capdu)': (v) => card.cryptoFieldRange(v as never),
    'assertCommandApdu(capdu)': (v) => card.assertCommandApdu(v),
    'assertCardChannel(value)': (v) => assertCardChannel(v, 'value'),
    // Valid options get a reader that cannot exist and no wait, so no card of another test is ever opened.
    'PcscChannel.open(options)': (v) =>
      v === undefined
        ? undefined
        : card.PcscChannel.open(
            (optionsBag(v) ? { ...(v as object), reader: 'simtap: no such reader', timeoutMs: 0 } : v) as never,
          ),
  },
  {
    accepts: {
      'new InProcessChannel(card, options)': optionsBag,
      'new TracePlayer(exchanges)': (v) => Array.isArray(v),
      'new TracePlayer(exchanges, options)': optionsBag,
      'new TraceRecorder(inner, options)': optionsBag,
      'recorder.toTrace(id)': (v) => v === undefined || v === 'x',
      'cryptoFieldRange(capdu)': (v) => v instanceof Uint8Array,
      'commandsMatch(expected)': (v) => v instanceof Uint8Array,
      'commandsMatch(expected, actual)': (v) => v instanceof Uint8Array,
      'PcscChannel.open(options)': optionsBag,
    },
  },
);

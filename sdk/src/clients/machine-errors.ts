/**
 * What {@link MachineHub} and {@link MachineAgent} throw: a {@link MachineLinkError} whose `code` is one of
 * {@link MACHINE_LINK_ERRORS} (matched with the core's `hasErrorCode(e, MACHINE_LINK_ERRORS, 'BUFFER_CORRUPT')`).
 * Options outside their domain are `BAD_ARGUMENT` (`ArgumentError`).
 * @module
 */
import { defineErrors, SimtapError } from '../core/errors';

/**
 * The codes of `/v1/machine`'s two ends.
 * @example
 * import { hasErrorCode } from '@simtap/sdk/core/errors';
 * import { MACHINE_LINK_ERRORS } from '@simtap/sdk/clients';
 * const fatal = (e: unknown) => hasErrorCode(e, MACHINE_LINK_ERRORS, 'MACHINE_AUTH_FAILED', 'MACHINE_SUPERSEDED');
 */
export const MACHINE_LINK_ERRORS = defineErrors({
  BLACKLIST_SIGNATURE_INVALID: {
    class: 'MachineLinkError',
    when:
      "`MachineHub.pushConfig` got a config whose blacklist delta does not verify under the platform's " +
      '`blacklistPublicKey` (machines would refuse it)',
    fix: 'push the delta `cards.blacklist` answered, unchanged; check that the hub has the key of `cards.blacklistKey`',
  },
  UNKNOWN_MACHINE: {
    class: 'MachineLinkError',
    when: '`MachineHub.pushConfig` for a machine id that is not in the hub’s `machines`',
    fix: 'add the machine to the hub’s options, or fix the id',
  },
  HUB_CLOSED: {
    class: 'MachineLinkError',
    when: '`MachineHub.listen` or `pushConfig` after `close()`',
    fix: 'create a new hub',
  },
  BUFFER_CORRUPT: {
    class: 'MachineLinkError',
    when:
      '`MachineAgent.start`: a complete line of the record buffer (or its state file) is not what the agent wrote ' +
      '(a torn last line after a crash is expected and ignored; this is not that)',
    fix: 'keep the buffer directory for investigation; its records are not delivered until it is repaired',
  },
  BUFFER_IO: {
    class: 'MachineLinkError',
    when: 'the record buffer could not be read, written or synced (`cause` has the file system error)',
    fix: 'check the disk; after a failed write the agent refuses records until it is started again',
  },
  AGENT_STOPPED: {
    class: 'MachineLinkError',
    when: '`MachineAgent.record` or `delivered` before `start()` or after `stop()`',
    fix: 'start the agent first; records already acknowledged stay in the buffer for the next start',
  },
  MACHINE_AUTH_FAILED: {
    class: 'MachineLinkError',
    when: 'the hub refused the machine: a wrong secret or an unknown machine id (`BAD_PROOF`, close 4401); final',
    fix: 'fix `machineId` or `secret`, then start a new agent on the same buffer directory',
  },
  MACHINE_SUPERSEDED: {
    class: 'MachineLinkError',
    when: 'the hub closed the session with 4409: another process connected with the same machine id; final',
    fix: 'run one agent per machine id',
  },
  DELIVERY_TIMEOUT: {
    class: 'MachineLinkError',
    when: '`MachineAgent.delivered` waited longer than its `timeoutMs` (the records stay buffered)',
    fix: 'nothing is lost: the agent keeps delivering when the link returns',
  },
  NOT_CONNECTED: {
    class: 'MachineLinkError',
    when: '`MachineAgent.request` while the machine has no session with its hub (offline, or still connecting)',
    fix: 'an online request needs the link: decline the sale or retry when the agent reports `connected`',
  },
  REQUEST_UNANSWERED: {
    class: 'MachineLinkError',
    when:
      '`MachineAgent.request` got no answer: the link closed, or `timeoutMs` passed (the application system may ' +
      'have acted on it)',
    fix: 'send it again with the same idempotency key in its params, so that it acts at most once',
  },
});

/** A code of {@link MACHINE_LINK_ERRORS}. */
export type MachineLinkErrorCode = keyof typeof MACHINE_LINK_ERRORS;

/**
 * An error of {@link MachineHub} or {@link MachineAgent}; `closeCode` is the WebSocket close code that caused it.
 * @example
 * import { hasErrorCode } from '@simtap/sdk/core/errors';
 * import { MACHINE_LINK_ERRORS } from '@simtap/sdk/clients';
 * try {
 *   await agent.delivered({ timeoutMs: 5000 });
 * } catch (e) {
 *   if (!hasErrorCode(e, MACHINE_LINK_ERRORS, 'DELIVERY_TIMEOUT')) throw e; // still offline: records stay buffered
 * }
 */
export class MachineLinkError<C extends MachineLinkErrorCode = MachineLinkErrorCode> extends SimtapError<C> {
  /** The WebSocket close code, when the error comes from one. */
  readonly closeCode: number | undefined;
  constructor(code: C, message: string, options: { cause?: unknown; closeCode?: number } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.closeCode = options.closeCode;
  }
}

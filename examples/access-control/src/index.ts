/**
 * The access-control application system (see `system.ts`): a back office, three doors, and the report.
 *
 * @module
 */
export { BackOffice, type BackOfficeOptions, type DoorSpec, type PollResult } from './back-office';
export { accessProfile, createAccessSims, HOLDERS, type Holder, holderCard, issueAccessCards, serialOf } from './cards';
export { type AccessEvent, DoorController, type DoorOptions } from './door';
export {
  ACCESS_REASONS,
  type AccessGroup,
  type AccessReason,
  type DoorRule,
  decide,
  doorRules,
  localTime,
  windowOpen,
} from './policy';
export { type CardCheck, checkCard } from './reader';
export {
  type AccessControlOptions,
  type AccessReport,
  accessGroups,
  DOORS,
  formatReport,
  runAccessControl,
  SCENARIO,
} from './system';

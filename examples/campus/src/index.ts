/**
 * The campus example as a library: {@link runCampus} runs the campus's application system for a day against a
 * simtap platform and returns its report; {@link formatReport} prints it.
 *
 * @module
 */
export { CampusBackOffice, type ClearingBatch, type StoredRecord } from './back-office';
export {
  type CampusOptions,
  type CampusReport,
  DAY,
  type DayEvent,
  DOORS,
  DORM_HOURS,
  doorRules,
  formatReport,
  LIBRARY_HOURS,
  MENU,
  runCampus,
  STUDENTS,
  type Student,
  type StudentSummary,
  TILLS,
  type TimelineEntry,
  yuan,
} from './campus';
export { CampusDoor, checkDoorRules, DOOR_REASONS, type DoorDecision, type DoorReason, type DoorRule } from './door';
export { CAMPUS_ERRORS, CampusError, type CampusErrorCode } from './errors';
export { CampusMachine, CanteenTill, type LoadOutcome, type SaleOutcome, TopUpKiosk } from './machines';
export { CampusReader, readCardSerial } from './reader';

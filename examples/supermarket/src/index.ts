/**
 * The supermarket example: tills with loyalty points, and the online charge to the phone account for baskets above
 * the purse's balance.
 * @module
 */
export { BackOffice, type BackOfficeOptions, type ClearedBatch, type OnlineCharge, type TillSpec } from './back-office';
export {
  type Basket,
  type Check,
  type Customer,
  type CustomerReport,
  createCustomer,
  DEFAULT_SCENARIO,
  formatReport,
  KIOSK_TERMINAL_ID,
  MART_CLIENT_ID,
  POINTS_PER_YUAN,
  pointsFor,
  runSupermarket,
  type Scenario,
  SUPERMARKET_ERRORS,
  SupermarketError,
  type SupermarketOptions,
  type SupermarketReport,
  TILLS,
  yuan,
} from './supermarket';
export {
  CHARGE_REQUESTS,
  type ChargeRequest,
  type ChargeService,
  ContactlessReader,
  chargesOverLink,
  type Sale,
  TILL_ERRORS,
  Till,
  TillError,
  type TillErrorCode,
  type TillOptions,
} from './till';

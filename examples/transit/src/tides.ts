/**
 * The back office's fare transactions as a TIDES `fare_transactions` table (Transit ITS Data Exchange
 * Specification, `spec/fare_transactions.schema.json`): one CSV row per ride the platform cleared and per kiosk
 * load, with the spec's column names. The mapping is in the example's README.
 *
 * @module
 */
import type { AuditedRecord, LoadRow } from './back-office';
import { loadFields } from './back-office';

/** The columns written, in order (all are TIDES `fare_transactions` fields; the required ones are all here). */
export const TIDES_COLUMNS = [
  'transaction_id',
  'service_date',
  'event_timestamp',
  'amount',
  'currency_type',
  'fare_action',
  'stop_id',
  'vehicle_id',
  'device_id',
  'media_type',
  'fare_product',
  'fare_capped',
  'fare_media_id',
  'balance',
] as const;

export type TidesRow = Record<(typeof TIDES_COLUMNS)[number], string>;

/** Fen as a decimal yuan amount (`400` → `4.00`), exact. */
export function yuanAmount(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const a = Math.abs(fen);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

/** YYYYMMDD → YYYY-MM-DD. */
function isoDate(d: string): string {
  return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`;
}

/** YYYYMMDD + hhmmss (terminal-local, China) → ISO 8601 with its offset. */
function timestamp(d: string, t: string): string {
  return `${isoDate(d)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}+08:00`;
}

/** The rows: the cleared rides (audited) and the loads, in time order. */
export function tidesRows(rides: readonly AuditedRecord[], loads: readonly LoadRow[]): TidesRow[] {
  const rows: { at: string; row: TidesRow }[] = [];
  for (const a of rides) {
    if (a.stored.status !== 'cleared') continue;
    const r = a.stored.record;
    const d = a.device;
    const metro = d.what !== 'bus';
    const action = d.what === 'metro-exit' ? 'Exit' : a.transferStart ? 'Transfer entrance' : 'Enter';
    rows.push({
      at: `${r.date}${r.time}`,
      row: {
        transaction_id: `${r.terminalId}-${r.terminalSeq}`,
        service_date: isoDate(r.date),
        event_timestamp: timestamp(r.date, r.time),
        amount: yuanAmount(r.amount),
        currency_type: 'CNY',
        fare_action: action,
        stop_id: metro ? `L${d.station.line}-S${d.station.station}` : '',
        vehicle_id: metro ? '' : d.id,
        device_id: d.id,
        media_type: 'Mobile NFC',
        fare_product: 'Stored value',
        fare_capped: String(a.capInEffect),
        fare_media_id: r.cardSerial,
        balance: '',
      },
    });
  }
  for (const l of loads) {
    const f = loadFields(l.record);
    rows.push({
      at: `${f.date}${f.time}`,
      row: {
        transaction_id: `${f.terminalId}-L${f.serial}-${l.record.onlineCounter}`,
        service_date: isoDate(f.date),
        event_timestamp: timestamp(f.date, f.time),
        amount: yuanAmount(l.record.amount),
        currency_type: 'CNY',
        fare_action: 'Add',
        stop_id: '',
        vehicle_id: '',
        device_id: `kiosk-${f.terminalId}`,
        media_type: 'Mobile NFC',
        fare_product: l.funding === 'cash' ? 'Stored value (cash)' : 'Stored value (phone account)',
        fare_capped: 'false',
        fare_media_id: f.serial,
        balance: yuanAmount(l.record.balanceAfter),
      },
    });
  }
  return rows.sort((a, b) => a.at.localeCompare(b.at)).map((r) => r.row);
}

function cell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The table as CSV (RFC 4180, header row, CRLF line ends). */
export function tidesCsv(rows: readonly TidesRow[]): string {
  const lines = [TIDES_COLUMNS.join(','), ...rows.map((r) => TIDES_COLUMNS.map((c) => cell(r[c])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

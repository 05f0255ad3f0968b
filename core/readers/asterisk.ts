/**
 * Asterisk's Master.csv (cdr_csv): no header, every text field in double quotes, columns in
 * the order of cdr/cdr_csv.c build_csv_record(): accountcode, src, dst, dcontext, clid,
 * channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition,
 * amaflags; then uniqueid when `loguniqueid`, userfield when `loguserfield`, and peeraccount,
 * linkedid, sequence when `newcdrcolumns` is on. Times are `YYYY-MM-DD HH:MM:SS` on the PBX's
 * wall clock (UTC with `usegmtime`), so the caller names the zone.
 */
import { InvalidRecordError } from '../errors.js';
import { inTsRange } from '../timestamp.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, daysFromCivil } from '../zone.js';
import type { Zone } from '../zone.js';
import { CsvParser } from './csv.js';
import type { LineReader } from './line-reader.js';

export const ASTERISK_COLUMNS = [
  'accountcode', 'src', 'dst', 'dcontext', 'clid', 'channel', 'dstchannel', 'lastapp', 'lastdata',
  'start', 'answer', 'end', 'duration', 'billsec', 'disposition', 'amaflags',
] as const;
const BASE = ASTERISK_COLUMNS.length;
const NEW_COLUMNS = ['peeraccount', 'linkedid', 'sequence'] as const;
/** `[systemname-]epochseconds.counter`, as ast_channel_alloc() makes it. */
const UNIQUEID = /^(?:\S+-)?\d+\.\d+$/;
const WALL_TIME = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/;

/** Which of the two optional columns a line with only one of them holds. */
export type AsteriskOptional = 'uniqueid' | 'userfield';

export interface AsteriskOptions {
  readonly zone: Zone;
  /**
   * With exactly one of uniqueid/userfield on, the line alone cannot say which it is; by
   * default a value shaped like a uniqueid (`1700000000.42`) is taken for one.
   */
  readonly single?: AsteriskOptional;
}

const TIME_EXPECTED = 'an Asterisk start time YYYY-MM-DD HH:MM:SS';

/** A Master.csv time as an instant: the wall clock read in `zone` (the earlier instant when it repeats). */
export function parseAsteriskTime (text: string, zone: Zone): number {
  const m = WALL_TIME.exec(text);
  if (m === null) throw new InvalidRecordError('ts', TIME_EXPECTED, text);
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const wall = daysFromCivil(year, month, day) * DAY_MS + hour * HOUR_MS + minute * MINUTE_MS + second * 1000;
  // Read back, the date must be the one written: daysFromCivil would roll 02-30 into March.
  const back = new Date(wall);
  if (month > 12 || back.getUTCMonth() + 1 !== month || back.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new InvalidRecordError('ts', TIME_EXPECTED, text);
  }
  return inTsRange(zone.utcOf(wall), text);
}

function integer (text: string): number | string {
  return /^\d+$/.test(text) ? Number(text) : text;
}

/**
 * One Master.csv line's fields as a raw record: accountcode → account, src → caller,
 * dst → called, start → ts, billsec → duration, disposition ANSWERED → answered,
 * uniqueid → id, service voice. The rest that a fraud rule may filter or group on stays
 * under attrs by its Asterisk name: dcontext (which context placed the call: a trunk
 * context dialling out is the classic PBX hack), clid, channel and dstchannel (the SIP peer
 * and the trunk), lastapp, lastdata, disposition, amaflags, userfield, peeraccount, linkedid,
 * sequence, and Asterisk's own duration (ringing included) as total_duration. answer and end
 * are dropped: start plus the durations give them. Empty fields are absent.
 */
export function asteriskRecord (fields: readonly string[], opts: AsteriskOptions): Record<string, unknown> {
  const n = fields.length;
  const withNew = n >= BASE + NEW_COLUMNS.length;
  const optional = n - BASE - (withNew ? NEW_COLUMNS.length : 0);
  if (n < BASE || optional > 2) {
    throw new InvalidRecordError('record', `${BASE} to ${BASE + 5} Asterisk Master.csv fields`, n);
  }
  const f = (i: number): string => fields[i] as string;
  let uniqueid = '';
  let userfield = '';
  if (optional === 2) {
    uniqueid = f(BASE); userfield = f(BASE + 1);
  } else if (optional === 1) {
    const single = opts.single ?? (UNIQUEID.test(f(BASE)) ? 'uniqueid' : 'userfield');
    if (single === 'uniqueid') uniqueid = f(BASE); else userfield = f(BASE);
  }
  const record: Record<string, unknown> = { service: 'voice' };
  const put = (name: string, value: unknown): void => { if (value !== '') record[name] = value; };
  put('id', uniqueid);
  put('account', f(0));
  put('caller', f(1));
  put('called', f(2));
  if (f(9) !== '') record.ts = parseAsteriskTime(f(9), opts.zone);
  put('duration', integer(f(13)));
  record.answered = f(14) === 'ANSWERED';

  const attrs: Record<string, unknown> = {};
  const attr = (name: string, value: unknown): void => { if (value !== '') attrs[name] = value; };
  attr('dcontext', f(3));
  attr('clid', f(4));
  attr('channel', f(5));
  attr('dstchannel', f(6));
  attr('lastapp', f(7));
  attr('lastdata', f(8));
  attr('total_duration', integer(f(12)));
  attr('disposition', f(14));
  attr('amaflags', f(15));
  attr('userfield', userfield);
  if (withNew) {
    const at = n - NEW_COLUMNS.length;
    attr('peeraccount', f(at));
    attr('linkedid', f(at + 1));
    attr('sequence', integer(f(at + 2)));
  }
  record.attrs = attrs;
  return record;
}

/** Master.csv as a LineReader. */
export class AsteriskReader implements LineReader {
  private readonly parser = new CsvParser();
  private readonly opts: AsteriskOptions;

  constructor (opts: AsteriskOptions) { this.opts = opts; }

  get pending (): boolean { return this.parser.pending; }

  reset (): void { this.parser.reset(); }

  push (line: string): unknown {
    const fields = this.parser.feed(line);
    return fields === undefined ? undefined : asteriskRecord(fields, this.opts);
  }
}

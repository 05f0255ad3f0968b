/**
 * CSV as RFC 4180 describes it (https://www.rfc-editor.org/rfc/rfc4180): comma-separated,
 * a field in double quotes may hold commas, line breaks and doubled quotes (`""`). Fed line
 * by line, so a record whose quoted field holds a line break spans several pushes; the
 * break is kept as `\n` whatever the file used. Two layers: CsvParser turns lines into
 * arrays of fields (the Asterisk reader uses it too); CsvReader maps them to objects by the
 * header row and types the record fields that are numbers or booleans.
 */
import { InvalidRecordError } from '../errors.js';
import type { LineReader } from './line-reader.js';

const QUOTE = 34;
const COMMA = 44;

/** RFC 4180 fields, one record at a time. */
export class CsvParser {
  private fields: string[] = [];
  /** Text of a quoted field still open at the end of the last line. */
  private partial = '';
  private open = false;

  get pending (): boolean { return this.open; }

  reset (): void {
    this.fields = [];
    this.partial = '';
    this.open = false;
  }

  /** The record's fields when `line` completes it, else undefined. Throws on a malformed line. */
  feed (line: string): string[] | undefined {
    let i = 0;
    if (this.open) {
      this.open = false;
      i = this.quoted(line, 0, `${this.partial}\n`);
      if (i < 0) return undefined;
      if (i === line.length) return this.done();
      i++; // the comma
    }
    for (;;) {
      if (line.charCodeAt(i) === QUOTE) {
        i = this.quoted(line, i + 1, '');
        if (i < 0) return undefined;
        if (i === line.length) return this.done();
        i++;
      } else {
        const comma = line.indexOf(',', i);
        if (comma < 0) {
          this.fields.push(line.slice(i));
          return this.done();
        }
        this.fields.push(line.slice(i, comma));
        i = comma + 1;
      }
    }
  }

  /**
   * Reads a quoted field from `i` (just past its opening quote), prefixed with `head`. Returns
   * the index after its closing quote (the end of the line or a comma), or -1 when the line
   * ends inside the field.
   */
  private quoted (line: string, i: number, head: string): number {
    let text = head;
    for (;;) {
      const q = line.indexOf('"', i);
      if (q < 0) {
        this.partial = text + line.slice(i);
        this.open = true;
        return -1;
      }
      text += line.slice(i, q);
      if (line.charCodeAt(q + 1) === QUOTE) {
        text += '"';
        i = q + 2;
        continue;
      }
      const after = q + 1;
      if (after < line.length && line.charCodeAt(after) !== COMMA) {
        this.reset();
        throw new InvalidRecordError('record', 'RFC 4180 CSV (a closing quote must be followed by a comma or the end of the line)', line);
      }
      this.fields.push(text);
      return after;
    }
  }

  private done (): string[] {
    const fields = this.fields;
    this.fields = [];
    this.partial = '';
    return fields;
  }
}

/** Record fields that are numbers, and the one that is a boolean, when they come from CSV text. */
const NUMERIC_FIELDS: ReadonlySet<string> = new Set(['ts', 'duration', 'cost']);
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Record fields that are text whatever they hold (records.md's table and the derived fields). */
const TEXT_FIELDS: ReadonlySet<string> = new Set([
  'id', 'account', 'subscription', 'caller', 'called', 'service', 'currency', 'trunk', 'provider',
  'direction', 'origin', 'device', 'attrs', 'called_raw', 'country', 'hour', 'weekday', 'minuteOfDay', 'group',
]);

/**
 * A CSV cell as a record value: a decimal number in `ts`, `duration` or `cost` becomes a
 * number and `true`/`false` in `answered` a boolean. The other record fields stay text (an
 * `id` or a `called` of digits must keep its leading zeros), and parseUsageRecord rejects a
 * number field that did not convert, naming it. A column that is no record field goes under
 * `attrs`: a number there becomes a number (records.md: in CSV numbers are parsed as decimal
 * numbers; `attrs.score: { gt: 5 }` and `sum(attrs.score)` need one), but only when it reads
 * back as the same text, so `0049…`, `+49…`, `1.50` or a 20-digit ICCID stay as written.
 */
export function csvValue (field: string, cell: string): unknown {
  if (NUMERIC_FIELDS.has(field)) {
    const t = cell.trim();
    return DECIMAL.test(t) ? Number(t) : cell;
  }
  if (field === 'answered') {
    const t = cell.trim();
    return t === 'true' ? true : t === 'false' ? false : cell;
  }
  if (!TEXT_FIELDS.has(field) && DECIMAL.test(cell)) {
    const n = Number(cell);
    if (String(n) === cell) return n;
  }
  return cell;
}

/** A column named `attrs.NAME` is attribute NAME, as examples/csv.ts writes attrs and as rules name them. */
const ATTRS_PREFIX = 'attrs.';

/**
 * CSV with a header row, as objects keyed by the header; `attrs.NAME` columns go under
 * `attrs`. An empty cell is an absent field.
 * A header with an empty or repeated column name is an error, reported for the header and
 * then for every row, so that no row is silently dropped or misread. So is a header that
 * cannot be read at all (not valid CSV, over the size limit): the first row must not become
 * the header in its place.
 */
export class CsvReader implements LineReader {
  private readonly parser = new CsvParser();
  private header: readonly string[] | undefined;
  private headerError: InvalidRecordError | undefined;
  /** The first line of the record being read, while no header is. */
  private head = '';

  get pending (): boolean { return this.parser.pending; }

  reset (head: string): void {
    this.parser.reset();
    if (this.header === undefined) this.unreadableHeader(head);
  }

  push (line: string, lineNo: number): unknown {
    if (this.header === undefined && !this.parser.pending) this.head = line;
    let fields: string[] | undefined;
    try {
      fields = this.parser.feed(line);
    } catch (err) {
      if (this.header === undefined) this.unreadableHeader(this.head);
      throw err;
    }
    if (fields === undefined) return undefined;
    if (this.header === undefined && this.headerError === undefined) {
      this.setHeader(fields);
      return undefined;
    }
    if (this.headerError !== undefined) throw this.headerError;
    const header = this.header as readonly string[];
    if (fields.length !== header.length) {
      throw new InvalidRecordError('record', `${header.length} CSV fields as in the header (line ${lineNo})`, fields.length);
    }
    const row: Record<string, unknown> = {};
    for (let i = 0; i < header.length; i++) {
      const cell = fields[i] as string;
      if (cell === '') continue;
      const name = header[i] as string;
      if (name.startsWith(ATTRS_PREFIX)) ((row.attrs ??= {}) as Record<string, unknown>)[name.slice(ATTRS_PREFIX.length)] = csvValue(name, cell);
      else row[name] = csvValue(name, cell);
    }
    return row;
  }

  /** The header (starting with `head`) was rejected: every row after it is. */
  private unreadableHeader (head: string): void {
    this.headerError ??= new InvalidRecordError('record', 'CSV with a header row that can be read (the header was rejected)', head);
  }

  private setHeader (fields: string[]): void {
    // A byte-order mark would otherwise become part of the first column's name.
    const names = fields.map((f, i) => (i === 0 && f.charCodeAt(0) === 0xfeff ? f.slice(1) : f).trim());
    // Lines end in LF or CRLF: in a file whose lines end in CR alone (old Mac exports), the
    // whole file is one line, which made a header of unique names and no rows, without a word.
    if (fields.some((f) => f.includes('\r'))) {
      this.headerError = new InvalidRecordError('record', 'CSV whose lines end in LF or CRLF (this header holds a CR, which ends no line alone)', fields.join(','));
      throw this.headerError;
    }
    const seen = new Set<string>();
    const nested = names.some((n) => n.startsWith(ATTRS_PREFIX));
    for (const name of names) {
      // `attrs.NAME` columns make up the record's attrs: a bare `attrs` column beside them, or
      // a name that is no attribute name, would be lost or misread.
      if (name === '' || name === '__proto__' || seen.has(name) || name === ATTRS_PREFIX || name === `${ATTRS_PREFIX}__proto__` || (nested && name === 'attrs')) {
        this.headerError = new InvalidRecordError('record', 'CSV with a header row of unique, non-empty column names', names.join(','));
        throw this.headerError;
      }
      seen.add(name);
    }
    this.header = names;
  }
}

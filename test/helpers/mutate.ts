// Seeded mutants of valid usage records for the fuzz tests (test/**/fuzz-*.test.ts), and the
// model they are checked against: which records an input holds and on which line each starts.
// Inputs are bytes, so that invalid UTF-8, NUL bytes and a byte-order mark in the middle of a
// line can be written; a mutant never holds a `\n` of its own unless it means to (a CSV field
// spanning lines, CR-only line ends that join lines).
//   const rnd = mulberry32(1);
//   const file = jsonlInput(rnd, lines, { mutants: 0.5 });  // { bytes, units }
//   const model = recordSpans(splitLines(file.bytes), 'jsonl');  // one span per record
import * as assert from 'uvu/assert';
import type { CompiledRules } from '../../core/compile.js';
import { Ingest } from '../../core/ingest.js';
import { AsteriskReader } from '../../core/readers/asterisk.js';
import { CsvReader } from '../../core/readers/csv.js';
import { JsonlReader } from '../../core/readers/jsonl.js';
import { MAX_RECORD_BYTES, type Reject, type UsageRecord } from '../../core/usage-record.js';
import { Zone } from '../../core/zone.js';
import { type Rng, intBetween, pick } from './prng.js';
import { trafficLines } from './traffic.js';

// ---------------------------------------------------------------------------------------------
// values

/** JSON texts of every wrong type and odd number, written as text so 1e400 and -0 stay as sent. */
export const ODD_JSON: readonly string[] = [
  'null', 'true', 'false', '0', '-0', '-1', '1.5', '1e400', '-1e400', '1e-400', '18446744073709551616',
  '-9223372036854775808', '9007199254740993', '""', '" "', '"x"', '"\\u0000"', '"\\ud800"', '"\\ufeff"', '[]', '[1]',
  '{}', '{"a":1}', '{"__proto__":{"x":1}}', '"true"', '"-1"', '"1e400"', '"Infinity"', '"NaN"', '"é😀日本"',
];

/** Event times out of range or not times at all, as JSON texts. */
export const ODD_TS: readonly string[] = [
  '"0000-01-01T00:00:00Z"', '"0001-01-01T00:00:00+23:59"', '"1969-12-31T23:59:59Z"', '"1899-06-01T12:00:00+01:00"',
  '"9999-12-31T23:59:59Z"', '"9999-12-31T23:59:59-23:59"', '"275760-09-13T00:00:00Z"', '"+275760-09-13T00:00:00.000Z"',
  '"-000001-01-01T00:00:00Z"', '"2026-02-29T10:00:00Z"', '"2026-03-29T02:30:00+01:00"', '"2026-03-29T02:30:00"',
  '-1', '-62167219200000', '8640000000000000', '8640000000000001', '-8640000000000001', '1e400', '-0', '0', '"-0"',
  '"1700000000"', '"１７００００００００００００"', '1.7e12', '1700000000000.5', '"2026-07-01T10:00:00.123456789Z"',
];

/** Keys that name a member of Object.prototype, or are one. */
export const PROTO_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];

const INVALID_UTF8: readonly number[][] = [
  [0xff], [0xfe], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80],
];
const BOM = [0xef, 0xbb, 0xbf];
const UNICODE: readonly string[] = ['Zürich', '東京', '😀', 'مرحبا', 'a\u0301', '\u2028', 'ß'];

// ---------------------------------------------------------------------------------------------
// byte mutations, on a line without its line break

/** One random byte-level change: NUL, invalid UTF-8, a BOM, a CR, a cut (maybe inside a character). */
export function mutateBytes (rnd: Rng, line: Buffer): { bytes: Buffer, how: string } {
  const at = intBetween(rnd, 0, line.length);
  const splice = (insert: readonly number[], cut = 0): Buffer => Buffer.concat([line.subarray(0, at), Buffer.from(insert), line.subarray(Math.min(line.length, at + cut))]);
  switch (intBetween(rnd, 0, 7)) {
    case 0: return { bytes: splice([0]), how: 'NUL byte' };
    case 1: return { bytes: splice(pick(rnd, INVALID_UTF8)), how: 'invalid UTF-8' };
    case 2: return { bytes: splice(BOM), how: 'BOM in the middle' };
    case 3: return { bytes: splice([0x0d]), how: 'CR in the middle' };
    case 4: return { bytes: line.subarray(0, at), how: 'cut short' };
    case 5: return { bytes: splice([intBetween(rnd, 0x0e, 0xff)], 1), how: 'byte replaced' };
    case 6: return { bytes: splice([], intBetween(rnd, 1, 8)), how: 'bytes dropped' };
    default: return { bytes: splice([...line.subarray(at, at + intBetween(rnd, 1, 20))]), how: 'bytes repeated' };
  }
}

// ---------------------------------------------------------------------------------------------
// JSON lines

/** A JSON object's members as [key, value text], so values can be any text (1e400, -0). */
type Members = Array<[string, string]>;

function membersOf (line: string): Members {
  return Object.entries(JSON.parse(line) as Record<string, unknown>).map(([k, v]) => [k, JSON.stringify(v)]);
}

function objectText (members: Members): string {
  return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

const RECORD_FIELDS = ['id', 'ts', 'account', 'subscription', 'caller', 'called', 'service', 'duration', 'answered', 'cost',
  'currency', 'trunk', 'provider', 'direction', 'origin', 'device', 'attrs', 'called_raw', 'country', 'hour', 'group'];

/** What a JSON-lines mutant is, for a failing assertion's message and for what a test expects. */
export interface JsonMutant {
  readonly text: Buffer;
  readonly how: string;
  /** true: must be accepted (given a watermark that does not make it late); false: must be rejected; undefined: either */
  readonly valid: boolean | undefined;
}

/** A random mutant of the valid JSON record `line`. */
export function mutateJsonLine (rnd: Rng, line: string): JsonMutant {
  const m = membersOf(line);
  const text = (s: string): Buffer => Buffer.from(s);
  const at = (): number => intBetween(rnd, 0, m.length - 1);
  switch (intBetween(rnd, 0, 14)) {
    case 0: {
      const field = pick(rnd, RECORD_FIELDS);
      const value = pick(rnd, ODD_JSON);
      const i = m.findIndex(([k]) => k === field);
      if (i >= 0) m[i] = [field, value]; else m.push([field, value]);
      return { text: text(objectText(m)), how: `${field}: ${value}`, valid: undefined };
    }
    case 1: {
      const ts = pick(rnd, ODD_TS);
      return { text: text(objectText(m.map(([k, v]) => [k, k === 'ts' ? ts : v]))), how: `ts: ${ts}`, valid: undefined };
    }
    case 2: {
      const [name] = m.splice(at(), 1)[0]!;
      return { text: text(objectText(m)), how: `without ${name}`, valid: undefined };
    }
    case 3: {
      const key = pick(rnd, PROTO_KEYS);
      const value = pick(rnd, ['"x"', '1', 'true', '{"polluted":true}', 'null', '[]']);
      const inAttrs = rnd() < 0.5;
      if (inAttrs) m.push(['attrs', `{${JSON.stringify(key)}:${value}}`]); else m.splice(at(), 0, [key, value]);
      return { text: text(objectText(m)), how: `${inAttrs ? 'attrs.' : ''}${key}: ${value}`, valid: undefined };
    }
    case 4: {
      const [k] = m[at()]!;
      const value = pick(rnd, ODD_JSON);
      if (rnd() < 0.5) m.unshift([k, value]); else m.push([k, value]);
      return { text: text(objectText(m)), how: `duplicate ${k}`, valid: undefined };
    }
    case 5: {
      const depth = intBetween(rnd, 1, 30_000);
      const open = rnd() < 0.5 ? '[' : '{"a":';
      const close = open === '[' ? ']' : '}';
      const deep = `${open.repeat(depth)}${open === '[' ? '' : '1'}${close.repeat(depth)}`;
      if (rnd() < 0.3) return { text: text(deep), how: `nested ${depth} deep`, valid: false };
      m.push([rnd() < 0.5 ? 'x' : 'attrs', deep]);
      return { text: text(objectText(m)), how: `a field nested ${depth} deep`, valid: false };
    }
    case 6: {
      const size = pick(rnd, [MAX_RECORD_BYTES + 1000, 1 << 20]);
      if (rnd() < 0.2) return { text: text('['.repeat(100_000)), how: '100k [', valid: false };
      m.push(['pad', JSON.stringify('p'.repeat(size))]);
      return { text: text(objectText(m)), how: `a line of ${size} bytes`, valid: false };
    }
    case 7: {
      const value = pick(rnd, ['[]', '"text"', '1', 'null', 'true', `[${line}]`, `${line} ${line}`, `${line},`, '{', '}', line.slice(0, -1)]);
      return { text: text(value), how: `not one object: ${value.slice(0, 20)}`, valid: false };
    }
    case 8: case 9: case 10: {
      const { bytes, how } = mutateBytes(rnd, text(line));
      return { text: bytes, how, valid: undefined };
    }
    case 11: {
      const field = pick(rnd, ['account', 'caller', 'called', 'trunk', 'device']);
      const was = m.find(([k]) => k === field)?.[1];
      const value = JSON.stringify(`${pick(rnd, UNICODE)}${was === undefined ? '' : String(JSON.parse(was))}${pick(rnd, UNICODE)}`);
      const i = m.findIndex(([k]) => k === field);
      if (i >= 0) m[i] = [field, value]; else m.push([field, value]);
      return { text: text(objectText(m)), how: `unicode ${field}`, valid: true };
    }
    case 12: {
      m.push([`x${intBetween(rnd, 0, 9)}`, pick(rnd, ['"ü"', '7', 'false', '-0', '1e-400'])]);
      return { text: text(objectText(m)), how: 'an unknown scalar field', valid: true };
    }
    case 13: {
      // Counter keys go into LMDB keys, which hold 1978 bytes at most.
      const field = pick(rnd, ['account', 'caller', 'called', 'trunk', 'provider', 'device', 'id']);
      const value = JSON.stringify(pick(rnd, ['x', 'é', '😀', '0'])).slice(1, -1).repeat(intBetween(rnd, 300, 5000));
      const i = m.findIndex(([k]) => k === field);
      if (i >= 0) m[i] = [field, `"${value}"`]; else m.push([field, `"${value}"`]);
      return { text: text(objectText(m)), how: `a long ${field}`, valid: undefined };
    }
    default:
      return { text: text(line), how: 'unchanged', valid: true };
  }
}

// ---------------------------------------------------------------------------------------------
// CSV and Asterisk Master.csv

/** A CSV field as RFC 4180 writes it: quoted when it holds a comma, a quote or a line break. */
export function csvField (value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const ODD_CELLS: readonly string[] = [
  '', ' ', 'abc', '1e400', '-0', '-1', '18446744073709551616', 'true', '\u0000', 'a"b', '"open', '"closed"junk', '""',
  '"a""b"', '"multi\nline"', '"multi\r\nline"', '"a,b"', 'é😀', '0x10', 'NaN', 'Infinity', '1.5e3', '+5', '.5',
];

const ODD_CSV_TS: readonly string[] = ['0', '-1', '1e400', '-0', '2026-02-29T10:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59-23:59', '1700000000', '8640000000000001', '2026-07-01 10:00:00'];

/** A random mutant of the CSV row `fields` (already CSV text each). `ts` is the index of the ts column, if any. */
export function mutateCsvRow (rnd: Rng, fields: readonly string[], ts: number | undefined): { text: Buffer, how: string } {
  const f = [...fields];
  const at = intBetween(rnd, 0, f.length - 1);
  switch (intBetween(rnd, 0, 8)) {
    case 0: {
      const cell = pick(rnd, ODD_CELLS);
      f[at] = cell;
      return { text: Buffer.from(f.join(',')), how: `field ${at}: ${JSON.stringify(cell)}` };
    }
    case 1:
      if (ts !== undefined) {
        const cell = pick(rnd, ODD_CSV_TS);
        f[ts] = cell;
        return { text: Buffer.from(f.join(',')), how: `ts: ${cell}` };
      }
      f.push('extra');
      return { text: Buffer.from(f.join(',')), how: 'a column more' };
    case 2: {
      const n = intBetween(rnd, 1, 3);
      if (rnd() < 0.5) { for (let i = 0; i < n; i++) f.push(`x${i}`); return { text: Buffer.from(f.join(',')), how: `${n} columns more` }; }
      return { text: Buffer.from(f.slice(0, Math.max(0, f.length - n)).join(',')), how: `${n} columns fewer` };
    }
    case 3: {
      const v = f[at]!.replace(/"/g, '');
      const kind = pick(rnd, ['an unbalanced quote', 'a quote inside an unquoted field', 'text after a closing quote']);
      f[at] = kind === 'an unbalanced quote' ? `"${v}` : kind === 'a quote inside an unquoted field' ? `a"${v}` : `"${v}"x`;
      return { text: Buffer.from(f.join(',')), how: `${kind} in field ${at}` };
    }
    case 4: case 5: {
      const { bytes, how } = mutateBytes(rnd, Buffer.from(f.join(',')));
      return { text: bytes, how };
    }
    case 6:
      f[at] = csvField(`${pick(rnd, UNICODE)}\n${pick(rnd, UNICODE)}`);
      return { text: Buffer.from(f.join(',')), how: `field ${at} spans lines` };
    case 7:
      f[at] = csvField('q'.repeat(pick(rnd, [MAX_RECORD_BYTES + 10, 1 << 20])));
      return { text: Buffer.from(f.join(',')), how: 'a huge field' };
    default:
      return { text: Buffer.from(f.join(',')), how: 'unchanged' };
  }
}

/** Asterisk Master.csv rows: 16 to 21 quoted fields as cdr_csv writes them, from a valid JSON record. */
export function asteriskRow (rnd: Rng, record: Record<string, unknown>): string[] {
  const start = new Date(record.ts as number).toISOString().slice(0, 19).replace('T', ' ');
  const billsec = String(record.duration ?? 0);
  const q = (s: string): string => csvField(s) === s ? `"${s}"` : csvField(s);
  const base = [
    String(record.account), String(record.caller ?? ''), String(record.called ?? ''), 'from-internal', `"Alice" <${String(record.caller ?? '')}>`,
    'SIP/100-0001', 'SIP/trunk-0002', 'Dial', 'SIP/trunk/123,60', start, start, start, billsec, billsec,
    Number(billsec) > 0 ? 'ANSWERED' : 'NO ANSWER', 'DOCUMENTATION',
  ].map(q);
  const extra = pick(rnd, [[], [`"1700000000.${intBetween(rnd, 1, 99)}"`], ['"1700000000.1"', '"user"'], ['"peer"', '"1700000000.1"', '"3"'], ['"1700000000.1"', '"u"', '"peer"', '"1700000000.1"', '"3"']]);
  // The durations are numbers, not quoted (cdr_csv writes them bare).
  base[12] = billsec; base[13] = billsec;
  return [...base, ...extra];
}

const ODD_STARTS: readonly string[] = ['"0000-00-00 00:00:00"', '"0000-01-01 00:00:00"', '"2026-02-30 10:00:00"', '"9999-12-31 23:59:59"', '"1969-12-31 23:59:59"', '"2026-07-01T10:00:00"', '""', '"2026-03-29 02:30:00"', '"10000-01-01 00:00:00"'];

/** A random mutant of an Asterisk row. */
export function mutateAsteriskRow (rnd: Rng, fields: readonly string[]): { text: Buffer, how: string } {
  const f = [...fields];
  switch (intBetween(rnd, 0, 5)) {
    case 0: return { text: Buffer.from(f.slice(0, 10).join(',')), how: '10 columns' };
    case 1: { const more = Array.from({ length: 40 - f.length }, (_, i) => `"c${i}"`); return { text: Buffer.from([...f, ...more].join(',')), how: '40 columns' }; }
    case 2: { const s = pick(rnd, ODD_STARTS); f[9] = s; return { text: Buffer.from(f.join(',')), how: `start ${s}` }; }
    case 3: { const b = pick(rnd, ['-5', '1e400', 'x', '', '99999999999999999999', '"60"']); f[13] = b; return { text: Buffer.from(f.join(',')), how: `billsec ${b}` }; }
    case 4: return mutateCsvRow(rnd, f, undefined);
    default: return { text: Buffer.from(f.join(',')), how: 'unchanged' };
  }
}

// ---------------------------------------------------------------------------------------------
// inputs and the model of their records

/** A unit of an input: a record (maybe mutated, maybe spanning lines) or a blank line. */
export interface Unit { readonly text: Buffer, readonly how: string, readonly valid: boolean | undefined }

/** An input of units: its bytes, and for each unit the line it starts on and whether it has lines of its own (no CR-only end joins it to a neighbour). */
export interface Input { readonly bytes: Buffer, readonly units: readonly Unit[], readonly lineOf: readonly number[], readonly alone: readonly boolean[] }

/** Joins units with line ends: mostly LF, some CRLF, a few CR only (`crOnly`); blank lines among them. */
export function joinUnits (rnd: Rng, units: readonly Unit[], opts: { crOnly?: boolean } = {}): Input {
  const parts: Buffer[] = [];
  const lineOf: number[] = [];
  const alone: boolean[] = [];
  let line = 1;
  let joined = false;
  const put = (b: Buffer): void => {
    parts.push(b);
    for (const c of b) if (c === 0x0a) line++;
  };
  for (const [i, u] of units.entries()) {
    if (rnd() < 0.03) put(Buffer.from(pick(rnd, ['\n', ' \t\n', '\r\n', '\ufeff\n'])));
    lineOf.push(line);
    put(u.text);
    let end = '';
    if (i < units.length - 1 || rnd() < 0.5) {
      const r = rnd();
      // Not after a CSV header: joined to its first row, it is a header with a CR, refused.
      end = r < 0.8 ? '\n' : r < 0.97 || opts.crOnly !== true || u.how === 'header' ? '\r\n' : '\r';
    }
    alone.push(!joined && end !== '\r');
    joined = end === '\r';
    put(Buffer.from(end));
  }
  return { bytes: Buffer.concat(parts), units, lineOf, alone };
}

/**
 * The lines of an input as the readers see them: split on LF, one CR before it dropped, decoded
 * as UTF-8 (an invalid byte becomes U+FFFD), a byte-order mark at the very start dropped. A last
 * line without its LF is a line; an input ending in LF has no empty line after it.
 */
export function splitLines (bytes: Buffer): string[] {
  const lines: string[] = [];
  let from = 0;
  while (from < bytes.length) {
    let nl = bytes.indexOf(0x0a, from);
    if (nl < 0) nl = bytes.length;
    const end = nl > from && bytes[nl - 1] === 0x0d ? nl - 1 : nl;
    lines.push(bytes.toString('utf8', from, end));
    from = nl + 1;
  }
  if (lines.length > 0 && lines[0]!.charCodeAt(0) === 0xfeff) lines[0] = lines[0]!.slice(1);
  return lines;
}

/** One record of an input as the model sees it: the line it starts on, and whether it is over the size limit or left open. */
export interface Span { readonly line: number, readonly tooLarge: boolean, readonly open: boolean }

const isBlank = (line: string): boolean => /^[ \t\ufeff]*$/.test(line);

/** True when the CSV record is still inside a quoted field at the end of `line` (RFC 4180; text after a closing quote ends the record as an error). */
function csvOpenAfter (line: string, open: boolean): boolean {
  let i = 0;
  let quoted = open;
  for (;;) {
    if (!quoted) {
      if (line.charCodeAt(i) !== 34) {
        const comma = line.indexOf(',', i);
        if (comma < 0) return false;
        i = comma + 1;
        continue;
      }
      i++;
    }
    quoted = false;
    for (;;) {
      const q = line.indexOf('"', i);
      if (q < 0) return true;
      if (line.charCodeAt(q + 1) === 34) { i = q + 2; continue; }
      i = q + 1;
      break;
    }
    if (i >= line.length || line.charCodeAt(i) !== 44) return false;
    i++;
  }
}

/**
 * The records `lines` hold, in order: for JSON lines one per line that is not blank; for CSV
 * (and Master.csv) one per RFC 4180 record, which a quoted field may carry across lines, cut
 * where it passes the 64 KiB limit. The CSV header is the first span; the caller drops it.
 */
export function recordSpans (lines: readonly string[], format: 'jsonl' | 'csv'): Span[] {
  const spans: Span[] = [];
  let open = false;
  let start = 0;
  let bytes = 0;
  for (const [i, line] of lines.entries()) {
    const n = i + 1;
    const size = Buffer.byteLength(line);
    if (!open) {
      if (isBlank(line)) continue;
      start = n;
      if (size > MAX_RECORD_BYTES) { spans.push({ line: n, tooLarge: true, open: false }); continue; }
      if (format === 'jsonl') { spans.push({ line: n, tooLarge: false, open: false }); continue; }
      bytes = size;
      open = csvOpenAfter(line, false);
    } else {
      bytes += 1 + size;
      if (size > MAX_RECORD_BYTES || bytes > MAX_RECORD_BYTES) { spans.push({ line: start, tooLarge: true, open: false }); open = false; continue; }
      open = csvOpenAfter(line, true);
    }
    if (!open) spans.push({ line: start, tooLarge: false, open: false });
  }
  if (open) spans.push({ line: start, tooLarge: false, open: true });
  return spans;
}

// ---------------------------------------------------------------------------------------------
// inputs of realistic records, some mutated

/** The start of the traffic the fuzz tests mutate (it spans the Europe/Berlin spring-forward night). */
export const FUZZ_START = Date.UTC(2026, 2, 27, 20, 0, 0);
export const CSV_HEADER = ['id', 'ts', 'account', 'caller', 'called', 'service', 'duration', 'cost', 'trunk', 'provider', 'attrs.region'];
const REGIONS = ['north', 'süd', 'Ost, West', 'say "hi"', '東京', ''];

/**
 * `n` records of test/helpers/traffic.ts in `format` (CSV: with the header first), each left
 * as it is with probability `keep` or mutated; `small` keeps every mutant under 3,000 bytes.
 */
export function mutantUnits (format: 'jsonl' | 'csv' | 'asterisk', rnd: Rng, n: number, seed: number, small: boolean, keep = 0.4): Unit[] {
  const fits = (text: Buffer): boolean => !small || text.length < 3000;
  const records = trafficLines({ seed, records: n, start: FUZZ_START });
  if (format === 'jsonl') {
    return records.map((line) => {
      if (rnd() < keep) return { text: Buffer.from(line), how: 'unchanged', valid: true };
      for (;;) {
        const m = mutateJsonLine(rnd, line);
        if (fits(m.text)) return { text: m.text, how: m.how, valid: m.valid };
      }
    });
  }
  const rows = records.map((line): Unit => {
    const o = JSON.parse(line) as Record<string, unknown>;
    const fields = format === 'csv'
      ? CSV_HEADER.map((h) => csvField(h === 'attrs.region' ? pick(rnd, REGIONS) : String(o[h] ?? '')))
      : asteriskRow(rnd, o);
    if (rnd() < keep) return { text: Buffer.from(fields.join(',')), how: 'unchanged', valid: true };
    for (;;) {
      const m = format === 'csv' ? mutateCsvRow(rnd, fields, 1) : mutateAsteriskRow(rnd, fields);
      if (fits(m.text)) return { text: m.text, how: m.how, valid: m.how === 'unchanged' ? true : undefined };
    }
  });
  return format === 'csv' ? [{ text: Buffer.from(CSV_HEADER.join(',')), how: 'header', valid: undefined }, ...rows] : rows;
}

/**
 * `units` without the mutants before the last `tail` that would be accepted with a ts more
 * than a day past the traffic: each would move the watermark so far that every record after
 * it is late, and leave little to compare.
 */
export function calmHead (format: 'jsonl' | 'csv' | 'asterisk', units: readonly Unit[], compiled: CompiledRules, tail: number): Unit[] {
  const ingest = new Ingest(compiled);
  const zone = new Zone('Europe/Berlin');
  const future = (u: Unit): boolean => {
    const reader = format === 'jsonl' ? new JsonlReader() : format === 'csv' ? new CsvReader() : new AsteriskReader({ zone });
    if (format === 'csv') reader.push(CSV_HEADER.join(','), 1);
    for (const line of u.text.toString('utf8').split('\n')) {
      try {
        const value = reader.push(line, 2);
        if (value === undefined) continue;
        ingest.watermark = -Infinity;
        const p = ingest.prepare(value, { source: 'probe', line: 2 });
        if (p.ok && p.record.ts > FUZZ_START + 86_400_000) return true;
      } catch { /* a reject */ }
    }
    return false;
  };
  return units.filter((u, i) => i >= units.length - tail || u.valid === true || u.how === 'header' || !future(u));
}

// ---------------------------------------------------------------------------------------------
// HTTP bodies

/** A body or message refused whole says what is wrong and how to send records. */
export const WHOLE = /^(?:the body (?:is empty|is an empty array|is not JSON \([^]+\)|starts with \[ but is not a JSON array \([^]+\)); send records as JSON lines \(one record per line\) or as a JSON array of records|the message is neither JSON nor MessagePack \([^]+\)|the (?:body|message) holds more than 100000 records; send fewer records per (?:request|message))$/;

/**
 * What parseBody must make of `text`, by the model: a JSON array (as JSON.parse reads it) when
 * it starts with `[`; else one record per line that is not blank, over 64 KiB a reject; refused
 * when nothing in it is JSON.
 */
export function expectedBody (text: string): { lines: number[], tooLarge: Set<number> } | 'refused' {
  const first = /\S/.exec(text);
  if (first === null) return 'refused';
  if (first[0] === '[') {
    try {
      const values = JSON.parse(text) as unknown[];
      return values.length === 0 ? 'refused' : { lines: values.map((_, i) => i + 1), tooLarge: new Set() };
    } catch { return 'refused'; }
  }
  const lines: number[] = [];
  const tooLarge = new Set<number>();
  let json = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (/^[\s\ufeff]*$/.test(line)) return;
    lines.push(i + 1);
    if (Buffer.byteLength(line) > MAX_RECORD_BYTES) { tooLarge.add(i + 1); return; }
    try { JSON.parse(line.charCodeAt(0) === 0xfeff ? line.slice(1) : line); json++; } catch { /* a reject */ }
  });
  return json === 0 ? 'refused' : { lines, tooLarge };
}

// ---------------------------------------------------------------------------------------------
// MessagePack as other languages' encoders write it

/** Bytes to put into a MessagePack value as they are (an extension, a map with odd keys). */
export class RawPack {
  readonly bytes: Buffer;
  constructor (bytes: Buffer) { this.bytes = bytes; }
}

function head (small: number, max: number, codes: readonly number[], n: number): Buffer {
  if (n < max) return Buffer.from([small | n]);
  if (n < 0x10000) { const b = Buffer.alloc(3); b[0] = codes[0]!; b.writeUInt16BE(n, 1); return b; }
  const b = Buffer.alloc(5); b[0] = codes[1]!; b.writeUInt32BE(n, 1); return b;
}

/**
 * `value` as MessagePack in the smallest form, as Python's msgpack and Go's encoders write it:
 * an integer past 32 bits as uint64/int64 (an epoch-ms ts always is one), other numbers as
 * float64, a Buffer as bin, a RawPack as its bytes.
 */
export function packForeign (value: unknown): Buffer {
  if (value instanceof RawPack) return value.bytes;
  if (value === null || value === undefined) return Buffer.from([0xc0]);
  if (value === true || value === false) return Buffer.from([value ? 0xc3 : 0xc2]);
  if (typeof value === 'bigint') { const b = Buffer.alloc(9); b[0] = value < 0n ? 0xd3 : 0xcf; if (value < 0n) b.writeBigInt64BE(value, 1); else b.writeBigUInt64BE(value, 1); return b; }
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || Object.is(value, -0) || Math.abs(value) >= 2 ** 63) { const b = Buffer.alloc(9); b[0] = 0xcb; b.writeDoubleBE(value, 1); return b; }
    if (value >= 0 && value < 128) return Buffer.from([value]);
    if (value < 0 && value >= -32) return Buffer.from([value & 0xff]);
    if (value >= 0 && value < 2 ** 32) { const b = Buffer.alloc(5); b[0] = 0xce; b.writeUInt32BE(value, 1); return b; }
    if (value < 0 && value >= -(2 ** 31)) { const b = Buffer.alloc(5); b[0] = 0xd2; b.writeInt32BE(value, 1); return b; }
    return packForeign(BigInt(value));
  }
  if (typeof value === 'string') {
    const b = Buffer.from(value);
    const h = b.length < 32 ? Buffer.from([0xa0 | b.length]) : b.length < 256 ? Buffer.from([0xd9, b.length]) : head(0, 0, [0xda, 0xdb], b.length);
    return Buffer.concat([h, b]);
  }
  if (Buffer.isBuffer(value)) return Buffer.concat([head(0, 0, [0xc5, 0xc6], value.length), value]);
  if (Array.isArray(value)) return Buffer.concat([head(0x90, 16, [0xdc, 0xdd], value.length), ...value.map(packForeign)]);
  const entries = Object.entries(value as Record<string, unknown>);
  return Buffer.concat([head(0x80, 16, [0xde, 0xdf], entries.length), ...entries.flatMap(([k, v]) => [packForeign(k), packForeign(v)])]);
}

/** MessagePack values no JSON producer writes, for a field of a record. */
export const ODD_PACKED: ReadonlyArray<[string, () => unknown]> = [
  ['uint64 max', () => 2n ** 64n - 1n],
  ['int64 min', () => -(2n ** 63n)],
  ['uint64 past 2^53', () => 2n ** 53n + 1n],
  ['bin', () => Buffer.from([1, 2, 3])],
  ['timestamp extension', () => new RawPack(Buffer.from([0xd6, 0xff, 0x6a, 0x44, 0xe5, 0x20]))],
  ['extension type 5', () => new RawPack(Buffer.from([0xd4, 0x05, 0x01]))],
  ['extension type 0x72 cut short', () => new RawPack(Buffer.from([0xd4, 0x72, 0x01]))],
  ['a map with integer keys', () => new RawPack(Buffer.from([0x82, 0x01, 0xa1, 0x61, 0x02, 0xc3]))],
  ['a map with a map as key', () => new RawPack(Buffer.from([0x81, 0x80, 0x01]))],
  ['a map with an array as key', () => new RawPack(Buffer.from([0x81, 0x91, 0x01, 0x02]))],
  ['float NaN', () => NaN],
  ['float Infinity', () => Infinity],
  ['float32 NaN', () => new RawPack(Buffer.from([0xca, 0x7f, 0xc0, 0, 0]))],
  ['-0', () => -0],
  ['nil', () => null],
  ['nested 3,000 deep', () => new RawPack(Buffer.concat([Buffer.alloc(3_000, 0x91), Buffer.from([0x01])]))],
  ['nested 200,000 deep', () => new RawPack(Buffer.concat([Buffer.alloc(200_000, 0x91), Buffer.from([0x01])]))],
  ['__proto__ map', () => new RawPack(Buffer.concat([Buffer.from([0x81]), packForeign('__proto__'), packForeign({ polluted: true })]))],
  ['a 70 KB string', () => 'p'.repeat(70_000)],
];

/** ODD_PACKED values msgpackr refuses, so that the whole message is refused. */
export const REFUSED_WHOLE: ReadonlySet<string> = new Set(['extension type 5', 'extension type 0x72 cut short', 'a map with a map as key', 'a map with an array as key', 'nested 200,000 deep']);

/** A `<prefix>.in` MessagePack message of 1 to 6 records, some mutated, and what was done to it. */
export interface MutantMessage {
  readonly payload: Buffer;
  readonly records: ReadonlyArray<Record<string, unknown>>;
  /** a value msgpackr refuses is in it (REFUSED_WHOLE) */
  readonly refusable: boolean;
  /** bytes were changed: what it decodes to is anyone's guess */
  readonly damaged: boolean;
  /** the places (from 0) of the records left as they were */
  readonly unchanged: ReadonlySet<number>;
}

export function mutantMessage (rnd: Rng, seed: number): MutantMessage {
  const records = trafficLines({ seed, records: intBetween(rnd, 1, 6), start: FUZZ_START }).map((l) => JSON.parse(l) as Record<string, unknown>);
  let refusable = false;
  let damaged = false;
  const unchanged = new Set<number>();
  const packed = records.map((r, i) => {
    const roll = rnd();
    if (roll < 0.6) { unchanged.add(i); return packForeign(r); }
    if (roll < 0.95) {
      const [name, make] = pick(rnd, ODD_PACKED);
      if (REFUSED_WHOLE.has(name)) refusable = true;
      return packForeign({ ...r, [pick(rnd, ['ts', 'account', 'called', 'duration', 'cost', 'id', 'attrs', 'x'])]: make() });
    }
    damaged = true;
    return mutateBytes(rnd, packForeign(r)).bytes;
  });
  const single = packed.length === 1 && rnd() < 0.5;
  let payload = single ? packed[0]! : Buffer.concat([Buffer.from([0x90 | packed.length]), ...packed]);
  if (rnd() < 0.05) { payload = mutateBytes(rnd, payload).bytes; damaged = true; }
  return { payload, records, refusable, damaged, unchanged };
}

// ---------------------------------------------------------------------------------------------
// what every outcome must be

/** What every reject's reason looks like: the field, what it must be, what it got; or the size; or lateness. */
const CLEAR = /^(?:record(?:\.\S+)? must be [^]+, got [^]+|record larger than 64 KiB|late: record\.ts [^]+)$/;
const UNCLEAR = /Maximum call stack|\[object |undefined|NaN|\+\d{5,}:/;
const KNOWN = new Set(['id', 'ts', 'account', 'subscription', 'caller', 'called', 'service', 'duration', 'answered', 'cost',
  'currency', 'trunk', 'provider', 'direction', 'origin', 'device', 'attrs', 'called_raw', 'country', 'hour', 'weekday', 'minuteOfDay', 'group']);

/** Asserts a reject is one a person can act on: a code, a reason saying what is wrong (`where` for messages). */
export function assertClear (reject: Reject, where: string): void {
  assert.ok(reject.code === 'VIGIL_INVALID_RECORD' || reject.code === 'VIGIL_LATE_RECORD', `${where}: code ${reject.code}`);
  assert.ok(CLEAR.test(reject.reason), `${where}: unclear reason ${JSON.stringify(reject.reason)}`);
  const what = reject.reason.split(', got ')[0]!;
  assert.not.ok(UNCLEAR.test(what), `${where}: unclear reason ${JSON.stringify(reject.reason)}`);
  assert.type(reject.raw, 'string');
  assert.ok(reject.raw.length <= 4096, `${where}: raw of ${reject.raw.length} chars`);
}

/** Every unknown scalar field of `value` is in the record's attrs: an accepted record keeps what it was sent. */
export function assertKept (value: unknown, record: UsageRecord, where: string): void {
  const o = value as Record<string, unknown>;
  assert.is(record.account, typeof o.account === 'number' ? String(o.account) : o.account, `${where}: account`);
  for (const name of Object.keys(o)) {
    const v = o[name];
    if (KNOWN.has(name) || v === null || typeof v === 'object') continue;
    assert.ok(record.attrs !== undefined && Object.hasOwn(record.attrs, name), `${where}: field ${name} lost`);
  }
}

// Seeded mutants of valid usage records for the fuzz tests (test/**/fuzz-*.test.ts; the rules and config fuzz tests use mutate.ts): values of
// every wrong type, byte damage, JSON lines, CSV and Asterisk rows, MessagePack messages, and
// inputs of realistic traffic (test/helpers/traffic.ts) with some of it mutated. Inputs are
// bytes, so that invalid UTF-8, NUL bytes and a byte-order mark in the middle of a line can be
// written; a mutant holds a `\n` only when it means to (a CSV field spanning lines). What an
// input must give is test/helpers/fuzz-model.ts's business.
//   const rnd = mulberry32(1);
//   const input = joinUnits(rnd, mutantUnits('jsonl', rnd, 500, 1, false));  // { bytes, lineOf, … }
//   const spans = recordSpans(splitLines(input.bytes), 'jsonl');           // one per record
import type { CompiledRules } from '../../core/compile.js';
import { Ingest } from '../../core/ingest.js';
import { AsteriskReader } from '../../core/readers/asterisk.js';
import { CsvReader } from '../../core/readers/csv.js';
import { JsonlReader } from '../../core/readers/jsonl.js';
import { MAX_RECORD_BYTES } from '../../core/usage-record.js';
import { Zone } from '../../core/zone.js';
import { RawPack, packForeign } from './msgpack-writer.js';
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
// inputs of units

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
// MessagePack messages

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

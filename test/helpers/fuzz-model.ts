// The model the fuzz tests (test/**/fuzz-*.test.ts) check outcomes against: which records an
// input holds and on which line each starts (files: splitLines and recordSpans; POST bodies:
// expectedBody), and what every reject must look like (assertClear) and every accepted record
// keep (assertKept). Written apart from the readers, from the formats' rules.
//   const spans = recordSpans(splitLines(bytes), 'csv').slice(1);  // the header is no record
import * as assert from 'uvu/assert';
import { isUtf8 } from 'node:buffer';
import { MAX_RECORD_BYTES, type Reject, type UsageRecord } from '../../core/usage-record.js';

// ---------------------------------------------------------------------------------------------
// lines and records of a file

/**
 * The lines of an input as the readers see them: split on LF, one CR before it dropped, decoded
 * as UTF-8 (an invalid byte becomes U+FFFD; its record is rejected), a byte-order mark at the very start dropped. A last
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
// HTTP bodies

/** A body or message refused whole says what is wrong and how to send records. */
export const WHOLE = /^(?:the body (?:is empty|is an empty array|is not JSON \([^]+\)|starts with \[ but is not a JSON array \([^]+\)); send records as JSON lines \(one record per line\) or as a JSON array of records|the body is not UTF-8 text: byte 0x[0-9A-F]{2} at line \d+, column \d+ is not UTF-8; JSON is UTF-8 \([^]+\)|the message is neither JSON nor MessagePack \([^]+\)|the (?:body|message) holds more than 100000 records; send fewer records per (?:request|message))$/;

/**
 * What parseBody must make of a body, by the model: a JSON array (as JSON.parse reads it) when
 * it starts with `[`, refused when its bytes are not all UTF-8; else one record per line that is
 * not blank, over 64 KiB a reject, a line whose bytes are not UTF-8 a reject; refused when
 * nothing in it is JSON. A string is text as it is; a Buffer is the bytes a node decodes.
 */
export function expectedBody (body: string | Buffer): { lines: number[], tooLarge: Set<number> } | 'refused' {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const first = /\S/.exec(text);
  if (first === null) return 'refused';
  if (first[0] === '[') {
    if (!isUtf8(bytes)) return 'refused';
    try {
      const values = JSON.parse(text) as unknown[];
      return values.length === 0 ? 'refused' : { lines: values.map((_, i) => i + 1), tooLarge: new Set() };
    } catch { return 'refused'; }
  }
  const byteLines: Buffer[] = [];
  for (let from = 0; from <= bytes.length;) {
    const nl = bytes.indexOf(0x0a, from);
    const end = nl < 0 ? bytes.length : nl;
    byteLines.push(bytes.subarray(from, end));
    from = end + 1;
  }
  const lines: number[] = [];
  const tooLarge = new Set<number>();
  let json = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (/^[\s\ufeff]*$/.test(line)) return;
    lines.push(i + 1);
    if (Buffer.byteLength(line) > MAX_RECORD_BYTES) { tooLarge.add(i + 1); return; }
    if (typeof body !== 'string' && !isUtf8(byteLines[i]!)) return;
    try { JSON.parse(line.charCodeAt(0) === 0xfeff ? line.slice(1) : line); json++; } catch { /* a reject */ }
  });
  return json === 0 ? 'refused' : { lines, tooLarge };
}

// ---------------------------------------------------------------------------------------------
// what every outcome must be

/** What every reject's reason looks like: the field, what it must be, what it got; or the size; or lateness; or the byte that is not UTF-8. */
const CLEAR = /^(?:record(?:\.\S+)? must be [^]+, got [^]+|record larger than 64 KiB|late: record\.ts [^]+|record is not UTF-8 text: byte 0x[0-9A-F]{2} at (?:line \d+, )?column \d+ is not UTF-8; vigil reads UTF-8 \([^]+\))(?:; the line holds a CR with no LF after it: [^]+)?$/;
const UNCLEAR = /Maximum call stack|\[object |undefined|NaN|\+\d{5,}:/;
const KNOWN = new Set(['id', 'ts', 'account', 'subscription', 'caller', 'called', 'service', 'duration', 'answered', 'cost',
  'currency', 'trunk', 'provider', 'direction', 'origin', 'device', 'attrs', 'called_raw', 'country', 'hour', 'weekday', 'minuteOfDay', 'group']);

/** Asserts a reject is one a person can act on: a code, a reason saying what is wrong (`where` for messages). */
export function assertClear (reject: Reject, where: string): void {
  assert.ok(reject.code === 'VIGIL_INVALID_RECORD' || reject.code === 'VIGIL_LATE_RECORD' || reject.code === 'VIGIL_FUTURE_RECORD', `${where}: code ${reject.code}`);
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

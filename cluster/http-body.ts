/**
 * Request bodies of the node API: read with a size limit (an oversized body is read to its end
 * and dropped, up to a bound, so the client hears its 413), and a POST body of records parsed
 * into raw records with their positions. Bodies are read by the handlers themselves, never
 * buffered by the framework, so that a semaphore bounds how many are in memory at once.
 */
import type { IncomingMessage } from 'node:http';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { EngineError, show } from '../core/errors.js';
import { parseJsonLine } from '../core/readers/jsonl.js';
import type { SourcePosition } from '../core/usage-record.js';
import { overRecordLimit, type RawRecord } from './record-source.js';
import { LATIN1_HINT, notUtf8Reason, notUtf8Where, type NotUtf8 } from './utf8-text.js';

export const MAX_BODY_BYTES = 16 * 1024 * 1024;
/**
 * Records a body may hold. 16 MiB of records of a few bytes (`{}` or `x` lines) were millions
 * of rejects: one POST held the event loop for a minute and a half, and its answer listed them all.
 */
export const MAX_BODY_RECORDS = 100_000;
/**
 * Bodies read and parsed at once. Each may hold MAX_BODY_BYTES until its records have entered
 * epochs; further POSTs wait unread, so TCP slows their senders instead of memory growing.
 */
export const BODIES_AT_ONCE = 4;
/** An oversized body is read and dropped (so the client gets its 413) up to this much, then the connection is cut. */
export const DRAIN_LIMIT = 4 * MAX_BODY_BYTES;
const RAW_CLIP = 4096;

/** `status` 413: the body holds more than MAX_BODY_RECORDS records; else 400. */
export type ParsedBody = { readonly ok: true, readonly items: RawRecord[] } | { readonly ok: false, readonly error: string, readonly status?: 413 };

const TOO_MANY = { ok: false, status: 413, error: `the body holds more than ${MAX_BODY_RECORDS} records; send fewer records per request` } as const;

const BODY_SHAPE = 'send records as JSON lines (one record per line) or as a JSON array of records';
const TOO_LARGE = 'record larger than 64 KiB';

/**
 * A record decoded from a JSON array or MessagePack, with its text: the record as JSON, for
 * its size and its reject. JSON.stringify throws on a value nested thousands deep or holding a
 * bigint (a 64-bit integer in MessagePack); such a value is shown clipped instead (it is no
 * valid record; validation says why).
 */
export function decodedRecord (value: unknown, position: SourcePosition): RawRecord {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = show(value, RAW_CLIP);
  }
  if (overRecordLimit(text)) return { ok: false, reject: { reason: TOO_LARGE, code: 'VIGIL_INVALID_RECORD', position, raw: text.slice(0, RAW_CLIP) } };
  return { ok: true, value, position, text };
}

const NO_LINES: ReadonlyMap<number, NotUtf8> = new Map();

/**
 * A POST body as raw records, each with its position (`source`, line: the line of a JSON line,
 * or the 1-based place in a JSON array). A line that is not JSON, or a record over 64 KiB,
 * becomes a reject; a body of which nothing is JSON, or of more than MAX_BODY_RECORDS records,
 * is refused as a whole. `notUtf8`: the lines whose bytes are not UTF-8 (nonUtf8Lines, from the
 * bytes `text` was decoded from): each is a reject, and a JSON array with one is refused.
 */
export function parseBody (text: string, source: string, notUtf8: ReadonlyMap<number, NotUtf8> = NO_LINES): ParsedBody {
  const first = /\S/.exec(text);
  if (first === null) return { ok: false, error: `the body is empty; ${BODY_SHAPE}` };
  if (first[0] === '[') {
    const [line, bad] = notUtf8.entries().next().value ?? [];
    // The whole array is one JSON text: the first line that is not UTF-8 refuses it.
    if (bad !== undefined) return { ok: false, error: `the body is not UTF-8 text: ${notUtf8Where(bad, line)}; JSON is UTF-8 (${LATIN1_HINT})` };
    let values: unknown;
    try {
      values = JSON.parse(text);
    } catch (err) {
      return { ok: false, error: `the body starts with [ but is not a JSON array (${clipReason(err)}); ${BODY_SHAPE}` };
    }
    if ((values as unknown[]).length > MAX_BODY_RECORDS) return TOO_MANY;
    const items = (values as unknown[]).map((value, i) => decodedRecord(value, { source, line: i + 1 }));
    return items.length === 0 ? { ok: false, error: `the body is an empty array; ${BODY_SHAPE}` } : { ok: true, items };
  }
  const items: RawRecord[] = [];
  let decoded = 0;
  let line = 0;
  let from = 0;
  while (from <= text.length) {
    const nl = text.indexOf('\n', from);
    const end = nl < 0 ? text.length : nl;
    line++;
    const raw = text.charCodeAt(end - 1) === 13 ? text.slice(from, end - 1) : text.slice(from, end);
    from = end + 1;
    if (/^[\s\ufeff]*$/.test(raw)) continue;
    if (items.length === MAX_BODY_RECORDS) return TOO_MANY;
    const position = { source, line };
    if (overRecordLimit(raw)) {
      items.push({ ok: false, reject: { reason: TOO_LARGE, code: 'VIGIL_INVALID_RECORD', position, raw: raw.slice(0, RAW_CLIP) } });
      continue;
    }
    // After the size, as a file's lines are: a line too large is not looked into.
    const bad = notUtf8.get(line);
    if (bad !== undefined) {
      items.push({ ok: false, reject: { reason: notUtf8Reason(bad), code: 'VIGIL_INVALID_RECORD', position, raw: raw.slice(0, RAW_CLIP) } });
      continue;
    }
    try {
      items.push({ ok: true, value: parseJsonLine(raw), position, text: raw });
      decoded++;
    } catch (err) {
      if (!(err instanceof EngineError)) throw err;
      items.push({ ok: false, reject: { reason: err.message, code: err.code, position, raw: raw.slice(0, RAW_CLIP) } });
    }
  }
  if (decoded === 0) {
    const why = items[0]?.ok === false ? `line ${items[0].reject.position.line ?? 1}: ${items[0].reject.reason}` : 'nothing in it';
    return { ok: false, error: `the body is not JSON (${why}); ${BODY_SHAPE}` };
  }
  return { ok: true, items };
}

export function tooLarge (limit: number): string {
  return `the body is larger than ${limit} bytes; send fewer records per request`;
}

function clipReason (err: unknown): string {
  const why = err instanceof Error ? err.message : String(err);
  return why.length > 120 ? `${why.slice(0, 119)}…` : why;
}

/** A counting semaphore. */
export class Gate {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor (n: number) { this.free = n; }
  async acquire (): Promise<void> {
    if (this.free > 0) { this.free--; return; }
    await new Promise<void>((resolve) => { this.waiting.push(resolve); });
  }

  release (): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(); else this.free++;
  }
}

/** The whole body, or undefined when it is larger than `limit` (it is then read to its end and dropped). */
export async function readBody (req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  let over = declared > limit;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (over || size > limit) {
      over = true;
      chunks.length = 0;
      if (size > DRAIN_LIMIT) { req.destroy(); break; }
      continue;
    }
    chunks.push(chunk);
  }
  return over ? undefined : Buffer.concat(chunks, size);
}

const gunzipAsync = promisify(gunzip);

export type DecodedBody = { readonly ok: true, readonly body: Buffer } | { readonly ok: false, readonly status: 400 | 413 | 415, readonly error: string };

/**
 * A body as its `Content-Encoding` says: as it is (none, `identity`), or gunzipped (`gzip`):
 * mediation systems compress the batches they post, CDR text shrinks tenfold. The limit holds
 * for the decompressed text too, so a small body cannot unpack into gigabytes. Decompression
 * runs on libuv's pool, not on the thread that cuts epochs.
 */
export async function decodeBody (body: Buffer, encoding: string | undefined, limit: number): Promise<DecodedBody> {
  const coding = (encoding ?? '').trim().toLowerCase();
  if (coding === '' || coding === 'identity') return { ok: true, body };
  if (coding !== 'gzip' && coding !== 'x-gzip') {
    return { ok: false, status: 415, error: `Content-Encoding ${show(encoding ?? '')} is not supported; send the body as it is or gzip-compressed (Content-Encoding: gzip)` };
  }
  try {
    return { ok: true, body: await gunzipAsync(body, { maxOutputLength: limit }) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return { ok: false, status: 413, error: `the body decompresses to more than ${limit} bytes; send fewer records per request` };
    return { ok: false, status: 400, error: `the body is not gzip data as its Content-Encoding says (zlib: ${clipReason(err)})` };
  }
}

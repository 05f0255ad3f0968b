/**
 * The node's small HTTP API on node:http (the full API on fastify comes later). Takes
 * `POST /v1/records` (JSON lines or a JSON array, at most 16 MiB) and answers 202 with
 * `{accepted, rejected, rejects:[{line, reason}]}` only once every record of the body is
 * committed; `GET /healthz`, `GET /readyz`, `GET /v1/counters/{rule}/{key}`. Every error is
 * JSON `{error}`: 400 bad input, 404, 405, 413 body too large, 503 not ready or stopping.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EngineError } from '../core/errors.js';
import { roundValue } from '../core/alert.js';
import { MAX_RECORD_BYTES } from '../core/usage-record.js';
import { parseJsonLine } from '../core/readers/jsonl.js';
import type { Zone } from '../core/zone.js';
import type { RawRecord } from './record-source.js';
import type { Receipt } from './stream.js';

export const MAX_BODY_BYTES = 16 * 1024 * 1024;
/**
 * Bodies read and parsed at once. Each may hold MAX_BODY_BYTES until its records have entered
 * epochs; further POSTs wait unread, so TCP slows their senders instead of memory growing.
 */
const BODIES_AT_ONCE = 4;
/** An oversized body is read and dropped (so the client gets its 413) up to this much, then the connection is cut. */
const DRAIN_LIMIT = 4 * MAX_BODY_BYTES;
const RAW_CLIP = 4096;

export type NodeState = 'starting' | 'ready' | 'stopping';

export interface ApiDeps {
  readonly state: () => NodeState;
  /** see EpochStream.offer */
  readonly offer: (items: readonly RawRecord[]) => Promise<{ committed: Promise<Receipt> }>;
  readonly hasRule: (rule: string) => boolean;
  readonly counter: (rule: string, key: string, ts: number) => Promise<{ value: number, start: number, end: number } | null>;
  /** the ingest watermark: "now" in event time, for the counters' current window */
  readonly watermark: () => number;
  readonly zone: Zone;
  readonly maxBodyBytes?: number;
}

export type ParsedBody = { readonly ok: true, readonly items: RawRecord[] } | { readonly ok: false, readonly error: string };

const BODY_SHAPE = 'send records as JSON lines (one record per line) or as a JSON array of records';

/**
 * A POST body as raw records, each with its position (`source`, line: the line of a JSON line,
 * or the 1-based place in a JSON array). A line that is not JSON becomes a reject; a body of
 * which nothing is JSON is refused as a whole.
 */
export function parseBody (text: string, source: string): ParsedBody {
  const first = /\S/.exec(text);
  if (first === null) return { ok: false, error: `the body is empty; ${BODY_SHAPE}` };
  if (first[0] === '[') {
    let values: unknown;
    try {
      values = JSON.parse(text);
    } catch (err) {
      return { ok: false, error: `the body starts with [ but is not a JSON array (${clipReason(err)}); ${BODY_SHAPE}` };
    }
    const items = (values as unknown[]).map((value, i): RawRecord => ({ ok: true, value, position: { source, line: i + 1 }, text: JSON.stringify(value) ?? '' }));
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
    const position = { source, line };
    if (raw.length > MAX_RECORD_BYTES || (raw.length * 3 > MAX_RECORD_BYTES && Buffer.byteLength(raw) > MAX_RECORD_BYTES)) {
      items.push({ ok: false, reject: { reason: 'record larger than 64 KiB', code: 'VIGIL_INVALID_RECORD', position, raw: raw.slice(0, RAW_CLIP) } });
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

function tooLarge (limit: number): string {
  return `the body is larger than ${limit} bytes; send fewer records per request`;
}

function clipReason (err: unknown): string {
  const why = err instanceof Error ? err.message : String(err);
  return why.length > 120 ? `${why.slice(0, 119)}…` : why;
}

/** A counting semaphore. */
class Gate {
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

class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor (status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

function send (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The whole body, or undefined when it is larger than `limit` (it is then read to its end and dropped). */
async function readBody (req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
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

/** The request handler of the node API. */
export class Api {
  private readonly deps: ApiDeps;
  private readonly bodies = new Gate(BODIES_AT_ONCE);
  /** counter reads share the actors' mailboxes with epochs: keep a few at a time */
  private readonly reads = new Gate(4);
  private seq = 0;

  constructor (deps: ApiDeps) {
    this.deps = deps;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        send(res, err.status, { error: err.message }, err.headers);
      } else {
        const message = err instanceof Error ? err.message : String(err);
        send(res, 500, { error: `internal error: ${message}` });
      }
    });
  };

  /**
   * A client that asks before sending its body (`Expect: 100-continue`, as curl does for
   * large ones) hears 413 at once when the declared length is over the limit, and never sends it.
   */
  readonly checkContinue = (req: IncomingMessage, res: ServerResponse): void => {
    const limit = this.deps.maxBodyBytes ?? MAX_BODY_BYTES;
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      send(res, 413, { error: tooLarge(limit) }, { connection: 'close' });
      return;
    }
    res.writeContinue();
    this.handle(req, res);
  };

  private async route (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://node');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const only = (allowed: string): void => {
      if (method !== allowed) throw new HttpError(405, `${method} is not allowed on ${path}; use ${allowed}`, { allow: allowed });
    };
    if (path === '/healthz') {
      only('GET');
      send(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz') {
      only('GET');
      const state = this.deps.state();
      if (state === 'ready') send(res, 200, { status: 'ready' });
      else send(res, 503, { error: state === 'starting' ? 'the node is starting' : 'the node is shutting down' });
      return;
    }
    if (path === '/v1/records') {
      only('POST');
      await this.records(req, res);
      return;
    }
    if (path.startsWith('/v1/counters/')) {
      only('GET');
      await this.counter(path, url.searchParams, res);
      return;
    }
    throw new HttpError(404, `no such endpoint: ${path}`);
  }

  private unavailable (): void {
    const state = this.deps.state();
    if (state !== 'ready') throw new HttpError(503, state === 'starting' ? 'the node is starting; try again' : 'the node is shutting down; send the records to another node or again later', { 'retry-after': '1' });
  }

  private async records (req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.unavailable();
    const seq = ++this.seq;
    let committed: Promise<Receipt>;
    await this.bodies.acquire();
    try {
      const limit = this.deps.maxBodyBytes ?? MAX_BODY_BYTES;
      const body = await readBody(req, limit);
      if (body === undefined) throw new HttpError(413, tooLarge(limit), { connection: 'close' });
      const parsed = parseBody(body.toString('utf8'), `http#${seq}`);
      if (!parsed.ok) throw new HttpError(400, parsed.error);
      this.unavailable();
      committed = (await this.deps.offer(parsed.items)).committed;
    } finally {
      this.bodies.release();
    }
    let receipt: Receipt;
    try {
      receipt = await committed;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new HttpError(503, `the records were not committed (${why}); send them again`);
    }
    send(res, 202, {
      accepted: receipt.accepted,
      rejected: receipt.rejects.length,
      rejects: receipt.rejects.map((r) => ({ line: r.position.line ?? null, reason: r.reason })),
    });
  }

  private async counter (path: string, query: URLSearchParams, res: ServerResponse): Promise<void> {
    const parts = path.slice('/v1/counters/'.length).split('/');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new HttpError(404, 'use /v1/counters/{rule}/{key}, with a "/" inside the key written as %2F');
    }
    let rule: string;
    let key: string;
    try {
      rule = decodeURIComponent(parts[0]!);
      key = decodeURIComponent(parts[1]!);
    } catch {
      throw new HttpError(400, `the path ${path} is not valid percent-encoding`);
    }
    if (!this.deps.hasRule(rule)) throw new HttpError(404, `no rule "${rule}" in the rules`);
    const ts = this.atOf(query);
    this.unavailable();
    await this.reads.acquire();
    let found: Awaited<ReturnType<ApiDeps['counter']>>;
    try {
      found = await this.deps.counter(rule, key, ts);
    } finally {
      this.reads.release();
    }
    if (found === null) throw new HttpError(404, `no counter of rule "${rule}" for key "${key}" in the window at ${this.deps.zone.toIso(ts)}`);
    const zone = this.deps.zone;
    // Rounded as in alerts, so a counter and the alert it raised show the same number.
    send(res, 200, { rule, key, value: roundValue(found.value), window: { start: zone.toIso(found.start), end: zone.toIso(found.end) } });
  }

  /** `?at=` (ISO 8601 or epoch ms), else the watermark, else the wall clock (nothing seen yet). */
  private atOf (query: URLSearchParams): number {
    const at = query.get('at');
    if (at === null) {
      const w = this.deps.watermark();
      return Number.isFinite(w) ? w : Date.now();
    }
    const ts = /^\d+$/.test(at) ? Number(at) : Date.parse(at);
    if (!Number.isFinite(ts)) throw new HttpError(400, `query.at must be an ISO 8601 time or epoch milliseconds, got "${at.slice(0, 60)}"`);
    return ts;
  }
}

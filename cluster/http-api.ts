/**
 * The node's HTTP API on fastify (interfaces.md, "HTTP API"): health, readiness, Prometheus
 * metrics, records in, the alert history, counters, the blocklist and the rules with hot
 * reload. `POST /v1/records` answers 202 `{accepted, rejected, rejects:[{line, reason}]}` only
 * once every record of the body is committed.
 *
 * Every error is JSON `{error}` (with `diagnostics` for invalid rules): 400 bad input naming
 * the field, 401 a write without a valid bearer token when tokens are configured, 404, 405
 * with `Allow`, 413 body too large, 503 not ready or stopping. Bodies are never buffered by
 * fastify: each handler reads its own, under a limit, so memory stays bounded.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type HTTPMethods } from 'fastify';
import { InvalidRulesError, NotAppliedError, RefusedError, ReloadUnsupportedError, RoleMissingError, UsageError } from '../core/errors.js';
import { roundValue } from '../core/alert.js';
import { actor, type Block, type BlockChange } from '../core/blocklist.js';
import type { Zone } from '../core/zone.js';
import type { RawRecord } from './record-source.js';
import type { Receipt } from './stream.js';
import type { ApiToken, ServeConfig } from './config.js';
import type { AlertPage, AlertQuery } from './alert-history.js';
import type { DeadLetter } from './notifier.js';
import type { CounterReading, RiskReport } from '../core/engine.js';
import { parseCursor } from './alert-history.js';
import { refuseBeforeNewest } from './risk-view.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';
import { BODIES_AT_ONCE, Gate, MAX_BODY_BYTES, decodeBody, parseBody, readBody, tooLarge } from './http-body.js';
import { LATIN1_HINT, firstNonUtf8Line, nonUtf8Lines, notUtf8Where } from './utf8-text.js';

export { MAX_BODY_BYTES, parseBody, type ParsedBody } from './http-body.js';

export type NodeState = 'starting' | 'ready' | 'stopping';

/** The active rules, as GET /v1/rules shows them. */
export interface RulesInfo {
  readonly file: string;
  readonly fingerprint: string;
  /** when these rules became active (UTC ISO 8601) */
  readonly loaded: string;
  /** rules in the file (enabled or not) */
  readonly rules: number;
  readonly text: string;
}

/** The answer to a rules reload. */
export interface ReloadResult {
  readonly fingerprint: string;
  readonly rules: number;
  readonly kept_counters: number;
  readonly dropped_counters: number;
}

export interface ApiDeps {
  readonly state: () => NodeState;
  /** see EpochStream.offer */
  readonly offer: (items: readonly RawRecord[]) => Promise<{ committed: Promise<Receipt> }>;
  readonly hasRule: (rule: string) => boolean;
  readonly counter: (rule: string, key: string, ts: number) => Promise<CounterReading | null>;
  /** the ingest watermark: "now" in event time, for the counters' current window */
  readonly watermark: () => number;
  /** the rules' zone (it may change with a reload) */
  readonly zone: () => Zone;
  /** bearer tokens of the write endpoints; empty: writes are open (the node is on loopback) */
  readonly tokens: readonly ApiToken[];
  readonly blocks: {
    get (key: string): Block | undefined;
    list (limit: number, after?: string): Block[];
    history (key: string): BlockChange[];
    lift (key: string, by: string): Promise<BlockChange | undefined>;
  };
  readonly alerts: { query (q: AlertQuery): AlertPage };
  /** a key's decayed risk scores and the alerts that made them (rules.md, `measure: risk`) */
  readonly risk: (key: string, ts: number) => Promise<readonly RiskReport[]>;
  /** the notification actor's dead letters (empty when the rules define no channel) */
  readonly deadLetters: {
    list (): Promise<readonly DeadLetter[]>;
    /** every dead letter, or those of one dead-letter or alert id; how many went back to their queue */
    redrive (id?: string): Promise<number>;
  };
  readonly rules: {
    current (): RulesInfo;
    /**
     * validates and hot-reloads; throws InvalidRulesError for rules that are not valid,
     * ReloadUnsupportedError on a node that never reloads in place (a cluster node)
     */
    reload (text: string): Promise<ReloadResult>;
  };
  readonly metrics: () => string;
  readonly maxBodyBytes?: number;
  /** for the server: idle keep-alive connections close after this (default 5 s) */
  readonly keepAliveTimeoutMs?: number;
}

class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;
  constructor (status: number, message: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
    this.extra = extra;
  }
}

const METHODS: readonly HTTPMethods[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

function digest (text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The name of the token the request carries, in constant time: every configured token is
 * compared (as SHA-256 digests, so lengths do not leak either). Throws 401.
 */
export function authorize (tokens: readonly ApiToken[], header: string | undefined): string | undefined {
  if (tokens.length === 0) return undefined;
  const challenge = { 'www-authenticate': 'Bearer realm="vigil"' };
  const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (m === null) throw new HttpError(401, 'this endpoint needs a bearer token: send the header Authorization: Bearer <token> (one of config.api)', challenge);
  const presented = digest(m[1]!);
  let name: string | undefined;
  for (const t of tokens) {
    if (timingSafeEqual(presented, digest(t.secret)) && name === undefined) name = t.name;
  }
  if (name === undefined) throw new HttpError(401, 'the bearer token is not one of this node\'s tokens (config.api)', challenge);
  return name;
}

/** One query parameter as text (the first, when repeated); undefined when absent. */
function param (query: unknown, name: string): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}

function onlyParams (query: unknown, path: string, known: readonly string[]): void {
  for (const name of Object.keys((query as Record<string, unknown> | undefined) ?? {})) {
    if (!known.includes(name)) throw new HttpError(400, `query.${name} is not a parameter of ${path}; use ${known.join(', ')}`);
  }
}

/** An ISO 8601 time or epoch milliseconds. */
function timeParam (text: string, field: string): number {
  const ts = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ts)) throw new HttpError(400, `query.${field} must be an ISO 8601 time or epoch milliseconds, got "${text.slice(0, 60)}"`);
  return ts;
}

function limitParam (text: string | undefined, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) throw new HttpError(400, `query.limit must be a whole number from 1 to ${max}, got "${text.slice(0, 60)}"`);
  return n;
}

/**
 * Builds the API on its own node:http server (so that `Expect: 100-continue` is answered
 * here, and so that the caller decides when to listen and how to close connections).
 */
export function buildApi (deps: ApiDeps): { app: FastifyInstance, server: Server } {
  const limit = deps.maxBodyBytes ?? MAX_BODY_BYTES;
  let server!: Server;
  const app = Fastify({
    logger: false,
    // Keys of composite `by` (a|b|c) can be long; the default of 100 would answer 414.
    routerOptions: { maxParamLength: 4096 },
    serverFactory: (handler) => {
      server = createServer({ keepAliveTimeout: deps.keepAliveTimeoutMs ?? 5_000 });
      server.on('request', handler);
      // A client that asks before sending its body (as curl does for large ones) hears 413 at
      // once when the declared length is over the limit, and never sends it.
      server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
        if (Number(req.headers['content-length'] ?? 0) > limit) {
          const text = JSON.stringify({ error: tooLarge(limit) });
          res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), connection: 'close' });
          res.end(text);
          return;
        }
        res.writeContinue();
        handler(req, res);
      });
      return server;
    },
  });
  const api = new Handlers(deps, limit);

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: `no such endpoint: ${req.url.split('?')[0] ?? req.url}` });
  });
  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof HttpError) {
      reply.code(err.status).headers(err.headers).send({ error: err.message, ...err.extra });
      return;
    }
    if (err instanceof RoleMissingError) {
      reply.code(421).send({ error: err.message });
      return;
    }
    // A cluster lift that is published but not applied here yet: it stands; look again soon.
    if (err instanceof NotAppliedError) {
      reply.code(503).header('retry-after', '1').send({ error: err.message });
      return;
    }
    const e = err as { statusCode?: number, message?: string };
    const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    reply.code(status).send({ error: status === 500 ? `internal error: ${e.message ?? String(err)}` : e.message ?? 'bad request' });
  });

  // Every route takes its body as the raw stream: no content type is parsed for it.
  app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, payload, done) => { done(null, payload); });
    const route = (url: string, handlers: Partial<Record<HTTPMethods, (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>>>): void => {
      const allowed = Object.keys(handlers) as HTTPMethods[];
      for (const method of allowed) raw.route({ method, url, handler: handlers[method]! });
      const others = METHODS.filter((m) => !allowed.includes(m));
      raw.route({
        method: others as HTTPMethods[],
        url,
        handler: async (req) => {
          throw new HttpError(405, `${req.method} is not allowed on ${req.url.split('?')[0] ?? url}; use ${allowed.join(' or ')}`, { allow: allowed.join(', ') });
        },
      });
    };
    route('/healthz', { GET: async () => ({ status: 'ok' }) });
    route('/readyz', { GET: async (_req, reply) => api.readyz(reply) });
    route('/metrics', { GET: async (_req, reply) => reply.type(METRICS_CONTENT_TYPE).send(deps.metrics()) });
    route('/v1/records', { POST: async (req, reply) => api.records(req, reply) });
    route('/v1/alerts', { GET: async (req) => api.alerts(req) });
    route('/v1/counters/:rule/:key', { GET: async (req) => api.counter(req) });
    route('/v1/counters/*', {
      GET: async () => { throw new HttpError(404, 'use /v1/counters/{rule}/{key}, with a "/" inside the key written as %2F'); },
    });
    route('/v1/blocks', { GET: async (req) => api.blockList(req) });
    route('/v1/blocks/:key', { GET: async (req, reply) => api.block(req, reply), DELETE: async (req, reply) => api.lift(req, reply) });
    route('/v1/blocks/:key/history', { GET: async (req) => api.blockHistory(req) });
    route('/v1/rules', { GET: async (req) => api.rules(req), PUT: async (req) => api.putRules(req) });
    route('/v1/risk/:key', { GET: async (req) => api.risk(req) });
    route('/v1/dead-letters', { GET: async () => ({ deadLetters: await deps.deadLetters.list() }) });
    route('/v1/dead-letters/redrive', { POST: async (req) => api.redrive(req) });
  });
  return { app, server };
}

class Handlers {
  private readonly deps: ApiDeps;
  private readonly limit: number;
  private readonly bodies = new Gate(BODIES_AT_ONCE);
  /** counter reads share the actors' mailboxes with epochs: keep a few at a time */
  private readonly reads = new Gate(4);
  private seq = 0;

  constructor (deps: ApiDeps, limit: number) {
    this.deps = deps;
    this.limit = limit;
  }

  readyz (reply: FastifyReply): unknown {
    const state = this.deps.state();
    if (state === 'ready') return { status: 'ready' };
    // As every 503: a balancer or client told when to ask again does not count it as a failure.
    return reply.code(503).header('retry-after', '1').send({ error: state === 'starting' ? 'the node is starting' : 'the node is shutting down' });
  }

  private unavailable (): void {
    const state = this.deps.state();
    if (state !== 'ready') throw new HttpError(503, state === 'starting' ? 'the node is starting; try again' : 'the node is shutting down; send the records to another node or again later', { 'retry-after': '1' });
  }

  /**
   * The active rules file. It holds the channels' secrets (webhook secrets, SMTP passwords,
   * gateway tokens) verbatim, so a node with tokens hands it only to a holder of one, as the
   * write endpoints; a node without tokens listens on loopback only.
   */
  rules (req: FastifyRequest): RulesInfo {
    authorize(this.deps.tokens, req.headers.authorization);
    return this.deps.rules.current();
  }

  /** The token's name for a write, or 401. */
  private writer (req: FastifyRequest): string {
    return actor.api(authorize(this.deps.tokens, req.headers.authorization));
  }

  /** The body, read under the limit (413 beyond it) and decoded as its Content-Encoding says (415 for one not taken). */
  private async body (req: FastifyRequest): Promise<Buffer> {
    const body = req.body === undefined ? Buffer.alloc(0) : await readBody(req.raw, this.limit);
    if (body === undefined) throw new HttpError(413, tooLarge(this.limit), { connection: 'close' });
    const decoded = await decodeBody(body, req.headers['content-encoding'], this.limit);
    if (!decoded.ok) throw new HttpError(decoded.status, decoded.error);
    return decoded.body;
  }

  async records (req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    this.writer(req);
    this.unavailable();
    const seq = ++this.seq;
    let committed: Promise<Receipt>;
    await this.bodies.acquire();
    try {
      const body = await this.body(req);
      const parsed = parseBody(body.toString('utf8'), `http#${seq}`, nonUtf8Lines(body));
      if (!parsed.ok) throw new HttpError(parsed.status ?? 400, parsed.error);
      this.unavailable();
      committed = (await this.deps.offer(parsed.items)).committed;
    } finally {
      this.bodies.release();
    }
    let receipt: Receipt;
    try {
      receipt = await committed;
    } catch (err) {
      if (err instanceof RoleMissingError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new HttpError(503, `the records were not committed (${why}); send them again`);
    }
    return reply.code(202).send({
      accepted: receipt.accepted,
      rejected: receipt.rejects.length,
      rejects: receipt.rejects.map((r) => ({ line: r.position.line ?? null, reason: r.reason })),
    });
  }

  async counter (req: FastifyRequest): Promise<unknown> {
    const { rule, key } = req.params as { rule: string, key: string };
    onlyParams(req.query, '/v1/counters/{rule}/{key}', ['at']);
    if (!this.deps.hasRule(rule)) throw new HttpError(404, `no rule "${rule}" in the rules`);
    const ts = this.atOf(param(req.query, 'at'));
    this.unavailable();
    await this.reads.acquire();
    let found: Awaited<ReturnType<ApiDeps['counter']>>;
    try {
      found = await this.deps.counter(rule, key, ts);
    } finally {
      this.reads.release();
    }
    const zone = this.deps.zone();
    if (found === null) throw new HttpError(404, `no counter of rule "${rule}" for key "${key}" in the window at ${zone.toIso(ts)}`);
    // Rounded as in alerts, so a counter and the alert it raised show the same number.
    return { rule, key, value: roundValue(found.value), limit: found.limit === null ? null : roundValue(found.limit), window: { start: zone.toIso(found.start), end: zone.toIso(found.end) } };
  }

  async risk (req: FastifyRequest): Promise<unknown> {
    const { key } = req.params as { key: string };
    onlyParams(req.query, '/v1/risk/{key}', ['at']);
    const at = param(req.query, 'at');
    const ts = this.atOf(at);
    this.unavailable();
    await this.reads.acquire();
    let reports: readonly RiskReport[];
    try {
      reports = await this.deps.risk(key, ts);
    } finally {
      this.reads.release();
    }
    if (reports.length === 0) throw new HttpError(404, `no risk score for key "${key}" (no risk rule, or no scored alert for it yet)`);
    // As `vigil risk --at`: a time before the newest scored alert cannot be answered.
    try {
      if (at !== undefined) refuseBeforeNewest(reports, key, ts, 'query.at', this.deps.zone());
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
    return { key, risk: reports };
  }

  /** `?at=` (ISO 8601 or epoch ms), else the watermark, else the wall clock (nothing seen yet). */
  private atOf (at: string | undefined): number {
    if (at === undefined) {
      const w = this.deps.watermark();
      return Number.isFinite(w) ? w : Date.now();
    }
    return timeParam(at, 'at');
  }

  alerts (req: FastifyRequest): unknown {
    onlyParams(req.query, '/v1/alerts', ['since', 'rule', 'key', 'after', 'limit']);
    const since = param(req.query, 'since');
    const after = param(req.query, 'after');
    if (after !== undefined && parseCursor(after) === undefined) throw new HttpError(400, `query.after must be the "next" of an earlier answer, got "${after.slice(0, 60)}"`);
    const rule = param(req.query, 'rule');
    const key = param(req.query, 'key');
    return this.deps.alerts.query({
      limit: limitParam(param(req.query, 'limit'), MAX_LIMIT, DEFAULT_LIMIT),
      ...(since === undefined ? {} : { since: timeParam(since, 'since') }),
      ...(after === undefined ? {} : { after }),
      ...(rule === undefined ? {} : { rule }),
      ...(key === undefined ? {} : { key }),
    });
  }

  blockList (req: FastifyRequest): unknown {
    onlyParams(req.query, '/v1/blocks', ['limit', 'after']);
    const max = 100_000;
    const limit = limitParam(param(req.query, 'limit'), max, max);
    const blocks = this.deps.blocks.list(limit, param(req.query, 'after'));
    return { blocks: blocks.map((b) => ({ blocked: true, ...b })), next: blocks.length >= limit ? blocks[blocks.length - 1]!.key : null };
  }

  block (req: FastifyRequest, reply: FastifyReply): unknown {
    const { key } = req.params as { key: string };
    const block = this.deps.blocks.get(key);
    if (block === undefined) return reply.code(404).send({ key, blocked: false });
    return { key, blocked: true, since: block.since, alert: block.alert, rule: block.rule };
  }

  async lift (req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const by = this.writer(req);
    const { key } = req.params as { key: string };
    const change = await this.deps.blocks.lift(key, by);
    if (change === undefined) return reply.code(404).send({ key, blocked: false, error: `key "${key}" is not blocked; nothing to lift` });
    return { key, blocked: false, lifted: change };
  }

  async redrive (req: FastifyRequest): Promise<unknown> {
    this.writer(req);
    const { id } = req.query as { id?: string };
    if (id !== undefined && id === '') throw new HttpError(400, 'id must be a dead letter\'s or an alert\'s id, got an empty string');
    return { redriven: await this.deps.deadLetters.redrive(id) };
  }

  blockHistory (req: FastifyRequest): unknown {
    const { key } = req.params as { key: string };
    const block = this.deps.blocks.get(key);
    return { key, blocked: block !== undefined, history: this.deps.blocks.history(key) };
  }

  async putRules (req: FastifyRequest): Promise<unknown> {
    this.writer(req);
    this.unavailable();
    const body = await this.body(req);
    const notText = firstNonUtf8Line(body);
    if (notText !== undefined) throw new HttpError(400, `the rules are not UTF-8 text: ${notUtf8Where(notText.bad, notText.line)}; nothing was changed (${LATIN1_HINT})`);
    const text = body.toString('utf8');
    try {
      return await this.deps.rules.reload(text);
    } catch (err) {
      // Not the node failing: these rules cannot be taken here (405 names what the path still allows).
      if (err instanceof ReloadUnsupportedError) throw new HttpError(405, err.message, { allow: 'GET' });
      // Valid rules this node cannot run (a file channel on its alerts file): the reason is the answer.
      if (err instanceof RefusedError) throw new HttpError(400, `${err.message}; nothing was changed`);
      if (!(err instanceof InvalidRulesError)) throw err;
      const n = err.diagnostics.length;
      throw new HttpError(400, `the rules are not valid (${n} problem${n === 1 ? '' : 's'}); nothing was changed`, {}, {
        diagnostics: err.diagnostics.map((d) => ({ line: d.line, col: d.col, message: d.message })),
      });
    }
  }
}

/** Opens the node's port; a port in use or an address the host lacks is a UsageError naming config.listen. */
export async function listenOn (server: Server, listen: ServeConfig['listen']): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
      reject(new UsageError(`config.listen: cannot listen on ${listen.host}:${listen.port}: ${why}`));
    });
    server.listen(listen.port, listen.host, () => { resolve(); });
  });
}

/** HOST:PORT, with brackets around an IPv6 host. */
export function formatAddress (a: AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

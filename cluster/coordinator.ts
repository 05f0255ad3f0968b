/**
 * The coordinator (ingest) of a cluster: takes raw records from producers (`<prefix>.in` as a
 * queue group, and HTTP), validates, derives and rates them in arrival order, routes each to
 * the shards that must see it (its account's, and those of the spanning counters it feeds),
 * and publishes them to the shard stream in MessagePack batches, one subject per shard.
 *
 * An offer's receipt resolves only once JetStream holds every batch that carries one of its
 * records, so a producer that is acknowledged never loses a record. Per shard, batches are
 * published one at a time and in order (a retried publish keeps its message id, so a publish
 * that timed out but landed is not stored twice), which keeps each shard's records in input
 * order. Memory is bounded: an offer waits while `maxQueued` records are unpublished.
 */
import { randomUUID } from 'node:crypto';
import type { CompiledRules } from '../core/compile.js';
import { Ingest, type AheadBound } from '../core/ingest.js';
import { Placement } from '../core/placement.js';
import type { Reject, UsageRecord } from '../core/usage-record.js';
import type { JetStreamClient, JetStreamManager, Msg, NatsConnection, Subscription } from '../workers/nats-client.js';
import { Unpackr, wire } from '../workers/codec.js';
import type { ShardBatch } from '../workers/lanes/protocol.js';
import type { RawRecord } from './record-source.js';
import type { Receipt } from './stream.js';
import { MAX_BODY_RECORDS, decodedRecord, parseBody } from './http-body.js';
import { nonUtf8Lines } from './utf8-text.js';
import { rejectLine } from './replay.js';
import type { ClusterNames } from './jetstream.js';
import { SpanKind, contextFrom, headersFor, messaging, startMerged, tracer, within, type Context, type Span } from './tracing.js';
import { context } from '@opentelemetry/api';

export const COORDINATOR_QUEUE = 'vigil-coordinators';

export interface CoordinatorOptions {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly names: ClusterNames;
  readonly compiled: CompiledRules;
  readonly shards: number;
  /** names this coordinator in message ids; a fresh suffix per start keeps ids unique across restarts */
  readonly id: string;
  /** records per shard message at most (default 500) */
  readonly maxRecords?: number;
  /** how long a shard's open batch waits for more records (default 5 ms) */
  readonly maxWaitMs?: number;
  /** the bound on records dated ahead of the clock (config.max_ahead); none: no bound */
  readonly ahead?: AheadBound | undefined;
  /** unpublished records at most before offers wait (default 100 000) */
  readonly maxQueued?: number;
  /** called for every stream publish that failed and will be retried */
  readonly onRetry?: (shard: number, err: unknown) => void;
  /**
   * called once JetStream holds every record of an offer, whichever input brought it (HTTP or
   * `<prefix>.in`), with how many raw records it had and the seconds from offer to held
   */
  readonly onCommitted?: (offered: number, receipt: Receipt, seconds: number) => void;
  /**
   * called when something that should not fail did: a `<prefix>.in` message that could not be
   * taken (its producer is answered with the error), or a shard's publisher that stopped (the
   * next batch sealed for the shard starts it again). Default: one line on stderr.
   */
  readonly onError?: (what: string, err: unknown) => void;
}

class Ticket {
  accepted = 0;
  /** the ingest span, ended when JetStream holds every record of the offer */
  readonly span: Span;
  readonly ctx: Context;
  /** batches holding records of this offer that JetStream has not acknowledged yet; one extra while the offer is being routed */
  pending = 1;
  readonly rejects: Reject[] = [];
  readonly promise: Promise<Receipt>;
  private resolve!: (r: Receipt) => void;

  constructor (records: number, parent: Context) {
    this.promise = new Promise<Receipt>((resolve) => { this.resolve = resolve; });
    this.span = tracer.startSpan('vigil.ingest', { kind: SpanKind.INTERNAL, attributes: { 'vigil.records': records } }, parent);
    this.ctx = within(this.span);
  }

  done (): void {
    if (--this.pending > 0) return;
    this.span.setAttributes({ 'vigil.accepted': this.accepted, 'vigil.rejected': this.rejects.length });
    this.span.end();
    this.resolve({ accepted: this.accepted, rejects: this.rejects });
  }
}

interface Batch {
  readonly records: UsageRecord[];
  readonly watermark: number[];
  readonly tickets: Set<Ticket>;
}

/** The ingest spans of the offers whose records a shard message carries. */
const upstreamOf = (batch: Batch): Context[] => [...batch.tickets].map((t) => t.ctx);

interface Lane {
  open: Batch;
  readonly sealed: Batch[];
  publishing: boolean;
  /** numbers this lane's messages for their ids */
  sent: number;
}

/** shard streams' last messages asked for at once when a coordinator starts */
const WATERMARK_READS_AT_ONCE = 32;

const newBatch = (): Batch => ({ records: [], watermark: [], tickets: new Set() });

export class Coordinator {
  readonly id: string;
  private readonly opts: CoordinatorOptions;
  private readonly ingest: Ingest;
  private readonly placement: Placement;
  private readonly lanes: Lane[];
  private readonly maxRecords: number;
  private readonly maxWaitMs: number;
  private readonly maxQueued: number;
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private roomWaiters: Array<() => void> = [];
  private lock: Promise<void> = Promise.resolve();
  private readonly route: number[] = [];
  private subscription: Subscription | undefined;
  private closed = false;
  private idle: Array<() => void> = [];
  /** records published and acknowledged, rejects seen: for metrics */
  readonly counts = { published: 0, accepted: 0, rejected: 0, messages: 0 };

  constructor (opts: CoordinatorOptions) {
    this.opts = opts;
    this.id = `${opts.id}-${randomUUID().slice(0, 8)}`;
    this.ingest = new Ingest(opts.compiled, opts.ahead);
    this.placement = new Placement(opts.compiled, opts.shards);
    this.lanes = Array.from({ length: opts.shards }, () => ({ open: newBatch(), sealed: [], publishing: false, sent: 0 }));
    this.maxRecords = opts.maxRecords ?? 500;
    this.maxWaitMs = opts.maxWaitMs ?? 5;
    this.maxQueued = opts.maxQueued ?? 100_000;
  }

  /**
   * Takes up the newest watermark the shard stream holds (the last message of each shard
   * carries its coordinator's watermark). A coordinator that started without one took a record
   * for a window the lanes had already discarded: counted afresh, from zero, into a window
   * whose alert marks were gone, so its alert could be raised again days later. Call before
   * `listen`. Resolves with the watermark (-Infinity for an empty stream).
   */
  async restoreWatermark (jsm: JetStreamManager): Promise<number> {
    const { names, shards } = this.opts;
    let newest = -Infinity;
    // In groups, not one round trip after another: 64 shards are a few ms, 1024 not a second.
    for (let from = 0; from < shards; from += WATERMARK_READS_AT_ONCE) {
      const reads: Array<Promise<void>> = [];
      for (let shard = from; shard < Math.min(shards, from + WATERMARK_READS_AT_ONCE); shard++) {
        reads.push(jsm.streams.getMessage(names.shardStream, { last_by_subj: names.subjects.shard(shard) }).then((m) => {
          if (m === null) return;
          const { watermark } = wire.unpack(m.data) as ShardBatch;
          const last = watermark[watermark.length - 1];
          if (last !== undefined && last > newest) newest = last;
        }));
      }
      await Promise.all(reads);
    }
    if (newest > this.ingest.watermark) this.ingest.watermark = newest;
    return this.ingest.watermark;
  }

  /** The newest event time accepted: lateness is judged against it. */
  get watermark (): number { return this.ingest.watermark; }

  /**
   * Offers raw records in arrival order. Resolves once they are routed (an offer waits here
   * while too many records are unpublished); `committed` resolves once JetStream holds them.
   */
  async offer (items: readonly RawRecord[], parent: Context = context.active()): Promise<{ committed: Promise<Receipt> }> {
    const started = performance.now();
    const ticket = new Ticket(items.length, parent);
    const run = this.lock.then(async () => {
      while (this.queued >= this.maxQueued && !this.closed) await new Promise<void>((resolve) => { this.roomWaiters.push(resolve); });
      this.route1(items, ticket);
    });
    this.lock = run.catch(() => undefined);
    await run;
    ticket.done();
    const onCommitted = this.opts.onCommitted;
    const committed = onCommitted === undefined
      ? ticket.promise
      : ticket.promise.then((receipt) => { onCommitted(items.length, receipt, (performance.now() - started) / 1000); return receipt; });
    return { committed };
  }

  private route1 (items: readonly RawRecord[], ticket: Ticket): void {
    for (const item of items) {
      if (!item.ok) { this.reject(ticket, item.reject); continue; }
      const prepared = this.ingest.prepare(item.value, item.position, item.text);
      if (!prepared.ok) { this.reject(ticket, prepared.reject); continue; }
      ticket.accepted++;
      this.counts.accepted++;
      const watermark = this.ingest.watermark;
      const n = this.placement.route(prepared.record, this.route);
      for (let i = 0; i < n; i++) {
        const lane = this.lanes[this.route[i]!]!;
        const batch = lane.open;
        batch.records.push(prepared.record);
        batch.watermark.push(watermark);
        if (!batch.tickets.has(ticket)) { batch.tickets.add(ticket); ticket.pending++; }
        this.queued++;
        if (batch.records.length >= this.maxRecords) this.seal(this.route[i]!);
      }
    }
    if (this.timer === undefined && this.queued > 0) {
      this.timer = setTimeout(() => { this.timer = undefined; this.sealAll(); }, this.maxWaitMs);
    }
  }

  private reject (ticket: Ticket, reject: Reject): void {
    ticket.rejects.push(reject);
    this.counts.rejected++;
    this.opts.nc.publish(this.opts.names.subjects.rejected, rejectLine(reject));
  }

  private sealAll (): void {
    for (let s = 0; s < this.lanes.length; s++) if (this.lanes[s]!.open.records.length > 0) this.seal(s);
  }

  private seal (shard: number): void {
    const lane = this.lanes[shard]!;
    lane.sealed.push(lane.open);
    lane.open = newBatch();
    if (!lane.publishing) {
      this.pump(shard).catch((err: unknown) => {
        lane.publishing = false;
        this.failed(`publishing shard ${shard}'s batches to ${this.opts.names.subjects.shard(shard)}`, err);
      });
    }
  }

  private failed (what: string, err: unknown): void {
    if (this.opts.onError !== undefined) this.opts.onError(what, err);
    else process.stderr.write(`vigil: coordinator: ${what} failed: ${err instanceof Error ? err.message : String(err)}\n`);
  }

  /** Publishes a shard's sealed batches one at a time, in order, each until JetStream holds it. */
  private async pump (shard: number): Promise<void> {
    const lane = this.lanes[shard]!;
    lane.publishing = true;
    const subject = this.opts.names.subjects.shard(shard);
    while (lane.sealed.length > 0) {
      const batch = lane.sealed[0]!;
      const payload: ShardBatch = { records: batch.records, watermark: batch.watermark };
      const data = wire.pack(payload);
      const msgID = `${this.id}-${shard}-${++lane.sent}`;
      const span = startMerged(`send ${subject}`, SpanKind.PRODUCER, upstreamOf(batch), { ...messaging('send', subject, 1), 'vigil.records': batch.records.length, 'vigil.shard': shard });
      const traced = headersFor(span);
      for (let attempt = 0; ; attempt++) {
        try {
          await this.opts.js.publish(subject, data, { msgID, timeout: 5_000, ...(traced === undefined ? {} : { headers: traced }) });
          span.end();
          break;
        } catch (err) {
          span.addEvent('publish failed, retrying', { 'exception.message': err instanceof Error ? err.message : String(err), 'vigil.attempt': attempt + 1 });
          this.opts.onRetry?.(shard, err);
          // NATS is away or JetStream has no leader: the records stay unacknowledged and
          // producers wait (backpressure) until it is back.
          await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** Math.min(attempt, 6))));
        }
      }
      lane.sealed.shift();
      this.counts.messages++;
      this.counts.published += batch.records.length;
      this.queued -= batch.records.length;
      for (const t of batch.tickets) t.done();
      if (this.queued < this.maxQueued) { const waiters = this.roomWaiters; this.roomWaiters = []; for (const w of waiters) w(); }
    }
    lane.publishing = false;
    if (this.queued === 0) { const idle = this.idle; this.idle = []; for (const w of idle) w(); }
  }

  /** Resolves once every record offered so far is held by JetStream. */
  async flush (): Promise<void> {
    await this.lock;
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined; }
    this.sealAll();
    if (this.queued === 0) return;
    await new Promise<void>((resolve) => { this.idle.push(resolve); });
  }

  /**
   * Takes records on `<prefix>.in` as one of the coordinators' queue group: one record or an
   * array, JSON or MessagePack. A request is answered, once JetStream holds its records, with
   * `{accepted, rejected, rejects: [{seq, reason}]}`.
   */
  listen (): void {
    this.subscription = this.opts.nc.subscribe(this.opts.names.subjects.in, {
      queue: COORDINATOR_QUEUE,
      callback: (err: Error | null, msg: Msg) => {
        if (err !== null) return;
        this.fromNats(msg).catch((failure: unknown) => {
          this.failed(`taking a message on ${msg.subject}`, failure);
          // The producer hears why rather than waiting for a timeout.
          const error = `the coordinator could not take these records: ${failure instanceof Error ? failure.message : String(failure)}; send them again`;
          try { if (msg.reply !== undefined && msg.reply !== '') msg.respond(JSON.stringify({ error })); } catch { /* the connection is gone: nobody to answer */ }
        });
      },
    });
  }

  private async fromNats (msg: Msg): Promise<void> {
    const items = decodeInput(msg.data, `nats:${msg.subject}`);
    // A producer that traces sends its context in the headers: the ingest span continues it.
    const receipt = await (await this.offer(items, contextFrom(msg.headers))).committed;
    if (msg.reply !== undefined && msg.reply !== '') msg.respond(replyText(receipt, this.opts.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD));
  }

  async close (): Promise<void> {
    if (this.subscription !== undefined) await this.subscription.drain();
    await this.flush();
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}

/** nats-server's default max_payload, for a connection that has not said its own. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * The answer to a `<prefix>.in` request: `{accepted, rejected, rejects: [{seq, reason}]}`.
 * NATS refuses a message over the server's max_payload, and a refused answer was none: the
 * producer timed out on records that were taken (20,000 bad lines were enough). So it lists the
 * rejects that fit in `maxBytes` and, when that is not all of them, says how many it leaves
 * out as `omitted`; every reject is on `<prefix>.rejected` too.
 */
export function replyText (receipt: Receipt, maxBytes: number): string {
  const rejects = receipt.rejects.map((r) => ({ seq: r.position.seq ?? r.position.line, reason: r.reason }));
  const all = JSON.stringify({ accepted: receipt.accepted, rejected: rejects.length, rejects });
  if (all.length <= maxBytes / 3 || Buffer.byteLength(all) <= maxBytes) return all;
  // Room for the frame around the list: {"accepted":N,"rejected":N,"rejects":[],"omitted":N}.
  let room = maxBytes - 100;
  let n = 0;
  for (const r of rejects) {
    room -= Buffer.byteLength(JSON.stringify(r)) + 1;
    if (room < 0) break;
    n++;
  }
  return JSON.stringify({ accepted: receipt.accepted, rejected: rejects.length, rejects: rejects.slice(0, n), omitted: rejects.length - n });
}

/**
 * Producers' MessagePack, as plain maps. A 64-bit integer (what other languages' encoders write
 * for any number past 32 bits, an epoch-ms `ts` among them) is a number when it is one exactly,
 * a bigint beyond 2^53 (which validation refuses, naming it); msgpackr's default, a bigint
 * always, made every such record a bigint.
 */
// 'auto' is in msgpackr's unpack.js but not (yet) in its types.
const producers = new Unpackr({ useRecords: false, int64AsType: 'auto' as 'bigint' });

/**
 * A `<prefix>.in` payload as raw records: JSON (one record, an array, or JSON lines) when it
 * starts with `{` or `[`, MessagePack (one map or an array of maps) otherwise. Positions are
 * the 1-based place in the message (`seq`).
 */
export function decodeInput (data: Uint8Array, source: string): RawRecord[] {
  let i = 0;
  while (i < data.length && (data[i] === 0x20 || data[i] === 0x0a || data[i] === 0x0d || data[i] === 0x09)) i++;
  const first = data[i];
  if (first === 0x7b || first === 0x5b) {
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const parsed = parseBody(bytes.toString('utf8'), source, nonUtf8Lines(bytes));
    if (parsed.ok) {
      return parsed.items.map((item) => item.ok
        ? { ...item, position: { source, seq: item.position.line ?? 1 } }
        : { ok: false, reject: { ...item.reject, position: { source, seq: item.reject.position.line ?? 1 } } });
    }
    return [{ ok: false, reject: { reason: parsed.error, code: 'VIGIL_INVALID_RECORD', position: { source, seq: 1 }, raw: '' } }];
  }
  let value: unknown;
  try {
    value = producers.unpack(data);
  } catch (err) {
    // msgpackr reads nesting by recursion: a stack overflow means a message nested too deep.
    const why = err instanceof RangeError ? 'nested too deeply' : err instanceof Error ? err.message : String(err);
    return [{ ok: false, reject: { reason: `the message is neither JSON nor MessagePack (${why})`, code: 'VIGIL_INVALID_RECORD', position: { source, seq: 1 }, raw: '' } }];
  }
  const values = Array.isArray(value) ? value : [value];
  if (values.length > MAX_BODY_RECORDS) {
    return [{ ok: false, reject: { reason: `the message holds more than ${MAX_BODY_RECORDS} records; send fewer records per message`, code: 'VIGIL_INVALID_RECORD', position: { source, seq: 1 }, raw: '' } }];
  }
  return values.map((v, n) => decodedRecord(v, { source, seq: n + 1 }));
}

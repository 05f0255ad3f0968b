/**
 * The notifier's durable outbox, an LMDB environment of its own (`<data>/notify`):
 *   ['b', batch]                 -> enqueuedAt (float64) + the batch's alerts as received
 *                                   (msgpackr bytes, stored as they came: never re-encoded)
 *   ['q', channel, seq]          -> (empty) one entry per (alert, channel); seq = batch * 2^20
 *                                   + the alert's index in its batch
 *   ['dead', channel, alert id]  -> { alert, enqueuedAt, deadAt, attempts, error }
 * An entry is written before any delivery is tried and removed only once its channel accepted
 * it, so a crash or restart loses nothing (and may deliver an alert twice). A batch goes when
 * its last entry goes. Keeping alerts once per batch, as bytes, makes an enqueue one put per
 * batch plus an empty put per entry: the thread stays cheap under a burst. Delivery state
 * (attempts, back-off) lives in memory only: `retry.max` counts from the durable enqueuedAt.
 */
import { open, type RootDatabase } from 'lmdb';
import type { Alert } from '../../core/alert.js';
import { EngineError } from '../../core/errors.js';
import { disk } from '../codec.js';

/** Alerts per batch at most: seq keeps the index in its low 20 bits. */
export const BATCH_MAX = 1 << 20;
const EMPTY = Buffer.alloc(0);
/** Alerts of unpacked batches kept for sending; deliveries walk the queue in order, so a few batches do. */
const CACHE_ALERTS = 100_000;

export interface QueuedEntry { readonly channel: string, readonly seq: number, readonly id: string, readonly enqueuedAt: number }
export interface DeadRow {
  readonly channel: string;
  readonly alert: Alert;
  readonly enqueuedAt: number;
  readonly deadAt: number;
  readonly attempts: number;
  readonly error: string;
}
export interface Batch { readonly id: number, readonly enqueuedAt: number, readonly alerts: readonly Alert[] }

type Key = Array<string | number>;

export const batchOf = (seq: number): number => Math.floor(seq / BATCH_MAX);

export class Outbox {
  private readonly db: RootDatabase;
  private closed = false;
  /** writes not awaited by their callers; close() waits for them */
  private readonly pending = new Set<Promise<unknown>>();
  /** entries left per batch, over all channels */
  private readonly refs = new Map<number, number>();
  private readonly cache = new Map<number, Batch>();
  private cached = 0;
  private lastBatch = 0;

  constructor (path: string) {
    // No overlappingSync here: with it, LMDB flushes a commit to disk after the commit and calls
    // back into the thread that made it; a notification thread that dies (or is terminated)
    // in between takes the whole process down with a SIGSEGV (seen 3 times in 10 runs of the
    // killed-thread tests under load; none in 12 without it). Each commit here waits for its
    // flush instead: enqueues and removals are batched, so that is a few commits per second.
    this.db = open({ path, compression: false, encoding: 'binary', overlappingSync: false });
    for (const key of this.db.getKeys({ start: ['b'], end: ['b', Number.MAX_SAFE_INTEGER] })) {
      this.lastBatch = Math.max(this.lastBatch, (key as Key)[1] as number);
    }
  }

  /** A new batch id, above every batch in the outbox. */
  nextBatch (): number {
    return ++this.lastBatch;
  }

  /** The batch, from the cache or LMDB; undefined when it is gone (all its entries delivered). */
  batch (id: number): Batch | undefined {
    let b = this.cache.get(id);
    if (b !== undefined) return b;
    const bytes = this.db.getBinary(['b', id]);
    if (bytes === undefined) return undefined;
    try {
      const enqueuedAt = bytes.readDoubleLE(0);
      b = { id, enqueuedAt, alerts: disk.unpack(bytes.subarray(8)) as Alert[] };
    } catch (err) {
      throw new EngineError('VIGIL_STORE_CORRUPT', `outbox batch ${id} cannot be read; move the notify folder away to start fresh`, { cause: err });
    }
    this.remember(b);
    return b;
  }

  private remember (b: Batch): void {
    this.cache.set(b.id, b);
    this.cached += b.alerts.length;
    for (const [id, old] of this.cache) {
      if (this.cached <= CACHE_ALERTS || id === b.id) break;
      this.forget(id, old);
    }
  }

  private forget (id: number, b: Batch | undefined = this.cache.get(id)): void {
    if (b === undefined) return;
    this.cache.delete(id);
    this.cached -= b.alerts.length;
  }

  /** Every queued entry, per channel in the order it was enqueued; counts the entries of each batch. */
  queued (): QueuedEntry[] {
    const out: QueuedEntry[] = [];
    for (const key of this.db.getKeys({ start: ['q'], end: ['q', '\uffff'] })) {
      const k = key as Key;
      const seq = k[2] as number;
      const b = this.batch(batchOf(seq));
      const alert = b?.alerts[seq % BATCH_MAX];
      if (b === undefined || alert === undefined) continue;
      this.refs.set(b.id, (this.refs.get(b.id) ?? 0) + 1);
      out.push({ channel: k[1] as string, seq, id: alert.id, enqueuedAt: b.enqueuedAt });
    }
    return out;
  }

  alert (seq: number): Alert | undefined {
    return this.batch(batchOf(seq))?.alerts[seq % BATCH_MAX];
  }

  /**
   * Commits a batch and its entries (channel, index in the batch) in one transaction. `bytes`
   * are the alerts as msgpackr bytes; `alerts` the same, unpacked.
   */
  async append (id: number, enqueuedAt: number, bytes: Uint8Array, alerts: readonly Alert[], entries: ReadonlyArray<{ channel: string, index: number }>): Promise<void> {
    if (entries.length === 0) return;
    const value = Buffer.allocUnsafe(8 + bytes.length);
    value.writeDoubleLE(enqueuedAt, 0);
    value.set(bytes, 8);
    const base = id * BATCH_MAX;
    this.refs.set(id, entries.length);
    this.remember({ id, enqueuedAt, alerts });
    await this.db.transaction(() => {
      this.db.putSync(['b', id], value);
      for (const e of entries) this.db.putSync(['q', e.channel, base + e.index], EMPTY);
    });
  }

  /** Keys to remove with these entries: theirs, and each batch they leave empty. */
  private release (channel: string, seqs: readonly number[]): Key[] {
    const keys: Key[] = [];
    for (const seq of seqs) {
      keys.push(['q', channel, seq]);
      const b = batchOf(seq);
      const left = (this.refs.get(b) ?? 1) - 1;
      if (left > 0) { this.refs.set(b, left); continue; }
      this.refs.delete(b);
      this.forget(b);
      keys.push(['b', b]);
    }
    return keys;
  }

  /** Drops delivered entries. Not awaited by deliveries: a crash before it commits means a repeat, which receivers drop by id. */
  remove (channel: string, seqs: readonly number[]): void {
    if (this.closed) return;
    const keys = this.release(channel, seqs);
    this.track(this.db.transaction(() => { for (const k of keys) this.db.removeSync(k); }));
  }

  private track (done: Promise<unknown>): void {
    this.pending.add(done);
    done.finally(() => this.pending.delete(done)).catch(() => {});
  }

  /** Moves entries to the dead letters in one transaction. */
  async bury (channel: string, entries: ReadonlyArray<{ seq: number, attempts: number }>, error: string, deadAt: number): Promise<void> {
    if (this.closed) return;
    const puts: Array<[Key, Buffer]> = [];
    for (const e of entries) {
      const b = this.batch(batchOf(e.seq));
      const alert = b?.alerts[e.seq % BATCH_MAX];
      if (b === undefined || alert === undefined) continue;
      const row: DeadRow = { channel, alert, enqueuedAt: b.enqueuedAt, deadAt, attempts: e.attempts, error };
      puts.push([['dead', channel, alert.id], disk.pack(row)]);
    }
    const removed = this.release(channel, entries.map((e) => e.seq));
    const done = this.db.transaction(() => {
      for (const k of removed) this.db.removeSync(k);
      for (const [k, v] of puts) this.db.putSync(k, v);
    });
    this.track(done);
    await done;
  }

  deadLetters (): DeadRow[] {
    const out: DeadRow[] = [];
    for (const { value } of this.db.getRange({ start: ['dead'], end: ['dead', '\uffff'] })) out.push(disk.unpack(value as Buffer) as DeadRow);
    return out;
  }

  /** Moves the dead letters that `match` back into the queue, as a new batch enqueued `now`. */
  async unbury (match: (row: DeadRow) => boolean, now: number): Promise<QueuedEntry[]> {
    const rows = this.deadLetters().filter(match);
    const out: QueuedEntry[] = [];
    for (let from = 0; from < rows.length; from += BATCH_MAX) {
      const part = rows.slice(from, from + BATCH_MAX);
      const id = this.nextBatch();
      const alerts = part.map((r) => r.alert);
      const bytes = disk.pack(alerts);
      const value = Buffer.allocUnsafe(8 + bytes.length);
      value.writeDoubleLE(now, 0);
      value.set(bytes, 8);
      this.refs.set(id, part.length);
      this.remember({ id, enqueuedAt: now, alerts });
      await this.db.transaction(() => {
        this.db.putSync(['b', id], value);
        part.forEach((r, i) => {
          this.db.removeSync(['dead', r.channel, r.alert.id]);
          this.db.putSync(['q', r.channel, id * BATCH_MAX + i], EMPTY);
        });
      });
      part.forEach((r, i) => out.push({ channel: r.channel, seq: id * BATCH_MAX + i, id: r.alert.id, enqueuedAt: now }));
    }
    return out;
  }

  async close (): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.pending]);
    await this.db.close();
  }
}

/**
 * The notifier's durable outbox, an LMDB environment of its own (`<data>/notify`):
 *   ['batch', batch]             -> enqueuedAt (float64) + the batch's alerts as received
 *                                   (msgpackr bytes, stored as they came: never re-encoded)
 *   ['pending', channel, batch]  -> a bitmap over the batch's alerts: bit i set = alert i is
 *                                   still to be delivered on that channel (seq = batch * 2^20 + i)
 *   ['dead', channel, alert id]  -> { alert, enqueuedAt, deadAt, attempts, error }
 *                                   (counted per channel in memory: stats read the count,
 *                                   never the rows)
 * An entry (a set bit) is written before any delivery is tried and cleared only once its
 * channel accepted it, so a crash or restart loses nothing (and may deliver an alert twice). A
 * batch goes when its last bit goes. So an enqueue is one put per batch plus one per channel it
 * reaches, whatever its size, and delivered entries are cleared in memory and written back
 * together, once per turn of the event loop: a burst costs the thread a few puts, not one per
 * (alert, channel). Delivery state (attempts, back-off) lives in memory only: `retry.max` counts
 * from the durable enqueuedAt. An outbox of the first layout (one ['q', channel, seq] key per
 * entry, ['b', batch] values) is converted when it is opened.
 */
import type { RootDatabase } from 'lmdb';
import { openEnv } from '../lmdb-env.js';
import type { Alert } from '../../core/alert.js';
import { EngineError } from '../../core/errors.js';
import { disk } from '../codec.js';

/** Alerts per batch at most: seq keeps the index in its low 20 bits. */
export const BATCH_MAX = 1 << 20;
/** Alerts of unpacked batches kept for sending; deliveries walk the queue in order, so a few batches do. */
const CACHE_ALERTS = 100_000;

/** A channel's pacing state that outlives a restart (see Outbox.pacing). */
export interface Pacing { readonly starts: readonly number[], readonly lastDigestAt: number }
/** One channel's entries of one batch: bit i of `bits` set = alert i waits on `channel`. */
export interface PendingRow { readonly channel: string, readonly batch: number, readonly enqueuedAt: number, readonly bits: Uint8Array }
export interface DeadRow {
  readonly channel: string;
  readonly alert: Alert;
  readonly enqueuedAt: number;
  readonly deadAt: number;
  readonly attempts: number;
  readonly error: string;
}

type Key = Array<string | number>;

export const batchOf = (seq: number): number => Math.floor(seq / BATCH_MAX);
export const seqOf = (batch: number, index: number): number => batch * BATCH_MAX + index;
export const bitmapBytes = (n: number): number => (n + 7) >> 3;
export const hasBit = (bits: Uint8Array, i: number): boolean => ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
export function setBit (bits: Uint8Array, i: number): void { bits[i >> 3] = (bits[i >> 3] ?? 0) | (1 << (i & 7)); }
export function clearBit (bits: Uint8Array, i: number): void { bits[i >> 3] = (bits[i >> 3] ?? 0) & ~(1 << (i & 7)); }
export function countBits (bits: Uint8Array): number {
  let n = 0;
  for (let v of bits) for (; v !== 0; v &= v - 1) n++;
  return n;
}

/** A batch with entries left: its pending bitmaps per channel, as committed or about to be. */
interface Live {
  readonly enqueuedAt: number;
  readonly rows: Map<string, Uint8Array>;
  /** set bits over all rows */
  left: number;
}

export class Outbox {
  private readonly db: RootDatabase;
  private closed = false;
  /** writes not awaited by their callers; close() waits for them */
  private readonly pending = new Set<Promise<unknown>>();
  private readonly live = new Map<number, Live>();
  /** rows changed in memory since their last write, by batch */
  private readonly dirty = new Map<number, Set<string>>();
  private flushing: NodeJS.Immediate | undefined;
  private readonly cache = new Map<number, readonly Alert[]>();
  private cached = 0;
  private lastBatch = 0;
  /** dead letters per channel: counted from their keys at open, then moved with the writes of every bury and unbury (and back if their commit fails) */
  private readonly dead = new Map<string, number>();
  /** the unbury() under way, if any: the next waits for it */
  private unburying: Promise<unknown> = Promise.resolve();

  constructor (path: string) {
    // No overlappingSync here: with it, LMDB flushes a commit to disk after the commit and calls
    // back into the thread that made it; a notification thread that dies (or is terminated)
    // in between takes the whole process down with a SIGSEGV (seen 3 times in 10 runs of the
    // killed-thread tests under load; none in 12 without it). Each commit here waits for its
    // flush instead: enqueues and removals are batched, so that is a few commits per second.
    this.db = openEnv(path, { compression: false, encoding: 'binary', overlappingSync: false });
    this.convertFirstLayout();
    const orphans: number[] = [];
    for (const key of this.db.getKeys({ start: ['batch'], end: ['batch', Number.MAX_SAFE_INTEGER] })) {
      const id = (key as Key)[1] as number;
      this.lastBatch = Math.max(this.lastBatch, id);
      orphans.push(id);
    }
    for (const { key, value } of this.db.getRange({ start: ['pending'], end: ['pending', '\uffff'] })) {
      const [, channel, id] = key as [string, string, number];
      let b = this.live.get(id);
      if (b === undefined) {
        const bytes = this.db.getBinary(['batch', id]);
        if (bytes === undefined) continue;
        this.live.set(id, b = { enqueuedAt: bytes.readDoubleLE(0), rows: new Map(), left: 0 });
      }
      const bits = Uint8Array.from(value as Buffer);
      b.rows.set(channel, bits);
      b.left += countBits(bits);
    }
    // Keys only: a count must not decode every letter (there may be 100,000 after an outage).
    for (const key of this.db.getKeys({ start: ['dead'], end: ['dead', '\uffff'] })) this.countDead((key as Key)[1] as string, 1);
    // A batch without rows (its removal was cut off) is garbage.
    const gone = orphans.filter((id) => !this.live.has(id));
    if (gone.length > 0) this.db.transactionSync(() => { for (const id of gone) this.db.removeSync(['batch', id]); });
  }

  /** A new batch id, above every batch in the outbox. */
  nextBatch (): number {
    return ++this.lastBatch;
  }

  /** Every channel's pending entries, batch by batch in the order they were enqueued. */
  queued (): PendingRow[] {
    const out: PendingRow[] = [];
    for (const [batch, b] of [...this.live].sort((x, y) => x[0] - y[0])) {
      for (const [channel, bits] of b.rows) out.push({ channel, batch, enqueuedAt: b.enqueuedAt, bits: bits.slice() });
    }
    return out;
  }

  /** The alerts of a batch, from the cache or LMDB; undefined when it is gone (all its entries delivered). */
  private alerts (id: number): readonly Alert[] | undefined {
    const hit = this.cache.get(id);
    if (hit !== undefined) return hit;
    const bytes = this.db.getBinary(['batch', id]);
    if (bytes === undefined) return undefined;
    let alerts: Alert[];
    try {
      alerts = disk.unpack(bytes.subarray(8)) as Alert[];
    } catch (err) {
      throw new EngineError('VIGIL_STORE_CORRUPT', `outbox batch ${id} cannot be read; move the notify folder away to start fresh`, { cause: err });
    }
    this.remember(id, alerts);
    return alerts;
  }

  private remember (id: number, alerts: readonly Alert[]): void {
    this.cache.set(id, alerts);
    this.cached += alerts.length;
    for (const [old, a] of this.cache) {
      if (this.cached <= CACHE_ALERTS || old === id) break;
      this.cache.delete(old);
      this.cached -= a.length;
    }
  }

  private forget (id: number): void {
    const a = this.cache.get(id);
    if (a === undefined) return;
    this.cache.delete(id);
    this.cached -= a.length;
  }

  alert (seq: number): Alert | undefined {
    return this.alerts(batchOf(seq))?.[seq % BATCH_MAX];
  }

  /**
   * Commits a batch and its pending bitmaps (one per channel) in one transaction. `bytes` are
   * the alerts as msgpackr bytes; `alerts` the same unpacked, if at hand, to keep for sending
   * (otherwise they are unpacked when first sent).
   */
  async append (id: number, enqueuedAt: number, bytes: Uint8Array, rows: ReadonlyMap<string, Uint8Array>, alerts?: readonly Alert[]): Promise<void> {
    if (rows.size === 0) return;
    const write = this.stage(id, enqueuedAt, bytes, rows, alerts);
    try {
      await this.db.transaction(write);
    } catch (err) {
      this.live.delete(id);
      this.forget(id);
      throw err;
    }
  }

  /** Takes a new batch into memory; returns its writes, to run inside a transaction. */
  private stage (id: number, enqueuedAt: number, bytes: Uint8Array, rows: ReadonlyMap<string, Uint8Array>, alerts: readonly Alert[] | undefined): () => void {
    const value = Buffer.allocUnsafe(8 + bytes.length);
    value.writeDoubleLE(enqueuedAt, 0);
    value.set(bytes, 8);
    const live: Live = { enqueuedAt, rows: new Map(), left: 0 };
    for (const [channel, bits] of rows) {
      live.rows.set(channel, bits.slice());
      live.left += countBits(bits);
    }
    this.live.set(id, live);
    if (alerts !== undefined) this.remember(id, alerts);
    return () => {
      this.db.putSync(['batch', id], value);
      for (const [channel, bits] of live.rows) this.db.putSync(['pending', channel, id], bits);
    };
  }

  /** Clears entries in memory; true for each that was set. Their rows are written by the next flush. */
  private release (channel: string, seqs: readonly number[]): void {
    for (const seq of seqs) {
      const id = batchOf(seq);
      const b = this.live.get(id);
      const bits = b?.rows.get(channel);
      if (b === undefined || bits === undefined || !hasBit(bits, seq % BATCH_MAX)) continue;
      clearBit(bits, seq % BATCH_MAX);
      b.left--;
      let d = this.dirty.get(id);
      if (d === undefined) this.dirty.set(id, d = new Set());
      d.add(channel);
    }
  }

  /** Writes every dirty row (or removes it, and its batch when that was the last); call inside a transaction. */
  private writeDirty (): void {
    for (const [id, channels] of this.dirty) {
      const b = this.live.get(id);
      if (b === undefined) continue;
      for (const channel of channels) {
        const bits = b.rows.get(channel);
        if (bits === undefined) continue;
        if (countBits(bits) > 0) { this.db.putSync(['pending', channel, id], bits); continue; }
        b.rows.delete(channel);
        this.db.removeSync(['pending', channel, id]);
      }
      if (b.left === 0) {
        this.live.delete(id);
        this.forget(id);
        this.db.removeSync(['batch', id]);
      }
    }
    this.dirty.clear();
  }

  /**
   * Drops delivered entries, written with the others of this turn of the event loop. Not
   * awaited by deliveries: a crash before it commits means a repeat, which receivers drop by id.
   */
  remove (channel: string, seqs: readonly number[]): void {
    if (this.closed) return;
    this.release(channel, seqs);
    this.flushing ??= setImmediate(() => {
      this.flushing = undefined;
      if (this.dirty.size > 0) this.track(this.db.transaction(() => { this.writeDirty(); }));
    });
  }

  private track (done: Promise<unknown>): void {
    this.pending.add(done);
    done.finally(() => this.pending.delete(done)).catch(() => {});
  }

  /**
   * A channel's pacing as its lane last wrote it: the start times of its recent messages (for
   * `rate`) and when its last digest started. Kept so that a restart does not reset them: a
   * notifier restarted in a loop would otherwise send `rate`'s N messages again each time.
   */
  pacing (channel: string): Pacing | undefined {
    const bytes = this.db.getBinary(['pace', channel]);
    if (bytes === undefined) return undefined;
    const value = disk.unpack(bytes) as Partial<Pacing> | null;
    const starts = Array.isArray(value?.starts) ? value.starts.filter((t): t is number => typeof t === 'number' && Number.isFinite(t)) : [];
    const lastDigestAt = typeof value?.lastDigestAt === 'number' && Number.isFinite(value.lastDigestAt) ? value.lastDigestAt : 0;
    return { starts, lastDigestAt };
  }

  /** Writes a channel's pacing, not awaited: losing the last write in a crash costs one message over the rate, not an alert. */
  setPacing (channel: string, pacing: Pacing): void {
    if (this.closed) return;
    this.track(this.db.put(['pace', channel], disk.pack(pacing)));
  }

  /** Moves entries to the dead letters in one transaction. */
  async bury (channel: string, entries: ReadonlyArray<{ seq: number, attempts: number }>, error: string, deadAt: number): Promise<void> {
    if (this.closed) return;
    const puts: Array<[Key, Buffer]> = [];
    for (const e of entries) {
      const b = this.live.get(batchOf(e.seq));
      const alert = this.alert(e.seq);
      if (b === undefined || alert === undefined || !hasBit(b.rows.get(channel) ?? new Uint8Array(0), e.seq % BATCH_MAX)) continue;
      const row: DeadRow = { channel, alert, enqueuedAt: b.enqueuedAt, deadAt, attempts: e.attempts, error };
      puts.push([['dead', channel, alert.id], disk.pack(row)]);
    }
    this.release(channel, entries.map((e) => e.seq));
    // An alert already dead on this channel (enqueued again, dead again) is overwritten, not counted twice.
    // Counted as the letters are written, before the commit makes them readable: whoever
    // has seen them listed then sees them counted too (counted after the commit, a stats call
    // in between counted 0 of 3 listed letters). A failed commit takes the count back.
    let added = 0;
    const done = this.db.transaction(() => {
      this.writeDirty();
      for (const [k, v] of puts) {
        if (!this.db.doesExist(k)) added++;
        this.db.putSync(k, v);
      }
      this.countDead(channel, added);
    });
    this.track(done);
    try {
      await done;
    } catch (err) {
      this.countDead(channel, -added);
      throw err;
    }
  }

  /** The dead letters of `channel`, without reading them. */
  deadCount (channel: string): number {
    return this.dead.get(channel) ?? 0;
  }

  private countDead (channel: string, delta: number): void {
    const n = (this.dead.get(channel) ?? 0) + delta;
    if (n > 0) this.dead.set(channel, n);
    else this.dead.delete(channel);
  }

  /** Every dead letter, read and decoded: for listing and redrive, not for counting (deadCount). */
  deadLetters (): DeadRow[] {
    const out: DeadRow[] = [];
    for (const { value } of this.db.getRange({ start: ['dead'], end: ['dead', '\uffff'] })) out.push(disk.unpack(value as Buffer) as DeadRow);
    return out;
  }

  /**
   * Moves the dead letters that `match` back into the queue, as new batches enqueued `now`.
   * One at a time: a second call that read the dead letters while the first one's transactions
   * were still under way would queue the same letters again, and deliver them twice.
   */
  unbury (match: (row: DeadRow) => boolean, now: number): Promise<PendingRow[]> {
    const run = this.unburying.then(() => this.unburyNow(match, now));
    this.unburying = run.catch(() => undefined);
    return run;
  }

  private async unburyNow (match: (row: DeadRow) => boolean, now: number): Promise<PendingRow[]> {
    const rows = this.deadLetters().filter(match);
    const out: PendingRow[] = [];
    for (let from = 0; from < rows.length; from += BATCH_MAX) {
      const part = rows.slice(from, from + BATCH_MAX);
      const id = this.nextBatch();
      const alerts = part.map((r) => r.alert);
      const bits = new Map<string, Uint8Array>();
      part.forEach((r, i) => {
        let b = bits.get(r.channel);
        if (b === undefined) bits.set(r.channel, b = new Uint8Array(bitmapBytes(part.length)));
        setBit(b, i);
      });
      const write = this.stage(id, now, disk.pack(alerts), bits, alerts);
      const removed = new Map<string, number>();
      // Counted as in bury(): with the writes, taken back if the commit fails.
      try {
        await this.db.transaction(() => {
          write();
          for (const r of part) if (this.db.removeSync(['dead', r.channel, r.alert.id])) removed.set(r.channel, (removed.get(r.channel) ?? 0) + 1);
          for (const [channel, n] of removed) this.countDead(channel, -n);
        });
      } catch (err) {
        for (const [channel, n] of removed) this.countDead(channel, n);
        throw err;
      }
      for (const [channel, b] of bits) out.push({ channel, batch: id, enqueuedAt: now, bits: b });
    }
    return out;
  }

  /** Converts an outbox of the first layout (['b', batch], one ['q', channel, seq] per entry) in one transaction. */
  private convertFirstLayout (): void {
    const rows = new Map<number, Map<string, number[]>>();
    for (const key of this.db.getKeys({ start: ['q'], end: ['q', '\uffff'] })) {
      const [, channel, seq] = key as [string, string, number];
      let b = rows.get(batchOf(seq));
      if (b === undefined) rows.set(batchOf(seq), b = new Map());
      let list = b.get(channel);
      if (list === undefined) b.set(channel, list = []);
      list.push(seq % BATCH_MAX);
    }
    const batches = [...this.db.getKeys({ start: ['b'], end: ['b', Number.MAX_SAFE_INTEGER] })].map((k) => (k as Key)[1] as number);
    if (rows.size === 0 && batches.length === 0) return;
    this.db.transactionSync(() => {
      for (const id of batches) {
        const value = this.db.getBinary(['b', id]);
        const channels = rows.get(id);
        this.db.removeSync(['b', id]);
        if (value === undefined || channels === undefined) continue;
        const n = (disk.unpack(value.subarray(8)) as unknown[]).length;
        this.db.putSync(['batch', id], Buffer.from(value));
        for (const [channel, indexes] of channels) {
          const bits = new Uint8Array(bitmapBytes(n));
          for (const i of indexes) if (i < n) setBit(bits, i);
          this.db.putSync(['pending', channel, id], bits);
        }
      }
      for (const [id, channels] of rows) for (const [channel, indexes] of channels) for (const i of indexes) this.db.removeSync(['q', channel, seqOf(id, i)]);
    });
  }

  async close (): Promise<void> {
    this.closed = true;
    if (this.flushing !== undefined) {
      clearImmediate(this.flushing);
      this.flushing = undefined;
      if (this.dirty.size > 0) this.track(this.db.transaction(() => { this.writeDirty(); }));
    }
    await Promise.allSettled([...this.pending]);
    await this.db.close();
  }
}

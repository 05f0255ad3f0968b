/**
 * The notifier's durable outbox, an LMDB environment of its own (`<data>/notify`):
 *   ['q', channel, seq]         -> { alert, enqueuedAt }  one entry per (alert, channel)
 *   ['dead', channel, alert id] -> { alert, enqueuedAt, deadAt, attempts, error }
 * An entry is written before any delivery is tried and removed only once its channel accepted
 * it, so a crash or restart loses nothing (and may deliver an alert twice). Values are encoded
 * before the transaction is queued, as in workers/store.ts. Delivery state (attempts, back-off)
 * is kept in memory only: `retry.max` counts from `enqueuedAt`, which is durable.
 */
import { open, type RootDatabase } from 'lmdb';
import type { Alert } from '../../core/alert.js';
import { EngineError } from '../../core/errors.js';
import { disk } from '../codec.js';

export interface QueuedEntry { readonly channel: string, readonly seq: number, readonly id: string, readonly enqueuedAt: number }
export interface NewEntry { readonly channel: string, readonly seq: number, readonly alert: Alert, readonly enqueuedAt: number }
export interface DeadRow {
  readonly channel: string;
  readonly alert: Alert;
  readonly enqueuedAt: number;
  readonly deadAt: number;
  readonly attempts: number;
  readonly error: string;
}

interface QueuedValue { readonly alert: Alert, readonly enqueuedAt: number }
type Key = Array<string | number>;

export class Outbox {
  private readonly db: RootDatabase;
  private closed = false;
  /** removals not yet committed; close() waits for them */
  private readonly pending = new Set<Promise<unknown>>();

  constructor (path: string) {
    this.db = open({ path, compression: false, encoding: 'binary' });
  }

  private value (key: Key): unknown {
    const bytes = this.db.getBinary(key);
    if (bytes === undefined) return undefined;
    try {
      return disk.unpack(bytes);
    } catch (err) {
      throw new EngineError('VIGIL_STORE_CORRUPT', `outbox entry ${JSON.stringify(key)} cannot be read; move the notify folder away to start fresh`, { cause: err });
    }
  }

  /** Every queued entry, per channel in the order it was enqueued. */
  queued (): QueuedEntry[] {
    const out: QueuedEntry[] = [];
    for (const { key, value } of this.db.getRange({ start: ['q'], end: ['q', '\uffff'] })) {
      const k = key as Key;
      const v = disk.unpack(value as Buffer) as QueuedValue;
      out.push({ channel: k[1] as string, seq: k[2] as number, id: v.alert.id, enqueuedAt: v.enqueuedAt });
    }
    return out;
  }

  alert (channel: string, seq: number): Alert | undefined {
    return (this.value(['q', channel, seq]) as QueuedValue | undefined)?.alert;
  }

  /** Resolves once every entry is committed. */
  async append (entries: readonly NewEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const puts: Array<[Key, Buffer]> = entries.map((e) => [['q', e.channel, e.seq], disk.pack({ alert: e.alert, enqueuedAt: e.enqueuedAt })]);
    await this.db.transaction(() => { for (const [k, v] of puts) this.db.putSync(k, v); });
  }

  /** Drops delivered entries. Not awaited by deliveries: a crash before it commits means a repeat, which receivers drop by id. */
  remove (channel: string, seqs: readonly number[]): void {
    if (this.closed) return;
    const done = this.db.transaction(() => { for (const s of seqs) this.db.removeSync(['q', channel, s]); });
    this.pending.add(done);
    done.finally(() => this.pending.delete(done)).catch(() => {});
  }

  /** Moves entries to the dead letters in one transaction. */
  async bury (channel: string, entries: ReadonlyArray<{ seq: number, attempts: number }>, error: string, deadAt: number): Promise<void> {
    if (this.closed) return;
    const moves: Array<[Key, Key, Buffer]> = [];
    for (const e of entries) {
      const v = this.value(['q', channel, e.seq]) as QueuedValue | undefined;
      if (v === undefined) continue;
      const row: DeadRow = { channel, alert: v.alert, enqueuedAt: v.enqueuedAt, deadAt, attempts: e.attempts, error };
      moves.push([['q', channel, e.seq], ['dead', channel, v.alert.id], disk.pack(row)]);
    }
    const done = this.db.transaction(() => {
      for (const [from, to, v] of moves) { this.db.removeSync(from); this.db.putSync(to, v); }
    });
    this.pending.add(done);
    try { await done; } finally { this.pending.delete(done); }
  }

  deadLetters (): DeadRow[] {
    const out: DeadRow[] = [];
    for (const { value } of this.db.getRange({ start: ['dead'], end: ['dead', '\uffff'] })) out.push(disk.unpack(value as Buffer) as DeadRow);
    return out;
  }

  /** Moves the dead letters that `match` back into the queue with a new seq and `enqueuedAt = now`. */
  async unbury (match: (row: DeadRow) => boolean, nextSeq: () => number, now: number): Promise<QueuedEntry[]> {
    const back: QueuedEntry[] = [];
    const writes: Array<[Key, Key, Buffer]> = [];
    for (const row of this.deadLetters()) {
      if (!match(row)) continue;
      const seq = nextSeq();
      back.push({ channel: row.channel, seq, id: row.alert.id, enqueuedAt: now });
      writes.push([['dead', row.channel, row.alert.id], ['q', row.channel, seq], disk.pack({ alert: row.alert, enqueuedAt: now })]);
    }
    if (writes.length > 0) {
      await this.db.transaction(() => {
        for (const [from, to, v] of writes) { this.db.removeSync(from); this.db.putSync(to, v); }
      });
    }
    return back;
  }

  async close (): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.pending]);
    await this.db.close();
  }
}

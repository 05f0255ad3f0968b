/**
 * The node's alert history for `GET /v1/alerts`: every alert of a committed epoch, durably in
 * its own LMDB environment (`<data>/alerts`), in detection order, kept for a retention period.
 *
 * An alert is stored under (time, epoch, place in the epoch), where time is when its epoch was
 * written (milliseconds, never going back, so the order is the detection order); two indexes
 * by rule and by key make filtered queries walk only matching alerts. An epoch is stored once:
 * the newest epoch stored is kept in the same transaction, so an epoch written again after a
 * crash adds nothing. Alerts older than the retention are dropped as new ones arrive.
 *
 * A cluster notifier's history is a replica of the alerts stream instead (recordStream): every
 * notifier stores every alert, at the time JetStream stored it and under its stream sequence,
 * so the positions (and the paging cursors) are the same on every notifier. The last sequence
 * stored is kept in the same transaction, and an index by alert id drops a copy of an alert
 * the stream took again after its dedupe window (a shard rebuilt late raises it again).
 */
import { join } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { openEnv } from '../workers/lmdb-env.js';
import type { Alert } from '../core/alert.js';
import { DataUnavailableError } from '../core/errors.js';
import { fitsKey } from '../core/key.js';
import { disk } from '../workers/codec.js';

const encoder = { encode: (v: unknown) => disk.pack(v), decode: (b: Buffer) => disk.unpack(b) } as never;
/** A named table of the environment, values in the shared msgpackr format (lmdb's types do not list `encoder` for it). */
const table = (root: RootDatabase, name: string): Database => root.openDB({ name, encoder, compression: false } as unknown as { name: string });
/** How often, at most, old alerts are looked for (an expensive range scan when many expire at once). */
const PRUNE_EVERY_MS = 60_000;
/** Alerts dropped in one transaction, so a long-stopped node catching up never holds the writer long. */
const PRUNE_BATCH = 10_000;

/** Where an alert sits: [time, epoch, place]; also the paging cursor `time.epoch.place`. */
type Position = [number, number, number];

export interface AlertQuery {
  /** epoch ms: alerts stored at or after it */
  readonly since?: number;
  readonly rule?: string;
  readonly key?: string;
  /** a cursor from a previous answer's `next`: alerts strictly after it */
  readonly after?: string;
  readonly limit: number;
}

export interface AlertPage {
  readonly alerts: readonly Alert[];
  /** pass as `after` for the next page; null when this page is the end for now */
  readonly next: string | null;
}

/** Parses a cursor; undefined when it is not one. */
export function parseCursor (text: string): Position | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (m === null) return undefined;
  const p = [Number(m[1]), Number(m[2]), Number(m[3])] as Position;
  return p.every(Number.isSafeInteger) ? p : undefined;
}

export class AlertHistory {
  private readonly root: RootDatabase;
  private readonly alerts: Database;
  private readonly byRule: Database;
  private readonly byKey: Database;
  /** alert id -> position, for the alerts taken from the stream */
  private readonly byId: Database;
  /** `epoch`, `time` (the newest stored), and in a cluster `streamSeq` */
  private readonly meta: Database;
  private readonly retentionMs: number;
  private lastPrune = 0;

  constructor (data: string, retentionMs: number) {
    const path = join(data, 'alerts');
    try {
      this.root = openEnv(path, { maxDbs: 6, compression: false, encoder });
    } catch (err) {
      throw new DataUnavailableError(data, `cannot open the alert history in ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.alerts = table(this.root, 'alerts');
    this.byRule = table(this.root, 'by-rule');
    this.byKey = table(this.root, 'by-key');
    this.byId = table(this.root, 'by-id');
    this.meta = table(this.root, 'meta');
    this.retentionMs = retentionMs;
  }

  /** Stores one committed epoch's alerts (in their output order) at `now`, once per epoch. */
  async recordEpoch (epoch: number, alerts: readonly Alert[], now: number): Promise<void> {
    const prune = now - this.lastPrune >= PRUNE_EVERY_MS;
    if (alerts.length === 0 && !prune) return;
    if (prune) this.lastPrune = now;
    await this.root.transaction(() => {
      if (prune) this.prune(now - this.retentionMs);
      if (alerts.length === 0) return;
      if (epoch <= ((this.meta.get('epoch') as number | undefined) ?? 0)) return;
      // Never back in time, even if the wall clock is: the time is the detection order.
      const time = Math.max(now, (this.meta.get('time') as number | undefined) ?? 0);
      alerts.forEach((alert, place) => {
        this.alerts.putSync([time, epoch, place], alert);
        this.byRule.putSync([alert.rule, time, epoch, place], null);
        this.byKey.putSync([alert.key, time, epoch, place], null);
      });
      this.meta.putSync('epoch', epoch);
      this.meta.putSync('time', time);
    });
  }

  /** The alerts-stream sequence of the last message stored by recordStream; 0 before the first. */
  streamSeq (): number {
    return (this.meta.get('streamSeq') as number | undefined) ?? 0;
  }

  /**
   * Stores alerts-stream messages in stream order, each at [the time JetStream stored it (never
   * going back), its sequence, 0]. A message at or below the stored sequence is skipped (a
   * consumer that started again delivers it again), and so is an alert whose id is stored
   * already; an undefined alert (a message that is not one) only moves the sequence, which is
   * stored in the same transaction. Resolves with the number of alerts stored.
   */
  async recordStream (entries: ReadonlyArray<{ readonly seq: number, readonly at: number, readonly alert: Alert | undefined }>, now: number): Promise<number> {
    const prune = now - this.lastPrune >= PRUNE_EVERY_MS;
    if (prune) this.lastPrune = now;
    if (entries.length === 0 && !prune) return 0;
    return await this.root.transaction(() => {
      if (prune) this.prune(now - this.retentionMs);
      let last = this.streamSeq();
      let time = (this.meta.get('time') as number | undefined) ?? 0;
      let stored = 0;
      for (const { seq, at, alert } of entries) {
        if (seq <= last) continue;
        last = seq;
        if (alert === undefined || !fitsKey(alert.id) || this.byId.get(alert.id) !== undefined) continue;
        // Whole milliseconds: the position is also the paging cursor, digits and dots only.
        time = Math.max(time, Math.floor(at));
        const pos: Position = [time, seq, 0];
        this.alerts.putSync(pos, alert);
        this.byRule.putSync([alert.rule, ...pos], null);
        this.byKey.putSync([alert.key, ...pos], null);
        this.byId.putSync(alert.id, pos);
        stored++;
      }
      this.meta.putSync('streamSeq', last);
      this.meta.putSync('time', time);
      return stored;
    });
  }

  /** Alerts in detection order, filtered; at most `limit`. */
  query (q: AlertQuery): AlertPage {
    // No alert has a key or rule longer than a counter key; LMDB would throw on the lookup.
    if ((q.key !== undefined && !fitsKey(q.key)) || (q.rule !== undefined && !fitsKey(q.rule))) return { alerts: [], next: null };
    const from: Position = [q.since ?? 0, 0, 0];
    const after = q.after === undefined ? undefined : parseCursor(q.after);
    if (after !== undefined && compare(after, from) > 0) from.splice(0, 3, ...after);
    const out: Alert[] = [];
    let last: Position | undefined;
    const take = (pos: Position, alert: Alert | undefined): boolean => {
      if (after !== undefined && compare(pos, after) <= 0) return true;
      if (alert === undefined) return true;
      if (q.rule !== undefined && alert.rule !== q.rule) return true;
      if (out.length >= q.limit) return false;
      out.push(alert);
      last = pos;
      return true;
    };
    if (q.key !== undefined || q.rule !== undefined) {
      const [index, name] = q.key !== undefined ? [this.byKey, q.key] : [this.byRule, q.rule!];
      for (const { key } of index.getRange({ start: [name, ...from], end: [name, Number.MAX_SAFE_INTEGER] })) {
        const pos = (key as unknown[]).slice(1) as Position;
        if (!take(pos, this.alerts.get(pos) as Alert | undefined)) break;
      }
    } else {
      for (const { key, value } of this.alerts.getRange({ start: from })) {
        if (!take(key as Position, value as Alert)) break;
      }
    }
    return { alerts: out, next: out.length >= q.limit && last !== undefined ? last.join('.') : null };
  }

  /** Drops alerts stored before `cutoff`, a batch at most; inside a write transaction. */
  private prune (cutoff: number): void {
    // Collected first: the range is not walked while it is being changed.
    const old = [...this.alerts.getRange({ end: [cutoff, 0, 0], limit: PRUNE_BATCH })];
    for (const { key, value } of old) {
      const pos = key as Position;
      const alert = value as Alert;
      this.alerts.removeSync(pos);
      this.byRule.removeSync([alert.rule, ...pos]);
      this.byKey.removeSync([alert.key, ...pos]);
      if (typeof alert.id === 'string' && fitsKey(alert.id)) this.byId.removeSync(alert.id);
    }
  }

  async close (): Promise<void> {
    await this.root.close();
  }
}

function compare (a: Position, b: Position): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

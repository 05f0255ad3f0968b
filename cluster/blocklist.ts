/**
 * The durable blocklist of a data folder: its own LMDB environment in `<data>/blocks`, so the
 * CLI can lift a block without opening the counters. Two tables: the current blocks by key,
 * and the audit log of every change by (key, sequence), never pruned. LMDB serializes writers
 * across processes, so a running node, a replay and `vigil blocks lift` may write at once.
 *
 * Blocks made by the engine are written once per epoch: the newest epoch written is kept in
 * the same transaction, and an epoch sent again after a crash (its alerts are written again
 * from the actors' outboxes) changes nothing, so the audit log never shows a block twice.
 *
 * A cluster notifier's blocklist is a replica of the blocks stream instead (applyEvents): it
 * takes the stream's events in order and keeps the last sequence applied in the same
 * transaction, and it is marked as following that stream so that `vigil blocks lift`, which
 * would change this replica alone, refuses it.
 */
import { join } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { openEnv } from '../workers/lmdb-env.js';
import type { Alert } from '../core/alert.js';
import type { RuleConfig } from '../core/rules-config.js';
import { actor, applyBlockEvent, blockingAlerts, toUtcIso, type Block, type BlockChange, type BlockEvent } from '../core/blocklist.js';
import { DataUnavailableError } from '../core/errors.js';
import { fitsKey } from '../core/key.js';
import { disk } from '../workers/codec.js';

const encoder = { encode: (v: unknown) => disk.pack(v), decode: (b: Buffer) => disk.unpack(b) } as never;
/** A named table of the environment, values in the shared msgpackr format (lmdb's types do not list `encoder` for it). */
const table = (root: RootDatabase, name: string): Database => root.openDB({ name, encoder, compression: false } as unknown as { name: string });

/** One blocks-stream event applied by applyEvents, with the change it made (undefined: none). */
export interface AppliedEvent {
  readonly seq: number;
  readonly event: BlockEvent | undefined;
  readonly change: BlockChange | undefined;
}

export class Blocklist {
  readonly path: string;
  private readonly root: RootDatabase;
  private readonly blocks: Database;
  private readonly log: Database;
  /** in a cluster: the alerts whose block events were applied, so one published again blocks nothing */
  private readonly byAlert: Database;
  /**
   * `epoch`: the newest epoch whose blocks are written; `seq`: the audit log's last sequence;
   * in a cluster, `stream`: the blocks stream followed and `streamSeq`: its last event applied
   */
  private readonly meta: Database;

  private constructor (path: string, root: RootDatabase) {
    this.path = path;
    this.root = root;
    this.blocks = table(root, 'blocks');
    this.log = table(root, 'log');
    this.byAlert = table(root, 'by-alert');
    this.meta = table(root, 'meta');
  }

  /** Opens (or creates) the blocklist of data folder `data`; DataUnavailableError when LMDB cannot open it. */
  static open (data: string): Blocklist {
    const path = join(data, 'blocks');
    try {
      return new Blocklist(path, openEnv(path, { maxDbs: 4, compression: false, encoder }));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new DataUnavailableError(data, `cannot open the blocklist in ${path}: ${why}; the folder may be locked or in use by a process that holds it exclusively (stop it, or lift the block through that node's API: DELETE /v1/blocks/KEY)`, { cause: err });
    }
  }

  // A key longer than any counter key was never blocked: answered without LMDB, which would throw.
  get (key: string): Block | undefined {
    return fitsKey(key) ? this.blocks.get(key) as Block | undefined : undefined;
  }

  /** Current blocks in key order, `limit` at most, after key `after` when given. */
  list (limit = Infinity, after?: string): Block[] {
    const out: Block[] = [];
    for (const { key, value } of this.blocks.getRange(after === undefined ? {} : { start: after })) {
      if (after !== undefined && key === after) continue;
      if (out.length >= limit) break;
      out.push(value as Block);
    }
    return out;
  }

  count (): number {
    return this.blocks.getCount();
  }

  /** Every change to `key`, oldest first. */
  history (key: string): BlockChange[] {
    if (!fitsKey(key)) return [];
    return [...this.log.getRange({ start: [key], end: [key, Number.MAX_SAFE_INTEGER] })].map((e) => e.value as BlockChange);
  }

  /**
   * Blocks the keys of one applied epoch's blocking alerts (see blockingAlerts), once per
   * epoch; a key already blocked stays blocked as it was. Resolves with the changes made.
   */
  async recordEpoch (epoch: number, alerts: Iterable<Alert>, rules: readonly RuleConfig[], now: number): Promise<BlockChange[]> {
    const blocking = blockingAlerts(rules, alerts);
    if (blocking.length === 0) return [];
    return await this.root.transaction(() => {
      const done = (this.meta.get('epoch') as number | undefined) ?? 0;
      if (epoch <= done) return [];
      const changes: BlockChange[] = [];
      for (const alert of blocking) {
        if (this.blocks.get(alert.key) !== undefined) continue;
        const since = toUtcIso(alert.detectedAt, now);
        const block: Block = { key: alert.key, since, rule: alert.rule, alert };
        this.blocks.putSync(alert.key, block);
        changes.push(this.append({ action: 'block', key: alert.key, at: since, by: actor.rule(alert.rule), rule: alert.rule, alert: alert.id }));
      }
      this.meta.putSync('epoch', epoch);
      return changes;
    });
  }

  /** The blocks stream this blocklist is a replica of (a cluster notifier's folder), or undefined. */
  follows (): string | undefined {
    return this.meta.get('stream') as string | undefined;
  }

  /** Marks this blocklist as the replica of the blocks stream `stream` (see follows()). */
  async follow (stream: string): Promise<void> {
    if (this.follows() !== stream) await this.meta.put('stream', stream);
  }

  /** The sequence of the last blocks-stream event applied; 0 before the first. */
  appliedSeq (): number {
    return (this.meta.get('streamSeq') as number | undefined) ?? 0;
  }

  /**
   * Applies blocks-stream events in stream order, each once: an event at or below the stored
   * sequence is skipped (a consumer that started again delivers it again), and the last
   * sequence is stored in the same transaction as the changes, so a crash neither applies an
   * event twice nor skips one. An undefined event (a message that is not one) only moves the
   * sequence. Resolves with the events applied now and the change each made (undefined: none).
   */
  async applyEvents (events: ReadonlyArray<{ readonly seq: number, readonly event: BlockEvent | undefined }>): Promise<AppliedEvent[]> {
    if (events.length === 0) return [];
    return await this.root.transaction(() => {
      let last = this.appliedSeq();
      const applied: AppliedEvent[] = [];
      for (const { seq, event } of events) {
        if (seq <= last) continue;
        last = seq;
        // A key longer than any counter key is never blocked (and LMDB would throw on it).
        if (event === undefined || !fitsKey(event.key)) { applied.push({ seq, event, change: undefined }); continue; }
        // The same alert's block again (published anew past the stream's dedupe window, by a
        // notifier that finished a batch long after taking it): after a lift it must not block.
        if (event.action === 'block') {
          if (!fitsKey(event.alert.id) || this.byAlert.get(event.alert.id) !== undefined) { applied.push({ seq, event, change: undefined }); continue; }
          this.byAlert.putSync(event.alert.id, seq);
        }
        const step = applyBlockEvent(this.blocks.get(event.key) as Block | undefined, event);
        if (step.change !== undefined) {
          if (step.block === undefined) this.blocks.removeSync(event.key);
          else this.blocks.putSync(event.key, step.block);
          this.append(step.change);
        }
        applied.push({ seq, event, change: step.change });
      }
      this.meta.putSync('streamSeq', last);
      return applied;
    });
  }

  /** Lifts the block of `key`; undefined when it was not blocked. `by` names who lifts it (see `actor`). */
  async lift (key: string, by: string, now: number): Promise<BlockChange | undefined> {
    if (!fitsKey(key)) return undefined;
    return await this.root.transaction(() => {
      const block = this.blocks.get(key) as Block | undefined;
      if (block === undefined) return undefined;
      this.blocks.removeSync(key);
      return this.append({ action: 'lift', key, at: new Date(now).toISOString(), by, rule: block.rule });
    });
  }

  /** Appends to the audit log; inside a write transaction. */
  private append (change: BlockChange): BlockChange {
    const seq = ((this.meta.get('seq') as number | undefined) ?? 0) + 1;
    this.meta.putSync('seq', seq);
    this.log.putSync([change.key, seq], change);
    return change;
  }

  async close (): Promise<void> {
    await this.root.close();
  }
}

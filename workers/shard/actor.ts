/**
 * A shard actor: owns some shards' counters, applies one epoch of records at a time in order,
 * and commits each epoch (rows changed, keys removed, engine scalars, epoch per shard, the
 * epoch's alerts) in one store transaction before replying. An epoch it has already committed
 * (the coordinator resends it after its own crash) is answered from the outbox, not applied
 * again: every record counts exactly once. No thread or LMDB API here; main.ts wires them.
 *
 * A commit that fails (a full disk, EIO, MDB_MAP_FULL) leaves the engine ahead of the store:
 * the failing epochs and every later one are refused with VIGIL_STORE_FAILED, naming the
 * store's error, and nothing more is applied or committed. The coordinator restarts the
 * thread (cluster/embedded.ts), which reopens the store at its last commit and is sent the
 * epochs after it again.
 */
import type { Alert } from '../../core/alert.js';
import type { UsageRecord } from '../../core/usage-record.js';
import { compileRules, type CompiledRules } from '../../core/compile.js';
import { Engine, type ShardScope } from '../../core/engine.js';
import { EngineError, StoreFailedError, assertNever, toErrorData } from '../../core/errors.js';
import type { BatchPayload, ShardActorData, ShardMsg, ShardReply } from '../protocol.js';
import { claimStore, type Commit, type EpochOutput, type Failure, type OutboxEntry, type ShardStore, type StoredRow } from '../store.js';
import { wire } from '../codec.js';
import { GroupCommit } from '../group-commit.js';
import type { LimitChanges } from '../../core/limits-change.js';

export class ShardActor {
  private readonly compiled: CompiledRules;
  private readonly engine: Engine;
  private readonly store: ShardStore;
  private readonly owned: readonly number[];
  private readonly scope: ShardScope;
  /** the fingerprint of the rules this actor runs: its thread's, then a limits message's */
  private fingerprint: string;
  /** the newest epoch applied in memory; its commit may still be under way */
  private applied: number;
  /** the newest epoch whose commit has finished */
  private epoch: number;
  private released = 0;
  /**
   * Group commit: epochs applied while the previous commit is written go together in the
   * next. Under load a row is then written once per group, not once per epoch, and the
   * commit no longer sets the pace; idle, every epoch still commits on its own, at once.
   */
  private readonly commits = new GroupCommit<{ epoch: number, output: EpochOutput }>((group) => this.writeGroup(group));
  /** a commit that failed: the engine is then ahead of the store, and applying or committing more would widen the gap */
  private broken: unknown;

  private constructor (data: ShardActorData, store: ShardStore, clock: () => number) {
    this.compiled = compileRules(data.config);
    this.engine = new Engine(this.compiled, clock, { trackChanges: true });
    this.store = store;
    this.owned = data.owned;
    const mine = new Set(data.owned);
    this.scope = { shards: data.shards, owns: (s) => mine.has(s) };
    this.fingerprint = data.fingerprint;
    this.epoch = Math.min(...data.owned.map((s) => store.epochOf(s)));
    this.applied = this.epoch;
  }

  /** Opens an actor on its store, refusing a store written with other rules. */
  static async open (data: ShardActorData, store: ShardStore, clock: () => number = Date.now): Promise<ShardActor> {
    const written = await claimStore(store, data.fingerprint, data.config);
    if (written !== undefined) {
      throw new EngineError('VIGIL_STORE_CORRUPT', `the data folder holds counters of other rules (fingerprint ${written}, these rules ${data.fingerprint}); use another --data folder, or the rules it was written with`);
    }
    const actor = new ShardActor(data, store, clock);
    const meta = store.meta(data.owned);
    if (meta !== undefined) {
      const rows = function * (): Iterable<{ keyer: number, row: StoredRow['row'] }> {
        for (const r of store.rows(data.owned)) yield { keyer: r.keyer, row: r.row };
      };
      actor.engine.restore(meta, rows());
    }
    return actor;
  }

  get committedEpoch (): number { return this.epoch; }

  async receive (msg: ShardMsg): Promise<ShardReply> {
    try {
      switch (msg.kind) {
        case 'batch': return await this.batch(msg.epoch, msg.records, msg.release);
        case 'counter': return { kind: 'counter', value: this.engine.counterValue(msg.rule, msg.key, msg.ts) ?? null };
        case 'risk': return { kind: 'risk', reports: this.engine.riskOf(msg.key, msg.ts) };
        case 'stats': return { kind: 'stats', ...this.engine.stats(), epoch: this.epoch, fingerprint: this.fingerprint };
        case 'limits': return this.relimit(msg.changes, msg.fingerprint);
        default: return assertNever(msg, 'message');
      }
    } catch (err) {
      return { kind: 'error', error: toErrorData(err) };
    }
  }

  private async batch (epoch: number, payload: Uint8Array, release: number): Promise<ShardReply> {
    if (epoch <= this.epoch) {
      const output = this.store.output(epoch, this.owned[0]!) ?? { alerts: [], failures: [] };
      return { kind: 'applied', epoch, output, replayed: true };
    }
    if (this.broken !== undefined) throw this.refusal();
    if (epoch !== this.applied + 1) {
      throw new EngineError('VIGIL_EPOCH_GAP', `epoch ${epoch} arrived after ${this.applied}: epochs must be applied in order without gaps`);
    }
    const { records: chunks, index, watermark } = wire.unpack(payload) as BatchPayload;
    const alerts: OutboxEntry[] = [];
    const failures: Failure[] = [];
    const out: Alert[] = [];
    let i = 0;
    for (const chunk of chunks) {
      const records = wire.unpack(chunk) as UsageRecord[];
      for (let j = 0; j < records.length; j++, i++) {
        this.engine.advance(watermark[i]!);
        out.length = 0;
        try {
          this.engine.process(records[j]!, this.scope, out);
        } catch (err) {
          const data = toErrorData(err);
          failures.push({ index: index[i]!, reason: data.message, code: data.code });
        }
        for (const alert of out) alerts.push({ index: index[i]!, alert });
      }
    }
    const output = { alerts, failures };
    this.applied = epoch;
    await this.commits.add({ epoch, output });
    if (epoch > this.epoch) this.epoch = epoch;
    if (release > this.released) {
      this.released = release;
      await this.store.release(release, this.owned);
    }
    return { kind: 'applied', epoch, output, replayed: false };
  }

  /**
   * New per-key limits, between epochs (the caller has every epoch answered, so no commit is
   * under way): the engine takes them in place, and the rows they changed go back to the
   * caller, which stores them with the new rules in one transaction.
   */
  private relimit (changes: LimitChanges, fingerprint: string): ShardReply {
    if (this.broken !== undefined) throw this.refusal();
    this.fingerprint = fingerprint;
    const rows = this.engine.relimit(changes).map(({ keyer, row }) => ({ shard: row.shard, keyer, row }));
    return { kind: 'relimited', rows };
  }

  /**
   * Writes one group of applied epochs (see the `commits` field): the changes are taken once
   * for all of them, so a row several epochs changed is encoded and written once. Each epoch
   * keeps its own outbox entry; the group is one transaction, so a crash leaves the store at
   * the end of the last group written.
   */
  private async writeGroup (group: Array<{ epoch: number, output: EpochOutput }>): Promise<void> {
    // The engine stands at the end of the group's last epoch: an epoch is applied and handed
    // in within one turn, and this runs synchronously up to the commit.
    const changes = this.engine.takeChanges();
    const meta = this.engine.meta();
    const last = group.length - 1;
    const commits: Commit[] = group.map(({ epoch, output }, i) => ({
      epoch,
      shards: this.owned,
      meta,
      rows: i < last ? [] : changes.rows.map(({ keyer, row }) => ({ shard: row.shard, keyer, row })),
      removed: i < last ? [] : changes.removed,
      output,
    }));
    // Epochs applied while a failed commit was written wait here with only their own changes
    // (the failed group's were taken): committed, they would mark the store past rows it lacks.
    if (this.broken !== undefined) throw this.refusal();
    try {
      await this.store.commitMany(commits);
    } catch (err) {
      this.broken = err ?? new Error('commit failed');
      throw this.refusal();
    }
  }

  /** The answer to every epoch from the failed commit on. */
  private refusal (): StoreFailedError {
    const cause = this.broken instanceof Error ? this.broken.message : String(this.broken);
    return new StoreFailedError(`a commit to the data folder failed (${cause}); this shard actor's counters are ahead of what is stored, so it applies nothing more until its thread is restarted from the last commit`, this.broken);
  }

  async close (): Promise<void> {
    await this.store.close();
  }
}

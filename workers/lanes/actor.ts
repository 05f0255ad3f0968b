/**
 * A lane actor: the shard actor of a cluster node (see protocol.ts). Each lane applies its
 * shard's stream messages in sequence order and commits, in one store transaction per apply,
 * the rows changed, the keys removed, the engine's scalars, the lane's new position and the
 * alerts raised (an outbox entry, kept until the node has them in the alerts stream). A
 * message at or below the committed position was counted before the crash or the move and is
 * skipped: every record counts exactly once, whichever node held the shard.
 *
 * One engine per lane, not one per actor: lanes move between nodes one at a time and a lane
 * that is catching up replays old event time while its neighbours are live; a shared engine
 * would let a neighbour's watermark expire the windows the catching-up lane is rebuilding.
 */
import type { Alert } from '../../core/alert.js';
import type { UsageRecord } from '../../core/usage-record.js';
import { compileRules, type CompiledRules } from '../../core/compile.js';
import { Engine, type ShardScope } from '../../core/engine.js';
import { EngineError, StoreFailedError, assertNever, toErrorData } from '../../core/errors.js';
import { claimStore, type Commit, type Failure, type OutboxEntry, type ShardStore } from '../store.js';
import { wire } from '../codec.js';
import { GroupCommit } from '../group-commit.js';
import type { LaneActorData, LaneMsg, LaneReply, ShardBatch, StreamMessage } from './protocol.js';

interface Lane {
  readonly engine: Engine;
  readonly scope: ShardScope;
  /** the sequence of the last message applied (its commit may still be under way) */
  position: number;
}

export class LaneActor {
  private readonly compiled: CompiledRules;
  private readonly store: ShardStore;
  private readonly shards: number;
  private readonly clock: () => number;
  private readonly lanes = new Map<number, Lane>();
  /**
   * Group commit: a lane's commit asked for while another is being written goes with every
   * commit asked for meanwhile, in one transaction. Dozens of lanes on one actor would
   * otherwise each pay a whole LMDB commit per apply, and the commit, not the engine, would
   * set the pace. Each commit is still atomic with its own position; a group only makes
   * several atomic together.
   */
  private readonly commits: GroupCommit<Commit>;

  private constructor (data: LaneActorData, store: ShardStore, clock: () => number) {
    this.compiled = compileRules(data.config);
    this.store = store;
    this.commits = new GroupCommit((group) => store.commitMany(group));
    this.shards = data.shards;
    this.clock = clock;
  }

  /** Opens an actor on its store, refusing a store written with other rules. */
  static async open (data: LaneActorData, store: ShardStore, clock: () => number = Date.now): Promise<LaneActor> {
    const written = await claimStore(store, data.fingerprint, data.config);
    if (written !== undefined) {
      // The node migrates its lanes before they open; what is left is a folder written before
      // the rules were kept beside the counters.
      throw new EngineError('VIGIL_STORE_CORRUPT', `the node's data folder holds counters of other rules (fingerprint ${written}, these rules ${data.fingerprint}) and not the rules themselves (it was written by an older Vigil), so they cannot be migrated: start it once with the rules it was written with, then with the new ones; or use another data folder`);
    }
    return new LaneActor(data, store, clock);
  }

  async receive (msg: LaneMsg): Promise<LaneReply> {
    try {
      switch (msg.kind) {
        case 'open':
          if (msg.reset === true) await this.store.dropShard(msg.shard);
          return this.openLane(msg.shard);
        case 'apply': return await this.apply(msg.shard, msg.messages);
        case 'release':
          await this.store.release(msg.upTo, [msg.shard]);
          return { kind: 'done' };
        case 'close':
          this.lanes.delete(msg.shard);
          return { kind: 'done' };
        case 'counter': return { kind: 'counter', value: this.lanes.get(msg.shard)?.engine.counterValue(msg.rule, msg.key, msg.ts) ?? null };
        case 'risk': return { kind: 'risk', reports: this.lanes.get(msg.shard)?.engine.riskOf(msg.key, msg.ts) ?? [] };
        case 'stats': {
          let keys = 0;
          let windows = 0;
          for (const lane of this.lanes.values()) {
            const s = lane.engine.stats();
            keys += s.keys;
            windows += s.windows;
          }
          return { kind: 'stats', keys, windows, lanes: this.lanes.size };
        }
        default: return assertNever(msg, 'message');
      }
    } catch (err) {
      return { kind: 'error', error: toErrorData(err) };
    }
  }

  private openLane (shard: number): LaneReply {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.shards) throw new RangeError(`shard ${shard} is outside 0..${this.shards - 1}`);
    // Reopened from the store even when open: a lane lost and won back may be behind the store.
    const engine = new Engine(this.compiled, this.clock, { trackChanges: true });
    const meta = this.store.meta([shard]);
    if (meta !== undefined) {
      const rows = this.store.rows([shard]);
      engine.restore(meta, (function * () { for (const r of rows) yield { keyer: r.keyer, row: r.row }; })());
    }
    const position = this.store.epochOf(shard);
    this.lanes.set(shard, { engine, scope: { shards: this.shards, owns: (s) => s === shard }, position });
    return { kind: 'opened', shard, position, pending: this.store.outputs(shard).map(({ epoch, output }) => ({ seq: epoch, output })) };
  }

  private async apply (shard: number, messages: readonly StreamMessage[]): Promise<LaneReply> {
    const start = performance.timeOrigin + performance.now();
    const lane = this.lanes.get(shard);
    if (lane === undefined) throw new EngineError('VIGIL_ENGINE_FAILED', `shard ${shard} has no open lane on this actor: open it before applying`);
    const alerts: OutboxEntry[] = [];
    const failures: Failure[] = [];
    const out: Alert[] = [];
    let applied = 0;
    let count = 0;
    const from = lane.position;
    for (const message of messages) {
      if (message.seq <= lane.position) continue;
      const { records, watermark } = wire.unpack(message.data) as ShardBatch;
      // `index` in the outbox: the record's place in the stream, message sequence and offset.
      const base = message.seq * 65_536;
      for (let i = 0; i < records.length; i++) {
        lane.engine.advance(watermark[i]!);
        out.length = 0;
        try {
          lane.engine.process(records[i] as UsageRecord, lane.scope, out);
        } catch (err) {
          const data = toErrorData(err);
          failures.push({ index: base + i, reason: data.message, code: data.code });
        }
        for (const alert of out) alerts.push({ index: base + i, alert });
      }
      lane.position = message.seq;
      applied++;
      count += records.length;
    }
    const output = { alerts, failures };
    if (lane.position === from) return { kind: 'applied', shard, position: lane.position, output, applied: 0, records: 0, timing: { start, end: performance.timeOrigin + performance.now() } };
    const changes = lane.engine.takeChanges();
    try {
      await this.commits.add({
        epoch: lane.position,
        shards: [shard],
        meta: lane.engine.meta(),
        rows: changes.rows.map(({ keyer, row }) => ({ shard: row.shard, keyer, row })),
        removed: changes.removed,
        output,
      });
    } catch (err) {
      // The lane's engine is now ahead of the store: forget it, so nothing more is applied to
      // or asked of it until it is opened again from its last commit. Other lanes' commits
      // carry their own changes and are not affected.
      if (this.lanes.get(shard) === lane) this.lanes.delete(shard);
      const cause = err ?? new Error('commit failed');
      throw new StoreFailedError(`a commit to the data folder failed (${cause instanceof Error ? cause.message : String(cause)}) for shard ${shard}; the lane is dropped and opened again from its last commit`, cause);
    }
    return { kind: 'applied', shard, position: lane.position, output, applied, records: count, timing: { start, end: performance.timeOrigin + performance.now() } };
  }

  async close (): Promise<void> {
    await this.store.close();
  }
}

/**
 * The embedded engine: shard actors on worker threads behind an in-process bus. The caller
 * hands it epochs (numbered batches of accepted records, each record with the ingest watermark
 * after it); it routes each record to the actors owning its shards (its account's and those of
 * the spanning counters it feeds), sends every actor its part of the epoch (an empty part too,
 * so every actor's committed epoch advances together), and resolves with the epoch's alerts in
 * one deterministic order once every actor has committed it.
 *
 * If an actor's thread dies, its unacknowledged epochs are sent again, in order, to the new
 * thread, which has reopened the store at its last committed epoch: nothing is lost, nothing
 * is counted twice.
 *
 * If an actor's commit fails (VIGIL_STORE_FAILED: a full disk, EIO, MDB_MAP_FULL), the actor
 * refuses everything after it, so the engine supervises it: it restarts that actor's thread
 * (once per failure, however many deliveries saw it), waits a backoff (50 ms, doubling, at
 * most 2 s), and sends the unacknowledged epochs again, as after a crash. Only after
 * MAX_STORE_FAILURES failures in a row (no commit in between) does apply reject, with
 * VIGIL_ENGINE_FAILED naming the store's error; the data folder then holds everything up to
 * the last commit, and a new run resumes from it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CompiledRules } from '../core/compile.js';
import type { RulesConfig } from '../core/rules-config.js';
import type { RiskReport } from '../core/engine.js';
import type { UsageRecord } from '../core/usage-record.js';
import { rulesFingerprint } from '../core/compile.js';
import { Placement } from '../core/placement.js';
import { alertComparator, type IndexedAlert } from '../core/alert-order.js';
import { EngineError } from '../core/errors.js';
import { ActorCrashedError, Mailbox } from '../workers/mailbox.js';
import { type ShardMsg, type ShardReply, type BatchPayload, RECORD_CHUNK } from '../workers/protocol.js';
import { packOwn, wire } from '../workers/codec.js';
import type { Failure, StoredRow } from '../workers/store.js';
import type { LimitChanges } from '../core/limits-change.js';
import type { CounterReading } from '../core/engine.js';

export interface EmbeddedOptions {
  readonly config: RulesConfig;
  readonly compiled: CompiledRules;
  readonly dataPath: string;
  /** shard actor threads */
  readonly actors: number;
  /** shards, fixed per data folder */
  readonly shards: number;
  /** epochs in flight per actor */
  readonly depth?: number;
  /** the actor thread module (tests swap in a misbehaving one) */
  readonly workerFile?: string;
  /** Called when an actor's thread threw outside any message (it is restarted); default: a line on stderr. */
  readonly onThreadError?: (actor: number, err: Error) => void;
  /** Called when an actor's thread is restarted after a failed commit, before the backoff. */
  readonly onRestart?: (event: RestartEvent) => void;
}

/** An actor restarted after its commit failed. */
export interface RestartEvent {
  readonly actor: number;
  /** failed commits in a row, this one included */
  readonly failures: number;
  /** the store's error (`ENOSPC: no space left on device`) */
  readonly cause: string;
  /** the wait before its epochs are sent again */
  readonly delayMs: number;
}

export interface EpochResult {
  readonly epoch: number;
  readonly alerts: readonly IndexedAlert[];
  readonly failures: readonly Failure[];
}

/** One line for a log: what failed and what the engine does about it. */
export function describeRestart (e: RestartEvent): string {
  return `shard actor ${e.actor}: a commit to the data folder failed (${e.cause}); restarting its thread from its last commit in ${e.delayMs} ms (failure ${e.failures} in a row; at ${MAX_STORE_FAILURES} the engine stops)`;
}

const MAX_REDELIVERIES = 5;
/** failed commits in a row after which an actor is given up: apply rejects */
export const MAX_STORE_FAILURES = 5;
const RESTART_DELAY_MS = 50;
const MAX_RESTART_DELAY_MS = 2000;

/** Per actor: how its supervision stands. */
interface Supervision {
  /** failed commits since its last successful one */
  failures: number;
  /** the restart under way and its backoff; resolved when none is */
  restarted: Promise<void>;
  /** set once it is given up: every delivery to it rejects with this */
  fatal: EngineError | undefined;
}

export class EmbeddedEngine {
  readonly shards: number;
  private readonly placement: Placement;
  private readonly mailboxes: Mailbox[];
  private readonly ownerOf: (shard: number) => number;
  private readonly compare: (a: IndexedAlert, b: IndexedAlert) => number;
  /** per actor: the delivery of its newest epoch, which the next one waits for before a resend */
  private readonly lanes: Array<Promise<unknown>>;
  private readonly supervision: Supervision[];
  private readonly onRestart: ((event: RestartEvent) => void) | undefined;
  private released = 0;

  constructor (opts: EmbeddedOptions) {
    if (!Number.isInteger(opts.actors) || opts.actors < 1) throw new RangeError(`actors must be a positive integer, got ${opts.actors}`);
    this.shards = opts.shards;
    this.placement = new Placement(opts.compiled, opts.shards);
    const actors = Math.min(opts.actors, opts.shards);
    this.ownerOf = (shard) => shard % actors;
    const fingerprint = rulesFingerprint(opts.config);
    this.mailboxes = Array.from({ length: actors }, (_, actor) => new Mailbox({
      actor,
      depth: opts.depth ?? 4,
      ...(opts.workerFile === undefined ? {} : { filename: opts.workerFile }),
      ...(opts.onThreadError === undefined ? {} : { onError: (err: Error) => { opts.onThreadError?.(actor, err); } }),
      data: {
        config: opts.config,
        dataPath: opts.dataPath,
        shards: opts.shards,
        owned: Array.from({ length: opts.shards }, (_, s) => s).filter((s) => s % actors === actor),
        fingerprint,
      },
    }));
    this.lanes = this.mailboxes.map(() => Promise.resolve());
    this.supervision = this.mailboxes.map(() => ({ failures: 0, restarted: Promise.resolve(), fatal: undefined }));
    this.onRestart = opts.onRestart;
    this.compare = alertComparator(opts.config.rules);
  }

  get actors (): number { return this.mailboxes.length; }

  /** Outputs up to this epoch are durable downstream; actors may drop their outboxes up to it. */
  release (epoch: number): void {
    if (epoch > this.released) this.released = epoch;
  }

  /** An empty epoch to fill with add(), then hand to applyParts(). */
  startEpoch (): EpochParts {
    return new EpochParts(this.placement, this.ownerOf, this.mailboxes.length);
  }

  /**
   * Applies one epoch. `index[i]` is record i's position in the epoch (records the caller
   * rejected are absent), `watermark[i]` the ingest watermark after it.
   */
  apply (epoch: number, records: readonly UsageRecord[], index: readonly number[], watermark: readonly number[]): Promise<EpochResult> {
    const parts = this.startEpoch();
    for (let i = 0; i < records.length; i++) parts.add(records[i]!, index[i]!, watermark[i]!);
    return this.applyParts(epoch, parts);
  }

  /** Applies an epoch built with startEpoch(): sends every actor its part (an empty one too) and gathers the alerts. */
  applyParts (epoch: number, parts: EpochParts): Promise<EpochResult> {
    const replies = parts.finish().map((payload, actor) => {
      // Kept here, and each delivery moves a copy of it to the thread (see packOwn): a crash
      // may need the batch again after a move took one.
      const msg: ShardMsg = { kind: 'batch', epoch, records: packOwn(payload), release: this.released };
      const previous = this.lanes[actor]!;
      const delivery = this.deliver(actor, msg, previous);
      this.lanes[actor] = delivery.catch(() => undefined);
      return delivery;
    });
    return Promise.all(replies).then((all) => {
      const alerts: IndexedAlert[] = [];
      const failures: Failure[] = [];
      for (const reply of all) {
        if (reply.kind !== 'applied') throw new EngineError('VIGIL_ENGINE_FAILED', `unexpected reply ${reply.kind} to a batch`);
        alerts.push(...reply.output.alerts);
        failures.push(...reply.output.failures);
      }
      alerts.sort(this.compare);
      failures.sort((a, b) => a.index - b.index);
      return { epoch, alerts, failures };
    });
  }

  private async deliver (actor: number, msg: ShardMsg, previous: Promise<unknown>): Promise<ShardReply> {
    const mailbox = this.mailboxes[actor]!;
    const supervision = this.supervision[actor]!;
    // Redeliveries for crashes and gaps; those caused by a restart after a failed commit are
    // bounded by MAX_STORE_FAILURES instead.
    let redeliveries = 0;
    for (;;) {
      // While an actor recovers from a failed commit, its epochs go one after another, each
      // once the restart, its backoff and the epoch before are done: the new thread stands at
      // its last commit, and a later epoch sent ahead would only be refused as a gap.
      if (supervision.failures > 0 && supervision.fatal === undefined) {
        await supervision.restarted;
        await previous;
      }
      if (supervision.fatal !== undefined) throw supervision.fatal;
      const generation = mailbox.generation;
      let reply: ShardReply;
      try {
        if (msg.kind === 'batch') {
          const records = msg.records.slice();
          reply = await mailbox.send({ ...msg, records }, [records.buffer as ArrayBuffer]);
        } else {
          reply = await mailbox.send(msg);
        }
      } catch (err) {
        if (!(err instanceof ActorCrashedError)) throw err;
        // A thread this engine restarted (the generation moved on) did not crash on its own.
        if (generation === mailbox.generation && redeliveries++ >= MAX_REDELIVERIES) throw err;
        // The new thread resumes at its last commit: earlier epochs go again first.
        await supervision.restarted;
        await previous;
        continue;
      }
      if (reply.kind === 'error') {
        if (reply.error.code === 'VIGIL_STORE_FAILED') {
          // Every epoch the broken thread held is refused; the first refusal seen restarts it.
          if (generation === mailbox.generation) this.storeFailed(actor, reply.error.cause ?? reply.error.message);
          continue;
        }
        if (reply.error.code === 'VIGIL_EPOCH_GAP' && redeliveries++ < MAX_REDELIVERIES) { await previous; continue; }
        throw new EngineError('VIGIL_ENGINE_FAILED', `shard actor ${actor}: ${reply.error.message}`);
      }
      if (reply.kind === 'applied' && !reply.replayed && generation === mailbox.generation) supervision.failures = 0;
      return reply;
    }
  }

  /**
   * An actor's commit failed: restarts its thread after a backoff, or, after
   * MAX_STORE_FAILURES in a row, gives it up (throws, and so does every delivery to it after).
   */
  private storeFailed (actor: number, cause: string): void {
    const supervision = this.supervision[actor]!;
    const failures = ++supervision.failures;
    if (failures >= MAX_STORE_FAILURES) {
      supervision.fatal = new EngineError('VIGIL_ENGINE_FAILED', `shard actor ${actor}: a commit to the data folder failed ${failures} times in a row (${cause}), its thread restarted from its last commit in between; nothing after that commit is stored: fix the cause (free disk space, say) and start again, and a run on the same data folder resumes from it`);
      throw supervision.fatal;
    }
    const delayMs = Math.min(RESTART_DELAY_MS * 2 ** (failures - 1), MAX_RESTART_DELAY_MS);
    this.onRestart?.({ actor, failures, cause, delayMs });
    const restarted = this.mailboxes[actor]!.restart();
    supervision.restarted = Promise.all([restarted, sleep(delayMs)]).then(() => undefined);
  }

  /** The current value of one rule's counter for one key (for the API). */
  async counter (rule: string, key: string, ts: number): Promise<CounterReading | null> {
    for (const mailbox of this.mailboxes) {
      const reply = await mailbox.send({ kind: 'counter', rule, key, ts });
      if (reply.kind === 'counter' && reply.value !== null) return reply.value;
    }
    return null;
  }

  /** A key's risk scores: asked of every actor, since a risk key lives beside its account. */
  async risk (key: string, ts: number): Promise<RiskReport[]> {
    const out: RiskReport[] = [];
    for (const mailbox of this.mailboxes) {
      const reply = await mailbox.send({ kind: 'risk', key, ts });
      if (reply.kind === 'risk') out.push(...reply.reports);
    }
    return out;
  }

  /**
   * New per-key limits in every actor (a limits-only reload, core/limits-change.ts), between
   * epochs: the caller has every epoch answered, so no commit is under way. Resolves with the
   * rows they changed, which the caller stores with the new rules (`config`) in one transaction,
   * then calls adopt(); if that store fails, it restarts the engine instead.
   */
  async relimit (changes: LimitChanges, config: RulesConfig): Promise<StoredRow[]> {
    const fingerprint = rulesFingerprint(config);
    const rows: StoredRow[] = [];
    for (const [actor, mailbox] of this.mailboxes.entries()) {
      const reply = await mailbox.send({ kind: 'limits', changes, fingerprint });
      if (reply.kind !== 'relimited') throw new EngineError('VIGIL_ENGINE_FAILED', `shard actor ${actor} could not take the new limits: ${reply.kind === 'error' ? reply.error.message : reply.kind}`);
      rows.push(...reply.rows);
    }
    return rows;
  }

  /**
   * After relimit() and the store of its rows: threads started from now on open with `config`.
   * A thread that was replaced in between (it died) opened the store before the new rules were
   * in it, and runs the old limits: it is restarted, and opens with the new ones.
   */
  async adopt (config: RulesConfig): Promise<void> {
    const fingerprint = rulesFingerprint(config);
    for (const mailbox of this.mailboxes) mailbox.setData({ ...mailbox.workerData, config, fingerprint });
    for (const mailbox of this.mailboxes) {
      // A thread dying right now is replaced with the new data anyway: restarting it again is harmless.
      const reply = await mailbox.send({ kind: 'stats' }).catch(() => undefined);
      if (reply?.kind !== 'stats' || reply.fingerprint !== fingerprint) await mailbox.restart();
    }
  }

  async stats (): Promise<{ keys: number, windows: number }> {
    let keys = 0;
    let windows = 0;
    for (const mailbox of this.mailboxes) {
      const reply = await mailbox.send({ kind: 'stats' });
      if (reply.kind === 'stats') { keys += reply.keys; windows += reply.windows; }
    }
    return { keys, windows };
  }

  async close (): Promise<void> {
    await Promise.all(this.mailboxes.map((m) => m.close()));
  }
}

/** One actor's part of an epoch under construction. */
interface Part {
  /** records not yet packed: fewer than RECORD_CHUNK */
  readonly pending: UsageRecord[];
  readonly chunks: Uint8Array[];
  readonly index: number[];
  readonly watermark: number[];
}

/**
 * An epoch as its records arrive: each record goes to the actors owning its shards (its
 * account's and those of the spanning counters it feeds, see Placement), and each actor's
 * records are packed as soon as RECORD_CHUNK of them are there. A coordinator that held the
 * epoch's record objects until the end (16,384 of them in replay) kept them alive through
 * several scavenges, copying and promoting every one only for it to die old: parse and
 * prepare cost 2.9-4.0 us a record that way against 2.0-2.3 us packing as they come
 * (bench/RESULTS.md, 2026-12-04).
 */
export class EpochParts {
  private readonly parts: Part[];
  private readonly shards: number[] = [];
  private readonly seen: boolean[];
  private readonly placement: Placement;
  private readonly ownerOf: (shard: number) => number;

  constructor (placement: Placement, ownerOf: (shard: number) => number, actors: number) {
    this.placement = placement;
    this.ownerOf = ownerOf;
    this.parts = Array.from({ length: actors }, () => ({ pending: [], chunks: [], index: [], watermark: [] }));
    this.seen = new Array<boolean>(actors).fill(false);
  }

  /** Adds an accepted record: `index` is its position in the epoch, `watermark` the ingest watermark after it. */
  add (record: UsageRecord, index: number, watermark: number): void {
    const shards = this.shards;
    const n = this.placement.route(record, shards);
    const seen = this.seen;
    for (let i = 0; i < n; i++) {
      const actor = this.ownerOf(shards[i]!);
      if (seen[actor] === true) continue;
      seen[actor] = true;
      const part = this.parts[actor]!;
      part.pending.push(record);
      part.index.push(index);
      part.watermark.push(watermark);
      if (part.pending.length === RECORD_CHUNK) {
        part.chunks.push(wire.pack(part.pending));
        part.pending.length = 0;
      }
    }
    for (let i = 0; i < n; i++) seen[this.ownerOf(shards[i]!)] = false;
  }

  /** Every actor's batch, the records not yet packed packed now. The parts are spent. */
  finish (): BatchPayload[] {
    return this.parts.map((part) => {
      if (part.pending.length > 0) part.chunks.push(wire.pack(part.pending));
      part.pending.length = 0;
      return { records: part.chunks, index: part.index, watermark: part.watermark };
    });
  }
}

/**
 * A cluster notifier's blocklist: a replica of the blocks stream (`<prefix>.blocks.events`),
 * the same on every notifier. Block changes are published as events rather than written here,
 * and every notifier applies every event in stream order (Blocklist.applyEvents).
 *
 * Publishes: one `block` event per blocking alert of a batch the notifier took from the shared
 * alerts consumer, with message id `block:<alert id>`, so a batch taken again (a crash, a sink
 * that failed) publishes nothing twice within the stream's dedupe window (and past it, a
 * replica applies an alert's block once: Blocklist.applyEvents); a `lift` event per
 * lift through the API, whose answer waits until this notifier has applied it.
 */
import type { Alert } from '../core/alert.js';
import type { RuleConfig } from '../core/rules-config.js';
import { actor, blockEvent, blockingAlerts, liftEvent, parseBlockEvent, type BlockChange, type BlockEvent } from '../core/blocklist.js';
import { EngineError, NotAppliedError } from '../core/errors.js';
import { fitsKey } from '../core/key.js';
import type { JetStreamClient, JetStreamManager, JsMsg } from '../workers/nats-client.js';
import type { Blocklist } from './blocklist.js';
import type { ClusterNames } from './jetstream.js';
import { StreamFollower } from './stream-follower.js';

/** How long a lift waits for this notifier to apply it before answering that it is on its way. */
const LIFT_WAIT_MS = 10_000;
/** How long a starting notifier may take to apply what the blocks stream held when it started. */
const CATCH_UP_MS = 120_000;
const MSG_ID = 'Nats-Msg-Id';

export interface BlockReplicaOptions {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: ClusterNames;
  readonly blocklist: Blocklist;
  /** this node's id: events name the node that published them */
  readonly nodeId: string;
  /** a change applied here of an event this node published (counted once per deployment) */
  readonly onOwnChange: (change: BlockChange) => void;
  readonly log: (event: Record<string, unknown>) => void;
}

export class BlockReplica {
  private readonly opts: BlockReplicaOptions;
  private readonly follower: StreamFollower;
  /** lifts waiting for their event to be applied here, by message id */
  private readonly waiting = new Map<string, (change: BlockChange | undefined) => void>();

  private constructor (opts: BlockReplicaOptions) {
    this.opts = opts;
    this.follower = StreamFollower.start({
      js: opts.js,
      stream: opts.names.blockStream,
      from: () => ({ afterSeq: opts.blocklist.appliedSeq() }),
      apply: async (msgs) => { await this.apply(msgs); },
      what: `the blocks stream ${opts.names.blockStream}`,
      log: opts.log,
    });
  }

  /**
   * Marks the folder's blocklist as this stream's replica, starts applying the stream and
   * resolves once it has applied every event the stream held when it started: a notifier
   * that answered `blocks.check` before that would say "not blocked" for keys that are.
   */
  static async start (opts: BlockReplicaOptions): Promise<BlockReplica> {
    if (opts.blocklist.follows() === undefined) await BlockReplica.publishLocal(opts);
    await opts.blocklist.follow(opts.names.blockStream);
    const last = (await opts.jsm.streams.info(opts.names.blockStream)).state.last_seq;
    const replica = new BlockReplica(opts);
    const deadline = Date.now() + CATCH_UP_MS;
    while (opts.blocklist.appliedSeq() < last) {
      if (Date.now() > deadline) {
        await replica.close();
        throw new EngineError('VIGIL_ENGINE_FAILED', `the blocklist did not catch up with the blocks stream ${opts.names.blockStream} within ${CATCH_UP_MS / 1000} s (applied ${opts.blocklist.appliedSeq()} of ${last} events); is JetStream reachable? The node does not answer blocks.check with a blocklist that is behind`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return replica;
  }

  /**
   * A folder whose blocklist was written locally (a notifier of an older Vigil, or an embedded
   * node's folder) puts its blocks in the stream before it follows it, so the other notifiers
   * get them too. Applied here, each finds its key blocked already and changes nothing; the
   * message id is the one the alert's block event has, so a block already in the stream is
   * not published twice.
   */
  private static async publishLocal (opts: BlockReplicaOptions): Promise<void> {
    const local = opts.blocklist.list();
    await Promise.all(local.map((b) => opts.js.publish(opts.names.subjects.blockEvents, JSON.stringify({
      action: 'block', key: b.key, since: b.since, by: actor.rule(b.rule), rule: b.rule, alert: b.alert, node: opts.nodeId,
    } satisfies BlockEvent), { msgID: `block:${b.alert.id}` })));
    if (local.length > 0) opts.log({ published_local_blocks: local.length, stream: opts.names.blockStream });
  }

  private async apply (msgs: readonly JsMsg[]): Promise<void> {
    const events = msgs.map((m) => ({ seq: m.seq, event: this.decode(m) }));
    const applied = await this.opts.blocklist.applyEvents(events);
    const idOf = this.waiting.size === 0 ? undefined : new Map(msgs.map((m) => [m.seq, m.headers?.get(MSG_ID)]));
    for (const { seq, event, change } of applied) {
      if (change !== undefined && event?.node === this.opts.nodeId) this.opts.onOwnChange(change);
      const id = idOf?.get(seq);
      if (id !== undefined) this.waiting.get(id)?.(change);
    }
  }

  private decode (m: JsMsg): BlockEvent | undefined {
    try {
      return parseBlockEvent(JSON.parse(m.string()));
    } catch (err) {
      // Every notifier skips it alike, so the replicas stay the same.
      this.opts.log({ warning: `blocks stream message ${m.seq} skipped: ${err instanceof Error ? err.message : String(err)}` });
      return undefined;
    }
  }

  /**
   * Publishes a block event for each blocking alert of a taken batch (see blockingAlerts);
   * resolves once JetStream holds them all, so the batch is let go only then.
   */
  async publishBlocks (alerts: readonly Alert[], rules: readonly RuleConfig[], now: number): Promise<void> {
    const { js, names, nodeId } = this.opts;
    await Promise.all(blockingAlerts(rules, alerts).map((alert) =>
      js.publish(names.subjects.blockEvents, JSON.stringify(blockEvent(alert, now, nodeId)), { msgID: `block:${alert.id}` })));
  }

  /**
   * Lifts `key` for the whole cluster: publishes the lift and resolves, once this notifier has
   * applied it, with its change (undefined when the key was not blocked by then). A key this
   * notifier does not hold blocked is answered at once, with nothing published.
   */
  async lift (key: string, by: string, now: number): Promise<BlockChange | undefined> {
    if (!fitsKey(key) || this.opts.blocklist.get(key) === undefined) return undefined;
    const { js, names, nodeId } = this.opts;
    const id = `lift:${nodeId}:${now}:${Math.random().toString(36).slice(2)}`;
    let timer: NodeJS.Timeout | undefined;
    const applied = new Promise<BlockChange | undefined>((resolve, reject) => {
      this.waiting.set(id, resolve);
      timer = setTimeout(() => {
        reject(new NotAppliedError(`the lift of "${key}" is in the blocks stream but this notifier has not applied it within ${LIFT_WAIT_MS / 1000} s (it is behind, or NATS is away); it reaches every notifier in order: check GET /v1/blocks/${encodeURIComponent(key)} again`));
      }, LIFT_WAIT_MS);
    });
    applied.catch(() => undefined); // awaited below once published; a failed publish leaves it unawaited
    try {
      try {
        await js.publish(names.subjects.blockEvents, JSON.stringify(liftEvent(key, by, now, nodeId)), { msgID: id });
      } catch (err) {
        throw new NotAppliedError(`the lift of "${key}" was not confirmed by JetStream (${err instanceof Error ? err.message : String(err)}): it may not stand; check GET /v1/blocks/${encodeURIComponent(key)}, or lift again (lifting a key that is not blocked changes nothing)`);
      }
      return await applied;
    } finally {
      clearTimeout(timer);
      this.waiting.delete(id);
    }
  }

  async close (): Promise<void> {
    await this.follower.close();
  }
}

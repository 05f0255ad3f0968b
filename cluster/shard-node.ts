/**
 * The node role of a cluster: holds leases on shards in the lease bucket and runs each leased
 * shard as a lane on one of its lane actors (worker threads, counters in LMDB).
 *
 * Leases: every `leaseMs / 3` the node writes its heartbeat (`node.<id>`) and reads who is live;
 * the bucket's TTL removes a key nobody renews, so a node that dies or stops renewing drops out
 * and its shard keys expire after one lease. Each shard prefers one live node (ownership.ts):
 * a node creates the key of a free shard it is preferred for, renews the keys it holds (an
 * update against the revision it wrote, so a lease that expired and was taken fails and the
 * lane stops), and hands back a shard that now prefers a node that joined.
 *
 * Withdrawing (withdraw.ts): a node whose lanes' commits fail several times in a row (its data
 * folder is full or failing) stops its lanes, hands their leases back and deletes its
 * heartbeat, so the other nodes see it gone and take its shards; after a backoff (doubling
 * while it keeps failing) it writes its heartbeat again and claims what it is preferred for.
 *
 * A lane opens from the node's LMDB at its committed position (0 for a shard the node never
 * held), first publishes the alerts its outbox still holds, then reads the shard's stream
 * from the next sequence with an ordered consumer, applying messages in batches. After each
 * apply the lane's alerts go to the alerts stream (message id = alert id, so an alert raised
 * again by a rebuilt shard is dropped by JetStream) before the outbox lets them go.
 */
import type { CompiledRules } from '../core/compile.js';
import { rulesFingerprint } from '../core/compile.js';
import { EngineError, StoreFailedError, type ErrorCode } from '../core/errors.js';
import type { RiskReport } from '../core/engine.js';
import { Mailbox } from '../workers/mailbox.js';
import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type KV, type Msg, type NatsConnection, type Subscription } from '../workers/nats-client.js';
import type { LaneActorData, LaneMsg, LaneReply, StreamMessage } from '../workers/lanes/protocol.js';
import type { EpochOutput } from '../workers/store.js';
import { CONSUMER_EXPIRES_MS, STALL_MS, watchConsumer, type ClusterNames } from './jetstream.js';
import { Gate } from './http-body.js';
import type { Metrics } from './metrics.js';
import { preferredNode } from './ownership.js';
import { StoreFailures, WITHDRAW_BASE_MS } from './withdraw.js';
import { migrateLanes, migratedEvent } from './store-migration.js';
import { ROOT_CONTEXT, SpanKind, contextFrom, headersFor, messaging, startMerged, tracer, within, type Context } from './tracing.js';
import type { CounterReading } from '../core/engine.js';

const LANE_WORKER = new URL('../workers/lanes/main.js', import.meta.url).href;
/** stream messages per apply at most */
const APPLY_MESSAGES = 64;

/** stream messages a lane buffers ahead of its actor */
const LANE_BUFFER = 256;

export interface ShardNodeOptions {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly kv: KV;
  readonly names: ClusterNames;
  readonly compiled: CompiledRules;
  readonly nodeId: string;
  readonly shards: number;
  readonly leaseMs: number;
  /** the node's folder for lane state */
  readonly dataPath: string;
  readonly actors: number;
  readonly log: (event: Record<string, unknown>) => void;
  /** where the lanes' timings go (histograms) */
  readonly metrics?: Metrics;
  /**
   * How long the node stays out of the cluster the first time its commits keep failing (ms,
   * default WITHDRAW_BASE_MS, 30 s); each withdrawal without a successful commit in between
   * doubles it, up to WITHDRAW_CAP_MS (10 min).
   */
  readonly withdrawMs?: number;
  /** The lane actor's thread module (a file URL or path), for tests: the node's own by default. */
  readonly laneWorkerFile?: string;
}

/** Messages in one actor's thread at once, and queued in its pool behind them. */
const ACTOR_DEPTH = 16;
const ACTOR_QUEUE = 2 * ACTOR_DEPTH;

/**
 * One lane actor shared by the lanes placed on it. A node may hold dozens of shards per
 * thread, each sending on its own; the gate keeps them below the mailbox's bound, so a busy
 * actor slows its lanes (and through their buffers, their consumers) instead of refusing them.
 */
class LaneMailbox {
  private readonly mailbox: Mailbox<LaneMsg, LaneReply, LaneActorData>;
  // Below the pool's bound with room to spare: piscina frees a queue slot a little after a reply.
  private readonly gate = new Gate(ACTOR_DEPTH + ACTOR_QUEUE / 2);

  constructor (actor: number, data: LaneActorData, log: (event: Record<string, unknown>) => void, filename: string) {
    this.mailbox = new Mailbox<LaneMsg, LaneReply, LaneActorData>({
      actor,
      depth: ACTOR_DEPTH,
      data,
      filename,
      // The thread is replaced; its lanes fail on the messages it held and are opened again.
      onError: (err) => { log({ warning: `lane actor ${actor}'s thread failed outside a message and is restarted: ${err.message}`, actor }); },
    });
  }

  /** messages sent and not answered yet (in the thread or waiting for room) */
  depth = 0;

  async send (msg: LaneMsg): Promise<LaneReply> {
    this.depth++;
    await this.gate.acquire();
    try {
      return await this.mailbox.send(msg);
    } finally {
      this.gate.release();
      this.depth--;
    }
  }

  async close (): Promise<void> { await this.mailbox.close(); }
}

function check<K extends LaneReply['kind']> (reply: LaneReply, kind: K): Extract<LaneReply, { kind: K }> {
  if (reply.kind === 'error') {
    // A failed commit keeps its class and the store's own message (ENOSPC…) across the thread.
    if (reply.error.code === 'VIGIL_STORE_FAILED') throw new StoreFailedError(reply.error.message, new Error(reply.error.cause ?? reply.error.message));
    throw new EngineError(reply.error.code as ErrorCode, reply.error.message);
  }
  if (reply.kind !== kind) throw new EngineError('VIGIL_ENGINE_FAILED', `a lane actor answered ${reply.kind} where ${kind} was due`);
  return reply as Extract<LaneReply, { kind: K }>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The keys of the lease bucket that match `filter`, within `ms`. nats.js's kv.keys() can wait
 * for ever when the last operation on the matching keys is a delete (a node's heartbeat removed
 * as it withdrew or stopped: seen in the withdraw test); a tick stuck there would renew no
 * lease. Past `ms` the listing is stopped and the tick fails; the next one tries again.
 */
async function listKeys (kv: KV, filter: string, ms: number): Promise<string[]> {
  const iter = await kv.keys(filter);
  const keys: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { iter.stop(); reject(new Error(`listing ${filter} in the lease bucket took over ${ms} ms`)); }, ms);
  });
  try {
    await Promise.race([(async () => { for await (const k of iter) keys.push(k); })(), timeout]);
  } finally {
    clearTimeout(timer);
  }
  return keys;
}

/** `30 s`, `2 min`, `1.5 s`: a backoff for the log. */
function formatMs (ms: number): string {
  if (ms >= 60_000) return `${Math.round(ms / 6_000) / 10} min`;
  return `${Math.round(ms / 100) / 10} s`;
}

/** One leased shard, from its stream to its actor and on to the alerts stream. */
class Lane {
  readonly shard: number;
  /** the lease key's revision this node wrote last */
  revision: number;
  position = 0;
  /** messages in the stream after the last one received, as the consumer last said */
  pending = 0;
  private readonly node: ShardNode;
  private readonly actor: LaneMailbox;
  private messages: ConsumerMessages | undefined;
  /** messages received, with their trace context and when JetStream stored them (ms) */
  private readonly buffer: Array<StreamMessage & { readonly ctx: Context, readonly at: number }> = [];
  private stopped = false;
  /** stop() was called: the end of the consumer is expected */
  private asked = false;
  /** when the consumer last delivered a message (ms) */
  private lastMessageAt = Date.now();
  private wake: (() => void) | undefined;
  private room: (() => void) | undefined;
  private readonly done: Promise<void>;

  constructor (node: ShardNode, actor: LaneMailbox, shard: number, revision: number) {
    this.node = node;
    this.actor = actor;
    this.shard = shard;
    this.revision = revision;
    this.done = this.run().catch((err: unknown) => { this.node.laneFailed(this, err); });
  }

  private async run (): Promise<void> {
    let opened = check(await this.actor.send({ kind: 'open', shard: this.shard }), 'opened');
    // Alerts a previous run committed but did not get into the alerts stream go first.
    for (const { seq, output } of opened.pending) await this.publish(seq, output);
    const { js, names, jsm } = this.node.opts;
    const first = (await jsm.streams.info(names.shardStream)).state.first_seq;
    if (opened.position > 0 && opened.position + 1 < first) {
      // The stream no longer holds what came after this node's last commit for the shard (it
      // was away longer than the retention): rebuild from what the stream holds, which covers
      // every open window when the retention is longer than the rules' horizon.
      this.node.opts.log({ lane: this.shard, stale: opened.position, stream_first: first });
      opened = check(await this.actor.send({ kind: 'open', shard: this.shard, reset: true }), 'opened');
    }
    this.position = opened.position;
    if (this.stopped) return;
    const consumer = await js.consumers.get(names.shardStream, {
      filter_subjects: names.subjects.shard(this.shard),
      ...(this.position > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.position + 1 } : { deliver_policy: DeliverPolicy.All }),
    });
    if (this.stopped) return;
    this.node.opts.log({ lane: this.shard, opened: this.position });
    const messages = this.messages = await consumer.consume({ max_messages: LANE_BUFFER, expires: CONSUMER_EXPIRES_MS });
    const unwatch = watchConsumer(messages, () => this.pending > 0 && this.buffer.length === 0 && Date.now() - this.lastMessageAt > STALL_MS);
    let failure: { error: unknown } | undefined;
    // A failed apply ends the read loop (which may be waiting for room) and fails the lane.
    const applying = this.applyLoop().catch((error: unknown) => {
      failure = { error };
      this.stopped = true;
      this.room?.();
      this.messages?.close().catch(() => undefined);
    });
    try {
      for await (const m of this.messages) {
        if (this.stopped) break;
        this.lastMessageAt = Date.now();
        this.buffer.push({ seq: m.seq, data: m.data, ctx: contextFrom(m.headers), at: m.info.timestampNanos / 1e6 });
        this.pending = m.info.pending;
        this.wake?.();
        while (this.buffer.length >= LANE_BUFFER && !this.stopped) await new Promise<void>((resolve) => { this.room = resolve; });
      }
    } finally {
      unwatch();
      this.stopped = true;
      this.wake?.();
      await applying;
    }
    if (failure !== undefined) throw failure.error;
    // The consumer ended without being asked to (its stream or consumer went away, NATS gave
    // up): the lane fails, so the node lets the lease go and opens the shard again from its
    // committed position, rather than holding a shard nobody reads.
    if (!this.asked) throw new EngineError('VIGIL_ENGINE_FAILED', `the stream consumer of shard ${this.shard} ended`);
  }

  private async applyLoop (): Promise<void> {
    while (true) {
      if (this.buffer.length === 0) {
        if (this.stopped) return;
        await new Promise<void>((resolve) => { this.wake = resolve; });
        this.wake = undefined;
        continue;
      }
      const taken = this.buffer.splice(0, APPLY_MESSAGES);
      this.room?.();
      this.room = undefined;
      const subject = this.node.opts.names.subjects.shard(this.shard);
      // One consume span per apply: the child of the first message's publish, linked to all.
      const span = startMerged(`process ${subject}`, SpanKind.CONSUMER, taken.map((m) => m.ctx), { ...messaging('process', subject, taken.length), 'vigil.shard': this.shard });
      const messages = taken.map(({ seq, data }) => ({ seq, data }));
      try {
        const reply = check(await this.actor.send({ kind: 'apply', shard: this.shard, messages }), 'applied');
        this.position = reply.position;
        this.node.applied(reply.applied, reply.records);
        // The actor thread timed its part; it becomes the consume span's child here (one SDK per process).
        const work = tracer.startSpan('vigil.shard.apply', {
          startTime: reply.timing.start,
          attributes: { 'vigil.shard': this.shard, 'vigil.records': reply.records, 'vigil.position': reply.position, 'vigil.alerts': reply.output.alerts.length, 'vigil.failures': reply.output.failures.length, 'vigil.skipped_messages': messages.length - reply.applied },
        }, within(span));
        work.end(reply.timing.end);
        const metrics = this.node.opts.metrics;
        if (metrics !== undefined && reply.applied > 0) {
          metrics.observe('vigil_apply_seconds', 'Time a lane actor took to apply and commit one batch of shard-stream messages.', (reply.timing.end - reply.timing.start) / 1000);
          metrics.observe('vigil_stream_to_counted_seconds', 'From JetStream storing a shard message to its records being counted and committed, per apply (its oldest message).', Math.max(0, Date.now() - Math.min(...taken.map((m) => m.at))) / 1000);
        }
        if (reply.output.alerts.length > 0 || reply.output.failures.length > 0) await this.publish(reply.position, reply.output, within(work));
      } finally {
        span.end();
      }
    }
  }

  /** Puts one outbox entry's alerts in the alerts stream and its failures on rejected, then releases it. */
  private async publish (seq: number, output: EpochOutput, parent: Context = ROOT_CONTEXT): Promise<void> {
    const { js, nc, names } = this.node.opts;
    // One span per alert (alerts are rare): it names the alert and carries its context to the notifier.
    const spans = output.alerts.map(({ alert }) => tracer.startSpan(`send ${names.subjects.alerts}`, {
      kind: SpanKind.PRODUCER,
      attributes: { ...messaging('send', names.subjects.alerts, 1), 'vigil.alert.id': alert.id, 'vigil.alert.rule': alert.rule, 'vigil.alert.key': alert.key, 'vigil.alert.severity': alert.severity, 'vigil.shard': this.shard },
    }, parent));
    for (let attempt = 0; ; attempt++) {
      try {
        await Promise.all(output.alerts.map(({ alert }, i) => {
          const traced = headersFor(spans[i]!);
          return js.publish(names.subjects.alerts, JSON.stringify(alert), { msgID: alert.id, ...(traced === undefined ? {} : { headers: traced }) });
        }));
        for (const span of spans) span.end();
        break;
      } catch (err) {
        if (this.stopped && attempt > 3) throw err;
        await sleep(Math.min(2_000, 50 * 2 ** Math.min(attempt, 6)));
      }
    }
    for (const f of output.failures) {
      nc.publish(names.subjects.rejected, JSON.stringify({ reason: f.reason, code: f.code, source: `${names.subjects.shard(this.shard)}`, seq: Math.floor(f.index / 65_536), offset: f.index % 65_536 }));
    }
    this.node.raised(output.alerts.length);
    check(await this.actor.send({ kind: 'release', shard: this.shard, upTo: seq }), 'done');
  }

  /** Stops reading; resolves once the apply under way and its alerts are done, and the actor forgot the lane. */
  async stop (): Promise<void> {
    this.asked = true;
    this.stopped = true;
    this.wake?.();
    this.room?.();
    await this.messages?.close();
    await this.done;
    await this.actor.send({ kind: 'close', shard: this.shard }).catch(() => undefined);
  }

  get buffered (): number { return this.buffer.length; }

  counter (rule: string, key: string, ts: number): Promise<LaneReply> {
    return this.actor.send({ kind: 'counter', shard: this.shard, rule, key, ts });
  }

  risk (key: string, ts: number): Promise<LaneReply> {
    return this.actor.send({ kind: 'risk', shard: this.shard, key, ts });
  }
}

export interface NodeCounts { records: number, messages: number, alerts: number }

export class ShardNode {
  readonly opts: ShardNodeOptions;
  private readonly actors: LaneMailbox[];
  private readonly lanes = new Map<number, Lane>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private closing = false;
  private live: string[] = [];
  private querySub: Subscription | undefined;
  readonly counts: NodeCounts = { records: 0, messages: 0, alerts: 0 };
  private readonly failures: StoreFailures;
  /** while withdrawn: when the node rejoins (ms since the epoch) */
  private withdrawnUntil: number | undefined;
  /** the withdrawal under way (lanes stopping, heartbeat deleted); a tick waits for it */
  private withdrawal: Promise<void> = Promise.resolve();

  private constructor (opts: ShardNodeOptions) {
    this.opts = opts;
    this.failures = new StoreFailures({ baseMs: opts.withdrawMs ?? WITHDRAW_BASE_MS });
    const data: LaneActorData = { config: opts.compiled.config, dataPath: opts.dataPath, shards: opts.shards, fingerprint: rulesFingerprint(opts.compiled.config) };
    this.actors = Array.from({ length: Math.max(1, opts.actors) }, (_, actor) => new LaneMailbox(actor, data, opts.log, opts.laneWorkerFile ?? LANE_WORKER));
  }

  static async start (opts: ShardNodeOptions): Promise<ShardNode> {
    // Before the lane actors open the store: counters written under other rules are migrated.
    const migrated = await migrateLanes(opts.dataPath, opts.compiled, opts.shards);
    if (migrated !== undefined) opts.log(migratedEvent(opts.dataPath, migrated));
    const node = new ShardNode(opts);
    // An actor that cannot open its store (a foreign or corrupt folder) fails the start, not a lane later.
    for (const actor of node.actors) check(await actor.send({ kind: 'stats' }), 'stats');
    node.querySub = opts.nc.subscribe(opts.names.subjects.query, { callback: (err, msg) => { if (err === null) node.answer(msg).catch(() => undefined); } });
    // Kept as the tick under way: a lane failing meanwhile may withdraw, which waits for it.
    node.ticking = node.tick();
    await node.ticking;
    node.schedule();
    return node;
  }

  /** Out of the cluster after its commits kept failing (no heartbeat, no lanes), until it rejoins. */
  get withdrawn (): boolean { return this.withdrawnUntil !== undefined; }

  /** Per lane actor: messages sent to it and not answered yet. */
  get mailboxDepths (): number[] { return this.actors.map((a) => a.depth); }

  /** The shards this node holds a lease on. */
  get held (): number[] { return [...this.lanes.keys()].sort((a, b) => a - b); }

  /** The live nodes as last read from the lease bucket. */
  get liveNodes (): readonly string[] { return this.live; }

  private schedule (): void {
    if (this.closing) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().catch((err: unknown) => { this.opts.log({ lease_error: String(err) }); }).finally(() => { this.schedule(); });
    }, Math.max(50, Math.floor(this.opts.leaseMs / 3)));
  }

  /** One round of the lease loop: heartbeat, who is live, claim, renew, hand back. */
  private async tick (): Promise<void> {
    const { kv, nodeId, shards } = this.opts;
    await this.withdrawal;
    if (this.withdrawnUntil !== undefined) {
      // Withdrawn: no heartbeat, no claims, until the backoff is over.
      if (Date.now() < this.withdrawnUntil) return;
      this.withdrawnUntil = undefined;
      this.opts.log({ rejoining: 'the cluster after withdrawing: heartbeat written again, claiming the shards this node is preferred for', node: nodeId });
    }
    if (this.closing) return;
    await kv.put(`node.${nodeId}`, JSON.stringify({ at: new Date().toISOString() }));
    const live = new Set<string>([nodeId]);
    for (const key of await listKeys(kv, 'node.*', Math.max(1_000, this.opts.leaseMs / 3))) live.add(key.slice(5));
    this.live = [...live].sort();
    for (let s = 0; s < shards; s++) {
      if (this.closing || this.withdrawnUntil !== undefined) return;
      const want = preferredNode(s, this.live) === nodeId;
      const lane = this.lanes.get(s);
      const key = `shard.${s}`;
      if (lane !== undefined && !want) {
        this.lanes.delete(s);
        await lane.stop();
        await kv.delete(key, { previousSeq: lane.revision }).catch(() => undefined);
        this.opts.log({ lane: s, handed_back: lane.position });
      } else if (lane !== undefined) {
        try {
          lane.revision = await kv.update(key, nodeId, lane.revision);
        } catch (err) {
          this.lanes.delete(s);
          this.opts.log({ lane: s, lost: lane.position, why: String(err) });
          await lane.stop();
        }
      } else if (want) {
        let revision: number;
        try {
          revision = await kv.create(key, nodeId);
        } catch {
          continue; // still held by a node that has not let go or whose lease has not expired
        }
        this.lanes.set(s, new Lane(this, this.actors[s % this.actors.length]!, s, revision));
      }
    }
  }

  /**
   * A lane's run failed (its actor or NATS): drop it and its lease, so it reopens from the
   * store. A failed commit counts towards withdrawing (withdraw.ts).
   */
  laneFailed (lane: Lane, err: unknown): void {
    this.opts.log({ lane: lane.shard, failed: err instanceof Error ? err.message : String(err) });
    if (this.lanes.get(lane.shard) !== lane) return;
    this.lanes.delete(lane.shard);
    this.opts.kv.delete(`shard.${lane.shard}`, { previousSeq: lane.revision }).catch(() => undefined);
    if (err instanceof StoreFailedError && !this.closing && this.withdrawnUntil === undefined) {
      const ms = this.failures.failed();
      if (ms !== undefined) this.withdraw(ms, err.reason);
    }
  }

  /**
   * Leaves the cluster for `ms`: stops every lane and hands its lease back, deletes the
   * heartbeat so the other nodes see this one gone and take its shards at their next tick.
   * Ticks meanwhile do nothing; the first after `ms` rejoins.
   */
  private withdraw (ms: number, cause: string): void {
    this.withdrawnUntil = Date.now() + ms;
    this.live = [];
    this.opts.log({ error: `withdrawing from the cluster: commits to the data folder failed ${this.failures.bound} times in a row (${cause}); its shards move to the other nodes; rejoining in ${formatMs(ms)}`, node: this.opts.nodeId, withdrawn_ms: ms });
    const ticking = this.ticking;
    this.withdrawal = (async () => {
      // The tick under way sees the flag and stops claiming; what it claimed before goes too.
      await ticking;
      await this.stopLanes();
      await this.opts.kv.delete(`node.${this.opts.nodeId}`).catch(() => undefined);
    })().catch((err: unknown) => { this.opts.log({ lease_error: `withdrawing: ${String(err)}` }); });
  }

  /** Stops every lane and hands its lease back. */
  private async stopLanes (): Promise<void> {
    const lanes = [...this.lanes];
    this.lanes.clear();
    for (const [s, lane] of lanes) {
      await lane.stop();
      await this.opts.kv.delete(`shard.${s}`, { previousSeq: lane.revision }).catch(() => undefined);
    }
  }

  applied (messages: number, records: number): void {
    this.counts.messages += messages;
    this.counts.records += records;
    // A commit went through: the data folder works.
    if (messages > 0) this.failures.succeeded();
  }

  /** Stream messages published to held shards and not applied yet (as the consumers last reported). */
  get lag (): number {
    let lag = 0;
    for (const lane of this.lanes.values()) lag += lane.pending + lane.buffered;
    return lag;
  }

  raised (alerts: number): void { this.counts.alerts += alerts; }

  /** The current value of a rule's counter for a key, if one of this node's lanes has it. */
  async counter (rule: string, key: string, ts: number): Promise<CounterReading | null> {
    for (const lane of [...this.lanes.values()]) {
      const reply = await lane.counter(rule, key, ts);
      if (reply.kind === 'counter' && reply.value !== null) return reply.value;
    }
    return null;
  }

  /** A key's risk scores on this node's lanes (a risk key lives beside its account). */
  async risk (key: string, ts: number): Promise<RiskReport[]> {
    const out: RiskReport[] = [];
    for (const lane of [...this.lanes.values()]) {
      const reply = await lane.risk(key, ts);
      if (reply.kind === 'risk') out.push(...reply.reports);
    }
    return out;
  }

  private async answer (msg: Msg): Promise<void> {
    try {
      const q = JSON.parse(msg.string()) as { kind: 'counter' | 'risk', rule?: string, key: string, ts: number };
      const value = q.kind === 'counter' ? await this.counter(q.rule ?? '', q.key, q.ts) : await this.risk(q.key, q.ts);
      msg.respond(JSON.stringify({ value }));
    } catch (err) {
      msg.respond(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
    }
  }

  /** Hands every lease back (so other nodes take the shards at once, not after a lease) and stops. */
  async close (): Promise<void> {
    this.closing = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.ticking;
    await this.withdrawal;
    await this.querySub?.drain().catch(() => undefined);
    await this.stopLanes();
    await this.opts.kv.delete(`node.${this.opts.nodeId}`).catch(() => undefined);
    await Promise.all(this.actors.map((a) => a.close()));
  }
}

/**
 * The notification actor: takes alerts, writes one outbox entry per (alert, channel) the alert
 * is routed to (the rule's `notify`, default every channel, less channels whose `min_severity`
 * is above the alert's) and replies once they are committed; delivery then runs in the
 * background, one Lane per channel. Also lists and redrives dead letters and reports stats.
 * Clock, randomness, channel construction and the log are injected; main.ts wires the thread.
 */
import type { Alert } from '../../core/alert.js';
import { EngineError, assertNever, toErrorData } from '../../core/errors.js';
import type { Severity } from '../../core/rules-config.js';
import { makeChannel } from '../channels/index.js';
import { parseChannelSpecs } from '../../core/channel-settings.js';
import type { ChannelSpec } from '../../core/channel-settings.js';
import type { Channel, ChannelContext } from '../channels/types.js';
import { Lane, realClock } from './lane.js';
import type { Clock, LaneEntry } from './lane.js';
import { BATCH_MAX, Outbox, bitmapBytes, countBits, hasBit, setBit } from './outbox.js';
import { disk } from '../codec.js';
import type { ChannelStats, DeadLetter, DeliveryTrace, NotifierData, NotifierMsg, NotifierReply, NotifierStats } from './protocol.js';

type EnqueueMsg = Extract<NotifierMsg, { kind: 'enqueue' }>;

const RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };
const MAX_DELIVERY_TRACES = 10_000;
const MAX_TRACED_BATCHES = 10_000;

export interface NotifierDeps {
  readonly clock: Clock;
  readonly random: () => number;
  /** the notifier's own events; secrets are already redacted */
  readonly log: (event: Record<string, unknown>) => void;
  /** where the `log` channel writes */
  readonly write: (line: string) => void;
  /** tests may wrap or replace a channel */
  readonly makeChannel?: (spec: ChannelSpec, ctx: ChannelContext) => Channel;
}

export const defaultDeps: NotifierDeps = {
  clock: realClock,
  random: Math.random,
  log: (event) => { process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`); },
  write: (line) => { process.stderr.write(line); },
};

export class NotifierActor {
  private readonly outbox: Outbox;
  private readonly lanes = new Map<string, Lane>();
  private readonly routes: NotifierData['routes'];
  private readonly clock: Clock;
  private readonly graceMs: number;
  /** the trace context each recent outbox batch came with (memory only: a restart starts new traces) */
  private readonly traces = new Map<number, string>();
  /** finished delivery attempts not yet collected by the handle (bounded: the oldest go first) */
  private deliveries: DeliveryTrace[] = [];
  /** rule -> severity rank -> the lanes its alerts go to */
  private readonly routed = new Map<string, Array<readonly Lane[] | undefined>>();
  private closed = false;

  private constructor (data: NotifierData, outbox: Outbox, deps: NotifierDeps) {
    this.outbox = outbox;
    this.routes = data.routes;
    this.clock = deps.clock;
    this.graceMs = data.options.closeGraceMs;
    const o = data.options;
    const ctx: ChannelContext = {
      baseDir: o.baseDir,
      nats: o.nats,
      timeoutMs: o.timeoutMs,
      write: deps.write,
      ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
    };
    const build = deps.makeChannel ?? makeChannel;
    for (const spec of parseChannelSpecs(data.channels)) {
      const channel = build(spec, ctx);
      this.lanes.set(spec.name, new Lane(channel, {
        clock: deps.clock,
        random: deps.random,
        backoffBaseMs: o.backoffBaseMs,
        backoffCapMs: o.backoffCapMs,
        maxDigest: o.maxDigest,
        paced: this.outbox.pacing(spec.name),
        pace: (pacing) => { this.outbox.setPacing(spec.name, pacing); },
        load: (seq) => this.outbox.alert(seq),
        delivered: (seqs) => { this.outbox.remove(spec.name, seqs); },
        dead: (entries, error) => { this.bury(spec.name, entries, error); },
        log: (event) => { deps.log(event); },
        attempted: (a) => {
          const traceparent = this.traces.get(Math.floor(a.first / BATCH_MAX));
          if (this.deliveries.length >= MAX_DELIVERY_TRACES) this.deliveries.shift();
          this.deliveries.push({
            channel: spec.name,
            type: channel.type,
            alerts: a.alerts,
            attempt: a.attempt,
            start: a.start,
            end: a.end,
            result: a.error === undefined ? 'delivered' : 'failed',
            ...(a.error === undefined ? {} : { error: a.error }),
            ...(traceparent === undefined ? {} : { traceparent }),
          });
        },
      }));
    }
  }

  /** Opens the outbox and resumes delivery of everything in it. */
  static open (data: NotifierData, deps: NotifierDeps = defaultDeps): NotifierActor {
    const outbox = new Outbox(data.dataPath);
    let actor: NotifierActor;
    try {
      actor = new NotifierActor(data, outbox, deps);
    } catch (err) {
      outbox.close().catch(() => {});
      throw err;
    }
    // Entries of a channel no longer configured stay in the outbox until it comes back.
    for (const row of outbox.queued()) actor.lanes.get(row.channel)?.add(row.batch, row.bits, row.enqueuedAt, false);
    return actor;
  }

  async receive (msg: NotifierMsg): Promise<NotifierReply> {
    try {
      switch (msg.kind) {
        case 'enqueue': return { kind: 'enqueued', entries: await this.enqueue(msg, msg.trace) };
        case 'deliveries': {
          const deliveries = this.deliveries;
          this.deliveries = [];
          return { kind: 'deliveries', deliveries };
        }
        case 'dead-letters': return { kind: 'dead-letters', letters: this.deadLetters() };
        case 'redrive': return { kind: 'redriven', count: await this.redrive(msg.id) };
        case 'stats': return { kind: 'stats', stats: this.stats() };
        case 'close': await this.close(); return { kind: 'closed' };
        default: return assertNever(msg, 'message');
      }
    } catch (err) {
      return { kind: 'error', error: toErrorData(err) };
    }
  }

  /** The channels an alert goes to. */
  channelsFor (alert: Alert, all: readonly string[] = [...this.lanes.keys()]): readonly string[] {
    const named = this.routes.get(alert.rule) ?? all;
    return named.filter((name) => {
      const lane = this.lanes.get(name);
      return lane !== undefined && RANK[alert.severity] >= RANK[lane.channel.common.minSeverity];
    });
  }

  /** The lanes of an alert of this rule and severity (channelsFor, remembered). */
  private lanesFor (rule: string, severity: Severity): readonly Lane[] {
    const rank = RANK[severity] as number | undefined;
    let bySeverity = this.routed.get(rule);
    let lanes = rank === undefined ? undefined : bySeverity?.[rank];
    if (lanes !== undefined) return lanes;
    lanes = this.channelsFor({ rule, severity } as Alert).map((name) => this.lanes.get(name)!);
    if (rank === undefined) return lanes;
    if (bySeverity === undefined) this.routed.set(rule, bySeverity = []);
    bySeverity[rank] = lanes;
    return lanes;
  }

  /**
   * Writes the alerts' entries to the outbox: the batch once, and per channel a bitmap of the
   * alerts it takes; resolves with how many entries once they are committed. `batch`: the
   * alerts as the handle sends them (packed with the shared codec, stored as they are, with
   * their ids, rules and severities beside them), or in-process, the alerts themselves.
   */
  async enqueue (batch: Pick<EnqueueMsg, 'alerts' | 'ids' | 'rules' | 'severities'> | readonly Alert[], trace?: string): Promise<number> {
    const given = Array.isArray(batch) ? batch as readonly Alert[] : undefined;
    const { alerts: bytes, ids, rules, severities } = given === undefined
      ? batch as Pick<EnqueueMsg, 'alerts' | 'ids' | 'rules' | 'severities'>
      : { alerts: disk.pack(given), ids: given.map((a) => a.id), rules: given.map((a) => a.rule), severities: given.map((a) => a.severity) };
    const count = ids.length;
    if (count > BATCH_MAX) throw new EngineError('VIGIL_ENGINE_FAILED', `an enqueue holds at most ${BATCH_MAX} alerts, got ${count}`);
    if (rules.length !== count || severities.length !== count) throw new EngineError('VIGIL_ENGINE_FAILED', `an enqueue names ${count} ids, ${rules.length} rules and ${severities.length} severities`);
    const now = this.clock.now();
    const rows = new Map<Lane, Uint8Array>();
    let entries = 0;
    for (let index = 0; index < count; index++) {
      for (const lane of this.lanesFor(rules[index]!, severities[index]!)) {
        if (!lane.reserve(ids[index]!)) continue;
        let bits = rows.get(lane);
        if (bits === undefined) rows.set(lane, bits = new Uint8Array(bitmapBytes(count)));
        setBit(bits, index);
        entries++;
      }
    }
    if (entries === 0) return 0;
    const id = this.outbox.nextBatch();
    if (trace !== undefined) {
      this.traces.set(id, trace);
      if (this.traces.size > MAX_TRACED_BATCHES) this.traces.delete(this.traces.keys().next().value!);
    }
    const byName = new Map<string, Uint8Array>();
    for (const [lane, bits] of rows) byName.set(lane.channel.name, bits);
    try {
      await this.outbox.append(id, now, bytes, byName, given);
    } catch (err) {
      for (const [lane, bits] of rows) for (let i = 0; i < count; i++) if (hasBit(bits, i)) lane.unreserve(ids[i]!);
      throw err;
    }
    for (const [lane, bits] of rows) lane.add(id, bits, now, true);
    return entries;
  }

  private bury (channel: string, entries: readonly LaneEntry[], error: string): void {
    const at = this.clock.now();
    // The lane has already let go of them; an entry whose move fails stays queued in LMDB and
    // is picked up again at the next start.
    this.outbox.bury(channel, entries.map((e) => ({ seq: e.seq, attempts: e.attempts })), error, at).catch(() => {});
  }

  deadLetters (): DeadLetter[] {
    return this.outbox.deadLetters().map((r) => ({
      id: `${r.channel}/${r.alert.id}`,
      channel: r.channel,
      alert: r.alert,
      enqueuedAt: new Date(r.enqueuedAt).toISOString(),
      deadAt: new Date(r.deadAt).toISOString(),
      attempts: r.attempts,
      error: r.error,
    }));
  }

  /** Puts dead letters back in their channel's queue: all, one (`<channel>/<alert id>`), or every channel's letter of one alert id. */
  async redrive (id?: string): Promise<number> {
    const back = await this.outbox.unbury(
      (r) => this.lanes.has(r.channel) && (id === undefined || id === r.alert.id || id === `${r.channel}/${r.alert.id}`),
      this.clock.now()
    );
    let count = 0;
    for (const row of back) {
      count += countBits(row.bits);
      this.lanes.get(row.channel)?.add(row.batch, row.bits, row.enqueuedAt, false);
    }
    return count;
  }

  stats (): NotifierStats {
    const channels: ChannelStats[] = [...this.lanes.values()].map((lane) => ({
      channel: lane.channel.name,
      type: lane.channel.type,
      target: lane.channel.target,
      minSeverity: lane.channel.common.minSeverity,
      queued: lane.queued,
      inFlight: lane.busy,
      delivered: lane.delivered,
      messages: lane.messages,
      failedAttempts: lane.failedAttempts,
      failures: lane.consecutiveFailures,
      deadLetters: this.outbox.deadCount(lane.channel.name),
      state: lane.state,
      ...(lane.lastError === undefined ? {} : { lastError: lane.lastError }),
      ...(lane.lastErrorAt === undefined ? {} : { lastErrorAt: new Date(lane.lastErrorAt).toISOString() }),
    }));
    return {
      queued: channels.reduce((n, c) => n + c.queued, 0),
      deadLetters: channels.reduce((n, c) => n + c.deadLetters, 0),
      channels,
    };
  }

  /** Stops delivery (waiting a little for messages under way), closes channels and the outbox. */
  async close (): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.lanes.values()].map((lane) => lane.close(this.graceMs)));
    await this.outbox.close();
  }
}

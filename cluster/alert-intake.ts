/**
 * The notifier role's intake: reads the alerts stream through the notifiers' shared durable
 * consumer and hands each alert, once per deployment, to what one notifier does with it: the
 * notification outbox and the block events (cluster-serve.ts). The alert history and the
 * blocklist are not written here: every notifier builds them from the streams
 * (history-replica.ts, block-replica.ts).
 *
 * Once: a shard rebuilt on another node raises its alerts again; the alerts stream drops the
 * copies within its duplicate window (an hour), and this intake drops older ones by id. Ids are
 * remembered for `retentionMs`. Nothing is lost: a batch of new alerts is written to the intake's
 * LMDB (ids seen + the batch, under a batch number) before the downstream writes, which are
 * idempotent by that number (block events by their message id); the batch is removed after them and the messages acknowledged
 * last. After a crash, batches still pending are handed downstream again on open.
 */
import { join } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { openEnv } from '../workers/lmdb-env.js';
import type { Alert } from '../core/alert.js';
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '../workers/nats-client.js';
import { disk } from '../workers/codec.js';
import { CONSUMER_EXPIRES_MS, REOPEN_MS, watchConsumer, type ClusterNames } from './jetstream.js';
import { SpanKind, contextFrom, messaging, startMerged, within, type Context, type Span } from './tracing.js';

/** What the node does with a batch of new alerts; must be idempotent for the same batch number. */
export type AlertSink = (batch: number, alerts: readonly Alert[], trace?: Context) => Promise<void>;

const encoder = disk;
const table = (root: RootDatabase, name: string): Database => root.openDB({ name, encoder, compression: false } as unknown as { name: string });
const PRUNE_EVERY_MS = 60_000;
const BATCH = 512;

export class AlertIntake {
  private readonly root: RootDatabase;
  private readonly seen: Database;
  private readonly pending: Database;
  private readonly meta: Database;
  private readonly sink: AlertSink;
  private readonly retentionMs: number;
  private messages: ConsumerMessages | undefined;
  private closed = false;
  private readonly log: (event: Record<string, unknown>) => void;
  private running: Promise<void> | undefined;
  private lastPrune = 0;
  /** alerts handed downstream, copies dropped */
  readonly counts = { alerts: 0, duplicates: 0 };

  private constructor (data: string, sink: AlertSink, retentionMs: number, log: (event: Record<string, unknown>) => void) {
    this.log = log;
    this.root = openEnv(join(data, 'intake'), { maxDbs: 4, compression: false, encoder });
    this.seen = table(this.root, 'seen');
    this.pending = table(this.root, 'pending');
    this.meta = table(this.root, 'meta');
    this.sink = sink;
    this.retentionMs = retentionMs;
  }

  /** Opens the intake and finishes the batches a crash left pending. */
  static async open (data: string, sink: AlertSink, retentionMs: number, log: (event: Record<string, unknown>) => void = () => undefined): Promise<AlertIntake> {
    const intake = new AlertIntake(data, sink, retentionMs, log);
    await intake.finishPending();
    return intake;
  }

  /** Hands downstream the batches written here but not finished (a crash, or a sink that failed). */
  private async finishPending (): Promise<void> {
    for (const { key, value } of this.pending.getRange({})) {
      await this.sink(key as number, value as Alert[]);
      await this.pending.remove(key);
    }
  }

  /** Starts reading the alerts stream with the notifiers' durable consumer (created when missing). */
  async start (js: JetStreamClient, jsm: JetStreamManager, names: ClusterNames): Promise<void> {
    try {
      await jsm.consumers.info(names.alertStream, names.notifierConsumer);
    } catch {
      await jsm.consumers.add(names.alertStream, {
        durable_name: names.notifierConsumer,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: 30_000_000_000,
        max_ack_pending: 4 * BATCH,
      }).catch(async (err: unknown) => {
        // Another notifier created it meanwhile.
        await jsm.consumers.info(names.alertStream, names.notifierConsumer).catch(() => { throw err; });
      });
    }
    this.running = this.supervise(js, names);
  }

  /**
   * Reads for as long as the intake is open: a consumer that ends (NATS gave up on it, its
   * stream was away) is opened again after a pause, and a batch that fails is not
   * acknowledged, so JetStream delivers it again. The intake never stops reading silently.
   */
  private async supervise (js: JetStreamClient, names: ClusterNames): Promise<void> {
    while (!this.closed) {
      try {
        const consumer = await js.consumers.get(names.alertStream, names.notifierConsumer);
        if (this.closed) return;
        this.messages = await consumer.consume({ max_messages: BATCH, expires: CONSUMER_EXPIRES_MS });
        const unwatch = watchConsumer(this.messages);
        try {
          await this.loop(this.messages);
        } finally {
          unwatch();
        }
        if (!this.closed) this.log({ warning: 'the alerts consumer ended; opening it again' });
      } catch (err) {
        if (!this.closed) this.log({ error: `the alerts consumer failed, opening it again: ${err instanceof Error ? err.message : String(err)}` });
      }
      if (!this.closed) await new Promise((resolve) => setTimeout(resolve, REOPEN_MS));
    }
  }

  private async loop (messages: ConsumerMessages): Promise<void> {
    let batch: JsMsg[] = [];
    let flushing: Promise<void> = Promise.resolve();
    let scheduled = false;
    const flush = (): void => {
      scheduled = false;
      const msgs = batch;
      batch = [];
      flushing = flushing.then(async () => {
        try {
          await this.take(msgs);
        } catch (err) {
          // Not acknowledged: JetStream delivers them again.
          this.log({ error: `alerts not taken, to be delivered again: ${err instanceof Error ? err.message : String(err)}` });
          for (const m of msgs) m.nak(REOPEN_MS);
        }
      });
    };
    for await (const m of messages) {
      batch.push(m);
      if (batch.length >= BATCH) flush();
      else if (!scheduled) { scheduled = true; setImmediate(flush); }
    }
    if (batch.length > 0) flush();
    await flushing;
  }

  /** Hands a batch of messages' new alerts downstream, then acknowledges them all. */
  async take (msgs: readonly JsMsg[]): Promise<void> {
    if (msgs.length === 0) return;
    const subject = msgs[0]!.subject;
    // One span per intake batch: the child of the first alert's span, linked to every alert's.
    const span = startMerged(`process ${subject}`, SpanKind.CONSUMER, msgs.map((m) => contextFrom(m.headers)), messaging('process', subject, msgs.length));
    try {
      await this.takeIn(msgs, span);
    } finally {
      span.end();
    }
  }

  private async takeIn (msgs: readonly JsMsg[], span: Span): Promise<void> {
    // A batch whose sink failed earlier is finished first: its ids are already marked as seen.
    await this.finishPending();
    const fresh: Alert[] = [];
    const ids = new Set<string>();
    for (const m of msgs) {
      let alert: Alert;
      try {
        alert = JSON.parse(m.string()) as Alert;
      } catch {
        continue; // not an alert: acknowledged below, never redelivered forever
      }
      if (typeof alert.id !== 'string' || ids.has(alert.id) || this.seen.get(alert.id) !== undefined) { this.counts.duplicates++; continue; }
      ids.add(alert.id);
      fresh.push(alert);
    }
    if (fresh.length > 0) {
      const now = Date.now();
      const number = await this.root.transaction(() => {
        const n = ((this.meta.get('batch') as number | undefined) ?? 0) + 1;
        this.meta.putSync('batch', n);
        for (const a of fresh) this.seen.putSync(a.id, now);
        this.pending.putSync(n, fresh);
        return n;
      });
      span.setAttributes({ 'vigil.alerts': fresh.length, 'vigil.duplicates': msgs.length - fresh.length });
      await this.sink(number, fresh, within(span));
      await this.pending.remove(number);
      this.counts.alerts += fresh.length;
      this.prune(now);
    }
    for (const m of msgs) m.ack();
  }

  private prune (now: number): void {
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    const cutoff = now - this.retentionMs;
    const old: string[] = [];
    for (const { key, value } of this.seen.getRange({})) if ((value as number) < cutoff) old.push(key as string);
    if (old.length > 0) this.root.transaction(() => { for (const k of old) this.seen.removeSync(k); }).catch(() => undefined);
  }

  async close (): Promise<void> {
    this.closed = true;
    await this.messages?.close();
    await this.running;
    await this.root.close();
  }
}

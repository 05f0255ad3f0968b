/**
 * `vigil serve` with `nats:` configured: one cluster node in the roles of `cluster.roles`
 * (coordinator, node, notifier; any combination), with the HTTP API of every node.
 *
 * - coordinator: records from `<prefix>.in` and `POST /v1/records` into the shard stream.
 * - node: leases on shards, lane actors, alerts into the alerts stream.
 * - notifier: the alerts stream, through the notifiers' shared consumer, into the notification
 *   outbox and the blocks stream (one block event per blocking alert); and, each notifier with
 *   its own position, the whole alerts stream into its alert history and the whole blocks
 *   stream into its blocklist (answering `<prefix>.blocks.check`): every notifier holds the
 *   same history and blocklist, so any of them can answer.
 *
 * `GET /v1/counters/…` and `/v1/risk/…` ask every node over `<prefix>.query` and take the
 * answer of the node holding the key; `/v1/alerts` and `/v1/blocks` are the notifier's (a
 * node without that role has none). Rules are reloaded by restarting the nodes with the new
 * file, all of them: lanes refuse state written under other rules.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { compileRules, rulesFingerprint, type CompiledRules } from '../core/compile.js';
import { ReloadUnsupportedError, RoleMissingError, UsageError } from '../core/errors.js';
import type { RiskReport } from '../core/engine.js';
import { jetstream, jetstreamManager, type NatsConnection } from '../workers/nats-client.js';
import { loadRules } from './rules-file.js';
import { buildApi, formatAddress, type NodeState, type RulesInfo } from './http-api.js';
import { Blocklist } from './blocklist.js';
import { AlertHistory } from './alert-history.js';
import { Metrics } from './metrics.js';
import { Notifications } from './notifier.js';
import { BlockCheckResponder } from './block-check.js';
import { aheadBound, watermarkAheadWarning, type ServeConfig } from './config.js';
import { clusterNames, ensureCluster, type ClusterNames } from './jetstream.js';
import { Coordinator } from './coordinator.js';
import { ShardNode } from './shard-node.js';
import { AlertIntake } from './alert-intake.js';
import { BlockReplica } from './block-replica.js';
import { followAlerts } from './history-replica.js';
import type { StreamFollower } from './stream-follower.js';
import { connectNats } from './nats-connect.js';
import { createLog } from './log.js';
import { startTelemetry, type Telemetry } from './telemetry.js';
import { listenThenOpen } from './serve-start.js';
import type { ServeOptions } from './serve.js';
import type { Receipt } from './stream.js';
import { DataFolderLock, startHolding } from '../workers/data-folder-lock.js';
import type { CounterReading } from '../core/engine.js';

const QUERY_WAIT_MS = 1_000;
/** How often the outbox depth shown by /metrics is refreshed. */
const OUTBOX_POLL_MS = 1_000;
/** How long a starting node waits for JetStream to answer its set-up calls. */
const JETSTREAM_WAIT_MS = 60_000;

/** The LMDB stores under a data folder and the size of each one's data file. */
function lmdbSizes (data: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const store of ['lanes', 'alerts', 'blocks', 'intake', 'notify']) {
    try {
      out.push([store, statSync(join(data, store, 'data.mdb')).size]);
    } catch {
      // not created: this node does not run the role that keeps it
    }
  }
  return out;
}

/** Why a cluster node keeps its rules when asked for others (PUT /v1/rules, SIGHUP). */
const CLUSTER_RELOAD = 'rules are not reloaded in place in a cluster: restart every node with the new rules file (each node migrates the counters of its lanes to them as it starts)';

export class ClusterServe {
  private state: NodeState = 'starting';
  private readonly config: ServeConfig;
  private readonly compiled: CompiledRules;
  private readonly rules: RulesInfo;
  private readonly names: ClusterNames;
  private readonly log: (event: Record<string, unknown>) => void;
  private readonly opts: ServeOptions;
  private readonly metrics = new Metrics();
  private readonly app: FastifyInstance;
  private readonly server: Server;
  private nc: NatsConnection | undefined;
  private coordinator: Coordinator | undefined;
  private node: ShardNode | undefined;
  private intake: AlertIntake | undefined;
  private history: AlertHistory | undefined;
  private folderLock: DataFolderLock | undefined;
  private blocklist: Blocklist | undefined;
  private blockReplica: BlockReplica | undefined;
  private historyReplica: StreamFollower | undefined;
  private notifications: Notifications | undefined;
  private blockChecks: BlockCheckResponder | undefined;
  private stopping: Promise<void> | undefined;
  private telemetry: Telemetry | undefined;
  private outboxPoll: NodeJS.Timeout | undefined;
  private outboxDepth = 0;
  private deadLetters = 0;
  private readonly failureListeners: Array<(err: unknown) => void> = [];

  private constructor (config: ServeConfig, opts: ServeOptions, compiled: CompiledRules, text: string) {
    this.config = config;
    this.compiled = compiled;
    this.log = opts.log ?? createLog();
    this.opts = opts;
    this.rules = { file: config.rules, fingerprint: rulesFingerprint(compiled.config), loaded: new Date().toISOString(), rules: compiled.config.rules.length, text };
    this.names = clusterNames(config.nats!.prefix);
    const noRole = (role: string): Error => new RoleMissingError(role);
    const { app, server } = buildApi({
      state: () => this.state,
      offer: async (items) => {
        if (this.coordinator === undefined) return { committed: Promise.reject(noRole('coordinator')) };
        return await this.coordinator.offer(items);
      },
      hasRule: (rule) => this.compiled.config.rules.some((r) => r.id === rule),
      counter: async (rule, key, ts) => await this.ask<CounterReading | null>({ kind: 'counter', rule, key, ts }, (v) => v !== null) ?? null,
      watermark: () => this.coordinator?.watermark ?? Date.now(),
      zone: () => this.compiled.zone,
      tokens: config.api.tokens,
      blocks: {
        get: (key) => this.blocklist?.get(key),
        list: (limit, after) => this.blocklist?.list(limit, after) ?? [],
        history: (key) => this.blocklist?.history(key) ?? [],
        // Counted when applied (onOwnChange), as every change published through this node.
        lift: async (key, by) => {
          if (this.blockReplica === undefined) throw noRole('notifier');
          return await this.blockReplica.lift(key, by, Date.now());
        },
      },
      alerts: { query: (q) => this.history?.query(q) ?? { alerts: [], next: null } },
      risk: async (key, ts) => await this.ask<RiskReport[]>({ kind: 'risk', key, ts }, (v) => v.length > 0) ?? [],
      deadLetters: {
        list: async () => await this.notifications?.deadLetters() ?? [],
        redrive: async (id) => await this.notifications?.redrive(id) ?? 0,
      },
      rules: {
        current: () => this.rules,
        reload: async () => { throw new ReloadUnsupportedError(CLUSTER_RELOAD); },
      },
      metrics: () => this.renderMetrics(),
    });
    this.app = app;
    this.server = server;
    this.metrics.beforeRead(() => { this.refreshGauges(); });
  }

  static async start (config: ServeConfig, opts: ServeOptions = {}): Promise<ClusterServe> {
    if (config.nats === undefined) throw new UsageError('a cluster node needs config.nats');
    // Before anything opens it: one process per folder, and a damaged LMDB file would crash
    // this one (data-folder-lock.ts, store-probe.ts).
    return await startHolding(config.data, `vigil serve, cluster node ${config.cluster.nodeId}`, (lock) => ClusterServe.startOn(config, opts, lock));
  }

  private static async startOn (config: ServeConfig, opts: ServeOptions, lock: DataFolderLock | undefined): Promise<ClusterServe> {
    const compiled = compileRules(loadRules(config.rules));
    const node = new ClusterServe(config, opts, compiled, readFileSync(config.rules, 'utf8'));
    node.folderLock = lock;
    // Before the first span or count; a wrong OTEL_* variable fails here (a usage error).
    node.telemetry = await startTelemetry(config.telemetry, node.metrics, { instanceId: config.cluster.nodeId, log: node.log });
    await listenThenOpen({ app: node.app, server: node.server, listen: config.listen, telemetry: node.telemetry, log: node.log }, async (address) => {
      await node.open();
      node.state = 'ready';
      return { ready: formatAddress(address), node: config.cluster.nodeId, roles: config.cluster.roles, shards: config.cluster.shards, held: node.node?.held.length ?? 0 };
    }, () => node.close());
    return node;
  }

  private async open (): Promise<void> {
    const { config } = this;
    const cluster = config.cluster;
    mkdirSync(config.data, { recursive: true });
    const nc = await connectNats(config.nats!, `vigil-${cluster.nodeId}`);
    this.nc = nc;
    const jsm = await this.untilJetStream(() => jetstreamManager(nc));
    const js = jetstream(nc);
    const kv = await this.untilJetStream(() => ensureCluster(nc, jsm, this.names, { replicas: cluster.replicas, retentionMs: cluster.retentionMs, leaseMs: cluster.leaseMs }));
    const roles = new Set(cluster.roles);
    if (roles.has('notifier')) {
      this.history = new AlertHistory(config.data, config.alertRetentionMs);
      const blocklist = this.blocklist = Blocklist.open(config.data);
      if (this.compiled.config.channels.size > 0) {
        this.notifications = await Notifications.open({ config: this.compiled.config, dataPath: join(config.data, 'notify'), nats: config.nats });
      }
      const notifications = this.notifications;
      if (notifications !== undefined) {
        notifications.onDelivery = (d) => { this.metrics.count('vigil_deliveries_total', 'Delivery attempts by channel and result (delivered, failed).', 1, { channel: d.channel, result: d.result }); };
        this.outboxPoll = setInterval(() => {
          notifications.stats().then((st) => { this.outboxDepth = st.queued; this.deadLetters = st.deadLetters; }, () => undefined);
        }, OUTBOX_POLL_MS);
        this.outboxPoll.unref();
      }
      const rules = this.compiled.config.rules;
      // Caught up with the blocks stream before it answers blocks.check (below) or says ready.
      const replica = this.blockReplica = await BlockReplica.start({
        js,
        jsm,
        names: this.names,
        blocklist,
        nodeId: cluster.nodeId,
        onOwnChange: (change) => { this.metrics.blockChanges([change]); },
        log: this.log,
      });
      this.historyReplica = followAlerts({ js, names: this.names, history: this.history, retentionMs: config.alertRetentionMs, log: this.log });
      // The shared consumer hands each alert to one notifier: counted there, so the sum of
      // vigil_alerts_total over the notifiers counts each alert once.
      this.intake = await AlertIntake.open(config.data, async (_batch, alerts, trace) => {
        this.metrics.epoch(0, 0, [], alerts);
        const notify = alerts.filter((a) => a.shadow !== true);
        if (notifications !== undefined && notify.length > 0) await notifications.enqueue(notify, trace);
        await replica.publishBlocks(alerts, rules, Date.now());
      }, config.alertRetentionMs, this.log);
      await this.intake.start(js, jsm, this.names);
      this.blockChecks = await BlockCheckResponder.start(nc, this.names.subjects.blocksCheck, (key) => blocklist.get(key));
    }
    if (roles.has('node')) {
      this.node = await ShardNode.start({
        nc,
        js,
        jsm,
        kv,
        names: this.names,
        compiled: this.compiled,
        nodeId: cluster.nodeId,
        shards: cluster.shards,
        leaseMs: cluster.leaseMs,
        dataPath: join(config.data, 'lanes'),
        actors: config.threads,
        log: this.log,
        metrics: this.metrics,
        ...(this.opts.withdrawMs === undefined ? {} : { withdrawMs: this.opts.withdrawMs }),
        ...(this.opts.laneWorkerFile === undefined ? {} : { laneWorkerFile: this.opts.laneWorkerFile }),
      });
    }
    if (roles.has('coordinator')) {
      // Counted where both inputs meet, so records on <prefix>.in count as POSTed ones do.
      const onCommitted = (offered: number, receipt: Receipt, seconds: number): void => {
        this.metrics.epoch(offered, receipt.accepted, receipt.rejects, []);
        this.metrics.observe('vigil_ingest_seconds', 'From a batch of records offered to a coordinator to JetStream holding all of them.', seconds);
      };
      this.coordinator = new Coordinator({ nc, js, names: this.names, compiled: this.compiled, shards: cluster.shards, id: cluster.nodeId, maxWaitMs: config.batch.maxWaitMs, ahead: aheadBound(config), onCommitted, onError: (what, err) => { this.log({ error: `coordinator: ${what} failed: ${err instanceof Error ? err.message : String(err)}` }); } });
      const watermark = await this.untilJetStream(() => this.coordinator!.restoreWatermark(jsm));
      const ahead = watermarkAheadWarning(watermark, `the shard stream ${this.names.shardStream}`, config, this.compiled.zone);
      if (ahead !== undefined) this.log(ahead);
      this.coordinator.listen();
      // The server has the queue subscription once a round trip is back: a started node takes its share.
      await nc.flush();
    }
  }

  /**
   * Runs a JetStream set-up call again while JetStream cannot answer yet (a cluster electing
   * its leader, a server restarting): nodes may start before NATS is ready, in any order. Other
   * errors, and a JetStream still silent after JETSTREAM_WAIT_MS, fail the start.
   */
  private async untilJetStream<T> (call: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + JETSTREAM_WAIT_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        if (!/timeout|no responders|503|not (yet )?(available|ready)|leader/i.test(why) || Date.now() > deadline) throw err;
        this.log({ waiting_for_jetstream: why, attempt });
        await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * attempt)));
      }
    }
  }

  /**
   * Asks every node over `<prefix>.query` and resolves with the first answer that `found`
   * accepts (the node holding the key); undefined when none has it.
   */
  private async ask<T> (query: object, found: (value: T) => boolean): Promise<T | undefined> {
    const nc = this.nc;
    if (nc === undefined) return undefined;
    const replies = await nc.requestMany(this.names.subjects.query, JSON.stringify(query), { strategy: 'timer', maxWait: QUERY_WAIT_MS });
    for await (const msg of replies) {
      const answer = JSON.parse(msg.string()) as { value?: T };
      if (answer.value !== undefined && found(answer.value)) return answer.value;
    }
    return undefined;
  }

  /** Gauges read from live state, refreshed before every read of the metrics (`/metrics` and OTLP alike). */
  private refreshGauges (): void {
    const m = this.metrics;
    if (this.node !== undefined) {
      m.gauge('vigil_shards_held', 'Shards this node holds a lease on.', this.node.held.length);
      m.gauge('vigil_shard_lag_messages', 'Shard-stream messages published to the shards this node holds and not applied yet.', this.node.lag);
      m.gauge('vigil_node_withdrawn', 'Whether this node is out of the cluster because its commits kept failing (1; its shards are on the other nodes) or takes part (0).', this.node.withdrawn ? 1 : 0);
      m.gauge('vigil_node_records_applied', 'Records applied by this node\'s lanes since it started.', this.node.counts.records);
      this.node.mailboxDepths.forEach((depth, actor) => { m.gauge('vigil_actor_mailbox_depth', 'Messages sent to a lane actor and not answered yet (in its thread or waiting for room).', depth, { actor: String(actor) }); });
    }
    if (this.coordinator !== undefined) {
      m.gauge('vigil_coordinator_records_published', 'Records this coordinator published to the shard stream since it started (a record feeding spanning counters counts once per shard).', this.coordinator.counts.published);
    }
    if (this.notifications !== undefined) {
      m.gauge('vigil_outbox_depth', 'Notification outbox entries (alert, channel) not delivered yet.', this.outboxDepth);
      m.gauge('vigil_dead_letters', 'Notification dead letters.', this.deadLetters);
    }
    for (const [store, bytes] of lmdbSizes(this.config.data)) m.gauge('vigil_lmdb_bytes', 'Size of the LMDB files of this node\'s data folder, by store.', bytes, { store });
    if (this.blocklist !== undefined && this.blockReplica !== undefined) {
      // Equal on notifiers in step: one behind the others answers blocks.check from an older blocklist.
      m.gauge('vigil_block_events_applied', 'The sequence of the last blocks-stream event this notifier\'s blocklist has applied.', this.blocklist.appliedSeq());
    }
    if (this.intake !== undefined) {
      m.gauge('vigil_alert_duplicates_dropped', 'Alert copies the notifier intake dropped by id since it started.', this.intake.counts.duplicates);
    }
  }

  private renderMetrics (): string {
    return this.metrics.render({ blocks: this.blocklist?.count() ?? 0, ready: this.state === 'ready' });
  }

  get address (): AddressInfo { return this.server.address() as AddressInfo; }

  /** The shards this node holds (empty without the node role). */
  get held (): number[] { return this.node?.held ?? []; }

  onFailure (listener: (err: unknown) => void): void {
    this.failureListeners.push(listener);
  }

  /** SIGHUP: a cluster node does not reload rules in place (see the 405 of PUT /v1/rules); it says so and runs on. */
  async reloadRulesFile (): Promise<void> {
    this.log({ reload_failed: `${this.config.rules}: ${CLUSTER_RELOAD}; the active rules stay` });
  }

  stop (): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'stopping';
      this.log({ stopping: true });
      // As the embedded node: the port stays open until what was taken is held by JetStream
      // (POSTs still waiting get their 202), and new POSTs and /readyz hear 503 with
      // Retry-After meanwhile, which a refused connection does not say. close() then stops
      // the producers for good.
      await this.coordinator?.flush().catch(() => undefined);
      await this.close();
      this.log({ stopped: true });
    })();
    return this.stopping;
  }

  private async close (): Promise<void> {
    if (this.outboxPoll !== undefined) clearInterval(this.outboxPoll);
    this.server.close();
    this.server.closeAllConnections();
    try {
      // Producers first, so what was taken reaches the stream; then the lanes hand their leases back.
      await this.coordinator?.close().catch(() => undefined);
      await this.node?.close().catch((err: unknown) => { this.log({ error: `closing the node role: ${String(err)}` }); });
      await this.intake?.close().catch(() => undefined);
      await this.blockReplica?.close().catch(() => undefined);
      await this.historyReplica?.close().catch(() => undefined);
      await this.blockChecks?.close().catch(() => undefined);
      await this.notifications?.close().catch(() => undefined);
      // The last spans and metrics go out while the stores the gauges read are still open.
      await this.telemetry?.shutdown();
      await this.blocklist?.close();
      await this.history?.close();
      await this.nc?.drain().catch(() => undefined);
    } finally {
      // Last, once nothing of this process writes to the folder; also when a close failed.
      this.folderLock?.release();
    }
  }
}

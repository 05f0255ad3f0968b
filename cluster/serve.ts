/**
 * `vigil serve`: one node in one process, the embedded default. Wires the HTTP API
 * (http-api.ts) to the streaming pipeline (stream.ts) over the embedded engine (shard actors
 * on worker threads, counters in LMDB under `data`), with alerts and rejects as JSON lines,
 * the alert history and the blocklist beside the counters, and rules reloaded in place.
 * Logs one JSON line per event to standard error (log.ts: pino, with level, time and the active
 * span's ids before the event's keys): {"listening":"HOST:PORT"} once the port is open (readyz
 * says 503 until the engine is open), {"telemetry":…} when OpenTelemetry exports, {"ready":…},
 * {"reloaded":…}, {"stopping":…}, {"stopped":…}. With `telemetry:` (or OTEL_* variables) naming
 * an endpoint, its metrics also go there over OTLP (telemetry.ts), exported a last time on stop.
 *
 * Restarted on the same data folder, a node continues the epoch numbers and counters where
 * the last checkpoint left them (see EpochStream.start for epochs committed after it).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { compileRules, rulesFingerprint, type CompiledRules } from '../core/compile.js';
import { Ingest } from '../core/ingest.js';
import { InvalidRulesError, RefusedError, ReloadFailedError, formatDiagnostic } from '../core/errors.js';
import { parseChannelSpecs } from '../core/channel-settings.js';
import type { RulesConfig } from '../core/rules-config.js';
import type { Reject } from '../core/usage-record.js';
import { LmdbStore } from '../workers/store.js';
import { DataFolderLock, startHolding } from '../workers/data-folder-lock.js';
import { loadRules } from './rules-file.js';
import { otherRulesError } from './data-folder.js';
import { migrateStore, migratedEvent } from './store-migration.js';
import { CheckpointStore } from './checkpoint.js';
import { EmbeddedEngine, describeRestart, type EpochResult } from './embedded.js';
import { LineWriter } from './output.js';
import { EpochStream, LineSink, type EpochSink, type OutputMark } from './stream.js';
import type { Epoch } from './replay.js';
import { buildApi, formatAddress, type NodeState, type ReloadResult, type RulesInfo } from './http-api.js';
import { Blocklist } from './blocklist.js';
import { AlertHistory } from './alert-history.js';
import { Metrics } from './metrics.js';
import { createLog } from './log.js';
import { startTelemetry, type Telemetry } from './telemetry.js';
import { listenThenOpen } from './serve-start.js';
import { Notifications, channelBaseDir } from './notifier.js';
import { BlockCheckResponder } from './block-check.js';
import { connectNats } from './nats-connect.js';
import type { NatsConnection } from '../workers/nats-client.js';
import { subjects } from './subjects.js';
import { NotUtf8FileError, readUtf8File } from './utf8-text.js';
import { limitsOnlyChange, type LimitChanges } from '../core/limits-change.js';
import { commitPendingRules, dropPendingRules, migrateRow, parseRulesText, planMigration, recoverPendingRules, writePendingRules } from './reload.js';
import { aheadBound, watermarkAheadWarning, type ServeConfig } from './config.js';

/** Shards of a new data folder; a folder keeps the count it was written with. */
const DEFAULT_SHARDS = 64;
/** How long a stopping node waits for clients still sending a body before it cuts them off. */
const STOP_GRACE_MS = 10_000;

export interface ServeOptions {
  /** one JSON-able event per call (default: createLog(), a JSON line on standard error) */
  readonly log?: (event: Record<string, unknown>) => void;
  /** for tests: the shard actor thread module */
  readonly workerFile?: string;
  /** for tests, cluster nodes: the lane actor thread module (ShardNodeOptions.laneWorkerFile) */
  readonly laneWorkerFile?: string;
  /** for tests, cluster nodes: the first withdrawal's length (ShardNodeOptions.withdrawMs; 30 s by default) */
  readonly withdrawMs?: number;
}

/**
 * The state a data folder holds besides the counters: where its actors and its checkpoint
 * stand. A folder written under other rules (the rules file edited while the node was
 * stopped) is migrated to `compiled` as a reload would (`migrated`), when it keeps the rules it
 * was written with; one written by an older Vigil, which does not, is refused.
 */
async function readFolder (data: string, compiled: CompiledRules, shards: number): Promise<{ applied: number, watermark: number, migrated?: Record<string, unknown> }> {
  const store = new LmdbStore(data);
  try {
    const migrated = await migrateStore(store, compiled, shards);
    if (migrated === 'rules not kept') throw otherRulesError('config.data', data, store.fingerprint() ?? '', rulesFingerprint(compiled.config));
    const all = Array.from({ length: shards }, (_, s) => s);
    let applied = 0;
    for (const s of all) applied = Math.max(applied, store.epochOf(s));
    return { applied, watermark: store.meta(all)?.watermark ?? -Infinity, ...(typeof migrated === 'string' ? {} : { migrated: migratedEvent(data, migrated) }) };
  } finally {
    await store.close();
  }
}

/**
 * Refuses a `file` channel that writes the node's alerts or rejects file: two writers of one
 * file interleave their lines, and a restart cuts the file back to the node's checkpoint. The
 * channel's path resolves as the notifier resolves it, against the rules file's folder.
 */
export function refuseSharedFiles (config: Pick<ServeConfig, 'alerts' | 'rejects'>, rules: Pick<RulesConfig, 'channels' | 'file'>): void {
  const base = channelBaseDir(rules);
  const outputs = [['config.alerts', 'alerts', config.alerts], ['config.rejects', 'rejects', config.rejects]] as const;
  for (const { name, settings } of parseChannelSpecs(rules.channels)) {
    if (settings.type !== 'file') continue;
    const path = resolve(base, settings.path);
    for (const [setting, what, file] of outputs) {
      if (file === undefined || resolve(file) !== path) continue;
      throw new RefusedError(`channels.${name}.path and ${setting} are the same file ${path}: the channel and the node's ${what} would both write it and corrupt it; give one of them another file`);
    }
  }
}

/** A reload that committed its counters but died before renaming the rules file is finished here. */
async function finishInterruptedReload (config: ServeConfig): Promise<void> {
  if (!existsSync(config.data)) return;
  const store = new LmdbStore(config.data);
  let fingerprint: string | undefined;
  try {
    fingerprint = store.fingerprint();
  } finally {
    await store.close();
  }
  recoverPendingRules(config.rules, fingerprint);
}

/**
 * Where a committed epoch's output goes: the alerts and rejects files, the metrics, the alert
 * history and the blocklist. The LMDB writes run in the background; the checkpoint waits for
 * them (settled), so an acknowledged record's alerts and blocks are durable.
 */
class NodeSink implements EpochSink {
  private readonly lines: LineSink;
  private readonly node: ServeNode;
  private readonly pending = new Set<Promise<unknown>>();

  constructor (lines: LineSink, node: ServeNode) {
    this.lines = lines;
    this.node = node;
  }

  write (epoch: Epoch, result: EpochResult, rejects: readonly Reject[]): OutputMark {
    const mark = this.lines.write(epoch, result, rejects);
    const alerts = result.alerts.map((a) => a.alert);
    const now = Date.now();
    const { metrics, history, blocklist, notifications } = this.node.parts();
    metrics.epoch(epoch.size, epoch.size - rejects.length, rejects, alerts);
    this.track(history.recordEpoch(epoch.number, alerts, now));
    // Into the notification outbox before the checkpoint: an acknowledged record's alerts are
    // durably on their way. A re-sent epoch enqueues again; the outbox keeps each alert once.
    const notify = alerts.filter((a) => a.shadow !== true);
    if (notifications !== undefined && notify.length > 0) this.track(notifications.enqueue(notify));
    this.track(blocklist.recordEpoch(epoch.number, alerts, this.node.rulesConfig().rules, now).then((changes) => { metrics.blockChanges(changes); }));
    return mark;
  }

  private track (p: Promise<unknown>): void {
    this.pending.add(p);
    p.then(() => this.pending.delete(p), () => undefined);
  }

  /** Resolves once every write started so far is committed; rejects if one failed. */
  async settled (): Promise<void> {
    await Promise.all([...this.pending]);
  }
}

export class ServeNode {
  private state: NodeState = 'starting';
  private readonly app: FastifyInstance;
  private readonly server: Server;
  private readonly log: (event: Record<string, unknown>) => void;
  private readonly config: ServeConfig;
  private readonly opts: ServeOptions;
  private compiled: CompiledRules;
  private rules: RulesInfo;
  private ingest: Ingest;
  private shards = DEFAULT_SHARDS;
  private engine: EmbeddedEngine | undefined;
  private stream: EpochStream | undefined;
  private checkpoints: CheckpointStore | undefined;
  private blocklist: Blocklist | undefined;
  /** the notification actor; absent when the rules define no channel */
  private notifications: Notifications | undefined;
  /** answers `<prefix>.blocks.check` when the config names NATS servers */
  private blockChecks: BlockCheckResponder | undefined;
  /** the block checks' connection (config.nats: servers, credentials, TLS); closed after them */
  private natsConnection: NatsConnection | undefined;
  private history: AlertHistory | undefined;
  private folderLock: DataFolderLock | undefined;
  private readonly metrics = new Metrics();
  /** OpenTelemetry export; a no-op without an endpoint */
  private telemetry: Telemetry | undefined;
  private writers: LineWriter[] = [];
  private stopping: Promise<void> | undefined;
  /** reloads one at a time; counter reads wait while the actors are swapped */
  private reloads: Promise<unknown> = Promise.resolve();
  private swapping: Promise<unknown> | undefined;
  private readonly failureListeners: Array<(err: unknown) => void> = [];
  private readonly active = new Set<Promise<void>>();

  private constructor (config: ServeConfig, opts: ServeOptions, compiled: CompiledRules, text: string) {
    this.config = config;
    this.opts = opts;
    this.log = opts.log ?? createLog();
    // Read live at every /metrics request and every OTLP export alike.
    this.metrics.beforeRead(() => {
      this.metrics.gauge('vigil_blocks', '', this.blocklist?.count() ?? 0);
      this.metrics.gauge('vigil_ready', '', this.state === 'ready' ? 1 : 0);
    });
    this.compiled = compiled;
    this.rules = rulesInfo(config.rules, compiled, text);
    this.ingest = new Ingest(compiled, aheadBound(config));
    const { app, server } = buildApi({
      state: () => this.state,
      offer: (items) => this.stream!.offer(items),
      hasRule: (rule) => this.compiled.config.rules.some((r) => r.id === rule),
      counter: async (rule, key, ts) => {
        await this.swapping;
        return await this.engine!.counter(rule, key, ts);
      },
      watermark: () => this.ingest.watermark,
      zone: () => this.compiled.zone,
      tokens: config.api.tokens,
      blocks: {
        get: (key) => this.blocklist!.get(key),
        list: (limit, after) => this.blocklist!.list(limit, after),
        history: (key) => this.blocklist!.history(key),
        lift: async (key, by) => {
          const change = await this.blocklist!.lift(key, by, Date.now());
          if (change !== undefined) this.metrics.blockChanges([change]);
          return change;
        },
      },
      alerts: { query: (q) => this.history!.query(q) },
      risk: async (key, ts) => {
        await this.swapping;
        return await this.engine!.risk(key, ts);
      },
      // Through the node's own notifier: the outbox belongs to its thread.
      deadLetters: {
        list: async () => await this.notifications?.deadLetters() ?? [],
        redrive: async (id) => await this.notifications?.redrive(id) ?? 0,
      },
      rules: { current: () => this.rules, reload: (text) => this.reload(text) },
      metrics: () => this.metrics.render(),
    });
    this.app = app;
    this.server = server;
  }

  /**
   * Opens the port, then the engine; resolves once the node takes records. Throws UsageError
   * for a config the node cannot run with (exit 2), anything else for an engine failure.
   */
  static async start (config: ServeConfig, opts: ServeOptions = {}): Promise<ServeNode> {
    // Before anything opens it: one process per folder, and a damaged LMDB file would crash
    // this one (data-folder-lock.ts, store-probe.ts).
    return await startHolding(config.data, 'vigil serve', (lock) => ServeNode.startOn(config, opts, lock));
  }

  private static async startOn (config: ServeConfig, opts: ServeOptions, lock: DataFolderLock | undefined): Promise<ServeNode> {
    // A folder the lock had to make holds no reload to finish, and gets no LMDB file before
    // the rules are known to be good.
    if (lock?.madeFolder !== true) await finishInterruptedReload(config);
    const compiled = compileRules(loadRules(config.rules));
    refuseSharedFiles(config, compiled.config);
    const node = new ServeNode(config, opts, compiled, readFileSync(config.rules, 'utf8'));
    node.folderLock = lock;
    // Before the first span or count; a wrong OTEL_* variable fails here (a usage error).
    node.telemetry = await startTelemetry(config.telemetry, node.metrics, { instanceId: config.cluster.nodeId, log: node.log });
    const { server } = node;
    // Requests are followed so that stopping can wait for answers still owed (bounded by STOP_GRACE_MS).
    const follow = (_req: unknown, res: ServerResponse): void => {
      const done = new Promise<void>((resolve) => { res.on('close', resolve); });
      node.active.add(done);
      done.then(() => node.active.delete(done), () => undefined);
    };
    server.prependListener('request', follow);
    server.prependListener('checkContinue', follow);
    await listenThenOpen({ app: node.app, server, listen: config.listen, telemetry: node.telemetry, log: node.log }, async (address) => {
      await node.open();
      node.state = 'ready';
      return { ready: formatAddress(address), epoch: node.stream!.checkpointed, threads: node.engine!.actors, shards: node.shards, data: config.data };
    }, () => node.close());
    return node;
  }

  private async open (): Promise<void> {
    const { config } = this;
    mkdirSync(config.data, { recursive: true });
    this.checkpoints = new CheckpointStore(config.data);
    const cp = this.checkpoints.read();
    this.shards = cp?.shards ?? DEFAULT_SHARDS;
    const folder = await readFolder(config.data, this.compiled, this.shards);
    if (folder.migrated !== undefined) this.log(folder.migrated);
    this.ingest.watermark = Math.max(cp?.watermark ?? -Infinity, folder.watermark);
    const ahead = watermarkAheadWarning(this.ingest.watermark, `the data folder ${config.data}`, config, this.compiled.zone);
    if (ahead !== undefined) this.log(ahead);
    this.blocklist = Blocklist.open(config.data);
    this.history = new AlertHistory(config.data, config.alertRetentionMs);
    this.notifications = await this.openNotifications(this.compiled);
    if (config.nats !== undefined) {
      const blocklist = this.blocklist;
      const nc = this.natsConnection = await connectNats(config.nats, 'vigil-blocks');
      this.blockChecks = await BlockCheckResponder.start(nc, subjects(config.nats.prefix).blocksCheck, (key) => blocklist.get(key));
    }
    this.engine = this.makeEngine(this.compiled);
    const alerts = new LineWriter(config.alerts, cp?.alertsBytes ?? 0);
    this.writers.push(alerts);
    const rejects = config.rejects === undefined ? undefined : new LineWriter(config.rejects, cp?.rejectsBytes ?? 0);
    if (rejects !== undefined) this.writers.push(rejects);
    const checkpoints = this.checkpoints;
    const sink = new NodeSink(new LineSink(alerts, rejects), this);
    this.stream = new EpochStream({
      engine: this.engine,
      ingest: this.ingest,
      sink,
      checkpoint: async (c) => {
        await sink.settled();
        await checkpoints.write(c);
      },
      shards: this.shards,
      checkpointed: cp?.epoch ?? 0,
      maxRecords: config.batch.maxRecords,
      maxWaitMs: config.batch.maxWaitMs,
    });
    await this.stream.start(folder.applied);
    this.stream.onFailure((err) => { this.failed(err); });
  }

  /**
   * The notification actor on its own thread, its outbox in `<data>/notify`. `nats` channels
   * publish to the config's `nats` (its servers, with its credentials and TLS); without it their
   * deliveries retry and end in the dead letters, which the README says.
   */
  private async openNotifications (compiled: CompiledRules): Promise<Notifications | undefined> {
    if (compiled.config.channels.size === 0) return undefined;
    return await Notifications.open({ config: compiled.config, dataPath: join(this.config.data, 'notify'), nats: this.config.nats });
  }

  private makeEngine (compiled: CompiledRules): EmbeddedEngine {
    return new EmbeddedEngine({
      config: compiled.config,
      compiled,
      dataPath: this.config.data,
      actors: this.config.threads,
      shards: this.shards,
      ...(this.opts.workerFile === undefined ? {} : { workerFile: this.opts.workerFile }),
      // The records of the epochs it held wait (unacknowledged) and are applied once it is back.
      onRestart: (e) => { this.log({ warning: describeRestart(e), actor: e.actor, failures: e.failures }); },
      onThreadError: (actor, err) => { this.log({ warning: `shard actor ${actor}'s thread failed outside a message and is restarted from its last commit: ${err.message}`, actor }); },
    });
  }

  /** For the sink: the stores and counters an epoch's output goes to. */
  parts (): { metrics: Metrics, history: AlertHistory, blocklist: Blocklist, notifications: Notifications | undefined } {
    return { metrics: this.metrics, history: this.history!, blocklist: this.blocklist!, notifications: this.notifications };
  }

  rulesConfig (): CompiledRules['config'] {
    return this.compiled.config;
  }

  get address (): AddressInfo { return this.server.address() as AddressInfo; }

  /** Calls `listener` when the engine fails; the node is then stopping on its own. */
  onFailure (listener: (err: unknown) => void): void {
    this.failureListeners.push(listener);
  }

  /**
   * Validates `text` as the rules file and makes it the active rules without losing a record:
   * see reload.ts for what state is kept. Throws InvalidRulesError (nothing changed),
   * ReloadFailedError (nothing changed, the old rules stay active), or an engine failure.
   */
  reload (text: string): Promise<ReloadResult> {
    const run = this.reloads.then(() => this.reloadNow(text));
    this.reloads = run.catch(() => undefined);
    return run;
  }

  /**
   * SIGHUP: reloads the rules file from disk, as `PUT /v1/rules` would with the file's text,
   * so that an edited file, or a list file it names (a hotlist refreshed nightly), is taken
   * without a restart. Rules it cannot take change nothing: it logs why (every problem as
   * FILE:LINE:COL) and the active rules stay. Never rejects: a signal has nobody to answer.
   */
  async reloadRulesFile (): Promise<void> {
    const file = this.config.rules;
    if (this.state !== 'ready') {
      this.log({ reload_skipped: `SIGHUP while the node is ${this.state}: the rules file is read again only by a ready node` });
      return;
    }
    let text: string;
    try {
      text = readUtf8File(file);
    } catch (err) {
      const why = err instanceof NotUtf8FileError ? err.message : `${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
      this.log({ reload_failed: `${why}; the active rules stay` });
      return;
    }
    try {
      await this.reload(text);
    } catch (err) {
      if (err instanceof InvalidRulesError) {
        const n = err.diagnostics.length;
        this.log({ reload_failed: `${file} is not valid (${n} problem${n === 1 ? '' : 's'}); the active rules stay`, problems: err.diagnostics.map(formatDiagnostic) });
      } else if (err instanceof RefusedError || err instanceof ReloadFailedError) {
        // Both leave the active rules in place (ReloadFailedError's message says so itself).
        this.log({ reload_failed: err instanceof RefusedError ? `${err.message}; the active rules stay` : err.message });
      } else {
        this.log({ error: `reloading ${file}: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
  }

  private async reloadNow (text: string): Promise<ReloadResult> {
    const file = this.config.rules;
    const compiled = compileRules(parseRulesText(text, file));
    refuseSharedFiles(this.config, compiled.config);
    const fingerprint = rulesFingerprint(compiled.config);
    const from = this.compiled;
    const plan = planMigration(from, compiled);
    const result: ReloadResult = { fingerprint, rules: compiled.config.rules.length, kept_counters: plan.kept, dropped_counters: plan.dropped };
    if (fingerprint === this.rules.fingerprint) {
      // The same rules in other words (comments, order of keys): nothing to restart.
      writePendingRules(file, text);
      commitPendingRules(file);
      this.compiled = compiled;
      this.rules = rulesInfo(file, compiled, text);
      this.log({ reloaded: fingerprint, restarted: false });
      return result;
    }
    const stream = this.stream!;
    const changes = limitsOnlyChange(from.config, compiled.config);
    if (changes !== undefined) {
      await this.relimitNow(changes, compiled, text, from);
      return result;
    }
    await this.swap(async () => {
      await this.engine!.close();
      writePendingRules(file, text);
      try {
        const store = new LmdbStore(this.config.data);
        try {
          await store.migrate(Array.from({ length: this.shards }, (_, s) => s), fingerprint, (row) => migrateRow(plan, compiled, row), compiled.config);
        } finally {
          await store.close();
        }
      } catch (err) {
        // The migration is one transaction: the folder still holds the old rules' state.
        dropPendingRules(file);
        this.engine = this.makeEngine(from);
        stream.use(this.engine, this.ingest);
        throw new ReloadFailedError(`the counters could not be migrated to the new rules (${err instanceof Error ? err.message : String(err)}); the rules that were active stay active`, { cause: err });
      }
      commitPendingRules(file);
      this.engine = this.makeEngine(compiled);
      const ingest = this.takeRules(compiled, text);
      // Channels and each rule's `notify` may have changed; the outbox stays where it is.
      await this.notifications?.close();
      this.notifications = await this.openNotifications(compiled);
      stream.use(this.engine, ingest);
    });
    this.metrics.reloaded();
    this.log({ reloaded: fingerprint, restarted: true, epoch: stream.checkpointed, kept_counters: plan.kept, dropped_counters: plan.dropped });
    return result;
  }

  /**
   * A reload that changes only per-key limits (a credit-limit update), in place: between two
   * epochs the actors take the new limits (the changed keys' open windows take the limit they
   * would have opened with), and their changed rows go to the folder with the new rules in one
   * transaction, between the two steps of the rules file (see reloadNow). Nothing restarts, and
   * records wait only for that: at a million keys it took 1.7 restarts' time the other way.
   * If the store fails, the actors start again from the folder, which holds the old rules' state.
   */
  private async relimitNow (changes: LimitChanges, compiled: CompiledRules, text: string, from: CompiledRules): Promise<void> {
    const file = this.config.rules;
    const stream = this.stream!;
    const fingerprint = rulesFingerprint(compiled.config);
    await this.swap(async () => {
      const engine = this.engine!;
      writePendingRules(file, text);
      try {
        const rows = await engine.relimit(changes, compiled.config);
        const store = new LmdbStore(this.config.data);
        try {
          await store.putRows(rows, fingerprint, compiled.config);
        } finally {
          await store.close();
        }
      } catch (err) {
        dropPendingRules(file);
        await engine.close();
        this.engine = this.makeEngine(from);
        stream.use(this.engine, this.ingest);
        throw new ReloadFailedError(`the new limits could not be stored (${err instanceof Error ? err.message : String(err)}); the rules that were active stay active`, { cause: err });
      }
      commitPendingRules(file);
      stream.use(engine, this.takeRules(compiled, text));
      await engine.adopt(compiled.config);
    });
    let keys = 0;
    for (const changed of changes.keys.values()) keys += changed.size;
    const rules = new Set([...changes.keys.keys(), ...changes.rules.keys()]).size;
    this.metrics.reloaded();
    this.log({ reloaded: fingerprint, restarted: false, limits_changed: { rules, keys } });
  }

  /** Runs a reload's `task` between two epochs (records wait); counter reads wait for it too. */
  private async swap (task: () => Promise<void>): Promise<void> {
    const swap = this.stream!.pause(task);
    this.swapping = swap.catch(() => undefined);
    try {
      await swap;
    } finally {
      this.swapping = undefined;
    }
  }

  /** Makes `compiled` the node's rules; resolves with the ingest for them, which goes on from the watermark. */
  private takeRules (compiled: CompiledRules, text: string): Ingest {
    const ingest = new Ingest(compiled, aheadBound(this.config));
    ingest.watermark = this.ingest.watermark;
    this.compiled = compiled;
    this.ingest = ingest;
    this.rules = rulesInfo(this.config.rules, compiled, text);
    return ingest;
  }

  /**
   * Stops taking records, commits and acknowledges what was taken, closes the actors. Idempotent.
   */
  stop (): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown (): Promise<void> {
    this.state = 'stopping';
    this.log({ stopping: true });
    // The port stays open until what was taken is committed: meanwhile new POSTs and /readyz
    // hear 503 with Retry-After (send elsewhere, ask again), which a refused connection does not say.
    let error: unknown;
    try {
      // Records already offered are committed; POSTs still sending a body get 503 once read.
      await this.stream?.drain();
    } catch (err) {
      error = err;
    }
    await Promise.race([
      Promise.all([...this.active]),
      new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref()),
    ]);
    this.server.close();
    this.server.closeAllConnections();
    const epoch = this.stream?.checkpointed;
    await this.close();
    this.log({ stopped: true, epoch });
    if (error !== undefined) throw error;
  }

  private failed (err: unknown): void {
    this.log({ error: `engine failure: ${err instanceof Error ? err.message : String(err)}` });
    for (const listener of this.failureListeners) listener(err);
  }

  private async close (): Promise<void> {
    // First, while the stores it reads are open: what was taken is committed by now (stop
    // drained the stream), so its last export carries the final counts.
    await this.telemetry?.shutdown();
    this.stream?.close();
    this.server.close();
    this.server.closeAllConnections();
    try {
      await this.engine?.close().catch(() => undefined);
      for (const w of this.writers) w.close();
      await this.blocklist?.close();
      await this.notifications?.close().catch(() => undefined);
      await this.blockChecks?.close().catch(() => undefined);
      // BlockCheckResponder leaves a connection it was given open.
      await this.natsConnection?.drain().catch(() => undefined);
      await this.history?.close();
      await this.checkpoints?.close();
    } finally {
      // Last, once nothing of this process writes to the folder; also when a close failed.
      this.folderLock?.release();
    }
  }
}

function rulesInfo (file: string, compiled: CompiledRules, text: string): RulesInfo {
  return { file, fingerprint: rulesFingerprint(compiled.config), loaded: new Date().toISOString(), rules: compiled.config.rules.length, text };
}

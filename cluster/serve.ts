/**
 * `vigil serve`: one node in one process, the embedded default. Wires the HTTP API
 * (http-api.ts) to the streaming pipeline (stream.ts) over the embedded engine (shard actors
 * on worker threads, counters in LMDB under `data`), with alerts and rejects as JSON lines.
 * Logs one JSON line per event to standard error: {"listening":"HOST:PORT"} once the port is
 * open (readyz says 503 until the engine is open), {"ready":…}, {"stopping":…}, {"stopped":…}.
 *
 * Restarted on the same data folder, a node continues the epoch numbers and counters where
 * the last checkpoint left them (see EpochStream.start for epochs committed after it).
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compileRules, rulesFingerprint } from '../core/compile.js';
import { Ingest } from '../core/ingest.js';
import { UsageError } from '../core/errors.js';
import { LmdbStore } from '../workers/store.js';
import { loadRules } from './rules-file.js';
import { CheckpointStore } from './checkpoint.js';
import { EmbeddedEngine } from './embedded.js';
import { LineWriter } from './output.js';
import { EpochStream, LineSink } from './stream.js';
import { Api, type NodeState } from './http-api.js';
import type { ServeConfig } from './config.js';

/** Shards of a new data folder; a folder keeps the count it was written with. */
const DEFAULT_SHARDS = 64;
/** How long a stopping node waits for clients still sending a body before it cuts them off. */
const STOP_GRACE_MS = 10_000;

export interface ServeOptions {
  /** one JSON-able event per call (default: a JSON line on standard error) */
  readonly log?: (event: Record<string, unknown>) => void;
  /** for tests: the shard actor thread module */
  readonly workerFile?: string;
}

function stderrLog (event: Record<string, unknown>): void {
  process.stderr.write(JSON.stringify(event) + '\n');
}

/** The state a data folder holds besides the counters: where its actors and its checkpoint stand. */
async function readFolder (data: string, fingerprint: string, shards: number): Promise<{ applied: number, watermark: number }> {
  const store = new LmdbStore(data);
  try {
    const written = store.fingerprint();
    if (written !== undefined && written !== fingerprint) {
      throw new UsageError(`config.data: the data folder ${data} holds counters of other rules (fingerprint ${written}, these rules ${fingerprint}); use another data folder, or the rules it was written with`);
    }
    const all = Array.from({ length: shards }, (_, s) => s);
    let applied = 0;
    for (const s of all) applied = Math.max(applied, store.epochOf(s));
    return { applied, watermark: store.meta(all)?.watermark ?? -Infinity };
  } finally {
    await store.close();
  }
}

export class ServeNode {
  private state: NodeState = 'starting';
  private readonly server: Server;
  private readonly log: (event: Record<string, unknown>) => void;
  private engine: EmbeddedEngine | undefined;
  private stream: EpochStream | undefined;
  private checkpoints: CheckpointStore | undefined;
  private writers: LineWriter[] = [];
  private stopping: Promise<void> | undefined;
  private readonly failureListeners: Array<(err: unknown) => void> = [];
  private readonly active = new Set<Promise<void>>();

  private constructor (server: Server, log: ServeNode['log']) {
    this.server = server;
    this.log = log;
  }

  /**
   * Opens the port, then the engine; resolves once the node takes records. Throws UsageError
   * for a config the node cannot run with (exit 2), anything else for an engine failure.
   */
  static async start (config: ServeConfig, opts: ServeOptions = {}): Promise<ServeNode> {
    const compiled = compileRules(loadRules(config.rules));
    const log = opts.log ?? stderrLog;
    const server = createServer({ keepAliveTimeout: 5_000 });
    const node = new ServeNode(server, log);
    const ingest = new Ingest(compiled);
    const api = new Api({
      state: () => node.state,
      offer: (items) => node.stream!.offer(items),
      hasRule: (rule) => compiled.config.rules.some((r) => r.id === rule),
      counter: (rule, key, ts) => node.engine!.counter(rule, key, ts),
      watermark: () => ingest.watermark,
      zone: compiled.zone,
    });
    // Requests are followed so that stopping can wait for answers still owed (bounded by STOP_GRACE_MS).
    const follow = (res: ServerResponse): void => {
      const done = new Promise<void>((resolve) => { res.on('close', resolve); });
      node.active.add(done);
      done.then(() => node.active.delete(done), () => undefined);
    };
    server.on('request', (req, res) => { follow(res); api.handle(req, res); });
    server.on('checkContinue', (req, res) => { follow(res); api.checkContinue(req, res); });

    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
        reject(new UsageError(`config.listen: cannot listen on ${config.listen.host}:${config.listen.port}: ${why}`));
      });
      server.listen(config.listen.port, config.listen.host, () => { resolve(); });
    });
    const address = server.address() as AddressInfo;
    log({ listening: formatAddress(address) });

    try {
      mkdirSync(config.data, { recursive: true });
      node.checkpoints = new CheckpointStore(config.data);
      const cp = node.checkpoints.read();
      const shards = cp?.shards ?? DEFAULT_SHARDS;
      const folder = await readFolder(config.data, rulesFingerprint(compiled.config), shards);
      ingest.watermark = Math.max(cp?.watermark ?? -Infinity, folder.watermark);
      node.engine = new EmbeddedEngine({
        config: compiled.config,
        compiled,
        dataPath: config.data,
        actors: config.threads,
        shards,
        ...(opts.workerFile === undefined ? {} : { workerFile: opts.workerFile }),
      });
      const alerts = new LineWriter(config.alerts, cp?.alertsBytes ?? 0);
      node.writers.push(alerts);
      const rejects = config.rejects === undefined ? undefined : new LineWriter(config.rejects, cp?.rejectsBytes ?? 0);
      if (rejects !== undefined) node.writers.push(rejects);
      const checkpoints = node.checkpoints;
      node.stream = new EpochStream({
        engine: node.engine,
        ingest,
        sink: new LineSink(alerts, rejects),
        checkpoint: (c) => checkpoints.write(c),
        shards,
        checkpointed: cp?.epoch ?? 0,
        maxRecords: config.batch.maxRecords,
        maxWaitMs: config.batch.maxWaitMs,
      });
      await node.stream.start(folder.applied);
      node.stream.onFailure((err) => { node.failed(err); });
      node.state = 'ready';
      log({ ready: formatAddress(address), epoch: node.stream.checkpointed, threads: node.engine.actors, shards, data: config.data });
    } catch (err) {
      await node.close();
      throw err;
    }
    return node;
  }

  get address (): AddressInfo { return this.server.address() as AddressInfo; }

  /** Calls `listener` when the engine fails; the node is then stopping on its own. */
  onFailure (listener: (err: unknown) => void): void {
    this.failureListeners.push(listener);
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
    this.server.close();
    this.server.closeIdleConnections();
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
    this.stream?.close();
    this.server.close();
    this.server.closeAllConnections();
    await this.engine?.close().catch(() => undefined);
    for (const w of this.writers) w.close();
    await this.checkpoints?.close();
  }
}

function formatAddress (a: AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

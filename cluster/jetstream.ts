/**
 * The JetStream objects a cluster runs on, named from the subject prefix so that several
 * deployments can share one NATS cluster: the shard stream (`<prefix>.shard.*`, every accepted
 * record, kept long enough to rebuild any open window), the alerts stream (`<prefix>.alerts`,
 * deduplicated by alert id), the blocks stream (`<prefix>.blocks.events`, every change of the
 * blocklist, kept for ever: every notifier's blocklist is built from it) and the lease bucket
 * (shard ownership). Every role creates what is
 * missing on start, so nodes can start in any order; an existing stream whose subjects differ
 * is an error that names it, never silently changed.
 */
import { EngineError } from '../core/errors.js';
import { JetStreamApiError, Kvm, RetentionPolicy, StorageType, type ConsumerMessages, type JetStreamManager, type KV, type NatsConnection, type StreamConfig } from '../workers/nats-client.js';
import { subjects, type Subjects } from './subjects.js';

export interface ClusterNames {
  readonly subjects: Subjects;
  readonly shardStream: string;
  readonly alertStream: string;
  /** block and lift events; never expire, since a block stands until it is lifted */
  readonly blockStream: string;
  readonly leaseBucket: string;
  /** the durable consumer the notifiers share */
  readonly notifierConsumer: string;
}

export function clusterNames (prefix: string): ClusterNames {
  const token = prefix.replace(/\./g, '_');
  return {
    subjects: subjects(prefix),
    shardStream: `${token.toUpperCase()}_SHARDS`,
    alertStream: `${token.toUpperCase()}_ALERTS`,
    blockStream: `${token.toUpperCase()}_BLOCKS`,
    leaseBucket: `${token}_leases`,
    notifierConsumer: `${token}_notifier`,
  };
}

export interface StreamSettings {
  readonly replicas: number;
  /** how long the shard stream keeps records */
  readonly retentionMs: number;
  /** how long a shard lease lives without renewal */
  readonly leaseMs: number;
}

const NS_PER_MS = 1_000_000;
/** How long the alerts stream drops a second copy of an alert id (a shard rebuilt on another node raises its alerts again). */
const ALERT_DEDUPE_MS = 3_600_000;
/** How long the shard stream drops a coordinator's re-sent batch (a publish retried after a timeout). */
const BATCH_DEDUPE_MS = 120_000;

/**
 * How long a pull waits before the client asks again; the server's idle heartbeat is half of
 * it, so a consumer lost with its server (an ephemeral consumer lives on one) is noticed within
 * seconds, not the client's default 30 s. For every consumer Vigil reads with.
 */
export const CONSUMER_EXPIRES_MS = 5_000;
/** A consumer that says more messages wait but delivers none for this long is stuck. */
export const STALL_MS = 10_000;
/** The pause before a consumer that ended is opened again. */
export const REOPEN_MS = 500;

type StreamSpec = Partial<StreamConfig> & { name: string, subjects: string[] };

/** What every Vigil stream is: kept by limits, on file, in `replicas` copies. */
function fileStream (name: string, subjects: string[], replicas: number, more: Partial<StreamConfig>): StreamSpec {
  return { name, subjects, retention: RetentionPolicy.Limits, storage: StorageType.File, num_replicas: replicas, ...more };
}

async function ensureStream (jsm: JetStreamManager, config: StreamSpec): Promise<void> {
  try {
    const info = await jsm.streams.info(config.name);
    const have = [...(info.config.subjects ?? [])].sort().join(',');
    if (have !== [...config.subjects].sort().join(',')) {
      throw new EngineError('VIGIL_ENGINE_FAILED', `JetStream stream ${config.name} exists with subjects ${have}, not ${config.subjects.join(',')}; another deployment may use the same prefix (config.nats.prefix)`);
    }
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.status !== 404) throw err;
    try {
      await jsm.streams.add(config);
    } catch (e) {
      // Another node created it between our look and our add.
      if (!(e instanceof JetStreamApiError) || !/already in use/.test(e.message)) throw e;
    }
  }
}

/** Creates the streams and the lease bucket when missing; resolves with the bucket. */
export async function ensureCluster (nc: NatsConnection, jsm: JetStreamManager, names: ClusterNames, s: StreamSettings): Promise<KV> {
  const replicas = s.replicas;
  await ensureStream(jsm, fileStream(names.shardStream, [`${names.subjects.shard(0).replace(/\.0$/, '')}.*`], replicas, {
    max_age: s.retentionMs * NS_PER_MS,
    duplicate_window: Math.min(BATCH_DEDUPE_MS, s.retentionMs) * NS_PER_MS,
  }));
  await ensureStream(jsm, fileStream(names.alertStream, [names.subjects.alerts], replicas, {
    max_age: s.retentionMs * NS_PER_MS,
    duplicate_window: Math.min(ALERT_DEDUPE_MS, s.retentionMs) * NS_PER_MS,
  }));
  // No max_age: a notifier that joins a year later must still see a block never lifted. The
  // window drops a block event published again for the same alert (a batch taken again).
  await ensureStream(jsm, fileStream(names.blockStream, [names.subjects.blockEvents], replicas, {
    duplicate_window: ALERT_DEDUPE_MS * NS_PER_MS,
  }));
  return await new Kvm(nc).create(names.leaseBucket, { ttl: s.leaseMs, replicas, history: 1 });
}

/** How often a watched consumer is checked for a stall. */
const CONSUMER_CHECK_MS = 5_000;

/**
 * Ends `messages` when the client reports its consumer gone (deleted, not found, heartbeats
 * missed) or `stalled()` says it is stuck, so its owner opens it again from its committed
 * position. Returns a function that stops watching.
 */
export function watchConsumer (messages: ConsumerMessages, stalled: () => boolean = () => false): () => void {
  let watching = true;
  const end = (): void => { if (watching) { watching = false; messages.close().catch(() => undefined); } };
  (async () => {
    for await (const s of await messages.status()) {
      if (!watching) return;
      if (s.type === 'consumer_deleted' || s.type === 'stream_not_found' ||
        (s.type === 'heartbeats_missed' && s.count >= 2) || (s.type === 'consumer_not_found' && s.count >= 3)) end();
    }
  })().catch(() => undefined);
  const timer = setInterval(() => { if (stalled()) end(); }, CONSUMER_CHECK_MS);
  timer.unref();
  return () => { watching = false; clearInterval(timer); };
}

/**
 * Streams for one sample of a bench that runs a cluster (cluster.bench, tracing.bench): every
 * sample gets a prefix no other sample used, so nothing it reads was left by another, and its
 * streams and lease bucket are deleted after it, so that the private nats-server's store stays
 * small over a run.
 */
import { clusterNames, ensureCluster, type ClusterNames } from '../cluster/jetstream.js';
import type { JetStreamManager, NatsConnection } from '../workers/nats-client.js';

let prefixes = 0;

/**
 * Creates the streams and lease bucket of a fresh prefix (`base`, this process's id and a
 * count), runs `body`, then deletes them.
 */
export async function withStreams<T> (nats: { readonly nc: NatsConnection, readonly jsm: JetStreamManager }, base: string, leaseMs: number, body: (prefix: string, names: ClusterNames) => Promise<T>): Promise<T> {
  const prefix = `${base}${process.pid}s${++prefixes}`;
  const names = clusterNames(prefix);
  await ensureCluster(nats.nc, nats.jsm, names, { replicas: 1, retentionMs: 3_600_000, leaseMs });
  try {
    return await body(prefix, names);
  } finally {
    for (const stream of [names.shardStream, names.alertStream, `KV_${names.leaseBucket}`]) await nats.jsm.streams.delete(stream).catch(() => false);
  }
}

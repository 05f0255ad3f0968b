/**
 * A cluster notifier's alert history: a replica of the alerts stream, read by every notifier
 * with its own position (AlertHistory.recordStream), so `GET /v1/alerts` on any notifier lists
 * every alert of the deployment. The shared alerts consumer (alert-intake.ts) still hands each
 * alert to one notifier for delivery; this read only writes the history.
 *
 * A notifier that never read the stream starts `retentionMs` ago: the history keeps no more.
 */
import type { Alert } from '../core/alert.js';
import type { JetStreamClient, JsMsg } from '../workers/nats-client.js';
import type { AlertHistory } from './alert-history.js';
import type { ClusterNames } from './jetstream.js';
import { StreamFollower } from './stream-follower.js';

export interface HistoryReplicaOptions {
  readonly js: JetStreamClient;
  readonly names: ClusterNames;
  readonly history: AlertHistory;
  /** config.alerts.retention */
  readonly retentionMs: number;
  readonly log: (event: Record<string, unknown>) => void;
}

/** The alert a message holds, or undefined (skipped by every notifier alike). */
function alertOf (m: JsMsg): Alert | undefined {
  try {
    const alert = JSON.parse(m.string()) as Alert;
    return typeof alert === 'object' && alert !== null && typeof alert.id === 'string' && typeof alert.key === 'string' && typeof alert.rule === 'string' ? alert : undefined;
  } catch {
    return undefined;
  }
}

/** Starts writing the alerts stream into `history`; close() the follower to stop. */
export function followAlerts (opts: HistoryReplicaOptions): StreamFollower {
  const { history } = opts;
  return StreamFollower.start({
    js: opts.js,
    stream: opts.names.alertStream,
    from: () => {
      const seq = history.streamSeq();
      return seq > 0 ? { afterSeq: seq } : { sinceMs: Date.now() - opts.retentionMs };
    },
    apply: async (msgs) => {
      await history.recordStream(msgs.map((m) => ({ seq: m.seq, at: Math.floor(m.info.timestampNanos / 1e6), alert: alertOf(m) })), Date.now());
    },
    what: `the alerts stream ${opts.names.alertStream} (alert history)`,
    log: opts.log,
  });
}

// Shard actor thread (piscina task module). Takes ShardMsg, answers ShardReply; wiring only:
// workerData -> LMDB store -> ShardActor. A failure to open (a corrupt or foreign data folder)
// is answered as an error to every message, so the coordinator can report it and stop.
import { workerData } from 'node:worker_threads';
import { ShardActor } from './actor.js';
import { LmdbStore, ignoreLmdbCommitEchoes } from '../store.js';
import { toErrorData } from '../../core/errors.js';
import type { ShardActorData, ShardMsg, ShardReply } from '../protocol.js';

const data = workerData as ShardActorData;
ignoreLmdbCommitEchoes();
// Inside the promise: a store that cannot open throws at once, and a throw while this module
// loads would be an uncaught error of the pool, which ends the process with a stack trace.
const opened = Promise.resolve()
  .then(async () => await ShardActor.open(data, new LmdbStore(data.dataPath ?? '')))
  .then((actor) => ({ actor }), (err: unknown) => ({ error: toErrorData(err) }));

export default async function receive (msg: ShardMsg): Promise<ShardReply> {
  const state = await opened;
  if ('error' in state) return { kind: 'error', error: state.error };
  return await state.actor.receive(msg);
}

// Lane actor thread (piscina task module): workerData -> LMDB store -> LaneActor. A failure to
// open (a corrupt or foreign data folder) is answered as an error to every message.
import { workerData } from 'node:worker_threads';
import { LaneActor } from './actor.js';
import { LmdbStore, ignoreLmdbCommitEchoes } from '../store.js';
import { toErrorData } from '../../core/errors.js';
import type { LaneActorData, LaneMsg, LaneReply } from './protocol.js';

const data = workerData as LaneActorData;
ignoreLmdbCommitEchoes();
// Inside the promise: a store that cannot open throws at once (see ../shard/main.ts).
const opened = Promise.resolve()
  .then(async () => await LaneActor.open(data, new LmdbStore(data.dataPath)))
  .then((actor) => ({ actor }), (err: unknown) => ({ error: toErrorData(err) }));

export default async function receive (msg: LaneMsg): Promise<LaneReply> {
  const state = await opened;
  if ('error' in state) return { kind: 'error', error: state.error };
  return await state.actor.receive(msg);
}

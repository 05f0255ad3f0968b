// Lane actor thread (piscina task module): workerData -> LMDB store -> LaneActor; wiring only.
import { workerData } from 'node:worker_threads';
import { LaneActor } from './actor.js';
import { LmdbStore } from '../store.js';
import { actorThread } from '../actor-thread.js';
import type { LaneActorData } from './protocol.js';

const data = workerData as LaneActorData;
export default actorThread(async () => await LaneActor.open(data, new LmdbStore(data.dataPath)));

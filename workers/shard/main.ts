// Shard actor thread (piscina task module): workerData -> LMDB store -> ShardActor; wiring only.
import { workerData } from 'node:worker_threads';
import { ShardActor } from './actor.js';
import { LmdbStore } from '../store.js';
import { actorThread } from '../actor-thread.js';
import type { ShardActorData } from '../protocol.js';

const data = workerData as ShardActorData;
export default actorThread(async () => await ShardActor.open(data, new LmdbStore(data.dataPath ?? '')));

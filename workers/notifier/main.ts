// Notification actor thread (piscina task module). Takes NotifierMsg, answers NotifierReply;
// wiring only: workerData -> outbox (LMDB) -> NotifierActor, which starts delivering what the
// outbox holds as soon as the thread starts, before any message. A failure to open is answered
// as an error to every message. The thread then lowers its own CPU priority (options.nice).
import { stat } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { workerData } from 'node:worker_threads';
import { NotifierActor, defaultDeps } from './actor.js';
import { toErrorData } from '../../core/errors.js';
import type { ErrorData } from '../../core/errors.js';
import type { NotifierData, NotifierMsg, NotifierReply } from './protocol.js';

const data = workerData as NotifierData;
let state: { actor: NotifierActor } | { error: ErrorData };
try {
  state = { actor: NotifierActor.open(data, data.options.log ? defaultDeps : { ...defaultDeps, log: () => {} }) };
} catch (err) {
  state = { error: toErrorData(err) };
}

// Detection first: on a machine whose cores are all busy, this thread's bursts (decoding,
// commits, retries) would take their CPU from the detecting threads, and a post that wakes it
// lets the scheduler run it at once on the poster's core (measured in bench/notify: the
// detecting thread spent 2-3 times longer in its enqueue calls). Linux keeps a nice value per
// thread; elsewhere it would lower the whole process, so it stays put there. libuv's thread
// pool is shared by the process and its threads inherit the nice of the thread that starts
// them, so the pool is started first (any fs call does), at the process's priority.
if (process.platform === 'linux' && data.options.nice > 0) {
  await stat(data.dataPath).catch(() => undefined);
  try { setPriority(data.options.nice); } catch { /* a refused priority change leaves it as it was */ }
}

export default async function receive (msg: NotifierMsg): Promise<NotifierReply> {
  if ('error' in state) return { kind: 'error', error: state.error };
  return await state.actor.receive(msg);
}

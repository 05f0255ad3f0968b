// Notification actor thread (piscina task module). Takes NotifierMsg, answers NotifierReply;
// wiring only: workerData -> outbox (LMDB) -> NotifierActor, which starts delivering what the
// outbox holds as soon as the thread starts, before any message. A failure to open is answered
// as an error to every message.
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

export default async function receive (msg: NotifierMsg): Promise<NotifierReply> {
  if ('error' in state) return { kind: 'error', error: state.error };
  return await state.actor.receive(msg);
}

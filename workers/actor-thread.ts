/**
 * The task function of an actor's thread (piscina's default export): opens the actor once, on
 * its store, and hands it every message. A failure to open (a corrupt, foreign or unopenable
 * data folder) is the answer to every message, so the coordinator can report it and stop; it
 * is caught even when the store throws at once, since a throw while the thread's module loads
 * would be an uncaught error of the pool.
 */
import { type ErrorData, toErrorData } from '../core/errors.js';
import { ignoreLmdbCommitEchoes } from './store.js';

export function actorThread<M, R> (open: () => Promise<{ receive (msg: M): Promise<R> }>): (msg: M) => Promise<R | { kind: 'error', error: ErrorData }> {
  ignoreLmdbCommitEchoes();
  const opened = Promise.resolve()
    .then(open)
    .then((actor) => ({ actor }), (err: unknown) => ({ error: toErrorData(err) }));
  return async (msg) => {
    const state = await opened;
    if ('error' in state) return { kind: 'error', error: state.error };
    return await state.actor.receive(msg);
  };
}

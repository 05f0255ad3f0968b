/**
 * Answers `<prefix>.blocks.check` (interfaces.md): a switch or gateway asks whether a key is
 * blocked before it lets a call or message through. Request: the key as plain text, or JSON
 * `{"key": "…"}`. Reply: JSON `{"key", "blocked": true, "since", "rule", "alert"}` or
 * `{"key", "blocked": false}`; a request without a key gets `{"error": "…"}`. Nodes answer as a
 * queue group, so one of them replies.
 */
import { connect, type Msg, type NatsConnection, type Subscription } from '../workers/nats-client.js';
import type { Block } from '../core/blocklist.js';

export const BLOCK_CHECK_QUEUE = 'vigil-blocks';

/** The key a request asks about, or undefined. */
export function requestedKey (payload: string): string | undefined {
  const text = payload.trim();
  if (text.startsWith('{')) {
    try {
      const key = (JSON.parse(text) as { key?: unknown }).key;
      return typeof key === 'string' && key !== '' ? key : undefined;
    } catch {
      return undefined;
    }
  }
  return text === '' ? undefined : text;
}

export function checkReply (key: string | undefined, block: Block | undefined): object {
  if (key === undefined) return { error: 'a blocks.check request carries the key as text, or JSON {"key": "…"}' };
  return block === undefined ? { key, blocked: false } : { key, blocked: true, since: block.since, rule: block.rule, alert: block.alert };
}

export class BlockCheckResponder {
  private readonly nc: NatsConnection;
  private readonly sub: Subscription;
  /** true when the responder opened the connection and closes it */
  private readonly owned: boolean;

  private constructor (nc: NatsConnection, sub: Subscription, owned: boolean) {
    this.nc = nc;
    this.sub = sub;
    this.owned = owned;
  }

  /** Answers on `subject` through `connection` (kept open on close), or through a connection of its own to `servers`. */
  static async start (connection: NatsConnection | readonly string[], subject: string, lookup: (key: string) => Block | undefined): Promise<BlockCheckResponder> {
    const owned = Array.isArray(connection);
    const nc = Array.isArray(connection) ? await connect({ servers: [...connection as readonly string[]], name: 'vigil-blocks', maxReconnectAttempts: -1 }) : connection as NatsConnection;
    const sub = nc.subscribe(subject, {
      queue: BLOCK_CHECK_QUEUE,
      callback: (err: Error | null, msg: Msg) => {
        if (err !== null) return;
        const key = requestedKey(msg.string());
        msg.respond(JSON.stringify(checkReply(key, key === undefined ? undefined : lookup(key))));
      },
    });
    await nc.flush();
    return new BlockCheckResponder(nc, sub, owned);
  }

  async close (): Promise<void> {
    if (this.owned) await this.nc.drain();
    else await this.sub.drain();
  }
}

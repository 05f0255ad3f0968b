/**
 * Answers `<prefix>.blocks.check` (interfaces.md): a switch or gateway asks whether a key is
 * blocked before it lets a call or message through. Request: the key as plain text, or JSON
 * `{"key": "…"}`. Reply: JSON `{"key", "blocked": true, "since", "rule", "alert"}` or
 * `{"key", "blocked": false}`; a request without a key gets `{"error": "…"}`. Nodes answer as a
 * queue group, so one of them replies.
 */
import type { Msg, NatsConnection, Subscription } from '../workers/nats-client.js';
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
  private readonly sub: Subscription;

  private constructor (sub: Subscription) {
    this.sub = sub;
  }

  /**
   * Answers on `subject` through the node's connection (made with its credentials, see
   * workers/nats-connect.ts); close() ends the subscription, not the connection.
   */
  static async start (nc: NatsConnection, subject: string, lookup: (key: string) => Block | undefined): Promise<BlockCheckResponder> {
    const sub = nc.subscribe(subject, {
      queue: BLOCK_CHECK_QUEUE,
      callback: (err: Error | null, msg: Msg) => {
        if (err !== null) return;
        const key = requestedKey(msg.string());
        msg.respond(JSON.stringify(checkReply(key, key === undefined ? undefined : lookup(key))));
      },
    });
    await nc.flush();
    return new BlockCheckResponder(sub);
  }

  async close (): Promise<void> {
    await this.sub.drain();
  }
}

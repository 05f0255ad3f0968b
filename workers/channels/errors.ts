/**
 * Errors of the notifier and its channels. Messages never carry a secret: settings that may hold
 * one (secrets, tokens, passwords, URLs) are described by what is wrong with them, never by their
 * value, and delivery failures pass through the channel's redactor before anyone sees them.
 */
import { EngineError, show } from '../../core/errors.js';

/** A channel's settings cannot be used (notifications.md, "Channels"). */
export class InvalidChannelError extends EngineError {
  constructor (message: string) {
    super('VIGIL_INVALID_CHANNEL', message);
  }

  /** `channels.noc.timeout must be a duration such as 90s, got 5`; `secret` says only what it got, never the value. */
  static of (path: string, expected: string, got: unknown, secret = false): InvalidChannelError {
    return new InvalidChannelError(`${path} must be ${expected}, got ${secret ? kindOf(got) : show(got)}`);
  }
}

/** One delivery attempt failed; the message is already redacted. Every failure is retried until `retry.max`. */
export class DeliveryError extends EngineError {
  readonly channel: string;
  constructor (channel: string, message: string, options?: ErrorOptions) {
    super('VIGIL_DELIVERY_FAILED', `channel ${channel}: ${message}`, options);
    this.channel = channel;
  }
}

function kindOf (value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return value === '' ? 'an empty text' : 'a text that is not one (not shown: it may hold a secret)';
  return `a ${typeof value}`;
}

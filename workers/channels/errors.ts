/**
 * Errors of the notifier's channels. Messages never carry a secret: delivery failures pass
 * through the channel's redactor before anyone sees them. (Bad settings are an
 * InvalidChannelError of core/errors.ts: the rules parser reports them too.)
 */
import { EngineError } from '../../core/errors.js';

/** One delivery attempt failed; the message is already redacted. Every failure is retried until `retry.max`. */
export class DeliveryError extends EngineError {
  readonly channel: string;
  /**
   * The receiver took the message for some of its recipients (in this attempt or an earlier
   * one) and refused it for the others: it is up and the failure is this message's, so only
   * the message's entries back off, not the whole channel.
   */
  readonly partial: boolean;
  constructor (channel: string, message: string, options?: ErrorOptions & { partial?: boolean }) {
    const { partial, ...rest } = options ?? {};
    super('VIGIL_DELIVERY_FAILED', `channel ${channel}: ${message}`, rest);
    this.channel = channel;
    this.partial = partial ?? false;
  }
}

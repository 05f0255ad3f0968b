/**
 * Errors of the notifier's channels. Messages never carry a secret: delivery failures pass
 * through the channel's redactor before anyone sees them. (Bad settings are an
 * InvalidChannelError of core/errors.ts: the rules parser reports them too.)
 */
import { EngineError } from '../../core/errors.js';

/** One delivery attempt failed; the message is already redacted. Every failure is retried until `retry.max`. */
export class DeliveryError extends EngineError {
  readonly channel: string;
  constructor (channel: string, message: string, options?: ErrorOptions) {
    super('VIGIL_DELIVERY_FAILED', `channel ${channel}: ${message}`, options);
    this.channel = channel;
  }
}

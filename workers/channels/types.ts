/**
 * What the notifier needs from a channel: a sender that delivers one message (one alert, or a
 * digest folding several) and says whether the receiver accepted it, plus what may be said
 * about it in logs without leaking a secret.
 */
import type { Alert } from '../../core/alert.js';
import type { NatsSettings } from '../nats-connect.js';
import type { Redactor } from './redact.js';
import type { CommonSettings } from '../../core/channel-settings.js';

export interface ChannelSender {
  /** Resolves once the receiver accepted the message; rejects (a DeliveryError, redacted) otherwise. */
  send (alerts: readonly Alert[], digest: boolean): Promise<void>;
  /** Closes sockets and pools; a send under way may fail. */
  close (): Promise<void>;
}

export interface Channel {
  readonly name: string;
  readonly type: string;
  readonly common: CommonSettings;
  /** a description without secrets, e.g. `http://127.0.0.1:8080` */
  readonly target: string;
  /** messages in flight at once when the channel is healthy */
  readonly concurrency: number;
  readonly redactor: Redactor;
  readonly sender: ChannelSender;
}

/** What channels get from the notifier's options. */
export interface ChannelContext {
  /** relative `file` paths resolve against it */
  readonly baseDir: string;
  /** the node's NATS (servers, credentials, TLS) for `nats` channels, which have only a subject; undefined: none */
  readonly nats: NatsSettings | undefined;
  /** timeout of one SMTP, SMS or NATS delivery (webhooks have their own `timeout`) */
  readonly timeoutMs: number;
  /** overrides each type's default concurrency */
  readonly concurrency?: number;
  /** where the `log` channel writes its lines (stderr in the thread) */
  readonly write: (line: string) => void;
}

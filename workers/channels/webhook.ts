/**
 * `webhook`: POSTs the alert JSON (a digest: a JSON array of alerts) to `url`. With `secret`,
 * `X-Vigil-Signature: sha256=HEX` is the HMAC-SHA256 of the exact body bytes, so a receiver
 * can check that Vigil sent it. 2xx is delivered; anything else is retried by the notifier.
 */
import { createHmac } from 'node:crypto';
import type { Alert } from '../../core/alert.js';
import { HttpTarget } from './http-post.js';
import type { Redactor } from './redact.js';
import type { ChannelSender } from './types.js';

export interface WebhookSettings {
  readonly url: URL;
  readonly secret?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** The signature header value for a body: what receivers compute to verify it. */
export function signature (secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class WebhookSender implements ChannelSender {
  private readonly target: HttpTarget;
  private readonly settings: WebhookSettings;

  constructor (name: string, settings: WebhookSettings, concurrency: number, redactor: Redactor) {
    this.settings = settings;
    this.target = new HttpTarget(name, settings.url, concurrency, redactor);
  }

  async send (alerts: readonly Alert[], digest: boolean): Promise<void> {
    const body = JSON.stringify(digest ? alerts : alerts[0]);
    const headers: Record<string, string> = { 'user-agent': 'vigil', ...this.settings.headers };
    if (digest) headers['x-vigil-digest'] = String(alerts.length);
    else headers['x-vigil-alert-id'] = alerts[0]?.id ?? '';
    if (this.settings.secret !== undefined) headers['x-vigil-signature'] = signature(this.settings.secret, body);
    await this.target.post(body, headers, this.settings.timeoutMs);
  }

  async close (): Promise<void> {
    this.target.close();
  }
}

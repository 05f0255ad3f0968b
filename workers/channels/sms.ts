/**
 * `sms`: POSTs `{ to, text, id }` (a digest: `{ to, text, ids }`) as JSON to an HTTP SMS
 * gateway. The text is short: rule, key, value, limit. `auth` is sent as the Authorization
 * header: `user:password` as Basic, anything else (`Bearer TOKEN`) as written.
 */
import type { Alert } from '../../core/alert.js';
import { smsDigestText, smsText } from './format.js';
import { HttpTarget } from './http-post.js';
import type { Redactor } from './redact.js';
import type { ChannelSender } from './types.js';

export interface SmsSettings { readonly url: URL, readonly to: readonly string[], readonly auth?: string }

export function authorization (auth: string): string {
  return /^[^\s:]+:[^\s]*$/.test(auth) ? `Basic ${Buffer.from(auth).toString('base64')}` : auth;
}

export class SmsSender implements ChannelSender {
  private readonly target: HttpTarget;
  private readonly settings: SmsSettings;
  private readonly timeoutMs: number;

  constructor (name: string, settings: SmsSettings, concurrency: number, timeoutMs: number, redactor: Redactor) {
    this.settings = settings;
    this.timeoutMs = timeoutMs;
    this.target = new HttpTarget(name, settings.url, concurrency, redactor);
  }

  async send (alerts: readonly Alert[], digest: boolean): Promise<void> {
    const to = this.settings.to.length === 1 ? this.settings.to[0] : this.settings.to;
    const body = digest
      ? JSON.stringify({ to, text: smsDigestText(alerts), ids: alerts.map((a) => a.id) })
      : JSON.stringify({ to, text: smsText(alerts[0]!), id: alerts[0]!.id });
    const headers: Record<string, string> = { 'user-agent': 'vigil' };
    if (this.settings.auth !== undefined) headers.authorization = authorization(this.settings.auth);
    await this.target.post(body, headers, this.timeoutMs);
  }

  async close (): Promise<void> {
    this.target.close();
  }
}

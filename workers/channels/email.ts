/**
 * `email`: one plain-text mail per alert, or one digest mail, over a real SMTP conversation
 * (nodemailer, a pool of `concurrency` connections). `smtp://` speaks STARTTLS when the server
 * offers it, `smtps://` is TLS from the start; user and password come from the URL. A mail
 * counts as delivered when the server accepted it (250 after DATA). Every mail carries
 * `X-Vigil-Alert-Id` (a digest: `X-Vigil-Alert-Ids`) so that a repeat can be recognised.
 */
import { createTransport } from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type { Alert } from '../../core/alert.js';
import { DeliveryError } from './errors.js';
import { alertSubject, alertText, digestSubject, digestText } from './format.js';
import type { Redactor } from './redact.js';
import { safeUrl } from './redact.js';
import type { ChannelSender } from './types.js';

export interface EmailSettings { readonly to: readonly string[], readonly from?: string, readonly smtp: URL }

export class EmailSender implements ChannelSender {
  private readonly name: string;
  private readonly settings: EmailSettings;
  private readonly transport: Transporter;
  private readonly redactor: Redactor;

  constructor (name: string, settings: EmailSettings, concurrency: number, timeoutMs: number, redactor: Redactor) {
    this.name = name;
    this.settings = settings;
    this.redactor = redactor;
    const url = settings.smtp;
    const secure = url.protocol === 'smtps:';
    const user = decodeURIComponent(url.username);
    this.transport = createTransport({
      host: url.hostname,
      port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
      secure,
      ...(user === '' ? {} : { auth: { user, pass: decodeURIComponent(url.password) } }),
      pool: true,
      maxConnections: concurrency,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      // nodemailer's own logging would print the conversation, AUTH included.
      logger: false,
      debug: false,
    });
  }

  async send (alerts: readonly Alert[], digest: boolean): Promise<void> {
    const first = alerts[0]!;
    const mail = digest
      ? { subject: digestSubject(alerts), text: digestText(alerts), headers: { 'X-Vigil-Alert-Ids': alerts.map((a) => a.id).join(' ') } }
      : { subject: alertSubject(first), text: alertText(first), headers: { 'X-Vigil-Alert-Id': first.id } };
    try {
      await this.transport.sendMail({
        from: this.settings.from ?? `Vigil <vigil@${this.settings.smtp.hostname}>`,
        to: [...this.settings.to],
        ...mail,
      });
    } catch (err) {
      const e = err as { code?: string, responseCode?: number, message?: string };
      const what = e.responseCode !== undefined ? `answered ${e.responseCode}` : (e.code ?? 'failed');
      const detail = this.redactor.redact(String(e.message ?? err)).slice(0, 200);
      throw new DeliveryError(this.name, this.redactor.redact(`SMTP ${safeUrl(this.settings.smtp)} ${what}: ${detail}`));
    }
  }

  async close (): Promise<void> {
    this.transport.close();
  }
}

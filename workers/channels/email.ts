/**
 * `email`: one plain-text mail per alert, or one digest mail, over a real SMTP conversation
 * (nodemailer, a pool of `concurrency` connections). `smtp://` speaks STARTTLS when the server
 * offers it, `smtps://` is TLS from the start; user and password come from the URL. Every mail
 * carries `X-Vigil-Alert-Id` (a digest: `X-Vigil-Alert-Ids`) so that a repeat can be recognised.
 *
 * A message counts as delivered when the server accepted it (250 after DATA) for every
 * recipient. A server may take a mail for some recipients and refuse others (RCPT TO answered
 * 550 for a typo, 450 or 451 for now); nodemailer then resolves and lists the refused ones.
 * That is no delivery for them: the sender remembers, per alert, the recipients that have not
 * accepted it yet and fails the attempt naming them and the server's answer, so the outbox
 * retries it and dead-letters it after `retry.max`. Such a failure is `partial` (the server is
 * up and took the mail for others): the alert backs off, the channel does not, or a typo'd
 * address would hold up every alert for everyone. A retry goes to the recipients still owed
 * (the To header names them all, as the first mail did). The lane may fold new alerts into a
 * retried digest, so the memo is kept per alert, not per message: each recipient gets, in one
 * mail, the alerts it is still owed. The memo is in memory and bounded: after a restart, or for
 * an alert pushed out by many newer refusals, a retry goes to every recipient again, which "at
 * least once" allows (a receiver drops a repeat by its alert id).
 */
import { createTransport } from 'nodemailer';
import type { NodemailerError, SMTPPoolSentMessageInfo, SendMailOptions, Transporter } from 'nodemailer';
import type { Alert } from '../../core/alert.js';
import { DeliveryError } from './errors.js';
import { alertSubject, alertText, digestSubject, digestText } from './format.js';
import type { Redactor } from './redact.js';
import { safeUrl } from './redact.js';
import type { ChannelSender } from './types.js';

export interface EmailSettings { readonly to: readonly string[], readonly from?: string, readonly smtp: URL }

/** Alerts whose owed recipients are remembered at most; the one remembered longest ago goes first. */
export const OWED_MAX = 10_000;

/** Refused recipients an error names; the rest are counted. */
const NAMED_MAX = 5;

/** One mail of an attempt: `to` undefined is every recipient (the envelope nodemailer derives from the To header). */
interface Mail { readonly to: readonly string[] | undefined, readonly alerts: readonly Alert[] }

export class EmailSender implements ChannelSender {
  private readonly name: string;
  private readonly settings: EmailSettings;
  private readonly transport: Transporter<SMTPPoolSentMessageInfo>;
  private readonly redactor: Redactor;
  private readonly owedMax: number;
  /** per alert id: the recipients that have not accepted its mail yet; no entry: every recipient */
  private readonly owed = new Map<string, ReadonlySet<string>>();
  /**
   * Every envelope recipient, spelt as nodemailer sends them (it parses the To header and may
   * rewrite a domain in punycode); learnt from the first mail some recipients refused, before
   * any alert is remembered.
   */
  private recipients: readonly string[] = [];

  constructor (name: string, settings: EmailSettings, concurrency: number, timeoutMs: number, redactor: Redactor, owedMax = OWED_MAX) {
    this.name = name;
    this.settings = settings;
    this.redactor = redactor;
    this.owedMax = owedMax;
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
    /** refused recipient -> the server's answer */
    const refused = new Map<string, string>();
    let failure: string | undefined;
    for (const mail of this.plan(alerts)) {
      try {
        const info = await this.transport.sendMail(this.compose(mail, digest));
        if (mail.to === undefined && info.rejected.length > 0) this.recipients = [...info.envelope.to];
        this.accepted(mail.alerts, info.accepted);
        this.noteRefused(refused, info.rejected, info.rejectedErrors);
      } catch (err) {
        const e = err as NodemailerError;
        // Every recipient of this mail refused it: the server is there, the others may take theirs.
        if (e.code === 'EENVELOPE' && e.rejected !== undefined && e.rejected.length > 0) {
          this.noteRefused(refused, e.rejected, e.rejectedErrors);
          continue;
        }
        // Anything else (no connection, a refused login or sender, DATA refused) would fail the
        // other mails of this attempt the same way.
        const what = e.responseCode !== undefined ? `answered ${e.responseCode}` : (e.code ?? 'failed');
        failure = `${what}: ${this.redactor.redact(String(e.message ?? err)).slice(0, 200)}`;
        break;
      }
    }
    if (refused.size === 0 && failure === undefined) {
      // Every recipient owed these alerts accepted them.
      for (const a of alerts) this.owed.delete(a.id);
      return;
    }
    const parts: string[] = [];
    if (refused.size > 0) {
      const named = [...refused].slice(0, NAMED_MAX).map(([r, answer]) => `${r} (${answer})`);
      if (refused.size > NAMED_MAX) named.push(`${refused.size - NAMED_MAX} more`);
      parts.push(`refused ${named.join(', ')}`);
    }
    if (failure !== undefined) parts.push(failure);
    const got = this.recipients.filter((r) => alerts.every((a) => this.owed.get(a.id)?.has(r) === false));
    if (got.length > 0) parts.push(`${got.join(', ')} got the mail`);
    // Refused for some recipients while others took these alerts: the server is up and takes
    // mail, so the channel does not back off as a whole (a typo would hold up every alert).
    const partial = failure === undefined && alerts.some((a) => this.owed.has(a.id));
    throw new DeliveryError(this.name, this.redactor.redact(`SMTP ${safeUrl(this.settings.smtp)} ${parts.join('; ')}`), { partial });
  }

  /**
   * The mails of one attempt: one to every recipient, unless some recipients accepted some of
   * these alerts before; then one per set of alerts owed, to the recipients owed exactly those.
   */
  private plan (alerts: readonly Alert[]): Mail[] {
    if (!alerts.some((a) => this.owed.has(a.id))) return [{ to: undefined, alerts }];
    const mails = new Map<string, { to: string[], alerts: readonly Alert[] }>();
    for (const r of this.recipients) {
      const owed = alerts.filter((a) => this.owed.get(a.id)?.has(r) ?? true);
      if (owed.length === 0) continue;
      const key = owed.map((a) => a.id).join(' ');
      const mail = mails.get(key);
      if (mail === undefined) mails.set(key, { to: [r], alerts: owed }); else mail.to.push(r);
    }
    return [...mails.values()];
  }

  private compose (mail: Mail, digest: boolean): SendMailOptions {
    const alerts = mail.alerts;
    const first = alerts[0]!;
    const from = this.settings.from ?? `Vigil <vigil@${this.settings.smtp.hostname}>`;
    const content = digest
      ? { subject: digestSubject(alerts), text: digestText(alerts), headers: { 'X-Vigil-Alert-Ids': alerts.map((a) => a.id).join(' ') } }
      : { subject: alertSubject(first), text: alertText(first), headers: { 'X-Vigil-Alert-Id': first.id } };
    return {
      from,
      to: [...this.settings.to],
      ...content,
      // A retry goes to the recipients still owed; the header names every one, as the first mail did.
      ...(mail.to === undefined ? {} : { envelope: { from, to: [...mail.to] } }),
    };
  }

  /** Forgets the recipients that accepted these alerts; remembers, newest last, who is still owed them. */
  private accepted (alerts: readonly Alert[], by: readonly string[]): void {
    if (by.length === 0) return;
    const took = new Set(by);
    for (const a of alerts) {
      const left = [...(this.owed.get(a.id) ?? this.recipients)].filter((r) => !took.has(r));
      this.owed.delete(a.id);
      if (left.length === 0) continue;
      this.owed.set(a.id, new Set(left));
      if (this.owed.size > this.owedMax) this.owed.delete(this.owed.keys().next().value!);
    }
  }

  private noteRefused (refused: Map<string, string>, rejected: readonly string[], errors: readonly NodemailerError[] | undefined): void {
    for (const r of rejected) {
      const e = errors?.find((x) => x.recipient === r);
      refused.set(r, this.redactor.redact(String(e?.response ?? e?.message ?? 'refused')).slice(0, 200));
    }
  }

  async close (): Promise<void> {
    this.transport.close();
  }
}

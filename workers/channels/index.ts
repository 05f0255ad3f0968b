/**
 * Builds a channel (sender, redactor, safe description, concurrency) from its parsed settings.
 * Channel modules are small and independent; this is the one place that knows them all.
 */
import { isAbsolute, resolve } from 'node:path';
import { EmailSender } from './email.js';
import { FileSender } from './file.js';
import { LogSender } from './log.js';
import { NatsSender } from './nats.js';
import { Redactor, safeUrl, urlSecrets } from './redact.js';
import type { ChannelSpec } from '../../core/channel-settings.js';
import { SmsSender } from './sms.js';
import type { Channel, ChannelContext, ChannelSender } from './types.js';
import { WebhookSender } from './webhook.js';
import { assertNever } from '../../core/errors.js';

/** Messages in flight per channel when it is healthy; files and logs stay in order. */
const CONCURRENCY: Readonly<Record<string, number>> = { webhook: 4, sms: 4, email: 2, nats: 8, file: 1, log: 1 };

export function makeChannel (spec: ChannelSpec, ctx: ChannelContext): Channel {
  const s = spec.settings;
  const concurrency = s.type === 'file' || s.type === 'log' ? 1 : ctx.concurrency ?? CONCURRENCY[s.type] ?? 1;
  const secrets: string[] = [];
  let target: string;
  let make: (r: Redactor) => ChannelSender;
  switch (s.type) {
    case 'webhook':
      secrets.push(...urlSecrets(s.url, s.raw), ...Object.values(s.headers));
      if (s.secret !== undefined) secrets.push(s.secret);
      target = safeUrl(s.url);
      make = (r) => new WebhookSender(spec.name, s, concurrency, r);
      break;
    case 'sms':
      secrets.push(...urlSecrets(s.url, s.raw));
      if (s.auth !== undefined) secrets.push(s.auth, ...s.auth.split(/[\s:]/));
      target = safeUrl(s.url);
      make = (r) => new SmsSender(spec.name, s, concurrency, ctx.timeoutMs, r);
      break;
    case 'email':
      secrets.push(...urlSecrets(s.smtp, s.raw));
      target = safeUrl(s.smtp);
      make = (r) => new EmailSender(spec.name, s, concurrency, ctx.timeoutMs, r);
      break;
    case 'nats':
      // The client's errors may name a server, and server URLs may carry a user and password;
      // the settings' password or token must not show either.
      for (const raw of ctx.nats?.servers ?? []) {
        try { secrets.push(...urlSecrets(new URL(raw), raw)); } catch { secrets.push(raw); }
      }
      if (ctx.nats?.auth.kind === 'user') secrets.push(ctx.nats.auth.password);
      if (ctx.nats?.auth.kind === 'token') secrets.push(ctx.nats.auth.token);
      target = `nats subject ${s.subject}`;
      make = (r) => new NatsSender(spec.name, s.subject, ctx.nats, ctx.timeoutMs, r);
      break;
    case 'file': {
      const path = isAbsolute(s.path) ? s.path : resolve(ctx.baseDir, s.path);
      target = path;
      make = () => new FileSender(spec.name, path);
      break;
    }
    case 'log':
      target = 'log';
      make = () => new LogSender(spec.name, ctx.write);
      break;
    default: return assertNever(s, 'channel type');
  }
  const redactor = new Redactor(secrets);
  return { name: spec.name, type: s.type, common: spec.common, target, concurrency, redactor, sender: make(redactor) };
}

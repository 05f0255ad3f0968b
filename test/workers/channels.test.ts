// Channel settings, redaction and back-off: the settings table (class, code, exact message;
// secrets never echoed), a rules file's channels read through the real parser, and the
// notification actor in-process (real LMDB outbox, real sockets to closed ports) to show that
// secrets reach no log line, stat, dead letter or error, and that a dead channel costs one
// attempt per back-off pause rather than one per queued alert. The e-mail sender against a real
// SMTP server that refuses some recipients: a mail is delivered once every recipient took it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { parseRules } from '../../core/rules-parse.js';
import { InvalidChannelError } from '../../core/errors.js';
import { parseChannelSpec, parseChannelSpecs } from '../../core/channel-settings.js';
import { smsDigestText, smsText } from '../../workers/channels/format.js';
import { Redactor, safeUrl } from '../../workers/channels/redact.js';
import { authorization } from '../../workers/channels/sms.js';
import { WebhookSender, signature } from '../../workers/channels/webhook.js';
import { EmailSender } from '../../workers/channels/email.js';
import { DeliveryError } from '../../workers/channels/errors.js';
import { NotifierActor, defaultDeps } from '../../workers/notifier/actor.js';
import { backoffMs } from '../../workers/notifier/lane.js';
import type { NotifierData } from '../../workers/notifier/protocol.js';
import type { NatsSettings } from '../../workers/nats-connect.js';
import { Notifications } from '../../cluster/notifier.js';
import { rule, rules } from '../helpers/config.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { freePort, startHttpReceiver, startSmtpReceiver, waitFor } from '../fixtures/receivers.js';
import type { SmtpReceiver } from '../fixtures/receivers.js';
import { alert } from '../fixtures/alerts.js';

const settings = suite('core/channel-settings: what the notifier reads from channels:');

const BAD: Array<[string, string, Record<string, unknown>, string]> = [
  ['webhook timeout as a number', 'webhook', { url: 'http://h/x', timeout: 5 }, 'channels.c.timeout must be a duration such as 90s, 30m, 1h or 2d, got 5'],
  ['rate without an interval', 'log', { rate: 10 }, 'channels.c.rate must be N/DURATION such as 10/1m (at most N messages per DURATION), got 10'],
  ['rate of zero', 'log', { rate: '0/1m' }, 'channels.c.rate must be N/DURATION such as 10/1m (at most N messages per DURATION), got "0/1m"'],
  ['rate over an interval of zero (no limit at all)', 'log', { rate: '10/0s' }, 'channels.c.rate must be N/DURATION such as 10/1m (at most N messages per DURATION), got "10/0s"'],
  ['digest in words', 'log', { digest: 'hourly' }, 'channels.c.digest must be a duration such as 90s, 30m, 1h or 2d, got "hourly"'],
  ['retry as a duration', 'log', { retry: '1h' }, 'channels.c.retry must be { max: DURATION }, got "1h"'],
  ['retry.max not a duration', 'log', { retry: { max: 'forever' } }, 'channels.c.retry.max must be a duration such as 90s, 30m, 1h or 2d, got "forever"'],
  ['min_severity unknown', 'log', { min_severity: 'high' }, 'channels.c.min_severity must be info, warning, critical, got "high"'],
  ['smtp URL of another scheme: not echoed', 'email', { to: 'a@b', smtp: 'http://u:hunter22@h' }, 'channels.c.smtp must be a URL such as smtp://user:password@host:587 or smtps://host, got a text that is not one (not shown: it may hold a secret)'],
  ['webhook URL that is not one: not echoed', 'webhook', { url: 'token-abc123' }, 'channels.c.url must be a URL starting with http:// or https://, got a text that is not one (not shown: it may hold a secret)'],
  ['secret as a number: not echoed', 'webhook', { url: 'http://h/x', secret: 12345678 }, 'channels.c.secret must be a non-empty text, got a number'],
  ['header value as a map: not echoed', 'webhook', { url: 'http://h/x', headers: { Authorization: { token: 'x' } } }, 'channels.c.headers.Authorization must be a text, got a object'],
  ['sms without a number', 'sms', { url: 'http://h/x', to: [] }, 'channels.c.to must be an address or a non-empty list of addresses, got []'],
];

for (const [name, type, s, message] of BAD) {
  settings(`refuses ${name}`, () => {
    try {
      parseChannelSpec('c', { type, settings: s });
      assert.unreachable('should throw');
    } catch (err) {
      assert.instance(err, InvalidChannelError);
      assert.is((err as InvalidChannelError).code, 'VIGIL_INVALID_CHANNEL');
      assert.is((err as Error).message, message);
    }
  });
}

settings('a rules file\'s channels, read by the rules parser, give the notifier typed settings', () => {
  const text = [
    'version: 1',
    'timezone: Europe/Berlin',
    'channels:',
    '  noc: { type: webhook, url: "https://hooks.example.net/T0/B0/xyz?token=abc", secret: s3cret, headers: { X-Team: fraud }, timeout: 5s, rate: 10/1m, retry: { max: 2h } }',
    '  desk: { type: email, to: [fraud@example.net], smtp: "smtps://vigil:pw@mail.example.net", digest: 1m, min_severity: warning }',
    '  oncall: { type: sms, url: "https://sms.example.net/send", to: +4917012345678, auth: "Bearer t0k" }',
    'rules:',
    '  - { id: r1, by: account, measure: count, window: day, limit: 5, notify: [noc] }',
  ].join('\n');
  const config = parseRules(text, 'rules.yaml', { readFile: () => '' });
  const [noc, desk, oncall] = parseChannelSpecs(config.channels);
  assert.equal(noc!.common, { minSeverity: 'info', retryMaxMs: 7_200_000, rate: { count: 10, perMs: 60_000 } });
  assert.is(noc!.settings.type === 'webhook' && noc!.settings.timeoutMs, 5_000);
  assert.equal(noc!.settings.type === 'webhook' && noc!.settings.headers, { 'X-Team': 'fraud' });
  assert.equal(desk!.common, { minSeverity: 'warning', retryMaxMs: 86_400_000, digestMs: 60_000 });
  assert.equal(oncall!.settings.type === 'sms' && oncall!.settings.to, ['+4917012345678']);
});

settings.run();

const words = suite('workers/channels: payloads, signatures, redaction');

words('the signature is the HMAC-SHA256 of the body (RFC 4231 test case 2)', () => {
  assert.is(signature('Jefe', 'what do ya want for nothing?'), 'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
});

words('sms texts are short: rule, key, value, limit; a digest names what it folds and how many more', () => {
  assert.is(smsText(alert(1)), 'Vigil critical: spend-day key acct-1 at 513.5, limit 500');
  const many = Array.from({ length: 40 }, (_, i) => alert(i));
  const text = smsDigestText(many);
  assert.ok(text.length <= 300, `${text.length} characters`);
  assert.ok(text.startsWith('Vigil: 40 alerts (40 critical); spend-day acct-0 512.5>500; spend-day acct-1 513.5>500'));
  assert.match(text, /; \+\d+ more$/);
});

words('sms auth: user:password is Basic, anything else is sent as written', () => {
  assert.is(authorization('vigil:pw'), `Basic ${Buffer.from('vigil:pw').toString('base64')}`);
  assert.is(authorization('Bearer abc'), 'Bearer abc');
});

words('a redactor replaces every secret, longest first; URLs are shown by origin only', () => {
  const r = new Redactor(['abc', 'abcdef', 'x']);
  assert.is(r.redact('abcdef and abc and x'), '*** and *** and x');
  assert.is(safeUrl(new URL('https://u:p@hooks.example.net:8443/T0/B0?token=1')), 'https://hooks.example.net:8443');
});

words('a webhook timeout longer than a Node timer can hold (25d) still lets a 2xx answer count as delivered', async () => {
  // setTimeout takes at most 2^31-1 ms (24.8 days) and turns a longer delay into 1 ms: a
  // `timeout: 30d` that `vigil check` accepts made every POST "time out" at once, forever.
  const hook = await startHttpReceiver({ delayMs: 20 });
  const sender = new WebhookSender('h', { url: new URL(hook.url), headers: {}, timeoutMs: 30 * 86_400_000 }, 1, new Redactor([]));
  try {
    await sender.send([alert(1)], false);
    assert.is(hook.requests.length, 1);
  } finally {
    await sender.close();
    await hook.close();
  }
});

words('full-jitter back-off grows from base to cap', () => {
  const top = (): number => 0.999999;
  assert.is(backoffMs(1, 1_000, 300_000, top), 999);
  assert.is(backoffMs(2, 1_000, 300_000, top), 1_999);
  assert.is(backoffMs(9, 1_000, 300_000, top), 255_999);
  assert.is(backoffMs(10, 1_000, 300_000, top), 299_999);
  assert.is(backoffMs(200, 1_000, 300_000, top), 299_999);
  assert.is(backoffMs(5, 1_000, 300_000, () => 0), 0);
});

words.run();

interface MailCtx { smtp: SmtpReceiver, senders: EmailSender[] }
const mail = suite<MailCtx>('workers/channels/email: a mail is delivered once every recipient took it (a real SMTP server)', { smtp: undefined as unknown as SmtpReceiver, senders: [] });
const PASSWORD = 'p@ss-9z!';
const FRAUD = 'fraud@example.net';
const TYPO = 'fruad@example.net';
const NO_SUCH = { code: 550, text: `5.1.1 <${TYPO}>: no such mailbox` };
mail.before(async (c) => { c.smtp = await startSmtpReceiver({ user: 'vigil', password: PASSWORD }); });
mail.before.each((c) => { c.smtp.mails.length = 0; c.smtp.refuseRecipient = undefined; c.smtp.refuseMessage = undefined; });
mail.after.each(async (c) => { for (const s of c.senders.splice(0)) await s.close(); });
mail.after(async (c) => { await c.smtp.close(); });

function mailer (c: MailCtx, to: string[], owedMax?: number): EmailSender {
  const smtp = new URL(`smtp://vigil:${encodeURIComponent(PASSWORD)}@127.0.0.1:${c.smtp.port}`);
  const s = new EmailSender('desk', { to, from: 'vigil@example.net', smtp }, 1, 2_000, new Redactor([PASSWORD, encodeURIComponent(PASSWORD)]), owedMax);
  c.senders.push(s);
  return s;
}

/** The attempt's error message; fails the test if the attempt was delivered. */
async function refusal (attempt: Promise<void>): Promise<string> {
  try {
    await attempt;
  } catch (err) {
    assert.instance(err, DeliveryError);
    assert.is((err as DeliveryError).code, 'VIGIL_DELIVERY_FAILED');
    return (err as Error).message;
  }
  return assert.unreachable('the attempt should fail') as never;
}

/** Who got which mail: `to` (as the server took it) and the alert ids it carried. */
const received = (s: SmtpReceiver): Array<[string[], string]> => s.mails.map((m) => [[...m.to], m.headers['x-vigil-alert-id'] ?? m.headers['x-vigil-alert-ids'] ?? '']);

mail('a recipient the server refuses fails the attempt, naming it and the answer; the retry goes to it alone', async (c) => {
  const sender = mailer(c, [FRAUD, TYPO]);
  c.smtp.refuseRecipient = (r) => (r === TYPO ? NO_SUCH : undefined);
  const origin = `smtp://127.0.0.1:${c.smtp.port}`;
  const said = `channel desk: SMTP ${origin} refused ${TYPO} (550 5.1.1 <${TYPO}>: no such mailbox); ${FRAUD} got the mail`;
  assert.is(await refusal(sender.send([alert(1)], false)), said);
  assert.equal(received(c.smtp), [[[FRAUD], 'alert-0001']]);
  // Refused again: the same words, and the recipient that took it gets no second copy.
  assert.is(await refusal(sender.send([alert(1)], false)), said);
  assert.equal(received(c.smtp), [[[FRAUD], 'alert-0001']]);
  c.smtp.refuseRecipient = undefined;
  await sender.send([alert(1)], false);
  assert.equal(received(c.smtp), [[[FRAUD], 'alert-0001'], [[TYPO], 'alert-0001']]);
  assert.is(c.smtp.mails[1]!.headers.to, `${FRAUD}, ${TYPO}`, 'the retry is addressed like the first mail');
  assert.is(c.smtp.mails[1]!.headers.subject, '[Vigil] critical: spend-day acct-1 at 513.5 (limit 500)');
  // Delivered, the alert is forgotten: sent again (enqueued anew), it goes to everyone.
  await sender.send([alert(1)], false);
  assert.equal(received(c.smtp)[2], [[FRAUD, TYPO], 'alert-0001']);
});

mail('a temporary refusal (451) is retried the same way; several refused recipients are each named with their answer', async (c) => {
  const sender = mailer(c, [FRAUD, 'noc@example.net', 'desk@example.net']);
  c.smtp.refuseRecipient = (r) => (r === FRAUD ? undefined : r === 'noc@example.net' ? { code: 451, text: '4.3.0 mailbox busy, try again later' } : { code: 550, text: '5.7.1 relaying denied' });
  assert.is(await refusal(sender.send([alert(2)], false)), `channel desk: SMTP smtp://127.0.0.1:${c.smtp.port} refused noc@example.net (451 4.3.0 mailbox busy, try again later), desk@example.net (550 5.7.1 relaying denied); ${FRAUD} got the mail`);
  c.smtp.refuseRecipient = (r) => (r === 'desk@example.net' ? { code: 550, text: '5.7.1 relaying denied' } : undefined);
  assert.is(await refusal(sender.send([alert(2)], false)), `channel desk: SMTP smtp://127.0.0.1:${c.smtp.port} refused desk@example.net (550 5.7.1 relaying denied); ${FRAUD}, noc@example.net got the mail`);
  c.smtp.refuseRecipient = undefined;
  await sender.send([alert(2)], false);
  assert.equal(received(c.smtp), [[[FRAUD], 'alert-0002'], [['noc@example.net'], 'alert-0002'], [['desk@example.net'], 'alert-0002']]);
});

mail('every recipient refused: each is named, nobody got the mail, the retry goes to all; a secret in an answer is hidden', async (c) => {
  const sender = mailer(c, [FRAUD, TYPO]);
  c.smtp.refuseRecipient = (r) => ({ code: 550, text: `5.1.1 <${r}> unknown (session vigil:${PASSWORD})` });
  assert.is(await refusal(sender.send([alert(3)], false)), `channel desk: SMTP smtp://127.0.0.1:${c.smtp.port} refused ${FRAUD} (550 5.1.1 <${FRAUD}> unknown (session vigil:***)), ${TYPO} (550 5.1.1 <${TYPO}> unknown (session vigil:***))`);
  assert.equal(c.smtp.mails, []);
  c.smtp.refuseRecipient = undefined;
  await sender.send([alert(3)], false);
  assert.equal(received(c.smtp), [[[FRAUD, TYPO], 'alert-0003']]);
});

mail('every recipient accepting: one mail to all of them, delivered at once', async (c) => {
  const sender = mailer(c, [FRAUD, TYPO]);
  await sender.send([alert(4)], false);
  await sender.send([alert(5), alert(6)], true);
  assert.equal(received(c.smtp), [[[FRAUD, TYPO], 'alert-0004'], [[FRAUD, TYPO], 'alert-0005 alert-0006']]);
});

mail('a digest retried with new alerts folded in: each recipient gets, in one mail, the alerts it is still owed', async (c) => {
  const sender = mailer(c, [FRAUD, TYPO]);
  const origin = `smtp://127.0.0.1:${c.smtp.port}`;
  c.smtp.refuseRecipient = (r) => (r === TYPO ? NO_SUCH : undefined);
  assert.is(await refusal(sender.send([alert(1), alert(2)], true)), `channel desk: SMTP ${origin} refused ${TYPO} (550 5.1.1 <${TYPO}>: no such mailbox); ${FRAUD} got the mail`);
  // The lane retries the failed entries together with alerts that arrived meanwhile.
  assert.is(await refusal(sender.send([alert(1), alert(2), alert(3)], true)), `channel desk: SMTP ${origin} refused ${TYPO} (550 5.1.1 <${TYPO}>: no such mailbox); ${FRAUD} got the mail`);
  c.smtp.refuseRecipient = undefined;
  await sender.send([alert(1), alert(2), alert(3)], true);
  assert.equal(received(c.smtp), [
    [[FRAUD], 'alert-0001 alert-0002'],
    [[FRAUD], 'alert-0003'],
    [[TYPO], 'alert-0001 alert-0002 alert-0003'],
  ]);
  assert.is(c.smtp.mails[1]!.headers.subject, '[Vigil] 1 alert (1 critical)');
  assert.is(c.smtp.mails[2]!.headers.subject, '[Vigil] 3 alerts (3 critical)');
});

mail('the memo of owed recipients is bounded: an alert pushed out by newer refusals goes to everyone again', async (c) => {
  const sender = mailer(c, [FRAUD, TYPO], 2);
  c.smtp.refuseRecipient = (r) => (r === TYPO ? NO_SUCH : undefined);
  for (const i of [1, 2, 3]) await refusal(sender.send([alert(i)], false));
  c.smtp.refuseRecipient = undefined;
  for (const i of [1, 2, 3]) await sender.send([alert(i)], false);
  assert.equal(received(c.smtp).slice(3), [[[FRAUD, TYPO], 'alert-0001'], [[TYPO], 'alert-0002'], [[TYPO], 'alert-0003']]);
});

mail('any other failure reads as before, and once some recipients took the mail, names them too', async (c) => {
  const port = await freePort();
  const nowhere = new EmailSender('desk', { to: [FRAUD], smtp: new URL(`smtp://127.0.0.1:${port}`) }, 1, 2_000, new Redactor([]));
  c.senders.push(nowhere);
  assert.is(await refusal(nowhere.send([alert(1)], false)), `channel desk: SMTP smtp://127.0.0.1:${port} ESOCKET: connect ECONNREFUSED 127.0.0.1:${port}`);
  const sender = mailer(c, [FRAUD, TYPO]);
  const origin = `smtp://127.0.0.1:${c.smtp.port}`;
  c.smtp.refuseMessage = { code: 554, text: '5.7.1 rejected by the content filter' };
  assert.is(await refusal(sender.send([alert(1)], false)), `channel desk: SMTP ${origin} answered 554: Message failed: 554 5.7.1 rejected by the content filter`);
  c.smtp.refuseMessage = undefined;
  c.smtp.refuseRecipient = (r) => (r === TYPO ? NO_SUCH : undefined);
  await refusal(sender.send([alert(1)], false));
  c.smtp.refuseRecipient = undefined;
  c.smtp.refuseMessage = { code: 554, text: '5.7.1 rejected by the content filter' };
  assert.is(await refusal(sender.send([alert(1)], false)), `channel desk: SMTP ${origin} answered 554: Message failed: 554 5.7.1 rejected by the content filter; ${FRAUD} got the mail`);
  assert.equal(received(c.smtp), [[[FRAUD], 'alert-0001']]);
});

mail.run();

interface Ctx { dir: string }
const actor = suite<Ctx>('workers/notifier/actor: in-process, real outbox and sockets', { dir: '' });
actor.before.each((c) => { c.dir = tempDir('vigil-notify-'); });
actor.after.each((c) => { removeDir(c.dir); });

function data (dir: string, channels: Record<string, { type: string, settings: Record<string, unknown> }>, nats?: NatsSettings): NotifierData {
  return {
    dataPath: join(dir, 'notify'),
    channels: new Map(Object.entries(channels)),
    routes: new Map(),
    options: { backoffBaseMs: 20, backoffCapMs: 200, maxDigest: 1_000, timeoutMs: 2_000, nats, baseDir: dir, log: true, closeGraceMs: 500, nice: 0 },
  };
}

actor('secrets reach no log line, stat, dead letter or error', async ({ dir }) => {
  const port = await freePort();
  const secrets = ['hunter2-webhook', 'tok-9f8e7d6c', 'Bearer-part-x1y2', 'pa55-smtp-word', 'qs-token-777', 'basicpw-42', 'hdr-secret-55', 'nats-pw-31337'];
  const lines: string[] = [];
  const a = NotifierActor.open(data(dir, {
    hook: { type: 'webhook', settings: { url: `http://user:basicpw-42@127.0.0.1:${port}/T0/tok-9f8e7d6c?token=qs-token-777`, secret: 'hunter2-webhook', headers: { Authorization: 'hdr-secret-55' }, retry: { max: '1s' } } },
    gw: { type: 'sms', settings: { url: `http://127.0.0.1:${port}/send`, to: '+4917012345678', auth: 'Bearer Bearer-part-x1y2', retry: { max: '1s' } } },
    mail: { type: 'email', settings: { to: 'a@example.net', smtp: `smtps://vigil:pa55-smtp-word@127.0.0.1:${port}`, retry: { max: '1s' } } },
    bus: { type: 'nats', settings: { subject: 'vigil.alerts', retry: { max: '1s' } } },
  }, { servers: [`nats://vigil:nats-pw-31337@127.0.0.1:${port}`], prefix: 'vigil', auth: { kind: 'none' }, tls: undefined }), { ...defaultDeps, log: (e) => { lines.push(JSON.stringify(e)); }, write: (l) => { lines.push(l); } });
  try {
    await a.enqueue([alert(1), alert(2)]);
    await waitFor(() => a.deadLetters().length === 8, 10_000, '8 dead letters');
    const said = JSON.stringify({ lines, stats: a.stats(), dead: a.deadLetters() });
    for (const s of secrets) assert.not.ok(said.includes(s), `${s} leaked: ${said.slice(0, 400)}`);
    assert.ok(lines.some((l) => l.includes('"msg":"channel failing, backing off"') && l.includes(`http://127.0.0.1:${port}`)), 'the log names the target by origin');
    assert.ok(lines.some((l) => l.includes('"msg":"alerts moved to the dead letters"')));
  } finally {
    await a.close();
  }
  try {
    await Notifications.open({ config: rules([rule({ id: 'r' })], { channels: new Map([['x', { type: 'webhook', settings: { url: 'http://h/x', secret: 'hunter2-webhook', timeout: 'soon' } }]]) }), dataPath: join(dir, 'other'), log: false });
    assert.unreachable('should refuse the channel');
  } catch (err) {
    assert.instance(err, InvalidChannelError);
    assert.is((err as Error).message, 'channels.x.timeout must be a duration such as 90s, 30m, 1h or 2d, got "soon"');
  }
});

actor('a dead channel costs one attempt per back-off pause, not one per queued alert', async ({ dir }) => {
  const port = await freePort();
  const a = NotifierActor.open(data(dir, { hook: { type: 'webhook', settings: { url: `http://127.0.0.1:${port}/hook` } } }), { ...defaultDeps, log: () => {} });
  try {
    await a.enqueue(Array.from({ length: 1_000 }, (_, i) => alert(i)));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const s = a.stats().channels[0]!;
    assert.is(s.queued, 1_000);
    assert.ok(s.failedAttempts >= 3 && s.failedAttempts < 150, `${s.failedAttempts} attempts in 1.5 s`);
    assert.ok(s.inFlight <= 1, 'one probe at a time while failing');
  } finally {
    await a.close();
  }
});

actor('a recipient refused for good holds up none of the others: the channel does not back off, and the refusal is logged once', async ({ dir }) => {
  // Every alert fails the same way (its mail refused for the typo), so a channel-wide back-off
  // would send one mail per pause (up to 5 min) and the recipients that take mail would starve.
  const smtp = await startSmtpReceiver({ user: 'vigil', password: PASSWORD });
  smtp.refuseRecipient = (r) => (r === TYPO ? NO_SUCH : undefined);
  const events: Array<Record<string, unknown>> = [];
  const d = data(dir, { desk: { type: 'email', settings: { to: [FRAUD, TYPO], smtp: `smtp://vigil:${encodeURIComponent(PASSWORD)}@127.0.0.1:${smtp.port}` } } });
  const a = NotifierActor.open({ ...d, options: { ...d.options, backoffBaseMs: 1_000, backoffCapMs: 300_000 } }, { ...defaultDeps, log: (e) => { events.push(e); } });
  try {
    await a.enqueue(Array.from({ length: 40 }, (_, i) => alert(i)));
    await waitFor(() => new Set(smtp.mails.map((m) => m.headers['x-vigil-alert-id'])).size === 40, 10_000, `every alert at ${FRAUD}`);
    const s = a.stats().channels[0]!;
    assert.is(s.state, 'delivering', 'not backing off');
    assert.is(s.queued, 40, 'each alert still owed to the refused recipient');
    assert.ok(smtp.mails.every((m) => m.to.length === 1 && m.to[0] === FRAUD));
    const said = `channel desk: SMTP smtp://127.0.0.1:${smtp.port} refused ${TYPO} (550 5.1.1 <${TYPO}>: no such mailbox); ${FRAUD} got the mail`;
    assert.equal(events.map((e) => [e.level, e.msg, e.error]), [['warn', 'some recipients refused, retried for them alone', said]]);
  } finally {
    await a.close();
    await smtp.close();
  }
});

actor.run();

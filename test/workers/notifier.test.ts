// The notification actor on its real thread, against real receivers on loopback: HTTP servers
// that answer 200, answer 500, hang, or are not there yet (connection refused), an SMTP server
// (smtp-server) and a nats-server. Every wait is bounded; every socket and thread is closed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Alert } from '../../core/alert.js';
import type { RuleConfig } from '../../core/rules-config.js';
import { Notifications } from '../../cluster/notifier.js';
import type { NotificationsOptions, NotifierStats } from '../../cluster/notifier.js';
import { signature } from '../../workers/channels/webhook.js';
import { disk } from '../../workers/codec.js';
import { rule, rules } from '../helpers/config.js';
import { startNatsServer } from '../helpers/nats-server.js';
import type { NatsServer } from '../helpers/nats-server.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { freePort, startHttpReceiver, startSmtpReceiver, waitFor } from '../fixtures/receivers.js';
import type { HttpReceiver } from '../fixtures/receivers.js';
import { alert } from '../fixtures/alerts.js';

const SECRET = 'whsec-4f1e2d3c';

const alerts = (n: number, from = 0): Alert[] => Array.from({ length: n }, (_, i) => alert(from + i));

type Channels = Record<string, { type: string, settings: Record<string, unknown> }>;

function options (dir: string, channels: Channels, over: Partial<NotificationsOptions> = {}, list: RuleConfig[] = [rule({ id: 'spend-day' })]): NotificationsOptions {
  return {
    config: rules(list, { channels: new Map(Object.entries(channels)) }),
    dataPath: join(dir, 'notify'),
    backoffBaseMs: 20,
    backoffCapMs: 200,
    log: false,
    baseDir: dir,
    ...over,
  };
}

/** Ids of alerts in the bodies a webhook received (objects or digest arrays), repeats included. */
function idsOf (r: HttpReceiver): string[] {
  return r.requests.flatMap((q) => {
    const body = JSON.parse(q.body) as Alert | Alert[];
    return Array.isArray(body) ? body.map((a) => a.id) : [body.id];
  });
}

const uniq = (ids: readonly string[]): string[] => [...new Set(ids)].sort();
const channel = (s: NotifierStats, name: string): NotifierStats['channels'][number] => s.channels.find((c) => c.channel === name)!;

interface Ctx { dir: string, open: Notifications[], servers: Array<{ close: () => Promise<void> }> }
const ctx: Ctx = { dir: '', open: [], servers: [] };

async function notifier (opts: NotificationsOptions): Promise<Notifications> {
  const n = await Notifications.open(opts);
  ctx.open.push(n);
  return n;
}

async function receiver (opts: Parameters<typeof startHttpReceiver>[0] = {}): Promise<HttpReceiver> {
  const r = await startHttpReceiver(opts);
  ctx.servers.push(r);
  return r;
}

async function cleanup (): Promise<void> {
  for (const n of ctx.open.splice(0)) await n.close().catch(() => {});
  for (const s of ctx.servers.splice(0)) await s.close();
}

const webhook = suite<Ctx>('workers/notifier: webhook channel on a real thread', ctx);
webhook.before.each((c) => { c.dir = tempDir('vigil-notify-'); });
webhook.after.each(async (c) => { await cleanup(); removeDir(c.dir); });

webhook('each alert is POSTed once with a signature that verifies and the custom headers', async ({ dir }) => {
  const r = await receiver();
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: r.url, secret: SECRET, headers: { 'X-Team': 'fraud' } } } }));
  await n.enqueue(alerts(5));
  await waitFor(() => r.requests.length >= 5, 10_000, '5 deliveries');
  assert.equal(uniq(idsOf(r)), uniq(alerts(5).map((a) => a.id)));
  for (const q of r.requests) {
    assert.is(q.headers['x-vigil-signature'], signature(SECRET, q.body));
    assert.is(q.headers['x-team'], 'fraud');
    assert.is(q.headers['x-vigil-alert-id'], (JSON.parse(q.body) as Alert).id);
    assert.is(q.headers['content-type'], 'application/json');
  }
  await waitFor(async () => channel(await n.stats(), 'noc').queued === 0, 5_000, 'an empty queue');
  const s = channel(await n.stats(), 'noc');
  assert.is(s.delivered, 5);
  assert.is(s.state, 'idle');
  assert.is(s.target, `http://127.0.0.1:${r.port}`);
});

webhook('a receiver answering 500 gets every alert once it answers 200 again', async ({ dir }) => {
  const r = await receiver({ mode: 'fail' });
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: r.url } } }));
  await n.enqueue(alerts(6));
  await waitFor(async () => channel(await n.stats(), 'noc').failedAttempts >= 3, 10_000, '3 failed attempts');
  const s = channel(await n.stats(), 'noc');
  assert.is(s.state, 'backing-off');
  assert.is(s.lastError, `channel noc: POST http://127.0.0.1:${r.port} answered 500`);
  assert.is(s.queued, 6);
  r.mode = 'ok';
  await waitFor(() => uniq(idsOf(r)).length === 6, 10_000, 'all 6 alerts');
  assert.equal(uniq(idsOf(r)), uniq(alerts(6).map((a) => a.id)));
});

webhook('a receiver that never answers times out and is retried; every alert arrives once it answers', async ({ dir }) => {
  const r = await receiver({ mode: 'hang' });
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: r.url, timeout: '1s' } } }));
  await n.enqueue(alerts(3));
  await waitFor(async () => channel(await n.stats(), 'noc').failedAttempts >= 1, 10_000, 'a timeout');
  assert.is(channel(await n.stats(), 'noc').lastError, `channel noc: POST http://127.0.0.1:${r.port} timed out after 1000 ms`);
  r.mode = 'ok';
  await waitFor(() => uniq(idsOf(r)).length === 3, 10_000, 'all 3 alerts');
});

webhook('a refused connection is retried until the receiver comes up on that port', async ({ dir }) => {
  const port = await freePort();
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: `http://127.0.0.1:${port}/hook` } } }));
  await n.enqueue(alerts(5));
  await waitFor(async () => channel(await n.stats(), 'noc').failedAttempts >= 2, 10_000, 'refused attempts');
  assert.is(channel(await n.stats(), 'noc').lastError, `channel noc: POST http://127.0.0.1:${port} failed: ECONNREFUSED`);
  const r = await receiver({ port });
  await waitFor(() => uniq(idsOf(r)).length === 5, 10_000, 'all 5 alerts');
});

webhook('a digest folds a burst into one signed POST of a JSON array', async ({ dir }) => {
  const r = await receiver();
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: r.url, secret: SECRET, digest: '1s' } } }));
  const started = Date.now();
  for (let i = 0; i < 4; i++) await n.enqueue(alerts(5, i * 5));
  await waitFor(() => r.requests.length >= 1, 5_000, 'the digest');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.is(r.requests.length, 1);
  const q = r.requests[0]!;
  assert.ok(q.at - started >= 900, `the digest waited its interval (${q.at - started} ms)`);
  assert.is(q.headers['x-vigil-digest'], '20');
  assert.is(q.headers['x-vigil-signature'], signature(SECRET, q.body));
  assert.equal((JSON.parse(q.body) as Alert[]).map((a) => a.id), alerts(20).map((a) => a.id));
});

webhook('rate: at most N messages per interval, the excess folded into a digest and nothing dropped', async ({ dir }) => {
  const r = await receiver();
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: r.url, rate: '2/1s' } } }));
  const starts: number[] = [];
  n.onDelivery = (d) => { starts.push(d.start); };
  await n.enqueue(alerts(10));
  await waitFor(() => uniq(idsOf(r)).length === 10, 5_000, 'the first burst');
  await n.enqueue(alerts(5, 10));
  await n.enqueue(alerts(3, 15));
  await waitFor(() => uniq(idsOf(r)).length === 18, 10_000, 'the second burst');
  assert.equal(uniq(idsOf(r)), uniq(alerts(18).map((a) => a.id)));
  // No more than 2 messages started in any 1 s: the start times the thread reports for its
  // attempts (the receiver's arrival times also carry the loopback's and the test process's
  // delays, which on a loaded machine moved one message by more than the slack).
  await n.collectDeliveries();
  const at = starts.sort((a, b) => a - b);
  assert.is(at.length, r.requests.length, 'every message reported');
  for (let i = 2; i < at.length; i++) assert.ok(at[i]! - at[i - 2]! >= 950, `message ${i} started ${at[i]! - at[i - 2]!} ms after message ${i - 2}`);
  assert.ok(r.requests.length <= 4, `${r.requests.length} messages for 18 alerts`);
  assert.ok(r.requests.some((q) => Array.isArray(JSON.parse(q.body))), 'the excess went out as a digest');
});

webhook('an alert the receiver keeps refusing backs off on its own and holds up none of the others', async ({ dir }) => {
  const r = await receiver();
  const poison = alert(0).id;
  r.refuse = (body) => (JSON.parse(body) as Alert).id === poison;
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: r.url } } }));
  await n.enqueue(alerts(8));
  await waitFor(() => uniq(idsOf(r)).length === 7, 10_000, 'the 7 others');
  assert.not.ok(idsOf(r).includes(poison));
  await waitFor(async () => channel(await n.stats(), 'noc').failedAttempts >= 2, 10_000, 'the refused one tried again');
  assert.is(channel(await n.stats(), 'noc').queued, 1);
  r.refuse = undefined;
  await waitFor(() => uniq(idsOf(r)).length === 8, 10_000, 'the refused one, once accepted');
  await n.enqueue(alerts(2, 8));
  await waitFor(() => uniq(idsOf(r)).length === 10, 5_000, 'later alerts at full speed');
});

webhook('undelivered after retry.max: dead letters, which redrive puts back in the queue', async ({ dir }) => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/hook`;
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url, retry: { max: '1s' } } } }));
  const sent = alerts(3);
  await n.enqueue(sent);
  await waitFor(async () => (await n.deadLetters()).length === 3, 10_000, '3 dead letters');
  const dead = await n.deadLetters();
  assert.equal(dead.map((d) => d.id).sort(), sent.map((a) => `noc/${a.id}`).sort());
  for (const d of dead) {
    assert.is(d.channel, 'noc');
    assert.is(d.error, `channel noc: POST http://127.0.0.1:${port} failed: ECONNREFUSED`);
    assert.ok(Date.parse(d.deadAt) - Date.parse(d.enqueuedAt) >= 1_000);
  }
  assert.equal(dead.find((d) => d.alert.id === sent[0]!.id)?.alert, sent[0]);
  const s = channel(await n.stats(), 'noc');
  assert.is(s.queued, 0);
  assert.is(s.deadLetters, 3);
  const r = await receiver({ port });
  assert.is(await n.redrive(`noc/${sent[0]!.id}`), 1);
  await waitFor(() => idsOf(r).length === 1, 5_000, 'the redriven alert');
  assert.equal(idsOf(r), [sent[0]!.id]);
  assert.is(await n.redrive('no-such-id'), 0);
  assert.is(await n.redrive(), 2);
  await waitFor(() => uniq(idsOf(r)).length === 3, 5_000, 'every redriven alert');
  assert.equal(await n.deadLetters(), []);
});

webhook('two redrives at once put each dead letter back once', async ({ dir }) => {
  const port = await freePort();
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: `http://127.0.0.1:${port}/hook`, retry: { max: '1s' } } } }));
  await n.enqueue(alerts(3));
  await waitFor(async () => (await n.deadLetters()).length === 3, 10_000, '3 dead letters');
  const r = await receiver({ port });
  const counts = await Promise.all([n.redrive(), n.redrive(), n.redrive()]);
  assert.is(counts.reduce((a, b) => a + b, 0), 3);
  await waitFor(() => uniq(idsOf(r)).length === 3, 5_000, 'every redriven alert');
  await waitFor(async () => channel(await n.stats(), 'noc').queued === 0, 5_000, 'an empty queue');
  assert.is(idsOf(r).length, 3);
  assert.is(channel(await n.stats(), 'noc').delivered, 3);
});

webhook('a dead channel does not slow another one', async ({ dir }) => {
  const dead = await receiver({ mode: 'hang' });
  const live = await receiver();
  const n = await notifier(options(dir, {
    dead: { type: 'webhook', settings: { url: dead.url, timeout: '30s' } },
    live: { type: 'webhook', settings: { url: live.url } },
  }));
  const started = Date.now();
  await n.enqueue(alerts(40));
  await waitFor(() => uniq(idsOf(live)).length === 40, 5_000, 'the live channel');
  assert.ok(Date.now() - started < 5_000);
  const s = await n.stats();
  assert.is(channel(s, 'dead').queued, 40);
  assert.ok(channel(s, 'dead').inFlight <= 4, 'bounded concurrency on the hung channel');
});

webhook('notify and min_severity route each alert to its channels', async ({ dir }) => {
  const n = await notifier(options(dir, {
    desk: { type: 'file', settings: { path: 'desk.jsonl' } },
    noc: { type: 'file', settings: { path: 'noc.jsonl', min_severity: 'critical' } },
  }, {}, [rule({ id: 'only-desk', notify: ['desk'] }), rule({ id: 'everyone' })]));
  await n.enqueue([
    alert(1, { rule: 'only-desk' }),
    alert(2, { rule: 'everyone', severity: 'warning' }),
    alert(3, { rule: 'everyone' }),
    alert(4, { rule: 'not-in-these-rules', severity: 'info' }),
  ]);
  const lines = (file: string): string[] => existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8').split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as Alert).id) : [];
  await waitFor(() => lines('desk.jsonl').length === 4 && lines('noc.jsonl').length === 1, 5_000, 'the files');
  assert.equal(lines('desk.jsonl'), ['alert-0001', 'alert-0002', 'alert-0003', 'alert-0004']);
  assert.equal(lines('noc.jsonl'), ['alert-0003']);
});

webhook('the same alert enqueued twice is queued once per channel', async ({ dir }) => {
  const r = await receiver({ mode: 'fail' });
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: r.url } } }));
  await Promise.all([n.enqueue(alerts(4)), n.enqueue(alerts(4))]);
  await n.enqueue(alerts(4));
  assert.is(channel(await n.stats(), 'noc').queued, 4);
});

/** The nice value of each thread of this process (Linux: /proc/self/task/<tid>/stat, field 19). */
function threadNices (): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

webhook('on Linux the notification thread runs at a lower CPU priority than the thread that feeds it', async ({ dir }) => {
  if (process.platform !== 'linux') return;
  const niced = (): number => threadNices().filter((n) => n === 7).length;
  const before = niced();
  const r = await receiver();
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: r.url } } }, { nice: 7 }));
  await n.enqueue(alerts(2));
  await waitFor(() => r.requests.length >= 2, 5_000, '2 deliveries');
  assert.is(niced(), before + 1, 'one thread more at nice 7');
  assert.is(getPriority(), 0, 'the calling thread keeps its priority');
});

webhook.run();

const crash = suite<Ctx>('workers/notifier: restarts and a killed thread lose nothing', ctx);
crash.before.each((c) => { c.dir = tempDir('vigil-notify-'); });
crash.after.each(async (c) => {
  await cleanup();
  removeDir(c.dir);
  delete process.env.VIGIL_TEST_NOTIFIER_MARKER;
  delete process.env.VIGIL_TEST_NOTIFIER_CRASH_MS;
});

crash('the thread dies in the middle of delivering; its successor delivers everything left', async ({ dir }) => {
  const r = await receiver({ delayMs: 25 });
  const marker = join(dir, 'crashed');
  process.env.VIGIL_TEST_NOTIFIER_MARKER = marker;
  process.env.VIGIL_TEST_NOTIFIER_CRASH_MS = '150';
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: r.url } } }, {
    filename: new URL('../fixtures/crashing-notifier.js', import.meta.url).href,
  }));
  const sent = alerts(120);
  await n.enqueue(sent);
  await waitFor(() => existsSync(marker), 5_000, 'the crash');
  const before = uniq(idsOf(r)).length;
  assert.ok(before < 120, `the crash came in the middle (${before} delivered before it)`);
  await waitFor(() => uniq(idsOf(r)).length === 120, 20_000, 'every alert after the crash');
  assert.equal(uniq(idsOf(r)), uniq(sent.map((a) => a.id)));
  // After the crash the handle still works on the new thread.
  await waitFor(async () => channel(await n.stats(), 'noc').queued === 0, 5_000, 'an empty queue');
});

crash('a thread that throws between messages is restarted: the process goes on and every alert is delivered', async ({ dir }) => {
  const r = await receiver({ delayMs: 25 });
  const marker = join(dir, 'thrown');
  process.env.VIGIL_TEST_NOTIFIER_MARKER = marker;
  process.env.VIGIL_TEST_NOTIFIER_CRASH_MS = '150';
  process.env.VIGIL_TEST_NOTIFIER_THROW = '1';
  try {
    const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: r.url } } }, {
      filename: new URL('../fixtures/crashing-notifier.js', import.meta.url).href,
    }));
    const sent = alerts(120);
    await n.enqueue(sent);
    await waitFor(() => existsSync(marker), 5_000, 'the throw');
    await waitFor(() => uniq(idsOf(r)).length === 120, 20_000, 'every alert after the restart');
    assert.equal(uniq(idsOf(r)), uniq(sent.map((a) => a.id)));
    await waitFor(async () => channel(await n.stats(), 'noc').queued === 0, 5_000, 'an empty queue');
  } finally {
    delete process.env.VIGIL_TEST_NOTIFIER_THROW;
  }
});

crash('a pool terminated mid-delivery and reopened on the same folder delivers everything', async ({ dir }) => {
  const r = await receiver({ mode: 'hang' });
  const opts = options(dir, { noc: { type: 'webhook', settings: { url: r.url, timeout: '30s' } } });
  const first = await notifier(opts);
  await first.enqueue(alerts(20));
  await waitFor(async () => channel(await first.stats(), 'noc').inFlight > 0, 5_000, 'deliveries under way');
  await first.terminate();
  r.mode = 'ok';
  const second = await notifier(opts);
  await waitFor(() => uniq(idsOf(r)).length === 20, 10_000, 'every alert after the reopen');
  await waitFor(async () => channel(await second.stats(), 'noc').queued === 0, 5_000, 'an empty queue');
});

crash('rate holds across a restart: a reopened notifier does not start the interval again', async ({ dir }) => {
  const r = await receiver();
  const opts = options(dir, { noc: { type: 'webhook', settings: { url: r.url, rate: '2/2s' } } });
  const starts: number[] = [];
  const first = await notifier(opts);
  first.onDelivery = (d) => { starts.push(d.start); };
  await first.enqueue(alerts(2));
  await waitFor(() => uniq(idsOf(r)).length === 2, 5_000, 'the first two');
  await first.collectDeliveries();
  await first.close();
  const second = await notifier(opts);
  second.onDelivery = (d) => { starts.push(d.start); };
  await second.enqueue(alerts(1, 2));
  await waitFor(() => uniq(idsOf(r)).length === 3, 5_000, 'the third, once the interval is over');
  await second.collectDeliveries();
  const at = starts.sort((a, b) => a - b);
  assert.is(at.length, 3, 'one message per alert');
  assert.ok(at[2]! - at[0]! >= 1_950, `the third message started ${at[2]! - at[0]!} ms after the first; the rate allows 2 per 2 s`);
});

crash('a graceful close keeps the outbox; dead letters survive a reopen too', async ({ dir }) => {
  const port = await freePort();
  const settings = { url: `http://127.0.0.1:${port}/hook`, retry: { max: '1s' } };
  const first = await notifier(options(dir, { noc: { type: 'webhook', settings }, other: { type: 'webhook', settings: { url: `http://127.0.0.1:${port}/other` } } }));
  await first.enqueue(alerts(4));
  await waitFor(async () => (await first.deadLetters()).length === 4, 10_000, 'dead letters');
  await first.close();
  const second = await notifier(options(dir, { noc: { type: 'webhook', settings }, other: { type: 'webhook', settings: { url: `http://127.0.0.1:${port}/other` } } }));
  assert.is((await second.deadLetters()).length, 4);
  assert.is(channel(await second.stats(), 'other').queued, 4);
  const r = await receiver({ port });
  await waitFor(() => r.requests.filter((q) => q.path === '/other').length === 4, 10_000, 'the other channel');
  assert.is(await second.redrive(), 4);
  await waitFor(() => r.requests.filter((q) => q.path === '/hook').length === 4, 10_000, 'the redriven alerts');
});

crash('stats count the dead letters per channel across bury, redrive, a letter buried again and a reopen', async ({ dir }) => {
  const port = await freePort();
  const both = options(dir, {
    noc: { type: 'webhook', settings: { url: `http://127.0.0.1:${port}/noc`, retry: { max: '1s' } } },
    desk: { type: 'webhook', settings: { url: `http://127.0.0.1:${port}/desk`, retry: { max: '1s' } } },
  });
  /** [noc, desk, total] as stats() says, and the letters as deadLetters() lists them */
  const counts = async (n: Notifications): Promise<number[]> => {
    const s = await n.stats();
    return [channel(s, 'noc').deadLetters, channel(s, 'desk').deadLetters, s.deadLetters];
  };
  const listed = async (n: Notifications): Promise<number[]> => {
    const dead = await n.deadLetters();
    return [dead.filter((d) => d.channel === 'noc').length, dead.filter((d) => d.channel === 'desk').length, dead.length];
  };
  const sent = alerts(5);
  const first = await notifier(both);
  await first.enqueue(sent);
  await waitFor(async () => (await first.deadLetters()).length === 10, 10_000, '10 dead letters');
  assert.equal(await counts(first), [5, 5, 10]);

  // Redriven: out of the count at once; refused again for retry.max: back in it, once.
  assert.is(await first.redrive(`noc/${sent[0]!.id}`), 1);
  assert.equal(await counts(first), [4, 5, 9]);
  await waitFor(async () => (await counts(first))[0] === 5, 10_000, 'the redriven letter dead again');
  assert.is(await first.redrive(sent[1]!.id), 2);
  assert.equal(await counts(first), [4, 4, 8]);
  // Waited for in the listing: a letter is counted as it is written, before its commit makes
  // it readable, so the count may lead the listing for a moment, never trail it.
  await waitFor(async () => (await listed(first))[2] === 10, 10_000, 'both letters dead again');
  assert.equal(await counts(first), [5, 5, 10]);

  // An alert enqueued again while it is a dead letter dies again: its letter is replaced, not added.
  const before = (await first.deadLetters()).filter((d) => d.alert.id === sent[2]!.id).map((d) => d.deadAt);
  await first.enqueue([sent[2]!]);
  await waitFor(async () => (await first.deadLetters()).filter((d) => d.alert.id === sent[2]!.id).every((d, i) => d.deadAt > before[i]!), 10_000, 'the letters replaced');
  assert.equal(await counts(first), [5, 5, 10]);
  assert.equal(await listed(first), [5, 5, 10]);
  await first.close();

  // A reopened outbox counts what is in LMDB.
  const second = await notifier(both);
  assert.equal(await counts(second), [5, 5, 10]);
  const r = await receiver({ port });
  assert.is(await second.redrive(), 10);
  assert.equal(await counts(second), [0, 0, 0]);
  await waitFor(() => uniq(idsOf(r)).length === 5 && r.requests.length >= 10, 10_000, 'every redriven letter delivered');
  assert.equal(await counts(second), [0, 0, 0]);
  await second.close();
  const third = await notifier(both);
  assert.equal(await counts(third), [0, 0, 0]);
  assert.equal(await listed(third), [0, 0, 0]);
});

crash('an outbox of the first layout (a key per entry) is converted when opened and delivered', async ({ dir }) => {
  const db = openLmdb({ path: join(dir, 'notify'), compression: false, encoding: 'binary' });
  const sent = alerts(3);
  const value = Buffer.alloc(8);
  value.writeDoubleLE(Date.now(), 0);
  await db.transaction(() => {
    db.putSync(['b', 1], Buffer.concat([value, disk.pack(sent)]));
    for (const i of [0, 2]) db.putSync(['q', 'noc', 2 ** 20 + i], Buffer.alloc(0));
  });
  await db.close();
  const r = await receiver();
  const n = await notifier(options(dir, { noc: { type: 'webhook', settings: { url: r.url } } }));
  await waitFor(() => r.requests.length >= 2, 5_000, '2 deliveries');
  assert.equal(uniq(idsOf(r)), [sent[0]!.id, sent[2]!.id]);
  await waitFor(async () => channel(await n.stats(), 'noc').queued === 0, 5_000, 'an empty queue');
  await n.close();
  const after = openLmdb({ path: join(dir, 'notify'), compression: false, encoding: 'binary' });
  const keys = [...after.getKeys()].map((k) => JSON.stringify(k));
  await after.close();
  assert.equal(keys, [], 'nothing left once delivered, of either layout');
});

crash.run();

interface MailCtx extends Ctx { smtp: Awaited<ReturnType<typeof startSmtpReceiver>> }
const mailCtx = { ...ctx } as MailCtx;
const email = suite<MailCtx>('workers/notifier: email channel through a real SMTP server', mailCtx);
email.before(async (c) => { c.smtp = await startSmtpReceiver({ user: 'vigil', password: 'p@ss-9z!' }); });
email.before.each((c) => { c.dir = tempDir('vigil-notify-'); c.smtp.mails.length = 0; c.smtp.refuseRecipient = undefined; });
email.after.each(async (c) => { await cleanup(); removeDir(c.dir); });
email.after(async (c) => { await c.smtp.close(); });

const FRAUD = 'fraud@example.net';
const TYPO = 'fruad@example.net';
const desk = (port: number, settings: Record<string, unknown> = {}): Channels => ({
  desk: { type: 'email', settings: { to: [FRAUD, TYPO], smtp: `smtp://vigil:${encodeURIComponent('p@ss-9z!')}@127.0.0.1:${port}`, ...settings } },
});
/** Who got which mail: the recipients the server took it for, and the alert ids it carried. */
const received = (s: MailCtx['smtp']): Array<[string[], string]> => s.mails.map((m) => [[...m.to], m.headers['x-vigil-alert-id'] ?? m.headers['x-vigil-alert-ids'] ?? '']);
/** In the order of the alert ids (mails of a channel with concurrency 2 arrive in either order). */
const byId = (mails: Array<[string[], string]>): Array<[string[], string]> => mails.sort((a, b) => a[1].localeCompare(b[1]));

email('one plain-text mail per alert to every recipient, delivered at the first attempt, authenticated with the URL\'s user and password', async ({ dir, smtp }) => {
  const n = await notifier(options(dir, {
    desk: { type: 'email', settings: { to: ['fraud@example.net', 'noc@example.net'], from: 'vigil@example.net', smtp: `smtp://vigil:${encodeURIComponent('p@ss-9z!')}@127.0.0.1:${smtp.port}` } },
  }));
  await n.enqueue([alert(1), alert(2)]);
  await waitFor(() => smtp.mails.length >= 2, 10_000, '2 mails');
  const mail = smtp.mails.find((m) => m.headers['x-vigil-alert-id'] === 'alert-0001')!;
  assert.equal(mail.to, ['fraud@example.net', 'noc@example.net']);
  assert.is(mail.from, 'vigil@example.net');
  assert.is(mail.headers.subject, '[Vigil] critical: spend-day acct-1 at 513.5 (limit 500)');
  assert.is(mail.text.trim(), [
    'Rule:        spend-day',
    'Severity:    critical',
    'Key:         acct-1 (account)',
    'Window:      2026-11-21T00:00:00+01:00 to 2026-11-22T00:00:00+01:00',
    'Value:       513.5 (limit 500)',
    'Record:      cdr-1 at 2026-11-21T14:02:11+01:00',
    'Detected:    2026-11-21T14:02:11.532+01:00',
    'Description: every account: EUR 500 a day',
    'Alert id:    alert-0001',
  ].join('\n'));
  assert.ok(smtp.mails.some((m) => m.headers['x-vigil-alert-id'] === 'alert-0002'));
  // Every recipient took each mail: delivered at the first attempt, nothing left queued.
  await waitFor(async () => channel(await n.stats(), 'desk').queued === 0, 5_000, 'an empty queue');
  assert.equal(byId(received(smtp)), [[['fraud@example.net', 'noc@example.net'], 'alert-0001'], [['fraud@example.net', 'noc@example.net'], 'alert-0002']]);
  const s = channel(await n.stats(), 'desk');
  assert.is(s.failedAttempts, 0);
  assert.is(s.delivered, 2);
});

email('a digest mail folds a burst', async ({ dir, smtp }) => {
  const n = await notifier(options(dir, {
    desk: { type: 'email', settings: { to: 'fraud@example.net', smtp: `smtp://vigil:${encodeURIComponent('p@ss-9z!')}@127.0.0.1:${smtp.port}`, digest: '1s' } },
  }));
  await n.enqueue(alerts(7));
  await n.enqueue([alert(7, { severity: 'warning' })]);
  await waitFor(() => smtp.mails.length >= 1, 10_000, 'the digest mail');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.is(smtp.mails.length, 1);
  const mail = smtp.mails[0]!;
  assert.is(mail.headers.subject, '[Vigil] 8 alerts (7 critical, 1 warning)');
  assert.equal(mail.headers['x-vigil-alert-ids']?.split(' '), alerts(8).map((a) => a.id));
  assert.ok(mail.text.startsWith('8 alerts (7 critical, 1 warning), oldest first.'));
  assert.ok(mail.text.includes('--- 8 of 8: spend-day acct-7\nRule:        spend-day'));
});

email('a refused login is retried, dead-lettered after retry.max, and the password shows nowhere', async ({ dir, smtp }) => {
  const password = 'wrong-Secret-77';
  const n = await notifier(options(dir, {
    desk: { type: 'email', settings: { to: 'fraud@example.net', smtp: `smtp://vigil:${password}@127.0.0.1:${smtp.port}`, retry: { max: '1s' } } },
  }));
  await n.enqueue(alerts(2));
  await waitFor(async () => (await n.deadLetters()).length === 2, 10_000, 'dead letters');
  assert.ok(smtp.refused >= 1);
  const dead = await n.deadLetters();
  const stats = await n.stats();
  assert.ok(dead[0]!.error.startsWith(`channel desk: SMTP smtp://127.0.0.1:${smtp.port} answered 535`), dead[0]!.error);
  const everything = JSON.stringify({ dead, stats });
  assert.not.ok(everything.includes(password), 'the password leaked');
  assert.is(smtp.mails.length, 0);
});

email('a recipient the server refuses is retried alone until it takes the alert; the others get it once', async ({ dir, smtp }) => {
  smtp.refuseRecipient = (r) => (r === TYPO ? { code: 550, text: `5.1.1 <${TYPO}>: no such mailbox` } : undefined);
  const n = await notifier(options(dir, desk(smtp.port)));
  await n.enqueue([alert(1)]);
  await waitFor(async () => channel(await n.stats(), 'desk').failedAttempts >= 3, 10_000, 'three refused attempts');
  let s = channel(await n.stats(), 'desk');
  assert.is(s.lastError, `channel desk: SMTP smtp://127.0.0.1:${smtp.port} refused ${TYPO} (550 5.1.1 <${TYPO}>: no such mailbox); ${FRAUD} got the mail`);
  assert.is(s.queued, 1, 'still in the outbox');
  assert.is(s.delivered, 0);
  assert.equal(received(smtp), [[[FRAUD], 'alert-0001']], 'the retries went to the refused recipient alone');
  smtp.refuseRecipient = undefined;
  await waitFor(async () => channel(await n.stats(), 'desk').queued === 0, 5_000, 'the alert out of the outbox');
  s = channel(await n.stats(), 'desk');
  assert.is(s.delivered, 1);
  assert.is(s.state, 'idle');
  assert.equal(received(smtp), [[[FRAUD], 'alert-0001'], [[TYPO], 'alert-0001']]);
  assert.equal(await n.deadLetters(), []);
});

email('a recipient refused for good: the alert is dead-lettered after retry.max naming it, the others got it once; a redrive goes to it alone', async ({ dir, smtp }) => {
  smtp.refuseRecipient = (r) => (r === TYPO ? { code: 550, text: `5.1.1 <${TYPO}>: no such mailbox` } : undefined);
  const n = await notifier(options(dir, desk(smtp.port, { retry: { max: '1s' } })));
  await n.enqueue(alerts(2));
  await waitFor(async () => (await n.deadLetters()).length === 2, 10_000, '2 dead letters');
  const dead = await n.deadLetters();
  assert.equal(dead.map((d) => d.id).sort(), ['desk/alert-0000', 'desk/alert-0001']);
  for (const d of dead) assert.is(d.error, `channel desk: SMTP smtp://127.0.0.1:${smtp.port} refused ${TYPO} (550 5.1.1 <${TYPO}>: no such mailbox); ${FRAUD} got the mail`);
  assert.equal(byId(received(smtp)), [[[FRAUD], 'alert-0000'], [[FRAUD], 'alert-0001']]);
  assert.is(channel(await n.stats(), 'desk').queued, 0);
  // The mailbox is fixed on the server: a redrive reaches it, and the others get no second copy.
  smtp.refuseRecipient = undefined;
  assert.is(await n.redrive(), 2);
  await waitFor(() => smtp.mails.length === 4, 5_000, 'the redriven alerts');
  await waitFor(async () => channel(await n.stats(), 'desk').queued === 0, 5_000, 'an empty queue');
  assert.equal(byId(received(smtp).slice(2)), [[[TYPO], 'alert-0000'], [[TYPO], 'alert-0001']]);
  assert.equal(await n.deadLetters(), []);
});

email('a digest a recipient refused is retried for it alone; alerts folded into the retry reach the others in a mail of their own', async ({ dir, smtp }) => {
  smtp.refuseRecipient = (r) => (r === TYPO ? { code: 451, text: '4.2.1 mailbox busy, try again later' } : undefined);
  const n = await notifier(options(dir, desk(smtp.port, { digest: '1s' })));
  await n.enqueue(alerts(3));
  await waitFor(() => smtp.mails.length === 1, 10_000, 'the first digest');
  await n.enqueue(alerts(2, 3));
  await waitFor(() => smtp.mails.length === 2, 10_000, 'the alerts folded into the retry');
  assert.is(channel(await n.stats(), 'desk').lastError, `channel desk: SMTP smtp://127.0.0.1:${smtp.port} refused ${TYPO} (451 4.2.1 mailbox busy, try again later); ${FRAUD} got the mail`);
  smtp.refuseRecipient = undefined;
  await waitFor(async () => channel(await n.stats(), 'desk').queued === 0, 5_000, 'an empty queue');
  assert.equal(received(smtp), [
    [[FRAUD], 'alert-0000 alert-0001 alert-0002'],
    [[FRAUD], 'alert-0003 alert-0004'],
    [[TYPO], 'alert-0000 alert-0001 alert-0002 alert-0003 alert-0004'],
  ]);
  assert.is(smtp.mails[2]!.headers.subject, '[Vigil] 5 alerts (5 critical)');
  assert.is(smtp.mails[2]!.headers.to, `${FRAUD}, ${TYPO}`);
  assert.is(channel(await n.stats(), 'desk').delivered, 5);
});

email.run();

interface NatsCtx extends Ctx { nats: NatsServer, nc: NatsConnection }
const natsCtx = { ...ctx } as NatsCtx;
const nats = suite<NatsCtx>('workers/notifier: nats and sms channels', natsCtx);
nats.before(async (c) => {
  c.nats = await startNatsServer();
  c.nc = await connect({ servers: c.nats.url });
});
nats.before.each((c) => { c.dir = tempDir('vigil-notify-'); });
nats.after.each(async (c) => { await cleanup(); removeDir(c.dir); });
nats.after(async (c) => {
  await c.nc?.close();
  await c.nats?.stop();
});

nats('each alert is published as JSON on the channel subject', async ({ dir, nats: server, nc }) => {
  const subject = `vigil.test.alerts.${process.pid}.${Date.now()}`;
  const got: Alert[] = [];
  const sub = nc.subscribe(subject);
  (async () => { for await (const m of sub) got.push(m.json<Alert>()); })().catch(() => {});
  await nc.flush();
  const n = await notifier(options(dir, { bus: { type: 'nats', settings: { subject } } }, { nats: { servers: [server.url], prefix: 'vigil', auth: { kind: 'none' }, tls: undefined } }));
  await n.enqueue(alerts(3));
  await waitFor(() => got.length >= 3, 10_000, '3 published alerts');
  assert.equal(uniq(got.map((a) => a.id)), uniq(alerts(3).map((a) => a.id)));
  assert.equal(got.find((a) => a.id === 'alert-0001'), alert(1));
  sub.unsubscribe();
});

nats('sms: a short text to the gateway with the auth header; retried through a 500', async ({ dir }) => {
  const gw = await receiver({ mode: 'fail' });
  const n = await notifier(options(dir, { oncall: { type: 'sms', settings: { url: gw.url, to: '+4917012345678', auth: 'Bearer tok-1234567' } } }));
  await n.enqueue([alert(1)]);
  await waitFor(async () => channel(await n.stats(), 'oncall').failedAttempts >= 1, 5_000, 'a failure');
  gw.mode = 'ok';
  await waitFor(() => gw.requests.length >= 1, 5_000, 'the sms');
  const q = gw.requests[0]!;
  assert.is(q.headers.authorization, 'Bearer tok-1234567');
  assert.equal(JSON.parse(q.body), { to: '+4917012345678', text: 'Vigil critical: spend-day key acct-1 at 513.5, limit 500', id: 'alert-0001' });
});

nats.run();

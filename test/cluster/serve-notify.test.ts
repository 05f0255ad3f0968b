// A node delivers its alerts: `vigil serve` with a webhook channel sends each alert, signed,
// once its records are committed; a shadow rule's alerts reach neither the channel nor the
// blocklist (rules.md, `enabled: shadow`; notifications.md).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startHttpReceiver, waitFor, type HttpReceiver } from '../fixtures/receivers.js';
import { runVigil } from '../helpers/cli.js';
import { WAIT_MS, request, startServe, stopServe, within } from '../helpers/node.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const SECRET = 'webhook-secret-0123';
const T = Date.parse('2026-11-21T10:00:00+01:00');

interface Ctx { dir: string, hook: HttpReceiver }
const test = suite<Ctx>('cluster/serve: alerts reach their channels, shadow alerts do not', {} as Ctx);
test.before.each(async (ctx) => { ctx.dir = tempDir(); ctx.hook = await startHttpReceiver(); });
test.after.each(async (ctx) => { await ctx.hook.close(); removeDir(ctx.dir); });

test('a committed alert is POSTed, signed; a shadow rule is logged only and blocks nothing', async ({ dir, hook }) => {
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, `version: 1
timezone: Europe/Berlin
channels:
  hook: { type: webhook, url: "${hook.url}", secret: "${SECRET}" }
rules:
  - { id: calls, by: account, measure: count, window: day, where: { account: a1 }, limit: 2, notify: [hook], action: block }
  - { id: calls-shadow, by: account, measure: count, window: day, where: { account: a2 }, limit: 1, enabled: shadow, action: block }
`);
  const config = join(dir, 'node.yaml');
  const alerts = join(dir, 'alerts.jsonl');
  writeFileSync(config, `rules: ${rules}\ndata: ${join(dir, 'data')}\nlisten: 127.0.0.1:0\nthreads: 1\nalerts: ${alerts}\nbatch: { max_records: 100, max_wait: 5ms }\n`);
  const node = await startServe(config);
  try {
    const lines = [
      ...[0, 1, 2].map((i) => ({ id: `a1-${i}`, ts: T + i * 1000, account: 'a1', called: '+4930123' })),
      ...[0, 1].map((i) => ({ id: `a2-${i}`, ts: T + 5000 + i * 1000, account: 'a2', called: '+4930123' })),
    ].map((r) => JSON.stringify(r));
    const reply = await request(node.port, 'POST', '/v1/records', { body: lines.join('\n') + '\n' });
    assert.is(reply.status, 202, reply.text);
    await waitFor(() => hook.requests.length >= 1, 20_000, 'the webhook to receive the alert');
    const got = hook.requests[0]!;
    const alert = JSON.parse(got.body) as { rule: string, key: string, record: string, shadow?: boolean };
    assert.equal([alert.rule, alert.key, alert.record, alert.shadow], ['calls', 'a1', 'a1-2', undefined]);
    const signature = `sha256=${createHmac('sha256', SECRET).update(got.body).digest('hex')}`;
    assert.is(got.headers['x-vigil-signature'], signature);

    assert.is((await request(node.port, 'GET', '/v1/blocks/a1')).status, 200, 'a critical alert of an action: block rule blocks its key');
    const shadowBlock = await request(node.port, 'GET', '/v1/blocks/a2');
    assert.is(shadowBlock.status, 404, 'a shadow rule blocks nothing');
    // Give a wrongly routed shadow alert time to arrive before concluding it did not.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.is(hook.requests.length, 1, 'the shadow alert is not delivered');
  } finally {
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
  }
  const written = readFileSync(alerts, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { rule: string, shadow?: boolean });
  assert.equal(written.map((a) => [a.rule, a.shadow]), [['calls', undefined], ['calls-shadow', true]], 'the alerts file (the log) has both, the shadow one marked');
});

test('an undeliverable alert becomes a dead letter that the API and CLI list and redrive', async ({ dir }) => {
  const port = await freePort();
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, `version: 1
channels:
  later: { type: webhook, url: "http://127.0.0.1:${port}/alerts", timeout: 1s, retry: { max: 1s } }
rules:
  - { id: calls, by: account, measure: count, window: day, limit: 1 }
`);
  const config = join(dir, 'node.yaml');
  writeFileSync(config, `rules: ${rules}\ndata: ${join(dir, 'data')}\nlisten: 127.0.0.1:0\nthreads: 1\nalerts: ${join(dir, 'alerts.jsonl')}\n`);
  const node = await startServe(config);
  let receiver: HttpReceiver | undefined;
  try {
    const lines = [0, 1].map((i) => JSON.stringify({ id: `r${i}`, ts: T + i * 1000, account: 'a1', called: '+4930123' }));
    assert.is((await request(node.port, 'POST', '/v1/records', { body: lines.join('\n') + '\n' })).status, 202);
    let letters: Array<{ alert?: { id: string, record: string } }> = [];
    await waitFor(async () => {
      letters = (await request(node.port, 'GET', '/v1/dead-letters')).json.deadLetters as typeof letters;
      return letters.length > 0;
    }, 30_000, 'the alert to end in the dead letters');
    const listed = await runVigil(['dead-letters', 'list', '--url', `http://127.0.0.1:${node.port}`]);
    assert.is(listed.code, 0, listed.stderr);
    assert.ok(listed.stdout.includes('"r1"'), `the CLI lists the dead letter: ${listed.stdout}`);
    receiver = await startHttpReceiver({ port });
    const redriven = await runVigil(['dead-letters', 'redrive', '--url', `http://127.0.0.1:${node.port}`]);
    assert.is(redriven.code, 0, redriven.stderr);
    assert.is(redriven.stdout, '1 dead letters back in their queues\n');
    await waitFor(() => receiver!.requests.length > 0, 30_000, 'the redriven alert to arrive');
    assert.is((JSON.parse(receiver.requests[0]!.body) as { record: string }).record, 'r1');
    assert.equal((await request(node.port, 'GET', '/v1/dead-letters')).json.deadLetters, []);
  } finally {
    await receiver?.close();
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
  }
});

test('a file channel on the node\'s alerts or rejects file is refused at start (exit 2) and on PUT /v1/rules (400), naming both settings', async ({ dir }) => {
  const withChannel = (path: string): string => `version: 1
timezone: Europe/Berlin
channels:
  fraud-desk: { type: file, path: ${path} }
rules:
  - { id: calls, by: account, measure: count, window: day, limit: 2, notify: [fraud-desk] }
`;
  const rules = join(dir, 'rules.yaml');
  const config = join(dir, 'node.yaml');
  // Relative paths, as in the demo: the config's against its folder, the channel's against the rules file's.
  writeFileSync(config, 'rules: rules.yaml\ndata: data\nlisten: 127.0.0.1:0\nthreads: 1\nalerts: alerts.jsonl\nrejects: ./out/../rejects.jsonl\n');
  for (const [path, setting, what, file] of [['alerts.jsonl', 'config.alerts', 'alerts', 'alerts.jsonl'], ['./rejects.jsonl', 'config.rejects', 'rejects', 'rejects.jsonl']]) {
    writeFileSync(rules, withChannel(path!));
    const r = await within(WAIT_MS, 'serve to refuse', runVigil(['serve', '--config', config]));
    assert.equal([r.code, r.stderr], [2, `vigil: channels.fraud-desk.path and ${setting!} are the same file ${join(dir, file!)}: the channel and the node's ${what!} would both write it and corrupt it; give one of them another file\n`]);
  }

  writeFileSync(rules, withChannel('desk.jsonl'));
  const node = await startServe(config);
  try {
    const before = (await request(node.port, 'GET', '/v1/rules')).json.fingerprint;
    const put = await request(node.port, 'PUT', '/v1/rules', { body: withChannel('alerts.jsonl').replace('limit: 2', 'limit: 3') });
    assert.equal([put.status, put.json], [400, { error: `channels.fraud-desk.path and config.alerts are the same file ${join(dir, 'alerts.jsonl')}: the channel and the node's alerts would both write it and corrupt it; give one of them another file; nothing was changed` }]);
    assert.is((await request(node.port, 'GET', '/v1/rules')).json.fingerprint, before, 'the rules that were active stay active');
    assert.is(readFileSync(rules, 'utf8'), withChannel('desk.jsonl'));
  } finally {
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
  }
});

test('dead-letters without a node to talk to says so and exits 1', async () => {
  const port = await freePort();
  const r = await runVigil(['dead-letters', 'list', '--url', `http://127.0.0.1:${port}`]);
  assert.is(r.code, 1);
  assert.match(r.stderr, `vigil: cannot reach the node at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
});

test.run();

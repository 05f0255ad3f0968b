// A node delivers its alerts: `vigil serve` with a webhook channel sends each alert, signed,
// once its records are committed; a shadow rule's alerts reach neither the channel nor the
// blocklist (rules.md, `enabled: shadow`; notifications.md).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHttpReceiver, waitFor, type HttpReceiver } from '../fixtures/receivers.js';
import { request, startServe, stopServe } from '../helpers/node.js';
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

test.run();

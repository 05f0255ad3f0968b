// GET /v1/risk/{key} (rules.md, `measure: risk`): a running node shows a key's decayed risk
// score and the alerts that made it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request, startServe, stopServe } from '../helpers/node.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const T = Date.parse('2026-11-21T10:00:00Z');

const test = suite('cluster/serve: a key\'s risk score over HTTP');

test('two scored alerts make the score; it is decayed to the time asked, not before the newest alert (400); an unscored key is 404', async () => {
  const dir = tempDir();
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, `version: 1
risk: { half_life: 1h }
rules:
  - { id: many-calls, by: account, measure: count, window: day, limit: 1, score: 20 }
  - { id: many-numbers, by: account, measure: distinct(called), window: day, limit: 1, score: 30 }
  - { id: risky, by: account, measure: risk, limit: 100 }
`);
  const config = join(dir, 'node.yaml');
  writeFileSync(config, `rules: ${rules}\ndata: ${join(dir, 'data')}\nlisten: 127.0.0.1:0\nthreads: 1\nalerts: ${join(dir, 'alerts.jsonl')}\n`);
  const node = await startServe(config);
  try {
    const lines = [
      { id: 'r0', ts: T, account: 'a1', called: '+4930111' },
      { id: 'r1', ts: T + 1000, account: 'a1', called: '+4930222' },
    ].map((r) => JSON.stringify(r));
    assert.is((await request(node.port, 'POST', '/v1/records', { body: lines.join('\n') + '\n' })).status, 202);
    const now = await request(node.port, 'GET', `/v1/risk/a1?at=${T + 1000}`);
    assert.is(now.status, 200, now.text);
    const [report] = now.json.risk as Array<{ rule: string, score: number, limit: number, contributions: Array<{ rule: string, score: number }> }>;
    assert.equal([report!.rule, report!.score, report!.limit], ['risky', 50, 100]);
    assert.equal(report!.contributions.map((c) => [c.rule, c.score]).sort(), [['many-calls', 20], ['many-numbers', 30]]);
    const later = await request(node.port, 'GET', `/v1/risk/a1?at=${T + 1000 + 3_600_000}`);
    assert.is((later.json.risk as Array<{ score: number }>)[0]!.score, 25, 'one half-life later, half the score');
    // Before the newest scored alert (T + 1000): refused, as vigil risk --at is.
    const early = await request(node.port, 'GET', `/v1/risk/a1?at=${T}`);
    assert.equal([early.status, early.json], [400, { error: 'query.at 2026-11-21T10:00:00Z is before the newest scored alert of key "a1" (rule risky, 2026-11-21T10:00:01Z): a risk score is kept as of its newest alert and can only be decayed forward; give query.at 2026-11-21T10:00:01Z or later' }]);
    const none = await request(node.port, 'GET', '/v1/risk/a2');
    assert.is(none.status, 404);
    assert.is(none.json.error, 'no risk score for key "a2" (no risk rule, or no scored alert for it yet)');
  } finally {
    const result = await stopServe(node);
    assert.is(result.code, 0, result.stderr);
    removeDir(dir);
  }
});

test.run();

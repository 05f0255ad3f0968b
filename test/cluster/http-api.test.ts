// The node's HTTP API on real `vigil serve` processes on free loopback ports: every endpoint,
// bearer tokens (401 without and with a wrong one), 400 naming the field, 404, 405, 413, the
// blocklist (action: block, GET, DELETE with the token, history with who and when, the CLI
// beside a running node), the alert history, /metrics parsed as Prometheus text and checked
// against what was sent, and PUT /v1/rules: invalid rules answered with line and column, valid
// rules hot-reloaded while records keep arriving, compared with the core run on the same
// records. Also the config: tokens, retention, listening beyond loopback. Needs only the build.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { Alert } from '../../core/alert.js';
import type { Block, BlockChange } from '../../core/blocklist.js';
import { compileRules, rulesFingerprint, type CompiledRules } from '../../core/compile.js';
import { roundValue } from '../../core/alert.js';
import { loadRules } from '../../cluster/rules-file.js';
import { parseConfig } from '../../cluster/config.js';
import { pendingRulesPath } from '../../cluster/reload.js';
import { trafficLines } from '../helpers/traffic.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { configError } from '../helpers/config-error.js';
import { runVigil } from '../helpers/cli.js';
import { alertText, feed, startCore, type CoreRun } from '../fixtures/core-run.js';
import { postAll, request as http, startServe as serve, stopServe as stop, type Reply } from '../helpers/node.js';
import { parsePrometheus, sampleValue as metricValue } from '../helpers/prometheus.js';
import { KEPT_RULES, REMOVED_RULES, RESTARTED_RULES, UNCHANGED_RULES, keysFor } from '../fixtures/reload-expect.js';

const RULES_A = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));
const RULES_B = fileURLToPath(new URL('../../../test/fixtures/reload-rules.yaml', import.meta.url));
const START = Date.UTC(2026, 2, 27, 20, 0, 0);
const TOKEN = 'ops-0123456789abcdef';
const SWITCH_TOKEN = 'switch-0123456789abcdef';

// ---------------------------------------------------------------------------------------------

const config = suite('cluster/config: API tokens, alert retention, listening beyond loopback');

config('api.token and api.tokens give named tokens; alerts may be a map with a retention', () => {
  const c = parseConfig(`rules: r.yaml\ndata: d\napi:\n  token: ${TOKEN}\n  tokens: { switch: ${SWITCH_TOKEN} }\nalerts: { file: a.jsonl, retention: 2d }\n`, '/etc/vigil/node.yaml');
  assert.equal(c.api.tokens, [{ name: 'default', secret: TOKEN }, { name: 'switch', secret: SWITCH_TOKEN }]);
  assert.is(c.alerts, '/etc/vigil/a.jsonl');
  assert.is(c.alertRetentionMs, 2 * 86_400_000);
  const d = parseConfig('rules: r.yaml\ndata: d\n', '/x/n.yaml');
  assert.equal(d.api.tokens, []);
  assert.is(d.alertRetentionMs, 7 * 86_400_000, 'seven days by default');
  assert.is(parseConfig('rules: r.yaml\ndata: d\nalerts: { retention: 1h }\n', '/x/n.yaml').alerts, undefined, 'standard output');
});

config('a node listens beyond loopback only with a token; a bad token or retention is refused without showing the secret', () => {
  const open = parseConfig(`rules: r.yaml\ndata: d\nlisten: 0.0.0.0:7800\napi: { token: ${TOKEN} }\n`, 'node.yaml');
  assert.equal(open.listen, { host: '0.0.0.0', port: 7800 });
  assert.is(configError('rules: r.yaml\ndata: d\nlisten: 0.0.0.0:7800\n', 'node.yaml').message, 'node.yaml:3:9 config.listen must be a loopback address (127.0.0.0/8 or [::1]) unless config.api.token is set, got "0.0.0.0:7800": a node refuses to listen beyond loopback without an API token');
  const message = configError('rules: r.yaml\ndata: d\napi: { token: hunter2, tokens: { "bad name": x, ok: 12345 } }\nalerts: { retention: soon, fil: x }\n', 'node.yaml').message;
  assert.equal(message.split('\n'), [
    'node.yaml:3:15 config.api.token must be a secret of at least 16 characters without spaces, got one of 7 characters',
    'node.yaml:3:34 config.api.tokens: a token name must be letters, digits, _ . or -, got "bad name"',
    'node.yaml:3:53 config.api.tokens.ok must be a secret of at least 16 characters without spaces, got one of 5 characters',
    'node.yaml:4:22 config.alerts.retention must be a duration such as 90s, 30m, 1h or 2d (how long GET /v1/alerts keeps an alert), got "soon"',
    'node.yaml:4:28 unknown key "fil" in config.alerts; did you mean "file"?',
  ]);
  assert.not.ok(message.includes('hunter2'), 'no secret in a message');
});

config.run();

// ---------------------------------------------------------------------------------------------

/** A config with both tokens, its own copy of `rules` (PUT /v1/rules rewrites it). */
function writeNode (dir: string, name: string, rulesText: string): { config: string, rules: string, data: string, alerts: string, rejects: string } {
  const rules = join(dir, `rules-${name}.yaml`);
  writeFileSync(rules, rulesText);
  const files = { config: join(dir, `${name}.yaml`), rules, data: join(dir, `data-${name}`), alerts: join(dir, `alerts-${name}.jsonl`), rejects: join(dir, `rejects-${name}.jsonl`) };
  writeFileSync(files.config, [
    `rules: ${rules}`,
    `data: ${files.data}`,
    'listen: 127.0.0.1:0',
    'threads: 2',
    `alerts: { file: ${files.alerts}, retention: 7d }`,
    `rejects: ${files.rejects}`,
    'batch: { max_records: 200, max_wait: 5ms }',
    `api: { tokens: { ops: ${TOKEN}, switch: ${SWITCH_TOKEN} } }`,
    '',
  ].join('\n'));
  return files;
}

function readAlerts (file: string): Alert[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);
}

// ---------------------------------------------------------------------------------------------

interface NodeCtx { dir: string, lines: string[] }
const api = suite<NodeCtx>('cluster/http-api: a real node', {} as NodeCtx);
api.before((ctx) => {
  ctx.dir = tempDir();
  ctx.lines = trafficLines({ seed: 7, records: 4_000, start: START, badEvery: 397 });
});
api.after((ctx) => { removeDir(ctx.dir); });

api('tokens: writes and the rules file need one (401 without or with a wrong one), other reads do not; errors are JSON with the field named', async ({ dir }) => {
  const files = writeNode(dir, 'errors', readFileSync(RULES_A, 'utf8'));
  const n = await serve(files.config);
  try {
    const record = JSON.stringify({ id: 'x1', ts: START, account: 'acct-1', called: '+4930123', duration: 5 });
    for (const [method, path, body] of [['POST', '/v1/records', record], ['DELETE', '/v1/blocks/acct-1', undefined], ['PUT', '/v1/rules', 'version: 1\n']] as const) {
      const none = await http(n.port, method, path, body === undefined ? {} : { body });
      assert.equal([none.status, none.json, none.headers['www-authenticate']], [401, { error: 'this endpoint needs a bearer token: send the header Authorization: Bearer <token> (one of config.api)' }, 'Bearer realm="vigil"'], `${method} ${path}`);
      const wrong = await http(n.port, method, path, { token: `${TOKEN}x`, ...(body === undefined ? {} : { body }) });
      assert.equal([wrong.status, wrong.json], [401, { error: 'the bearer token is not one of this node\'s tokens (config.api)' }], `${method} ${path}`);
    }
    assert.is((await http(n.port, 'POST', '/v1/records', { body: record, token: SWITCH_TOKEN })).status, 202, 'any configured token');
    assert.equal(await http(n.port, 'GET', '/healthz').then((r) => [r.status, r.json]), [200, { status: 'ok' }]);
    assert.equal(await http(n.port, 'GET', '/readyz').then((r) => [r.status, r.json]), [200, { status: 'ready' }]);

    // The rules text holds the channels' secrets: with tokens configured, reading it needs one too.
    const anonymous = await http(n.port, 'GET', '/v1/rules');
    assert.equal([anonymous.status, anonymous.json], [401, { error: 'this endpoint needs a bearer token: send the header Authorization: Bearer <token> (one of config.api)' }]);
    const rules = await http(n.port, 'GET', '/v1/rules', { token: SWITCH_TOKEN });
    assert.is(rules.status, 200);
    assert.equal(Object.keys(rules.json), ['file', 'fingerprint', 'loaded', 'rules', 'text']);
    assert.equal([rules.json.file, rules.json.fingerprint, rules.json.rules, rules.json.text], [files.rules, rulesFingerprint(loadRules(RULES_A)), 14, readFileSync(RULES_A, 'utf8')]);
    assert.ok(Math.abs(Date.parse(rules.json.loaded as string) - Date.now()) < 120_000);

    const cases: Array<[string, string, number, string]> = [
      ['GET', '/v1/alerts?limit=0', 400, 'query.limit must be a whole number from 1 to 1000, got "0"'],
      ['GET', '/v1/alerts?since=yesterday', 400, 'query.since must be an ISO 8601 time or epoch milliseconds, got "yesterday"'],
      ['GET', '/v1/alerts?after=12', 400, 'query.after must be the "next" of an earlier answer, got "12"'],
      ['GET', '/v1/alerts?colour=red', 400, 'query.colour is not a parameter of /v1/alerts; use since, rule, key, after, limit'],
      ['GET', '/v1/blocks?limit=x', 400, 'query.limit must be a whole number from 1 to 100000, got "x"'],
      ['GET', '/v1/counters/spend-day/acct-1?at=soon', 400, 'query.at must be an ISO 8601 time or epoch milliseconds, got "soon"'],
      ['GET', '/v1/counters/nope/x', 404, 'no rule "nope" in the rules'],
      ['GET', '/v1/counters/spend-day', 404, 'use /v1/counters/{rule}/{key}, with a "/" inside the key written as %2F'],
      ['GET', '/v1/counters/a/b/c', 404, 'use /v1/counters/{rule}/{key}, with a "/" inside the key written as %2F'],
      ['GET', '/v2/nothing', 404, 'no such endpoint: /v2/nothing'],
    ];
    for (const [method, path, status, error] of cases) {
      assert.equal(await http(n.port, method, path).then((r) => [r.status, r.json]), [status, { error }], path);
    }
    for (const [method, path, allow] of [['PATCH', '/v1/blocks/x', 'GET, DELETE'], ['POST', '/metrics', 'GET'], ['GET', '/v1/records', 'POST'], ['DELETE', '/v1/rules', 'GET, PUT']] as const) {
      const r = await http(n.port, method, path);
      assert.equal([r.status, r.headers.allow, r.json.error], [405, allow, `${method} is not allowed on ${path}; use ${allow.replace(', ', ' or ')}`]);
    }
    const big = await http(n.port, 'POST', '/v1/records', { body: Buffer.alloc(16 * 1024 * 1024 + 1, 0x20), token: TOKEN });
    assert.equal([big.status, big.json], [413, { error: 'the body is larger than 16777216 bytes; send fewer records per request' }]);
    const bigRules = await http(n.port, 'PUT', '/v1/rules', { body: Buffer.alloc(16 * 1024 * 1024 + 1, 0x20), token: TOKEN });
    assert.is(bigRules.status, 413);

    // Invalid rules: every problem with its line and column, and nothing changes.
    const bad = readFileSync(RULES_A, 'utf8').replace('measure: count, window: minute', 'measure: cont, window: minute').replace('limit: 800', 'limit: -800');
    const refused = await http(n.port, 'PUT', '/v1/rules', { body: bad, token: TOKEN });
    assert.is(refused.status, 400, refused.text);
    assert.is(refused.json.error, 'the rules are not valid (2 problems); nothing was changed');
    const diagnostics = refused.json.diagnostics as Array<{ line: number, col: number, message: string }>;
    assert.equal(diagnostics.map((d) => [d.line, d.col]), [[20, 45], [26, 77]]);
    assert.match(diagnostics[0]!.message, /^rules\[4\]\.measure must be count, sum\(FIELD\).*got "cont"; did you mean "count"\?$/);
    assert.match(diagnostics[1]!.message, /^rules\[10\]\.limit must be /);

    // A channel the notifier could not start with is refused the same way, before any counter moves.
    const current = readFileSync(RULES_A, 'utf8');
    const channelLine = current.trimEnd().split('\n').length + 2;
    const badChannel = `${current.trimEnd()}\nchannels:\n  noc: { type: webhook, url: "https://hooks.example.net/x", retry: { max: soon } }\n`;
    const refusedChannel = await http(n.port, 'PUT', '/v1/rules', { body: badChannel, token: TOKEN });
    assert.is(refusedChannel.status, 400, refusedChannel.text);
    assert.equal(refusedChannel.json.diagnostics, [{ line: channelLine, col: 75, message: 'channels.noc.retry.max must be a duration such as 90s, 30m, 1h or 2d, got "soon"' }]);
    assert.is((await http(n.port, 'GET', '/v1/rules', { token: TOKEN })).json.fingerprint, rulesFingerprint(loadRules(RULES_A)));
    assert.is(readFileSync(files.rules, 'utf8'), readFileSync(RULES_A, 'utf8'));
    assert.not.ok(existsSync(pendingRulesPath(files.rules)));
  } finally {
    const r = await stop(n);
    assert.is(r.code, 0, r.stderr);
  }
});

api('POST bodies gzip-compressed (Content-Encoding: gzip) count as the same text sent plain; another encoding is 415, broken gzip 400, gzip that unpacks beyond the limit 413', async ({ dir, lines }) => {
  const text = lines.slice(0, 1_500).join('\n') + '\n';
  const plainFiles = writeNode(dir, 'plain', readFileSync(RULES_A, 'utf8'));
  const plain = await serve(plainFiles.config);
  const files = writeNode(dir, 'gzip', readFileSync(RULES_A, 'utf8'));
  const packed = await serve(files.config);
  try {
    const a = await http(plain.port, 'POST', '/v1/records', { body: text, token: TOKEN });
    const b = await http(packed.port, 'POST', '/v1/records', { body: gzipSync(text), token: TOKEN, headers: { 'content-encoding': 'gzip' } });
    assert.is(b.status, 202, b.text);
    assert.equal(b.json, a.json, 'the same answer: accepted, rejected, each reject at its line');
    assert.ok((b.json.rejected as number) > 0 && (b.json.accepted as number) > 1_000);
    assert.equal(readAlerts(files.alerts).map(alertText), readAlerts(plainFiles.alerts).map(alertText), 'and the same alerts');

    const cases: Array<[Record<string, string>, Buffer | string, number, string]> = [
      [{ 'content-encoding': 'br' }, text, 415, 'Content-Encoding "br" is not supported; send the body as it is or gzip-compressed (Content-Encoding: gzip)'],
      [{ 'content-encoding': 'gzip' }, text, 400, 'the body is not gzip data as its Content-Encoding says (zlib: incorrect header check)'],
      [{ 'content-encoding': 'gzip' }, gzipSync(Buffer.alloc(16 * 1024 * 1024 + 1, 0x20)), 413, 'the body decompresses to more than 16777216 bytes; send fewer records per request'],
    ];
    for (const [headers, body, status, error] of cases) {
      const r = await http(packed.port, 'POST', '/v1/records', { body, token: TOKEN, headers });
      assert.equal([r.status, r.json], [status, { error }], JSON.stringify(headers));
    }

    // Bytes that are not UTF-8, plain or gzip: the line's record is rejected naming the byte
    // (they became U+FFFD, and Müller and Möller in Latin-1 were one account); an array is refused.
    const utf8Line = '{"ts":"2026-03-28T05:00:00+01:00","account":"Müller","called":"+4930123"}';
    const latin1Body = Buffer.concat([Buffer.from(`${utf8Line}\n`), Buffer.from(`${utf8Line}\n${utf8Line.replace('ü', 'ö')}\n`, 'latin1')]);
    const reason = (byte: string): string => `record is not UTF-8 text: byte 0x${byte} at column 47 is not UTF-8; vigil reads UTF-8 (a Latin-1 text converts with iconv -f latin1 -t utf-8)`;
    for (const [headers, body] of [[{}, latin1Body], [{ 'content-encoding': 'gzip' }, gzipSync(latin1Body)]] as const) {
      const r = await http(packed.port, 'POST', '/v1/records', { body, token: TOKEN, headers });
      assert.is(r.status, 202, r.text);
      assert.equal(r.json, { accepted: 1, rejected: 2, rejects: [{ line: 2, reason: reason('FC') }, { line: 3, reason: reason('F6') }] }, JSON.stringify(headers));
    }
    const array = await http(packed.port, 'POST', '/v1/records', { body: Buffer.from(`[${utf8Line}]`, 'latin1'), token: TOKEN });
    assert.equal([array.status, array.json], [400, { error: 'the body is not UTF-8 text: byte 0xFC at line 1, column 48 is not UTF-8; JSON is UTF-8 (a Latin-1 text converts with iconv -f latin1 -t utf-8)' }]);
  } finally {
    for (const n of [plain, packed]) {
      const r = await stop(n);
      assert.is(r.code, 0, r.stderr);
    }
  }
});

api('action: block puts keys on the blocklist; GET shows them, DELETE lifts with the token, the history says who and when; alerts and metrics match what was sent', async ({ dir, lines }) => {
  const files = writeNode(dir, 'blocks', readFileSync(RULES_A, 'utf8').replace('limit: 6 }', 'limit: 6, action: block }'));
  const n = await serve(files.config);
  try {
    const sent = await postAll(n.port, lines, 500, TOKEN);
    assert.is(sent.accepted + sent.rejected, lines.length);
    const alerts = readAlerts(files.alerts);
    const firstBlock = new Map<string, Alert>();
    for (const a of alerts) if (a.rule === 'fanout' && a.severity === 'critical' && !firstBlock.has(a.key)) firstBlock.set(a.key, a);
    assert.ok(firstBlock.size > 5, `expected several blocked callers, got ${firstBlock.size}`);

    const listed = await http(n.port, 'GET', '/v1/blocks');
    assert.is(listed.status, 200);
    const blocks = listed.json.blocks as Array<Block & { blocked: boolean }>;
    assert.equal(blocks.map((b) => b.key), [...firstBlock.keys()].sort());
    assert.is(listed.json.next, null);
    const paged = await http(n.port, 'GET', `/v1/blocks?limit=2&after=${encodeURIComponent(blocks[0]!.key)}`);
    assert.equal([(paged.json.blocks as Block[]).map((b) => b.key), paged.json.next], [[blocks[1]!.key, blocks[2]!.key], blocks[2]!.key]);

    const [k1, k2, k3] = blocks.map((b) => b.key) as [string, string, string];
    const one = await http(n.port, 'GET', `/v1/blocks/${encodeURIComponent(k1)}`);
    assert.equal([one.status, one.json], [200, { key: k1, blocked: true, since: new Date(Date.parse(firstBlock.get(k1)!.detectedAt)).toISOString(), alert: firstBlock.get(k1), rule: 'fanout' }]);
    assert.equal(await http(n.port, 'GET', '/v1/blocks/nobody').then((r) => [r.status, r.json]), [404, { key: 'nobody', blocked: false }]);

    const before = Date.now();
    const lifted = await http(n.port, 'DELETE', `/v1/blocks/${encodeURIComponent(k1)}`, { token: TOKEN });
    assert.is(lifted.status, 200, lifted.text);
    const change = lifted.json.lifted as BlockChange;
    assert.equal([lifted.json.key, lifted.json.blocked, change.action, change.by, change.rule], [k1, false, 'lift', 'api:ops', 'fanout']);
    assert.ok(Date.parse(change.at) >= before - 1000 && Date.parse(change.at) <= Date.now() + 1000, change.at);
    assert.equal(await http(n.port, 'GET', `/v1/blocks/${encodeURIComponent(k1)}`).then((r) => [r.status, r.json]), [404, { key: k1, blocked: false }]);
    const again = await http(n.port, 'DELETE', `/v1/blocks/${encodeURIComponent(k1)}`, { token: TOKEN });
    assert.equal([again.status, again.json], [404, { key: k1, blocked: false, error: `key "${k1}" is not blocked; nothing to lift` }]);
    const history = await http(n.port, 'GET', `/v1/blocks/${encodeURIComponent(k1)}/history`);
    assert.equal(history.json.key, k1);
    assert.is(history.json.blocked, false);
    assert.equal((history.json.history as BlockChange[]).map((c) => [c.action, c.by, c.at, c.alert ?? null]), [
      ['block', 'rule:fanout', new Date(Date.parse(firstBlock.get(k1)!.detectedAt)).toISOString(), firstBlock.get(k1)!.id],
      ['lift', 'api:ops', change.at, null],
    ]);

    // The CLI beside the running node: LMDB takes writers from both processes.
    const cli = await runVigil(['blocks', 'lift', k2, '--data', files.data, '--by', 'bob']);
    assert.is(cli.code, 0, cli.stderr);
    assert.is((await http(n.port, 'GET', `/v1/blocks/${encodeURIComponent(k2)}`)).status, 404);
    assert.equal(((await http(n.port, 'GET', `/v1/blocks/${encodeURIComponent(k2)}/history`)).json.history as BlockChange[]).map((c) => c.by), ['rule:fanout', 'cli:bob']);
    assert.is((await http(n.port, 'GET', `/v1/blocks/${encodeURIComponent(k3)}`)).status, 200);

    // The alert history: every alert in output order, paged; filtered by rule and by key.
    const paging: Alert[] = [];
    let next: string | null = null;
    do {
      const page = await http(n.port, 'GET', `/v1/alerts?limit=97${next === null ? '' : `&after=${next}`}`);
      assert.is(page.status, 200, page.text);
      paging.push(...(page.json.alerts as Alert[]));
      next = page.json.next as string | null;
    } while (next !== null);
    assert.equal(paging.map((a) => a.id), alerts.map((a) => a.id));
    assert.equal(paging, alerts);
    const fanout = await http(n.port, 'GET', '/v1/alerts?rule=fanout&limit=1000');
    assert.equal((fanout.json.alerts as Alert[]).map((a) => a.id), alerts.filter((a) => a.rule === 'fanout').map((a) => a.id));
    const byKey = await http(n.port, 'GET', '/v1/alerts?key=acct-1&rule=spend-day&limit=1000');
    assert.equal((byKey.json.alerts as Alert[]).map((a) => a.id), alerts.filter((a) => a.key === 'acct-1' && a.rule === 'spend-day').map((a) => a.id));
    assert.ok((byKey.json.alerts as Alert[]).length > 0);
    assert.equal((await http(n.port, 'GET', `/v1/alerts?since=${Date.now() + 60_000}`)).json, { alerts: [], next: null });
    assert.is(((await http(n.port, 'GET', `/v1/alerts?since=${new Date(before - 3_600_000).toISOString()}&limit=5`)).json.alerts as Alert[]).length, 5);

    // Metrics: parsed as Prometheus text, equal to what was sent and written.
    const metrics = await http(n.port, 'GET', '/metrics');
    assert.is(metrics.status, 200);
    assert.is(metrics.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const m = parsePrometheus(metrics.text);
    assert.is(m.families.get('vigil_records_received_total')?.type, 'counter');
    assert.is(m.families.get('vigil_blocks')?.type, 'gauge');
    assert.is(metricValue(m, 'vigil_records_received_total'), lines.length);
    assert.is(metricValue(m, 'vigil_records_accepted_total'), sent.accepted);
    const rejects = readFileSync(files.rejects, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { code: string }).code);
    assert.is(rejects.length, sent.rejected);
    const byCode = new Map<string, number>();
    for (const c of rejects) byCode.set(c, (byCode.get(c) ?? 0) + 1);
    assert.equal(m.samples.filter((s) => s.name === 'vigil_records_rejected_total').map((s) => [s.labels.code, s.value]).sort(), [...byCode].sort());
    const byRule = new Map<string, number>();
    for (const a of alerts) byRule.set(`${a.rule}/${a.severity}`, (byRule.get(`${a.rule}/${a.severity}`) ?? 0) + 1);
    assert.equal(m.samples.filter((s) => s.name === 'vigil_alerts_total').map((s) => [`${s.labels.rule!}/${s.labels.severity!}`, s.value]).sort(), [...byRule].sort());
    assert.ok((metricValue(m, 'vigil_epochs_committed_total') ?? 0) >= lines.length / 500);
    assert.is(metricValue(m, 'vigil_blocks'), firstBlock.size - 2);
    assert.is(metricValue(m, 'vigil_block_changes_total', { action: 'block' }), firstBlock.size);
    assert.is(metricValue(m, 'vigil_block_changes_total', { action: 'lift' }), 1, 'the CLI\'s lift was made by another process');
    assert.is(metricValue(m, 'vigil_ready'), 1);
  } finally {
    const r = await stop(n);
    assert.is(r.code, 0, r.stderr);
  }
  // Stopped: the CLI lists what is still blocked.
  const listed = await runVigil(['blocks', 'list', '--data', files.data]);
  assert.is(listed.code, 0, listed.stderr);
  assert.is(listed.stdout.split('\n').filter(Boolean).length, Number(/^(\d+) keys blocked\n$/.exec(listed.stderr)?.[1]));
});

api('PUT /v1/rules while records keep arriving: every POST acknowledged, kept counters go on, changed ones restart, as the core says', async ({ dir }) => {
  const lines = trafficLines({ seed: 9, records: 6_000, start: START });
  const chunk = 200;
  const a = compileRules(loadRules(RULES_A));
  const b = compileRules(loadRules(RULES_B));
  const textB = readFileSync(RULES_B, 'utf8');
  const files = writeNode(dir, 'reload', readFileSync(RULES_A, 'utf8'));
  const n = await serve(files.config);
  try {
    // One poster sends chunk after chunk; the reload starts while chunk 10 is in flight.
    const acked: number[] = [];
    let putSent = -1;
    let putAnswered = -1;
    let reload: Promise<Reply> | undefined;
    let counterDuringReload: Promise<Reply> | undefined;
    for (let i = 0; i * chunk < lines.length; i++) {
      const post = http(n.port, 'POST', '/v1/records', { body: lines.slice(i * chunk, (i + 1) * chunk).join('\n'), token: TOKEN });
      if (i === 10) {
        putSent = acked.length;
        reload = http(n.port, 'PUT', '/v1/rules', { body: textB, token: TOKEN });
        reload.then(() => { putAnswered = acked.length; }, () => undefined);
        counterDuringReload = http(n.port, 'GET', '/v1/counters/spend-day/acct-1');
      }
      const reply = await post;
      assert.equal([reply.status, reply.json.accepted, reply.json.rejected], [202, Math.min(chunk, lines.length - i * chunk), 0], `chunk ${i}: ${reply.text}`);
      acked.push(i);
    }
    const put = await reload!;
    assert.is(put.status, 200, put.text);
    assert.equal(put.json, { fingerprint: rulesFingerprint(b.config), rules: 15, kept_counters: 11, dropped_counters: 2 });
    assert.ok([200, 404].includes((await counterDuringReload!).status), 'a counter read during the reload waits for it');
    assert.ok(putAnswered >= 0, 'the reload answered before the last POST');

    const rules = await http(n.port, 'GET', '/v1/rules', { token: TOKEN });
    assert.equal([rules.json.fingerprint, rules.json.rules, rules.json.text], [rulesFingerprint(b.config), 15, textB]);
    assert.is(readFileSync(files.rules, 'utf8'), textB, 'the rules file on disk is the new one');
    assert.not.ok(existsSync(pendingRulesPath(files.rules)));

    // Where the reload fell: every record after it feeds provider-month (a new counter).
    const at = Math.max(...lines.map((l) => (JSON.parse(l) as { ts: number }).ts));
    let since = 0;
    for (const p of ['p1', 'p2']) {
      const c = await http(n.port, 'GET', `/v1/counters/provider-month/${p}?at=${at}`);
      since += c.status === 200 ? c.json.value as number : 0;
    }
    const split = lines.length - since;
    assert.is(split % chunk, 0, `the reload fell between two POSTs (at ${split})`);
    // Not before the PUT was sent; not after a POST sent once it was answered (one answer may still be on its way).
    assert.ok(split / chunk >= putSent && split / chunk <= putAnswered + 1, `split at chunk ${split / chunk}, PUT sent after ${putSent} acks, answered after ${putAnswered}`);
    assert.ok(split > 0 && split < lines.length);

    const beforeA = feed(startCore(a), lines.slice(0, split));
    const allB = feed(startCore(b), lines);
    const sinceB = feed(startCore(b, beforeA.ingest.watermark), lines.slice(split), split);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const expected = (run: CoreRun, compiled: CompiledRules, rule: string, key: string): unknown => {
      const c = run.engine.counterValue(rule, key, at);
      return c === undefined ? 404 : { rule, key, value: roundValue(c.value), limit: c.limit === null ? null : roundValue(c.limit), window: { start: compiled.zone.toIso(c.start), end: compiled.zone.toIso(c.end) } };
    };
    let live = 0;
    for (const rule of [...KEPT_RULES, ...RESTARTED_RULES]) {
      const oracle = KEPT_RULES.includes(rule) ? allB : sinceB;
      for (const key of keysFor(b.rules.find((r) => r.id === rule)!.by[0]!, records, 25)) {
        const got = await http(n.port, 'GET', `/v1/counters/${rule}/${encodeURIComponent(key)}?at=${at}`);
        assert.equal(got.status === 200 ? got.json : got.status, expected(oracle, b, rule, key), `${rule}/${key}`);
        if (got.status === 200) live++;
      }
    }
    assert.ok(live > 100, `expected many live counters, got ${live}`);

    // Alerts by the record that raised them (traffic ids are r<line>): before the reload A's, after it B's.
    const written = readAlerts(files.alerts);
    const line = (x: Alert): number => Number(x.record.slice(1));
    const texts = (xs: Alert[], rules?: readonly string[]): string[] => xs.filter((x) => rules === undefined || rules.includes(x.rule)).map(alertText).sort();
    const core = (run: CoreRun, rules?: readonly string[], from = 0): string[] => texts(run.alerts.filter((x) => x.line >= from).map((x) => x.alert), rules);
    const pre = written.filter((x) => line(x) < split);
    const post = written.filter((x) => line(x) >= split);
    assert.equal(texts(pre), core(beforeA), 'before the reload: A');
    assert.equal(texts(post, UNCHANGED_RULES), core(allB, UNCHANGED_RULES, split), 'unchanged rules after it: as if B had run from the start');
    assert.equal(texts(post, RESTARTED_RULES), core(sinceB, RESTARTED_RULES), 'changed and new rules after it: B since the reload');
    assert.equal(texts(post, REMOVED_RULES), []);
    assert.ok(texts(post, RESTARTED_RULES).length > 10);
    // A rule whose counter was kept never raises an alert again for a window it already fired in.
    const kept = written.filter((x) => KEPT_RULES.includes(x.rule)).map((x) => x.id);
    assert.is(new Set(kept).size, kept.length, 'no kept rule\'s alert twice');

    // trunk-hour (action: block, new in B) blocked its keys after the reload.
    const blocked = (await http(n.port, 'GET', '/v1/blocks')).json.blocks as Block[];
    assert.equal(blocked.map((x) => x.key), [...new Set(written.filter((x) => x.rule === 'trunk-hour' && x.severity === 'critical').map((x) => x.key))].sort());
    assert.ok(blocked.length > 0);
    assert.is(metricValue(parsePrometheus((await http(n.port, 'GET', '/metrics')).text), 'vigil_rules_reloads_total'), 1);
  } finally {
    const r = await stop(n);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, /"reloaded":"[0-9a-f]+","restarted":true,"epoch":\d+,"kept_counters":11,"dropped_counters":2\}\n/);
  }
  // The node starts again on the folder with the new rules.
  const again = await serve(files.config);
  assert.is((await http(again.port, 'GET', '/v1/rules', { token: TOKEN })).json.fingerprint, rulesFingerprint(b.config));
  const r = await stop(again);
  assert.is(r.code, 0, r.stderr);
});

api.run();

// `vigil serve` and its parts: the config file, the epoch cutter and the streaming pipeline on
// a fake engine (order, acknowledgement after the checkpoint, back-pressure, failure), the POST
// body parser, and real node processes on free loopback ports (alerts equal to
// `replay --threads 0`, the counters endpoint, HTTP errors, the loopback refusal, SIGTERM
// drains, SIGKILL then restart loses and doubles nothing), and a node whose commit fails once
// (restarted actor, nothing lost). Needs only the build.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileRules, type CompiledRules } from '../../core/compile.js';
import { Ingest } from '../../core/ingest.js';
import type { Reject } from '../../core/usage-record.js';
import { loadRules } from '../../cluster/rules-file.js';
import { parseConfig, isLoopback, parseWait, defaultCluster, DEFAULT_TELEMETRY, DEFAULT_MAX_AHEAD_MS } from '../../cluster/config.js';
import { EpochCutter, EpochStream, type EpochEngine, type EpochSink, type StreamOptions } from '../../cluster/stream.js';
import { parseBody } from '../../cluster/http-api.js';
import type { EpochResult } from '../../cluster/embedded.js';
import { EmbeddedEngine } from '../../cluster/embedded.js';
import type { Checkpoint } from '../../cluster/checkpoint.js';
import type { RawRecord } from '../../cluster/record-source.js';
import { ServeNode } from '../../cluster/serve.js';
import { replay } from '../../cluster/replay.js';
import { parseJsonLine } from '../../core/readers/jsonl.js';
import { trafficLines } from '../helpers/traffic.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { configError } from '../helpers/config-error.js';
import { runVigil } from '../helpers/cli.js';
import { WAIT_MS, within, postAll, request, startServe as serve, stopServe as stop, type Reply } from '../helpers/node.js';

const RULES = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));
const START = Date.UTC(2026, 2, 27, 20, 0, 0);

const withoutDetectedAt = (text: string): string[] =>
  text.split('\n').filter(Boolean).map((l) => { const a = JSON.parse(l) as Record<string, unknown>; delete a.detectedAt; return JSON.stringify(a); });

// ---------------------------------------------------------------------------------------------

const config = suite('cluster/config: the serve config file');

config('paths resolve against the config folder and the defaults fill the rest', () => {
  const c = parseConfig('rules: rules.yaml\ndata: ./state\n', '/etc/vigil/node.yaml');
  assert.is(c.rules, '/etc/vigil/rules.yaml');
  assert.is(c.data, '/etc/vigil/state');
  assert.equal(c.listen, { host: '127.0.0.1', port: 7800 });
  assert.is(c.alerts, undefined);
  assert.is(c.rejects, undefined);
  assert.equal(c.batch, { maxRecords: 1000, maxWaitMs: 5 });
  assert.ok(c.threads >= 1);
  const d = parseConfig('rules: /r.yaml\ndata: /d\nlisten: "[::1]:0"\nthreads: 2\nalerts: out/a.jsonl\nrejects: /tmp/r.jsonl\nbatch: { max_records: 10, max_wait: 1s }\n', '/x/c.yaml');
  assert.equal(d.listen, { host: '::1', port: 0 });
  assert.is(d.alerts, '/x/out/a.jsonl');
  assert.is(d.rejects, '/tmp/r.jsonl');
  assert.equal(d.batch, { maxRecords: 10, maxWaitMs: 1000 });
});

config('every problem is reported at once as FILE:LINE:COL config.<field> must be …', () => {
  const text = [
    'rules: r.yaml',
    'listn: 127.0.0.1:1',
    'threads: 0',
    'batch:',
    '  max_records: -1',
    '  max_wait: 5h',
    'nats: { servers: [x] }',
    '',
  ].join('\n');
  const err = configError(text, 'node.yaml');
  assert.is(err.code, 'VIGIL_USAGE');
  assert.equal(err.message.split('\n'), [
    'node.yaml:1:1 config.data must be a folder for the durable state (counters, checkpoint), got nothing; a node without it would lose acknowledged records on a crash',
    'node.yaml:2:1 unknown key "listn" in config; did you mean "listen"?',
    'node.yaml:3:10 config.threads must be a whole number of shard threads from 1 to 256, got 0',
    'node.yaml:5:16 config.batch.max_records must be a whole number of records from 1 to 100000, got -1',
    'node.yaml:6:13 config.batch.max_wait must be a time from 0ms to 1s such as 5ms, got "5h"',
    'node.yaml:7:19 config.nats.servers must hold URLs such as nats://127.0.0.1:4222, got "x"',
  ]);
});

config('a node refuses to listen beyond loopback, and says why', () => {
  assert.is(configError('rules: r.yaml\ndata: d\nlisten: 0.0.0.0:7800\n', 'node.yaml').message, 'node.yaml:3:9 config.listen must be a loopback address (127.0.0.0/8 or [::1]) unless config.api.token is set, got "0.0.0.0:7800": a node refuses to listen beyond loopback without an API token');
  for (const host of ['127.0.0.1', '127.8.9.10', '::1', '0:0:0:0:0:0:0:1', 'localhost']) assert.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '10.0.0.1', '::', '::ffff:127.0.0.1', 'example.com', '128.0.0.1']) assert.not.ok(isLoopback(host), host);
  assert.is(parseWait('5ms'), 5);
  assert.is(parseWait('2s'), 2000);
  assert.is(parseWait('7'), 7);
  assert.is(parseWait('5m'), undefined);
});

config('max_ahead bounds how far ahead of the clock a record may be dated: 15 min by default, a duration, or none', () => {
  const of = (extra: string): number | undefined => parseConfig(`rules: r.yaml\ndata: d\n${extra}`, '/n.yaml').maxAheadMs;
  assert.is(of(''), 15 * 60_000);
  assert.is(of('max_ahead: 2h\n'), 2 * 3_600_000);
  assert.is(of('max_ahead: 0s\n'), 0);
  assert.is(of('max_ahead: none\n'), undefined);
  assert.is(configError('rules: r.yaml\ndata: d\nmax_ahead: soon\n', 'node.yaml').message, 'node.yaml:3:12 config.max_ahead must be a duration such as 90s, 30m, 1h or 2d, or none (how far ahead of this node\'s clock a record may be dated), got "soon"');
  assert.is(configError('rules: r.yaml\ndata: d\nmax_ahed: 1h\n', 'node.yaml').message, 'node.yaml:3:1 unknown key "max_ahed" in config; did you mean "max_ahead"?');
});

config.run();

// ---------------------------------------------------------------------------------------------

const cutter = suite('cluster/stream: EpochCutter');

cutter('an epoch is cut when full, or once max_wait has passed since its first record', () => {
  const c = new EpochCutter(3, 5);
  assert.is(c.deadline, undefined);
  assert.not.ok(c.due(1_000));
  assert.not.ok(c.add(100));
  assert.is(c.deadline, 105);
  assert.not.ok(c.add(104));
  assert.not.ok(c.due(104));
  assert.ok(c.due(105));
  assert.ok(c.add(104), 'the third record fills it');
  c.reset();
  assert.is(c.deadline, undefined);
  assert.not.ok(c.add(200));
  assert.is(c.deadline, 205, 'the clock starts again at the next first record');
});

cutter.run();

// ---------------------------------------------------------------------------------------------

interface Deferred<T> { promise: Promise<T>, resolve: (v: T) => void, reject: (e: unknown) => void }
function deferred<T> (): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((_resolve, _reject) => { resolve = _resolve; reject = _reject; });
  return { promise, resolve, reject };
}

/** An engine whose epochs finish when the test says so. */
class HeldEngine implements EpochEngine {
  readonly calls: Array<{ epoch: number, records: number, done: Deferred<EpochResult> }> = [];
  released = 0;
  apply (epoch: number, records: readonly unknown[]): Promise<EpochResult> {
    const done = deferred<EpochResult>();
    this.calls.push({ epoch, records: records.length, done });
    return done.promise;
  }

  release (epoch: number): void { this.released = epoch; }
  /** Waits (at most 5 s) until `n` epochs were applied; the caller asserts what came. */
  async applied (n: number): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (this.calls.length < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  finish (i: number, failures: EpochResult['failures'] = []): void {
    const c = this.calls[i]!;
    c.done.resolve({ epoch: c.epoch, alerts: [], failures });
  }
}

const flush = async (): Promise<void> => { for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve)); };

function raw (lines: readonly string[], source = 'test'): RawRecord[] {
  return lines.map((text, i) => ({ ok: true, value: parseJsonLine(text), position: { source, line: i + 1 }, text }));
}

/** A stream on a held engine whose outputs go nowhere; `opts` are its batching. */
function heldStream (compiled: CompiledRules, engine: HeldEngine, opts: Pick<StreamOptions, 'maxRecords' | 'maxWaitMs'> & Partial<StreamOptions>): EpochStream {
  return new EpochStream({ engine, ingest: new Ingest(compiled), sink: { write: () => ({ alertsBytes: 0, rejectsBytes: 0 }) }, shards: 64, checkpointed: 0, ...opts });
}

interface StreamCtx { compiled: CompiledRules, lines: string[] }
const stream = suite<StreamCtx>('cluster/stream: EpochStream on a held engine', {} as StreamCtx);
stream.before((ctx) => {
  ctx.compiled = compileRules(loadRules(RULES));
  ctx.lines = trafficLines({ seed: 3, records: 40, start: START });
});

stream('outputs go in epoch order and a receipt waits for its checkpoint', async ({ compiled, lines }) => {
  const engine = new HeldEngine();
  const written: number[] = [];
  const sink: EpochSink = { write: (epoch) => { written.push(epoch.number); return { alertsBytes: epoch.number, rejectsBytes: 0 }; } };
  const saves: Array<{ cp: Checkpoint, done: Deferred<void> }> = [];
  const s = new EpochStream({
    engine,
    ingest: new Ingest(compiled),
    sink,
    shards: 64,
    checkpointed: 7,
    maxRecords: 10,
    maxWaitMs: 1000,
    checkpoint: (cp) => { const done = deferred<void>(); saves.push({ cp, done }); return done.promise; },
  });
  const { committed } = await s.offer(raw(lines.slice(0, 25)));
  let receipt: unknown;
  committed.then((r) => { receipt = r; }, () => undefined);
  assert.equal(engine.calls.map((c) => [c.epoch, c.records]), [[8, 10], [9, 10]], 'two full epochs cut by size, numbered after the checkpoint');
  engine.finish(1);
  await flush();
  assert.equal(written, [], 'epoch 9 waits for epoch 8');
  engine.finish(0);
  await flush();
  assert.equal(written, [8, 9]);
  assert.is(saves.length, 1, 'one checkpoint write at a time');
  assert.is(saves[0]!.cp.epoch, 8);
  saves[0]!.done.resolve();
  await flush();
  assert.is(saves.length, 2);
  assert.equal({ epoch: saves[1]!.cp.epoch, position: saves[1]!.cp.position, epochSize: saves[1]!.cp.epochSize, alertsBytes: saves[1]!.cp.alertsBytes }, { epoch: 9, position: 9, epochSize: 0, alertsBytes: 9 });
  assert.is(receipt, undefined, 'five records still sit in the open epoch');
  const draining = s.drain();
  await flush();
  assert.equal(engine.calls.map((c) => c.epoch), [8, 9, 10], 'drain cuts the open epoch');
  engine.finish(2, [{ index: 4, reason: 'rule x failed on this record: boom', code: 'VIGIL_RULE_FAILED' }]);
  await flush();
  assert.is(receipt, undefined, 'not before the checkpoint of its last epoch');
  saves[1]!.done.resolve();
  await flush();
  saves[2]!.done.resolve();
  await within(5_000, 'drain', draining);
  assert.equal(receipt, {
    accepted: 24,
    rejects: [{ reason: 'rule x failed on this record: boom', code: 'VIGIL_RULE_FAILED', position: { source: 'test', line: 25 }, raw: lines[24] }],
  });
  assert.is(engine.released, 10);
  assert.is(s.checkpointed, 10);
  s.close();
});

stream('when depth epochs are in flight, the next offer waits for one to finish', async ({ compiled, lines }) => {
  const engine = new HeldEngine();
  const s = heldStream(compiled, engine, { maxRecords: 5, maxWaitMs: 1000, depth: 2 });
  await s.offer(raw(lines.slice(0, 10)));
  assert.is(engine.calls.length, 2);
  let entered = false;
  const third = s.offer(raw(lines.slice(10, 15))).then((r) => { entered = true; return r; });
  let fourthEntered = false;
  const fourth = s.offer(raw(lines.slice(15, 16))).then((r) => { fourthEntered = true; return r; });
  await flush();
  assert.not.ok(entered, 'the third epoch has no slot');
  assert.not.ok(fourthEntered, 'later offers queue behind it, in order');
  assert.is(engine.calls.length, 2);
  engine.finish(0);
  await within(5_000, 'third offer', third);
  await within(5_000, 'fourth offer', fourth);
  assert.is(engine.calls.length, 3);
  engine.finish(1);
  engine.finish(2);
  const draining = s.drain();
  await flush();
  engine.finish(3);
  await within(5_000, 'drain', draining);
  s.close();
});

stream('an idle pipeline cuts the epoch at once: with nothing in flight there is nothing to batch behind', async ({ compiled, lines }) => {
  const engine = new HeldEngine();
  const s = heldStream(compiled, engine, { maxRecords: 1000, maxWaitMs: 60_000 });
  const { committed } = await s.offer(raw(lines.slice(0, 3)));
  assert.equal(engine.calls.map((c) => c.records), [3], 'sent when the offer returns, not after max_wait');
  engine.finish(0);
  assert.equal(await within(5_000, 'receipt', committed), { accepted: 3, rejects: [] });
  s.close();
});

stream('while an epoch is in flight, records gather and are cut by the timer', async ({ compiled, lines }) => {
  const engine = new HeldEngine();
  const s = heldStream(compiled, engine, { maxRecords: 1000, maxWaitMs: 20 });
  await s.offer(raw(lines.slice(0, 3)));
  const second = await s.offer(raw(lines.slice(3, 5)));
  const third = await s.offer(raw(lines.slice(5, 6)));
  assert.equal(engine.calls.map((c) => c.records), [3], 'the first epoch is in flight: the next records wait for max_wait');
  await engine.applied(2);
  assert.equal(engine.calls.map((c) => c.records), [3, 3], 'both offers in one epoch, cut by the timer while the first is still in flight');
  engine.finish(0);
  engine.finish(1);
  assert.equal((await within(5_000, 'receipt', second.committed)).accepted, 2);
  assert.equal((await within(5_000, 'receipt', third.committed)).accepted, 1);
  s.close();
});

stream('with cutWhenIdle off, an epoch that is not full waits for the timer even when idle', async ({ compiled, lines }) => {
  const engine = new HeldEngine();
  const s = heldStream(compiled, engine, { maxRecords: 1000, maxWaitMs: 20, cutWhenIdle: false });
  const { committed } = await s.offer(raw(lines.slice(0, 3)));
  assert.is(engine.calls.length, 0);
  await engine.applied(1);
  assert.equal(engine.calls.map((c) => c.records), [3]);
  engine.finish(0);
  assert.equal(await within(5_000, 'receipt', committed), { accepted: 3, rejects: [] });
  s.close();
});

stream('records gathered behind a busy pipeline go the moment it drains, before max_wait', async ({ compiled, lines }) => {
  const engine = new HeldEngine();
  const s = heldStream(compiled, engine, { maxRecords: 1000, maxWaitMs: 60_000 });
  await s.offer(raw(lines.slice(0, 3)));
  const later = await s.offer(raw(lines.slice(3, 7)));
  assert.equal(engine.calls.map((c) => c.records), [3]);
  engine.finish(0);
  await flush();
  assert.equal(engine.calls.map((c) => c.records), [3, 4], 'cut when the first epoch finished, not a minute later');
  engine.finish(1);
  assert.equal((await within(5_000, 'receipt', later.committed)).accepted, 4);
  s.close();
});

stream('while every slot is taken, the timer does not seal small epochs: records gather until a slot frees', async ({ compiled, lines }) => {
  const engine = new HeldEngine();
  const s = heldStream(compiled, engine, { maxRecords: 100, maxWaitMs: 5, depth: 1 });
  await s.offer(raw(lines.slice(0, 3)));
  await engine.applied(1);
  assert.equal(engine.calls.map((c) => c.records), [3]);
  const offered = await s.offer(raw(lines.slice(3, 5)));
  await new Promise((resolve) => setTimeout(resolve, 30));
  const more = await s.offer(raw(lines.slice(5, 9)));
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(engine.calls.map((c) => c.records), [3], 'nothing sealed while the only slot is taken, and offers are not held up');
  engine.finish(0);
  await engine.applied(2);
  assert.equal(engine.calls.map((c) => c.records), [3, 6], 'one epoch with all that gathered, as soon as the slot freed');
  engine.finish(1);
  assert.equal((await within(5_000, 'receipt', offered.committed)).accepted, 2);
  assert.equal((await within(5_000, 'receipt', more.committed)).accepted, 4);
  s.close();
});

stream('an engine failure fails every waiting receipt and later offers', async ({ compiled, lines }) => {
  const engine = new HeldEngine();
  const s = heldStream(compiled, engine, { maxRecords: 5, maxWaitMs: 1000 });
  let failure: unknown;
  s.onFailure((err) => { failure = err; });
  const a = await s.offer(raw(lines.slice(0, 7)));
  engine.calls[0]!.done.reject(new Error('shard actor 0: disk full'));
  try {
    await within(5_000, 'receipt', a.committed);
    assert.unreachable();
  } catch (err) {
    assert.is((err as Error).message, 'shard actor 0: disk full');
  }
  assert.is((failure as Error).message, 'shard actor 0: disk full');
  try {
    await s.offer(raw(lines.slice(7, 8)));
    assert.unreachable();
  } catch (err) {
    assert.is((err as Error).message, 'shard actor 0: disk full');
  }
  s.close();
});

stream.run();

// ---------------------------------------------------------------------------------------------

const body = suite('cluster/http-api: POST bodies');

body('JSON lines: blank lines skipped, a bad line is a reject at its line', () => {
  const parsed = parseBody('{"a":1}\r\n\n{oops\n  \n[1]\n', 'http#4');
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  assert.equal(parsed.items.map((i) => i.ok ? ['ok', i.position, i.value] : ['reject', i.reject.position, i.reject.reason.slice(0, 26)]), [
    ['ok', { source: 'http#4', line: 1 }, { a: 1 }],
    ['reject', { source: 'http#4', line: 3 }, 'record must be valid JSON '],
    ['ok', { source: 'http#4', line: 5 }, [1]],
  ]);
});

body('a JSON array: each element is a record, numbered from 1', () => {
  const parsed = parseBody(' [{"a":1}, 2]', 'http#1');
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  assert.equal(parsed.items.map((i) => i.ok && [i.position.line, i.value, i.text]), [[1, { a: 1 }, '{"a":1}'], [2, 2, '2']]);
});

body('an empty body, a body with no JSON in it and a broken array are refused whole', () => {
  assert.equal(parseBody(' \n', 'h'), { ok: false, error: 'the body is empty; send records as JSON lines (one record per line) or as a JSON array of records' });
  const text = parseBody('hello world', 'h');
  assert.not.ok(text.ok);
  assert.match((text as { error: string }).error, /^the body is not JSON \(line 1: record must be valid JSON \(Unexpected token/);
  assert.match((parseBody('[{"a":1},', 'h') as { error: string }).error, /^the body starts with \[ but is not a JSON array/);
  assert.not.ok(parseBody('[]', 'h').ok);
});

body.run();

// ---------------------------------------------------------------------------------------------

function http (port: number, method: string, path: string, payload?: string | Buffer): Promise<Reply> {
  return request(port, method, path, { body: payload });
}

function writeConfig (dir: string, name: string, extra = ''): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, [
    `rules: ${RULES}`,
    `data: ${join(dir, `data-${name}`)}`,
    'listen: 127.0.0.1:0',
    'threads: 2',
    `alerts: ${join(dir, `alerts-${name}.jsonl`)}`,
    `rejects: ${join(dir, `rejects-${name}.jsonl`)}`,
    'batch: { max_records: 500, max_wait: 5ms }',
    extra,
  ].join('\n'));
  return file;
}

interface NodeCtx { dir: string, input: string, lines: string[] }
const node = suite<NodeCtx>('cluster/serve: a real node process', {} as NodeCtx);
node.before((ctx) => {
  ctx.dir = tempDir();
  ctx.lines = trafficLines({ seed: 7, records: 20_000, start: START, badEvery: 997 });
  ctx.input = join(ctx.dir, 'cdrs.jsonl');
  writeFileSync(ctx.input, ctx.lines.join('\n') + '\n');
});
node.after((ctx) => { removeDir(ctx.dir); });

node('records POSTed in order give the alerts replay --threads 0 gives, and the counters endpoint reads them', async ({ dir, input, lines }) => {
  const replayed = await runVigil(['replay', '--rules', RULES, '--threads', '0', '--alerts', join(dir, 'replay.jsonl'), '--rejects', join(dir, 'replay-rejects.jsonl'), input]);
  assert.is(replayed.code, 0, replayed.stderr);
  const n = await serve(writeConfig(dir, 'same'));
  try {
    const { accepted, rejected } = await postAll(n.port, lines, 2_500);
    const replayRejects = readFileSync(join(dir, 'replay-rejects.jsonl'), 'utf8').split('\n').filter(Boolean);
    assert.is(accepted + rejected, lines.length);
    assert.is(rejected, replayRejects.length);
    // Acknowledged means written: the alerts are in the file before the 202.
    const expected = withoutDetectedAt(readFileSync(join(dir, 'replay.jsonl'), 'utf8'));
    assert.ok(expected.length > 100, `expected many alerts, got ${expected.length}`);
    assert.equal(withoutDetectedAt(readFileSync(join(dir, 'alerts-same.jsonl'), 'utf8')), expected);
    const reasons = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as Reject).reason);
    assert.equal(reasons(join(dir, 'rejects-same.jsonl')), reasons(join(dir, 'replay-rejects.jsonl')));
    const reject = JSON.parse(readFileSync(join(dir, 'rejects-same.jsonl'), 'utf8').split('\n')[0]!) as { source: string, line: number };
    assert.match(reject.source, /^http#\d+$/);

    // The newest spend-day alert's key: its counter holds at least that alert's value.
    const last = JSON.parse(expected.filter((a) => a.includes('"rule":"spend-day"')).at(-1)!) as { key: string, value: number, window: { start: string, end: string } };
    const counter = await http(n.port, 'GET', `/v1/counters/spend-day/${encodeURIComponent(last.key)}?at=${encodeURIComponent(last.window.start)}`);
    assert.is(counter.status, 200, JSON.stringify(counter.json));
    assert.equal(Object.keys(counter.json), ['rule', 'key', 'value', 'limit', 'window']);
    assert.is(counter.json.limit, 40, 'spend-day\'s limit');
    assert.is(counter.json.rule, 'spend-day');
    assert.ok((counter.json.value as number) >= last.value, `${JSON.stringify(counter.json)} vs ${JSON.stringify(last)}`);
    assert.equal(counter.json.window, last.window);
    const calls = await http(n.port, 'GET', '/v1/counters/calls-hour/acct-0');
    assert.is(calls.status, 200, JSON.stringify(calls.json));
    assert.match((calls.json.window as { start: string }).start, /^2026-03-\d\dT\d\d:00:00\+0[12]:00$/);
    const none = await http(n.port, 'GET', '/v1/counters/spend-day/nobody');
    assert.is(none.status, 404);
    assert.match(none.json.error as string, /^no counter of rule "spend-day" for key "nobody" in the window at /);
    assert.equal(await http(n.port, 'GET', '/v1/counters/nope/x').then((r) => [r.status, r.json]), [404, { error: 'no rule "nope" in the rules' }]);
  } finally {
    const result = await stop(n);
    assert.is(result.code, 0, result.stderr);
  }
});

node('a record dated far ahead of the node\'s clock is rejected as future, and the records of the present still count', async ({ dir }) => {
  const n = await serve(writeConfig(dir, 'future'));
  try {
    const now = Date.now();
    const cdr = (id: string, ts: number | string): string => JSON.stringify({ id, ts, account: 'acct-future', called: '+4930123', service: 'voice', duration: 30, trunk: 'tf' });
    // A switch whose clock jumped to 9999, then one an hour ahead (a zone taken for UTC), then the present.
    const first = await http(n.port, 'POST', '/v1/records', [cdr('f1', '9999-01-01T00:00:00Z'), cdr('f2', now + 3_600_000), cdr('p1', now - 60_000)].join('\n'));
    assert.is(first.status, 202, first.text);
    assert.is(first.json.accepted, 1);
    const rejects = first.json.rejects as Array<{ line: number, reason: string }>;
    assert.equal(rejects.map((r) => r.line), [1, 2]);
    assert.match(rejects[0]!.reason, /^future: record\.ts 9999-01-01T01:00:00\+01:00 is 7972(\.\d)? years ahead of this node's clock \(\S+\); config\.max_ahead allows 15 min$/);
    assert.match(rejects[1]!.reason, /^future: record\.ts \S+ is 60 min ahead of this node's clock/);
    // Had 9999 moved the watermark, this record would be late (trunk-minute's window long closed).
    const second = await http(n.port, 'POST', '/v1/records', cdr('p2', now));
    assert.equal([second.status, second.json.accepted, second.json.rejected], [202, 1, 0]);
    const calls = await http(n.port, 'GET', '/v1/counters/calls-hour/acct-future');
    assert.equal([calls.status, calls.json.value], [200, 2]);
    const written = readFileSync(join(dir, 'rejects-future.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Reject & { code: string });
    assert.equal(written.map((r) => r.code), ['VIGIL_FUTURE_RECORD', 'VIGIL_FUTURE_RECORD']);
    const metrics = await http(n.port, 'GET', '/metrics');
    assert.match(metrics.text, /^vigil_records_rejected_total\{code="VIGIL_FUTURE_RECORD"\} 2$/m);
  } finally {
    const result = await stop(n);
    assert.is(result.code, 0, result.stderr);
  }
});

node('with max_ahead: none a record dated 9999 is taken and the present is late after it; started again with a bound, the node warns', async ({ dir }) => {
  const cdr = (id: string, ts: number | string): string => JSON.stringify({ id, ts, account: 'acct-none', called: '+4930123' });
  const unbounded = await serve(writeConfig(dir, 'unbounded', 'max_ahead: none'));
  try {
    const far = await http(unbounded.port, 'POST', '/v1/records', cdr('f1', '9999-01-01T00:00:00Z'));
    assert.equal([far.status, far.json.accepted], [202, 1]);
    const present = await http(unbounded.port, 'POST', '/v1/records', cdr('p1', Date.now()));
    assert.equal([present.status, present.json.accepted], [202, 0]);
    assert.match((present.json.rejects as Array<{ reason: string }>)[0]!.reason, /^late: .*\(watermark 9999-01-01T01:00:00\+01:00, lateness 60 min\)$/);
  } finally {
    assert.is((await stop(unbounded)).code, 0);
  }
  const config = writeConfig(dir, 'unbounded');
  const bounded = await serve(config);
  const result = await stop(bounded);
  assert.is(result.code, 0, result.stderr);
  const warning = result.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.watermark !== undefined);
  assert.ok(warning !== undefined, result.stderr);
  assert.is(warning.level, 'warn');
  assert.is(warning.watermark, '9999-01-01T01:00:00+01:00');
  assert.match(warning.warning as string, /^the watermark restored from the data folder \S+ is 9999-01-01T01:00:00\+01:00, 7972(\.\d)? years ahead of this node's clock: records of the present fall in windows that closed before it and will be rejected as late/);
});

node('a node started again with an edited rules file migrates the counters as a reload does: a lowered credit limit applies to the spend so far', async ({ dir }) => {
  const rulesFile = join(dir, 'edited-rules.yaml');
  const rulesText = (limit: number, extra = ''): string => `version: 1\nrules:\n  - { id: spend, by: account, measure: sum(cost), window: day, limit: 100, limits: { acct-5: ${limit} } }\n${extra}`;
  writeFileSync(rulesFile, rulesText(10));
  const config = join(dir, 'edited.yaml');
  writeFileSync(config, `rules: ${rulesFile}\ndata: ${join(dir, 'data-edited')}\nlisten: 127.0.0.1:0\nthreads: 2\nalerts: ${join(dir, 'alerts-edited.jsonl')}\n`);
  const t = Date.parse('2026-11-21T10:00:00Z');
  const cdr = (id: string, i: number): string => JSON.stringify({ id, ts: t + i * 1000, account: 'acct-5', called: '+4930123', cost: 4 });
  const first = await serve(config);
  try {
    assert.equal((await http(first.port, 'POST', '/v1/records', [cdr('e1', 0), cdr('e2', 1)].join('\n'))).json.accepted, 2);
  } finally {
    assert.is((await stop(first)).code, 0);
  }
  // Edited while the node was stopped: the limit lowered to 9, a rule added.
  writeFileSync(rulesFile, rulesText(9, '  - { id: calls, by: account, measure: count, window: hour, limit: 1000 }\n'));
  const second = await serve(config);
  let result;
  try {
    const counter = await http(second.port, 'GET', `/v1/counters/spend/acct-5?at=${t}`);
    assert.equal([counter.json.value, counter.json.limit], [8, 9]);
    assert.equal((await http(second.port, 'POST', '/v1/records', cdr('e3', 2))).json.accepted, 1);
    const alerts = readFileSync(join(dir, 'alerts-edited.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { rule: string, value: number, limit: number, record: string });
    assert.equal(alerts.map((a) => [a.rule, a.value, a.limit, a.record]), [['spend', 12, 9, 'e3']]);
  } finally {
    result = await stop(second);
  }
  assert.is(result.code, 0, result.stderr);
  const migrated = result.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.migrated !== undefined);
  assert.ok(migrated !== undefined, result.stderr);
  assert.equal([migrated.kept_counters, migrated.dropped_counters, migrated.kept_rows], [1, 0, 1]);
});

// A credit-limit update (only per-key limits change) used to restart every actor, which took
// 1.7 restarts' time with a million keys, records waiting. It is applied in place now.
node('a reload that changes only limits is applied in place: the changed key takes its new limit, the others keep theirs, a rule\'s own limit counts from the next record, and a SIGKILL after it loses nothing', async ({ dir }) => {
  const rulesFile = join(dir, 'credit-rules.yaml');
  const limitsFile = join(dir, 'credit-limits.csv');
  const rulesWith = (callsLimit: number): string => `version: 1\nrules:\n  - { id: spend, by: account, measure: sum(cost), window: day, limit: 100, limits_file: credit-limits.csv }\n  - { id: calls, by: account, measure: count, window: day, limit: ${callsLimit} }\n`;
  const rulesText = rulesWith(100);
  writeFileSync(rulesFile, rulesText);
  writeFileSync(limitsFile, 'key,limit\nacct-5,10\nacct-6,10\nacct-7,10\n');
  const config = join(dir, 'credit.yaml');
  writeFileSync(config, `rules: ${rulesFile}\ndata: ${join(dir, 'data-credit')}\nlisten: 127.0.0.1:0\nthreads: 2\nalerts: ${join(dir, 'alerts-credit.jsonl')}\n`);
  const t = Date.parse('2026-11-21T10:00:00Z');
  const cdr = (id: string, i: number, account: string, cost: number): string => JSON.stringify({ id, ts: t + i * 1000, account, called: '+4930123', cost });
  const reading = async (port: number, account: string): Promise<unknown[]> => {
    const r = await http(port, 'GET', `/v1/counters/spend/${account}?at=${t}`);
    return [r.json.value, r.json.limit];
  };
  const first = await serve(config);
  let killed;
  try {
    const lines = [cdr('c1', 0, 'acct-5', 4), cdr('c2', 1, 'acct-5', 4), cdr('c3', 2, 'acct-6', 4), cdr('c4', 3, 'acct-6', 4), cdr('c5', 4, 'acct-7', 4)];
    assert.equal((await http(first.port, 'POST', '/v1/records', lines.join('\n'))).json.accepted, 5);
    // acct-5 lowered to 9, acct-7 gone (the rule's 100 again), acct-8 new; acct-6 as it was.
    writeFileSync(limitsFile, 'key,limit\nacct-5,9\nacct-6,10\nacct-8,3\n');
    const reload = await http(first.port, 'PUT', '/v1/rules', rulesText);
    assert.is(reload.status, 200, reload.text);
    assert.equal(await reading(first.port, 'acct-5'), [8, 9]);
    assert.equal(await reading(first.port, 'acct-6'), [8, 10]);
    assert.equal(await reading(first.port, 'acct-7'), [4, 100]);
    const after = [cdr('c6', 5, 'acct-5', 4), cdr('c7', 6, 'acct-6', 1), cdr('c8', 7, 'acct-8', 4), cdr('c9', 8, 'acct-7', 10)];
    assert.equal((await http(first.port, 'POST', '/v1/records', after.join('\n'))).json.accepted, 4);
    const alerts = (): unknown[] => readFileSync(join(dir, 'alerts-credit.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { rule: string, key: string, value: number, limit: number, record: string }).map((a) => [a.rule, a.key, a.value, a.limit, a.record]);
    assert.equal(alerts(), [['spend', 'acct-5', 12, 9, 'c6'], ['spend', 'acct-8', 4, 3, 'c8']]);
    // A rule's own limit (the same for every key) lowered under what acct-5 counted today: in place too.
    const lowered = await http(first.port, 'PUT', '/v1/rules', rulesWith(3));
    assert.is(lowered.status, 200, lowered.text);
    assert.equal((await http(first.port, 'POST', '/v1/records', cdr('c10', 9, 'acct-5', 0))).json.accepted, 1);
    assert.equal(alerts().slice(2), [['calls', 'acct-5', 4, 3, 'c10']]);
  } finally {
    killed = await stop(first, 'SIGKILL');
  }
  assert.is(killed.signal, 'SIGKILL');
  const logged = first.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.reloaded !== undefined);
  assert.equal(logged.map((e) => [e.restarted, e.limits_changed]), [[false, { rules: 1, keys: 3 }], [false, { rules: 1, keys: 0 }]], first.stderr());
  assert.is(readFileSync(rulesFile, 'utf8'), rulesWith(3));
  const second = await serve(config);
  try {
    assert.equal(await reading(second.port, 'acct-5'), [12, 9], 'the folder holds the new limit with the spend');
    const calls = await http(second.port, 'GET', `/v1/counters/calls/acct-5?at=${t}`);
    assert.equal([calls.json.value, calls.json.limit], [4, 3]);
    assert.equal(await reading(second.port, 'acct-6'), [9, 10]);
    assert.equal(await reading(second.port, 'acct-7'), [14, 100]);
  } finally {
    const result = await stop(second);
    assert.is(result.code, 0, result.stderr);
    assert.not.match(result.stderr, /"migrated"/, 'the folder was already at the new rules');
  }
});

node('bad requests get JSON errors: 400, 404, 405, 413; healthz and readyz answer', async ({ dir }) => {
  const n = await serve(writeConfig(dir, 'errors'));
  try {
    assert.equal((await http(n.port, 'GET', '/healthz')).json, { status: 'ok' });
    assert.equal((await http(n.port, 'GET', '/readyz')).json, { status: 'ready' });
    const notJson = await http(n.port, 'POST', '/v1/records', 'this is not json\nnor is this\n');
    assert.is(notJson.status, 400);
    assert.match(notJson.json.error as string, /^the body is not JSON \(line 1: record must be valid JSON/);
    assert.is((await http(n.port, 'POST', '/v1/records', '')).status, 400);
    const missing = await http(n.port, 'GET', '/v2/nothing');
    assert.equal([missing.status, missing.json], [404, { error: 'no such endpoint: /v2/nothing' }]);
    const wrong = await http(n.port, 'GET', '/v1/records');
    assert.equal([wrong.status, wrong.json, wrong.headers.allow], [405, { error: 'GET is not allowed on /v1/records; use POST' }, 'POST']);
    const big = Buffer.alloc(16 * 1024 * 1024 + 1, 0x20);
    const tooLarge = await http(n.port, 'POST', '/v1/records', big);
    assert.equal([tooLarge.status, tooLarge.json], [413, { error: 'the body is larger than 16777216 bytes; send fewer records per request' }]);
    const mixed = await http(n.port, 'POST', '/v1/records', JSON.stringify([{ id: 'x1', ts: START, account: 'acct-1', called: '+4930123', duration: 5 }, { ts: 'soon' }]));
    assert.equal([mixed.status, mixed.json], [202, { accepted: 1, rejected: 1, rejects: [{ line: 2, reason: 'record.ts must be an ISO 8601 time with an offset or epoch milliseconds, got "soon"' }] }]);
  } finally {
    const result = await stop(n);
    assert.is(result.code, 0, result.stderr);
  }
});

node('listen beyond loopback is refused before anything starts (exit 2)', async ({ dir }) => {
  const file = join(dir, 'open.yaml');
  writeFileSync(file, `rules: ${RULES}\ndata: ${join(dir, 'data-open')}\nlisten: 0.0.0.0:7800\n`);
  const result = await within(WAIT_MS, 'serve to refuse', runVigil(['serve', '--config', file]));
  assert.is(result.code, 2);
  assert.is(result.stderr, `${file}:3:9 config.listen must be a loopback address (127.0.0.0/8 or [::1]) unless config.api.token is set, got "0.0.0.0:7800": a node refuses to listen beyond loopback without an API token\n`);
  assert.not.ok(existsSync(join(dir, 'data-open')));
});

node('SIGTERM while a large POST is being committed: it is still acknowledged, then the node exits 0', async ({ dir, lines }) => {
  const n = await serve(writeConfig(dir, 'term'));
  let replied = false;
  const reply = http(n.port, 'POST', '/v1/records', lines.join('\n')).finally(() => { replied = true; });
  // Signal once the node has started on the body (its first epochs are out).
  const deadline = Date.now() + WAIT_MS;
  while (!existsSync(join(dir, 'alerts-term.jsonl')) || readFileSync(join(dir, 'alerts-term.jsonl')).length === 0) {
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.not.ok(replied, 'the POST is still being committed when the signal comes');
  n.child.kill('SIGTERM');
  const r = await reply;
  assert.is(r.status, 202, JSON.stringify(r.json));
  assert.is((r.json.accepted as number) + (r.json.rejected as number), lines.length);
  const result = await within(WAIT_MS, 'exit', n.done);
  assert.is(result.code, 0, result.stderr);
  assert.match(n.stderr(), /"stopping":true\}\n\{[^\n]*"stopped":true,"epoch":\d+\}\n$/);
  const afterStop = await http(n.port, 'GET', '/healthz').then(() => 'answered', () => 'closed');
  assert.is(afterStop, 'closed');
});

node('SIGKILL after 202, restart on the same data folder: counters and alerts continue with no loss and no double count', async ({ dir, lines }) => {
  const a = lines.slice(0, 10_000);
  const b = lines.slice(10_000);
  const clean = await serve(writeConfig(dir, 'clean'));
  await postAll(clean.port, a, 2_000);
  await postAll(clean.port, b, 2_000);

  const killedConfig = writeConfig(dir, 'killed');
  const first = await serve(killedConfig);
  await postAll(first.port, a, 2_000);
  const killed = await stop(first, 'SIGKILL');
  assert.is(killed.signal, 'SIGKILL');
  const second = await serve(killedConfig);
  await postAll(second.port, b, 2_000);

  try {
    const alerts = withoutDetectedAt(readFileSync(join(dir, 'alerts-clean.jsonl'), 'utf8'));
    assert.ok(alerts.length > 100);
    assert.equal(withoutDetectedAt(readFileSync(join(dir, 'alerts-killed.jsonl'), 'utf8')), alerts);
    // Every counter an alert names, read from both nodes at the same event time.
    const keys = [...new Set(alerts.map((l) => { const x = JSON.parse(l) as { rule: string, key: string }; return `${x.rule}/${encodeURIComponent(x.key)}`; }))];
    assert.ok(keys.length > 20, `expected many counters, got ${keys.length}`);
    let compared = 0;
    for (const key of keys) {
      const [x, y] = await Promise.all([http(clean.port, 'GET', `/v1/counters/${key}`), http(second.port, 'GET', `/v1/counters/${key}`)]);
      assert.equal(y.json, x.json, key);
      if (x.status === 200) compared++;
    }
    assert.ok(compared > 10, `expected live counters, got ${compared}`);
  } finally {
    const results = await Promise.all([stop(clean), stop(second)]);
    for (const r of results) assert.is(r.code, 0, r.stderr);
  }
});

node('SIGHUP reloads the rules file and the list files it names, keeping the counters of a refreshed list; rules it cannot take are logged at FILE:LINE:COL and the active rules stay', async ({ dir }) => {
  const rules = join(dir, 'hup-rules.yaml');
  const hotlist = join(dir, 'hup-hotlist.txt');
  const rulesText = 'version: 1\nlists:\n  hot: { file: hup-hotlist.txt }\nrules:\n  - { id: hot-range, by: caller, measure: count, window: day, where: { called: { prefix: $hot } }, limit: 0 }\n';
  writeFileSync(rules, rulesText);
  writeFileSync(hotlist, '+88213\n');
  const file = join(dir, 'hup.yaml');
  writeFileSync(file, `rules: ${rules}\ndata: ${join(dir, 'data-hup')}\nlisten: 127.0.0.1:0\nthreads: 1\nalerts: ${join(dir, 'alerts-hup.jsonl')}\n`);
  const n = await serve(file);
  /** The first log line (a JSON object) with the field `event`. */
  const logged = async (event: string): Promise<Record<string, unknown>> => await within(WAIT_MS, `a log line with "${event}"`, (async () => {
    for (;;) {
      const line = n.stderr().split('\n').find((l) => l.includes(`"${event}":`));
      if (line !== undefined) return JSON.parse(line) as Record<string, unknown>;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })());
  const post = async (id: string, caller: string, called: string): Promise<void> => {
    const reply = await request(n.port, 'POST', '/v1/records', { body: JSON.stringify({ id, ts: START, account: 'a1', caller, called, duration: 30 }) });
    assert.is(reply.status, 202, reply.text);
  };
  const alerted = (): string[] => readFileSync(join(dir, 'alerts-hup.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { record: string }).record);
  try {
    const before = await request(n.port, 'GET', '/v1/rules');
    await post('r1', '+4930111', '+88213555');
    await post('r2', '+4930222', '+4930999888');
    assert.equal(alerted(), ['r1'], '+4930999 is not on the hotlist yet');

    writeFileSync(hotlist, '+88213\n+4930999\n');
    n.child.kill('SIGHUP');
    const reloaded = await logged('reloaded');
    assert.equal([reloaded.restarted, reloaded.kept_counters, reloaded.dropped_counters], [true, 1, 0], 'new entries in a named list keep its counters');
    const after = await request(n.port, 'GET', '/v1/rules');
    assert.is.not(after.json.fingerprint, before.json.fingerprint, 'the list is part of the rules');
    await post('r3', '+4930111', '+88213556');
    await post('r4', '+4930222', '+4930999777');
    assert.equal(alerted(), ['r1', 'r4'], 'the refreshed hotlist is in force, and r1\'s caller, already alerted today, is not alerted again');
    assert.is((await request(n.port, 'GET', `/v1/counters/hot-range/${encodeURIComponent('+4930111')}`)).json.value, 2, 'its count went on');

    writeFileSync(rules, rulesText.replace('limit: 0', 'limit: lots'));
    n.child.kill('SIGHUP');
    const failed = await logged('reload_failed');
    assert.is(failed.reload_failed, `${rules} is not valid (1 problem); the active rules stay`);
    assert.equal(failed.problems, [`${rules}:5:107 rules[0].limit must be a number >= 0, got "lots"`]);
    assert.equal((await request(n.port, 'GET', '/v1/rules')).json.fingerprint, after.json.fingerprint);
    await post('r5', '+4930333', '+4930999666');
    assert.equal(alerted(), ['r1', 'r4', 'r5'], 'the node runs on with the rules it had');
  } finally {
    const result = await stop(n);
    assert.is(result.code, 0, result.stderr);
  }
});

node.run();

// ---------------------------------------------------------------------------------------------

interface RecoverCtx { dir: string, compiled: CompiledRules }
const recover = suite<RecoverCtx>('cluster/serve: epochs committed after the last checkpoint', {} as RecoverCtx);
recover.before((ctx) => {
  ctx.dir = tempDir();
  ctx.compiled = compileRules(loadRules(RULES));
});
recover.after((ctx) => { removeDir(ctx.dir); });

recover('are completed at start (their alerts written once) and new records are counted, not taken for replays', async ({ dir, compiled }) => {
  const data = join(dir, 'data');
  const lines = trafficLines({ seed: 5, records: 400, start: START });
  // A node that died after its actors committed epoch 1 and before it checkpointed it.
  const ingest = new Ingest(compiled);
  const records = []; const index = []; const watermark = [];
  for (let i = 0; i < 200; i++) {
    const p = ingest.prepare(parseJsonLine(lines[i]!), { source: 't', line: i + 1 });
    if (!p.ok) continue;
    records.push(p.record); index.push(i); watermark.push(ingest.watermark);
  }
  const engine = new EmbeddedEngine({ config: compiled.config, compiled, dataPath: data, actors: 2, shards: 64 });
  const lost = await engine.apply(1, records, index, watermark);
  await engine.close();
  assert.ok(lost.alerts.length > 0, 'the committed epoch raised alerts');

  const alerts = join(dir, 'alerts.jsonl');
  const events: Array<Record<string, unknown>> = [];
  const n = await within(WAIT_MS, 'start', ServeNode.start({
    file: 'test', rules: RULES, data, listen: { host: '127.0.0.1', port: 0 }, threads: 2, alerts, alertRetentionMs: 86_400_000, rejects: undefined, batch: { maxRecords: 100, maxWaitMs: 2 }, maxAheadMs: DEFAULT_MAX_AHEAD_MS, api: { tokens: [] }, nats: undefined, cluster: defaultCluster({ host: '127.0.0.1', port: 0 }), telemetry: DEFAULT_TELEMETRY,
  }, { log: (e) => { events.push(e); } }));
  try {
    assert.equal(events.map((e) => Object.keys(e)[0]), ['listening', 'ready']);
    assert.is(events[1]!.epoch, 2, 'epoch 1 recovered, then one empty epoch proves the actors open');
    assert.equal(withoutDetectedAt(readFileSync(alerts, 'utf8')), lost.alerts.map((a) => { const x: Record<string, unknown> = { ...a.alert }; delete x.detectedAt; return JSON.stringify(x); }));
    const account = (JSON.parse(lines[0]!) as { account: string }).account;
    const before = await http(n.address.port, 'GET', `/v1/counters/calls-hour/${account}?at=${START}`);
    const reply = await http(n.address.port, 'POST', '/v1/records', lines.slice(200).join('\n'));
    assert.is(reply.status, 202);
    const after = await http(n.address.port, 'GET', `/v1/counters/calls-hour/${account}?at=${START}`);
    const added = lines.slice(200).filter((l) => {
      const r = JSON.parse(l) as { account: string, ts: number };
      return r.account === account && r.ts >= START && r.ts < START + 3_600_000;
    }).length;
    assert.ok(added > 0, 'the new records feed that counter');
    assert.is(after.json.value, (before.status === 200 ? before.json.value as number : 0) + added);
  } finally {
    await within(WAIT_MS, 'stop', n.stop());
  }
});

recover.run();

// ---------------------------------------------------------------------------------------------

const full = suite<RecoverCtx>('cluster/serve: a commit that fails (a full disk)', {} as RecoverCtx);
full.before((ctx) => {
  ctx.dir = tempDir();
  ctx.compiled = compileRules(loadRules(RULES));
});
full.after((ctx) => { removeDir(ctx.dir); });

full('restarts the actor from its last commit, logs why, and every record POSTed is still acknowledged and counted once', async ({ dir, compiled }) => {
  const lines = trafficLines({ seed: 9, records: 3_000, start: START, badEvery: 499 });
  const input = join(dir, 'cdrs.jsonl');
  writeFileSync(input, lines.join('\n') + '\n');
  const expected = join(dir, 'expected.jsonl');
  await replay({ compiled, inputs: [input], alerts: expected, threads: 0 });

  // Thread env is copied when a thread starts: set for the node's whole life (restarts too).
  const marker = join(dir, 'disk-full');
  process.env.VIGIL_TEST_FULL_MARKER = marker;
  process.env.VIGIL_TEST_FULL_EPOCH = '6';
  const alerts = join(dir, 'alerts.jsonl');
  const events: Array<Record<string, unknown>> = [];
  try {
    const n = await within(WAIT_MS, 'start', ServeNode.start({
      file: 'test', rules: RULES, data: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, threads: 2, alerts, alertRetentionMs: 86_400_000, rejects: undefined, batch: { maxRecords: 200, maxWaitMs: 2 }, maxAheadMs: DEFAULT_MAX_AHEAD_MS, api: { tokens: [] }, nats: undefined, cluster: defaultCluster({ host: '127.0.0.1', port: 0 }), telemetry: DEFAULT_TELEMETRY,
    }, { log: (e) => { events.push(e); }, workerFile: new URL('../fixtures/full-disk-shard.js', import.meta.url).href }));
    try {
      const { accepted, rejected } = await within(WAIT_MS, 'the POSTs', postAll(n.address.port, lines, 500));
      assert.is(accepted + rejected, lines.length);
    } finally {
      await within(WAIT_MS, 'stop', n.stop());
    }
  } finally {
    delete process.env.VIGIL_TEST_FULL_MARKER;
    delete process.env.VIGIL_TEST_FULL_EPOCH;
  }
  assert.match(readFileSync(marker, 'utf8'), /^failed at epoch \d+$/, 'the fixture did fail a commit');
  const warnings = events.filter((e) => e.warning !== undefined);
  assert.ok(warnings.length >= 1, 'the restart is logged');
  assert.match(warnings[0]!.warning as string, /^shard actor [01]: a commit to the data folder failed \(ENOSPC: no space left on device\); restarting its thread from its last commit in 50 ms \(failure 1 in a row; at 5 the engine stops\)$/);
  assert.not.ok(events.some((e) => e.error !== undefined), JSON.stringify(events));
  assert.equal(withoutDetectedAt(readFileSync(alerts, 'utf8')), withoutDetectedAt(readFileSync(expected, 'utf8')));
});

full.run();

// ---------------------------------------------------------------------------------------------

const life = suite<RecoverCtx>('cluster/serve: a starting or stopping node answers 503 with Retry-After', {} as RecoverCtx);
life.before((ctx) => {
  ctx.dir = tempDir();
  ctx.compiled = compileRules(loadRules(RULES));
});
life.after((ctx) => { removeDir(ctx.dir); });

/** An in-process node whose shard commits wait while the file `hold` exists (fixtures/held-shard.ts). */
async function heldNode (dir: string, name: string, hold: string, events: Array<Record<string, unknown>>): Promise<ServeNode> {
  process.env.VIGIL_TEST_HOLD = hold;
  try {
    return await ServeNode.start({
      file: 'test', rules: RULES, data: join(dir, `data-${name}`), listen: { host: '127.0.0.1', port: 0 }, threads: 1, alerts: join(dir, `alerts-${name}.jsonl`), alertRetentionMs: 86_400_000, rejects: undefined, batch: { maxRecords: 100, maxWaitMs: 2 }, maxAheadMs: DEFAULT_MAX_AHEAD_MS, api: { tokens: [] }, nats: undefined, cluster: defaultCluster({ host: '127.0.0.1', port: 0 }), telemetry: DEFAULT_TELEMETRY,
    }, { log: (e) => { events.push(e); }, workerFile: new URL('../fixtures/held-shard.js', import.meta.url).href });
  } finally {
    // Thread env is copied when a thread starts: the node's threads keep it.
    delete process.env.VIGIL_TEST_HOLD;
  }
}

async function until (what: string, done: () => boolean): Promise<void> {
  await within(WAIT_MS, what, (async () => { while (!done()) await new Promise((resolve) => setTimeout(resolve, 5)); })());
}

life('GET /readyz while the engine opens: 503 with Retry-After, then 200', async ({ dir }) => {
  const hold = join(dir, 'hold-start');
  writeFileSync(hold, '');
  const events: Array<Record<string, unknown>> = [];
  const starting = heldNode(dir, 'start', hold, events);
  try {
    await until('the port to open', () => events.some((e) => e.listening !== undefined));
    const port = Number(/:(\d+)$/.exec(events.find((e) => e.listening !== undefined)!.listening as string)![1]);
    const early = await http(port, 'GET', '/readyz');
    assert.equal([early.status, early.headers['retry-after'], early.json], [503, '1', { error: 'the node is starting' }]);
    rmSync(hold, { force: true });
    await within(WAIT_MS, 'start', starting);
    assert.is((await http(port, 'GET', '/readyz')).status, 200);
  } finally {
    rmSync(hold, { force: true });
    await within(WAIT_MS, 'stop', starting.then((n) => n.stop()));
  }
});

life('while a node stops, new connections are taken and hear 503 with Retry-After until what it took is committed; then the port closes', async ({ dir }) => {
  const hold = join(dir, 'hold-stop');
  const events: Array<Record<string, unknown>> = [];
  const n = await within(WAIT_MS, 'start', heldNode(dir, 'stop', hold, events));
  try {
    const port = n.address.port;
    const lines = trafficLines({ seed: 3, records: 300, start: START });
    writeFileSync(hold, '');
    let acknowledged: Reply | undefined;
    const inFlight = http(port, 'POST', '/v1/records', lines.join('\n')).then((r) => { acknowledged = r; return r; });
    // Taken: its records are offered and their epoch is held in the actor's commit.
    await until('the POST to be taken', () => existsSync(`${hold}.held`));
    const stopped = n.stop();
    await until('the node to say it stops', () => events.some((e) => e.stopping === true));
    const post = await http(port, 'POST', '/v1/records', lines[0]!);
    assert.equal([post.status, post.headers['retry-after']], [503, '1'], post.text);
    assert.match(post.json.error as string, /^the node is shutting down/);
    const ready = await http(port, 'GET', '/readyz');
    assert.equal([ready.status, ready.headers['retry-after'], ready.json], [503, '1', { error: 'the node is shutting down' }]);
    assert.is(acknowledged, undefined, 'the POST taken before the stop is still being committed');
    rmSync(hold, { force: true });
    const r = await within(WAIT_MS, 'the POST taken before the stop', inFlight);
    assert.is(r.status, 202, r.text);
    assert.is((r.json.accepted as number) + (r.json.rejected as number), lines.length);
    await within(WAIT_MS, 'stop', stopped);
    const after = await http(port, 'GET', '/healthz').then(() => 'answered', (err: NodeJS.ErrnoException) => err.code);
    assert.is(after, 'ECONNREFUSED');
  } finally {
    rmSync(hold, { force: true });
    await within(WAIT_MS, 'stop', n.stop());
  }
});

life.run();

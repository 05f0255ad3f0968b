// The load harness (`vigil bench`) on the tiny preset: a few thousand records at a fixed
// rate through the core and through the embedded engine (1 shard thread), no Redis, no
// scaling runs. Checks the JSON line's shape and that the latency
// percentiles are ordered; no timing assertions (the machine is shared).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../../bench/load.bench.js', import.meta.url));
const test = suite('bench/load: vigil bench --preset tiny');

interface Pcts { n: number, p50: number, p99: number, p999: number, max: number }

function ordered (p: Pcts, what: string): void {
  assert.ok(p.n > 0, `${what}: no values`);
  assert.ok(p.p50 <= p.p99 && p.p99 <= p.p999 && p.p999 <= p.max + 0.01, `${what}: ${JSON.stringify(p)} not ordered`);
}

test('runs, prints one JSON line of the documented shape, draws a chart', () => {
  const chart = join(tmpdir(), `vigil-bench-test-${process.pid}.svg`);
  try {
    const run = spawnSync(process.execPath, [ENTRY, '--preset', 'tiny', '--no-redis', '--quiet', '--chart', chart], { encoding: 'utf8', timeout: 120_000 });
    assert.is(run.status, 0, run.stderr);
    const json = run.stdout.split('\n').filter((l) => l.startsWith('{'));
    assert.is(json.length, 1);
    const r = JSON.parse(json[0]!);
    assert.is(r.bench, 'load');
    assert.type(r.node, 'string');
    assert.type(r.cpu, 'string');
    assert.type(r.cores, 'number');
    assert.ok(Array.isArray(r.results) && r.results.length >= 4);
    for (const x of r.results) {
      assert.type(x.name, 'string');
      for (const k of ['opsPerSec', 'medianNs', 'p95Ns', 'samples']) assert.type(x[k], 'number', `${x.name}.${k}`);
      assert.ok(x.opsPerSec > 0, x.name);
    }
    assert.is(r.params.preset, 'tiny');
    assert.is(r.params.records, 3000);
    for (const run of [r.load.fixed, r.load.max]) {
      assert.is(run.records, 3000);
      assert.is(run.accepted + run.rejected, 3000);
      ordered(run.latency, `${run.name} latency`);
      if (run.alerts > 0) ordered(run.alertLatency, `${run.name} alert latency`);
      assert.type(run.cpuPercent, 'number');
      assert.ok(run.rssMiB > 0);
    }
    const e = r.load.embedded;
    assert.is(e.threads, 1);
    assert.is(e.records, 3000);
    assert.ok(e.epochs > 0);
    ordered(e.latency, 'embedded latency');
    ordered(e.ackLatency, 'embedded ack latency');
    if (e.alerts > 0) ordered(e.alertLatency, 'embedded alert latency');
    assert.is(r.load.fixed.rate, 5000);
    assert.is(r.load.max.rate, 0);
    const names = r.baselines.map((b: { name: string }) => b.name);
    assert.equal(names, ['ceiling (typed-array slots)', 'naive Map + string keys', 'rate-limiter-flexible memory', 'rate-limiter-flexible Redis']);
    assert.type(r.baselines[3].skipped, 'string');
    assert.is(r.ratios['rate-limiter-flexible Redis'], null);
    assert.type(r.ratios['ceiling (typed-array slots)'], 'number');
    assert.type(r.quality.cleanAccounts, 'number');
    assert.ok(Array.isArray(r.quality.cases));
    for (const k of ['redisRatio', 'ceilingShare', 'recall', 'falseAlertRate', 'medianDetectMs']) assert.ok(k in r.goals, k);
    assert.equal(r.scaling, { rules: [], keys: [], threads: [] });
    const svg = readFileSync(chart, 'utf8');
    assert.ok(svg.startsWith('<svg') && svg.includes('<polyline'), 'chart is an SVG with lines');
  } finally {
    rmSync(chart, { force: true });
  }
});

test('an unknown preset is a usage error', () => {
  const run = spawnSync(process.execPath, [ENTRY, '--preset', 'huge'], { encoding: 'utf8', timeout: 30_000 });
  assert.is.not(run.status, 0);
  assert.match(run.stderr, /--preset must be one of tiny, quick, full/);
});

test.run();

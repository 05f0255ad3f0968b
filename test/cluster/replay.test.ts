// `vigil replay` end to end: the threaded engine (shard actors on worker threads, counters in
// LMDB) writes exactly what the single-threaded core writes; a run killed with SIGKILL at random
// moments and started again on the same data folder ends with the same alerts, rejects and
// counters as a clean run, a gzip input (of several members) as a plain one; a shard thread that dies loses nothing, nor does a commit that fails
// (the actor is restarted; a store that keeps failing stops the run); a corrupt store is reported.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { open } from 'lmdb';
import { compileRules, type CompiledRules } from '../../core/compile.js';
import { loadRules } from '../../cluster/rules-file.js';
import { replay } from '../../cluster/replay.js';
import type { RestartEvent } from '../../cluster/embedded.js';
import type { EngineError } from '../../core/errors.js';
import { disk } from '../../workers/codec.js';
import { decodeRow } from '../../workers/row-codec.js';
import type { CalendarCell } from '../../core/engine.js';
import type { SlidingState } from '../../core/measure.js';
import { trafficLines } from '../helpers/traffic.js';
import { mulberry32 } from '../helpers/prng.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { startVigil, runVigil } from '../helpers/cli.js';

const RULES = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));
const START = Date.UTC(2026, 2, 27, 20, 0, 0); // spans the Europe/Berlin spring-forward night

const withoutDetectedAt = (text: string): string[] =>
  text.split('\n').filter(Boolean).map((l) => { const a = JSON.parse(l) as Record<string, unknown>; delete a.detectedAt; return JSON.stringify(a); });

interface Ctx { dir: string, input: string }
const same = suite<Ctx>('cluster/replay: threaded engine equals the single-threaded core', {} as Ctx);
same.before((ctx) => {
  ctx.dir = tempDir();
  ctx.input = join(ctx.dir, 'cdrs.jsonl');
  writeFileSync(ctx.input, trafficLines({ seed: 7, records: 20_000, start: START, badEvery: 997 }).join('\n') + '\n');
});
same.after((ctx) => { removeDir(ctx.dir); });

same('alerts and rejects are identical with 0, 1 and 2 shard threads, byte for byte but detectedAt', async ({ dir, input }) => {
  const compiled = compileRules(loadRules(RULES));
  const out: Record<number, { alerts: string[], rejects: string }> = {};
  for (const threads of [0, 1, 2]) {
    const alerts = join(dir, `alerts-${threads}.jsonl`);
    const rejects = join(dir, `rejects-${threads}.jsonl`);
    const summary = await replay({ compiled, inputs: [input], alerts, rejects, threads, epochSize: 700 });
    assert.is(summary.read, 20_000);
    out[threads] = { alerts: withoutDetectedAt(readFileSync(alerts, 'utf8')), rejects: readFileSync(rejects, 'utf8') };
  }
  const core = out[0]!;
  assert.ok(core.alerts.length > 100, `expected many alerts, got ${core.alerts.length}`);
  const rules = new Set(core.alerts.map((a) => (JSON.parse(a) as { rule: string }).rule));
  for (const spanning of ['trunk-minute', 'trunk-sliding', 'called-day', 'group-minutes', 'country-avg']) {
    assert.ok(rules.has(spanning), `rule ${spanning} should fire`);
  }
  assert.ok(core.rejects.split('\n').filter(Boolean).length >= 20, 'the bad lines are rejected');
  assert.equal(out[1]!.alerts, core.alerts);
  assert.equal(out[2]!.alerts, core.alerts);
  assert.is(out[1]!.rejects, core.rejects);
  assert.is(out[2]!.rejects, core.rejects);
});

same('a shard thread that dies mid-run is restarted from LMDB and nothing is lost or counted twice', async ({ dir, input }) => {
  const compiled = compileRules(loadRules(RULES));
  const clean = join(dir, 'clean.jsonl');
  await replay({ compiled, inputs: [input], alerts: clean, threads: 2, epochSize: 700 });
  process.env.VIGIL_TEST_CRASH_MARKER = join(dir, 'crashed');
  process.env.VIGIL_TEST_CRASH_EPOCH = '9';
  const crashed = join(dir, 'crashed.jsonl');
  try {
    await replay({ compiled, inputs: [input], alerts: crashed, threads: 2, epochSize: 700, workerFile: new URL('../fixtures/crashing-shard.js', import.meta.url).href });
  } finally {
    delete process.env.VIGIL_TEST_CRASH_MARKER;
    delete process.env.VIGIL_TEST_CRASH_EPOCH;
  }
  assert.is(readFileSync(join(dir, 'crashed'), 'utf8'), 'crashed', 'the fixture did crash a thread');
  assert.equal(withoutDetectedAt(readFileSync(crashed, 'utf8')), withoutDetectedAt(readFileSync(clean, 'utf8')));
});

same('a commit that fails (a full disk) restarts the actor from its last commit: the same alerts, nothing lost or counted twice', async ({ dir, input }) => {
  const compiled = compileRules(loadRules(RULES));
  const clean = join(dir, 'clean-full.jsonl');
  await replay({ compiled, inputs: [input], alerts: clean, threads: 2, epochSize: 700 });
  const marker = join(dir, 'disk-full');
  process.env.VIGIL_TEST_FULL_MARKER = marker;
  process.env.VIGIL_TEST_FULL_EPOCH = '9';
  const full = join(dir, 'full.jsonl');
  const restarts: RestartEvent[] = [];
  try {
    await replay({ compiled, inputs: [input], alerts: full, threads: 2, epochSize: 700, workerFile: new URL('../fixtures/full-disk-shard.js', import.meta.url).href, onRestart: (e) => restarts.push(e) });
  } finally {
    delete process.env.VIGIL_TEST_FULL_MARKER;
    delete process.env.VIGIL_TEST_FULL_EPOCH;
  }
  assert.is(readFileSync(marker, 'utf8'), 'failed at epoch 9', 'the fixture did fail a commit');
  assert.ok(restarts.length >= 1, 'an actor was restarted');
  assert.equal(restarts[0], { actor: restarts[0]!.actor, failures: 1, cause: 'ENOSPC: no space left on device', delayMs: 50 });
  assert.equal(withoutDetectedAt(readFileSync(full, 'utf8')), withoutDetectedAt(readFileSync(clean, 'utf8')));
});

same('a store that keeps failing stops the run after a few restarts, naming the cause', async ({ dir, input }) => {
  const compiled = compileRules(loadRules(RULES));
  process.env.VIGIL_TEST_FULL_EPOCH = '5';
  const restarts: RestartEvent[] = [];
  const started = Date.now();
  try {
    await replay({ compiled, inputs: [input], alerts: join(dir, 'never.jsonl'), threads: 2, epochSize: 700, workerFile: new URL('../fixtures/full-disk-shard.js', import.meta.url).href, onRestart: (e) => restarts.push(e) });
    assert.unreachable('the run should fail');
  } catch (err) {
    assert.is((err as EngineError).code, 'VIGIL_ENGINE_FAILED');
    assert.match((err as Error).message, /^shard actor [01]: a commit to the data folder failed 5 times in a row \(ENOSPC: no space left on device\), its thread restarted from its last commit in between; nothing after that commit is stored: fix the cause \(free disk space, say\) and start again, and a run on the same data folder resumes from it$/);
  } finally {
    delete process.env.VIGIL_TEST_FULL_EPOCH;
  }
  const ms = Date.now() - started;
  // Four restarts per actor, after 50, 100, 200 and 400 ms.
  const of = restarts.filter((e) => e.actor === restarts[0]!.actor);
  assert.equal(of.map((e) => [e.failures, e.delayMs]), [[1, 50], [2, 100], [3, 200], [4, 400]]);
  assert.ok(ms < 15_000, `the run should fail within seconds, took ${ms} ms`);
});

same.run();

/**
 * Counter state that a future record could still see. Windows past their end plus lateness
 * (and sliding cells past their span) are memory the incremental sweep has yet to free, and a
 * resumed run sweeps in another order, so they are left out: they are not counts.
 */
function liveCounters (dataPath: string, compiled: CompiledRules): Map<string, string> {
  const db = open({ path: dataPath, encoding: 'binary', readOnly: true });
  try {
    let watermark = -Infinity;
    for (const { key, value } of db.getRange({ start: ['meta'], end: ['meta', '\uffff'] })) {
      if ((key as unknown[])[0] !== 'meta') continue;
      watermark = Math.max(watermark, (disk.unpack(value as Buffer) as { watermark: number }).watermark);
    }
    const { lateness, horizon } = compiled;
    const live = new Map<string, string>();
    for (const { key, value } of db.getRange({ start: ['row'], end: ['row', '\uffff'] })) {
      const keyer = compiled.keyers[(key as unknown[])[2] as number]!;
      const row = decodeRow(value as Buffer);
      const cells = row.cells.map((cell, slot) => {
        const window = keyer.counters[slot]!.window;
        if (cell === undefined || cell === null) return null;
        if (window.kind === 'calendar') {
          const ws = (cell as CalendarCell).windows.filter((w) => w.end + lateness > watermark).map((w) => [w.start, w.n, w.a, w.distinct?.size ?? 0, w.fired]);
          return ws.length === 0 ? null : ws;
        }
        const s = cell as SlidingState;
        return s.newest + window.ms + horizon + lateness > watermark ? [s.newest, s.n, s.a, s.fired] : null;
      });
      if (cells.every((c) => c === null)) continue;
      live.set(JSON.stringify((key as unknown[]).slice(1)), JSON.stringify(cells));
    }
    return live;
  } finally {
    db.close().catch(() => undefined);
  }
}

const killed = suite<Ctx>('cluster/replay: SIGKILL at random moments, then resume', {} as Ctx);
killed.before((ctx) => {
  ctx.dir = tempDir();
  ctx.input = join(ctx.dir, 'cdrs.jsonl');
  writeFileSync(ctx.input, trafficLines({ seed: 11, records: 60_000, start: START, badEvery: 1499 }).join('\n') + '\n');
});
killed.after((ctx) => { removeDir(ctx.dir); });

/**
 * Runs `input` clean, then again on another data folder killed with SIGKILL `attempts` times at
 * random moments, and checks that the killed one ends with the clean one's alerts, rejects and
 * live counters, every alert once.
 */
async function killAndResume (dir: string, input: string, tag: string, attempts: number, minInterrupted: number): Promise<void> {
  const args = (run: string): string[] => ['replay', '--rules', RULES, '--threads', '2', '--epoch', '500',
    '--data', join(dir, `data-${run}`), '--alerts', join(dir, `alerts-${run}.jsonl`), '--rejects', join(dir, `rejects-${run}.jsonl`), input];
  const clean = await runVigil(args(`${tag}-clean`));
  assert.is(clean.code, 0, clean.stderr);

  // Each run is killed at a random moment after it has visibly made progress (its alerts file
  // grew), so the next one must resume from a checkpoint, not start afresh.
  const rnd = mulberry32(2026);
  const alertsFile = join(dir, `alerts-${tag}-killed.jsonl`);
  let interrupted = 0;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const before = existsSync(alertsFile) ? statSync(alertsFile).size : 0;
    const run = startVigil(args(`${tag}-killed`));
    const state = { finished: false };
    run.done.then(() => { state.finished = true; }, () => undefined);
    const deadline = Date.now() + 60_000;
    while (!state.finished && Date.now() < deadline && (!existsSync(alertsFile) || statSync(alertsFile).size <= before)) await sleep(10);
    await sleep(Math.floor(rnd() * 200));
    run.child.kill('SIGKILL');
    const result = await run.done;
    if (result.signal === 'SIGKILL') interrupted++;
    else assert.is(result.code, 0, result.stderr);
  }
  const last = await runVigil(args(`${tag}-killed`));
  assert.is(last.code, 0, last.stderr);
  assert.ok(interrupted >= minInterrupted, `at least ${minInterrupted} runs should have been killed mid-way, got ${interrupted}`);
  assert.match(last.stderr, /resumed after [\d,]+ records committed by an earlier run/);

  const alerts = (run: string): string[] => withoutDetectedAt(readFileSync(join(dir, `alerts-${run}.jsonl`), 'utf8'));
  const cleanAlerts = alerts(`${tag}-clean`);
  assert.ok(cleanAlerts.length > 100);
  const killedAlerts = alerts(`${tag}-killed`);
  // A failure is kept for inspection: the folders and files of both runs, which the suite would
  // remove. (The one failure seen, once under load, one alert's record and ts read from the wrong
  // bytes, was msgpackr-extract's process-wide table rewritten by a starting thread:
  // workers/msgpack-js-strings.ts.)
  if (JSON.stringify(killedAlerts) !== JSON.stringify(cleanAlerts)) {
    const kept = join(tmpdir(), `vigil-replay-failure-${tag}-${Date.now()}`);
    cpSync(dir, kept, { recursive: true });
    assert.equal(killedAlerts, cleanAlerts, `the killed runs' alerts differ from the clean run's; folders kept in ${kept}`);
  }
  assert.is(new Set(alerts(`${tag}-killed`).map((a) => (JSON.parse(a) as { id: string }).id)).size, cleanAlerts.length, 'no alert id twice');
  assert.is(readFileSync(join(dir, `rejects-${tag}-killed.jsonl`), 'utf8'), readFileSync(join(dir, `rejects-${tag}-clean.jsonl`), 'utf8'));
  const compiled = compileRules(loadRules(RULES));
  const a = liveCounters(join(dir, `data-${tag}-clean`), compiled);
  const b = liveCounters(join(dir, `data-${tag}-killed`), compiled);
  assert.ok(a.size > 50, `expected live counters, got ${a.size}`);
  assert.equal([...b.entries()].sort(), [...a.entries()].sort());
}

killed('every alert and reject appears exactly once and the final counters equal a clean run', async ({ dir, input }) => {
  await killAndResume(dir, input, 'plain', 6, 4);
});

killed('so with a gzip input of several members, which a resumed run decompresses from its start and skips', async ({ dir, input }) => {
  // Three members, as `cat a.gz b.gz c.gz` makes; the rejects name the .gz file, in both runs.
  const text = readFileSync(input);
  const cuts = [Math.floor(text.length / 3), Math.floor(text.length * 2 / 3)];
  const gz = join(dir, 'cdrs.jsonl.gz');
  writeFileSync(gz, Buffer.concat([text.subarray(0, cuts[0]), text.subarray(cuts[0], cuts[1]), text.subarray(cuts[1])].map((part) => gzipSync(part))));
  await killAndResume(dir, gz, 'gzip', 4, 3);
});

killed('a corrupt counter row in the data folder stops the run with exit 1 and says what to do', async ({ dir, input }) => {
  const data = join(dir, 'data-corrupt');
  const first = await runVigil(['replay', '--rules', RULES, '--threads', '1', '--data', data, '--alerts', join(dir, 'c.jsonl'), input]);
  assert.is(first.code, 0, first.stderr);
  const db = open({ path: data, encoding: 'binary' });
  await db.put(['row', 0, 0, 'zz-corrupt'], Buffer.from([0xc1, 0xc1, 0xc1]));
  await db.close();
  const more = join(dir, 'more.jsonl');
  writeFileSync(more, trafficLines({ seed: 12, records: 100, start: START + 86_400_000 }).join('\n') + '\n');
  const second = await runVigil(['replay', '--rules', RULES, '--threads', '1', '--data', data, '--alerts', join(dir, 'c.jsonl'), input, more]);
  assert.is(second.code, 1);
  assert.match(second.stderr, 'counter row ["row",0,0,"zz-corrupt"] in the data folder is not a counter row (not MessagePack); move the data folder away to start fresh or restore it from a backup');
});

killed.run();

// Fuzz, level 2: a real `vigil replay --threads 1 --data DIR` process on files of seeded
// mutants (JSON lines with 1 MB lines and deep nesting, CSV, Asterisk Master.csv). It exits 0;
// its summary counts every record of the input (test/helpers/mutate.ts's model); each reject
// is a JSON line with a code, a clear reason, the file and the line a record starts on; and
// its alerts and rejects are those of a `--threads 0` run. Records are kept near the traffic's
// time but for a few far in the future at the end (calmHead), which make what follows them late.
// Run: npx tsc -p tsconfig.json && node dist/test/cluster/fuzz-replay.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRules } from '../../cluster/rules-file.js';
import { compileRules } from '../../core/compile.js';
import type { Reject } from '../../core/usage-record.js';
import { runVigil } from '../helpers/cli.js';
import { mulberry32 } from '../helpers/prng.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { assertClear, recordSpans, splitLines } from '../helpers/fuzz-model.js';
import { calmHead, joinUnits, mutantUnits } from '../helpers/mutate-records.js';

const RULES = fileURLToPath(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url));

interface Ctx { dir: string }
const fuzz = suite<Ctx>('cluster/replay: fuzzed inputs through the real command', {} as Ctx);
fuzz.before((ctx) => { ctx.dir = tempDir('vigil-fuzz-replay-'); });
fuzz.after((ctx) => { removeDir(ctx.dir); });

const withoutDetectedAt = (text: string): string[] =>
  text.split('\n').filter(Boolean).map((l) => { const a = JSON.parse(l) as Record<string, unknown>; delete a.detectedAt; return JSON.stringify(a); });

// Seeds 2507/18 hold an id with a lone surrogate, which MessagePack turned into U+FFFD on its
// way to the shard thread: --threads 1 wrote other alerts than --threads 0.
const CASES = [
  { format: 'jsonl', n: 2500, seed: 17, rng: 2500, ext: 'jsonl' },
  { format: 'jsonl', n: 1500, seed: 18, rng: 2507, ext: 'jsonl' },
  { format: 'csv', n: 1200, seed: 17, rng: 1200, ext: 'csv' },
  { format: 'asterisk', n: 1000, seed: 17, rng: 1000, ext: 'csv' },
] as const;

for (const { format, n, seed, rng, ext } of CASES) {
  fuzz(`${format} (seed ${seed}): every record counted and each reject placed; --threads 1 --data equals --threads 0`, async ({ dir }) => {
    const rnd = mulberry32(rng);
    const units = calmHead(format, mutantUnits(format, rnd, n, seed, false, 0.6), compileRules(loadRules(RULES)), 40);
    const input = joinUnits(rnd, units);
    const path = join(dir, `mutants-${seed}.${ext}`);
    writeFileSync(path, input.bytes);
    let spans = recordSpans(splitLines(input.bytes), format === 'jsonl' ? 'jsonl' : 'csv');
    if (format === 'csv') spans = spans.slice(1);
    const starts = new Set(spans.map((s) => s.line));

    const run = async (threads: number): Promise<{ alerts: string[], rejects: string, summary: number[] }> => {
      const alerts = join(dir, `${format}-${seed}-alerts-${threads}.jsonl`);
      const rejects = join(dir, `${format}-${seed}-rejects-${threads}.jsonl`);
      const data = threads > 0 ? ['--data', join(dir, `${format}-${seed}-data`)] : [];
      const r = await runVigil(['replay', '--rules', RULES, '--format', format, '--input-tz', 'Europe/Berlin', '--threads', String(threads), ...data, '--alerts', alerts, '--rejects', rejects, path]);
      assert.is(r.code, 0, `--threads ${threads} exits 0: ${r.stderr}`);
      const m = /replay: ([\d,]+) records read, ([\d,]+) rejected, ([\d,]+) alerts/.exec(r.stderr);
      assert.ok(m !== null, `a summary: ${r.stderr}`);
      return { alerts: withoutDetectedAt(readFileSync(alerts, 'utf8')), rejects: readFileSync(rejects, 'utf8'), summary: m.slice(1).map((x) => Number(x.replace(/,/g, ''))) };
    };
    const threaded = await run(1);
    const [read, rejected, alerts] = threaded.summary as [number, number, number];
    assert.is(read, spans.length, 'every record of the input is read once');
    const lines = threaded.rejects.split('\n').filter(Boolean);
    assert.is(lines.length, rejected, 'every reject is written');
    const seen = new Set<number>();
    for (const text of lines) {
      const r = JSON.parse(text) as { reason: string, code: string, source: string, line: number, raw: string };
      assert.is(r.source, path);
      assert.ok(starts.has(r.line), `reject at line ${r.line}, where a record starts`);
      assert.not.ok(seen.has(r.line), `one reject for line ${r.line}`);
      seen.add(r.line);
      assertClear({ reason: r.reason, code: r.code, raw: r.raw, position: { source: r.source, line: r.line } } satisfies Reject, `${path}:${r.line}`);
    }
    assert.ok(read - rejected > read / 3, `most records accepted: ${read - rejected} of ${read}`);
    assert.ok(rejected > read / 10, `many rejected: ${rejected} of ${read}`);
    assert.is(threaded.alerts.length, alerts);
    assert.ok(alerts > 20, `alerts raised: ${alerts}`);

    const core = await run(0);
    assert.equal(core.summary, threaded.summary);
    assert.equal(threaded.alerts, core.alerts);
    assert.is(threaded.rejects, core.rejects);
  });
}

fuzz.run();

/**
 * A/B of the core path between two builds, in one process: this checkout's dist/ and another's
 * (`--base DIR`, a checkout built with tsc, e.g. a `git worktree` of the commit before a change).
 * Both replay the same demo traffic (JSON.parse, Ingest.prepare, Engine.advance and process),
 * sample by sample in turn (base, new, base, new, …), beside the ceiling of core.bench.
 *
 * Why: on this shared 2-core VM two runs of core.bench minutes apart differ by 20-40 % (a busy
 * neighbour), far more than most changes. Interleaving samples in one process puts both builds
 * under the same load; the minimum over samples is the figure least disturbed by it (noise only
 * adds time), the median is printed beside it. Both builds must give the same alerts: the line
 * `alerts` says so, and a difference exits 1.
 *
 * Run: git worktree add /tmp/base HEAD~1 && (cd /tmp/base && ln -s "$PWD/node_modules" . && npx tsc -p tsconfig.json)
 *      node --expose-gc dist/bench/ab-core.js --base /tmp/base [--rules examples|spec] [--rounds 7]
 * Needs: nothing but the two builds.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULTS, generateTraffic } from '../examples/dataset.js';
import { intArg, sink, stringArg } from './harness.js';

type Replay = (lines: readonly string[]) => number;

interface Build {
  Engine: typeof import('../core/engine.js').Engine;
  Ingest: typeof import('../core/ingest.js').Ingest;
  loadRules: typeof import('./rules.js').loadRules;
  namedRules: typeof import('./rules.js').namedRules;
}

async function load (root: string): Promise<Build> {
  const at = (path: string): string => pathToFileURL(resolve(root, 'dist', path)).href;
  const { Engine } = await import(at('core/engine.js')) as Pick<Build, 'Engine'>;
  const { Ingest } = await import(at('core/ingest.js')) as Pick<Build, 'Ingest'>;
  const { loadRules, namedRules } = await import(at('bench/rules.js')) as Pick<Build, 'loadRules' | 'namedRules'>;
  return { Engine, Ingest, loadRules, namedRules };
}

/** The core path of one build, from a fresh engine; returns the number of alerts. */
function corePath (build: Build, rules: string): Replay {
  const compiled = build.loadRules(build.namedRules(rules));
  return (lines) => {
    const ingest = new build.Ingest(compiled);
    const engine = new build.Engine(compiled, () => 0);
    const out: Parameters<InstanceType<Build['Engine']>['process']>[2] = [];
    for (let i = 0; i < lines.length; i++) {
      let raw: unknown;
      try { raw = JSON.parse(lines[i]!); } catch { continue; }
      const p = ingest.prepare(raw, { source: 'ab', line: i + 1 });
      if (!p.ok) continue;
      engine.advance(ingest.watermark);
      engine.process(p.record, undefined, out);
    }
    return out.length;
  };
}

/** core.bench's ceiling: decode, and an integer id per account. */
const ceiling: Replay = (lines) => {
  const ids = new Map<string, number>();
  let sum = 0;
  for (const line of lines) {
    let raw: { account?: unknown } | undefined;
    try { raw = JSON.parse(line) as { account?: unknown }; } catch { continue; }
    const account = raw.account;
    if (typeof account !== 'string') continue;
    let id = ids.get(account);
    if (id === undefined) { id = ids.size; ids.set(account, id); }
    sum += id;
  }
  return sum;
};

const baseDir = stringArg('base', '');
if (baseDir === '') {
  process.stderr.write('usage: ab-core.js --base DIR [--rules examples|spec] [--rounds N]\n');
  process.exit(2);
}
const rules = stringArg('rules', 'examples');
const rounds = intArg('rounds', 7);
const lines = generateTraffic(DEFAULTS).lines;
const here = resolve(new URL('../..', import.meta.url).pathname);
const cases: Array<{ name: string, run: Replay, us: number[], result: number }> = [
  { name: `base (${baseDir})`, run: corePath(await load(baseDir), rules), us: [], result: 0 },
  { name: 'new (this checkout)', run: corePath(await load(here), rules), us: [], result: 0 },
  { name: 'ceiling', run: ceiling, us: [], result: 0 },
];
const gc = (globalThis as { gc?: () => void }).gc;
for (const c of cases) c.result = c.run(lines.slice(0, Math.ceil(lines.length / 6))); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    gc?.();
    const t0 = performance.now();
    c.result = c.run(lines);
    c.us.push((performance.now() - t0) * 1000 / lines.length);
  }
}
const median = (a: readonly number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const [base, next, ceil] = cases as [typeof cases[0], typeof cases[0], typeof cases[0]];
console.table(cases.map((c) => ({ case: c.name, 'min us/rec': +Math.min(...c.us).toFixed(3), 'median us/rec': +median(c.us).toFixed(3), 'vs ceiling (min)': `${(Math.min(...ceil.us) / Math.min(...c.us) * 100).toFixed(1)} %` })));
console.log(`new / base: ${(Math.min(...next.us) / Math.min(...base.us)).toFixed(3)} (min), ${(median(next.us) / median(base.us)).toFixed(3)} (median); ${lines.length} records, --rules ${rules}, ${rounds} rounds`);
console.log(`alerts: base ${base.result}, new ${next.result}${base.result === next.result ? '' : ': DIFFERENT'}`);
sink.value += ceil.result;
if (base.result !== next.result) process.exitCode = 1;

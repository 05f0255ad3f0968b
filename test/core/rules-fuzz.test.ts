// Fuzz test of the rules parser: seeded mutants of real rules files (lines lost, moved or
// re-indented, values of every wrong type, files cut short, anchors, aliases, merge keys, tags,
// tabs, duplicate keys, BOM, CRLF, deep nesting, alias bombs, and the same on the parsed tree,
// so that valid YAML with wrong shapes reaches the readers) must each either parse and compile,
// or be refused with an InvalidRulesError whose every diagnostic has a position in its file and
// a message on one line; never another exception, never a hang. The mutants run in a worker
// with a watchdog (helpers/fuzz.ts); a failure names the seed file, the mutant and its steps.
// Look at one with FUZZ_ONLY=<file>:<index>; FUZZ_MUTANTS=<n> (per seed file) and FUZZ_SEED
// run others.
// Run: npx tsc -p tsconfig.json && node dist/test/core/rules-fuzz.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { parseDocument } from 'yaml';
import { parseRules, type RulesSource } from '../../core/rules-parse.js';
import { compileRules } from '../../core/compile.js';
import { InvalidRulesError, formatDiagnostic } from '../../core/errors.js';
import { crashOf, diagnosticProblems, fuzzSeeds, onlyFromEnv, runWatched, summarize, type Seed, type Verdict } from '../helpers/fuzz.js';

/** Compiled tests run from dist/test/core; the files stay in the source tree. */
const ROOT = new URL('../../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, ROOT), 'utf8');

const BASE_SEED = Number(process.env.FUZZ_SEED ?? 20261121);
const SCALE = process.env.FUZZ_MUTANTS === undefined ? undefined : Number(process.env.FUZZ_MUTANTS);
/** The README's examples of new(F), risk scores and shadow rules, which no file in the repository has. */
const README_RISK = `version: 1
risk: { half_life: 12h }
rules:
  - { id: new-origin-country, by: account, measure: new(country), window: day, history: 30d, limit: 0, score: 20 }
  - { id: new-device, by: subscription, measure: new(attrs.imei), window: hour, history: 90d, limit: 0, score: 10 }
  - { id: destination-burst, by: caller, measure: new(country), window: { sliding: 1h }, history: 30d, limit: 3 }
  - { id: night-calls, measure: count, window: hour, where: { hours: "00:00-05:00" }, limit: 5, score: 20 }
  - { id: spend-jump, measure: sum(cost), window: day, adaptive: { over: 7, factor: 3, min: 20 }, score: 40 }
  - { id: risky-account, measure: risk, limit: 60, severity: critical, action: block }
  - { id: trial-concurrent, by: [account, prefix(called, 4)], measure: concurrent, window: day, limit: 10, enabled: shadow }
`;

/** A rules file written as JSON, as the parser reads it. */
function asJson (path: string): string {
  return JSON.stringify(parseDocument(read(path)).toJS(), null, 2) + '\n';
}

/**
 * Mutants per file, some 4 s in all on a busy 2-core machine: a mutant of the 17 kB demo rules
 * takes some 15 ms (YAML parsing is most of it), one of the small files 2 to 3 ms. Each has one
 * to four steps; FUZZ_MUTANTS=1500 (9,000 mutants, a minute) passed with several seeds.
 */
const SEEDS: readonly Seed[] = [
  ['examples/rules.yaml', 60],
  ['bench/spec-rules.yaml', 160],
  ['test/fixtures/rules/spec-example.yaml', 160],
  ['test/fixtures/reload-rules.yaml', 160],
  ['test/fixtures/replay-rules.yaml', 160],
  ['README.md (risk scores)', 200],
  // rules.md: "YAML, or the same structure as JSON". JSON slips differ (a trailing comma, a
  // missing quote); named beside the YAML file, so that its list file is found.
  ['test/fixtures/rules/spec-example.json', 120],
].map(([name, mutants]) => ({
  name: name as string,
  text: name === 'README.md (risk scores)' ? README_RISK : name === 'test/fixtures/rules/spec-example.json' ? asJson('test/fixtures/rules/spec-example.yaml') : read(name as string),
  mutants: SCALE ?? (mutants as number),
}));
/** The files the seeds refer to (lists, limits), by their path from the repository root. */
const SIDE = new Map(['examples/irsf-ranges.txt', 'examples/credit-limits.csv', 'test/fixtures/rules/irsf-ranges.txt'].map((p) => [p, read(p)]));

/** Reads the side files by their path relative to `file`; any other name fails as fs does. */
function sourceFor (file: string): RulesSource {
  return {
    readFile (path) {
      const text = SIDE.get(posix.join(posix.dirname(file), path));
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      return text;
    },
  };
}

/** The seeds' channel secret, and the messages about channel settings that hold secrets. */
const SECRET = 'change-me';
const SECRET_SETTING = /^(?:channels\.[^ ]+\.(?:secret|auth|url|smtp) |unknown key .* in channel )/;

/** Parses and compiles `text` as the rules file `seed.name`. */
function judge (text: string, seed: Seed): Verdict {
  const files = new Map([...SIDE, [seed.name, text]]);
  const refusal = (err: unknown): string[] => {
    if (!(err instanceof InvalidRulesError)) return [crashOf(err)];
    // A limits file's problems name it beside the rules file (examples/credit-limits.csv).
    const problems = diagnosticProblems(err.diagnostics.map((d) => ({ ...d, file: posix.normalize(d.file) })), files);
    for (const d of err.diagnostics) if (SECRET_SETTING.test(d.message) && d.message.includes(SECRET)) problems.push(`shows a secret: ${d.message}`);
    return problems;
  };
  let config;
  try {
    config = parseRules(text, seed.name, sourceFor(seed.name));
  } catch (err) {
    return { problems: refusal(err), accepted: false };
  }
  try {
    compileRules(config);
  } catch (err) {
    // The compiler's own checks (adaptive over a sliding window, a risk rule's by) refuse at the rule.
    return { problems: refusal(err), accepted: false };
  }
  return { problems: [], accepted: true };
}

if (!isMainThread) {
  const data = workerData as { progress: Int32Array, only?: { seed: number, index: number } };
  parentPort?.postMessage(fuzzSeeds(SEEDS, BASE_SEED, judge, data.progress, data.only));
} else {
  const test = suite('core/rules-fuzz: mutants of real rules files parse, or get a clear diagnostic; never a crash');

  test('the seed files are valid rules that compile', () => {
    for (const seed of SEEDS) assert.equal(judge(seed.text, seed), { problems: [], accepted: true }, seed.name);
  });

  const total = SEEDS.reduce((n, s) => n + s.mutants, 0);
  test(`${total} seeded mutants of ${SEEDS.length} rules files (seed ${BASE_SEED})`, async () => {
    const only = onlyFromEnv(SEEDS);
    // A minute is ten times what the run takes; FUZZ_MUTANTS runs get as much a mutant.
    const report = await runWatched(new URL(import.meta.url), only === undefined ? {} : { only }, Math.max(60_000, total * 50),
      (seed, index) => `${SEEDS[seed]?.name ?? '?'} mutant ${index} (FUZZ_ONLY=${SEEDS[seed]?.name ?? '?'}:${index})`);
    assert.ok(report.failures.length === 0, summarize(report, `seed ${BASE_SEED}; look at one with FUZZ_ONLY=<file>:<index>`));
    if (only !== undefined) return;
    assert.is(report.mutants, total);
    // The mutants must reach both sides: some still valid, most refused.
    assert.ok(report.accepted > total * 0.05, `only ${report.accepted} of ${total} mutants parsed`);
    assert.ok(report.refused > total * 0.5, `only ${report.refused} of ${total} mutants were refused`);
  });

  test('an alias bomb (billion laughs) is refused at once, never expanded', () => {
    // Ten aliases a level, nine levels: 10^9 strings if anything resolved them. The parsers
    // walk the tree of nodes and never resolve an alias (the yaml package's maxAliasCount
    // guards toJS(), which they do not call), so this is as quick as any small file.
    const bomb = ['version: 1', 'lists:', '  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let k = 1; k < 10; k++) bomb.push(`  l${k}: &l${k} [${Array.from({ length: 10 }, () => `*l${k - 1}`).join(', ')}]`);
    bomb.push('rules:', '  - { id: a, measure: count, window: day, limit: 1, where: { caller: *l9 } }');
    const started = performance.now();
    let lines: string[] = [];
    try {
      parseRules(bomb.join('\n') + '\n', 'bomb.yaml', sourceFor('bomb.yaml'));
    } catch (err) {
      assert.instance(err, InvalidRulesError);
      lines = (err as InvalidRulesError).diagnostics.map(formatDiagnostic);
    }
    assert.ok(performance.now() - started < 1_000, `took ${Math.round(performance.now() - started)} ms`);
    assert.is(lines.length, 91);
    assert.is(lines[0], 'bomb.yaml:4:12 aliases (*l0) are not supported in rules files; write the value out');
    assert.is(lines[90], 'bomb.yaml:14:70 aliases (*l9) are not supported in rules files; write the value out');
  });

  test.run();
}

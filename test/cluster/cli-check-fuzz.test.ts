// `vigil check` as a real process on seeded mutants of real rules files (the mutations of
// core/rules-fuzz.test.ts): a refused file exits 2 and prints exactly the parser's diagnostics
// on stderr, one `FILE:LINE:COL message` a line, nothing on stdout and no stack; a file still
// valid exits 0. The process has the main thread's stack, where deep nesting must be refused too.
// Run: npx tsc -p tsconfig.json && node dist/test/cluster/cli-check-fuzz.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRules } from '../../core/rules-parse.js';
import { compileRules } from '../../core/compile.js';
import { InvalidRulesError, formatDiagnostic } from '../../core/errors.js';
import { runVigil } from '../helpers/cli.js';
import { mulberry32 } from '../helpers/prng.js';
import { donors, mutate, mutantSeed, type Mutant } from '../helpers/mutate.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const ROOT = new URL('../../../', import.meta.url);
const SEED = 'examples/rules.yaml';
const SIDE = ['irsf-ranges.txt', 'credit-limits.csv'];
const BASE_SEED = 20261121;

/** What `vigil check` must print for `text` as `file`: 'ok', or the lines of its diagnostics. */
function expectedFor (text: string, file: string, dir: string): 'ok' | string[] {
  try {
    compileRules(parseRules(text, file, { readFile: (path) => readFileSync(join(dir, path), 'utf8') }));
    return 'ok';
  } catch (err) {
    if (!(err instanceof InvalidRulesError)) throw err;
    return err.diagnostics.map(formatDiagnostic);
  }
}

/**
 * The first mutants of the demo rules of each kind, as the parser takes them in this process:
 * refused for their YAML, refused by the readers, still valid (and refused by the compiler,
 * when one comes up before those).
 * `dir` holds the rules file's list and limits files, so paths resolve as for the real file.
 */
function pickMutants (dir: string): Array<{ name: string, mutant: Mutant }> {
  const text = readFileSync(new URL(SEED, ROOT), 'utf8');
  const pool = donors([text]);
  const kinds = new Map<string, { name: string, mutant: Mutant }>();
  const wanted = ['a YAML error', 'refused by the readers', 'still valid'];
  for (let index = 0; !wanted.every((k) => kinds.has(k)) && index < 200; index++) {
    const mutant = mutate(text, mulberry32(mutantSeed(BASE_SEED, 0, index)), pool);
    const expected = expectedFor(mutant.text, join(dir, 'rules.yaml'), dir);
    const first = expected === 'ok' ? '' : expected[0] ?? '';
    const kind = expected === 'ok'
      ? 'still valid'
      : / invalid YAML: /.test(first) ? 'a YAML error' : /^\S+ rule "/.test(first) ? 'refused by the compiler' : 'refused by the readers';
    if (!kinds.has(kind)) kinds.set(kind, { name: `${kind} (mutant ${index}: ${mutant.steps.join('; ')})`, mutant });
  }
  return [...kinds.values()];
}

interface Ctx { dir: string }
const test = suite<Ctx>('cluster/cli-check-fuzz: vigil check on mutants of the demo rules', { dir: '' });

test.before((ctx) => {
  ctx.dir = tempDir();
  for (const name of SIDE) copyFileSync(new URL(`examples/${name}`, ROOT), join(ctx.dir, name));
});
test.after((ctx) => { removeDir(ctx.dir); });

test('a refused mutant exits 2 with its diagnostics as FILE:LINE:COL lines; a valid one exits 0', async ({ dir }) => {
  const cases = pickMutants(dir).map((c, i) => ({ ...c, file: join(dir, `rules-${i}.yaml`) }));
  assert.ok(cases.length >= 3, `only ${cases.map((c) => c.name).join(', ')}`);
  for (const c of cases) writeFileSync(c.file, c.mutant.text);
  const results = await Promise.all(cases.map(async (c) => await runVigil(['check', '--rules', c.file])));
  for (const [i, c] of cases.entries()) {
    const r = results[i]!;
    const want = expectedFor(c.mutant.text, c.file, dir);
    if (want === 'ok') {
      assert.is(r.code, 0, `${c.name}\n${r.stderr}`);
      assert.match(r.stdout, `${c.file}: ok, `);
      continue;
    }
    assert.is(r.code, 2, `${c.name}\n${r.stderr}`);
    assert.is(r.stdout, '', c.name);
    assert.equal(r.stderr.split('\n').slice(0, -1), want, c.name);
    for (const line of want) assert.ok(line.startsWith(`${c.file}:`) && /^\S+:\d+:\d+ \S/.test(line), line);
  }
});

test('collections nested thousands deep are refused on the main thread\'s stack, not a crash', async ({ dir }) => {
  const file = join(dir, 'deep.yaml');
  writeFileSync(file, `version: 1\nrules:\n  - { id: a, measure: count, window: day, limit: 1, where: ${'{ not: '.repeat(3000)}{ service: voice }${' }'.repeat(3000)} }\n`);
  const r = await runVigil(['check', '--rules', file]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+ invalid YAML: lists or maps nested too deeply to read \\(Maximum call stack size exceeded\\)\n$`));
});

test.run();

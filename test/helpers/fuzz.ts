// The loop of the parser fuzz tests (seeded mutants of seed files, each judged), what they hold
// every refusal to (diagnostics that say what and where), and a watchdog: the mutants run in a
// worker thread, so a parser that hangs on one fails the test naming that mutant instead of
// hanging the suite.
import { Worker } from 'node:worker_threads';
import type { Diagnostic } from '../../core/errors.js';
import { mulberry32 } from './prng.js';
import { donors, mutate, mutantSeed } from './mutate.js';

/** One mutant that broke the promise, with what is needed to rebuild it. */
export interface FuzzFailure {
  readonly seed: string;
  readonly index: number;
  readonly steps: readonly string[];
  readonly problem: string;
}

export interface FuzzReport {
  readonly mutants: number;
  /** mutants that parsed (and compiled), mutants refused with diagnostics */
  readonly accepted: number;
  readonly refused: number;
  readonly failures: readonly FuzzFailure[];
}

/** Controls, no-break and zero-width spaces, direction marks, BOM, lone surrogates. */
// eslint-disable-next-line no-control-regex
const UNSEEN = /[\u0000-\u001f\u007f-\u00a0\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Text left out of a quoted value, so that `got "undefined"` is not taken for a bug. */
function unquoted (message: string): string {
  return message.replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

/**
 * What is wrong with `diagnostics` as a refusal of `files` (name -> text: the file read and the
 * files it refers to): none at all, a position outside its file, an empty message, a message
 * of several lines (the CLI prints one problem a line), one with a character a terminal does
 * not show (a key with a no-break space would read as a key it is not) or one that shows a value of ours
 * (`undefined`, `[object Object]`, `NaN`, unless the file has it) instead of what the file says.
 */
export function diagnosticProblems (diagnostics: readonly Diagnostic[], files: ReadonlyMap<string, string>): string[] {
  if (diagnostics.length === 0) return ['refused without a diagnostic'];
  const out: string[] = [];
  for (const d of diagnostics) {
    const shown = `${d.file}:${d.line}:${d.col} ${d.message}`;
    const text = files.get(d.file);
    if (text === undefined) { out.push(`names a file it did not read: ${shown}`); continue; }
    const lines = text.split('\n');
    if (!Number.isInteger(d.line) || d.line < 1 || d.line > lines.length + 1) out.push(`line outside the file (${lines.length} lines): ${shown}`);
    else if (!Number.isInteger(d.col) || d.col < 1 || d.col > (lines[d.line - 1] ?? '').length + 1) out.push(`column outside line ${d.line}: ${shown}`);
    if (typeof d.message !== 'string' || d.message.trim() === '') out.push(`empty message: ${shown}`);
    else if (/[\n\r]/.test(d.message)) out.push(`message of several lines: ${JSON.stringify(d.message.slice(0, 200))}`);
    else if (UNSEEN.test(d.message)) out.push(`message with a character a terminal does not show: ${JSON.stringify(shown.slice(0, 200))}`);
    else if ((unquoted(d.message).match(/\bundefined\b|\[object |\bNaN\b/g) ?? []).some((word) => !text.includes(word))) out.push(`unclear message: ${shown.slice(0, 300)}`);
  }
  return out;
}

/** An error that is not the parser's refusal: its name, message and the top of its stack. */
export function crashOf (err: unknown): string {
  if (err instanceof Error) return `crash: ${err.name}: ${err.message.slice(0, 200)}\n${(err.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return `crash: threw ${String(err)}`;
}

/** A valid file to mutate, and how many mutants of it to try. */
export interface Seed { readonly name: string, readonly text: string, readonly mutants: number }

/** How the parser took one text: what is wrong with that ([] when nothing), and whether it accepted it. */
export interface Verdict { readonly problems: string[], readonly accepted: boolean }

/** One mutant of one seed, past this long, is a failure too (a machine shared with other work is slow). */
const SLOW_MS = 1_500;
const MAX_FAILURES = 200;

/**
 * Judges every mutant of every seed, keeping `progress` at [seed, mutant] for the watchdog.
 * `only` runs one mutant and prints it with its verdict, to look at a failure.
 */
export function fuzzSeeds (seeds: readonly Seed[], base: number, judge: (text: string, seed: Seed) => Verdict, progress: Int32Array, only?: { seed: number, index: number }): FuzzReport {
  const pool = donors(seeds.map((s) => s.text));
  const failures: FuzzFailure[] = [];
  let mutants = 0;
  let accepted = 0;
  for (const [i, seed] of seeds.entries()) {
    for (let index = 0; index < seed.mutants; index++) {
      if (only !== undefined && (only.seed !== i || only.index !== index)) continue;
      Atomics.store(progress, 0, i);
      Atomics.store(progress, 1, index);
      const mutant = mutate(seed.text, mulberry32(mutantSeed(base, i, index)), pool);
      const started = performance.now();
      const verdict = judge(mutant.text, seed);
      const ms = performance.now() - started;
      const problems = ms > SLOW_MS ? [...verdict.problems, `slow: ${Math.round(ms)} ms for ${mutant.text.length} characters`] : verdict.problems;
      mutants++;
      if (verdict.accepted) accepted++;
      // One entry a mutant: a misplaced syntax error would repeat at every token after it.
      if (problems.length > 0 && failures.length < MAX_FAILURES) failures.push({ seed: seed.name, index, steps: mutant.steps, problem: problems[0] as string });
      if (only !== undefined) {
        process.stderr.write(`${mutant.steps.join('\n')}\n-----\n${mutant.text}\n-----\n${problems.join('\n') || (verdict.accepted ? 'accepted' : 'refused well')}\n`);
      }
    }
  }
  return { mutants, accepted, refused: mutants - accepted, failures };
}

/** FUZZ_ONLY=<seed name>:<index> as the seed's position and the index. */
export function onlyFromEnv (seeds: readonly Seed[]): { seed: number, index: number } | undefined {
  const m = /^(.+):(\d+)$/.exec(process.env.FUZZ_ONLY ?? '');
  if (m === null) return undefined;
  const seed = seeds.findIndex((s) => s.name === m[1]);
  return seed < 0 ? undefined : { seed, index: Number(m[2]) };
}

/**
 * Runs `module` (a test file, which fuzzes when it is not the main thread) in a worker with
 * `data` and a progress cell, and resolves with what it posts. Past `timeoutMs` the worker is
 * stopped and the promise rejects, naming the mutant it was on.
 */
export async function runWatched (module: URL, data: Record<string, unknown>, timeoutMs: number, describe: (seed: number, index: number) => string): Promise<FuzzReport> {
  // The worker gets the main thread's stack size (V8's default, about 1 MB; a worker's is 4 MB):
  // a parser that overflows it on deep nesting must fail here as it would in `vigil check`.
  const progress = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(module, { workerData: { ...data, progress }, resourceLimits: { stackSizeMb: 1 } });
  return await new Promise<FuzzReport>((resolve, reject) => {
    const timer = setTimeout(() => {
      const seed = Atomics.load(progress, 0);
      const index = Atomics.load(progress, 1);
      // `finally` below stops the worker.
      reject(new Error(`the parser did not finish within ${timeoutMs} ms; it was on ${describe(seed, index)}`));
    }, timeoutMs);
    worker.once('message', (report: FuzzReport) => { clearTimeout(timer); resolve(report); });
    worker.once('error', (err) => { clearTimeout(timer); reject(err); });
    worker.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the fuzz worker exited (${code}) without a report`)); });
  }).finally(async () => { await worker.terminate(); });
}

/** The failures, grouped by problem (first line) so one bug is one entry, for the assertion message. */
export function summarize (report: FuzzReport, rebuild: string): string {
  const groups = new Map<string, FuzzFailure[]>();
  for (const f of report.failures) {
    // One bug is one entry: the kind of problem and its message without what varies (values, positions).
    const key = unquoted(f.problem.split('\n')[0] ?? '').replace(/\d+/g, 'N').replace(/^(crash: [^:]+: .{0,60}).*$/, '$1');
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [f]); else list.push(f);
  }
  const parts = [...groups.values()].map((list) => {
    const f = list[0] as FuzzFailure;
    return `${list.length}× ${f.problem}\n  e.g. ${f.seed} mutant ${f.index}: ${f.steps.join('; ')}`;
  });
  return `${report.failures.length} of ${report.mutants} mutants broke the promise (${rebuild}):\n${parts.join('\n')}`;
}

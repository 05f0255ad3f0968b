// Runs every compiled uvu suite under dist/test (optionally filtered by a regex on the path
// relative to dist/test) and fails when any suite ran fewer tests than it declared: uvu exits 0
// when a `before` hook throws, printing only "(0 / N)". Ends with a plain `N passed, N failed`.
// Usage: node dist/test/run.js ["^core/"]
import { readdirSync, statSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';

const root = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] !== undefined ? new RegExp(process.argv[2]) : undefined;

function listTests (dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listTests(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

interface FileResult { file: string, passed: number, total: number, skipped: number, code: number | null, signal: NodeJS.Signals | null, ms: number }

function runFile (file: string): Promise<FileResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); process.stdout.write(d); });
    child.stderr.on('data', (d: Buffer) => { process.stderr.write(d); });
    // A hung suite (an open handle) must not hang CI: 10 minutes per file at most.
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, 600_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
      resolve({ file: relative(root, file), passed, total, skipped, code, signal, ms: Date.now() - started });
    });
  });
}

const files = listTests(root).filter((f) => filter === undefined || filter.test(relative(root, f)));
let passed = 0; let failed = 0; let skipped = 0;
const bad: string[] = [];
for (const file of files) {
  const r = await runFile(file);
  passed += r.passed; skipped += r.skipped;
  const missing = r.total - r.passed - r.skipped;
  if (r.code !== 0 || missing > 0 || r.total === 0) {
    failed += Math.max(missing, 1);
    bad.push(`${r.file}: exit ${r.code === null ? `by ${String(r.signal)}` : String(r.code)}, ${r.passed}/${r.total} passed`);
  }
  process.stdout.write(`# ${r.file}: ${r.passed}/${r.total} in ${r.ms} ms\n`);
}
if (bad.length > 0) process.stdout.write(`\nFailing files:\n  ${bad.join('\n  ')}\n`);
if (files.length === 0) { process.stdout.write('no test files matched\n'); failed += 1; }
// The last line is exactly `N passed, N failed` (what CI reads); skipped tests go on the line before.
process.stdout.write(`\n${skipped} skipped\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;

/**
 * Scores a replay's alerts and rejects against the generator's labels: which expected
 * (rule, key) alerts came, how long after the case's first record, which control keys stayed
 * quiet, which bad lines were rejected, and which alerts hit keys no case explains (false
 * positives, or borderline traffic worth a look).
 *
 *   node dist/examples/generate.js --out examples/traffic.jsonl --labels examples/labels.jsonl
 *   node bin/vigil.js replay --rules examples/rules.yaml --alerts examples/alerts.jsonl \
 *        --rejects examples/rejects.jsonl examples/traffic.jsonl
 *   node dist/examples/score.js --labels examples/labels.jsonl --alerts examples/alerts.jsonl \
 *        [--rejects examples/rejects.jsonl]
 *
 * Exit 0 when every expectation holds, 1 when one does not (so CI can use it).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Label } from './frauds.js';

interface AlertLine { rule: string, key: string, severity: string, ts: string }
interface RejectLine { line?: number, position?: { line?: number }, reason: string }

function jsonLines<T> (file: string): T[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);
}

function minutesAfter (first: string, ts: string): string {
  const m = (Date.parse(ts) - Date.parse(first)) / 60_000;
  return m < 1 ? `${Math.round(m * 60)} s` : `${m.toFixed(1)} min`;
}

function main (): number {
  const { values } = parseArgs({ options: { labels: { type: 'string' }, alerts: { type: 'string' }, rejects: { type: 'string' } } });
  if (values.labels === undefined || values.alerts === undefined) {
    process.stderr.write('usage: score.js --labels FILE --alerts FILE [--rejects FILE]\n');
    return 2;
  }
  const labels = jsonLines<Label>(values.labels);
  const alerts = jsonLines<AlertLine>(values.alerts);
  let failures = 0;
  const explained = new Set<string>();
  const accounts: string[] = [];

  for (const l of labels.filter((x) => x.kind !== 'reject')) {
    if (l.account !== undefined) { explained.add(l.account); accounts.push(l.account); }
    if (l.key !== undefined) explained.add(l.key);
    console.log(`${l.kind} ${l.fraud} (${l.description}), first record ${l.firstTs}`);
    for (const e of l.expect) {
      explained.add(e.key);
      const hits = alerts.filter((a) => a.rule === e.rule && a.key === e.key);
      const first = hits.map((a) => a.ts).sort()[0];
      const ok = l.kind === 'control' ? hits.length === 0 : first !== undefined;
      if (!ok) failures++;
      const detail = first === undefined ? 'no alert' : `${hits.length} alert(s), first ${minutesAfter(l.firstTs, first)} after the first record`;
      console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${e.rule} ${e.key}: ${detail}`);
    }
  }

  if (values.rejects !== undefined) {
    const rejected = new Map(jsonLines<RejectLine>(values.rejects).map((r) => [r.line ?? r.position?.line, r.reason]));
    console.log('rejects');
    for (const l of labels.filter((x) => x.kind === 'reject')) {
      const reason = rejected.get(l.line);
      if (reason === undefined) failures++;
      console.log(`  ${reason === undefined ? 'FAIL' : 'ok  '} line ${l.line ?? '?'} (${l.description}): ${reason ?? 'not rejected'}`);
    }
  }

  // Keys of [account, country] counters start with the account.
  const other = alerts.filter((a) => !explained.has(a.key) && !accounts.some((acct) => a.key.startsWith(`${acct}|`)));
  console.log(`${alerts.length} alerts, ${alerts.length - other.length} on labelled cases, ${other.length} on keys no case explains`);
  for (const a of other) console.log(`  ? ${a.rule} ${a.key} ${a.severity} at ${a.ts}`);
  console.log(failures === 0 ? 'every expectation holds' : `${failures} expectation(s) failed`);
  return failures === 0 ? 0 : 1;
}

process.exitCode = main();

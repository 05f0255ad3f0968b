/**
 * `vigil backtest`: replays the same recorded CDRs through two rule sets (the candidate and
 * the baseline running today), each in the single-threaded core (replay() with `threads: 0`),
 * and reports per rule the alerts each raises, what the change adds and removes, and the
 * keys affected.
 *
 * Alerts are matched by id. An id is derived from rule, key, window start (for a sliding
 * window or a risk score: the crossing record) and severity, so a calendar rule whose limit
 * moves but still fires in the same window keeps its alert, and only real differences show.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompiledRules } from '../core/compile.js';
import type { Alert } from '../core/alert.js';
import { InputDamagedError } from '../core/errors.js';
import { replay, type InputFormat } from './replay.js';

export interface BacktestOptions {
  readonly candidate: CompiledRules;
  readonly baseline: CompiledRules;
  readonly inputs: readonly string[];
  readonly format?: InputFormat | undefined;
  readonly inputZone?: string | undefined;
}

/** One alert of the diff, with what an analyst needs to find it. */
export interface AlertRef {
  readonly id: string;
  readonly rule: string;
  readonly severity: Alert['severity'];
  readonly key: string;
  readonly record: string;
  readonly ts: string;
  readonly value: number;
  readonly limit: number;
}

export interface RuleDiff {
  readonly rule: string;
  /** in both files, only in the candidate (`added`), or only in the baseline (`removed`) */
  readonly status: 'both' | 'added' | 'removed';
  readonly shadow: boolean;
  readonly baseline: number;
  readonly candidate: number;
  readonly added: number;
  readonly removed: number;
  /** keys with an alert added or removed, sorted */
  readonly keys: readonly string[];
}

export interface BacktestReport {
  readonly records: number;
  readonly rejected: number;
  readonly baseline: number;
  readonly candidate: number;
  readonly rules: readonly RuleDiff[];
  readonly added: readonly AlertRef[];
  readonly removed: readonly AlertRef[];
}

function refOf (a: Alert): AlertRef {
  return { id: a.id, rule: a.rule, severity: a.severity, key: a.key, record: a.record, ts: a.ts, value: a.value, limit: a.limit };
}

async function alertsOf (compiled: CompiledRules, opts: BacktestOptions, dir: string, name: string): Promise<{ alerts: Alert[], read: number, rejected: number }> {
  const file = join(dir, `${name}.jsonl`);
  let summary;
  try {
    summary = await replay({ compiled, inputs: opts.inputs, format: opts.format, inputZone: opts.inputZone, alerts: file, threads: 0 });
  } catch (err) {
    // A diff over part of the history would pass for one over all of it.
    if (!(err instanceof InputDamagedError)) throw err;
    throw new InputDamagedError(err.source, err.line, err.reason, 'backtest compares the rule sets over every INPUT whole: no report was made', { cause: err.cause });
  }
  const alerts = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Alert);
  return { alerts, read: summary.read, rejected: summary.rejected };
}

export async function backtest (opts: BacktestOptions): Promise<BacktestReport> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-backtest-'));
  try {
    const base = await alertsOf(opts.baseline, opts, dir, 'baseline');
    const cand = await alertsOf(opts.candidate, opts, dir, 'candidate');
    const baseIds = new Set(base.alerts.map((a) => a.id));
    const candIds = new Set(cand.alerts.map((a) => a.id));
    const added = cand.alerts.filter((a) => !baseIds.has(a.id));
    const removed = base.alerts.filter((a) => !candIds.has(a.id));

    const baseRules = new Set(opts.baseline.config.rules.filter((r) => r.enabled).map((r) => r.id));
    const candRules = new Map(opts.candidate.config.rules.filter((r) => r.enabled).map((r) => [r.id, r]));
    // Candidate rules in file order, then the rules the change drops.
    const order = [...candRules.keys(), ...[...baseRules].filter((id) => !candRules.has(id))];
    const count = (list: readonly Alert[], rule: string): number => list.filter((a) => a.rule === rule).length;
    const rules: RuleDiff[] = order.map((rule) => {
      const keys = new Set([...added, ...removed].filter((a) => a.rule === rule).map((a) => a.key));
      return {
        rule,
        status: !baseRules.has(rule) ? 'added' : !candRules.has(rule) ? 'removed' : 'both',
        shadow: candRules.get(rule)?.shadow === true,
        baseline: count(base.alerts, rule),
        candidate: count(cand.alerts, rule),
        added: count(added, rule),
        removed: count(removed, rule),
        keys: [...keys].sort(),
      };
    });
    return {
      records: cand.read,
      rejected: cand.rejected,
      baseline: base.alerts.length,
      candidate: cand.alerts.length,
      rules,
      added: added.map(refOf),
      removed: removed.map(refOf),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MAX_KEYS_SHOWN = 5;

/** The report as a fixed-width table, one line a rule, then the totals. */
export function formatBacktest (r: BacktestReport): string {
  const rows = r.rules.map((d) => {
    const more = d.keys.length > MAX_KEYS_SHOWN ? ` (+${d.keys.length - MAX_KEYS_SHOWN} more)` : '';
    const mark = d.status === 'both' ? '' : d.status === 'added' ? ' (new rule)' : ' (dropped rule)';
    return [`${d.rule}${mark}${d.shadow ? ' [shadow]' : ''}`, String(d.baseline), String(d.candidate), `+${d.added}`, `-${d.removed}`, d.keys.slice(0, MAX_KEYS_SHOWN).join(', ') + more];
  });
  const head = ['rule', 'baseline', 'candidate', 'added', 'removed', 'keys affected'];
  const all = [head, ...rows, ['total', String(r.baseline), String(r.candidate), `+${r.added.length}`, `-${r.removed.length}`, '']];
  const widths = head.map((_h, i) => Math.max(...all.map((row) => row[i]!.length)));
  const lines = all.map((row) => row.map((cell, i) => i === 0 || i === row.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  lines.push('', `${r.records} records replayed (${r.rejected} rejected) through both rule sets`);
  return lines.join('\n') + '\n';
}

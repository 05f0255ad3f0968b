/**
 * What a rules reload does to the data folder. Counter state survives a reload when its
 * counter is unchanged: the same `by` (and the same shard placement), measure, window and
 * `where` (and, for calendar windows, the same time zone), where a `$name` list counts by its
 * name: new entries in a named list keep the counters that filter on it. Such a counter may move to another
 * keyer index or slot in the new rules; its rows are rewritten there. Every other counter's
 * state is dropped, and the new counter starts empty.
 *
 * Within a kept counter, the state of each rule (which thresholds already fired in the open
 * window, the limit fixed when the window opened) follows the rule by id. A rule that is new
 * to the counter, or whose severity changed, starts unfired; a rule whose `limit`, `limits`
 * or `adaptive` changed gets its limit computed again from the kept windows, as the engine
 * would have when the window opened.
 *
 * The new rules file reaches the disk in two steps around the LMDB commit (pending file, then
 * rename), so a crash at any moment leaves a folder and a rules file that agree, or a pending
 * file that the next start completes (recoverPendingRules).
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { CompiledCounter, CompiledRule, CompiledRules } from '../core/compile.js';
import { compileRules, rulesFingerprint } from '../core/compile.js';
import type { RulesConfig } from '../core/rules-config.js';
import { parseRules } from '../core/rules-parse.js';
import { listNameOf } from '../core/rules-filter.js';
import type { CalendarCell, Cell } from '../core/engine.js';
import { windowValue, type CalendarWindow, type SlidingState } from '../core/measure.js';
import type { StoredRow } from '../workers/store.js';
import { readUtf8File } from './utf8-text.js';

export interface MigrationPlan {
  /** per old keyer: its new keyer index, or -1 when none of its counters is kept */
  readonly keyerOf: readonly number[];
  /** per old keyer: per counter slot of its new keyer, the old counter kept there, or undefined */
  readonly sources: ReadonlyArray<ReadonlyArray<CompiledCounter | undefined>>;
  /** new counters that keep their state */
  readonly kept: number;
  /** old counters whose state is dropped */
  readonly dropped: number;
}

function keyerSignature (compiled: CompiledRules, k: number): string {
  const keyer = compiled.keyers[k]!;
  return JSON.stringify([keyer.by, keyer.local]);
}

function counterSignature (compiled: CompiledRules, c: CompiledCounter): string {
  // A sliding window is its length, however it was written (10m or 600s); a calendar window
  // depends on the time zone it is aligned in.
  const window = c.window.kind === 'sliding' ? { kind: 'sliding', ms: c.window.ms } : c.window;
  const zone = c.window.kind === 'calendar' ? compiled.config.timezone : null;
  // A list named in `where` counts by its name, not its entries: a hotlist refreshed with new
  // ranges is the same filter, maintained, and its counters keep what they hold (a restart
  // would forget the day's spend and re-raise the day's alerts). Inline lists are the rule's own text.
  return JSON.stringify([c.measure, window, zone, c.rules[0]?.config.where ?? null], (_key, value: unknown) => {
    if (!Array.isArray(value)) return value;
    return listNameOf(value) ?? value;
  });
}

/** Matches the counters of two compiled rule sets. */
export function planMigration (from: CompiledRules, to: CompiledRules): MigrationPlan {
  const newKeyers = new Map(to.keyers.map((_, k) => [keyerSignature(to, k), k]));
  let kept = 0;
  const keyerOf: number[] = [];
  const sources: Array<Array<CompiledCounter | undefined>> = [];
  from.keyers.forEach((oldKeyer, k) => {
    const target = newKeyers.get(keyerSignature(from, k));
    const slots: Array<CompiledCounter | undefined> = [];
    if (target !== undefined) {
      const free = new Map<string, CompiledCounter>();
      for (const c of oldKeyer.counters) {
        const sig = counterSignature(from, c);
        if (!free.has(sig)) free.set(sig, c);
      }
      for (const c of to.keyers[target]!.counters) {
        const sig = counterSignature(to, c);
        const source = free.get(sig);
        free.delete(sig);
        slots.push(source);
        if (source !== undefined) kept++;
      }
    }
    const any = slots.some((s) => s !== undefined);
    keyerOf.push(any ? target! : -1);
    sources.push(any ? slots : []);
  });
  return { keyerOf, sources, kept, dropped: from.counters.length - kept };
}

/** One stored row under the new rules, or undefined when none of its state is kept. */
export function migrateRow (plan: MigrationPlan, to: CompiledRules, stored: StoredRow): StoredRow | undefined {
  const keyer = plan.keyerOf[stored.keyer] ?? -1;
  if (keyer < 0) return undefined;
  const counters = to.keyers[keyer]!.counters;
  const slots = plan.sources[stored.keyer]!;
  const cells = new Array<Cell | undefined>(counters.length);
  let any = false;
  for (const counter of counters) {
    const source = slots[counter.slot];
    const cell = source === undefined ? undefined : stored.row.cells[source.slot];
    if (cell === undefined || source === undefined) continue;
    cells[counter.slot] = migrateCell(cell, source, counter, stored.row.key, to);
    any = true;
  }
  return any ? { shard: stored.shard, keyer, row: { key: stored.row.key, shard: stored.row.shard, cells } } : undefined;
}

/** A rule of the new counter beside the same rule (by id) in the old one, if it was there. */
interface RulePair {
  readonly rule: CompiledRule;
  readonly old: CompiledRule | undefined;
  /** it keeps what it fired: same severity */
  readonly keepsFired: boolean;
  /** same `limit` and `adaptive`: the limit its window opened with stands unless the key's own limit changed */
  readonly sameBase: boolean;
}

/** Per new counter and the old one it is migrated from: worked out once, not per cell (millions). */
const pairsOf = new WeakMap<CompiledCounter, WeakMap<CompiledCounter, readonly RulePair[]>>();
function rulePairs (from: CompiledCounter, to: CompiledCounter): readonly RulePair[] {
  let of = pairsOf.get(to);
  if (of === undefined) pairsOf.set(to, of = new WeakMap());
  let pairs = of.get(from);
  if (pairs === undefined) {
    const previous = new Map(from.rules.map((r) => [r.id, r]));
    pairs = to.rules.map((rule) => {
      const old = previous.get(rule.id);
      return {
        rule,
        old,
        keepsFired: old !== undefined && old.severity === rule.severity,
        sameBase: old !== undefined && old.limit === rule.limit && JSON.stringify(old.adaptive ?? null) === JSON.stringify(rule.adaptive ?? null),
      };
    });
    of.set(from, pairs);
  }
  return pairs;
}

function migrateCell (cell: Cell, from: CompiledCounter, to: CompiledCounter, key: string, compiled: CompiledRules): Cell {
  const pairs = rulePairs(from, to);
  const remap = (state: CalendarWindow | SlidingState, calendar: CalendarCell | undefined, start: number): void => {
    const fired: number[] = [];
    const limits: number[] = [];
    for (const { rule, old, keepsFired, sameBase } of pairs) {
      fired.push(keepsFired ? state.fired[old!.slot] ?? 0 : 0);
      if (!to.varyingLimits) continue;
      // Key by key, not rule by rule: comparing whole `limits` maps for every cell made a
      // reload with a million-key limits_file quadratic (unfinished after 15 minutes on a
      // million keys), and a credit limit changed for one key leaves the others' as they were.
      const cached = sameBase && old!.limits.get(key) === rule.limits.get(key) ? state.limits?.[old!.slot] : undefined;
      limits.push(cached ?? baseLimit(rule, key, calendar, to, start, compiled));
    }
    state.fired = fired;
    state.limits = to.varyingLimits ? limits : undefined;
  };
  if (to.calendar) {
    const c = cell as CalendarCell;
    for (const w of c.windows) remap(w, c, w.start);
  } else {
    remap(cell as SlidingState, undefined, 0);
  }
  return cell;
}

/** A rule's limit for a key before `shape`, for a window starting at `start`: the engine's rule (engine.ts, baseLimit). */
function baseLimit (rule: CompiledRule, key: string, cell: CalendarCell | undefined, counter: CompiledCounter, start: number, compiled: CompiledRules): number {
  const limit = rule.limits.size === 0 ? rule.limit : rule.limits.get(key) ?? rule.limit;
  const adaptive = rule.adaptive;
  if (adaptive === undefined || cell === undefined || counter.window.kind !== 'calendar') return limit ?? Infinity;
  let from = start;
  let sum = 0;
  for (let i = 0; i < adaptive.over; i++) {
    from = compiled.zone.window(counter.window.unit, from - 1).start;
    sum += valueAt(cell, counter, from);
  }
  return Math.max(limit ?? adaptive.min, adaptive.factor * (sum / adaptive.over));
}

function valueAt (cell: CalendarCell, counter: CompiledCounter, start: number): number {
  for (const w of cell.windows) if (w.start === start) return windowValue(counter.measure.kind, w);
  const hist = cell.hist;
  if (hist !== undefined) {
    for (let i = hist.length - 2; i >= 0; i -= 2) if (hist[i] === start) return hist[i + 1]!;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The rules file on disk.

/** Parses rules text as if it were the file `file` (list and limits files next to it). */
export function parseRulesText (text: string, file: string): RulesConfig {
  const base = dirname(resolve(file));
  return parseRules(text, file, { readFile: (path) => readUtf8File(resolve(base, path)) });
}

/** Where a reload keeps the new rules between the LMDB commit and the rename: beside the file, so relative paths agree. */
export function pendingRulesPath (file: string): string {
  return join(dirname(resolve(file)), `.${basename(file)}.pending`);
}

function writeDurably (path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    const bytes = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncFolder (path: string): void {
  try {
    const fd = openSync(path, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch {
    // Some file systems cannot fsync a folder; the rename is still atomic.
  }
}

/** Step 1: the new text beside the rules file, durably. */
export function writePendingRules (file: string, text: string): void {
  writeDurably(pendingRulesPath(file), text);
}

/** Step 2, after the data folder holds the new fingerprint: the pending file replaces the rules file (atomic rename). */
export function commitPendingRules (file: string): void {
  renameSync(pendingRulesPath(file), file);
  syncFolder(dirname(resolve(file)));
}

export function dropPendingRules (file: string): void {
  rmSync(pendingRulesPath(file), { force: true });
}

/**
 * At start: a pending rules file whose fingerprint is the data folder's is a reload that
 * committed its counters but not its rename (the process died in between): finish it.
 * Any other pending file is a reload that never committed: remove it. True when the rules
 * file was replaced.
 */
export function recoverPendingRules (file: string, folderFingerprint: string | undefined): boolean {
  const pending = pendingRulesPath(file);
  if (!existsSync(pending)) return false;
  let matches = false;
  try {
    matches = folderFingerprint !== undefined && rulesFingerprint(compileRules(parseRulesText(readFileSync(pending, 'utf8'), file)).config) === folderFingerprint;
  } catch {
    matches = false;
  }
  if (matches) commitPendingRules(file); else dropPendingRules(file);
  return matches;
}

/**
 * One entry of `rules:` (rules.md, "Rule fields"). Each field is read on its own so that
 * every mistake in a rule is reported; checks that relate fields (a warning below the limit,
 * a ratio limit within 0..1, adaptive with or without a floor) run only when those fields
 * were valid, so one mistake does not cause a second message.
 */
import type { Adaptive, HourShape, KeyPart, RuleConfig, Severity, Shape, Warning, WindowSpec } from './rules-config.js';
import { SEVERITIES } from './rules-config.js';
import { WEEKDAYS } from './usage-record.js';
import { isScalar, isSeq } from 'yaml';
import { didYouMean } from './did-you-mean.js';
import type { Entry } from './rules-yaml.js';
import { got } from './rules-yaml.js';
import type { Scope } from './rules-filter.js';
import { parseFilter } from './rules-filter.js';
import { parseBy, parseMeasure, parseWindow } from './rules-counter.js';
import type { RulesSource } from './rules-text.js';
import { DURATION_TEXT, besideFile, parseDuration, parseLimitsFile, unreadableReason } from './rules-text.js';

export interface RuleScope extends Scope {
  readonly channels: ReadonlyMap<string, unknown>;
  readonly source: RulesSource;
  /** The rules file, for the names of the files it refers to. */
  readonly file: string;
}

export const RULE_KEYS = [
  'id', 'description', 'by', 'measure', 'window', 'where', 'limit', 'limits', 'limits_file', 'warning',
  'severity', 'min_count', 'shape', 'adaptive', 'notify', 'action', 'score', 'history', 'enabled',
] as const;

/** How long `new(F)` remembers a value when the rule gives no `history`. */
export const DEFAULT_HISTORY_MS = 30 * 86_400_000;

const ID = /^[A-Za-z0-9_.-]+$/;
/** Bad lines of a limits file shown before the rest are summed up in one message. */
const MAX_FILE_PROBLEMS = 20;

type Draft = { -readonly [K in keyof RuleConfig]?: RuleConfig[K] };

const nonNegative = (n: number): boolean => n >= 0;
const positive = (n: number): boolean => n > 0;

/**
 * A rule, or undefined when anything in it was reported. `id` is also returned on its own
 * (with its node) when valid, so the caller can check ids are unique even in a broken rule.
 */
export function parseRule (node: unknown, index: number, s: RuleScope): { rule?: RuleConfig, id?: { text: string, node: unknown } } {
  const r = s.r;
  const path = `rules[${index}]`;
  const before = r.d.count;
  const all = r.map(node, path, 'a map of rule fields (id, measure, window, limit, …)');
  if (all === undefined) return {};
  const idEntry = all.find((e) => e.key === 'id');
  let id: string | undefined;
  if (idEntry === undefined) r.d.at(node, `${path}.id is required`);
  else {
    id = r.text(idEntry.value, `${path}.id`, 'a name of letters, digits, "_", "." or "-"');
    if (id !== undefined && !ID.test(id)) {
      r.d.at(idEntry.value, `${path}.id must be a name of letters, digits, "_", "." or "-", got ${got(idEntry.value)}`);
      id = undefined;
    }
  }
  const entries = r.onlyKnown(all, id !== undefined ? `rule "${id}"` : path, RULE_KEYS);
  const get = (key: string): Entry | undefined => entries.find((e) => e.key === key);
  const out: Draft = {
    ...(id !== undefined ? { id } : {}),
    limits: new Map(),
    severity: 'critical',
    minCount: 0,
    enabled: true,
    position: r.d.positionOf(node),
  };

  const description = get('description');
  if (description !== undefined) {
    const text = r.text(description.value, `${path}.description`);
    if (text !== undefined) out.description = text;
  }
  const by = get('by');
  const parts: KeyPart[] | undefined = by === undefined ? [{ kind: 'field', field: 'account' }] : parseBy(by.value, `${path}.by`, r);
  if (parts !== undefined) out.by = parts;
  const measure = required(get('measure'), node, `${path}.measure`, s, (v, at) => parseMeasure(v, at, r, s.groups));
  if (measure !== undefined) out.measure = measure;
  const windowEntry = get('window');
  // A broken `risk(…)` is reported once, as a measure, not a second time as a missing window.
  const measureText = get('measure')?.value;
  const riskLike = measure?.kind === 'risk' || (measure === undefined && isScalar(measureText) && /^\s*risk\b/.test(String(measureText.value)));
  if (riskLike) {
    // The score is one decaying sum per key, not a window of records.
    if (windowEntry !== undefined) r.d.at(windowEntry.keyNode, `${path}.window cannot be given with measure risk: the score decays with risk.half_life`);
    else if (measure !== undefined) out.window = { kind: 'decay' };
  } else {
    const window: WindowSpec | undefined = required(windowEntry, node, `${path}.window`, s, (v, at) => parseWindow(v, at, r));
    if (window !== undefined) out.window = window;
  }
  const history = get('history');
  if (history !== undefined && measure !== undefined && measure.kind !== 'new') {
    r.d.at(history.keyNode, `${path}.history applies only to measure new(FIELD), not to ${measure.kind}`);
  } else if (history !== undefined) {
    const expect = `a positive ${DURATION_TEXT.replace(/^a /, '')}`;
    const text = r.text(history.value, `${path}.history`, expect);
    const ms = text === undefined ? undefined : parseDuration(text);
    if (ms !== undefined && ms > 0) out.history = ms;
    else if (text !== undefined) r.d.at(history.value, `${path}.history must be ${expect}, got ${got(history.value)}`);
  } else if (measure?.kind === 'new') {
    out.history = DEFAULT_HISTORY_MS;
  }
  const where = get('where');
  if (where !== undefined) {
    const filter = parseFilter(where.value, `${path}.where`, s);
    if (filter !== undefined) out.where = filter;
  }
  const severity = get('severity');
  if (severity !== undefined) {
    const value = r.oneOf<Severity>(severity.value, `${path}.severity`, SEVERITIES);
    if (value !== undefined) out.severity = value;
  }
  const minCount = get('min_count');
  if (minCount !== undefined) {
    const n = r.number(minCount.value, `${path}.min_count`, 'an integer >= 0', (x) => Number.isInteger(x) && x >= 0);
    if (n !== undefined) out.minCount = n;
  }
  readLimits(get, node, path, s, out);
  const shape = get('shape');
  if (shape !== undefined) {
    const value = parseShape(shape.value, `${path}.shape`, s);
    if (value !== undefined) out.shape = value;
  }
  const notify = get('notify');
  if (notify !== undefined) {
    const names = parseNotify(notify.value, `${path}.notify`, s);
    if (names !== undefined) out.notify = names;
  }
  const action = get('action');
  if (action !== undefined && r.oneOf(action.value, `${path}.action`, ['block']) !== undefined) out.action = 'block';
  const score = get('score');
  if (score !== undefined) {
    const n = r.number(score.value, `${path}.score`, 'a number');
    if (n !== undefined) out.score = n;
  }
  const enabled = get('enabled');
  if (enabled !== undefined) {
    if (isScalar(enabled.value) && enabled.value.value === 'shadow') {
      out.shadow = true;
    } else if (isScalar(enabled.value) && typeof enabled.value.value === 'boolean') {
      out.enabled = enabled.value.value;
    } else {
      r.d.at(enabled.value, `${path}.enabled must be true, false or shadow, got ${got(enabled.value)}`);
    }
  }
  const idResult = id !== undefined && idEntry !== undefined ? { id: { text: id, node: idEntry.value } } : {};
  return r.d.count === before ? { rule: out as RuleConfig, ...idResult } : idResult;
}

function required<T> (entry: Entry | undefined, ruleNode: unknown, path: string, s: RuleScope, read: (value: unknown, path: string) => T | undefined): T | undefined {
  if (entry === undefined) {
    s.r.d.at(ruleNode, `${path} is required`);
    return undefined;
  }
  return read(entry.value, path);
}

/** limit, limits, limits_file, warning and adaptive: the thresholds, which constrain one another. */
function readLimits (get: (key: string) => Entry | undefined, ruleNode: unknown, path: string, s: RuleScope, out: Draft): void {
  const r = s.r;
  const limitEntry = get('limit');
  const adaptiveEntry = get('adaptive');
  const isRatio = out.measure?.kind === 'ratio';
  let limit: number | undefined;
  if (limitEntry !== undefined) {
    limit = r.number(limitEntry.value, `${path}.limit`, 'a number >= 0', nonNegative);
    if (limit !== undefined && isRatio && limit > 1) {
      r.d.at(limitEntry.value, `${path}.limit must be a share between 0 and 1 for a ratio measure, got ${limit}`);
      limit = undefined;
    }
    if (limit !== undefined) out.limit = limit;
  } else if (adaptiveEntry === undefined) {
    r.d.at(ruleNode, `${path}.limit is required (or adaptive: { over, factor, min })`);
  }

  const limits = new Map<string, number>();
  const limitsEntry = get('limits');
  if (limitsEntry !== undefined) {
    for (const e of r.map(limitsEntry.value, `${path}.limits`, 'a map of key: limit') ?? []) {
      const n = r.number(e.value, `${path}.limits.${e.key}`, 'a number >= 0', nonNegative);
      if (n !== undefined) limits.set(e.key, n);
    }
  }
  const fileEntry = get('limits_file');
  out.limits = fileEntry === undefined ? limits : readLimitsFile(fileEntry, `${path}.limits_file`, s, limits);

  const warningEntry = get('warning');
  if (warningEntry !== undefined) {
    const warning = parseWarning(warningEntry.value, `${path}.warning`, s);
    if (warning?.kind === 'absolute' && limit !== undefined && warning.value >= limit) {
      r.d.at(warningEntry.value, `${path}.warning must be below limit (${limit}), got ${warning.value}`);
    } else if (warning !== undefined && out.severity !== 'critical') {
      r.d.at(warningEntry.value, `${path}.warning needs severity critical (the warning threshold alerts at severity warning, the limit at the rule's severity), got severity "${out.severity as string}"`);
    } else if (warning !== undefined) {
      out.warning = warning;
    }
  }

  if (adaptiveEntry !== undefined) {
    const adaptive = parseAdaptive(adaptiveEntry.value, `${path}.adaptive`, s, limit, limitEntry !== undefined);
    if (adaptive !== undefined) out.adaptive = adaptive;
  }
}

/**
 * `inline` (the rule's `limits`) followed by the limits file's: the order is part of the rules'
 * fingerprint. With no inline limits the file's map is taken as it is, not copied key by key.
 */
function readLimitsFile (entry: Entry, path: string, s: RuleScope, inline: Map<string, number>): Map<string, number> {
  const r = s.r;
  const name = r.text(entry.value, path, 'a file name');
  if (name === undefined) return inline;
  let text: string;
  try {
    text = s.source.readFile(name);
  } catch (err) {
    r.d.at(entry.value, `${path} "${name}" cannot be read: ${unreadableReason(err)}`);
    return inline;
  }
  const file = besideFile(s.file, name);
  const parsed = parseLimitsFile(text);
  const problems = parsed.problems.slice(0, MAX_FILE_PROBLEMS);
  const limits = inline.size === 0 ? parsed.limits : inline;
  if (limits !== parsed.limits) {
    for (const [key, value] of parsed.limits) {
      if (limits.has(key)) problems.push({ line: 0, col: 0, message: `key "${key}" is also given in limits` });
      else limits.set(key, value);
    }
  }
  for (const p of problems) {
    if (p.line === 0) r.d.at(entry.value, `${path} "${name}": ${p.message}`);
    else r.d.external(entry.value, { file, line: p.line, col: p.col, message: p.message });
  }
  const more = parsed.problems.length - MAX_FILE_PROBLEMS;
  if (more > 0) r.d.at(entry.value, `${path} "${name}" has ${more} more bad lines, not shown`);
  return limits;
}

const SHARE = /^(\d+(?:\.\d+)?)\s*%$/;

function parseWarning (node: unknown, path: string, s: RuleScope): Warning | undefined {
  const expect = 'a number >= 0 or a share of the limit such as "80%"';
  if (isScalar(node) && typeof node.value === 'number') {
    const value = s.r.number(node, path, expect, nonNegative);
    return value === undefined ? undefined : { kind: 'absolute', value };
  }
  const m = isScalar(node) && typeof node.value === 'string' ? SHARE.exec(node.value) : null;
  if (m === null) {
    s.r.d.at(node, `${path} must be ${expect}, got ${got(node)}`);
    return undefined;
  }
  const pct = Number(m[1]);
  if (pct <= 0 || pct >= 100) {
    s.r.d.at(node, `${path} must be a share above 0% and below 100%, got ${got(node)}`);
    return undefined;
  }
  return { kind: 'share', value: pct / 100 };
}

const ADAPTIVE_OVER_MAX = 1000;

function parseAdaptive (node: unknown, path: string, s: RuleScope, limit: number | undefined, hasLimit: boolean): Adaptive | undefined {
  const r = s.r;
  const entries = r.knownMap(node, path, path, ['over', 'factor', 'min'], 'a map { over: N, factor: K, min: M }');
  if (entries === undefined) return undefined;
  const field = (key: string, expect: string, ok: (n: number) => boolean): number | undefined => {
    const e = entries.find((x) => x.key === key);
    return e === undefined ? undefined : r.number(e.value, `${path}.${key}`, expect, ok);
  };
  // Each key keeps `over` windows of history: a bound keeps a typo (over: 100000000) from
  // costing seconds a record and the heap; 1000 is years of days, weeks of minutes.
  const over = field('over', `an integer from 1 to ${ADAPTIVE_OVER_MAX} (completed windows each key keeps)`, (n) => Number.isInteger(n) && n >= 1 && n <= ADAPTIVE_OVER_MAX);
  const factor = field('factor', 'a number > 0', positive);
  const min = field('min', 'a number >= 0', nonNegative);
  const minEntry = entries.find((x) => x.key === 'min');
  for (const key of ['over', 'factor']) {
    if (!entries.some((e) => e.key === key)) r.d.at(node, `${path}.${key} is required`);
  }
  if (minEntry !== undefined && hasLimit) {
    r.d.at(minEntry.keyNode, `${path}.min cannot be given with limit: limit is then the floor`);
    return undefined;
  }
  if (over === undefined || factor === undefined) return undefined;
  return { over, factor, min: limit ?? min ?? 0 };
}

const HOUR_RANGE = /^(\d{1,2})\s*-\s*(\d{1,2})$/;

function parseShape (node: unknown, path: string, s: RuleScope): Shape | undefined {
  const r = s.r;
  const entries = r.knownMap(node, path, path, ['weekday', 'hour'], 'a map { weekday: {...}, hour: {...} }');
  if (entries === undefined) return undefined;
  const weekday = [1, 1, 1, 1, 1, 1, 1];
  const hour: HourShape[] = [];
  const factor = (e: Entry, at: string): number | undefined => r.number(e.value, at, 'a factor > 0', positive);
  const days = entries.find((e) => e.key === 'weekday');
  if (days !== undefined) {
    for (const e of r.knownMap(days.value, `${path}.weekday`, `${path}.weekday`, WEEKDAYS, 'a map of weekday (mon … sun): factor') ?? []) {
      const f = factor(e, `${path}.weekday.${e.key}`);
      if (f !== undefined) weekday[WEEKDAYS.indexOf(e.key as typeof WEEKDAYS[number])] = f;
    }
  }
  const hours = entries.find((e) => e.key === 'hour');
  if (hours !== undefined) {
    // Which range claimed each hour, so overlapping ranges are caught: their factors would be ambiguous.
    const owner: (string | undefined)[] = new Array(24).fill(undefined);
    for (const e of r.map(hours.value, `${path}.hour`, 'a map of "H-H": factor') ?? []) {
      const at = `${path}.hour["${e.key}"]`;
      const m = HOUR_RANGE.exec(e.key);
      const from = Number(m?.[1]);
      const to = Number(m?.[2]);
      if (m === null || from > 23 || to > 24 || from === to % 24) {
        r.d.at(e.keyNode, `${at} must be a range of hours "H-H" with H from 0 to 24 such as "8-18" or "22-6", got ${JSON.stringify(e.key)}`);
        continue;
      }
      const f = factor(e, at);
      const covered: number[] = [];
      for (let h = from; h !== to % 24; h = (h + 1) % 24) covered.push(h);
      const clash = covered.map((h) => owner[h]).find((o) => o !== undefined);
      if (clash !== undefined) {
        r.d.at(e.keyNode, `${at} overlaps "${clash}"`);
        continue;
      }
      for (const h of covered) owner[h] = e.key;
      if (f !== undefined) hour.push({ from, to, factor: f });
    }
  }
  return { weekday, hour };
}

function parseNotify (node: unknown, path: string, s: RuleScope): string[] | undefined {
  const items = isSeq(node) ? node.items : [node];
  const names: string[] = [];
  for (const [i, item] of items.entries()) {
    const at = isSeq(node) ? `${path}[${i}]` : path;
    const name = s.r.text(item, at, 'a channel name or a list of them');
    if (name === undefined) continue;
    if (name.startsWith('$') && !s.channels.has(name)) {
      // Lists hold values for filters; notify names channels, which are defined under channels:.
      s.r.d.at(item, `${at} names channels, not a $list: write the channel names (${[...s.channels.keys()].join(', ') || 'none are defined'}), got "${name}"`);
      continue;
    }
    if (!s.channels.has(name)) {
      const none = s.channels.size === 0 ? ' (no channels are defined)' : didYouMean(name, s.channels.keys());
      s.r.d.at(item, `unknown channel "${name}" in ${path}${none}`);
      continue;
    }
    names.push(name);
  }
  return names.length === items.length ? names : undefined;
}

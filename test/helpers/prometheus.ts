// A strict parser of the Prometheus text exposition format 0.0.4, for tests of `GET /metrics`:
// it throws PrometheusParseError (with the line number) on anything a Prometheus server would
// refuse and on what makes an exposition ambiguous: a bad name, label or escape, a second TYPE
// or HELP, a TYPE after its family's samples, a family split in two, the same series twice, a
// negative counter, a histogram whose buckets are not cumulative, lack +Inf or disagree with
// _count. Pure; needs nothing but the text.
// Spec: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  /** as written: `x_bucket`, `x_sum`, … for a histogram `x` */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp: number | undefined;
}

export interface PromFamily {
  readonly name: string;
  readonly type: PromType;
  readonly help: string | undefined;
  readonly samples: PromSample[];
}

export interface Exposition {
  /** by family name, in the order they appear */
  readonly families: Map<string, PromFamily>;
  /** every sample, in order */
  readonly samples: PromSample[];
}

export class PrometheusParseError extends Error {
  readonly line: number;
  constructor (line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'PrometheusParseError';
    this.line = line;
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly PromType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A float as Go's ParseFloat takes it, including `+Inf`, `-Inf` and `NaN`. */
function parseFloatText (text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  return FLOAT.test(text) ? Number(text) : undefined;
}

/** Undoes `\\` and `\n` (and `\"` when `quote`); any other escape is an error. */
function unescape (text: string, quote: boolean, fail: (m: string) => never): string {
  return text.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && quote) return '"';
    return fail(`invalid escape \\${c}`);
  });
}

/** Which family a sample name belongs to, given the family the TYPE lines declared. */
function familyOf (sample: string, declared: ReadonlyMap<string, PromType>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const base = sample.slice(0, -suffix.length);
    const type = declared.get(base);
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
  }
  return sample;
}

/** `{a="x",b="y"}` after the name; returns the labels and the rest of the line. */
function parseLabels (text: string, fail: (m: string) => never): { labels: Record<string, string>, rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const name = /^[^=]*/.exec(text.slice(i))![0];
    if (!LABEL_NAME.test(name)) fail(`invalid label name ${JSON.stringify(name)}`);
    if (name.startsWith('__')) fail(`label names starting with __ are reserved, got ${name}`);
    if (Object.hasOwn(labels, name)) fail(`label ${name} given twice`);
    i += name.length;
    if (text.slice(i, i + 2) !== '="') fail(`expected ="… after label ${name}`);
    i += 2;
    const value = /^(?:[^"\\\n]|\\.)*/.exec(text.slice(i))![0];
    i += value.length;
    if (text[i] !== '"') fail(`unterminated value of label ${name}`);
    i += 1;
    labels[name] = unescape(value, true, fail);
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') fail(`expected , or } after label ${name}`);
  }
}

/** Parses `text`; throws PrometheusParseError at the first problem. */
export function parsePrometheus (text: string): Exposition {
  if (text !== '' && !text.endsWith('\n')) throw new PrometheusParseError(text.split('\n').length, 'the exposition must end with a line feed');
  const families = new Map<string, { name: string, type: PromType, help: string | undefined, samples: PromSample[] }>();
  const family = (name: string): { name: string, type: PromType, help: string | undefined, samples: PromSample[] } => {
    let f = families.get(name);
    if (f === undefined) { f = { name, type: 'untyped', help: undefined, samples: [] }; families.set(name, f); }
    return f;
  };
  const samples: PromSample[] = [];
  const declared = new Map<string, PromType>();
  const helps = new Map<string, string>();
  const series = new Set<string>();
  /** families whose lines are over: another family's line came after theirs */
  const closed = new Set<string>();
  let current: string | undefined;
  const lines = text === '' ? [] : text.slice(0, -1).split('\n');

  lines.forEach((line, index) => {
    const fail = (message: string): never => { throw new PrometheusParseError(index + 1, message); };
    const enter = (family: string): void => {
      if (family === current) return;
      if (closed.has(family)) fail(`the lines of ${family} are split by another family's`);
      if (current !== undefined) closed.add(current);
      current = family;
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (m === null) return; // a comment
      const [, keyword, name, rest = ''] = m as unknown as [string, string, string, string | undefined];
      if (!METRIC_NAME.test(name)) fail(`invalid metric name ${JSON.stringify(name)}`);
      enter(name);
      if (keyword === 'HELP') {
        if (helps.has(name)) fail(`a second HELP for ${name}`);
        helps.set(name, unescape(rest, false, fail));
        family(name).help = helps.get(name);
        return;
      }
      const type = rest.trim() as PromType;
      if (!TYPES.includes(type)) fail(`TYPE of ${name} must be ${TYPES.join(', ')}, got ${JSON.stringify(rest)}`);
      if (declared.has(name)) fail(`a second TYPE for ${name}`);
      if ((families.get(name)?.samples.length ?? 0) > 0) fail(`TYPE of ${name} after its samples`);
      declared.set(name, type);
      family(name).type = type;
      return;
    }
    const nameText = /^[^\s{]*/.exec(line)![0];
    if (!METRIC_NAME.test(nameText)) fail(`invalid metric name ${JSON.stringify(nameText)}`);
    let rest = line.slice(nameText.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, fail));
    const parts = rest.trim().split(/\s+/);
    if (!/^\s/.test(rest) || parts.length < 1 || parts.length > 2) fail(`expected "name{labels} value [timestamp]", got ${JSON.stringify(line)}`);
    const value = parseFloatText(parts[0]!);
    if (value === undefined) fail(`invalid value ${JSON.stringify(parts[0])}`);
    let timestamp: number | undefined;
    if (parts[1] !== undefined) {
      if (!/^-?\d+$/.test(parts[1])) fail(`invalid timestamp ${JSON.stringify(parts[1])}`);
      timestamp = Number(parts[1]);
    }
    const familyName = familyOf(nameText, declared);
    enter(familyName);
    const type = declared.get(familyName) ?? 'untyped';
    const id = nameText + JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
    if (series.has(id)) fail(`the series ${nameText}${JSON.stringify(labels)} twice`);
    series.add(id);
    if (type === 'counter' && !(value! >= 0)) fail(`counter ${nameText} must not be negative or NaN, got ${parts[0]!}`);
    if (type === 'histogram' && nameText.endsWith('_bucket') && labels.le === undefined) fail(`bucket of ${familyName} without le`);
    const sample: PromSample = { name: nameText, labels, value: value!, timestamp };
    family(familyName).samples.push(sample);
    samples.push(sample);
  });

  for (const f of families.values()) {
    if (f.type === 'histogram') checkHistogram(f, lines);
  }
  return { families, samples };
}

/** Buckets ascending by le, cumulative, ending in +Inf, equal to _count; _sum present. */
function checkHistogram (family: PromFamily, lines: readonly string[]): void {
  const fail = (message: string): never => { throw new PrometheusParseError(lines.length, `histogram ${family.name}: ${message}`); };
  const groups = new Map<string, { buckets: Array<[number, number]>, sum?: number, count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)));
    let g = groups.get(key);
    if (g === undefined) { g = { buckets: [] }; groups.set(key, g); }
    if (s.name === `${family.name}_bucket`) {
      const bound = parseFloatText(le!);
      if (bound === undefined || Number.isNaN(bound)) fail(`invalid le ${JSON.stringify(le)}`);
      g.buckets.push([bound!, s.value]);
    } else if (s.name === `${family.name}_sum`) g.sum = s.value;
    else if (s.name === `${family.name}_count`) g.count = s.value;
    else fail(`unexpected sample ${s.name}`);
  }
  for (const [key, g] of groups) {
    const last = g.buckets[g.buckets.length - 1];
    if (last === undefined || last[0] !== Infinity) fail(`series ${key} has no le="+Inf" bucket`);
    for (let i = 1; i < g.buckets.length; i++) {
      const [prevLe, prevCount] = g.buckets[i - 1]!;
      const [le, count] = g.buckets[i]!;
      if (!(le > prevLe)) fail(`series ${key}: le ${le} after ${prevLe}`);
      if (count < prevCount) fail(`series ${key}: bucket le=${le} holds ${count}, fewer than le=${prevLe} (${prevCount}); buckets are cumulative`);
    }
    if (g.count === undefined || g.sum === undefined) fail(`series ${key} lacks _sum or _count`);
    if (g.count !== last![1]) fail(`series ${key}: _count ${String(g.count)} differs from the +Inf bucket ${last![1]}`);
  }
}

/** The value of the sample `name` with exactly `labels`; undefined when there is none. */
export function sampleValue (e: Exposition, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
  return e.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1))) === want)?.value;
}

/** The histogram series `name` with exactly `labels` (besides le): cumulative buckets by bound, sum, count. */
export function histogramValue (e: Exposition, name: string, labels: Readonly<Record<string, string>> = {}): { buckets: Array<[number, number]>, sum: number, count: number } | undefined {
  const count = sampleValue(e, `${name}_count`, labels);
  const sum = sampleValue(e, `${name}_sum`, labels);
  if (count === undefined || sum === undefined) return undefined;
  const want = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
  const buckets: Array<[number, number]> = [];
  for (const s of e.families.get(name)?.samples ?? []) {
    if (s.name !== `${name}_bucket`) continue;
    const { le, ...rest } = s.labels;
    if (JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1))) === want) buckets.push([parseFloatText(le!)!, s.value]);
  }
  return { buckets, sum, count };
}

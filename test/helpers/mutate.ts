// Seeded mutations of YAML files for the parser fuzz tests (rules and node config): each
// mutant is a valid file with a few of the slips an analyst, an editor or a broken copy makes
// (lines lost, moved or re-indented, a value of the wrong type, a file cut short, CRLF, a BOM)
// and the YAML features a parser must refuse or survive (anchors, aliases, merge keys, tags,
// deep nesting, an alias bomb). The same seed gives the same mutants on every machine.
import { Alias, Pair, Scalar, YAMLMap, YAMLSeq, isAlias, isCollection, isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';
import { type Rng, intBetween, pick } from './prng.js';

/** A mutant and the steps that made it, so a failure can be read and reproduced. */
export interface Mutant { readonly text: string, readonly steps: readonly string[] }

const LONG = 'x'.repeat(20_000);

/** Values of every type and edge, written as YAML, put where a value was. */
export const VALUES: readonly string[] = [
  '0', '1', '-1', '-0', '0.5', '-0.5', '1.5', '101', '4097', '65536', '1e308', '1e400', '-1e400', '99999999999999999999',
  '9007199254740993', '0x1F', '0o17', '0b101', '1_000', '.inf', '-.inf', '.nan', 'NaN', 'Infinity', '-Infinity',
  'null', '~', 'Null', '""', "''", '" "', 'true', 'false', 'yes', 'no', 'on', 'off', 'True',
  '"42"', '"-1"', '"1e400"', '"abc"', 'abc', '[]', '{}', '[1, 2]', '[a, [b]]', '{ a: 1 }', '{ a: { b: [1] } }', '[[]]', '[{}]', '[null]', '[~, ~]',
  LONG, `"${LONG}"`, ' '.repeat(10_000) + 'x', `"${'é'.repeat(300)}"`, '日本語', '😀', '"\\u0000"', '"\\uD800"', '"\\t"', '"a\\nb"', '"\\u202e"',
  '$unknown_list', '$high_risk', '$irsf_ranges', '$', '"$"', '$$', '$vip',
  '+252', '0049', '"+4930123456"', '2026-11-21', '2026-11-21T14:02:11Z', '12:30', '22:00-06:00', '"25:00-26:00"', '"99:99-00:00"',
  '80%', '"100%"', '"0%"', '"-5%"', '"80 %"', '1/1', '"60/1"', '"0/0"', '"99999999999999999999/1"',
  '15m', '0s', '1h', '99999999999999999999d', '9007199254740991d', '-1h', '1.5h', '10/1m', '0/1m', '10/0s',
  'count', 'count()', 'concurrent', 'risk', 'risk(account)', 'sum(cost)', 'sum(caller)', 'sum()', 'sum(cost', 'avg(duration)', 'max(attrs.x)',
  'distinct(called)', 'new(country)', 'new(ts)', 'ratio(duration < 6)', 'ratio(duration <)', 'ratio(service == sms)', 'ratio(attrs.x != "")', 'ratio(a.b.c == 1)',
  `ratio(${'duration < 6 '.repeat(500)})`, `sum(${'('.repeat(5000)})`, `prefix(${'called, '.repeat(500)}6)`,
  'prefix(called, 6)', 'prefix(called, 0)', 'trim(caller, 99999999999999999999)', 'prefix(called,', 'attrs.', 'attrs.x', 'attrs', 'ts', 'group', 'weekday', 'hour',
  '[caller, called]', '[caller, caller]', '[caller, prefix(called, 6)]', '[prefix(called, 6)]', '{ sliding: 15m }', '{ sliding: 0s }', '{ sliding: 1e400 }', '{ sliding: [] }',
  'day', 'minute', 'fortnight', 'month', 'week', 'block', 'critical', 'info', 'shadow',
  'Europe/Berlin', 'Etc/GMT+5', 'Mars/Olympus', '+05:00', 'UTC', 'DE', 'de', 'UK', 'XX',
  '{ in: [] }', '{ not_in: [$unknown_list] }', '{ prefix: [] }', '{ between: [5, 1] }', '{ between: [1, 2, 3] }', '{ exists: maybe }', '{ gt: abc }', '{ lt: 1e400 }',
  '{ any: [] }', '{ all: [{}] }', '{ not: [] }', '{ hours: "22:00-06:00" }', '{ weekday: [sat, xyz] }', '{ over: 0, factor: -1 }', '{ over: 1e9, factor: 1e308, min: 1e308 }',
  '{ weekday: { mon: 0 } }', '{ hour: { "8-18": 2, "17-19": 2 } }', '{ hour: { "24-1": 1 } }', '{ hour: { "99999999999999999999-1": 1 } }',
  '{ type: log }', '{ type: webhook }', '{ type: email, to: [] }', '{ type: file, path: "" }', '{ max: 0s }', '{ max: [] }', '{ "bad header": x }',
  'http://', 'http://127.0.0.1:8080/x', 'https://user:pass@h/', 'smtp://', 'smtp://a@b', 'nats://127.0.0.1:4222', 'nats://user:pw@h:4222', 'tls://h', 'ftp://h',
  '127.0.0.1:7800', '0.0.0.0:7800', '[::1]:7800', '[::1]:99999', 'localhost:0', ':7800', '1.2.3.4:', 's3cret-do-not-print-0123',
  '5ms', '2s', '1001ms', '-5ms', '1e400ms', 'coordinator', '[node, node]', '[]',
  '*a', '*nope', '&a 1', '&a [1, 2]', '&a { x: 1 }', '!!binary aGVsbG8=', '!!str 1', '!!int 12', '!!float 1', '!!null ""', '!!bool true', '!!map {}', '!!seq []',
  '!!set { a, b }', '!!omap [ { a: 1 } ]', '!!timestamp 2001-12-14', '!foo x', '!<tag:yaml.org,2002:str> x', '!!int abc', '!!float abc', '!!str', '!!binary "%%%"',
  '|\n  block text', '>-\n  folded', '|', '>', '"unclosed', "'unclosed", '[unclosed', '{ unclosed', '- item', 'a: b', '? complex', '@x', '`x`', '%x', '#', '- ',
  '{ a: 1, a: 2 }', '{ <<: { a: 1 } }', '[a, b]: c', '{ ? [a] : b }', '{ [a]: b }', '{ null: 1 }', '{ ~: 1 }', '{ 1: 2 }', '{ "": 1 }',
  `${'['.repeat(3000)}${']'.repeat(3000)}`, `${'{ a: '.repeat(2000)}1${' }'.repeat(2000)}`, `${'{ not: '.repeat(2000)}{ service: voice }${' }'.repeat(2000)}`,
  `${'{ any: [ '.repeat(1000)}{ service: voice }${' ] }'.repeat(1000)}`, `[${'x, '.repeat(20_000)}y]`, `{ ${Array.from({ length: 3000 }, (_, i) => `k${i}: ${i}`).join(', ')} }`,
];

/** Keys put where a key was. */
const KEYS: readonly string[] = [
  '<<', '"<<"', '? [a]', '[a]', '{ a: 1 }', '1', '1.5', 'true', 'null', '~', '""', "'x y'", '"a\\u0000b"', 'é', '😀', '*a', '&k key', '!!str key', '!!binary aGk=', '-',
  'id', 'version', 'rules', 'lists', 'window', 'by', 'measure', 'limit', 'where', 'not', 'any', 'all', 'data', 'listen', 'nats', 'cluster', 'api', 'token', 'tokens',
  'Version', 'rule', 'windw', 'limmit', 'x'.repeat(5000),
];

const TAGS: readonly string[] = [
  '!!binary', '!!str', '!!int', '!!float', '!!bool', '!!null', '!!map', '!!seq', '!!set', '!!omap', '!!pairs', '!!timestamp', '!!merge', '!foo', '!', '!<tag:yaml.org,2002:str>', '!!python/object',
];

/** Single characters and short strings inserted anywhere. */
const INSERTS: readonly string[] = [
  ':', ': ', '{', '}', '[', ']', ',', '"', "'", '#', ' #', '|', '>', '%', '@', '`', '&', '*', '!', '?', '- ', '-', '\\', '\t', '\r', '\n', '\n\n', ' ',
  '\0', '\x01', '\x07', '\x1b', '\x7f', '\x85', '\u00a0', '\u2028', '\u2029', '\ufeff', '\ud800', '\udc00', '\ufffe', '\uffff', '😀', 'é', '\u0301',
  '---\n', '...\n', '&a ', '*a', '<<: *a\n', '!!binary ', '\n- ', '\n  ', ': [', ': {',
];

/** Tokens of a line outside its comment: the places where a key or a value may be swapped. */
function tokens (line: string): Array<{ start: number, end: number }> {
  const out: Array<{ start: number, end: number }> = [];
  const re = /[^\s{}[\],:#]+(?: [^\s{}[\],:#]+)*/g;
  const hash = line.search(/(^|\s)#/);
  const limit = hash < 0 ? line.length : hash;
  for (let m = re.exec(line); m !== null && m.index < limit; m = re.exec(line)) out.push({ start: m.index, end: m.index + m[0].length });
  return out;
}

/** Every token of the seed files, so a value of one key lands under another (`sum(cost)` as a window). */
function harvest (texts: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const text of texts) {
    for (const line of text.split('\n')) {
      for (const t of tokens(line)) seen.add(line.slice(t.start, t.end));
    }
  }
  return [...seen].sort();
}

const indentOf = (line: string): string => /^[ \t]*/.exec(line)?.[0] ?? '';

type Op = (lines: string[], rnd: Rng, pool: readonly string[]) => string;

const at = (lines: readonly string[], rnd: Rng): number => intBetween(rnd, 0, Math.max(0, lines.length - 1));

/** A line with a `key: value` entry, or any line when there is none. */
function entryLine (lines: readonly string[], rnd: Rng): number {
  for (let tries = 0; tries < 20; tries++) {
    const i = at(lines, rnd);
    if (/^\s*(?:- )?[^\s#:][^:#]*:\s+\S/.test(lines[i] ?? '')) return i;
  }
  return at(lines, rnd);
}

/** One step; each edits `lines` in place (or rewrites them) and says what it did. */
const OPS: ReadonlyArray<readonly [number, Op]> = [
  [6, (lines, rnd) => { const i = at(lines, rnd); lines.splice(i, 1); return `delete line ${i + 1}`; }],
  [5, (lines, rnd) => { const i = at(lines, rnd); lines.splice(i + 1, 0, lines[i] ?? ''); return `duplicate line ${i + 1}`; }],
  [4, (lines, rnd) => {
    const i = at(lines, rnd);
    const j = rnd() < 0.5 ? Math.min(lines.length - 1, i + 1) : at(lines, rnd);
    [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
    return `swap lines ${i + 1} and ${j + 1}`;
  }],
  [3, (lines, rnd) => {
    const i = at(lines, rnd);
    const n = intBetween(rnd, 1, 6);
    const block = lines.splice(i, n);
    const j = at(lines, rnd);
    const move = rnd() < 0.5;
    if (move) lines.splice(j, 0, ...block);
    return `${move ? `move to line ${j + 1}` : 'delete'} lines ${i + 1}-${i + n}`;
  }],
  [3, (lines, rnd) => { const i = at(lines, rnd); const n = intBetween(rnd, 2, 8); lines.splice(i, 0, ...lines.slice(i, i + n)); return `duplicate lines ${i + 1}-${i + n}`; }],
  [6, (lines, rnd) => {
    const i = at(lines, rnd);
    const line = lines[i] ?? '';
    const body = line.slice(indentOf(line).length);
    const choice = intBetween(rnd, 0, 4);
    const indent = choice === 0
      ? ' '.repeat(indentOf(line).length + intBetween(rnd, 1, 3))
      : choice === 1
        ? ' '.repeat(Math.max(0, indentOf(line).length - intBetween(rnd, 1, 3)))
        : choice === 2 ? ' '.repeat(intBetween(rnd, 0, 10)) : choice === 3 ? '\t' + indentOf(line).slice(2) : indentOf(line).replace(/ {2}/g, '\t');
    lines[i] = indent + body;
    return `re-indent line ${i + 1} to ${JSON.stringify(indent)}`;
  }],
  [12, (lines, rnd, pool) => {
    const i = entryLine(lines, rnd);
    const line = lines[i] ?? '';
    const ts = tokens(line);
    if (ts.length === 0) return 'no token';
    const t = pick(rnd, ts);
    const value = rnd() < 0.6 ? pick(rnd, VALUES) : pick(rnd, pool);
    lines[i] = line.slice(0, t.start) + value + line.slice(t.end);
    return `line ${i + 1}: ${JSON.stringify(line.slice(t.start, t.end))} -> ${JSON.stringify(value.slice(0, 40))}`;
  }],
  [8, (lines, rnd, pool) => {
    const i = entryLine(lines, rnd);
    const line = lines[i] ?? '';
    const m = /^(\s*(?:- )?[^\s#:][^:#]*:\s+)(.*)$/.exec(line);
    if (m === null) return 'no entry';
    const indent = ' '.repeat(indentOf(line).length + 2);
    const blocks = [
      `\n${indent}- a\n${indent}- b`, `\n${indent}a: 1\n${indent}b: [2]`, `\n${indent}- { x: 1 }`, `\n${indent}-\n${indent}  - deep`, `\n${indent}? complex\n${indent}: value`,
    ];
    const value = rnd() < 0.2 ? pick(rnd, blocks) : rnd() < 0.7 ? pick(rnd, VALUES) : pick(rnd, pool);
    lines[i] = (m[1] as string).replace(/\s+$/, value.startsWith('\n') ? '' : ' ') + value;
    return `line ${i + 1}: value -> ${JSON.stringify(value.slice(0, 40))}`;
  }],
  [4, (lines, rnd, pool) => {
    const i = entryLine(lines, rnd);
    const line = lines[i] ?? '';
    const m = /^(\s*(?:- )?)([^\s#:][^:#]*?)(\s*:(?:\s|$).*)$/.exec(line);
    if (m === null) return 'no key';
    const key = rnd() < 0.6 ? pick(rnd, KEYS) : pick(rnd, pool);
    lines[i] = (m[1] as string) + key + (m[3] as string);
    return `line ${i + 1}: key ${JSON.stringify(m[2])} -> ${JSON.stringify(key.slice(0, 40))}`;
  }],
  [5, (lines, rnd) => {
    // An anchor on one value, an alias to it (or to nothing) in another, maybe a merge key.
    const i = entryLine(lines, rnd);
    const j = entryLine(lines, rnd);
    const name = rnd() < 0.8 ? 'a' : 'nope';
    lines[i] = (lines[i] ?? '').replace(/:\s+/, ': &a ');
    const kind = intBetween(rnd, 0, 2);
    if (kind === 0) lines[j] = (lines[j] ?? '').replace(/:\s+.*$/, `: *${name}`);
    else if (kind === 1) lines.splice(j + 1, 0, `${indentOf(lines[j] ?? '')}<<: *${name}`);
    else lines[j] = (lines[j] ?? '').replace(/:\s+/, `: { <<: *${name} }`);
    return `anchor &a on line ${i + 1}, ${['alias', 'merge key', 'flow merge'][kind] as string} *${name} at line ${j + 1}`;
  }],
  [4, (lines, rnd) => {
    const i = entryLine(lines, rnd);
    const tag = pick(rnd, TAGS);
    lines[i] = (lines[i] ?? '').replace(/:\s+/, `: ${tag} `);
    return `tag ${tag} on line ${i + 1}`;
  }],
  [5, (lines, rnd) => {
    const text = lines.join('\n');
    const pos = intBetween(rnd, 0, text.length);
    const ins = pick(rnd, INSERTS);
    lines.splice(0, lines.length, ...(text.slice(0, pos) + ins + text.slice(pos)).split('\n'));
    return `insert ${JSON.stringify(ins)} at offset ${pos}`;
  }],
  [3, (lines, rnd) => {
    const text = lines.join('\n');
    const pos = intBetween(rnd, 0, text.length);
    lines.splice(0, lines.length, ...text.slice(0, pos).split('\n'));
    return `truncate at offset ${pos}`;
  }],
  [2, (lines, rnd) => {
    const kind = intBetween(rnd, 0, 3);
    if (kind === 0) lines[0] = '\ufeff' + (lines[0] ?? '');
    else if (kind === 1) for (let i = 0; i < lines.length; i++) lines[i] = (lines[i] ?? '') + '\r';
    else if (kind === 2) { const i = at(lines, rnd); lines[i] = (lines[i] ?? '') + '\r'; } else {
      const text = lines.join('\r');
      lines.splice(0, lines.length, text);
    }
    return ['BOM', 'CRLF', 'one CRLF', 'CR line ends'][kind] as string;
  }],
  [2, (lines, rnd) => {
    const i = at(lines, rnd);
    const line = lines[i] ?? '';
    lines[i] = line.replace(/ +$/, '') + pick(rnd, ['   ', '\t', ' # comment', '#no space', ' \t ', '  &a', ' !!str']);
    return `trailing text on line ${i + 1}`;
  }],
  [2, (lines, rnd) => {
    const marker = pick(rnd, ['---', '...', '%YAML 1.1\n---', '%YAML 1.2\n---', '%YAML 2.0\n---', '%TAG ! tag:example.com,2000:\n---', '--- !!map', '--- |', '---\n---', '%FOO bar\n---']);
    const i = rnd() < 0.5 ? 0 : at(lines, rnd);
    lines.splice(i, 0, ...marker.split('\n'));
    return `document marker ${JSON.stringify(marker)} at line ${i + 1}`;
  }],
  [1, (lines) => {
    // Billion laughs: nine levels of ten aliases each, 10^9 leaves if anything expanded them.
    const bomb = ['lol0: &l0 [lol]'];
    for (let k = 1; k < 10; k++) bomb.push(`lol${k}: &l${k} [${Array.from({ length: 10 }, () => `*l${k - 1}`).join(', ')}]`);
    lines.push(...bomb);
    return 'alias bomb appended';
  }],
];

/** What the mutations draw from: the seeds' tokens and, for tree steps, their nodes and the values as nodes. */
export interface Donors { readonly tokens: readonly string[], readonly nodes: readonly Node[], readonly keys: readonly string[] }

/** Donors from the seed files (valid YAML). */
export function donors (texts: readonly string[]): Donors {
  const nodes: Node[] = [];
  const keys = new Set<string>();
  // The huge values (deep nesting, long lists) stay with the line steps: as nodes they would
  // take most of the time to parse here and to write out in every mutant.
  for (const text of [...texts, ...VALUES.filter((v) => v.length < 1_000).map((v) => `x: ${v}\n`)]) {
    const doc = parseDocument(text);
    if (doc.errors.length > 0) continue;
    visit(doc, {
      Pair: (_, pair) => { if (isScalar(pair.key)) keys.add(String(pair.key.value)); },
      Node: (_, node) => { if (!isAlias(node)) nodes.push(node); },
    });
  }
  return { tokens: harvest(texts), nodes, keys: [...keys].sort() };
}

/** Where a node sits: a map's value or key, or a list's item; `set` puts another node there. */
interface Slot { readonly node: unknown, readonly parent: YAMLMap | YAMLSeq, readonly index: number, readonly set: (n: unknown) => void }

function slots (doc: Document): Slot[] {
  const out: Slot[] = [];
  const walk = (node: unknown): void => {
    if (isMap(node)) {
      node.items.forEach((pair, index) => {
        out.push({ node: pair.value, parent: node, index, set: (n) => { pair.value = n; } });
        walk(pair.value);
      });
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        out.push({ node: item, parent: node, index, set: (n) => { node.items[index] = n; } });
        walk(item);
      });
    }
  };
  walk(doc.contents);
  return out;
}

const describe = (node: unknown): string => (isScalar(node) ? JSON.stringify(String(node.value)).slice(0, 30) : isMap(node) ? 'a map' : isSeq(node) ? 'a list' : String(node));

type TreeOp = (doc: Document, slot: Slot, rnd: Rng, d: Donors) => string;

/** Steps on the parsed tree of a seed: wrong types and shapes in valid YAML, so the readers (not the YAML parser) meet them. */
const TREE_OPS: ReadonlyArray<readonly [number, TreeOp]> = [
  [10, (_doc, slot, rnd, d) => { const n = pick(rnd, d.nodes).clone(); slot.set(n); return `tree: ${describe(slot.node)} -> ${describe(n)}`; }],
  [4, (_doc, slot) => { slot.parent.items.splice(slot.index, 1); return `tree: delete ${describe(slot.node)}`; }],
  [3, (_doc, slot) => {
    const item = slot.parent.items[slot.index] as { clone?: () => unknown };
    slot.parent.items.splice(slot.index, 0, (typeof item.clone === 'function' ? item.clone() : item) as never);
    return `tree: duplicate ${describe(slot.node)}`;
  }],
  [3, (_doc, slot, rnd, d) => {
    if (!isMap(slot.parent)) return 'tree: no key';
    const pair = slot.parent.items[slot.index] as Pair;
    const key = rnd() < 0.7 ? pick(rnd, d.keys) : pick(rnd, KEYS);
    pair.key = new Scalar(key);
    return `tree: key -> ${JSON.stringify(key.slice(0, 30))}`;
  }],
  [3, (_doc, slot) => {
    const wrapped = new YAMLSeq();
    wrapped.items.push(slot.node);
    slot.set(wrapped);
    return `tree: wrap ${describe(slot.node)} in a list`;
  }],
  [2, (_doc, slot) => {
    const wrapped = new YAMLMap();
    wrapped.items.push(new Pair(new Scalar('x'), slot.node));
    slot.set(wrapped);
    return `tree: wrap ${describe(slot.node)} in a map`;
  }],
  [2, (_doc, slot) => {
    if (!isCollection(slot.node)) return 'tree: no collection';
    const first = slot.node.items[0];
    slot.set(isMap(slot.node) ? (first as Pair | undefined)?.value ?? null : first ?? null);
    return `tree: unwrap ${describe(slot.node)}`;
  }],
  [3, (_doc, slot) => {
    // Quoted numbers and booleans become text, plain text that looks like a number becomes one.
    if (!isScalar(slot.node)) return 'tree: no scalar';
    const text = String(slot.node.value);
    slot.set(slot.node.type === 'PLAIN' ? Object.assign(new Scalar(text), { type: 'QUOTE_DOUBLE' }) : new Scalar(Number.isNaN(Number(text)) ? text : Number(text)));
    return `tree: requote ${describe(slot.node)}`;
  }],
  [2, (doc, slot, rnd) => {
    // An anchor here and an alias or a merge key elsewhere.
    const all = slots(doc);
    const target = pick(rnd, all);
    if (!isCollection(slot.node) && !isScalar(slot.node)) return 'tree: no anchor';
    (slot.node as Node).anchor = 'a';
    if (rnd() < 0.5) target.set(new Alias('a'));
    else if (isMap(target.node)) target.node.items.push(new Pair(new Scalar('<<'), new Alias('a')));
    else return 'tree: anchor only';
    return `tree: anchor on ${describe(slot.node)}, alias at ${describe(target.node)}`;
  }],
  [2, (_doc, slot, rnd) => {
    if (!isCollection(slot.node)) return 'tree: no collection';
    slot.node.flow = !slot.node.flow;
    if (rnd() < 0.3) slot.node.items.reverse();
    return `tree: restyle ${describe(slot.node)}`;
  }],
];

const TREE_TOTAL = TREE_OPS.reduce((sum, [w]) => sum + w, 0);
const LINE_TOTAL = OPS.reduce((sum, [w]) => sum + w, 0);

function weighted<T> (ops: ReadonlyArray<readonly [number, T]>, total: number, rnd: Rng): T {
  let x = rnd() * total;
  for (const [w, op] of ops) {
    x -= w;
    if (x < 0) return op;
  }
  return (ops[ops.length - 1] as readonly [number, T])[1];
}

/** The seeds' trees, parsed once: a mutant works on a copy. */
const parsed = new Map<string, Document>();

/** One to three steps on the tree, written back as YAML; undefined when the tree cannot be written. */
function mutateTree (text: string, rnd: Rng, d: Donors, steps: string[]): string | undefined {
  let seed = parsed.get(text);
  if (seed === undefined) { seed = parseDocument(text); parsed.set(text, seed); }
  const doc = seed.clone();
  const count = intBetween(rnd, 1, 3);
  for (let s = 0; s < count; s++) {
    const all = slots(doc);
    if (all.length === 0) break;
    steps.push(weighted(TREE_OPS, TREE_TOTAL, rnd)(doc, pick(rnd, all), rnd, d));
  }
  try {
    return doc.toString({ lineWidth: 0 });
  } catch {
    return undefined;
  }
}

/** `text` after a few seeded steps: on the tree of the file (half the time), on its lines, or both. */
export function mutate (text: string, rnd: Rng, d: Donors): Mutant {
  const steps: string[] = [];
  let out = text;
  const tree = rnd() < 0.5;
  if (tree) out = mutateTree(text, rnd, d, steps) ?? text;
  if (tree && rnd() < 0.7) return { text: out, steps };
  const lines = out.split('\n');
  const count = rnd() < 0.5 ? 1 : intBetween(rnd, 2, 4);
  for (let s = 0; s < count; s++) steps.push(weighted(OPS, LINE_TOTAL, rnd)(lines, rnd, d.tokens));
  return { text: lines.join('\n'), steps };
}

/** The seed for mutant `index` of seed file `file`: each mutant can be rebuilt on its own. */
export function mutantSeed (base: number, file: number, index: number): number {
  return (base ^ Math.imul(file + 1, 0x9E3779B1) ^ Math.imul(index + 1, 0x85EBCA77)) | 0;
}

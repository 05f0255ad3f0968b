/**
 * The YAML side of the rules parser: a diagnostics collector that turns node offsets into
 * file:line:col, and small readers that check a node's shape and report
 * `<path> must be <expectation>, got <value>` at the node. Readers return undefined after
 * reporting, so callers go on and every problem in the file is found in one pass.
 */
import type { Node, Pair, Scalar, YAMLError } from 'yaml';
import { LineCounter, isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Diagnostic } from './errors.js';
import { show } from './errors.js';
import { didYouMean } from './did-you-mean.js';

interface Pending { readonly order: number, readonly seq: number, readonly d: Diagnostic }

/** Collects diagnostics; `sorted()` gives them in file order whatever order they were found in. */
export class Diagnostics {
  readonly file: string;
  private readonly lines: LineCounter;
  private readonly items: Pending[] = [];

  /**
   * `text` is the file, for its line starts. They are counted here rather than by the YAML
   * lexer, whose LineCounter misses the line breaks inside a token it skips while recovering
   * from a syntax error: every problem after it would get a column past the end of its line.
   */
  constructor (file: string, text: string) {
    this.file = file;
    this.lines = new LineCounter();
    this.lines.addNewLine(0);
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.lines.addNewLine(i + 1);
  }

  get count (): number { return this.items.length; }

  /** Reports at the start of `node` (or at the start of the file when there is no node). */
  at (node: unknown, message: string): void {
    this.atOffset(startOf(node), message);
  }

  /**
   * Control and invisible characters in `message` (from a key or a token as written:
   * `"a\nb":`, a stray CR, a no-break space pasted into a key) are escaped as in JSON:
   * `vigil check` prints one problem a line, and each as it reads in the file.
   */
  atOffset (offset: number, message: string): void {
    const { line, col } = this.lines.linePos(Math.max(0, offset));
    this.items.push({ order: offset, seq: this.items.length, d: { file: this.file, line, col, message: message.replace(UNSEEN, escapeUnseen) } });
  }

  /**
   * The YAML parser's errors, one a position. Its messages quote the token they stopped at,
   * which may be thousands of characters long: clipped like any value.
   */
  syntax (errors: readonly YAMLError[]): void {
    const seen = new Set<number>();
    for (const err of errors) {
      if (seen.has(err.pos[0])) continue;
      seen.add(err.pos[0]);
      // `Unexpected scalar token in YAML stream: "…"`, the token as JSON.
      const m = /^([^"]*: )(".*")$/s.exec(err.message);
      // The parser runs out of stack on collections nested hundreds deep, and says only that.
      // And names its own API when the text holds several documents.
      const message = err.code === 'RESOURCE_EXHAUSTION'
        ? `lists or maps nested too deeply to read (${err.message})`
        : err.code === 'MULTIPLE_DOCS'
          ? 'a second document starts here; the file must be one document'
          : m === null ? clip(err.message, 200) : `${m[1] as string}${clip(m[2] as string, 60)}`;
      this.atOffset(err.pos[0], `invalid YAML: ${message}`);
    }
  }

  /** A problem in another file (a list or limits file), sorted where `node` refers to it. */
  external (node: unknown, d: Diagnostic): void {
    this.items.push({ order: startOf(node), seq: this.items.length, d: { ...d, message: d.message.replace(UNSEEN, escapeUnseen) } });
  }

  /** Where `node` starts (1-based line and column). */
  positionOf (node: unknown): { line: number, col: number } {
    return this.lines.linePos(startOf(node));
  }

  /** The line (1-based) where `node` starts, for "first defined at line N". */
  lineOf (node: unknown): number {
    return this.lines.linePos(startOf(node)).line;
  }

  sorted (): Diagnostic[] {
    return [...this.items].sort((a, b) => a.order - b.order || a.seq - b.seq).map((p) => p.d);
  }
}

const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * What a terminal shows as nothing, as a space or as a line break: control characters,
 * no-break and zero-width spaces, direction marks, a byte-order mark inside the text, lone
 * surrogates. Shown raw, a key pasted with one read `unknown key "measure"; did you mean "measure"?`.
 */
// eslint-disable-next-line no-control-regex
const UNSEEN = /[\u0000-\u001f\u007f-\u00a0\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeUnseen (c: string): string {
  return ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

function clip (text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function startOf (node: unknown): number {
  if (node !== null && typeof node === 'object' && 'range' in node) {
    const range = (node as Node).range;
    if (range !== undefined && range !== null) return range[0];
  }
  return 0;
}

/** An empty value (`key:` with nothing after it) rather than an explicit `null`. */
export function isMissing (node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null && (node.source ?? '') === '');
}

/**
 * A scalar's text as the analyst wrote it. Plain scalars keep their source, so `+252` and
 * `0049301` stay numbers-as-text instead of becoming 252 and 49301; quoted scalars give
 * their unescaped value.
 */
export function textOf (node: Scalar): string {
  if (node.type === 'PLAIN' && typeof node.source === 'string') return node.source;
  return String(node.value);
}

/** The value of a node for the `got ...` part of a message, clipped by show(). */
export function got (node: unknown): string {
  if (isMissing(node)) return 'nothing';
  // Numbers and booleans appear as written, unquoted: `got -1`, `got 0049` (clipped like show()).
  if (isScalar(node)) {
    if (typeof node.value === 'string') return show(node.value);
    const text = textOf(node);
    return text.length > 60 ? `${text.slice(0, 59)}…` : text;
  }
  if (isMap(node) || isSeq(node)) return show(node.toJSON());
  if (isAlias(node)) return `*${node.source}`;
  return show(node);
}

/** One key/value entry of a map, with the key as text. */
export interface Entry {
  readonly key: string;
  readonly keyNode: Scalar;
  readonly value: unknown;
}

export interface Structure {
  /** Pairs to leave out when reading: duplicate keys and keys that are not text. */
  readonly skip: WeakSet<Pair>;
  /** True when the file uses aliases; reading it would only repeat that at every alias. */
  readonly hasAliases: boolean;
}

/**
 * Checks the whole tree once before reading it: map keys must be plain text and unique, and
 * aliases are refused (a rules file should read the same top to bottom, and an alias would
 * also let a small file expand into a huge filter). `files` names the kind of file in that
 * message (the node config is read with the same checks).
 */
export function checkStructure (root: unknown, d: Diagnostics, files = 'rules files'): Structure {
  const skip = new WeakSet<Pair>();
  let hasAliases = false;
  const walk = (node: unknown): void => {
    if (isAlias(node)) {
      d.at(node, `aliases (*${node.source}) are not supported in ${files}; write the value out`);
      hasAliases = true;
    } else if (isMap(node)) {
      const seen = new Map<string, unknown>();
      for (const pair of node.items) {
        if (!isScalar(pair.key) || pair.key.value === null) {
          d.at(pair.key ?? node, `keys must be plain text, got ${got(pair.key)}`);
          skip.add(pair);
        } else {
          const key = textOf(pair.key);
          const first = seen.get(key);
          if (first !== undefined) {
            d.at(pair.key, `duplicate key "${key}"; first defined at line ${d.lineOf(first)}`);
            skip.add(pair);
          } else {
            seen.set(key, pair.key);
          }
        }
        walk(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) walk(item);
    }
  };
  walk(root);
  return { skip, hasAliases };
}

/** Reads maps and scalars, reporting wrong shapes. `skip` comes from checkStructure(). */
export class Reader {
  readonly d: Diagnostics;
  private readonly skip: WeakSet<Pair>;

  constructor (d: Diagnostics, skip: WeakSet<Pair>) {
    this.d = d;
    this.skip = skip;
  }

  /** The entries of a map, or undefined (reported) when `node` is not a map. */
  map (node: unknown, path: string, expect = 'a map'): Entry[] | undefined {
    if (!isMap(node)) {
      this.d.at(node, `${path} must be ${expect}, got ${got(node)}`);
      return undefined;
    }
    const out: Entry[] = [];
    for (const pair of node.items) {
      if (this.skip.has(pair) || !isScalar(pair.key)) continue;
      out.push({ key: textOf(pair.key), keyNode: pair.key, value: pair.value });
    }
    return out;
  }

  /**
   * Like map(), and also reports keys outside `known` (with a suggestion). `where` names the
   * map in the message: `rule "spend-day"`, `tariff`, …
   */
  knownMap (node: unknown, path: string, where: string, known: readonly string[], expect = 'a map'): Entry[] | undefined {
    const entries = this.map(node, path, expect);
    return entries === undefined ? undefined : this.onlyKnown(entries, where, known);
  }

  /** `entries` without the keys outside `known`, which are reported with a suggestion. */
  onlyKnown (entries: readonly Entry[], where: string, known: readonly string[]): Entry[] {
    return entries.filter((e) => {
      if (known.includes(e.key)) return true;
      const glued = gluedKey(e.key);
      if (glued !== undefined) {
        const hint = known.includes(glued.key) ? `; did you mean "${glued.key}: …" (a space after the colon)?` : '';
        this.d.at(e.keyNode, `unknown key "${glued.shown}" in ${where}${hint}`);
      } else {
        this.d.at(e.keyNode, `unknown key "${e.key}" in ${where}${didYouMean(e.key, known)}`);
      }
      return false;
    });
  }

  /** The items of a sequence, or undefined (reported). */
  seq (node: unknown, path: string, expect = 'a list'): unknown[] | undefined {
    if (!isSeq(node)) {
      this.d.at(node, `${path} must be ${expect}, got ${got(node)}`);
      return undefined;
    }
    return node.items;
  }

  /** Non-empty text, as written. */
  text (node: unknown, path: string, expect = 'text'): string | undefined {
    if (isScalar(node) && !isMissing(node) && node.value !== null) {
      const text = textOf(node);
      if (text !== '' && (typeof node.value === 'string' || typeof node.value === 'number')) return text;
    }
    this.d.at(node, `${path} must be ${expect}, got ${got(node)}`);
    return undefined;
  }

  /** A finite number, optionally bounded; `expect` is the message's expectation. */
  number (node: unknown, path: string, expect: string, ok: (n: number) => boolean = () => true): number | undefined {
    if (isScalar(node) && typeof node.value === 'number' && Number.isFinite(node.value) && ok(node.value)) return node.value;
    this.d.at(node, `${path} must be ${expect}, got ${got(node)}`);
    return undefined;
  }

  boolean (node: unknown, path: string): boolean | undefined {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.d.at(node, `${path} must be true or false, got ${got(node)}`);
    return undefined;
  }

  /** One of `values`, with a suggestion when the text is close to one. */
  oneOf<T extends string> (node: unknown, path: string, values: readonly T[]): T | undefined {
    const text = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
    if (text !== undefined && (values as readonly string[]).includes(text)) return text as T;
    const hint = text === undefined ? '' : didYouMean(text, values);
    this.d.at(node, `${path} must be ${orList(values)}, got ${got(node)}${hint}`);
    return undefined;
  }
}

/**
 * `secret:s3cr3t`, a key and its value without the space YAML needs after the colon: one key
 * to YAML. Shown up to the colon only, since the value may be a secret (a channel's secret, an
 * API token, a NATS password); undefined for any other key.
 */
export function gluedKey (key: string): { key: string, shown: string } | undefined {
  const m = /^([^:\s]+):\S/.exec(key);
  return m === null ? undefined : { key: m[1] as string, shown: `${m[1] as string}:…` };
}

/** `a, b or c` */
export function orList (values: readonly string[]): string {
  if (values.length <= 1) return values.join('');
  return `${values.slice(0, -1).join(', ')} or ${values[values.length - 1] as string}`;
}

/** Text of a scalar list entry, or undefined when the entry is not a scalar or is empty. */
export function itemText (node: unknown): string | undefined {
  if (!isScalar(node) || node.value === null || typeof node.value === 'object') return undefined;
  const text = textOf(node);
  return text === '' ? undefined : text;
}

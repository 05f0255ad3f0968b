/**
 * The small text formats a rules file uses besides YAML: durations (`15m`), list files (one
 * value a line) and limits files (CSV `key,limit`). List files can hold millions of number
 * ranges, so they are scanned once with indexOf and keep no per-line positions.
 */

/** Reads the files a rules file names (`lists: { file }`, `limits_file`); throws when it cannot. */
export interface RulesSource {
  /** `path` as written in the rules file; the caller resolves it relative to the rules file. */
  readFile (path: string): string;
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+)([smhd])$/;

export const DURATION_TEXT = 'a duration such as 90s, 30m, 1h or 2d';

/** `90s`, `30m`, `1h`, `2d` in milliseconds; undefined when `text` is not one. */
export function parseDuration (text: string): number | undefined {
  const m = DURATION.exec(text);
  if (m === null) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** A span of time the way a person reads it: `90 s`, `45 min`, `5.5 h`, `3 days`, `7974 years`. */
export function spanText (ms: number): string {
  const round = (n: number): string => String(Math.round(n * 10) / 10);
  if (ms < 120_000) return `${round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${round(ms / 3_600_000)} h`;
  if (ms < 2 * 31_556_952_000) return `${round(ms / 86_400_000)} days`;
  return `${round(ms / 31_556_952_000)} years`;
}

/** One value a line, trimmed; blank lines and lines starting with `#` are skipped. */
export function parseListFile (text: string): string[] {
  const out: string[] = [];
  const n = text.length;
  let start = 0;
  while (start <= n) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    const next = end + 1;
    // Trim by index and slice once: a million lines must not mean two million strings.
    while (start < end && isSpace(text.charCodeAt(start))) start++;
    while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
    if (end > start && text.charCodeAt(start) !== 0x23) out.push(text.slice(start, end));
    start = next;
  }
  return out;
}

/** Space, tab, `\r` and other control characters, and the byte-order mark. */
function isSpace (c: number): boolean {
  return c <= 0x20 || c === 0xfeff || c === 0xa0;
}

/** A problem on one line of another file; `col` is 1-based. */
export interface TextProblem { readonly line: number, readonly col: number, readonly message: string }

export interface LimitsFile { readonly limits: Map<string, number>, readonly problems: TextProblem[] }

interface CsvField { readonly text: string, readonly col: number }

/** Splits one CSV line into trimmed fields (RFC 4180 quotes allowed); a string is an error. */
function splitCsvLine (line: string): CsvField[] | string {
  const fields: CsvField[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    const col = i + 1;
    let text = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return `unterminated quote in column starting at col ${col}`;
        text += line.slice(i, q);
        if (line[q + 1] === '"') { text += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (i < line.length && line[i] !== ',') return `unexpected text after a quoted value at col ${i + 1}`;
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      text = line.slice(i, end).trim();
      i = end;
    }
    fields.push({ text, col });
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** A line that is `key,limit` and nothing else to take care of (no quote, no space), CRLF or LF. */
const PLAIN_LINE = /^([^",\s]+),((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\r?$/;

/** One line of a limits file, read. */
type LimitLine =
  | { readonly kind: 'limit', readonly key: string, readonly limit: number, readonly col: number }
  | { readonly kind: 'problem', readonly col: number, readonly message: string }
  | { readonly kind: 'blank' }
  | { readonly kind: 'header' };

/**
 * Line `i` of a limits file. A credit-limit file holds a line per customer (millions): a plain
 * line takes one regular expression; a line with quotes or spaces is split field by field.
 * `sawData`: a line other than a blank one came before (a header is only the first such).
 */
function readLimitLine (text: string, i: number, sawData: boolean): LimitLine {
  const plain = PLAIN_LINE.exec(text);
  if (plain !== null && Number.isFinite(Number(plain[2]))) return { kind: 'limit', key: plain[1] as string, limit: Number(plain[2]), col: 1 };
  const raw = text.replace(/\r$/, '');
  const line = i === 0 ? raw.replace(/^\uFEFF/, '') : raw;
  if (line.trim() === '') return { kind: 'blank' };
  const fields = splitCsvLine(line);
  if (typeof fields === 'string') return { kind: 'problem', col: 1, message: fields };
  const [key, limit] = fields;
  if (!sawData && fields.length === 2 && key?.text.toLowerCase() === 'key' && limit?.text.toLowerCase() === 'limit') return { kind: 'header' };
  if (fields.length !== 2 || key === undefined || limit === undefined) return { kind: 'problem', col: 1, message: `expected two columns key,limit, got ${fields.length}` };
  if (key.text === '') return { kind: 'problem', col: key.col, message: 'key must not be empty' };
  if (!NUMBER.test(limit.text) || !Number.isFinite(Number(limit.text))) {
    return { kind: 'problem', col: limit.col, message: `limit must be a number >= 0, got ${JSON.stringify(limit.text)}` };
  }
  return { kind: 'limit', key: key.text, limit: Number(limit.text), col: key.col };
}

/**
 * A limits file: two columns `key,limit`, an optional `key,limit` header row, blank lines
 * skipped. Every bad line is a problem; a key given twice is a problem at the second.
 */
export function parseLimitsFile (text: string): LimitsFile {
  const limits = new Map<string, number>();
  const problems: TextProblem[] = [];
  const lines = text.split('\n');
  let sawData = false;
  // Where each key was first given, for the message of a duplicate: made at the first one (a
  // file without duplicates keeps no second map), then kept up as lines are taken.
  let firstLines: Map<string, number> | undefined;
  for (let i = 0; i < lines.length; i++) {
    const read = readLimitLine(lines[i] as string, i, sawData);
    if (read.kind === 'blank') continue;
    sawData = true;
    const n = i + 1;
    if (read.kind === 'header') continue;
    if (read.kind === 'problem') { problems.push({ line: n, col: read.col, message: read.message }); continue; }
    if (limits.has(read.key)) {
      firstLines ??= firstLinesBefore(lines, n);
      problems.push({ line: n, col: read.col, message: `duplicate key "${read.key}"; first defined at line ${firstLines.get(read.key) ?? n}` });
      continue;
    }
    limits.set(read.key, read.limit);
    firstLines?.set(read.key, n);
  }
  return { limits, problems };
}

/** The line (1-based) where each key taken from the lines before `before` was given first. */
function firstLinesBefore (lines: readonly string[], before: number): Map<string, number> {
  const first = new Map<string, number>();
  let sawData = false;
  for (let i = 0; i < before - 1; i++) {
    const read = readLimitLine(lines[i] as string, i, sawData);
    if (read.kind !== 'blank') sawData = true;
    if (read.kind === 'limit' && !first.has(read.key)) first.set(read.key, i + 1);
  }
  return first;
}

/** Why a file could not be read, short for the common cases (the caller's error is an fs error). */
export function unreadableReason (err: unknown): string {
  const code = err !== null && typeof err === 'object' && 'code' in err ? err.code : undefined;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder';
  return err instanceof Error ? err.message : String(err);
}

/** `path` as seen from the current directory when it is written relative to `rulesFile`. */
export function besideFile (rulesFile: string, path: string): string {
  const slash = rulesFile.lastIndexOf('/');
  if (path.startsWith('/') || slash < 0) return path;
  return rulesFile.slice(0, slash + 1) + path;
}

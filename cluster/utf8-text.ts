/**
 * Input text is UTF-8. A byte that is not (a Latin-1 `ü`, 0xFC, from an old PBX's CSV) used to
 * become U+FFFD as the text was decoded, silently: two accounts `Müller` and `Möller` in a
 * Latin-1 file were both `M\ufffdller`, one key, one counter. Now the record it is in is
 * rejected, naming the byte and where it is. isUtf8 is native and fast; the byte-by-byte search
 * runs only on a line that is known not to be UTF-8.
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';

export interface NotUtf8 {
  /** the offending byte's place in its line, counted in bytes from 1 */
  readonly column: number;
  readonly byte: number;
}

const hex = (bad: NotUtf8): string => `0x${bad.byte.toString(16).toUpperCase().padStart(2, '0')}`;

/** `byte 0xFC at line 2, column 33 is not UTF-8` */
export function notUtf8Where (bad: NotUtf8, line?: number): string {
  return `byte ${hex(bad)} at ${line === undefined ? '' : `line ${line}, `}column ${bad.column} is not UTF-8`;
}

/** `byte 0xFC is not UTF-8`, where a FILE:LINE:COL before it says where. */
export function notUtf8Byte (bad: NotUtf8): string {
  return `byte ${hex(bad)} is not UTF-8`;
}

export const LATIN1_HINT = 'a Latin-1 text converts with iconv -f latin1 -t utf-8';

/** The reject reason for a record with a line that is not UTF-8. */
export function notUtf8Reason (bad: NotUtf8, line?: number): string {
  return `record is not UTF-8 text: ${notUtf8Where(bad, line)}; vigil reads UTF-8 (${LATIN1_HINT})`;
}

/** The first byte of `line` that is not UTF-8, or undefined when the line is UTF-8. */
export function firstNonUtf8 (line: Uint8Array): NotUtf8 | undefined {
  if (isUtf8(line)) return undefined;
  let i = 0;
  while (i < line.length) {
    const b = line[i]!;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return { column: i + 1, byte: b };
    for (let k = 1; k <= need; k++) {
      const c = line[i + k];
      // The second byte's range is narrower after E0, ED, F0 and F4 (overlong forms, surrogates, past U+10FFFF).
      const lo = k === 1 && b === 0xe0 ? 0xa0 : k === 1 && b === 0xf0 ? 0x90 : 0x80;
      const hi = k === 1 && b === 0xed ? 0x9f : k === 1 && b === 0xf4 ? 0x8f : 0xbf;
      if (c === undefined || c < lo || c > hi) return { column: i + 1, byte: b };
    }
    i += need + 1;
  }
  return { column: line.length, byte: line[line.length - 1] ?? 0 };
}

/**
 * The lines of `bytes` (split on `\n`, numbered from 1) that are not UTF-8, with where; empty
 * when all of it is UTF-8 (checked whole first: the usual case costs one native call).
 */
export function nonUtf8Lines (bytes: Uint8Array): Map<number, NotUtf8> {
  const bad = new Map<number, NotUtf8>();
  if (isUtf8(bytes)) return bad;
  let line = 0;
  let from = 0;
  while (from <= bytes.length) {
    let nl = bytes.indexOf(10, from);
    if (nl < 0) nl = bytes.length;
    line++;
    const found = firstNonUtf8(bytes.subarray(from, nl));
    if (found !== undefined) bad.set(line, found);
    from = nl + 1;
  }
  return bad;
}

/** The first line of `bytes` that is not UTF-8 (numbered from 1), with where in it; undefined when all of it is UTF-8. */
export function firstNonUtf8Line (bytes: Uint8Array): { line: number, bad: NotUtf8 } | undefined {
  const first = nonUtf8Lines(bytes).entries().next().value;
  return first === undefined ? undefined : { line: first[0], bad: first[1] };
}

/** A text file with bytes that are not UTF-8; the message says where, from the file's name on. */
export class NotUtf8FileError extends Error {
  readonly file: string;
  readonly line: number;
  readonly bad: NotUtf8;
  constructor (file: string, line: number, bad: NotUtf8) {
    super(`${file}:${line}:${bad.column}: ${notUtf8Byte(bad)}; vigil reads UTF-8 (${LATIN1_HINT})`);
    this.file = file;
    this.line = line;
    this.bad = bad;
  }
}

/** A file's text, refused (NotUtf8FileError) when its bytes are not UTF-8 rather than read with U+FFFD in their place. */
export function readUtf8File (path: string): string {
  const bytes = readFileSync(path);
  const first = firstNonUtf8Line(bytes);
  if (first !== undefined) throw new NotUtf8FileError(path, first.line, first.bad);
  return bytes.toString('utf8');
}

/**
 * JSON lines: one record per line (https://jsonlines.org). Pure: a line in, a decoded value
 * out; whether the value is a valid record is parseUsageRecord's call.
 */
import { InvalidRecordError } from '../errors.js';
import type { LineReader } from './line-reader.js';

/**
 * Decodes one line. A leading byte-order mark is dropped (Windows editors write one at the
 * start of a file). The error says what JSON.parse objected to, so a reject is actionable;
 * V8 quotes the input in some of its messages, hence the clip.
 */
export function parseJsonLine (line: string): unknown {
  const text = line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
  try {
    return JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new InvalidRecordError('record', `valid JSON (${why.length > 120 ? `${why.slice(0, 119)}…` : why})`, text);
  }
}

/** JSON lines as a LineReader. A JSON value never spans lines here, so nothing is ever pending. */
export class JsonlReader implements LineReader {
  get pending (): boolean { return false; }
  push (line: string): unknown { return parseJsonLine(line); }
  reset (): void {}
}

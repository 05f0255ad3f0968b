/**
 * Raw records from a file or standard input, streamed: bytes are split into lines here and
 * each line goes to the format's pure reader (core/readers). Memory stays constant whatever
 * the input size: one read chunk, plus at most one record's worth of a line being assembled.
 * An input that starts with gzip's magic bytes (1f 8b) is decompressed on the way, whatever
 * its name, members one after another as zcat reads them; lines and positions are those of
 * the decompressed text. Every problem becomes a Reject with its source position, never an
 * exception, except an input that cannot be read at all (an error from the file system) or
 * not past a point (a gzip file that is truncated or damaged: InputDamagedError).
 */
import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { extname } from 'node:path';
import { constants as zlibConstants, createGunzip } from 'node:zlib';
import { EngineError, InputDamagedError, InvalidRecordError } from '../core/errors.js';
import { MAX_RECORD_BYTES } from '../core/usage-record.js';
import type { Reject, SourcePosition } from '../core/usage-record.js';
import type { Zone } from '../core/zone.js';
import { AsteriskReader } from '../core/readers/asterisk.js';
import { CsvReader } from '../core/readers/csv.js';
import { JsonlReader } from '../core/readers/jsonl.js';
import type { LineReader } from '../core/readers/line-reader.js';
import { firstNonUtf8, notUtf8Reason, type NotUtf8 } from './utf8-text.js';

export type RecordFormat = 'jsonl' | 'csv' | 'asterisk';

/** One record as read: a decoded value still to be validated, or why it could not be read. */
export type RawRecord =
  | { readonly ok: true, readonly value: unknown, readonly position: SourcePosition, readonly text: string }
  | { readonly ok: false, readonly reject: Reject };

export interface ReadOptions {
  /** The zone Asterisk's wall-clock times are in (`--input-tz`). */
  readonly inputZone: Zone;
  /** Bytes per read (default 64 KiB); tests make it tiny to cut lines and characters across reads. */
  readonly chunkBytes?: number;
}

/**
 * A format from a file name's extension, a trailing `.gz` aside (`cdr.csv.gz` is CSV);
 * undefined when the extension says nothing.
 */
export function formatOf (path: string): 'jsonl' | 'csv' | undefined {
  const name = /\.gz$/i.test(path) ? path.slice(0, -3) : path;
  switch (extname(name).toLowerCase()) {
    case '.jsonl': case '.ndjson': case '.json': return 'jsonl';
    case '.csv': return 'csv';
    default: return undefined;
  }
}

const TOO_LARGE = 'record larger than 64 KiB';
const CR_ONLY_HINT = "; the line holds a CR with no LF after it: if the file's lines end in CR alone, it reads as one line (convert it with tr '\\r' '\\n')";
const RAW_CLIP = 4096;
const DEFAULT_CHUNK_BYTES = 64 * 1024;
const NEWLINE = 10;
const CR = 13;

function readerFor (format: RecordFormat, opts: ReadOptions): LineReader {
  switch (format) {
    case 'jsonl': return new JsonlReader();
    case 'csv': return new CsvReader();
    case 'asterisk': return new AsteriskReader({ zone: opts.inputZone });
  }
}

function isBlank (line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 0xfeff) return false;
  }
  return true;
}

function clip (text: string): string {
  return text.length > RAW_CLIP ? text.slice(0, RAW_CLIP) : text;
}

/**
 * Turns lines into RawRecords with one LineReader, keeping a record that spans lines (CSV)
 * under the size limit too.
 */
class Assembler {
  private readonly reader: LineReader;
  private readonly source: string;
  private startLine = 0;
  /** The record's first line, and the further ones when it spans lines. */
  private head = '';
  private more: string[] | undefined;
  private bytes = 0;
  /** the first line of the open record that is not UTF-8, if one is: the record is rejected for it */
  private notUtf8: { line: number, bad: NotUtf8 } | undefined;

  constructor (reader: LineReader, source: string) {
    this.reader = reader;
    this.source = source;
  }

  /** One line of at most MAX_RECORD_BYTES; `bad`: where its bytes were not UTF-8. */
  line (text: string, lineNo: number, out: RawRecord[], bad?: NotUtf8): void {
    if (!this.reader.pending) {
      if (isBlank(text) && bad === undefined) return;
      this.startLine = lineNo;
      this.head = text;
      this.more = undefined;
      this.notUtf8 = undefined;
    } else {
      // Bytes only count once a record spans lines: the splitter checked each line alone.
      if (this.more === undefined) {
        this.more = [];
        this.bytes = Buffer.byteLength(this.head);
      }
      this.more.push(text);
      this.bytes += 1 + Buffer.byteLength(text);
      if (this.bytes > MAX_RECORD_BYTES) {
        this.reader.reset(this.head);
        out.push(this.reject(TOO_LARGE, this.text()));
        return;
      }
    }
    if (bad !== undefined && this.notUtf8 === undefined) this.notUtf8 = { line: lineNo, bad };
    let value: unknown;
    try {
      value = this.reader.push(text, this.startLine);
    } catch (err) {
      if (!(err instanceof EngineError)) throw err;
      // The bytes are the cause when they are not text: say that rather than what they broke.
      out.push(this.notUtf8 !== undefined ? this.rejectNotUtf8() : this.reject(err.message, this.text(), err.code));
      return;
    }
    if (value !== undefined) {
      out.push(this.notUtf8 !== undefined ? this.rejectNotUtf8() : { ok: true, value, position: { source: this.source, line: this.startLine }, text: this.text() });
    }
  }

  private rejectNotUtf8 (): RawRecord {
    const { line, bad } = this.notUtf8!;
    this.notUtf8 = undefined;
    return this.reject(notUtf8Reason(bad, line), this.text());
  }

  /** A line too long to read at all; `head` is its beginning, for the reject. */
  tooLong (head: string, lineNo: number, out: RawRecord[]): void {
    if (this.reader.pending) {
      // It would have pushed the open record past the limit anyway.
      this.reader.reset(this.head);
      out.push(this.reject(TOO_LARGE, this.text()));
      return;
    }
    this.startLine = lineNo;
    this.reader.reset(head);
    out.push(this.reject(TOO_LARGE, head));
  }

  /** The first line of the record still open across lines, if one is. */
  openLine (): number | undefined {
    return this.reader.pending ? this.startLine : undefined;
  }

  end (out: RawRecord[]): void {
    if (!this.reader.pending) return;
    this.reader.reset(this.head);
    const err = new InvalidRecordError('record', 'RFC 4180 CSV (a quoted field is still open at the end of the input)', this.head);
    out.push(this.reject(err.message, this.text(), err.code));
  }

  private text (): string {
    return this.more === undefined ? this.head : `${this.head}\n${this.more.join('\n')}`;
  }

  private reject (reason: string, raw: string, code = 'VIGIL_INVALID_RECORD'): RawRecord {
    // A CR left in a line (the CR of a CRLF is gone by now) most likely ends lines of a file
    // whose lines end in CR alone: all of it is then one line, and the reason alone
    // (larger than 64 KiB, or not JSON) would not say why.
    // (The CSV reader's own reasons about a CR say it already.)
    const why = raw.includes('\r') && !reason.includes(' a CR') ? `${reason}${CR_ONLY_HINT}` : reason;
    return { ok: false, reject: { reason: why, code, position: { source: this.source, line: this.startLine }, raw: clip(raw) } };
  }
}

/**
 * Splits bytes into lines on `\n` (a `\r` before it is dropped). The complete lines of a
 * chunk are decoded with one call and split as a string (a call into C++ per line costs a
 * third of the throughput); only the tail of a chunk is carried as bytes, so a character
 * cut by a read boundary is never mangled. A line that outgrows the record limit is not
 * kept: only its beginning is, for the reject.
 */
class LineSplitter {
  private readonly assembler: Assembler;
  private pieces: Buffer[] = [];
  private carried = 0;
  private oversized = false;
  private lineNo = 0;

  constructor (assembler: Assembler) { this.assembler = assembler; }

  push (chunk: Buffer, out: RawRecord[]): void {
    let start = 0;
    if (this.carried > 0 || this.oversized) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) {
        this.keep(chunk.subarray(start));
        return;
      }
      this.keep(chunk.subarray(start, nl));
      this.lineNo++;
      this.flush(out);
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(NEWLINE);
    if (last >= start && !isUtf8(chunk.subarray(start, last))) {
      // Line by line, as bytes: the record of a line that is not UTF-8 is rejected for it.
      while (start <= last) {
        const nl = chunk.indexOf(NEWLINE, start);
        this.lineNo++;
        const end = nl > start && chunk[nl - 1] === CR ? nl - 1 : nl;
        this.emit(chunk.toString('utf8', start, end), out, firstNonUtf8(chunk.subarray(start, end)));
        start = nl + 1;
      }
    } else if (last >= start) {
      const text = chunk.toString('utf8', start, last);
      let from = 0;
      for (;;) {
        const nl = text.indexOf('\n', from);
        const end = nl < 0 ? text.length : nl;
        this.lineNo++;
        this.emit(text.charCodeAt(end - 1) === CR ? text.slice(from, end - 1) : text.slice(from, end), out);
        if (nl < 0) break;
        from = nl + 1;
      }
      start = last + 1;
    }
    if (start < chunk.length) this.keep(chunk.subarray(start));
  }

  /**
   * The first line not read whole (nor, for a record spanning lines, the line it starts on):
   * where the input broke off when it cannot be read further. What was carried is dropped.
   */
  unreadLine (): number {
    return this.assembler.openLine() ?? this.lineNo + 1;
  }

  end (out: RawRecord[]): void {
    if (this.carried > 0 || this.oversized) {
      this.lineNo++;
      this.flush(out);
    }
    this.assembler.end(out);
  }

  private emit (text: string, out: RawRecord[], bad?: NotUtf8): void {
    // A byte-order mark is not part of the first record (checked on text: a read may split its bytes).
    const line = this.lineNo === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    if (overRecordLimit(line)) {
      this.assembler.tooLong(line.slice(0, RAW_CLIP), this.lineNo, out);
    } else {
      this.assembler.line(line, this.lineNo, out, bad);
    }
  }

  /** Keeps part of a line that continues in the next chunk (a copy: the chunk may be reused). */
  private keep (part: Buffer): void {
    if (this.oversized) return;
    this.pieces.push(Buffer.from(part));
    this.carried += part.length;
    // +1: a `\r` may still be dropped from the end.
    if (this.carried > MAX_RECORD_BYTES + 1) {
      this.pieces = [Buffer.concat(this.pieces).subarray(0, RAW_CLIP)];
      this.oversized = true;
    }
  }

  private flush (out: RawRecord[]): void {
    const line = Buffer.concat(this.pieces);
    this.pieces = [];
    this.carried = 0;
    if (this.oversized) {
      this.oversized = false;
      this.assembler.tooLong(line.toString('utf8'), this.lineNo, out);
    } else {
      const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
      this.emit(line.toString('utf8', 0, end), out, firstNonUtf8(line.subarray(0, end)));
    }
  }
}

/** Whether a record's text is over MAX_RECORD_BYTES in UTF-8 (HTTP bodies and NATS messages are held to it too). */
export function overRecordLimit (text: string): boolean {
  // UTF-16 length <= UTF-8 length <= 3 × UTF-16 length: count bytes only when it matters.
  return text.length > MAX_RECORD_BYTES || (text.length * 3 > MAX_RECORD_BYTES && Buffer.byteLength(text) > MAX_RECORD_BYTES);
}

/** A gzip stream zlib could not read on: the cause is zlib's error (Z_BUF_ERROR, Z_DATA_ERROR). */
class GzipBroken extends Error {}

/** An input in a compression vigil does not read; the message says which and how to undo it. */
class OtherCompression extends Error {}

/** Compressions whose magic bytes no text starts with, and the command that undoes each. */
const COMPRESSIONS: ReadonlyArray<{ name: string, cat: string, magic: readonly number[] }> = [
  { name: 'zstd', cat: 'zstdcat', magic: [0x28, 0xb5, 0x2f, 0xfd] },
  { name: 'xz', cat: 'xzcat', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { name: 'bzip2', cat: 'bzcat', magic: [0x42, 0x5a, 0x68] },
  { name: 'zip', cat: 'unzip -p', magic: [0x50, 0x4b, 0x03, 0x04] },
];

/** How many bytes of an input's head `otherCompressionOf` needs to tell. */
export const COMPRESSION_HEAD_BYTES = 10;

/**
 * The compression other than gzip (which is read as it comes) that an input starting with
 * `head` is in, and the command that undoes it; undefined for text or gzip. Read as text, such
 * an input would only give a reject per "line".
 */
export function otherCompressionOf (head: Buffer): { name: string, cat: string } | undefined {
  const found = COMPRESSIONS.find((c) => head.length >= c.magic.length && c.magic.every((b, i) => head[i] === b));
  // "BZh" could begin a text: bzip2 also has a block size digit and its block magic (pi's digits).
  if (found?.name === 'bzip2' && !(head.length >= 10 && head[3]! >= 0x31 && head[3]! <= 0x39 && head.subarray(4, 10).equals(Buffer.from([0x31, 0x41, 0x59, 0x26, 0x53, 0x59])))) return undefined;
  return found;
}

function asBuffer (chunk: Buffer | string): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
}

/**
 * The input's bytes, decompressed when its first two are gzip's magic bytes (1f 8b: no text
 * starts so, 8b being no first byte of a UTF-8 character), else as they are. An input in another
 * compression throws OtherCompression before anything of it is handed on (a regular file is
 * refused before the run, by the CLI; standard input and pipes are found out here).
 */
async function * plainOrGunzipped (raw: AsyncIterable<Buffer | string>, chunkBytes: number): AsyncGenerator<Buffer> {
  const it = raw[Symbol.asyncIterator]();
  const rest: AsyncIterable<Buffer | string> = { [Symbol.asyncIterator]: () => it };
  let head: Buffer = Buffer.alloc(0);
  let ended = false;
  try {
    // A read may give fewer bytes than the head needs (standard input, a tiny read size).
    while (head.length < COMPRESSION_HEAD_BYTES) {
      const next = await it.next();
      if (next.done === true) { ended = true; break; }
      head = head.length === 0 ? asBuffer(next.value) : Buffer.concat([head, asBuffer(next.value)]);
    }
    if (head.length === 0) return;
    const other = otherCompressionOf(head);
    if (other !== undefined) throw new OtherCompression(`it is ${other.name}-compressed, which vigil does not read (it reads gzip): decompress it first (${other.cat} FILE | vigil … -)`);
    if (head[0] !== 0x1f || head[1] !== 0x8b) {
      yield head;
      if (!ended) for await (const chunk of rest) yield asBuffer(chunk);
      return;
    }
    yield * gunzip(head, ended ? undefined : rest, chunkBytes);
  } finally {
    await it.return?.();
  }
}

/**
 * Decompresses `head` and then `rest` (undefined: the input ended within the head), one read
 * at a time: each read is written to zlib and what it decompresses to is handed on before the next read, so memory is bounded by what one
 * read decompresses to. zlib's output is taken as it comes ('data'), not from its readable
 * buffer, which an error would discard: up to the error, every byte zlib handed over is kept
 * (zlib drops the output of the step that fails; on a truncated file that step has none).
 * Members follow one another as zcat reads them; zero bytes after the last are padding, but
 * anything else after it is damage, as zlib says.
 */
async function * gunzip (head: Buffer, rest: AsyncIterable<Buffer | string> | undefined, chunkBytes: number): AsyncGenerator<Buffer> {
  const z = createGunzip({ chunkSize: Math.max(zlibConstants.Z_MIN_CHUNK, chunkBytes) });
  let out: Buffer[] = [];
  let failure: Error | undefined;
  // zlib ends its output early when zero bytes follow a member, and takes (ignores) the rest.
  let ended = false;
  let wake: () => void = () => undefined;
  z.on('data', (chunk: Buffer) => { out.push(chunk); });
  z.on('error', (err: Error) => { failure = err; wake(); });
  z.on('end', () => { ended = true; wake(); });
  // Resolves once zlib has taken `chunk` (or, with none, has ended its output), or has failed.
  const step = async (chunk: Buffer | undefined): Promise<void> => {
    if (failure !== undefined || (chunk === undefined && ended)) return;
    await new Promise<void>((resolve) => {
      wake = resolve;
      if (chunk === undefined) z.end();
      else z.write(chunk, () => { resolve(); });
    });
  };
  try {
    for (let chunk: Buffer | undefined = head; ;) {
      await step(chunk);
      const got = out;
      out = [];
      yield * got;
      if (failure !== undefined) throw new GzipBroken(failure.message, { cause: failure });
      if (chunk === undefined) return;
      const next = rest === undefined ? undefined : await rest[Symbol.asyncIterator]().next();
      chunk = next === undefined || next.done === true ? undefined : asBuffer(next.value);
    }
  } finally {
    z.destroy();
  }
}

/** What broke in a gzip stream, in words: zlib says "unexpected end of file" when it is cut short. */
function gzipReason (err: GzipBroken): string {
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
  return code === 'Z_BUF_ERROR' ? `the gzip data is truncated (zlib: ${err.message})` : `the gzip data is damaged (zlib: ${err.message})`;
}

/**
 * The input's records in batches, one batch per read chunk: a consumer that handles a batch
 * synchronously pays one promise per chunk, not one per record. Reads are 64 KiB (fs's
 * default): a batch of a few hundred records dies young, while 1 MiB batches survive into
 * the old generation and cost a third of the throughput in GC (measured on 1M lines). A gzip
 * input gives batches of at most 64 KiB of decompressed text too.
 * `format` undefined: from the file's extension (a trailing `.gz` aside), else JSON lines.
 * A gzip input that breaks off throws InputDamagedError after the records before the break;
 * the line cut there (or the CSV record open there) is not one of them.
 */
export async function * readRawBatches (input: string, format: RecordFormat | undefined, opts: ReadOptions): AsyncGenerator<RawRecord[]> {
  const stdin = input === '-';
  const source = stdin ? 'stdin' : input;
  const reader = readerFor(format ?? (stdin ? undefined : formatOf(input)) ?? 'jsonl', opts);
  const splitter = new LineSplitter(new Assembler(reader, source));
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const stream = stdin ? process.stdin : createReadStream(input, { highWaterMark: chunkBytes });
  try {
    for await (const chunk of plainOrGunzipped(stream as AsyncIterable<Buffer | string>, chunkBytes)) {
      const out: RawRecord[] = [];
      splitter.push(chunk, out);
      if (out.length > 0) yield out;
    }
  } catch (err) {
    if (err instanceof OtherCompression) throw new InputDamagedError(source, 1, err.message, 'nothing of it was read');
    if (!(err instanceof GzipBroken)) throw err;
    const line = splitter.unreadLine();
    throw new InputDamagedError(source, line, gzipReason(err), `the records before line ${line} were read, nothing from there on`, { cause: err.cause });
  }
  const out: RawRecord[] = [];
  splitter.end(out);
  if (out.length > 0) yield out;
}

/** The input's records one by one; see readRawBatches for the faster form. */
export async function * readRawRecords (input: string, format: RecordFormat | undefined, opts: ReadOptions): AsyncGenerator<RawRecord> {
  for await (const batch of readRawBatches(input, format, opts)) yield * batch;
}

/**
 * `vigil replay`: runs recorded CDRs through the engine and writes every alert as one JSON
 * line. Reading, validation and lateness happen here, in input order; accepted records go in
 * epochs (a fixed number of input records) to the engine: shard actors on worker threads with
 * counters in LMDB (the default), or the single-threaded core in this thread (`threads: 0`),
 * which the threaded engine must match byte for byte except `detectedAt`.
 *
 * With a data folder, each epoch ends in a checkpoint, so a killed run started again with the
 * same folder, rules and inputs resumes after the last checkpoint: no alert or reject is lost
 * or written twice to a file output. The position a checkpoint keeps is a count of records
 * read across the inputs, so a resumed run reads its inputs again from the start and skips
 * that many: a gzip input is decompressed from its start like any other is read from its.
 *
 * A gzip input that breaks off (truncated or damaged) stops the run as an input that cannot
 * be read does, but only once every record before the break has been run, its alerts written
 * and (with a data folder) committed: the same run on a whole copy of the file then resumes
 * exactly there. No later input is read, as its records would take positions a whole copy's
 * records will need.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '../core/alert.js';
import type { Reject, UsageRecord } from '../core/usage-record.js';
import { alertComparator, type IndexedAlert } from '../core/alert-order.js';
import { Engine } from '../core/engine.js';
import { Ingest } from '../core/ingest.js';
import { Zone } from '../core/zone.js';
import { InputDamagedError, RefusedError } from '../core/errors.js';
import { rulesFingerprint, type CompiledRules } from '../core/compile.js';
import { readRawRecords } from './record-source.js';
import { LineWriter } from './output.js';
import { EmbeddedEngine, type EpochResult, type RestartEvent } from './embedded.js';
import { CheckpointStore, STREAM_EPOCH_SIZE, type Checkpoint } from './checkpoint.js';
import { requireFolderRules } from './data-folder.js';
import { Blocklist } from './blocklist.js';
import { claimDataFolder } from '../workers/data-folder-lock.js';

export type InputFormat = 'jsonl' | 'csv' | 'asterisk';

export interface ReplayOptions {
  readonly compiled: CompiledRules;
  readonly inputs: readonly string[];
  readonly format?: InputFormat | undefined;
  readonly inputZone?: string | undefined;
  readonly alerts?: string | undefined;
  readonly rejects?: string | undefined;
  /** shard actor threads; 0 runs the single-threaded core in this thread without a store */
  readonly threads: number;
  /** a data folder to keep (and resume from); a temporary one when absent */
  readonly dataPath?: string | undefined;
  readonly shards?: number;
  readonly epochSize?: number;
  /** Called about every 250 ms and at the end. */
  readonly progress?: ((s: ReplaySummary) => void) | undefined;
  /** for tests: the shard actor thread module */
  readonly workerFile?: string;
  /** Called when a shard actor's thread is restarted after a failed commit (see EmbeddedEngine). */
  readonly onRestart?: ((event: RestartEvent) => void) | undefined;
}

export interface ReplaySummary {
  read: number;
  rejected: number;
  alerts: number;
  ms: number;
  /** records skipped because a previous run had committed them */
  resumed: number;
}

export function rejectLine (reject: Reject): string {
  const { position } = reject;
  return JSON.stringify({
    reason: reject.reason,
    code: reject.code,
    source: position.source,
    ...(position.line === undefined ? {} : { line: position.line }),
    ...(position.seq === undefined ? {} : { seq: position.seq }),
    raw: reject.raw,
  });
}

/** Records cut into one epoch: what the engine applies and the coordinator checkpoints as one. */
export interface Epoch {
  readonly number: number;
  readonly records: UsageRecord[];
  readonly index: number[];
  readonly watermark: number[];
  /** rejects by ingest, and the raw text and position of every accepted record (for engine failures) */
  readonly rejects: Array<{ index: number, reject: Reject }>;
  readonly sources: Map<number, { position: Reject['position'], text: string }>;
  size: number;
}

export function newEpoch (n: number): Epoch {
  return { number: n, records: [], index: [], watermark: [], rejects: [], sources: new Map(), size: 0 };
}

/** An applied epoch's rejects in input order: ingest's, and the records the engine failed on. */
export function epochRejects (epoch: Epoch, result: EpochResult): Reject[] {
  const rejects: Array<{ index: number, reject: Reject }> = [...epoch.rejects];
  for (const f of result.failures) {
    const src = epoch.sources.get(f.index);
    rejects.push({ index: f.index, reject: { reason: f.reason, code: f.code, position: src?.position ?? { source: '?' }, raw: src?.text ?? '' } });
  }
  rejects.sort((a, b) => a.index - b.index);
  return rejects.map((r) => r.reject);
}

export async function replay (opts: ReplayOptions): Promise<ReplaySummary> {
  // A kept folder is taken and read first: one process per folder, and a damaged LMDB file
  // would crash this one (data-folder-lock.ts, store-probe.ts).
  const lock = opts.threads > 0 && opts.dataPath !== undefined ? claimDataFolder(opts.dataPath, 'vigil replay') : undefined;
  try {
    return await replayHolding(opts);
  } finally {
    lock?.release();
  }
}

async function replayHolding (opts: ReplayOptions): Promise<ReplaySummary> {
  const { compiled } = opts;
  const epochSize = opts.epochSize ?? 16_384;
  const shards = opts.shards ?? 64;
  const tempData = opts.threads > 0 && opts.dataPath === undefined ? mkdtempSync(join(tmpdir(), 'vigil-replay-')) : undefined;
  const dataPath = opts.dataPath ?? tempData;
  const checkpoints = opts.threads > 0 && dataPath !== undefined ? new CheckpointStore(dataPath) : undefined;
  const resumeFrom = checkpoints?.read();
  try {
    if (resumeFrom?.epochSize === STREAM_EPOCH_SIZE) {
      throw new RefusedError(`--data: the data folder ${dataPath} belongs to vigil serve: records that came as a stream have no input position for a replay to resume from; give vigil replay another --data folder`);
    }
    if (resumeFrom !== undefined && (resumeFrom.epochSize !== epochSize || resumeFrom.shards !== shards)) {
      throw new RefusedError(`--data: the data folder ${dataPath} was written with ${resumeFrom.shards} shards and epochs of ${resumeFrom.epochSize} records; resume with the same settings or use another --data folder`);
    }
    // Before any actor opens it; the actors would refuse it only once sent records, as an engine failure.
    if (opts.dataPath !== undefined && checkpoints !== undefined) await requireFolderRules('--data', opts.dataPath, rulesFingerprint(compiled.config));
  } catch (err) {
    await checkpoints?.close();
    throw err;
  }

  const ingest = new Ingest(compiled);
  const alertOut = new LineWriter(opts.alerts, resumeFrom?.alertsBytes ?? 0);
  const rejectOut = opts.rejects === undefined ? undefined : new LineWriter(opts.rejects, resumeFrom?.rejectsBytes ?? 0);
  const inputZone = new Zone(opts.inputZone ?? compiled.config.timezone);
  const started = Date.now();
  const summary: ReplaySummary = { read: 0, rejected: 0, alerts: 0, ms: 0, resumed: 0 };
  const compare = alertComparator(compiled.config.rules);
  let lastProgress = started;

  const engine = opts.threads > 0
    ? new EmbeddedEngine({
      config: compiled.config,
      compiled,
      dataPath: dataPath as string,
      actors: opts.threads,
      shards,
      ...(opts.workerFile === undefined ? {} : { workerFile: opts.workerFile }),
      ...(opts.onRestart === undefined ? {} : { onRestart: opts.onRestart }),
    })
    : undefined;
  const core = engine === undefined ? new Engine(compiled, Date.now) : undefined;
  // A kept data folder gets the blocks of `action: block` rules, as a node's does.
  const blocklist = engine !== undefined && opts.dataPath !== undefined ? Blocklist.open(opts.dataPath) : undefined;

  // Writes one finished epoch's output, then checkpoints it.
  const pending: Array<{ epoch: Epoch, result: Promise<EpochResult>, position: number, watermark: number }> = [];
  let checkpointWrite: Promise<void> = Promise.resolve();
  const finish = async (): Promise<void> => {
    const head = pending.shift()!;
    const result = await head.result;
    const rejects = epochRejects(head.epoch, result);
    for (const { alert } of result.alerts) alertOut.write(JSON.stringify(alert));
    for (const reject of rejects) rejectOut?.write(rejectLine(reject));
    alertOut.flush();
    rejectOut?.flush();
    summary.alerts += result.alerts.length;
    summary.rejected += rejects.length;
    const blocked = blocklist?.recordEpoch(head.epoch.number, result.alerts.map((a) => a.alert), compiled.config.rules, Date.now());
    blocked?.catch(() => undefined); // awaited before the checkpoint
    if (checkpoints !== undefined) {
      const cp: Checkpoint = { epoch: head.epoch.number, position: head.position, watermark: head.watermark, epochSize, shards, alertsBytes: alertOut.bytes, rejectsBytes: rejectOut?.bytes ?? 0 };
      const epoch = head.epoch.number;
      checkpointWrite = checkpointWrite.then(() => blocked).then(() => checkpoints.write(cp)).then(() => engine?.release(epoch));
    }
  };

  const coreApply = (epoch: Epoch): EpochResult => {
    const alerts: IndexedAlert[] = [];
    const failures: EpochResult['failures'][number][] = [];
    const out: Alert[] = [];
    for (let i = 0; i < epoch.records.length; i++) {
      core!.advance(epoch.watermark[i]!);
      out.length = 0;
      try {
        core!.process(epoch.records[i]!, undefined, out);
      } catch (err) {
        const e = ingest.reject(err, { source: '?' }, '');
        failures.push({ index: epoch.index[i]!, reason: e.reason, code: e.code });
      }
      for (const alert of out) alerts.push({ index: epoch.index[i]!, alert });
    }
    alerts.sort(compare);
    return { epoch: epoch.number, alerts, failures };
  };

  const depth = 4;
  // With shard actors, an epoch's records are routed and packed as they come (EpochParts); the
  // core keeps them in the epoch.
  let parts = engine?.startEpoch();
  const submit = async (epoch: Epoch, position: number): Promise<void> => {
    const result = engine !== undefined && parts !== undefined
      ? engine.applyParts(epoch.number, parts)
      : Promise.resolve(coreApply(epoch));
    parts = engine?.startEpoch();
    result.catch(() => undefined); // awaited in order by finish()
    pending.push({ epoch, result, position, watermark: ingest.watermark });
    if (pending.length >= depth) await finish();
  };

  let skip = resumeFrom?.position ?? 0;
  if (resumeFrom !== undefined) {
    ingest.watermark = resumeFrom.watermark;
    summary.resumed = skip;
  }
  let position = skip;
  let epoch = newEpoch((resumeFrom?.epoch ?? 0) + 1);
  // One input's records into epochs, after skipping those an earlier run committed.
  const readInput = async (input: string): Promise<void> => {
    for await (const raw of readRawRecords(input, opts.format, { inputZone })) {
      if (skip > 0) { skip--; continue; }
      summary.read++;
      position++;
      const at = epoch.size++;
      if (!raw.ok) {
        epoch.rejects.push({ index: at, reject: raw.reject });
      } else {
        const prepared = ingest.prepare(raw.value, raw.position, raw.text);
        if (!prepared.ok) {
          epoch.rejects.push({ index: at, reject: prepared.reject });
        } else {
          if (parts !== undefined) {
            parts.add(prepared.record, at, ingest.watermark);
          } else {
            epoch.records.push(prepared.record);
            epoch.index.push(at);
            epoch.watermark.push(ingest.watermark);
          }
          epoch.sources.set(at, { position: raw.position, text: raw.text });
        }
      }
      if (epoch.size === epochSize) {
        await submit(epoch, position);
        epoch = newEpoch(epoch.number + 1);
        const now = Date.now();
        if (opts.progress !== undefined && now - lastProgress >= 250) {
          lastProgress = now;
          opts.progress({ ...summary, ms: now - started });
        }
      }
    }
  };
  let damaged: { error: InputDamagedError, later: number } | undefined;
  try {
    for (const [i, input] of opts.inputs.entries()) {
      try {
        await readInput(input);
      } catch (err) {
        if (!(err instanceof InputDamagedError)) throw err;
        damaged = { error: err, later: opts.inputs.length - i - 1 };
        break;
      }
    }
    if (epoch.size > 0) await submit(epoch, position);
    while (pending.length > 0) await finish();
    await checkpointWrite;
  } finally {
    alertOut.close();
    rejectOut?.close();
    await engine?.close();
    await blocklist?.close();
    await checkpoints?.close();
    if (tempData !== undefined) rmSync(tempData, { recursive: true, force: true });
  }
  summary.ms = Date.now() - started;
  opts.progress?.(summary);
  if (damaged !== undefined) {
    const { error, later } = damaged;
    const rest = later === 0 ? '' : `, the ${later === 1 ? 'INPUT' : `${later} INPUTs`} after it ${later === 1 ? 'was' : 'were'} not read`;
    const resume = opts.dataPath === undefined ? '' : `; once the ${error.source === 'stdin' ? 'input' : 'file'} ${error.line === 1 ? 'can be read' : 'is whole'}, the same run on --data ${opts.dataPath} goes on from there`;
    const done = error.line === 1 ? 'nothing of it was run' : `the records before line ${error.line} were run and their alerts written`;
    throw new InputDamagedError(error.source, error.line, error.reason, `${done}${rest}${resume}`, { cause: error.cause });
  }
  return summary;
}

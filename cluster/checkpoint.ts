/**
 * The coordinator's checkpoint in the data folder: how far the input has been consumed, the
 * ingest watermark there, and how many bytes of each output belong to committed epochs. It is
 * written after the epoch's outputs reached the files and after every actor committed the
 * epoch; on resume, outputs are cut back to these offsets and the input is read again from
 * this position, so each alert and reject is written exactly once.
 */
import type { RootDatabase } from 'lmdb';
import { disk } from '../workers/codec.js';
import { openDataFolder } from '../workers/lmdb-env.js';

/**
 * Streaming input in the data folder's checkpoint: epochs have no fixed size and the input
 * has no position to resume from (a producer sends again what was not acknowledged), so the
 * position is the epoch count and `epochSize` is 0. Replay refuses such a folder, since it
 * would skip input by position.
 */
export const STREAM_EPOCH_SIZE = 0;

export interface Checkpoint {
  readonly epoch: number;
  /** raw input records consumed (accepted and rejected), across all inputs in order */
  readonly position: number;
  readonly watermark: number;
  readonly epochSize: number;
  readonly shards: number;
  readonly alertsBytes: number;
  readonly rejectsBytes: number;
}

export class CheckpointStore {
  private readonly db: RootDatabase;

  constructor (path: string) {
    this.db = openDataFolder(path, { compression: false, encoder: { encode: (v: unknown) => disk.pack(v), decode: (b: Buffer) => disk.unpack(b) } as never });
  }

  read (): Checkpoint | undefined {
    return this.db.get(['coordinator']) as Checkpoint | undefined;
  }

  async write (c: Checkpoint): Promise<void> {
    await this.db.put(['coordinator'], c);
  }

  async close (): Promise<void> {
    await this.db.close();
  }
}

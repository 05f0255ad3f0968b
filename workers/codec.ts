/**
 * The one msgpackr configuration used between threads, over NATS and in LMDB. Records share a
 * structure, so the record extension writes the field names once per message; without shared
 * structures every message is self-describing (nothing to lose on a crash). `moreTypes` keeps
 * the Sets and Maps of counter state intact.
 */
import { Packr } from 'msgpackr';

export const wire = new Packr({ useRecords: true, moreTypes: true });

/** For LMDB values: the same format. */
export const disk = wire;

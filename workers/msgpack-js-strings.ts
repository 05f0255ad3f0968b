/**
 * Turns off msgpackr's native string extraction (msgpackr-extract) in this thread and in every
 * thread or process started from it, before msgpackr is loaded: codec.ts imports this module
 * first, and is the only module that imports msgpackr.
 *
 * Why: msgpackr-extract keeps the table it uses to step over MessagePack values in one array for
 * the whole process, and every thread that loads the addon wipes and refills it. A thread that
 * is extracting strings at that moment steps over a float64 as if it were one byte and reads
 * string bytes from inside the number, which decodes an alert's `record` or `ts` as garbage
 * without any error. Vigil starts threads while others decode (shard actors on resume, a
 * restarted actor, the notifier), and the SIGKILL replay test caught it once under load. The
 * race was shown directly by calling the extractor in one thread while others loaded the addon:
 * 26 wrong answers in 282,180 calls with 366 loads, none in 326,801 calls without them. The
 * cost: a shard thread decodes its batches at about 1.1M records/s instead of 1.3M, some 0.15 us
 * more per record, about 1 % of its time at the rates of bench/replay.bench.ts (bench/RESULTS.md).
 */
process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED = 'true';

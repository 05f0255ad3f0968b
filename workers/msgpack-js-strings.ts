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
 * cost, from bench/msgpack-strings.bench.ts on this noisy 2-core machine: prepared records decode
 * at 0.44x to 0.99x of the native speed (0.7M to 1.26M records/s), up to about 0.6 us more per
 * record, 2 to 4 % of a shard thread's time at the rates of bench/replay.bench.ts.
 */
process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED = 'true';

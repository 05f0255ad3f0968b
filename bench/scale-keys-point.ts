/**
 * One key-scaling point of `vigil bench` in a process of its own, started by scaling.ts with
 * the heap the point needs (`node --max-old-space-size=MiB dist/bench/scale-keys-point.js KEYS`).
 * Prints the point as one JSON line.
 */
import { keyPoint } from './scaling.js';

const keys = Number(process.argv[2]);
if (!Number.isInteger(keys) || keys < 1) {
  process.stderr.write(`usage: scale-keys-point.js KEYS (a positive integer), got ${process.argv[2] ?? 'nothing'}\n`);
  process.exit(2);
}
const point = await keyPoint(keys);
process.stdout.write(JSON.stringify(point) + '\n');
process.exit(0);

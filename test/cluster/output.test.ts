// cluster/output: LineWriter, the alerts and rejects files of replay and serve: lines written at
// the file's offsets (so a restart can cut back to a checkpoint), and a file rotated by
// truncation (logrotate's copytruncate) written on at its new end, without a hole of NUL bytes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineWriter } from '../../cluster/output.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

interface Ctx { dir: string }
const output = suite<Ctx>('cluster/output: LineWriter', {} as Ctx);
output.before.each((ctx) => { ctx.dir = tempDir(); });
output.after.each((ctx) => { removeDir(ctx.dir); });

output('lines are written at flush, and bytes counts what the file holds', ({ dir }) => {
  const file = join(dir, 'alerts.jsonl');
  const w = new LineWriter(file);
  w.write('{"a":1}');
  assert.is(readFileSync(file, 'utf8'), '', 'nothing before flush');
  w.flush();
  w.write('{"a":2}');
  w.close();
  assert.is(readFileSync(file, 'utf8'), '{"a":1}\n{"a":2}\n');
  assert.is(w.bytes, 16);
});

output('resuming at a checkpoint cuts what was written after it', ({ dir }) => {
  const file = join(dir, 'alerts.jsonl');
  writeFileSync(file, '{"a":1}\n{"a":2}\n');
  const w = new LineWriter(file, 8);
  w.write('{"a":3}');
  w.close();
  assert.is(readFileSync(file, 'utf8'), '{"a":1}\n{"a":3}\n');
});

output('a file truncated by log rotation (copytruncate) is written on at its new end, with no NUL bytes', ({ dir }) => {
  const file = join(dir, 'alerts.jsonl');
  const w = new LineWriter(file);
  w.write('{"before":1}');
  w.write('{"before":2}');
  w.flush();
  truncateSync(file, 0);
  w.write('{"after":1}');
  w.flush();
  assert.is(readFileSync(file, 'utf8'), '{"after":1}\n');
  assert.is(w.bytes, 12, 'the checkpoint gets the offset in the new file');
  w.write('{"after":2}');
  w.close();
  assert.is(readFileSync(file, 'utf8'), '{"after":1}\n{"after":2}\n');
});

output('resuming at a checkpoint beyond a file rotated since appends to what is there', ({ dir }) => {
  const file = join(dir, 'alerts.jsonl');
  writeFileSync(file, '{"rotated":1}\n');
  const w = new LineWriter(file, 4_096);
  w.write('{"a":1}');
  w.close();
  assert.is(readFileSync(file, 'utf8'), '{"rotated":1}\n{"a":1}\n');
});

output.run();

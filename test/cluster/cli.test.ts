// The `vigil` command as interfaces.md specifies it: output on the right stream, in the right
// form, with the right exit code (0 ran, 2 bad usage or invalid rules, 1 engine failure).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import { VIGIL, runVigil } from '../helpers/cli.js';
import { request, startServe, stopServe } from '../helpers/node.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { trafficLines } from '../helpers/traffic.js';

interface Ctx { dir: string, rules: string }
const cli = suite<Ctx>('cluster/cli: vigil check and vigil replay', {} as Ctx);

const RULES = `version: 1
timezone: Europe/Berlin
rules:
  - id: calls-day
    by: account
    measure: count
    window: day
    limit: 2
`;

cli.before((ctx) => {
  ctx.dir = tempDir();
  ctx.rules = join(ctx.dir, 'rules.yaml');
  writeFileSync(ctx.rules, RULES);
});
cli.after((ctx) => { removeDir(ctx.dir); });

cli('check on a valid file says ok on stdout and exits 0', async ({ rules }) => {
  const r = await runVigil(['check', '--rules', rules]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `${rules}: ok, 1 rules (1 enabled), 1 counters at 1 levels\n`);
});

cli('check prints every problem as FILE:LINE:COL message and exits 2', async ({ dir }) => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, RULES.replace('window: day', 'windw: day').replace('limit: 2', 'limit: -1'));
  const r = await runVigil(['check', '--rules', bad]);
  assert.is(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.length >= 2, r.stderr);
  for (const line of lines) assert.match(line, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+ `));
  assert.match(r.stderr, /did you mean "window"\?/);
});

cli('check of a missing file exits 2 naming it', async ({ dir }) => {
  const r = await runVigil(['check', '--rules', join(dir, 'nope.yaml')]);
  assert.is(r.code, 2);
  assert.is(r.stderr, `${join(dir, 'nope.yaml')}:1:1 cannot read the rules file: no such file\n`);
});

// A Latin-1 byte became U+FFFD: an account in `limits` or a name in a list file was another key.
cli('check refuses a rules file, a list file or a limits file that is not UTF-8, at the byte, and exits 2', async ({ dir }) => {
  const hint = 'a Latin-1 text converts with iconv -f latin1 -t utf-8';
  const rules = join(dir, 'latin1.yaml');
  writeFileSync(rules, Buffer.from('version: 1\nrules:\n  - { id: müller-day, by: account, measure: count, window: day, limit: 2 }\n', 'latin1'));
  const r = await runVigil(['check', '--rules', rules]);
  assert.equal([r.code, r.stderr], [2, `${rules}:3:12 byte 0xFC is not UTF-8; the rules file must be UTF-8 (${hint})\n`]);

  writeFileSync(join(dir, 'limits-latin1.csv'), Buffer.from('key,limit\nacct-1,5\nMöller,9\n', 'latin1'));
  writeFileSync(join(dir, 'names-latin1.txt'), Buffer.from('Müller\n', 'latin1'));
  const files = join(dir, 'files.yaml');
  writeFileSync(files, 'version: 1\nlists:\n  names: { file: names-latin1.txt }\nrules:\n  - { id: calls-day, by: account, measure: count, window: day, limit: 2, limits_file: limits-latin1.csv }\n');
  const f = await runVigil(['check', '--rules', files]);
  assert.is(f.code, 2, f.stderr);
  assert.match(f.stderr, 'names-latin1.txt:1:2: byte 0xFC is not UTF-8');
  assert.match(f.stderr, 'limits-latin1.csv:3:2: byte 0xF6 is not UTF-8');
});

/** A rules file with one channel, written as `channel` (a line under `channels:`, i.e. line 3). */
function withChannel (channel: string): string {
  return `version: 1\nchannels:\n${channel}\nrules:\n  - { id: calls-day, by: account, measure: count, window: day, limit: 2 }\n`;
}

/** [what is wrong, the channel's line, LINE:COL message that check prints after the file name] */
const BAD_CHANNELS: Array<[string, string, string]> = [
  ['a webhook without url', '  noc: { type: webhook, secret: s3cret }', '3:8 channels.noc.url is required for a webhook channel'],
  ['a webhook URL that does not parse (not echoed)', '  noc: { type: webhook, url: "https://[hunter2" }', '3:30 channels.noc.url must be a URL starting with http:// or https://, got a text that is not one (not shown: it may hold a secret)'],
  ['a webhook timeout as a number', '  noc: { type: webhook, url: "https://hooks.example.net/x", timeout: 5 }', '3:70 channels.noc.timeout must be a duration such as 90s, 30m, 1h or 2d, got 5'],
  ['an email address that is blank', '  desk: { type: email, to: [fraud@example.net, " "], smtp: "smtps://mail.example.net" }', '3:28 channels.desk.to must be an address or a non-empty list of addresses, got ["fraud@example.net"," "]'],
  ['an smtp URL without a host (not echoed)', '  desk: { type: email, to: fraud@example.net, smtp: "smtp://vigil:hunter2@:587" }', '3:53 channels.desk.smtp must be a URL such as smtp://user:password@host:587 or smtps://host, got a text that is not one (not shown: it may hold a secret)'],
  ['an empty sms auth', '  gw: { type: sms, url: "https://sms.example.net/send", to: +4917012345678, auth: "" }', '3:83 channels.gw.auth must be a non-empty text, got an empty text'],
  ['a rate without an interval', '  log: { type: log, rate: 10 }', '3:27 channels.log.rate must be N/DURATION such as 10/1m (at most N messages per DURATION), got 10'],
  ['a retry.max that is not a duration', '  log: { type: log, retry: { max: forever } }', '3:35 channels.log.retry.max must be a duration such as 90s, 30m, 1h or 2d, got "forever"'],
];

cli('check refuses channel settings the notifier could not use, at the setting, and exits 2', async ({ dir }) => {
  for (const [i, [what, channel, expected]] of BAD_CHANNELS.entries()) {
    const file = join(dir, `channel-${i}.yaml`);
    writeFileSync(file, withChannel(channel));
    const r = await runVigil(['check', '--rules', file]);
    assert.equal([r.code, r.stdout, r.stderr], [2, '', `${file}:${expected}\n`], what);
  }
});

cli('serve refuses such a file as check does, before it opens anything', async ({ dir }) => {
  const file = join(dir, 'channel-serve.yaml');
  writeFileSync(file, withChannel(BAD_CHANNELS[2]![1]));
  const config = join(dir, 'channel-serve-node.yaml');
  writeFileSync(config, `rules: ${file}\ndata: ${join(dir, 'channel-serve-data')}\nlisten: 127.0.0.1:0\n`);
  const r = await runVigil(['serve', '--config', config]);
  assert.equal([r.code, r.stderr], [2, `${file}:${BAD_CHANNELS[2]![2]}\n`]);
});

cli('serve without --config reads vigil.yaml in the working directory, and says so when there is none', async ({ dir }) => {
  const empty = join(dir, 'no-config-here');
  mkdirSync(empty);
  const none = await runVigil(['serve'], { cwd: empty });
  assert.is(none.code, 2, none.stderr);
  assert.match(none.stderr, `serve needs a config: --config FILE, or vigil.yaml in the working directory (${join(empty, 'vigil.yaml')} does not exist)`);
  const here = join(dir, 'config-here');
  mkdirSync(here);
  const file = join(here, 'rules.yaml');
  writeFileSync(file, withChannel(BAD_CHANNELS[2]![1]));
  writeFileSync(join(here, 'vigil.yaml'), 'rules: rules.yaml\ndata: data\nlisten: 127.0.0.1:0\n');
  const r = await runVigil(['serve'], { cwd: here });
  assert.equal([r.code, r.stderr], [2, `${file}:${BAD_CHANNELS[2]![2]}\n`], 'the rules vigil.yaml names were read, and refused as with --config');
});

cli('check passes channels of every type that the notifier can use', async ({ dir }) => {
  const file = join(dir, 'channels-ok.yaml');
  writeFileSync(file, withChannel([
    '  noc: { type: webhook, url: "https://hooks.example.net/x", secret: s3cret, headers: { X-Team: fraud }, timeout: 5s, rate: 10/1m, retry: { max: 2h } }',
    '  desk: { type: email, to: [fraud@example.net], smtp: "smtps://vigil:pw@mail.example.net", from: vigil@example.net, digest: 1m, min_severity: warning }',
    '  gw: { type: sms, url: "https://sms.example.net/send", to: +4917012345678, auth: "vigil:pw" }',
    '  bus: { type: nats, subject: vigil.alerts }',
    '  out: { type: file, path: alerts-out.jsonl }',
    '  log: { type: log }',
  ].join('\n')));
  const r = await runVigil(['check', '--rules', file]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `${file}: ok, 1 rules (1 enabled), 1 counters at 1 levels\n`);
});

cli('replay writes alerts as JSON lines on stdout and a summary on stderr', async ({ dir, rules }) => {
  const input = join(dir, 'in.jsonl');
  const t = Date.parse('2026-11-21T10:00:00+01:00');
  writeFileSync(input, [0, 1, 2, 3].map((i) => JSON.stringify({ id: `c${i}`, ts: t + i * 1000, account: 'a1', called: '+4930123' })).join('\n') + '\n{broken\n');
  const r = await runVigil(['replay', '--rules', rules, '--threads', '0', input]);
  assert.is(r.code, 0, r.stderr);
  const alerts = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { rule: string, key: string, record: string, value: number, limit: number, window: { start: string } });
  assert.equal(alerts.map((a) => [a.rule, a.key, a.record, a.value, a.limit, a.window.start]), [['calls-day', 'a1', 'c2', 3, 2, '2026-11-21T00:00:00+01:00']]);
  assert.match(r.stderr, /^replay: 5 records read, 1 rejected, 1 alerts in [\d.]+ s \([\d,]+ records\/s\)\n$/);
});

cli('replay writes rejects to a pipe named as a file (--rejects /dev/stdout), appending rather than seeking', async ({ dir, rules }) => {
  const input = join(dir, 'in-pipe.jsonl');
  writeFileSync(input, JSON.stringify({ id: 'p0', ts: Date.parse('2026-11-21T10:00:00+01:00'), account: 'a1', called: '+4930123' }) + '\n{broken\nnot json either\n');
  // Through a shell pipe, as a user would (`… --rejects /dev/stdout | jq`): spawn's own stdout is a socket, not a pipe.
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${VIGIL}" replay --rules "${rules}" --threads 1 --alerts "${join(dir, 'pipe-alerts.jsonl')}" --rejects /dev/stdout "${input}" | cat`], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const rejects = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: number, code: string });
  assert.equal(rejects.map((x) => [x.line, x.code]), [[2, 'VIGIL_INVALID_RECORD'], [3, 'VIGIL_INVALID_RECORD']]);
});

cli('replay with shard threads and a data folder gives the same alerts', async ({ dir, rules }) => {
  const input = join(dir, 'in2.jsonl');
  const t = Date.parse('2026-11-21T10:00:00+01:00');
  writeFileSync(input, [0, 1, 2, 3].map((i) => JSON.stringify({ id: `c${i}`, ts: t + i * 1000, account: 'a1', called: '+4930123' })).join('\n') + '\n');
  const r = await runVigil(['replay', '--rules', rules, '--threads', '1', '--data', join(dir, 'data'), '--alerts', join(dir, 'alerts.jsonl'), input]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '');
});

cli('a data folder whose name has a dot is a folder, not a file beside it', async ({ dir, rules }) => {
  const input = join(dir, 'in5.jsonl');
  writeFileSync(input, JSON.stringify({ id: 'c0', ts: Date.parse('2026-11-21T10:00:00+01:00'), account: 'a1', called: '+4930123' }) + '\n');
  const data = join(dir, 'vigil.v2');
  const r = await runVigil(['replay', '--rules', rules, '--threads', '1', '--data', data, '--alerts', join(dir, 'v2.jsonl'), input]);
  assert.is(r.code, 0, r.stderr);
  assert.ok(statSync(data).isDirectory(), 'the data folder is a folder');
  assert.ok(statSync(join(data, 'data.mdb')).size > 0, 'the counters are in it');
});

cli('replay on a data folder that cannot be opened exits 1 naming the folder and why', async ({ dir, rules }) => {
  const input = join(dir, 'in3.jsonl');
  writeFileSync(input, JSON.stringify({ id: 'c0', ts: Date.parse('2026-11-21T10:00:00+01:00'), account: 'a1', called: '+4930123' }) + '\n');
  const notAFolder = join(dir, 'a-file');
  writeFileSync(notAFolder, 'not a data folder\n');
  const r = await runVigil(['replay', '--rules', rules, '--threads', '1', '--data', notAFolder, input]);
  assert.is(r.code, 1, r.stderr);
  assert.is(r.stderr, `vigil: cannot open the data folder ${notAFolder}: Not a directory: Attempting to setup locks\n`);
});

cli('replay on a damaged LMDB file exits 1 naming it, whichever way LMDB fails on it, instead of crashing', async ({ dir, rules }) => {
  const input = join(dir, 'in4.jsonl');
  const t = Date.parse('2026-11-21T10:00:00+01:00');
  writeFileSync(input, Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: `d${i}`, ts: t + i * 1000, account: `a${i % 40}`, called: '+4930123' })).join('\n') + '\n');
  const damages: Array<[string, (file: string) => void]> = [
    // both meta pages: LMDB's header
    ['header overwritten', (file) => { const fd = openSync(file, 'r+'); writeSync(fd, Buffer.alloc(8192, 0xab), 0, 8192, 0); closeSync(fd); }],
    // every page after the metas: the trees
    ['pages overwritten', (file) => { const size = statSync(file).size; const fd = openSync(file, 'r+'); writeSync(fd, Buffer.alloc(size - 8192, 0xab), 0, size - 8192, 8192); closeSync(fd); }],
    ['file truncated', (file) => { truncateSync(file, 12_288); }],
  ];
  for (const [what, damage] of damages) {
    const data = join(dir, `damaged-${what.replace(/ /g, '-')}`);
    const first = await runVigil(['replay', '--rules', rules, '--threads', '1', '--data', data, '--alerts', join(data + '.jsonl'), input]);
    assert.is(first.code, 0, first.stderr);
    damage(join(data, 'data.mdb'));
    const r = await runVigil(['replay', '--rules', rules, '--threads', '1', '--data', data, '--alerts', join(data + '.jsonl'), input]);
    assert.is(r.code, 1, `${what}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^vigil: the data folder ${data} is damaged: reading ${join(data, 'data.mdb')} ended with SIG(SEGV|BUS|ABRT)`), what);
    assert.ok(r.stderr.endsWith('; move the data folder away to start fresh, or restore it from a backup\n'), `${what}: ${r.stderr}`);
    assert.not.ok(existsSync(join(data, 'vigil.lock')), `${what}: the folder is given back (data-folder-lock.ts)`);
  }
});

cli('replay on scrambled LMDB pages exits 1 naming them, whether LMDB crashes on them, says so, or reads them as fewer entries than its header counts', async ({ dir, rules }) => {
  const input = join(dir, 'in5.jsonl');
  const t = Date.parse('2026-11-21T10:00:00+01:00');
  writeFileSync(input, Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: `s${i}`, ts: t + i * 1000, account: `a${i % 40}`, called: '+4930123' })).join('\n') + '\n');
  const said: string[] = [];
  for (let seed = 1; seed <= 8; seed++) {
    const data = join(dir, `scrambled-${seed}`);
    const first = await runVigil(['replay', '--rules', rules, '--threads', '1', '--data', data, '--alerts', join(data + '.jsonl'), input]);
    assert.is(first.code, 0, first.stderr);
    // Every page after the metas, filled from a seeded generator: where LMDB lands decides
    // whether it crashes (SIGBUS, SIGSEGV) or says MDB_CORRUPTED / MDB_PAGE_NOTFOUND.
    const file = join(data, 'data.mdb');
    const bytes = Buffer.alloc(statSync(file).size - 8192);
    let x = seed * 0x9e3779b9;
    for (let i = 0; i < bytes.length; i++) { x = (x ^ (x << 13)) >>> 0; x = (x ^ (x >>> 17)) >>> 0; x = (x ^ (x << 5)) >>> 0; bytes[i] = x & 0xff; }
    const fd = openSync(file, 'r+'); writeSync(fd, bytes, 0, bytes.length, 8192); closeSync(fd);
    // Every input record is before the checkpoint: nothing would read the damaged pages but the check.
    const r = await runVigil(['replay', '--rules', rules, '--threads', '1', '--data', data, '--alerts', join(data + '.jsonl'), input]);
    assert.is(r.code, 1, `seed ${seed}: ${r.stderr}`);
    const m = new RegExp(`^vigil: the data folder ${data} is damaged: reading ${join(data, 'data.mdb')} (ended with SIG[A-Z]+|failed with (MDB_(CORRUPTED|PAGE_NOTFOUND)|the tree holds \\d+ entries by its header)[^;]*); move the data folder away`).exec(r.stderr.split('\n').find((l) => l.startsWith('vigil:')) ?? '');
    assert.ok(m !== null, `seed ${seed}: ${r.stderr}`);
    said.push(m![1]!);
  }
  assert.ok(said.some((s) => s.startsWith('failed with')), `every seed crashed the reader; none was found by a read that fails: ${said.join(', ')}`);
});

cli('replay refuses a data folder written by vigil serve: a stream has no input position to resume from (exit 2)', async ({ dir, rules }) => {
  const data = join(dir, 'served');
  const config = join(dir, 'node.yaml');
  writeFileSync(config, `rules: ${rules}\ndata: ${data}\nlisten: 127.0.0.1:0\nthreads: 1\nalerts: ${join(dir, 'served.jsonl')}\n`);
  const node = await startServe(config);
  const t = Date.parse('2026-11-21T10:00:00+01:00');
  assert.is((await request(node.port, 'POST', '/v1/records', { body: JSON.stringify({ id: 's0', ts: t, account: 'a1', called: '+4930123' }) + '\n' })).status, 202);
  assert.is((await stopServe(node)).code, 0);
  const input = join(dir, 'in-served.jsonl');
  writeFileSync(input, JSON.stringify({ id: 'c0', ts: t, account: 'a1', called: '+4930123' }) + '\n');
  const r = await runVigil(['replay', '--rules', rules, '--threads', '1', '--data', data, '--alerts', join(dir, 'served-replay.jsonl'), input]);
  assert.equal([r.code, r.stderr], [2, `vigil: --data: the data folder ${data} belongs to vigil serve: records that came as a stream have no input position for a replay to resume from; give vigil replay another --data folder\n`]);
});

cli('replay refuses a data folder of other rules before it starts, as serve does (exit 2), with input left or not', async ({ dir, rules }) => {
  const t = Date.parse('2026-11-21T10:00:00+01:00');
  const record = (i: number): string => JSON.stringify({ id: `o${i}`, ts: t + i * 1000, account: 'a1', called: '+4930123' });
  const first = join(dir, 'in-other-1.jsonl');
  const second = join(dir, 'in-other-2.jsonl');
  writeFileSync(first, [0, 1, 2].map(record).join('\n') + '\n');
  writeFileSync(second, [3, 4].map(record).join('\n') + '\n');
  const data = join(dir, 'data-other');
  const alerts = join(dir, 'other.jsonl');
  const ran = await runVigil(['replay', '--rules', rules, '--threads', '1', '--data', data, '--alerts', alerts, first]);
  assert.is(ran.code, 0, ran.stderr);
  const other = join(dir, 'other-rules.yaml');
  writeFileSync(other, RULES.replace('limit: 2', 'limit: 1'));
  const message = new RegExp(`^vigil: --data: the data folder ${data} holds counters of other rules \\(fingerprint \\S+, these rules \\S+\\); use another data folder, or the rules it was written with\n$`);
  // Every record of `first` is before the checkpoint; `second` is input left.
  for (const inputs of [[first], [first, second]]) {
    const r = await runVigil(['replay', '--rules', other, '--threads', '1', '--data', data, '--alerts', alerts, ...inputs]);
    assert.is(r.code, 2, `${inputs.length} inputs: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.is(readFileSync(alerts, 'utf8').split('\n').filter(Boolean).length, 1, 'the alerts of the first run are left as they were');
});

/** A file that starts with a compression's magic bytes (what follows does not matter to the check). */
function compressed (dir: string, ext: string, magic: number[]): string {
  const file = join(dir, `in.jsonl.${ext}`);
  writeFileSync(file, Buffer.from([...magic, 0x31, 0x41, 0x59]));
  return file;
}

cli('bad usage exits 2 with a message and the usage', async ({ dir, rules }) => {
  const cases: Array<[string[], string]> = [
    [['replay', '--rules', rules], 'vigil: replay needs at least one INPUT (a file, or - for standard input)'],
    [['replay', '--rules', rules, '--format', 'xml', 'x.jsonl'], 'vigil: --format must be jsonl, csv or asterisk, got "xml"'],
    [['replay', '--rules', rules, '--input-tz', 'Mars/Olympus', 'x.jsonl'], 'vigil: --input-tz must be an IANA time zone such as Europe/Berlin, got "Mars/Olympus"'],
    [['replay', '--rules', rules, '/nonexistent/cdrs.jsonl'], 'vigil: cannot read INPUT "/nonexistent/cdrs.jsonl": no such file'],
    [['replay', '--rules', rules, dir], `vigil: INPUT "${dir}" is a folder: give the record files in it (e.g. ${dir}/*.jsonl.gz)`],
    [['backtest', '--rules', rules, '--baseline', rules, dir], `vigil: INPUT "${dir}" is a folder: give the record files in it (e.g. ${dir}/*.jsonl.gz)`],
    [['replay', '--rules', rules, compressed(dir, 'zst', [0x28, 0xb5, 0x2f, 0xfd, 0x04])], `vigil: INPUT "${dir}/in.jsonl.zst" is zstd-compressed, which vigil does not read (it reads gzip): decompress it first (zstdcat ${dir}/in.jsonl.zst > FILE)`],
    [['backtest', '--rules', rules, '--baseline', rules, compressed(dir, 'xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00])], `vigil: INPUT "${dir}/in.jsonl.xz" is xz-compressed, which vigil does not read (it reads gzip): decompress it first (xzcat ${dir}/in.jsonl.xz > FILE)`],
    [['replay', '--rules', rules, '--threads', 'many', 'x'], 'vigil: --threads must be a whole number from 0 to 256, got "many"'],
    [['check'], 'vigil: --rules FILE is required'],
    [['frobnicate'], 'vigil: unknown command "frobnicate"'],
  ];
  for (const [args, message] of cases) {
    const r = await runVigil(args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.stderr.split('\n')[0], message);
    assert.match(r.stderr, /usage:/);
  }
});

cli('replay reads CSV with a header and Asterisk Master.csv in the given time zone', async ({ dir, rules }) => {
  const csv = join(dir, 'in.csv');
  writeFileSync(csv, 'id,ts,account,called,duration\n' + [0, 1, 2].map((i) => `x${i},2026-11-21T10:00:0${i}+01:00,a9,+4930123,10`).join('\n') + '\n');
  const r1 = await runVigil(['replay', '--rules', rules, '--threads', '0', csv]);
  assert.is(r1.code, 0, r1.stderr);
  assert.is((JSON.parse(r1.stdout) as { record: string }).record, 'x2');
  const master = join(dir, 'Master.csv');
  const line = (i: number): string => `"a7","100","+4930123","ctx","clid","SIP/1","SIP/2","Dial","","2026-11-21 10:00:0${i}","2026-11-21 10:00:0${i}","2026-11-21 10:01:0${i}",60,58,"ANSWERED","DOCUMENTATION","1763715600.${i}"`;
  writeFileSync(master, [0, 1, 2].map(line).join('\n') + '\n');
  const r2 = await runVigil(['replay', '--rules', rules, '--threads', '0', '--format', 'asterisk', '--input-tz', 'Europe/Berlin', master]);
  assert.is(r2.code, 0, r2.stderr);
  const alert = JSON.parse(r2.stdout) as { key: string, ts: string, record: string };
  assert.equal([alert.key, alert.ts, alert.record], ['a7', '2026-11-21T10:00:02+01:00', '1763715600.2']);
});

const withoutDetectedAt = (text: string): string[] =>
  text.split('\n').filter(Boolean).map((l) => { const a = JSON.parse(l) as Record<string, unknown>; delete a.detectedAt; return JSON.stringify(a); });

/** `vigil ARGS` with `input` on standard input. */
function vigilWithStdin (args: readonly string[], input: Buffer): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [VIGIL, ...args], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

cli('replay reads gzip inputs: JSON lines, CSV by extension, Asterisk with --format, standard input; rejects are at file:line of the text', async ({ dir, rules }) => {
  const t = Date.parse('2026-11-21T10:00:00+01:00');
  const jsonl = [0, 1, 2, 3].map((i) => JSON.stringify({ id: `g${i}`, ts: t + i * 1000, account: 'a1', called: '+4930123' })).join('\n') + '\n\n{broken\n';
  const input = join(dir, 'cdr-2026-11-21.jsonl.gz');
  writeFileSync(input, gzipSync(jsonl));
  const rejects = join(dir, 'gz-rejects.jsonl');
  const r1 = await runVigil(['replay', '--rules', rules, '--threads', '1', '--rejects', rejects, input]);
  assert.is(r1.code, 0, r1.stderr);
  assert.equal(r1.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { record: string }).record), ['g2']);
  assert.match(r1.stderr, /^replay: 5 records read, 1 rejected, 1 alerts in [\d.]+ s \([\d,]+ records\/s\)\n$/);
  const reject = JSON.parse(readFileSync(rejects, 'utf8')) as { source: string, line: number, raw: string };
  assert.equal([reject.source, reject.line, reject.raw], [input, 6, '{broken']);

  const csv = join(dir, 'in.csv.gz');
  writeFileSync(csv, gzipSync('id,ts,account,called,duration\n' + [0, 1, 2].map((i) => `x${i},2026-11-21T10:00:0${i}+01:00,a9,+4930123,10`).join('\n') + '\n'));
  const r2 = await runVigil(['replay', '--rules', rules, '--threads', '0', csv]);
  assert.is(r2.code, 0, r2.stderr);
  assert.is((JSON.parse(r2.stdout) as { record: string }).record, 'x2');

  const master = join(dir, 'Master.csv.gz');
  const line = (i: number): string => `"a7","100","+4930123","ctx","clid","SIP/1","SIP/2","Dial","","2026-11-21 10:00:0${i}","2026-11-21 10:00:0${i}","2026-11-21 10:01:0${i}",60,58,"ANSWERED","DOCUMENTATION","1763715600.${i}"`;
  writeFileSync(master, gzipSync([0, 1, 2].map(line).join('\n') + '\n'));
  const r3 = await runVigil(['replay', '--rules', rules, '--threads', '0', '--format', 'asterisk', '--input-tz', 'Europe/Berlin', master]);
  assert.is(r3.code, 0, r3.stderr);
  const alert = JSON.parse(r3.stdout) as { key: string, ts: string, record: string };
  assert.equal([alert.key, alert.ts, alert.record], ['a7', '2026-11-21T10:00:02+01:00', '1763715600.2']);

  const stdinRejects = join(dir, 'stdin-rejects.jsonl');
  const r4 = vigilWithStdin(['replay', '--rules', rules, '--threads', '1', '--rejects', stdinRejects, '-'], gzipSync(jsonl));
  assert.is(r4.code, 0, r4.stderr);
  assert.equal(r4.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { record: string }).record), ['g2']);
  const stdinReject = JSON.parse(readFileSync(stdinRejects, 'utf8')) as { source: string, line: number };
  assert.equal([stdinReject.source, stdinReject.line], ['stdin', 6]);
});

cli('replay of a gzip file (one member or several) writes, byte for byte but detectedAt, what the file uncompressed writes', async ({ dir }) => {
  const rulesFile = join(dir, 'traffic-rules.yaml');
  writeFileSync(rulesFile, readFileSync(new URL('../../../test/fixtures/replay-rules.yaml', import.meta.url)));
  const text = trafficLines({ seed: 3, records: 6000, start: Date.UTC(2026, 10, 20), badEvery: 401 }).join('\n') + '\n';
  const third = Math.floor(text.length / 3);
  const variants: Array<[string, Buffer | string]> = [
    ['plain', text],
    ['gzip', gzipSync(text)],
    ['members', Buffer.concat([gzipSync(text.slice(0, third)), gzipSync(text.slice(third, 2 * third)), gzipSync(text.slice(2 * third))])],
  ];
  const out: Record<string, { alerts: string[], rejects: string, summary: string }> = {};
  for (const [name, bytes] of variants) {
    // The same name in a folder of its own: the rejects name their source, byte for byte too.
    const cwd = join(dir, `same-${name}`);
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'cdrs.jsonl'), bytes);
    const r = await runVigil(['replay', '--rules', rulesFile, '--threads', '2', '--epoch', '700', '--alerts', 'alerts.jsonl', '--rejects', 'rejects.jsonl', 'cdrs.jsonl'], { cwd });
    assert.is(r.code, 0, `${name}: ${r.stderr}`);
    out[name] = { alerts: withoutDetectedAt(readFileSync(join(cwd, 'alerts.jsonl'), 'utf8')), rejects: readFileSync(join(cwd, 'rejects.jsonl'), 'utf8'), summary: r.stderr.replace(/ in [^\n]*\n$/, '') };
  }
  const plain = out.plain!;
  assert.ok(plain.alerts.length > 50, `expected alerts, got ${plain.alerts.length}`);
  assert.ok(plain.rejects.split('\n').filter(Boolean).length >= 10, 'the bad lines are rejected');
  assert.is(plain.summary, 'replay: 6,000 records read, 14 rejected, ' + `${plain.alerts.length.toLocaleString('en-US')} alerts`);
  for (const name of ['gzip', 'members']) {
    assert.equal(out[name]!.alerts, plain.alerts, name);
    assert.is(out[name]!.rejects, plain.rejects, name);
    assert.is(out[name]!.summary, plain.summary, name);
  }
});

cli('a gzip input cut short: every record before the cut is run, exit 1 names file:line, no later input is read; with --data the run goes on once the file is whole', async ({ dir, rules }) => {
  const t = Date.parse('2026-11-21T10:00:00+01:00');
  const lines = Array.from({ length: 600 }, (_, i) => JSON.stringify({ id: `k${i}`, ts: t + i * 600_000, account: `a${i % 13}`, called: '+4930123' }));
  const later = join(dir, 'later.jsonl');
  writeFileSync(later, [600, 601, 602].map((i) => JSON.stringify({ id: `k${i}`, ts: t + i * 600_000, account: 'a0', called: '+4930123' })).join('\n') + '\n');
  const whole = gzipSync(lines.join('\n') + '\n');
  const cut = whole.subarray(0, Math.floor(whole.length / 2));
  const readable = gunzipSync(cut, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString('utf8').split('\n').length - 1;
  const brokenAt = readable + 1;
  assert.ok(readable > 100 && readable < 500, `the cut is in the middle, after line ${readable}`);

  const args = (tag: string, input: string): string[] => ['replay', '--rules', rules, '--threads', '1', '--epoch', '50', '--data', join(dir, `cut-data-${tag}`), '--alerts', join(dir, `cut-alerts-${tag}.jsonl`), input, later];
  const cleanInput = join(dir, 'whole', 'cdr.jsonl.gz');
  mkdirSync(join(dir, 'whole'));
  writeFileSync(cleanInput, whole);
  const clean = await runVigil(args('clean', cleanInput));
  assert.is(clean.code, 0, clean.stderr);
  const cleanAlerts = withoutDetectedAt(readFileSync(join(dir, 'cut-alerts-clean.jsonl'), 'utf8'));
  const before = new Set(lines.slice(0, readable).map((l) => (JSON.parse(l) as { id: string }).id));
  const cleanBefore = cleanAlerts.filter((a) => before.has((JSON.parse(a) as { record: string }).record));
  assert.ok(cleanBefore.length > 10 && cleanBefore.length < cleanAlerts.length, 'alerts on both sides of the cut');

  const input = join(dir, 'cdr.jsonl.gz');
  writeFileSync(input, cut);
  const data = join(dir, 'cut-data-cut');
  const message = `vigil: ${input}:${brokenAt}: the gzip data is truncated (zlib: unexpected end of file); the records before line ${brokenAt} were run and their alerts written, the INPUT after it was not read; once the file is whole, the same run on --data ${data} goes on from there\n`;
  for (const attempt of ['first', 'again on the same cut file']) {
    const r = await runVigil(args('cut', input));
    assert.equal([r.code, r.stdout, r.stderr], [1, '', message], attempt);
    assert.equal(withoutDetectedAt(readFileSync(join(dir, 'cut-alerts-cut.jsonl'), 'utf8')), cleanBefore, `${attempt}: the alerts of the records before the cut, each once`);
  }

  writeFileSync(input, whole);
  const resumed = await runVigil(args('cut', input));
  assert.is(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, `(resumed after ${readable.toLocaleString('en-US')} records committed by an earlier run)`);
  const alerts = withoutDetectedAt(readFileSync(join(dir, 'cut-alerts-cut.jsonl'), 'utf8'));
  assert.equal(alerts, cleanAlerts, 'the same alerts as a run on the whole file, each once');

  // Without --data, and on standard input.
  const piped = vigilWithStdin(['replay', '--rules', rules, '--threads', '0', '-'], cut);
  assert.is(piped.code, 1);
  assert.is(piped.stderr, `vigil: stdin:${brokenAt}: the gzip data is truncated (zlib: unexpected end of file); the records before line ${brokenAt} were run and their alerts written\n`);
  assert.equal(withoutDetectedAt(piped.stdout), cleanBefore);
});

cli('a zstd, xz or bzip2 stream on standard input is refused at its first bytes, after the INPUTs before it were run (exit 1)', async ({ dir, rules }) => {
  const t = Date.parse('2026-11-21T10:00:00+01:00');
  const plain = join(dir, 'before-stdin.jsonl');
  writeFileSync(plain, [0, 1, 2].map((i) => JSON.stringify({ id: `s${i}`, ts: t + i * 1000, account: 'a1', called: '+4930123' })).join('\n') + '\n');
  const bz = [0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x00];
  const rows: Array<[string, number[], string]> = [
    ['zstd', [0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x00, 0x51, 0x00, 0x00, 0x00, 0x00], 'zstdcat'],
    ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4], 'xzcat'],
    ['bzip2', bz, 'bzcat'],
  ];
  for (const [name, magic, cat] of rows) {
    const r = vigilWithStdin(['replay', '--rules', rules, '--threads', '0', plain, '-'], Buffer.from(magic));
    assert.is(r.code, 1, `${name}: ${r.stderr}`);
    assert.is(r.stderr, `vigil: stdin:1: it is ${name}-compressed, which vigil does not read (it reads gzip): decompress it first (${cat} FILE | vigil … -); nothing of it was run\n`);
    assert.is((JSON.parse(r.stdout) as { record: string }).record, 's2', `${name}: the alert of the INPUT before it`);
  }
  // "BZh" without bzip2's block magic is text: a reject per line, not a refusal.
  const text = vigilWithStdin(['replay', '--rules', rules, '--threads', '0', '-'], Buffer.from('BZh is no record\n'));
  assert.is(text.code, 0, text.stderr);
});

cli.run();

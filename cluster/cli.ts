/**
 * The `vigil` command line (../shared/spec/interfaces.md). Exit codes: 0 when it ran (even
 * with rejected records), 2 on bad usage or an invalid rules file, 1 on an engine failure.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { accessSync, closeSync, constants as fsConstants, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism, userInfo } from 'node:os';
import { DataUnavailableError, EngineError, formatDiagnostic, InputDamagedError, InvalidRulesError, RefusedError, UsageError } from '../core/errors.js';
import { actor } from '../core/blocklist.js';
import { compileRules } from '../core/compile.js';
import { isValidZone } from '../core/zone.js';
import { loadRules } from './rules-file.js';
import { replay, type InputFormat, type ReplaySummary } from './replay.js';
import { describeRestart } from './embedded.js';
import { InvalidConfigError, loadConfig } from './config.js';
import { ServeNode } from './serve.js';
import { ClusterServe } from './cluster-serve.js';
import { backtest, formatBacktest } from './backtest.js';
import { formatRisk, readRisk } from './risk-view.js';
import { Blocklist } from './blocklist.js';
import { requireDataFolder } from './data-folder.js';
import { COMPRESSION_HEAD_BYTES, otherCompressionOf } from './record-source.js';

const USAGE = `usage:
  vigil check --rules FILE
  vigil replay --rules FILE [--alerts OUT] [--rejects OUT] [--format jsonl|csv|asterisk]
               [--input-tz ZONE] [--data DIR] [--threads N] [--epoch N] INPUT...
               (INPUT: a file, or - for standard input, plain or gzip-compressed; --threads 0:
               the single-threaded core; --epoch: input records per checkpoint, default 16384)
  vigil serve [--config FILE]
               (runs a node: HTTP API on loopback, shard threads, counters in the config's
               data folder; SIGTERM or SIGINT stops it after committing what it took,
               SIGHUP reloads the rules file; the config is vigil.yaml in the working
               directory unless --config names one)
  vigil dead-letters list|redrive [--url http://127.0.0.1:7800] [--token T] [--id ID]
               (a running node's undeliverable alerts, through its API)
  vigil backtest --rules NEW --baseline CURRENT [--json] [--format jsonl|csv|asterisk]
               [--input-tz ZONE] INPUT...
               (replays INPUT through both rule sets; per rule: alerts each raises, added,
               removed and keys affected)
  vigil risk --rules FILE --data DIR [--shards N] [--at TIME] [--json] KEY
               (a key's risk scores in a data folder and the scored alerts that made them)
  vigil blocks list --data DIR
  vigil blocks lift KEY --data DIR [--by NAME]
  vigil blocks history KEY --data DIR
               (the blocklist of a node's or a replay's data folder, also while the node
               runs; a lift is logged as cli:NAME, by default the user's login name; a
               cluster notifier's folder is read only: lift through its API)
  vigil bench [--preset tiny|quick|full] [--rate N] [--threads N] [--chart FILE.svg]
              [--results FILE] [--no-redis] [--no-scaling] [--quiet]
               (load harness: fixed-rate latency and detection, throughput beside baselines,
               scaling; see bench/README.md)`;

/** What `vigil serve` reads without --config. */
const DEFAULT_CONFIG = 'vigil.yaml';

const FORMATS: readonly InputFormat[] = ['jsonl', 'csv', 'asterisk'];

function fail (message: string): never {
  throw new UsageError(message);
}

function rulesFlag (value: string | undefined): string {
  if (value === undefined) fail('--rules FILE is required');
  return value;
}

/** The flags and positionals (INPUT, KEY, an action) of a command that takes both; an unknown flag is refused. */
function parseCommand<T extends NonNullable<ParseArgsConfig['options']>> (args: string[], options: T) {
  return parseArgs({ args, options, allowPositionals: true, strict: true });
}

/** A flag that, when given, must be a whole number of at least 1; `what` ends the message ("a positive whole number …"). */
function positiveWholeFlag (flag: string, value: string | undefined, what = 'a positive whole number'): number | undefined {
  const n = value === undefined ? undefined : Number(value);
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) fail(`--${flag} must be ${what}, got "${value ?? ''}"`);
  return n;
}

/**
 * Every INPUT must be a file that exists, or - (standard input); `noStdin` is the message when
 * the command cannot take -. Checked in order, so the first bad INPUT is the one reported.
 */
function requireInputs (inputs: readonly string[], noStdin?: string): void {
  for (const input of inputs) {
    if (input === '-') {
      if (noStdin !== undefined) fail(noStdin);
      continue;
    }
    requireInputFile(input);
  }
}

function check (args: string[]): number {
  const { values } = parseArgs({ args, options: { rules: { type: 'string' } }, strict: true });
  const file = rulesFlag(values.rules);
  const config = loadRules(file);
  const compiled = compileRules(config);
  const enabled = config.rules.filter((r) => r.enabled).length;
  process.stdout.write(`${file}: ok, ${config.rules.length} rules (${enabled} enabled), ${compiled.counters.length} counters at ${compiled.keyers.length} levels\n`);
  return 0;
}

/**
 * One shard actor per core but one: the coordinator (reading, validating, routing) keeps a core
 * busy, and on this 2-core machine two actors beside it ran at less than half the speed of one.
 */
function defaultThreads (): number {
  return Math.max(1, availableParallelism() - 1);
}

/** `--format` and `--input-tz`, checked: how the inputs are read. */
function inputOptions (values: { format?: string | undefined, 'input-tz'?: string | undefined }): { format: InputFormat | undefined, zone: string | undefined } {
  const format = values.format;
  if (format !== undefined && !(FORMATS as readonly string[]).includes(format)) fail(`--format must be jsonl, csv or asterisk, got "${format}"`);
  const zone = values['input-tz'];
  if (zone !== undefined && !isValidZone(zone)) fail(`--input-tz must be an IANA time zone such as Europe/Berlin, got "${zone}"`);
  return { format: format as InputFormat | undefined, zone };
}

function formatCount (n: number): string {
  return n.toLocaleString('en-US');
}

function summaryLine (s: ReplaySummary): string {
  const rate = s.ms > 0 ? Math.round(s.read / (s.ms / 1000)) : 0;
  return `${formatCount(s.read)} records read, ${formatCount(s.rejected)} rejected, ${formatCount(s.alerts)} alerts in ${(s.ms / 1000).toFixed(2)} s (${formatCount(rate)} records/s)`;
}

async function replayCommand (args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    rules: { type: 'string' },
    alerts: { type: 'string' },
    rejects: { type: 'string' },
    format: { type: 'string' },
    'input-tz': { type: 'string' },
    data: { type: 'string' },
    threads: { type: 'string' },
    epoch: { type: 'string' },
  });
  const file = rulesFlag(values.rules);
  if (positionals.length === 0) fail('replay needs at least one INPUT (a file, or - for standard input)');
  const { format, zone } = inputOptions(values);
  const threads = values.threads === undefined ? defaultThreads() : Number(values.threads);
  if (!Number.isInteger(threads) || threads < 0 || threads > 256) fail(`--threads must be a whole number from 0 to 256, got "${values.threads ?? ''}"`);
  if (threads === 0 && values.data !== undefined) fail('--data needs shard threads (the durable engine); drop --threads 0');
  const epochSize = positiveWholeFlag('epoch', values.epoch, 'a positive whole number of records');
  requireInputs(positionals);
  const compiled = compileRules(loadRules(file));
  const tty = process.stderr.isTTY;
  let shown = false;
  const progress = (s: ReplaySummary): void => { shown = true; process.stderr.write(`\r\x1b[2Kreplay: ${summaryLine(s)}`); };
  const summary = await replay({
    compiled,
    inputs: positionals,
    format,
    inputZone: zone,
    alerts: values.alerts,
    rejects: values.rejects,
    threads,
    dataPath: values.data,
    ...(epochSize === undefined ? {} : { epochSize }),
    ...(tty ? { progress } : {}),
    onRestart: (e) => { process.stderr.write(`${tty ? '\r\x1b[2K' : ''}replay: ${describeRestart(e)}\n`); },
  }).catch((err: unknown) => {
    // The progress line stays, with how far the run got; the error goes on a line of its own.
    if (shown) process.stderr.write('\n');
    throw err;
  });
  const resumed = summary.resumed > 0 ? ` (resumed after ${formatCount(summary.resumed)} records committed by an earlier run)` : '';
  process.stderr.write(`${tty ? '\r\x1b[2K' : ''}replay: ${summaryLine(summary)}${resumed}\n`);
  return 0;
}

async function backtestCommand (args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    rules: { type: 'string' },
    baseline: { type: 'string' },
    json: { type: 'boolean' },
    format: { type: 'string' },
    'input-tz': { type: 'string' },
  });
  const file = rulesFlag(values.rules);
  if (values.baseline === undefined) fail('backtest needs --baseline FILE (the rules running today)');
  if (positionals.length === 0) fail('backtest needs at least one INPUT file');
  const { format, zone } = inputOptions(values);
  // Both rule sets read every input, so standard input (readable once) cannot be one.
  requireInputs(positionals, 'backtest reads each INPUT twice: give files, not - (standard input)');
  const report = await backtest({
    candidate: compileRules(loadRules(file)),
    baseline: compileRules(loadRules(values.baseline)),
    inputs: positionals,
    format,
    inputZone: zone,
  });
  process.stdout.write(values.json === true ? JSON.stringify(report) + '\n' : formatBacktest(report));
  return 0;
}

async function riskCommand (args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    rules: { type: 'string' },
    data: { type: 'string' },
    shards: { type: 'string' },
    at: { type: 'string' },
    json: { type: 'boolean' },
  });
  const file = rulesFlag(values.rules);
  if (values.data === undefined) fail('risk needs --data DIR (a data folder written by vigil replay --data or vigil serve)');
  if (positionals.length !== 1) fail('risk needs exactly one KEY');
  // Without --shards, the folder's checkpoint says how many it was written with.
  const shards = positiveWholeFlag('shards', values.shards);
  const at = values.at === undefined ? undefined : Date.parse(values.at);
  if (at !== undefined && Number.isNaN(at)) fail(`--at must be a time such as 2026-11-21T14:00:00+01:00, got "${values.at ?? ''}"`);
  const key = positionals[0]!;
  // Like blocks: a folder that cannot be opened is exit 1, and nothing is made where it is not.
  requireDataFolder(values.data);
  const reports = await readRisk({ compiled: compileRules(loadRules(file)), dataPath: values.data, key, shards, at });
  process.stdout.write(values.json === true ? JSON.stringify(reports) + '\n' : formatRisk(key, reports));
  return 0;
}

/**
 * An INPUT must be a file the process can read (a pipe such as <(zcat …) or a device is
 * one): a folder or a file without read permission is a slip on the command line (exit 2),
 * not a failure of the engine halfway through a run.
 */
function requireInputFile (input: string): void {
  let stat;
  try {
    stat = statSync(input);
  } catch {
    fail(`cannot read INPUT "${input}": no such file`);
  }
  if (stat.isDirectory()) fail(`INPUT "${input}" is a folder: give the record files in it (e.g. ${join(input, '*.jsonl.gz')})`);
  try {
    accessSync(input, fsConstants.R_OK);
  } catch {
    fail(`cannot read INPUT "${input}": permission denied`);
  }
  // gzip is read as it comes; other compressions would only give a reject per "line". Only a
  // regular file is looked into: reading the head of a pipe would take it from the run.
  if (!stat.isFile()) return;
  const compression = otherCompression(input);
  if (compression !== undefined) fail(`INPUT "${input}" is ${compression.name}-compressed, which vigil does not read (it reads gzip): decompress it first (${compression.cat} ${input} > FILE)`);
}

function otherCompression (file: string): { name: string, cat: string } | undefined {
  const head = Buffer.alloc(COMPRESSION_HEAD_BYTES);
  const fd = openSync(file, 'r');
  try {
    return otherCompressionOf(head.subarray(0, readSync(fd, head, 0, head.length, 0)));
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs a node until SIGTERM or SIGINT, then stops it gracefully: exit 0 once everything it
 * took is committed and acknowledged; 1 if the engine failed. A second signal exits at once.
 * SIGHUP reloads the rules file (ServeNode.reloadRulesFile) and leaves the node running.
 */
async function serveCommand (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } }, strict: true });
  // interfaces.md: `vigil serve [--config FILE]`; without it, the vigil.yaml of the working directory.
  const file = values.config ?? DEFAULT_CONFIG;
  if (values.config === undefined && !existsSync(file)) fail(`serve needs a config: --config FILE, or ${DEFAULT_CONFIG} in the working directory (${resolve(file)} does not exist); it names at least rules: and data: (see the README)`);
  const config = loadConfig(file);
  // Signal handlers go in before the node starts: a SIGTERM right after it says "ready" must
  // stop it gracefully, not kill it.
  let node: ServeNode | ClusterServe | undefined;
  let signalled = false;
  let exit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => { exit = resolve; });
  const stopNode = (n: ServeNode | ClusterServe): void => {
    n.stop().then(() => { exit(0); }, (err: unknown) => {
      process.stderr.write(`vigil: engine failure while stopping: ${err instanceof Error ? err.message : String(err)}\n`);
      exit(1);
    });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      process.stderr.write(`${JSON.stringify({ exit: `second ${signal}: not waiting for in-flight records` })}\n`);
      process.exit(1);
    }
    signalled = true;
    if (node !== undefined) stopNode(node);
  };
  // SIGHUP reloads the rules file, as daemons do; its default action would end the process
  // without committing what it took (a closed terminal sends it too).
  const onHangup = (): void => {
    if (node === undefined) {
      process.stderr.write(`${JSON.stringify({ reload_skipped: 'SIGHUP while the node is starting: the rules file is read again only by a ready node' })}\n`);
      return;
    }
    node.reloadRulesFile().catch((err: unknown) => { process.stderr.write(`${JSON.stringify({ error: `SIGHUP: ${String(err)}` })}\n`); });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onHangup);
  try {
    // With NATS configured the node joins a cluster in its roles; without, the embedded default.
    node = config.nats === undefined ? await ServeNode.start(config) : await ClusterServe.start(config);
  } catch (err) {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHangup);
    // The command line was fine; what the node cannot run with is in the config.
    if (!(err instanceof UsageError) || err instanceof InvalidConfigError) throw err;
    process.stderr.write(`vigil: ${err.message}\n`);
    return 2;
  }
  if (signalled) stopNode(node);
  const started = node;
  started.onFailure(() => {
    started.stop().then(() => { exit(1); }, () => { exit(1); });
  });
  return await exited;
}

/**
 * `vigil blocks list|lift|history`: the blocklist of a data folder, read and changed directly
 * in LMDB (which takes writers from several processes), so it works beside a running node.
 */
async function blocksCommand (args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseCommand(rest, { data: { type: 'string' }, by: { type: 'string' } });
  if (sub !== 'list' && sub !== 'lift' && sub !== 'history') fail(`blocks needs list, lift KEY or history KEY, got ${sub === undefined ? 'nothing' : `"${sub}"`}`);
  const data = values.data;
  if (data === undefined) fail(`blocks ${sub} needs --data DIR (the data folder of a node or of a replay --data)`);
  if (sub === 'list' ? positionals.length !== 0 : positionals.length !== 1) fail(sub === 'list' ? 'blocks list takes no KEY' : `blocks ${sub} needs exactly one KEY`);
  if (values.by !== undefined && sub !== 'lift') fail('--by is for blocks lift');
  // A file, not a folder, would otherwise read as a folder with no blocklist: "0 keys blocked".
  requireDataFolder(data);
  const key = positionals[0]!;
  // A folder whose engine never blocked anything has no blocklist: nothing is blocked there.
  if (!existsSync(join(data, 'blocks'))) {
    process.stderr.write(sub === 'lift' ? `${key} is not blocked in ${data}; nothing to lift\n` : sub === 'list' ? '0 keys blocked\n' : '');
    return 0;
  }
  const blocks = Blocklist.open(data);
  try {
    if (sub === 'list') {
      const all = blocks.list();
      for (const b of all) process.stdout.write(JSON.stringify(b) + '\n');
      process.stderr.write(`${all.length} key${all.length === 1 ? '' : 's'} blocked\n`);
    } else if (sub === 'history') {
      for (const change of blocks.history(key)) process.stdout.write(JSON.stringify(change) + '\n');
    } else {
      const stream = blocks.follows();
      if (stream !== undefined) throw new RefusedError(`${data} is a cluster notifier's folder: its blocklist is a replica of the JetStream stream ${stream}, and a lift written here would change this copy alone while every other notifier still blocks the key; lift ${key} through a notifier's API: DELETE /v1/blocks/${encodeURIComponent(key)}`);
      const by = actor.cli(values.by ?? userInfo().username);
      const change = await blocks.lift(key, by, Date.now());
      if (change === undefined) process.stderr.write(`${key} is not blocked in ${data}; nothing to lift\n`);
      else process.stdout.write(JSON.stringify(change) + '\n');
    }
  } finally {
    await blocks.close();
  }
  return 0;
}

/**
 * `vigil dead-letters list|redrive`: through a running node's API, because the outbox belongs to
 * that node's notification thread (a second process delivering from it would send twice).
 */
async function deadLettersCommand (args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, { url: { type: 'string' }, token: { type: 'string' }, id: { type: 'string' } });
  const action = positionals[0];
  if (action !== 'list' && action !== 'redrive') fail('dead-letters needs list or redrive');
  const base = (values.url ?? 'http://127.0.0.1:7800').replace(/\/+$/, '');
  const headers: Record<string, string> = values.token === undefined ? {} : { authorization: `Bearer ${values.token}` };
  const url = action === 'list'
    ? `${base}/v1/dead-letters`
    : `${base}/v1/dead-letters/redrive${values.id === undefined ? '' : `?id=${encodeURIComponent(values.id)}`}`;
  let res: Response;
  try {
    res = await fetch(url, { method: action === 'list' ? 'GET' : 'POST', headers });
  } catch (err) {
    process.stderr.write(`vigil: cannot reach the node at ${base}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}\n`);
    return 1;
  }
  const body = await res.text();
  if (!res.ok) {
    process.stderr.write(`vigil: the node answered ${res.status}: ${body}\n`);
    return res.status === 401 ? 2 : 1;
  }
  const json = JSON.parse(body) as { deadLetters?: unknown[], redriven?: number };
  if (action === 'list') for (const letter of json.deadLetters ?? []) process.stdout.write(JSON.stringify(letter) + '\n');
  else process.stdout.write(`${json.redriven ?? 0} dead letters back in their queues\n`);
  return 0;
}

export async function main (argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'check': return check(args);
      case 'replay': return await replayCommand(args);
      case 'serve': return await serveCommand(args);
      case 'backtest': return await backtestCommand(args);
      case 'risk': return await riskCommand(args);
      case 'blocks': return await blocksCommand(args);
      case 'dead-letters': return await deadLettersCommand(args);
      case 'bench': {
        // Loaded only for bench: it pulls in the traffic generator and the baselines' clients.
        const { benchCommand } = await import('../bench/cli.js');
        return await benchCommand(args);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default:
        fail(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof InvalidConfigError || err instanceof InvalidRulesError) {
      for (const d of err.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
      return 2;
    }
    // The flags were right: the usage text would only hide what the message says to change.
    if (err instanceof RefusedError) {
      process.stderr.write(`vigil: ${err.message}\n`);
      return 2;
    }
    // Ours or parseArgs' (an unknown flag, a flag without its value): the flags were wrong.
    if (err instanceof UsageError || (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') === true)) {
      process.stderr.write(`vigil: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    // An input that cannot be read on, like one that cannot be read at all: exit 1, naming where.
    if (err instanceof InputDamagedError) {
      process.stderr.write(`vigil: ${err.message}\n`);
      return 1;
    }
    // A data folder that cannot be used as it is (missing, locked, other rules, damaged): the message
    // says what to do about it, and it is not a failure of the engine.
    if (err instanceof DataUnavailableError || (err instanceof EngineError && err.code === 'VIGIL_STORE_CORRUPT')) {
      process.stderr.write(`vigil: ${err.message}\n`);
      return 1;
    }
    // Our own errors say what happened and what to do; a stack is for what nobody foresaw.
    if (err instanceof EngineError) {
      process.stderr.write(`vigil: engine failure: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`vigil: engine failure: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    return 1;
  }
}

/**
 * Writes demo CDR traffic as JSON lines (or CSV), with labels for the injected fraud cases.
 *
 *   npx tsc -p tsconfig.json
 *   node dist/examples/generate.js --out examples/traffic.jsonl [--labels examples/labels.jsonl]
 *        [--days 3] [--seed 42] [--accounts 2000] [--start 2026-11-20] [--format jsonl|csv]
 *
 * The same options give the same bytes on every machine (seeded PRNG, no clock). Defaults
 * give about 200k records over three days (Friday to Sunday), enough for the demo to show
 * every rule firing and to run in seconds. `--format csv` writes CSV with a header row
 * (examples/csv.ts; label lines then count the header). Replay with:
 *   node bin/vigil.js replay --rules examples/rules.yaml examples/traffic.jsonl
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULTS, generateTraffic } from './dataset.js';
import { ZONE } from './traffic.js';
import { toCsv } from './csv.js';

function positiveInt (name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    process.stderr.write(`generate: --${name} must be a positive integer, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}

function main (): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        out: { type: 'string' },
        labels: { type: 'string' },
        days: { type: 'string' },
        seed: { type: 'string' },
        accounts: { type: 'string' },
        start: { type: 'string' },
        format: { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`generate: ${(err as Error).message}\nusage: generate.js --out FILE [--labels FILE] [--days N] [--seed N] [--accounts N] [--start YYYY-MM-DD] [--format jsonl|csv]\n`);
    process.exit(2);
  }
  const options = {
    days: positiveInt('days', values.days, DEFAULTS.days),
    seed: positiveInt('seed', values.seed, DEFAULTS.seed),
    accounts: positiveInt('accounts', values.accounts, DEFAULTS.accounts),
    start: values.start ?? DEFAULTS.start,
  };
  const format = values.format ?? (values.out?.endsWith('.csv') === true ? 'csv' : 'jsonl');
  if (format !== 'jsonl' && format !== 'csv') {
    process.stderr.write(`generate: --format must be jsonl or csv, got ${JSON.stringify(format)}\n`);
    process.exit(2);
  }
  if (values.out === undefined) {
    process.stderr.write('generate: --out FILE is required\n');
    process.exit(2);
  }
  const started = performance.now();
  let traffic;
  try {
    traffic = generateTraffic(options);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    process.stderr.write(`generate: ${err.message}\n`);
    process.exit(2);
  }
  writeFileSync(values.out, (format === 'csv' ? toCsv(traffic.lines) : traffic.lines).join('\n') + '\n');
  if (values.labels !== undefined) {
    // CSV has a header row: every record sits one line further down.
    const labels = format === 'csv' ? traffic.labels.map((l) => l.line === undefined ? l : { ...l, line: l.line + 1 }) : traffic.labels;
    writeFileSync(values.labels, labels.map((l) => JSON.stringify(l)).join('\n') + '\n');
  }
  const frauds = traffic.labels.filter((l) => l.kind === 'fraud');
  const bad = traffic.labels.filter((l) => l.kind === 'reject');
  process.stderr.write(
    `generate: ${traffic.lines.length} records, ${ZONE.toIso(traffic.from)} .. ${ZONE.toIso(traffic.to)}, ` +
    `${frauds.length} fraud cases (${frauds.map((l) => l.fraud).join(', ')}), ${bad.length} bad records, ` +
    `${Math.round(performance.now() - started)} ms -> ${values.out}` +
    `${values.labels === undefined ? '' : `, labels -> ${values.labels}`}\n`);
}

main();

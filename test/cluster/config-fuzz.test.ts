// Fuzz test of the node config parser (cluster/config.ts), as core/rules-fuzz.test.ts does for
// rules: seeded mutants of real configs (the README's serve and cluster configs and a few more)
// must each either load or be refused with an InvalidConfigError whose every diagnostic has a
// position in the file and a message on one line, none showing a token or a password; never
// another exception, never a hang. Then the refusals the fuzzing found, with exact messages.
// Look at one mutant with FUZZ_ONLY=<seed>:<index>; FUZZ_MUTANTS=<n> and FUZZ_SEED run others.
// Run: npx tsc -p tsconfig.json && node dist/test/cluster/config-fuzz.test.js
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { InvalidConfigError, parseConfig } from '../../cluster/config.js';
import { configError } from '../helpers/config-error.js';
import { tempDir, removeDir } from '../helpers/tmp.js';
import { crashOf, diagnosticProblems, fuzzSeeds, onlyFromEnv, runWatched, summarize, type Seed, type Verdict } from '../helpers/fuzz.js';

const TOKEN = '3f9c2a7e5b1d4c8f9e0a';
const OPS_TOKEN = '8d1e4b2a9c7f3e6d5b0a';
const SWITCH_TOKEN = '77ab3c9d1e5f2a8b4c6d';
const PASSWORD = '9c1e5a7b3d2f';
const SECRETS = [TOKEN, OPS_TOKEN, SWITCH_TOKEN, PASSWORD];
/** Messages about the settings that hold secrets (a secret moved elsewhere by a mutation may be shown there). */
const SECRET_SETTING = /^(?:unknown key .* in )?config\.(?:api(?:\.tokens?(?:\.\S+)?)?|nats(?:\.password|\.token)?)(?:[ :;]|$)/;

const BASE_SEED = Number(process.env.FUZZ_SEED ?? 20261207);
const SCALE = process.env.FUZZ_MUTANTS === undefined ? undefined : Number(process.env.FUZZ_MUTANTS);

/** The README's configs with real secrets (its are elided), and a few that use the other settings. */
const SEEDS: readonly Seed[] = [
  ['readme-serve', [
    '# vigil.yaml: paths are relative to this file',
    'rules: rules.yaml             # PUT /v1/rules rewrites this file',
    'data: /var/lib/vigil          # required: counters, outboxes, checkpoint, alert history, blocklist (LMDB)',
    'listen: 127.0.0.1:7800        # the default; port 0 picks a free one',
    'threads: 2                    # shard actor threads',
    'alerts: alerts.jsonl          # default: standard output',
    'rejects: rejects.jsonl',
    'batch: { max_records: 1000, max_wait: 5ms }',
    'api:',
    `  token: ${TOKEN}`,
    `  tokens: { ops: ${OPS_TOKEN}, switch-fra1: ${SWITCH_TOKEN} }`,
    'telemetry:',
    '  endpoint: http://collector:4318',
    '  service_name: vigil',
    '  sample_ratio: 0.1',
    '  metrics_interval: 60s',
  ]],
  ['readme-cluster', [
    'rules: rules.yaml',
    'data: /var/lib/vigil',
    'alerts: { retention: 7d }',
    'nats:',
    '  servers: [nats://10.0.0.1:4222, nats://10.0.0.2:4222, nats://10.0.0.3:4222]',
    '  prefix: vigil                # subjects <prefix>.in, <prefix>.shard.N, <prefix>.alerts, …',
    '  user: vigil',
    `  password: ${PASSWORD}`,
    '  tls: { ca: ca.pem, cert: node.pem, key: node-key.pem }',
    'cluster:',
    '  roles: [coordinator, node, notifier]',
    '  node_id: fra1-a',
    '  shards: 64',
    '  lease: 10s',
    '  replicas: 3',
    '  retention: 35d',
  ]],
  ['minimal', ['rules: rules.yaml', 'data: ./state']],
  ['nkey-notifier', [
    'rules: ../rules/rules.yaml',
    'data: state',
    'listen: "[::1]:7800"',
    'alerts: { retention: 2d }',
    'batch:',
    '  max_records: 500',
    '  max_wait: 1s',
    'nats:',
    '  servers: [tls://nats.internal:4222]',
    '  prefix: acme.fraud',
    '  nkey: user.nk',
    'cluster: { roles: [notifier], lease: 30s, node_id: edge_1-b }',
  ]],
  ['creds-open', [
    'rules: rules.yaml',
    'data: /srv/vigil',
    'listen: 0.0.0.0:7800',
    `api: { tokens: { ops: ${OPS_TOKEN} } }`,
    'nats: { servers: [nats://127.0.0.1:4222], creds: vigil.creds, tls: {} }',
    'telemetry: { endpoint: "https://otel.example.net:4318/base/", sample_ratio: 1 }',
  ]],
// 250 mutants each, under 2 s in all; FUZZ_MUTANTS=3000 (15,000 mutants) passed.
].map(([name, lines]) => ({ name: name as string, text: (lines as string[]).join('\n') + '\n', mutants: SCALE ?? 250 }));

/** The files the seeds name, written into `dir`: configs check them at load. */
function writeFiles (dir: string): void {
  const seed = 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n';
  writeFileSync(join(dir, 'user.nk'), seed);
  writeFileSync(join(dir, 'vigil.creds'), `-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.e30.AAAA\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}------END USER NKEY SEED------\n`);
  for (const name of ['ca.pem', 'node.pem']) writeFileSync(join(dir, name), '-----BEGIN CERTIFICATE-----\n');
  writeFileSync(join(dir, 'node-key.pem'), '-----BEGIN PRIVATE KEY-----\n');
}

/** Loads `text` as `node.yaml` in `dir`. */
function judgeIn (dir: string): (text: string) => Verdict {
  const file = join(dir, 'node.yaml');
  return (text) => {
    try {
      parseConfig(text, file);
      return { problems: [], accepted: true };
    } catch (err) {
      if (!(err instanceof InvalidConfigError)) return { problems: [crashOf(err)], accepted: false };
      const problems = diagnosticProblems(err.diagnostics, new Map([[file, text]]));
      // Whatever else moved, a message about a secret setting never shows a secret (but a
      // secret the mutation made a key of is that key's name).
      for (const d of err.diagnostics) {
        if (SECRET_SETTING.test(d.message) && SECRETS.some((s) => d.message.includes(s) && !d.message.startsWith(`unknown key "${s}" `))) {
          problems.push(`shows a secret: ${d.message}`);
        }
      }
      return { problems, accepted: false };
    }
  };
}

if (!isMainThread) {
  const data = workerData as { dir: string, progress: Int32Array, only?: { seed: number, index: number } };
  parentPort?.postMessage(fuzzSeeds(SEEDS, BASE_SEED, judgeIn(data.dir), data.progress, data.only));
} else {
  const fuzz = suite<{ dir: string }>('cluster/config-fuzz: mutants of real node configs load, or get a clear diagnostic; never a crash', { dir: '' });
  fuzz.before((ctx) => { ctx.dir = tempDir(); writeFiles(ctx.dir); });
  fuzz.after((ctx) => { removeDir(ctx.dir); });

  fuzz('the seed configs are valid', ({ dir }) => {
    for (const seed of SEEDS) assert.equal(judgeIn(dir)(seed.text), { problems: [], accepted: true }, seed.name);
  });

  const total = SEEDS.reduce((n, s) => n + s.mutants, 0);
  fuzz(`${total} seeded mutants of ${SEEDS.length} configs (seed ${BASE_SEED})`, async ({ dir }) => {
    const only = onlyFromEnv(SEEDS);
    const report = await runWatched(new URL(import.meta.url), { dir, ...(only === undefined ? {} : { only }) }, Math.max(60_000, total * 50),
      (seed, index) => `${SEEDS[seed]?.name ?? '?'} mutant ${index} (FUZZ_ONLY=${SEEDS[seed]?.name ?? '?'}:${index})`);
    assert.ok(report.failures.length === 0, summarize(report, `seed ${BASE_SEED}; look at one with FUZZ_ONLY=<seed>:<index>`));
    if (only !== undefined) return;
    assert.is(report.mutants, total);
    assert.ok(report.accepted > total * 0.05, `only ${report.accepted} of ${total} mutants loaded`);
    assert.ok(report.refused > total * 0.5, `only ${report.refused} of ${total} mutants were refused`);
  });

  fuzz('an alias bomb (billion laughs) is refused at once, never expanded', () => {
    const bomb = ['rules: r', 'data: d', 'l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let k = 1; k < 10; k++) bomb.push(`l${k}: &l${k} [${Array.from({ length: 10 }, () => `*l${k - 1}`).join(', ')}]`);
    bomb.push('api: { tokens: *l9 }');
    const started = performance.now();
    const lines = configError(bomb.join('\n') + '\n', 'bomb.yaml').message.split('\n');
    assert.ok(performance.now() - started < 1_000, `took ${Math.round(performance.now() - started)} ms`);
    assert.is(lines.length, 91);
    assert.is(lines[0], 'bomb.yaml:4:10 aliases (*l0) are not supported in config files; write the value out');
    assert.is(lines[90], 'bomb.yaml:13:16 aliases (*l9) are not supported in config files; write the value out');
  });

  fuzz.run();

  const F = 'node.yaml';

  interface Row { readonly name: string, readonly text: string, readonly expected: readonly string[] }

  const ROWS: readonly Row[] = [
    {
      // It said "not supported in rules files", then read on and refused each alias a second
      // time as a wrong value (`config.listen must be host:port …, got *d`, `unknown key "<<"`).
      name: 'aliases and merge keys are refused once each, as config',
      text: 'rules: r\ndata: &d d\nbatch: &b { max_records: 5 }\napi:\n  <<: *b\nlisten: *d\n',
      expected: [
        `${F}:5:7 aliases (*b) are not supported in config files; write the value out`,
        `${F}:6:9 aliases (*d) are not supported in config files; write the value out`,
      ],
    },
    {
      // The line break inside "2\n  batch" was lost: the last two were placed at 4:22 and 4:24.
      name: 'positions after a YAML token that spans lines are on the right line',
      text: 'rules: r\ndata: d\nlisten: 127.0.0.1:1\n}  threads: 2\n  batch: 3\n',
      expected: [
        `${F}:4:1 invalid YAML: Unexpected flow-map-end token in YAML stream: "}"`,
        `${F}:4:4 invalid YAML: Unexpected scalar token in YAML stream: "threads"`,
        `${F}:4:11 invalid YAML: Unexpected map-value-ind token in YAML stream: ":"`,
        `${F}:4:13 invalid YAML: Unexpected scalar token in YAML stream: "2\\n  batch"`,
        `${F}:5:8 invalid YAML: Unexpected map-value-ind token in YAML stream: ":"`,
        `${F}:5:10 invalid YAML: Unexpected scalar token in YAML stream: "3"`,
      ],
    },
    {
      // The value was echoed: `got "8d1e4b2a9c7f3e6d5b0a"`, the token itself.
      name: 'a token given where the map of tokens belongs is not shown',
      text: `rules: r\ndata: d\napi: { tokens: ${OPS_TOKEN} }\n`,
      expected: [`${F}:3:16 config.api.tokens must be a map of token name: secret, got a string (not shown: it may hold a secret)`],
    },
    {
      name: 'a token given as config.api is not shown',
      text: `rules: r\ndata: d\napi: ${TOKEN}\n`,
      expected: [`${F}:3:6 config.api must be a map with token (a secret) or tokens (name: secret), got a string (not shown: it may hold a secret)`],
    },
    {
      // It was echoed as JSON clipped to 60 characters: a shorter server list showed the password.
      name: 'config.nats written as a list is not shown, its password with it',
      text: `rules: r\ndata: d\nnats:\n  - servers: [nats://127.0.0.1:4222]\n    user: vigil\n    password: ${PASSWORD}\n`,
      expected: [`${F}:4:3 config.nats must be a map with servers (a list of nats:// URLs) and optionally prefix, user and password, token, nkey, creds and tls, got a list (not shown: it may hold a secret)`],
    },
    {
      // `ops:SECRET` (no space after the colon) is one key to YAML: the name shown was the token.
      name: 'a token name glued to its token is shown up to the colon, with the fix',
      text: `rules: r\ndata: d\napi: { tokens: { ops:${OPS_TOKEN} } }\n`,
      expected: [`${F}:3:18 config.api.tokens: a token name must be letters, digits, _ . or -, got "ops:…"; did you mean "ops: …" (a space after the colon)?`],
    },
    {
      name: 'an unknown key glued to a secret is shown up to the colon, with the fix',
      text: `rules: r\ndata: d\napi: { token:${TOKEN} }\nnats: { servers: [nats://127.0.0.1:4222], user: vigil, password:${PASSWORD} }\n`,
      expected: [
        `${F}:3:8 unknown key "token:…" in config.api; did you mean "token: …" (a space after the colon)?`,
        `${F}:4:43 config.nats.password must be given with config.nats.user, got nothing`,
        `${F}:4:56 unknown key "password:…" in config.nats; did you mean "password: …" (a space after the colon)?`,
      ],
    },
    {
      name: 'a no-break space in a key is shown escaped',
      text: 'rules: r\ndata: d\nthreads\u00a0: 1\n',
      expected: [`${F}:3:1 unknown key "threads\\u00a0" in config; did you mean "threads"?`],
    },
    {
      name: 'a control character in a key is shown escaped',
      text: 'rules: r\ndata: d\n"thr\\reads": 3\n',
      expected: [`${F}:3:1 unknown key "thr\\reads" in config; did you mean "threads"?`],
    },
  ];

  const rows = suite('cluster/config-fuzz: refusals the fuzzing found, with their exact messages');

  for (const row of ROWS) {
    rows(row.name, () => {
      assert.equal(configError(row.text, F).diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.message}`), row.expected);
    });
  }

  rows.run();
}

// The cluster part of the serve config: `nats:` credentials and TLS files, and `cluster:`
// (roles, node id, shards, lease, replicas, retention). Every bad value is one table row with
// its exact message; no message may show a password or a token. Needs only the build (the
// referenced files are written into a temporary folder).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, defaultCluster, type ServeConfig } from '../../cluster/config.js';
import { configError } from '../helpers/config-error.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const SEED = 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n';
const CREDS = `-----BEGIN NATS USER JWT-----
eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.AAAA
------END NATS USER JWT------

-----BEGIN USER NKEY SEED-----
${SEED}------END USER NKEY SEED------
`;
const SECRET = 's3cret-do-not-print';

interface Ctx { dir: string, file: string }
const test = suite<Ctx>('cluster/config: nats credentials and TLS, cluster settings', {} as Ctx);

test.before((ctx) => {
  ctx.dir = tempDir();
  ctx.file = join(ctx.dir, 'node.yaml');
  writeFileSync(join(ctx.dir, 'user.nk'), SEED);
  writeFileSync(join(ctx.dir, 'wrong.nk'), 'SAAGOPVUKCXPS3AEFYMVXWFUFW4LWS2TNDIXZAD2TSPBYTCWBX6ATHQ6EM\n');
  writeFileSync(join(ctx.dir, 'vigil.creds'), CREDS);
  writeFileSync(join(ctx.dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n');
  writeFileSync(join(ctx.dir, 'client.pem'), '-----BEGIN CERTIFICATE-----\n');
  writeFileSync(join(ctx.dir, 'client-key.pem'), '-----BEGIN PRIVATE KEY-----\n');
  mkdirSync(join(ctx.dir, 'certs'));
});
test.after((ctx) => { removeDir(ctx.dir); });

const HEAD = 'rules: r.yaml\ndata: d\n';
const SERVERS = 'servers: [nats://127.0.0.1:4222]';

function problems (text: string, file: string): string[] {
  return configError(HEAD + text + '\n', file).message.split('\n');
}

test('config.nats takes one way to authenticate, and says which two it got', ({ file }) => {
  const cases: Array<[string, string]> = [
    [`nats: { ${SERVERS}, user: vigil }`, '3:43 config.nats.password must be given with config.nats.user, got nothing'],
    [`nats: { ${SERVERS}, password: ${SECRET} }`, '3:43 config.nats.user must be given with config.nats.password, got nothing'],
    [`nats: { ${SERVERS}, user: vigil, password: ${SECRET}, token: ${SECRET} }`, '3:87 config.nats must have one way to authenticate (user and password, token, nkey or creds), got user/password and token'],
    [`nats: { ${SERVERS}, token: ${SECRET}, nkey: user.nk }`, '3:71 config.nats must have one way to authenticate (user and password, token, nkey or creds), got token and nkey'],
    [`nats: { ${SERVERS}, password: { a: 1 }, user: vigil }`, '3:53 config.nats.password must be text (the password of config.nats.user), got a map'],
    [`nats: { ${SERVERS}, token: "" }`, '3:50 config.nats.token must be text (the token the server expects), got empty text'],
    [`nats: { ${SERVERS}, token: }`, '3:50 config.nats.token must be text (the token the server expects), got nothing'],
    [`nats: { servers: ["nats://vigil:${SECRET}@127.0.0.1:4222"] }`, '3:19 config.nats.servers must hold URLs without credentials (give them as config.nats.user and password, or token), got "nats://…@127.0.0.1:4222"'],
  ];
  for (const [line, message] of cases) {
    const got = problems(line, file);
    assert.equal(got, [`${file}:${message}`], line);
    assert.not.ok(got.join('\n').includes(SECRET), `a message shows the secret: ${line}`);
  }
});

test('files the node reads to reach NATS must be there and readable, and say why not', ({ dir, file }) => {
  const cases: Array<[string, string]> = [
    [`nats: { ${SERVERS}, nkey: missing.nk }`, `3:49 config.nats.nkey must be a readable NKey seed file (its text starts with SU), got "missing.nk" (${dir}/missing.nk): no such file`],
    [`nats: { ${SERVERS}, nkey: wrong.nk }`, `3:49 config.nats.nkey must be a readable NKey seed file (its text starts with SU), got "wrong.nk" (${dir}/wrong.nk): it does not hold a user seed (SU…)`],
    [`nats: { ${SERVERS}, nkey: certs }`, `3:49 config.nats.nkey must be a readable NKey seed file (its text starts with SU), got "certs" (${dir}/certs): it is a folder`],
    [`nats: { ${SERVERS}, creds: user.nk }`, `3:50 config.nats.creds must be a readable JWT credentials file (.creds), got "user.nk" (${dir}/user.nk): it does not hold a NATS user JWT and seed`],
    [`nats: { ${SERVERS}, creds: [a] }`, '3:50 config.nats.creds must be a readable JWT credentials file (.creds), given as a path, got ["a"]'],
    [`nats: { ${SERVERS}, tls: { ca: certs/ca.pem } }`, `3:54 config.nats.tls.ca must be a readable CA certificate file (PEM), got "certs/ca.pem" (${dir}/certs/ca.pem): no such file`],
    [`nats: { ${SERVERS}, tls: { cert: client.pem } }`, '3:50 config.nats.tls.key must be given with config.nats.tls.cert (the client certificate\'s private key), got nothing'],
    [`nats: { ${SERVERS}, tls: { key: client-key.pem } }`, '3:50 config.nats.tls.cert must be given with config.nats.tls.key (the client certificate), got nothing'],
    [`nats: { ${SERVERS}, tls: { crt: client.pem } }`, '3:50 unknown key "crt" in config.nats.tls; did you mean "cert"?'],
    [`nats: { ${SERVERS}, tls: true }`, '3:48 config.nats.tls must be a map with ca (a CA certificate file) and/or cert and key (a client certificate and its key), got true'],
  ];
  for (const [line, message] of cases) assert.equal(problems(line, file), [`${file}:${message}`], line);
});

test('config.cluster is checked key by key, and needs config.nats', ({ file }) => {
  const cases: Array<[string, string]> = [
    ['cluster: { shards: 8 }', '3:1 config.cluster needs config.nats.servers: the cluster roles talk to each other over NATS, got no nats:'],
    ['cluster: { roles: [] }', '4:19 config.cluster.roles must be a list of one or more of coordinator, node or notifier, got []'],
    ['cluster: { roles: node }', '4:19 config.cluster.roles must be a list of one or more of coordinator, node or notifier, got "node"'],
    ['cluster: { roles: [node, nod] }', '4:26 config.cluster.roles must be coordinator, node or notifier, got "nod"; did you mean "node"?'],
    ['cluster: { roles: [node, notifier, node] }', '4:36 config.cluster.roles must name each role once, got "node" twice'],
    ['cluster: { node_id: a.b }', '4:21 config.cluster.node_id must be 1 to 64 letters, digits, _ or - (it names the node\'s leases in a NATS KV bucket), got "a.b"'],
    ['cluster: { node_id: "" }', '4:21 config.cluster.node_id must be 1 to 64 letters, digits, _ or - (it names the node\'s leases in a NATS KV bucket), got ""'],
    ['cluster: { shards: 0 }', '4:20 config.cluster.shards must be a whole number of shards from 1 to 4096, got 0'],
    ['cluster: { shards: 4097 }', '4:20 config.cluster.shards must be a whole number of shards from 1 to 4096, got 4097'],
    ['cluster: { shards: 1.5 }', '4:20 config.cluster.shards must be a whole number of shards from 1 to 4096, got 1.5'],
    ['cluster: { lease: 500ms }', '4:19 config.cluster.lease must be a duration from 1s to 5m such as 10s, got "500ms"'],
    ['cluster: { lease: 6m }', '4:19 config.cluster.lease must be a duration from 1s to 5m such as 10s, got "6m"'],
    ['cluster: { lease: 10 }', '4:19 config.cluster.lease must be a duration from 1s to 5m such as 10s, got 10'],
    ['cluster: { replicas: 6 }', '4:22 config.cluster.replicas must be a whole number of JetStream replicas from 1 to 5, got 6'],
    ['cluster: { retention: 0d }', '4:23 config.cluster.retention must be a duration such as 90s, 30m, 1h or 2d (how long the shard stream keeps records), got "0d"'],
    ['cluster: { shard: 4 }', '4:12 unknown key "shard" in config.cluster; did you mean "shards"?'],
    ['cluster: [node]', '4:10 config.cluster must be a map with roles, node_id, shards, lease, replicas and retention, got ["node"]'],
  ];
  for (const [line, message] of cases) {
    const text = line.startsWith('cluster: { shards: 8 }') ? line : `nats: { ${SERVERS} }\n${line}`;
    assert.equal(problems(text, file), [`${file}:${message}`], line);
  }
});

test('every problem in nats: and cluster: is reported at once, in file order', ({ file }) => {
  const text = [
    'nats:',
    '  servers: [nats://127.0.0.1:4222]',
    '  user: vigil',
    `  token: ${SECRET}`,
    '  nkey: nope.nk',
    '  tls: { cert: client.pem }',
    'cluster:',
    '  roles: [nodes]',
    '  shards: 0',
    '  lease: 1h',
  ].join('\n');
  const got = problems(text, file);
  assert.equal(got, [
    `${file}:5:3 config.nats.password must be given with config.nats.user, got nothing`,
    `${file}:6:3 config.nats must have one way to authenticate (user and password, token, nkey or creds), got user/password and token`,
    `${file}:7:3 config.nats must have one way to authenticate (user and password, token, nkey or creds), got user/password, token and nkey`,
    `${file}:7:9 config.nats.nkey must be a readable NKey seed file (its text starts with SU), got "nope.nk" (${file.replace(/node\.yaml$/, 'nope.nk')}): no such file`,
    `${file}:8:10 config.nats.tls.key must be given with config.nats.tls.cert (the client certificate's private key), got nothing`,
    `${file}:10:11 config.cluster.roles must be coordinator, node or notifier, got "nodes"; did you mean "node"?`,
    `${file}:11:11 config.cluster.shards must be a whole number of shards from 1 to 4096, got 0`,
    `${file}:12:10 config.cluster.lease must be a duration from 1s to 5m such as 10s, got "1h"`,
  ]);
  assert.not.ok(got.join('\n').includes(SECRET));
});

test('good settings: credentials and files resolve against the config folder, cluster keys fill in', ({ dir, file }) => {
  const nats = (text: string): ServeConfig['nats'] => parseConfig(`${HEAD}nats: { ${SERVERS}, ${text} }\n`, file).nats;
  assert.equal(nats('user: vigil, password: 123456')?.auth, { kind: 'user', user: 'vigil', password: '123456' });
  assert.equal(nats(`token: ${SECRET}`)?.auth, { kind: 'token', token: SECRET });
  assert.equal(nats('nkey: user.nk')?.auth, { kind: 'nkey', seedFile: join(dir, 'user.nk') });
  assert.equal(nats(`creds: ${dir}/vigil.creds`)?.auth, { kind: 'creds', credsFile: join(dir, 'vigil.creds') });
  assert.equal(nats('prefix: acme'), { servers: ['nats://127.0.0.1:4222'], prefix: 'acme', auth: { kind: 'none' }, tls: undefined });
  assert.equal(nats('tls: { ca: ca.pem }')?.tls, { ca: join(dir, 'ca.pem') });
  assert.equal(nats('tls: { ca: ca.pem, cert: ./client.pem, key: client-key.pem }')?.tls, { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client-key.pem') });
  assert.equal(nats('tls: {}')?.tls, {});

  const full = parseConfig(`${HEAD}listen: 127.0.0.1:7801\nnats: { ${SERVERS} }\ncluster:\n  roles: [notifier, node]\n  node_id: edge_1-b\n  shards: 4096\n  lease: 5m\n  replicas: 5\n  retention: 40d\n`, file);
  assert.equal(full.cluster, { roles: ['notifier', 'node'], nodeId: 'edge_1-b', shards: 4096, leaseMs: 300_000, replicas: 5, retentionMs: 40 * 86_400_000 });
  const some = parseConfig(`${HEAD}listen: 127.0.0.1:7801\nnats: { ${SERVERS} }\ncluster: { lease: 1s, node_id: 7 }\n`, file);
  assert.equal(some.cluster, { ...defaultCluster({ host: '127.0.0.1', port: 7801 }), leaseMs: 1000, nodeId: '7' });
  const none = parseConfig(HEAD, file);
  assert.equal(none.cluster, defaultCluster({ host: '127.0.0.1', port: 7800 }));
  assert.equal(none.cluster.roles, ['coordinator', 'node', 'notifier']);
  assert.equal([none.cluster.shards, none.cluster.leaseMs, none.cluster.replicas, none.cluster.retentionMs], [64, 10_000, 1, 35 * 86_400_000]);
});

test('a cluster config refuses an alerts or rejects file (a cluster node writes neither) and says where that output goes', ({ file }) => {
  const ALERTS = 'a cluster node writes no alerts file; alerts go to the acme.alerts stream, GET /v1/alerts and the rules\' channels (a file channel appends them as JSON lines)';
  const REJECTS = 'a cluster node writes no rejects file; rejects go to acme.rejected and into the answer to each POST /v1/records and each acme.in request';
  const cases: Array<[string, string[]]> = [
    ['alerts: alerts.jsonl', [`3:9 config.alerts must be left out or { retention: DURATION } when config.nats is set, got "alerts.jsonl": ${ALERTS}`]],
    ['alerts: "-"', [`3:9 config.alerts must be left out or { retention: DURATION } when config.nats is set, got "-": ${ALERTS}`]],
    ['alerts: { file: a.jsonl, retention: 2d }', [`3:17 config.alerts.file must be left out when config.nats is set, got "a.jsonl": ${ALERTS}`]],
    ['rejects: rejects.jsonl', [`3:10 config.rejects must be left out when config.nats is set, got "rejects.jsonl": ${REJECTS}`]],
    ['alerts: a.jsonl\nrejects: r.jsonl', [
      `3:9 config.alerts must be left out or { retention: DURATION } when config.nats is set, got "a.jsonl": ${ALERTS}`,
      `4:10 config.rejects must be left out when config.nats is set, got "r.jsonl": ${REJECTS}`,
    ]],
  ];
  for (const [line, messages] of cases) {
    assert.equal(problems(`${line}\nnats: { ${SERVERS}, prefix: acme }`, file), messages.map((m) => `${file}:${m}`), line);
  }
  // What a cluster does use still loads: no alerts: at all (the embedded default is standard
  // output), and the alert history's retention.
  const plain = parseConfig(`${HEAD}nats: { ${SERVERS} }\n`, file);
  assert.equal([plain.alerts, plain.rejects, plain.alertRetentionMs], [undefined, undefined, 7 * 86_400_000]);
  const kept = parseConfig(`${HEAD}alerts: { retention: 2d }\nnats: { ${SERVERS} }\n`, file);
  assert.equal([kept.alerts, kept.alertRetentionMs], [undefined, 2 * 86_400_000]);
  // Without nats: the embedded node writes both files, as before.
  const embedded = parseConfig(`${HEAD}alerts: a.jsonl\nrejects: r.jsonl\n`, file);
  assert.equal([embedded.alerts, embedded.rejects], [file.replace(/node\.yaml$/, 'a.jsonl'), file.replace(/node\.yaml$/, 'r.jsonl')]);
});

test('the default node id is a valid KV key token whatever the host name', () => {
  assert.match(defaultCluster({ host: '127.0.0.1', port: 7800 }).nodeId, /^[A-Za-z0-9_-]{1,64}-7800$/);
});

test.run();

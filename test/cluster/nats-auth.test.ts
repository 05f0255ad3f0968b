// connectNats (workers/nats-connect.ts) against real nats-servers with authentication on:
// user/password, token, an NKey user, a JWT creds file (operator mode, memory resolver) and,
// when openssl is installed, mutual TLS with a throwaway CA. Right credentials connect; wrong
// ones fail with a message naming the server and the reason, never the secret. The same
// settings reach the notification thread: its `nats` channels deliver with them, and a wrong
// password is a failed delivery that says why without showing the password. An embedded node
// (cluster/serve.ts) answers blocks.check on a server that wants a password.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Alert } from '../../core/alert.js';
import { nkeys } from '../../workers/nats-client.js';
import { NatsConnectError, connectNats, natsConnectOptions, type NatsAuth, type NatsSettings, type NatsTls } from '../../workers/nats-connect.js';
import { defaultCluster, DEFAULT_TELEMETRY, DEFAULT_MAX_AHEAD_MS } from '../../cluster/config.js';
import { Notifications } from '../../cluster/notifier.js';
import { ServeNode } from '../../cluster/serve.js';
import { rule, rules } from '../helpers/config.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { WAIT_MS, within } from '../helpers/node.js';
import { alert } from '../fixtures/alerts.js';
import { freePort, waitFor } from '../fixtures/receivers.js';
import { tempDir, removeDir } from '../helpers/tmp.js';

const HAS_OPENSSL = spawnSync('openssl', ['version']).error === undefined;
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const TOKEN = `tok-${randomBytes(12).toString('hex')}`;

type Kind = 'user' | 'token' | 'nkey' | 'creds' | 'tls';
interface Ctx { dir: string, servers: Map<Kind, NatsServer> }
const test = suite<Ctx>('workers/nats-connect: credentials and TLS against real servers', {} as Ctx);

type KeyPair = ReturnType<typeof nkeys.createUser>;
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64url');

/**
 * A NATS JWT (v2 claims, ed25519-nkey) signed by `issuer`. The server checks the signature and
 * the issuer chain, not `jti`, so a plain hash of the claims stands in for nsc's.
 */
function natsJwt (issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  const jti = createHash('sha256').update(JSON.stringify(claims)).digest('base64url');
  const signed = `${b64(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))}.${b64(JSON.stringify({ jti, ...claims }))}`;
  return `${signed}.${b64(issuer.sign(new TextEncoder().encode(signed)))}`;
}

function credsFile (jwt: string, user: KeyPair): string {
  return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${text(user.getSeed())}\n------END USER NKEY SEED------\n`;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates (dir: string): void {
  const openssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }); };
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...newKey, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=vigil test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const who of ['server', 'client']) {
    openssl('req', ...newKey, '-keyout', `${who}-key.pem`, '-out', `${who}.csr`, '-subj', `/CN=vigil test ${who}`);
    openssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${who}.pem`, '-days', '1', '-extfile', `${who}.ext`);
  }
}

test.before(async (ctx) => {
  ctx.dir = tempDir();
  ctx.servers = new Map();
  const { dir, servers } = ctx;
  const nkeyUser = nkeys.createUser();
  writeFileSync(join(dir, 'user.nk'), text(nkeyUser.getSeed()) + '\n');
  writeFileSync(join(dir, 'other.nk'), text(nkeys.createUser().getSeed()) + '\n');

  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const credsUser = nkeys.createUser();
  const accountJwt = natsJwt(operator, account.getPublicKey(), 'vigil', { type: 'account', limits: { subs: -1, conn: -1, leaf: -1, imports: -1, exports: -1, data: -1, payload: -1, wildcards: true } });
  const userJwt = natsJwt(account, credsUser.getPublicKey(), 'node', { type: 'user', pub: {}, sub: {}, subs: -1, data: -1, payload: -1 });
  writeFileSync(join(dir, 'node.creds'), credsFile(userJwt, credsUser));
  writeFileSync(join(dir, 'stranger.creds'), credsFile(userJwt, nkeys.createUser()));

  servers.set('user', await startNatsServer({ config: `authorization { user: vigil, password: "${PASSWORD}" }\n` }));
  servers.set('token', await startNatsServer({ config: `authorization { token: "${TOKEN}" }\n` }));
  servers.set('nkey', await startNatsServer({ config: `authorization { users: [ { nkey: ${nkeyUser.getPublicKey()} } ] }\n` }));
  servers.set('creds', await startNatsServer({ config: `operator: ${natsJwt(operator, operator.getPublicKey(), 'test', { type: 'operator' })}\nresolver: MEMORY\nresolver_preload: { ${account.getPublicKey()}: ${accountJwt} }\n` }));
  if (HAS_OPENSSL) {
    makeCertificates(dir);
    servers.set('tls', await startNatsServer({ config: `tls { cert_file: "${join(dir, 'server.pem')}", key_file: "${join(dir, 'server-key.pem')}", ca_file: "${join(dir, 'ca.pem')}", verify: true }\n` }));
  }
});

test.after(async (ctx) => {
  for (const server of ctx.servers?.values() ?? []) await server.stop();
  if (ctx.dir !== undefined) removeDir(ctx.dir);
});

function settings (server: NatsServer, auth: NatsAuth, tls?: NatsTls): NatsSettings {
  return { servers: [server.url], prefix: 'vigil', auth, tls };
}

async function refusal (s: NatsSettings): Promise<NatsConnectError> {
  try {
    const nc = await connectNats(s, 'vigil-test');
    await nc.close();
  } catch (err) {
    assert.instance(err, NatsConnectError);
    const message = (err as Error).message;
    assert.not.ok(message.includes(PASSWORD) || message.includes(TOKEN), `the message shows a secret: ${message}`);
    return err as NatsConnectError;
  }
  assert.unreachable(`connected to ${s.servers.join(', ')} with ${s.auth.kind}`);
  throw new Error('unreachable');
}

test('the right credentials connect; wrong or missing ones name the server and say Authorization Violation', async ({ dir, servers }) => {
  const at = (kind: Kind): NatsServer => servers.get(kind) as NatsServer;
  const good: Array<[Kind, NatsAuth]> = [
    ['user', { kind: 'user', user: 'vigil', password: PASSWORD }],
    ['token', { kind: 'token', token: TOKEN }],
    ['nkey', { kind: 'nkey', seedFile: join(dir, 'user.nk') }],
    ['creds', { kind: 'creds', credsFile: join(dir, 'node.creds') }],
  ];
  for (const [kind, auth] of good) {
    const nc = await connectNats(settings(at(kind), auth), `vigil-test-${kind}`);
    await nc.flush();
    assert.is(nc.isClosed(), false, kind);
    await nc.close();
  }
  const bad: Array<[Kind, NatsAuth]> = [
    ['user', { kind: 'user', user: 'vigil', password: `${PASSWORD}x` }],
    ['user', { kind: 'user', user: 'mallory', password: PASSWORD }],
    ['user', { kind: 'none' }],
    ['token', { kind: 'token', token: TOKEN.slice(1) }],
    ['token', { kind: 'user', user: 'vigil', password: TOKEN }],
    ['nkey', { kind: 'nkey', seedFile: join(dir, 'other.nk') }],
    ['creds', { kind: 'creds', credsFile: join(dir, 'stranger.creds') }],
    ['creds', { kind: 'none' }],
  ];
  for (const [kind, auth] of bad) {
    const err = await refusal(settings(at(kind), auth));
    assert.is(err.message, `cannot connect to NATS at ${at(kind).url}: Authorization Violation`, `${kind} with ${auth.kind}`);
    assert.is(err.retriable, false);
    assert.equal(err.servers, [at(kind).url]);
  }
});

test('a closed port is retriable; a credentials file gone since the config was read is not', async ({ dir, servers }) => {
  const port = await freePort();
  const closed = await refusal({ servers: [`nats://127.0.0.1:${port}`], prefix: 'vigil', auth: { kind: 'token', token: TOKEN }, tls: undefined });
  assert.is(closed.message, `cannot connect to NATS at nats://127.0.0.1:${port}: connection refused`);
  assert.is(closed.retriable, true);
  assert.is(closed.name, 'NatsConnectError');

  const seedFile = join(dir, 'gone.nk');
  writeFileSync(seedFile, 'SU…');
  rmSync(seedFile);
  const server = servers.get('nkey') as NatsServer;
  const gone = await refusal(settings(server, { kind: 'nkey', seedFile }));
  assert.is(gone.message, `cannot connect to NATS at ${server.url}: cannot read the NKey seed file ${seedFile}: no such file`);
  assert.is(gone.retriable, false);
});

test('the options: reconnect for ever, the client name, TLS file names, TLS required by a tls:// URL', async ({ dir }) => {
  const s: NatsSettings = { servers: ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223'], prefix: 'vigil', auth: { kind: 'user', user: 'vigil', password: PASSWORD }, tls: { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client-key.pem') } };
  assert.equal(await natsConnectOptions(s, 'vigil-n1'), {
    servers: ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223'],
    name: 'vigil-n1',
    maxReconnectAttempts: -1,
    user: 'vigil',
    pass: PASSWORD,
    tls: { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client-key.pem') },
  });
  const plain = await natsConnectOptions({ ...s, auth: { kind: 'none' }, tls: { ca: '/etc/ca.pem' } }, 'n');
  assert.equal(plain.tls, { caFile: '/etc/ca.pem' });
  assert.is((await natsConnectOptions({ ...s, auth: { kind: 'token', token: TOKEN }, tls: undefined }, 'n')).tls, undefined);
  assert.equal((await natsConnectOptions({ ...s, servers: ['tls://127.0.0.1:4222'], tls: undefined }, 'n')).tls, {});
  assert.is(typeof (await natsConnectOptions({ ...s, auth: { kind: 'nkey', seedFile: join(dir, 'user.nk') } }, 'n')).authenticator, 'function');
});

const tlsCase = HAS_OPENSSL ? test : test.skip;
tlsCase(`TLS: the CA and a client certificate connect; without the CA the server is not trusted${HAS_OPENSSL ? '' : ' (SKIPPED: openssl is not installed on this machine)'}`, async ({ dir, servers }) => {
  const server = servers.get('tls') as NatsServer;
  assert.match(server.url, /^tls:\/\//);
  const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client-key.pem') };
  const nc = await connectNats(settings(server, { kind: 'none' }, files), 'vigil-test-tls');
  await nc.flush();
  await nc.close();
  for (const tls of [undefined, { cert: files.cert, key: files.key }]) {
    const err = await refusal(settings(server, { kind: 'none' }, tls));
    assert.is(err.message, `cannot connect to NATS at ${server.url}: unable to verify the first certificate`);
    assert.is(err.retriable, false);
  }
});

/** A notifier thread with one `nats` channel `bus` on `subject`, failing for good after 1 s. */
async function notifier (dir: string, subject: string, nats: NatsSettings | undefined): Promise<Notifications> {
  return await Notifications.open({
    config: rules([rule({ id: 'spend-day' })], { channels: new Map([['bus', { type: 'nats', settings: { subject, retry: { max: '1s' } } }]]) }),
    dataPath: join(dir, `notify-${subject}`),
    nats,
    backoffBaseMs: 20,
    backoffCapMs: 200,
    timeoutMs: 5_000,
    log: false,
    baseDir: dir,
  });
}

test('a nats channel delivers with each kind of credentials, in the notifier thread', async ({ dir, servers }) => {
  const kinds: Array<[Kind, NatsAuth, NatsTls?]> = [
    ['user', { kind: 'user', user: 'vigil', password: PASSWORD }],
    ['token', { kind: 'token', token: TOKEN }],
    ['nkey', { kind: 'nkey', seedFile: join(dir, 'user.nk') }],
    ['creds', { kind: 'creds', credsFile: join(dir, 'node.creds') }],
  ];
  if (HAS_OPENSSL) kinds.push(['tls', { kind: 'none' }, { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client-key.pem') }]);
  for (const [kind, auth, tls] of kinds) {
    const s = settings(servers.get(kind) as NatsServer, auth, tls);
    const subject = `vigil.test.${kind}.${process.pid}`;
    const nc = await connectNats(s, 'vigil-test-subscriber');
    const got: Alert[] = [];
    nc.subscribe(subject, { callback: (err, msg) => { if (err === null) got.push(msg.json<Alert>()); } });
    await nc.flush();
    const n = await notifier(dir, subject, s);
    try {
      await n.enqueue([alert(1), alert(2)]);
      await waitFor(() => got.length >= 2, 10_000, `2 alerts published with ${kind}`);
      assert.equal(got.map((a) => a.id).sort(), ['alert-0001', 'alert-0002'], kind);
      // The subscriber can hear a message before the notifier thread has counted its publish
      // as delivered (that waits on the server's reply to a flush): wait for the count too.
      await waitFor(async () => (await n.stats()).channels[0]!.delivered === 2, 10_000, `2 deliveries counted with ${kind}`);
      const bus = (await n.stats()).channels[0]!;
      assert.is(bus.delivered, 2, kind);
      assert.is(bus.failedAttempts, 0, kind);
    } finally {
      await n.close();
      await nc.close();
    }
  }
});

test('a wrong password fails the nats channel\'s deliveries with Authorization Violation, never the password', async ({ dir, servers }) => {
  const server = servers.get('user') as NatsServer;
  const wrong = `${PASSWORD}-wrong`;
  const n = await notifier(dir, 'vigil.test.refused', settings(server, { kind: 'user', user: 'vigil', password: wrong }));
  try {
    await n.enqueue([alert(1)]);
    await waitFor(async () => (await n.deadLetters()).length === 1, 10_000, 'the dead letter');
    const dead = await n.deadLetters();
    const stats = await n.stats();
    assert.is(dead[0]!.error, 'channel bus: nats cannot connect: Authorization Violation');
    assert.ok(stats.channels[0]!.failedAttempts >= 1);
    const said = JSON.stringify({ dead, stats });
    assert.not.ok(said.includes(wrong) || said.includes(PASSWORD), `the password leaked: ${said.slice(0, 400)}`);
  } finally {
    await n.close();
  }
  // Without config.nats the channel has nowhere to publish: every delivery fails, as before.
  const none = await notifier(dir, 'vigil.test.none', undefined);
  try {
    await none.enqueue([alert(1)]);
    await waitFor(async () => (await none.deadLetters()).length === 1, 10_000, 'the dead letter');
    assert.is((await none.deadLetters())[0]!.error, 'channel bus: nats has no servers configured');
  } finally {
    await none.close();
  }
});

test('an embedded node answers blocks.check on a server that wants a password, and stops', async ({ dir, servers }) => {
  const server = servers.get('user') as NatsServer;
  const s = settings(server, { kind: 'user', user: 'vigil', password: PASSWORD });
  const rulesFile = join(dir, 'serve-rules.yaml');
  writeFileSync(rulesFile, 'version: 1\nrules:\n  - { id: calls, by: account, measure: count, window: day, limit: 100 }\n');
  const node = await within(WAIT_MS, 'start', ServeNode.start({
    file: 'test', rules: rulesFile, data: join(dir, 'serve-data'), listen: { host: '127.0.0.1', port: 0 }, threads: 1, alerts: join(dir, 'serve-alerts.jsonl'), alertRetentionMs: 86_400_000, rejects: undefined, batch: { maxRecords: 100, maxWaitMs: 2 }, maxAheadMs: DEFAULT_MAX_AHEAD_MS, api: { tokens: [] }, nats: s, cluster: defaultCluster({ host: '127.0.0.1', port: 0 }), telemetry: DEFAULT_TELEMETRY,
  }, { log: () => {} }));
  const nc = await connectNats(s, 'vigil-test-switch');
  try {
    const reply = (await nc.request('vigil.blocks.check', 'acct-1', { timeout: 5_000 })).json<unknown>();
    assert.equal(reply, { key: 'acct-1', blocked: false });
  } finally {
    await nc.close();
    await within(WAIT_MS, 'stop', node.stop());
  }
  // Refused by the server: start fails with the reason (and closes what it opened).
  try {
    const refused = await ServeNode.start({
      file: 'test', rules: rulesFile, data: join(dir, 'serve-data'), listen: { host: '127.0.0.1', port: 0 }, threads: 1, alerts: join(dir, 'serve-alerts.jsonl'), alertRetentionMs: 86_400_000, rejects: undefined, batch: { maxRecords: 100, maxWaitMs: 2 }, maxAheadMs: DEFAULT_MAX_AHEAD_MS, api: { tokens: [] }, nats: settings(server, { kind: 'none' }), cluster: defaultCluster({ host: '127.0.0.1', port: 0 }), telemetry: DEFAULT_TELEMETRY,
    }, { log: () => {} });
    await refused.stop();
    assert.unreachable('started without the password');
  } catch (err) {
    assert.instance(err, NatsConnectError);
    assert.is((err as Error).message, `cannot connect to NATS at ${server.url}: Authorization Violation`);
  }
});

test.run();

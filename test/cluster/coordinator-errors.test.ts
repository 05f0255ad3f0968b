// A coordinator on a real nats-server: what should not fail, when it does, is said, not
// swallowed. A `<prefix>.in` request whose records could not be taken is answered with the
// error (it used to get no answer and time out) and the failure reaches onError.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Coordinator } from '../../cluster/coordinator.js';
import { clusterNames, ensureCluster } from '../../cluster/jetstream.js';
import { compileRules } from '../../core/compile.js';
import { connect, jetstream, jetstreamManager, type NatsConnection } from '../../workers/nats-client.js';
import { rules } from '../helpers/config.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';

interface Ctx { nats: NatsServer, nc: NatsConnection }
const test = suite<Ctx>('cluster/coordinator: failures are reported', {} as Ctx);
test.before(async (ctx) => {
  ctx.nats = await startNatsServer({ jetstream: true });
  ctx.nc = await connect({ servers: [ctx.nats.url] });
});
test.after(async (ctx) => {
  await ctx.nc.close();
  await ctx.nats.stop();
});

const RECORD = JSON.stringify({ ts: Date.now(), account: 'A1', called: '+4930123' });

test('a <prefix>.in request whose records could not be taken is answered with the error, which reaches onError', async ({ nc }) => {
  const names = clusterNames('errs');
  const jsm = await jetstreamManager(nc);
  await ensureCluster(nc, jsm, names, { replicas: 1, retentionMs: 3_600_000, leaseMs: 10_000 });
  const errors: string[] = [];
  let calls = 0;
  const coordinator = new Coordinator({
    nc,
    js: jetstream(nc),
    names,
    compiled: compileRules(rules([])),
    shards: 4,
    id: 'errs',
    // The first offer's receipt handler throws, as a bug in it would.
    onCommitted: () => { if (++calls === 1) throw new Error('the receipt handler broke'); },
    onError: (what, err) => { errors.push(`${what}: ${(err as Error).message}`); },
  });
  coordinator.listen();
  await nc.flush();
  const failed = await nc.request(names.subjects.in, RECORD, { timeout: 5_000 });
  assert.equal(failed.json(), { error: 'the coordinator could not take these records: the receipt handler broke; send them again' });
  assert.equal(errors, [`taking a message on ${names.subjects.in}: the receipt handler broke`]);
  const ok = await nc.request(names.subjects.in, RECORD, { timeout: 5_000 });
  assert.equal(ok.json(), { accepted: 1, rejected: 0, rejects: [] }, 'the next request is taken');
  await coordinator.close();
});

test.run();

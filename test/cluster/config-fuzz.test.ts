// The node config parser (cluster/config.ts) meets what the rules parser meets: refusals the
// fuzzing of both found, each with its exact message.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { configError } from '../helpers/config-error.js';

const F = 'node.yaml';
const TOKEN = '3f9c2a7e5b1d4c8f9e0a';
const OPS_TOKEN = '8d1e4b2a9c7f3e6d5b0a';
const PASSWORD = '9c1e5a7b3d2f';

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

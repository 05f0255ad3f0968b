/** Loads and compiles a rules file the way the CLI does, list and limits files beside it. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRules } from '../core/rules-parse.js';
import { compileRules } from '../core/compile.js';
import type { CompiledRules } from '../core/compile.js';

export function loadRules (file: string): CompiledRules {
  const text = readFileSync(file, 'utf8');
  return compileRules(parseRules(text, file, { readFile: (p) => readFileSync(resolve(dirname(file), p), 'utf8') }));
}

/** The rules files the core benches take with `--rules`: the demo's 23 rules, or the spec's seven (bench/spec-rules.yaml). */
const RULE_FILES: Readonly<Record<string, string>> = {
  examples: fileURLToPath(new URL('../../examples/rules.yaml', import.meta.url)),
  spec: fileURLToPath(new URL('../../bench/spec-rules.yaml', import.meta.url)),
};

/** The rules file named by `--rules` (`examples` or `spec`). */
export function namedRules (name: string): string {
  const file = RULE_FILES[name];
  if (file === undefined) throw new RangeError(`--rules must be one of ${Object.keys(RULE_FILES).join(', ')}, got ${name}`);
  return file;
}

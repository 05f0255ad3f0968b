/** Loads and compiles a rules file the way the CLI does, list and limits files beside it. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseRules } from '../core/rules-parse.js';
import { compileRules } from '../core/compile.js';
import type { CompiledRules } from '../core/compile.js';

export function loadRules (file: string): CompiledRules {
  const text = readFileSync(file, 'utf8');
  return compileRules(parseRules(text, file, { readFile: (p) => readFileSync(resolve(dirname(file), p), 'utf8') }));
}

/**
 * Loads a rules file from disk: list files and `limits_file` paths are read relative to the
 * rules file's folder, as an analyst expects when the files sit side by side.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { RulesConfig } from '../core/rules-config.js';
import { parseRules } from '../core/rules-parse.js';
import { InvalidRulesError } from '../core/errors.js';

export function loadRules (file: string): RulesConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new InvalidRulesError([{ file, line: 1, col: 1, message: `cannot read the rules file: ${reason}` }]);
  }
  const base = dirname(resolve(file));
  return parseRules(text, file, {
    readFile: (path) => readFileSync(resolve(base, path), 'utf8'),
  });
}

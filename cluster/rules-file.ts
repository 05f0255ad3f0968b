/**
 * Loads a rules file from disk: list files and `limits_file` paths are read relative to the
 * rules file's folder, as an analyst expects when the files sit side by side.
 */
import { dirname, resolve } from 'node:path';
import type { RulesConfig } from '../core/rules-config.js';
import { parseRules } from '../core/rules-parse.js';
import { InvalidRulesError } from '../core/errors.js';
import { LATIN1_HINT, NotUtf8FileError, notUtf8Byte, readUtf8File } from './utf8-text.js';

export function loadRules (file: string): RulesConfig {
  let text: string;
  try {
    text = readUtf8File(file);
  } catch (err) {
    if (err instanceof NotUtf8FileError) throw new InvalidRulesError([{ file, line: err.line, col: err.bad.column, message: `${notUtf8Byte(err.bad)}; the rules file must be UTF-8 (${LATIN1_HINT})` }]);
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new InvalidRulesError([{ file, line: 1, col: 1, message: `cannot read the rules file: ${reason}` }]);
  }
  const base = dirname(resolve(file));
  return parseRules(text, file, {
    readFile: (path) => readUtf8File(resolve(base, path)),
  });
}

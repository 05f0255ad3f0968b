// The serve config tests assert on what parseConfig refuses: the error a text draws, with
// every problem in it. A text that parses, or an error of another kind, fails the test here.
import * as assert from 'uvu/assert';
import { InvalidConfigError, parseConfig } from '../../cluster/config.js';

/** The InvalidConfigError that `text`, read as the file `file`, draws from parseConfig. */
export function configError (text: string, file: string): InvalidConfigError {
  try {
    parseConfig(text, file);
  } catch (err) {
    assert.instance(err, InvalidConfigError);
    return err as InvalidConfigError;
  }
  assert.unreachable(text);
  // unreachable() has thrown; its type does not say so.
  throw new Error(text);
}

/**
 * The error catalog. Every error Vigil raises on purpose is an EngineError with a stable
 * `code`; callers match on `code`, never on message text. Messages say what is wrong and
 * where, in the form `<where>.<field> must be <expectation>, got <value>`.
 */
export type ErrorCode =
  | 'VIGIL_INVALID_RECORD'
  | 'VIGIL_INVALID_RULES'
  | 'VIGIL_LATE_RECORD'
  | 'VIGIL_FUTURE_RECORD'
  | 'VIGIL_USAGE'
  | 'VIGIL_RULE_FAILED'
  | 'VIGIL_STORE_CORRUPT'
  | 'VIGIL_STORE_FAILED'
  | 'VIGIL_MAILBOX_FULL'
  | 'VIGIL_EPOCH_GAP'
  | 'VIGIL_ENGINE_FAILED'
  | 'VIGIL_INVALID_CHANNEL'
  | 'VIGIL_DELIVERY_FAILED'
  | 'VIGIL_DATA_UNAVAILABLE'
  | 'VIGIL_INPUT_DAMAGED'
  | 'VIGIL_RELOAD_FAILED'
  | 'VIGIL_ROLE_MISSING'
  | 'VIGIL_INVALID_BLOCK_EVENT'
  | 'VIGIL_NOT_APPLIED';

export class EngineError extends Error {
  readonly code: ErrorCode;
  constructor (code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A usage record failed validation. `field` names the offending field (`record` when the whole input is wrong). */
export class InvalidRecordError extends EngineError {
  readonly field: string;
  constructor (field: string, expected: string, got: unknown) {
    super('VIGIL_INVALID_RECORD', `${field === 'record' ? 'record' : `record.${field}`} must be ${expected}, got ${show(got)}`);
    this.field = field;
  }
}

/** A record whose window was already discarded (behind the watermark by more than `lateness`). */
export class LateRecordError extends EngineError {
  constructor (message: string) {
    super('VIGIL_LATE_RECORD', message);
  }
}

/**
 * A record dated further ahead of a live node's clock than `max_ahead`. Accepting it would move
 * the watermark to its date and make every record of the present late.
 */
export class FutureRecordError extends EngineError {
  constructor (message: string) {
    super('VIGIL_FUTURE_RECORD', message);
  }
}

/** One problem in a rules file, with its position (1-based line and column). */
export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

export function formatDiagnostic (d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col} ${d.message}`;
}

/** A rules file (or config) is invalid; `diagnostics` holds every problem found, in file order. */
export class InvalidRulesError extends EngineError {
  readonly diagnostics: readonly Diagnostic[];
  constructor (diagnostics: readonly Diagnostic[]) {
    super('VIGIL_INVALID_RULES', diagnostics.map(formatDiagnostic).join('\n'));
    this.diagnostics = diagnostics;
  }
}

/** The command line was used wrongly. */
export class UsageError extends EngineError {
  constructor (message: string) {
    super('VIGIL_USAGE', message);
  }
}

/**
 * A command line that is well formed but asks what the data cannot give: a data folder of
 * other rules or of another command, a risk score before its newest alert. Exit 2 like any
 * usage error, but without the usage text: the flags were right, the message says what to change.
 */
export class RefusedError extends UsageError {}

/**
 * A message of a cluster's blocks stream that is not a block change Vigil wrote (another
 * program published on the subject, or a newer Vigil's format): every notifier skips it alike.
 */
export class InvalidBlockEventError extends EngineError {
  constructor (field: string, expected: string, got: unknown) {
    super('VIGIL_INVALID_BLOCK_EVENT', `blocks event${field === '' ? '' : `.${field}`} must be ${expected}, got ${show(got)}`);
  }
}

/**
 * A change was published to a cluster's stream but this node has not applied it within the
 * wait (its follower is behind, or NATS is away): the change stands and reaches every node in
 * stream order; ask again to see it.
 */
export class NotAppliedError extends EngineError {
  constructor (message: string) {
    super('VIGIL_NOT_APPLIED', message);
  }
}

/** A data folder (or a part of it, such as its blocklist) cannot be opened: missing, locked, not writable. */
export class DataUnavailableError extends EngineError {
  readonly path: string;
  constructor (path: string, message: string, options?: ErrorOptions) {
    super('VIGIL_DATA_UNAVAILABLE', message, options);
    this.path = path;
  }
}

/**
 * An input cannot be read past a point: a gzip file that is truncated or damaged. Everything
 * before `line` (of the decompressed text, in `source`, the input as given) was read; nothing
 * from there on was. `reason` says what broke; the message adds what the caller did about it.
 */
export class InputDamagedError extends EngineError {
  readonly source: string;
  readonly line: number;
  readonly reason: string;
  constructor (source: string, line: number, reason: string, consequence: string, options?: ErrorOptions) {
    super('VIGIL_INPUT_DAMAGED', `${source}:${line}: ${reason}; ${consequence}`, options);
    this.source = source;
    this.line = line;
    this.reason = reason;
  }
}

/** A rules reload could not be completed; the rules that were active before stay active. */
export class ReloadFailedError extends EngineError {
  constructor (message: string, options?: ErrorOptions) {
    super('VIGIL_RELOAD_FAILED', message, options);
  }
}

/**
 * This node never reloads rules in place (a cluster node: a lane refuses state written under
 * other rules, so new rules mean restarting every node with the new file). Not a failure of
 * the node: the API answers `PUT /v1/rules` with 405 and `Allow: GET`.
 */
export class ReloadUnsupportedError extends ReloadFailedError {}

/**
 * A cluster node was asked for what another role does (records to a node without the
 * coordinator role, a block lifted on one without the notifier's blocklist). Sending the same
 * request again to the same node can never succeed: the API answers 421, naming the role.
 */
export class RoleMissingError extends EngineError {
  readonly role: string;
  constructor (role: string) {
    super('VIGIL_ROLE_MISSING', `this node does not run the ${role} role (config.cluster.roles): send this to a node that does`);
    this.role = role;
  }
}

/**
 * A channel's settings cannot be used (notifications.md, "Channels"). `path` names the setting
 * (`channels.noc.retry.max`), so the rules parser can point at it; it is absent on an error
 * that crossed a thread boundary.
 */
export class InvalidChannelError extends EngineError {
  readonly path: string | undefined;
  constructor (message: string, path?: string) {
    super('VIGIL_INVALID_CHANNEL', message);
    this.path = path;
  }

  /** `channels.noc.timeout must be a duration such as 90s, got 5`; `secret` says only what it got, never the value. */
  static of (path: string, expected: string, got: unknown, secret = false): InvalidChannelError {
    return new InvalidChannelError(`${path} must be ${expected}, got ${secret ? kindOf(got) : show(got)}`, path);
  }
}

function kindOf (value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return value === '' ? 'an empty text' : 'a text that is not one (not shown: it may hold a secret)';
  return `a ${typeof value}`;
}

/** Evaluating a rule threw on a record; the record is rejected with this reason, the engine goes on. */
export class RuleFailedError extends EngineError {
  readonly rule: string;
  constructor (rule: string, options?: ErrorOptions) {
    const cause = options?.cause instanceof Error ? options.cause.message : show(options?.cause);
    super('VIGIL_RULE_FAILED', `rule ${rule} failed on this record: ${cause}`, options);
    this.rule = rule;
  }
}

/**
 * A write to the data folder failed (a full disk, an I/O error, LMDB's map full): the
 * writer's state in memory is then ahead of what is stored. Unlike VIGIL_STORE_CORRUPT, the
 * folder is sound: what it holds up to its last commit can be resumed from. `reason` is the
 * store's own message (`ENOSPC: no space left on device`, `MDB_MAP_FULL: …`), which whoever
 * reports the failure must name.
 */
export class StoreFailedError extends EngineError {
  readonly reason: string;
  constructor (message: string, cause: unknown) {
    super('VIGIL_STORE_FAILED', message, { cause });
    this.reason = cause instanceof Error ? cause.message : show(cause);
  }
}

/**
 * Plain data for an error that must cross a thread boundary (classes do not survive
 * structuredClone). `cause`: the underlying error's message, when the error wraps one (a
 * store failure's ENOSPC), so the receiver can name the real cause in its own words.
 */
export interface ErrorData { name: string, code: string, message: string, cause?: string }

export function toErrorData (err: unknown): ErrorData {
  if (err instanceof StoreFailedError) return { name: err.name, code: err.code, message: err.message, cause: err.reason };
  if (err instanceof EngineError) return { name: err.name, code: err.code, message: err.message };
  if (err instanceof Error) return { name: err.name, code: 'VIGIL_ENGINE_FAILED', message: err.message };
  return { name: 'Error', code: 'VIGIL_ENGINE_FAILED', message: show(err) };
}

/** A value for an error message, clipped so that a message never echoes a whole payload. */
export function show (value: unknown, max = 60): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (value === undefined) text = 'nothing';
  else if (typeof value === 'bigint') text = `${value}n`;
  else if (typeof value === 'number' && !Number.isFinite(value)) text = String(value);
  else {
    try { text = JSON.stringify(value) ?? String(value); } catch { text = preview(value, max); }
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * JSON-like text of a value JSON.stringify cannot write: arrays or objects nested thousands
 * deep (its stack overflows, and so does String(), which would otherwise say "[object
 * Object]"), or a bigint inside. It stops once past `max` characters, so it never goes
 * deeper than `max` levels.
 */
function preview (value: unknown, max: number): string {
  let out = '';
  const walk = (v: unknown): void => {
    if (out.length > max) return;
    if (Array.isArray(v)) {
      out += '[';
      for (let i = 0; i < v.length && out.length <= max; i++) { if (i > 0) out += ','; walk(v[i]); }
      out += ']';
    } else if (typeof v === 'object' && v !== null) {
      out += '{';
      let first = true;
      for (const k of Object.keys(v)) {
        if (out.length > max) break;
        out += `${first ? '' : ','}${JSON.stringify(k)}:`;
        first = false;
        walk((v as Record<string, unknown>)[k]);
      }
      out += '}';
    } else {
      out += typeof v === 'bigint' ? `${v}n` : typeof v === 'string' ? JSON.stringify(v) : String(v);
    }
  };
  walk(value);
  return out;
}

export function assertNever (value: never, what: string): never {
  throw new EngineError('VIGIL_ENGINE_FAILED', `this should not happen: unknown ${what} ${show(value)}`);
}

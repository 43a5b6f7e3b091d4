/** Base class of every error this package throws on purpose. */
export class Mem0Error extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A call had no memory scope: no user, agent or run id could be resolved. */
export class MissingScopeError extends Mem0Error {}

/** Configuration that cannot work: wrong option, missing package, unknown provider. */
export class Mem0ConfigError extends Mem0Error {}

/** Input that cannot be processed: malformed messages, bad filters, bad ids. */
export class Mem0InputError extends Mem0Error {}

/** The store was created with another embedding model or dimension than the one in use. */
export class EmbedderMismatchError extends Mem0Error {}

/**
 * The extraction LLM returned nothing usable (empty, refused, or unparsable even after a
 * repair attempt). `rawOutput` holds what the model said, for debugging.
 */
export class MemoryExtractionError extends Mem0Error {
  readonly rawOutput: string;

  constructor(message: string, rawOutput: string, options?: { cause?: unknown }) {
    super(message, options);
    this.rawOutput = rawOutput;
  }
}

/** A memory operation failed after all retries; `cause` holds the last underlying error. */
export class MemoryOperationError extends Mem0Error {}

/** The object was closed (`close()`); create a new one to go on. */
export class Mem0ClosedError extends Mem0Error {}

/**
 * A write was not applied because what it was based on changed: its outbox entry is gone
 * (applied by another worker, or forgotten by a delete), or another writer changed the owner's
 * memories after it read them.
 */
export class StaleWriteError extends Mem0Error {
  constructor(
    message: string,
    readonly reason: "entry_gone" | "owner_changed",
  ) {
    super(message);
  }
}

/** A memory operation did not finish within its deadline (e.g. `writeTimeoutMs`). */
export class Mem0TimeoutError extends Mem0Error {}

/**
 * The embedded SQLite store cannot run here: the `better-sqlite3` package or its native binding
 * could not be loaded (install script skipped, built for another Node.js, or left out of a
 * bundle). The message says how to fix it; `cause` holds the loader's error.
 */
export class SqliteUnavailableError extends Mem0ConfigError {}

/**
 * A request to a memory service (the hosted Mem0 platform) failed. `status` is the HTTP status
 * (absent when no response arrived), `serverMessage` what the server said, `retryAfterMs` its
 * `Retry-After` when it sent one. Never carries the API key.
 */
export class Mem0APIError extends Mem0Error {
  readonly status?: number;
  readonly serverMessage?: string;
  readonly retryAfterMs?: number;
  /** `METHOD /path` of the failed request (without the query string, which may hold ids). */
  readonly request: string;

  constructor(
    message: string,
    details: { status?: number; serverMessage?: string; retryAfterMs?: number; request: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = details.status;
    this.serverMessage = details.serverMessage;
    this.retryAfterMs = details.retryAfterMs;
    this.request = details.request;
  }
}

/** The memory service refused the API key (401 / 403). */
export class Mem0AuthenticationError extends Mem0APIError {}

/** The memory service kept answering 429 after the retries; `retryAfterMs` says when to retry. */
export class Mem0RateLimitError extends Mem0APIError {}

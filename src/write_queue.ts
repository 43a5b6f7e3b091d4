import {
  EmbedderMismatchError,
  Mem0ConfigError,
  Mem0InputError,
  MemoryExtractionError,
  MemoryOperationError,
  MissingScopeError,
} from "./errors.js";
import { KeyedLock } from "./keyed_lock.js";

export interface WriteQueueOptions {
  /** Attempts after the first one before a write is given up (default 3). */
  maxRetries?: number;
  /** Delay before the first retry, doubled each time, with jitter (default 250 ms). */
  initialDelayMs?: number;
  /** Upper bound of one retry delay (default 5000 ms). */
  maxDelayMs?: number;
}

/** One write: its ordering key and the work. */
export interface WriteTask<T> {
  /** Writes with the same key run one after another, in enqueue order. */
  key: string;
  /** One attempt; called again on a retryable failure. */
  run: () => Promise<T>;
  /**
   * Called once with the final outcome, before the write counts as settled (so `flush()`
   * waits for it), after the next write of the key may start. Must not throw.
   */
  settle?: (outcome: WriteOutcome<T>) => Promise<void>;
}

export type WriteOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Errors that a retry cannot fix. */
function isPermanent(error: unknown): boolean {
  return (
    error instanceof Mem0InputError ||
    error instanceof MissingScopeError ||
    error instanceof Mem0ConfigError ||
    error instanceof EmbedderMismatchError ||
    error instanceof MemoryExtractionError
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Background writes: ordered per key, parallel across keys, retried with backoff. A write
 * never rejects into its caller: the outcome says whether it failed, so the owner can report
 * it instead of losing it.
 */
export class WriteQueue {
  private readonly maxRetries: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly lock = new KeyedLock();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(options: WriteQueueOptions = {}) {
    this.maxRetries = options.maxRetries ?? 3;
    this.initialDelayMs = options.initialDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
  }

  /** Number of writes enqueued and not yet settled. */
  get pending(): number {
    return this.inFlight.size;
  }

  enqueue<T>(task: WriteTask<T>): Promise<WriteOutcome<T>> {
    if (this.closed) {
      return Promise.resolve({
        ok: false,
        error: new MemoryOperationError("The memory write queue is closed; create a new model."),
      });
    }
    const outcome = this.lock
      .run(task.key, () => this.runWithRetries(task))
      .then(async (result) => {
        await task.settle?.(result);
        return result;
      });
    this.inFlight.add(outcome);
    void outcome.then(() => this.inFlight.delete(outcome));
    return outcome;
  }

  /** Resolves when every write enqueued so far, and any enqueued meanwhile, has settled. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Flushes, then refuses new writes. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private async runWithRetries<T>(task: WriteTask<T>): Promise<WriteOutcome<T>> {
    // Start on a later macrotask: the write's synchronous parts (store reads) must not run
    // before the chat call that enqueued it has handed its answer back.
    await new Promise((resolve) => setImmediate(resolve));
    for (let attempt = 0; ; attempt++) {
      try {
        return { ok: true, value: await task.run() };
      } catch (error) {
        if (attempt >= this.maxRetries || isPermanent(error)) return { ok: false, error };
        const base = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** attempt);
        await sleep(base / 2 + Math.random() * (base / 2));
      }
    }
  }
}

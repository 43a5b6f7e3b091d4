import { abortable, DEFAULT_WRITE_TIMEOUT_MS } from "./abort.js";
import { Mem0ClosedError, Mem0TimeoutError, MemoryOperationError } from "./errors.js";
import { KeyedLock } from "./keyed_lock.js";

export interface WriteQueueOptions {
  /**
   * Deadline of one write, in ms (default 30 000). Writes are not retried here: the provider
   * client retries transport faults inside the deadline, and a durable backend keeps a failed
   * write in its outbox for `recover()`.
   */
  timeoutMs?: number;
}

/** One write: its ordering key and the work. */
export interface WriteTask<T> {
  /** Writes with the same key run one after another, in enqueue order. */
  key: string;
  /** The write; it should stop when the signal aborts (deadline, `close`, the call's own). */
  run: (signal: AbortSignal) => Promise<T>;
  /** Also aborts the write (e.g. the chat call's signal when the call waits for it). */
  signal?: AbortSignal;
  /**
   * Called once with the outcome, before the write counts as settled (so `flush()` waits for
   * it), after the next write of the key may start. Must not throw.
   */
  settle?: (outcome: WriteOutcome<T>) => Promise<void>;
}

export type WriteOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Options of `flush` and `close`. */
export interface FlushOptions {
  /** Stop waiting after this many ms; writes still running go on (or, on close, are aborted). */
  timeout?: number;
}

/** Resolves after `ms`, or at once when the promise settles first; true when it settled. */
async function settledWithin(promise: Promise<unknown>, ms: number | undefined): Promise<boolean> {
  if (ms === undefined) {
    await promise;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Background writes: ordered per key, parallel across keys, each bounded by a deadline. A
 * write never rejects into its caller: the outcome says whether it failed, so the owner can
 * report it instead of losing it.
 */
export class WriteQueue {
  private readonly timeoutMs: number;
  private readonly lock = new KeyedLock();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Aborts every write when the queue is closed with writes still running. */
  private readonly closing = new AbortController();
  private closed = false;

  constructor(options: WriteQueueOptions = {}) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new MemoryOperationError("writeQueue.timeoutMs must be a positive number of ms.");
    }
    this.timeoutMs = timeoutMs;
  }

  /** Number of writes enqueued and not yet settled. */
  get pending(): number {
    return this.inFlight.size;
  }

  enqueue<T>(task: WriteTask<T>): Promise<WriteOutcome<T>> {
    if (this.closed) {
      return Promise.resolve({
        ok: false,
        error: new Mem0ClosedError("The memory write queue is closed; create a new model."),
      });
    }
    const outcome = this.lock
      .run(task.key, () => this.attempt(task))
      .then(async (result) => {
        await task.settle?.(result);
        return result;
      });
    this.inFlight.add(outcome);
    void outcome.then(() => this.inFlight.delete(outcome));
    return outcome;
  }

  /**
   * Resolves when every write enqueued so far, and any enqueued meanwhile, has settled, or
   * when `timeout` ms have passed. Resolves `true` when nothing is left running.
   */
  async flush(options: FlushOptions = {}): Promise<boolean> {
    const deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout;
    while (this.inFlight.size > 0) {
      const left = deadline === undefined ? undefined : deadline - Date.now();
      if (left !== undefined && left <= 0) return false;
      if (!(await settledWithin(Promise.all([...this.inFlight]), left))) return false;
    }
    return true;
  }

  /**
   * Refuses new writes, then flushes; writes still running after `timeout` ms are aborted
   * (a durable backend keeps them queued) and not waited for.
   */
  async close(options: FlushOptions = {}): Promise<void> {
    this.closed = true;
    if (!(await this.flush(options))) {
      this.closing.abort(new Mem0ClosedError("The memory write queue was closed."));
    }
  }

  private async attempt<T>(task: WriteTask<T>): Promise<WriteOutcome<T>> {
    // Start on a later macrotask: the write's synchronous parts (store reads) must not run
    // before the chat call that enqueued it has handed its answer back.
    await new Promise((resolve) => setImmediate(resolve));
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signals = [deadline, this.closing.signal, task.signal].filter(
      (signal): signal is AbortSignal => signal !== undefined,
    );
    const signal = AbortSignal.any(signals);
    try {
      signal.throwIfAborted();
      // A backend that ignores the signal must not hold the queue past the deadline.
      return { ok: true, value: await abortable(task.run(signal), signal) };
    } catch (error) {
      if (deadline.aborted) {
        return {
          ok: false,
          error: new Mem0TimeoutError(
            `The memory write did not finish within ${this.timeoutMs} ms.`,
            { cause: error },
          ),
        };
      }
      return { ok: false, error };
    }
  }
}

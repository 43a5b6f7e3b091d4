import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { BaseRunManager, CallbackManagerForChainRun } from "@langchain/core/callbacks/manager";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import type { ChatGeneration, LLMResult } from "@langchain/core/outputs";
import { z } from "zod";
import {
  isDurableBackend,
  type AddResult,
  type MemoryBackend,
  type MemoryMetadata,
} from "./backends/base.js";
import { MemoryOperationError } from "./errors.js";
import { consoleLogger, loggerSchema, type Mem0Logger } from "./logger.js";
import { messageRole, messageText } from "./messages.js";
import { mergeScopes, requireScope, scopeFromRecord, scopeKey, type MemoryScope } from "./scope.js";
import type { MemoryErrorContext } from "./recall.js";
import { WriteQueue, type WriteOutcome, type WriteQueueOptions } from "./write_queue.js";
import { startMemoryWriteRun } from "./write_run.js";

/** How conversations are stored after a call. */
export type StoreMode = "background" | "await" | "off";

/** Name of the callback event dispatched when a conversation could not be stored. */
export const MEMORY_WRITE_ERROR_EVENT = "mem0_memory_write_error";

/** What a failed write carries, so nothing is lost: the owner can retry or persist it. */
export interface MemoryWriteFailure {
  error: unknown;
  scope: MemoryScope;
  messages: BaseMessage[];
}

export interface Mem0MemoryCallbackHandlerOptions {
  /** Where conversations are stored. */
  backend: MemoryBackend;
  /** Fixed ids; per-call `configurable.user_id` / `agent_id` / `run_id` override them. */
  scope?: MemoryScope;
  /** Metadata stored with every memory. */
  metadata?: MemoryMetadata;
  /** `false` stores messages verbatim instead of extracting facts (default `true`). */
  infer?: boolean;
  /** `"background"` (default) returns before storing; `"await"` makes the call wait. */
  mode?: Exclude<StoreMode, "off">;
  /** The queue writes go through; share one to flush several models together. */
  queue?: WriteQueue;
  /**
   * Called when a write fails (a durable backend keeps it queued for `recover()`). Defaults
   * to a warning.
   */
  onError?: (failure: MemoryWriteFailure) => void;
  /** Where the default failure warning goes (default `console.warn`). */
  logger?: Mem0Logger;
  /** In `"await"` mode, make the chat call fail when storing fails. */
  throwOnError?: boolean;
}

/** Whose a write is, and the run it comes from. */
export interface WriteTarget {
  scope: MemoryScope;
  metadata?: MemoryMetadata;
  /** Run manager of the chat run: failure events go to it, its tracers trace the write. */
  events?: BaseRunManager;
  /** Id of the chat run (or of the runnable) that produced the answer. */
  chatRunId?: string;
  /** Handlers whose tracers trace the write, when there is no `events`. */
  handlers?: BaseCallbackHandler[];
  /** The chat call's signal: in "await" mode the write stops with the call. */
  signal?: AbortSignal;
  /** Overrides the handler's `infer` for this write. */
  infer?: boolean;
}

/** A conversation to store and the chat run it comes from. */
interface StoredRun extends WriteTarget {
  messages: BaseMessage[];
  /** Removes the abort listener of `signal`. */
  release?: () => void;
}

/**
 * Runs tracked at once, at most. A run whose end never arrives (a stream the caller stopped
 * reading, with a model that reports nothing then) is dropped oldest first.
 */
const MAX_TRACKED_RUNS = 1000;

/** The default failure report: what failed and how to handle it, without ids or content. */
function warnOnError(logger: Mem0Logger) {
  return ({ error }: MemoryWriteFailure) => {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    logger.warn(
      `a conversation could not be stored in memory (${reason}). Pass onError to handle ` +
        "failed writes; it receives the conversation so nothing is lost.",
    );
  };
}

/**
 * The part of the conversation not stored by an earlier call: what follows the last
 * assistant message (the new user turn, tool results), without system messages.
 */
export function newTurn(messages: BaseMessage[]): BaseMessage[] {
  const lastAnswer = messages.findLastIndex((message) => messageRole(message) === "assistant");
  return messages.slice(lastAnswer + 1).filter((message) => messageRole(message) !== "system");
}

/**
 * Stores each chat model call (new input messages + the answer) in a memory backend once
 * the call has ended, through a write queue. Works with any chat model:
 * `model.invoke(messages, { callbacks: [handler], configurable: { user_id } })`.
 */
export class Mem0MemoryCallbackHandler extends BaseCallbackHandler {
  name = "Mem0MemoryCallbackHandler";

  // Enqueueing must happen before invoke() returns, so that flush() right after sees it.
  override awaitHandlers = true;

  readonly queue: WriteQueue;
  private readonly backend: MemoryBackend;
  private readonly scope: MemoryScope;
  private readonly metadata?: MemoryMetadata;
  private readonly infer?: boolean;
  private readonly mode: Exclude<StoreMode, "off">;
  private readonly onError: (failure: MemoryWriteFailure) => void;
  private readonly runs = new Map<string, StoredRun>();

  constructor(options: Mem0MemoryCallbackHandlerOptions) {
    super();
    this.backend = options.backend;
    this.scope = options.scope ?? {};
    this.metadata = options.metadata;
    this.infer = options.infer;
    this.mode = options.mode ?? "background";
    this.queue = options.queue ?? new WriteQueue();
    this.onError = options.onError ?? warnOnError(options.logger ?? consoleLogger);
    this.raiseError = this.mode === "await" && options.throwOnError === true;
  }

  override async handleChatModelStart(
    _llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    parentRunId?: string,
    _extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    // A model nested in a tracked run (the wrapper's inner model) is the same conversation.
    if (parentRunId !== undefined && this.runs.has(parentRunId)) return;
    if (this.runs.size >= MAX_TRACKED_RUNS) this.runs.delete(this.runs.keys().next().value!);
    this.runs.set(runId, {
      messages: messages[0] ?? [],
      scope: mergeScopes(scopeFromRecord(metadata), this.scope),
      chatRunId: runId,
    });
  }

  /**
   * Sets the resolved scope of a run this handler tracks, and the run manager that failure
   * events are dispatched to (the wrapper resolves ids before calling its inner model).
   */
  bindRun(
    runId: string,
    scope: MemoryScope,
    options: { metadata?: MemoryMetadata; events?: BaseRunManager; signal?: AbortSignal } = {},
  ) {
    const run = this.runs.get(runId);
    if (!run) return;
    Object.assign(run, { scope, ...options });
    // An aborted stream may end without any callback: forget the run when the call aborts.
    const signal = options.signal;
    if (signal && !signal.aborted) {
      const forget = () => this.forgetRun(runId);
      signal.addEventListener("abort", forget, { once: true });
      run.release = () => signal.removeEventListener("abort", forget);
    }
  }

  /** Forgets a run without storing it (a stream that ended before its answer was complete). */
  forgetRun(runId: string): void {
    this.runs.get(runId)?.release?.();
    this.runs.delete(runId);
  }

  /** Runs tracked and not yet ended. */
  get trackedRuns(): number {
    return this.runs.size;
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const run = this.runs.get(runId);
    if (!run) return;
    this.forgetRun(runId);
    const answer = (output.generations[0]?.[0] as ChatGeneration | undefined)?.message;
    await this.store(run, answer);
  }

  override async handleLLMError(_error: unknown, runId: string): Promise<void> {
    this.forgetRun(runId);
  }

  /**
   * Enqueues `[...new turn of messages, answer]` for storage; in "await" mode waits for it.
   * Empty answers are left out; a call with nothing new to store enqueues nothing.
   */
  async store(run: StoredRun, answer?: BaseMessage): Promise<WriteOutcome<AddResult> | undefined> {
    const conversation = newTurn(run.messages);
    if (answer && messageText(answer).length > 0) conversation.push(answer);
    return this.write(conversation, run);
  }

  /**
   * Stores a conversation for a scope: committed to the backend's durable outbox (when it has
   * one) before this resolves, then applied by the write queue, in order per scope. Each
   * write is traced as one `Mem0MemoryWrite` run, its own trace, linked to the chat run by
   * `mem0_chat_run_id`. In "background" mode it resolves once the write is queued; in "await"
   * mode, or with `wait: true`, once it is applied. With `wait: true` a failure is only
   * returned (the caller handles it), not reported to `onError`.
   */
  async write(
    conversation: BaseMessage[],
    target: WriteTarget,
    options: { wait?: boolean } = {},
  ): Promise<WriteOutcome<AddResult> | undefined> {
    if (conversation.length === 0) return undefined;
    const report = (error: unknown, scope: MemoryScope) => {
      if (!options.wait) this.report({ error, scope, messages: conversation }, target.events);
    };
    let scope: MemoryScope;
    try {
      scope = requireScope(target.scope);
    } catch (error) {
      report(error, target.scope);
      return { ok: false, error };
    }
    const metadata = { ...this.metadata, ...target.metadata };
    const addOptions = {
      ...scope,
      metadata: Object.keys(metadata).length > 0 ? metadata : undefined,
      infer: target.infer ?? this.infer,
    };
    const raise = this.raiseError && !options.wait;
    // A durable backend commits the turn now, before the chat call returns: a crash from here
    // on loses nothing, and the queue only applies it.
    let entryId: string | undefined;
    if (isDurableBackend(this.backend)) {
      try {
        entryId = await this.backend.enqueue(conversation, addOptions);
      } catch (error) {
        report(error, scope);
        if (raise) {
          throw new MemoryOperationError("Storing the conversation in memory failed.", {
            cause: error,
          });
        }
        return { ok: false, error };
      }
      if (entryId === undefined)
        return options.wait ? { ok: true, value: { results: [] } } : undefined;
    }
    const backend = this.backend;
    // Started by the write itself, so the run spans the write, not its wait in line; tracing
    // never fails a write.
    let writeRun: Promise<CallbackManagerForChainRun | undefined> | undefined;
    const waits = options.wait === true || this.mode === "await";
    const outcome = this.queue.enqueue({
      key: scopeKey(scope),
      signal: waits ? target.signal : undefined,
      run: async (signal) => {
        writeRun ??= startMemoryWriteRun({
          messages: conversation,
          scope,
          chatRunId: target.chatRunId ?? target.events?.runId,
          handlers: target.events?.handlers ?? target.handlers,
        }).catch(() => undefined);
        const callbacks = (await writeRun)?.getChild();
        if (entryId !== undefined && isDurableBackend(backend)) {
          return (await backend.applyQueued(entryId, { signal, callbacks })) ?? { results: [] };
        }
        return backend.add(conversation, { ...addOptions, signal, callbacks });
      },
      settle: async (result) => {
        const traced = await writeRun;
        if (result.ok) await traced?.handleChainEnd({ ...result.value });
        else await traced?.handleChainError(result.error);
      },
    });
    void outcome.then((result) => {
      if (!result.ok) report(result.error, scope);
    });
    if (!waits) return undefined;
    const result = await outcome;
    if (!result.ok && raise) {
      throw new MemoryOperationError("Storing the conversation in memory failed.", {
        cause: result.error,
      });
    }
    return result;
  }

  private report(failure: MemoryWriteFailure, events?: BaseRunManager) {
    try {
      this.onError(failure);
    } finally {
      void events?.handleCustomEvent(MEMORY_WRITE_ERROR_EVENT, failure).catch(() => undefined);
    }
  }
}

/**
 * How conversations are stored: the write-side options `Mem0ChatModel`, `mem0Middleware` and
 * the memory tools share.
 */
export interface MemoryStorageOptions {
  /** Metadata stored with every memory created. */
  memoryMetadata?: MemoryMetadata;
  /** `"background"` (default), `"await"` (the call waits for storage) or `"off"`. */
  store?: StoreMode;
  /** `false` stores messages verbatim instead of extracting facts (default `true`). */
  infer?: boolean;
  /** Deadline of background writes. */
  writeQueue?: WriteQueueOptions;
  /** Share one storage handler (and its write queue) between front doors; built when absent. */
  handler?: Mem0MemoryCallbackHandler;
  /** `"throw"`: in `"await"` mode a failed write fails the call (default `"continue"`). */
  onMemoryError?: "continue" | "throw";
  /** Called for every failed write, with the conversation so nothing is lost. */
  onError?: (error: unknown, context: MemoryErrorContext) => void;
  /** Where warnings go when no `onError` is given (default `console.warn`). */
  logger?: Mem0Logger;
}

/** Checks the {@link MemoryStorageOptions} of a front door (`onError` / `onMemoryError` are recall's). */
export const storageOptionsShape = {
  memoryMetadata: z.record(z.string(), z.unknown()).optional(),
  store: z.enum(["background", "await", "off"]).optional(),
  infer: z.boolean().optional(),
  writeQueue: z.object({ timeoutMs: z.number().positive().optional() }).strict().optional(),
  handler: z
    .custom<Mem0MemoryCallbackHandler>(
      (value) => value instanceof Mem0MemoryCallbackHandler,
      "must be the handler of another Mem0ChatModel (model.handler)",
    )
    .optional(),
  logger: loggerSchema.optional(),
};

/** The storage handler the options describe: `handler`, a new one, or none for `store: "off"`. */
export function storageHandler(
  backend: MemoryBackend,
  options: MemoryStorageOptions,
): Mem0MemoryCallbackHandler | undefined {
  const mode = options.store ?? "background";
  if (mode === "off") return undefined;
  if (options.handler) return options.handler;
  const { onError } = options;
  return new Mem0MemoryCallbackHandler({
    backend,
    metadata: options.memoryMetadata,
    infer: options.infer,
    mode,
    queue: new WriteQueue(options.writeQueue),
    throwOnError: options.onMemoryError === "throw",
    onError: onError
      ? (failure: MemoryWriteFailure) => onError(failure.error, { stage: "store", ...failure })
      : undefined,
    logger: options.logger,
  });
}

import { CallbackManager, type CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { Document } from "@langchain/core/documents";
import type { SerializedNotImplemented } from "@langchain/core/load/serializable";
import {
  BaseChatModel,
  type BaseChatModelCallOptions,
  type BaseChatModelParams,
  type BindToolsInput,
  type LangSmithParams,
} from "@langchain/core/language_models/chat_models";
import type {
  BaseLanguageModelInput,
  StructuredOutputMethodOptions,
} from "@langchain/core/language_models/base";
import type { ModelProfile } from "@langchain/core/language_models/profile";
import { AIMessage, type AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import type { BaseCache } from "@langchain/core/caches";
import {
  ChatGenerationChunk,
  type ChatGeneration,
  type ChatResult,
  type Generation,
} from "@langchain/core/outputs";
import { z } from "zod";
import {
  Runnable,
  RunnableBinding,
  RunnableLambda,
  type RunnableConfig,
} from "@langchain/core/runnables";
import type { MemoryBackend, MemoryMetadata, SearchResult } from "./backends/base.js";
import { Mem0MemoryCallbackHandler, type MemoryWriteFailure, type StoreMode } from "./callbacks.js";
import { parseOptions } from "./backends/options.js";
import { abortable, anySignal } from "./abort.js";
import { Mem0ClosedError, Mem0ConfigError, Mem0TimeoutError } from "./errors.js";
import {
  DEFAULT_MEMORY_SYSTEM_PROMPT,
  buildSearchQuery,
  formatMemoryBlock,
  formatRelation,
  injectMemories,
  type InjectionTarget,
  type MemoryFormatter,
} from "./formatting.js";
import { consoleLogger, type Mem0Logger } from "./logger.js";
import { messageRole } from "./messages.js";
import { mergeScopes, requireScope, scopeFromRecord, type MemoryScope } from "./scope.js";
import { validateFilter, type MetadataFilter } from "./stores/filters.js";
import { countUsageOnce } from "./usage.js";
import type { FlushOptions, WriteQueueOptions } from "./write_queue.js";
import { WriteQueue } from "./write_queue.js";

/** Per-call options on top of the inner model's own. */
export interface Mem0ChatModelCallOptions extends BaseChatModelCallOptions {
  /** The user whose memories are used and stored in this call. */
  user_id?: string;
  /** The agent whose memories are used and stored in this call. */
  agent_id?: string;
  /** The run / session / thread whose memories are used and stored in this call. */
  run_id?: string;
  /** Metadata filter for retrieval in this call (replaces the constructor's). */
  filters?: MetadataFilter;
  /** Metadata stored with the memories this call creates (merged over the constructor's). */
  memoryMetadata?: MemoryMetadata;
}

/** Where a memory failure happened. */
export interface MemoryErrorContext {
  stage: "retrieve" | "store";
  scope: MemoryScope;
  /** The conversation that could not be stored (store failures only). */
  messages?: BaseMessage[];
}

/** When memories are retrieved: on user turns (Mem0 proxy behaviour), on every call, or never. */
export type RetrievalMode = "user_turn" | "always" | "off";

export interface Mem0ChatModelFields extends BaseChatModelParams {
  /** The chat model to give memory to (or a runnable returned by its `bindTools`). */
  model: BaseChatModel | Runnable<BaseLanguageModelInput, AIMessageChunk>;
  /** The memory backend: the local `Memory` engine, the platform client, or any adapter. */
  memory: MemoryBackend;
  /** Fixed user id; per call, `configurable.user_id` or the `user_id` call option override it. */
  userId?: string;
  /** Fixed agent id; per call, `configurable.agent_id` or `agent_id` override it. */
  agentId?: string;
  /** Fixed run id; per call, `configurable.run_id` or `run_id` override it. */
  runId?: string;
  /** Metadata filter applied to every retrieval. */
  filters?: MetadataFilter;
  /** Metadata stored with every memory this model creates. */
  memoryMetadata?: MemoryMetadata;
  /** Memories retrieved per call (default 10). */
  topK?: number;
  /** Minimum relevance score of a retrieved memory. */
  threshold?: number;
  /** Messages used to build the retrieval query (default 6, as in the Mem0 proxy). */
  queryWindow?: number;
  /** When to retrieve (default `"user_turn"`: only when the last message is a user message). */
  retrieval?: RetrievalMode;
  /** Where memories go: `"user"` (default, before the last user message) or `"system"`. */
  injection?: InjectionTarget;
  /** System prompt added when the conversation has none and memories are injected. */
  systemPrompt?: string;
  /** Custom memory-to-text formatter; return "" to inject nothing. */
  formatMemories?: MemoryFormatter;
  /** `"background"` (default), `"await"` (the call waits for storage) or `"off"`. */
  store?: StoreMode;
  /** `false` stores messages verbatim instead of extracting facts (default `true`). */
  infer?: boolean;
  /** `"continue"` (default): a memory failure never breaks the chat call; `"throw"`: it does. */
  onMemoryError?: "continue" | "throw";
  /** Called for every memory failure (retrieval, or storage after retries). */
  onError?: (error: unknown, context: MemoryErrorContext) => void;
  /** Retry policy of background writes. */
  writeQueue?: WriteQueueOptions;
  /** Share one storage handler (and its write queue) between models; built when absent. */
  handler?: Mem0MemoryCallbackHandler;
  /** Where warnings go when no `onError` is given (default `console.warn`). */
  logger?: Mem0Logger;
  /**
   * Longest wait for retrieval, in ms (default 5000); with a call `timeout`, at most half of
   * it, so the inner model still answers in time. Past it the call goes on without memories
   * (or fails, with `onMemoryError: "throw"`).
   */
  retrievalTimeoutMs?: number;
}

/** The wrapper's own settings, checked at construction (the inner model checks its own). */
const fieldsSchema = z.object({
  userId: z.string().trim().min(1).optional(),
  agentId: z.string().trim().min(1).optional(),
  runId: z.string().trim().min(1).optional(),
  topK: z.number().int().min(1).max(1000).optional(),
  threshold: z.number().min(0).max(1).optional(),
  queryWindow: z.number().int().min(1).optional(),
  retrieval: z.enum(["user_turn", "always", "off"]).optional(),
  injection: z.enum(["user", "system"]).optional(),
  systemPrompt: z.string().optional(),
  formatMemories: z.function().optional(),
  store: z.enum(["background", "await", "off"]).optional(),
  infer: z.boolean().optional(),
  onMemoryError: z.enum(["continue", "throw"]).optional(),
  retrievalTimeoutMs: z.number().int().positive().optional(),
  onError: z.function().optional(),
  filters: z.record(z.string(), z.unknown()).optional(),
  memoryMetadata: z.record(z.string(), z.unknown()).optional(),
  writeQueue: z.object({ timeoutMs: z.number().positive().optional() }).strict().optional(),
  handler: z
    .custom<Mem0MemoryCallbackHandler>(
      (value) => value instanceof Mem0MemoryCallbackHandler,
      "must be the handler of another Mem0ChatModel (model.handler)",
    )
    .optional(),
  logger: z
    .custom<Mem0Logger>(
      (value) => typeof (value as Mem0Logger | undefined)?.warn === "function",
      "must have a warn(message) method",
    )
    .optional(),
});

const MISSING_SCOPE_HINT =
  "Mem0ChatModel needs a memory scope. Give a userId, agentId or runId in one of three ways: " +
  "new Mem0ChatModel({ ..., userId: 'alice' }); " +
  "model.invoke(input, { configurable: { user_id: 'alice' } }); " +
  "or the call option model.invoke(input, { user_id: 'alice' }).";

const RETRIEVER_SERIALIZED: SerializedNotImplemented = {
  lc: 1,
  type: "not_implemented",
  id: ["langchain_mem0", "MemoryRetriever"],
};

/** A cached answer as core returns one: it cost no tokens this time. */
function asCachedGeneration(generation: Generation): ChatGeneration {
  const { message } = generation as ChatGeneration;
  const answer =
    message && AIMessage.isInstance(message)
      ? new AIMessage({
          ...message,
          usage_metadata: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
        })
      : message;
  return { ...(generation as ChatGeneration), message: answer };
}

/** Where the wrapper keeps a call's timeout among its call options (never forwarded). */
const CALL_TIMEOUT = Symbol("mem0.callTimeoutMs");

/** Call options meant for the inner model: without ours and without core's batch index. */
function innerCallOptions<T extends Partial<Mem0ChatModelCallOptions>>(options: T) {
  const {
    user_id: _userId,
    agent_id: _agentId,
    run_id: _runId,
    filters: _filters,
    memoryMetadata: _memoryMetadata,
    promptIndex: _promptIndex,
    [CALL_TIMEOUT]: _timeoutMs,
    ...forwarded
  } = options as T & { promptIndex?: number; [CALL_TIMEOUT]?: number };
  return forwarded;
}

/** Names of parameters that hold credentials, whatever a provider calls them. */
const SECRET_PARAM = /api_?key|secret|password|credential|authorization|headers|access_?token/i;

/**
 * JSON-like parameters of `model` without credentials (its `lc_secrets` fields and names
 * that look like one) or clients, functions and other live objects.
 */
function publicParams(params: Record<string, unknown>, model: BaseChatModel) {
  const secrets = new Set(Object.keys(model.lc_secrets ?? {}));
  const isPlain = (value: unknown) =>
    typeof value !== "object" ||
    value === null ||
    Array.isArray(value) ||
    [Object.prototype, null].includes(Object.getPrototypeOf(value));
  return Object.fromEntries(
    Object.entries(params).filter(
      ([key, value]) =>
        value !== undefined &&
        typeof value !== "function" &&
        isPlain(value) &&
        !secrets.has(key) &&
        !SECRET_PARAM.test(key),
    ),
  );
}

/**
 * The call's timeout in ms: the `timeout` option, or what core recorded in the metadata when
 * it turned the timeout into a signal.
 */
function callTimeoutMs(timeout: unknown, metadata?: Record<string, unknown>): number | undefined {
  const value = timeout ?? metadata?.timeoutMs;
  return typeof value === "number" && value > 0 ? value : undefined;
}

/**
 * A callback manager for a child of `runManager`, so the inner model's run nests under the
 * wrapper's (`CallbackManagerForLLMRun` has no `getChild`).
 */
function childCallbacks(runManager: CallbackManagerForLLMRun | undefined, tags: string[] = []) {
  if (!runManager) return undefined;
  const inheritable = runManager as unknown as {
    inheritableHandlers: CallbackManager["handlers"];
    inheritableTags: string[];
    inheritableMetadata: Record<string, unknown>;
  };
  const manager = new CallbackManager(runManager.runId);
  manager.setHandlers(inheritable.inheritableHandlers);
  manager.addTags(inheritable.inheritableTags);
  manager.addMetadata(inheritable.inheritableMetadata);
  if (tags.length > 0) manager.addTags(tags, false);
  return manager;
}

/**
 * Gives any LangChain chat model long-term memory. Each call retrieves the memories relevant
 * to the last messages, places them in the prompt, delegates to the inner model, and stores
 * the conversation afterwards in the background.
 *
 * ```ts
 * const model = new Mem0ChatModel({ model: new ChatOpenAI(), memory, userId: "alice" });
 * await model.invoke("I'm vegetarian.");
 * await model.flush();
 * await model.invoke("What should I cook tonight?"); // knows about the diet
 * ```
 */
export class Mem0ChatModel extends BaseChatModel<Mem0ChatModelCallOptions, AIMessageChunk> {
  static override lc_name() {
    return "Mem0ChatModel";
  }

  override lc_serializable = false;

  readonly model: BaseChatModel | Runnable<BaseLanguageModelInput, AIMessageChunk>;
  readonly memory: MemoryBackend;
  readonly scope: MemoryScope;
  readonly topK: number;
  readonly threshold?: number;
  readonly queryWindow: number;
  readonly retrieval: RetrievalMode;
  readonly injection: InjectionTarget;
  readonly systemPrompt: string;
  readonly storeMode: StoreMode;
  /** Stores conversations; absent when `store: "off"`. */
  readonly handler?: Mem0MemoryCallbackHandler;

  private readonly fields: Mem0ChatModelFields;
  private readonly formatMemories: MemoryFormatter;
  private readonly logger: Mem0Logger;
  private readonly retrievalTimeoutMs: number;
  /** The `cache` option, applied after memories are injected (see `_generate`). */
  private readonly answerCache?: BaseCache;
  private closed = false;

  constructor(fields: Mem0ChatModelFields) {
    if (typeof (fields?.model as Runnable | undefined)?.invoke !== "function") {
      throw new Mem0ConfigError(
        "Mem0ChatModel needs `model`: the chat model to give memory to, e.g. new ChatOpenAI().",
      );
    }
    if (typeof fields.memory?.search !== "function" || typeof fields.memory.add !== "function") {
      throw new Mem0ConfigError(
        "Mem0ChatModel needs `memory`: a MemoryBackend such as `new Memory({ llm, embeddings })`.",
      );
    }
    parseOptions(fieldsSchema, fields, "Mem0ChatModel options", Mem0ConfigError);
    if (fields.filters !== undefined) validateFilter(fields.filters, "Mem0ChatModel filters");
    const storeMode = fields.store ?? "background";
    const handler =
      storeMode === "off"
        ? undefined
        : (fields.handler ??
          new Mem0MemoryCallbackHandler({
            backend: fields.memory,
            metadata: fields.memoryMetadata,
            infer: fields.infer,
            mode: storeMode,
            queue: new WriteQueue(fields.writeQueue),
            throwOnError: fields.onMemoryError === "throw",
            onError: fields.onError
              ? (failure: MemoryWriteFailure) =>
                  fields.onError?.(failure.error, { stage: "store", ...failure })
              : undefined,
            logger: fields.logger,
          }));
    const userCallbacks = fields.callbacks;
    if (handler && userCallbacks !== undefined && !Array.isArray(userCallbacks)) {
      throw new Mem0ConfigError(
        "Mem0ChatModel takes constructor `callbacks` as an array of handlers; pass a " +
          "CallbackManager per call instead.",
      );
    }
    super({
      ...fields,
      callbacks: handler
        ? [...((userCallbacks as BaseCallbackHandler[]) ?? []), handler]
        : userCallbacks,
    });
    // Core would look the cache up with the prompt before memories are injected, shared by
    // every user; the wrapper caches itself, keyed by the final prompt and the scope.
    this.answerCache = this.cache;
    this.cache = undefined;
    this.fields = fields;
    this.model = fields.model;
    this.memory = fields.memory;
    this.scope = scopeFromRecord(fields);
    this.topK = fields.topK ?? 10;
    this.threshold = fields.threshold;
    this.queryWindow = fields.queryWindow ?? 6;
    this.retrieval = fields.retrieval ?? "user_turn";
    this.injection = fields.injection ?? "user";
    this.systemPrompt = fields.systemPrompt ?? DEFAULT_MEMORY_SYSTEM_PROMPT;
    this.formatMemories = fields.formatMemories ?? formatMemoryBlock;
    this.storeMode = storeMode;
    this.handler = handler;
    this.logger = fields.logger ?? consoleLogger;
    this.retrievalTimeoutMs = fields.retrievalTimeoutMs ?? 5_000;
  }

  _llmType(): string {
    return "mem0";
  }

  /**
   * Waits until every conversation handed to storage so far has been stored (or reported),
   * or `timeout` ms have passed; resolves `true` when nothing is left running. What is not
   * written by then stays in the memory's outbox (local engine).
   */
  async flush(options: FlushOptions = {}): Promise<boolean> {
    return (await this.handler?.queue.flush(options)) ?? true;
  }

  /**
   * Flushes pending writes (for at most `timeout` ms, then aborts them: they stay in the
   * memory's outbox); later calls throw `Mem0ClosedError`.
   */
  async close(options: FlushOptions = {}): Promise<void> {
    this.closed = true;
    await this.handler?.queue.close(options);
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new Mem0ClosedError(
        "This Mem0ChatModel is closed; create a new one (its memory stays where it is).",
      );
    }
  }

  /** The innermost chat model, looking through `bindTools` / `withConfig` bindings. */
  get innerChatModel(): BaseChatModel | undefined {
    let runnable: unknown = this.model;
    while (RunnableBinding.isRunnableBinding(runnable)) runnable = runnable.bound;
    return runnable instanceof BaseChatModel ? runnable : undefined;
  }

  override get profile(): ModelProfile {
    return this.innerChatModel?.profile ?? {};
  }

  /** The memory settings of this model, as reported in its parameters under `mem0`. */
  private get memorySettings() {
    const settings = {
      topK: this.topK,
      threshold: this.threshold,
      retrieval: this.retrieval,
      injection: this.injection,
      queryWindow: this.queryWindow,
      store: this.storeMode,
      infer: this.fields.infer ?? true,
    };
    return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
  }

  /** Call options bound around the inner model by `bindTools` / `withConfig`. */
  private get boundOptions(): Record<string, unknown> {
    const layers: Record<string, unknown>[] = [];
    let runnable: unknown = this.model;
    while (RunnableBinding.isRunnableBinding(runnable)) {
      // Outer bindings override inner ones, as when the binding is invoked.
      layers.unshift({ ...runnable.config, ...runnable.kwargs });
      runnable = runnable.bound;
    }
    // Bound tags, callbacks and the like are not parameters of the model.
    const [, callOptions] = this._separateRunnableConfigFromCallOptions(
      Object.assign({}, ...layers),
    );
    return callOptions;
  }

  /** The inner model's identifying parameters (without credentials) and the memory settings. */
  override _identifyingParams(): Record<string, unknown> {
    const inner = this.innerChatModel;
    return {
      ...(inner ? publicParams(inner._identifyingParams(), inner) : {}),
      mem0: this.memorySettings,
    };
  }

  /**
   * The inner model's invocation parameters for this call (with the options bound by
   * `bindTools`) and the memory settings; scope ids are never part of them.
   */
  override invocationParams(options?: this["ParsedCallOptions"]): Record<string, unknown> {
    const { signal: _signal, ...forwarded } = innerCallOptions(
      options ?? ({} as this["ParsedCallOptions"]),
    );
    const inner = this.innerChatModel?.invocationParams({
      ...this.boundOptions,
      ...forwarded,
    } as never);
    return { ...inner, mem0: this.memorySettings };
  }

  /**
   * Tracing metadata is inherited by the nested runs (retrieval, inner model): keep the
   * memory settings on this run's invocation params only.
   */
  override _filterInvocationParamsForTracing(
    params: Record<string, unknown>,
  ): Record<string, unknown> {
    const { mem0: _mem0, ...rest } = super._filterInvocationParamsForTracing(params);
    return rest;
  }

  override getLsParams(options: this["ParsedCallOptions"]): LangSmithParams {
    return this.innerChatModel?.getLsParams(options as never) ?? super.getLsParams(options);
  }

  protected override _separateRunnableConfigFromCallOptionsCompat(
    options?: Partial<Mem0ChatModelCallOptions>,
  ): [RunnableConfig, this["ParsedCallOptions"]] {
    const [config, callOptions] = super._separateRunnableConfigFromCallOptionsCompat(options);
    // Core strips `configurable` before _generate; carry the ids over as call options.
    const fromConfig = scopeFromRecord(config.configurable);
    callOptions.user_id ??= fromConfig.userId;
    callOptions.agent_id ??= fromConfig.agentId;
    callOptions.run_id ??= fromConfig.runId;
    // Core turns `timeout` into a signal; retrieval needs the number to leave the model time.
    const timeoutMs = options?.timeout ?? config.metadata?.timeoutMs;
    if (typeof timeoutMs === "number") {
      (callOptions as { [CALL_TIMEOUT]?: number })[CALL_TIMEOUT] = timeoutMs;
    }
    return [config, callOptions];
  }

  /** A copy of this model around another inner runnable, sharing memory and write queue. */
  private withInner(model: Runnable<BaseLanguageModelInput, AIMessageChunk>): Mem0ChatModel {
    return new Mem0ChatModel({ ...this.fields, model, handler: this.handler });
  }

  override bindTools(
    tools: BindToolsInput[],
    kwargs?: Partial<Mem0ChatModelCallOptions>,
  ): Mem0ChatModel {
    const inner = this.model as BaseChatModel;
    if (typeof inner.bindTools !== "function") {
      throw new Mem0ConfigError(
        "The wrapped model does not support bindTools; wrap the chat model itself, not a " +
          "runnable derived from it.",
      );
    }
    return this.withInner(inner.bindTools(tools, kwargs as never));
  }

  override withStructuredOutput<RunOutput extends Record<string, unknown>>(
    outputSchema: Parameters<BaseChatModel["withStructuredOutput"]>[0],
    config?: StructuredOutputMethodOptions<boolean>,
  ): Runnable<BaseLanguageModelInput, RunOutput> {
    const inner = this.model as BaseChatModel;
    const usesBaseImplementation =
      inner.withStructuredOutput === BaseChatModel.prototype.withStructuredOutput;
    if (
      typeof inner.withStructuredOutput !== "function" ||
      (usesBaseImplementation && typeof inner.bindTools !== "function")
    ) {
      throw new Mem0ConfigError(
        "The wrapped model supports neither withStructuredOutput nor bindTools, so it cannot " +
          "produce structured output; wrap a chat model that does (e.g. ChatOpenAI).",
      );
    }
    // Memory first, then the inner model's own implementation (keeps its native JSON mode).
    const structured = inner.withStructuredOutput(
      outputSchema as never,
      config as never,
    ) as Runnable<BaseMessage[], Record<string, unknown>>;
    return RunnableLambda.from(
      async (input: BaseLanguageModelInput, runConfig?: RunnableConfig) => {
        const messages = BaseChatModel._convertInputToPromptValue(input).toChatMessages();
        const scope = this.resolveScope(scopeFromRecord(runConfig?.configurable));
        const callbacks = await CallbackManager.configure(runConfig?.callbacks);
        const prepared = await this.prepare(messages, scope, {
          signal: runConfig?.signal,
          callbacks,
          timeoutMs: callTimeoutMs(runConfig?.timeout, runConfig?.metadata),
        });
        const output = await structured.invoke(prepared, runConfig);
        const parsed = config?.includeRaw ? (output as { parsed?: unknown }).parsed : output;
        if (this.handler && parsed !== undefined && parsed !== null) {
          await this.handler.store(
            {
              messages,
              scope,
              chatRunId: callbacks?.getParentRunId(),
              handlers: callbacks?.handlers,
            },
            new AIMessage(JSON.stringify(parsed)),
          );
        }
        return output as RunOutput;
      },
    ).withConfig({ runName: "Mem0StructuredOutput" });
  }

  /** Scope of a call: call options over `configurable` over the constructor's ids. */
  private resolveScope(callScope: MemoryScope): MemoryScope {
    this.assertOpen();
    return requireScope(mergeScopes(callScope, this.scope), MISSING_SCOPE_HINT);
  }

  private callScope(options: this["ParsedCallOptions"]): MemoryScope {
    return this.resolveScope(
      scopeFromRecord({
        user_id: options.user_id,
        agent_id: options.agent_id,
        run_id: options.run_id,
      }),
    );
  }

  private shouldRetrieve(messages: BaseMessage[]): boolean {
    if (this.retrieval === "off") return false;
    if (this.retrieval === "always") return true;
    const last = messages.at(-1);
    return last !== undefined && messageRole(last) === "user";
  }

  private reportError(error: unknown, context: MemoryErrorContext) {
    if (this.fields.onError) this.fields.onError(error, context);
    else {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.logger.warn(
        `memory retrieval failed, answering without memories (${reason}). Pass onError to ` +
          'handle it, or onMemoryError: "throw" to fail the call instead.',
      );
    }
  }

  /** Retrieval as its own retriever run, so tracing shows the query and the memories. */
  private async retrieve(
    query: string,
    scope: MemoryScope,
    options: { signal?: AbortSignal; filters?: MetadataFilter; callbacks?: CallbackManager },
  ): Promise<SearchResult> {
    const run = await options.callbacks?.handleRetrieverStart(
      RETRIEVER_SERIALIZED,
      query,
      undefined,
      undefined,
      undefined,
      { user_id: scope.userId, agent_id: scope.agentId, run_id: scope.runId },
      "Mem0MemoryRetrieval",
    );
    try {
      const search = this.memory.search(query, {
        ...scope,
        topK: this.topK,
        threshold: this.threshold,
        filters: options.filters ?? this.fields.filters,
        signal: options.signal,
      });
      // A backend that ignores the signal must not hold the call.
      const result = await abortable(search, options.signal);
      await run?.handleRetrieverEnd([
        ...result.results.map(
          (item) =>
            new Document({
              pageContent: item.memory,
              metadata: { type: "memory", id: item.id, score: item.score, ...item.metadata },
            }),
        ),
        ...(result.relations ?? []).map(
          (relation) =>
            new Document({
              pageContent: formatRelation(relation),
              metadata: { type: "relation", ...relation },
            }),
        ),
      ]);
      return result;
    } catch (error) {
      await run?.handleRetrieverError(error);
      throw error;
    }
  }

  /** Steps 2–3 of a call: retrieve for the scope, then return the messages with memories. */
  private async prepare(
    messages: BaseMessage[],
    scope: MemoryScope,
    options: {
      signal?: AbortSignal;
      filters?: MetadataFilter;
      callbacks?: CallbackManager;
      /** The call's own timeout, when it has one. */
      timeoutMs?: number;
    },
  ): Promise<BaseMessage[]> {
    options.signal?.throwIfAborted();
    if (!this.shouldRetrieve(messages)) return messages;
    const query = buildSearchQuery(messages, this.queryWindow);
    if (!query) return messages;
    const budget = Math.min(this.retrievalTimeoutMs, (options.timeoutMs ?? Infinity) / 2);
    const deadline = AbortSignal.timeout(budget);
    let result: SearchResult;
    try {
      result = await this.retrieve(query, scope, {
        ...options,
        signal: anySignal(options.signal, deadline),
      });
    } catch (caught) {
      options.signal?.throwIfAborted();
      const error = deadline.aborted
        ? new Mem0TimeoutError(
            `memory retrieval took longer than ${Math.round(budget)} ms (retrievalTimeoutMs, ` +
              "or half the call's timeout)",
            { cause: caught },
          )
        : caught;
      if (this.fields.onMemoryError === "throw") throw error;
      this.reportError(error, { stage: "retrieve", scope });
      return messages;
    }
    options.signal?.throwIfAborted();
    return injectMemories(messages, this.formatMemories(result), {
      target: this.injection,
      systemPrompt: this.systemPrompt,
    });
  }

  /** Scope, memory-aware messages and inner call options of one call. */
  private async startCall(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ) {
    const scope = this.callScope(options);
    const metadata = { ...this.fields.memoryMetadata, ...options.memoryMetadata };
    if (runManager) {
      this.handler?.bindRun(runManager.runId, scope, {
        metadata,
        events: runManager,
        signal: options.signal,
      });
      countUsageOnce(runManager);
    }
    const prepared = await this.prepare(messages, scope, {
      signal: options.signal,
      filters: options.filters,
      callbacks: childCallbacks(runManager),
      timeoutMs: (options as { [CALL_TIMEOUT]?: number })[CALL_TIMEOUT],
    });
    // The wrapper re-emits every token; the inner run must not, or streams see them twice.
    const innerOptions = {
      ...innerCallOptions(options),
      callbacks: childCallbacks(runManager, ["langsmith:nostream"]),
    };
    return { prepared, innerOptions, scope };
  }

  async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const { prepared, innerOptions, scope } = await this.startCall(messages, options, runManager);
    // The cache key is what decides the answer: the final prompt (memories included), the
    // inner model and its call options, and whose call it is.
    const key = this.answerCache && {
      prompt: BaseChatModel._convertInputToPromptValue(prepared).toString(),
      llmString: `${this._getSerializedCacheKeyParametersForCall(options)},mem0_scope:${JSON.stringify(scope)}`,
    };
    if (this.answerCache && key) {
      const cached = await this.answerCache.lookup(key.prompt, key.llmString);
      if (cached?.length) return { generations: cached.map(asCachedGeneration) };
    }
    const message = await this.model.invoke(prepared, innerOptions);
    const usage = message.usage_metadata;
    const generations = [{ message, text: message.text }];
    if (this.answerCache && key)
      await this.answerCache.update(key.prompt, key.llmString, generations);
    return {
      generations,
      llmOutput: usage
        ? {
            tokenUsage: {
              promptTokens: usage.input_tokens,
              completionTokens: usage.output_tokens,
              totalTokens: usage.total_tokens,
            },
          }
        : undefined,
    };
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const { prepared, innerOptions } = await this.startCall(messages, options, runManager);
    let complete = false;
    try {
      for await (const message of await this.model.stream(prepared, innerOptions)) {
        const chunk = new ChatGenerationChunk({ message, text: message.text });
        yield chunk;
        await runManager?.handleLLMNewToken(
          chunk.text,
          undefined,
          undefined,
          undefined,
          undefined,
          { chunk },
        );
      }
      complete = true;
    } finally {
      // Stopped early (the caller broke off, aborted, or the model failed): a partial answer
      // is not stored, and the run must not linger in the handler.
      if (!complete && runManager) this.handler?.forgetRun(runManager.runId);
    }
  }
}

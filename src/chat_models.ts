import { CallbackManager, type CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
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
import {
  AIMessage,
  AIMessageChunk,
  type BaseMessage,
  type UsageMetadata,
} from "@langchain/core/messages";
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
import type { MemoryBackend, MemoryMetadata } from "./backends/base.js";
import {
  Mem0MemoryCallbackHandler,
  storageHandler,
  storageOptionsShape,
  type MemoryStorageOptions,
  type StoreMode,
} from "./callbacks.js";
import { parseOptions } from "./backends/options.js";
import { Mem0ClosedError, Mem0ConfigError } from "./errors.js";
import { MemoryToolkit } from "./memory_toolkit.js";
import { MemoryRecall, recallOptionsShape, type MemoryRecallOptions } from "./recall.js";
import {
  createMemoryTools,
  memoryToolsShape,
  scopeFieldsShape,
  type MemoryToolsOptions,
} from "./tools.js";
import { mergeScopes, requireScope, scopeFromRecord, type MemoryScope } from "./scope.js";
import { validateFilter, type MetadataFilter } from "./stores/filters.js";
import { countUsageOnce } from "./usage.js";
import { modelTokenCounter } from "./budget.js";
import type { FlushOptions } from "./write_queue.js";

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

export interface Mem0ChatModelFields
  extends BaseChatModelParams, MemoryRecallOptions, MemoryStorageOptions {
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
  /** Called for every memory failure (retrieval, or storage). */
  onError?: MemoryRecallOptions["onError"];
  /** `"continue"` (default): a memory failure never breaks the chat call; `"throw"`: it does. */
  onMemoryError?: "continue" | "throw";
  /** Where warnings go when no `onError` is given (default `console.warn`). */
  logger?: MemoryRecallOptions["logger"];
  /**
   * Let the model also search, save, update and forget memories on purpose: the memory tools
   * are bound next to the caller's own tools, and the wrapper runs their calls itself, for the
   * call's scope, before the answer (or the caller's tool calls) comes back. Named so that
   * `createAgent`, which refuses models with tools already bound, accepts the wrapper.
   */
  memoryTools?: boolean | MemoryToolsBinding;
}

/** What the model may do with the memory tools bound by `Mem0ChatModel`. */
export interface MemoryToolsBinding extends Pick<
  MemoryToolsOptions,
  "include" | "topK" | "infer" | "memoryMetadata"
> {
  /** Model calls per chat call that may use memory tools (default 3); then it must answer. */
  maxRounds?: number;
}

/** Set on copies made by `bindTools` when memory tools are on: the unbound model, the tools. */
const MEMORY_TOOLS_BOUND = Symbol("mem0.memoryToolsBound");

interface InternalFields extends Mem0ChatModelFields {
  [MEMORY_TOOLS_BOUND]?: { base: BaseChatModel; toolkit: MemoryToolkit };
}

/** The wrapper's own settings, checked at construction (the inner model checks its own). */
const fieldsSchema = z.object({
  ...recallOptionsShape,
  ...scopeFieldsShape,
  ...storageOptionsShape,
  memoryTools: z
    .union([
      z.boolean(),
      z.object({ ...memoryToolsShape, maxRounds: z.number().int().min(1).max(20).optional() }),
    ])
    .optional(),
});

const MISSING_SCOPE_HINT =
  "Mem0ChatModel needs a memory scope. Give a userId, agentId or runId in one of three ways: " +
  "new Mem0ChatModel({ ..., userId: 'alice' }); " +
  "model.invoke(input, { configurable: { user_id: 'alice' } }); " +
  "or the call option model.invoke(input, { user_id: 'alice' }).";

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
  /** Retrieval and injection, shared with `mem0Middleware`. */
  readonly recall: MemoryRecall;
  readonly storeMode: StoreMode;
  /** Stores conversations; absent when `store: "off"`. */
  readonly handler?: Mem0MemoryCallbackHandler;

  private readonly fields: Mem0ChatModelFields;
  /** The memory tools run by this wrapper (`memoryTools` option), and the model unbound. */
  private readonly memoryToolkit?: { base: BaseChatModel; toolkit: MemoryToolkit };
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
    const handler = storageHandler(fields.memory, fields);
    const userCallbacks = fields.callbacks;
    if (
      Array.isArray(userCallbacks) &&
      userCallbacks.some((entry) => entry === null || typeof entry !== "object")
    ) {
      // Core would only fail at the first call, with a TypeError naming neither.
      throw new Mem0ConfigError(
        "Mem0ChatModel `callbacks` must be callback handlers (objects such as a " +
          "BaseCallbackHandler or `{ handleLLMEnd() {} }`).",
      );
    }
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
    this.memory = fields.memory;
    const bound = (fields as InternalFields)[MEMORY_TOOLS_BOUND];
    this.memoryToolkit = bound ?? this.createToolkit(fields, handler);
    this.model =
      this.memoryToolkit && !bound
        ? this.memoryToolkit.base.bindTools!(this.memoryToolkit.toolkit.tools)
        : fields.model;
    this.scope = scopeFromRecord(fields);
    this.recall = new MemoryRecall(fields.memory, {
      ...fields,
      countTokens: fields.countTokens ?? modelTokenCounter(this.innerChatModel),
    });
    this.storeMode = fields.store ?? "background";
    this.handler = handler;
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
      topK: this.recall.topK,
      threshold: this.recall.threshold,
      retrieval: this.recall.retrieval,
      injection: this.recall.injection,
      queryWindow: this.recall.queryWindow,
      injectProfile: this.recall.injectProfile || undefined,
      tokenBudget: this.recall.tokenBudget,
      episodes: this.recall.episodes,
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
    // `null` options (JavaScript callers, fuzzing) mean none, as `undefined` does.
    const [config, callOptions] = super._separateRunnableConfigFromCallOptionsCompat(
      options ?? undefined,
    );
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

  /** The memory tools of the `memoryTools` option, for the model to be bound with them. */
  private createToolkit(
    fields: Mem0ChatModelFields,
    handler: Mem0MemoryCallbackHandler | undefined,
  ): { base: BaseChatModel; toolkit: MemoryToolkit } | undefined {
    if (!fields.memoryTools) return undefined;
    const base = fields.model as BaseChatModel;
    if (typeof base.bindTools !== "function" || hasBoundTools(base)) {
      throw new Mem0ConfigError(
        "memoryTools needs the chat model itself (e.g. new ChatOpenAI()), not a runnable " +
          "derived from it; bind your own tools on the Mem0ChatModel: model.bindTools(tools).",
      );
    }
    const { maxRounds = 3, ...toolOptions } = fields.memoryTools === true ? {} : fields.memoryTools;
    const tools = createMemoryTools(fields.memory, {
      ...toolOptions,
      handler,
      writeQueue: fields.writeQueue,
    });
    return { base, toolkit: new MemoryToolkit(tools, maxRounds) };
  }

  /** A copy of this model around another inner runnable, sharing memory and write queue. */
  private withInner(model: Runnable<BaseLanguageModelInput, AIMessageChunk>): Mem0ChatModel {
    const fields: InternalFields = { ...this.fields, model, handler: this.handler };
    if (this.memoryToolkit) fields[MEMORY_TOOLS_BOUND] = this.memoryToolkit;
    return new Mem0ChatModel(fields);
  }

  override bindTools(
    tools: BindToolsInput[],
    kwargs?: Partial<Mem0ChatModelCallOptions>,
  ): Mem0ChatModel {
    if (this.memoryToolkit) {
      const { base, toolkit } = this.memoryToolkit;
      return this.withInner(base.bindTools!([...toolkit.tools, ...tools], kwargs as never));
    }
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
    const inner = (this.memoryToolkit?.base ?? this.model) as BaseChatModel;
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
        const prepared = await this.recall.prepare(messages, scope, {
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
    const prepared = await this.recall.prepare(messages, scope, {
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
    return { prepared, innerOptions, scope, toolCallbacks: childCallbacks(runManager) };
  }

  /**
   * The inner model's answer; with memory tools, after running the memory tool calls it made
   * (at most `maxRounds` model calls), without those calls and with the usage of every round.
   */
  private async answer(
    prepared: BaseMessage[],
    call: Awaited<ReturnType<Mem0ChatModel["startCall"]>>,
  ): Promise<AIMessageChunk> {
    const { innerOptions, scope, toolCallbacks } = call;
    const tools = this.memoryToolkit?.toolkit;
    if (!tools) return this.model.invoke(prepared, innerOptions);
    let conversation = prepared;
    let usage: UsageMetadata | undefined;
    for (let round = 1; ; round++) {
      const message = await this.model.invoke(conversation, innerOptions);
      usage = addUsage(usage, message.usage_metadata);
      const results = await tools.endRound(message, round, scope, {
        signal: innerOptions.signal,
        callbacks: toolCallbacks,
      });
      if (!results) {
        const answer = tools.strip(message);
        answer.usage_metadata = usage;
        return answer;
      }
      conversation = [...conversation, message, ...results];
    }
  }

  async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const call = await this.startCall(messages, options, runManager);
    const { prepared, scope } = call;
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
    const message = await this.answer(prepared, call);
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
    const { prepared, innerOptions, scope, toolCallbacks } = await this.startCall(
      messages,
      options,
      runManager,
    );
    const tools = this.memoryToolkit?.toolkit;
    const reportToken = (chunk: ChatGenerationChunk) =>
      runManager?.handleLLMNewToken(chunk.text, undefined, undefined, undefined, undefined, {
        chunk,
      });
    const generationChunk = (message: AIMessageChunk) =>
      new ChatGenerationChunk({ message, text: message.text });
    let complete = false;
    try {
      let conversation = prepared;
      for (let round = 1; ; round++) {
        let aggregate: AIMessageChunk | undefined;
        for await (const message of await this.model.stream(conversation, innerOptions)) {
          // With memory tools, tool call pieces wait for the end of the round: memory tool
          // calls stay inside.
          if (tools) aggregate = aggregate ? aggregate.concat(message) : message;
          const chunk = generationChunk(tools ? tools.withoutToolCalls(message) : message);
          yield chunk;
          await reportToken(chunk);
        }
        if (!tools || !aggregate) break;
        const results = await tools.endRound(aggregate, round, scope, {
          signal: innerOptions.signal,
          callbacks: toolCallbacks,
        });
        if (!results) {
          const calls = tools.otherCallsChunk(aggregate);
          if (calls) {
            const chunk = generationChunk(calls);
            yield chunk;
            await reportToken(chunk);
          }
          break;
        }
        conversation = [...conversation, aggregate, ...results];
      }
      complete = true;
    } finally {
      // Stopped early (the caller broke off, aborted, or the model failed): a partial answer
      // is not stored, and the run must not linger in the handler.
      if (!complete && runManager) this.handler?.forgetRun(runManager.runId);
    }
  }
}

/**
 * Whether tools are bound already: in a binding's kwargs or config (what `createAgent`
 * checks) or in a model's default options (ChatOpenAI's `bindTools`).
 */
function hasBoundTools(model: unknown): boolean {
  const withTools = (value: unknown) =>
    Array.isArray((value as { tools?: unknown } | undefined)?.tools) &&
    (value as { tools: unknown[] }).tools.length > 0;
  if (RunnableBinding.isRunnableBinding(model)) {
    return withTools(model.kwargs) || withTools(model.config) || hasBoundTools(model.bound);
  }
  return withTools((model as { defaultOptions?: unknown }).defaultOptions);
}

/** Token counts of two model calls added up. */
function addUsage(total: UsageMetadata | undefined, next: UsageMetadata | undefined) {
  if (!total || !next) return total ?? next;
  return {
    input_tokens: total.input_tokens + next.input_tokens,
    output_tokens: total.output_tokens + next.output_tokens,
    total_tokens: total.total_tokens + next.total_tokens,
  };
}

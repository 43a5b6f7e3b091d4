import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { DocumentInterface } from "@langchain/core/documents";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import {
  SystemMessage,
  type AIMessage,
  type AIMessageChunk,
  type BaseMessage,
} from "@langchain/core/messages";
import type { MemoryBackend } from "../backends/base.js";
import { MemoryClient } from "../backends/client.js";
import type { MemoryConfig } from "../backends/config.js";
import { initChatModel } from "../backends/config_models.js";
import { Memory } from "../backends/memory.js";
import { Mem0MemoryCallbackHandler, type MemoryWriteFailure } from "../callbacks.js";
import { Mem0ChatModel } from "../chat_models.js";
import type { MemoryErrorContext } from "../recall.js";
import { Mem0ClosedError, Mem0ConfigError } from "../errors.js";
import { DEFAULT_MEMORY_SYSTEM_PROMPT } from "../formatting.js";
import type { Mem0Logger } from "../logger.js";
import { contentText, messageRole } from "../messages.js";
import type { MetadataFilter } from "../stores/filters.js";
import { WriteQueue, type FlushOptions } from "../write_queue.js";
import {
  toCompletion,
  toCompletionChunks,
  toLangChainMessages,
  type ChatCompletion,
  type ChatCompletionChunk,
} from "./openai_format.js";
import { planCompletion, type CompletionPlan, type Mem0CompletionParams } from "./params.js";

/** Makes the chat model named by a completion's `model` (default: LangChain's `initChatModel`). */
export type ChatModelFactory = (
  model: string,
  fields: Record<string, unknown>,
) => BaseChatModel | Promise<BaseChatModel>;

export interface Mem0Options {
  /** Hosted platform mode: the Mem0 API key (a `MemoryClient` is made). */
  apiKey?: string;
  /** Platform host (with `apiKey`). */
  host?: string;
  /** Local mode: a Mem0 dictionary config for `Memory.fromConfig`. */
  config?: MemoryConfig;
  /** Any ready backend (a `Memory`, a `MemoryClient`, an adapter); the facade does not close it. */
  memory?: MemoryBackend;
  /** Makes chat models from model strings (default: `initChatModel` from `langchain`). */
  chatModel?: ChatModelFactory;
  /** System prompt added when a conversation has none (the Mem0 proxy's behaviour). */
  systemPrompt?: string;
  /** Deadline of one background write in ms (default 30 000). */
  writeTimeoutMs?: number;
  /** Called for every memory failure (retrieval or storage); default: a warning. */
  onError?: (error: unknown, context: MemoryErrorContext) => void;
  /** Where warnings go (default `console.warn`). */
  logger?: Mem0Logger;
}

/** What a completion used, for display and debugging. */
export interface CompletionTrace {
  /** The memories retrieved for the call, best first. */
  memories: { id?: string; memory: string; score?: number }[];
  /** Graph relations retrieved, as `source —relation→ destination` lines. */
  relations: string[];
  /** The exact messages the model received, memories injected. */
  prompt: { role: string; content: string }[];
}

/** Per-call options of `create`, next to the body (like the OpenAI SDK's request options). */
export interface CompletionRequestOptions {
  /** Aborts retrieval and the model call. */
  signal?: AbortSignal;
  /** Called once the prompt is ready, with what was retrieved and what the model receives. */
  onTrace?: (trace: CompletionTrace) => void;
}

/** Cached chat models per model string and fields, at most this many. */
const MODEL_CACHE_SIZE = 32;

/** Records what one call retrieved and the prompt its inner model received. */
class TraceHandler extends BaseCallbackHandler {
  name = "Mem0CompletionTrace";
  override awaitHandlers = true;
  readonly trace: CompletionTrace = { memories: [], relations: [], prompt: [] };

  override async handleRetrieverEnd(documents: DocumentInterface[]): Promise<void> {
    for (const document of documents) {
      if (document.metadata?.type === "relation") this.trace.relations.push(document.pageContent);
      else {
        this.trace.memories.push({
          id: document.metadata?.id as string | undefined,
          memory: document.pageContent,
          score: document.metadata?.score as number | undefined,
        });
      }
    }
  }

  override async handleChatModelStart(_llm: Serialized, messages: BaseMessage[][]) {
    // The wrapper's run starts first, then its inner model's with the memories injected.
    this.trace.prompt = (messages[0] ?? []).map((message) => ({
      role: messageRole(message),
      content: contentText(message.content),
    }));
  }
}

/** `mem0.chat.completions`: OpenAI's `create`, with memory. */
export class Completions {
  constructor(private readonly mem0: Mem0) {}

  /**
   * Answers like OpenAI's `chat.completions.create`, with memory: retrieves what is known
   * about the scope (`user_id` / `agent_id` / `run_id`) from the last messages, adds the memory
   * system prompt when the conversation has none, places the memories before the last user
   * message, calls the model, and stores the new turn and the answer in the background.
   * Returns a `chat.completion`, or with `stream: true` an async iterable of
   * `chat.completion.chunk`s.
   */
  create(
    params: Mem0CompletionParams & { stream: true },
    options?: CompletionRequestOptions,
  ): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(
    params: Mem0CompletionParams & { stream?: false | null },
    options?: CompletionRequestOptions,
  ): Promise<ChatCompletion>;
  create(
    params: Mem0CompletionParams,
    options?: CompletionRequestOptions,
  ): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  async create(
    params: Mem0CompletionParams,
    options: CompletionRequestOptions = {},
  ): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    return this.mem0.complete(planCompletion(params), options);
  }
}

/** `mem0.chat`. */
export class Chat {
  readonly completions: Completions;

  constructor(mem0: Mem0) {
    this.completions = new Completions(mem0);
  }
}

/**
 * The Mem0 proxy, in TypeScript: `mem0.chat.completions.create({ model, messages, user_id })`
 * answers like OpenAI's API with memory, over the hosted platform (`new Mem0({ apiKey })`),
 * a local engine from a Mem0 config (`new Mem0({ config })`), the local defaults
 * (`new Mem0()`), or any backend (`new Mem0({ memory })`). Each call goes through a
 * `Mem0ChatModel` around the chat model the `model` string names.
 */
export class Mem0 {
  readonly chat: Chat;
  /** One write queue for every call's stored turn. */
  private readonly queue: WriteQueue;
  /** Stores every call's turn, made with the backend (so the local engine's outbox is used). */
  private handler?: Mem0MemoryCallbackHandler;
  private readonly backendReady: Promise<MemoryBackend>;
  private readonly ownsBackend: boolean;
  private readonly chatModel: ChatModelFactory;
  private readonly models = new Map<string, Promise<BaseChatModel>>();
  private readonly options: Mem0Options;
  private closed = false;

  constructor(options: Mem0Options = {}) {
    const modes = [options.apiKey, options.config, options.memory].filter((v) => v !== undefined);
    if (modes.length > 1) {
      throw new Mem0ConfigError(
        "Mem0 takes one of apiKey (hosted platform), config (local engine) or memory (a ready backend).",
      );
    }
    this.options = options;
    this.ownsBackend = options.memory === undefined;
    if (options.memory) this.backendReady = Promise.resolve(options.memory);
    else if (options.apiKey !== undefined) {
      this.backendReady = Promise.resolve(
        new MemoryClient({ apiKey: options.apiKey, host: options.host }),
      );
    } else this.backendReady = Memory.fromConfig(options.config ?? {});
    // Surfaced by the first call; not an unhandled rejection before it.
    this.backendReady.catch(() => undefined);
    this.chatModel = options.chatModel ?? initChatModel;
    this.queue = new WriteQueue({ timeoutMs: options.writeTimeoutMs });
    this.chat = new Chat(this);
  }

  private storageHandler(backend: MemoryBackend): Mem0MemoryCallbackHandler {
    const onError = this.options.onError;
    this.handler ??= new Mem0MemoryCallbackHandler({
      backend,
      queue: this.queue,
      onError: onError
        ? (failure: MemoryWriteFailure) => onError(failure.error, { stage: "store", ...failure })
        : undefined,
      logger: this.options.logger,
    });
    return this.handler;
  }

  /** The memory backend (created from the config or key on first use). */
  get memory(): Promise<MemoryBackend> {
    return this.backendReady;
  }

  /** The chat model for a model string and its fields, made once and reused. */
  private resolveModel(model: string, fields: Record<string, unknown>): Promise<BaseChatModel> {
    const key = `${model}\u0000${JSON.stringify(fields)}`;
    let found = this.models.get(key);
    if (!found) {
      found = Promise.resolve()
        .then(() => this.chatModel(model, fields))
        .catch((error: unknown) => {
          this.models.delete(key);
          if (error instanceof Mem0ConfigError) throw error;
          throw new Mem0ConfigError(
            `Could not create the chat model "${model}": ${(error as Error)?.message ?? error}. ` +
              'Name it as "provider:model" (e.g. "openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5") ' +
              "and install the provider's LangChain package (e.g. @langchain/openai).",
            { cause: error },
          );
        });
      if (this.models.size >= MODEL_CACHE_SIZE)
        this.models.delete(this.models.keys().next().value!);
      this.models.set(key, found);
    }
    return found;
  }

  /** One completion after validation (see {@link Completions.create}). */
  async complete(
    plan: CompletionPlan,
    options: CompletionRequestOptions,
  ): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    if (this.closed) throw new Mem0ClosedError("This Mem0 is closed; create a new one.");
    let messages = toLangChainMessages(plan.messages);
    if (!messages.some((message) => messageRole(message) === "system")) {
      messages = [
        new SystemMessage(this.options.systemPrompt ?? DEFAULT_MEMORY_SYSTEM_PROMPT),
        ...messages,
      ];
    }
    const backend = await this.backendReady;
    const inner = await this.resolveModel(plan.model, plan.modelFields);
    const bound = plan.tools
      ? inner.bindTools!(plan.tools as never, plan.toolOptions as never)
      : inner;
    const modelFor = (store: boolean) =>
      new Mem0ChatModel({
        model: bound,
        memory: backend,
        handler: store ? this.storageHandler(backend) : undefined,
        store: store ? "background" : "off",
        topK: plan.topK,
        systemPrompt: this.options.systemPrompt,
        onError: this.options.onError,
        logger: this.options.logger,
      });
    const callOptions = (trace?: TraceHandler) => ({
      ...plan.callOptions,
      ...plan.scope,
      filters: plan.filters as MetadataFilter | undefined,
      memoryMetadata: plan.metadata,
      signal: options.signal,
      callbacks: trace ? [trace] : undefined,
    });
    const trace = new TraceHandler();
    if (plan.stream) {
      const stream = await modelFor(true).stream(messages, callOptions(trace));
      return this.streamWithTrace(plan, stream, trace, options);
    }
    const answers = await Promise.all(
      Array.from({ length: plan.n }, (_, index) =>
        // One stored answer per call: the first choice.
        modelFor(index === 0).invoke(messages, callOptions(index === 0 ? trace : undefined)),
      ),
    );
    options.onTrace?.(trace.trace);
    return toCompletion(plan.model, answers as AIMessage[]);
  }

  private async *streamWithTrace(
    plan: CompletionPlan,
    stream: AsyncIterable<AIMessageChunk>,
    trace: TraceHandler,
    options: CompletionRequestOptions,
  ): AsyncGenerator<ChatCompletionChunk> {
    let reported = false;
    for await (const chunk of toCompletionChunks(plan.model, stream, {
      includeUsage: plan.includeUsage,
    })) {
      if (!reported && chunk.choices[0]?.delta.role === undefined) {
        reported = true;
        options.onTrace?.(trace.trace);
      }
      yield chunk;
    }
    if (!reported) options.onTrace?.(trace.trace);
  }

  /**
   * Waits for the stored turns handed to memory so far (at most `timeout` ms); `true` when
   * nothing is left. With the local engine, what is not written stays in its outbox.
   */
  flush(options: FlushOptions = {}): Promise<boolean> {
    return this.queue.flush(options);
  }

  /**
   * Flushes (at most `timeout` ms), then closes the backend the facade made (not one given as
   * `memory`). Later calls throw `Mem0ClosedError`.
   */
  async close(options: FlushOptions = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close(options);
    if (this.ownsBackend) {
      const backend = await this.backendReady.catch(() => undefined);
      await (backend as { close?: () => Promise<void> } | undefined)?.close?.();
    }
  }
}

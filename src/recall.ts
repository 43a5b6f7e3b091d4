import type { CallbackManager } from "@langchain/core/callbacks/manager";
import { Document } from "@langchain/core/documents";
import type { SerializedNotImplemented } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import { z } from "zod";
import {
  isProfileBackend,
  type Episode,
  type EpisodeSearchOptions,
  type MemoryBackend,
  type ProfileValue,
  type SearchResult,
} from "./backends/base.js";
import { approximateTokens, fitBudget, type TokenCounter } from "./budget.js";
import { abortable, anySignal } from "./abort.js";
import { Mem0TimeoutError } from "./errors.js";
import {
  DEFAULT_MEMORY_SYSTEM_PROMPT,
  buildSearchQuery,
  formatMemoryBlock,
  formatRelation,
  injectMemories,
  type InjectionTarget,
  type MemoryContext,
  type MemoryFormatter,
} from "./formatting.js";
import { consoleLogger, type Mem0Logger } from "./logger.js";
import { messageRole, messageText } from "./messages.js";
import type { MemoryScope } from "./scope.js";
import type { MetadataFilter } from "./stores/filters.js";

/** When memories are retrieved: on user turns (Mem0 proxy behaviour), on every call, or never. */
export type RetrievalMode = "user_turn" | "always" | "off";

/** Where a memory failure happened. */
export interface MemoryErrorContext {
  stage: "retrieve" | "store";
  scope: MemoryScope;
  /** The conversation that could not be stored (store failures only). */
  messages?: BaseMessage[];
}

/**
 * How memories are found and placed in the prompt. `Mem0ChatModel` and `mem0Middleware`
 * take the same options and run the same code, so they inject the same text.
 */
export interface MemoryRecallOptions {
  /** Metadata filter applied to every retrieval. */
  filters?: MetadataFilter;
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
  /** `"continue"` (default): a memory failure never breaks the chat call; `"throw"`: it does. */
  onMemoryError?: "continue" | "throw";
  /** Called for every memory failure (retrieval, or storage). */
  onError?: (error: unknown, context: MemoryErrorContext) => void;
  /** Where warnings go when no `onError` is given (default `console.warn`). */
  logger?: Mem0Logger;
  /**
   * Longest wait for retrieval, in ms (default 5000); with a call `timeout`, at most half of
   * it, so the model still answers in time. Past it the call goes on without memories (or
   * fails, with `onMemoryError: "throw"`).
   */
  retrievalTimeoutMs?: number;
  /**
   * Inject the owner's profile on every call (user turns or not), when the backend keeps one
   * (a `Memory` created with `profile`). Default true.
   */
  injectProfile?: boolean;
  /**
   * Most tokens the memory block may take: profile, facts, relations and episodes together.
   * Over it, items are dropped in `BUDGET_DROP_ORDER` (episodes, relations, facts, each least
   * relevant first, then the profile). Default: no limit.
   */
  tokenBudget?: number;
  /**
   * Counts tokens for `tokenBudget`. `Mem0ChatModel` uses the inner model's own counter when
   * it has one; otherwise about 4 characters per token.
   */
  countTokens?: TokenCounter;
  /**
   * Also inject earlier conversation turns relevant to the call (episode recall, default off):
   * `true` (3 episodes, 1 turn around each) or `{ topK, window }`. Turns already in the
   * conversation are left out; under `tokenBudget` episodes are dropped first.
   */
  episodes?: boolean | EpisodeSearchOptions;
}

/** Zod shape of {@link MemoryRecallOptions}, for the option schemas of its users. */
export const recallOptionsShape = {
  topK: z.number().int().min(1).max(1000).optional(),
  threshold: z.number().min(0).max(1).optional(),
  queryWindow: z.number().int().min(1).optional(),
  retrieval: z.enum(["user_turn", "always", "off"]).optional(),
  injection: z.enum(["user", "system"]).optional(),
  systemPrompt: z.string().optional(),
  formatMemories: z.function().optional(),
  onMemoryError: z.enum(["continue", "throw"]).optional(),
  retrievalTimeoutMs: z.number().int().positive().optional(),
  onError: z.function().optional(),
  filters: z.record(z.string(), z.unknown()).optional(),
  injectProfile: z.boolean().optional(),
  tokenBudget: z.number().int().positive().optional(),
  countTokens: z.function().optional(),
  episodes: z
    .union([
      z.boolean(),
      z
        .object({
          topK: z.number().int().min(1).max(100).optional(),
          window: z.number().int().min(0).max(20).optional(),
        })
        .strict(),
    ])
    .optional(),
};

/** Per-call settings of a retrieval. */
export interface RecallCallOptions {
  signal?: AbortSignal;
  /** Replaces the configured metadata filter for this call. */
  filters?: MetadataFilter;
  /** The retrieval is reported to these as a retriever run. */
  callbacks?: CallbackManager;
  /** The call's own timeout, when it has one. */
  timeoutMs?: number;
}

const RETRIEVER_SERIALIZED: SerializedNotImplemented = {
  lc: 1,
  type: "not_implemented",
  id: ["langchain_mem0", "MemoryRetriever"],
};

/** Name of the retriever run that traces a retrieval. */
export const MEMORY_RETRIEVAL_RUN_NAME = "Mem0MemoryRetrieval";

/**
 * A search result as LangChain documents: the facts (memory text, with `type: "memory"`, `id`,
 * `score`, the owner ids and the memory's metadata), then the relations (`type: "relation"`),
 * then the episodes (`type: "episode"`, one `role: content` line per turn).
 */
export function memoryDocuments(result: SearchResult): Document[] {
  return [
    ...result.results.map(
      (item) =>
        new Document({
          pageContent: item.memory,
          id: item.id,
          metadata: {
            ...item.metadata,
            type: "memory",
            id: item.id,
            score: item.score,
            ...(item.rerankScore === undefined ? {} : { rerankScore: item.rerankScore }),
            ...(item.user_id === undefined ? {} : { user_id: item.user_id }),
            ...(item.agent_id === undefined ? {} : { agent_id: item.agent_id }),
            ...(item.run_id === undefined ? {} : { run_id: item.run_id }),
            createdAt: item.createdAt,
            updatedAt: item.updatedAt,
          },
        }),
    ),
    ...(result.relations ?? []).map(
      (relation) =>
        new Document({
          pageContent: formatRelation(relation),
          metadata: { type: "relation", ...relation },
        }),
    ),
    ...(result.episodes ?? []).map(
      ({ messages, ...episode }) =>
        new Document({
          pageContent: messages.map(({ role, content }) => `${role}: ${content}`).join("\n"),
          metadata: { type: "episode", ...episode, messages },
        }),
    ),
  ];
}

/** Episodes whose matching turns are not all in the conversation already. */
function unseen(episodes: Episode[], messages: BaseMessage[]): Episode[] {
  const present = new Set(messages.map((message) => messageText(message)));
  return episodes.filter((episode) =>
    episode.messages.some((turn) => turn.match && !present.has(turn.content)),
  );
}

/**
 * Retrieval and injection, step 2 and 3 of every call of `Mem0ChatModel` and
 * `mem0Middleware`: builds the query from the last messages, searches the scope within a
 * deadline, and returns the messages with the memory block placed as configured.
 */
export class MemoryRecall {
  readonly topK: number;
  readonly threshold?: number;
  readonly queryWindow: number;
  readonly retrieval: RetrievalMode;
  readonly injection: InjectionTarget;
  readonly systemPrompt: string;
  readonly retrievalTimeoutMs: number;
  /** Whether the owner's profile is injected on every call. */
  readonly injectProfile: boolean;
  readonly tokenBudget?: number;
  /** Episode recall settings, when on. */
  readonly episodes?: true | EpisodeSearchOptions;

  private readonly formatMemories: MemoryFormatter;
  private readonly countTokens: TokenCounter;
  private readonly logger: Mem0Logger;

  constructor(
    readonly memory: MemoryBackend,
    private readonly options: MemoryRecallOptions = {},
  ) {
    this.topK = options.topK ?? 10;
    this.threshold = options.threshold;
    this.queryWindow = options.queryWindow ?? 6;
    this.retrieval = options.retrieval ?? "user_turn";
    this.injection = options.injection ?? "user";
    this.systemPrompt = options.systemPrompt ?? DEFAULT_MEMORY_SYSTEM_PROMPT;
    this.formatMemories = options.formatMemories ?? formatMemoryBlock;
    this.logger = options.logger ?? consoleLogger;
    this.retrievalTimeoutMs = options.retrievalTimeoutMs ?? 5_000;
    this.injectProfile = options.injectProfile !== false && isProfileBackend(memory);
    this.tokenBudget = options.tokenBudget;
    this.episodes = options.episodes || undefined;
    this.countTokens = options.countTokens ?? approximateTokens;
  }

  /** Whether this conversation gets a retrieval under the configured mode. */
  shouldRetrieve(messages: BaseMessage[]): boolean {
    if (this.retrieval === "off") return false;
    if (this.retrieval === "always") return true;
    const last = messages.at(-1);
    return last !== undefined && messageRole(last) === "user";
  }

  /** Reports a memory failure to `onError`, or warns. */
  reportError(error: unknown, context: MemoryErrorContext): void {
    if (this.options.onError) this.options.onError(error, context);
    else {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.logger.warn(
        `memory retrieval failed, answering without memories (${reason}). Pass onError to ` +
          'handle it, or onMemoryError: "throw" to fail the call instead.',
      );
    }
  }

  /** A search of the scope, traced as its own retriever run with the memories as documents. */
  async search(
    query: string,
    scope: MemoryScope,
    options: Omit<RecallCallOptions, "timeoutMs"> = {},
  ): Promise<SearchResult> {
    const run = await options.callbacks?.handleRetrieverStart(
      RETRIEVER_SERIALIZED,
      query,
      undefined,
      undefined,
      undefined,
      { user_id: scope.userId, agent_id: scope.agentId, run_id: scope.runId },
      MEMORY_RETRIEVAL_RUN_NAME,
    );
    try {
      const search = this.memory.search(query, {
        ...scope,
        topK: this.topK,
        threshold: this.threshold,
        filters: options.filters ?? this.options.filters,
        signal: options.signal,
        ...(this.episodes ? { episodes: this.episodes } : {}),
      });
      // A backend that ignores the signal must not hold the call.
      const result = await abortable(search, options.signal);
      await run?.handleRetrieverEnd(memoryDocuments(result));
      return result;
    } catch (error) {
      await run?.handleRetrieverError(error);
      throw error;
    }
  }

  /** The owner's profile for injection, or `undefined` (none kept, or none yet). */
  private async readProfile(
    scope: MemoryScope,
    signal: AbortSignal | undefined,
  ): Promise<ProfileValue | undefined> {
    if (!this.injectProfile || !isProfileBackend(this.memory)) return undefined;
    const record = await abortable(this.memory.getProfile(scope), signal);
    return record?.profile;
  }

  /**
   * The memory block for this conversation ("" when nothing is recalled): the profile on
   * every call, memories when the retrieval mode says so, within `tokenBudget`. Bounded by
   * `retrievalTimeoutMs` (or half the call's timeout); a failure is reported and gives ""
   * unless `onMemoryError` is `"throw"`.
   */
  async recall(
    messages: BaseMessage[],
    scope: MemoryScope,
    options: RecallCallOptions = {},
  ): Promise<string> {
    options.signal?.throwIfAborted();
    const query = this.shouldRetrieve(messages) ? buildSearchQuery(messages, this.queryWindow) : "";
    if (!query && !this.injectProfile) return "";
    const budget = Math.min(this.retrievalTimeoutMs, (options.timeoutMs ?? Infinity) / 2);
    const deadline = AbortSignal.timeout(budget);
    let context: MemoryContext;
    try {
      const signal = anySignal(options.signal, deadline);
      const [result, profile] = await Promise.all([
        query ? this.search(query, scope, { ...options, signal }) : { results: [] },
        this.readProfile(scope, signal),
      ]);
      context = profile === undefined ? result : { ...result, profile };
      if (context.episodes) context = { ...context, episodes: unseen(context.episodes, messages) };
      if (this.tokenBudget !== undefined) {
        context = await fitBudget(context, this.tokenBudget, this.formatMemories, this.countTokens);
      }
    } catch (caught) {
      options.signal?.throwIfAborted();
      const error = deadline.aborted
        ? new Mem0TimeoutError(
            `memory retrieval took longer than ${Math.round(budget)} ms (retrievalTimeoutMs, ` +
              "or half the call's timeout)",
            { cause: caught },
          )
        : caught;
      if (this.options.onMemoryError === "throw") throw error;
      this.reportError(error, { stage: "retrieve", scope });
      return "";
    }
    options.signal?.throwIfAborted();
    return this.formatMemories(context);
  }

  /** The messages with the memories of `scope` placed as configured (a new list). */
  async prepare(
    messages: BaseMessage[],
    scope: MemoryScope,
    options: RecallCallOptions = {},
  ): Promise<BaseMessage[]> {
    return this.inject(messages, await this.recall(messages, scope, options));
  }

  /** Places a memory block as configured; an empty block changes nothing. */
  inject(messages: BaseMessage[], block: string): BaseMessage[] {
    return injectMemories(messages, block, {
      target: this.injection,
      systemPrompt: this.systemPrompt,
    });
  }
}

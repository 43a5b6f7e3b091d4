import type { BaseMessageLike } from "@langchain/core/messages";
import { Mem0ConfigError } from "../errors.js";
import type { Mem0Logger } from "../logger.js";
import { consoleLogger } from "../logger.js";
import { toBaseMessages, toConversation } from "../messages.js";
import type {
  AddMemoryOptions,
  AddResult,
  MemoryBackend,
  MemoryEvent,
  MemoryEventType,
  MemoryItem,
  Relation,
  SearchMemoryOptions,
  SearchResult,
} from "./base.js";
import { resolveScope } from "./options.js";

/** What this backend uses of mem0ai's `Memory` (`mem0ai/oss`) or hosted `MemoryClient`. */
export interface Mem0Sdk {
  add(
    messages: { role: "user" | "assistant"; content: string }[],
    options: Record<string, unknown>,
  ): Promise<unknown>;
  search(query: string, options: Record<string, unknown>): Promise<unknown>;
}

/** Options of {@link Mem0SdkBackend}. */
export interface Mem0SdkBackendOptions {
  /** A `Memory` from `mem0ai/oss` or a `MemoryClient` from `mem0ai` (the hosted platform). */
  memory: Mem0Sdk;
  /**
   * Work around mem0ai's LangChain adapter taking `@langchain/core` 1.x's always-present empty
   * `tool_calls` for a tool reply (its `add` then silently stores nothing): the chat model of
   * a `mem0ai/oss` Memory with LLM provider "langchain" is given the model's text only.
   * Default true.
   */
  fixLangChainToolCalls?: boolean;
  /** Where the one notice about that fix goes; default `console.warn`. */
  logger?: Mem0Logger;
}

/** A mem0ai memory item, in either SDK's spelling. */
interface SdkItem {
  id?: string;
  memory?: string;
  data?: { memory?: string } | null;
  hash?: string;
  score?: number;
  rerankScore?: number;
  metadata?: Record<string, unknown> | null;
  event?: string;
  previousMemory?: string;
  createdAt?: string | Date;
  updatedAt?: string | Date;
  created_at?: string;
  updated_at?: string;
  userId?: string | null;
  agentId?: string | null;
  runId?: string | null;
  user_id?: string;
  agent_id?: string;
  run_id?: string;
}

const EVENTS = new Set(["ADD", "UPDATE", "DELETE"]);

function iso(value: string | Date | undefined): string {
  if (value === undefined) return "";
  return value instanceof Date ? value.toISOString() : String(value);
}

function toItem(item: SdkItem): MemoryItem {
  const out: MemoryItem = {
    id: String(item.id ?? ""),
    memory: item.memory ?? item.data?.memory ?? "",
    metadata: item.metadata ?? {},
    createdAt: iso(item.createdAt ?? item.created_at),
    updatedAt: iso(item.updatedAt ?? item.updated_at ?? item.createdAt ?? item.created_at),
  };
  if (item.hash !== undefined) out.hash = item.hash;
  if (typeof item.score === "number") out.score = item.score;
  if (typeof item.rerankScore === "number") out.rerankScore = item.rerankScore;
  const userId = item.user_id ?? item.userId ?? undefined;
  const agentId = item.agent_id ?? item.agentId ?? undefined;
  const runId = item.run_id ?? item.runId ?? undefined;
  if (userId) out.user_id = userId;
  if (agentId) out.agent_id = agentId;
  if (runId) out.run_id = runId;
  return out;
}

/** `results` of a reply that is either `{ results }` or the array itself. */
function resultsOf(reply: unknown): SdkItem[] {
  if (Array.isArray(reply)) return reply as SdkItem[];
  const results = (reply as { results?: unknown } | null)?.results;
  return Array.isArray(results) ? (results as SdkItem[]) : [];
}

/** A `@langchain/core` chat model (as opposed to mem0ai's own `{ invoke }` shapes). */
function isLangChainChatModel(
  model: unknown,
): model is { invoke(input: unknown): Promise<{ content: unknown }> } {
  const candidate = model as { lc_namespace?: unknown; invoke?: unknown } | null;
  return (
    typeof candidate?.invoke === "function" &&
    Array.isArray(candidate.lc_namespace) &&
    candidate.lc_namespace.includes("chat_models")
  );
}

/**
 * Gives mem0ai the text of a LangChain chat model's reply only. With the whole message, mem0ai's
 * LangChain adapter sees `tool_calls: []` (always present in `@langchain/core` 1.x), takes the
 * reply for a tool call and extracts nothing. Use it in a mem0ai config:
 * `llm: { provider: "langchain", config: { model: mem0CompatibleModel(chatModel) } }`.
 */
export function mem0CompatibleModel(model: {
  invoke(input: never): Promise<{ content: unknown }>;
}) {
  return {
    invoke: async (messages: never) => ({ content: (await model.invoke(messages)).content }),
  };
}

/**
 * An existing mem0ai memory as the backend of `Mem0ChatModel` (and every other front door),
 * so Mem0 users keep their data: `Memory` from `mem0ai/oss` (their local engine) or
 * `MemoryClient` from `mem0ai` (the hosted platform). Calls are translated to mem0ai's shapes:
 * the owner goes into `filters` for search (`user_id`, `agent_id`, `run_id`) and into
 * `userId`/`agentId`/`runId` for add; results come back in this package's shapes.
 */
export class Mem0SdkBackend implements MemoryBackend {
  readonly memory: Mem0Sdk;

  constructor(options: Mem0SdkBackendOptions) {
    const memory = options?.memory;
    if (typeof memory?.add !== "function" || typeof memory.search !== "function") {
      throw new Mem0ConfigError(
        "Mem0SdkBackend needs `memory`: a Memory from mem0ai/oss or a MemoryClient from mem0ai.",
      );
    }
    this.memory = memory;
    if (options.fixLangChainToolCalls !== false) {
      this.fixToolCalls(options.logger ?? consoleLogger);
    }
  }

  /** Replaces the chat model of mem0ai's LangChain LLM adapter by its text-only view. */
  private fixToolCalls(logger: Mem0Logger): void {
    const llm = (this.memory as { llm?: { llmInstance?: unknown } }).llm;
    if (!llm || !isLangChainChatModel(llm.llmInstance)) return;
    llm.llmInstance = mem0CompatibleModel(llm.llmInstance);
    logger.warn(
      "Mem0SdkBackend: mem0ai's LangChain LLM adapter takes @langchain/core's empty tool_calls " +
        "for a tool reply and would store nothing; its chat model now returns text only. Pass " +
        "fixLangChainToolCalls: false to keep it as it was.",
    );
  }

  async search(query: string, options: SearchMemoryOptions): Promise<SearchResult> {
    const { scope, filter } = resolveScope(options, "search options");
    const filters: Record<string, unknown> = { ...filter };
    if (scope.userId !== undefined) filters.user_id = scope.userId;
    if (scope.agentId !== undefined) filters.agent_id = scope.agentId;
    if (scope.runId !== undefined) filters.run_id = scope.runId;
    const request: Record<string, unknown> = { filters, topK: options.topK ?? 10 };
    if (options.threshold !== undefined) request.threshold = options.threshold;
    if (options.rerank !== undefined) request.rerank = options.rerank;
    if (options.showExpired !== undefined) request.showExpired = options.showExpired;
    options.signal?.throwIfAborted();
    const reply = await this.memory.search(query, request);
    const relations = (reply as { relations?: unknown } | null)?.relations;
    return {
      results: resultsOf(reply).map(toItem),
      ...(Array.isArray(relations) ? { relations: relations as Relation[] } : {}),
    };
  }

  async add(messages: string | BaseMessageLike[], options: AddMemoryOptions): Promise<AddResult> {
    const { scope } = resolveScope(options, "add options");
    const conversation = toConversation(toBaseMessages(messages)).filter(
      (message) => message.role !== "system",
    );
    if (conversation.length === 0) return { results: [] };
    const request: Record<string, unknown> = { ...scope };
    if (options.metadata !== undefined) request.metadata = options.metadata;
    if (options.infer !== undefined) request.infer = options.infer;
    options.signal?.throwIfAborted();
    // System messages were dropped above: mem0ai takes user and assistant turns.
    const reply = await this.memory.add(
      conversation as { role: "user" | "assistant"; content: string }[],
      request,
    );
    const results: MemoryEvent[] = [];
    for (const item of resultsOf(reply)) {
      const raw = String(item.event ?? item.metadata?.event ?? "").toUpperCase();
      // mem0ai's NOOP and the platform's queued entries (no event yet) change nothing now.
      if (!EVENTS.has(raw)) continue;
      const event = raw as MemoryEventType;
      const previous = item.previousMemory ?? (item.metadata?.previousMemory as string | undefined);
      results.push({
        id: String(item.id ?? ""),
        memory: item.memory ?? item.data?.memory ?? "",
        event,
        ...(previous !== undefined ? { previousMemory: previous } : {}),
        metadata: { event, ...(previous !== undefined ? { previousMemory: previous } : {}) },
      });
    }
    return { results };
  }
}

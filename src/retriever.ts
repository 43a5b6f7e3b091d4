import type { CallbackManagerForRetrieverRun } from "@langchain/core/callbacks/manager";
import type { Document } from "@langchain/core/documents";
import { BaseRetriever, type BaseRetrieverInput } from "@langchain/core/retrievers";
import { z } from "zod";
import type { MemoryBackend } from "./backends/base.js";
import { parseOptions } from "./backends/options.js";
import { Mem0ConfigError } from "./errors.js";
import { memoryDocuments } from "./recall.js";
import { requireScope, type MemoryScope } from "./scope.js";
import type { MetadataFilter } from "./stores/filters.js";

/** Options of `memory.asRetriever()` / `new MemoryRetriever()`. */
export interface MemoryRetrieverOptions extends BaseRetrieverInput {
  /** Whose memories are searched (at least one id). */
  scope: MemoryScope;
  /** Memories returned per query (default 10). */
  topK?: number;
  /** Minimum semantic similarity of a memory, in [0, 1]. */
  threshold?: number;
  /** Metadata conditions applied before ranking. */
  filters?: MetadataFilter;
  /** Reorder with the engine's reranker, when it has one. */
  rerank?: boolean;
  /** Also return graph relations, as documents with `metadata.type === "relation"`. */
  includeRelations?: boolean;
}

const optionsSchema = z.object({
  topK: z.number().int().min(1).max(1000).optional(),
  threshold: z.number().min(0).max(1).optional(),
  filters: z.record(z.string(), z.unknown()).optional(),
  rerank: z.boolean().optional(),
  includeRelations: z.boolean().optional(),
});

/**
 * One owner's memories as a LangChain retriever, for retrieval chains: each memory is a
 * `Document` whose `pageContent` is the fact and whose metadata holds `id`, `score`, the
 * owner ids, timestamps and the memory's own metadata. The scope is fixed at construction;
 * build one per user (it is a light object).
 *
 * ```ts
 * const retriever = memory.asRetriever({ scope: { userId: "alice" }, topK: 5 });
 * const docs = await retriever.invoke("dietary preferences");
 * ```
 */
export class MemoryRetriever extends BaseRetriever {
  static override lc_name() {
    return "MemoryRetriever";
  }

  lc_namespace = ["langchain_mem0", "retrievers"];

  readonly memory: MemoryBackend;
  readonly scope: MemoryScope;
  private readonly options: MemoryRetrieverOptions;

  constructor(memory: MemoryBackend, options: MemoryRetrieverOptions) {
    super(options);
    if (typeof memory?.search !== "function") {
      throw new Mem0ConfigError("MemoryRetriever needs a memory backend with search().");
    }
    parseOptions(optionsSchema, options, "retriever options", Mem0ConfigError);
    this.memory = memory;
    this.scope = requireScope(
      options?.scope ?? {},
      "A memory retriever needs a scope: memory.asRetriever({ scope: { userId: 'alice' } }).",
    );
    this.options = options;
  }

  override async _getRelevantDocuments(
    query: string,
    _runManager?: CallbackManagerForRetrieverRun,
  ): Promise<Document[]> {
    const result = await this.memory.search(query, {
      ...this.scope,
      topK: this.options.topK,
      threshold: this.options.threshold,
      filters: this.options.filters,
      rerank: this.options.rerank,
    });
    return memoryDocuments(this.options.includeRelations ? result : { results: result.results });
  }
}

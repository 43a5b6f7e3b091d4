import { Document } from "@langchain/core/documents";
import type { VectorStore } from "@langchain/core/vectorstores";
import { Mem0ConfigError } from "../errors.js";
import { requireScope, scopeContains, type MemoryScope } from "../scope.js";
import type {
  AppliedChange,
  ApplyOptions,
  GraphStore,
  HistoryEntry,
  HistoryStore,
  ListOptions,
  ListPage,
  MemoryChange,
  MemoryStore,
  MessageStore,
  OutboxEntry,
  OutboxStore,
  ScoredMemory,
  StoredMemory,
  StoredMessage,
  StoreSearchOptions,
} from "./base.js";
import { matchesFilter, validateFilter } from "./filters.js";
import { GraphDelegate } from "./graph_delegate.js";
import {
  DOCUMENT_KEYS,
  DOCUMENT_SOURCE,
  memoryVectorStoreFilter,
  pgVectorStoreFilter,
  type FilterTranslator,
} from "./langchain_filters.js";
import { checkTopK } from "./store_checks.js";

/** A store holding everything but the vector index: `SqliteStore` or `PostgresStore`. */
export type RowStore = MemoryStore & HistoryStore & MessageStore & OutboxStore & GraphStore;

/** Options of {@link LangChainVectorStoreAdapter}. */
export interface LangChainVectorStoreAdapterOptions {
  /** The LangChain vector store that holds and searches the memories' vectors. */
  vectorStore: VectorStore;
  /** Where rows, history, messages, graph and the outbox stay (and the keyword index). */
  store: RowStore;
  /**
   * Turns a scope and a metadata filter into `vectorStore`'s filter; throw an
   * `UnsupportedFilterError` for what it cannot express. Needed for vector stores other than
   * LangChain's in-memory store and `PGVectorStore`, whose filters are built in.
   */
  filter?: FilterTranslator;
  /**
   * How many vector store hits to ask for per result wanted, so results that fail the check
   * against the rows (a stale vector) still leave `topK`. Default 2.
   */
  overfetch?: number;
}

/** Built-in filter translators, by `VectorStore._vectorstoreType()`. */
const BUILT_IN_FILTERS: Record<string, FilterTranslator> = {
  memory: memoryVectorStoreFilter,
  pgvector: pgVectorStoreFilter,
};

/**
 * Any LangChain `VectorStore` (Qdrant, Pinecone, Chroma, Redis, PGVector, in-memory, ...) as the
 * vector part of `Memory`: vectors are written to it after each committed write and searched
 * there, with the scope and metadata filter translated into its own filter (refused with
 * `UnsupportedFilterError` where it cannot be expressed). Rows, history, messages, graph, the
 * outbox and the keyword index stay in `store`, which also stays the authority: every hit is
 * checked against its row (it must exist, be visible from the scope and pass the filter) and
 * scored by exact cosine, so a vector store that ignored part of a filter can lose results but
 * never return another scope's memories.
 *
 * The vector store is written after `store` commits: a crash in between leaves a memory without
 * its vector until it is written again (`reindex`).
 */
export class LangChainVectorStoreAdapter
  extends GraphDelegate
  implements MemoryStore, HistoryStore, MessageStore, OutboxStore, GraphStore
{
  readonly vectorStore: VectorStore;
  readonly store: RowStore;
  private readonly translate: FilterTranslator;
  private readonly overfetch: number;

  constructor(options: LangChainVectorStoreAdapterOptions) {
    super();
    if (typeof options?.vectorStore?.similaritySearchVectorWithScore !== "function") {
      throw new Mem0ConfigError(
        "LangChainVectorStoreAdapter needs `vectorStore`: a LangChain VectorStore instance.",
      );
    }
    if (typeof options.store?.apply !== "function") {
      throw new Mem0ConfigError(
        "LangChainVectorStoreAdapter needs `store` for rows, history and graph: " +
          "a SqliteStore or a PostgresStore.",
      );
    }
    this.vectorStore = options.vectorStore;
    this.store = options.store;
    const type = this.vectorStore._vectorstoreType();
    const translate = options.filter ?? BUILT_IN_FILTERS[type];
    if (!translate) {
      throw new Mem0ConfigError(
        `LangChainVectorStoreAdapter does not know how to filter a "${type}" vector store by ` +
          "user, agent and run: pass `filter: (scope, metadataFilter) => <its filter>`, which " +
          "must restrict results to the scope (and throw UnsupportedFilterError for what it " +
          "cannot express).",
      );
    }
    this.translate = translate;
    this.overfetch = options.overfetch ?? 2;
  }

  protected get graphPart(): RowStore {
    return this.store;
  }

  // ---------------------------------------------------------------- vectors

  async vectorSearch(
    vector: number[],
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]> {
    const queryScope = requireScope(scope);
    checkTopK(options.topK);
    if (options.filters !== undefined) validateFilter(options.filters);
    if (options.topK === 0) return [];
    const filter = this.translate(queryScope, options.filters);
    const hits = await this.vectorStore.similaritySearchVectorWithScore(
      vector,
      options.topK * this.overfetch,
      filter as VectorStore["FilterType"],
    );
    const ids = [
      ...new Set(
        hits
          .map(([document]) => document.metadata?.[DOCUMENT_KEYS.id])
          .filter((id): id is string => typeof id === "string"),
      ),
    ];
    // The rows decide: a vector whose memory is gone, moved or filtered out is dropped.
    const rows = (await Promise.all(ids.map((id) => this.store.get(id)))).filter(
      (row): row is StoredMemory =>
        row !== undefined &&
        scopeContains(queryScope, row) &&
        (options.filters === undefined || matchesFilter(row.metadata, options.filters)),
    );
    const scores = await this.store.similarities(
      vector,
      rows.map((row) => row.id),
    );
    return rows
      .map((memory) => ({ memory, score: scores.get(memory.id) ?? 0 }))
      .sort((a, b) => b.score - a.score)
      .slice(0, options.topK);
  }

  async apply(changes: MemoryChange[], options: ApplyOptions = {}): Promise<AppliedChange[]> {
    const results = await this.store.apply(changes, options);
    const removed: string[] = [];
    const added: StoredMemory[] = [];
    for (const { change, applied } of results) {
      if (!applied) continue;
      if (change.type === "insert") added.push(change.memory);
      else {
        removed.push(change.id);
        if (change.type === "update") {
          const row = await this.store.get(change.id);
          if (row) added.push(row);
        }
      }
    }
    await this.removeVectors(removed);
    await this.addVectors(added);
    return results;
  }

  /** Writes the vectors of these memories to the vector store again (after a crash). */
  async reindex(scope: MemoryScope): Promise<number> {
    const rows = await this.allRows(requireScope(scope));
    await this.removeVectors(rows.map((row) => row.id));
    await this.addVectors(rows);
    return rows.length;
  }

  private async addVectors(memories: StoredMemory[]): Promise<void> {
    if (memories.length === 0) return;
    const vectors = await this.store.embeddings(memories.map((memory) => memory.id));
    const present = memories.filter((memory) => vectors.has(memory.id));
    await this.vectorStore.addVectors(
      present.map((memory) => vectors.get(memory.id)!),
      present.map(
        (memory) =>
          new Document({
            pageContent: memory.text,
            id: memory.id,
            metadata: {
              ...memory.metadata,
              [DOCUMENT_KEYS.id]: memory.id,
              ...(memory.userId !== undefined ? { [DOCUMENT_KEYS.userId]: memory.userId } : {}),
              ...(memory.agentId !== undefined ? { [DOCUMENT_KEYS.agentId]: memory.agentId } : {}),
              ...(memory.runId !== undefined ? { [DOCUMENT_KEYS.runId]: memory.runId } : {}),
              [DOCUMENT_KEYS.source]: DOCUMENT_SOURCE,
            },
          }),
      ),
      { ids: present.map((memory) => memory.id) },
    );
  }

  private async removeVectors(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const memoryStore = this.vectorStore as VectorStore & {
      memoryVectors?: { metadata: Record<string, unknown> }[];
    };
    if (
      this.vectorStore._vectorstoreType() === "memory" &&
      Array.isArray(memoryStore.memoryVectors)
    ) {
      // LangChain's in-memory store has no delete: drop the entries themselves.
      const gone = new Set(ids);
      memoryStore.memoryVectors = memoryStore.memoryVectors.filter(
        (entry) => !gone.has(entry.metadata[DOCUMENT_KEYS.id] as string),
      );
      return;
    }
    await this.vectorStore.delete({ ids });
  }

  private async allRows(scope: MemoryScope): Promise<StoredMemory[]> {
    const rows: StoredMemory[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.list(scope, { limit: 500, cursor });
      rows.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return rows;
  }

  async deleteScope(scope: MemoryScope): Promise<number> {
    const target = requireScope(scope);
    const ids = (await this.allRows(target)).map((row) => row.id);
    const removed = await this.store.deleteScope(target);
    await this.removeVectors(ids);
    return removed;
  }

  async reset(): Promise<void> {
    await this.store.reset();
    const memoryStore = this.vectorStore as VectorStore & { memoryVectors?: unknown[] };
    if (
      this.vectorStore._vectorstoreType() === "memory" &&
      Array.isArray(memoryStore.memoryVectors)
    ) {
      memoryStore.memoryVectors = [];
    } else {
      // Only this package's documents (vector stores may hold others).
      await this.vectorStore.delete({ filter: { [DOCUMENT_KEYS.source]: DOCUMENT_SOURCE } });
    }
  }

  // ---------------------------------------------------------------- the rest stays in `store`

  ensureEmbedder(model: string, dimensions: number): Promise<void> {
    return this.store.ensureEmbedder(model, dimensions);
  }

  keywordSearch(
    query: string,
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]> {
    return this.store.keywordSearch(query, scope, options);
  }

  /** Insertion order is the row store's, which keeps every row. */
  async neighbors(ids: string[], scope: MemoryScope): Promise<Map<string, string[]>> {
    return this.store.neighbors ? this.store.neighbors(ids, scope) : new Map();
  }

  similarities(vector: number[], ids: string[]): Promise<Map<string, number>> {
    return this.store.similarities(vector, ids);
  }

  embeddings(ids: string[]): Promise<Map<string, number[]>> {
    return this.store.embeddings(ids);
  }

  get(id: string): Promise<StoredMemory | undefined> {
    return this.store.get(id);
  }

  list(scope: MemoryScope, options?: ListOptions): Promise<ListPage> {
    return this.store.list(scope, options);
  }

  version(scope: MemoryScope): Promise<string> {
    return this.store.version(scope);
  }

  close(): Promise<void> {
    return this.store.close();
  }

  history(memoryId: string): Promise<HistoryEntry[]> {
    return this.store.history(memoryId);
  }

  appendMessages(scope: MemoryScope, messages: StoredMessage[]): Promise<void> {
    return this.store.appendMessages(scope, messages);
  }

  recentMessages(scope: MemoryScope, limit: number): Promise<StoredMessage[]> {
    return this.store.recentMessages(scope, limit);
  }

  putOutbox(entry: Pick<OutboxEntry, "id" | "owner" | "payload" | "createdAt">): Promise<void> {
    return this.store.putOutbox(entry);
  }

  getOutbox(id: string): Promise<OutboxEntry | undefined> {
    return this.store.getOutbox(id);
  }

  listOutbox(scope?: MemoryScope): Promise<OutboxEntry[]> {
    return this.store.listOutbox(scope);
  }

  claimOutbox(id: string, holder: string, until: string): Promise<boolean> {
    return this.store.claimOutbox(id, holder, until);
  }

  failOutbox(id: string, error: string): Promise<void> {
    return this.store.failOutbox(id, error);
  }
}

import { createHash, randomUUID } from "node:crypto";
import type { Embeddings } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessageLike } from "@langchain/core/messages";
import { Mem0ConfigError, Mem0InputError } from "../errors.js";
import { KeyedLock } from "../keyed_lock.js";
import { toBaseMessages, toConversation, type ConversationMessage } from "../messages.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type {
  GraphChange,
  GraphStore,
  HistoryEntry,
  HistoryStore,
  ListOptions,
  MemoryChange,
  MemoryStore,
  MessageStore,
  ScoredMemory,
  StoredMemory,
} from "../stores/base.js";
import { validateFilter, type MetadataFilter } from "../stores/filters.js";
import { SqliteStore } from "../stores/sqlite.js";
import type {
  AddOptions,
  AddResult,
  MemoryBackend,
  MemoryEvent,
  MemoryItem,
  MemoryMetadata,
  SearchOptions,
  SearchResult,
} from "./base.js";
import { resolveMemoryConfig, type MemoryConfig } from "./config.js";
import { MemoryExtractor } from "./extraction.js";
import { GraphMemory, type GraphOptions } from "./graph.js";

/** Everything the engine needs from storage; `SqliteStore` provides all of it. */
export type MemoryStorage = MemoryStore & HistoryStore & MessageStore;

export interface MemoryOptions {
  /** Chat model that extracts facts (needed for `add` with `infer: true`). */
  llm?: BaseChatModel;
  /** Embedding model for memories and queries. */
  embeddings: Embeddings;
  /** Storage; default: the embedded SQLite store at `path`. */
  store?: MemoryStorage;
  /** File of the default SQLite store (default `./.langchain-mem0/memory.db`). */
  path?: string;
  /** Extra extraction rules appended to the default prompt. */
  customInstructions?: string;
  /** Replaces the default extraction system prompt entirely. */
  extractionPrompt?: string;
  /** Existing memories offered to the LLM for update/delete per `add` (default 10). */
  similarMemories?: number;
  /** Earlier messages of the scope shown to the LLM as context (default 6). */
  contextMessages?: number;
  /** Graph memory: entities and relations from the same LLM call (`true` or options). */
  graph?: boolean | GraphOptions;
  /**
   * Weight of keyword (BM25, normalised to [0, 1]) relevance added to cosine similarity in
   * search (default `DEFAULT_KEYWORD_WEIGHT`; 0 disables keyword fusion).
   */
  keywordWeight?: number;
}

export type GetAllOptions = ListOptions;

/**
 * Default keyword weight. On LoCoMo with a word-based embedder, 0.5 to 1.5 score alike (1 is
 * marginally best); 0.5 keeps semantic similarity in charge with real embedding models.
 */
export const DEFAULT_KEYWORD_WEIGHT = 0.5;

export interface GetAllResult {
  results: MemoryItem[];
  nextCursor?: string;
}

/** Normalised text hash: the same fact written with other spacing or case is a duplicate. */
function factHash(text: string): string {
  return createHash("md5").update(text.trim().replace(/\s+/g, " ").toLowerCase()).digest("hex");
}

function toItem(memory: StoredMemory, score?: number): MemoryItem {
  const item: MemoryItem = {
    id: memory.id,
    memory: memory.text,
    metadata: memory.metadata,
    createdAt: memory.createdAt,
    updatedAt: memory.updatedAt,
  };
  if (score !== undefined) item.score = score;
  if (memory.userId !== undefined) item.userId = memory.userId;
  if (memory.agentId !== undefined) item.agentId = memory.agentId;
  if (memory.runId !== undefined) item.runId = memory.runId;
  return item;
}

function toDate(value: Date | string | number | undefined, field: string): Date {
  if (value === undefined) return new Date();
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new Mem0InputError(`${field} ${JSON.stringify(value)} is not a valid date.`);
  }
  return date;
}

function embedderName(embeddings: Embeddings): string {
  const named = embeddings as unknown as { model?: unknown; modelName?: unknown };
  const model = typeof named.model === "string" ? named.model : named.modelName;
  return `${embeddings.constructor.name}:${typeof model === "string" ? model : "default"}`;
}

/**
 * The local memory engine: Mem0's algorithm on LangChain abstractions. One `add` costs one
 * LLM call and at most two embedding requests, whatever the number of facts; every change is
 * applied in one transaction and logged in the history.
 */
export class Memory implements MemoryBackend {
  readonly store: MemoryStorage;
  /** Graph memory API (`getAll`, `entities`, `delete`); absent unless `graph` is on. */
  readonly graph?: GraphMemory;
  private readonly embeddings: Embeddings;
  private readonly extractor?: MemoryExtractor;
  private readonly similarMemories: number;
  private readonly contextMessages: number;
  private readonly keywordWeight: number;
  private readonly locks = new KeyedLock();
  private embedderChecked?: Promise<void>;

  constructor(options: MemoryOptions) {
    if (!options?.embeddings || typeof options.embeddings.embedQuery !== "function") {
      throw new Mem0ConfigError(
        "Memory needs `embeddings`: a LangChain Embeddings instance such as new OpenAIEmbeddings().",
      );
    }
    this.embeddings = options.embeddings;
    this.store = options.store ?? new SqliteStore({ path: options.path });
    if (options.graph) {
      const store = this.store as Partial<GraphStore>;
      if (typeof store.neighborhood !== "function") {
        throw new Mem0ConfigError(
          "graph: true needs a store with graph support (the default SqliteStore has it).",
        );
      }
      this.graph = new GraphMemory(
        this.store as MemoryStorage & GraphStore,
        options.graph === true ? {} : options.graph,
      );
    }
    this.extractor = options.llm
      ? new MemoryExtractor({
          llm: options.llm,
          customInstructions: options.customInstructions,
          prompt: options.extractionPrompt,
          graph: this.graph !== undefined,
        })
      : undefined;
    this.similarMemories = options.similarMemories ?? 10;
    this.contextMessages = options.contextMessages ?? 6;
    this.keywordWeight = options.keywordWeight ?? DEFAULT_KEYWORD_WEIGHT;
  }

  /**
   * Builds an engine from a Mem0-style dictionary config (`llm`, `embedder`, `vector_store`,
   * `history_db_path`, ...), mapped to LangChain classes; see {@link MemoryConfig}.
   */
  static async fromConfig(config: MemoryConfig): Promise<Memory> {
    return new Memory(await resolveMemoryConfig(config));
  }

  /** Checks once that the store was built with this embedder and dimension. */
  private async checkEmbedder(vector: number[]): Promise<void> {
    this.embedderChecked ??= this.store.ensureEmbedder(
      embedderName(this.embeddings),
      vector.length,
    );
    try {
      await this.embedderChecked;
    } catch (error) {
      this.embedderChecked = undefined;
      throw error;
    }
  }

  /** Embeds memory texts in one request. */
  private async embedDocuments(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return [];
    const vectors = await this.embeddings.embedDocuments(texts);
    await this.checkEmbedder(vectors[0]);
    return vectors;
  }

  /** Embeds a search query (asymmetric embedders treat queries differently from documents). */
  private async embedQuery(text: string): Promise<number[]> {
    const vector = await this.embeddings.embedQuery(text);
    await this.checkEmbedder(vector);
    return vector;
  }

  async add(
    messages: BaseMessageLike[],
    scope: MemoryScope,
    options: AddOptions = {},
  ): Promise<AddResult> {
    const owner = requireScope(scope);
    const conversation = toConversation(toBaseMessages(messages)).filter(
      (m) => m.role !== "system",
    );
    if (conversation.length === 0) return { results: [] };
    const now = toDate(options.timestamp, "timestamp");
    const infer = options.infer ?? true;
    if (infer && !this.extractor) {
      throw new Mem0ConfigError(
        "Memory.add with infer: true needs an `llm` (a chat model) in the Memory options; " +
          "pass one, or call add(..., { infer: false }) to store messages verbatim.",
      );
    }
    return this.locks.run(scopeKey(owner), async () => {
      const result = infer
        ? await this.addInferred(conversation, owner, now, options)
        : await this.addVerbatim(conversation, owner, now, options);
      await this.store.appendMessages(
        owner,
        conversation.map((message) => ({ ...message, createdAt: now.toISOString() })),
      );
      return result;
    });
  }

  private newMemory(
    text: string,
    owner: MemoryScope,
    now: Date,
    metadata: MemoryMetadata,
  ): StoredMemory {
    const timestamp = now.toISOString();
    return {
      id: randomUUID(),
      text,
      hash: factHash(text),
      metadata,
      ...owner,
      createdAt: timestamp,
      updatedAt: timestamp,
    };
  }

  private async addVerbatim(
    conversation: ConversationMessage[],
    owner: MemoryScope,
    now: Date,
    options: AddOptions,
  ): Promise<AddResult> {
    const vectors = await this.embedDocuments(conversation.map((message) => message.content));
    const changes: MemoryChange[] = conversation.map((message, i) => ({
      type: "insert",
      memory: this.newMemory(message.content, owner, now, {
        ...options.metadata,
        role: message.role,
      }),
      embedding: vectors[i],
      actor: message.role,
    }));
    return this.applyChanges(changes);
  }

  private async addInferred(
    conversation: ConversationMessage[],
    owner: MemoryScope,
    now: Date,
    options: AddOptions,
  ): Promise<AddResult> {
    const transcript = conversation
      .map((message) => `${message.role}: ${message.content}`)
      .join("\n");
    const queryVector = await this.embedQuery(transcript);
    const [similar, context, offeredRelations] = await Promise.all([
      this.rank(queryVector, transcript, owner, { topK: this.similarMemories }),
      this.store.recentMessages(owner, this.contextMessages),
      this.graph?.context(owner, transcript, queryVector),
    ]);
    // Short integer ids for the LLM; real ids never leave the engine.
    const offered = similar.map(({ memory }, index) => ({ id: index, text: memory.text, memory }));
    const operations = await this.extractor!.extract(
      {
        conversation,
        context: context.map(({ role, content }) => ({ role, content }) as ConversationMessage),
        existing: offered.map(({ id, text }) => ({ id, text })),
        relations: offeredRelations?.map(({ id, text }) => ({ id, text })),
        now,
      },
      { signal: options.signal, callbacks: options.callbacks },
    );
    const byId = new Map(offered.map((entry) => [entry.id, entry.memory]));
    const deleted = new Set(operations.delete.map(({ id }) => id).filter((id) => byId.has(id)));
    const updates = operations.update.filter(
      ({ id, text }) => byId.has(id) && !deleted.has(id) && text.trim().length > 0,
    );
    const additions = [...new Set(operations.add.map((text) => text.trim()).filter(Boolean))];
    const graphPlan = await this.graph?.plan(operations, owner);
    // One embedding request for new facts, changed facts and new entity names alike.
    const texts = [
      ...additions,
      ...updates.map(({ text }) => text.trim()),
      ...(graphPlan?.unresolved ?? []),
    ];
    const vectors = await this.embedDocuments(texts);
    const graphChanges =
      this.graph && graphPlan
        ? await this.graph.changes(
            operations,
            graphPlan,
            vectors.slice(additions.length + updates.length),
            offeredRelations ?? [],
            owner,
            now.toISOString(),
            conversation.findLast((message) => message.role === "user")?.content ?? transcript,
          )
        : [];
    const actor = conversation.at(-1)?.role ?? "user";
    const metadata = { ...options.metadata };
    const changes: MemoryChange[] = [
      ...additions.map((text, i): MemoryChange => ({
        type: "insert",
        memory: this.newMemory(text, owner, now, metadata),
        embedding: vectors[i],
        actor,
      })),
      ...updates.map(({ id, text }, i): MemoryChange => {
        const existing = byId.get(id)!;
        return {
          type: "update",
          id: existing.id,
          text: text.trim(),
          hash: factHash(text),
          metadata: { ...existing.metadata, ...metadata },
          embedding: vectors[additions.length + i],
          updatedAt: now.toISOString(),
          actor,
        };
      }),
      ...[...deleted].map((id): MemoryChange => ({ type: "delete", id: byId.get(id)!.id, actor })),
    ];
    return this.applyChanges(changes, graphChanges);
  }

  private async applyChanges(
    changes: MemoryChange[],
    graphChanges: GraphChange[] = [],
  ): Promise<AddResult> {
    if (changes.length === 0 && graphChanges.length === 0) return { results: [] };
    const applied = await this.store.apply(changes, graphChanges.length ? graphChanges : undefined);
    const results: MemoryEvent[] = [];
    for (const { change, applied: ok, previous } of applied) {
      if (!ok) continue;
      if (change.type === "insert") {
        results.push({ id: change.memory.id, memory: change.memory.text, event: "ADD" });
      } else if (change.type === "update") {
        results.push({
          id: change.id,
          memory: change.text,
          event: "UPDATE",
          previousMemory: previous,
        });
      } else {
        results.push({
          id: change.id,
          memory: previous ?? "",
          event: "DELETE",
          previousMemory: previous,
        });
      }
    }
    return { results };
  }

  /**
   * Hybrid ranking inside the scope: exact cosine similarity plus `keywordWeight` × BM25
   * relevance normalised to [0, 1], both filtered before ranking.
   */
  private async rank(
    vector: number[],
    query: string,
    scope: MemoryScope,
    options: { topK: number; filters?: MetadataFilter; threshold?: number },
  ): Promise<ScoredMemory[]> {
    const candidates = Math.max(options.topK * 4, 40);
    const [semantic, keyword] = await Promise.all([
      this.store.vectorSearch(vector, scope, { topK: candidates, filters: options.filters }),
      this.keywordWeight > 0
        ? this.store.keywordSearch(query, scope, { topK: candidates, filters: options.filters })
        : Promise.resolve([]),
    ]);
    const scored = new Map(semantic.map(({ memory, score }) => [memory.id, { memory, score }]));
    const missing = keyword
      .filter(({ memory }) => !scored.has(memory.id))
      .map(({ memory }) => memory.id);
    const similarities = missing.length
      ? await this.store.similarities(vector, missing)
      : new Map();
    const maxKeyword = Math.max(0, ...keyword.map(({ score }) => score));
    for (const { memory, score } of keyword) {
      const entry = scored.get(memory.id) ?? { memory, score: similarities.get(memory.id) ?? 0 };
      entry.score += this.keywordWeight * (maxKeyword > 0 ? score / maxKeyword : 0);
      scored.set(memory.id, entry);
    }
    return [...scored.values()]
      .filter(({ score }) => options.threshold === undefined || score >= options.threshold)
      .sort((a, b) => b.score - a.score)
      .slice(0, options.topK);
  }

  async search(
    query: string,
    scope: MemoryScope,
    options: SearchOptions = {},
  ): Promise<SearchResult> {
    const owner = requireScope(scope);
    if (typeof query !== "string" || query.trim() === "") {
      throw new Mem0InputError("search needs a non-empty query string.");
    }
    if (options.filters !== undefined) validateFilter(options.filters);
    const topK = options.topK ?? 10;
    if (!Number.isInteger(topK) || topK < 1) {
      throw new Mem0InputError(`topK must be a positive integer, got ${topK}.`);
    }
    const vector = await this.embedQuery(query);
    options.signal?.throwIfAborted();
    const [ranked, relations] = await Promise.all([
      this.rank(vector, query, owner, { ...options, topK }),
      this.graph?.search(owner, query, vector, {
        asOf: options.asOf === undefined ? undefined : toDate(options.asOf, "asOf").toISOString(),
        includeInvalid: options.includeInvalid,
      }),
    ]);
    const results = ranked.map(({ memory, score }) => toItem(memory, score));
    return relations ? { results, relations } : { results };
  }

  async get(id: string): Promise<MemoryItem | null> {
    const memory = await this.store.get(id);
    return memory ? toItem(memory) : null;
  }

  async getAll(scope: MemoryScope, options: GetAllOptions = {}): Promise<GetAllResult> {
    if (options.filters !== undefined) validateFilter(options.filters);
    const page = await this.store.list(requireScope(scope), options);
    return { results: page.items.map((memory) => toItem(memory)), nextCursor: page.nextCursor };
  }

  private async requireMemory(id: string): Promise<StoredMemory> {
    const memory = await this.store.get(id);
    if (!memory) throw new Mem0InputError(`No memory with id "${id}".`);
    return memory;
  }

  /** Replaces a memory's text (and optionally its metadata); the old text stays in history. */
  async update(
    id: string,
    change: string | { text: string; metadata?: MemoryMetadata },
  ): Promise<MemoryItem> {
    const { text, metadata } =
      typeof change === "string" ? { text: change, metadata: undefined } : change;
    if (typeof text !== "string" || text.trim() === "") {
      throw new Mem0InputError("update needs a non-empty text.");
    }
    const memory = await this.requireMemory(id);
    return this.locks.run(scopeKey(memory), async () => {
      const [embedding] = await this.embedDocuments([text.trim()]);
      const [result] = await this.store.apply([
        {
          type: "update",
          id,
          text: text.trim(),
          hash: factHash(text),
          metadata: metadata ?? memory.metadata,
          embedding,
          updatedAt: new Date().toISOString(),
          actor: "api",
        },
      ]);
      if (!result.applied) {
        throw new Mem0InputError(
          `Memory "${id}" could not be updated: it was deleted or the same text already exists.`,
        );
      }
      return toItem((await this.store.get(id))!);
    });
  }

  async delete(id: string): Promise<void> {
    const memory = await this.requireMemory(id);
    await this.locks.run(scopeKey(memory), () =>
      this.store.apply([{ type: "delete", id, actor: "api" }]),
    );
  }

  /** Forgets everything of the scope: memories, vectors, history and messages. */
  async deleteAll(scope: MemoryScope): Promise<{ deleted: number }> {
    const owner = requireScope(scope);
    return { deleted: await this.locks.run(scopeKey(owner), () => this.store.deleteScope(owner)) };
  }

  async history(memoryId: string): Promise<HistoryEntry[]> {
    return this.store.history(memoryId);
  }

  async reset(): Promise<void> {
    this.embedderChecked = undefined;
    await this.store.reset();
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

import { createHash, randomUUID } from "node:crypto";
import type { Callbacks } from "@langchain/core/callbacks/manager";
import { Document } from "@langchain/core/documents";
import type { Embeddings } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessageLike } from "@langchain/core/messages";
import type { BaseDocumentCompressor } from "@langchain/core/retrievers/document_compressors";
import { z } from "zod";
import { Mem0ClosedError, Mem0ConfigError, Mem0InputError } from "../errors.js";
import { KeyedLock } from "../keyed_lock.js";
import { consoleLogger, type Mem0Logger } from "../logger.js";
import { toBaseMessages, toConversation, type ConversationMessage } from "../messages.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type {
  GraphChange,
  GraphStore,
  HistoryEntry,
  HistoryStore,
  MemoryChange,
  MemoryStore,
  MessageStore,
  ScoredMemory,
  StoredMemory,
} from "../stores/base.js";
import type { MetadataFilter } from "../stores/filters.js";
import { SqliteStore } from "../stores/sqlite.js";
import type {
  AddMemoryOptions,
  AddResult,
  MemoryBackend,
  MemoryEvent,
  MemoryEventType,
  MemoryItem,
  MemoryMetadata,
  ScoreDetails,
  SearchFilters,
  SearchMemoryOptions,
  SearchResult,
} from "./base.js";
import { resolveMemoryConfig, type MemoryConfig } from "./config.js";
import { MemoryExtractor } from "./extraction.js";
import { GraphMemory, type GraphOptions } from "./graph.js";
import {
  addOptionsSchema,
  deleteAllOptionsSchema,
  getAllOptionsSchema,
  parseOptions,
  resolveScope,
  searchOptionsSchema,
  updateOptionsSchema,
} from "./options.js";

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
   * Weight of keyword (BM25) relevance next to cosine similarity in search (default
   * `DEFAULT_KEYWORD_WEIGHT`; 0 disables keyword fusion). See {@link Memory.search}.
   */
  keywordWeight?: number;
  /** Reorders results of `search(..., { rerank: true })`: any LangChain document compressor. */
  reranker?: BaseDocumentCompressor;
  /** Where warnings go (default `console.warn`). */
  logger?: Mem0Logger;
}

/** Options of `getAll`: mem0ai's, plus a cursor to page on. */
export interface GetAllMemoryOptions extends MemoryScope {
  /** Memories per page (default 20, as mem0ai). */
  topK?: number;
  /** Owner ids and metadata conditions. */
  filters?: SearchFilters;
  /** Also list memories whose `expirationDate` has passed (default false). */
  showExpired?: boolean;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** Options of `update`, as mem0ai takes them. */
export interface UpdateMemoryOptions {
  /** The new text (embedded again; the old text stays in the history). */
  text?: string;
  /** Metadata merged over the memory's metadata. */
  metadata?: MemoryMetadata;
  /** Day (YYYY-MM-DD) after which the memory is treated as expired; `null` clears it. */
  expirationDate?: string | Date | null;
}

/** Options of `deleteAll`: the owner whose memories are forgotten. */
export type DeleteAllMemoryOptions = MemoryScope;

/** One entry of a memory's change log, with mem0ai's field names. */
export interface MemoryHistoryEntry {
  id: string;
  memory_id: string;
  previous_value: string | null;
  new_value: string | null;
  action: HistoryEntry["event"];
  created_at: string;
  updated_at: string;
  is_deleted: 0 | 1;
  /** Who caused the change: a message role ("user", "assistant") or "api". */
  actor: string | null;
}

/**
 * Default keyword weight. On LoCoMo with a word-based embedder, 0.5 to 1.5 score alike (1 is
 * marginally best); 0.5 keeps semantic similarity in charge with real embedding models.
 */
export const DEFAULT_KEYWORD_WEIGHT = 0.5;

export interface GetAllResult {
  results: MemoryItem[];
  /** Present when more memories follow: pass it as `cursor`. */
  nextCursor?: string;
}

/** One `add` after validation. */
interface AddRequest {
  owner: MemoryScope;
  now: Date;
  metadata: MemoryMetadata;
  signal?: AbortSignal;
  callbacks?: Callbacks;
}

function memoryEvent(
  id: string,
  memory: string,
  event: MemoryEventType,
  previousMemory?: string,
): MemoryEvent {
  return previousMemory === undefined
    ? { id, memory, event, metadata: { event } }
    : { id, memory, event, previousMemory, metadata: { event, previousMemory } };
}

function checkMemoryId(memoryId: unknown): asserts memoryId is string {
  if (typeof memoryId !== "string" || memoryId.trim() === "") {
    throw new Mem0InputError(
      `A memory id must be a non-empty string, got ${memoryId === "" ? '""' : typeof memoryId}.`,
    );
  }
}

/** Metadata keys that hold the owner or the expiry; they are set through their own options. */
const RESERVED_METADATA_KEYS = ["user_id", "agent_id", "run_id", "expiration_date"];

const chatModel = z.custom<BaseChatModel>(
  (value) => typeof (value as BaseChatModel | undefined)?.withStructuredOutput === "function",
  "must be a LangChain chat model with withStructuredOutput, such as new ChatOpenAI()",
);
const memoryOptionsSchema = z
  .object({
    llm: chatModel.optional(),
    embeddings: z.custom<Embeddings>(
      (value) =>
        typeof (value as Embeddings | undefined)?.embedQuery === "function" &&
        typeof (value as Embeddings).embedDocuments === "function",
      "must be a LangChain Embeddings instance, such as new OpenAIEmbeddings()",
    ),
    store: z
      .custom<MemoryStorage>(
        (value) => typeof (value as MemoryStorage | undefined)?.vectorSearch === "function",
        "must be a memory store, such as new SqliteStore({ path })",
      )
      .optional(),
    path: z.string().min(1, "must be a file path").optional(),
    customInstructions: z.string().optional(),
    extractionPrompt: z.string().min(1, "must not be empty").optional(),
    similarMemories: z.number().int().min(0).max(100).optional(),
    contextMessages: z.number().int().min(0).max(100).optional(),
    graph: z
      .union([
        z.boolean(),
        z
          .object({
            entityThreshold: z.number().min(0).max(1).optional(),
            queryEntityThreshold: z.number().min(0).max(1).optional(),
            hops: z.number().int().min(0).max(5).optional(),
            topK: z.number().int().positive().optional(),
          })
          .strict(),
      ])
      .optional(),
    keywordWeight: z.number().min(0).max(10).optional(),
    reranker: z
      .custom<BaseDocumentCompressor>(
        (value) =>
          typeof (value as BaseDocumentCompressor | undefined)?.compressDocuments === "function",
        "must be a LangChain document compressor (BaseDocumentCompressor), e.g. new CohereRerank()",
      )
      .optional(),
    logger: z
      .custom<Mem0Logger>(
        (value) => typeof (value as Mem0Logger | undefined)?.warn === "function",
        "must have a warn(message) method",
      )
      .optional(),
  })
  .strict();

/** Normalised text hash: the same fact written with other spacing or case is a duplicate. */
function factHash(text: string): string {
  return createHash("md5").update(text.trim().replace(/\s+/g, " ").toLowerCase()).digest("hex");
}

function toItem(memory: StoredMemory, score?: number): MemoryItem {
  const item: MemoryItem = {
    id: memory.id,
    memory: memory.text,
    hash: memory.hash,
    metadata: memory.metadata,
    createdAt: memory.createdAt,
    updatedAt: memory.updatedAt,
  };
  if (score !== undefined) item.score = score;
  if (memory.userId !== undefined) item.user_id = memory.userId;
  if (memory.agentId !== undefined) item.agent_id = memory.agentId;
  if (memory.runId !== undefined) item.run_id = memory.runId;
  return item;
}

function toHistoryEntry(entry: HistoryEntry): MemoryHistoryEntry {
  return {
    id: entry.id,
    memory_id: entry.memoryId,
    previous_value: entry.previous,
    new_value: entry.next,
    action: entry.event,
    created_at: entry.createdAt,
    updated_at: entry.createdAt,
    is_deleted: entry.event === "DELETE" ? 1 : 0,
    actor: entry.actor,
  };
}

function toDate(value: Date | string | number | null | undefined, field: string): Date {
  if (value === undefined || value === null) return new Date();
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new Mem0InputError(`${field} ${JSON.stringify(value)} is not a valid date.`);
  }
  return date;
}

/** Today as YYYY-MM-DD in UTC: a memory expires after its `expiration_date` day. */
function today(): string {
  return new Date().toISOString().slice(0, 10);
}

function isExpired(metadata: MemoryMetadata, day = today()): boolean {
  const expiry = metadata.expiration_date;
  return typeof expiry === "string" && expiry < day;
}

/** The metadata filter that hides expired memories, combined with the caller's. */
function unexpired(filter: MetadataFilter | undefined): MetadataFilter {
  const notExpired: MetadataFilter = { NOT: { expiration_date: { lt: today() } } };
  return filter ? { AND: [filter, notExpired] } : notExpired;
}

function checkMetadata(metadata: MemoryMetadata | undefined, what: string): void {
  for (const key of RESERVED_METADATA_KEYS) {
    if (metadata && Object.hasOwn(metadata, key)) {
      const option = key === "expiration_date" ? "expirationDate" : scopeOptionName(key);
      throw new Mem0InputError(
        `${what}.metadata.${key} is reserved; pass it as ${option} instead.`,
      );
    }
  }
  try {
    if (metadata !== undefined) JSON.stringify(metadata);
  } catch (error) {
    throw new Mem0InputError(`${what}.metadata must be JSON-serialisable.`, { cause: error });
  }
}

function scopeOptionName(key: string): string {
  return key.replace(/_(\w)/g, (_, letter: string) => letter.toUpperCase());
}

function embedderName(embeddings: Embeddings): string {
  const named = embeddings as unknown as { model?: unknown; modelName?: unknown };
  const model = typeof named.model === "string" ? named.model : named.modelName;
  return `${embeddings.constructor.name}:${typeof model === "string" ? model : "default"}`;
}

/**
 * The local memory engine: Mem0's algorithm on LangChain abstractions, with mem0ai's call
 * shapes (`add(messages, { userId })`, `search(query, { filters: { user_id } })`, ...). One
 * `add` costs one LLM call and at most two embedding requests, whatever the number of facts;
 * every change is applied in one transaction and logged in the history.
 */
export class Memory implements MemoryBackend {
  readonly store: MemoryStorage;
  private readonly graphMemory?: GraphMemory;
  private readonly embeddings: Embeddings;
  private readonly extractor?: MemoryExtractor;
  private readonly similarMemories: number;
  private readonly contextMessages: number;
  private readonly keywordWeight: number;
  private readonly reranker?: BaseDocumentCompressor;
  private readonly logger: Mem0Logger;
  private readonly locks = new KeyedLock();
  private embedderChecked?: Promise<void>;
  private closed = false;

  constructor(options: MemoryOptions) {
    const parsed = parseOptions(memoryOptionsSchema, options, "Memory options", Mem0ConfigError);
    this.embeddings = parsed.embeddings;
    this.store = parsed.store ?? new SqliteStore({ path: parsed.path });
    if (parsed.graph) {
      const store = this.store as Partial<GraphStore>;
      if (typeof store.neighborhood !== "function") {
        throw new Mem0ConfigError(
          "graph: true needs a store with graph support (the default SqliteStore has it).",
        );
      }
      this.graphMemory = new GraphMemory(
        this.store as MemoryStorage & GraphStore,
        parsed.graph === true ? {} : parsed.graph,
      );
    }
    this.extractor = parsed.llm
      ? new MemoryExtractor({
          llm: parsed.llm,
          customInstructions: parsed.customInstructions,
          prompt: parsed.extractionPrompt,
          graph: this.graphMemory !== undefined,
        })
      : undefined;
    this.similarMemories = parsed.similarMemories ?? 10;
    this.contextMessages = parsed.contextMessages ?? 6;
    this.keywordWeight = parsed.keywordWeight ?? DEFAULT_KEYWORD_WEIGHT;
    this.reranker = parsed.reranker;
    this.logger = parsed.logger ?? consoleLogger;
  }

  /**
   * Builds an engine from a Mem0-style dictionary config (`llm`, `embedder`, `vector_store`,
   * `history_db_path`, ...), mapped to LangChain classes; see {@link MemoryConfig}.
   */
  static async fromConfig(config: MemoryConfig): Promise<Memory> {
    return new Memory(await resolveMemoryConfig(config));
  }

  /** Graph memory API (`getAll`, `entities`, `delete`); throws unless `graph` is on. */
  get graph(): GraphMemory {
    if (!this.graphMemory) {
      throw new Mem0ConfigError(
        "Graph memory is off: create the Memory with { graph: true } to use memory.graph.",
      );
    }
    return this.graphMemory;
  }

  /** Whether graph memory is on. */
  get hasGraph(): boolean {
    return this.graphMemory !== undefined;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new Mem0ClosedError("This Memory is closed; create a new Memory to go on.");
    }
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

  /**
   * Learns from a conversation (mem0ai's `add`): with `infer` (default) one LLM call extracts
   * facts and decides ADD / UPDATE / DELETE against similar memories; with `infer: false` the
   * messages are stored verbatim. Messages: a string, LangChain messages, `{ role, content }`
   * objects or `[role, content]` tuples.
   */
  async add(messages: string | BaseMessageLike[], options: AddMemoryOptions): Promise<AddResult> {
    this.assertOpen();
    const parsed = parseOptions(addOptionsSchema, options, "add options");
    const { scope: owner } = resolveScope(parsed, "add options");
    checkMetadata(parsed.metadata, "add options");
    if (messages === undefined || messages === null) {
      throw new Mem0InputError(
        "add needs messages: a string, or an array of messages such as [{ role: 'user', content: '...' }].",
      );
    }
    if (Array.isArray(messages) && messages.length === 0) {
      throw new Mem0InputError("add needs at least one message; the array is empty.");
    }
    const conversation = toConversation(toBaseMessages(messages)).filter(
      (m) => m.role !== "system",
    );
    if (conversation.length === 0) return { results: [] };
    const now = toDate(parsed.timestamp, "add options.timestamp");
    const infer = parsed.infer ?? true;
    if (infer && !this.extractor) {
      throw new Mem0ConfigError(
        "Memory.add with infer: true needs an `llm` (a chat model) in the Memory options; " +
          "pass one, or call add(messages, { ..., infer: false }) to store messages verbatim.",
      );
    }
    const metadata: MemoryMetadata = { ...parsed.metadata };
    if (parsed.expirationDate) metadata.expiration_date = parsed.expirationDate;
    const request: AddRequest = {
      owner,
      now,
      metadata,
      signal: parsed.signal,
      callbacks: parsed.callbacks as Callbacks | undefined,
    };
    return this.locks.run(scopeKey(owner), async () => {
      const result = infer
        ? await this.addInferred(conversation, request)
        : await this.addVerbatim(conversation, request);
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
    { owner, now, metadata }: AddRequest,
  ): Promise<AddResult> {
    const vectors = await this.embedDocuments(conversation.map((message) => message.content));
    const changes: MemoryChange[] = conversation.map((message, i) => ({
      type: "insert",
      memory: this.newMemory(message.content, owner, now, { ...metadata, role: message.role }),
      embedding: vectors[i],
      actor: message.role,
    }));
    return this.applyChanges(changes);
  }

  private async addInferred(
    conversation: ConversationMessage[],
    { owner, now, metadata, signal, callbacks }: AddRequest,
  ): Promise<AddResult> {
    const transcript = conversation
      .map((message) => `${message.role}: ${message.content}`)
      .join("\n");
    const queryVector = await this.embedQuery(transcript);
    const [similar, context, offeredRelations] = await Promise.all([
      this.rank(queryVector, transcript, owner, { topK: this.similarMemories }),
      this.store.recentMessages(owner, this.contextMessages),
      this.graphMemory?.context(owner, transcript, queryVector),
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
      { signal, callbacks },
    );
    const byId = new Map(offered.map((entry) => [entry.id, entry.memory]));
    const deleted = new Set(operations.delete.map(({ id }) => id).filter((id) => byId.has(id)));
    const updates = operations.update.filter(
      ({ id, text }) => byId.has(id) && !deleted.has(id) && text.trim().length > 0,
    );
    const additions = [...new Set(operations.add.map((text) => text.trim()).filter(Boolean))];
    const graphPlan = await this.graphMemory?.plan(operations, owner);
    // One embedding request for new facts, changed facts and new entity names alike.
    const texts = [
      ...additions,
      ...updates.map(({ text }) => text.trim()),
      ...(graphPlan?.unresolved ?? []),
    ];
    const vectors = await this.embedDocuments(texts);
    const graphChanges =
      this.graphMemory && graphPlan
        ? await this.graphMemory.changes(
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
        results.push(memoryEvent(change.memory.id, change.memory.text, "ADD"));
      } else if (change.type === "update") {
        results.push(memoryEvent(change.id, change.text, "UPDATE", previous));
      } else {
        results.push(memoryEvent(change.id, previous ?? "", "DELETE", previous));
      }
    }
    return { results };
  }

  /**
   * Hybrid ranking inside the scope. A memory's score is
   * `(cosine + keywordWeight × BM25 / best BM25) / (1 + keywordWeight)`, in [0, 1]; like
   * mem0ai, `threshold` applies to the cosine similarity. Expired memories are dropped unless
   * asked for.
   */
  private async rank(
    vector: number[],
    query: string,
    scope: MemoryScope,
    options: { topK: number; filters?: MetadataFilter; threshold?: number; showExpired?: boolean },
  ): Promise<(ScoredMemory & { details: ScoreDetails })[]> {
    const candidates = Math.max(options.topK * 4, 40);
    const [semantic, keyword] = await Promise.all([
      this.store.vectorSearch(vector, scope, { topK: candidates, filters: options.filters }),
      this.keywordWeight > 0
        ? this.store.keywordSearch(query, scope, { topK: candidates, filters: options.filters })
        : Promise.resolve([]),
    ]);
    const scored = new Map(
      semantic.map(({ memory, score }) => [memory.id, { memory, cosine: score, keyword: 0 }]),
    );
    const missing = keyword
      .filter(({ memory }) => !scored.has(memory.id))
      .map(({ memory }) => memory.id);
    const similarities = missing.length
      ? await this.store.similarities(vector, missing)
      : new Map<string, number>();
    const maxKeyword = Math.max(0, ...keyword.map(({ score }) => score));
    for (const { memory, score } of keyword) {
      const entry = scored.get(memory.id) ?? {
        memory,
        cosine: similarities.get(memory.id) ?? 0,
        keyword: 0,
      };
      entry.keyword = maxKeyword > 0 ? score / maxKeyword : 0;
      scored.set(memory.id, entry);
    }
    const day = today();
    const weight = this.keywordWeight;
    return [...scored.values()]
      .filter(({ cosine }) => options.threshold === undefined || cosine >= options.threshold)
      .filter(({ memory }) => options.showExpired || !isExpired(memory.metadata, day))
      .map(({ memory, cosine, keyword: kw }) => {
        const rawScore = Math.max(0, cosine) + weight * kw;
        const score = rawScore / (1 + weight);
        const details: ScoreDetails = {
          semanticScore: cosine,
          bm25Score: kw,
          rawScore,
          maxPossibleScore: 1 + weight,
          finalScore: score,
        };
        if (options.threshold !== undefined) details.threshold = options.threshold;
        return { memory, score, details };
      })
      .sort((a, b) => b.score - a.score)
      .slice(0, options.topK);
  }

  /**
   * Memories relevant to the query inside one owner's scope (mem0ai's `search`), best first,
   * with graph relations when graph memory is on. No LLM call; one embedding request.
   */
  async search(query: string, options: SearchMemoryOptions): Promise<SearchResult> {
    this.assertOpen();
    const parsed = parseOptions(searchOptionsSchema, options, "search options");
    const { scope: owner, filter } = resolveScope(parsed, "search options");
    if (typeof query !== "string" || query.trim() === "") {
      throw new Mem0InputError("search needs a non-empty query string.");
    }
    const topK = parsed.topK ?? 10;
    const asOf = parsed.asOf === undefined ? undefined : toDate(parsed.asOf, "asOf").toISOString();
    const vector = await this.embedQuery(query);
    parsed.signal?.throwIfAborted();
    const rerank = parsed.rerank === true && this.reranker !== undefined;
    const [ranked, relations] = await Promise.all([
      this.rank(vector, query, owner, {
        topK: rerank ? Math.min(Math.max(topK * 3, 30), 100) : topK,
        filters: filter,
        threshold: parsed.threshold,
        showExpired: parsed.showExpired,
      }),
      this.graphMemory?.search(owner, query, vector, {
        asOf,
        includeInvalid: parsed.includeInvalid,
      }),
    ]);
    const items = ranked.map(({ memory, score, details }) =>
      parsed.explain ? { ...toItem(memory, score), score_details: details } : toItem(memory, score),
    );
    const results = rerank ? await this.rerank(query, items, topK) : items;
    return relations ? { results, relations } : { results };
  }

  /**
   * Reorders results with the reranker: it sees the top candidates as `Document`s (memory id
   * in `metadata.id`) and returns them in its order; `metadata.relevanceScore` (Cohere and
   * others) becomes `rerankScore`. A failing reranker leaves the hybrid order, with a warning.
   */
  private async rerank(query: string, items: MemoryItem[], topK: number): Promise<MemoryItem[]> {
    const byId = new Map(items.map((item) => [item.id, item]));
    try {
      const documents = await this.reranker!.compressDocuments(
        items.map((item) => new Document({ pageContent: item.memory, metadata: { id: item.id } })),
        query,
      );
      const reranked: MemoryItem[] = [];
      for (const document of documents) {
        const item = byId.get(document.metadata?.id as string);
        if (!item) continue;
        const relevance = document.metadata?.relevanceScore;
        reranked.push(typeof relevance === "number" ? { ...item, rerankScore: relevance } : item);
      }
      return reranked.slice(0, topK);
    } catch (error) {
      this.logger.warn(
        `reranking failed, returning the hybrid ranking: ${error instanceof Error ? error.message : String(error)}`,
      );
      return items.slice(0, topK);
    }
  }

  /** One memory by id, or `null`. */
  async get(memoryId: string): Promise<MemoryItem | null> {
    this.assertOpen();
    checkMemoryId(memoryId);
    const memory = await this.store.get(memoryId);
    return memory ? toItem(memory) : null;
  }

  /** The owner's memories, oldest first, `topK` per page (mem0ai's `getAll`, plus a cursor). */
  async getAll(options: GetAllMemoryOptions): Promise<GetAllResult> {
    this.assertOpen();
    const parsed = parseOptions(getAllOptionsSchema, options, "getAll options");
    const { scope, filter } = resolveScope(parsed, "getAll options");
    const page = await this.store.list(scope, {
      limit: parsed.topK ?? 20,
      cursor: parsed.cursor,
      filters: parsed.showExpired ? filter : unexpired(filter),
    });
    return {
      results: page.items.map((memory) => toItem(memory)),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  }

  private async requireMemory(memoryId: string): Promise<StoredMemory> {
    checkMemoryId(memoryId);
    const memory = await this.store.get(memoryId);
    if (!memory) throw new Mem0InputError(`No memory with id "${memoryId}".`);
    return memory;
  }

  /**
   * Changes a memory (mem0ai's `update`): a new text (the old one stays in the history),
   * metadata merged over the old, and/or an expiry.
   */
  async update(
    memoryId: string,
    change: string | UpdateMemoryOptions,
  ): Promise<{ message: string }> {
    this.assertOpen();
    const parsed = parseOptions(updateOptionsSchema, change, "update");
    const { text, metadata, expirationDate } =
      typeof parsed === "string"
        ? { text: parsed, metadata: undefined, expirationDate: undefined }
        : parsed;
    checkMetadata(metadata, "update");
    const memory = await this.requireMemory(memoryId);
    await this.locks.run(scopeKey(memory), async () => {
      const newText = text?.trim() ?? memory.text;
      const merged: MemoryMetadata = { ...memory.metadata, ...metadata };
      if (expirationDate === null) delete merged.expiration_date;
      else if (expirationDate !== undefined) merged.expiration_date = expirationDate;
      const [embedding] = text === undefined ? [undefined] : await this.embedDocuments([newText]);
      const [result] = await this.store.apply([
        {
          type: "update",
          id: memoryId,
          text: newText,
          hash: factHash(newText),
          metadata: merged,
          embedding,
          updatedAt: new Date().toISOString(),
          actor: "api",
        },
      ]);
      if (!result.applied) {
        throw new Mem0InputError(
          `Memory "${memoryId}" could not be updated: it was deleted meanwhile, or the owner ` +
            "already has a memory with this text.",
        );
      }
    });
    return { message: "Memory updated successfully!" };
  }

  /** Forgets one memory (its history keeps a DELETE entry). */
  async delete(memoryId: string): Promise<{ message: string }> {
    this.assertOpen();
    const memory = await this.requireMemory(memoryId);
    await this.locks.run(scopeKey(memory), () =>
      this.store.apply([{ type: "delete", id: memoryId, actor: "api" }]),
    );
    return { message: "Memory deleted successfully!" };
  }

  /**
   * Forgets everything of the owner (mem0ai's `deleteAll`): memories, vectors, history,
   * messages and graph. A user-only owner covers that user's memories of every agent and run.
   */
  async deleteAll(options: DeleteAllMemoryOptions): Promise<{ message: string }> {
    this.assertOpen();
    const parsed = parseOptions(deleteAllOptionsSchema, options, "deleteAll options");
    const owner = requireScope(
      parsed,
      "deleteAll needs an owner: give userId, agentId or runId; to delete every memory of " +
        "every owner, call reset().",
    );
    await this.locks.run(scopeKey(owner), () => this.store.deleteScope(owner));
    return { message: "Memories deleted successfully!" };
  }

  /** The change log of a memory, newest first (mem0ai's field names). */
  async history(memoryId: string): Promise<MemoryHistoryEntry[]> {
    this.assertOpen();
    checkMemoryId(memoryId);
    const entries = await this.store.history(memoryId);
    return entries.map(toHistoryEntry).reverse();
  }

  /** Deletes every memory of every owner, with history, messages and graph. */
  async reset(): Promise<void> {
    this.assertOpen();
    this.embedderChecked = undefined;
    await this.store.reset();
  }

  /** Closes the store; later calls throw `Mem0ClosedError`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.store.close();
  }
}

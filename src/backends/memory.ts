import { createHash, randomUUID } from "node:crypto";
import os from "node:os";
import type { Callbacks } from "@langchain/core/callbacks/manager";
import { Document } from "@langchain/core/documents";
import type { Embeddings } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessageLike } from "@langchain/core/messages";
import type { BaseDocumentCompressor } from "@langchain/core/retrievers/document_compressors";
import { z } from "zod";
import { abortable, anySignal, DEFAULT_WRITE_TIMEOUT_MS } from "../abort.js";
import {
  Mem0ClosedError,
  Mem0ConfigError,
  Mem0InputError,
  Mem0TimeoutError,
  StaleWriteError,
} from "../errors.js";
import { KeyedLock } from "../keyed_lock.js";
import { consoleLogger, loggerSchema, type Mem0Logger } from "../logger.js";
import {
  toBaseMessages,
  toConversation,
  wellFormed,
  type ConversationMessage,
} from "../messages.js";
import { Redactor, type RedactOption } from "../redaction.js";
import { MemoryRetriever, type MemoryRetrieverOptions } from "../retriever.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type {
  ApplyOptions,
  EpisodeStore,
  GraphStore,
  HistoryEntry,
  HistoryStore,
  LoggedMessage,
  MemoryChange,
  MemoryStore,
  MessageStore,
  OutboxEntry,
  OutboxStore,
  PendingWrite,
  ProfileStore,
  ProfileWrite,
  ScoredMemory,
  StoredMemory,
  StoredProfile,
} from "../stores/base.js";
import { matchesFilter, type MetadataFilter } from "../stores/filters.js";
import { SqliteStore } from "../stores/sqlite.js";
import type {
  AddMemoryOptions,
  AddResult,
  DeleteAllMemoryOptions,
  Episode,
  EpisodeSearchOptions,
  GetAllMemoryOptions,
  GetAllResult,
  ManagedMemoryBackend,
  MemoryEvent,
  MemoryHistoryEntry,
  MemoryEventType,
  MemoryItem,
  MemoryMetadata,
  ProfileBackend,
  ProfileRecord,
  ProfileValue,
  ScoreDetails,
  SearchMemoryOptions,
  SearchResult,
  UpdateMemoryOptions,
} from "./base.js";
import { resolveMemoryConfig, type MemoryConfig } from "./config.js";
import { MemoryExtractor } from "./extraction.js";
import { GraphMemory, type GraphOptions } from "./graph.js";
import { MemoryProfile, type ProfileDefinition } from "./profile.js";
import {
  addOptionsSchema,
  applyQueuedOptionsSchema,
  deleteAllOptionsSchema,
  getAllOptionsSchema,
  parseOptions,
  recoverOptionsSchema,
  resolveScope,
  searchOptionsSchema,
  updateOptionsSchema,
} from "./options.js";

/** Everything the engine needs from storage; `SqliteStore` provides all of it. */
export type MemoryStorage = MemoryStore & HistoryStore & MessageStore & OutboxStore;

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
   * A profile (working memory) per owner, updated by the same LLM call as the facts: a zod
   * object schema, a markdown template, or `{ schema | template, perRun }`. See `getProfile`.
   */
  profile?: ProfileDefinition;
  /**
   * Keep stored conversation turns searchable (`search(..., { episodes })`): each turn is
   * embedded in the add's one embedding request. Default true; false saves those tokens.
   */
  episodes?: boolean;
  /**
   * Weight of keyword (BM25) relevance next to cosine similarity in search (default
   * `DEFAULT_KEYWORD_WEIGHT`; 0 disables keyword fusion). See {@link Memory.search}.
   */
  keywordWeight?: number;
  /**
   * Weight of a memory's context in search: the best hybrid score of the memories stored just
   * before and after it in the scope (the turns around a turn of a conversation), added to its
   * own (default `DEFAULT_CONTEXT_WEIGHT`; 0 ranks memories on their own). See
   * {@link Memory.search}.
   */
  contextWeight?: number;
  /** Reorders results of `search(..., { rerank: true })`: any LangChain document compressor. */
  reranker?: BaseDocumentCompressor;
  /** Where warnings go (default `console.warn`). */
  logger?: Mem0Logger;
  /**
   * PII redaction before anything is stored or sent to the extraction LLM (default off):
   * `true` for every built-in detector, or `{ detectors, custom, metadata }`.
   */
  redact?: RedactOption;
  /**
   * Deadline of one attempt to apply a queued write, in ms (default 30 000). The provider
   * client's own retries happen inside it.
   */
  writeTimeoutMs?: number;
  /** Attempts after which `recover()` leaves a failing queued write alone (default 5). */
  maxAttempts?: number;
  /** Replay the outbox's leftover writes when the Memory opens the store (default true). */
  recoverOnOpen?: boolean;
  /** Called when a queued write fails (it stays in the outbox); default: a warning. */
  onError?: (error: unknown, write: PendingWrite) => void;
}

/**
 * Default keyword weight: semantic and keyword relevance count alike. Keyword scores are
 * relative to the best match the query can reach in the scope, so a weak keyword signal stays
 * small and the semantic score decides (bench/: LoCoMo and the 100k-memory search).
 */
export const DEFAULT_KEYWORD_WEIGHT = 1;

/**
 * Default context weight: a memory gains half the best hybrid score of its stored neighbours,
 * which finds the answer turn right after a matching question (LoCoMo in bench/).
 */
export const DEFAULT_CONTEXT_WEIGHT = 0.5;

/** Hybrid relevance in [0, 1]: cosine and normalised keyword relevance, weighted. */
function hybridScore(cosine: number, keyword: number, weight: number): number {
  return (Math.max(0, cosine) + weight * keyword) / (1 + weight);
}

/** Keyword scores divided by the best one, so they fall in [0, 1]. */
function normaliseKeyword(scores: number[]): (score: number) => number {
  const best = Math.max(0, ...scores);
  return (score) => (best > 0 ? score / best : 0);
}

/** Episodes returned by default, and turns around each matching turn. */
const DEFAULT_EPISODES = { topK: 3, window: 1 };

/** One `add` after validation: what an outbox entry keeps. */
interface AddRequest {
  owner: MemoryScope;
  /** The messages to learn from, system messages left out. */
  conversation: ConversationMessage[];
  now: Date;
  metadata: MemoryMetadata;
  infer: boolean;
}

/** Per-attempt settings of an add, not kept in the outbox. */
interface AddAttempt {
  signal?: AbortSignal;
  callbacks?: Callbacks;
  /** The outbox entry the attempt settles. */
  outboxId?: string;
}

/** How many times an add reads again after another process changed the owner's memories. */
const MAX_STALE_READS = 3;

/** Queued writes applied at once by `recover()` (across owners; one at a time per owner). */
const RECOVERY_CONCURRENCY = 4;

/** An `AddRequest` as the outbox keeps it. */
interface QueuedAdd {
  conversation: ConversationMessage[];
  now: string;
  metadata: MemoryMetadata;
  infer: boolean;
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
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

function checkMemoryId(memoryId: unknown, what = "A memory id"): asserts memoryId is string {
  if (typeof memoryId !== "string" || memoryId.trim() === "") {
    throw new Mem0InputError(
      `${what} must be a non-empty string, got ${memoryId === "" ? '""' : typeof memoryId}.`,
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
    contextWeight: z.number().min(0).max(10).optional(),
    episodes: z.boolean().optional(),
    profile: z
      .custom<ProfileDefinition>(
        (value) => typeof value === "string" || (typeof value === "object" && value !== null),
        "must be a zod object schema, a markdown template string, or { schema | template }",
      )
      .optional(),
    reranker: z
      .custom<BaseDocumentCompressor>(
        (value) =>
          typeof (value as BaseDocumentCompressor | undefined)?.compressDocuments === "function",
        "must be a LangChain document compressor (BaseDocumentCompressor), e.g. new CohereRerank()",
      )
      .optional(),
    logger: loggerSchema.optional(),
    writeTimeoutMs: z.number().int().positive().optional(),
    maxAttempts: z.number().int().positive().optional(),
    recoverOnOpen: z.boolean().optional(),
    onError: z.function().optional(),
    redact: z.custom<RedactOption>(() => true).optional(),
  })
  .strict();

/** Normalised text hash: the same fact written with other spacing or case is a duplicate. */
/** The content hash of a memory text (MD5 of the normalised text; unique per owner). */
export function factHash(text: string): string {
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
  return { ...item, ...ownerFields(memory) };
}

/** The owner ids of a scope in mem0ai's snake case, absent ids left out. */
function ownerFields(scope: MemoryScope): Pick<MemoryItem, "user_id" | "agent_id" | "run_id"> {
  const fields: Pick<MemoryItem, "user_id" | "agent_id" | "run_id"> = {};
  if (scope.userId !== undefined) fields.user_id = scope.userId;
  if (scope.agentId !== undefined) fields.agent_id = scope.agentId;
  if (scope.runId !== undefined) fields.run_id = scope.runId;
  return fields;
}

function toProfileRecord(stored: StoredProfile, profile: ProfileValue): ProfileRecord {
  return {
    id: stored.id,
    profile,
    version: stored.version,
    createdAt: stored.createdAt,
    updatedAt: stored.updatedAt,
    ...ownerFields(stored),
  };
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

let lastNow = 0;

/**
 * The current time, a millisecond past the last one handed out when the clock has not moved:
 * memories added one after the other list in that order ("oldest first" has no ties).
 */
function monotonicNow(): Date {
  lastNow = Math.max(Date.now(), lastNow + 1);
  return new Date(lastNow);
}

function toDate(value: Date | string | number | null | undefined, field: string): Date {
  if (value === undefined || value === null) return monotonicNow();
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
  if (metadata !== undefined) checkJsonValue(metadata, `${what}.metadata`, 0);
}

/** Metadata nested deeper than this is refused (it is stored as JSON and matched recursively). */
const MAX_METADATA_DEPTH = 32;

/**
 * Metadata must be plain JSON data (strings, finite numbers, booleans, null, arrays, plain
 * objects): it is stored as JSON, and a value JSON would drop or change (a function, a Date,
 * NaN) would make stored memories and filters disagree.
 */
function checkJsonValue(value: unknown, path: string, depth: number): void {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number" && Number.isFinite(value)) return;
  if (depth >= MAX_METADATA_DEPTH) {
    throw new Mem0InputError(`${path} is nested more than ${MAX_METADATA_DEPTH} levels deep.`);
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJsonValue(item, `${path}[${i}]`, depth + 1));
    return;
  }
  const prototype = typeof value === "object" ? (Object.getPrototypeOf(value) as unknown) : 0;
  if (prototype === Object.prototype || prototype === null) {
    for (const [key, item] of Object.entries(value as object)) {
      // An absent value, as JSON leaves it out.
      if (item !== undefined) checkJsonValue(item, `${path}.${key}`, depth + 1);
    }
    return;
  }
  const kind = value instanceof Date ? "a Date (pass date.toISOString())" : typeName(value);
  throw new Mem0InputError(
    `${path} must hold JSON data (strings, finite numbers, booleans, null, arrays, plain ` +
      `objects), got ${kind}.`,
  );
}

function typeName(value: unknown): string {
  if (typeof value === "number" || value === undefined) return String(value);
  if (typeof value !== "object") return `a ${typeof value}`;
  return `a ${(value as object).constructor?.name ?? "object"}`;
}

function scopeOptionName(key: string): string {
  return key.replace(/_(\w)/g, (_, letter: string) => letter.toUpperCase());
}

/** How a store records an embedder: `Class:model`. */
export function embedderName(embeddings: Embeddings): string {
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
export class Memory implements ManagedMemoryBackend, ProfileBackend {
  readonly store: MemoryStorage;
  private readonly graphMemory?: GraphMemory;
  private readonly profile?: MemoryProfile;
  /** The store's episode search, when stored turns are kept searchable. */
  private readonly episodeStore?: EpisodeStore;
  private readonly embeddings: Embeddings;
  private readonly extractor?: MemoryExtractor;
  private readonly similarMemories: number;
  private readonly contextMessages: number;
  private readonly keywordWeight: number;
  private readonly contextWeight: number;
  private readonly reranker?: BaseDocumentCompressor;
  private readonly logger: Mem0Logger;
  private readonly locks = new KeyedLock();
  private readonly redactor: Redactor;
  private readonly writeTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly onWriteError: (error: unknown, write: PendingWrite) => void;
  /** This worker's name in outbox leases. */
  private readonly holder = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  /** Aborts every queued write in progress when the Memory closes. */
  private readonly closing = new AbortController();
  /** Queued writes being applied by this Memory, by entry id. */
  private readonly applying = new Map<string, Promise<AddResult | undefined>>();
  private readonly background = new Set<Promise<unknown>>();
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
    if (parsed.profile !== undefined) {
      if (typeof (this.store as Partial<ProfileStore>).getProfile !== "function") {
        throw new Mem0ConfigError(
          "profile needs a store with profile support (SqliteStore, the default, and PostgresStore have it).",
        );
      }
      this.profile = new MemoryProfile(parsed.profile);
    }
    this.extractor = parsed.llm
      ? new MemoryExtractor({
          llm: parsed.llm,
          customInstructions: parsed.customInstructions,
          prompt: parsed.extractionPrompt,
          graph: this.graphMemory !== undefined,
          profile: this.profile,
        })
      : undefined;
    const episodes = this.store as MemoryStorage & Partial<EpisodeStore>;
    if (
      parsed.episodes !== false &&
      typeof episodes.searchMessages === "function" &&
      typeof episodes.messageWindows === "function"
    ) {
      this.episodeStore = episodes as MemoryStorage & EpisodeStore;
    }
    this.similarMemories = parsed.similarMemories ?? 10;
    this.contextMessages = parsed.contextMessages ?? 6;
    this.keywordWeight = parsed.keywordWeight ?? DEFAULT_KEYWORD_WEIGHT;
    this.contextWeight = parsed.contextWeight ?? DEFAULT_CONTEXT_WEIGHT;
    this.reranker = parsed.reranker;
    this.logger = parsed.logger ?? consoleLogger;
    this.redactor = new Redactor(parsed.redact);
    this.writeTimeoutMs = parsed.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
    this.maxAttempts = parsed.maxAttempts ?? 5;
    this.onWriteError = (parsed.onError as MemoryOptions["onError"]) ?? this.warnWriteError;
    if (parsed.recoverOnOpen !== false) {
      // After construction returns: replaying needs the LLM and must not block the caller.
      // Only leftovers: writes this Memory queues meanwhile are applied by their own caller,
      // which needs their result.
      const openedAt = new Date().toISOString();
      this.track(
        new Promise((resolve) => setImmediate(resolve)).then(() =>
          this.closed ? 0 : this.recover({ queuedBefore: openedAt }),
        ),
      );
    }
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

  /** Whether a profile is configured (the `profile` option). */
  get hasProfile(): boolean {
    return this.profile !== undefined;
  }

  private get requireProfile(): MemoryProfile {
    if (!this.profile) {
      throw new Mem0ConfigError(
        "No profile is configured: create the Memory with { profile: z.object({ ... }) } or a " +
          "markdown template to use getProfile / updateProfile.",
      );
    }
    return this.profile;
  }

  private readProfile(owner: MemoryScope): Promise<StoredProfile | undefined> {
    return (this.store as MemoryStorage & ProfileStore).getProfile(owner);
  }

  /**
   * The profile seen from the scope (by default the scope without its run: one profile per
   * user, or user and agent), or `null` before anything was learnt.
   */
  async getProfile(scope: MemoryScope): Promise<ProfileRecord | null> {
    this.assertOpen();
    const profile = this.requireProfile;
    const stored = await this.readProfile(profile.owner(requireScope(scope)));
    return stored ? toProfileRecord(stored, profile.parse(stored.value)) : null;
  }

  /**
   * Changes the profile seen from the scope: schema profiles take changed fields (`null`
   * clears one), template profiles the complete document. The old version stays in the
   * history; an invalid patch throws `Mem0InputError` and changes nothing.
   */
  async updateProfile(scope: MemoryScope, patch: unknown): Promise<ProfileRecord> {
    this.assertOpen();
    const profile = this.requireProfile;
    const owner = profile.owner(requireScope(scope));
    return this.locks.run(`profile:${scopeKey(owner)}`, async () => {
      for (let tries = 1; ; tries++) {
        const stored = await this.readProfile(owner);
        const current = stored ? profile.parse(stored.value) : profile.initial();
        const value = profile.applyStrict(current, patch);
        try {
          await this.store.apply([], {
            profile: {
              owner,
              value: JSON.stringify(value),
              expectedVersion: stored?.version ?? 0,
              actor: "api",
              updatedAt: new Date().toISOString(),
            },
          });
        } catch (error) {
          if (error instanceof StaleWriteError && tries < MAX_STALE_READS) continue;
          throw error;
        }
        const written = await this.readProfile(owner);
        return toProfileRecord(written!, profile.parse(written!.value));
      }
    });
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

  /** Embeds memory texts in one request; an abort stops the wait at once. */
  private async embedDocuments(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    if (texts.length === 0) return [];
    const vectors = await abortable(this.embeddings.embedDocuments(texts), signal);
    await this.checkEmbedder(vectors[0]);
    return vectors;
  }

  /** Embeds a search query (asymmetric embedders treat queries differently from documents). */
  private async embedQuery(text: string, signal?: AbortSignal): Promise<number[]> {
    const vector = await abortable(this.embeddings.embedQuery(text), signal);
    await this.checkEmbedder(vector);
    return vector;
  }

  /** Validates an add; `request` is absent when there is nothing to learn from. */
  private prepareAdd(
    messages: string | BaseMessageLike[],
    options: AddMemoryOptions,
  ): { request?: AddRequest; signal?: AbortSignal; callbacks?: Callbacks } {
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
    const attempt = { signal: parsed.signal, callbacks: parsed.callbacks as Callbacks | undefined };
    // Redacted first: nothing below (queue, LLM, store, message log) sees the raw values.
    const conversation = this.redactor
      .messages(toConversation(toBaseMessages(messages)))
      .filter((m) => m.role !== "system");
    if (conversation.length === 0) return attempt;
    const infer = parsed.infer ?? true;
    if (infer && !this.extractor) {
      throw new Mem0ConfigError(
        "Memory.add with infer: true needs an `llm` (a chat model) in the Memory options; " +
          "pass one, or call add(messages, { ..., infer: false }) to store messages verbatim.",
      );
    }
    const metadata: MemoryMetadata = { ...this.redactor.metadata(parsed.metadata) };
    if (parsed.expirationDate) metadata.expiration_date = parsed.expirationDate;
    const now = toDate(parsed.timestamp, "add options.timestamp");
    return { ...attempt, request: { owner, conversation, now, metadata, infer } };
  }

  /**
   * Learns from a conversation (mem0ai's `add`): with `infer` (default) one LLM call extracts
   * facts and decides ADD / UPDATE / DELETE against similar memories; with `infer: false` the
   * messages are stored verbatim. Messages: a string, LangChain messages, `{ role, content }`
   * objects or `[role, content]` tuples.
   */
  async add(messages: string | BaseMessageLike[], options: AddMemoryOptions): Promise<AddResult> {
    const { request, ...attempt } = this.prepareAdd(messages, options);
    if (!request) return { results: [] };
    return this.locks.run(scopeKey(request.owner), () => this.runAdd(request, attempt));
  }

  /**
   * One add, read to apply. When another process changed the owner's memories between the
   * read and the apply, it reads again (the LLM sees what the other process stored).
   */
  private async runAdd(request: AddRequest, attempt: AddAttempt): Promise<AddResult> {
    for (let tries = 1; ; tries++) {
      try {
        return request.infer
          ? await this.addInferred(request, attempt)
          : await this.addVerbatim(request, attempt);
      } catch (error) {
        const reread =
          error instanceof StaleWriteError &&
          error.reason === "owner_changed" &&
          tries < MAX_STALE_READS;
        if (!reread) throw error;
      }
    }
  }

  /**
   * The request's messages as the owner's message log keeps them, with their vectors and, for
   * a verbatim add, the memory stored from each.
   */
  private logged(
    { owner, conversation, now }: AddRequest,
    vectors: number[][] = [],
    memoryIds: string[] = [],
  ): ApplyOptions["messages"] {
    const createdAt = now.toISOString();
    return {
      owner,
      messages: conversation.map((message, i) => ({
        ...message,
        createdAt,
        ...(vectors[i] ? { embedding: vectors[i] } : {}),
        ...(vectors[i] && memoryIds[i] ? { memoryId: memoryIds[i] } : {}),
      })),
    };
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

  private async addVerbatim(request: AddRequest, attempt: AddAttempt): Promise<AddResult> {
    const { conversation, owner, now, metadata } = request;
    const vectors = await this.embedDocuments(
      conversation.map((message) => message.content),
      attempt.signal,
    );
    const changes: MemoryChange[] = conversation.map((message, i) => ({
      type: "insert",
      memory: this.newMemory(message.content, owner, now, { ...metadata, role: message.role }),
      embedding: vectors[i],
      actor: message.role,
    }));
    return this.applyChanges(changes, {
      messages: this.logged(
        request,
        this.episodeStore ? vectors : [],
        changes.map((change) => (change.type === "insert" ? change.memory.id : "")),
      ),
      outboxId: attempt.outboxId,
    });
  }

  private async addInferred(request: AddRequest, attempt: AddAttempt): Promise<AddResult> {
    const { conversation, owner, now, metadata } = request;
    const { signal, callbacks } = attempt;
    const version = await this.store.version(owner);
    const transcript = conversation
      .map((message) => `${message.role}: ${message.content}`)
      .join("\n");
    const queryVector = await this.embedQuery(transcript, signal);
    const profileOwner = this.profile?.owner(owner);
    const [similar, context, offeredRelations, storedProfile] = await Promise.all([
      this.rank(queryVector, transcript, owner, { topK: this.similarMemories }),
      this.store.recentMessages(owner, this.contextMessages),
      this.graphMemory?.context(owner, transcript, queryVector),
      profileOwner ? this.readProfile(profileOwner) : undefined,
    ]);
    const currentProfile = storedProfile
      ? this.profile!.parse(storedProfile.value)
      : this.profile?.initial();
    // Short integer ids for the LLM; real ids never leave the engine.
    const offered = similar.map(({ memory }, index) => ({ id: index, text: memory.text, memory }));
    const operations = await this.extractor!.extract(
      {
        conversation,
        context: context.map(({ role, content }) => ({ role, content }) as ConversationMessage),
        existing: offered.map(({ id, text }) => ({ id, text })),
        relations: offeredRelations?.map(({ id, text }) => ({ id, text })),
        now,
        profile: currentProfile,
      },
      { signal, callbacks },
    );
    const byId = new Map(offered.map((entry) => [entry.id, entry.memory]));
    const deleted = new Set(operations.delete.map(({ id }) => id).filter((id) => byId.has(id)));
    const updates = operations.update
      .map((update) => ({ ...update, text: wellFormed(update.text) }))
      .filter(({ id, text }) => byId.has(id) && !deleted.has(id) && text.trim().length > 0);
    const additions = [
      ...new Set(operations.add.map((text) => wellFormed(text).trim()).filter(Boolean)),
    ];
    const graphPlan = await this.graphMemory?.plan(operations, owner);
    // One embedding request for new facts, changed facts, new entity names and the turns.
    const unresolved = graphPlan?.unresolved ?? [];
    const turns = this.episodeStore ? conversation.map((message) => message.content) : [];
    const texts = [
      ...additions,
      ...updates.map(({ text }) => text.trim()),
      ...unresolved,
      ...turns,
    ];
    const vectors = await this.embedDocuments(texts, signal);
    const entityStart = additions.length + updates.length;
    const turnStart = entityStart + unresolved.length;
    const graphChanges =
      this.graphMemory && graphPlan
        ? await this.graphMemory.changes(
            operations,
            graphPlan,
            vectors.slice(entityStart, turnStart),
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
    const profile =
      profileOwner && this.profilePatch(operations.profile, currentProfile!, storedProfile);
    signal?.throwIfAborted();
    return this.applyChanges(changes, {
      profile: profile
        ? { ...profile, owner: profileOwner, actor, updatedAt: now.toISOString() }
        : undefined,
      graph: graphChanges.length ? graphChanges : undefined,
      messages: this.logged(request, vectors.slice(turnStart)),
      outboxId: attempt.outboxId,
      expectedVersion: { owner, version },
    });
  }

  /**
   * The profile write for the patch the model returned, or `undefined` when nothing changes.
   * Invalid fields are left out with a warning naming them (never their values).
   */
  private profilePatch(
    patch: unknown,
    current: ProfileValue,
    stored: StoredProfile | undefined,
  ): Pick<ProfileWrite, "value" | "expectedVersion"> | undefined {
    const outcome = this.profile!.applyPatch(current, patch);
    if (outcome.rejected.length > 0) {
      this.logger.warn(
        `the extraction model's profile patch had invalid parts, left out (the previous values ` +
          `stay): ${outcome.rejected.join(", ")}`,
      );
    }
    if (!outcome.changed) return undefined;
    return { value: JSON.stringify(outcome.value), expectedVersion: stored?.version ?? 0 };
  }

  private async applyChanges(changes: MemoryChange[], options: ApplyOptions): Promise<AddResult> {
    const applied = await this.store.apply(changes, options);
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
   * Hybrid ranking inside the scope. A memory's hybrid score is
   * `(cosine + keywordWeight × keyword) / (1 + keywordWeight)`, where `keyword` is the store's
   * BM25 score relative to the best the query can reach in the scope; its final score is
   * `hybrid + contextWeight × context × (1 − hybrid)`, in [0, 1], where `context` is the best
   * hybrid score of the memories stored just before and after it. Like mem0ai, `threshold` applies to the cosine similarity. Expired memories are
   * dropped unless asked for.
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
    // Stores score keyword hits in [0, 1] against the query's best possible match in the scope,
    // so a weak keyword signal stays weak; larger scores (other stores) are scaled by the best.
    const keywordScale = Math.max(1, ...keyword.map(({ score }) => score));
    for (const { memory, score } of keyword) {
      const entry = scored.get(memory.id) ?? { memory, cosine: Number.NaN, keyword: 0 };
      entry.keyword = Math.max(0, score) / keywordScale;
      scored.set(memory.id, entry);
    }
    const missing = [...scored.values()]
      .filter(({ cosine }) => Number.isNaN(cosine))
      .map(({ memory }) => memory.id);
    const [similarities, context] = await Promise.all([
      missing.length ? this.store.similarities(vector, missing) : new Map<string, number>(),
      this.contextWeight > 0 && this.store.neighbors && scored.size > 0
        ? this.store.neighbors([...scored.keys()], scope)
        : new Map<string, string[]>(),
    ]);
    for (const id of missing) scored.get(id)!.cosine = similarities.get(id) ?? 0;
    const weight = this.keywordWeight;
    const own = new Map<string, number>();
    for (const [id, { cosine, keyword: kw }] of scored) {
      own.set(id, hybridScore(cosine, kw, weight));
    }
    // A memory's context: the best own score among its stored neighbours. Neighbours that are
    // not candidates join with their context alone (the turn after a matching question often
    // holds the answer without sharing a word with the query); they are read only if they rank.
    const around = new Map<string, number>();
    for (const [id, neighbours] of context) {
      const score = own.get(id)!;
      for (const neighbour of neighbours) {
        if (score > (around.get(neighbour) ?? 0)) around.set(neighbour, score);
      }
    }
    const day = today();
    const contextWeight = this.contextWeight;
    const ranked: { id: string; score: number; around: number }[] = [];
    for (const id of new Set([...own.keys(), ...around.keys()])) {
      const ownScore = own.get(id) ?? 0;
      const context = around.get(id) ?? 0;
      // Context fills part of what the own score leaves to 1: a memory without neighbours
      // keeps its own score, and the result stays in [0, 1].
      ranked.push({
        id,
        around: context,
        score: ownScore + contextWeight * context * (1 - ownScore),
      });
    }
    ranked.sort((a, b) => b.score - a.score);
    // Neighbours only: read those that may rank, with their similarity, in one batch each.
    const unread = ranked
      .slice(0, options.topK * 2)
      .filter(({ id }) => !scored.has(id))
      .map(({ id }) => id);
    if (unread.length > 0) {
      const [memories, cosines] = await Promise.all([
        Promise.all(unread.map((id) => this.store.get(id))),
        this.store.similarities(vector, unread),
      ]);
      for (const memory of memories) {
        if (!memory || (options.filters && !matchesFilter(memory.metadata, options.filters))) {
          continue;
        }
        scored.set(memory.id, { memory, cosine: cosines.get(memory.id) ?? 0, keyword: 0 });
      }
    }
    const out: (ScoredMemory & { details: ScoreDetails })[] = [];
    for (const { id, around: contextScore } of ranked) {
      if (out.length === options.topK) break;
      const entry = scored.get(id);
      if (!entry) continue;
      const { memory, cosine, keyword: kw } = entry;
      if (options.threshold !== undefined && cosine < options.threshold) continue;
      if (!options.showExpired && isExpired(memory.metadata, day)) continue;
      const rawScore = Math.max(0, cosine) + weight * kw;
      const ownScore = rawScore / (1 + weight);
      const score = ownScore + contextWeight * contextScore * (1 - ownScore);
      const details: ScoreDetails = {
        semanticScore: cosine,
        bm25Score: kw,
        rawScore,
        maxPossibleScore: 1 + weight,
        contextScore,
        finalScore: score,
      };
      if (options.threshold !== undefined) details.threshold = options.threshold;
      out.push({ memory, score, details });
    }
    return out.sort((a, b) => b.score - a.score);
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
    const vector = await this.embedQuery(query, parsed.signal);
    parsed.signal?.throwIfAborted();
    const rerank = parsed.rerank === true && this.reranker !== undefined;
    const episodeOptions =
      parsed.episodes === undefined || parsed.episodes === false
        ? undefined
        : { ...DEFAULT_EPISODES, ...(parsed.episodes === true ? {} : parsed.episodes) };
    if (episodeOptions && !this.episodeStore) {
      throw new Mem0ConfigError(
        "search with episodes needs stored turns kept searchable: create the Memory without " +
          "episodes: false, on a store with episode search (the default SqliteStore has it).",
      );
    }
    const [ranked, relations, episodes] = await Promise.all([
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
      episodeOptions && this.searchEpisodes(vector, query, owner, episodeOptions),
    ]);
    const items = ranked.map(({ memory, score, details }) =>
      parsed.explain ? { ...toItem(memory, score), score_details: details } : toItem(memory, score),
    );
    const results = rerank ? await this.rerank(query, items, topK) : items;
    const found: SearchResult = relations ? { results, relations } : { results };
    if (episodes) found.episodes = episodes;
    return found;
  }

  /**
   * Stored turns relevant to the query inside the scope, ranked like memories (hybrid cosine
   * and keyword score), each with `window` turns of the same owner before and after; windows
   * that share a turn become one episode. Best episode first.
   */
  private async searchEpisodes(
    vector: number[],
    query: string,
    scope: MemoryScope,
    options: Required<EpisodeSearchOptions>,
  ): Promise<Episode[]> {
    const store = this.episodeStore!;
    const matches = await store.searchMessages(vector, query, scope, {
      topK: Math.max(options.topK * 4, 20),
    });
    const normalised = normaliseKeyword(matches.map(({ keyword }) => keyword));
    const hits = matches
      .map(({ message, cosine, keyword }) => ({
        message,
        score: hybridScore(cosine, normalised(keyword), this.keywordWeight),
      }))
      .sort((a, b) => b.score - a.score)
      .slice(0, options.topK);
    const windows = await store.messageWindows(
      hits.map(({ message }) => message.id),
      options.window,
    );
    // Merged groups: every turn id points to its group, so overlapping windows meet.
    const groups: { turns: Map<string, LoggedMessage>; matches: Set<string>; score: number }[] = [];
    const groupOf = new Map<string, (typeof groups)[number]>();
    hits.forEach(({ message, score }, i) => {
      const window = windows[i].length > 0 ? windows[i] : [message];
      const overlapping = [...new Set(window.map(({ id }) => groupOf.get(id)).filter(Boolean))];
      const group = overlapping[0] ?? { turns: new Map(), matches: new Set(), score };
      if (!overlapping[0]) groups.push(group);
      for (const other of overlapping.slice(1)) {
        other!.turns.forEach((turn, id) => group.turns.set(id, turn));
        other!.matches.forEach((id) => group.matches.add(id));
        groups.splice(groups.indexOf(other!), 1);
      }
      for (const turn of window) group.turns.set(turn.id, turn);
      group.matches.add(message.id);
      group.score = Math.max(group.score, score);
      for (const id of group.turns.keys()) groupOf.set(id, group!);
    });
    return groups.map(({ turns, matches, score }) => {
      const ordered = [...turns.values()].sort((a, b) => Number(a.id) - Number(b.id));
      const episode: Episode = {
        score,
        messages: ordered.map((turn) => ({
          role: turn.role,
          content: turn.content,
          createdAt: turn.createdAt,
          match: matches.has(turn.id),
        })),
      };
      return { ...episode, ...ownerFields(ordered[0]) };
    });
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
    const given =
      typeof parsed === "string"
        ? { text: parsed, metadata: undefined, expirationDate: undefined }
        : parsed;
    checkMetadata(given.metadata, "update");
    const text = given.text === undefined ? undefined : this.redactor.text(wellFormed(given.text));
    const metadata = this.redactor.metadata(given.metadata);
    const { expirationDate } = given;
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

  /**
   * One owner's memories as a LangChain retriever (`Document`s with `id` and `score` in their
   * metadata), for retrieval chains.
   */
  asRetriever(options: MemoryRetrieverOptions): MemoryRetriever {
    return new MemoryRetriever(this, options);
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

  /**
   * Closes the store; later calls throw `Mem0ClosedError`. Queued writes still being applied
   * are interrupted and stay in the outbox for the next `recover()`.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort(new Mem0ClosedError("The Memory was closed; the write stays queued."));
    await Promise.allSettled([...this.background]);
    await this.store.close();
  }

  // ---------------------------------------------------------------- durable outbox

  /**
   * Commits an add to the durable outbox and returns the entry's id (its idempotency key), or
   * `undefined` when there is nothing to learn from. The conversation survives a crash from
   * here on: `applyQueued(id)` applies it, `recover()` replays whatever is left.
   */
  async enqueue(
    messages: string | BaseMessageLike[],
    options: AddMemoryOptions,
  ): Promise<string | undefined> {
    const { request } = this.prepareAdd(messages, options);
    if (!request) return undefined;
    const id = randomUUID();
    const queued: QueuedAdd = {
      conversation: request.conversation,
      now: request.now.toISOString(),
      metadata: request.metadata,
      infer: request.infer,
    };
    await this.store.putOutbox({
      id,
      owner: request.owner,
      payload: JSON.stringify(queued),
      createdAt: new Date().toISOString(),
    });
    return id;
  }

  /**
   * Applies one queued write, exactly once across processes: its entry is removed in the
   * transaction that applies it. Resolves `undefined` when another worker applied it or a
   * delete forgot it. A failure is recorded on the entry (attempts, last error), which stays
   * queued, and is thrown.
   */
  async applyQueued(
    id: string,
    options: { signal?: AbortSignal; callbacks?: Callbacks } = {},
  ): Promise<AddResult | undefined> {
    this.assertOpen();
    checkMemoryId(id, "A queued write id (what enqueue returned)");
    const parsed = parseOptions(applyQueuedOptionsSchema, options, "applyQueued options");
    const running = this.applying.get(id);
    if (running) return running;
    const entry = await this.store.getOutbox(id);
    if (!entry) return undefined;
    return this.applyEntry(entry, {
      signal: parsed.signal,
      callbacks: parsed.callbacks as Callbacks | undefined,
    });
  }

  private applyEntry(
    entry: OutboxEntry,
    options: { signal?: AbortSignal; callbacks?: Callbacks },
  ): Promise<AddResult | undefined> {
    const running = this.applying.get(entry.id);
    if (running) return running;
    // Locked before any await, so entries of one owner apply in the order they were queued.
    const work = this.locks.run(scopeKey(entry.owner), async () => {
      const until = new Date(Date.now() + this.writeTimeoutMs + 5_000).toISOString();
      if (!(await this.store.claimOutbox(entry.id, this.holder, until))) return undefined;
      const queued = JSON.parse(entry.payload) as QueuedAdd;
      const request: AddRequest = { ...queued, owner: entry.owner, now: new Date(queued.now) };
      const deadline = AbortSignal.timeout(this.writeTimeoutMs);
      const signal = anySignal(options.signal, this.closing.signal, deadline);
      try {
        return await this.runAdd(request, {
          signal,
          callbacks: options.callbacks,
          outboxId: entry.id,
        });
      } catch (caught) {
        if (caught instanceof StaleWriteError && caught.reason === "entry_gone") return undefined;
        const error = deadline.aborted
          ? new Mem0TimeoutError(
              `The queued write did not finish within writeTimeoutMs (${this.writeTimeoutMs} ms); ` +
                "it stays in the outbox.",
              { cause: caught },
            )
          : caught;
        if (!this.closed || !(error instanceof Mem0ClosedError)) {
          await this.store.failOutbox(entry.id, errorText(error)).catch(() => undefined);
        }
        throw error;
      }
    });
    this.applying.set(entry.id, work);
    this.track(work.finally(() => this.applying.delete(entry.id)));
    return work;
  }

  /**
   * Applies every queued write left in the outbox (by a crash, a closed process or failed
   * attempts), oldest first per owner; writes that failed `maxAttempts` times are left alone
   * unless `retryFailed`. `queuedBefore` (ISO time) limits it to writes queued earlier.
   * Resolves with how many were applied; failures go to `onError`.
   */
  async recover(options: { retryFailed?: boolean; queuedBefore?: string } = {}): Promise<number> {
    this.assertOpen();
    const { retryFailed, queuedBefore } = parseOptions(
      recoverOptionsSchema,
      options,
      "recover options",
    );
    const entries = (await this.store.listOutbox()).filter(
      (entry) =>
        (retryFailed || entry.attempts < this.maxAttempts) &&
        (queuedBefore === undefined || entry.createdAt < queuedBefore),
    );
    let applied = 0;
    let next = 0;
    const worker = async () => {
      while (next < entries.length && !this.closed) {
        const entry = entries[next++];
        try {
          if (await this.applyEntry(entry, {})) applied++;
        } catch (error) {
          if (!this.closed) this.onWriteError(error, this.pendingOf(entry));
        }
      }
    };
    await Promise.all(Array.from({ length: RECOVERY_CONCURRENCY }, worker));
    return applied;
  }

  /** The writes waiting in the outbox (of one owner, or all), with age, attempts and error. */
  async outbox(scope?: MemoryScope): Promise<PendingWrite[]> {
    this.assertOpen();
    const entries = await this.store.listOutbox(
      scope === undefined ? undefined : requireScope(scope),
    );
    return entries.map((entry) => this.pendingOf(entry));
  }

  private pendingOf(entry: OutboxEntry): PendingWrite {
    return {
      id: entry.id,
      scope: entry.owner,
      createdAt: entry.createdAt,
      ageMs: Math.max(0, Date.now() - Date.parse(entry.createdAt)),
      attempts: entry.attempts,
      ...(entry.lastError !== undefined ? { lastError: entry.lastError } : {}),
    };
  }

  private readonly warnWriteError = (error: unknown) =>
    this.logger.warn(
      `a queued memory write failed and stays in the outbox (${errorText(error)}); ` +
        "memory.recover() retries it. Pass onError to handle failures.",
    );

  private track(work: Promise<unknown>): void {
    const settled = work.catch(() => undefined);
    this.background.add(settled);
    void settled.then(() => this.background.delete(settled));
  }
}

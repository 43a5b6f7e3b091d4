import type { MemoryEventType, MemoryMetadata } from "../backends/base.js";
import type { MemoryScope } from "../scope.js";
import type { MetadataFilter } from "./filters.js";

/** A memory row as a store keeps it. */
export interface StoredMemory {
  id: string;
  text: string;
  /** Hash of the normalised text; unique per scope. */
  hash: string;
  metadata: MemoryMetadata;
  userId?: string;
  agentId?: string;
  runId?: string;
  createdAt: string;
  updatedAt: string;
}

export interface ScoredMemory {
  memory: StoredMemory;
  score: number;
}

export interface StoreSearchOptions {
  topK: number;
  filters?: MetadataFilter;
}

export interface ListOptions {
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  filters?: MetadataFilter;
}

export interface ListPage {
  items: StoredMemory[];
  nextCursor?: string;
}

/** One entry of a memory's change log. */
export interface HistoryEntry {
  id: string;
  memoryId: string;
  event: MemoryEventType;
  previous: string | null;
  next: string | null;
  /** Who caused the change: a message role ("user", "assistant"), "api" or an actor name. */
  actor: string | null;
  createdAt: string;
}

/** A message kept for context (the last turns of a run feed the next extraction). */
export interface StoredMessage {
  role: string;
  content: string;
  createdAt: string;
  /** Embedding of the content, written so the turn can be recalled (`EpisodeStore`). */
  embedding?: number[];
  /**
   * The memory stored verbatim from this message in the same write, with the same embedding:
   * a store may keep that vector once (it must then keep the message's vector when the memory
   * changes or goes).
   */
  memoryId?: string;
}

/** One change inside an atomic write. */
export type MemoryChange =
  | { type: "insert"; memory: StoredMemory; embedding: number[]; actor?: string }
  | {
      type: "update";
      id: string;
      text: string;
      hash: string;
      metadata: MemoryMetadata;
      /** New vector; absent when the text is unchanged (the stored vector is kept). */
      embedding?: number[];
      updatedAt: string;
      actor?: string;
    }
  | { type: "delete"; id: string; actor?: string };

export interface AppliedChange {
  /** The change as requested. */
  change: MemoryChange;
  /** False when it was skipped: a duplicate insert/update, or an id that no longer exists. */
  applied: boolean;
  /** Text before an update or delete. */
  previous?: string;
}

/** What else an atomic write does, next to its memory changes. */
export interface ApplyOptions {
  /** Graph changes, applied in the same transaction (stores that are also `GraphStore`s). */
  graph?: GraphChange[];
  /** Messages appended to the owner's log in the same transaction. */
  messages?: { owner: MemoryScope; messages: StoredMessage[] };
  /**
   * The outbox entry this write settles: removed in the same transaction. When it is gone
   * (applied by another worker, or forgotten by a delete), nothing is applied and
   * `StaleWriteError` is thrown; inserts of texts deleted since it was queued are skipped.
   */
  outboxId?: string;
  /**
   * `version(owner)` as read before the LLM call: when another writer has changed the owner
   * since, nothing is applied and `StaleWriteError` is thrown, so the caller reads again.
   */
  expectedVersion?: { owner: MemoryScope; version: string };
  /** A new version of a profile, written in the same transaction (stores that are `ProfileStore`s). */
  profile?: ProfileWrite;
}

/** Vectors, rows and keyword index of memories. */
export interface MemoryStore {
  /**
   * Records the embedding model on first use and throws `EmbedderMismatchError` when a
   * different model or dimension is used later.
   */
  ensureEmbedder(model: string, dimensions: number): Promise<void>;
  /** Exact cosine top-K inside the scope, filtered before ranking. */
  vectorSearch(
    vector: number[],
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]>;
  /**
   * Keyword (BM25) top-K inside the scope, with term statistics of that scope only. Scores are
   * in [0, 1]: BM25 divided by the best score the query can reach in the scope (a store that
   * cannot tell returns raw scores, which the engine divides by the best hit's).
   */
  keywordSearch(
    query: string,
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]>;
  /** Cosine similarity of the vector to each given memory (for fusing keyword hits). */
  similarities(vector: number[], ids: string[]): Promise<Map<string, number>>;
  /** The stored (unit-length) vectors of these memories; ids not found are left out. */
  embeddings(ids: string[]): Promise<Map<string, number[]>>;
  /**
   * Ids of the memories stored just before and just after each given memory inside the scope
   * (insertion order), for ranking a memory by its context. Optional: without it, search
   * ranks memories on their own.
   */
  neighbors?(ids: string[], scope: MemoryScope): Promise<Map<string, string[]>>;
  get(id: string): Promise<StoredMemory | undefined>;
  list(scope: MemoryScope, options?: ListOptions): Promise<ListPage>;
  /**
   * Applies all changes, their history entries and what `options` add in one transaction,
   * and moves the version of every owner touched.
   */
  apply(changes: MemoryChange[], options?: ApplyOptions): Promise<AppliedChange[]>;
  /** Token that changes whenever a write touches one of the scope's owner ids. */
  version(scope: MemoryScope): Promise<string>;
  /**
   * Removes every memory, vector, history entry, message, queued write and graph item of the
   * scope, leaving none of their text readable in the store's files.
   */
  deleteScope(scope: MemoryScope): Promise<number>;
  /** Removes everything. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** A conversation committed to the outbox, waiting to be learned from. */
export interface OutboxEntry {
  /** Idempotency key: the entry is applied at most once. */
  id: string;
  owner: MemoryScope;
  /** What the engine needs to apply it (JSON). */
  payload: string;
  createdAt: string;
  /** Failed attempts so far. */
  attempts: number;
  /** The last attempt's error message. */
  lastError?: string;
  /** Hashes of memories deleted after it was queued: it must not bring them back. */
  forget: string[];
}

/** A pending write as `Memory.outbox()` reports it. */
export interface PendingWrite {
  id: string;
  scope: MemoryScope;
  createdAt: string;
  /** Milliseconds since it was queued. */
  ageMs: number;
  attempts: number;
  lastError?: string;
}

/** The durable outbox: writes committed before the chat call returns, applied later. */
export interface OutboxStore {
  putOutbox(entry: Pick<OutboxEntry, "id" | "owner" | "payload" | "createdAt">): Promise<void>;
  getOutbox(id: string): Promise<OutboxEntry | undefined>;
  /** Entries visible from the scope (every entry when absent), oldest first. */
  listOutbox(scope?: MemoryScope): Promise<OutboxEntry[]>;
  /**
   * Leases the entry to the worker `holder` (`host:pid:instance`) until `until` (ISO); false
   * when it is gone or another live worker holds it.
   */
  claimOutbox(id: string, holder: string, until: string): Promise<boolean>;
  /** Records a failed attempt with its error and releases the lease. */
  failOutbox(id: string, error: string): Promise<void>;
}

/** The change log of memories. */
export interface HistoryStore {
  history(memoryId: string): Promise<HistoryEntry[]>;
}

/** Recent conversation messages per scope. */
export interface MessageStore {
  appendMessages(scope: MemoryScope, messages: StoredMessage[]): Promise<void>;
  recentMessages(scope: MemoryScope, limit: number): Promise<StoredMessage[]>;
}

/** A node of the graph: a named person, place, organisation, thing or date. */
export interface GraphEntity {
  id: string;
  /** Canonical display name (lower case, as the engine canonicalises it). */
  name: string;
  /** Other spellings that resolve to this entity (normalised), the name included. */
  aliases: string[];
  userId?: string;
  agentId?: string;
  runId?: string;
  createdAt: string;
}

/** A directed relation `source —relation→ destination` with its validity interval. */
export interface GraphEdge {
  id: string;
  sourceId: string;
  source: string;
  relation: string;
  destinationId: string;
  destination: string;
  /** ISO time from which the relation holds. */
  validFrom: string;
  /** ISO time at which it stopped holding; absent while current. */
  validTo?: string;
  /** Text of the message the relation was learnt from. */
  origin?: string;
  userId?: string;
  agentId?: string;
  runId?: string;
  createdAt: string;
}

export interface EntityMatch {
  entity: GraphEntity;
  score: number;
}

/** Which edges a graph read returns. */
export interface EdgeValidity {
  /** Only edges valid at this ISO time (default: now, i.e. current edges). */
  asOf?: string;
  /** Also return invalidated edges (ignores `asOf`). */
  includeInvalid?: boolean;
}

/** One change of the graph, applied in the same transaction as the memory changes. */
export type GraphChange =
  | {
      /** Creates the entity, or adds aliases to it when the id exists. */
      type: "upsert_entity";
      id: string;
      name: string;
      aliases: string[];
      owner: MemoryScope;
      /** Embedding of the name (stored for new entities). */
      embedding?: number[];
      createdAt: string;
    }
  | {
      /** Adds an edge; skipped when the same edge is currently valid. */
      type: "add_edge";
      id: string;
      sourceId: string;
      relation: string;
      destinationId: string;
      validFrom: string;
      origin?: string;
      owner: MemoryScope;
    }
  | { type: "invalidate_edge"; id: string; validTo: string }
  | { type: "delete_edge"; id: string };

/** Entities and relations per scope (graph memory). */
export interface GraphStore {
  /** Entities visible from the scope with one of these normalised names or aliases. */
  findEntitiesByName(scope: MemoryScope, names: string[]): Promise<GraphEntity[]>;
  /** Entities whose name or an alias occurs as whole words in the (normalised) text. */
  entitiesMentionedIn(scope: MemoryScope, text: string): Promise<GraphEntity[]>;
  /** Entities by cosine similarity of their name embedding to the vector, best first. */
  similarEntities(
    scope: MemoryScope,
    vector: number[],
    options: { topK: number; threshold: number },
  ): Promise<EntityMatch[]>;
  /** Edges within `hops` hops of the entities (1 = edges touching them). */
  neighborhood(
    scope: MemoryScope,
    entityIds: string[],
    options: EdgeValidity & { hops: number },
  ): Promise<GraphEdge[]>;
  listEntities(scope: MemoryScope): Promise<GraphEntity[]>;
  listEdges(scope: MemoryScope, options?: EdgeValidity): Promise<GraphEdge[]>;
  getEdge(id: string): Promise<GraphEdge | undefined>;
  applyGraph(changes: GraphChange[]): Promise<void>;
}

/** One owner's profile as a store keeps it: a single document, versioned. */
export interface StoredProfile {
  /** Stable id of the document; its versions are in the history under this id. */
  id: string;
  /** The profile as JSON text (an object for schema profiles, a string for templates). */
  value: string;
  /** 1 after the first write, one more per change. */
  version: number;
  userId?: string;
  agentId?: string;
  runId?: string;
  createdAt: string;
  updatedAt: string;
}

/** A new version of an owner's profile, part of an atomic write. */
export interface ProfileWrite {
  /** The exact owner of the profile (not a scope: no other owner's profile is touched). */
  owner: MemoryScope;
  /** The new document as JSON text. */
  value: string;
  /**
   * The version this write replaces (0: no profile yet). When the stored version differs,
   * nothing is applied and `StaleWriteError` (`owner_changed`) is thrown, so the caller reads again.
   */
  expectedVersion: number;
  /** Who caused the change, recorded in the history ("user", "api", ...). */
  actor?: string;
  /** ISO time of the change. */
  updatedAt: string;
}

/**
 * Profiles (working memory): one document per owner. Written through `apply(..., { profile })`;
 * `deleteScope` and `reset` remove them with their history.
 */
export interface ProfileStore {
  /** The profile owned by exactly this owner, if any. */
  getProfile(owner: MemoryScope): Promise<StoredProfile | undefined>;
}

/** A logged message with its place in its owner's log. */
export interface LoggedMessage extends StoredMessage {
  /** Position in the store's log; increases along each owner's conversation. */
  id: string;
  userId?: string;
  agentId?: string;
  runId?: string;
}

/** A logged message scored against a search (the engine fuses the two scores). */
export interface MessageMatch {
  message: LoggedMessage;
  /** Cosine similarity of the query vector and the message (0 when it has no vector). */
  cosine: number;
  /** Keyword (BM25) relevance among the scope's messages; 0 when no query word occurs. */
  keyword: number;
}

/** Search over the logged conversation turns (episode recall). */
export interface EpisodeStore {
  /**
   * The scope's messages (every owner visible from it, as for memories) that match the
   * vector or the query's words: the `topK` best by cosine and the `topK` best by keyword.
   */
  searchMessages(
    vector: number[],
    query: string,
    scope: MemoryScope,
    options: { topK: number },
  ): Promise<MessageMatch[]>;
  /**
   * For each message id, the messages of the same owner from `window` before it to `window`
   * after it, oldest first.
   */
  messageWindows(ids: string[], window: number): Promise<LoggedMessage[][]>;
}

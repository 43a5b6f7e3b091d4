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
      embedding: number[];
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
  /** Keyword (BM25) top-K inside the scope; higher scores are better. */
  keywordSearch(
    query: string,
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]>;
  /** Cosine similarity of the vector to each given memory (for fusing keyword hits). */
  similarities(vector: number[], ids: string[]): Promise<Map<string, number>>;
  get(id: string): Promise<StoredMemory | undefined>;
  list(scope: MemoryScope, options?: ListOptions): Promise<ListPage>;
  /** Applies all changes and their history entries in one transaction. */
  apply(changes: MemoryChange[]): Promise<AppliedChange[]>;
  /** Removes every memory, vector, history entry and message of the scope. */
  deleteScope(scope: MemoryScope): Promise<number>;
  /** Removes everything. */
  reset(): Promise<void>;
  close(): Promise<void>;
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

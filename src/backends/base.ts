import type { Callbacks } from "@langchain/core/callbacks/manager";
import type { BaseMessageLike } from "@langchain/core/messages";
import type { MemoryScope } from "../scope.js";
import type { MetadataFilter } from "../stores/filters.js";

/** JSON-safe metadata attached to a memory. */
export type MemoryMetadata = Record<string, unknown>;

/** One remembered fact, as returned by every backend. */
export interface MemoryItem {
  id: string;
  /** The fact in plain text. */
  memory: string;
  /** Relevance for a search (higher is better); absent outside search results. */
  score?: number;
  metadata: MemoryMetadata;
  /** ISO-8601 timestamps. */
  createdAt: string;
  updatedAt: string;
  userId?: string;
  agentId?: string;
  runId?: string;
}

/** One graph relation `source —relation→ destination`. */
export interface Relation {
  source: string;
  relation: string;
  destination: string;
  /** ISO-8601 time from which the relation holds. */
  validFrom?: string;
  /** ISO-8601 time at which the relation stopped holding; absent while current. */
  validTo?: string;
  score?: number;
}

export interface SearchResult {
  results: MemoryItem[];
  /** Graph relations relevant to the query, when the backend has graph memory. */
  relations?: Relation[];
}

export interface SearchOptions {
  /** How many memories to return (default 10). */
  topK?: number;
  /** Drop results whose score is below this value. */
  threshold?: number;
  /** Metadata filter applied before ranking. */
  filters?: MetadataFilter;
  /** Graph memory: relations valid at this time instead of the current ones. */
  asOf?: Date | string;
  /** Graph memory: also return relations that were invalidated. */
  includeInvalid?: boolean;
  signal?: AbortSignal;
}

export interface AddOptions {
  /** Metadata stored with every memory this add creates or updates. */
  metadata?: MemoryMetadata;
  /** `true` (default): extract facts with the LLM; `false`: store messages verbatim. */
  infer?: boolean;
  /** When the conversation happened; relative dates are resolved against it (default: now). */
  timestamp?: Date | string | number;
  signal?: AbortSignal;
  /** Callbacks of the LLM calls this add makes, so they nest under the caller's run. */
  callbacks?: Callbacks;
}

export type MemoryEventType = "ADD" | "UPDATE" | "DELETE";

export interface MemoryEvent {
  id: string;
  memory: string;
  event: MemoryEventType;
  /** The text before an UPDATE or DELETE. */
  previousMemory?: string;
}

export interface AddResult {
  results: MemoryEvent[];
}

/**
 * What `Mem0ChatModel` needs from a memory: the local engine, the hosted platform client
 * and adapters all implement it.
 */
export interface MemoryBackend {
  search(query: string, scope: MemoryScope, options?: SearchOptions): Promise<SearchResult>;
  add(messages: BaseMessageLike[], scope: MemoryScope, options?: AddOptions): Promise<AddResult>;
}

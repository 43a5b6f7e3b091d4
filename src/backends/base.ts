import type { Callbacks } from "@langchain/core/callbacks/manager";
import type { BaseMessageLike } from "@langchain/core/messages";
import type { MemoryScope } from "../scope.js";
import type { MetadataFilter } from "../stores/filters.js";

/** JSON-safe metadata attached to a memory. */
export type MemoryMetadata = Record<string, unknown>;

/**
 * One remembered fact, shaped as mem0ai returns it (owner ids in snake case, timestamps in
 * camel case), so code written for mem0ai reads it unchanged.
 */
export interface MemoryItem {
  id: string;
  /** The fact in plain text. */
  memory: string;
  /** MD5 of the normalised text. */
  hash?: string;
  /** Relevance in [0, 1] for a search (higher is better); absent outside search results. */
  score?: number;
  /** Relevance given by the reranker, next to `score`, when `rerank: true` was used. */
  rerankScore?: number;
  /** How `score` was made, when the search asked for `explain: true`. */
  score_details?: ScoreDetails;
  /** The memory's metadata; `expiration_date` holds its expiry (YYYY-MM-DD) when set. */
  metadata: MemoryMetadata;
  /** ISO-8601 timestamps. */
  createdAt: string;
  updatedAt: string;
  user_id?: string;
  agent_id?: string;
  run_id?: string;
}

/** The parts of a search score (mem0ai's `explain` field names). */
export interface ScoreDetails {
  /** Cosine similarity of the query and the memory. */
  semanticScore: number;
  /**
   * Keyword (BM25) relevance in [0, 1], relative to the best match the query can reach in the
   * scope.
   */
  bm25Score: number;
  /** `semanticScore + keywordWeight × bm25Score`. */
  rawScore: number;
  /** `1 + keywordWeight`: the memory's own score is `rawScore / maxPossibleScore`. */
  maxPossibleScore: number;
  /** Best own score of the memories stored just before and after it (0 without context). */
  contextScore: number;
  /** `own + contextWeight × contextScore × (1 − own)`, where `own = rawScore / maxPossibleScore`. */
  finalScore: number;
  /** The threshold the semantic score had to reach, if any. */
  threshold?: number;
}

/** One graph relation `source —relationship→ destination` (mem0's field names). */
export interface Relation {
  source: string;
  relationship: string;
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
  /** Past conversation turns relevant to the query, when asked for with `episodes`. */
  episodes?: Episode[];
}

/** One stored conversation turn inside an episode. */
export interface EpisodeMessage {
  role: string;
  content: string;
  /** ISO-8601 time of the conversation it was stored with. */
  createdAt: string;
  /** True for the turns that matched the query; the others are their neighbours. */
  match: boolean;
}

/**
 * Consecutive turns of one owner's stored conversations around turns that matched a search,
 * oldest first; overlapping windows are merged into one episode.
 */
export interface Episode {
  messages: EpisodeMessage[];
  /** Best relevance in [0, 1] of its matching turns (the memories' hybrid score). */
  score: number;
  user_id?: string;
  agent_id?: string;
  run_id?: string;
}

/**
 * A profile (working memory): the fields of a schema profile filled so far, or the markdown
 * document of a template profile.
 */
export type ProfileValue = Record<string, unknown> | string;

/** One owner's profile as `getProfile` returns it. */
export interface ProfileRecord {
  /** Id of the document: `history(id)` lists its versions (JSON text). */
  id: string;
  profile: ProfileValue;
  /** 1 after the first write, one more per change. */
  version: number;
  createdAt: string;
  updatedAt: string;
  user_id?: string;
  agent_id?: string;
  run_id?: string;
}

/**
 * A backend that keeps a profile per owner, updated with each `add` (the local engine created
 * with a `profile`); `Mem0ChatModel` injects it on every call.
 */
export interface ProfileBackend extends MemoryBackend {
  /** Whether a profile is configured; `getProfile` throws when it is not. */
  readonly hasProfile: boolean;
  /** The profile seen from the scope, or `null` before the first update. */
  getProfile(scope: MemoryScope): Promise<ProfileRecord | null>;
}

/** Whether the backend keeps a profile (and has one configured). */
export function isProfileBackend(backend: MemoryBackend): backend is ProfileBackend {
  const candidate = backend as Partial<ProfileBackend>;
  return typeof candidate.getProfile === "function" && candidate.hasProfile === true;
}

/**
 * mem0ai's `filters`: the owner ids in snake case (`user_id`, `agent_id`, `run_id`) next to
 * metadata conditions (see {@link MetadataFilter}).
 */
export type SearchFilters = MetadataFilter & {
  user_id?: string;
  agent_id?: string;
  run_id?: string;
};

/** Options of `search`, as mem0ai takes them; the owner comes from the ids or from `filters`. */
export interface SearchMemoryOptions extends MemoryScope {
  /** How many memories to return (default 10). */
  topK?: number;
  /** Minimum semantic (cosine) similarity in [0, 1] of a result, as in mem0ai. */
  threshold?: number;
  /** Owner ids and metadata conditions, applied before ranking. */
  filters?: SearchFilters;
  /** Reorder the results with the engine's reranker (a no-op when none is configured, as in mem0ai). */
  rerank?: boolean;
  /** Add `score_details` to each result: how its score was made. */
  explain?: boolean;
  /** Also return memories whose `expirationDate` has passed (default false). */
  showExpired?: boolean;
  /** Graph memory: relations valid at this time instead of the current ones. */
  asOf?: Date | string;
  /** Graph memory: also return relations that were invalidated. */
  includeInvalid?: boolean;
  /**
   * Also return past conversation turns relevant to the query, as `episodes` next to the
   * results: `true` (3 episodes, 1 turn of context each side) or `{ topK, window }`. Metadata
   * filters do not apply to them (turns have no metadata).
   */
  episodes?: boolean | EpisodeSearchOptions;
  /** Aborts the search. */
  signal?: AbortSignal;
}

/** How many episodes a search returns and how much context each turn brings. */
export interface EpisodeSearchOptions {
  /** Matching turns to return, each as (part of) an episode (default 3). */
  topK?: number;
  /** Turns of the same conversation log before and after each matching turn (default 1). */
  window?: number;
}

/** Options of `add`, as mem0ai takes them. */
export interface AddMemoryOptions extends MemoryScope {
  /** Metadata stored with every memory this add creates or updates. */
  metadata?: MemoryMetadata;
  /** Owner ids in mem0ai's snake case, as an alternative to `userId` / `agentId` / `runId`. */
  filters?: Pick<SearchFilters, "user_id" | "agent_id" | "run_id">;
  /** `true` (default): extract facts with the LLM; `false`: store messages verbatim. */
  infer?: boolean;
  /** When the conversation happened; relative dates are resolved against it (default: now). */
  timestamp?: Date | string | number | null;
  /** Day (YYYY-MM-DD) after which the memories this add creates are treated as expired. */
  expirationDate?: string | Date | null;
  /** Aborts the add (the LLM call and the embeddings). */
  signal?: AbortSignal;
  /** Callbacks of the LLM calls this add makes, so they nest under the caller's run. */
  callbacks?: Callbacks;
}

export type MemoryEventType = "ADD" | "UPDATE" | "DELETE";

/** One change made by `add`. */
export interface MemoryEvent {
  id: string;
  memory: string;
  event: MemoryEventType;
  /** The text before an UPDATE or DELETE. */
  previousMemory?: string;
  /** The event again, where mem0ai's TypeScript SDK puts it. */
  metadata: { event: MemoryEventType; previousMemory?: string };
}

export interface AddResult {
  results: MemoryEvent[];
}

/**
 * What `Mem0ChatModel` and the other front doors need from a memory: the local engine, the
 * hosted platform client and adapters all implement it, with mem0ai's call shapes.
 */
export interface MemoryBackend {
  search(query: string, options: SearchMemoryOptions): Promise<SearchResult>;
  add(messages: string | BaseMessageLike[], options: AddMemoryOptions): Promise<AddResult>;
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

export interface GetAllResult {
  results: MemoryItem[];
  /** Present when more memories follow: pass it as `cursor`. */
  nextCursor?: string;
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
  action: MemoryEventType;
  created_at: string;
  updated_at: string;
  is_deleted: 0 | 1;
  /** Who caused the change: a message role ("user", "assistant") or "api". */
  actor: string | null;
}

/**
 * A backend whose memories can also be listed, read, changed and forgotten one by one
 * (mem0ai's `getAll` / `get` / `update` / `delete` / `history`): what the memory tools, the
 * LangGraph store view and the MCP server need.
 */
export interface ManagedMemoryBackend extends MemoryBackend {
  get(memoryId: string): Promise<MemoryItem | null>;
  getAll(options: GetAllMemoryOptions): Promise<GetAllResult>;
  update(memoryId: string, change: string | UpdateMemoryOptions): Promise<{ message: string }>;
  delete(memoryId: string): Promise<{ message: string }>;
  history(memoryId: string): Promise<MemoryHistoryEntry[]>;
}

/** Whether the backend has the one-by-one operations of {@link ManagedMemoryBackend}. */
export function isManagedBackend(backend: MemoryBackend): backend is ManagedMemoryBackend {
  const managed = backend as Partial<ManagedMemoryBackend>;
  return ["get", "getAll", "update", "delete", "history"].every(
    (name) => typeof managed[name as keyof ManagedMemoryBackend] === "function",
  );
}

/** The owner ids of a memory, as a scope. */
export function ownerOf(item: Pick<MemoryItem, "user_id" | "agent_id" | "run_id">): MemoryScope {
  const owner: MemoryScope = {};
  if (item.user_id !== undefined) owner.userId = item.user_id;
  if (item.agent_id !== undefined) owner.agentId = item.agent_id;
  if (item.run_id !== undefined) owner.runId = item.run_id;
  return owner;
}

/**
 * A backend that commits writes to a durable outbox before applying them (the local engine):
 * a crash after `enqueue` resolved loses nothing.
 */
export interface DurableMemoryBackend extends MemoryBackend {
  /** Commits the add; resolves with its outbox entry id, or `undefined` when there is nothing to store. */
  enqueue(
    messages: string | BaseMessageLike[],
    options: AddMemoryOptions,
  ): Promise<string | undefined>;
  /** Applies a committed add exactly once; `undefined` when it was applied elsewhere or forgotten. */
  applyQueued(
    id: string,
    options?: { signal?: AbortSignal; callbacks?: Callbacks },
  ): Promise<AddResult | undefined>;
}

/** Whether the backend keeps writes in a durable outbox. */
export function isDurableBackend(backend: MemoryBackend): backend is DurableMemoryBackend {
  const durable = backend as Partial<DurableMemoryBackend>;
  return typeof durable.enqueue === "function" && typeof durable.applyQueued === "function";
}

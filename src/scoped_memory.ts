import { HumanMessage, type BaseMessage } from "@langchain/core/messages";
import {
  isManagedBackend,
  ownerOf,
  type AddResult,
  type GetAllResult,
  type ManagedMemoryBackend,
  type MemoryBackend,
  type MemoryHistoryEntry,
  type MemoryItem,
  type MemoryMetadata,
  type SearchResult,
  type UpdateMemoryOptions,
} from "./backends/base.js";
import { storageHandler, type Mem0MemoryCallbackHandler } from "./callbacks.js";
import { Mem0ConfigError, Mem0InputError, MemoryOperationError } from "./errors.js";
import { requireScope, scopeContains, type MemoryScope } from "./scope.js";
import type { MetadataFilter } from "./stores/filters.js";

/** Owner ids may not appear in filters of a scoped view: the scope alone decides the owner. */
const OWNER_FILTER_KEYS = ["user_id", "agent_id", "run_id", "userId", "agentId", "runId"];

/** Options of {@link ScopedMemory.search}. */
export interface ScopedSearchOptions {
  topK?: number;
  threshold?: number;
  /** Metadata conditions (owner ids are refused: the scope decides them). */
  filters?: MetadataFilter;
  signal?: AbortSignal;
}

/** Options of {@link ScopedMemory.list}. */
export interface ScopedListOptions {
  topK?: number;
  cursor?: string;
  filters?: MetadataFilter;
}

/** Options of {@link ScopedMemory.add}. */
export interface ScopedAddOptions {
  metadata?: MemoryMetadata;
  /** Extract facts with the LLM (`true`) or store the text verbatim (`false`). */
  infer?: boolean;
  signal?: AbortSignal;
}

function checkFilters(filters: MetadataFilter | undefined): MetadataFilter | undefined {
  const owner = Object.keys(filters ?? {}).find((key) => OWNER_FILTER_KEYS.includes(key));
  if (owner) {
    throw new Mem0InputError(
      `filters.${owner} is not allowed here: the memory scope is fixed by configuration, ` +
        "not by filters. Filter on metadata fields only.",
    );
  }
  return filters;
}

/**
 * One owner's memories, and nobody else's: every operation runs inside the scope given at
 * construction. Reading, changing or forgetting a memory by id first checks that the memory
 * belongs to the scope, and answers a foreign id exactly like an unknown one, so a caller
 * cannot even learn that it exists. The memory tools, `Mem0Store`, the retriever and the
 * MCP server all go through it.
 */
export class ScopedMemory {
  readonly scope: MemoryScope;
  /** The write path: the same queue, durable outbox and tracing as `Mem0ChatModel`. */
  readonly writer: Mem0MemoryCallbackHandler;

  constructor(
    readonly backend: MemoryBackend,
    scope: MemoryScope,
    options: { handler?: Mem0MemoryCallbackHandler } = {},
  ) {
    this.scope = requireScope(scope);
    this.writer =
      options.handler ?? (storageHandler(backend, { store: "await" }) as Mem0MemoryCallbackHandler);
  }

  /** Memories relevant to the query, best first. */
  search(query: string, options: ScopedSearchOptions = {}): Promise<SearchResult> {
    if (typeof query !== "string" || query.trim() === "") {
      throw new Mem0InputError("A memory search needs a non-empty query.");
    }
    return this.backend.search(query, {
      ...this.scope,
      topK: options.topK,
      threshold: options.threshold,
      filters: checkFilters(options.filters),
      signal: options.signal,
    });
  }

  /** Stores text or messages through the write path and waits until they are applied. */
  async add(content: string | BaseMessage[], options: ScopedAddOptions = {}): Promise<AddResult> {
    const messages = typeof content === "string" ? [new HumanMessage(content)] : content;
    const outcome = await this.writer.write(
      messages,
      {
        scope: this.scope,
        metadata: options.metadata,
        infer: options.infer,
        signal: options.signal,
      },
      { wait: true },
    );
    if (!outcome) return { results: [] };
    if (!outcome.ok) {
      throw new MemoryOperationError("Storing the memory failed.", { cause: outcome.error });
    }
    return outcome.value;
  }

  /** The scope's memories, oldest first, a page at a time. */
  list(options: ScopedListOptions = {}): Promise<GetAllResult> {
    return this.managed("list memories").getAll({
      ...this.scope,
      topK: options.topK,
      cursor: options.cursor,
      filters: checkFilters(options.filters),
    });
  }

  /** The memory with this id, or `null` when there is none in this scope. */
  async get(memoryId: string): Promise<MemoryItem | null> {
    if (typeof memoryId !== "string" || memoryId.trim() === "") {
      throw new Mem0InputError("A memory id must be a non-empty string.");
    }
    const item = await this.managed("read a memory").get(memoryId);
    return item && scopeContains(this.scope, ownerOf(item)) ? item : null;
  }

  /** The memory with this id; throws when there is none in this scope. */
  async require(memoryId: string): Promise<MemoryItem> {
    const item = await this.get(memoryId);
    if (!item) {
      throw new Mem0InputError(
        `No memory with id "${memoryId}" in this memory scope; search or list memories to ` +
          "find the id.",
      );
    }
    return item;
  }

  /** Changes a memory of this scope (text, metadata or expiry). */
  async update(memoryId: string, change: string | UpdateMemoryOptions): Promise<MemoryItem> {
    await this.require(memoryId);
    const managed = this.managed("update a memory");
    await managed.update(memoryId, change);
    return (await managed.get(memoryId)) as MemoryItem;
  }

  /** Forgets a memory of this scope; resolves with what it said. */
  async delete(memoryId: string): Promise<MemoryItem> {
    const item = await this.require(memoryId);
    await this.managed("delete a memory").delete(memoryId);
    return item;
  }

  /** The change log of a memory of this scope, newest first. */
  async history(memoryId: string): Promise<MemoryHistoryEntry[]> {
    await this.require(memoryId);
    return this.managed("read a memory's history").history(memoryId);
  }

  private managed(action: string): ManagedMemoryBackend {
    if (!isManagedBackend(this.backend)) {
      throw new Mem0ConfigError(
        `This memory backend cannot ${action}: it has only search and add. Use a backend ` +
          "with get/getAll/update/delete/history, such as Memory.",
      );
    }
    return this.backend;
  }
}

import type { Pool } from "pg";
import { requireScope, type MemoryScope } from "../scope.js";
import type {
  AppliedChange,
  ApplyOptions,
  EpisodeStore,
  GraphStore,
  HistoryEntry,
  HistoryStore,
  ListOptions,
  ListPage,
  LoggedMessage,
  MemoryChange,
  MemoryStore,
  MessageMatch,
  MessageStore,
  OutboxEntry,
  OutboxStore,
  ProfileStore,
  ScoredMemory,
  StoredMemory,
  StoredMessage,
  StoredProfile,
  StoreSearchOptions,
} from "./base.js";
import { validateFilter } from "./filters.js";
import { GraphDelegate, type GraphPart } from "./graph_delegate.js";
import { dollar, PostgresConnection, type Queryable } from "./postgres_connection.js";
import { filterSql } from "./postgres_filters.js";
import { PostgresEmbedder } from "./postgres_embedder.js";
import { PostgresGraph } from "./postgres_graph.js";
import { PostgresMessages } from "./postgres_messages.js";
import { PostgresOutbox } from "./postgres_outbox.js";
import { PostgresProfiles } from "./postgres_profiles.js";
import { dropVectorIndexSql, schemaLockSql } from "./postgres_schema.js";
import { PostgresSearch } from "./postgres_search.js";
import { PostgresWriter } from "./postgres_writer.js";
import { ownerOf, scopeCondition } from "./scope_sql.js";
import {
  checkLimit,
  checkTopK,
  decodeCursor,
  DEFAULT_LIST_LIMIT,
  encodeCursor,
} from "./store_checks.js";
import {
  MEMORY_COLUMNS,
  toHistoryEntry,
  toMemory,
  type HistoryRow,
  type MemoryRow,
} from "./store_rows.js";

/**
 * A `pg` Pool, as far as the store's public types need to say (so projects that never use
 * Postgres need no `@types/pg`).
 */
export interface PostgresPool {
  connect(): Promise<unknown>;
  query(text: string, params?: unknown[]): Promise<unknown>;
  end(): Promise<void>;
}

/** Options of {@link PostgresStore}: give a `pool` or a `connectionString`. */
export interface PostgresStoreOptions {
  /** A `pg` Pool to use; the store does not end it on `close()`. */
  pool?: PostgresPool;
  /** Connection string for a pool the store creates and ends on `close()`. */
  connectionString?: string;
  /** Postgres schema holding the tables (created when missing). Default `"langchain_mem0"`. */
  schema?: string;
  /** Size of the pool the store creates from `connectionString`. Default 10. */
  maxConnections?: number;
  /**
   * Rank every vector of the searched scope exactly instead of using the HNSW index (exact
   * results, time linear in the scope's size). Default false.
   */
  exactSearch?: boolean;
  /** HNSW index parameters (pgvector's `m`, `ef_construction`, `hnsw.ef_search`). */
  hnsw?: { m?: number; efConstruction?: number; efSearch?: number };
}

export const DEFAULT_POSTGRES_SCHEMA = "langchain_mem0";

/**
 * Memories, vectors (pgvector, HNSW cosine index), keyword index (`tsvector`), history,
 * messages (with episode recall), profiles, graph and the durable outbox in Postgres, shared by any number of app instances.
 * The schema is created and migrated on first use, under an advisory lock. Writes of one owner
 * serialise across processes on the owner's version row (see postgres_writer.ts).
 */
export class PostgresStore
  extends GraphDelegate
  implements
    MemoryStore,
    HistoryStore,
    MessageStore,
    GraphStore,
    OutboxStore,
    ProfileStore,
    EpisodeStore
{
  private readonly connection: PostgresConnection;
  private readonly graph: PostgresGraph;
  private readonly outbox: PostgresOutbox;
  private readonly messages: PostgresMessages;
  private readonly profiles: PostgresProfiles;
  private readonly search: PostgresSearch;
  private readonly writer: PostgresWriter;
  private readonly embedder: PostgresEmbedder;

  constructor(options: PostgresStoreOptions) {
    super();
    const schema = options?.schema ?? DEFAULT_POSTGRES_SCHEMA;
    this.connection = new PostgresConnection({
      pool: options?.pool as Pool | undefined,
      connectionString: options?.connectionString,
      schema,
      maxConnections: options?.maxConnections ?? 10,
    });
    const embedder = new PostgresEmbedder(this.connection, {
      m: options.hnsw?.m ?? 16,
      efConstruction: options.hnsw?.efConstruction ?? 64,
    });
    this.embedder = embedder;
    const vectors = {
      connection: this.connection,
      dimensions: (q?: Queryable) => embedder.dimensions(q),
      prepareVector: (q: Queryable, vector: number[], what: string) =>
        embedder.prepareVector(q, vector, what),
      queryVector: (vector: number[], dims: number) => embedder.queryVector(vector, dims),
    };
    this.graph = new PostgresGraph(vectors);
    this.outbox = new PostgresOutbox(this.connection);
    this.search = new PostgresSearch({
      ...vectors,
      checkSearch: (scope, searchOptions) => this.checkSearch(scope, searchOptions),
      exactSearch: options.exactSearch ?? false,
      efSearch: options.hnsw?.efSearch ?? 100,
    });
    this.messages = new PostgresMessages({
      connection: this.connection,
      checkSearch: (scope, searchOptions) => this.checkSearch(scope, searchOptions),
    });
    this.profiles = new PostgresProfiles({
      connection: this.connection,
      addHistory: (...entry) => this.writer.addHistory(...entry),
    });
    this.writer = new PostgresWriter({
      ...vectors,
      graph: this.graph,
      outbox: this.outbox,
      messages: this.messages,
      profiles: this.profiles,
    });
  }

  /** The Postgres schema holding this store's tables. */
  get schema(): string {
    return this.connection.schema;
  }

  private get s(): string {
    return this.connection.schema;
  }

  protected get graphPart(): GraphPart {
    return this.graph;
  }

  private checkSearch(scope: MemoryScope, options: StoreSearchOptions): MemoryScope {
    this.connection.assertOpen();
    checkTopK(options.topK);
    if (options.filters !== undefined) validateFilter(options.filters);
    return requireScope(scope);
  }

  // ---------------------------------------------------------------- MemoryStore

  async ensureEmbedder(model: string, dimensions: number): Promise<void> {
    this.connection.assertOpen();
    await this.embedder.ensure(model, dimensions);
  }

  async vectorSearch(
    vector: number[],
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]> {
    return this.search.vectorSearch(vector, scope, options);
  }

  async keywordSearch(
    query: string,
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]> {
    return this.search.keywordSearch(query, scope, options);
  }

  async neighbors(ids: string[], scope: MemoryScope): Promise<Map<string, string[]>> {
    this.connection.assertOpen();
    return this.search.neighbors(ids, requireScope(scope));
  }

  async similarities(vector: number[], ids: string[]): Promise<Map<string, number>> {
    this.connection.assertOpen();
    return this.search.similarities(vector, ids);
  }

  async embeddings(ids: string[]): Promise<Map<string, number[]>> {
    const rows = await this.connection.query<{ id: string; embedding: string }>(
      `SELECT id, embedding::text AS embedding FROM ${this.s}.memories WHERE id = ANY($1)`,
      [[...new Set(ids)]],
    );
    // pgvector's text form is a JSON array.
    return new Map(rows.map((row) => [row.id, JSON.parse(row.embedding) as number[]]));
  }

  async get(id: string): Promise<StoredMemory | undefined> {
    const rows = await this.connection.query<MemoryRow>(
      `SELECT ${MEMORY_COLUMNS} FROM ${this.s}.memories m WHERE m.id = $1`,
      [id],
    );
    return rows[0] ? toMemory(rows[0]) : undefined;
  }

  async list(scope: MemoryScope, options: ListOptions = {}): Promise<ListPage> {
    this.connection.assertOpen();
    const queryScope = requireScope(scope);
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    checkLimit(limit, false);
    if (options.filters !== undefined) validateFilter(options.filters);
    const after = options.cursor !== undefined ? decodeCursor(options.cursor) : undefined;
    const { sql, params } = scopeCondition(queryScope, "m.", dollar);
    const all: unknown[] = [...params];
    let where = sql;
    if (after) {
      all.push(after[0], after[1]);
      // Byte order ("C"), as ISO times and ids compare on SQLite, whatever the database's collation.
      where += ` AND (m.created_at COLLATE "C", m.id COLLATE "C") > ($${all.length - 1}, $${all.length})`;
    }
    if (options.filters) where += ` AND ${filterSql(options.filters, "m.metadata", all)}`;
    all.push(limit + 1);
    const rows = await this.connection.query<MemoryRow>(
      `SELECT ${MEMORY_COLUMNS} FROM ${this.s}.memories m WHERE ${where}
       ORDER BY m.created_at COLLATE "C", m.id COLLATE "C" LIMIT $${all.length}`,
      all,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toMemory),
      ...(rows.length > limit && last
        ? { nextCursor: encodeCursor(last.created_at, last.id) }
        : {}),
    };
  }

  async apply(changes: MemoryChange[], options: ApplyOptions = {}): Promise<AppliedChange[]> {
    this.connection.assertOpen();
    const { graph, messages, outboxId, profile } = options;
    if (changes.length === 0 && !graph?.length && !messages && !outboxId && !profile) return [];
    return this.writer.apply(changes, options);
  }

  async version(scope: MemoryScope): Promise<string> {
    this.connection.assertOpen();
    return this.outbox.version(requireScope(scope));
  }

  async deleteScope(scope: MemoryScope): Promise<number> {
    this.connection.assertOpen();
    const target = requireScope(scope);
    const { sql, params } = scopeCondition(target, "", dollar);
    return this.connection.transaction(async (client) => {
      const removed = await client.query<{
        user_id: string | null;
        agent_id: string | null;
        run_id: string | null;
      }>(`DELETE FROM ${this.s}.memories WHERE ${sql} RETURNING user_id, agent_id, run_id`, params);
      await client.query(`DELETE FROM ${this.s}.history WHERE ${sql}`, params);
      await client.query(`DELETE FROM ${this.s}.messages WHERE ${sql}`, params);
      await this.profiles.deleteScope(client, target);
      await this.graph.deleteScope(client, target);
      await this.outbox.deleteScope(client, target);
      await this.outbox.bump(client, [target, ...removed.rows.map(ownerOf)]);
      return removed.rows.length;
    });
  }

  async reset(): Promise<void> {
    this.connection.assertOpen();
    const s = this.s;
    await this.connection.transaction(async (client) => {
      await client.query(schemaLockSql(s));
      await client.query(
        `TRUNCATE ${s}.memories, ${s}.history, ${s}.messages, ${s}.profiles, ${s}.meta,
           ${s}.edges, ${s}.entity_aliases, ${s}.entities, ${s}.outbox, ${s}.scope_versions;
         ${dropVectorIndexSql(s)}`,
      );
    });
    this.embedder.forget();
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  // ---------------------------------------------------------------- OutboxStore

  async putOutbox(entry: Pick<OutboxEntry, "id" | "owner" | "payload" | "createdAt">) {
    await this.outbox.put(entry);
  }

  async getOutbox(id: string): Promise<OutboxEntry | undefined> {
    return this.outbox.get(id);
  }

  async listOutbox(scope?: MemoryScope): Promise<OutboxEntry[]> {
    return this.outbox.list(scope);
  }

  async claimOutbox(id: string, holder: string, until: string): Promise<boolean> {
    return this.outbox.claim(id, holder, until);
  }

  async failOutbox(id: string, error: string): Promise<void> {
    await this.outbox.fail(id, error);
  }

  // ---------------------------------------------------------------- History and messages

  async history(memoryId: string): Promise<HistoryEntry[]> {
    const rows = await this.connection.query<HistoryRow>(
      `SELECT id, memory_id, event, previous, next, actor, created_at FROM ${this.s}.history
       WHERE memory_id = $1 ORDER BY created_at, id`,
      [memoryId],
    );
    return rows.map(toHistoryEntry);
  }

  async appendMessages(scope: MemoryScope, messages: StoredMessage[]): Promise<void> {
    this.connection.assertOpen();
    const owner = requireScope(scope);
    if (messages.length === 0) return;
    await this.connection.transaction((client) => this.messages.insert(client, owner, messages));
  }

  async recentMessages(scope: MemoryScope, limit: number): Promise<StoredMessage[]> {
    this.connection.assertOpen();
    const owner = requireScope(scope);
    checkLimit(limit, true);
    if (limit === 0) return [];
    return this.messages.recent(owner, limit);
  }

  // ---------------------------------------------------------------- Profiles and episodes

  async getProfile(owner: MemoryScope): Promise<StoredProfile | undefined> {
    this.connection.assertOpen();
    return this.profiles.get(owner);
  }

  async searchMessages(
    vector: number[],
    query: string,
    scope: MemoryScope,
    options: { topK: number },
  ): Promise<MessageMatch[]> {
    return this.messages.search(vector, query, scope, options);
  }

  async messageWindows(ids: string[], window: number): Promise<LoggedMessage[][]> {
    return this.messages.windows(ids, window);
  }
}

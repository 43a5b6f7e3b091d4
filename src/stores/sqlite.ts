import path from "node:path";
import type Database from "better-sqlite3";
import { Mem0ClosedError, Mem0ConfigError } from "../errors.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
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
import { matchesFilter, validateFilter, type MetadataFilter } from "./filters.js";
import { GraphDelegate } from "./graph_delegate.js";
import { ownerOf, scopeCondition } from "./scope_sql.js";
import { SqliteGraph } from "./sqlite_graph.js";
import { SqliteEpisodes } from "./sqlite_episodes.js";
import { SqliteOutbox } from "./sqlite_outbox.js";
import { SqliteProfiles } from "./sqlite_profiles.js";
import { SqliteMeta } from "./sqlite_meta.js";
import { migrateDatabase, openDatabase } from "./sqlite_schema.js";
import { IndexFiles } from "./index_files.js";
import { textTerms } from "./keyword_index.js";
import { SqliteSearch } from "./sqlite_search.js";
import { SqliteWriter, type SqliteMemoryRow } from "./sqlite_writer.js";
import { jsKernel, nativeKernel } from "./vector_index.js";
import {
  checkLimit,
  checkTopK,
  checkVector,
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

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * Path of the database file; parent directories are created. `":memory:"` keeps everything
   * in memory (tests). Default `"./.langchain-mem0/memory.db"`.
   */
  path?: string;
  /**
   * Upper bound, in bytes, of the in-memory vector caches (one per searched scope, least
   * recently used dropped first). Default 512 MiB.
   */
  cacheBudgetBytes?: number;
  /** How long a write waits for another connection's lock, in milliseconds. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * Scope size (memories visible from a searched scope) from which vector search scans an
   * int8 copy of the scope's vectors and re-scores its candidates exactly (the copy is saved
   * next to the file in `<path>-index/`); smaller scopes are searched exactly on float vectors
   * in memory, and from a quarter of this size save their keyword state there too. Default
   * {@link DEFAULT_APPROXIMATE_FROM}; `Infinity` keeps every search exact and saves nothing.
   * Needs the optional `usearch` package; without it search stays exact.
   */
  approximateFrom?: number;
  /**
   * Use the native vector kernel (the optional `usearch` package) when it can be loaded.
   * Default true; false searches in plain JavaScript (same results, slower on large scopes).
   */
  nativeVectorSearch?: boolean;
}

/**
 * Default {@link SqliteStoreOptions.approximateFrom}: below it the float vectors of a scope
 * stay in memory (exact search about 1 ms per query at 10k, bench/); above it the int8 copy
 * takes a quarter of the memory and bandwidth at the same top-K.
 */
export const DEFAULT_APPROXIMATE_FROM = 20_000;

export const DEFAULT_SQLITE_PATH = "./.langchain-mem0/memory.db";
const DEFAULT_CACHE_BUDGET = 512 * 1024 * 1024;
/** Address space mapped for reads; pages are the file's, shared with the OS cache. */
const MMAP_BYTES = 4 * 1024 * 1024 * 1024;

/**
 * The embedded default store: memories, their vectors, the change history, recent messages,
 * the graph and the durable outbox in one SQLite file (better-sqlite3). Search runs on
 * in-memory state per searched scope (sqlite_search.ts): a BM25 keyword index with the
 * scope's own statistics, and the scope's vectors, searched exactly or, from
 * `approximateFrom` memories, through an int8 copy saved in `<path>-index/`.
 */
export class SqliteStore
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
  /** The file path (or `":memory:"`). */
  readonly path: string;
  private readonly db: Database.Database;
  private closed = false;
  private parsedFilterJson?: string;
  private parsedFilter?: MetadataFilter;
  private readonly scopedStatements = new Map<string, Database.Statement>();
  private readonly stmt: ReturnType<SqliteStore["prepareStatements"]>;
  private readonly graph: SqliteGraph;
  private readonly outbox: SqliteOutbox;
  private readonly search: SqliteSearch;
  private readonly writer: SqliteWriter;
  private readonly meta: SqliteMeta;
  private readonly profiles: SqliteProfiles;
  private readonly episodes: SqliteEpisodes;

  constructor(options: SqliteStoreOptions = {}) {
    super();
    this.path = options.path ?? DEFAULT_SQLITE_PATH;
    const budget = options.cacheBudgetBytes ?? DEFAULT_CACHE_BUDGET;
    if (!(budget >= 0))
      throw new Mem0ConfigError("cacheBudgetBytes must be a non-negative number.");
    const approximateFrom = options.approximateFrom ?? DEFAULT_APPROXIMATE_FROM;
    if (!(approximateFrom >= 0)) {
      throw new Mem0ConfigError("approximateFrom must be a non-negative number (or Infinity).");
    }
    this.db = openDatabase(this.path, options.busyTimeoutMs ?? 5000);
    try {
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma("foreign_keys = ON");
      // Deleted rows are overwritten with zeros, so forgotten text does not linger in free pages.
      this.db.pragma("secure_delete = ON");
      // Reads through a memory map: a search's rows cost no read call each (about half the
      // time of fetching 40 rows of a 100k-memory file, bench/); writes still go through WAL.
      this.db.pragma(`mmap_size = ${MMAP_BYTES}`);
      this.db.function("mem0_match", { deterministic: true }, (metadata, filterJson) =>
        matchesFilter(
          JSON.parse(metadata as string) as Record<string, unknown>,
          this.filterFromJson(filterJson as string),
        )
          ? 1
          : 0,
      );
      migrateDatabase(this.db, this.path);
      this.stmt = this.prepareStatements();
      this.meta = new SqliteMeta(this.db, this.path);
      const scoped = (kind: string, mask: string, build: () => string) =>
        this.scoped(kind, mask, build);
      const transaction = <T>(fn: () => T): T => this.db.transaction(fn).immediate();
      this.graph = new SqliteGraph({
        db: this.db,
        path: this.path,
        scopeCondition,
        scoped,
        dimensions: () => this.meta.dimensions(),
        recordDimensions: (dims) => this.meta.recordDimensions(dims),
        checkVector: (vector, dims, what) => this.checkVector(vector, dims, what),
        assertOpen: () => this.assertOpen(),
        transaction,
      });
      this.outbox = new SqliteOutbox({
        db: this.db,
        scopeCondition: (scope) => scopeCondition(scope),
        scoped,
        transaction,
      });
      const search = {
        db: this.db,
        path: this.path,
        scoped,
        recordedDimensions: () => this.meta.dimensions(),
        checkVector: (vector: number[], dims: number, what: string) =>
          this.checkVector(vector, dims, what),
        checkSearch: (scope: MemoryScope, options: StoreSearchOptions) =>
          this.checkSearch(scope, options),
        assertOpen: () => this.assertOpen(),
        storeId: () => this.meta.storeId(),
        version: (scope: MemoryScope) => this.outbox.version(scope),
      };
      const onDisk = this.path !== ":memory:" && this.path !== "" && !this.path.startsWith("file:");
      this.search = new SqliteSearch(search, {
        budgetBytes: budget,
        kernel: (options.nativeVectorSearch !== false && nativeKernel()) || jsKernel,
        approximateFrom,
        indexFiles: onDisk ? new IndexFiles(`${path.resolve(this.path)}-index`) : undefined,
      });
      this.profiles = new SqliteProfiles({
        db: this.db,
        scopeCondition,
        scoped,
        addHistory: (...entry) => this.writer.addHistory(...entry),
      });
      this.episodes = new SqliteEpisodes({ db: this.db, scopeCondition, scoped, terms: textTerms });
      this.writer = new SqliteWriter({
        db: this.db,
        graph: this.graph,
        outbox: this.outbox,
        profiles: this.profiles,
        episodes: this.episodes,
        getRow: (id) => this.stmt.getById.get(id) as SqliteMemoryRow | undefined,
        recordedDimensions: () => this.meta.dimensions(),
        recordDimensions: (dims) => this.meta.recordDimensions(dims),
        checkVector: (vector, dims, what) => this.checkVector(vector, dims, what),
        scoped,
      });
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /** The schema version of the open file. */
  get schemaVersion(): number {
    return this.db.pragma("user_version", { simple: true }) as number;
  }

  private prepareStatements() {
    const db = this.db;
    return {
      getById: db.prepare(`SELECT m.seq, ${MEMORY_COLUMNS} FROM memories m WHERE m.id = ?`),
      history: db.prepare(
        `SELECT id, memory_id, event, previous, next, actor, created_at FROM history
         WHERE memory_id = ? ORDER BY created_at, id`,
      ),
      recentMessages: db.prepare(
        `SELECT role, content, created_at FROM messages WHERE scope_key = ? ORDER BY id DESC LIMIT ?`,
      ),
    };
  }

  /** A statement whose WHERE clause depends on which scope ids are given, prepared once per shape. */
  private scoped(kind: string, mask: string, build: () => string): Database.Statement {
    const key = `${kind}:${mask}`;
    let statement = this.scopedStatements.get(key);
    if (!statement) {
      statement = this.db.prepare(build());
      this.scopedStatements.set(key, statement);
    }
    return statement;
  }

  private filterFromJson(json: string): MetadataFilter {
    if (json !== this.parsedFilterJson || !this.parsedFilter) {
      this.parsedFilter = JSON.parse(json) as MetadataFilter;
      this.parsedFilterJson = json;
    }
    return this.parsedFilter;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new Mem0ClosedError(
        `SqliteStore(${this.path}) is closed; create a new store to use the file again.`,
      );
    }
  }

  private checkVector(vector: number[], dims: number, what: string): void {
    checkVector(vector, dims, what, this.path);
  }

  // ---------------------------------------------------------------- MemoryStore

  /**
   * The embedder the store was built with (`Class:model` and dimensions), or `undefined`
   * before the first vector; for tools that must open a store with the right embedder.
   */
  async recordedEmbedder(): Promise<{ model?: string; dimensions?: number } | undefined> {
    this.assertOpen();
    return this.meta.embedder();
  }

  async ensureEmbedder(model: string, dimensions: number): Promise<void> {
    this.assertOpen();
    this.meta.ensureEmbedder(model, dimensions);
  }

  /** Validates a search's scope and options; returns the scope with only defined ids. */
  private checkSearch(scope: MemoryScope, options: StoreSearchOptions): MemoryScope {
    this.assertOpen();
    checkTopK(options.topK);
    if (options.filters !== undefined) validateFilter(options.filters);
    return requireScope(scope);
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
    this.assertOpen();
    return this.search.neighbors(ids, requireScope(scope));
  }

  async similarities(vector: number[], ids: string[]): Promise<Map<string, number>> {
    return this.search.similarities(vector, ids);
  }

  async embeddings(ids: string[]): Promise<Map<string, number[]>> {
    this.assertOpen();
    return this.search.embeddings(ids);
  }

  async get(id: string): Promise<StoredMemory | undefined> {
    this.assertOpen();
    const row = this.stmt.getById.get(id) as MemoryRow | undefined;
    return row ? toMemory(row) : undefined;
  }

  async list(scope: MemoryScope, options: ListOptions = {}): Promise<ListPage> {
    this.assertOpen();
    const queryScope = requireScope(scope);
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    checkLimit(limit, false);
    if (options.filters !== undefined) validateFilter(options.filters);
    const after = options.cursor !== undefined ? decodeCursor(options.cursor) : undefined;
    const filtered = options.filters !== undefined;
    const { mask, sql, params } = scopeCondition(queryScope, "m.");
    const statement = this.scoped(
      `list:${filtered ? "f" : ""}${after ? "c" : ""}`,
      mask,
      () =>
        `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE ${sql}` +
        (after ? " AND (m.created_at > ? OR (m.created_at = ? AND m.id > ?))" : "") +
        (filtered ? " AND mem0_match(m.metadata, ?)" : "") +
        " ORDER BY m.created_at, m.id LIMIT ?",
    );
    const args: unknown[] = [...params];
    if (after) args.push(after[0], after[0], after[1]);
    if (filtered) args.push(JSON.stringify(options.filters));
    args.push(limit + 1);
    const rows = statement.all(...args) as MemoryRow[];
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
    this.assertOpen();
    const { graph, messages, outboxId, profile } = options;
    if (changes.length === 0 && !graph?.length && !messages && !outboxId && !profile) return [];
    const { results, cacheOps } = this.writer.apply(changes, options);
    // Committed: bring the cached scopes up to date without reloading them.
    this.search.applyCommitted(cacheOps);
    return results;
  }

  async deleteScope(scope: MemoryScope): Promise<number> {
    this.assertOpen();
    const target = requireScope(scope);
    const removed = this.writer.deleteScope(target);
    this.search.applyCommitted(
      removed.map((row) => ({ type: "delete", owner: ownerOf(row), id: row.id, text: row.text })),
    );
    this.search.forgetIndexes(target, removed.map(ownerOf));
    this.scrubWal();
    return removed.length;
  }

  /**
   * Empties the write-ahead log into the database file (whose freed pages secure_delete has
   * zeroed), so deleted text is not left readable in the -wal file. Busy readers only delay it.
   */
  private scrubWal(): void {
    if (this.path !== ":memory:") this.db.pragma("wal_checkpoint(TRUNCATE)");
  }

  async reset(): Promise<void> {
    this.assertOpen();
    this.writer.clear();
    this.search.reset();
    this.scrubWal();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.search.close();
    this.scopedStatements.clear();
    this.db.close();
  }

  async version(scope: MemoryScope): Promise<string> {
    this.assertOpen();
    return this.outbox.version(requireScope(scope));
  }

  // ---------------------------------------------------------------- OutboxStore

  async putOutbox(entry: Pick<OutboxEntry, "id" | "owner" | "payload" | "createdAt">) {
    this.assertOpen();
    this.db.transaction(() => this.outbox.put(entry)).immediate();
  }

  async getOutbox(id: string): Promise<OutboxEntry | undefined> {
    this.assertOpen();
    return this.outbox.get(id);
  }

  async listOutbox(scope?: MemoryScope): Promise<OutboxEntry[]> {
    this.assertOpen();
    return this.outbox.list(scope);
  }

  async claimOutbox(id: string, holder: string, until: string): Promise<boolean> {
    this.assertOpen();
    return this.outbox.claim(id, holder, until);
  }

  async failOutbox(id: string, error: string): Promise<void> {
    this.assertOpen();
    this.outbox.fail(id, error);
  }

  // ---------------------------------------------------------------- HistoryStore

  async getProfile(owner: MemoryScope): Promise<StoredProfile | undefined> {
    this.assertOpen();
    return this.profiles.get(owner);
  }

  async searchMessages(
    vector: number[],
    query: string,
    scope: MemoryScope,
    options: { topK: number },
  ): Promise<MessageMatch[]> {
    const queryScope = this.checkSearch(scope, options);
    if (options.topK === 0) return [];
    return this.episodes.search(vector, String(query ?? ""), queryScope, options.topK);
  }

  async messageWindows(ids: string[], window: number): Promise<LoggedMessage[][]> {
    this.assertOpen();
    return this.episodes.windows(ids, window);
  }

  async history(memoryId: string): Promise<HistoryEntry[]> {
    this.assertOpen();
    return (this.stmt.history.all(memoryId) as HistoryRow[]).map(toHistoryEntry);
  }

  // ---------------------------------------------------------------- MessageStore

  async appendMessages(scope: MemoryScope, messages: StoredMessage[]): Promise<void> {
    this.assertOpen();
    const owner = requireScope(scope);
    if (messages.length === 0) return;
    this.db.transaction(() => this.writer.insertMessages(owner, messages)).immediate();
  }

  async recentMessages(scope: MemoryScope, limit: number): Promise<StoredMessage[]> {
    this.assertOpen();
    const owner = requireScope(scope);
    checkLimit(limit, true);
    if (limit === 0) return [];
    const rows = this.stmt.recentMessages.all(scopeKey(owner), limit) as {
      role: string;
      content: string;
      created_at: string;
    }[];
    return rows
      .reverse()
      .map((row) => ({ role: row.role, content: row.content, createdAt: row.created_at }));
  }

  protected get graphPart(): SqliteGraph {
    return this.graph;
  }
}

import fs from "node:fs";
import path from "node:path";
import type Database from "better-sqlite3";
import type { MemoryMetadata } from "../backends/base.js";
import {
  EmbedderMismatchError,
  Mem0ClosedError,
  Mem0ConfigError,
  Mem0Error,
  Mem0InputError,
  StaleWriteError,
} from "../errors.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type {
  AppliedChange,
  ApplyOptions,
  EdgeValidity,
  EntityMatch,
  EpisodeStore,
  GraphChange,
  GraphEdge,
  GraphEntity,
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
import { loadSqliteDriver } from "./sqlite_driver.js";
import { GRAPH_MIGRATION_SQL, SqliteGraph } from "./sqlite_graph.js";
import { OUTBOX_MIGRATION_SQL, SqliteOutbox } from "./sqlite_outbox.js";
import { PROFILE_MIGRATION_SQL, SqliteProfiles } from "./sqlite_profiles.js";
import { EPISODE_MIGRATION_SQL, SqliteEpisodes } from "./sqlite_episodes.js";
import {
  blobToVector,
  normalizeVector,
  ScopeVectors,
  vectorToBlob,
  VectorCache,
} from "./vector_cache.js";

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
}

export const DEFAULT_SQLITE_PATH = "./.langchain-mem0/memory.db";
const DEFAULT_CACHE_BUDGET = 512 * 1024 * 1024;
const DEFAULT_LIST_LIMIT = 100;

/** One schema step; steps are applied in order and never edited once released. */
interface Migration {
  version: number;
  description: string;
  sql: string;
}

/** The schema history. Append new steps (e.g. graph tables); never change released ones. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "memories, keyword index, history, messages, meta",
    sql: `
      CREATE TABLE memories (
        seq INTEGER PRIMARY KEY,           -- stable integer rowid for the FTS index
        id TEXT NOT NULL UNIQUE,
        user_id TEXT,
        agent_id TEXT,
        run_id TEXT,
        scope_key TEXT NOT NULL,
        text TEXT NOT NULL,
        hash TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        embedding BLOB NOT NULL,           -- Float32 little-endian, unit length
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (scope_key, hash)
      );
      CREATE INDEX memories_user ON memories (user_id, created_at, id);
      CREATE INDEX memories_agent ON memories (agent_id, created_at, id);
      CREATE INDEX memories_run ON memories (run_id, created_at, id);

      CREATE VIRTUAL TABLE memories_fts USING fts5 (
        text,
        content = 'memories',
        content_rowid = 'seq',
        tokenize = 'unicode61 remove_diacritics 2'
      );
      CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
        INSERT INTO memories_fts (rowid, text) VALUES (new.seq, new.text);
      END;
      CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
        INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.seq, old.text);
      END;
      CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN
        INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.seq, old.text);
        INSERT INTO memories_fts (rowid, text) VALUES (new.seq, new.text);
      END;

      CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        memory_id TEXT NOT NULL,
        user_id TEXT,
        agent_id TEXT,
        run_id TEXT,
        event TEXT NOT NULL CHECK (event IN ('ADD', 'UPDATE', 'DELETE')),
        previous TEXT,
        next TEXT,
        actor TEXT,
        created_at TEXT NOT NULL
      );
      CREATE INDEX history_memory ON history (memory_id, created_at, id);
      CREATE INDEX history_user ON history (user_id);
      CREATE INDEX history_agent ON history (agent_id);
      CREATE INDEX history_run ON history (run_id);

      CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scope_key TEXT NOT NULL,
        user_id TEXT,
        agent_id TEXT,
        run_id TEXT,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX messages_scope ON messages (scope_key, id);
      CREATE INDEX messages_user ON messages (user_id);
      CREATE INDEX messages_agent ON messages (agent_id);
      CREATE INDEX messages_run ON messages (run_id);

      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: "keyword index with the Porter stemmer (English word forms match)",
    // The triggers of version 1 address the table by name and keep working on the new one.
    sql: `
      DROP TABLE memories_fts;
      CREATE VIRTUAL TABLE memories_fts USING fts5 (
        text,
        content = 'memories',
        content_rowid = 'seq',
        tokenize = 'porter unicode61 remove_diacritics 2'
      );
      INSERT INTO memories_fts (memories_fts) VALUES ('rebuild');
    `,
  },
  {
    version: 3,
    description: "graph memory: entities, aliases, edges",
    sql: GRAPH_MIGRATION_SQL,
  },
  {
    version: 4,
    description: "durable outbox, owner versions, secure delete in the keyword index",
    sql: OUTBOX_MIGRATION_SQL,
  },
  {
    version: 5,
    description: "profiles (working memory), versions in history",
    sql: PROFILE_MIGRATION_SQL,
  },
  {
    version: 6,
    description: "episode recall: a vector per logged message",
    sql: EPISODE_MIGRATION_SQL,
  },
];

const META_MODEL = "embedder_model";
const META_DIMS = "embedder_dimensions";

/** Words too common to help a keyword search (dropped unless the query has nothing else). */
const STOP_WORDS = new Set(
  (
    "a an and are as at be been but by did do does for from had has have he her his i if in into is " +
    "it its me my of on or our she so than that the their them then there these they this to was " +
    "we were what when where which who whom why will with you your"
  ).split(" "),
);
const MAX_QUERY_TOKENS = 64;

/**
 * The words of free text as quoted FTS5 phrases (stop words dropped unless nothing else is
 * left), so no user input can produce an FTS syntax error.
 */
export function ftsPhrases(text: string): string[] {
  const words =
    text
      .normalize("NFKC")
      .toLowerCase()
      .match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
  const unique = [...new Set(words)];
  const useful = unique.filter((word) => !STOP_WORDS.has(word));
  const tokens = (useful.length > 0 ? useful : unique).slice(0, MAX_QUERY_TOKENS);
  return tokens.map((token) => `"${token.replaceAll('"', '""')}"`);
}

/**
 * Turns free text into a safe FTS5 query: every word is quoted as its own phrase and the
 * phrases are ORed. Returns `undefined` when the text has no word.
 */
export function buildFtsQuery(text: string): string | undefined {
  const phrases = ftsPhrases(text);
  return phrases.length > 0 ? phrases.join(" OR ") : undefined;
}

interface MemoryRow {
  id: string;
  user_id: string | null;
  agent_id: string | null;
  run_id: string | null;
  scope_key: string;
  text: string;
  hash: string;
  metadata: string;
  created_at: string;
  updated_at: string;
}

interface HistoryRow {
  id: number;
  memory_id: string;
  event: HistoryEntry["event"];
  previous: string | null;
  next: string | null;
  actor: string | null;
  created_at: string;
}

/**
 * Opens (or creates) the database file in WAL mode. Failing to create the directory or the
 * file, or to write it, is a configuration problem named with the full path.
 */
function openDatabase(file: string, busyTimeoutMs: number): Database.Database {
  const Driver = loadSqliteDriver();
  const onDisk = file !== ":memory:" && file !== "" && !file.startsWith("file:");
  let db: Database.Database | undefined;
  try {
    if (onDisk) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    db = new Driver(file);
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    db.pragma("journal_mode = WAL");
    return db;
  } catch (error) {
    db?.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Mem0ConfigError(
      `Cannot open the memory store at ${onDisk ? path.resolve(file) : file} (${reason}). ` +
        "Check that its directory exists or can be created and is writable by this process, " +
        'or pass another path (":memory:" keeps memories in memory only).',
      { cause: error },
    );
  }
}

/** Columns of a memory row without the embedding. */
const MEMORY_COLUMNS =
  "m.id, m.user_id, m.agent_id, m.run_id, m.scope_key, m.text, m.hash, m.metadata, m.created_at, m.updated_at";

const SCOPE_COLUMNS = [
  ["userId", "user_id"],
  ["agentId", "agent_id"],
  ["runId", "run_id"],
] as const;

function ownerOf(row: {
  user_id: string | null;
  agent_id: string | null;
  run_id: string | null;
}): MemoryScope {
  const owner: MemoryScope = {};
  if (row.user_id !== null) owner.userId = row.user_id;
  if (row.agent_id !== null) owner.agentId = row.agent_id;
  if (row.run_id !== null) owner.runId = row.run_id;
  return owner;
}

function toMemory(row: MemoryRow): StoredMemory {
  return {
    id: row.id,
    text: row.text,
    hash: row.hash,
    metadata: JSON.parse(row.metadata) as MemoryMetadata,
    ...ownerOf(row),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** SQL condition `alias.user_id = ? AND ...` for the ids the scope gives, plus its parameters. */
function scopeCondition(
  scope: MemoryScope,
  alias = "",
): { mask: string; sql: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  let mask = "";
  for (const [key, column] of SCOPE_COLUMNS) {
    const value = scope[key];
    if (value === undefined) {
      mask += "0";
      continue;
    }
    mask += "1";
    parts.push(`${alias}${column} = ?`);
    params.push(value);
  }
  return { mask, sql: parts.join(" AND "), params };
}

function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id]), "utf8").toString("base64url");
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === "string" &&
      typeof value[1] === "string"
    ) {
      return [value[0], value[1]];
    }
  } catch {
    // fall through
  }
  throw new Mem0InputError(
    "Invalid list cursor: pass the nextCursor of a previous page unchanged.",
  );
}

function checkTopK(topK: number): void {
  if (!Number.isInteger(topK) || topK < 0) {
    throw new Mem0InputError(`topK must be a non-negative integer, got ${String(topK)}.`);
  }
}

type CacheOp =
  | {
      type: "upsert";
      owner: MemoryScope;
      id: string;
      vector: Float32Array;
      metadata: MemoryMetadata;
    }
  | { type: "delete"; owner: MemoryScope; id: string };

/**
 * The embedded default store: memories, their vectors, a BM25 keyword index, the change
 * history and recent messages in one SQLite file (better-sqlite3).
 *
 * Vector search is an exact cosine scan over an in-memory cache per searched scope, kept up to
 * date by this instance's writes and dropped when another connection writes the file.
 */
export class SqliteStore
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
  private readonly cache: VectorCache;
  private closed = false;
  private lastDataVersion: number;
  private parsedFilterJson?: string;
  private parsedFilter?: MetadataFilter;
  private readonly scopedStatements = new Map<string, Database.Statement>();
  private readonly stmt: ReturnType<SqliteStore["prepareStatements"]>;
  private readonly graph: SqliteGraph;
  private readonly outbox: SqliteOutbox;
  private readonly profiles: SqliteProfiles;
  private readonly episodes: SqliteEpisodes;

  constructor(options: SqliteStoreOptions = {}) {
    this.path = options.path ?? DEFAULT_SQLITE_PATH;
    const budget = options.cacheBudgetBytes ?? DEFAULT_CACHE_BUDGET;
    if (!(budget >= 0))
      throw new Mem0ConfigError("cacheBudgetBytes must be a non-negative number.");
    this.db = openDatabase(this.path, options.busyTimeoutMs ?? 5000);
    try {
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma("foreign_keys = ON");
      // Deleted rows are overwritten with zeros, so forgotten text does not linger in free pages.
      this.db.pragma("secure_delete = ON");
      this.db.function("mem0_match", { deterministic: true }, (metadata, filterJson) =>
        matchesFilter(
          JSON.parse(metadata as string) as Record<string, unknown>,
          this.filterFromJson(filterJson as string),
        )
          ? 1
          : 0,
      );
      this.migrate();
      this.stmt = this.prepareStatements();
      this.graph = new SqliteGraph({
        db: this.db,
        path: this.path,
        scopeCondition,
        scoped: (kind, mask, build) => this.scoped(kind, mask, build),
        dimensions: () => this.recordedDimensions(),
        recordDimensions: (dims) => this.stmt.metaSet.run(META_DIMS, String(dims)),
        checkVector: (vector, dims, what) => this.checkVector(vector, dims, what),
        assertOpen: () => this.assertOpen(),
        transaction: (fn) => this.db.transaction(fn).immediate(),
      });
      this.outbox = new SqliteOutbox({
        db: this.db,
        scopeCondition: (scope) => scopeCondition(scope),
        scoped: (kind, mask, build) => this.scoped(kind, mask, build),
        transaction: (fn) => this.db.transaction(fn).immediate(),
      });
      this.profiles = new SqliteProfiles({
        db: this.db,
        scopeCondition: (scope) => scopeCondition(scope),
        scoped: (kind, mask, build) => this.scoped(kind, mask, build),
        addHistory: (...entry) => this.addHistory(...entry),
      });
      this.episodes = new SqliteEpisodes({
        db: this.db,
        scopeCondition: (scope) => scopeCondition(scope),
        scoped: (kind, mask, build) => this.scoped(kind, mask, build),
        queryWords: ftsPhrases,
      });
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.cache = new VectorCache(budget);
    this.lastDataVersion = this.stmt.dataVersion.get() as number;
  }

  /** The schema version of the open file. */
  get schemaVersion(): number {
    return this.db.pragma("user_version", { simple: true }) as number;
  }

  private migrate(): void {
    const latest = MIGRATIONS[MIGRATIONS.length - 1].version;
    const current = () => this.db.pragma("user_version", { simple: true }) as number;
    if (current() === latest) return;
    const run = this.db.transaction(() => {
      const version = current();
      if (version > latest) {
        throw new Mem0ConfigError(
          `${this.path} has schema version ${version}, newer than this package supports (${latest}). ` +
            "Upgrade langchain-mem0.",
        );
      }
      for (const migration of MIGRATIONS) {
        if (migration.version <= version) continue;
        this.db.exec(migration.sql);
        this.db.pragma(`user_version = ${migration.version}`);
      }
    });
    // IMMEDIATE: two processes opening a new file at once must not both migrate.
    run.immediate();
  }

  private prepareStatements() {
    const db = this.db;
    return {
      dataVersion: db.prepare("PRAGMA data_version").pluck(),
      metaGet: db.prepare("SELECT value FROM meta WHERE key = ?").pluck(),
      metaSet: db.prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
      getById: db.prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id = ?`),
      getBySeqs: db.prepare(
        `SELECT m.seq, ${MEMORY_COLUMNS} FROM memories m WHERE m.seq IN (SELECT value FROM json_each(?))`,
      ),
      getBySeqsFiltered: db.prepare(
        `SELECT m.seq, ${MEMORY_COLUMNS} FROM memories m
         WHERE m.seq IN (SELECT value FROM json_each(?)) AND mem0_match(m.metadata, ?)`,
      ),
      getByIds: db.prepare(
        `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id IN (SELECT value FROM json_each(?))`,
      ),
      embeddingsByIds: db.prepare(
        "SELECT id, embedding FROM memories WHERE id IN (SELECT value FROM json_each(?))",
      ),
      existsId: db.prepare("SELECT 1 FROM memories WHERE id = ?").pluck(),
      embeddingOf: db.prepare("SELECT embedding FROM memories WHERE id = ?").pluck(),
      hashOwner: db.prepare("SELECT id FROM memories WHERE scope_key = ? AND hash = ?").pluck(),
      insert: db.prepare(
        `INSERT INTO memories (id, user_id, agent_id, run_id, scope_key, text, hash, metadata, embedding,
           created_at, updated_at)
         VALUES (@id, @user_id, @agent_id, @run_id, @scope_key, @text, @hash, @metadata, @embedding,
           @created_at, @updated_at)
         ON CONFLICT (scope_key, hash) DO NOTHING`,
      ),
      update: db.prepare(
        `UPDATE memories SET text = @text, hash = @hash, metadata = @metadata, embedding = @embedding,
           updated_at = @updated_at WHERE id = @id`,
      ),
      delete: db.prepare("DELETE FROM memories WHERE id = ?"),
      historyInsert: db.prepare(
        `INSERT INTO history (memory_id, user_id, agent_id, run_id, event, previous, next, actor, created_at)
         VALUES (@memory_id, @user_id, @agent_id, @run_id, @event, @previous, @next, @actor, @created_at)`,
      ),
      history: db.prepare(
        `SELECT id, memory_id, event, previous, next, actor, created_at FROM history
         WHERE memory_id = ? ORDER BY created_at, id`,
      ),
      messageInsert: db.prepare(
        `INSERT INTO messages (scope_key, user_id, agent_id, run_id, role, content, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
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

  /** Drops every vector cache when another connection has committed since the last check. */
  private syncWithOtherConnections(): void {
    const version = this.stmt.dataVersion.get() as number;
    if (version !== this.lastDataVersion) {
      this.cache.clear();
      this.lastDataVersion = version;
    }
  }

  private recordedDimensions(): number | undefined {
    const value = this.stmt.metaGet.get(META_DIMS) as string | undefined;
    return value === undefined ? undefined : Number(value);
  }

  private checkVector(vector: number[], dims: number, what: string): void {
    if (!Array.isArray(vector) && !ArrayBuffer.isView(vector)) {
      throw new Mem0InputError(`${what} must be an array of numbers.`);
    }
    if (vector.length !== dims) {
      throw new Mem0InputError(
        `${what} has ${vector.length} dimensions but this store holds ${dims}-dimensional vectors ` +
          `(${this.path}).`,
      );
    }
    for (let i = 0; i < vector.length; i++) {
      if (!Number.isFinite(vector[i]))
        throw new Mem0InputError(`${what} contains a non-finite value.`);
    }
  }

  // ---------------------------------------------------------------- MemoryStore

  /**
   * The embedder the store was built with (`Class:model` and dimensions), or `undefined`
   * before the first vector; for tools that must open a store with the right embedder.
   */
  async recordedEmbedder(): Promise<{ model?: string; dimensions?: number } | undefined> {
    this.assertOpen();
    const model = this.stmt.metaGet.get(META_MODEL) as string | undefined;
    const dimensions = this.recordedDimensions();
    return model === undefined && dimensions === undefined ? undefined : { model, dimensions };
  }

  async ensureEmbedder(model: string, dimensions: number): Promise<void> {
    this.assertOpen();
    if (!Number.isInteger(dimensions) || dimensions <= 0) {
      throw new Mem0ConfigError(
        `Embedding dimensions must be a positive integer, got ${dimensions}.`,
      );
    }
    this.db
      .transaction(() => {
        const storedModel = this.stmt.metaGet.get(META_MODEL) as string | undefined;
        const storedDims = this.recordedDimensions();
        if (
          (storedModel !== undefined && storedModel !== model) ||
          (storedDims !== undefined && storedDims !== dimensions)
        ) {
          throw new EmbedderMismatchError(
            `The memory store ${this.path} was created with embedder ` +
              `"${storedModel ?? "unknown"}" (${storedDims ?? "?"} dimensions), but "${model}" ` +
              `(${dimensions} dimensions) is in use. Vectors of different embedders cannot be ` +
              "compared: use the same embedder as before, point the store at a new path, or call " +
              "reset() to delete all memories and start over with the new embedder.",
          );
        }
        if (storedModel === undefined) this.stmt.metaSet.run(META_MODEL, model);
        if (storedDims === undefined) this.stmt.metaSet.run(META_DIMS, String(dimensions));
      })
      .immediate();
  }

  async vectorSearch(
    vector: number[],
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]> {
    const queryScope = this.checkSearch(scope, options);
    const dims = this.recordedDimensions();
    if (dims === undefined) return [];
    this.checkVector(vector, dims, "Query vector");
    if (options.topK === 0) return [];
    this.syncWithOtherConnections();
    const entry = this.cacheEntry(queryScope, dims);
    const hits = entry.search(normalizeVector(vector), options.topK, options.filters);
    return this.withRows(hits);
  }

  /** Validates a search's scope and options; returns the scope with only defined ids. */
  private checkSearch(scope: MemoryScope, options: StoreSearchOptions): MemoryScope {
    this.assertOpen();
    checkTopK(options.topK);
    if (options.filters !== undefined) validateFilter(options.filters);
    return requireScope(scope);
  }

  /** The cached vectors of a query scope, loaded with one query on first use. */
  private cacheEntry(queryScope: MemoryScope, dims: number): ScopeVectors {
    const key = scopeKey(queryScope);
    const cached = this.cache.get(key);
    if (cached && cached.dims === dims) return cached;
    const { mask, sql, params } = scopeCondition(queryScope);
    const count = this.scoped("count", mask, () => `SELECT count(*) FROM memories WHERE ${sql}`)
      .pluck()
      .get(...params) as number;
    const entry = new ScopeVectors(queryScope, dims, count);
    const rows = this.scoped(
      "vectors",
      mask,
      () => `SELECT id, metadata, embedding FROM memories WHERE ${sql}`,
    )
      // Arrays, not objects: one allocation less per row; metadata stays unparsed JSON.
      .raw(true)
      .iterate(...params) as IterableIterator<[string, string, Buffer]>;
    for (const [id, metadata, embedding] of rows) {
      if (embedding.byteLength !== dims * 4) {
        throw new Mem0Error(
          `Memory ${id} in ${this.path} has a ${embedding.byteLength / 4}-dimensional ` +
            `vector, expected ${dims}.`,
        );
      }
      entry.addBlob(id, embedding, metadata);
    }
    this.cache.set(key, entry);
    return entry;
  }

  /** Loads the rows of scored ids, keeping the order and dropping ids that vanished. */
  private withRows(hits: { id: string; score: number }[]): ScoredMemory[] {
    if (hits.length === 0) return [];
    const rows = this.stmt.getByIds.all(JSON.stringify(hits.map((hit) => hit.id))) as MemoryRow[];
    const byId = new Map(rows.map((row) => [row.id, row]));
    const out: ScoredMemory[] = [];
    for (const hit of hits) {
      const row = byId.get(hit.id);
      if (row) out.push({ memory: toMemory(row), score: hit.score });
    }
    return out;
  }

  /**
   * Keyword search inside the scope, ranked by the statistics of the scope alone: a memory
   * scores the sum of the BM25 inverse document frequencies, among the scope's memories, of
   * the query words it contains. FTS5's `bm25()` would weigh words by the whole table, so
   * other scopes' memories would sway the ranking.
   */
  async keywordSearch(
    query: string,
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]> {
    const queryScope = this.checkSearch(scope, options);
    if (options.topK === 0) return [];
    const phrases = ftsPhrases(String(query ?? ""));
    if (phrases.length === 0) return [];
    const { mask, sql, params } = scopeCondition(queryScope);
    // Every (query word, memory of the scope) match. The scope's row ids go into a Bloom
    // filter (unary `+` keeps SQLite from probing the index once per id), so a long posting
    // list costs a scan, not a row lookup per entry.
    const matches = this.scoped(
      "keyword-matches",
      mask,
      () =>
        `SELECT j.key, f.rowid FROM json_each(?) j JOIN memories_fts f ON f.memories_fts MATCH j.value
         WHERE +f.rowid IN (SELECT seq FROM memories WHERE ${sql})`,
    )
      .raw(true)
      .all(JSON.stringify(phrases), ...params) as [number, number][];
    if (matches.length === 0) return [];
    const total = this.scoped("count", mask, () => `SELECT count(*) FROM memories WHERE ${sql}`)
      .pluck()
      .get(...params) as number;
    const docs = new Array<number>(phrases.length).fill(0);
    for (const [phrase] of matches) docs[phrase]++;
    const idf = docs.map((n) => Math.log(1 + (total - n + 0.5) / (n + 0.5)));
    const scores = new Map<number, number>();
    for (const [phrase, seq] of matches) scores.set(seq, (scores.get(seq) ?? 0) + idf[phrase]);
    const ranked = [...scores].sort(([seqA, a], [seqB, b]) => b - a || seqA - seqB);
    // A filter only decides which matches are returned; the statistics stay the scope's.
    const wanted = options.filters === undefined ? ranked.slice(0, options.topK) : ranked;
    const seqs = JSON.stringify(wanted.map(([seq]) => seq));
    const rows = (
      options.filters === undefined
        ? this.stmt.getBySeqs.all(seqs)
        : this.stmt.getBySeqsFiltered.all(seqs, JSON.stringify(options.filters))
    ) as (MemoryRow & { seq: number })[];
    const bySeq = new Map(rows.map((row) => [row.seq, row]));
    return wanted
      .filter(([seq]) => bySeq.has(seq))
      .slice(0, options.topK)
      .map(([seq, score]) => ({ memory: toMemory(bySeq.get(seq)!), score }));
  }

  async similarities(vector: number[], ids: string[]): Promise<Map<string, number>> {
    this.assertOpen();
    const result = new Map<string, number>();
    const dims = this.recordedDimensions();
    if (dims === undefined || ids.length === 0) return result;
    this.checkVector(vector, dims, "Query vector");
    this.syncWithOtherConnections();
    const query = normalizeVector(vector);
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      let score: number | undefined;
      for (const entry of this.cache.values()) {
        score = entry.similarity(id, query);
        if (score !== undefined) break;
      }
      if (score === undefined) missing.push(id);
      else result.set(id, score);
    }
    if (missing.length > 0) {
      const rows = this.stmt.embeddingsByIds.all(JSON.stringify(missing)) as {
        id: string;
        embedding: Buffer;
      }[];
      for (const row of rows) {
        const stored = blobToVector(row.embedding);
        if (stored.length !== dims) continue;
        let dot = 0;
        for (let i = 0; i < dims; i++) dot += stored[i] * query[i];
        result.set(row.id, dot);
      }
    }
    return result;
  }

  /** The stored vectors of the given memories (unit length), for export. */
  async embeddings(ids: string[]): Promise<Map<string, number[]>> {
    this.assertOpen();
    if (ids.length === 0) return new Map();
    const rows = this.stmt.embeddingsByIds.all(JSON.stringify([...new Set(ids)])) as {
      id: string;
      embedding: Buffer;
    }[];
    return new Map(rows.map((row) => [row.id, Array.from(blobToVector(row.embedding))]));
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
    if (!Number.isInteger(limit) || limit <= 0) {
      throw new Mem0InputError(`limit must be a positive integer, got ${String(limit)}.`);
    }
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
    const { graph, messages, outboxId, expectedVersion, profile } = options;
    if (changes.length === 0 && !graph?.length && !messages && !outboxId && !profile) return [];
    const cacheOps: CacheOp[] = [];
    const touched = new Map<string, MemoryScope>();
    const run = this.db.transaction((): AppliedChange[] => {
      cacheOps.length = 0;
      touched.clear();
      if (
        expectedVersion &&
        this.outbox.version(expectedVersion.owner) !== expectedVersion.version
      ) {
        throw new StaleWriteError(
          "Another writer changed these memories after they were read.",
          "owner_changed",
        );
      }
      const forgotten = new Set<string>();
      if (outboxId !== undefined) {
        const entry = this.outbox.get(outboxId);
        if (!entry || !this.outbox.settle(outboxId)) {
          throw new StaleWriteError(
            "The queued write was applied by another worker or forgotten by a delete.",
            "entry_gone",
          );
        }
        for (const hash of entry.forget) forgotten.add(hash);
      }
      const now = new Date().toISOString();
      let dims = this.recordedDimensions();
      const results: AppliedChange[] = [];
      const prepareVector = (embedding: number[], id: string): Float32Array => {
        if (dims === undefined) {
          // No embedder recorded yet: the first vector fixes the dimension.
          if (!Array.isArray(embedding) || embedding.length === 0) {
            throw new Mem0InputError(
              `Embedding of memory ${id} must be a non-empty array of numbers.`,
            );
          }
          dims = embedding.length;
          this.stmt.metaSet.run(META_DIMS, String(dims));
        }
        this.checkVector(embedding, dims, `Embedding of memory ${id}`);
        return normalizeVector(embedding);
      };
      for (const change of changes) {
        if (change.type === "insert") {
          const memory = change.memory;
          const owner = requireScope(
            { userId: memory.userId, agentId: memory.agentId, runId: memory.runId },
            `Memory ${memory.id} has no owner: give at least one of userId, agentId or runId.`,
          );
          const vector = prepareVector(change.embedding, memory.id);
          const key = scopeKey(owner);
          // Same text already stored in this scope (also a retried insert), or deleted after
          // the write was queued: skip.
          if (
            forgotten.has(memory.hash) ||
            this.stmt.hashOwner.get(key, memory.hash) !== undefined
          ) {
            results.push({ change, applied: false });
            continue;
          }
          if (this.stmt.existsId.get(memory.id) !== undefined) {
            throw new Mem0InputError(`A memory with id ${memory.id} already exists.`);
          }
          const metadata = memory.metadata ?? {};
          const inserted = this.stmt.insert.run({
            id: memory.id,
            user_id: owner.userId ?? null,
            agent_id: owner.agentId ?? null,
            run_id: owner.runId ?? null,
            scope_key: key,
            text: memory.text,
            hash: memory.hash,
            metadata: JSON.stringify(metadata),
            embedding: vectorToBlob(vector),
            created_at: memory.createdAt,
            updated_at: memory.updatedAt,
          });
          if (inserted.changes === 0) {
            results.push({ change, applied: false });
            continue;
          }
          this.addHistory(memory.id, owner, "ADD", null, memory.text, change.actor, now);
          touched.set(key, owner);
          cacheOps.push({ type: "upsert", owner, id: memory.id, vector, metadata });
          results.push({ change, applied: true });
        } else if (change.type === "update") {
          const row = this.stmt.getById.get(change.id) as MemoryRow | undefined;
          if (!row) {
            results.push({ change, applied: false });
            continue;
          }
          // No new embedding: the text is unchanged, keep the stored vector.
          const vector = change.embedding
            ? prepareVector(change.embedding, change.id)
            : blobToVector(this.stmt.embeddingOf.get(change.id) as Buffer);
          const clash = this.stmt.hashOwner.get(row.scope_key, change.hash) as string | undefined;
          if (clash !== undefined && clash !== change.id) {
            results.push({ change, applied: false, previous: row.text });
            continue;
          }
          const metadata = change.metadata ?? {};
          this.stmt.update.run({
            id: change.id,
            text: change.text,
            hash: change.hash,
            metadata: JSON.stringify(metadata),
            embedding: vectorToBlob(vector),
            updated_at: change.updatedAt,
          });
          const owner = ownerOf(row);
          touched.set(row.scope_key, owner);
          this.addHistory(change.id, owner, "UPDATE", row.text, change.text, change.actor, now);
          cacheOps.push({ type: "upsert", owner, id: change.id, vector, metadata });
          results.push({ change, applied: true, previous: row.text });
        } else if (change.type === "delete") {
          const row = this.stmt.getById.get(change.id) as MemoryRow | undefined;
          if (!row) {
            results.push({ change, applied: false });
            continue;
          }
          this.stmt.delete.run(change.id);
          const owner = ownerOf(row);
          touched.set(row.scope_key, owner);
          // Writes queued before this delete must not bring the text back.
          this.outbox.forgetHash(row.hash, owner);
          this.addHistory(change.id, owner, "DELETE", row.text, null, change.actor, now);
          cacheOps.push({ type: "delete", owner, id: change.id });
          results.push({ change, applied: true, previous: row.text });
        } else {
          throw new Mem0InputError(
            `Unknown change type ${JSON.stringify((change as { type?: unknown }).type)}.`,
          );
        }
      }
      // Graph changes after the memory changes, in the same transaction.
      if (graph?.length) this.graph.applyChanges(graph);
      if (messages) {
        const owner = requireScope(messages.owner);
        this.insertMessages(owner, messages.messages);
        touched.set(scopeKey(owner), owner);
      }
      if (profile) this.profiles.write(profile);
      if (expectedVersion) touched.set(scopeKey(expectedVersion.owner), expectedVersion.owner);
      for (const owner of touched.values()) this.outbox.bump(owner);
      return results;
    });
    const results = run.immediate();
    // Committed: bring the cached scopes up to date without reloading them.
    for (const op of cacheOps) {
      for (const entry of this.cache.containing(op.owner)) {
        if (op.type === "delete") entry.remove(op.id);
        else if (op.vector.length === entry.dims) entry.upsert(op.id, op.vector, op.metadata);
      }
    }
    this.cache.evict();
    return results;
  }

  private addHistory(
    memoryId: string,
    owner: MemoryScope,
    event: HistoryEntry["event"],
    previous: string | null,
    next: string | null,
    actor: string | undefined,
    createdAt: string,
  ): void {
    this.stmt.historyInsert.run({
      memory_id: memoryId,
      user_id: owner.userId ?? null,
      agent_id: owner.agentId ?? null,
      run_id: owner.runId ?? null,
      event,
      previous,
      next,
      actor: actor ?? null,
      created_at: createdAt,
    });
  }

  async deleteScope(scope: MemoryScope): Promise<number> {
    this.assertOpen();
    const target = requireScope(scope);
    const { mask, sql, params } = scopeCondition(target);
    const run = this.db.transaction(() => {
      const removed = this.scoped(
        "delete-memories",
        mask,
        () => `DELETE FROM memories WHERE ${sql} RETURNING id, user_id, agent_id, run_id`,
      ).all(...params) as {
        id: string;
        user_id: string | null;
        agent_id: string | null;
        run_id: string | null;
      }[];
      this.scoped("delete-history", mask, () => `DELETE FROM history WHERE ${sql}`).run(...params);
      this.scoped("delete-messages", mask, () => `DELETE FROM messages WHERE ${sql}`).run(
        ...params,
      );
      this.graph.deleteScope(target);
      this.profiles.deleteScope(target);
      this.outbox.deleteScope(target);
      this.outbox.bump(target);
      for (const owner of new Set(removed.map((row) => JSON.stringify(ownerOf(row))))) {
        this.outbox.bump(JSON.parse(owner) as MemoryScope);
      }
      return removed;
    });
    const removed = run.immediate();
    for (const row of removed) {
      for (const entry of this.cache.containing(ownerOf(row))) entry.remove(row.id);
    }
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
    this.db
      .transaction(() => {
        this.db.exec(`
          DELETE FROM memories;
          INSERT INTO memories_fts (memories_fts) VALUES ('rebuild');
          DELETE FROM history;
          DELETE FROM messages;
          DELETE FROM meta;
        `);
        this.graph.clear();
        this.profiles.clear();
        this.outbox.clear();
      })
      .immediate();
    this.cache.clear();
    this.scrubWal();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
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

  // ---------------------------------------------------------------- ProfileStore (sqlite_profiles.ts)

  async getProfile(owner: MemoryScope): Promise<StoredProfile | undefined> {
    this.assertOpen();
    return this.profiles.get(owner);
  }

  // ---------------------------------------------------------------- EpisodeStore (sqlite_episodes.ts)

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

  // ---------------------------------------------------------------- HistoryStore

  async history(memoryId: string): Promise<HistoryEntry[]> {
    this.assertOpen();
    const rows = this.stmt.history.all(memoryId) as HistoryRow[];
    return rows.map((row) => ({
      id: String(row.id),
      memoryId: row.memory_id,
      event: row.event,
      previous: row.previous,
      next: row.next,
      actor: row.actor,
      createdAt: row.created_at,
    }));
  }

  // ---------------------------------------------------------------- MessageStore

  async appendMessages(scope: MemoryScope, messages: StoredMessage[]): Promise<void> {
    this.assertOpen();
    const owner = requireScope(scope);
    if (messages.length === 0) return;
    this.db.transaction(() => this.insertMessages(owner, messages)).immediate();
  }

  private insertMessages(owner: MemoryScope, messages: StoredMessage[]): void {
    const key = scopeKey(owner);
    for (const message of messages) {
      const { lastInsertRowid } = this.stmt.messageInsert.run(
        key,
        owner.userId ?? null,
        owner.agentId ?? null,
        owner.runId ?? null,
        message.role,
        message.content,
        message.createdAt ?? new Date().toISOString(),
      );
      if (message.embedding) this.episodes.setEmbedding(lastInsertRowid, message.embedding);
    }
  }

  async recentMessages(scope: MemoryScope, limit: number): Promise<StoredMessage[]> {
    this.assertOpen();
    const owner = requireScope(scope);
    if (!Number.isInteger(limit) || limit < 0) {
      throw new Mem0InputError(`limit must be a non-negative integer, got ${String(limit)}.`);
    }
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

  // ---------------------------------------------------------------- GraphStore (sqlite_graph.ts)

  async findEntitiesByName(scope: MemoryScope, names: string[]): Promise<GraphEntity[]> {
    return this.graph.findEntitiesByName(scope, names);
  }

  async entitiesMentionedIn(scope: MemoryScope, text: string): Promise<GraphEntity[]> {
    return this.graph.entitiesMentionedIn(scope, text);
  }

  async similarEntities(
    scope: MemoryScope,
    vector: number[],
    options: { topK: number; threshold: number },
  ): Promise<EntityMatch[]> {
    return this.graph.similarEntities(scope, vector, options);
  }

  async neighborhood(
    scope: MemoryScope,
    entityIds: string[],
    options: EdgeValidity & { hops: number },
  ): Promise<GraphEdge[]> {
    return this.graph.neighborhood(scope, entityIds, options);
  }

  async listEntities(scope: MemoryScope): Promise<GraphEntity[]> {
    return this.graph.listEntities(scope);
  }

  async listEdges(scope: MemoryScope, options?: EdgeValidity): Promise<GraphEdge[]> {
    return this.graph.listEdges(scope, options);
  }

  async getEdge(id: string): Promise<GraphEdge | undefined> {
    return this.graph.getEdge(id);
  }

  async applyGraph(changes: GraphChange[]): Promise<void> {
    this.graph.applyGraph(changes);
  }
}

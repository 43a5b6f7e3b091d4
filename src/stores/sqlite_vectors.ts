import { Mem0Error } from "../errors.js";
import { scopeKey, type MemoryScope } from "../scope.js";
import type { MemoryMetadata } from "../backends/base.js";
import type { ScoredMemory, StoreSearchOptions } from "./base.js";
import { scopeCondition } from "./scope_sql.js";
import { SqliteSearchPart, type SqliteSearchContext } from "./sqlite_context.js";
import { MEMORY_COLUMNS, toMemory, type MemoryRow } from "./store_rows.js";
import { blobToVector, normalizeVector, ScopeVectors, VectorCache } from "./vector_cache.js";

/** A committed write, as the cached scopes that see its owner replay it. */
export type CacheOp =
  | {
      type: "upsert";
      owner: MemoryScope;
      id: string;
      vector: Float32Array;
      metadata: MemoryMetadata;
    }
  | { type: "delete"; owner: MemoryScope; id: string };

/**
 * Vector search of the SQLite store: an exact cosine scan over an in-memory cache per searched
 * scope, kept up to date by this instance's writes and dropped when another connection writes
 * the file.
 */
export class SqliteVectorIndex extends SqliteSearchPart {
  private readonly cache: VectorCache;
  private lastDataVersion: number;
  private readonly stmt;

  constructor(ctx: SqliteSearchContext, budgetBytes: number) {
    super(ctx);
    this.cache = new VectorCache(budgetBytes);
    this.stmt = {
      dataVersion: this.db.prepare("PRAGMA data_version").pluck(),
      getByIds: this.db.prepare(
        `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id IN (SELECT value FROM json_each(?))`,
      ),
      embeddingsByIds: this.db.prepare(
        "SELECT id, embedding FROM memories WHERE id IN (SELECT value FROM json_each(?))",
      ),
    };
    this.lastDataVersion = this.stmt.dataVersion.get() as number;
  }

  /** Brings the cached scopes up to date with committed writes without reloading them. */
  applyCommitted(ops: CacheOp[]): void {
    for (const op of ops) {
      for (const entry of this.cache.containing(op.owner)) {
        if (op.type === "delete") entry.remove(op.id);
        else if (op.vector.length === entry.dims) entry.upsert(op.id, op.vector, op.metadata);
      }
    }
    this.cache.evict();
  }

  clear(): void {
    this.cache.clear();
  }

  /** The stored vectors of these memories. */
  embeddings(ids: string[]): Map<string, number[]> {
    const rows = this.stmt.embeddingsByIds.all(JSON.stringify([...new Set(ids)])) as {
      id: string;
      embedding: Buffer;
    }[];
    return new Map(rows.map((row) => [row.id, Array.from(blobToVector(row.embedding))]));
  }

  /** Drops every vector cache when another connection has committed since the last check. */
  private syncWithOtherConnections(): void {
    const version = this.stmt.dataVersion.get() as number;
    if (version !== this.lastDataVersion) {
      this.cache.clear();
      this.lastDataVersion = version;
    }
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
}

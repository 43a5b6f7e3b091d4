import { Mem0Error } from "../errors.js";
import { scopeContains, scopeFromKey, scopeKey, type MemoryScope } from "../scope.js";
import type { MemoryMetadata } from "../backends/base.js";
import type { ScoredMemory, StoreSearchOptions } from "./base.js";
import { IndexFiles, type IndexStamp } from "./index_files.js";
import { ScopeIndex, type ScopeRowSource } from "./scope_index.js";
import { scopeCondition } from "./scope_sql.js";
import { SqliteSearchPart, type SqliteSearchContext } from "./sqlite_context.js";
import { MEMORY_COLUMNS, toMemory, type MemoryRow } from "./store_rows.js";
import { blobToVector, normalizeVector, VectorCache } from "./vector_cache.js";
import type { VectorKernel } from "./vector_index.js";

/** A committed write, as the cached scopes that see its owner replay it. */
export type CacheOp =
  | {
      type: "upsert";
      owner: MemoryScope;
      seq: number;
      id: string;
      text: string;
      /** Text before an update. */
      previous?: string;
      vector: Float32Array;
      metadata: MemoryMetadata;
    }
  | { type: "delete"; owner: MemoryScope; id: string; text: string };

/** Layout of the saved approximate indexes (IndexFiles stamps). */
const INDEX_FORMAT = "int8-l2-1";
/** Writes to a scope after which its approximate index is saved again (also on close). */
const INDEX_SAVE_EVERY = 1000;
/**
 * Share of `approximateFrom` from which an exact scope's keyword state is saved too (no
 * vectors: those stay in the rows), so its restart reads no text and tokenises nothing.
 */
const STATE_SAVE_SHARE = 0.25;
/** Rows of recent hits kept parsed in memory (a few hundred bytes each). */
const ROW_CACHE_SIZE = 20_000;

/** How the search state of the SQLite store is kept (SqliteStoreOptions). */
export interface SqliteSearchSettings {
  budgetBytes: number;
  kernel: VectorKernel;
  /** Scope size from which vector search goes through a saved approximate index. */
  approximateFrom: number;
  /** Where approximate indexes are saved; none for in-memory databases. */
  indexFiles?: IndexFiles;
}

/**
 * Search of the SQLite store on in-memory state per searched scope (scope_index.ts): a BM25
 * keyword index with the scope's own statistics, and the scope's vectors, searched exactly or,
 * from `approximateFrom` memories, through an int8 copy saved next to the file. The state is
 * kept up to date by this instance's writes and dropped when another connection writes.
 */
export class SqliteSearch extends SqliteSearchPart {
  private readonly cache: VectorCache<ScopeIndex>;
  private readonly kernel: VectorKernel;
  private readonly approximateFrom: number;
  private readonly indexFiles?: IndexFiles;
  private readonly saves: boolean;
  private lastDataVersion: number;
  private knownDimensions?: number;
  /**
   * Rows of recent hits by id, oldest first: a scope's popular memories are hits of most
   * searches, and reading them again was half of a search. Dropped with the search state, and
   * per id by this connection's writes.
   */
  private readonly rows = new Map<string, MemoryRow>();
  private readonly stmt;

  constructor(ctx: SqliteSearchContext, settings: SqliteSearchSettings) {
    super(ctx);
    this.cache = new VectorCache(settings.budgetBytes);
    this.kernel = settings.kernel;
    this.approximateFrom = settings.approximateFrom;
    this.indexFiles = settings.indexFiles;
    // Saved state exists only on disk, with a native kernel, when approximate search is on.
    this.saves =
      this.indexFiles !== undefined &&
      this.kernel.createIndex !== undefined &&
      this.approximateFrom < Infinity;
    this.stmt = {
      dataVersion: this.db.prepare("PRAGMA data_version").pluck(),
      getByIds: this.db.prepare(
        `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id IN (SELECT value FROM json_each(?))`,
      ),
      embeddingsByIds: this.db.prepare(
        "SELECT id, embedding FROM memories WHERE id IN (SELECT value FROM json_each(?))",
      ),
      embeddingsBySeqs: this.db
        .prepare(
          "SELECT seq, embedding FROM memories WHERE seq IN (SELECT value FROM json_each(?))",
        )
        .raw(true),
    };
    this.lastDataVersion = this.stmt.dataVersion.get() as number;
  }

  /** Brings the cached scopes up to date with committed writes without reloading them. */
  applyCommitted(ops: CacheOp[]): void {
    const changed = new Set<ScopeIndex>();
    for (const op of ops) {
      this.rows.delete(op.id);
      for (const entry of [...this.cache.containing(op.owner)]) {
        if (op.type === "delete") entry.remove(op.id, op.text);
        else if (op.vector.length === entry.dims) {
          entry.upsert(op.seq, op.id, op.text, op.metadata, op.vector, op.previous);
        }
        changed.add(entry);
      }
    }
    for (const entry of changed) {
      if (entry.changesSinceSave >= Math.max(INDEX_SAVE_EVERY, entry.size * 0.05)) {
        this.saveIndex(entry);
      }
    }
    this.cache.evict();
  }

  /**
   * Removes saved approximate indexes, and drops cached ones, of every query scope that saw
   * memories of a deleted scope (`target`, whose memories had these `owners`): their files
   * hold (quantised) vectors of deleted memories, so they are rebuilt from the remaining rows
   * when next searched.
   */
  forgetIndexes(target: MemoryScope, owners: MemoryScope[]): void {
    const sees = (scope: MemoryScope) =>
      scopeContains(target, scope) ||
      scopeContains(scope, target) ||
      owners.some((owner) => scopeContains(scope, owner));
    for (const key of this.indexFiles?.scopeKeys() ?? []) {
      if (sees(scopeFromKey(key))) this.indexFiles!.remove(key);
    }
    for (const entry of [...this.cache.values()]) {
      if (entry.index && sees(entry.scope)) this.cache.delete(scopeKey(entry.scope));
    }
  }

  /** Drops the in-memory state and every saved index (the store was emptied). */
  reset(): void {
    this.knownDimensions = undefined;
    this.rows.clear();
    this.cache.clear();
    this.indexFiles?.clear();
  }

  /** Saves the approximate indexes written since their last save, then drops the state. */
  close(): void {
    // Written here rather than at every write: the next start loads instead of rebuilding.
    for (const entry of this.cache.values()) if (entry.changesSinceSave > 0) this.saveIndex(entry);
    this.cache.clear();
    this.rows.clear();
  }

  /** The stored vectors of these memories. */
  embeddings(ids: string[]): Map<string, number[]> {
    const rows = this.stmt.embeddingsByIds.all(JSON.stringify([...new Set(ids)])) as {
      id: string;
      embedding: Buffer;
    }[];
    return new Map(rows.map((row) => [row.id, Array.from(blobToVector(row.embedding))]));
  }

  /**
   * The recorded embedding dimension, remembered once known: it changes only when the store is
   * emptied (here: `reset`; elsewhere: another connection's commit, see below).
   */
  private dimensions(): number | undefined {
    return (this.knownDimensions ??= this.recordedDimensions());
  }

  /** Drops the cached search state when another connection has committed since the last check. */
  private syncWithOtherConnections(): void {
    const version = this.stmt.dataVersion.get() as number;
    if (version !== this.lastDataVersion) {
      this.knownDimensions = undefined;
      this.rows.clear();
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
    this.syncWithOtherConnections();
    const dims = this.dimensions();
    if (dims === undefined) return [];
    this.checkVector(vector, dims, "Query vector");
    if (options.topK === 0) return [];
    const entry = this.scopeIndex(queryScope, dims);
    return this.withRows(
      entry.vectorSearch(normalizeVector(vector), options.topK, options.filters),
    );
  }

  /** BM25 with the scope's own statistics; scores relative to the query's best (KeywordIndex). */
  async keywordSearch(
    query: string,
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]> {
    const queryScope = this.checkSearch(scope, options);
    if (options.topK === 0) return [];
    this.syncWithOtherConnections();
    const dims = this.dimensions();
    if (dims === undefined) return [];
    const entry = this.scopeIndex(queryScope, dims);
    return this.withRows(entry.keywordSearch(String(query ?? ""), options.topK, options.filters));
  }

  /** The memories stored just before and after each given one inside the scope. */
  async neighbors(ids: string[], queryScope: MemoryScope): Promise<Map<string, string[]>> {
    this.syncWithOtherConnections();
    const dims = this.dimensions();
    if (dims === undefined || ids.length === 0) return new Map();
    return this.scopeIndex(queryScope, dims).neighbors(ids);
  }

  /**
   * The search state of a query scope, loaded on first use in one read transaction (rows and
   * version agree): its saved state when the saved stamp matches (with the approximate index,
   * or with vectors from the rows), else keyword index and vectors built from the rows — an
   * approximate index from `approximateFrom` memories — and saved when the scope is large.
   */
  private scopeIndex(queryScope: MemoryScope, dims: number): ScopeIndex {
    const key = scopeKey(queryScope);
    const cached = this.cache.get(key);
    if (cached && cached.dims === dims) return cached;
    const { mask, sql, params } = scopeCondition(queryScope);
    const source: ScopeRowSource = {
      embeddings: (seqs) => {
        const rows = this.stmt.embeddingsBySeqs.all(JSON.stringify(seqs)) as [number, Buffer][];
        return new Map(rows.map(([seq, blob]) => [seq, blobToVector(blob)]));
      },
      vectors: () =>
        this.scoped("vectors", mask, () => `SELECT seq, id, embedding FROM memories WHERE ${sql}`)
          .raw(true)
          .iterate(...params) as IterableIterator<[number, string, Buffer]>,
      metadata: () =>
        this.scoped("metadata", mask, () => `SELECT id, metadata FROM memories WHERE ${sql}`)
          .raw(true)
          .iterate(...params) as IterableIterator<[string, string]>,
    };
    const storeId = this.saves ? this.ctx.storeId() : "";
    const load = this.db.transaction((): ScopeIndex => {
      const stamp = {
        scopeKey: key,
        version: `${storeId}:${this.ctx.version(queryScope)}`,
        dims,
        format: INDEX_FORMAT,
      };
      const saved = this.saves ? this.indexFiles!.load(stamp, this.kernel) : undefined;
      if (saved) {
        try {
          return ScopeIndex.restore(
            saved.state,
            queryScope,
            dims,
            this.kernel,
            source,
            saved.index,
          );
        } catch {
          // A damaged state file: rebuilt from the rows below (and saved again).
        }
      }
      const count = this.scoped("count", mask, () => `SELECT count(*) FROM memories WHERE ${sql}`)
        .pluck()
        .get(...params) as number;
      const approximate = this.kernel.createIndex !== undefined && count >= this.approximateFrom;
      const inMemory = !approximate;
      const entry = new ScopeIndex(
        queryScope,
        dims,
        this.kernel,
        source,
        approximate ? "unloaded" : { exact: count },
      );
      const rows = this.scoped(
        inMemory ? "scope-rows-vectors" : "scope-rows",
        mask,
        () =>
          `SELECT seq, id, text, metadata${inMemory ? ", embedding" : ""} FROM memories WHERE ${sql}`,
      )
        // Arrays, not objects: one allocation less per row; metadata stays unparsed JSON.
        .raw(true)
        .iterate(...params) as IterableIterator<[number, string, string, string, Buffer?]>;
      for (const [seq, id, text, metadata, embedding] of rows) {
        if (embedding && embedding.byteLength !== dims * 4) {
          throw new Mem0Error(
            `Memory ${id} in ${this.path} has a ${embedding.byteLength / 4}-dimensional ` +
              `vector, expected ${dims}.`,
          );
        }
        entry.load(seq, id, text, metadata, embedding);
      }
      if (approximate) entry.useIndex(this.buildIndex(dims, source.vectors()));
      this.saveIndex(entry, stamp);
      return entry;
    });
    const entry = load();
    this.cache.set(key, entry);
    return entry;
  }

  /** A new approximate index over every vector of an iteration, added in batches. */
  private buildIndex(dims: number, vectors: Iterable<[number, string, Uint8Array]>) {
    const index = this.kernel.createIndex!(dims);
    const batch = 4096;
    const keys: number[] = [];
    const matrix = new Float32Array(batch * dims);
    for (const [seq, , blob] of vectors) {
      matrix.set(blobToVector(blob), keys.length * dims);
      keys.push(seq);
      if (keys.length === batch) {
        index.addAll(keys, matrix);
        keys.length = 0;
      }
    }
    index.addAll(keys, matrix.subarray(0, keys.length * dims));
    return index;
  }

  /**
   * Saves the state (and approximate index) of a scope that has one or is large enough,
   * under the scope's current version, unless another connection has committed since this one
   * last looked (the saved state could then miss its writes; the scope is reloaded instead).
   */
  private saveIndex(entry: ScopeIndex, stamp?: IndexStamp): void {
    if (!this.saves) return;
    if (!entry.index && entry.size < this.approximateFrom * STATE_SAVE_SHARE) return;
    try {
      const current = stamp ?? {
        scopeKey: scopeKey(entry.scope),
        version: `${this.ctx.storeId()}:${this.ctx.version(entry.scope)}`,
        dims: entry.dims,
        format: INDEX_FORMAT,
      };
      if (!stamp && (this.stmt.dataVersion.get() as number) !== this.lastDataVersion) return;
      this.indexFiles!.save(current, entry.index, entry.snapshot());
      entry.changesSinceSave = 0;
    } catch {
      // A cache that cannot be written (read-only directory) is rebuilt at the next start.
    }
  }

  /** Loads the rows of scored ids, keeping the order and dropping ids that vanished. */
  private withRows(hits: { id: string; score: number }[]): ScoredMemory[] {
    if (hits.length === 0) return [];
    const unread = hits.filter((hit) => !this.rows.has(hit.id)).map((hit) => hit.id);
    const read = new Map<string, MemoryRow>();
    if (unread.length > 0) {
      for (const row of this.stmt.getByIds.all(JSON.stringify(unread)) as MemoryRow[]) {
        read.set(row.id, row);
        if (this.rows.size >= ROW_CACHE_SIZE) this.rows.delete(this.rows.keys().next().value!);
        this.rows.set(row.id, row);
      }
    }
    const out: ScoredMemory[] = [];
    for (const hit of hits) {
      const row = read.get(hit.id) ?? this.rows.get(hit.id);
      if (row) out.push({ memory: toMemory(row), score: hit.score });
    }
    return out;
  }

  async similarities(vector: number[], ids: string[]): Promise<Map<string, number>> {
    this.assertOpen();
    const result = new Map<string, number>();
    this.syncWithOtherConnections();
    const dims = this.dimensions();
    if (dims === undefined || ids.length === 0) return result;
    this.checkVector(vector, dims, "Query vector");
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

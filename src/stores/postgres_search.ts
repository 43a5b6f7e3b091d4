import type { MemoryScope } from "../scope.js";
import type { ScoredMemory, StoreSearchOptions } from "./base.js";
import { dollar, type PostgresConnection, type Queryable } from "./postgres_connection.js";
import { normalizeEntityName } from "./entity_names.js";
import { filterSql } from "./postgres_filters.js";
import { scopeCondition } from "./scope_sql.js";
import { MEMORY_COLUMNS, toMemory, type MemoryRow } from "./store_rows.js";

/** Longest keyword query, in words (like the SQLite store). */
const MAX_QUERY_WORDS = 64;

/** What the search needs from the Postgres store. */
export interface PostgresSearchContext {
  connection: PostgresConnection;
  dimensions(q?: Queryable): Promise<number | undefined>;
  /** The query vector as a `vector` literal, checked against `dims`. */
  queryVector(vector: number[], dims: number): string;
  /** Validates a search's scope and options; returns the scope with only defined ids. */
  checkSearch(scope: MemoryScope, options: StoreSearchOptions): MemoryScope;
  /** Scan every vector of the scope instead of using the HNSW index. */
  exactSearch: boolean;
  /** HNSW candidate list size per search (`hnsw.ef_search`). */
  efSearch: number;
}

/** Words of free text, OR-ed into a `to_tsquery` string; `undefined` when it has none. */
export function tsQuery(text: string): string | undefined {
  // Folded like the stored search text.
  const words = normalizeEntityName(text).split(" ").filter(Boolean);
  // Each word quoted as a tsquery lexeme: letters, digits and marks only, so nothing to escape.
  const unique = [...new Set(words)].slice(0, MAX_QUERY_WORDS);
  return unique.length ? unique.map((word) => `'${word}'`).join(" | ") : undefined;
}

/**
 * Vector search (pgvector cosine distance, HNSW index or exact), keyword search (`ts_rank`
 * over a generated `tsvector`) and similarities of the Postgres store. Scope and filters are
 * SQL conditions, so they apply before ranking.
 */
export class PostgresSearch {
  constructor(private readonly ctx: PostgresSearchContext) {}

  private get s(): string {
    return this.ctx.connection.schema;
  }

  /** `WHERE` of a search: scope and filter, with their parameters. */
  private where(
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): { sql: string; params: unknown[] } {
    const { sql, params } = scopeCondition(scope, "m.", dollar);
    const all: unknown[] = [...params];
    const filter = options.filters ? ` AND ${filterSql(options.filters, "m.metadata", all)}` : "";
    return { sql: sql + filter, params: all };
  }

  async vectorSearch(
    vector: number[],
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]> {
    const queryScope = this.ctx.checkSearch(scope, options);
    const dims = await this.ctx.dimensions();
    if (dims === undefined) return [];
    const query = this.ctx.queryVector(vector, dims);
    if (options.topK === 0) return [];
    const { sql, params } = this.where(queryScope, options);
    params.push(query, options.topK);
    const distance = `(m.embedding::vector(${dims})) <=> $${params.length - 1}::vector(${dims})`;
    // The index returns candidates nearest first and filters after; an iterative scan goes on
    // until topK rows pass the scope and filter (pgvector >= 0.8). Exact: no index scans.
    const setup = this.ctx.exactSearch
      ? "SET LOCAL enable_indexscan = off;"
      : `SET LOCAL hnsw.ef_search = ${this.ctx.efSearch}; SET LOCAL hnsw.iterative_scan = relaxed_order;`;
    const rows = await this.ctx.connection.transaction(
      async (client) =>
        (
          await client.query<MemoryRow & { distance: number }>(
            `SELECT ${MEMORY_COLUMNS}, ${distance} AS distance FROM ${this.s}.memories m
             WHERE ${sql} ORDER BY ${distance} LIMIT $${params.length}`,
            params,
          )
        ).rows,
      setup,
    );
    // relaxed_order may return neighbours slightly out of order.
    return rows
      .map((row) => ({ memory: toMemory(row), score: cosine(row.distance) }))
      .sort((a, b) => b.score - a.score);
  }

  async keywordSearch(
    query: string,
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]> {
    const queryScope = this.ctx.checkSearch(scope, options);
    if (options.topK === 0) return [];
    const terms = tsQuery(query);
    if (terms === undefined) return [];
    const { sql, params } = this.where(queryScope, options);
    params.push(terms, options.topK);
    const rows = await this.ctx.connection.query<MemoryRow & { rank: number }>(
      `SELECT ${MEMORY_COLUMNS}, ts_rank(m.tsv, q, 1) AS rank
       FROM ${this.s}.memories m, to_tsquery('english', $${params.length - 1}) q
       WHERE m.tsv @@ q AND ${sql} ORDER BY rank DESC, m.seq LIMIT $${params.length}`,
      params,
    );
    return rows.map((row) => ({ memory: toMemory(row), score: row.rank }));
  }

  async similarities(vector: number[], ids: string[]): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    const dims = await this.ctx.dimensions();
    if (dims === undefined || ids.length === 0) return result;
    const query = this.ctx.queryVector(vector, dims);
    const rows = await this.ctx.connection.query<{ id: string; distance: number }>(
      `SELECT id, (embedding::vector(${dims})) <=> $1::vector(${dims}) AS distance
       FROM ${this.s}.memories WHERE id = ANY($2)`,
      [query, [...new Set(ids)]],
    );
    for (const row of rows) result.set(row.id, cosine(row.distance));
    return result;
  }
}

/** Cosine similarity from pgvector's cosine distance (NaN, for a zero vector, is 0). */
function cosine(distance: number): number {
  const similarity = 1 - Number(distance);
  return Number.isNaN(similarity) ? 0 : similarity;
}

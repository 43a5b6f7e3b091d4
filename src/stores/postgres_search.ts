import type { MemoryScope } from "../scope.js";
import type { ScoredMemory, StoreSearchOptions } from "./base.js";
import { dollar, type PostgresConnection, type Queryable } from "./postgres_connection.js";
import { normalizeEntityName } from "./entity_names.js";
import { COMMON_TERM_SHARE } from "./keyword_index.js";
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

/** The words of free text, each a `to_tsquery` string of one quoted lexeme. */
export function tsQueryWords(text: string): string[] {
  // Folded like the stored search text.
  const words = normalizeEntityName(text).split(" ").filter(Boolean);
  // Each word quoted as a tsquery lexeme: letters, digits and marks only, so nothing to escape.
  return [...new Set(words)].slice(0, MAX_QUERY_WORDS).map((word) => `'${word}'`);
}

/**
 * Vector search (pgvector cosine distance, HNSW index or exact), keyword search (a generated
 * `tsvector` matched through its GIN index, ranked by BM25 weights of the scope's own
 * statistics), insertion-order neighbours and similarities of the Postgres store. Scope and
 * filters are SQL conditions, so they apply before ranking.
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

  /**
   * Keyword search ranked like the SQLite store's index (keyword_index.ts), with BM25 weights
   * from the scope's own statistics: each query word the English configuration keeps is
   * weighted by its inverse document frequency among the scope's memories (words found in
   * more than {@link COMMON_TERM_SHARE} of them dropped unless nothing rarer matches), and a
   * memory scores the weights of the words it contains divided by the sum of all kept weights,
   * the best the query can reach in the scope. Word counts inside a memory are not weighed
   * (memories are short statements); other scopes' memories change nothing.
   */
  async keywordSearch(
    query: string,
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]> {
    const queryScope = this.ctx.checkSearch(scope, options);
    if (options.topK === 0) return [];
    const words = tsQueryWords(String(query ?? ""));
    if (words.length === 0) return [];
    const { sql: inScope, params } = scopeCondition(queryScope, "m.", dollar);
    const all: unknown[] = [...params];
    const filter = options.filters ? filterSql(options.filters, "m.metadata", all) : "TRUE";
    all.push(words, COMMON_TERM_SHARE, options.topK);
    const [wordsAt, shareAt, topKAt] = [all.length - 2, all.length - 1, all.length];
    const memories = `${this.s}.memories`;
    const rows = await this.ctx.connection.query<MemoryRow & { score: number }>(
      `WITH terms AS (
         SELECT DISTINCT q FROM unnest($${wordsAt}::text[]) AS w(word),
           to_tsquery('english', w.word) AS q
         WHERE numnode(q) > 0
       ), total AS (
         SELECT count(*)::float8 AS n FROM ${memories} m WHERE ${inScope}
       ), df AS (
         SELECT t.q, (SELECT count(*) FROM ${memories} m WHERE m.tsv @@ t.q AND ${inScope})::float8 AS n
         FROM terms t
       ), kept AS (
         SELECT d.q, ln(1 + (total.n - d.n + 0.5) / (d.n + 0.5)) AS idf
         FROM (SELECT q, n, row_number() OVER (ORDER BY n, q::text) AS rarest FROM df WHERE n > 0) d,
           total
         WHERE d.rarest = 1 OR d.n <= total.n * $${shareAt}
       ), best AS (
         SELECT sum(idf) AS idf FROM kept
       ), hits AS (
         SELECT m.id, sum(k.idf) AS idf FROM kept k JOIN ${memories} m ON m.tsv @@ k.q
         WHERE ${inScope} GROUP BY m.id
       )
       SELECT ${MEMORY_COLUMNS}, least(1, h.idf / best.idf) AS score
       FROM hits h JOIN ${memories} m ON m.id = h.id, best
       WHERE ${filter} ORDER BY score DESC, m.seq LIMIT $${topKAt}`,
      all,
    );
    return rows.map((row) => ({ memory: toMemory(row), score: Number(row.score) }));
  }

  /** The memories stored just before and after each given one inside the scope (by `seq`). */
  async neighbors(ids: string[], scope: MemoryScope): Promise<Map<string, string[]>> {
    if (ids.length === 0) return new Map();
    const { sql, params } = scopeCondition(scope, "m.", dollar);
    const all: unknown[] = [...params, [...new Set(ids)]];
    const rows = await this.ctx.connection.query<{
      id: string;
      before: string | null;
      after: string | null;
    }>(
      `SELECT id, before, after FROM (
         SELECT m.id, lag(m.id) OVER w AS before, lead(m.id) OVER w AS after
         FROM ${this.s}.memories m WHERE ${sql} WINDOW w AS (ORDER BY m.seq)
       ) around WHERE id = ANY($${all.length})`,
      all,
    );
    return new Map(
      rows.map((row) => [row.id, [row.before, row.after].filter((id) => id !== null)]),
    );
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

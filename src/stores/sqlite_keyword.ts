import type Database from "better-sqlite3";
import type { MemoryScope } from "../scope.js";
import type { ScoredMemory, StoreSearchOptions } from "./base.js";
import { scopeCondition } from "./scope_sql.js";
import { SqliteSearchPart } from "./sqlite_context.js";
import { MEMORY_COLUMNS, toMemory, type MemoryRow } from "./store_rows.js";

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
 * A term found in more than this share of all memories is left out of the keyword query when
 * rarer terms are present: its BM25 weight is small (idf ≤ ln 9) but scoring its posting list
 * is what a keyword search spends its time on.
 */
const COMMON_TERM_SHARE = 0.1;
/** Below this many matching memories a term is never considered common (small stores). */
const MIN_COMMON_TERM_DOCS = 100;
/** Rarer terms are kept first until their posting lists add up to this many rows. */
const KEYWORD_POSTINGS_BUDGET = 2000;
/** Document frequencies remembered between writes. */
const MAX_CACHED_TERMS = 4096;

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

/** BM25 keyword search of the SQLite store over its FTS5 index. */
export class SqliteKeywordIndex extends SqliteSearchPart {
  /** Statements of the keyword search, prepared on first use. */
  private keywordStatements?: {
    changeKey: Database.Statement;
    rowCount: Database.Statement;
    termDocs: Database.Statement;
  };
  /** Row count and per-phrase document counts, valid while `key` (writes seen) holds. */
  private termStats?: { key: string; rows: number; docs: Map<string, number> };

  private keywordStatement() {
    this.keywordStatements ??= {
      // Changes by this connection plus commits by others: any write moves one of them.
      changeKey: this.db
        .prepare("SELECT total_changes() || ':' || data_version FROM pragma_data_version")
        .pluck(),
      rowCount: this.db.prepare("SELECT count(*) FROM memories").pluck(),
      // Matching rows of each phrase, counted up to @cap (a posting list is read lazily).
      termDocs: this.db.prepare(
        `SELECT j.key AS i, (SELECT count(*) FROM (SELECT 1 FROM memories_fts
           WHERE memories_fts MATCH j.value LIMIT @cap)) AS docs
         FROM json_each(@phrases) j`,
      ),
    };
    return this.keywordStatements;
  }

  /**
   * The phrases worth scoring: rarest first, dropping phrases that match nothing and phrases
   * found in more than {@link COMMON_TERM_SHARE} of all memories (unless no rarer phrase is
   * left), within {@link KEYWORD_POSTINGS_BUDGET} matching rows after the rarest phrase.
   */
  private selectPhrases(phrases: string[]): string[] {
    if (phrases.length <= 1) return phrases;
    const statements = this.keywordStatement();
    const key = statements.changeKey.get() as string;
    if (this.termStats?.key !== key) {
      this.termStats = { key, rows: statements.rowCount.get() as number, docs: new Map() };
    }
    const stats = this.termStats;
    const common = Math.max(MIN_COMMON_TERM_DOCS, Math.floor(stats.rows * COMMON_TERM_SHARE));
    const unknown = phrases.filter((phrase) => !stats.docs.has(phrase));
    if (unknown.length > 0) {
      if (stats.docs.size + unknown.length > MAX_CACHED_TERMS) stats.docs.clear();
      const counted = statements.termDocs.all({
        phrases: JSON.stringify(unknown),
        cap: common + 1,
      }) as { i: number; docs: number }[];
      for (const { i, docs } of counted) stats.docs.set(unknown[i], docs);
    }
    const ranked = phrases
      .map((phrase) => ({ phrase, docs: stats.docs.get(phrase) ?? 0 }))
      .filter(({ docs }) => docs > 0)
      .sort((a, b) => a.docs - b.docs);
    if (ranked.length === 0) return [];
    // Every phrase is common: keep one of them (the counts stopped at the cap).
    if (ranked[0].docs > common) return [ranked[0].phrase];
    const kept = [ranked[0].phrase];
    let postings = 0;
    for (const { phrase, docs } of ranked.slice(1)) {
      if (docs > common || postings + docs > KEYWORD_POSTINGS_BUDGET) break;
      kept.push(phrase);
      postings += docs;
    }
    return kept;
  }

  async keywordSearch(
    query: string,
    scope: MemoryScope,
    options: StoreSearchOptions,
  ): Promise<ScoredMemory[]> {
    const queryScope = this.checkSearch(scope, options);
    if (options.topK === 0) return [];
    const phrases = this.selectPhrases(ftsPhrases(String(query ?? "")));
    if (phrases.length === 0) return [];
    const { mask, sql, params } = scopeCondition(queryScope, "m.");
    const filtered = options.filters !== undefined;
    // Rank on (seq, score) only; the full rows are read for the top-K alone.
    const statement = this.scoped(
      filtered ? "keyword-filtered" : "keyword",
      mask,
      () =>
        `WITH top AS (
           SELECT m.seq AS seq, bm25(memories_fts) AS bm25_score
           FROM memories_fts JOIN memories m ON m.seq = memories_fts.rowid
           WHERE memories_fts MATCH ? AND ${sql}${filtered ? " AND mem0_match(m.metadata, ?)" : ""}
           ORDER BY bm25_score, m.seq LIMIT ?
         )
         SELECT ${MEMORY_COLUMNS}, top.bm25_score FROM top JOIN memories m ON m.seq = top.seq
         ORDER BY top.bm25_score, top.seq`,
    );
    const args: unknown[] = [phrases.join(" OR "), ...params];
    if (filtered) args.push(JSON.stringify(options.filters));
    args.push(options.topK);
    const rows = statement.all(...args) as (MemoryRow & { bm25_score: number })[];
    return rows.map((row) => ({ memory: toMemory(row), score: -row.bm25_score }));
  }
}

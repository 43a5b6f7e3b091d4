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

/**
 * Keyword search of the SQLite store over its FTS5 index, ranked by the statistics of the
 * scope alone.
 */
export class SqliteKeywordIndex extends SqliteSearchPart {
  /** Statements reading matched rows by FTS rowid, prepared on first use. */
  private rowStatements?: { bySeqs: Database.Statement; bySeqsFiltered: Database.Statement };

  private rowStatement() {
    this.rowStatements ??= {
      bySeqs: this.db.prepare(
        `SELECT m.seq, ${MEMORY_COLUMNS} FROM memories m WHERE m.seq IN (SELECT value FROM json_each(?))`,
      ),
      bySeqsFiltered: this.db.prepare(
        `SELECT m.seq, ${MEMORY_COLUMNS} FROM memories m
         WHERE m.seq IN (SELECT value FROM json_each(?)) AND mem0_match(m.metadata, ?)`,
      ),
    };
    return this.rowStatements;
  }

  /**
   * Keyword search inside the scope: a memory scores the sum of the BM25 inverse document
   * frequencies, among the scope's memories, of the query words it contains. FTS5's `bm25()`
   * would weigh words by the whole table, so other scopes' memories would sway the ranking.
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
    const statements = this.rowStatement();
    const rows = (
      options.filters === undefined
        ? statements.bySeqs.all(seqs)
        : statements.bySeqsFiltered.all(seqs, JSON.stringify(options.filters))
    ) as (MemoryRow & { seq: number })[];
    const bySeq = new Map(rows.map((row) => [row.seq, row]));
    return wanted
      .filter(([seq]) => bySeq.has(seq))
      .slice(0, options.topK)
      .map(([seq, score]) => ({ memory: toMemory(bySeq.get(seq)!), score }));
  }
}

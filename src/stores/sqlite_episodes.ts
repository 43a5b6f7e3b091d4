import type Database from "better-sqlite3";
import type { MemoryScope } from "../scope.js";
import type { LoggedMessage, MessageMatch } from "./base.js";
import { rankMessages } from "./episode_ranking.js";
import type { ScopeCondition } from "./scope_sql.js";
import { toLoggedMessage, type MessageRow } from "./store_rows.js";
import { blobToVector, normalizeVector, vectorToBlob } from "./vector_cache.js";

/** Migration 7 of the SQLite store: a vector per logged message, for episode recall. */
export const EPISODE_MIGRATION_SQL = `
  ALTER TABLE messages ADD COLUMN embedding BLOB;  -- Float32 little-endian, unit length
`;

interface SqliteMessageRow extends MessageRow {
  id: number;
  scope_key: string;
  embedding: Buffer | null;
}

/** What the episode search needs from the store that owns the connection. */
export interface SqliteEpisodesContext {
  db: Database.Database;
  scopeCondition(scope: MemoryScope): ScopeCondition;
  scoped(kind: string, mask: string, build: () => string): Database.Statement;
  /** The words of a text as keyword search sees them (stemmed, stop words dropped). */
  terms(text: string): string[];
}

/**
 * Episode recall of the SQLite store: a vector per logged message, and an exact scan of the
 * scope's messages per search (cosine, and BM25 weights from the scope's own messages, as
 * memory keyword search does). A scan keeps writes free of index upkeep; conversations of a
 * scope are thousands of turns, not millions.
 */
export class SqliteEpisodes {
  private readonly stmt;

  constructor(private readonly context: SqliteEpisodesContext) {
    const { db } = context;
    this.stmt = {
      setEmbedding: db.prepare("UPDATE messages SET embedding = ? WHERE id = ?"),
      byId: db.prepare("SELECT * FROM messages WHERE id = ?"),
      before: db.prepare(
        "SELECT * FROM messages WHERE scope_key = ? AND id < ? ORDER BY id DESC LIMIT ?",
      ),
      after: db.prepare(
        "SELECT * FROM messages WHERE scope_key = ? AND id > ? ORDER BY id LIMIT ?",
      ),
    };
  }

  /** Stores the vector of a message just inserted (inside the caller's transaction). */
  setEmbedding(id: number | bigint, embedding: number[]): void {
    this.stmt.setEmbedding.run(vectorToBlob(normalizeVector(embedding)), id);
  }

  search(vector: number[], query: string, scope: MemoryScope, topK: number): MessageMatch[] {
    const { mask, sql, params } = this.context.scopeCondition(scope);
    const rows = this.context
      .scoped("episode-scan", mask, () => `SELECT * FROM messages WHERE ${sql}`)
      .all(...params) as SqliteMessageRow[];
    const unit = normalizeVector(vector);
    const candidates = rows.map((row) => {
      let cosine = 0;
      if (row.embedding && row.embedding.byteLength === unit.length * 4) {
        const stored = blobToVector(row.embedding);
        for (let d = 0; d < unit.length; d++) cosine += stored[d] * unit[d];
      }
      return { message: toLoggedMessage(row), cosine };
    });
    return rankMessages(candidates, query, this.context.terms, topK);
  }

  windows(ids: string[], window: number): LoggedMessage[][] {
    return ids.map((id) => {
      const row = this.stmt.byId.get(Number(id)) as SqliteMessageRow | undefined;
      if (!row) return [];
      const before = this.stmt.before.all(row.scope_key, row.id, window) as SqliteMessageRow[];
      const after = this.stmt.after.all(row.scope_key, row.id, window) as SqliteMessageRow[];
      return [...before.reverse(), row, ...after].map(toLoggedMessage);
    });
  }
}

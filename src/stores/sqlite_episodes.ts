import type Database from "better-sqlite3";
import type { MemoryScope } from "../scope.js";
import type { LoggedMessage, MessageMatch, StoredMessage } from "./base.js";
import { rankMessages } from "./episode_ranking.js";
import type { ScopeCondition } from "./scope_sql.js";
import { toLoggedMessage, type MessageRow } from "./store_rows.js";
import { blobToVector, normalizeVector, vectorToBlob } from "./vector_cache.js";

/** Migration 7 of the SQLite store: a vector per logged message, for episode recall. */
export const EPISODE_MIGRATION_SQL = `
  ALTER TABLE messages ADD COLUMN embedding BLOB;  -- Float32 little-endian, unit length
`;

/**
 * Migration 8: a message stored verbatim as a memory shares that memory's vector (`memory_seq`,
 * its embedding then NULL) instead of holding a second copy.
 */
export const SHARED_VECTOR_MIGRATION_SQL = `
  ALTER TABLE messages ADD COLUMN memory_seq INTEGER;
  CREATE INDEX messages_memory ON messages (memory_seq) WHERE memory_seq IS NOT NULL;
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
      detach: db.prepare(
        `UPDATE messages SET memory_seq = NULL,
           embedding = (SELECT embedding FROM memories WHERE seq = @seq) WHERE memory_seq = @seq`,
      ),
      byId: db.prepare("SELECT * FROM messages WHERE id = ?"),
      before: db.prepare(
        "SELECT * FROM messages WHERE scope_key = ? AND id < ? ORDER BY id DESC LIMIT ?",
      ),
      after: db.prepare(
        "SELECT * FROM messages WHERE scope_key = ? AND id > ? ORDER BY id LIMIT ?",
      ),
    };
  }

  /**
   * How a message about to be inserted keeps its vector: a reference to the memory stored from
   * it in the same write (`stored`: row keys of the memories that write stored, by id) when
   * there is one, else its own copy.
   */
  vectorColumns(
    message: StoredMessage,
    stored: ReadonlyMap<string, number>,
  ): { embedding: Buffer | null; memory_seq: number | null } {
    if (!message.embedding) return { embedding: null, memory_seq: null };
    const seq = message.memoryId === undefined ? undefined : stored.get(message.memoryId);
    if (seq !== undefined) return { embedding: null, memory_seq: seq };
    return { embedding: vectorToBlob(normalizeVector(message.embedding)), memory_seq: null };
  }

  /** Gives the messages sharing a memory's vector their own copy, before it changes or goes. */
  detach(memorySeq: number): void {
    this.stmt.detach.run({ seq: memorySeq });
  }

  search(vector: number[], query: string, scope: MemoryScope, topK: number): MessageMatch[] {
    const { mask, sql, params } = this.context.scopeCondition(scope);
    const rows = this.context
      .scoped(
        "episode-scan",
        mask,
        () =>
          `SELECT id, scope_key, user_id, agent_id, run_id, role, content, created_at,
             coalesce(embedding, (SELECT m.embedding FROM memories m WHERE m.seq = memory_seq))
               AS embedding
           FROM messages WHERE ${sql}`,
      )
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

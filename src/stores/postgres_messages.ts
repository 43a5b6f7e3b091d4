import { scopeKey, type MemoryScope } from "../scope.js";
import type { LoggedMessage, MessageMatch, StoredMessage } from "./base.js";
import { rankMessages } from "./episode_ranking.js";
import { textTerms } from "./keyword_index.js";
import {
  dollar,
  toVectorLiteral,
  type PostgresConnection,
  type Queryable,
} from "./postgres_connection.js";
import { ownerColumns, scopeCondition } from "./scope_sql.js";
import { toLoggedMessage, type MessageRow } from "./store_rows.js";
import { normalizeVector } from "./vector_cache.js";

const MESSAGE_COLUMNS = "m.id, m.user_id, m.agent_id, m.run_id, m.role, m.content, m.created_at";

/** What the message log needs from the Postgres store. */
export interface PostgresMessagesContext {
  connection: PostgresConnection;
  /** Validates a search's scope and `topK`; returns the scope with only defined ids. */
  checkSearch(scope: MemoryScope, options: { topK: number }): MemoryScope;
}

/** Message ids are `bigserial` keys: anything else names no message (and must not reach a cast). */
const MESSAGE_ID = /^[1-9][0-9]{0,17}$/;

/**
 * The message log of the Postgres store: turns appended with their vectors, the last turns of
 * an owner, and episode recall. Episode search scans the scope's turns exactly, cosine in SQL
 * and keyword weights in `rankMessages` with the keyword index's tokenizer, so turns rank as
 * on SQLite; a scope's conversation is thousands of turns, and writes keep no index up.
 */
export class PostgresMessages {
  constructor(private readonly ctx: PostgresMessagesContext) {}

  private get connection(): PostgresConnection {
    return this.ctx.connection;
  }

  private get s(): string {
    return this.connection.schema;
  }

  /** Appends to the owner's log in the caller's transaction, in order, each with its vector. */
  async insert(client: Queryable, owner: MemoryScope, messages: StoredMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const { user_id, agent_id, run_id } = ownerColumns(owner);
    const now = new Date().toISOString();
    await client.query(
      `INSERT INTO ${this.s}.messages (scope_key, user_id, agent_id, run_id, role, content,
         created_at, embedding)
       SELECT $1, $2, $3, $4, role, content, created_at, embedding::vector
       FROM unnest($5::text[], $6::text[], $7::text[], $8::text[])
         WITH ORDINALITY AS t(role, content, created_at, embedding, n)
       ORDER BY n`,
      [
        scopeKey(owner),
        user_id,
        agent_id,
        run_id,
        messages.map((message) => message.role),
        messages.map((message) => message.content),
        messages.map((message) => message.createdAt ?? now),
        messages.map(({ embedding }) =>
          embedding?.length ? toVectorLiteral(normalizeVector(embedding)) : null,
        ),
      ],
    );
  }

  /** The owner's last `limit` turns, oldest first. */
  async recent(owner: MemoryScope, limit: number): Promise<StoredMessage[]> {
    const rows = await this.connection.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM ${this.s}.messages m WHERE m.scope_key = $1
       ORDER BY m.id DESC LIMIT $2`,
      [scopeKey(owner), limit],
    );
    return rows
      .reverse()
      .map((row) => ({ role: row.role, content: row.content, createdAt: row.created_at }));
  }

  async search(
    vector: number[],
    query: string,
    scope: MemoryScope,
    options: { topK: number },
  ): Promise<MessageMatch[]> {
    const queryScope = this.ctx.checkSearch(scope, options);
    if (options.topK === 0) return [];
    const { sql, params } = scopeCondition(queryScope, "m.", dollar);
    const unit = vector.length > 0 ? toVectorLiteral(normalizeVector(vector)) : null;
    params.push(unit as string);
    const q = `$${params.length}::vector`;
    // Turns without a vector, or of another dimension (an earlier embedder), score 0 as on
    // SQLite; a zero vector's NaN distance too.
    const rows = await this.connection.query<MessageRow & { cosine: number | null }>(
      `SELECT ${MESSAGE_COLUMNS},
         CASE WHEN vector_dims(m.embedding) = vector_dims(${q}) THEN 1 - (m.embedding <=> ${q})
         END AS cosine
       FROM ${this.s}.messages m WHERE ${sql} ORDER BY m.id`,
      params,
    );
    const candidates = rows.map((row) => {
      const cosine = Number(row.cosine ?? 0);
      return { message: toLoggedMessage(row), cosine: Number.isNaN(cosine) ? 0 : cosine };
    });
    return rankMessages(candidates, String(query ?? ""), textTerms, options.topK);
  }

  /** For each id, the same owner's turns from `window` before to `window` after, oldest first. */
  async windows(ids: string[], window: number): Promise<LoggedMessage[][]> {
    this.connection.assertOpen();
    const wanted = ids.filter((id) => MESSAGE_ID.test(id));
    if (wanted.length === 0) return ids.map(() => []);
    const rows = await this.connection.query<MessageRow & { center: string }>(
      `SELECT c.id::text AS center, ${MESSAGE_COLUMNS}
       FROM (SELECT DISTINCT unnest($1::bigint[]) AS id) c
       JOIN ${this.s}.messages x ON x.id = c.id
       CROSS JOIN LATERAL (
         (SELECT * FROM ${this.s}.messages b WHERE b.scope_key = x.scope_key AND b.id < x.id
          ORDER BY b.id DESC LIMIT $2)
         UNION ALL SELECT x.*
         UNION ALL
         (SELECT * FROM ${this.s}.messages a WHERE a.scope_key = x.scope_key AND a.id > x.id
          ORDER BY a.id LIMIT $2)
       ) m
       ORDER BY c.id, m.id`,
      [wanted, window],
    );
    const byCenter = new Map<string, LoggedMessage[]>();
    for (const row of rows) {
      const turns = byCenter.get(row.center) ?? [];
      turns.push(toLoggedMessage(row));
      byCenter.set(row.center, turns);
    }
    return ids.map((id) => byCenter.get(id) ?? []);
  }
}

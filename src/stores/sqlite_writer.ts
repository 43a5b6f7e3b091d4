import type Database from "better-sqlite3";
import { Mem0InputError, StaleWriteError } from "../errors.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type {
  AppliedChange,
  ApplyOptions,
  HistoryEntry,
  MemoryChange,
  StoredMessage,
} from "./base.js";
import { ownerColumns, ownerOf, scopeCondition, type OwnerColumns } from "./scope_sql.js";
import type { SqliteGraph } from "./sqlite_graph.js";
import type { SqliteEpisodes } from "./sqlite_episodes.js";
import type { SqliteOutbox } from "./sqlite_outbox.js";
import type { SqliteProfiles } from "./sqlite_profiles.js";
import type { CacheOp } from "./sqlite_search.js";
import { firstDimensions, insertOwner, unknownChange } from "./store_checks.js";
import type { MemoryRow } from "./store_rows.js";
import { blobToVector, normalizeVector, vectorToBlob } from "./vector_cache.js";

/** A memory row of the SQLite store with its row key, which orders and keys its search state. */
export interface SqliteMemoryRow extends MemoryRow {
  seq: number;
}

/** What the writer needs from the store that owns the connection. */
export interface SqliteWriterContext {
  db: Database.Database;
  graph: SqliteGraph;
  outbox: SqliteOutbox;
  profiles: SqliteProfiles;
  episodes: SqliteEpisodes;
  getRow(id: string): SqliteMemoryRow | undefined;
  recordedDimensions(): number | undefined;
  /** Records the embedding dimension (only called while none is recorded). */
  recordDimensions(dims: number): void;
  checkVector(vector: number[], dims: number, what: string): void;
  scoped(kind: string, mask: string, build: () => string): Database.Statement;
}

/** A memory row removed with its scope: what the search state must forget. */
export interface RemovedRow extends OwnerColumns {
  id: string;
  text: string;
}

/** The atomic write of the SQLite store: memory rows, history, messages, graph and outbox. */
export class SqliteWriter {
  private readonly stmt;

  constructor(private readonly ctx: SqliteWriterContext) {
    const db = ctx.db;
    this.stmt = {
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
      messageInsert: db.prepare(
        `INSERT INTO messages (scope_key, user_id, agent_id, run_id, role, content, created_at,
           embedding, memory_seq)
         VALUES (@scope_key, @user_id, @agent_id, @run_id, @role, @content, @created_at,
           @embedding, @memory_seq)`,
      ),
    };
  }

  /**
   * Applies the changes, their history, the graph changes and messages in one IMMEDIATE
   * transaction, settles the outbox entry and moves the versions of every owner touched.
   * Returns the results and the vector cache updates to replay once committed.
   */
  apply(
    changes: MemoryChange[],
    options: ApplyOptions,
  ): { results: AppliedChange[]; cacheOps: CacheOp[] } {
    const { graph, messages, outboxId, expectedVersion, profile } = options;
    const cacheOps: CacheOp[] = [];
    const touched = new Map<string, MemoryScope>();
    const run = this.ctx.db.transaction((): AppliedChange[] => {
      cacheOps.length = 0;
      touched.clear();
      if (
        expectedVersion &&
        this.ctx.outbox.version(expectedVersion.owner) !== expectedVersion.version
      ) {
        throw new StaleWriteError(
          "Another writer changed these memories after they were read.",
          "owner_changed",
        );
      }
      const forgotten = new Set<string>();
      if (outboxId !== undefined) {
        const entry = this.ctx.outbox.get(outboxId);
        if (!entry || !this.ctx.outbox.settle(outboxId)) {
          throw new StaleWriteError(
            "The queued write was applied by another worker or forgotten by a delete.",
            "entry_gone",
          );
        }
        for (const hash of entry.forget) forgotten.add(hash);
      }
      const now = new Date().toISOString();
      let dims = this.ctx.recordedDimensions();
      const results: AppliedChange[] = [];
      const prepareVector = (embedding: number[], id: string): Float32Array => {
        if (dims === undefined) {
          // No embedder recorded yet: the first vector fixes the dimension.
          dims = firstDimensions(embedding, `Embedding of memory ${id}`);
          this.ctx.recordDimensions(dims);
        }
        this.ctx.checkVector(embedding, dims, `Embedding of memory ${id}`);
        return normalizeVector(embedding);
      };
      for (const change of changes) {
        if (change.type === "insert") {
          const memory = change.memory;
          const owner = insertOwner(memory);
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
            ...ownerColumns(owner),
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
          cacheOps.push({
            type: "upsert",
            owner,
            seq: Number(inserted.lastInsertRowid),
            id: memory.id,
            text: memory.text,
            vector,
            metadata,
          });
          results.push({ change, applied: true });
        } else if (change.type === "update") {
          const row = this.ctx.getRow(change.id);
          if (!row) {
            results.push({ change, applied: false });
            continue;
          }
          // No new embedding: the text is unchanged, keep the stored vector.
          const vector = change.embedding
            ? prepareVector(change.embedding, change.id)
            : blobToVector(this.stmt.embeddingOf.get(change.id) as Buffer);
          const owner = ownerOf(row);
          const key = scopeKey(owner);
          const clash = this.stmt.hashOwner.get(key, change.hash) as string | undefined;
          if (clash !== undefined && clash !== change.id) {
            results.push({ change, applied: false, previous: row.text });
            continue;
          }
          const metadata = change.metadata ?? {};
          this.ctx.episodes.detach(row.seq);
          this.stmt.update.run({
            id: change.id,
            text: change.text,
            hash: change.hash,
            metadata: JSON.stringify(metadata),
            embedding: vectorToBlob(vector),
            updated_at: change.updatedAt,
          });
          touched.set(key, owner);
          this.addHistory(change.id, owner, "UPDATE", row.text, change.text, change.actor, now);
          cacheOps.push({
            type: "upsert",
            owner,
            seq: row.seq,
            id: change.id,
            text: change.text,
            previous: row.text,
            vector,
            metadata,
          });
          results.push({ change, applied: true, previous: row.text });
        } else if (change.type === "delete") {
          const row = this.ctx.getRow(change.id);
          if (!row) {
            results.push({ change, applied: false });
            continue;
          }
          this.ctx.episodes.detach(row.seq);
          this.stmt.delete.run(change.id);
          const owner = ownerOf(row);
          touched.set(scopeKey(owner), owner);
          // Writes queued before this delete must not bring the text back.
          this.ctx.outbox.forgetHash(row.hash, owner);
          this.addHistory(change.id, owner, "DELETE", row.text, null, change.actor, now);
          cacheOps.push({ type: "delete", owner, id: change.id, text: row.text });
          results.push({ change, applied: true, previous: row.text });
        } else {
          throw unknownChange(change);
        }
      }
      // Graph changes after the memory changes, in the same transaction.
      if (graph?.length) this.ctx.graph.applyChanges(graph);
      if (messages) {
        const owner = requireScope(messages.owner);
        const stored = new Map<string, number>();
        for (const op of cacheOps) {
          if (op.type === "upsert" && op.previous === undefined) stored.set(op.id, op.seq);
        }
        this.insertMessages(owner, messages.messages, stored);
        touched.set(scopeKey(owner), owner);
      }
      if (profile) this.ctx.profiles.write(profile);
      if (expectedVersion) touched.set(scopeKey(expectedVersion.owner), expectedVersion.owner);
      for (const owner of touched.values()) this.ctx.outbox.bump(owner);
      return results;
    });
    return { results: run.immediate(), cacheOps };
  }

  addHistory(
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
      ...ownerColumns(owner),
      event,
      previous,
      next,
      actor: actor ?? null,
      created_at: createdAt,
    });
  }

  /** Inserts messages; `stored` has the row keys, by id, of the memories this write stored. */
  insertMessages(
    owner: MemoryScope,
    messages: StoredMessage[],
    stored: ReadonlyMap<string, number> = new Map(),
  ): void {
    const key = scopeKey(owner);
    for (const message of messages) {
      this.stmt.messageInsert.run({
        scope_key: key,
        ...ownerColumns(owner),
        role: message.role,
        content: message.content,
        created_at: message.createdAt ?? new Date().toISOString(),
        ...this.ctx.episodes.vectorColumns(message, stored),
      });
    }
  }

  /** Deletes everything a scope owns (owners below it included), in one transaction. */
  deleteScope(target: MemoryScope): RemovedRow[] {
    const { mask, sql, params } = scopeCondition(target);
    const scoped = this.ctx.scoped;
    const run = this.ctx.db.transaction(() => {
      const removed = scoped(
        "delete-memories",
        mask,
        () => `DELETE FROM memories WHERE ${sql} RETURNING id, text, user_id, agent_id, run_id`,
      ).all(...params) as RemovedRow[];
      scoped("delete-history", mask, () => `DELETE FROM history WHERE ${sql}`).run(...params);
      scoped("delete-messages", mask, () => `DELETE FROM messages WHERE ${sql}`).run(...params);
      this.ctx.graph.deleteScope(target);
      this.ctx.profiles.deleteScope(target);
      this.ctx.outbox.deleteScope(target);
      this.ctx.outbox.bump(target);
      for (const owner of new Set(removed.map((row) => JSON.stringify(ownerOf(row))))) {
        this.ctx.outbox.bump(JSON.parse(owner) as MemoryScope);
      }
      return removed;
    });
    return run.immediate();
  }

  /** Deletes everything in the file, in one transaction. */
  clear(): void {
    this.ctx.db
      .transaction(() => {
        this.ctx.db.exec(`
          DELETE FROM memories;
          DELETE FROM history;
          DELETE FROM messages;
          DELETE FROM meta;
        `);
        this.ctx.graph.clear();
        this.ctx.profiles.clear();
        this.ctx.outbox.clear();
      })
      .immediate();
  }
}

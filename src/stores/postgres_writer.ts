import type { PoolClient } from "pg";
import { Mem0InputError, StaleWriteError } from "../errors.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type { AppliedChange, ApplyOptions, HistoryEntry, MemoryChange } from "./base.js";
import { normalizeEntityName } from "./entity_names.js";
import type { PostgresConnection, Queryable } from "./postgres_connection.js";
import type { PostgresGraph } from "./postgres_graph.js";
import type { PostgresMessages } from "./postgres_messages.js";
import type { PostgresOutbox } from "./postgres_outbox.js";
import type { PostgresProfiles } from "./postgres_profiles.js";
import { ownerColumns, ownerOf } from "./scope_sql.js";
import { insertOwner, unknownChange } from "./store_checks.js";
import { MEMORY_COLUMNS, type MemoryRow } from "./store_rows.js";

type InsertChange = Extract<MemoryChange, { type: "insert" }>;

/** What the writer needs from the Postgres store. */
export interface PostgresWriterContext {
  connection: PostgresConnection;
  graph: PostgresGraph;
  outbox: PostgresOutbox;
  messages: PostgresMessages;
  profiles: PostgresProfiles;
  /** The vector to store as a `vector` literal (recording the dimension when first), checked. */
  prepareVector(q: Queryable, vector: number[], what: string): Promise<string>;
}

/**
 * The atomic write of the Postgres store: memory rows, history, messages, graph, the profile
 * version, the outbox entry it settles and the versions it moves, in one transaction. Writers of the same owner
 * serialise on the owner's version row; one that read an older version rolls back with
 * `StaleWriteError` (the engine reads again), so app instances adding the same fact leave one
 * memory.
 */
export class PostgresWriter {
  constructor(private readonly ctx: PostgresWriterContext) {}

  private get s(): string {
    return this.ctx.connection.schema;
  }

  async apply(changes: MemoryChange[], options: ApplyOptions): Promise<AppliedChange[]> {
    return this.ctx.connection.transaction((client) => this.applyIn(client, changes, options));
  }

  private async applyIn(
    client: PoolClient,
    changes: MemoryChange[],
    { graph, messages, outboxId, expectedVersion, profile }: ApplyOptions,
  ): Promise<AppliedChange[]> {
    const forgotten = new Set<string>();
    if (outboxId !== undefined) {
      const forget = await this.ctx.outbox.settle(client, outboxId);
      if (!forget) {
        throw new StaleWriteError(
          "The queued write was applied by another worker or forgotten by a delete.",
          "entry_gone",
        );
      }
      for (const hash of forget) forgotten.add(hash);
    }
    const now = new Date().toISOString();
    const touched = new Map<string, MemoryScope>();
    const onlyInserts = changes.length > 1 && changes.every((change) => change.type === "insert");
    const results: AppliedChange[] = onlyInserts
      ? await this.insertAll(client, changes as InsertChange[], forgotten, now, touched)
      : [];
    for (const change of onlyInserts ? [] : changes) {
      if (change.type === "insert") {
        const { memory } = change;
        const owner = insertOwner(memory);
        const vector = await this.ctx.prepareVector(
          client,
          change.embedding,
          `Embedding of memory ${memory.id}`,
        );
        const key = scopeKey(owner);
        // Same text already stored in this scope (also a retried insert), or deleted after the
        // write was queued: skip. A concurrent insert of the same text waits on the unique key.
        if (forgotten.has(memory.hash) || (await this.hashOwner(client, key, memory.hash))) {
          results.push({ change, applied: false });
          continue;
        }
        const exists = await client.query(`SELECT 1 FROM ${this.s}.memories WHERE id = $1`, [
          memory.id,
        ]);
        if (exists.rows.length > 0) {
          throw new Mem0InputError(`A memory with id ${memory.id} already exists.`);
        }
        const { user_id, agent_id, run_id } = ownerColumns(owner);
        const inserted = await client.query(
          `INSERT INTO ${this.s}.memories (id, user_id, agent_id, run_id, scope_key, text, hash,
             metadata, embedding, created_at, updated_at, search_text)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::vector, $10, $11, $12)
           ON CONFLICT (scope_key, hash) DO NOTHING RETURNING id`,
          [
            memory.id,
            user_id,
            agent_id,
            run_id,
            key,
            memory.text,
            memory.hash,
            JSON.stringify(memory.metadata ?? {}),
            vector,
            memory.createdAt,
            memory.updatedAt,
            normalizeEntityName(memory.text),
          ],
        );
        if (inserted.rows.length === 0) {
          results.push({ change, applied: false });
          continue;
        }
        await this.addHistory(
          client,
          memory.id,
          owner,
          "ADD",
          null,
          memory.text,
          change.actor,
          now,
        );
        touched.set(key, owner);
        results.push({ change, applied: true });
      } else if (change.type === "update") {
        const row = await this.lockRow(client, change.id);
        if (!row) {
          results.push({ change, applied: false });
          continue;
        }
        // No new embedding: the text is unchanged, keep the stored vector.
        const vector = change.embedding
          ? await this.ctx.prepareVector(
              client,
              change.embedding,
              `Embedding of memory ${change.id}`,
            )
          : null;
        const owner = ownerOf(row);
        const key = scopeKey(owner);
        const clash = await this.hashOwner(client, key, change.hash);
        if (clash !== undefined && clash !== change.id) {
          results.push({ change, applied: false, previous: row.text });
          continue;
        }
        await client.query(
          `UPDATE ${this.s}.memories SET text = $2, hash = $3, metadata = $4::jsonb,
             embedding = coalesce($5::vector, embedding), updated_at = $6, search_text = $7
           WHERE id = $1`,
          [
            change.id,
            change.text,
            change.hash,
            JSON.stringify(change.metadata ?? {}),
            vector,
            change.updatedAt,
            normalizeEntityName(change.text),
          ],
        );
        touched.set(key, owner);
        await this.addHistory(
          client,
          change.id,
          owner,
          "UPDATE",
          row.text,
          change.text,
          change.actor,
          now,
        );
        results.push({ change, applied: true, previous: row.text });
      } else if (change.type === "delete") {
        const { rows } = await client.query<MemoryRow>(
          `DELETE FROM ${this.s}.memories m WHERE m.id = $1 RETURNING ${MEMORY_COLUMNS}`,
          [change.id],
        );
        const row = rows[0];
        if (!row) {
          results.push({ change, applied: false });
          continue;
        }
        const owner = ownerOf(row);
        touched.set(scopeKey(owner), owner);
        // Writes queued before this delete must not bring the text back.
        await this.ctx.outbox.forgetHash(client, row.hash, owner);
        await this.addHistory(
          client,
          change.id,
          owner,
          "DELETE",
          row.text,
          null,
          change.actor,
          now,
        );
        results.push({ change, applied: true, previous: row.text });
      } else {
        throw unknownChange(change);
      }
    }
    // Graph changes after the memory changes, in the same transaction.
    if (graph?.length) await this.ctx.graph.applyChanges(client, graph);
    if (messages) {
      const owner = requireScope(messages.owner);
      await this.ctx.messages.insert(client, owner, messages.messages);
      touched.set(scopeKey(owner), owner);
    }
    if (profile) await this.ctx.profiles.write(client, profile);
    if (expectedVersion) touched.set(scopeKey(expectedVersion.owner), expectedVersion.owner);
    const versions = await this.ctx.outbox.bump(client, touched.values());
    // Checked after the bump, which waited for any concurrent writer of this owner to commit:
    // one step up from what was read means nobody wrote in between.
    if (
      expectedVersion &&
      versions.get(scopeKey(requireScope(expectedVersion.owner))) !==
        String(Number(expectedVersion.version) + 1)
    ) {
      throw new StaleWriteError(
        "Another writer changed these memories after they were read.",
        "owner_changed",
      );
    }
    return results;
  }

  /**
   * Many inserts (verbatim adds, imports) in a few statements instead of a few per memory, with
   * the same outcome as one by one: a text already stored in its scope or forgotten since the
   * write was queued is skipped, an id in use is an error.
   */
  private async insertAll(
    client: Queryable,
    changes: InsertChange[],
    forgotten: Set<string>,
    now: string,
    touched: Map<string, MemoryScope>,
  ): Promise<AppliedChange[]> {
    const rows = [];
    for (const change of changes) {
      const owner = insertOwner(change.memory);
      const vector = await this.ctx.prepareVector(
        client,
        change.embedding,
        `Embedding of memory ${change.memory.id}`,
      );
      rows.push({ change, owner, key: scopeKey(owner), vector });
    }
    const stored = await client.query<{ scope_key: string; hash: string }>(
      `SELECT scope_key, hash FROM ${this.s}.memories
       WHERE (scope_key, hash) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [rows.map((row) => row.key), rows.map((row) => row.change.memory.hash)],
    );
    const taken = new Set(stored.rows.map((row) => `${row.scope_key}\n${row.hash}`));
    const fresh = rows.filter(
      ({ change, key }) =>
        !forgotten.has(change.memory.hash) && !taken.has(`${key}\n${change.memory.hash}`),
    );
    const inUse = await client.query<{ id: string }>(
      `SELECT id FROM ${this.s}.memories WHERE id = ANY($1)`,
      [fresh.map(({ change }) => change.memory.id)],
    );
    if (inUse.rows.length > 0) {
      throw new Mem0InputError(`A memory with id ${inUse.rows[0].id} already exists.`);
    }
    const column = <T>(pick: (row: (typeof fresh)[number]) => T) => fresh.map(pick);
    // Two of the same text in one batch: the first is kept (ON CONFLICT), like one by one.
    const inserted = await client.query<{ id: string }>(
      `INSERT INTO ${this.s}.memories (id, user_id, agent_id, run_id, scope_key, text, hash,
         metadata, embedding, created_at, updated_at, search_text)
       SELECT id, user_id, agent_id, run_id, scope_key, text, hash, metadata::jsonb,
         embedding::vector, created_at, updated_at, search_text
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
         WITH ORDINALITY AS t(id, user_id, agent_id, run_id, scope_key, text, hash, metadata,
           embedding, created_at, updated_at, search_text, n)
       ORDER BY n
       ON CONFLICT (scope_key, hash) DO NOTHING RETURNING id`,
      [
        column(({ change }) => change.memory.id),
        column(({ owner }) => owner.userId ?? null),
        column(({ owner }) => owner.agentId ?? null),
        column(({ owner }) => owner.runId ?? null),
        column(({ key }) => key),
        column(({ change }) => change.memory.text),
        column(({ change }) => change.memory.hash),
        column(({ change }) => JSON.stringify(change.memory.metadata ?? {})),
        column(({ vector }) => vector),
        column(({ change }) => change.memory.createdAt),
        column(({ change }) => change.memory.updatedAt),
        column(({ change }) => normalizeEntityName(change.memory.text)),
      ],
    );
    const applied = new Set(inserted.rows.map((row) => row.id));
    const added = fresh.filter(({ change }) => applied.has(change.memory.id));
    await client.query(
      `INSERT INTO ${this.s}.history (memory_id, user_id, agent_id, run_id, event, previous, next,
         actor, created_at)
       SELECT memory_id, user_id, agent_id, run_id, 'ADD', NULL, next, actor, $7
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         WITH ORDINALITY AS t(memory_id, user_id, agent_id, run_id, next, actor, n)
       ORDER BY n`,
      [
        added.map(({ change }) => change.memory.id),
        added.map(({ owner }) => owner.userId ?? null),
        added.map(({ owner }) => owner.agentId ?? null),
        added.map(({ owner }) => owner.runId ?? null),
        added.map(({ change }) => change.memory.text),
        added.map(({ change }) => change.actor ?? null),
        now,
      ],
    );
    for (const { key, owner } of added) touched.set(key, owner);
    return changes.map((change) => ({ change, applied: applied.has(change.memory.id) }));
  }

  private async hashOwner(
    client: Queryable,
    key: string,
    hash: string,
  ): Promise<string | undefined> {
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM ${this.s}.memories WHERE scope_key = $1 AND hash = $2`,
      [key, hash],
    );
    return rows[0]?.id;
  }

  private async lockRow(client: Queryable, id: string): Promise<MemoryRow | undefined> {
    const { rows } = await client.query<MemoryRow>(
      `SELECT ${MEMORY_COLUMNS} FROM ${this.s}.memories m WHERE m.id = $1 FOR UPDATE`,
      [id],
    );
    return rows[0];
  }

  /** Records one change in the history table (memories, and profile versions). */
  async addHistory(
    client: Queryable,
    memoryId: string,
    owner: MemoryScope,
    event: HistoryEntry["event"],
    previous: string | null,
    next: string | null,
    actor: string | undefined,
    createdAt: string,
  ): Promise<void> {
    const { user_id, agent_id, run_id } = ownerColumns(owner);
    await client.query(
      `INSERT INTO ${this.s}.history (memory_id, user_id, agent_id, run_id, event, previous, next,
         actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [memoryId, user_id, agent_id, run_id, event, previous, next, actor ?? null, createdAt],
    );
  }
}

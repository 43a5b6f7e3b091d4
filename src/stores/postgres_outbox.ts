import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type { OutboxEntry } from "./base.js";
import { checkOutboxEntry, leaseHeldByOther, MAX_ERROR_LENGTH } from "./outbox_leases.js";
import { dollar, type PostgresConnection, type Queryable } from "./postgres_connection.js";
import { ownerColumns, scopeCondition, visibleFrom } from "./scope_sql.js";
import { toOutboxEntry, type OutboxRow } from "./store_rows.js";

/**
 * The durable outbox and scope versions of the Postgres store. Exactly once across processes:
 * the entry is deleted by the transaction that applies it (a second applier finds it gone), a
 * lease (row-locked while claimed) keeps two live workers from running the same LLM call, and
 * versions are bumped in key order so concurrent writers serialise on them without deadlock.
 */
export class PostgresOutbox {
  constructor(private readonly connection: PostgresConnection) {}

  private get s(): string {
    return this.connection.schema;
  }

  async put(entry: Pick<OutboxEntry, "id" | "owner" | "payload" | "createdAt">): Promise<void> {
    const owner = checkOutboxEntry(entry);
    const { user_id, agent_id, run_id } = ownerColumns(owner);
    await this.connection.query(
      `INSERT INTO ${this.s}.outbox (id, scope_key, user_id, agent_id, run_id, payload, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [entry.id, scopeKey(owner), user_id, agent_id, run_id, entry.payload, entry.createdAt],
    );
  }

  async get(id: string): Promise<OutboxEntry | undefined> {
    const [row] = await this.connection.query<OutboxRow>(
      `SELECT * FROM ${this.s}.outbox WHERE id = $1`,
      [id],
    );
    return row ? toOutboxEntry(row) : undefined;
  }

  async list(scope?: MemoryScope): Promise<OutboxEntry[]> {
    const { sql, params } = scope
      ? scopeCondition(requireScope(scope), "", dollar)
      : { sql: "true", params: [] };
    const rows = await this.connection.query<OutboxRow>(
      `SELECT * FROM ${this.s}.outbox WHERE ${sql} ORDER BY seq`,
      params,
    );
    return rows.map(toOutboxEntry);
  }

  async claim(id: string, holder: string, until: string): Promise<boolean> {
    return this.connection.transaction(async (client) => {
      const { rows } = await client.query<{
        lease_until: string | null;
        lease_holder: string | null;
      }>(`SELECT lease_until, lease_holder FROM ${this.s}.outbox WHERE id = $1 FOR UPDATE`, [id]);
      if (rows.length === 0 || leaseHeldByOther(rows[0], holder)) return false;
      await client.query(
        `UPDATE ${this.s}.outbox SET lease_until = $1, lease_holder = $2 WHERE id = $3`,
        [until, holder, id],
      );
      return true;
    });
  }

  async fail(id: string, error: string): Promise<void> {
    await this.connection.query(
      `UPDATE ${this.s}.outbox SET attempts = attempts + 1, last_error = $1, lease_until = NULL,
         lease_holder = NULL WHERE id = $2`,
      [error.slice(0, MAX_ERROR_LENGTH), id],
    );
  }

  /**
   * Removes the entry being applied, in the applying transaction; its forgotten hashes, or
   * `undefined` when it is gone (applied elsewhere or forgotten). A concurrent applier waits
   * on the row and then finds it gone.
   */
  async settle(client: Queryable, id: string): Promise<string[] | undefined> {
    const { rows } = await client.query<{ forget: string[] }>(
      `DELETE FROM ${this.s}.outbox WHERE id = $1 RETURNING forget`,
      [id],
    );
    return rows[0]?.forget;
  }

  /** Queued entries that could see a deleted memory must not bring its text back. */
  async forgetHash(client: Queryable, hash: string, owner: MemoryScope): Promise<void> {
    const { user_id, agent_id, run_id } = ownerColumns(owner);
    await client.query(
      `UPDATE ${this.s}.outbox SET forget = forget || to_jsonb($1::text)
       WHERE (user_id IS NULL OR user_id IS NOT DISTINCT FROM $2)
         AND (agent_id IS NULL OR agent_id IS NOT DISTINCT FROM $3)
         AND (run_id IS NULL OR run_id IS NOT DISTINCT FROM $4)`,
      [hash, user_id, agent_id, run_id],
    );
  }

  async deleteScope(client: Queryable, scope: MemoryScope): Promise<void> {
    const { sql, params } = scopeCondition(requireScope(scope), "", dollar);
    await client.query(`DELETE FROM ${this.s}.outbox WHERE ${sql}`, params);
  }

  async version(scope: MemoryScope): Promise<string> {
    const [row] = await this.connection.query<{ version: string }>(
      `SELECT version FROM ${this.s}.scope_versions WHERE scope_key = $1`,
      [scopeKey(scope)],
    );
    return row?.version ?? "0";
  }

  /**
   * Moves the version of every scope that sees one of the owners, in key order (a row lock
   * each, held to commit: writers of overlapping scopes serialise here). Returns the new
   * versions by scope key.
   */
  async bump(client: Queryable, owners: Iterable<MemoryScope>): Promise<Map<string, string>> {
    const keys = new Set<string>();
    for (const owner of owners) for (const key of visibleFrom(owner)) keys.add(key);
    const versions = new Map<string, string>();
    for (const key of [...keys].sort()) {
      const { rows } = await client.query<{ version: string }>(
        `INSERT INTO ${this.s}.scope_versions (scope_key, version) VALUES ($1, 1)
         ON CONFLICT (scope_key) DO UPDATE SET version = scope_versions.version + 1
         RETURNING version`,
        [key],
      );
      versions.set(key, rows[0].version);
    }
    return versions;
  }
}

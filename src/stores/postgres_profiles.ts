import { randomUUID } from "node:crypto";
import { StaleWriteError } from "../errors.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type { ProfileWrite, StoredProfile } from "./base.js";
import { dollar, type PostgresConnection, type Queryable } from "./postgres_connection.js";
import type { PostgresWriter } from "./postgres_writer.js";
import { ownerColumns, scopeCondition } from "./scope_sql.js";
import { toProfile, type ProfileRow } from "./store_rows.js";

const PROFILE_COLUMNS = "id, user_id, agent_id, run_id, value, version, created_at, updated_at";

/** What the profiles need from the Postgres store. */
export interface PostgresProfilesContext {
  connection: PostgresConnection;
  /** Records a version in the store's history table, as memory changes are. */
  addHistory: PostgresWriter["addHistory"];
}

const stale = () =>
  new StaleWriteError("Another writer changed this profile after it was read.", "owner_changed");

/**
 * Profiles of the Postgres store, one row per exact owner. Writes run inside the caller's
 * transaction; versions go to the shared history table, so `deleteScope` of the store removes
 * them with the rest. Writers of one profile from many processes serialise on its row (or, for
 * the first write, on its unique owner key), so a write that read an older version is stale.
 */
export class PostgresProfiles {
  constructor(private readonly ctx: PostgresProfilesContext) {}

  private get s(): string {
    return this.ctx.connection.schema;
  }

  async get(owner: MemoryScope): Promise<StoredProfile | undefined> {
    const rows = await this.ctx.connection.query<ProfileRow>(
      `SELECT ${PROFILE_COLUMNS} FROM ${this.s}.profiles WHERE scope_key = $1`,
      [scopeKey(requireScope(owner))],
    );
    return rows[0] ? toProfile(rows[0]) : undefined;
  }

  /** Writes a new version, or throws `StaleWriteError` when another writer got there first. */
  async write(client: Queryable, change: ProfileWrite): Promise<void> {
    const owner = requireScope(change.owner);
    const key = scopeKey(owner);
    // Locked until commit: a concurrent writer of this profile waits here, then sees our version.
    const { rows } = await client.query<ProfileRow>(
      `SELECT ${PROFILE_COLUMNS} FROM ${this.s}.profiles WHERE scope_key = $1 FOR UPDATE`,
      [key],
    );
    const current = rows[0] ? toProfile(rows[0]) : undefined;
    if ((current?.version ?? 0) !== change.expectedVersion) throw stale();
    if (current?.value === change.value) return;
    let id = current?.id;
    if (id) {
      await client.query(
        `UPDATE ${this.s}.profiles SET value = $2, version = version + 1, updated_at = $3
         WHERE id = $1`,
        [id, change.value, change.updatedAt],
      );
    } else {
      const { user_id, agent_id, run_id } = ownerColumns(owner);
      // No row to lock yet: a concurrent first write waits on the unique key, and the loser
      // inserts nothing, so it is stale like any other.
      const inserted = await client.query<{ id: string }>(
        `INSERT INTO ${this.s}.profiles (id, scope_key, user_id, agent_id, run_id, value, version,
           created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)
         ON CONFLICT (scope_key) DO NOTHING RETURNING id`,
        [randomUUID(), key, user_id, agent_id, run_id, change.value, change.updatedAt],
      );
      id = inserted.rows[0]?.id;
      if (!id) throw stale();
    }
    await this.ctx.addHistory(
      client,
      id,
      owner,
      current ? "UPDATE" : "ADD",
      current?.value ?? null,
      change.value,
      change.actor,
      change.updatedAt,
    );
  }

  /** Removes the profiles of every owner visible from the scope (their history goes with the store's). */
  async deleteScope(client: Queryable, scope: MemoryScope): Promise<void> {
    const { sql, params } = scopeCondition(scope, "", dollar);
    await client.query(`DELETE FROM ${this.s}.profiles WHERE ${sql}`, params);
  }
}

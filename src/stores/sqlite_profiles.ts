import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import { StaleWriteError } from "../errors.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type { ProfileWrite, StoredProfile } from "./base.js";
import type { ScopeCondition } from "./scope_sql.js";
import type { SqliteWriter } from "./sqlite_writer.js";
import { toProfile, type ProfileRow } from "./store_rows.js";

/** Schema of the profiles (migration 6 of the SQLite store): one row per exact owner. */
export const PROFILE_MIGRATION_SQL = `
  CREATE TABLE profiles (
    id TEXT PRIMARY KEY,                 -- versions are in history under this id
    scope_key TEXT NOT NULL UNIQUE,
    user_id TEXT,
    agent_id TEXT,
    run_id TEXT,
    value TEXT NOT NULL,                 -- JSON document
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX profiles_user ON profiles (user_id);
  CREATE INDEX profiles_agent ON profiles (agent_id);
  CREATE INDEX profiles_run ON profiles (run_id);
`;

/** What the profiles need from the store that owns the connection. */
export interface SqliteProfilesContext {
  db: Database.Database;
  scopeCondition(scope: MemoryScope): ScopeCondition;
  scoped(kind: string, mask: string, build: () => string): Database.Statement;
  /** Records a version in the store's history table, as memory changes are. */
  addHistory: SqliteWriter["addHistory"];
}

/**
 * Profiles of the SQLite store. Every method runs inside the caller's transaction; versions
 * go to the shared history table, so `deleteScope` of the store removes them with the rest.
 */
export class SqliteProfiles {
  private readonly stmt;

  constructor(private readonly context: SqliteProfilesContext) {
    const { db } = context;
    this.stmt = {
      get: db.prepare("SELECT * FROM profiles WHERE scope_key = ?"),
      insert: db.prepare(
        `INSERT INTO profiles (id, scope_key, user_id, agent_id, run_id, value, version, created_at,
           updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)`,
      ),
      update: db.prepare(
        "UPDATE profiles SET value = ?, version = version + 1, updated_at = ? WHERE id = ?",
      ),
    };
  }

  get(owner: MemoryScope): StoredProfile | undefined {
    const row = this.stmt.get.get(scopeKey(requireScope(owner))) as ProfileRow | undefined;
    return row ? toProfile(row) : undefined;
  }

  /** Writes a new version, or throws `StaleWriteError` when another writer got there first. */
  write(change: ProfileWrite): void {
    const owner = requireScope(change.owner);
    const current = this.get(owner);
    if ((current?.version ?? 0) !== change.expectedVersion) {
      throw new StaleWriteError(
        "Another writer changed this profile after it was read.",
        "owner_changed",
      );
    }
    if (current?.value === change.value) return;
    if (current) {
      this.stmt.update.run(change.value, change.updatedAt, current.id);
    } else {
      this.stmt.insert.run(
        randomUUID(),
        scopeKey(owner),
        owner.userId ?? null,
        owner.agentId ?? null,
        owner.runId ?? null,
        change.value,
        change.updatedAt,
        change.updatedAt,
      );
    }
    const id = current?.id ?? this.get(owner)!.id;
    const event = current ? "UPDATE" : "ADD";
    this.context.addHistory(
      id,
      owner,
      event,
      current?.value ?? null,
      change.value,
      change.actor,
      change.updatedAt,
    );
  }

  /** Removes the profiles of every owner visible from the scope (their history goes with the store's). */
  deleteScope(scope: MemoryScope): void {
    const { mask, sql, params } = this.context.scopeCondition(scope);
    this.context
      .scoped("delete-profiles", mask, () => `DELETE FROM profiles WHERE ${sql}`)
      .run(...params);
  }

  clear(): void {
    this.context.db.exec("DELETE FROM profiles");
  }
}

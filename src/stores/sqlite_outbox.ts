import type Database from "better-sqlite3";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type { OutboxEntry } from "./base.js";
import { checkOutboxEntry, leaseHeldByOther, MAX_ERROR_LENGTH } from "./outbox_leases.js";
import type { ScopeCondition } from "./scope_sql.js";
import { ownerColumns, visibleFrom } from "./scope_sql.js";
import { toOutboxEntry, type OutboxRow } from "./store_rows.js";

/** What the outbox needs from the store that owns the connection. */
export interface SqliteOutboxContext {
  db: Database.Database;
  scopeCondition(scope: MemoryScope): ScopeCondition;
  scoped(kind: string, mask: string, build: () => string): Database.Statement;
  /** Runs `fn` in an IMMEDIATE transaction (or inside the current one). */
  transaction<T>(fn: () => T): T;
}

/** The durable outbox and owner versions of the SQLite store. */
export class SqliteOutbox {
  private readonly stmt;

  constructor(private readonly ctx: SqliteOutboxContext) {
    const db = ctx.db;
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO outbox (id, scope_key, user_id, agent_id, run_id, payload, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      get: db.prepare("SELECT * FROM outbox WHERE id = ?"),
      all: db.prepare("SELECT * FROM outbox ORDER BY seq"),
      lease: db.prepare("SELECT lease_until, lease_holder FROM outbox WHERE id = ?"),
      claim: db.prepare("UPDATE outbox SET lease_until = ?, lease_holder = ? WHERE id = ?"),
      fail: db.prepare(
        `UPDATE outbox SET attempts = attempts + 1, last_error = ?, lease_until = NULL,
           lease_holder = NULL WHERE id = ?`,
      ),
      remove: db.prepare("DELETE FROM outbox WHERE id = ?"),
      // Entries that can see a memory of this owner (each id they give matches).
      forget: db.prepare(
        `UPDATE outbox SET forget = json_insert(forget, '$[#]', @hash)
         WHERE (user_id IS NULL OR user_id IS @user_id)
           AND (agent_id IS NULL OR agent_id IS @agent_id)
           AND (run_id IS NULL OR run_id IS @run_id)`,
      ),
      version: db.prepare("SELECT version FROM scope_versions WHERE scope_key = ?").pluck(),
      bump: db.prepare(
        `INSERT INTO scope_versions (scope_key, version) VALUES (?, 1)
         ON CONFLICT (scope_key) DO UPDATE SET version = version + 1`,
      ),
    };
  }

  put(entry: Pick<OutboxEntry, "id" | "owner" | "payload" | "createdAt">): void {
    const owner = checkOutboxEntry(entry);
    this.stmt.insert.run(
      entry.id,
      scopeKey(owner),
      owner.userId ?? null,
      owner.agentId ?? null,
      owner.runId ?? null,
      entry.payload,
      entry.createdAt,
    );
  }

  get(id: string): OutboxEntry | undefined {
    const row = this.stmt.get.get(id) as OutboxRow | undefined;
    return row ? toOutboxEntry(row) : undefined;
  }

  list(scope?: MemoryScope): OutboxEntry[] {
    if (!scope) return (this.stmt.all.all() as OutboxRow[]).map(toOutboxEntry);
    const { mask, sql, params } = this.ctx.scopeCondition(requireScope(scope));
    const rows = this.ctx
      .scoped("outbox-list", mask, () => `SELECT * FROM outbox WHERE ${sql} ORDER BY seq`)
      .all(...params) as OutboxRow[];
    return rows.map(toOutboxEntry);
  }

  /**
   * Leases the entry to `holder` until `until`. A live lease of another worker is respected;
   * the lease of a process that died on this host is taken over at once.
   */
  claim(id: string, holder: string, until: string): boolean {
    return this.ctx.transaction(() => {
      const lease = this.stmt.lease.get(id) as
        { lease_until: string | null; lease_holder: string | null } | undefined;
      if (!lease) return false;
      if (leaseHeldByOther(lease, holder)) return false;
      this.stmt.claim.run(until, holder, id);
      return true;
    });
  }

  fail(id: string, error: string): void {
    this.ctx.transaction(() => this.stmt.fail.run(error.slice(0, MAX_ERROR_LENGTH), id));
  }

  /** Removes the entry being applied; false when it is gone (applied elsewhere or forgotten). */
  settle(id: string): boolean {
    return this.stmt.remove.run(id).changes > 0;
  }

  /** Queued entries that could see a deleted memory must not bring its text back. */
  forgetHash(hash: string, owner: MemoryScope): void {
    this.stmt.forget.run({ hash, ...ownerColumns(owner) });
  }

  /** Drops the scope's queued entries (inside the store's deleteScope transaction). */
  deleteScope(scope: MemoryScope): void {
    const { mask, sql, params } = this.ctx.scopeCondition(requireScope(scope));
    this.ctx.scoped("outbox-delete", mask, () => `DELETE FROM outbox WHERE ${sql}`).run(...params);
  }

  /** A token that changes whenever a write changes what the scope sees. */
  version(scope: MemoryScope): string {
    return String((this.stmt.version.get(scopeKey(scope)) as number | undefined) ?? 0);
  }

  /** Moves the version of every scope that sees the owner's memories. */
  bump(owner: MemoryScope): void {
    for (const key of visibleFrom(owner)) this.stmt.bump.run(key);
  }

  clear(): void {
    this.ctx.db.exec("DELETE FROM outbox; DELETE FROM scope_versions;");
  }
}

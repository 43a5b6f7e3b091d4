import os from "node:os";
import type Database from "better-sqlite3";
import { Mem0InputError } from "../errors.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type { OutboxEntry } from "./base.js";

/**
 * Schema of the durable outbox and the owner versions (migration 4 of the SQLite store), and
 * FTS5 secure-delete, so deleted words leave the keyword index's pages.
 */
export const OUTBOX_MIGRATION_SQL = `
  CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,             -- idempotency key: applied at most once
    scope_key TEXT NOT NULL,
    user_id TEXT,
    agent_id TEXT,
    run_id TEXT,
    payload TEXT NOT NULL,               -- JSON: the messages and options of the add
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lease_until TEXT,                    -- a worker applies it until then
    lease_holder TEXT,                   -- which worker: host:pid:instance
    forget TEXT NOT NULL DEFAULT '[]'    -- hashes deleted after it was queued
  );
  CREATE INDEX outbox_user ON outbox (user_id);
  CREATE INDEX outbox_agent ON outbox (agent_id);
  CREATE INDEX outbox_run ON outbox (run_id);

  -- One counter per scope, moved by every write visible from it (a write to alice+run1 moves
  -- alice, run1 and alice+run1): an add that read an older value reads again before applying.
  CREATE TABLE scope_versions (
    scope_key TEXT PRIMARY KEY,
    version INTEGER NOT NULL
  ) WITHOUT ROWID;

  INSERT INTO memories_fts (memories_fts, rank) VALUES ('secure-delete', 1);
`;

interface OutboxRow {
  id: string;
  user_id: string | null;
  agent_id: string | null;
  run_id: string | null;
  payload: string;
  created_at: string;
  attempts: number;
  last_error: string | null;
  forget: string;
}

/** What the outbox needs from the store that owns the connection. */
export interface SqliteOutboxContext {
  db: Database.Database;
  scopeCondition(scope: MemoryScope): { mask: string; sql: string; params: string[] };
  scoped(kind: string, mask: string, build: () => string): Database.Statement;
  /** Runs `fn` in an IMMEDIATE transaction (or inside the current one). */
  transaction<T>(fn: () => T): T;
}

/** Every scope that sees the owner's memories: the non-empty subsets of its ids. */
function visibleFrom(owner: MemoryScope): string[] {
  const ids = (["userId", "agentId", "runId"] as const).filter((key) => owner[key] !== undefined);
  const keys: string[] = [];
  for (let mask = 1; mask < 1 << ids.length; mask++) {
    const scope: MemoryScope = {};
    ids.forEach((key, bit) => {
      if (mask & (1 << bit)) scope[key] = owner[key];
    });
    keys.push(scopeKey(scope));
  }
  return keys;
}

/** `host:pid` of a lease holder is alive, as far as this host can tell. */
function holderAlive(holder: string | null): boolean {
  if (!holder) return false;
  const [host, pid] = holder.split(":");
  if (host !== os.hostname()) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

function ownerOf(row: Pick<OutboxRow, "user_id" | "agent_id" | "run_id">): MemoryScope {
  const owner: MemoryScope = {};
  if (row.user_id !== null) owner.userId = row.user_id;
  if (row.agent_id !== null) owner.agentId = row.agent_id;
  if (row.run_id !== null) owner.runId = row.run_id;
  return owner;
}

function toEntry(row: OutboxRow): OutboxEntry {
  return {
    id: row.id,
    owner: ownerOf(row),
    payload: row.payload,
    createdAt: row.created_at,
    attempts: row.attempts,
    ...(row.last_error !== null ? { lastError: row.last_error } : {}),
    forget: JSON.parse(row.forget) as string[],
  };
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
    const owner = requireScope(entry.owner);
    if (typeof entry.id !== "string" || entry.id === "") {
      throw new Mem0InputError("An outbox entry needs a non-empty id.");
    }
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
    return row ? toEntry(row) : undefined;
  }

  list(scope?: MemoryScope): OutboxEntry[] {
    if (!scope) return (this.stmt.all.all() as OutboxRow[]).map(toEntry);
    const { mask, sql, params } = this.ctx.scopeCondition(requireScope(scope));
    const rows = this.ctx
      .scoped("outbox-list", mask, () => `SELECT * FROM outbox WHERE ${sql} ORDER BY seq`)
      .all(...params) as OutboxRow[];
    return rows.map(toEntry);
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
      const held =
        lease.lease_until !== null &&
        lease.lease_until > new Date().toISOString() &&
        lease.lease_holder !== holder &&
        holderAlive(lease.lease_holder);
      if (held) return false;
      this.stmt.claim.run(until, holder, id);
      return true;
    });
  }

  fail(id: string, error: string): void {
    this.ctx.transaction(() => this.stmt.fail.run(error.slice(0, 2000), id));
  }

  /** Removes the entry being applied; false when it is gone (applied elsewhere or forgotten). */
  settle(id: string): boolean {
    return this.stmt.remove.run(id).changes > 0;
  }

  /** Queued entries that could see a deleted memory must not bring its text back. */
  forgetHash(hash: string, owner: MemoryScope): void {
    this.stmt.forget.run({
      hash,
      user_id: owner.userId ?? null,
      agent_id: owner.agentId ?? null,
      run_id: owner.runId ?? null,
    });
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

import fs from "node:fs";
import path from "node:path";
import type Database from "better-sqlite3";
import { Mem0ConfigError } from "../errors.js";
import { loadSqliteDriver } from "./sqlite_driver.js";
import { EPISODE_MIGRATION_SQL, SHARED_VECTOR_MIGRATION_SQL } from "./sqlite_episodes.js";
import { PROFILE_MIGRATION_SQL } from "./sqlite_profiles.js";

/** Schema of the graph tables (migration 3). */
const GRAPH_MIGRATION_SQL = `
  CREATE TABLE entities (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    scope_key TEXT NOT NULL,
    user_id TEXT,
    agent_id TEXT,
    run_id TEXT,
    name TEXT NOT NULL,
    embedding BLOB,                      -- Float32 little-endian, unit length
    created_at TEXT NOT NULL
  );
  CREATE INDEX entities_scope ON entities (scope_key);
  CREATE INDEX entities_user ON entities (user_id);
  CREATE INDEX entities_agent ON entities (agent_id);
  CREATE INDEX entities_run ON entities (run_id);

  CREATE TABLE entity_aliases (
    entity_id TEXT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    alias TEXT NOT NULL,                 -- normalizeEntityName() of a spelling
    PRIMARY KEY (entity_id, alias)
  ) WITHOUT ROWID;
  CREATE INDEX entity_aliases_alias ON entity_aliases (alias);

  CREATE TABLE edges (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    scope_key TEXT NOT NULL,
    user_id TEXT,
    agent_id TEXT,
    run_id TEXT,
    source_id TEXT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    relation TEXT NOT NULL,
    destination_id TEXT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    origin TEXT,
    created_at TEXT NOT NULL
  );
  CREATE INDEX edges_source ON edges (source_id);
  CREATE INDEX edges_destination ON edges (destination_id);
  CREATE INDEX edges_user ON edges (user_id);
  CREATE INDEX edges_agent ON edges (agent_id);
  CREATE INDEX edges_run ON edges (run_id);
  -- At most one currently valid copy of a relation per scope.
  CREATE UNIQUE INDEX edges_current ON edges (scope_key, source_id, relation, destination_id)
    WHERE valid_to IS NULL;
`;

/**
 * Schema of the durable outbox and the owner versions (migration 4 of the SQLite store), and
 * FTS5 secure-delete, so deleted words leave the keyword index's pages.
 */
const OUTBOX_MIGRATION_SQL = `
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

/** One schema step; steps are applied in order and never edited once released. */
interface Migration {
  version: number;
  description: string;
  sql: string;
}

/** The schema history. Append new steps (e.g. graph tables); never change released ones. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "memories, keyword index, history, messages, meta",
    sql: `
      CREATE TABLE memories (
        seq INTEGER PRIMARY KEY,           -- stable integer rowid for the FTS index
        id TEXT NOT NULL UNIQUE,
        user_id TEXT,
        agent_id TEXT,
        run_id TEXT,
        scope_key TEXT NOT NULL,
        text TEXT NOT NULL,
        hash TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        embedding BLOB NOT NULL,           -- Float32 little-endian, unit length
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (scope_key, hash)
      );
      CREATE INDEX memories_user ON memories (user_id, created_at, id);
      CREATE INDEX memories_agent ON memories (agent_id, created_at, id);
      CREATE INDEX memories_run ON memories (run_id, created_at, id);

      CREATE VIRTUAL TABLE memories_fts USING fts5 (
        text,
        content = 'memories',
        content_rowid = 'seq',
        tokenize = 'unicode61 remove_diacritics 2'
      );
      CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
        INSERT INTO memories_fts (rowid, text) VALUES (new.seq, new.text);
      END;
      CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
        INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.seq, old.text);
      END;
      CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN
        INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.seq, old.text);
        INSERT INTO memories_fts (rowid, text) VALUES (new.seq, new.text);
      END;

      CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        memory_id TEXT NOT NULL,
        user_id TEXT,
        agent_id TEXT,
        run_id TEXT,
        event TEXT NOT NULL CHECK (event IN ('ADD', 'UPDATE', 'DELETE')),
        previous TEXT,
        next TEXT,
        actor TEXT,
        created_at TEXT NOT NULL
      );
      CREATE INDEX history_memory ON history (memory_id, created_at, id);
      CREATE INDEX history_user ON history (user_id);
      CREATE INDEX history_agent ON history (agent_id);
      CREATE INDEX history_run ON history (run_id);

      CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scope_key TEXT NOT NULL,
        user_id TEXT,
        agent_id TEXT,
        run_id TEXT,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX messages_scope ON messages (scope_key, id);
      CREATE INDEX messages_user ON messages (user_id);
      CREATE INDEX messages_agent ON messages (agent_id);
      CREATE INDEX messages_run ON messages (run_id);

      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: "keyword index with the Porter stemmer (English word forms match)",
    // The triggers of version 1 address the table by name and keep working on the new one.
    sql: `
      DROP TABLE memories_fts;
      CREATE VIRTUAL TABLE memories_fts USING fts5 (
        text,
        content = 'memories',
        content_rowid = 'seq',
        tokenize = 'porter unicode61 remove_diacritics 2'
      );
      INSERT INTO memories_fts (memories_fts) VALUES ('rebuild');
    `,
  },
  {
    version: 3,
    description: "graph memory: entities, aliases, edges",
    sql: GRAPH_MIGRATION_SQL,
  },
  {
    version: 4,
    description: "durable outbox, owner versions, secure delete in the keyword index",
    sql: OUTBOX_MIGRATION_SQL,
  },
  {
    version: 5,
    description: "keyword ranking moves to per-scope in-memory indexes; smaller owner indexes",
    // BM25 statistics must come from the searched scope alone (keyword_index.ts), which the
    // FTS5 table cannot give; indexes on agent/run ids skip the rows that have none.
    sql: `
      DROP TRIGGER memories_fts_insert;
      DROP TRIGGER memories_fts_delete;
      DROP TRIGGER memories_fts_update;
      DROP TABLE memories_fts;
      DROP INDEX memories_agent;
      DROP INDEX memories_run;
      CREATE INDEX memories_agent ON memories (agent_id, created_at, id) WHERE agent_id IS NOT NULL;
      CREATE INDEX memories_run ON memories (run_id, created_at, id) WHERE run_id IS NOT NULL;
    `,
  },
  {
    version: 6,
    description: "profiles (working memory), versions in history",
    sql: PROFILE_MIGRATION_SQL,
  },
  {
    version: 7,
    description: "episode recall: a vector per logged message",
    sql: EPISODE_MIGRATION_SQL,
  },
  {
    version: 8,
    description: "a message stored verbatim as a memory shares its vector",
    sql: SHARED_VECTOR_MIGRATION_SQL,
  },
];

/**
 * Opens (or creates) the database file in WAL mode. Failing to create the directory or the
 * file, or to write it, is a configuration problem named with the full path.
 */
export function openDatabase(file: string, busyTimeoutMs: number): Database.Database {
  const Driver = loadSqliteDriver();
  const onDisk = file !== ":memory:" && file !== "" && !file.startsWith("file:");
  let db: Database.Database | undefined;
  try {
    if (onDisk) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    db = new Driver(file);
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    db.pragma("journal_mode = WAL");
    return db;
  } catch (error) {
    db?.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Mem0ConfigError(
      `Cannot open the memory store at ${onDisk ? path.resolve(file) : file} (${reason}). ` +
        "Check that its directory exists or can be created and is writable by this process, " +
        'or pass another path (":memory:" keeps memories in memory only).',
      { cause: error },
    );
  }
}

/**
 * Brings the file's schema to the latest version in one IMMEDIATE transaction, so two processes
 * opening a new file at once do not both migrate.
 */
export function migrateDatabase(db: Database.Database, file: string): void {
  const latest = MIGRATIONS[MIGRATIONS.length - 1].version;
  const current = () => db.pragma("user_version", { simple: true }) as number;
  if (current() === latest) return;
  const run = db.transaction(() => {
    const version = current();
    if (version > latest) {
      throw new Mem0ConfigError(
        `${file} has schema version ${version}, newer than this package supports (${latest}). ` +
          "Upgrade langchain-mem0.",
      );
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= version) continue;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }
  });
  // IMMEDIATE: two processes opening a new file at once must not both migrate.
  run.immediate();
}

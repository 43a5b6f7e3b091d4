import type { PoolClient } from "pg";
import { Mem0ConfigError } from "../errors.js";

/** One schema step; steps are applied in order and never edited once released. */
interface PostgresMigration {
  version: number;
  description: string;
  /** SQL with `{s}` for the store's schema (a checked identifier). */
  sql: string;
}

/** The schema history of the Postgres store. Append new steps; never change released ones. */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    description: "memories, keyword index, history, messages, meta, graph, outbox, versions",
    sql: `
      CREATE TABLE {s}.memories (
        seq bigserial NOT NULL,
        id text PRIMARY KEY,
        user_id text,
        agent_id text,
        run_id text,
        scope_key text NOT NULL,
        text text NOT NULL,
        hash text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        embedding vector NOT NULL,        -- unit length; an HNSW index is added per dimension
        -- the text folded like entity names (lower case, accents of Latin, Greek and Cyrillic
        -- letters removed), so "Zürich" matches "zurich" as on SQLite
        search_text text NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', search_text)) STORED,
        created_at text NOT NULL,         -- ISO times, compared as strings like on SQLite
        updated_at text NOT NULL,
        UNIQUE (scope_key, hash)
      );
      CREATE INDEX memories_user ON {s}.memories (user_id, created_at, id);
      CREATE INDEX memories_agent ON {s}.memories (agent_id, created_at, id);
      CREATE INDEX memories_run ON {s}.memories (run_id, created_at, id);
      CREATE INDEX memories_tsv ON {s}.memories USING gin (tsv);

      CREATE TABLE {s}.history (
        id bigserial PRIMARY KEY,
        memory_id text NOT NULL,
        user_id text,
        agent_id text,
        run_id text,
        event text NOT NULL CHECK (event IN ('ADD', 'UPDATE', 'DELETE')),
        previous text,
        next text,
        actor text,
        created_at text NOT NULL
      );
      CREATE INDEX history_memory ON {s}.history (memory_id, created_at, id);
      CREATE INDEX history_user ON {s}.history (user_id);
      CREATE INDEX history_agent ON {s}.history (agent_id);
      CREATE INDEX history_run ON {s}.history (run_id);

      CREATE TABLE {s}.messages (
        id bigserial PRIMARY KEY,
        scope_key text NOT NULL,
        user_id text,
        agent_id text,
        run_id text,
        role text NOT NULL,
        content text NOT NULL,
        created_at text NOT NULL
      );
      CREATE INDEX messages_scope ON {s}.messages (scope_key, id);
      CREATE INDEX messages_user ON {s}.messages (user_id);
      CREATE INDEX messages_agent ON {s}.messages (agent_id);
      CREATE INDEX messages_run ON {s}.messages (run_id);

      CREATE TABLE {s}.meta (
        key text PRIMARY KEY,
        value text NOT NULL
      );

      CREATE TABLE {s}.entities (
        seq bigserial NOT NULL,
        id text PRIMARY KEY,
        scope_key text NOT NULL,
        user_id text,
        agent_id text,
        run_id text,
        name text NOT NULL,
        embedding vector,
        created_at text NOT NULL
      );
      CREATE INDEX entities_user ON {s}.entities (user_id);
      CREATE INDEX entities_agent ON {s}.entities (agent_id);
      CREATE INDEX entities_run ON {s}.entities (run_id);

      CREATE TABLE {s}.entity_aliases (
        entity_id text NOT NULL REFERENCES {s}.entities (id) ON DELETE CASCADE,
        alias text NOT NULL,
        PRIMARY KEY (entity_id, alias)
      );
      CREATE INDEX entity_aliases_alias ON {s}.entity_aliases (alias);

      CREATE TABLE {s}.edges (
        seq bigserial NOT NULL,
        id text PRIMARY KEY,
        scope_key text NOT NULL,
        user_id text,
        agent_id text,
        run_id text,
        source_id text NOT NULL REFERENCES {s}.entities (id) ON DELETE CASCADE,
        relation text NOT NULL,
        destination_id text NOT NULL REFERENCES {s}.entities (id) ON DELETE CASCADE,
        valid_from text NOT NULL,
        valid_to text,
        origin text,
        created_at text NOT NULL
      );
      CREATE INDEX edges_source ON {s}.edges (source_id);
      CREATE INDEX edges_destination ON {s}.edges (destination_id);
      CREATE INDEX edges_user ON {s}.edges (user_id);
      CREATE INDEX edges_agent ON {s}.edges (agent_id);
      CREATE INDEX edges_run ON {s}.edges (run_id);
      CREATE UNIQUE INDEX edges_current ON {s}.edges (scope_key, source_id, relation, destination_id)
        WHERE valid_to IS NULL;

      CREATE TABLE {s}.outbox (
        seq bigserial NOT NULL,
        id text PRIMARY KEY,
        scope_key text NOT NULL,
        user_id text,
        agent_id text,
        run_id text,
        payload text NOT NULL,
        created_at text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        lease_until text,
        lease_holder text,
        forget jsonb NOT NULL DEFAULT '[]'
      );
      CREATE INDEX outbox_seq ON {s}.outbox (seq);
      CREATE INDEX outbox_user ON {s}.outbox (user_id);
      CREATE INDEX outbox_agent ON {s}.outbox (agent_id);
      CREATE INDEX outbox_run ON {s}.outbox (run_id);

      CREATE TABLE {s}.scope_versions (
        scope_key text PRIMARY KEY,
        version bigint NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: "profiles (one document per owner); a vector per logged message (episodes)",
    sql: `
      CREATE TABLE {s}.profiles (
        id text PRIMARY KEY,              -- versions are in history under this id
        scope_key text NOT NULL UNIQUE,   -- one per exact owner; concurrent first writes meet here
        user_id text,
        agent_id text,
        run_id text,
        value text NOT NULL,              -- JSON document
        version integer NOT NULL,
        created_at text NOT NULL,
        updated_at text NOT NULL
      );
      CREATE INDEX profiles_user ON {s}.profiles (user_id);
      CREATE INDEX profiles_agent ON {s}.profiles (agent_id);
      CREATE INDEX profiles_run ON {s}.profiles (run_id);

      -- Unit length, any dimension (no index: episode search scans the scope's turns exactly).
      ALTER TABLE {s}.messages ADD COLUMN embedding vector;
    `,
  },
];

/** The newest schema version this package knows. */
export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1].version;

/**
 * The advisory lock key of a schema's DDL (migrations, vector indexes): `hashtext` of a name
 * of its own, taken per transaction, so app instances starting at once migrate one at a time.
 */
export function schemaLockSql(schema: string): string {
  return `SELECT pg_advisory_xact_lock(hashtext('langchain_mem0:schema:${schema}'))`;
}

/**
 * Creates the pgvector extension (when missing) and the schema, and applies the migrations the
 * database lacks, in one transaction under the schema's advisory lock. Idempotent.
 */
export async function migratePostgres(client: PoolClient, schema: string): Promise<number> {
  await client.query("BEGIN");
  try {
    await client.query(schemaLockSql(schema));
    await createVectorExtension(client);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
         version integer PRIMARY KEY,
         description text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${schema}.schema_migrations`,
    );
    const current = rows[0]?.version ?? 0;
    if (current > POSTGRES_SCHEMA_VERSION) {
      throw new Mem0ConfigError(
        `The Postgres schema "${schema}" has version ${current}, newer than this package ` +
          `supports (${POSTGRES_SCHEMA_VERSION}). Upgrade langchain-mem0.`,
      );
    }
    for (const migration of POSTGRES_MIGRATIONS) {
      if (migration.version <= current) continue;
      await client.query(migration.sql.replaceAll("{s}", schema));
      await client.query(
        `INSERT INTO ${schema}.schema_migrations (version, description) VALUES ($1, $2)`,
        [migration.version, migration.description],
      );
    }
    await client.query("COMMIT");
    return POSTGRES_SCHEMA_VERSION;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

async function createVectorExtension(client: PoolClient): Promise<void> {
  const { rows } = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'vector'");
  if (rows.length > 0) return;
  try {
    await client.query("CREATE EXTENSION IF NOT EXISTS vector");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Mem0ConfigError(
      `The Postgres store needs the pgvector extension, which could not be created (${reason}). ` +
        "Install pgvector on the server and run `CREATE EXTENSION vector;` once as a user " +
        "allowed to (a superuser or the database owner on managed services).",
      { cause: error },
    );
  }
}

/**
 * The HNSW (cosine) indexes of memory and entity vectors, built for the recorded dimension
 * (pgvector indexes need one): the queries cast to `vector(dims)` so the planner can use them.
 */
export function vectorIndexSql(
  schema: string,
  dims: number,
  hnsw: { m: number; efConstruction: number },
): string {
  const using = `USING hnsw ((embedding::vector(${dims})) vector_cosine_ops)
    WITH (m = ${hnsw.m}, ef_construction = ${hnsw.efConstruction})`;
  return `
    CREATE INDEX IF NOT EXISTS memories_embedding ON ${schema}.memories ${using};
    CREATE INDEX IF NOT EXISTS entities_embedding ON ${schema}.entities ${using};
  `;
}

/** Drops the vector indexes (a reset may bring another dimension). */
export function dropVectorIndexSql(schema: string): string {
  return `DROP INDEX IF EXISTS ${schema}.memories_embedding; DROP INDEX IF EXISTS ${schema}.entities_embedding;`;
}

import type Database from "better-sqlite3";
import { Mem0Error, Mem0InputError } from "../errors.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type { EdgeValidity, EntityMatch, GraphChange, GraphEdge, GraphEntity } from "./base.js";
import { blobToVector, normalizeVector, vectorToBlob } from "./vector_cache.js";
import { normalizeEntityName } from "./entity_names.js";

/** Schema of the graph tables (migration 3 of the SQLite store). */
export const GRAPH_MIGRATION_SQL = `
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

/** What the graph needs from the store that owns the connection. */
export interface SqliteGraphContext {
  db: Database.Database;
  /** SQL condition `alias.user_id = ? AND ...` for the ids the scope gives. */
  scopeCondition(
    scope: MemoryScope,
    alias?: string,
  ): { mask: string; sql: string; params: string[] };
  /** A statement prepared once per kind and scope shape. */
  scoped(kind: string, mask: string, build: () => string): Database.Statement;
  /** The recorded embedding dimension, if any. */
  dimensions(): number | undefined;
  /** Records the embedding dimension (only called while none is recorded). */
  recordDimensions(dims: number): void;
  /** Throws a clear error unless the vector has `dims` finite numbers. */
  checkVector(vector: number[], dims: number, what: string): void;
  assertOpen(): void;
  /** Runs `fn` in an IMMEDIATE transaction (or inside the current one). */
  transaction<T>(fn: () => T): T;
  path: string;
}

interface EntityRow {
  id: string;
  user_id: string | null;
  agent_id: string | null;
  run_id: string | null;
  name: string;
  aliases: string;
  created_at: string;
}

interface EdgeRow {
  id: string;
  source_id: string;
  source_name: string;
  relation: string;
  destination_id: string;
  destination_name: string;
  valid_from: string;
  valid_to: string | null;
  origin: string | null;
  user_id: string | null;
  agent_id: string | null;
  run_id: string | null;
  created_at: string;
}

const ENTITY_COLUMNS =
  "e.id, e.user_id, e.agent_id, e.run_id, e.name, e.created_at, " +
  "(SELECT json_group_array(alias) FROM " +
  "(SELECT alias FROM entity_aliases WHERE entity_id = e.id ORDER BY alias)) AS aliases";

const EDGE_SELECT =
  "SELECT ed.id, ed.source_id, s.name AS source_name, ed.relation, ed.destination_id, " +
  "d.name AS destination_name, ed.valid_from, ed.valid_to, ed.origin, ed.user_id, ed.agent_id, " +
  "ed.run_id, ed.created_at FROM edges ed JOIN entities s ON s.id = ed.source_id " +
  "JOIN entities d ON d.id = ed.destination_id";

/** Sets the owner ids of a row (`user_id`... columns) on `target` (`userId`...). */
export function owned<T extends object>(
  target: T,
  row: { user_id: string | null; agent_id: string | null; run_id: string | null },
): T {
  const out = target as T & MemoryScope;
  if (row.user_id !== null) out.userId = row.user_id;
  if (row.agent_id !== null) out.agentId = row.agent_id;
  if (row.run_id !== null) out.runId = row.run_id;
  return out;
}

function toEntity(row: EntityRow): GraphEntity {
  const entity: GraphEntity = {
    id: row.id,
    name: row.name,
    aliases: JSON.parse(row.aliases) as string[],
    createdAt: row.created_at,
  };
  return owned(entity, row);
}

function toEdge(row: EdgeRow): GraphEdge {
  const edge: GraphEdge = {
    id: row.id,
    sourceId: row.source_id,
    source: row.source_name,
    relation: row.relation,
    destinationId: row.destination_id,
    destination: row.destination_name,
    validFrom: row.valid_from,
    createdAt: row.created_at,
  };
  if (row.valid_to !== null) edge.validTo = row.valid_to;
  if (row.origin !== null) edge.origin = row.origin;
  return owned(edge, row);
}

/** An ISO time in the canonical `toISOString()` form, so times compare as strings. */
function isoTime(value: string, what: string): string {
  const time = typeof value === "string" ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) {
    throw new Mem0InputError(`${what} must be an ISO date-time string, got ${String(value)}.`);
  }
  return new Date(time).toISOString();
}

function requireId(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") {
    throw new Mem0InputError(`${what} must be a non-empty string.`);
  }
  return value;
}

/** Validity condition on `ed.` and its parameters. */
function validityCondition(options: EdgeValidity | undefined): {
  kind: string;
  sql: string;
  params: string[];
} {
  if (options?.includeInvalid) return { kind: "all", sql: "1", params: [] };
  if (options?.asOf !== undefined) {
    const asOf = isoTime(options.asOf, "asOf");
    return {
      kind: "asof",
      sql: "ed.valid_from <= ? AND (ed.valid_to IS NULL OR ed.valid_to > ?)",
      params: [asOf, asOf],
    };
  }
  return { kind: "now", sql: "ed.valid_to IS NULL", params: [] };
}

/**
 * Entities and relations of the SQLite store (graph memory), on the store's connection.
 * Writes run inside the caller's transaction; reads need a scope like memories do.
 */
export class SqliteGraph {
  private readonly ctx: SqliteGraphContext;
  private readonly stmt: ReturnType<SqliteGraph["prepareStatements"]>;

  constructor(ctx: SqliteGraphContext) {
    this.ctx = ctx;
    this.stmt = this.prepareStatements();
  }

  private prepareStatements() {
    const db = this.ctx.db;
    return {
      entityExists: db.prepare("SELECT embedding IS NOT NULL FROM entities WHERE id = ?").pluck(),
      entityInsert: db.prepare(
        `INSERT INTO entities (id, scope_key, user_id, agent_id, run_id, name, embedding, created_at)
         VALUES (@id, @scope_key, @user_id, @agent_id, @run_id, @name, @embedding, @created_at)`,
      ),
      entityFillEmbedding: db.prepare(
        "UPDATE entities SET embedding = ? WHERE id = ? AND embedding IS NULL",
      ),
      aliasInsert: db.prepare(
        "INSERT INTO entity_aliases (entity_id, alias) VALUES (?, ?) ON CONFLICT DO NOTHING",
      ),
      entitiesByIds: db.prepare(
        `SELECT ${ENTITY_COLUMNS} FROM entities e WHERE e.id IN (SELECT value FROM json_each(?))`,
      ),
      edgeExists: db.prepare("SELECT 1 FROM edges WHERE id = ?").pluck(),
      edgeInsert: db.prepare(
        `INSERT INTO edges (id, scope_key, user_id, agent_id, run_id, source_id, relation,
           destination_id, valid_from, origin, created_at)
         VALUES (@id, @scope_key, @user_id, @agent_id, @run_id, @source_id, @relation,
           @destination_id, @valid_from, @origin, @created_at)
         ON CONFLICT DO NOTHING`,
      ),
      edgeInvalidate: db.prepare("UPDATE edges SET valid_to = ? WHERE id = ? AND valid_to IS NULL"),
      edgeDelete: db.prepare("DELETE FROM edges WHERE id = ?"),
      edgeById: db.prepare(`${EDGE_SELECT} WHERE ed.id = ?`),
    };
  }

  // ---------------------------------------------------------------- reads

  findEntitiesByName(scope: MemoryScope, names: string[]): GraphEntity[] {
    this.ctx.assertOpen();
    const queryScope = requireScope(scope);
    const wanted = [...new Set((names ?? []).map(normalizeEntityName))].filter(Boolean);
    if (wanted.length === 0) return [];
    const { mask, sql, params } = this.ctx.scopeCondition(queryScope, "e.");
    const rows = this.ctx
      .scoped(
        "graph-by-name",
        mask,
        () =>
          `SELECT ${ENTITY_COLUMNS} FROM entities e WHERE ${sql} AND e.id IN
           (SELECT entity_id FROM entity_aliases WHERE alias IN (SELECT value FROM json_each(?)))
           ORDER BY e.created_at, e.seq`,
      )
      .all(...params, JSON.stringify(wanted)) as EntityRow[];
    return rows.map(toEntity);
  }

  entitiesMentionedIn(scope: MemoryScope, text: string): GraphEntity[] {
    this.ctx.assertOpen();
    const queryScope = requireScope(scope);
    const normalized = normalizeEntityName(text);
    if (normalized === "") return [];
    const { mask, sql, params } = this.ctx.scopeCondition(queryScope, "e.");
    const rows = this.ctx
      .scoped(
        "graph-mentioned",
        mask,
        () =>
          `SELECT ${ENTITY_COLUMNS} FROM entities e WHERE ${sql} AND EXISTS
           (SELECT 1 FROM entity_aliases a WHERE a.entity_id = e.id
              AND instr(' ' || ? || ' ', ' ' || a.alias || ' ') > 0)
           ORDER BY e.created_at, e.seq`,
      )
      .all(...params, normalized) as EntityRow[];
    return rows.map(toEntity);
  }

  similarEntities(
    scope: MemoryScope,
    vector: number[],
    options: { topK: number; threshold: number },
  ): EntityMatch[] {
    this.ctx.assertOpen();
    const queryScope = requireScope(scope);
    const { topK, threshold } = options;
    if (!Number.isInteger(topK) || topK < 0) {
      throw new Mem0InputError(`topK must be a non-negative integer, got ${String(topK)}.`);
    }
    if (typeof threshold !== "number" || Number.isNaN(threshold)) {
      throw new Mem0InputError(`threshold must be a number, got ${String(threshold)}.`);
    }
    const dims = this.ctx.dimensions();
    if (dims === undefined) return [];
    this.ctx.checkVector(vector, dims, "Query vector");
    if (topK === 0) return [];
    const query = normalizeVector(vector);
    const { mask, sql, params } = this.ctx.scopeCondition(queryScope);
    const rows = this.ctx
      .scoped(
        "graph-embeddings",
        mask,
        () => `SELECT id, embedding FROM entities WHERE ${sql} AND embedding IS NOT NULL`,
      )
      .all(...params) as { id: string; embedding: Buffer }[];
    const hits: { id: string; score: number }[] = [];
    for (const row of rows) {
      if (row.embedding.byteLength !== dims * 4) {
        throw new Mem0Error(
          `Entity ${row.id} in ${this.ctx.path} has a ${row.embedding.byteLength / 4}-dimensional ` +
            `vector, expected ${dims}.`,
        );
      }
      const stored = blobToVector(row.embedding);
      let dot = 0;
      for (let i = 0; i < dims; i++) dot += stored[i] * query[i];
      if (dot >= threshold) hits.push({ id: row.id, score: dot });
    }
    hits.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const top = hits.slice(0, topK);
    if (top.length === 0) return [];
    const byId = new Map(
      (this.stmt.entitiesByIds.all(JSON.stringify(top.map((hit) => hit.id))) as EntityRow[]).map(
        (row) => [row.id, toEntity(row)],
      ),
    );
    const out: EntityMatch[] = [];
    for (const hit of top) {
      const entity = byId.get(hit.id);
      if (entity) out.push({ entity, score: hit.score });
    }
    return out;
  }

  neighborhood(
    scope: MemoryScope,
    entityIds: string[],
    options: EdgeValidity & { hops: number },
  ): GraphEdge[] {
    this.ctx.assertOpen();
    const queryScope = requireScope(scope);
    const hops = options?.hops ?? 1;
    if (!Number.isInteger(hops) || hops < 0) {
      throw new Mem0InputError(`hops must be a non-negative integer, got ${String(hops)}.`);
    }
    const validity = validityCondition(options);
    const { mask, sql, params } = this.ctx.scopeCondition(queryScope, "ed.");
    const statement = this.ctx.scoped(
      `graph-touching-${validity.kind}`,
      mask,
      () =>
        `${EDGE_SELECT} WHERE ${sql} AND ${validity.sql} AND
           (ed.source_id IN (SELECT value FROM json_each(?))
            OR ed.destination_id IN (SELECT value FROM json_each(?)))
         ORDER BY ed.seq`,
    );
    const visited = new Set<string>();
    let frontier = [...new Set(entityIds ?? [])];
    const edges = new Map<string, GraphEdge>();
    for (let hop = 0; hop < hops && frontier.length > 0; hop++) {
      for (const id of frontier) visited.add(id);
      const ids = JSON.stringify(frontier);
      const rows = statement.all(...params, ...validity.params, ids, ids) as EdgeRow[];
      const next = new Set<string>();
      for (const row of rows) {
        if (!edges.has(row.id)) edges.set(row.id, toEdge(row));
        for (const end of [row.source_id, row.destination_id]) {
          if (!visited.has(end)) next.add(end);
        }
      }
      frontier = [...next];
    }
    return [...edges.values()];
  }

  listEntities(scope: MemoryScope): GraphEntity[] {
    this.ctx.assertOpen();
    const { mask, sql, params } = this.ctx.scopeCondition(requireScope(scope), "e.");
    const rows = this.ctx
      .scoped(
        "graph-entities",
        mask,
        () => `SELECT ${ENTITY_COLUMNS} FROM entities e WHERE ${sql} ORDER BY e.created_at, e.seq`,
      )
      .all(...params) as EntityRow[];
    return rows.map(toEntity);
  }

  listEdges(scope: MemoryScope, options?: EdgeValidity): GraphEdge[] {
    this.ctx.assertOpen();
    const queryScope = requireScope(scope);
    const validity = validityCondition(options);
    const { mask, sql, params } = this.ctx.scopeCondition(queryScope, "ed.");
    const rows = this.ctx
      .scoped(
        `graph-edges-${validity.kind}`,
        mask,
        () => `${EDGE_SELECT} WHERE ${sql} AND ${validity.sql} ORDER BY ed.created_at, ed.seq`,
      )
      .all(...params, ...validity.params) as EdgeRow[];
    return rows.map(toEdge);
  }

  getEdge(id: string): GraphEdge | undefined {
    this.ctx.assertOpen();
    const row = this.stmt.edgeById.get(id) as EdgeRow | undefined;
    return row ? toEdge(row) : undefined;
  }

  // ---------------------------------------------------------------- writes

  /** Applies the changes in order; call inside a transaction. */
  applyChanges(changes: GraphChange[]): void {
    if (!Array.isArray(changes)) throw new Mem0InputError("Graph changes must be an array.");
    for (const change of changes) {
      switch (change?.type) {
        case "upsert_entity":
          this.upsertEntity(change);
          break;
        case "add_edge":
          this.addEdge(change);
          break;
        case "invalidate_edge":
          this.stmt.edgeInvalidate.run(
            isoTime(change.validTo, `validTo of edge ${change.id}`),
            requireId(change.id, "Edge id"),
          );
          break;
        case "delete_edge":
          this.stmt.edgeDelete.run(requireId(change.id, "Edge id"));
          break;
        default:
          throw new Mem0InputError(
            `Unknown graph change type ${JSON.stringify((change as { type?: unknown })?.type)}.`,
          );
      }
    }
  }

  /** Applies the changes in their own transaction. */
  applyGraph(changes: GraphChange[]): void {
    this.ctx.assertOpen();
    if (changes.length === 0) return;
    this.ctx.transaction(() => this.applyChanges(changes));
  }

  private upsertEntity(change: Extract<GraphChange, { type: "upsert_entity" }>): void {
    const id = requireId(change.id, "Entity id");
    const name = normalizeEntityName(change.name);
    if (name === "") {
      throw new Mem0InputError(
        `Entity ${id} needs a name with at least one letter or digit, got ${JSON.stringify(change.name)}.`,
      );
    }
    const aliases = new Set([name]);
    for (const alias of change.aliases ?? []) {
      const normalized = normalizeEntityName(alias);
      if (normalized !== "") aliases.add(normalized);
    }
    const embedding =
      change.embedding !== undefined && change.embedding !== null
        ? vectorToBlob(this.prepareVector(change.embedding, id))
        : null;
    const hasEmbedding = this.stmt.entityExists.get(id) as number | undefined;
    if (hasEmbedding === undefined) {
      const owner = requireScope(
        change.owner ?? {},
        `Entity ${id} has no owner: give at least one of userId, agentId or runId.`,
      );
      this.stmt.entityInsert.run({
        id,
        scope_key: scopeKey(owner),
        user_id: owner.userId ?? null,
        agent_id: owner.agentId ?? null,
        run_id: owner.runId ?? null,
        name: change.name,
        embedding,
        created_at: isoTime(change.createdAt, `createdAt of entity ${id}`),
      });
    } else if (!hasEmbedding && embedding !== null) {
      this.stmt.entityFillEmbedding.run(embedding, id);
    }
    for (const alias of aliases) this.stmt.aliasInsert.run(id, alias);
  }

  private addEdge(change: Extract<GraphChange, { type: "add_edge" }>): void {
    const id = requireId(change.id, "Edge id");
    const sourceId = requireId(change.sourceId, `sourceId of edge ${id}`);
    const destinationId = requireId(change.destinationId, `destinationId of edge ${id}`);
    if (typeof change.relation !== "string" || change.relation.trim() === "") {
      throw new Mem0InputError(`relation of edge ${id} must be a non-empty string.`);
    }
    const owner = requireScope(
      change.owner ?? {},
      `Edge ${id} has no owner: give at least one of userId, agentId or runId.`,
    );
    const validFrom = isoTime(change.validFrom, `validFrom of edge ${id}`);
    for (const entityId of [sourceId, destinationId]) {
      if (this.stmt.entityExists.get(entityId) === undefined) {
        throw new Mem0InputError(
          `Edge ${id} refers to unknown entity ${entityId}: upsert the entity first.`,
        );
      }
    }
    if (this.stmt.edgeExists.get(id) !== undefined) {
      throw new Mem0InputError(`An edge with id ${id} already exists.`);
    }
    // Skipped (ON CONFLICT DO NOTHING on edges_current) when the same edge is currently valid.
    this.stmt.edgeInsert.run({
      id,
      scope_key: scopeKey(owner),
      user_id: owner.userId ?? null,
      agent_id: owner.agentId ?? null,
      run_id: owner.runId ?? null,
      source_id: sourceId,
      relation: change.relation,
      destination_id: destinationId,
      valid_from: validFrom,
      origin: change.origin ?? null,
      created_at: new Date().toISOString(),
    });
  }

  private prepareVector(embedding: number[], entityId: string): Float32Array {
    let dims = this.ctx.dimensions();
    if (dims === undefined) {
      if (!Array.isArray(embedding) || embedding.length === 0) {
        throw new Mem0InputError(
          `Embedding of entity ${entityId} must be a non-empty array of numbers.`,
        );
      }
      dims = embedding.length;
      this.ctx.recordDimensions(dims);
    }
    this.ctx.checkVector(embedding, dims, `Embedding of entity ${entityId}`);
    return normalizeVector(embedding);
  }

  // ---------------------------------------------------------------- maintenance

  /** Removes the entities (with their aliases) and edges visible from the scope. */
  deleteScope(scope: MemoryScope): void {
    const { mask, sql, params } = this.ctx.scopeCondition(requireScope(scope));
    this.ctx
      .scoped("graph-delete-edges", mask, () => `DELETE FROM edges WHERE ${sql}`)
      .run(...params);
    // Aliases and edges of other scopes touching these entities go with them (ON DELETE CASCADE).
    this.ctx
      .scoped("graph-delete-entities", mask, () => `DELETE FROM entities WHERE ${sql}`)
      .run(...params);
  }

  /** Removes every entity, alias and edge. */
  clear(): void {
    this.ctx.db.exec("DELETE FROM edges; DELETE FROM entity_aliases; DELETE FROM entities;");
  }
}

import type Database from "better-sqlite3";
import { Mem0Error, Mem0InputError } from "../errors.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type { EdgeValidity, EntityMatch, GraphChange, GraphEdge, GraphEntity } from "./base.js";
import { normalizeEntityName } from "./entity_names.js";
import {
  checkEdgeInsert,
  checkEntityUpsert,
  checkHops,
  checkSimilarOptions,
  unknownGraphChange,
  validityRule,
  walkNeighborhood,
} from "./graph_changes.js";
import { ownerColumns, type ScopeCondition } from "./scope_sql.js";
import { firstDimensions, isoTime, requireId } from "./store_checks.js";
import { toEdge, toEntity, type EdgeRow, type EntityRow } from "./store_rows.js";
import { blobToVector, normalizeVector, vectorToBlob } from "./vector_cache.js";

/** What the graph needs from the store that owns the connection. */
export interface SqliteGraphContext {
  db: Database.Database;
  /** SQL condition `alias.user_id = ? AND ...` for the ids the scope gives. */
  scopeCondition(scope: MemoryScope, alias?: string): ScopeCondition;
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

const ENTITY_COLUMNS =
  "e.id, e.user_id, e.agent_id, e.run_id, e.name, e.created_at, " +
  "(SELECT json_group_array(alias) FROM " +
  "(SELECT alias FROM entity_aliases WHERE entity_id = e.id ORDER BY alias)) AS aliases";

const EDGE_SELECT =
  "SELECT ed.id, ed.source_id, s.name AS source_name, ed.relation, ed.destination_id, " +
  "d.name AS destination_name, ed.valid_from, ed.valid_to, ed.origin, ed.user_id, ed.agent_id, " +
  "ed.run_id, ed.created_at FROM edges ed JOIN entities s ON s.id = ed.source_id " +
  "JOIN entities d ON d.id = ed.destination_id";

/** Validity condition on `ed.` and its parameters. */
function validityCondition(options: EdgeValidity | undefined): {
  kind: string;
  sql: string;
  params: string[];
} {
  const rule = validityRule(options);
  if (rule.kind === "all") return { kind: "all", sql: "1", params: [] };
  if (rule.kind === "asof") {
    return {
      kind: "asof",
      sql: "ed.valid_from <= ? AND (ed.valid_to IS NULL OR ed.valid_to > ?)",
      params: [rule.asOf, rule.asOf],
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
    checkSimilarOptions(options);
    const { topK, threshold } = options;
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
  ): Promise<GraphEdge[]> {
    this.ctx.assertOpen();
    const queryScope = requireScope(scope);
    const hops = checkHops(options?.hops);
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
    return walkNeighborhood(entityIds, hops, (frontier) => {
      const ids = JSON.stringify(frontier);
      return (statement.all(...params, ...validity.params, ids, ids) as EdgeRow[]).map(toEdge);
    });
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
          throw unknownGraphChange(change);
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
    const hasEmbedding = this.stmt.entityExists.get(requireId(change.id, "Entity id")) as
      number | undefined;
    const entity = checkEntityUpsert(change, hasEmbedding === undefined);
    const { id } = entity;
    const embedding = entity.embedding
      ? vectorToBlob(this.prepareVector(entity.embedding, id))
      : null;
    if (hasEmbedding === undefined) {
      this.stmt.entityInsert.run({
        id,
        scope_key: scopeKey(entity.owner!),
        ...ownerColumns(entity.owner!),
        name: entity.name,
        embedding,
        created_at: entity.createdAt,
      });
    } else if (!hasEmbedding && embedding !== null) {
      this.stmt.entityFillEmbedding.run(embedding, id);
    }
    for (const alias of entity.aliases) this.stmt.aliasInsert.run(id, alias);
  }

  private addEdge(change: Extract<GraphChange, { type: "add_edge" }>): void {
    const edge = checkEdgeInsert(change);
    for (const entityId of [edge.sourceId, edge.destinationId]) {
      if (this.stmt.entityExists.get(entityId) === undefined) {
        throw new Mem0InputError(
          `Edge ${edge.id} refers to unknown entity ${entityId}: upsert the entity first.`,
        );
      }
    }
    if (this.stmt.edgeExists.get(edge.id) !== undefined) {
      throw new Mem0InputError(`An edge with id ${edge.id} already exists.`);
    }
    // Skipped (ON CONFLICT DO NOTHING on edges_current) when the same edge is currently valid.
    this.stmt.edgeInsert.run({
      id: edge.id,
      scope_key: scopeKey(edge.owner),
      ...ownerColumns(edge.owner),
      source_id: edge.sourceId,
      relation: edge.relation,
      destination_id: edge.destinationId,
      valid_from: edge.validFrom,
      origin: edge.origin,
      created_at: new Date().toISOString(),
    });
  }

  private prepareVector(embedding: number[], entityId: string): Float32Array {
    let dims = this.ctx.dimensions();
    if (dims === undefined) {
      dims = firstDimensions(embedding, `Embedding of entity ${entityId}`);
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

import { Mem0InputError } from "../errors.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type { EdgeValidity, EntityMatch, GraphChange, GraphEdge, GraphEntity } from "./base.js";
import { normalizeEntityName } from "./entity_names.js";
import type { GraphPart } from "./graph_delegate.js";
import {
  checkEdgeInsert,
  checkEntityUpsert,
  checkHops,
  checkSimilarOptions,
  unknownGraphChange,
  validityRule,
  walkNeighborhood,
} from "./graph_changes.js";
import { dollar, type PostgresConnection, type Queryable } from "./postgres_connection.js";
import { ownerColumns, scopeCondition } from "./scope_sql.js";
import { isoTime, requireId } from "./store_checks.js";
import { toEdge, toEntity, type EdgeRow, type EntityRow } from "./store_rows.js";

/** What the graph needs from the Postgres store. */
export interface PostgresGraphContext {
  connection: PostgresConnection;
  /** The recorded embedding dimension, if any, read on `q` (default: the pool). */
  dimensions(q?: Queryable): Promise<number | undefined>;
  /** The dimension of a vector to store (recorded when it is the first), checked. */
  prepareVector(q: Queryable, vector: number[], what: string): Promise<string>;
  /** The query vector as a `vector` literal, checked against `dims`. */
  queryVector(vector: number[], dims: number): string;
}

/** Entities and relations of the Postgres store (graph memory). */
export class PostgresGraph implements GraphPart {
  constructor(private readonly ctx: PostgresGraphContext) {}

  private get s(): string {
    return this.ctx.connection.schema;
  }

  private entityColumns(): string {
    return (
      "e.id, e.user_id, e.agent_id, e.run_id, e.name, e.created_at, " +
      `(SELECT coalesce(json_agg(alias ORDER BY alias COLLATE "C"), '[]'::json) ` +
      `FROM ${this.s}.entity_aliases WHERE entity_id = e.id) AS aliases`
    );
  }

  private edgeSelect(): string {
    return (
      "SELECT ed.id, ed.source_id, s.name AS source_name, ed.relation, ed.destination_id, " +
      "d.name AS destination_name, ed.valid_from, ed.valid_to, ed.origin, ed.user_id, " +
      `ed.agent_id, ed.run_id, ed.created_at FROM ${this.s}.edges ed ` +
      `JOIN ${this.s}.entities s ON s.id = ed.source_id ` +
      `JOIN ${this.s}.entities d ON d.id = ed.destination_id`
    );
  }

  /** Entities of the scope matching `condition` (on `e.`, parameters after the scope's). */
  private async entities(
    scope: MemoryScope,
    condition: (next: number) => string,
    params: unknown[],
  ): Promise<GraphEntity[]> {
    const where = scopeCondition(requireScope(scope), "e.", dollar);
    const rows = await this.ctx.connection.query<EntityRow>(
      `SELECT ${this.entityColumns()} FROM ${this.s}.entities e
       WHERE ${where.sql} AND ${condition(where.params.length + 1)}
       ORDER BY e.created_at, e.seq`,
      [...where.params, ...params],
    );
    return rows.map(toEntity);
  }

  async findEntitiesByName(scope: MemoryScope, names: string[]): Promise<GraphEntity[]> {
    requireScope(scope);
    const wanted = [...new Set((names ?? []).map(normalizeEntityName))].filter(Boolean);
    if (wanted.length === 0) return [];
    return this.entities(
      scope,
      (n) => `e.id IN (SELECT entity_id FROM ${this.s}.entity_aliases WHERE alias = ANY($${n}))`,
      [wanted],
    );
  }

  async entitiesMentionedIn(scope: MemoryScope, text: string): Promise<GraphEntity[]> {
    requireScope(scope);
    const normalized = normalizeEntityName(text);
    if (normalized === "") return [];
    return this.entities(
      scope,
      (n) =>
        `EXISTS (SELECT 1 FROM ${this.s}.entity_aliases a WHERE a.entity_id = e.id
           AND strpos(' ' || $${n}::text || ' ', ' ' || a.alias || ' ') > 0)`,
      [normalized],
    );
  }

  async similarEntities(
    scope: MemoryScope,
    vector: number[],
    options: { topK: number; threshold: number },
  ): Promise<EntityMatch[]> {
    const queryScope = requireScope(scope);
    checkSimilarOptions(options);
    const dims = await this.ctx.dimensions();
    if (dims === undefined) return [];
    const query = this.ctx.queryVector(vector, dims);
    if (options.topK === 0) return [];
    const where = scopeCondition(queryScope, "e.", dollar);
    const n = where.params.length;
    const score = `1 - ((e.embedding::vector(${dims})) <=> $${n + 1}::vector(${dims}))`;
    const rows = await this.ctx.connection.query<EntityRow & { score: number }>(
      `SELECT * FROM (SELECT ${this.entityColumns()}, ${score} AS score FROM ${this.s}.entities e
         WHERE ${where.sql} AND e.embedding IS NOT NULL) hits
       WHERE score >= $${n + 2} ORDER BY score DESC, id LIMIT $${n + 3}`,
      [...where.params, query, options.threshold, options.topK],
    );
    return rows.map((row) => ({ entity: toEntity(row), score: row.score }));
  }

  /** Edges of the scope matching `condition` and the validity (parameters after the scope's). */
  private async edges(
    scope: MemoryScope,
    options: EdgeValidity | undefined,
    condition: (next: number) => string,
    params: unknown[],
    order: string,
  ): Promise<GraphEdge[]> {
    const where = scopeCondition(requireScope(scope), "ed.", dollar);
    const rule = validityRule(options);
    const all = [...where.params, ...params];
    let validity = "ed.valid_to IS NULL";
    if (rule.kind === "all") validity = "true";
    if (rule.kind === "asof") {
      all.push(rule.asOf);
      validity = `ed.valid_from <= $${all.length} AND (ed.valid_to IS NULL OR ed.valid_to > $${all.length})`;
    }
    const rows = await this.ctx.connection.query<EdgeRow>(
      `${this.edgeSelect()} WHERE ${where.sql} AND ${condition(where.params.length + 1)}
       AND ${validity} ORDER BY ${order}`,
      all,
    );
    return rows.map(toEdge);
  }

  async neighborhood(
    scope: MemoryScope,
    entityIds: string[],
    options: EdgeValidity & { hops: number },
  ): Promise<GraphEdge[]> {
    requireScope(scope);
    const hops = checkHops(options?.hops);
    validityRule(options);
    return walkNeighborhood(entityIds, hops, (frontier) =>
      this.edges(
        scope,
        options,
        (n) => `(ed.source_id = ANY($${n}) OR ed.destination_id = ANY($${n}))`,
        [frontier],
        "ed.seq",
      ),
    );
  }

  async listEntities(scope: MemoryScope): Promise<GraphEntity[]> {
    return this.entities(scope, () => "true", []);
  }

  async listEdges(scope: MemoryScope, options?: EdgeValidity): Promise<GraphEdge[]> {
    return this.edges(scope, options, () => "true", [], "ed.created_at, ed.seq");
  }

  async getEdge(id: string): Promise<GraphEdge | undefined> {
    const rows = await this.ctx.connection.query<EdgeRow>(`${this.edgeSelect()} WHERE ed.id = $1`, [
      id,
    ]);
    return rows[0] ? toEdge(rows[0]) : undefined;
  }

  async applyGraph(changes: GraphChange[]): Promise<void> {
    if (changes.length === 0) return;
    await this.ctx.connection.transaction((client) => this.applyChanges(client, changes));
  }

  /** Applies the changes in order, inside the caller's transaction. */
  async applyChanges(client: Queryable, changes: GraphChange[]): Promise<void> {
    if (!Array.isArray(changes)) throw new Mem0InputError("Graph changes must be an array.");
    for (const change of changes) {
      switch (change?.type) {
        case "upsert_entity":
          await this.upsertEntity(client, change);
          break;
        case "add_edge":
          await this.addEdge(client, change);
          break;
        case "invalidate_edge":
          await client.query(
            `UPDATE ${this.s}.edges SET valid_to = $1 WHERE id = $2 AND valid_to IS NULL`,
            [
              isoTime(change.validTo, `validTo of edge ${change.id}`),
              requireId(change.id, "Edge id"),
            ],
          );
          break;
        case "delete_edge":
          await client.query(`DELETE FROM ${this.s}.edges WHERE id = $1`, [
            requireId(change.id, "Edge id"),
          ]);
          break;
        default:
          throw unknownGraphChange(change);
      }
    }
  }

  private async upsertEntity(
    client: Queryable,
    change: Extract<GraphChange, { type: "upsert_entity" }>,
  ): Promise<void> {
    const { rows } = await client.query<{ has_embedding: boolean }>(
      `SELECT embedding IS NOT NULL AS has_embedding FROM ${this.s}.entities WHERE id = $1`,
      [requireId(change.id, "Entity id")],
    );
    const existing = rows[0];
    const entity = checkEntityUpsert(change, existing === undefined);
    const embedding = entity.embedding
      ? await this.ctx.prepareVector(client, entity.embedding, `Embedding of entity ${entity.id}`)
      : null;
    if (!existing) {
      const owner = entity.owner!;
      const { user_id, agent_id, run_id } = ownerColumns(owner);
      await client.query(
        `INSERT INTO ${this.s}.entities (id, scope_key, user_id, agent_id, run_id, name, embedding, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::vector, $8)`,
        [
          entity.id,
          scopeKey(owner),
          user_id,
          agent_id,
          run_id,
          entity.name,
          embedding,
          entity.createdAt,
        ],
      );
    } else if (!existing.has_embedding && embedding !== null) {
      await client.query(
        `UPDATE ${this.s}.entities SET embedding = $1::vector WHERE id = $2 AND embedding IS NULL`,
        [embedding, entity.id],
      );
    }
    await client.query(
      `INSERT INTO ${this.s}.entity_aliases (entity_id, alias) SELECT $1, unnest($2::text[])
       ON CONFLICT DO NOTHING`,
      [entity.id, entity.aliases],
    );
  }

  private async addEdge(
    client: Queryable,
    change: Extract<GraphChange, { type: "add_edge" }>,
  ): Promise<void> {
    const edge = checkEdgeInsert(change);
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM ${this.s}.entities WHERE id = ANY($1)`,
      [[edge.sourceId, edge.destinationId]],
    );
    const known = new Set(rows.map((row) => row.id));
    for (const entityId of [edge.sourceId, edge.destinationId]) {
      if (!known.has(entityId)) {
        throw new Mem0InputError(
          `Edge ${edge.id} refers to unknown entity ${entityId}: upsert the entity first.`,
        );
      }
    }
    const exists = await client.query(`SELECT 1 FROM ${this.s}.edges WHERE id = $1`, [edge.id]);
    if (exists.rows.length > 0) {
      throw new Mem0InputError(`An edge with id ${edge.id} already exists.`);
    }
    const { user_id, agent_id, run_id } = ownerColumns(edge.owner);
    // Skipped (ON CONFLICT DO NOTHING on edges_current) when the same edge is currently valid.
    await client.query(
      `INSERT INTO ${this.s}.edges (id, scope_key, user_id, agent_id, run_id, source_id, relation,
         destination_id, valid_from, origin, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
      [
        edge.id,
        scopeKey(edge.owner),
        user_id,
        agent_id,
        run_id,
        edge.sourceId,
        edge.relation,
        edge.destinationId,
        edge.validFrom,
        edge.origin,
        new Date().toISOString(),
      ],
    );
  }

  /** Removes the entities (with their aliases) and edges visible from the scope. */
  async deleteScope(client: Queryable, scope: MemoryScope): Promise<void> {
    const { sql, params } = scopeCondition(requireScope(scope), "", dollar);
    await client.query(`DELETE FROM ${this.s}.edges WHERE ${sql}`, params);
    // Aliases and edges of other scopes touching these entities go with them (ON DELETE CASCADE).
    await client.query(`DELETE FROM ${this.s}.entities WHERE ${sql}`, params);
  }
}

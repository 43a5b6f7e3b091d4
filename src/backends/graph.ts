import { randomUUID } from "node:crypto";
import { Mem0InputError } from "../errors.js";
import { requireScope, scopeKey, type MemoryScope } from "../scope.js";
import type {
  EdgeValidity,
  GraphChange,
  GraphEdge,
  GraphEntity,
  GraphStore,
} from "../stores/base.js";
import { normalizeEntityName } from "../stores/entity_names.js";
import type { Relation } from "./base.js";
import type { MemoryOperations } from "./extraction.js";
import { graphGetAllOptionsSchema, parseOptions } from "./options.js";

export interface GraphOptions {
  /** Cosine similarity above which a new name resolves to an existing entity (default 0.9). */
  entityThreshold?: number;
  /** Similarity above which a search query is taken to mention an entity (default 0.5). */
  queryEntityThreshold?: number;
  /** Hops expanded from the entities a query mentions (default 1). */
  hops?: number;
  /** Relations returned per search (default 10). */
  topK?: number;
}

/** Words by which the user refers to themselves; they resolve to the scope's user. */
const SELF_REFERENCES = new Set(["user", "i", "me", "my", "mine", "myself", "the user"]);

/** Lower snake case: "Lives In" → "lives_in". */
export function normalizeRelation(relation: string): string {
  return relation
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, "_")
    .replace(/^_+|_+$/g, "");
}

function relationText(edge: Pick<GraphEdge, "source" | "relation" | "destination">): string {
  return `${edge.source} —${edge.relation}→ ${edge.destination}`;
}

function toRelation(edge: GraphEdge, score?: number): Relation & { id: string } {
  const relation: Relation & { id: string } = {
    id: edge.id,
    source: edge.source,
    relationship: edge.relation,
    destination: edge.destination,
    validFrom: edge.validFrom,
  };
  if (edge.validTo) relation.validTo = edge.validTo;
  if (score !== undefined) relation.score = score;
  return relation;
}

function tokens(text: string): string[] {
  return normalizeEntityName(text.replace(/_/g, " ")).split(" ").filter(Boolean);
}

/** BM25 of each document for the query, over that small document set (k1 1.2, b 0.75). */
function bm25(query: string[], documents: string[][]): number[] {
  const n = documents.length;
  const avgLength = documents.reduce((sum, doc) => sum + doc.length, 0) / Math.max(n, 1);
  const frequency = new Map<string, number>();
  for (const doc of documents)
    for (const term of new Set(doc)) frequency.set(term, (frequency.get(term) ?? 0) + 1);
  return documents.map((doc) =>
    [...new Set(query)].reduce((score, term) => {
      const tf = doc.filter((word) => word === term).length;
      if (tf === 0) return score;
      const df = frequency.get(term) ?? 0;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      return score + (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * doc.length) / avgLength));
    }, 0),
  );
}

/**
 * Entities above the resolution threshold looked at per new name: the owner's own are picked
 * among them, those of scopes the owner can see (a user's runs, an agent's users) skipped.
 */
const RESOLUTION_CANDIDATES = 100;

/**
 * Whether the entity belongs to exactly this owner. A write resolves names among the owner's
 * own entities only: a relation linking an entity of another scope would be deleted with that
 * scope (`deleteAll` of a run, or of one of an agent's users).
 */
function ownedBy(entity: GraphEntity, owner: MemoryScope): boolean {
  return scopeKey(entity) === scopeKey(owner);
}

/** What an extraction's relations need before the one embedding request of an `add`. */
export interface GraphPlan {
  /** Canonical names of every entity in the extracted relations and aliases. */
  names: string[];
  /** Entities found by name or alias. */
  known: Map<string, GraphEntity>;
  /** Names without a match: embedded in the batch, then resolved by similarity. */
  unresolved: string[];
  /** Other names the LLM gave for an entity, mapped to its canonical name. */
  aliasOf: Map<string, string>;
}

/**
 * Graph memory on top of a `GraphStore`: relations come from the same LLM call as the facts,
 * entities resolve by alias or embedding similarity, contradicted relations are invalidated
 * (kept with their validity interval), and search needs no LLM call.
 */
export class GraphMemory {
  private readonly entityThreshold: number;
  private readonly queryEntityThreshold: number;
  private readonly hops: number;
  private readonly topK: number;

  constructor(
    private readonly store: GraphStore,
    options: GraphOptions = {},
  ) {
    this.entityThreshold = options.entityThreshold ?? 0.9;
    this.queryEntityThreshold = options.queryEntityThreshold ?? 0.5;
    this.hops = options.hops ?? 1;
    this.topK = options.topK ?? 10;
  }

  /**
   * Canonical entity name; self-references become the scope's user id ("user" when there is
   * none, or when the id has no letter or digit to name an entity by).
   */
  canonical(name: string, owner: MemoryScope): string {
    const normalized = normalizeEntityName(name);
    if (SELF_REFERENCES.has(normalized)) return normalizeEntityName(owner.userId ?? "") || "user";
    return normalized;
  }

  /** Current relations among the entities the text mentions, offered to the LLM by integer id. */
  async context(owner: MemoryScope, text: string, vector: number[]) {
    const edges = await this.relevant(owner, text, vector);
    return edges.slice(0, 20).map(({ edge }, id) => ({ id, text: relationText(edge), edge }));
  }

  /** Looks up the entities named by an extraction, before the embedding request. */
  async plan(operations: MemoryOperations, owner: MemoryScope): Promise<GraphPlan> {
    const names = new Set<string>();
    for (const relation of operations.relations ?? []) {
      names.add(this.canonical(relation.source, owner));
      names.add(this.canonical(relation.destination, owner));
    }
    const aliasOf = new Map<string, string>();
    for (const { name, alias } of operations.aliases ?? []) {
      const canonical = this.canonical(name, owner);
      const other = this.canonical(alias, owner);
      if (!canonical || !other || canonical === other) continue;
      names.add(canonical);
      names.add(other);
      aliasOf.set(other, canonical);
    }
    names.delete("");
    const found = (await this.store.findEntitiesByName(owner, [...names])).filter((entity) =>
      ownedBy(entity, owner),
    );
    const known = new Map<string, GraphEntity>();
    for (const entity of found) {
      for (const alias of entity.aliases) if (names.has(alias)) known.set(alias, entity);
    }
    // An alias is not an entity of its own: it resolves with its canonical name, and a new
    // canonical name resolves with its alias when that one is known.
    const knownThroughAlias = new Set(
      [...aliasOf].filter(([alias]) => known.has(alias)).map(([, canonical]) => canonical),
    );
    const unresolved = [...names].filter(
      (name) => !known.has(name) && !aliasOf.has(name) && !knownThroughAlias.has(name),
    );
    return { names: [...names], known, unresolved, aliasOf };
  }

  /**
   * The graph changes of an extraction: entities (new, or new aliases of existing ones),
   * relations to add and offered relations to invalidate.
   */
  async changes(
    operations: MemoryOperations,
    plan: GraphPlan,
    embeddings: number[][],
    offered: { id: number; edge: GraphEdge }[],
    owner: MemoryScope,
    now: string,
    origin: string,
  ): Promise<GraphChange[]> {
    const changes: GraphChange[] = [];
    const resolved = new Map(plan.known);
    for (const [i, name] of plan.unresolved.entries()) {
      const match = (
        await this.store.similarEntities(owner, embeddings[i], {
          topK: RESOLUTION_CANDIDATES,
          threshold: this.entityThreshold,
        })
      ).find(({ entity }) => ownedBy(entity, owner));
      const entity = match?.entity ?? {
        id: randomUUID(),
        name,
        aliases: [name],
        ...owner,
        createdAt: now,
      };
      changes.push({
        type: "upsert_entity",
        id: entity.id,
        name: entity.name,
        aliases: [name],
        owner,
        embedding: match ? undefined : embeddings[i],
        createdAt: now,
      });
      resolved.set(name, entity);
    }
    // Both spellings of an aliased entity resolve to one entity, whichever of them was known.
    for (const [alias, canonical] of plan.aliasOf) {
      const entity = resolved.get(canonical) ?? resolved.get(alias);
      if (!entity) continue;
      const added = [canonical, alias].filter((name) => {
        const current = resolved.get(name);
        if (current && current.id !== entity.id) return false;
        resolved.set(name, entity);
        return !entity.aliases.includes(name);
      });
      if (added.length === 0) continue;
      entity.aliases = [...entity.aliases, ...added];
      changes.push({
        type: "upsert_entity",
        id: entity.id,
        name: entity.name,
        aliases: added,
        owner,
        createdAt: now,
      });
    }
    const byOfferedId = new Map(offered.map(({ id, edge }) => [id, edge]));
    for (const { id } of operations.invalidate ?? []) {
      const edge = byOfferedId.get(id);
      if (edge) changes.push({ type: "invalidate_edge", id: edge.id, validTo: now });
    }
    for (const relation of operations.relations ?? []) {
      const source = resolved.get(this.canonical(relation.source, owner));
      const destination = resolved.get(this.canonical(relation.destination, owner));
      const name = normalizeRelation(relation.relation);
      if (!source || !destination || !name || source.id === destination.id) continue;
      changes.push({
        type: "add_edge",
        id: randomUUID(),
        sourceId: source.id,
        relation: name,
        destinationId: destination.id,
        validFrom: now,
        origin,
        owner,
      });
    }
    return changes;
  }

  /** Edges near the entities the text mentions, ranked by BM25 over their text plus entity match. */
  private async relevant(
    scope: MemoryScope,
    text: string,
    vector: number[],
    validity: EdgeValidity = {},
  ): Promise<{ edge: GraphEdge; score: number }[]> {
    const [mentioned, similar] = await Promise.all([
      this.store.entitiesMentionedIn(scope, text),
      this.store.similarEntities(scope, vector, { topK: 5, threshold: this.queryEntityThreshold }),
    ]);
    const entityScores = new Map<string, number>();
    for (const { entity, score } of similar) entityScores.set(entity.id, score);
    for (const entity of mentioned) entityScores.set(entity.id, 1);
    const words = tokens(text);
    if (scope.userId && words.some((word) => SELF_REFERENCES.has(word))) {
      for (const entity of await this.store.findEntitiesByName(scope, [
        this.canonical("user", scope),
      ])) {
        entityScores.set(entity.id, Math.max(entityScores.get(entity.id) ?? 0, 0.5));
      }
    }
    if (entityScores.size === 0) return [];
    const edges = await this.store.neighborhood(scope, [...entityScores.keys()], {
      ...validity,
      hops: this.hops,
    });
    const lexical = bm25(
      words,
      edges.map((edge) => tokens(`${edge.source} ${edge.relation} ${edge.destination}`)),
    );
    const maxLexical = Math.max(0, ...lexical);
    return edges
      .map((edge, i) => ({
        edge,
        score:
          Math.max(
            entityScores.get(edge.sourceId) ?? 0,
            entityScores.get(edge.destinationId) ?? 0,
          ) + (maxLexical > 0 ? lexical[i] / maxLexical : 0),
      }))
      .sort((a, b) => b.score - a.score);
  }

  /** Relations relevant to a search query, without any LLM call. */
  async search(
    scope: MemoryScope,
    query: string,
    vector: number[],
    validity: EdgeValidity = {},
  ): Promise<Relation[]> {
    const ranked = await this.relevant(scope, query, vector, validity);
    return ranked.slice(0, this.topK).map(({ edge, score }) => {
      const { id: _id, ...relation } = toRelation(edge, score);
      return relation;
    });
  }

  /**
   * Every relation of the owner (current ones unless asked otherwise), with ids:
   * `getAll({ userId: "alice", includeInvalid: true })`.
   */
  async getAll(options: MemoryScope & EdgeValidity): Promise<(Relation & { id: string })[]> {
    const { asOf, includeInvalid, ...scope } = parseOptions(
      graphGetAllOptionsSchema,
      options,
      "graph.getAll options",
    );
    const edges = await this.store.listEdges(requireScope(scope), { asOf, includeInvalid });
    return edges.map((edge) => toRelation(edge));
  }

  /** Every entity of the owner: `entities({ userId: "alice" })`. */
  async entities(scope: MemoryScope): Promise<GraphEntity[]> {
    return this.store.listEntities(requireScope(scope));
  }

  /** Removes one relation for good (use invalidation through `add` to keep its history). */
  async delete(relationId: string): Promise<void> {
    if (typeof relationId !== "string" || relationId === "") {
      throw new Mem0InputError(
        `A relation id must be a non-empty string (an id from graph.getAll), got ${typeof relationId}.`,
      );
    }
    if (!(await this.store.getEdge(relationId)))
      throw new Mem0InputError(`No relation with id "${relationId}".`);
    await this.store.applyGraph([{ type: "delete_edge", id: relationId }]);
  }
}

import { Mem0InputError } from "../errors.js";
import { requireScope, type MemoryScope } from "../scope.js";
import type { EdgeValidity, GraphChange } from "./base.js";
import { normalizeEntityName } from "./entity_names.js";
import { isoTime, requireId } from "./store_checks.js";

/** An `upsert_entity` change, checked and normalised; what every graph store writes. */
export interface EntityUpsert {
  id: string;
  /** The normalised name. */
  name: string;
  /** Normalised aliases, the name included. */
  aliases: string[];
  /** Absent only where the entity exists already (then unused). */
  owner?: MemoryScope;
  createdAt: string;
  embedding?: number[];
}

/** An `add_edge` change, checked. */
export interface EdgeInsert {
  id: string;
  sourceId: string;
  relation: string;
  destinationId: string;
  validFrom: string;
  origin: string | null;
  owner: MemoryScope;
}

/** Checks an `upsert_entity` change; the owner is checked only when the entity is new. */
export function checkEntityUpsert(
  change: Extract<GraphChange, { type: "upsert_entity" }>,
  isNew: boolean,
): EntityUpsert {
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
  const upsert: EntityUpsert = {
    id,
    name: change.name,
    aliases: [...aliases],
    createdAt: isNew ? isoTime(change.createdAt, `createdAt of entity ${id}`) : change.createdAt,
  };
  if (isNew) {
    upsert.owner = requireScope(
      change.owner ?? {},
      `Entity ${id} has no owner: give at least one of userId, agentId or runId.`,
    );
  }
  if (change.embedding !== undefined && change.embedding !== null) {
    upsert.embedding = change.embedding;
  }
  return upsert;
}

/** Checks an `add_edge` change (the entities' existence is the store's to check). */
export function checkEdgeInsert(change: Extract<GraphChange, { type: "add_edge" }>): EdgeInsert {
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
  return {
    id,
    sourceId,
    relation: change.relation,
    destinationId,
    validFrom,
    origin: change.origin ?? null,
    owner,
  };
}

/** The graph change types, for a clear error on anything else. */
export function unknownGraphChange(change: unknown): Mem0InputError {
  return new Mem0InputError(
    `Unknown graph change type ${JSON.stringify((change as { type?: unknown })?.type)}.`,
  );
}

/**
 * Which edges a read returns: all, those valid at an instant (`valid_from <= t < valid_to`), or
 * the current ones (no `valid_to`).
 */
export type ValidityRule = { kind: "all" } | { kind: "asof"; asOf: string } | { kind: "now" };

export function validityRule(options: EdgeValidity | undefined): ValidityRule {
  if (options?.includeInvalid) return { kind: "all" };
  if (options?.asOf !== undefined) return { kind: "asof", asOf: isoTime(options.asOf, "asOf") };
  return { kind: "now" };
}

/** Throws unless `hops` is a non-negative integer; returns it (default 1). */
export function checkHops(hops: number | undefined): number {
  const value = hops ?? 1;
  if (!Number.isInteger(value) || value < 0) {
    throw new Mem0InputError(`hops must be a non-negative integer, got ${String(value)}.`);
  }
  return value;
}

/** Throws unless the options of `similarEntities` are usable. */
export function checkSimilarOptions(options: { topK: number; threshold: number }): void {
  const { topK, threshold } = options;
  if (!Number.isInteger(topK) || topK < 0) {
    throw new Mem0InputError(`topK must be a non-negative integer, got ${String(topK)}.`);
  }
  if (typeof threshold !== "number" || Number.isNaN(threshold)) {
    throw new Mem0InputError(`threshold must be a number, got ${String(threshold)}.`);
  }
}

/** Breadth-first edges within `hops` of the start entities; `touching` reads one hop. */
export async function walkNeighborhood<
  E extends { id: string; sourceId: string; destinationId: string },
>(start: string[], hops: number, touching: (ids: string[]) => E[] | Promise<E[]>): Promise<E[]> {
  const visited = new Set<string>();
  let frontier = [...new Set(start ?? [])];
  const edges = new Map<string, E>();
  for (let hop = 0; hop < hops && frontier.length > 0; hop++) {
    for (const id of frontier) visited.add(id);
    const next = new Set<string>();
    for (const edge of await touching(frontier)) {
      if (!edges.has(edge.id)) edges.set(edge.id, edge);
      for (const end of [edge.sourceId, edge.destinationId]) {
        if (!visited.has(end)) next.add(end);
      }
    }
    frontier = [...next];
  }
  return [...edges.values()];
}

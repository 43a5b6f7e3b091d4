import { EmbedderMismatchError, Mem0ConfigError, Mem0InputError } from "../errors.js";
import { requireScope, type MemoryScope } from "../scope.js";
import type { StoredMemory } from "./base.js";

/** Page size of `list` when none is given. */
export const DEFAULT_LIST_LIMIT = 100;

/** Throws unless `topK` is a non-negative integer. */
export function checkTopK(topK: number): void {
  if (!Number.isInteger(topK) || topK < 0) {
    throw new Mem0InputError(`topK must be a non-negative integer, got ${String(topK)}.`);
  }
}

/** Throws unless `limit` is a non-negative integer (messages) or positive (pages). */
export function checkLimit(limit: number, allowZero: boolean): void {
  if (!Number.isInteger(limit) || limit < (allowZero ? 0 : 1)) {
    throw new Mem0InputError(
      `limit must be a ${allowZero ? "non-negative" : "positive"} integer, got ${String(limit)}.`,
    );
  }
}

/** Throws unless `dimensions` can be an embedding's size. */
export function checkDimensions(dimensions: number): void {
  if (!Number.isInteger(dimensions) || dimensions <= 0) {
    throw new Mem0ConfigError(
      `Embedding dimensions must be a positive integer, got ${dimensions}.`,
    );
  }
}

/** Throws a clear error unless the vector has `dims` finite numbers; `where` names the store. */
export function checkVector(vector: number[], dims: number, what: string, where: string): void {
  if (!Array.isArray(vector) && !ArrayBuffer.isView(vector)) {
    throw new Mem0InputError(`${what} must be an array of numbers.`);
  }
  if (vector.length !== dims) {
    throw new Mem0InputError(
      `${what} has ${vector.length} dimensions but this store holds ${dims}-dimensional vectors ` +
        `(${where}).`,
    );
  }
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i]))
      throw new Mem0InputError(`${what} contains a non-finite value.`);
  }
}

/** The dimension a first vector fixes, or a clear error when it is empty. */
export function firstDimensions(embedding: number[], what: string): number {
  if (!Array.isArray(embedding) || embedding.length === 0) {
    throw new Mem0InputError(`${what} must be a non-empty array of numbers.`);
  }
  return embedding.length;
}

/**
 * Throws `EmbedderMismatchError` when the recorded embedder differs from the one in use;
 * `where` names the store.
 */
export function checkEmbedder(
  where: string,
  stored: { model?: string; dimensions?: number },
  model: string,
  dimensions: number,
): void {
  if (
    (stored.model !== undefined && stored.model !== model) ||
    (stored.dimensions !== undefined && stored.dimensions !== dimensions)
  ) {
    throw new EmbedderMismatchError(
      `The memory store ${where} was created with embedder ` +
        `"${stored.model ?? "unknown"}" (${stored.dimensions ?? "?"} dimensions), but "${model}" ` +
        `(${dimensions} dimensions) is in use. Vectors of different embedders cannot be ` +
        "compared: use the same embedder as before, point the store at a new path, or call " +
        "reset() to delete all memories and start over with the new embedder.",
    );
  }
}

/** The opaque cursor of a list page ending at this row. */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id]), "utf8").toString("base64url");
}

/** `[createdAt, id]` of a cursor from `encodeCursor`, or a clear error. */
export function decodeCursor(cursor: string): [string, string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === "string" &&
      typeof value[1] === "string"
    ) {
      return [value[0], value[1]];
    }
  } catch {
    // fall through
  }
  throw new Mem0InputError(
    "Invalid list cursor: pass the nextCursor of a previous page unchanged.",
  );
}

/** An ISO time in the canonical `toISOString()` form, so times compare as strings. */
export function isoTime(value: string, what: string): string {
  const time = typeof value === "string" ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) {
    throw new Mem0InputError(`${what} must be an ISO date-time string, got ${String(value)}.`);
  }
  return new Date(time).toISOString();
}

/** Throws unless the value is a non-empty string id. */
export function requireId(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") {
    throw new Mem0InputError(`${what} must be a non-empty string.`);
  }
  return value;
}

/** The owner of a memory to insert, or a clear error when it has none. */
export function insertOwner(memory: StoredMemory): MemoryScope {
  return requireScope(
    { userId: memory.userId, agentId: memory.agentId, runId: memory.runId },
    `Memory ${memory.id} has no owner: give at least one of userId, agentId or runId.`,
  );
}

/** The error for a change of a type no store knows. */
export function unknownChange(change: unknown): Mem0InputError {
  return new Mem0InputError(
    `Unknown change type ${JSON.stringify((change as { type?: unknown }).type)}.`,
  );
}

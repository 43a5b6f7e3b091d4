import { Mem0InputError, MissingScopeError } from "./errors.js";

/**
 * Who a memory belongs to. At least one id is required; a search matches memories whose
 * ids equal every id given (so a user-only scope sees that user's memories of every run).
 */
export interface MemoryScope {
  /** The end user the memories are about. */
  userId?: string;
  /** The agent (assistant persona) that owns the memories. */
  agentId?: string;
  /** One conversation / session / thread. */
  runId?: string;
}

const SCOPE_KEYS = ["userId", "agentId", "runId"] as const;

/** Half of a surrogate pair without its other half: not text any encoding can store. */
export const LONE_SURROGATE = /\p{Cs}/u;

/** Ids as LangChain users pass them in `configurable` or call options (snake or camel case). */
export interface ScopeLike {
  userId?: unknown;
  agentId?: unknown;
  runId?: unknown;
  user_id?: unknown;
  agent_id?: unknown;
  run_id?: unknown;
}

/** Reads `user_id`/`userId` etc. from a loose record, ignoring absent values. */
export function scopeFromRecord(record: ScopeLike | undefined | null): MemoryScope {
  if (!record) return {};
  const scope: MemoryScope = {};
  const pairs: [keyof MemoryScope, unknown][] = [
    ["userId", record.user_id ?? record.userId],
    ["agentId", record.agent_id ?? record.agentId],
    ["runId", record.run_id ?? record.runId],
  ];
  for (const [key, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    if (typeof value !== "string" && typeof value !== "number") {
      throw new Mem0InputError(
        `Memory scope field "${key}" must be a string, got ${typeof value}.`,
      );
    }
    scope[key] = String(value);
  }
  return scope;
}

/** Merges scopes, earlier arguments winning field by field. */
export function mergeScopes(...scopes: (MemoryScope | undefined)[]): MemoryScope {
  const merged: MemoryScope = {};
  for (const key of SCOPE_KEYS) {
    const value = scopes.find((scope) => scope?.[key] !== undefined)?.[key];
    if (value !== undefined) merged[key] = value;
  }
  return merged;
}

/** Throws unless the scope names at least one owner; returns it with only defined fields. */
export function requireScope(scope: MemoryScope, hint?: string): MemoryScope {
  const clean: MemoryScope = {};
  for (const key of SCOPE_KEYS) {
    // Anything but an object (null, a bare id string) names no owner.
    const value = typeof scope === "object" && scope !== null ? scope[key] : undefined;
    if (value === undefined) continue;
    if (typeof value !== "string" || value.trim() === "") {
      throw new Mem0InputError(`Memory scope field "${key}" must be a non-empty string.`);
    }
    if (LONE_SURROGATE.test(value)) {
      throw new Mem0InputError(
        `Memory scope field "${key}" contains a lone UTF-16 surrogate; ids must be well-formed ` +
          "Unicode (a store would turn it into U+FFFD and report another id).",
      );
    }
    clean[key] = value;
  }
  if (Object.keys(clean).length === 0) {
    throw new MissingScopeError(
      hint ??
        "No memory scope: give at least one of userId, agentId or runId " +
          "(e.g. { userId: 'alice' }).",
    );
  }
  return clean;
}

/** A stable string naming exactly this scope, used for locks and partitions. */
export function scopeKey(scope: MemoryScope): string {
  return JSON.stringify([scope.userId ?? null, scope.agentId ?? null, scope.runId ?? null]);
}

/** The scope a {@link scopeKey} was made from. */
export function scopeFromKey(key: string): MemoryScope {
  const [userId, agentId, runId] = JSON.parse(key) as (string | null)[];
  const scope: MemoryScope = {};
  if (userId !== null) scope.userId = userId;
  if (agentId !== null) scope.agentId = agentId;
  if (runId !== null) scope.runId = runId;
  return scope;
}

/** True when a memory owned by `owner` is visible from `scope` (every id given must match). */
export function scopeContains(scope: MemoryScope, owner: MemoryScope): boolean {
  return SCOPE_KEYS.every((key) => scope[key] === undefined || scope[key] === owner[key]);
}

/**
 * The scope of one run of an agent, a graph node or a tool: `context` (LangGraph runtime
 * context, `{ userId }`) over `configurable` (`{ user_id }`) over the fixed ids, field by
 * field. Every source is the developer's: a model's tool arguments never reach it.
 */
export function runScope(
  config: { context?: unknown; configurable?: Record<string, unknown> } | undefined,
  fixed: MemoryScope = {},
): MemoryScope {
  const context = config?.context;
  return mergeScopes(
    typeof context === "object" && context !== null ? scopeFromRecord(context as ScopeLike) : {},
    scopeFromRecord(config?.configurable),
    fixed,
  );
}

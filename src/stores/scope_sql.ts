import { scopeKey, type MemoryScope } from "../scope.js";

/** The owner columns every table of a SQL store keeps, by scope field. */
export const SCOPE_COLUMNS = [
  ["userId", "user_id"],
  ["agentId", "agent_id"],
  ["runId", "run_id"],
] as const;

/** The owner columns of a row, as SQL drivers return them. */
export interface OwnerColumns {
  user_id: string | null;
  agent_id: string | null;
  run_id: string | null;
}

/** A scope's SQL condition, the shape of the ids it gives (for statement caches) and its parameters. */
export interface ScopeCondition {
  /** One digit per owner column: "1" when the scope gives it (e.g. "100" for a user-only scope). */
  mask: string;
  sql: string;
  params: string[];
}

/**
 * SQL condition `alias.user_id = ? AND ...` for the ids the scope gives: a memory is visible
 * from a scope when every id given matches. `placeholder(i)` writes the i-th parameter (1-based
 * from `first`) in the dialect's syntax.
 */
export function scopeCondition(
  scope: MemoryScope,
  alias = "",
  placeholder: (index: number) => string = () => "?",
  first = 1,
): ScopeCondition {
  const parts: string[] = [];
  const params: string[] = [];
  let mask = "";
  for (const [key, column] of SCOPE_COLUMNS) {
    const value = scope[key];
    if (value === undefined) {
      mask += "0";
      continue;
    }
    mask += "1";
    params.push(value);
    parts.push(`${alias}${column} = ${placeholder(first + params.length - 1)}`);
  }
  return { mask, sql: parts.join(" AND "), params };
}

/** The owner a row belongs to (only the ids it has). */
export function ownerOf(row: OwnerColumns): MemoryScope {
  const owner: MemoryScope = {};
  if (row.user_id !== null) owner.userId = row.user_id;
  if (row.agent_id !== null) owner.agentId = row.agent_id;
  if (row.run_id !== null) owner.runId = row.run_id;
  return owner;
}

/** The owner columns of a scope, `null` where it gives no id. */
export function ownerColumns(owner: MemoryScope): OwnerColumns {
  return {
    user_id: owner.userId ?? null,
    agent_id: owner.agentId ?? null,
    run_id: owner.runId ?? null,
  };
}

/**
 * Every scope that sees the owner's memories: the non-empty subsets of its ids (a write to
 * alice+run1 is visible from alice, from run1 and from alice+run1), as scope keys.
 */
export function visibleFrom(owner: MemoryScope): string[] {
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

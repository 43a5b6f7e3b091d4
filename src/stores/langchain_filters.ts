import type { DocumentInterface } from "@langchain/core/documents";
import { UnsupportedFilterError } from "../errors.js";
import { scopeContains, type MemoryScope } from "../scope.js";
import { matchesFilter, type FieldCondition, type MetadataFilter } from "./filters.js";

/**
 * Metadata keys the adapter writes next to a memory's own metadata in each document: the
 * memory's id and owner, and a tag naming this package (so a reset deletes only its documents).
 */
export const DOCUMENT_KEYS = {
  id: "mem0_id",
  userId: "mem0_user_id",
  agentId: "mem0_agent_id",
  runId: "mem0_run_id",
  source: "mem0_source",
} as const;

export const DOCUMENT_SOURCE = "langchain-mem0";

/** The owner written in a document's metadata. */
export function documentOwner(metadata: Record<string, unknown>): MemoryScope {
  const owner: MemoryScope = {};
  for (const key of ["userId", "agentId", "runId"] as const) {
    const value = metadata[DOCUMENT_KEYS[key]];
    if (typeof value === "string") owner[key] = value;
  }
  return owner;
}

/** Turns a scope and a metadata filter into a vector store's own filter, or refuses. */
export type FilterTranslator = (scope: MemoryScope, filter: MetadataFilter | undefined) => unknown;

/**
 * LangChain's in-memory vector store takes a function of the document: every scope and filter
 * can be expressed, with the same meaning as on the memory stores.
 */
export const memoryVectorStoreFilter: FilterTranslator = (scope, filter) => {
  return (document: DocumentInterface) =>
    scopeContains(scope, documentOwner(document.metadata)) &&
    (filter === undefined || matchesFilter(document.metadata, filter));
};

const SAFE_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

function refuse(what: string): never {
  throw new UnsupportedFilterError(
    `PGVectorStore cannot express ${what} with the meaning memory filters have, so the search ` +
      "is refused rather than run without it. Use equality, in, ne (strings) and numeric " +
      "gt/gte/lt/lte on fields whose names are letters, digits and _, combined with AND; or keep " +
      "vectors in PostgresStore or SqliteStore, which take every filter.",
  );
}

/**
 * `PGVectorStore` (from `@langchain/community`) takes a JSON filter of ANDed fields compared
 * as text: scalars for equality, `{ in }`, `{ neq }` and numeric `{ gt, gte, lt, lte }`. Field
 * names are written into its SQL unquoted, so only plain names are passed. Anything else
 * (OR, NOT, nin, contains, null, ordering of strings) is refused.
 */
export const pgVectorStoreFilter: FilterTranslator = (scope, filter) => {
  const out: Record<string, unknown> = {};
  const put = (key: string, value: unknown) => {
    if (!SAFE_KEY.test(key)) refuse(`a condition on the field ${JSON.stringify(key)}`);
    if (key in out) refuse(`two conditions on the field "${key}" in one AND`);
    out[key] = value;
  };
  for (const key of ["userId", "agentId", "runId"] as const) {
    if (scope[key] !== undefined) put(DOCUMENT_KEYS[key], scope[key]);
  }
  const scalar = (value: unknown, what: string) => {
    if (value === null || typeof value === "object") refuse(what);
    return value;
  };
  const add = (node: MetadataFilter) => {
    for (const [key, value] of Object.entries(node)) {
      if (value === undefined) continue;
      if (key === "AND") {
        for (const sub of value as MetadataFilter[]) add(sub);
      } else if (key === "OR" || key === "NOT") {
        refuse(key);
      } else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        const condition: Record<string, unknown> = {};
        for (const [op, operand] of Object.entries(value as FieldCondition)) {
          if (op === "eq") condition.eq = scalar(operand, `eq null on "${key}"`);
          else if (op === "in") {
            condition.in = (operand as unknown[]).map((item) =>
              scalar(item, `in with null on "${key}"`),
            );
          } else if (op === "ne" && typeof operand === "string") condition.neq = operand;
          else if (["gt", "gte", "lt", "lte"].includes(op) && typeof operand === "number") {
            condition[op] = operand;
          } else refuse(`${op} ${JSON.stringify(operand)} on "${key}"`);
        }
        if ("eq" in condition) {
          const { eq, ...rest } = condition;
          if (Object.keys(rest).length > 0) refuse(`eq with other operators on "${key}"`);
          put(key, eq);
        } else put(key, condition);
      } else {
        put(key, scalar(value, `equality with null on "${key}"`));
      }
    }
  };
  if (filter) add(filter);
  return out;
};

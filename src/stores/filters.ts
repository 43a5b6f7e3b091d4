import { Mem0InputError } from "../errors.js";

/** A value a metadata field can be compared with. */
export type FilterScalar = string | number | boolean | null;

/** Comparison operators for one metadata field (Mem0's filter vocabulary). */
export interface FieldCondition {
  eq?: FilterScalar;
  ne?: FilterScalar;
  in?: FilterScalar[];
  nin?: FilterScalar[];
  gt?: number | string;
  gte?: number | string;
  lt?: number | string;
  lte?: number | string;
  /** Substring of a string field, or element of an array field (e.g. `categories`). */
  contains?: FilterScalar;
}

/**
 * A metadata filter: `{ field: value }` for equality, `{ field: { gte: 3 } }` for operators,
 * `{ AND: [...] }` / `{ OR: [...] }` / `{ NOT: filter }` to combine. Sibling fields are ANDed.
 */
export type MetadataFilter = {
  AND?: MetadataFilter[];
  OR?: MetadataFilter[];
  NOT?: MetadataFilter;
} & {
  [field: string]: FilterScalar | FieldCondition | MetadataFilter[] | MetadataFilter | undefined;
};

const OPERATORS = new Set(["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains"]);
const ORDERED = new Set(["gt", "gte", "lt", "lte"]);
/** Deeper filters are refused: evaluating them recursively could exhaust the stack. */
export const MAX_FILTER_DEPTH = 32;

/** A plain `{ ... }` object (also from `JSON.parse` or `Object.create(null)`), not a Date or Map. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/** A value that survives JSON unchanged, so stores that match in SQL agree with JS. */
function isScalar(value: unknown): value is FilterScalar {
  return (
    value === null ||
    typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value))
  );
}

function typeName(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

/** Throws a `Mem0InputError` that names the offending part unless the filter is well-formed. */
export function validateFilter(
  filter: unknown,
  path = "filters",
): asserts filter is MetadataFilter {
  checkFilter(filter, path, path, 0);
}

function checkFilter(filter: unknown, root: string, path: string, depth: number): void {
  if (depth > MAX_FILTER_DEPTH) {
    throw new Mem0InputError(
      `${root} nests AND/OR/NOT more than ${MAX_FILTER_DEPTH} levels deep; flatten it.`,
    );
  }
  if (!isPlainObject(filter)) throw new Mem0InputError(`${path} must be an object.`);
  for (const [key, value] of Object.entries(filter)) {
    if (key === "AND" || key === "OR") {
      if (!Array.isArray(value))
        throw new Mem0InputError(`${path}.${key} must be an array of filters.`);
      value.forEach((sub, i) => checkFilter(sub, root, `${path}.${key}[${i}]`, depth + 1));
    } else if (key === "NOT") {
      checkFilter(value, root, `${path}.NOT`, depth + 1);
    } else if (key === "__proto__") {
      throw new Mem0InputError(`${path}: "__proto__" cannot be a metadata field.`);
    } else if (isPlainObject(value)) {
      for (const [op, operand] of Object.entries(value)) {
        if (!OPERATORS.has(op)) {
          throw new Mem0InputError(
            `${path}.${key}: unknown operator "${op}"; use one of ${[...OPERATORS].join(", ")}.`,
          );
        }
        if (op === "in" || op === "nin") {
          if (!Array.isArray(operand) || !operand.every(isScalar)) {
            throw new Mem0InputError(
              `${path}.${key}.${op} must be an array of strings, finite numbers, booleans or null.`,
            );
          }
        } else if (
          ORDERED.has(op)
            ? typeof operand !== "string" && !(typeof operand === "number" && isScalar(operand))
            : !isScalar(operand)
        ) {
          throw new Mem0InputError(
            `${path}.${key}.${op} must be ${ORDERED.has(op) ? "a string or a finite number" : "a string, a finite number, a boolean or null"}, got ${typeName(operand)}.`,
          );
        }
      }
    } else if (Array.isArray(value)) {
      throw new Mem0InputError(`${path}.${key}: use { in: [...] } to match one of several values.`);
    } else if (value !== undefined && !isScalar(value)) {
      throw new Mem0InputError(
        `${path}.${key} must be a string, a finite number, a boolean, null or an operator ` +
          `object such as { gte: 3 }, got ${typeName(value)}.`,
      );
    }
  }
}

function compare(a: unknown, b: unknown): number | undefined {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

function matchesCondition(actual: unknown, condition: FieldCondition): boolean {
  for (const [op, operand] of Object.entries(condition)) {
    const order = compare(actual, operand);
    const ok =
      op === "eq"
        ? actual === operand
        : op === "ne"
          ? actual !== operand
          : op === "in"
            ? (operand as unknown[]).includes(actual)
            : op === "nin"
              ? !(operand as unknown[]).includes(actual)
              : op === "gt"
                ? order !== undefined && order > 0
                : op === "gte"
                  ? order !== undefined && order >= 0
                  : op === "lt"
                    ? order !== undefined && order < 0
                    : op === "lte"
                      ? order !== undefined && order <= 0
                      : typeof actual === "string"
                        ? actual.includes(String(operand))
                        : Array.isArray(actual) && actual.includes(operand);
    if (!ok) return false;
  }
  return true;
}

/** Evaluates a (validated) filter against one memory's metadata. */
export function matchesFilter(metadata: Record<string, unknown>, filter: MetadataFilter): boolean {
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (key === "AND") {
      if (!(value as MetadataFilter[]).every((sub) => matchesFilter(metadata, sub))) return false;
    } else if (key === "OR") {
      if (!(value as MetadataFilter[]).some((sub) => matchesFilter(metadata, sub))) return false;
    } else if (key === "NOT") {
      if (matchesFilter(metadata, value as MetadataFilter)) return false;
    } else {
      // Own fields only: "constructor" or "__proto__" are not fields of every memory.
      const actual = Object.hasOwn(metadata, key) ? metadata[key] : undefined;
      const ok = isPlainObject(value)
        ? matchesCondition(actual, value as FieldCondition)
        : actual === value;
      if (!ok) return false;
    }
  }
  return true;
}

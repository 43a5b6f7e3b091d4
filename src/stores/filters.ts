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

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Throws a `Mem0InputError` that names the offending part unless the filter is well-formed. */
export function validateFilter(
  filter: unknown,
  path = "filters",
): asserts filter is MetadataFilter {
  if (!isPlainObject(filter)) throw new Mem0InputError(`${path} must be an object.`);
  for (const [key, value] of Object.entries(filter)) {
    if (key === "AND" || key === "OR") {
      if (!Array.isArray(value))
        throw new Mem0InputError(`${path}.${key} must be an array of filters.`);
      value.forEach((sub, i) => validateFilter(sub, `${path}.${key}[${i}]`));
    } else if (key === "NOT") {
      validateFilter(value, `${path}.NOT`);
    } else if (isPlainObject(value)) {
      for (const [op, operand] of Object.entries(value)) {
        if (!OPERATORS.has(op)) {
          throw new Mem0InputError(
            `${path}.${key}: unknown operator "${op}"; use one of ${[...OPERATORS].join(", ")}.`,
          );
        }
        if ((op === "in" || op === "nin") && !Array.isArray(operand)) {
          throw new Mem0InputError(`${path}.${key}.${op} must be an array.`);
        }
      }
    } else if (Array.isArray(value)) {
      throw new Mem0InputError(`${path}.${key}: use { in: [...] } to match one of several values.`);
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
    } else if (isPlainObject(value)) {
      if (!matchesCondition(metadata[key], value as FieldCondition)) return false;
    } else if (metadata[key] !== value) {
      return false;
    }
  }
  return true;
}

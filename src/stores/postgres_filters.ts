import type { FieldCondition, FilterScalar, MetadataFilter } from "./filters.js";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Translates a (validated) metadata filter into a SQL condition on the jsonb column `column`,
 * with the same meaning as `matchesFilter` in filters.ts: equality is JSON equality (type
 * included), an absent field equals nothing and differs from everything, ordering compares only
 * two numbers or two strings (strings by code point), `contains` is a substring of a string or
 * an element of an array. Values go into `params` (`$n` placeholders), never into the SQL text.
 */
export function filterSql(filter: MetadataFilter, column: string, params: unknown[]): string {
  const add = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const field = (key: string) => `(${column} -> ${add(key)}::text)`;
  const json = (value: unknown) => `${add(JSON.stringify(value))}::jsonb`;

  const condition = (key: string, op: string, operand: unknown): string => {
    const value = field(key);
    switch (op) {
      case "eq":
        return `${value} = ${json(operand)}`;
      case "ne":
        return `${value} IS DISTINCT FROM ${json(operand)}`;
      case "in":
        return `${value} IN (SELECT jsonb_array_elements(${json(operand)}))`;
      case "nin":
        return `${value} IS NULL OR ${value} NOT IN (SELECT jsonb_array_elements(${json(operand)}))`;
      case "gt":
      case "gte":
      case "lt":
      case "lte": {
        const sign = { gt: ">", gte: ">=", lt: "<", lte: "<=" }[op];
        if (typeof operand === "number") {
          return `CASE WHEN jsonb_typeof(${value}) = 'number' THEN (${value})::float8 ${sign} ${add(operand)}::float8 ELSE false END`;
        }
        if (typeof operand === "string") {
          return `CASE WHEN jsonb_typeof(${value}) = 'string' THEN (${value} #>> '{}') COLLATE "C" ${sign} ${add(operand)}::text COLLATE "C" ELSE false END`;
        }
        return "false";
      }
      case "contains":
        return (
          `CASE jsonb_typeof(${value}) ` +
          `WHEN 'string' THEN strpos(${value} #>> '{}', ${add(String(operand))}::text) > 0 ` +
          `WHEN 'array' THEN ${value} @> jsonb_build_array(${json(operand)}) ` +
          "ELSE false END"
        );
      default:
        throw new Error(`unknown operator ${op}`);
    }
  };

  const translate = (node: MetadataFilter): string => {
    const parts: string[] = [];
    for (const [key, value] of Object.entries(node)) {
      if (value === undefined) continue;
      if (key === "AND") {
        const subs = (value as MetadataFilter[]).map(translate);
        parts.push(subs.length ? subs.map((sub) => `(${sub})`).join(" AND ") : "true");
      } else if (key === "OR") {
        const subs = (value as MetadataFilter[]).map(translate);
        parts.push(subs.length ? subs.map((sub) => `(${sub})`).join(" OR ") : "false");
      } else if (key === "NOT") {
        parts.push(`NOT coalesce((${translate(value as MetadataFilter)}), false)`);
      } else if (isPlainObject(value)) {
        for (const [op, operand] of Object.entries(value as FieldCondition)) {
          parts.push(`coalesce((${condition(key, op, operand)}), false)`);
        }
      } else {
        parts.push(`coalesce((${condition(key, "eq", value as FilterScalar)}), false)`);
      }
    }
    return parts.length ? parts.map((part) => `(${part})`).join(" AND ") : "true";
  };

  return translate(filter);
}

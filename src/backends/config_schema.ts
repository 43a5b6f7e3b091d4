import { z } from "zod";
import { Mem0ConfigError } from "../errors.js";

/** One level of a Mem0 config after reading: camelCase keys. */
export type Settings = Record<string, unknown>;

/** A read config object: each key of the shape optional, camelCase. */
export type Read<S extends z.ZodRawShape> = { [K in keyof S]?: z.output<S[K]> };

/** How the user spelled each key of a read object, for messages that name it. */
const spellings = new WeakMap<object, Record<string, string>>();

export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z]+)/g, "$1_$2").toLowerCase();
}

/** The key as the user wrote it in the config (snake_case when it was not given). */
export function spelling(settings: object, key: string): string {
  return spellings.get(settings)?.[key] ?? snakeCase(key);
}

/** A value's kind for messages; strings are never echoed, as they may be secrets. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${value}`;
  return /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`;
}

const quote = (keys: string[]) => keys.map((key) => `"${key}"`).join(", ");

/** Options of {@link mem0Object}. */
export interface Mem0ObjectOptions {
  /** Other names of a setting, e.g. `{ baseURL: ["url", "openaiBaseUrl"] }`. */
  aliases?: Record<string, string[]>;
  /** Keep unknown keys (camelCased): settings forwarded to a LangChain constructor. */
  passthrough?: boolean;
  /** Mem0 keys this package cannot honour, with the reason and the fix. */
  refused?: Record<string, string>;
}

/**
 * Schema of one level of a Mem0 config. Mem0 Python spells keys in snake_case and Mem0 TS in
 * camelCase, so every key of `shape` (camelCase) and of its aliases is accepted in both
 * spellings; two names of one setting are an error rather than a silent pick. The output has
 * the shape's camelCase keys, and remembers the user's spelling for {@link spelling}.
 */
export function mem0Object<S extends z.ZodRawShape>(
  shape: S,
  options: Mem0ObjectOptions = {},
): z.ZodType<Read<S>, Settings> {
  const accepted: Record<string, z.ZodType> = {};
  const canonical = new Map<string, string>();
  const accept = (name: string, key: string, schema: z.ZodType) => {
    for (const spelled of new Set([name, snakeCase(name)])) {
      accepted[spelled] = schema;
      canonical.set(spelled, key);
    }
  };
  const names: string[] = [];
  for (const [key, schema] of Object.entries(shape)) {
    const aliases = options.aliases?.[key] ?? [];
    for (const name of [key, ...aliases]) accept(name, key, (schema as z.ZodType).optional());
    names.push([key, ...aliases].map(snakeCase).join(" / "));
  }
  for (const [key, reason] of Object.entries(options.refused ?? {})) {
    accept(key, key, z.never({ error: reason }).optional());
  }
  const object = options.passthrough
    ? z.looseObject(accepted)
    : z.strictObject(accepted, {
        error: (issue) =>
          issue.code === "unrecognized_keys"
            ? `unknown key${issue.keys.length > 1 ? "s" : ""} ${quote(issue.keys)}; ` +
              `expected ${names.join(", ")} (camelCase spellings work too)`
            : undefined,
      });
  return object.transform((value, ctx) => {
    const read: Settings = {};
    const from: Record<string, string> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      const target = canonical.get(key) ?? camelCase(key);
      if (from[target] !== undefined) {
        ctx.addIssue({
          code: "custom",
          message: `give only one of "${from[target]}" and "${key}"`,
        });
        return z.NEVER;
      }
      from[target] = key;
      read[target] = item;
    }
    spellings.set(read, from);
    return read as Read<S>;
  });
}

/** A provider name, trimmed and lower-cased. */
export const providerName = z
  .string({ error: (issue) => `expected a provider name, got ${describe(issue.input)}` })
  .trim()
  .min(1, { error: "expected a provider name, got an empty string" })
  .toLowerCase();

/** A `{ provider, config }` section of a Mem0 config. */
export function section<T extends z.ZodType>(config: T) {
  return z.strictObject(
    { provider: providerName, config: config.optional() },
    {
      error: (issue) =>
        issue.code === "unrecognized_keys"
          ? `unknown key${issue.keys.length > 1 ? "s" : ""} ${quote(issue.keys)}; a section ` +
            "takes { provider, config }: put provider settings under its config"
          : undefined,
    },
  );
}

const NOUNS: Record<string, string> = {
  object: "an object",
  record: "an object",
  int: "an integer",
  array: "an array",
};

/** Messages for zod's built-in checks, in this package's words. */
export function message(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (!issue.path?.length) {
        return `expected a config object such as { llm, embedder, vector_store }, got ${describe(issue.input)}`;
      }
      return `expected ${NOUNS[issue.expected] ?? `a ${issue.expected}`}, got ${describe(issue.input)}`;
    case "too_small":
      return issue.origin === "string"
        ? "expected a non-empty string"
        : `expected a number ${issue.inclusive ? ">=" : ">"} ${issue.minimum}, got ${describe(issue.input)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((value) => JSON.stringify(value)).join(", ")}`;
    case "too_big":
      return `expected a number ${issue.inclusive ? "<=" : "<"} ${issue.maximum}, got ${describe(issue.input)}`;
    default:
      return undefined;
  }
}

function formatPath(path: PropertyKey[]): string {
  return path.map((key) => (typeof key === "number" ? `[${key}]` : String(key))).join(".");
}

/** A `Mem0ConfigError` about the setting at `path` (dotted, as the user spelled it). */
export function configError(path: string, problem: string, cause?: unknown): Mem0ConfigError {
  return new Mem0ConfigError(`Invalid memory config: ${path ? `${path}: ` : ""}${problem}.`, {
    cause,
  });
}

/** Parses `value`, or throws one `Mem0ConfigError` listing every problem with its path. */
export function parseConfig<T>(schema: z.ZodType<T, Settings>, value: unknown): T {
  const result = schema.safeParse(value, { error: message });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) =>
    issue.path.length ? `${formatPath(issue.path)}: ${issue.message}` : issue.message,
  );
  if (problems.length === 1) throw configError("", problems[0]);
  throw new Mem0ConfigError(`Invalid memory config:\n- ${problems.join(";\n- ")}.`);
}

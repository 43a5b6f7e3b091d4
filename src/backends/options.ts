import { z } from "zod";
import { Mem0InputError, type Mem0Error } from "../errors.js";
import { LONE_SURROGATE, requireScope, type MemoryScope } from "../scope.js";
import { validateFilter, type MetadataFilter } from "../stores/filters.js";
import type { SearchFilters } from "./base.js";

/** Option names people bring from other APIs, and what to write instead. */
const RENAMES: Record<string, string> = {
  user_id: "userId (or filters: { user_id })",
  agent_id: "agentId (or filters: { agent_id })",
  run_id: "runId (or filters: { run_id })",
  limit: "topK",
  top_k: "topK",
  expiration_date: "expirationDate",
  show_expired: "showExpired",
  data: "text",
};

/** Owner ids are opaque and matched exactly: never trimmed, so "alice " is not "alice". */
const id = z
  .string()
  .refine((value) => value.trim() !== "", "must be a non-empty string")
  .refine(
    (value) => !LONE_SURROGATE.test(value),
    "must be well-formed Unicode, without lone surrogates",
  );
const scopeShape = { userId: id.optional(), agentId: id.optional(), runId: id.optional() };
/**
 * Metadata and filters. A `"__proto__"` key (own, as `JSON.parse` makes it) is refused: a
 * plain object cannot hold it as data, so it would be dropped without a word.
 */
const record = z.preprocess(
  (value, ctx) => {
    if (typeof value === "object" && value !== null && Object.hasOwn(value, "__proto__")) {
      ctx.addIssue({ code: "custom", message: 'must not have a "__proto__" key', input: value });
    }
    return value;
  },
  z.record(z.string(), z.unknown()),
);
const signal = z.custom<AbortSignal>(
  (value) => value instanceof AbortSignal,
  "must be an AbortSignal",
);
/** LangChain callbacks: a list of handlers, or a `CallbackManager`. */
const callbacks = z.custom<unknown>(
  (value) =>
    Array.isArray(value)
      ? value.every((handler) => typeof handler === "object" && handler !== null)
      : typeof (value as { copy?: unknown } | null)?.copy === "function",
  "must be a list of callback handlers or a CallbackManager",
);
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A day as YYYY-MM-DD (mem0ai's expiry format); a Date is taken at its UTC day. */
const expirationDate = z.union([z.string(), z.date(), z.null()]).transform((value, ctx) => {
  if (value === null) return null;
  const day = value instanceof Date ? value.toISOString().slice(0, 10) : value;
  const parsed = new Date(`${day}T00:00:00Z`);
  if (
    !DAY.test(day) ||
    Number.isNaN(parsed.getTime()) ||
    parsed.toISOString().slice(0, 10) !== day
  ) {
    ctx.addIssue({
      code: "custom",
      message: `must be a date as YYYY-MM-DD, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return day;
});

const count = z.number().int("must be a whole number").positive("must be at least 1");
/** Search ranks topK × 4 candidates per signal, so a search's topK is bounded. */
const searchTopK = count.max(10_000, "must be at most 10000");

export const addOptionsSchema = z
  .object({
    ...scopeShape,
    metadata: record.optional(),
    filters: z
      .object({ user_id: id.optional(), agent_id: id.optional(), run_id: id.optional() })
      .strict()
      .optional(),
    infer: z.boolean().optional(),
    timestamp: z.union([z.date(), z.string(), z.number(), z.null()]).optional(),
    expirationDate: expirationDate.optional(),
    signal: signal.optional(),
    callbacks: callbacks.optional(),
  })
  .strict();

export const searchOptionsSchema = z
  .object({
    ...scopeShape,
    topK: searchTopK.optional(),
    threshold: z
      .number()
      .min(0, "must be between 0 and 1")
      .max(1, "must be between 0 and 1")
      .optional(),
    filters: record.optional(),
    rerank: z.boolean().optional(),
    explain: z.boolean().optional(),
    showExpired: z.boolean().optional(),
    asOf: z.union([z.date(), z.string()]).optional(),
    includeInvalid: z.boolean().optional(),
    episodes: z
      .union([
        z.boolean(),
        z
          .object({
            topK: count.max(100, "must be at most 100").optional(),
            window: z.number().int().min(0).max(20, "must be at most 20").optional(),
          })
          .strict(),
      ])
      .optional(),
    signal: signal.optional(),
  })
  .strict();

export const getAllOptionsSchema = z
  .object({
    ...scopeShape,
    topK: count.optional(),
    filters: record.optional(),
    showExpired: z.boolean().optional(),
    cursor: z.string().optional(),
  })
  .strict();

export const updateOptionsSchema = z.union([
  z.string().trim().min(1, "must be a non-empty text"),
  z
    .object({
      text: z.string().trim().min(1, "must be a non-empty text").optional(),
      metadata: record.optional(),
      expirationDate: expirationDate.optional(),
    })
    .strict()
    .refine(
      (value) =>
        value.text !== undefined ||
        value.metadata !== undefined ||
        value.expirationDate !== undefined,
      "give at least one of text, metadata or expirationDate",
    ),
]);

export const deleteAllOptionsSchema = z.object(scopeShape).strict();

export const applyQueuedOptionsSchema = z
  .object({ signal: signal.optional(), callbacks: callbacks.optional() })
  .strict();

export const graphGetAllOptionsSchema = z
  .object({
    ...scopeShape,
    asOf: z.string().optional(),
    includeInvalid: z.boolean().optional(),
  })
  .strict();

export const recoverOptionsSchema = z
  .object({ retryFailed: z.boolean().optional(), queuedBefore: z.iso.datetime().optional() })
  .strict();

function describeIssue(issue: z.core.$ZodIssue, what: string): string {
  const path = issue.path.length ? `${what}.${issue.path.join(".")}` : what;
  if (issue.code === "unrecognized_keys") {
    return issue.keys
      .map((key) => {
        const rename = RENAMES[key];
        return `${what}${issue.path.length ? `.${issue.path.join(".")}` : ""}: unknown option "${key}"${
          rename ? `; use ${rename}` : ""
        }`;
      })
      .join("; ");
  }
  if (issue.code === "invalid_type") {
    const got = receivedType(issue);
    return got === "undefined"
      ? `${path} is required`
      : `${path} must be ${typeWord(issue.expected)}${got ? `, got ${got}` : ""}`;
  }
  if (issue.code === "invalid_union") {
    // A branch of the right type that failed inside says more than the list of types.
    const inner = issue.errors.find((branch) => branch.some((sub) => sub.path.length > 0));
    if (inner) {
      const prefix = issue.path.length ? `${what}.${issue.path.join(".")}` : what;
      return inner.map((sub) => describeIssue(sub, prefix)).join("; ");
    }
    const expected = [
      ...new Set(
        issue.errors
          .flat()
          .flatMap((sub) => (sub.code === "invalid_type" ? [typeWord(sub.expected)] : [])),
      ),
    ];
    const got = issue.errors.flat().map(receivedType).find(Boolean);
    if (expected.length > 0) return `${path} must be ${expected.join(" or ")}, got ${got}`;
  }
  return `${path} ${issue.message}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  boolean: "a boolean",
  object: "an object",
  record: "an object",
  array: "an array",
  date: "a Date",
  function: "a function",
};
const typeWord = (type: string) => TYPE_WORDS[type] ?? type;

/** The type zod saw ("number", "undefined", ...); zod 4 names it only in its message. */
function receivedType(issue: z.core.$ZodIssue): string | undefined {
  return /received (\w+)/.exec(issue.message)?.[1];
}

/** Parses options with a schema; a failure is a typed error naming every bad field. */
export function parseOptions<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
  ErrorClass: new (message: string) => Mem0Error = Mem0InputError,
): z.output<T> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => describeIssue(issue, what));
  throw new ErrorClass(`Invalid ${what}: ${[...new Set(problems)].join("; ")}.`);
}

/** The owner ids as they may appear inside mem0ai's `filters` (both spellings are documented). */
const FILTER_OWNER_KEYS: [keyof MemoryScope, string, string][] = [
  ["userId", "user_id", "userId"],
  ["agentId", "agent_id", "agentId"],
  ["runId", "run_id", "runId"],
];

/**
 * The owner of a call from mem0ai's spellings: `userId`… at the top level, and
 * `filters.user_id` or `filters.userId`…; several may be given when they agree. Returns the
 * scope and the remaining metadata filter.
 */
export function resolveScope(
  options: MemoryScope & { filters?: SearchFilters | Record<string, unknown> },
  what: string,
): { scope: MemoryScope; filter?: MetadataFilter } {
  const scope: MemoryScope = {
    userId: options.userId,
    agentId: options.agentId,
    runId: options.runId,
  };
  let filter: Record<string, unknown> | undefined;
  if (options.filters !== undefined) {
    const rest: Record<string, unknown> = { ...options.filters };
    for (const [key, snake, camel] of FILTER_OWNER_KEYS) {
      for (const name of [snake, camel]) {
        const value = rest[name];
        delete rest[name];
        if (value === undefined) continue;
        if (typeof value !== "string" || value.trim() === "") {
          throw new Mem0InputError(
            `Invalid ${what}: filters.${name} must be a non-empty string (an owner id).`,
          );
        }
        if (scope[key] !== undefined && scope[key] !== value) {
          throw new Mem0InputError(
            `Invalid ${what}: the owner is given twice and disagrees (${key} vs filters.${name}); ` +
              "give it once.",
          );
        }
        scope[key] = value;
      }
    }
    if (Object.keys(rest).length > 0) {
      validateFilter(rest, `${what}.filters`);
      filter = rest;
    }
  }
  return {
    scope: requireScope(
      scope,
      `${what} needs an owner: give userId, agentId or runId (mem0ai style: { userId: "alice" } ` +
        `or { filters: { user_id: "alice" } }).`,
    ),
    filter: filter as MetadataFilter | undefined,
  };
}

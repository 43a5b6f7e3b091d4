import { z } from "zod";
import { Mem0ConfigError, Mem0InputError } from "../errors.js";
import type { MemoryScope } from "../scope.js";
import type { ProfileValue } from "./base.js";

/** A profile kept as typed fields or as a markdown document. */
export interface MemoryProfileOptions {
  /**
   * Typed fields: a zod object schema. The profile holds the fields learnt so far
   * (`Partial` of the schema); the extraction call returns the changed fields only.
   */
  schema?: z.ZodObject;
  /**
   * A markdown document with headings and labels (`- **Name**:`) to fill in; the extraction
   * call returns the complete updated document when something changed.
   */
  template?: string;
  /**
   * Keep one profile per run (`runId`) instead of one per user and agent across runs
   * (default false: the profile describes the user, not one conversation).
   */
  perRun?: boolean;
  /** Longest template document kept, in characters (default 4 × the template, at least 2000). */
  maxChars?: number;
}

/** `profile` option of `Memory`: a zod object schema, a markdown template, or options. */
export type ProfileDefinition = z.ZodObject | string | MemoryProfileOptions;

/** Outcome of applying a patch the extraction model returned. */
export interface PatchOutcome {
  value: ProfileValue;
  changed: boolean;
  /** Fields (or "document") left out because they were invalid; their old value stays. */
  rejected: string[];
}

export const SCHEMA_PROFILE_PROMPT = `profile: changes to the user's profile, a short record of who the user is (name, preferences, goals, constraints), shown as the current profile in the input. Give only the fields the conversation changes, each with its complete new value: a new value replaces the old one (when the conversation contradicts a field, give the corrected value; for a list, give the whole corrected list, never the old entries plus a contradicting one). Give null to clear a field that no longer holds. Give {} when nothing changes. The profile does not replace facts: keep add/update/delete as usual.`;

export const TEMPLATE_PROFILE_PROMPT = `profile: the user's profile document (markdown), shown as the current profile in the input. When the conversation changes what it records, give the complete updated document: keep every heading and label of the template, fill in or replace values (a contradicted value is replaced, not kept next to the new one), stay short. Give null when nothing changes. The profile does not replace facts: keep add/update/delete as usual.`;

function isZodObject(value: unknown): value is z.ZodObject {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as z.ZodObject).safeParse === "function" &&
    typeof (value as z.ZodObject).shape === "object"
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/**
 * The lines a template document must keep: headings, and the label of `label: value` lines
 * (up to the colon), so that the model can fill values in but not drop the structure.
 */
function skeletonOf(template: string): string[] {
  return template
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) =>
      line.startsWith("#") || !line.includes(":") ? line : line.slice(0, line.indexOf(":") + 1),
    );
}

/**
 * A profile definition at work: what the extraction call is asked for, how its patch is
 * checked and applied, and which owner a profile belongs to.
 */
export class MemoryProfile {
  readonly kind: "schema" | "template";
  /** Instructions appended to the extraction prompt. */
  readonly prompt: string;
  /** The `profile` field of the extraction answer, for the function's JSON schema. */
  readonly patchSchema: z.ZodType;
  private readonly schema?: z.ZodObject;
  private readonly template?: string;
  private readonly skeleton: string[] = [];
  private readonly maxChars: number;
  private readonly perRun: boolean;

  constructor(definition: ProfileDefinition) {
    const options: MemoryProfileOptions =
      typeof definition === "string"
        ? { template: definition }
        : isZodObject(definition)
          ? { schema: definition }
          : definition;
    if ((options.schema === undefined) === (options.template === undefined)) {
      throw new Mem0ConfigError(
        "profile needs exactly one of schema (a zod object, e.g. z.object({ name: z.string() })) " +
          "or template (a markdown string).",
      );
    }
    this.perRun = options.perRun ?? false;
    if (options.schema !== undefined) {
      if (!isZodObject(options.schema)) {
        throw new Mem0ConfigError(
          "profile.schema must be a zod object schema, e.g. z.object({ ... }).",
        );
      }
      this.kind = "schema";
      this.schema = options.schema;
      this.prompt = SCHEMA_PROFILE_PROMPT;
      const fields = Object.entries(this.schema.shape).map(
        ([key, field]) => [key, (field as z.ZodType).nullable().optional()] as const,
      );
      this.patchSchema = z
        .object(Object.fromEntries(fields))
        .describe("Changed profile fields with their complete new value; null clears a field.");
      this.maxChars = 0;
    } else {
      if (typeof options.template !== "string" || options.template.trim() === "") {
        throw new Mem0ConfigError("profile.template must be a non-empty markdown string.");
      }
      this.kind = "template";
      this.template = options.template.trim();
      this.skeleton = skeletonOf(this.template);
      this.prompt = TEMPLATE_PROFILE_PROMPT;
      this.patchSchema = z
        .string()
        .nullable()
        .describe("The complete updated profile document, or null when nothing changes.");
      this.maxChars = options.maxChars ?? Math.max(2000, this.template.length * 4);
    }
  }

  /** The owner of the profile seen from a scope: the scope without its run, unless `perRun`. */
  owner(scope: MemoryScope): MemoryScope {
    if (this.perRun || scope.runId === undefined) return scope;
    const { runId: _runId, ...rest } = scope;
    return Object.keys(rest).length > 0 ? rest : scope;
  }

  /** The profile before the first update: no fields, or the empty template. */
  initial(): ProfileValue {
    return this.kind === "schema" ? {} : this.template!;
  }

  parse(json: string): ProfileValue {
    return JSON.parse(json) as ProfileValue;
  }

  /**
   * Applies the patch the extraction model returned, salvaging what is valid: with a schema,
   * each valid field is applied and each invalid or unknown one is left out (its old value
   * stays); a template document that lost its structure or grew too long is rejected whole.
   */
  applyPatch(current: ProfileValue, patch: unknown): PatchOutcome {
    if (patch === undefined || patch === null)
      return { value: current, changed: false, rejected: [] };
    if (this.kind === "template") {
      const problem = this.documentProblem(patch);
      if (problem) return { value: current, changed: false, rejected: ["document"] };
      const value = (patch as string).trim();
      return { value, changed: value !== current, rejected: [] };
    }
    if (!isPlainObject(patch)) return { value: current, changed: false, rejected: ["profile"] };
    const { value, problems } = this.mergeFields(current as Record<string, unknown>, patch);
    return {
      value,
      changed: JSON.stringify(value) !== JSON.stringify(current),
      rejected: problems.map(({ field }) => field),
    };
  }

  /** Applies a patch given through the API; any invalid part throws `Mem0InputError`. */
  applyStrict(current: ProfileValue, patch: unknown): ProfileValue {
    if (this.kind === "template") {
      const problem = this.documentProblem(patch);
      if (problem) throw new Mem0InputError(`updateProfile: ${problem}`);
      return (patch as string).trim();
    }
    if (!isPlainObject(patch)) {
      throw new Mem0InputError(
        "updateProfile needs an object of profile fields (null clears a field), e.g. { name: 'Alice' }.",
      );
    }
    const { value, problems } = this.mergeFields(current as Record<string, unknown>, patch);
    if (problems.length > 0) {
      throw new Mem0InputError(
        `updateProfile: ${problems.map(({ field, reason }) => `${field}: ${reason}`).join("; ")}`,
      );
    }
    return value;
  }

  private mergeFields(
    current: Record<string, unknown>,
    patch: Record<string, unknown>,
  ): { value: Record<string, unknown>; problems: { field: string; reason: string }[] } {
    const shape = this.schema!.shape as Record<string, z.ZodType>;
    const value: Record<string, unknown> = { ...current };
    const problems: { field: string; reason: string }[] = [];
    for (const [field, given] of Object.entries(patch)) {
      if (!Object.hasOwn(shape, field)) {
        problems.push({ field, reason: "not a field of the profile schema" });
        continue;
      }
      if (given === null) {
        delete value[field];
        continue;
      }
      const parsed = shape[field].safeParse(given);
      if (parsed.success) value[field] = parsed.data;
      else problems.push({ field, reason: z.prettifyError(parsed.error).replace(/\s+/g, " ") });
    }
    return { value, problems };
  }

  /** Why a template document is not acceptable, or `undefined` when it is. */
  private documentProblem(document: unknown): string | undefined {
    if (typeof document !== "string" || document.trim() === "") {
      return "a template profile is updated with the complete markdown document (a non-empty string).";
    }
    if (document.length > this.maxChars) {
      return `the profile document is longer than maxChars (${this.maxChars}).`;
    }
    const missing = this.skeleton.filter((line) => !document.includes(line));
    return missing.length > 0
      ? `the profile document lost lines of its template: ${missing.map((line) => JSON.stringify(line)).join(", ")}.`
      : undefined;
  }
}

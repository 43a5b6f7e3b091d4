import { Mem0ConfigError } from "./errors.js";
import type { ConversationMessage } from "./messages.js";
import {
  BUILT_IN_DETECTORS,
  BUILT_IN_FINDERS,
  lookAlikes,
  patternFinder,
  type BuiltInDetector,
  type Span,
  type SpanFinder,
} from "./pii_detectors.js";

export { BUILT_IN_DETECTORS, type BuiltInDetector } from "./pii_detectors.js";

/** A custom pattern: every match becomes `[label]`. */
export interface RedactPattern {
  /** Placeholder name: a letter, then letters, digits or `_` (`"EMPLOYEE_ID"` → `[EMPLOYEE_ID]`). */
  label: string;
  /** What to replace; matched globally whatever its flags. */
  pattern: RegExp;
}

/** A custom function: gets text (built-in placeholders already in) and returns it redacted. */
export type RedactFunction = (text: string) => string;

export interface RedactOptions {
  /** Built-in detectors to run (default: all of `BUILT_IN_DETECTORS`; `[]` for none). */
  detectors?: BuiltInDetector[];
  /** Patterns (competing with the built-ins for each span) and functions (run after, in order). */
  custom?: (RedactPattern | RedactFunction)[];
  /**
   * Also redact string values in metadata, at any depth (default `false`: metadata is set by
   * the application, not the user, and filters match it exactly).
   */
  metadata?: boolean;
}

/** `true`: every built-in detector; `false` or absent: no redaction; or the options. */
export type RedactOption = boolean | RedactOptions;

const LABEL = /^[A-Za-z][A-Za-z0-9_]*$/;

function customPattern(entry: RedactPattern, index: number): SpanFinder {
  if (!(entry?.pattern instanceof RegExp) || typeof entry.label !== "string") {
    throw new Mem0ConfigError(
      `redact.custom[${index}] must be a function (text) => text or { label, pattern: RegExp }.`,
    );
  }
  if (!LABEL.test(entry.label)) {
    throw new Mem0ConfigError(
      `redact.custom[${index}].label ${JSON.stringify(entry.label)} must start with a letter and ` +
        `hold only letters, digits and "_", e.g. "EMPLOYEE_ID".`,
    );
  }
  const flags = entry.pattern.flags.replace(/[gy]/g, "");
  return patternFinder(entry.label, [{ pattern: new RegExp(entry.pattern.source, `${flags}g`) }]);
}

function normalize(option: RedactOption | undefined): RedactOptions {
  if (option === undefined || option === false) return { detectors: [] };
  if (option === true) return {};
  if (typeof option !== "object" || option === null || Array.isArray(option)) {
    throw new Mem0ConfigError(
      "redact must be true, false or { detectors?, custom?, metadata? }, e.g. redact: true.",
    );
  }
  return option;
}

/**
 * Replaces personal data and secrets with typed placeholders (`[EMAIL]`, `[PHONE]`, `[CARD]`,
 * `[IBAN]`, `[IP]`, `[SECRET]`, custom labels), so that facts stay useful ("User's email is
 * [EMAIL]") while the values never reach storage or the extraction LLM. Where detections
 * overlap, the one starting first wins, then the longest, then the first in
 * `BUILT_IN_DETECTORS` order, custom patterns last.
 */
export class Redactor {
  /** False when nothing would ever be replaced. */
  readonly enabled: boolean;
  /** In rank order: ties go to the earlier finder, look-alikes last. */
  private readonly finders: SpanFinder[];
  private readonly functions: { redact: RedactFunction; index: number }[];
  private readonly coversMetadata: boolean;

  constructor(option?: RedactOption) {
    const options = normalize(option);
    const detectors = options.detectors ?? [...BUILT_IN_DETECTORS];
    if (!Array.isArray(detectors)) {
      throw new Mem0ConfigError('redact.detectors must be an array, e.g. ["email", "phone"].');
    }
    for (const name of detectors) {
      if (!BUILT_IN_DETECTORS.includes(name)) {
        throw new Mem0ConfigError(
          `redact.detectors: unknown detector ${JSON.stringify(name)}; use some of ` +
            `${BUILT_IN_DETECTORS.map((known) => `"${known}"`).join(", ")}.`,
        );
      }
    }
    const custom = options.custom ?? [];
    if (!Array.isArray(custom)) {
      throw new Mem0ConfigError("redact.custom must be an array of patterns and functions.");
    }
    this.finders = [
      ...BUILT_IN_DETECTORS.filter((name) => detectors.includes(name)).map(
        (name) => BUILT_IN_FINDERS[name],
      ),
      ...custom.flatMap((entry, index) =>
        typeof entry === "function" ? [] : [customPattern(entry, index)],
      ),
    ];
    if (detectors.length > 0) this.finders.push(lookAlikes);
    this.functions = custom.flatMap((entry, index) =>
      typeof entry === "function" ? [{ redact: entry, index }] : [],
    );
    this.coversMetadata = options.metadata === true;
    this.enabled = this.finders.length + this.functions.length > 0;
  }

  /** The text with every detection replaced by its placeholder. */
  text(text: string): string {
    if (!this.enabled || typeof text !== "string") return text;
    const spans: (Span & { rank: number })[] = this.finders.flatMap((find, rank) =>
      find(text).map((span) => ({ ...span, rank })),
    );
    spans.sort((a, b) => a.start - b.start || b.end - a.end || a.rank - b.rank);
    let result = "";
    let position = 0;
    for (const span of spans) {
      if (span.start < position) continue;
      const kept = text.slice(span.start, span.end);
      result += `${text.slice(position, span.start)}${span.label === null ? kept : `[${span.label}]`}`;
      position = span.end;
    }
    result += text.slice(position);
    for (const { redact, index } of this.functions) {
      result = redact(result);
      if (typeof result !== "string") {
        throw new Mem0ConfigError(`redact.custom[${index}] must return a string.`);
      }
    }
    return result;
  }

  /** Messages with their content redacted; roles are kept. */
  messages(messages: ConversationMessage[]): ConversationMessage[] {
    if (!this.enabled) return messages;
    return messages.map((message) => ({ ...message, content: this.text(message.content) }));
  }

  /**
   * Metadata with every string value redacted at any depth (keys kept) when the `metadata`
   * option is on; otherwise the metadata unchanged.
   */
  metadata<T>(metadata: T): T {
    if (!this.enabled || !this.coversMetadata) return metadata;
    return this.deep(metadata) as T;
  }

  private deep(value: unknown): unknown {
    if (typeof value === "string") return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.deep(item));
    if (value !== null && typeof value === "object" && !(value instanceof Date)) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.deep(item)]));
    }
    return value;
  }
}

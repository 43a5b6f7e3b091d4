import { EXTRACTION_SECTIONS, type OfferedMemory } from "../backends/extraction.js";
import type { ConversationMessage } from "../messages.js";

/** The extraction call's user message read back into its parts. */
export interface ParsedExtractionInput {
  /** The date line's value, e.g. `2026-03-01 (Sunday)`. */
  date: string;
  existing: OfferedMemory[];
  /** Present when graph memory is on. */
  relations?: OfferedMemory[];
  /** The current profile, present when a profile is configured. */
  profile?: Record<string, unknown> | string;
  context: ConversationMessage[];
  conversation: ConversationMessage[];
}

const DATE_PREFIX = "Conversation date: ";

type SectionKey = keyof typeof EXTRACTION_SECTIONS;

const KEY_BY_HEADING = new Map(
  Object.entries(EXTRACTION_SECTIONS).map(([key, heading]) => [`${heading}:`, key as SectionKey]),
);

/**
 * Parses the user message the memory engine sends to its extraction LLM (see
 * `renderExtractionInput`), strictly: a date line, then known headings, each at most once and
 * each followed by one line of JSON; anything else throws. For fake LLMs and tests.
 */
export function parseExtractionInput(text: string): ParsedExtractionInput {
  const lines = text.split("\n");
  const first = lines.shift() ?? "";
  if (!first.startsWith(DATE_PREFIX)) {
    throw new Error(
      `Extraction input must start with "${DATE_PREFIX}", got ${JSON.stringify(first)}`,
    );
  }
  const sections: Partial<Record<SectionKey, unknown>> = {};
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === "") continue;
    const key = KEY_BY_HEADING.get(lines[i]);
    if (!key) throw new Error(`Unexpected line in extraction input: ${JSON.stringify(lines[i])}`);
    if (key in sections) throw new Error(`Section "${lines[i]}" appears twice`);
    i++;
    sections[key] = JSON.parse(lines[i] ?? "");
  }
  if (!sections.existing || !sections.conversation) {
    throw new Error("Extraction input lacks the existing memories or the new conversation");
  }
  return {
    date: first.slice(DATE_PREFIX.length),
    existing: sections.existing as OfferedMemory[],
    ...(sections.relations ? { relations: sections.relations as OfferedMemory[] } : {}),
    ...("profile" in sections
      ? { profile: sections.profile as Record<string, unknown> | string }
      : {}),
    context: (sections.context ?? []) as ConversationMessage[],
    conversation: sections.conversation as ConversationMessage[],
  };
}

import { parseExtractionInput } from "./extraction_input.js";
import type { FakeChatHandler, FakeChatMessage, FakeChatReply, FakeChatRequest } from "./server.js";

/** Name of the structured-output schema the memory engine asks its LLM for. */
const EXTRACTION_SCHEMA = "memory_operations";

function messageText(message: FakeChatMessage | undefined): string {
  const content = message?.content;
  if (typeof content === "string") return content;
  return (content ?? []).map((block) => block.text ?? "").join("\n");
}

function isExtraction(request: FakeChatRequest): boolean {
  return (
    request.response_format?.json_schema?.name === EXTRACTION_SCHEMA ||
    (request.tools ?? []).some((tool) => tool.function?.name === EXTRACTION_SCHEMA)
  );
}

/** First-person statements of the new conversation become facts: "I like tea" → "User: I like tea". */
function extractFacts(request: FakeChatRequest): FakeChatReply {
  // The input is the first user message; a repair request would come after it.
  const input = parseExtractionInput(messageText(request.messages.find((m) => m.role === "user")));
  const facts = input.conversation
    .filter((message) => message.role === "user")
    .flatMap((message) => message.content.split(/(?<=[.!?])\s+/))
    .filter((sentence) => /\b(I|I'm|my|me)\b/i.test(sentence) && !sentence.trim().endsWith("?"))
    .map((sentence) => `User: ${sentence.trim()}`);
  return { json: { add: facts, update: [], delete: [] } };
}

/** Arguments for a tool from its JSON schema: strings take the last capitalised word of the question. */
function guessArguments(schema: unknown, question: string): Record<string, unknown> {
  const properties =
    (schema as { properties?: Record<string, { type?: string }> })?.properties ?? {};
  const names = question.match(/\b[A-Z][a-z]+\b/g) ?? [];
  const guess = names.at(-1) ?? "unknown";
  return Object.fromEntries(
    Object.entries(properties).map(([key, property]) => [
      key,
      property.type === "number" || property.type === "integer"
        ? 1
        : property.type === "boolean"
          ? true
          : guess,
    ]),
  );
}

/**
 * A rule-based stand-in for an LLM, for demos and smoke tests without an API key: it answers
 * the memory engine's extraction requests with first-person sentences as facts, calls the
 * first bound tool once, and otherwise says which memories it was given.
 */
export function createDemoHandler(): FakeChatHandler {
  return (request) => {
    if (isExtraction(request)) return extractFacts(request);
    const last = request.messages.at(-1);
    const tool = request.tools?.[0]?.function;
    if (tool && last?.role === "user") {
      return {
        toolCalls: [
          { name: tool.name, arguments: guessArguments(tool.parameters, request.lastUserText) },
        ],
      };
    }
    if (last?.role === "tool") return `The tool says: ${messageText(last)}`;
    const everything = request.messages.map(messageText).join("\n");
    const facts = [...everything.matchAll(/^- (.+?)[.!]*$/gm)].map((match) => match[1]);
    const question = request.lastUserText.split("\n").at(-1) ?? "";
    return facts.length > 0
      ? `From memory: ${facts.join("; ")}. You asked: ${question}`
      : `Noted. You said: ${question}`;
  };
}

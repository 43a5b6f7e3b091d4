import {
  coerceMessageLikeToMessage,
  type BaseMessage,
  type BaseMessageLike,
  type MessageContent,
} from "@langchain/core/messages";
import { Mem0InputError } from "./errors.js";

/** A message reduced to what memory extraction reads: a role and plain text. */
export interface ConversationMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
}

/** Opening and closing tags of the memory block this package injects into prompts. */
export const MEMORY_BLOCK_OPEN = "<memory_context>";
export const MEMORY_BLOCK_CLOSE = "</memory_context>";
const MEMORY_BLOCK_PATTERN = /<memory_context>[\s\S]*?<\/memory_context>\s*/g;

/** Removes memory blocks injected by this package, so they are neither searched nor stored. */
export function stripMemoryBlocks(text: string): string {
  return text.replace(MEMORY_BLOCK_PATTERN, "").trim();
}

/** Plain text of a message content: strings as is, text blocks joined, other blocks named. */
export function contentText(content: MessageContent): string {
  if (typeof content === "string") return content;
  return content
    .map((block) => {
      if (typeof block === "string") return block;
      if (block.type === "text" && typeof block.text === "string") return block.text;
      return `[${String(block.type)}]`;
    })
    .filter((text) => text.length > 0)
    .join("\n");
}

export function messageRole(message: BaseMessage): ConversationMessage["role"] {
  switch (message.type) {
    case "human":
      return "user";
    case "ai":
      return "assistant";
    case "system":
    case "developer":
      return "system";
    case "tool":
    case "function":
      return "tool";
    default: {
      const role = (message as { role?: string }).role;
      return role === "assistant" || role === "system" || role === "tool" ? role : "user";
    }
  }
}

function toolCallsText(message: BaseMessage): string {
  const calls = (message as { tool_calls?: { name: string; args: unknown }[] }).tool_calls ?? [];
  return calls
    .map((call) => `[called tool ${call.name} with ${JSON.stringify(call.args)}]`)
    .join("\n");
}

/**
 * Text of one message as memory sees it: tool calls and tool results spelled out so the
 * extractor can use them, injected memory blocks removed.
 */
export function messageText(message: BaseMessage): string {
  const text = stripMemoryBlocks(contentText(message.content));
  if (message.type === "tool") {
    const name = (message as { name?: string }).name;
    return `[tool${name ? ` ${name}` : ""} result] ${text}`.trim();
  }
  const calls = toolCallsText(message);
  return [text, calls].filter((part) => part.length > 0).join("\n");
}

/**
 * Normalises a list of LangChain messages, `[role, content]` tuples, `{ role, content }`
 * objects or strings (or one string) into `BaseMessage`s, with an error naming the bad entry.
 */
export function toBaseMessages(messages: BaseMessageLike[] | BaseMessageLike): BaseMessage[] {
  const list = typeof messages === "string" || !Array.isArray(messages) ? [messages] : messages;
  return list.map((message, index) => {
    let coerced: BaseMessage;
    try {
      coerced = coerceMessageLikeToMessage(message as BaseMessageLike);
    } catch (error) {
      throw new Mem0InputError(
        `messages[${index}] is not a chat message: pass a LangChain message, a { role, content } ` +
          `object, a [role, content] tuple or a string.`,
        { cause: error },
      );
    }
    // LangChain takes any content as is; memory reads text out of it.
    const content: unknown = coerced.content;
    const valid =
      typeof content === "string" ||
      (Array.isArray(content) &&
        content.every((block) => typeof block === "string" || isObject(block)));
    if (!valid) {
      throw new Mem0InputError(
        `messages[${index}].content must be a string or an array of content blocks ` +
          `({ type: "text", text }), got ${describeType(content)}.`,
      );
    }
    return coerced;
  });
}

const isObject = (value: unknown): value is object => typeof value === "object" && value !== null;

function describeType(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "an array with an entry that is not a block" : typeof value;
}

/**
 * The text with each lone UTF-16 surrogate replaced by U+FFFD, as UTF-8 (the store, hashes,
 * HTTP) would: what memory stores is then exactly what it reports.
 */
export function wellFormed(text: string): string {
  return text.replace(/\p{Cs}/gu, "\uFFFD");
}

/** Messages as role/text pairs (well-formed text), dropping empty ones. */
export function toConversation(messages: BaseMessage[]): ConversationMessage[] {
  return messages
    .map((message) => ({ role: messageRole(message), content: wellFormed(messageText(message)) }))
    .filter((message) => message.content.length > 0);
}

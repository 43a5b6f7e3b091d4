import { randomUUID } from "node:crypto";
import {
  AIMessage,
  AIMessageChunk,
  ToolMessage,
  coerceMessageLikeToMessage,
  type BaseMessage,
  type BaseMessageLike,
  type UsageMetadata,
} from "@langchain/core/messages";
import { Mem0InputError } from "../errors.js";
import { contentText } from "../messages.js";

/*
 * OpenAI's chat completions wire format, and its conversion to and from LangChain messages.
 * Only the fields this package reads or writes are typed.
 */

/** A content part of an OpenAI message: text, an image, or anything a provider understands. */
export interface ChatCompletionContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

/** A tool call as OpenAI sends it. */
export interface ChatCompletionMessageToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** An input message in OpenAI's format. */
export interface ChatCompletionMessageParam {
  role: "system" | "developer" | "user" | "assistant" | "tool" | "function";
  content?: string | ChatCompletionContentPart[] | null;
  name?: string;
  tool_calls?: ChatCompletionMessageToolCall[];
  tool_call_id?: string;
  [key: string]: unknown;
}

/** Token counts in OpenAI's format. */
export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** One choice of a completion. */
export interface ChatCompletionChoice {
  index: number;
  message: {
    role: "assistant";
    content: string | null;
    refusal: string | null;
    tool_calls?: ChatCompletionMessageToolCall[];
  };
  finish_reason: string;
  logprobs: unknown;
}

/** A `chat.completion` object. */
export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: ChatCompletionChoice[];
  usage?: CompletionUsage;
  system_fingerprint?: string | null;
}

/** The delta of one streamed choice. */
export interface ChatCompletionChunkDelta {
  role?: "assistant";
  content?: string | null;
  refusal?: string | null;
  tool_calls?: {
    index: number;
    id?: string;
    type?: "function";
    function?: { name?: string; arguments?: string };
  }[];
}

/** A `chat.completion.chunk` object of a stream. */
export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: ChatCompletionChunkDelta;
    finish_reason: string | null;
    logprobs: unknown;
  }[];
  /** Only on the last chunk, when `stream_options.include_usage` asked for it (`choices` is empty). */
  usage?: CompletionUsage | null;
}

/** A fresh completion id, as OpenAI spells them. */
export function completionId(): string {
  return `chatcmpl-${randomUUID().replace(/-/g, "")}`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "an array" : typeof value;
}

/**
 * OpenAI messages as LangChain messages (`developer` counts as `system`, the deprecated
 * `function` role as a tool result). A malformed message is a `Mem0InputError` naming it.
 */
export function toLangChainMessages(messages: unknown): BaseMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new Mem0InputError(
      "messages must be a non-empty array of { role, content } objects, e.g. " +
        '[{ role: "user", content: "Hi" }].',
    );
  }
  return messages.map((message: unknown, index) => {
    const where = `messages[${index}]`;
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      throw new Mem0InputError(
        `${where} must be an object with role and content, got ${describe(message)}.`,
      );
    }
    const { role, content, name } = message as ChatCompletionMessageParam;
    if (!["system", "developer", "user", "assistant", "tool", "function"].includes(role)) {
      throw new Mem0InputError(
        `${where}.role must be one of system, developer, user, assistant, tool, got ${JSON.stringify(role)}.`,
      );
    }
    if (
      content !== undefined &&
      content !== null &&
      typeof content !== "string" &&
      !Array.isArray(content)
    ) {
      throw new Mem0InputError(`${where}.content must be a string or an array of parts.`);
    }
    if (role === "function") {
      return new ToolMessage({ content: content ?? "", name, tool_call_id: name ?? "function" });
    }
    if (
      role === "tool" &&
      typeof (message as ChatCompletionMessageParam).tool_call_id !== "string"
    ) {
      throw new Mem0InputError(`${where} is a tool message without tool_call_id.`);
    }
    try {
      return coerceMessageLikeToMessage(message as BaseMessageLike);
    } catch (error) {
      throw new Mem0InputError(
        `${where} is not a valid ${role} message: ${(error as Error).message.split("\n")[0]}`,
        {
          cause: error,
        },
      );
    }
  });
}

/** LangChain tool calls as OpenAI's (arguments as JSON text). */
function wireToolCalls(message: AIMessage): ChatCompletionMessageToolCall[] {
  return (message.tool_calls ?? []).map((call) => ({
    id: call.id ?? `call_${randomUUID().replace(/-/g, "").slice(0, 24)}`,
    type: "function",
    function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
  }));
}

/** OpenAI usage from LangChain usage metadata. */
export function toUsage(usage?: UsageMetadata): CompletionUsage | undefined {
  if (!usage) return undefined;
  return {
    prompt_tokens: usage.input_tokens,
    completion_tokens: usage.output_tokens,
    total_tokens: usage.total_tokens,
  };
}

/** Why the model stopped, in OpenAI's words. */
function finishReason(message: AIMessage | AIMessageChunk): string {
  const reported =
    message.response_metadata?.finish_reason ?? message.response_metadata?.stop_reason;
  if (
    (message.tool_calls?.length ?? 0) > 0 ||
    (message as AIMessageChunk).tool_call_chunks?.length
  ) {
    return "tool_calls";
  }
  if (reported === "length" || reported === "max_tokens") return "length";
  if (reported === "content_filter") return "content_filter";
  return "stop";
}

/** One choice of a `chat.completion` from the model's answer. */
export function toChoice(message: AIMessage, index: number): ChatCompletionChoice {
  const toolCalls = wireToolCalls(message);
  const text = contentText(message.content);
  return {
    index,
    message: {
      role: "assistant",
      content: text === "" && toolCalls.length > 0 ? null : text,
      refusal: (message.additional_kwargs?.refusal as string | undefined) ?? null,
      ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    },
    finish_reason: finishReason(message),
    logprobs: message.response_metadata?.logprobs ?? null,
  };
}

/** A `chat.completion` from the model's answers (one per choice). */
export function toCompletion(model: string, answers: AIMessage[]): ChatCompletion {
  const usages = answers.map((answer) => answer.usage_metadata).filter((u) => u !== undefined);
  const usage = usages.length
    ? usages.reduce((sum, u) => ({
        // With n > 1 each choice is its own model call: every prompt was paid for.
        input_tokens: sum.input_tokens + u.input_tokens,
        output_tokens: sum.output_tokens + u.output_tokens,
        total_tokens: sum.total_tokens + u.total_tokens,
      }))
    : undefined;
  return {
    id: completionId(),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: answers.map(toChoice),
    ...(usage ? { usage: toUsage(usage) } : {}),
    system_fingerprint: (answers[0]?.response_metadata?.system_fingerprint as string) ?? null,
  };
}

/**
 * Turns a stream of LangChain message chunks into `chat.completion.chunk`s as OpenAI sends
 * them: a first chunk with the role, content and tool call deltas, a last chunk with the
 * finish reason, then (when asked) a usage chunk with no choices.
 */
export async function* toCompletionChunks(
  model: string,
  chunks: AsyncIterable<AIMessageChunk>,
  options: { includeUsage?: boolean } = {},
): AsyncGenerator<ChatCompletionChunk> {
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  const chunk = (
    delta: ChatCompletionChunkDelta,
    finish: string | null = null,
  ): ChatCompletionChunk => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  });
  yield chunk({ role: "assistant", content: "" });
  let whole: AIMessageChunk | undefined;
  // LangChain numbers tool call chunks by their position; OpenAI by the call's index.
  const toolIndexes = new Map<string | number, number>();
  for await (const piece of chunks) {
    whole = whole ? whole.concat(piece) : piece;
    const text = contentText(piece.content);
    const toolDeltas = (piece.tool_call_chunks ?? []).map((call) => {
      const key = call.index ?? call.id ?? toolIndexes.size;
      if (!toolIndexes.has(key)) toolIndexes.set(key, toolIndexes.size);
      return {
        index: toolIndexes.get(key)!,
        ...(call.id ? { id: call.id, type: "function" as const } : {}),
        function: {
          ...(call.name ? { name: call.name } : {}),
          arguments: call.args ?? "",
        },
      };
    });
    if (text === "" && toolDeltas.length === 0) continue;
    yield chunk({
      ...(text !== "" ? { content: text } : {}),
      ...(toolDeltas.length > 0 ? { tool_calls: toolDeltas } : {}),
    });
  }
  const final = whole ?? new AIMessageChunk("");
  yield chunk({}, toolIndexes.size > 0 ? "tool_calls" : finishReason(final));
  if (options.includeUsage) {
    yield {
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [],
      usage: toUsage(final.usage_metadata) ?? null,
    };
  }
}

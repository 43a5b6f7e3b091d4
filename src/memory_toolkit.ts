import type { CallbackManager } from "@langchain/core/callbacks/manager";
import { AIMessageChunk, ToolMessage, type ToolCall } from "@langchain/core/messages";
import type { StructuredToolInterface } from "@langchain/core/tools";
import type { MemoryScope } from "./scope.js";

/** The memory tools a `Mem0ChatModel` runs itself, between calls of its inner model. */
export class MemoryToolkit {
  readonly names: Set<string>;

  constructor(
    readonly tools: StructuredToolInterface[],
    /** Model calls per chat call that may use memory tools before the answer must come. */
    readonly maxRounds: number,
  ) {
    this.names = new Set(tools.map((tool) => tool.name));
  }

  /** The memory tool calls of a message. */
  memoryCalls(message: AIMessageChunk): ToolCall[] {
    return (message.tool_calls ?? []).filter((call) => this.names.has(call.name));
  }

  /** The calls of the caller's own tools in a message. */
  otherCalls(message: AIMessageChunk): ToolCall[] {
    return (message.tool_calls ?? []).filter((call) => !this.names.has(call.name));
  }

  /** The message as the caller sees it: the same, without memory tool calls. */
  strip(message: AIMessageChunk): AIMessageChunk {
    const kept = this.otherCalls(message);
    if (kept.length === (message.tool_calls ?? []).length) return message;
    const keptIds = new Set(kept.map((call) => call.id));
    // `invoke` may give a message with tool calls only, a stream chunks: keep what it has.
    const chunks = (message.tool_call_chunks ?? []).filter((chunk) => keptIds.has(chunk.id));
    return new AIMessageChunk({
      content: message.content,
      id: message.id,
      name: message.name,
      additional_kwargs: this.rawCalls(message.additional_kwargs, keptIds),
      response_metadata: message.response_metadata,
      usage_metadata: message.usage_metadata,
      ...(chunks.length > 0 ? { tool_call_chunks: chunks } : { tool_calls: kept }),
    });
  }

  /**
   * A streamed chunk without its tool call pieces, which are held back until the round ends
   * and it is known whether they call memory tools.
   */
  withoutToolCalls(chunk: AIMessageChunk): AIMessageChunk {
    if (!chunk.tool_call_chunks?.length && !chunk.additional_kwargs?.tool_calls) return chunk;
    return new AIMessageChunk({
      content: chunk.content,
      id: chunk.id,
      name: chunk.name,
      additional_kwargs: this.rawCalls(chunk.additional_kwargs, new Set()),
      response_metadata: chunk.response_metadata,
      usage_metadata: chunk.usage_metadata,
    });
  }

  /** One chunk carrying the caller's own tool calls of a streamed round, or none. */
  otherCallsChunk(aggregate: AIMessageChunk): AIMessageChunk | undefined {
    const chunks = (aggregate.tool_call_chunks ?? []).filter(
      (chunk) => chunk.name === undefined || !this.names.has(chunk.name),
    );
    if (chunks.length === 0) return undefined;
    return new AIMessageChunk({ content: "", id: aggregate.id, tool_call_chunks: chunks });
  }

  /**
   * Ends a round of model calls: runs its memory tool calls unless this was the last round.
   * Resolves with the tool results the next round adds after the message, or `undefined` when
   * the message is the answer (no memory calls, the last round, or the caller's own tool calls
   * waiting for the caller).
   */
  async endRound(
    message: AIMessageChunk,
    round: number,
    scope: MemoryScope,
    options: { signal?: AbortSignal; callbacks?: CallbackManager },
  ): Promise<ToolMessage[] | undefined> {
    const memoryCalls = this.memoryCalls(message);
    const last = memoryCalls.length === 0 || round >= this.maxRounds;
    const results = last ? [] : await this.run(memoryCalls, scope, options);
    return last || this.otherCalls(message).length > 0 ? undefined : results;
  }

  /**
   * Runs memory tool calls for the call's scope (passed as `configurable`, so the model's
   * arguments cannot change it). A failing call becomes an error result the model can read.
   */
  async run(
    calls: ToolCall[],
    scope: MemoryScope,
    options: { signal?: AbortSignal; callbacks?: CallbackManager },
  ): Promise<ToolMessage[]> {
    const configurable = { user_id: scope.userId, agent_id: scope.agentId, run_id: scope.runId };
    return Promise.all(
      calls.map(async (call) => {
        const tool = this.tools.find((candidate) => candidate.name === call.name)!;
        try {
          return (await tool.invoke(
            { ...call, type: "tool_call" },
            { configurable, signal: options.signal, callbacks: options.callbacks },
          )) as ToolMessage;
        } catch (error) {
          options.signal?.throwIfAborted();
          return new ToolMessage({
            content: `Error: ${error instanceof Error ? error.message : String(error)}`,
            tool_call_id: call.id ?? "",
            name: call.name,
            status: "error",
          });
        }
      }),
    );
  }

  /** Provider-format tool calls (`additional_kwargs.tool_calls`) limited to `keep`. */
  private rawCalls(kwargs: AIMessageChunk["additional_kwargs"], keep: Set<string | undefined>) {
    const { tool_calls: raw, ...rest } = kwargs ?? {};
    const kept = (raw ?? []).filter((call) => keep.has(call.id));
    return kept.length > 0 ? { ...rest, tool_calls: kept } : rest;
  }
}

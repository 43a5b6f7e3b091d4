import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import {
  coerceMessageLikeToMessage,
  type BaseMessage,
  type BaseMessageLike,
} from "@langchain/core/messages";
import type { ChatGenerationChunk, ChatResult } from "@langchain/core/outputs";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import type {
  AddOptions,
  AddResult,
  MemoryBackend,
  MemoryItem,
  SearchOptions,
  SearchResult,
} from "../../src/backends/base.js";
import { scopeContains, type MemoryScope } from "../../src/scope.js";

/** A wrapper-only stand-in for a memory backend: records calls, returns scripted memories. */
export class FakeMemoryBackend implements MemoryBackend {
  readonly searches: { query: string; scope: MemoryScope; options?: SearchOptions }[] = [];
  readonly adds: { messages: BaseMessage[]; scope: MemoryScope; options?: AddOptions }[] = [];
  /** Memories by owner; `search` returns those visible from the scope. */
  readonly items: (MemoryItem & MemoryScope)[] = [];
  relations: SearchResult["relations"];
  searchError?: Error;
  /** Errors thrown by the next adds, one per call. */
  addErrors: Error[] = [];
  addDelayMs = 0;

  remember(memory: string, scope: MemoryScope) {
    const now = new Date().toISOString();
    this.items.push({
      id: String(this.items.length + 1),
      memory,
      metadata: {},
      createdAt: now,
      updatedAt: now,
      ...scope,
    });
  }

  async search(query: string, scope: MemoryScope, options?: SearchOptions): Promise<SearchResult> {
    this.searches.push({ query, scope, options });
    if (this.searchError) throw this.searchError;
    const results = this.items.filter((item) => scopeContains(scope, item));
    return { results, relations: this.relations };
  }

  async add(
    messages: BaseMessageLike[],
    scope: MemoryScope,
    options?: AddOptions,
  ): Promise<AddResult> {
    if (this.addDelayMs) await new Promise((resolve) => setTimeout(resolve, this.addDelayMs));
    const error = this.addErrors.shift();
    if (error) throw error;
    this.adds.push({
      messages: messages.map((m) => coerceMessageLikeToMessage(m)),
      scope,
      options,
    });
    return { results: [] };
  }
}

/** FakeListChatModel that records the messages of every call. */
export class RecordingChatModel extends FakeListChatModel {
  readonly calls: BaseMessage[][] = [];

  override async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    this.calls.push(messages);
    return super._generate(messages, options, runManager);
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    this.calls.push(messages);
    yield* super._streamResponseChunks(messages, options, runManager);
  }
}

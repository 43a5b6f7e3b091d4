import { setTimeout as sleep } from "node:timers/promises";
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import {
  coerceMessageLikeToMessage,
  type BaseMessage,
  type BaseMessageLike,
} from "@langchain/core/messages";
import type { ChatGenerationChunk, ChatResult } from "@langchain/core/outputs";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import type {
  AddMemoryOptions,
  AddResult,
  MemoryBackend,
  MemoryItem,
  SearchMemoryOptions,
  SearchResult,
} from "../../src/backends/base.js";
import { scopeContains, type MemoryScope } from "../../src/scope.js";

/** The owner ids of mem0ai-shaped options. */
function ownerOf({ userId, agentId, runId }: MemoryScope): MemoryScope {
  return Object.fromEntries(
    Object.entries({ userId, agentId, runId }).filter(([, value]) => value !== undefined),
  );
}

/** A wrapper-only stand-in for a memory backend: records calls, returns scripted memories. */
export class FakeMemoryBackend implements MemoryBackend {
  readonly searches: { query: string; scope: MemoryScope; options: SearchMemoryOptions }[] = [];
  readonly adds: { messages: BaseMessage[]; scope: MemoryScope; options: AddMemoryOptions }[] = [];
  /** Memories with their owners; `search` returns those visible from the scope. */
  readonly items: { item: MemoryItem; owner: MemoryScope }[] = [];
  relations: SearchResult["relations"];
  searchError?: Error;
  /** Errors thrown by the next adds, one per call. */
  addErrors: Error[] = [];
  addDelayMs = 0;

  remember(memory: string, scope: MemoryScope) {
    const now = new Date().toISOString();
    this.items.push({
      item: {
        id: String(this.items.length + 1),
        memory,
        metadata: {},
        createdAt: now,
        updatedAt: now,
      },
      owner: scope,
    });
  }

  async search(query: string, options: SearchMemoryOptions): Promise<SearchResult> {
    const scope = ownerOf(options);
    this.searches.push({ query, scope, options });
    if (this.searchError) throw this.searchError;
    const results = this.items
      .filter(({ owner }) => scopeContains(scope, owner))
      .map(({ item }) => item);
    return { results, relations: this.relations };
  }

  async add(messages: string | BaseMessageLike[], options: AddMemoryOptions): Promise<AddResult> {
    const scope = ownerOf(options);
    if (this.addDelayMs) await sleep(this.addDelayMs, undefined, { signal: options.signal });
    const error = this.addErrors.shift();
    if (error) throw error;
    this.adds.push({
      messages: (typeof messages === "string" ? [messages] : messages).map((m) =>
        coerceMessageLikeToMessage(m),
      ),
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

/**
 * A fake extraction LLM for app instances adding the same fact at once: each wording is new
 * unless the existing memories offered to it already mention green tea. Replies are delayed,
 * so the instances' LLM calls overlap.
 */
export function sameFactHandler(): (request: { lastUserText: string }) => {
  json: { add: string[]; update: never[]; delete: never[] };
  delayMs: number;
} {
  const wordings = ["likes", "enjoys", "is fond of"];
  let calls = 0;
  return (request) => {
    const existing = /green tea/i.test(request.lastUserText.split(/new conversation/i)[0]);
    const add = existing ? [] : [`User ${wordings[calls % 3]} green tea`];
    calls++;
    return { json: { add, update: [], delete: [] }, delayMs: 200 };
  };
}

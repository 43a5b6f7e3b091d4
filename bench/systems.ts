/**
 * The two systems under test behind one small interface: our `Memory` engine on SQLite and
 * the `mem0ai` open-source engine (`mem0ai/oss`), configured as its docs and code ask for an
 * offline run (SQLite "memory" vector store, in-process history, LangChain model providers).
 */
import type { Embeddings } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessageLike } from "@langchain/core/messages";
import type { Memory as Mem0Memory } from "mem0ai/oss";
import { Memory } from "../src/backends/memory.js";

export type { Mem0Memory };

/** One search result: the memory text and its score. */
export interface Hit {
  text: string;
  score: number;
}

/** What the store-level sections (search latency, LoCoMo, footprint) need from a system. */
export interface MemorySystem {
  readonly name: string;
  /** Stores every text verbatim (no LLM) as its own memory of `userId`. */
  addVerbatim(texts: string[], userId: string): Promise<void>;
  search(query: string, userId: string, topK: number): Promise<Hit[]>;
  close(): Promise<void>;
}

export function oursSystem(name: string, memory: Memory): MemorySystem {
  return {
    name,
    async addVerbatim(texts, userId) {
      const messages: BaseMessageLike[] = texts.map((content) => ({ role: "user", content }));
      await memory.add(messages, { userId, infer: false });
    },
    async search(query, userId, topK) {
      const { results } = await memory.search(query, { userId, topK });
      return results.map((item) => ({ text: item.memory, score: item.score ?? 0 }));
    },
    close: () => memory.close(),
  };
}

/**
 * A real `@langchain/core` chat model hands mem0ai an empty `tool_calls: []`, which it takes for
 * a tool reply (extraction then silently returns nothing): give it the content only.
 */
function contentOnly(model: BaseChatModel) {
  return {
    invoke: async (messages: never) => ({ content: (await model.invoke(messages)).content }),
  };
}

const NO_LLM = {
  invoke: async (): Promise<never> => {
    throw new Error("this benchmark stores verbatim; mem0ai must not call its LLM");
  },
};

export interface Mem0Options {
  /** SQLite file of mem0ai's vector store, or ":memory:". */
  dbPath: string;
  embeddings: Embeddings;
  /** Extraction model; only needed for `add` with inference. */
  llm?: BaseChatModel;
}

/** A `mem0ai/oss` Memory. `MEM0_TELEMETRY=false` must be set before the module is first loaded. */
export async function createMem0(options: Mem0Options): Promise<Mem0Memory> {
  process.env.MEM0_TELEMETRY = "false";
  const { Memory: Mem0 } = await import("mem0ai/oss");
  const dimension = (await options.embeddings.embedQuery("dimension probe")).length;
  return new Mem0({
    embedder: { provider: "langchain", config: { model: options.embeddings } },
    llm: {
      provider: "langchain",
      config: { model: options.llm ? contentOnly(options.llm) : NO_LLM },
    },
    vectorStore: { provider: "memory", config: { dbPath: options.dbPath, dimension } },
    historyStore: { provider: "memory", config: {} },
  });
}

/**
 * mem0ai 3.x has no `close()`: close the SQLite handles it opened (vector and entity stores)
 * so in-memory databases are freed between sections.
 */
export function closeMem0(memory: Mem0Memory): void {
  const internals = memory as unknown as Record<
    string,
    { db?: { close?: () => void } } | undefined
  >;
  for (const key of ["vectorStore", "_entityStore"]) internals[key]?.db?.close?.();
}

export function mem0System(name: string, memory: Mem0Memory): MemorySystem {
  return {
    name,
    async addVerbatim(texts, userId) {
      await memory.add(
        texts.map((content) => ({ role: "user", content })),
        { userId, infer: false },
      );
    },
    async search(query, userId, topK) {
      // Defaults are topK 20 and threshold 0.1; ask for exactly what the other system returns.
      const { results } = await memory.search(query, {
        filters: { user_id: userId },
        topK,
        threshold: 0,
      });
      return results.map((item) => ({ text: item.memory, score: item.score ?? 0 }));
    },
    close: async () => closeMem0(memory),
  };
}

/** Loads `count` texts into `system` in batches of `batch`, returning the elapsed ms. */
export async function loadTexts(
  system: MemorySystem,
  userId: string,
  count: number,
  textAt: (start: number, count: number) => string[],
  batch = 1000,
): Promise<number> {
  const start = performance.now();
  for (let offset = 0; offset < count; offset += batch) {
    await system.addVerbatim(textAt(offset, Math.min(batch, count - offset)), userId);
  }
  return performance.now() - start;
}

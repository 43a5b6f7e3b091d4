/**
 * Memory used the way mem0ai's documentation uses `Memory` from `mem0ai/oss` (the Node
 * quickstart, `examples/basic.ts` and the memory-operations pages): the same calls must run
 * by changing the import.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Document } from "@langchain/core/documents";
import { BaseDocumentCompressor } from "@langchain/core/retrievers/document_compressors";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory } from "../src/backends/memory.js";
import {
  Mem0ClosedError,
  Mem0ConfigError,
  Mem0InputError,
  MissingScopeError,
} from "../src/errors.js";
import { FakeOpenAIServer } from "../src/testing/index.js";

let server: FakeOpenAIServer;
beforeAll(async () => {
  server = await FakeOpenAIServer.start();
});
afterAll(async () => server.close());
beforeEach(() => server.reset());

const ops = (add: string[] = [], update: { id: number; text: string }[] = []) => ({
  json: { add, update, delete: [] },
});

/** Default client settings (retries and timeouts), as a user constructs them. */
function newMemory(options: { reranker?: BaseDocumentCompressor } = {}) {
  const configuration = { baseURL: server.baseURL };
  return new Memory({
    llm: new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration }),
    embeddings: new OpenAIEmbeddings({ apiKey: "test", configuration }),
    path: ":memory:",
    ...options,
  });
}

const movieMessages = [
  { role: "user", content: "I'm planning to watch a movie tonight. Any recommendations?" },
  { role: "assistant", content: "How about thriller movies? They can be quite engaging." },
  { role: "user", content: "I'm not a big fan of thriller movies but I love sci-fi movies." },
  {
    role: "assistant",
    content: "Got it! I'll avoid thriller recommendations and suggest sci-fi movies in the future.",
  },
];

describe("the Node quickstart", () => {
  it("adds with userId and metadata, searches with filters.user_id", async () => {
    const memory = newMemory();
    server.enqueue(ops(["User is planning to watch a movie tonight", "User loves sci-fi movies"]));
    const added = await memory.add(movieMessages, {
      userId: "alice",
      metadata: { category: "movie_recommendations" },
    });
    expect(added.results).toEqual([
      expect.objectContaining({
        memory: "User is planning to watch a movie tonight",
        event: "ADD",
        metadata: { event: "ADD" },
      }),
      expect.objectContaining({ memory: "User loves sci-fi movies", event: "ADD" }),
    ]);
    const results = await memory.search("What do you know about me?", {
      filters: { user_id: "alice" },
    });
    expect(results.results).toHaveLength(2);
    for (const item of results.results) {
      expect(item).toMatchObject({
        id: expect.any(String),
        memory: expect.any(String),
        metadata: { category: "movie_recommendations" },
        user_id: "alice",
      });
      expect(item.score).toBeGreaterThanOrEqual(0);
      expect(item.score).toBeLessThanOrEqual(1);
    }
    // Another user sees nothing of it.
    expect(
      (await memory.search("What do you know about me?", { filters: { user_id: "bob" } })).results,
    ).toEqual([]);
    await memory.close();
  });
});

describe("examples/basic.ts of mem0ai", () => {
  it("runs add, get, update, getAll, search, history, delete and reset", async () => {
    const memory = newMemory();
    await memory.reset();
    server.enqueue(ops(["Name is John", "Is a software engineer"]));
    const result1 = await memory.add("Hi, my name is John and I am a software engineer.", {
      userId: "john",
    });
    expect(result1.results.map((r) => r.memory)).toEqual([
      "Name is John",
      "Is a software engineer",
    ]);

    server.enqueue(ops(["Favourite city is Paris"]));
    const result2 = await memory.add(
      [
        { role: "user", content: "What is your favorite city?" },
        { role: "assistant", content: "I love Paris, it is my favorite city." },
      ],
      { userId: "john" },
    );
    const parisId = result2.results[0].id;

    server.setHandler((request) => {
      const existing = request.lastUserText.match(/\[?(\d+)\]?[^\n]*Paris/);
      return ops([], [{ id: Number(existing?.[1] ?? 0), text: "Favourite city is New York" }]);
    });
    const result3 = await memory.add(
      [
        { role: "user", content: "What is your favorite city?" },
        { role: "assistant", content: "I love New York, it is my favorite city." },
      ],
      { userId: "john" },
    );
    server.setHandler(undefined);
    expect(result3.results).toEqual([
      expect.objectContaining({
        id: parisId,
        event: "UPDATE",
        memory: "Favourite city is New York",
        previousMemory: "Favourite city is Paris",
      }),
    ]);

    const singleMemory = await memory.get(result1.results[0].id);
    expect(singleMemory).toMatchObject({ memory: "Name is John", user_id: "john" });

    const result4 = await memory.update(result1.results[0].id, {
      text: "I love India, it is my favorite country.",
    });
    expect(result4).toEqual({ message: "Memory updated successfully!" });

    const allMemories = await memory.getAll({ filters: { user_id: "john" } });
    expect(allMemories.results.map((m) => m.memory).sort()).toEqual([
      "Favourite city is New York",
      "I love India, it is my favorite country.",
      "Is a software engineer",
    ]);

    const searchResult = await memory.search("What do you know about New York?", {
      filters: { user_id: "john" },
    });
    expect(searchResult.results[0].memory).toBe("Favourite city is New York");

    const history = await memory.history(result1.results[0].id);
    expect(history).toEqual([
      expect.objectContaining({
        memory_id: result1.results[0].id,
        previous_value: "Name is John",
        new_value: "I love India, it is my favorite country.",
        action: "UPDATE",
        is_deleted: 0,
      }),
      expect.objectContaining({ previous_value: null, new_value: "Name is John", action: "ADD" }),
    ]);

    expect(await memory.delete(result1.results[0].id)).toEqual({
      message: "Memory deleted successfully!",
    });
    expect(await memory.get(result1.results[0].id)).toBeNull();
    expect((await memory.history(result1.results[0].id))[0]).toMatchObject({
      action: "DELETE",
      is_deleted: 1,
    });

    await memory.reset();
    expect((await memory.getAll({ filters: { user_id: "john" } })).results).toEqual([]);
    await memory.close();
  });
});

describe("memory operations pages", () => {
  it("stores verbatim with infer: false, keeping metadata and making no LLM call", async () => {
    const memory = newMemory();
    const added = await memory.add([{ role: "user", content: "I prefer window seats" }], {
      userId: "alice",
      metadata: { category: "travel" },
      infer: false,
    });
    expect(server.chatRequests).toHaveLength(0);
    expect(added.results.map((r) => r.memory)).toEqual(["I prefer window seats"]);
    expect((await memory.get(added.results[0].id))?.metadata).toEqual({
      category: "travel",
      role: "user",
    });
    await memory.close();
  });

  it("combines entity ids and metadata conditions in one filters object", async () => {
    const memory = newMemory();
    await memory.add("I am vegetarian", {
      userId: "alice",
      metadata: { categories: ["diet", "health"] },
      infer: false,
    });
    await memory.add("I like jazz", {
      userId: "alice",
      metadata: { categories: ["music"] },
      infer: false,
    });
    const memories = await memory.search("food preferences", {
      filters: { userId: "alice", categories: { contains: "diet" } },
    });
    expect(memories.results.map((r) => r.memory)).toEqual(["I am vegetarian"]);
    await memory.close();
  });

  it("updates text, metadata only, and expiry; expired memories hide unless asked", async () => {
    const memory = newMemory();
    const [{ id }] = (
      await memory.add("Alex likes coffee", {
        userId: "alex",
        metadata: { category: "drinks" },
        infer: false,
      })
    ).results;
    await memory.update(id, { text: "Alex now prefers decaf coffee" });
    await memory.update(id, { metadata: { category: "preferences" } });
    expect(await memory.get(id)).toMatchObject({
      memory: "Alex now prefers decaf coffee",
      metadata: { category: "preferences", role: "user" },
    });
    expect((await memory.search("coffee", { filters: { user_id: "alex" } })).results).toHaveLength(
      1,
    );

    await memory.update(id, { expirationDate: "2020-01-31" });
    expect((await memory.search("coffee", { filters: { user_id: "alex" } })).results).toEqual([]);
    expect((await memory.getAll({ filters: { user_id: "alex" } })).results).toEqual([]);
    const shown = await memory.search("coffee", {
      filters: { user_id: "alex" },
      showExpired: true,
    });
    expect(shown.results[0].metadata.expiration_date).toBe("2020-01-31");
    expect(
      (await memory.getAll({ filters: { user_id: "alex" }, showExpired: true })).results,
    ).toHaveLength(1);

    await memory.update(id, { expirationDate: null });
    expect((await memory.getAll({ filters: { user_id: "alex" } })).results).toHaveLength(1);

    const expiring = await memory.add("Alex is in Rome this week", {
      userId: "alex",
      expirationDate: "2999-01-31",
      infer: false,
    });
    expect((await memory.get(expiring.results[0].id))?.metadata.expiration_date).toBe("2999-01-31");
    await memory.close();
  });

  it("deleteAll forgets one owner and answers with a message", async () => {
    const memory = newMemory();
    await memory.add("Alice note", { userId: "alice", infer: false });
    await memory.add("Bob note", { userId: "bob", infer: false });
    expect(await memory.deleteAll({ userId: "alice" })).toEqual({
      message: "Memories deleted successfully!",
    });
    expect((await memory.getAll({ filters: { user_id: "alice" } })).results).toEqual([]);
    expect((await memory.getAll({ filters: { user_id: "bob" } })).results).toHaveLength(1);
    await expect(memory.deleteAll({})).rejects.toThrow(/reset\(\)/);
    await memory.close();
  });

  it("explains scores with mem0ai's score_details", async () => {
    const memory = newMemory();
    await memory.add("Alice drinks green tea every morning", { userId: "alice", infer: false });
    const { results } = await memory.search("green tea", {
      filters: { user_id: "alice" },
      explain: true,
    });
    const details = results[0].score_details!;
    expect(details.finalScore).toBeCloseTo(results[0].score!);
    expect(details.finalScore).toBeCloseTo(details.rawScore / details.maxPossibleScore);
    expect(details.bm25Score).toBe(1);
    await memory.close();
  });

  it("applies threshold to the semantic similarity, like mem0ai", async () => {
    const memory = newMemory();
    await memory.add(["Alice drinks green tea", "Quarterly tax filing deadline"], {
      userId: "alice",
      infer: false,
    });
    const all = await memory.search("green tea", { userId: "alice", explain: true });
    const cosine = all.results.map((r) => r.score_details!.semanticScore);
    const cut = (Math.max(...cosine) + Math.min(...cosine)) / 2;
    const kept = await memory.search("green tea", { userId: "alice", threshold: cut });
    expect(kept.results.map((r) => r.memory)).toEqual(["Alice drinks green tea"]);
    await memory.close();
  });
});

/** A reranker as LangChain users hold them (Cohere and others): reverses, scores by position. */
class ReversingReranker extends BaseDocumentCompressor {
  readonly seen: string[][] = [];
  async compressDocuments(documents: Document[]): Promise<Document[]> {
    this.seen.push(documents.map((d) => d.pageContent));
    return [...documents].reverse().map(
      (document, index) =>
        new Document({
          pageContent: document.pageContent,
          metadata: { ...document.metadata, relevanceScore: 1 - index / 10 },
        }),
    );
  }
}

describe("rerank", () => {
  it("reorders with any LangChain document compressor and adds rerankScore", async () => {
    const reranker = new ReversingReranker();
    const memory = newMemory({ reranker });
    await memory.add(["Alice likes sci-fi movies", "Alice likes movies", "Alice plays chess"], {
      userId: "alice",
      infer: false,
    });
    const plain = await memory.search("movies", { filters: { user_id: "alice" }, topK: 2 });
    expect(reranker.seen).toHaveLength(0);
    const reranked = await memory.search("movies", {
      filters: { user_id: "alice" },
      topK: 2,
      rerank: true,
    });
    // The reranker saw every candidate, and its order wins.
    expect(reranker.seen[0]).toHaveLength(3);
    expect(reranked.results).toHaveLength(2);
    expect(reranked.results[0].memory).toBe(reranker.seen[0].at(-1));
    expect(reranked.results[0].rerankScore).toBe(1);
    expect(reranked.results[0].score).toEqual(expect.any(Number));
    expect(plain.results[0].rerankScore).toBeUndefined();
    await memory.close();
  });

  it("is a no-op without a reranker, as in mem0ai", async () => {
    const memory = newMemory();
    await memory.add(["Alice likes movies"], { userId: "alice", infer: false });
    const { results } = await memory.search("movies", { userId: "alice", rerank: true });
    expect(results.map((r) => r.memory)).toEqual(["Alice likes movies"]);
    await memory.close();
  });
});

describe("mistakes get a typed error that names them", () => {
  const memory = new Memory({
    embeddings: new OpenAIEmbeddings({ apiKey: "test", configuration: { baseURL: "http://x" } }),
    path: ":memory:",
  });
  const closed = new Memory({
    embeddings: new OpenAIEmbeddings({ apiKey: "test", configuration: { baseURL: "http://x" } }),
    path: ":memory:",
  });
  beforeAll(() => closed.close());
  afterAll(() => memory.close());

  it.each([
    ["add without any owner", () => memory.add(["hi"], {}), MissingScopeError, /userId/],
    [
      "add with no options at all",
      () => memory.add(["hi"], undefined as never),
      MissingScopeError,
      /userId/,
    ],
    [
      "user_id at the top level",
      () => memory.add(["hi"], { user_id: "alice" } as never),
      Mem0InputError,
      /unknown option "user_id"; use userId/,
    ],
    [
      "limit instead of topK",
      () => memory.search("q", { userId: "a", limit: 5 } as never),
      Mem0InputError,
      /unknown option "limit"; use topK/,
    ],
    ["topK NaN", () => memory.search("q", { userId: "a", topK: NaN }), Mem0InputError, /topK/],
    ["topK -1", () => memory.search("q", { userId: "a", topK: -1 }), Mem0InputError, /topK/],
    ["topK 0", () => memory.search("q", { userId: "a", topK: 0 }), Mem0InputError, /topK/],
    [
      "threshold NaN",
      () => memory.search("q", { userId: "a", threshold: NaN }),
      Mem0InputError,
      /threshold/,
    ],
    [
      "threshold above 1",
      () => memory.search("q", { userId: "a", threshold: 1.5 }),
      Mem0InputError,
      /threshold/,
    ],
    [
      "owner given twice, disagreeing",
      () => memory.search("q", { userId: "a", filters: { user_id: "b" } }),
      Mem0InputError,
      /disagrees/,
    ],
    [
      "a bad expirationDate",
      () => memory.add(["x"], { userId: "a", infer: false, expirationDate: "31/01/2030" }),
      Mem0InputError,
      /expirationDate.*YYYY-MM-DD/,
    ],
    [
      "an owner id in metadata",
      () => memory.add(["x"], { userId: "a", infer: false, metadata: { user_id: "b" } }),
      Mem0InputError,
      /metadata.user_id is reserved/,
    ],
    [
      "update with nothing to change",
      () => memory.update("some-id", {}),
      Mem0InputError,
      /at least one of text, metadata or expirationDate/,
    ],
    [
      "update with mem0ai's deprecated data",
      () => memory.update("some-id", { data: "x" } as never),
      Mem0InputError,
      /unknown option "data"; use text/,
    ],
    ["an empty message list", () => memory.add([], { userId: "a" }), Mem0InputError, /empty/],
    ["a closed memory", () => closed.search("q", { userId: "a" }), Mem0ClosedError, /closed/],
    ["a closed store", () => closed.store.get("x"), Mem0ClosedError, /closed/],
  ])("%s", async (_name, call, type, message) => {
    const failure = call();
    await expect(failure).rejects.toThrow(type);
    await expect(failure).rejects.toThrow(message);
  });
});

it("names the path when the store file cannot be opened", () => {
  const blocker = path.join(os.tmpdir(), `mem0-not-a-dir-${process.pid}`);
  fs.writeFileSync(blocker, "a file where a directory is expected");
  try {
    const open = () =>
      new Memory({
        embeddings: new OpenAIEmbeddings({ apiKey: "test" }),
        path: path.join(blocker, "memory.db"),
      });
    expect(open).toThrow(Mem0ConfigError);
    expect(open).toThrow(/Cannot open the memory store at .*mem0-not-a-dir-\d+\/memory\.db/);
  } finally {
    fs.rmSync(blocker, { force: true });
  }
});

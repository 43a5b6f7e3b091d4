import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory } from "../src/backends/memory.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import { EmbedderMismatchError, MemoryExtractionError, MissingScopeError } from "../src/errors.js";
import type { MetadataFilter } from "../src/stores/filters.js";
import { SqliteStore } from "../src/stores/sqlite.js";
import { FakeOpenAIServer, HashEmbeddings, parseExtractionInput } from "../src/testing/index.js";

let server: FakeOpenAIServer;
let dir: string;

beforeAll(async () => {
  server = await FakeOpenAIServer.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-engine-"));
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => server.reset());

const ops = (
  add: string[] = [],
  update: { id: number; text: string }[] = [],
  del: number[] = [],
) => ({
  json: { add, update, delete: del.map((id) => ({ id })) },
});

const chatModel = () =>
  new ChatOpenAI({
    model: "gpt-4o-mini",
    apiKey: "test",
    configuration: { baseURL: server.baseURL },
    maxRetries: 0,
  });

let fileCounter = 0;
function newMemory(options: { path?: string; keywordWeight?: number } = {}) {
  const llm = chatModel();
  const embeddings = new OpenAIEmbeddings({
    model: "text-embedding-3-small",
    apiKey: "test",
    configuration: { baseURL: server.baseURL },
  });
  const file = options.path ?? path.join(dir, `memory-${fileCounter++}.db`);
  return {
    memory: new Memory({ llm, embeddings, path: file, keywordWeight: options.keywordWeight }),
    file,
  };
}

const alice = { userId: "alice" };

describe("Memory.add with inference", () => {
  it("makes one LLM call and at most two embedding requests, offering small integer ids", async () => {
    const { memory } = newMemory();
    server.enqueue(ops(["User's name is Alice", "User lives in Paris", "User likes green tea"]));
    const first = await memory.add(
      [{ role: "user", content: "Hi, I'm Alice from Paris and I love green tea" }],
      alice,
    );
    expect(first.results.map((r) => r.event)).toEqual(["ADD", "ADD", "ADD"]);
    expect(server.chatRequests).toHaveLength(1);
    expect(server.embeddingRequests.length).toBeLessThanOrEqual(2);

    server.clearRecords();
    server.enqueue(ops([], [{ id: 0, text: "User lives in Berlin" }]));
    const second = await memory.add(
      [{ role: "user", content: "I moved from Paris to Berlin last month" }],
      alice,
    );
    const prompt = server.chatRequests[0].lastUserText;
    expect(parseExtractionInput(prompt).existing).toContainEqual({
      id: 0,
      text: "User lives in Paris",
    });
    expect(prompt).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(server.chatRequests).toHaveLength(1);
    expect(server.embeddingRequests.length).toBeLessThanOrEqual(2);
    expect(second.results).toEqual([
      expect.objectContaining({
        event: "UPDATE",
        memory: "User lives in Berlin",
        previousMemory: "User lives in Paris",
      }),
    ]);
    const all = (await memory.getAll(alice)).results.map((m) => m.memory).sort();
    expect(all).toEqual(["User likes green tea", "User lives in Berlin", "User's name is Alice"]);
    const history = await memory.history(second.results[0].id);
    expect(history.map((h) => [h.action, h.previous_value, h.new_value])).toEqual([
      ["UPDATE", "User lives in Paris", "User lives in Berlin"],
      ["ADD", null, "User lives in Paris"],
    ]);
    await memory.close();
  });

  it("deletes a memory the user asks to forget and ignores ids that were not offered", async () => {
    const { memory } = newMemory();
    server.enqueue(ops(["User smokes"]));
    const [{ id }] = (await memory.add(["I smoke"], alice)).results;
    server.enqueue(ops([], [{ id: 7, text: "bogus" }], [0, 42]));
    const result = await memory.add(["Please forget that I smoke, I quit"], alice);
    expect(result.results).toEqual([
      {
        id,
        memory: "User smokes",
        event: "DELETE",
        previousMemory: "User smokes",
        metadata: { event: "DELETE", previousMemory: "User smokes" },
      },
    ]);
    expect(await memory.get(id)).toBeNull();
    expect((await memory.history(id)).map((h) => h.action)).toEqual(["DELETE", "ADD"]);
    await memory.close();
  });

  it("shows earlier messages of the scope as context and grounds dates", async () => {
    const { memory } = newMemory();
    server.enqueue(ops([]), ops(["User has a dentist appointment on 2026-03-06"]));
    await memory.add(["I need to see a dentist"], { ...alice, timestamp: "2026-03-01T10:00:00Z" });
    await memory.add(["It's booked for next Friday"], {
      ...alice,
      timestamp: "2026-03-01T10:05:00Z",
    });
    const input = parseExtractionInput(server.chatRequests[1].lastUserText);
    expect(input.date).toBe("2026-03-01 (Sunday)");
    expect(input.context).toEqual([{ role: "user", content: "I need to see a dentist" }]);
    expect(input.conversation).toEqual([{ role: "user", content: "It's booked for next Friday" }]);
    await memory.close();
  });

  it("leaves exactly one memory after 20 concurrent identical adds", async () => {
    const { memory } = newMemory();
    server.setHandler(() => ops(["User's favourite colour is blue"]));
    const results = await Promise.all(
      Array.from({ length: 20 }, () => memory.add(["My favourite colour is blue"], alice)),
    );
    expect(results.flatMap((r) => r.results)).toHaveLength(1);
    expect((await memory.getAll(alice)).results).toHaveLength(1);
    await memory.close();
  });

  it("repairs malformed output once, then raises MemoryExtractionError with the raw output", async () => {
    const { memory } = newMemory();
    server.enqueue("not json at all", ops(["User plays chess"]));
    const repaired = await memory.add(["I play chess"], alice);
    expect(repaired.results.map((r) => r.memory)).toEqual(["User plays chess"]);
    expect(server.chatRequests).toHaveLength(2);
    expect(server.chatRequests[1].lastUserText).toContain("could not be used");

    server.enqueue('{"add": ["truncated', '{"add": 3}');
    const failure = memory.add(["I play go"], alice);
    await expect(failure).rejects.toThrow(MemoryExtractionError);
    await expect(failure).rejects.toMatchObject({ rawOutput: '{"add": 3}' });

    server.enqueue("", "");
    await expect(memory.add(["I play go"], alice)).rejects.toThrow(MemoryExtractionError);
    expect((await memory.getAll(alice)).results.map((m) => m.memory)).toEqual(["User plays chess"]);
    await memory.close();
  });
});

describe("Memory storage and search", () => {
  it("stores messages verbatim with infer: false, in one embedding request", async () => {
    const { memory } = newMemory();
    const result = await memory.add(
      [
        { role: "system", content: "ignored" },
        { role: "user", content: "Verbatim one" },
        { role: "assistant", content: "Verbatim two" },
      ],
      { ...alice, infer: false, metadata: { source: "import" } },
    );
    expect(result.results.map((r) => r.memory)).toEqual(["Verbatim one", "Verbatim two"]);
    expect(server.chatRequests).toHaveLength(0);
    expect(server.embeddingRequests).toHaveLength(1);
    const item = await memory.get(result.results[1].id);
    expect(item?.metadata).toEqual({ source: "import", role: "assistant" });
    await memory.close();
  });

  it("finds a rare name by keyword that vector similarity alone ranks low", async () => {
    const filler = Array.from(
      { length: 40 },
      (_, i) => `user talked about the weekend plans with a friend number ${i}`,
    );
    const target = "Zbigniew fixed the bicycle";
    const query = "what did my friend Zbigniew do on the weekend with plans";
    const rankOf = async (keywordWeight: number) => {
      const { memory } = newMemory({ keywordWeight });
      await memory.add([...filler, target], { ...alice, infer: false });
      const { results } = await memory.search(query, { ...alice, topK: 10 });
      await memory.close();
      return results.findIndex((r) => r.memory === target);
    };
    expect(await rankOf(0)).toBe(-1);
    expect(await rankOf(0.3)).toBe(0);
  });

  it("filters on metadata before ranking", async () => {
    const { memory } = newMemory();
    await memory.add(["Apple pie recipe"], {
      ...alice,
      infer: false,
      metadata: { kind: "recipe", rating: 5 },
    });
    await memory.add(["Apple stock price"], {
      ...alice,
      infer: false,
      metadata: { kind: "finance", rating: 2 },
    });
    await memory.add(["Banana bread recipe"], {
      ...alice,
      infer: false,
      metadata: { kind: "recipe", rating: 3 },
    });
    const texts = async (filters: MetadataFilter) =>
      (await memory.search("apple", { ...alice, filters })).results.map((r) => r.memory).sort();
    expect(await texts({ kind: "recipe" })).toEqual(["Apple pie recipe", "Banana bread recipe"]);
    expect(await texts({ rating: { gte: 3 }, kind: { in: ["recipe"] } })).toEqual([
      "Apple pie recipe",
      "Banana bread recipe",
    ]);
    expect(await texts({ OR: [{ kind: "finance" }, { rating: 5 }] })).toEqual([
      "Apple pie recipe",
      "Apple stock price",
    ]);
    await expect(
      memory.search("apple", { ...alice, filters: { rating: { near: 3 } } as MetadataFilter }),
    ).rejects.toThrow(/unknown operator "near"/);
    await memory.close();
  });

  it("never shows one user's memories to another, for every method", async () => {
    const { memory } = newMemory();
    const bob = { userId: "bob" };
    const [aliceItem] = (
      await memory.add(["Alice secret passport number"], { ...alice, infer: false })
    ).results;
    await memory.add(["Bob secret passport number"], { ...bob, infer: false });
    await memory.add(["Alice run note"], { userId: "alice", runId: "r1", infer: false });
    const search = await memory.search("secret passport number", bob);
    expect(search.results.map((r) => r.memory)).toEqual(["Bob secret passport number"]);
    expect((await memory.getAll(bob)).results.map((r) => r.memory)).toEqual([
      "Bob secret passport number",
    ]);
    expect((await memory.getAll(alice)).results).toHaveLength(2);
    expect((await memory.getAll({ userId: "alice", runId: "r2" })).results).toHaveLength(0);
    await memory.deleteAll(bob);
    expect(await memory.get(aliceItem.id)).not.toBeNull();
    expect((await memory.getAll(alice)).results).toHaveLength(2);
    await expect(memory.search("x", {})).rejects.toThrow(/userId, agentId or runId/);
    await expect(memory.search("x", {})).rejects.toThrow(MissingScopeError);
    await memory.close();
  });

  it("persists across re-opening the file and refuses another embedder", async () => {
    const { memory, file } = newMemory();
    await memory.add(["Persistent fact about sailing"], { ...alice, infer: false });
    await memory.close();
    const reopened = newMemory({ path: file }).memory;
    expect((await reopened.search("sailing", alice)).results[0].memory).toBe(
      "Persistent fact about sailing",
    );
    await reopened.close();
    const other = new Memory({ embeddings: new HashEmbeddings({ dimensions: 64 }), path: file });
    await expect(other.search("sailing", alice)).rejects.toThrow(EmbedderMismatchError);
    await other.close();
  });

  it("updates and deletes through the API with history, and deleteAll leaves nothing of the scope", async () => {
    const { memory, file } = newMemory();
    const [item] = (await memory.add(["Likes jazz"], { ...alice, infer: false })).results;
    const updated = await memory.update(item.id, {
      text: "Likes jazz and blues",
      metadata: { genre: "music" },
    });
    expect(updated).toEqual({ message: "Memory updated successfully!" });
    expect(await memory.get(item.id)).toMatchObject({
      memory: "Likes jazz and blues",
      metadata: { genre: "music", role: "user" },
    });
    expect((await memory.history(item.id)).map((h) => [h.action, h.actor])).toEqual([
      ["UPDATE", "api"],
      ["ADD", "user"],
    ]);
    await memory.add(["Bob likes rock"], { userId: "bob", infer: false });
    server.enqueue(ops(["Alice has a cat"]));
    await memory.add(["I have a cat"], alice);
    await memory.deleteAll(alice);
    expect((await memory.getAll(alice)).results).toHaveLength(0);
    expect(await memory.history(item.id)).toEqual([]);
    await memory.close();
    const db = new Database(file, { readonly: true });
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    expect(count("select count(*) n from memories where user_id = 'alice'")).toBe(0);
    expect(count("select count(*) n from history where user_id = 'alice'")).toBe(0);
    expect(count("select count(*) n from messages where user_id = 'alice'")).toBe(0);
    expect(count("select count(*) n from memories where user_id = 'bob'")).toBe(1);
    db.close();
  });
});

describe("Mem0ChatModel on the local engine", () => {
  it("chats, stores in the background, and the next chat sees the fact", async () => {
    const { memory } = newMemory();
    const chat = chatModel();
    const model = new Mem0ChatModel({ model: chat, memory, userId: "alice" });
    server.setHandler((request) => {
      if (request.response_format || request.tools) return ops(["User's dog is called Rex"]);
      return request.lastUserText.includes("Rex") ? "Your dog is Rex." : "Nice to meet your dog!";
    });
    await model.invoke("My dog is called Rex");
    await model.flush();
    expect((await memory.getAll(alice)).results.map((m) => m.memory)).toEqual([
      "User's dog is called Rex",
    ]);
    const answer = await model.invoke("What is my dog called?");
    expect(answer.content).toBe("Your dog is Rex.");
    const lastChat = server.chatRequests.filter((r) => !r.response_format && !r.tools).at(-1)!;
    expect(lastChat.lastUserText).toMatch(
      /<memory_context>[\s\S]*User's dog is called Rex[\s\S]*What is my dog called\?$/,
    );
    await model.close();
    await memory.close();
  });

  it("routes an unusable extraction to onError without retrying or breaking the chat", async () => {
    const { memory } = newMemory();
    const chat = chatModel();
    const errors: unknown[] = [];
    const model = new Mem0ChatModel({
      model: chat,
      memory,
      userId: "alice",
      onError: (error) => errors.push(error),
    });
    server.setHandler((request) =>
      request.response_format || request.tools ? "garbage" : "Fine.",
    );
    expect((await model.invoke("I like kites")).content).toBe("Fine.");
    await model.flush();
    expect(errors).toEqual([expect.any(MemoryExtractionError)]);
    expect(server.chatRequests).toHaveLength(3); // the answer, the extraction and its one repair
    await model.close();
    await memory.close();
  });
});

it("SqliteStore is the default store", () => {
  const memory = new Memory({ embeddings: new HashEmbeddings(), path: ":memory:" });
  expect(memory.store).toBeInstanceOf(SqliteStore);
});

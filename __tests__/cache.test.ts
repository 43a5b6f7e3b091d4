/**
 * LangChain's `cache` on Mem0ChatModel: an answer is only served again for the same final
 * prompt (memories included), the same inner model and the same scope, and a cache hit is
 * stored like any answer.
 */
import { InMemoryCache } from "@langchain/core/caches";
import { ChatOpenAI } from "@langchain/openai";
import { Mem0ChatModel } from "../src/chat_models.js";
import { FakeOpenAIServer } from "../src/testing/index.js";
import { FakeMemoryBackend } from "./utils/fakes.js";

let server: FakeOpenAIServer;
beforeAll(async () => {
  server = await FakeOpenAIServer.start();
});
afterAll(async () => server.close());
beforeEach(() => {
  server.reset();
  server.setHandler(
    (request) => `answer #${server.chatRequests.length} to: ${request.lastUserText}`,
  );
});

const chat = (model = "gpt-4o-mini") =>
  new ChatOpenAI({ model, apiKey: "test", configuration: { baseURL: server.baseURL } });

describe("cache: true on Mem0ChatModel", () => {
  it("never serves one user's answer to another, whatever their memories", async () => {
    const memory = new FakeMemoryBackend();
    memory.remember("Dave's locker code is 4321", { userId: "dave" });
    const errors: unknown[] = [];
    const wrap = (userId: string) =>
      new Mem0ChatModel({
        model: chat(),
        memory,
        userId,
        cache: true,
        onError: (error) => errors.push(error),
      });
    const dave = wrap("dave");
    const erin = wrap("erin");
    const question = `What is my locker code? (${Date.now()})`;
    const daves = await dave.invoke(question);
    const erins = await erin.invoke(question);
    expect(server.chatRequests).toHaveLength(2);
    expect(erins.content).not.toBe(daves.content);
    expect(server.chatRequests[1].lastUserText).not.toContain("4321");
    // Same user, same memories, same question: served from the cache.
    const again = await dave.invoke(question);
    expect(server.chatRequests).toHaveLength(2);
    expect(again.content).toBe(daves.content);
    expect(again.usage_metadata?.total_tokens).toBe(0);
    await Promise.all([dave.flush(), erin.flush()]);
    // Every answer was stored, the cached one too, under its own scope and without errors.
    expect(errors).toEqual([]);
    expect(memory.adds.map((add) => add.scope.userId)).toEqual(["dave", "erin", "dave"]);
  });

  it("keys on the injected memories: a new memory means a new answer", async () => {
    const memory = new FakeMemoryBackend();
    const model = new Mem0ChatModel({
      model: chat(),
      memory,
      userId: "alice",
      cache: new InMemoryCache(),
    });
    await model.invoke("Where do I live?");
    memory.remember("Alice lives in Oslo", { userId: "alice" });
    await model.invoke("Where do I live?");
    expect(server.chatRequests).toHaveLength(2);
    await model.invoke("Where do I live?");
    expect(server.chatRequests).toHaveLength(2);
  });

  it("keys on the inner model and on per-call ids", async () => {
    const cache = new InMemoryCache();
    const memory = new FakeMemoryBackend();
    const mini = new Mem0ChatModel({ model: chat("gpt-4o-mini"), memory, userId: "alice", cache });
    const large = new Mem0ChatModel({ model: chat("gpt-4o"), memory, userId: "alice", cache });
    await mini.invoke("hello");
    await large.invoke("hello");
    expect(server.chatRequests.map((r) => r.model)).toEqual(["gpt-4o-mini", "gpt-4o"]);
    await mini.invoke("hello", { configurable: { user_id: "bob" } });
    await mini.invoke("hello", { user_id: "carol" });
    expect(server.chatRequests).toHaveLength(4);
    await mini.invoke("hello", { configurable: { user_id: "bob" } });
    expect(server.chatRequests).toHaveLength(4);
  });
});

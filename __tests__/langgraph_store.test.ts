import {
  Annotation,
  END,
  START,
  StateGraph,
  type LangGraphRunnableConfig,
} from "@langchain/langgraph";
import type { Memory } from "../src/backends/memory.js";
import { Mem0ConfigError, Mem0InputError } from "../src/errors.js";
import { Mem0Store } from "../src/integrations/langgraph_store.js";
import { ScriptedServer, newMemory, tempDir } from "./utils/memory_env.js";

let server: ScriptedServer;
const temp = tempDir("mem0-lgstore-");
let memory: Memory;
let store: Mem0Store;
beforeAll(async () => {
  server = await ScriptedServer.start();
});
afterAll(async () => {
  await server.close();
  temp.cleanup();
});
beforeEach(() => {
  memory = newMemory(server, temp.dir);
  store = new Mem0Store({ memory });
});
afterEach(async () => memory.close());

describe("Mem0Store", () => {
  it("round-trips put, get, search and delete inside a LangGraph graph", async () => {
    const State = Annotation.Root({
      found: Annotation<string[]>(),
      fetched: Annotation<unknown>(),
      afterDelete: Annotation<unknown>(),
    });
    const namespace = (config: LangGraphRunnableConfig) => [
      "memories",
      String(config.configurable?.user_id),
    ];
    const graph = new StateGraph(State)
      .addNode("remember", async (_state, config) => {
        await config.store!.put(namespace(config), "food", {
          content: "Prefers vegetarian food",
          kind: "preference",
        });
        await config.store!.put(namespace(config), "sport", {
          content: "Plays tennis on Sundays",
          kind: "habit",
        });
        return {};
      })
      .addNode("recall", async (_state, config) => {
        const found = await config.store!.search(namespace(config), {
          query: "what does the user like to eat",
          limit: 1,
        });
        const fetched = await config.store!.get(namespace(config), "food");
        return { found: found.map((item) => item.key), fetched: fetched?.value };
      })
      .addNode("forget", async (_state, config) => {
        await config.store!.delete(namespace(config), "food");
        return { afterDelete: await config.store!.get(namespace(config), "food") };
      })
      .addEdge(START, "remember")
      .addEdge("remember", "recall")
      .addEdge("recall", "forget")
      .addEdge("forget", END)
      .compile({ store });

    const result = await graph.invoke({}, { configurable: { user_id: "alice" } });
    expect(result.found).toEqual(["food"]);
    expect(result.fetched).toEqual({ content: "Prefers vegetarian food", kind: "preference" });
    expect(result.afterDelete).toBeNull();
    // The graph wrote real memories of Alice, visible to everything else that reads them.
    const left = (await memory.getAll({ userId: "alice" })).results;
    expect(left.map((item) => item.memory)).toEqual(["Plays tennis on Sundays"]);
    expect(await memory.outbox()).toEqual([]);
  });

  it("shows memories stored elsewhere, updates in place, and filters on value fields", async () => {
    await memory.add("Alice is allergic to cats", { userId: "alice", infer: false });
    const ns = ["memories", "alice"];
    await store.put(ns, "city", { content: "Lives in Oslo", kind: "fact", confidence: 2 });
    await store.put(ns, "city", { content: "Lives in Bergen", kind: "fact", confidence: 3 });
    const all = await store.search(ns);
    expect(all.map((item) => item.value.content ?? item.value).sort()).toEqual([
      "Alice is allergic to cats",
      "Lives in Bergen",
    ]);
    const extracted = all.find((item) => item.key !== "city")!;
    expect(extracted.namespace).toEqual(ns);
    expect(await store.get(ns, extracted.key)).toMatchObject({
      value: { content: "Alice is allergic to cats" },
    });
    const city = await store.get(ns, "city");
    expect(city?.value).toEqual({ content: "Lives in Bergen", kind: "fact", confidence: 3 });
    expect(city?.updatedAt.getTime()).toBeGreaterThanOrEqual(city!.createdAt.getTime());
    expect((await store.search(ns, { filter: { kind: "fact" } })).map((i) => i.key)).toEqual([
      "city",
    ]);
    expect(
      (await store.search(ns, { filter: { confidence: { $gte: 3 } } })).map((i) => i.key),
    ).toEqual(["city"]);
    expect(await store.search(ns, { filter: { confidence: { $lt: 3 } } })).toEqual([]);
    const scored = await store.search(ns, { query: "Bergen", limit: 1 });
    expect(scored[0]).toMatchObject({ key: "city", score: expect.any(Number) });
    expect((await store.search(ns, { limit: 1, offset: 1 })).length).toBe(1);
  });

  it("stays inside the owner its namespace names", async () => {
    await store.put(["memories", "bob"], "pin", { content: "Bob's PIN is 1234" });
    const [bobs] = (await memory.getAll({ userId: "bob" })).results;
    const alice = ["memories", "alice"];
    expect(await store.get(alice, "pin")).toBeNull();
    expect(await store.get(alice, bobs.id)).toBeNull();
    expect(await store.search(alice, { query: "PIN" })).toEqual([]);
    await store.delete(alice, "pin");
    await store.delete(alice, bobs.id);
    expect((await memory.getAll({ userId: "bob" })).results).toHaveLength(1);

    await expect(store.search(["memories"])).rejects.toThrow(/names no owner/);
    await expect(store.get(["other", "alice"], "k")).rejects.toThrow(Mem0InputError);
    await expect(store.get(["memories", "alice", "x"], "k")).rejects.toThrow(/layout/);
    await expect(store.listNamespaces()).rejects.toThrow(/prefix that names it/);
  });

  it("maps custom layouts and lists an owner's namespaces", async () => {
    const byAgent = new Mem0Store({ memory, namespace: ["{user_id}", "agents", "{agent_id}"] });
    await byAgent.put(["alice", "agents", "chef"], "diet", { content: "Alice eats no meat" });
    await byAgent.put(["alice", "agents", "coach"], "goal", { content: "Alice runs 10k" });
    await byAgent.put(["bob", "agents", "chef"], "diet", { content: "Bob eats fish" });
    expect((await memory.getAll({ userId: "alice", agentId: "chef" })).results).toHaveLength(1);
    expect(await byAgent.listNamespaces({ prefix: ["alice"] })).toEqual([
      ["alice", "agents", "chef"],
      ["alice", "agents", "coach"],
    ]);
    expect(await byAgent.listNamespaces({ prefix: ["alice"], suffix: ["coach"] })).toEqual([
      ["alice", "agents", "coach"],
    ]);
    expect(await byAgent.listNamespaces({ prefix: ["alice"], maxDepth: 2 })).toEqual([
      ["alice", "agents"],
    ]);
    // A user-level prefix searches every agent of that user, and no one else.
    const found = await byAgent.search(["alice"], { query: "eats" });
    expect(found.map((item) => item.value.content).sort()).toEqual([
      "Alice eats no meat",
      "Alice runs 10k",
    ]);
    expect(() => new Mem0Store({ memory, namespace: ["memories"] })).toThrow(Mem0ConfigError);
  });
});

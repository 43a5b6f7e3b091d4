import { HumanMessage, ToolMessage, type AIMessage } from "@langchain/core/messages";
import { tool, type StructuredToolInterface } from "@langchain/core/tools";
import { createAgent } from "langchain";
import { z } from "zod";
import type { Memory } from "../src/backends/memory.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import { Mem0ConfigError, Mem0InputError, MissingScopeError } from "../src/errors.js";
import { createMemoryTools } from "../src/tools.js";
import { ScriptedServer, newMemory, tempDir } from "./utils/memory_env.js";

let server: ScriptedServer;
const temp = tempDir("mem0-tools-");
beforeAll(async () => {
  server = await ScriptedServer.start();
});
afterAll(async () => {
  await server.close();
  temp.cleanup();
});
let memory: Memory;
beforeEach(() => {
  server.reset();
  memory = newMemory(server, temp.dir);
});
afterEach(async () => memory.close());

const alice = { userId: "alice" };
const bob = { userId: "bob" };

function byName(tools: StructuredToolInterface[]) {
  return Object.fromEntries(tools.map((t) => [t.name, t]));
}

async function texts(scope: { userId: string }) {
  return (await memory.getAll(scope)).results.map((item) => item.memory).sort();
}

describe("createMemoryTools", () => {
  it("saves, finds, updates and forgets a memory of the bound user", async () => {
    const tools = byName(createMemoryTools(memory, { userId: "alice", infer: false }));
    expect(Object.keys(tools)).toEqual([
      "search_memory",
      "save_memory",
      "update_memory",
      "forget_memory",
    ]);

    const saved = JSON.parse(await tools.save_memory.invoke({ memory: "Alice is vegetarian" }));
    expect(saved.saved).toEqual([
      { id: expect.any(String), memory: "Alice is vegetarian", event: "ADD" },
    ]);
    const id = saved.saved[0].id;
    expect(await texts(alice)).toEqual(["Alice is vegetarian"]);

    const found = JSON.parse(await tools.search_memory.invoke({ query: "vegetarian food" }));
    expect(found.memories).toEqual([
      { id, memory: "Alice is vegetarian", score: expect.any(Number) },
    ]);

    const updated = JSON.parse(
      await tools.update_memory.invoke({ memory_id: id, memory: "Alice is vegan" }),
    );
    expect(updated).toEqual({ updated: { id, memory: "Alice is vegan" } });
    expect(await texts(alice)).toEqual(["Alice is vegan"]);

    const forgotten = JSON.parse(await tools.forget_memory.invoke({ memory_id: id }));
    expect(forgotten).toEqual({ forgotten: { id, memory: "Alice is vegan" } });
    expect(await texts(alice)).toEqual([]);
    expect((await memory.history(id)).map((entry) => entry.action)).toEqual([
      "DELETE",
      "UPDATE",
      "ADD",
    ]);
  });

  it("cannot reach another user's memories, even when the model names that user", async () => {
    await memory.add("Bob's bank PIN is 4321", { ...bob, infer: false });
    const [bobsMemory] = (await memory.getAll(bob)).results;
    const tools = byName(createMemoryTools(memory, { userId: "alice", infer: false }));

    // Extra arguments the model invents are dropped by the schema: the scope stays alice's.
    const found = JSON.parse(
      await tools.search_memory.invoke({
        query: "bank PIN",
        user_id: "bob",
        userId: "bob",
        filters: { user_id: "bob" },
      } as never),
    );
    expect(found.memories).toEqual([]);
    await tools.save_memory.invoke({ memory: "I like chess", user_id: "bob" } as never);
    expect(await texts(bob)).toEqual(["Bob's bank PIN is 4321"]);
    expect(await texts(alice)).toEqual(["I like chess"]);

    // Another scope's id is answered like an unknown id, and nothing changes.
    const foreign = tools.update_memory.invoke({ memory_id: bobsMemory.id, memory: "hacked" });
    await expect(foreign).rejects.toThrow(Mem0InputError);
    await expect(foreign).rejects.toThrow(`No memory with id "${bobsMemory.id}" in this`);
    const unknown = tools.forget_memory.invoke({
      memory_id: "00000000-0000-0000-0000-000000000000",
    });
    await expect(unknown).rejects.toThrow("No memory with id");
    await expect(tools.forget_memory.invoke({ memory_id: bobsMemory.id })).rejects.toThrow(
      Mem0InputError,
    );
    expect(await texts(bob)).toEqual(["Bob's bank PIN is 4321"]);
  });

  it("takes the scope per run from context or configurable, never from arguments", async () => {
    const tools = byName(createMemoryTools(memory, { infer: false }));
    await tools.save_memory.invoke({ memory: "Context user fact" }, {
      context: { userId: "carol" },
    } as never);
    await tools.save_memory.invoke(
      { memory: "Configurable user fact" },
      { configurable: { user_id: "dave" } },
    );
    expect(await texts({ userId: "carol" })).toEqual(["Context user fact"]);
    expect(await texts({ userId: "dave" })).toEqual(["Configurable user fact"]);
    await expect(
      tools.save_memory.invoke({ memory: "nobody's", user_id: "eve" } as never),
    ).rejects.toThrow(MissingScopeError);
  });

  it("saves through the engine's extraction and the durable outbox by default", async () => {
    const tools = byName(createMemoryTools(memory, { userId: "alice" }));
    const saved = JSON.parse(await tools.save_memory.invoke({ memory: "I live in Oslo." }));
    expect(saved.saved.map((event: { memory: string }) => event.memory)).toEqual([
      "User: I live in Oslo.",
    ]);
    expect(await memory.outbox()).toEqual([]);
  });

  it("validates its options", () => {
    expect(() => createMemoryTools(memory, { topK: 0 })).toThrow(Mem0ConfigError);
    expect(() => createMemoryTools(memory, { include: ["nope" as never] })).toThrow(
      Mem0ConfigError,
    );
    expect(() => createMemoryTools({} as never)).toThrow(Mem0ConfigError);
    expect(createMemoryTools(memory, { include: ["search_memory"] }).map((t) => t.name)).toEqual([
      "search_memory",
    ]);
  });

  it("serve a createAgent agent whose model asks for another user", async () => {
    await memory.add("Bob is allergic to nuts", { ...bob, infer: false });
    const agent = createAgent({
      model: server.chatModel(),
      tools: createMemoryTools(memory, { infer: false }),
    });
    server.script(
      {
        toolCalls: [
          { name: "save_memory", arguments: { memory: "Alice owns a cat", user_id: "bob" } },
          { name: "search_memory", arguments: { query: "allergic nuts", user_id: "bob" } },
        ],
      },
      "Done.",
    );
    const result = await agent.invoke(
      { messages: [new HumanMessage("Remember my cat, and what is Bob allergic to?")] },
      { context: { userId: "alice" } } as never,
    );
    const toolResults = result.messages.filter(ToolMessage.isInstance);
    expect(JSON.parse(toolResults[1].content as string).memories).toEqual([]);
    expect(await texts(alice)).toEqual(["Alice owns a cat"]);
    expect(await texts(bob)).toEqual(["Bob is allergic to nuts"]);
  });
});

const weather = tool(async ({ city }) => `Sunny in ${city}`, {
  name: "get_weather",
  description: "Weather of a city",
  schema: z.object({ city: z.string() }),
});

describe("Mem0ChatModel with memoryTools", () => {
  function wrapper(fields: Partial<ConstructorParameters<typeof Mem0ChatModel>[0]> = {}) {
    return new Mem0ChatModel({
      model: server.chatModel(),
      memory,
      userId: "alice",
      memoryTools: { infer: false },
      ...fields,
    });
  }

  it("runs memory tool calls itself and answers with their results", async () => {
    await memory.add("Alice's sister is called Ingrid", { ...alice, infer: false });
    const model = wrapper({ retrieval: "off" });
    server.script(
      { toolCalls: [{ name: "search_memory", arguments: { query: "sister name" } }] },
      (request) =>
        `Your sister: ${JSON.parse(String(request.messages.at(-1)?.content)).memories[0].memory}`,
    );
    const answer = await model.invoke("What is my sister called?");
    expect(answer.content).toBe("Your sister: Alice's sister is called Ingrid");
    expect(answer.tool_calls).toEqual([]);
    expect(answer.usage_metadata?.total_tokens).toBeGreaterThan(0);
    const [first, second] = server.requests;
    expect(first.tools?.map((t) => t.function?.name)).toEqual([
      "search_memory",
      "save_memory",
      "update_memory",
      "forget_memory",
    ]);
    expect(second.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool"]);
    await model.close();
  });

  it("binds the memory tools next to the caller's tools and returns only the caller's calls", async () => {
    const model = wrapper().bindTools([weather]);
    server.script({
      toolCalls: [
        { name: "save_memory", arguments: { memory: "Alice is in Rome" } },
        { name: "get_weather", arguments: { city: "Rome" } },
      ],
    });
    const answer = (await model.invoke("I'm in Rome, how is the weather?")) as AIMessage;
    expect(answer.tool_calls?.map((call) => call.name)).toEqual(["get_weather"]);
    expect(server.requests[0].tools?.map((t) => t.function?.name)).toEqual([
      "search_memory",
      "save_memory",
      "update_memory",
      "forget_memory",
      "get_weather",
    ]);
    expect(await texts(alice)).toEqual(["Alice is in Rome"]);
    await model.close();
  });

  it("streams the answer without memory tool calls", async () => {
    const model = wrapper({ retrieval: "off" }).bindTools([weather]);
    server.script(
      { toolCalls: [{ name: "save_memory", arguments: { memory: "Alice likes sun" } }] },
      { toolCalls: [{ name: "get_weather", arguments: { city: "Nice" } }] },
    );
    let aggregate;
    for await (const chunk of await model.stream("I like sun. Weather in Nice?")) {
      aggregate = aggregate ? aggregate.concat(chunk) : chunk;
    }
    expect(aggregate?.tool_calls?.map((call) => [call.name, call.args])).toEqual([
      ["get_weather", { city: "Nice" }],
    ]);
    expect(await texts(alice)).toEqual(["Alice likes sun"]);
    const plain = wrapper({ retrieval: "off" });
    server.script(
      { toolCalls: [{ name: "search_memory", arguments: { query: "sun" } }] },
      "You like sun.",
    );
    const chunks: string[] = [];
    for await (const chunk of await plain.stream("What do I like?")) {
      expect(chunk.tool_call_chunks ?? []).toEqual([]);
      chunks.push(chunk.content as string);
    }
    expect(chunks.join("")).toBe("You like sun.");
    await model.close();
    await plain.close();
  });

  it("stops after maxRounds and never loops on memory tools", async () => {
    const model = wrapper({ retrieval: "off", memoryTools: { infer: false, maxRounds: 2 } });
    const search = { toolCalls: [{ name: "search_memory", arguments: { query: "x" } }] };
    server.script(search, search, search);
    const answer = await model.invoke("Loop?");
    expect(answer.tool_calls).toEqual([]);
    expect(server.requests).toHaveLength(2);
    await model.close();
  });

  it("is accepted by createAgent next to the agent's own tools", async () => {
    const model = wrapper({ retrieval: "off" });
    const agent = createAgent({ model, tools: [weather] });
    server.script(
      {
        toolCalls: [{ name: "save_memory", arguments: { memory: "Alice travels to Lima" } }],
      },
      { toolCalls: [{ name: "get_weather", arguments: { city: "Lima" } }] },
      "Sunny in Lima.",
    );
    const result = await agent.invoke({
      messages: [new HumanMessage("I travel to Lima. Weather there?")],
    });
    expect(result.messages.at(-1)?.content).toBe("Sunny in Lima.");
    expect(result.messages.filter(ToolMessage.isInstance).map((m) => m.name)).toEqual([
      "get_weather",
    ]);
    expect(await texts(alice)).toEqual(["Alice travels to Lima"]);
    await model.close();
  });

  it("refuses memoryTools around a model with tools bound already, or a runnable", () => {
    const bound = server.chatModel().bindTools([weather]);
    expect(() => wrapper({ model: bound as never })).toThrow(Mem0ConfigError);
    expect(() => wrapper({ model: bound as never })).toThrow("model.bindTools(tools)");
    expect(() => wrapper({ model: server.chatModel().withRetry() as never })).toThrow(
      Mem0ConfigError,
    );
  });
});

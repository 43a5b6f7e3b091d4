import { jest } from "@jest/globals";
import {
  AIMessage,
  HumanMessage,
  SystemMessage,
  ToolMessage,
  type BaseMessage,
} from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { createAgent, providerStrategy, toolStrategy } from "langchain";
import { z } from "zod";
import type { Memory } from "../src/backends/memory.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import { Mem0ConfigError } from "../src/errors.js";
import { agentTurn, mem0Middleware } from "../src/integrations/middleware.js";
import { messageText } from "../src/messages.js";
import type { FakeChatMessage, FakeChatRequest } from "../src/testing/index.js";
import { ScriptedServer, newMemory, tempDir } from "./utils/memory_env.js";

let server: ScriptedServer;
const temp = tempDir("mem0-middleware-");
let memory: Memory;
beforeAll(async () => {
  server = await ScriptedServer.start();
});
afterAll(async () => {
  await server.close();
  temp.cleanup();
});
beforeEach(async () => {
  server.reset();
  memory = newMemory(server, temp.dir);
  await memory.add("Alice lives in Oslo", { userId: "alice", infer: false });
  await memory.add("Bob lives in Lisbon", { userId: "bob", infer: false });
});
const middlewares: { flush(): Promise<boolean> }[] = [];
/** A middleware whose writes are waited for before the memory closes. */
function middlewareFor(options: Omit<Parameters<typeof mem0Middleware>[0], "memory"> = {}) {
  const created = mem0Middleware({ memory, ...options });
  middlewares.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(middlewares.splice(0).map((m) => m.flush()));
  jest.restoreAllMocks();
  await memory.close();
});

const weather = tool(async ({ city }) => `Rain in ${city}, 7°C`, {
  name: "get_weather",
  description: "Current weather in a city",
  schema: z.object({ city: z.string() }),
});

function text(message: FakeChatMessage | undefined): string {
  const content = message?.content;
  return typeof content === "string" ? content : (content ?? []).map((b) => b.text).join("");
}

/** Records every conversation the middleware hands to storage. */
function recordWrites() {
  const enqueue = jest.spyOn(memory, "enqueue");
  return () =>
    enqueue.mock.calls.map(([messages]) => (messages as BaseMessage[]).map((m) => messageText(m)));
}

describe("mem0Middleware with createAgent", () => {
  it("answers with a stored memory through a tool and stores the turn once", async () => {
    const writes = recordWrites();
    const memoryMiddleware = middlewareFor();
    const agent = createAgent({
      model: server.chatModel(),
      tools: [weather],
      middleware: [memoryMiddleware],
    });
    server.script(
      (request) => {
        const city = /Alice lives in (\w+)/.exec(request.lastUserText)?.[1] ?? "nowhere";
        return { toolCalls: [{ name: "get_weather", arguments: { city } }] };
      },
      (request) => {
        // The tool round still has the memories of the user's turn.
        expect(text(request.messages.find((m) => m.role === "user"))).toContain(
          "Alice lives in Oslo",
        );
        return `Take a raincoat: ${text(request.messages.at(-1))}.`;
      },
    );
    const result = await agent.invoke(
      { messages: [new HumanMessage("Do I need a raincoat today?")] },
      { context: { userId: "alice" } },
    );
    expect(result.messages.at(-1)?.content).toBe("Take a raincoat: Rain in Oslo, 7°C.");
    const firstUser = text(server.requests[0].messages.find((m) => m.role === "user"));
    expect(firstUser).toMatch(/<memory_context>[\s\S]*Alice lives in Oslo[\s\S]*Do I need/);
    expect(firstUser).not.toContain("Lisbon");
    // One write for the whole turn, committed before invoke returned.
    expect(writes()).toEqual([
      [
        "Do I need a raincoat today?",
        '[called tool get_weather with {"city":"Oslo"}]',
        "[tool get_weather result] Rain in Oslo, 7°C",
        "Take a raincoat: Rain in Oslo, 7°C.",
      ],
    ]);
    expect(await memoryMiddleware.flush()).toBe(true);
    expect(await memory.outbox()).toEqual([]);

    // The next turn stores only what is new.
    server.script("You are welcome.");
    await agent.invoke(
      { messages: [...result.messages, new HumanMessage("Thanks!")] },
      { context: { userId: "alice" } },
    );
    expect(writes()[1]).toEqual(["Thanks!", "You are welcome."]);
    await memoryMiddleware.close();
  });

  it("injects the same text as Mem0ChatModel for the same memories", async () => {
    const cases = [
      { injection: "user" as const, systemPrompt: undefined },
      { injection: "user" as const, systemPrompt: "You are terse." },
      { injection: "system" as const, systemPrompt: undefined },
      { injection: "system" as const, systemPrompt: "You are terse." },
    ];
    for (const { injection, systemPrompt } of cases) {
      const input = { messages: [new HumanMessage("Where do I live?")] };
      server.reset();
      const wrapper = new Mem0ChatModel({
        model: server.chatModel(),
        memory,
        injection,
        store: "off",
      });
      await createAgent({ model: wrapper, systemPrompt }).invoke(input, {
        configurable: { user_id: "alice" },
      });
      const viaWrapper = server.requests[0].messages;
      server.reset();
      await createAgent({
        model: server.chatModel(),
        systemPrompt,
        middleware: [middlewareFor({ injection, store: "off" })],
      }).invoke(input, { context: { userId: "alice" } });
      const viaMiddleware = server.requests[0].messages;
      expect(viaMiddleware).toEqual(viaWrapper);
      expect(viaMiddleware.map(text).join("\n")).toContain("Alice lives in Oslo");
    }
  });

  it("takes the scope from context, then configurable, then its options", async () => {
    const agent = createAgent({
      model: server.chatModel(),
      middleware: [middlewareFor({ userId: "bob", store: "off" })],
    });
    const ask = async (config: object) => {
      server.reset();
      await agent.invoke({ messages: [new HumanMessage("Where do I live?")] }, config);
      return server.requests[0].lastUserText;
    };
    expect(await ask({})).toContain("Bob lives in Lisbon");
    expect(await ask({ configurable: { user_id: "alice" } })).toContain("Alice lives in Oslo");
    const both = await ask({ context: { userId: "alice" }, configurable: { user_id: "bob" } });
    expect(both).toContain("Alice lives in Oslo");
    expect(both).not.toContain("Lisbon");

    const unscoped = createAgent({
      model: server.chatModel(),
      middleware: [middlewareFor({ store: "off" })],
    });
    await expect(unscoped.invoke({ messages: [new HumanMessage("Hi")] })).rejects.toThrow(
      /needs a memory scope[\s\S]*context/,
    );
  });

  it("works with a structured responseFormat, by tool and by provider", async () => {
    const schema = z.object({ city: z.string() });
    const formats = [toolStrategy(schema), providerStrategy(schema)] as const;
    for (const responseFormat of formats as unknown as ReturnType<typeof toolStrategy>[]) {
      server.reset();
      const writes = recordWrites();
      const agent = createAgent({
        model: server.chatModel(),
        responseFormat,
        middleware: [middlewareFor()],
      });
      server.script((request) => {
        const city = /Alice lives in (\w+)/.exec(request.lastUserText)?.[1];
        // The tool strategy offers the schema as a tool, the provider one as response_format.
        const structured = request.tools?.[0]?.function?.name;
        return structured
          ? { toolCalls: [{ name: structured, arguments: { city } }] }
          : { json: { city } };
      });
      const result = await agent.invoke(
        { messages: [new HumanMessage("Which city do I live in?")] },
        { context: { userId: "alice" } },
      );
      expect(result.structuredResponse).toEqual({ city: "Oslo" });
      expect(writes()).toHaveLength(1);
      expect(writes()[0][0]).toBe("Which city do I live in?");
      jest.restoreAllMocks();
      await Promise.all(middlewares.map((m) => m.flush()));
    }
  });

  it("streams tokens once, with no memory work in the stream", async () => {
    const writes = recordWrites();
    const agent = createAgent({
      model: server.chatModel(),
      tools: [weather],
      middleware: [middlewareFor()],
    });
    server.script(
      { toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }] },
      "Rainy in Oslo today, bring a coat.",
    );
    const tokens: string[] = [];
    for await (const [chunk] of await agent.stream(
      { messages: [new HumanMessage("Weather at home?")] },
      { context: { userId: "alice" }, streamMode: "messages" },
    )) {
      if (!ToolMessage.isInstance(chunk) && typeof chunk.content === "string") {
        tokens.push(chunk.content);
      }
    }
    expect(tokens.join("")).toBe("Rainy in Oslo today, bring a coat.");
    expect(tokens.join("")).not.toMatch(/memory_context|Alice lives/);
    expect(writes()).toHaveLength(1);
  });

  it("stores after every model call with storeOn: model_call", async () => {
    const writes = recordWrites();
    const agent = createAgent({
      model: server.chatModel(),
      tools: [weather],
      middleware: [middlewareFor({ storeOn: "model_call" })],
    });
    server.script({ toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }] }, "Rainy.");
    await agent.invoke(
      { messages: [new HumanMessage("Weather?")] },
      { context: { userId: "alice" } },
    );
    expect(writes()).toEqual([
      ["Weather?", '[called tool get_weather with {"city":"Oslo"}]'],
      ["[tool get_weather result] Rain in Oslo, 7°C", "Rainy."],
    ]);
  });

  it("gives the agent memory tools bound to the run's scope", async () => {
    const agent = createAgent({
      model: server.chatModel(),
      middleware: [middlewareFor({ memoryTools: { infer: false }, store: "off" })],
    });
    server.script((request: FakeChatRequest) => {
      expect(request.tools?.map((t) => t.function?.name)).toContain("save_memory");
      return {
        toolCalls: [
          { name: "save_memory", arguments: { memory: "Alice has a dog", user_id: "bob" } },
        ],
      };
    }, "Saved.");
    await agent.invoke(
      { messages: [new HumanMessage("Remember that I have a dog.")] },
      { context: { userId: "alice" } },
    );
    const texts = async (userId: string) =>
      (await memory.getAll({ userId })).results.map((m) => m.memory).sort();
    expect(await texts("alice")).toEqual(["Alice has a dog", "Alice lives in Oslo"]);
    expect(await texts("bob")).toEqual(["Bob lives in Lisbon"]);
  });

  it("validates its options", () => {
    expect(() => mem0Middleware({} as never)).toThrow(Mem0ConfigError);
    expect(() => middlewareFor({ storeOn: "never" as never })).toThrow(Mem0ConfigError);
  });
});

describe("agentTurn", () => {
  it("is everything after the previous final answer, without system messages", () => {
    const turn = agentTurn([
      new SystemMessage("sys"),
      new HumanMessage("a"),
      new AIMessage("b"),
      new HumanMessage("c"),
      new AIMessage({ content: "", tool_calls: [{ id: "1", name: "t", args: {} }] }),
      new ToolMessage({ content: "e", tool_call_id: "1" }),
      new AIMessage("f"),
    ]);
    expect(turn.map((m) => m.content)).toEqual(["c", "", "e", "f"]);
    expect(agentTurn([new AIMessage("only an answer")])).toEqual([]);
  });
});

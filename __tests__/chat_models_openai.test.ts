import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import { tool } from "@langchain/core/tools";
import { AIMessage, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import type { ChatGeneration, LLMResult } from "@langchain/core/outputs";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { StringOutputParser } from "@langchain/core/output_parsers";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent } from "langchain";
import { z } from "zod";
import { Mem0ChatModel } from "../src/chat_models.js";
import { FakeOpenAIServer } from "../src/testing/index.js";
import { FakeMemoryBackend } from "./utils/fakes.js";

let server: FakeOpenAIServer;
beforeAll(async () => {
  server = await FakeOpenAIServer.start();
});
afterAll(async () => server.close());
beforeEach(() => server.reset());

function setup() {
  const memory = new FakeMemoryBackend();
  memory.remember("User lives in Berlin", { userId: "alice" });
  const chat = new ChatOpenAI({
    model: "gpt-4o-mini",
    apiKey: "test",
    configuration: { baseURL: server.baseURL },
    maxRetries: 0,
  });
  const model = new Mem0ChatModel({ model: chat, memory, userId: "alice" });
  return { memory, chat, model };
}

const weather = tool(async ({ city }) => `Sunny in ${city}`, {
  name: "get_weather",
  description: "Weather of a city",
  schema: z.object({ city: z.string() }),
});

describe("Mem0ChatModel around ChatOpenAI", () => {
  it("sends the memory-aware request and stores the answer", async () => {
    const { memory, model } = setup();
    server.enqueue("Berlin is lovely.");
    const answer = await model.invoke([
      new SystemMessage("Be brief."),
      new HumanMessage("Where do I live?"),
    ]);
    expect(answer.content).toBe("Berlin is lovely.");
    expect(answer.usage_metadata?.total_tokens).toBeGreaterThan(0);
    const sent = server.chatRequests[0].messages;
    expect(sent.map((m) => m.role)).toEqual(["system", "user"]);
    expect(sent[0].content).toBe("Be brief.");
    expect(sent[1].content).toMatch(
      /<memory_context>[\s\S]*User lives in Berlin[\s\S]*<\/memory_context>\n\nWhere do I live\?$/,
    );
    await model.flush();
    expect(memory.adds[0].messages.map((m) => m.content)).toEqual([
      "Where do I live?",
      "Berlin is lovely.",
    ]);
  });

  it("streams token chunks one to one and stores the aggregate", async () => {
    const { memory, chat, model } = setup();
    server.enqueue("Streaming works fine today.", "Streaming works fine today.");
    const direct: string[] = [];
    for await (const chunk of await chat.stream("hi")) direct.push(chunk.content as string);
    const wrapped: string[] = [];
    for await (const chunk of await model.stream("hi")) wrapped.push(chunk.content as string);
    expect(wrapped).toEqual(direct);
    expect(wrapped.length).toBeGreaterThan(2);
    await model.flush();
    expect(memory.adds[0].messages.at(-1)?.content).toBe("Streaming works fine today.");
  });

  it("calls tools through bindTools and stores tool calls as text", async () => {
    const { memory, model } = setup();
    server.enqueue({ toolCalls: [{ name: "get_weather", arguments: { city: "Berlin" } }] });
    const bound = model.bindTools([weather]);
    expect(bound).toBeInstanceOf(Mem0ChatModel);
    const answer = await bound.invoke("What's the weather where I live?");
    expect(answer.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Berlin" } });
    expect(server.chatRequests[0].tools?.[0].function?.name).toBe("get_weather");
    expect(server.chatRequests[0].messages.at(-1)?.content).toContain("User lives in Berlin");
    await bound.flush();
    expect((memory.adds[0].messages[1] as AIMessage).tool_calls?.[0].name).toBe("get_weather");

    server.enqueue({ toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] });
    const streamed = [];
    for await (const chunk of await bound.stream("And in Paris?")) streamed.push(chunk);
    const merged = streamed.reduce((a, b) => a.concat(b));
    expect(merged.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Paris" } });
  });

  it("passes tool-call conversations through unchanged", async () => {
    const { model } = setup();
    server.enqueue("It is sunny in Berlin.");
    const answer = await model.bindTools([weather]).invoke([
      new HumanMessage("Weather?"),
      new AIMessage({
        content: "",
        tool_calls: [{ id: "call_1", name: "get_weather", args: { city: "Berlin" } }],
      }),
      new ToolMessage({ content: "Sunny in Berlin", tool_call_id: "call_1" }),
    ]);
    expect(answer.content).toBe("It is sunny in Berlin.");
    const sent = server.chatRequests[0].messages;
    expect(sent.map((m) => m.role)).toEqual(["user", "assistant", "tool"]);
  });

  it("returns structured output through the inner model's own implementation", async () => {
    const { memory, model } = setup();
    server.enqueue({ json: { city: "Berlin" } });
    const structured = model.withStructuredOutput(z.object({ city: z.string() }));
    const result = await structured.invoke("Which city do I live in?");
    expect(result).toEqual({ city: "Berlin" });
    const request = server.chatRequests[0];
    expect(request.response_format?.type ?? request.tool_choice).toBeDefined();
    expect(request.messages.at(-1)?.content).toContain("User lives in Berlin");
    await model.flush();
    expect(memory.adds[0].messages.map((m) => m.content)).toEqual([
      "Which city do I live in?",
      '{"city":"Berlin"}',
    ]);
  });

  it("aborts a hanging call with the caller's signal", async () => {
    const { model } = setup();
    server.injectFault({ hang: true });
    await expect(model.invoke("hi", { signal: AbortSignal.timeout(200) })).rejects.toThrow(
      /abort/i,
    );
    const controller = new AbortController();
    controller.abort();
    await expect(model.invoke("hi", { signal: controller.signal })).rejects.toThrow(/abort/i);
  });

  it("reports the inner model's parameters and the memory settings, without secrets or ids", () => {
    const { chat, model } = setup();
    const identifying = model._identifyingParams();
    expect(identifying).toMatchObject({
      model: "gpt-4o-mini",
      mem0: {
        topK: 10,
        retrieval: "user_turn",
        injection: "user",
        queryWindow: 6,
        store: "background",
        infer: true,
      },
    });
    expect(chat._identifyingParams()).toHaveProperty("apiKey", "test");
    expect(JSON.stringify(identifying)).not.toContain('"test"');

    const params = model.invocationParams({ user_id: "carol", stop: ["\n"] } as never);
    expect(params).toMatchObject({ model: "gpt-4o-mini", stop: ["\n"], mem0: { topK: 10 } });
    expect(JSON.stringify(params)).not.toContain("carol");
    // Through bindTools, the bound tools are part of the call's parameters.
    const bound = model.bindTools([weather], { tool_choice: "get_weather" });
    expect(bound.invocationParams()).toMatchObject({
      tools: [{ type: "function", function: { name: "get_weather" } }],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      mem0: { topK: 10 },
    });
    const tuned = new Mem0ChatModel({
      model: chat,
      memory: new FakeMemoryBackend(),
      topK: 3,
      threshold: 0.4,
      store: "off",
      infer: false,
    });
    expect(tuned.invocationParams().mem0).toEqual({
      topK: 3,
      threshold: 0.4,
      retrieval: "user_turn",
      injection: "user",
      queryWindow: 6,
      store: "off",
      infer: false,
    });
  });

  it("reports the answer's token usage once to every handler", async () => {
    const counter = () => {
      const seen: number[] = [];
      const handler = BaseCallbackHandler.fromMethods({
        handleLLMEnd(output: LLMResult) {
          const message = (output.generations[0][0] as ChatGeneration).message as AIMessage;
          seen.push(message.usage_metadata?.total_tokens ?? 0);
        },
      });
      return { seen, handler };
    };
    const { chat } = setup();
    const local = counter();
    const model = new Mem0ChatModel({
      model: chat,
      memory: new FakeMemoryBackend(),
      userId: "alice",
      callbacks: [local.handler],
    });
    const perCall = counter();
    server.enqueue("Hello there, friend.");
    const answer = await model.invoke("hi", { callbacks: [perCall.handler] });
    await awaitAllCallbacks();
    const total = answer.usage_metadata!.total_tokens;
    expect(total).toBeGreaterThan(0);
    // The per-call handler sees the wrapper's run (no usage of its own) and the inner run.
    expect(perCall.seen.sort((a, b) => a - b)).toEqual([0, total]);
    // A constructor handler sees only the wrapper's run, which then carries the usage.
    expect(local.seen).toEqual([total]);
  });

  it("reports the inner model's profile and LangSmith params", () => {
    const { chat, model } = setup();
    expect(model.profile).toEqual(chat.profile);
    expect(model.getLsParams({} as never)).toMatchObject({
      ls_provider: "openai",
      ls_model_name: "gpt-4o-mini",
    });
  });
});

describe("composition", () => {
  it("works in an LCEL chain", async () => {
    const { model } = setup();
    server.enqueue("Berlin.");
    const chain = ChatPromptTemplate.fromMessages([
      ["system", "Answer in one word."],
      ["human", "{question}"],
    ])
      .pipe(model)
      .pipe(new StringOutputParser());
    expect(await chain.invoke({ question: "Where do I live?" })).toBe("Berlin.");
    expect(server.chatRequests[0].messages[1].content).toContain("User lives in Berlin");
  });

  it("works as a LangGraph node and streams each token once in messages mode", async () => {
    const { memory, model } = setup();
    const graph = new StateGraph(MessagesAnnotation)
      .addNode("chat", async (state) => ({ messages: [await model.invoke(state.messages)] }))
      .addEdge(START, "chat")
      .addEdge("chat", END)
      .compile();
    server.enqueue("Hello from the graph node.");
    const tokens: string[] = [];
    for await (const [chunk] of await graph.stream(
      { messages: [new HumanMessage("hi")] },
      { streamMode: "messages", configurable: { user_id: "bob" } },
    )) {
      tokens.push(chunk.content as string);
    }
    expect(tokens.join("")).toBe("Hello from the graph node.");
    expect(memory.searches[0].scope).toEqual({ userId: "bob" });
  });

  it("works with createAgent and a tool", async () => {
    const { memory, model } = setup();
    server.enqueue(
      { toolCalls: [{ name: "get_weather", arguments: { city: "Berlin" } }] },
      "It is sunny in Berlin.",
    );
    const agent = createAgent({ model, tools: [weather] });
    const result = await agent.invoke({
      messages: [new HumanMessage("What's the weather at home?")],
    });
    expect(result.messages.at(-1)?.content).toBe("It is sunny in Berlin.");
    expect(server.chatRequests).toHaveLength(2);
    expect(server.chatRequests[0].messages.at(-1)?.content).toContain("User lives in Berlin");
    expect(server.chatRequests[1].messages.map((m) => m.role)).toEqual([
      "user",
      "assistant",
      "tool",
    ]);
    await model.flush();
    expect(memory.adds.map((a) => a.messages.length)).toEqual([2, 2]);
    expect(memory.adds[1].messages[0].content).toBe("Sunny in Berlin");
  });
});

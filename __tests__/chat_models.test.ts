import { jest } from "@jest/globals";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { ChatResult } from "@langchain/core/outputs";
import { AIMessage, HumanMessage, SystemMessage, type BaseMessage } from "@langchain/core/messages";
import { MEMORY_WRITE_ERROR_EVENT } from "../src/callbacks.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import {
  Mem0ClosedError,
  Mem0ConfigError,
  Mem0InputError,
  Mem0TimeoutError,
  MissingScopeError,
} from "../src/errors.js";
import { MEMORY_BLOCK_OPEN } from "../src/messages.js";
import { FakeMemoryBackend, RecordingChatModel } from "./utils/fakes.js";

function setup(options: Partial<ConstructorParameters<typeof Mem0ChatModel>[0]> = {}) {
  const memory = new FakeMemoryBackend();
  const inner = new RecordingChatModel({ responses: ["Hello Alice!", "Second answer"] });
  const model = new Mem0ChatModel({ model: inner, memory, userId: "alice", ...options });
  return { memory, inner, model };
}

const text = (message: BaseMessage) => message.content as string;

describe("Mem0ChatModel retrieval and injection", () => {
  it("adds a system prompt once and puts facts before the last user message", async () => {
    const { memory, inner, model } = setup();
    memory.remember("Alice is vegetarian", { userId: "alice" });
    const answer = await model.invoke([new HumanMessage("What should I cook?")]);
    expect(answer.content).toBe("Hello Alice!");
    const sent = inner.calls[0];
    expect(sent.map((m) => m.type)).toEqual(["system", "human"]);
    expect(text(sent[1])).toMatch(
      new RegExp(
        `^${MEMORY_BLOCK_OPEN}[\\s\\S]*- Alice is vegetarian[\\s\\S]*What should I cook\\?$`,
      ),
    );
    expect(text(sent[1])).toContain("not instructions");
    expect(memory.searches[0].query).toBe("user: What should I cook?");
    expect(memory.searches[0].options?.topK).toBe(10);
  });

  it("keeps the caller's system prompt and never mutates the caller's messages", async () => {
    const { memory, inner, model } = setup({ injection: "system" });
    memory.remember("Alice lives in Berlin", { userId: "alice" });
    const input = [new SystemMessage("Be brief."), new HumanMessage("Where do I live?")];
    await model.invoke(input);
    const sent = inner.calls[0];
    expect(sent).toHaveLength(2);
    expect(text(sent[0])).toMatch(/^Be brief\.\n\n<memory_context>[\s\S]*Alice lives in Berlin/);
    expect(text(sent[1])).toBe("Where do I live?");
    expect(text(input[0])).toBe("Be brief.");
    expect(text(input[1])).toBe("Where do I live?");
  });

  it("injects nothing when nothing is found", async () => {
    const { inner, model } = setup();
    await model.invoke("hi");
    expect(inner.calls[0].map((m) => [m.type, m.content])).toEqual([["human", "hi"]]);
  });

  it("renders relations after the facts", async () => {
    const { memory, inner, model } = setup();
    memory.remember("Alice likes tea", { userId: "alice" });
    memory.relations = [{ source: "alice", relationship: "lives_in", destination: "berlin" }];
    await model.invoke("hello");
    expect(text(inner.calls[0][1])).toMatch(
      /Facts:\n- Alice likes tea\n\nRelations:\n- alice —lives_in→ berlin/,
    );
  });

  it("builds the query from the last 6 messages and retrieves only on user turns", async () => {
    const { memory, model } = setup({ queryWindow: 2 });
    await model.invoke([new HumanMessage("one"), new AIMessage("two"), new HumanMessage("three")]);
    expect(memory.searches[0].query).toBe("assistant: two\nuser: three");
    await model.invoke([new HumanMessage("one"), new AIMessage("two")]);
    expect(memory.searches).toHaveLength(1);
  });

  it("resolves the scope from configurable and call options, and fails fast without one", async () => {
    const memory = new FakeMemoryBackend();
    const model = new Mem0ChatModel({
      model: new RecordingChatModel({ responses: ["ok"] }),
      memory,
    });
    await model.invoke("hi", { configurable: { user_id: "bob" } });
    await model.invoke("hi", { user_id: "carol", configurable: { user_id: "bob" } });
    expect(memory.searches.map((s) => s.scope)).toEqual([{ userId: "bob" }, { userId: "carol" }]);
    await expect(model.invoke("hi")).rejects.toThrow(MissingScopeError);
    await expect(model.invoke("hi")).rejects.toThrow(/configurable: \{ user_id/);
  });

  it("continues without memories when retrieval fails, or throws when asked", async () => {
    const errors: unknown[] = [];
    const { memory, model } = setup({ onError: (error) => errors.push(error) });
    memory.searchError = new Error("backend down");
    await expect(model.invoke("hi")).resolves.toBeDefined();
    expect(errors).toHaveLength(1);
    const strict = setup({ onMemoryError: "throw" });
    strict.memory.searchError = new Error("backend down");
    await expect(strict.model.invoke("hi")).rejects.toThrow("backend down");
  });

  it("shows retrieval as a retriever run nested under the wrapper's run", async () => {
    const { memory, model } = setup();
    memory.remember("Alice likes tea", { userId: "alice" });
    const events: { kind: string; runId: string; parentRunId?: string; payload?: unknown }[] = [];
    class Recorder extends BaseCallbackHandler {
      name = "recorder";
      override async handleChatModelStart(
        _l: unknown,
        _m: unknown,
        runId: string,
        parentRunId?: string,
      ) {
        events.push({ kind: "chat", runId, parentRunId });
      }
      override async handleRetrieverStart(
        _r: unknown,
        query: string,
        runId: string,
        parentRunId?: string,
      ) {
        events.push({ kind: "retriever", runId, parentRunId, payload: query });
      }
      override async handleRetrieverEnd(documents: unknown[], runId: string) {
        events.push({ kind: "retriever_end", runId, payload: documents });
      }
    }
    await model.invoke("hello", { callbacks: [new Recorder()] });
    const [outer, retriever, inner] = [
      events[0],
      events.find((e) => e.kind === "retriever"),
      events[2],
    ];
    expect(outer.kind).toBe("chat");
    expect(retriever?.parentRunId).toBe(outer.runId);
    expect(retriever?.payload).toBe("user: hello");
    expect(events.find((e) => e.kind === "retriever_end")?.payload).toHaveLength(1);
    expect(events.filter((e) => e.kind === "chat")).toHaveLength(2);
    expect(events.filter((e) => e.kind === "chat")[1].parentRunId).toBe(outer.runId);
    expect(inner).toBeDefined();
  });
});

describe("Mem0ChatModel storage", () => {
  it("stores the new turn and the answer in the background; flush waits", async () => {
    const { memory, model } = setup();
    memory.addDelayMs = 50;
    await model.invoke([new SystemMessage("sys"), new HumanMessage("My name is Alice")]);
    expect(memory.adds).toHaveLength(0);
    await model.flush();
    expect(memory.adds).toHaveLength(1);
    expect(memory.adds[0].messages.map((m) => [m.type, m.content])).toEqual([
      ["human", "My name is Alice"],
      ["ai", "Hello Alice!"],
    ]);
    expect(memory.adds[0].scope).toEqual({ userId: "alice" });
  });

  it("stores the aggregate of a stream, chunks passing through one to one", async () => {
    const { memory, inner, model } = setup();
    const chunks: string[] = [];
    for await (const chunk of await model.stream("hi")) chunks.push(chunk.content as string);
    expect(chunks.join("")).toBe("Hello Alice!");
    expect(chunks.length).toBe("Hello Alice!".length);
    await model.flush();
    expect(memory.adds[0].messages.map((m) => m.content)).toEqual(["hi", "Hello Alice!"]);
    expect(inner.calls).toHaveLength(1);
  });

  it("makes one attempt per write and reports a failure with the conversation, without throwing", async () => {
    const failures: unknown[] = [];
    const { memory, model } = setup({
      onError: (error, context) =>
        failures.push([String(error), context.stage, context.messages?.length]),
    });
    memory.addErrors = [new Error("down")];
    await model.invoke("first");
    await model.flush();
    expect(memory.adds).toHaveLength(0);
    expect(failures).toEqual([["Error: down", "store", 2]]);
    await model.invoke("second");
    await model.flush();
    expect(memory.adds).toHaveLength(1);
  });

  it("bounds a write that never ends by its deadline, and flush by its timeout", async () => {
    const failures: unknown[] = [];
    const { memory, model } = setup({
      writeQueue: { timeoutMs: 200 },
      onError: (error) => failures.push(error),
    });
    memory.addDelayMs = 60_000;
    await model.invoke("first");
    expect(await model.flush({ timeout: 20 })).toBe(false);
    expect(await model.flush()).toBe(true);
    expect(failures).toEqual([expect.any(Mem0TimeoutError)]);
    memory.addDelayMs = 60_000;
    await model.invoke("second");
    const started = Date.now();
    await model.close({ timeout: 20 });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("dispatches a callback event carrying the conversation when a write fails for good", async () => {
    const { memory, model } = setup({ onError: () => undefined });
    memory.addErrors = [new Error("disk full")];
    const events: { name: string; data: { messages: BaseMessage[] } }[] = [];
    class Listener extends BaseCallbackHandler {
      name = "listener";
      override async handleCustomEvent(name: string, data: { messages: BaseMessage[] }) {
        events.push({ name, data });
      }
    }
    await model.invoke("remember this", { callbacks: [new Listener()] });
    await model.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.map((e) => e.name)).toEqual([MEMORY_WRITE_ERROR_EVENT]);
    expect(events[0].data.messages.map((m) => m.content)).toEqual([
      "remember this",
      "Hello Alice!",
    ]);
  });

  it("awaits storage in await mode and stores nothing when off", async () => {
    const awaited = setup({ store: "await" });
    awaited.memory.addDelayMs = 30;
    await awaited.model.invoke("hi");
    expect(awaited.memory.adds).toHaveLength(1);
    const strict = setup({ store: "await", onMemoryError: "throw" });
    strict.memory.addErrors = [new Error("disk full")];
    const warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      await expect(strict.model.invoke("hi")).rejects.toThrow(
        /Storing the conversation in memory failed/,
      );
      // Without an onError hook the failure is still reported, never silently dropped.
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/could not be stored.*disk full/));
    } finally {
      warn.mockRestore();
    }
    const off = setup({ store: "off" });
    await off.model.invoke("hi");
    await off.model.flush();
    expect(off.memory.adds).toHaveLength(0);
  });

  it("keeps users apart under concurrent calls and orders writes per user", async () => {
    const memory = new FakeMemoryBackend();
    memory.remember("secret of alice", { userId: "alice" });
    memory.remember("secret of bob", { userId: "bob" });
    const inner = new RecordingChatModel({ responses: ["ok"] });
    const model = new Mem0ChatModel({ model: inner, memory });
    const users = ["alice", "bob", "alice", "bob", "alice", "bob"];
    await Promise.all(
      users.map((user, i) =>
        model.invoke(`${user} message ${i}`, { configurable: { user_id: user } }),
      ),
    );
    for (const call of inner.calls) {
      const prompt = call.map((m) => m.content).join("\n");
      const user = /(alice|bob) message/.exec(prompt)![1];
      const other = user === "alice" ? "bob" : "alice";
      expect(prompt).toContain(`secret of ${user}`);
      expect(prompt).not.toContain(`secret of ${other}`);
    }
    await model.flush();
    const aliceWrites = memory.adds
      .filter((a) => a.scope.userId === "alice")
      .map((a) => a.messages[0].content);
    expect(aliceWrites).toEqual(["alice message 0", "alice message 2", "alice message 4"]);
  });
});

describe("Mem0ChatModel errors", () => {
  it("refuses calls once closed", async () => {
    const { model } = setup();
    await model.close();
    await expect(model.invoke("hi")).rejects.toThrow(Mem0ClosedError);
    await expect(model.stream("hi")).rejects.toThrow(Mem0ClosedError);
  });

  it("validates its own options at construction", () => {
    const memory = new FakeMemoryBackend();
    const inner = new RecordingChatModel({ responses: ["x"] });
    const build = (options: Record<string, unknown>) => () =>
      new Mem0ChatModel({ model: inner, memory, ...options });
    expect(build({ topK: 0 })).toThrow(Mem0ConfigError);
    expect(build({ topK: 0 })).toThrow(/topK/);
    expect(build({ threshold: Number.NaN })).toThrow(/threshold/);
    expect(build({ injection: "middle" })).toThrow(/injection/);
    expect(build({ store: "later" })).toThrow(/store/);
    expect(build({ filters: { rating: { near: 3 } } })).toThrow(/unknown operator "near"/);
    expect(build({ callbacks: [0] })).toThrow(/`callbacks` must be callback handlers/);
    expect(build({ callbacks: [null], store: "off" })).toThrow(/callback handlers/);
    expect(() => new Mem0ChatModel({ model: inner } as never)).toThrow(/needs `memory`/);
  });

  it("says plainly when the inner model cannot produce structured output", () => {
    /** A chat model with neither bindTools nor its own withStructuredOutput. */
    class PlainChatModel extends BaseChatModel {
      _llmType() {
        return "plain";
      }
      async _generate(): Promise<ChatResult> {
        return { generations: [{ message: new AIMessage("x"), text: "x" }] };
      }
    }
    const model = new Mem0ChatModel({
      model: new PlainChatModel({}),
      memory: new FakeMemoryBackend(),
    });
    expect(() => model.withStructuredOutput({ type: "object", properties: {} })).toThrow(
      /neither withStructuredOutput nor bindTools/,
    );
  });

  it("warns through the logger without the user's id", async () => {
    const warnings: string[] = [];
    const logger = { warn: (message: string) => warnings.push(message) };
    const { memory, model } = setup({ userId: "qz7731@example.com", logger });
    memory.searchError = new Error("search backend down");
    memory.addErrors = [new Mem0InputError("bad input")];
    await model.invoke("hello");
    await model.flush();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/retrieval failed[\s\S]*search backend down[\s\S]*onError/);
    expect(warnings[1]).toMatch(/could not be stored[\s\S]*bad input[\s\S]*onError/);
    for (const warning of warnings) expect(warning).not.toContain("qz7731");
  });
});

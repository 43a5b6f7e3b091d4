import http from "node:http";
import type { AddressInfo } from "node:net";
import { jest } from "@jest/globals";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import type { Memory as Mem0Memory } from "mem0ai/oss";
import { Mem0SdkBackend, mem0CompatibleModel } from "../src/backends/mem0_sdk.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import { Mem0ConfigError } from "../src/errors.js";
import { FakeOpenAIServer } from "../src/testing/index.js";

// mem0ai reads this when first loaded: no telemetry from tests.
process.env.MEM0_TELEMETRY = "false";

let server: FakeOpenAIServer;
beforeAll(async () => {
  server = await FakeOpenAIServer.start({ embeddingDimensions: 32 });
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const configuration = () => ({ baseURL: server.baseURL });
const chatModel = () =>
  new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration: configuration() });

/** mem0ai/oss offline, as its docs configure it, with a LangChain chat model for its LLM. */
async function mem0(model: unknown = chatModel()): Promise<Mem0Memory> {
  const { Memory } = await import("mem0ai/oss");
  const memory = new Memory({
    embedder: {
      provider: "langchain",
      config: { model: new OpenAIEmbeddings({ apiKey: "test", configuration: configuration() }) },
    },
    llm: { provider: "langchain", config: { model } },
    vectorStore: { provider: "memory", config: { dbPath: ":memory:", dimension: 32 } },
    historyStore: { provider: "memory", config: {} },
  });
  opened.push(memory);
  return memory;
}

/** mem0ai 3's extraction reply: `{"memory": [...]}`. */
const facts = (...texts: string[]) =>
  JSON.stringify({
    memory: texts.map((text, i) => ({ id: String(i), text, attributed_to: "user" })),
  });

const quiet = { warn: jest.fn() };

/** mem0ai 3 has no close(): close the SQLite handles its offline stores opened. */
const opened: Mem0Memory[] = [];
afterAll(() => {
  for (const memory of opened) {
    const internals = memory as unknown as Record<string, { db?: { close?: () => void } }>;
    for (const key of ["vectorStore", "_entityStore"]) internals[key]?.db?.close?.();
  }
});

describe("Mem0SdkBackend over mem0ai/oss", () => {
  it("the trap: a @langchain/core chat model makes mem0ai's add store nothing", async () => {
    const memory = await mem0();
    server.setHandler(() => facts("User drinks green tea"));
    const { results } = await memory.add([{ role: "user", content: "I drink green tea" }], {
      userId: "ann",
    });
    expect(results).toEqual([]);
    // Left alone on request, it stays broken.
    const backend = new Mem0SdkBackend({ memory, fixLangChainToolCalls: false, logger: quiet });
    expect((await backend.add("I drink green tea", { userId: "ann" })).results).toEqual([]);
    expect(quiet.warn).not.toHaveBeenCalled();
  });

  it("fixes the trap, adds and searches with mem0ai's shapes, scoped by owner", async () => {
    const logger = { warn: jest.fn() };
    const backend = new Mem0SdkBackend({ memory: await mem0(), logger });
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/empty tool_calls/));
    server.setHandler(() => facts("User drinks green tea"));
    const added = await backend.add([{ role: "user", content: "I drink green tea" }], {
      userId: "ann",
      metadata: { source: "chat" },
    });
    expect(added.results).toEqual([
      expect.objectContaining({ memory: "User drinks green tea", event: "ADD" }),
    ]);
    server.setHandler(() => facts("User drinks coffee"));
    await backend.add("I drink coffee", { userId: "bob" });
    const found = await backend.search("what does she drink? tea", { userId: "ann" });
    expect(found.results.map((r) => r.memory)).toEqual(["User drinks green tea"]);
    expect(found.results[0]).toMatchObject({
      id: added.results[0].id,
      metadata: expect.objectContaining({ source: "chat" }),
      score: expect.any(Number),
    });
    const viaFilters = await backend.search("coffee", { filters: { user_id: "bob" } });
    expect(viaFilters.results.map((r) => r.memory)).toEqual(["User drinks coffee"]);
    await expect(backend.search("tea", {})).rejects.toThrow(/needs an owner/);
  });

  it("mem0CompatibleModel is the same fix for a mem0ai config", async () => {
    const memory = await mem0(mem0CompatibleModel(chatModel()));
    server.setHandler(() => facts("User plays chess"));
    const { results } = await memory.add([{ role: "user", content: "I play chess" }], {
      userId: "ann",
    });
    expect(results.map((r) => r.memory)).toEqual(["User plays chess"]);
  });

  it("is the backend of Mem0ChatModel: memories reach the prompt, the turn is stored", async () => {
    const backend = new Mem0SdkBackend({ memory: await mem0(), logger: quiet });
    server.setHandler(() => facts("User is allergic to peanuts"));
    await backend.add("I am allergic to peanuts", { userId: "ann" });
    const model = new Mem0ChatModel({ model: chatModel(), memory: backend, userId: "ann" });
    const isExtraction = (request: { lastUserText: string }) =>
      request.lastUserText.includes("## New Messages");
    server.setHandler((request) => (isExtraction(request) ? facts() : "Then skip the satay."));
    const reply = await model.invoke("Any snack ideas for me?");
    expect(reply.content).toBe("Then skip the satay.");
    const answer = server.chatRequests.find((request) => !isExtraction(request))!;
    expect(answer.lastUserText).toContain("User is allergic to peanuts");
    await model.close();
  });

  it("needs a mem0ai memory", () => {
    expect(() => new Mem0SdkBackend({ memory: {} as never })).toThrow(Mem0ConfigError);
  });
});

/** A stand-in for Mem0's hosted platform: the endpoints MemoryClient calls, recorded. */
async function fakePlatform() {
  const requests: { method: string; url: string; auth?: string; body: Record<string, unknown> }[] =
    [];
  const platform = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      requests.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
      res.setHeader("content-type", "application/json");
      if (req.url === "/v1/ping/") return res.end(JSON.stringify({ status: "ok" }));
      if (req.url === "/v3/memories/search/") {
        return res.end(
          JSON.stringify({
            results: [
              {
                id: "m1",
                memory: "User lives in Lisbon",
                score: 0.83,
                metadata: null,
                user_id: "ann",
                created_at: "2026-01-02T03:04:05Z",
                updated_at: "2026-01-02T03:04:05Z",
              },
            ],
          }),
        );
      }
      if (req.url === "/v3/memories/add/") {
        return res.end(
          JSON.stringify([
            { id: "m2", data: { memory: "User moved to Porto" }, event: "ADD" },
            { message: "queued", status: "PENDING", event_id: "e1" },
          ]),
        );
      }
      res.statusCode = 404;
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => platform.listen(0, "127.0.0.1", resolve));
  const host = `http://127.0.0.1:${(platform.address() as AddressInfo).port}`;
  return { host, requests, close: () => new Promise((resolve) => platform.close(resolve)) };
}

describe("Mem0SdkBackend over the hosted MemoryClient", () => {
  it("sends the owner in filters for search and in the add payload; reads both reply shapes", async () => {
    const platform = await fakePlatform();
    const { MemoryClient } = await import("mem0ai");
    const client = new MemoryClient({ apiKey: "m0-test", host: platform.host });
    const backend = new Mem0SdkBackend({ memory: client as never });
    const found = await backend.search("where does Ann live", { userId: "ann", topK: 3 });
    expect(found.results).toEqual([
      {
        id: "m1",
        memory: "User lives in Lisbon",
        score: 0.83,
        metadata: {},
        user_id: "ann",
        createdAt: "2026-01-02T03:04:05Z",
        updatedAt: "2026-01-02T03:04:05Z",
      },
    ]);
    const added = await backend.add("I moved to Porto", { userId: "ann", agentId: "guide" });
    expect(added.results).toEqual([
      expect.objectContaining({ id: "m2", memory: "User moved to Porto", event: "ADD" }),
    ]);
    const search = platform.requests.find((r) => r.url === "/v3/memories/search/")!;
    expect(search.auth).toBe("Token m0-test");
    expect(search.body).toMatchObject({
      query: "where does Ann live",
      filters: { user_id: "ann" },
    });
    const add = platform.requests.find((r) => r.url === "/v3/memories/add/")!;
    expect(add.body).toMatchObject({
      messages: [{ role: "user", content: "I moved to Porto" }],
      user_id: "ann",
      agent_id: "guide",
    });
    await platform.close();
  });
});

import { ChatOpenAI } from "@langchain/openai";
import OpenAI from "openai";
import { Memory } from "../src/backends/memory.js";
import { HashEmbeddings } from "../src/embeddings/hash.js";
import { Mem0ConfigError } from "../src/errors.js";
import { Mem0 } from "../src/facade/mem0.js";
import { startMem0Server, type Mem0Server } from "../src/server/serve.js";
import { FakeOpenAIServer, createDemoHandler, type FakeChatRequest } from "../src/testing/index.js";

// The OpenAI-compatible memory server, driven by the official `openai` client over HTTP.

let provider: FakeOpenAIServer;
beforeAll(async () => {
  provider = await FakeOpenAIServer.start();
});
afterAll(async () => provider.close());
beforeEach(() => {
  provider.reset();
  provider.setHandler(createDemoHandler());
});

const isExtraction = (request: FakeChatRequest) =>
  request.tools?.[0]?.function?.name === "memory_operations";
const answers = () => provider.chatRequests.filter((request) => !isExtraction(request));

interface Running {
  server: Mem0Server;
  mem0: Mem0;
  memory: Memory;
  client: OpenAI;
}

async function start(options: { apiKey?: string; maxBodyBytes?: number; host?: string } = {}) {
  const chat = () =>
    new ChatOpenAI({ apiKey: "offline", configuration: { baseURL: provider.baseURL } });
  const memory = new Memory({ llm: chat(), embeddings: new HashEmbeddings(), path: ":memory:" });
  const mem0 = new Mem0({
    memory,
    chatModel: (model, fields) =>
      new ChatOpenAI({
        model,
        apiKey: "offline",
        configuration: { baseURL: provider.baseURL },
        ...fields,
      }),
  });
  const server = await startMem0Server({ mem0, port: 0, models: ["gpt-4o-mini"], ...options });
  const client = new OpenAI({
    apiKey: options.apiKey ?? "unused",
    baseURL: `${server.url}/v1`,
    maxRetries: 0,
  });
  return { server, mem0, memory, client } satisfies Running;
}

async function stop({ server, memory }: Running) {
  await server.close();
  await memory.close();
}

test("JSON completions remember across calls for the `user` of the request", async () => {
  const running = await start();
  const { client, mem0 } = running;
  const first = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "I'm vegetarian and I live in Lisbon." }],
    user: "alice",
  });
  expect(first.object).toBe("chat.completion");
  expect(first.choices[0].message.content).toBe(
    "Noted. You said: I'm vegetarian and I live in Lisbon.",
  );
  expect(first.usage?.total_tokens).toBeGreaterThan(0);
  await mem0.flush();

  const second = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "What should I cook in Lisbon?" }],
    user: "alice",
    temperature: 0.2,
  });
  expect(second.choices[0].message.content).toMatch(/^From memory: .*vegetarian/);
  expect(answers().at(-1)).toMatchObject({ temperature: 0.2 });
  await stop(running);
});

test("streaming over SSE: chunks, a usage chunk, and the answer stored after the stream", async () => {
  const running = await start();
  const { client, mem0, memory } = running;
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "I play the cello." }],
    user: "alice",
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  expect(chunks[0].choices[0].delta.role).toBe("assistant");
  expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(
    "Noted. You said: I play the cello.",
  );
  expect(chunks.at(-2)?.choices[0].finish_reason).toBe("stop");
  expect(chunks.at(-1)?.usage?.total_tokens).toBeGreaterThan(0);
  await mem0.flush();
  expect((await memory.getAll({ userId: "alice" })).results.map((m) => m.memory)).toEqual([
    "User: I play the cello.",
  ]);
  await stop(running);
});

test("two users stay apart; X-Mem0-* headers set the scope", async () => {
  const running = await start();
  const { client, mem0 } = running;
  await client.chat.completions.create(
    { model: "gpt-4o-mini", messages: [{ role: "user", content: "My PIN hint is Saturn." }] },
    { headers: { "X-Mem0-User-Id": "alice", "X-Mem0-Run-Id": "s1" } },
  );
  await mem0.flush();
  await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "What is my PIN hint Saturn?" }],
    user: "bob",
  });
  expect(answers().at(-1)?.lastUserText).not.toMatch(/Saturn\.|memory_context/);
  await client.chat.completions.create(
    { model: "gpt-4o-mini", messages: [{ role: "user", content: "What is my PIN hint?" }] },
    { headers: { "X-Mem0-User-Id": "alice" } },
  );
  expect(answers().at(-1)?.lastUserText).toMatch(/My PIN hint is Saturn/);
  await stop(running);
});

test("errors come back in OpenAI's shape: no scope, unknown parameter, unknown route", async () => {
  const running = await start();
  const { client, server } = running;
  const noScope = await client.chat.completions
    .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
    .catch((error: unknown) => error);
  expect(noScope).toBeInstanceOf(OpenAI.BadRequestError);
  expect((noScope as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
    type: "invalid_request_error",
    message: expect.stringMatching(/One of user_id, agent_id or run_id/),
  });
  await expect(
    client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
      user: "alice",
      // @ts-expect-error: not an OpenAI parameter
      frobnicate: true,
    }),
  ).rejects.toThrow(/unknown parameter "frobnicate"/);
  const missing = await fetch(`${server.url}/v1/nothing`);
  expect(missing.status).toBe(404);
  expect(await missing.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  await stop(running);
});

test("an oversize body is refused with 413 before it is read whole", async () => {
  const running = await start({ maxBodyBytes: 10_000 });
  const error = await running.client.chat.completions
    .create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "x".repeat(20_000) }],
      user: "alice",
    })
    .catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(OpenAI.APIError);
  expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
  expect((error as Error).message).toMatch(/larger than 10000 bytes/);
  expect(provider.chatRequests).toHaveLength(0);
  await stop(running);
});

test("with an API key: wrong or missing keys get 401, the right one works", async () => {
  const running = await start({ apiKey: "s3cret" });
  const wrong = new OpenAI({ apiKey: "nope", baseURL: `${running.server.url}/v1`, maxRetries: 0 });
  await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  const bare = await fetch(`${running.server.url}/v1/memories?user_id=alice`);
  expect(bare.status).toBe(401);
  const models = await running.client.models.list();
  expect(models.data.map((m) => m.id)).toEqual(["gpt-4o-mini"]);
  // Health and the (data-free) inspector page need no key.
  expect((await fetch(`${running.server.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${running.server.url}/`)).status).toBe(200);
  await stop(running);
});

test("binds to loopback only, unless there is a key", async () => {
  const memory = new Memory({ embeddings: new HashEmbeddings(), path: ":memory:" });
  const mem0 = new Mem0({ memory });
  await expect(startMem0Server({ mem0, host: "0.0.0.0", port: 0 })).rejects.toBeInstanceOf(
    Mem0ConfigError,
  );
  const open = await startMem0Server({ mem0, host: "0.0.0.0", port: 0, apiKey: "k" });
  expect(open.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
  await open.close();
  await memory.close();
});

test("REST routes: list, search, get, update, history, export, delete, delete-all, outbox", async () => {
  const running = await start();
  const { server, memory } = running;
  await memory.add("I like green tea", { userId: "alice", infer: false });
  await memory.add("I live in Porto", { userId: "alice", infer: false });
  await memory.add("I like coffee", { userId: "bob", infer: false });
  type Body = { results: { id: string; memory: string; action: string }[]; memory?: string };
  const call = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${server.url}${path}`, init);
    return { status: response.status, body: (await response.json()) as Body };
  };

  const list = await call("/v1/memories?user_id=alice");
  expect(list.body.results.map((m) => m.memory)).toEqual(["I like green tea", "I live in Porto"]);
  const found = await call("/v1/memories/search", {
    method: "POST",
    headers: { "content-type": "application/json", "x-mem0-user-id": "alice" },
    body: JSON.stringify({ query: "tea", limit: 1 }),
  });
  expect(found.body.results.map((m) => m.memory)).toEqual(["I like green tea"]);
  const id = found.body.results[0].id as string;

  const put = await call(`/v1/memories/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: "I like white tea" }),
  });
  expect(put.body).toEqual({ message: "Memory updated successfully!" });
  expect((await call(`/v1/memories/${id}`)).body.memory).toBe("I like white tea");
  const history = await call(`/v1/memories/${id}/history`);
  expect(history.body.results.map((h) => h.action)).toEqual(["UPDATE", "ADD"]);

  const exported = await fetch(`${server.url}/v1/memories/export?user_id=alice`);
  expect(exported.headers.get("content-type")).toMatch(/ndjson/);
  const lines = (await exported.text())
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  expect(lines.map((m) => m.memory).sort()).toEqual(["I like white tea", "I live in Porto"]);

  expect((await call("/v1/outbox?user_id=alice")).body).toEqual({ results: [] });
  expect((await call("/v1/relations?user_id=alice")).status).toBe(501);
  expect((await call("/v1/memories")).status).toBe(400); // no scope

  expect((await call(`/v1/memories/${id}`, { method: "DELETE" })).status).toBe(200);
  expect((await call(`/v1/memories/${id}`)).status).toBe(404);
  await call("/v1/memories?user_id=alice", { method: "DELETE" });
  expect((await call("/v1/memories?user_id=alice")).body.results).toEqual([]);
  expect((await call("/v1/memories?user_id=bob")).body.results).toHaveLength(1);
  await stop(running);
});

test("graceful shutdown waits for the running request and flushes its write", async () => {
  const running = await start();
  provider.setHandler(async (request) => {
    if (!isExtraction(request)) await new Promise((resolve) => setTimeout(resolve, 300));
    return createDemoHandler()(request);
  });
  const pending = running.client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "I have a dog called Rex." }],
    user: "alice",
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const closed = running.server.close();
  await expect(pending).resolves.toMatchObject({ object: "chat.completion" });
  await closed;
  // Closing flushed the turn the request queued.
  expect((await running.memory.getAll({ userId: "alice" })).results.map((m) => m.memory)).toEqual([
    "User: I have a dog called Rex.",
  ]);
  await running.memory.close();
});

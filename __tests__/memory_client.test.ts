import { FakeListChatModel } from "@langchain/core/utils/testing";
import { MemoryClient } from "../src/backends/client.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import {
  Mem0APIError,
  Mem0AuthenticationError,
  Mem0ConfigError,
  Mem0InputError,
  Mem0RateLimitError,
  Mem0TimeoutError,
} from "../src/errors.js";
import { FakeMem0Platform } from "../src/testing/platform_server.js";

// MemoryClient against the fake platform over real HTTP: request shapes, the platform's
// asynchronous adds, error mapping and retries.

let platform: FakeMem0Platform;
let client: MemoryClient;

beforeEach(async () => {
  platform = await FakeMem0Platform.start();
  client = new MemoryClient({ apiKey: platform.apiKey, host: platform.host, retryDelayMs: 5 });
});

afterEach(async () => {
  await client.close();
  await platform.close();
});

test("add sends the v3 body with the Token header and returns the pending event", async () => {
  await platform.close();
  platform = await FakeMem0Platform.start({ processingDelayMs: 200 });
  client = new MemoryClient({ apiKey: platform.apiKey, host: platform.host });
  const result = await client.add([{ role: "user", content: "I like green tea. What now?" }], {
    userId: "alice",
    runId: "r1",
    metadata: { source: "chat" },
    expirationDate: "2099-01-01",
  });

  expect(result).toEqual({ results: [], status: "PENDING", event_id: expect.any(String) });
  const [request] = platform.requests;
  expect(request).toMatchObject({
    method: "POST",
    path: "/v3/memories/add/",
    headers: expect.objectContaining({ authorization: `Token ${platform.apiKey}` }),
    body: {
      messages: [{ role: "user", content: "I like green tea. What now?" }],
      user_id: "alice",
      run_id: "r1",
      metadata: { source: "chat" },
      expiration_date: "2099-01-01",
    },
  });
  // Asynchronous, like the platform: not searchable until processed.
  expect(platform.memories).toHaveLength(0);
  expect(platform.pendingAdds).toBe(1);
  await platform.settle();
  expect(platform.memories.map((memory) => memory.memory)).toEqual(["I like green tea."]);
});

test("search sends the owner in filters, maps results to MemoryItems and isolates owners", async () => {
  await client.add("I live in Berlin.", { userId: "alice", infer: false });
  await client.add("I live in Lisbon.", { userId: "bob", infer: false });

  const found = await client.search("where do I live Berlin", {
    userId: "alice",
    topK: 3,
    threshold: 0,
    filters: { topic: "home" },
  });
  const request = platform.requests.at(-1)!;
  expect(request.body).toEqual({
    query: "where do I live Berlin",
    filters: { user_id: "alice", metadata: { topic: "home" } },
    top_k: 3,
    threshold: 0,
  });
  expect(found.results).toEqual([]); // no memory has metadata topic=home

  const all = await client.search("where do I live Berlin", { filters: { user_id: "alice" } });
  expect(all.results).toEqual([
    expect.objectContaining({
      id: expect.any(String),
      memory: "I live in Berlin.",
      user_id: "alice",
      score: expect.any(Number),
      metadata: {},
      createdAt: expect.any(String),
    }),
  ]);
});

test("getAll pages with page numbers, get/update/history/delete/deleteAll round trip", async () => {
  for (const text of ["One fact.", "Two facts.", "Three facts."]) {
    await client.add(text, { userId: "alice", runId: "s1", infer: false });
  }
  const first = await client.getAll({ userId: "alice", topK: 2 });
  expect(first.results.map((item) => item.memory)).toEqual(["One fact.", "Two facts."]);
  expect(first.results[0].run_id).toBe("s1"); // session_id on the wire
  expect(first).toMatchObject({ nextCursor: "2", count: 3 });
  const second = await client.getAll({ userId: "alice", topK: 2, cursor: first.nextCursor });
  expect(second.results.map((item) => item.memory)).toEqual(["Three facts."]);
  expect(second.nextCursor).toBeUndefined();

  const id = first.results[0].id;
  await expect(client.update(id, { text: "First fact.", metadata: { ok: true } })).resolves.toEqual(
    {
      message: "Memory updated successfully!",
    },
  );
  expect(platform.requests.at(-1)).toMatchObject({
    method: "PUT",
    path: `/v1/memories/${id}/`,
    body: { text: "First fact.", metadata: { ok: true } },
  });
  expect(await client.get(id)).toMatchObject({ memory: "First fact.", metadata: { ok: true } });
  const history = await client.history(id);
  expect(history.map((entry) => [entry.action, entry.previous_value, entry.new_value])).toEqual([
    ["UPDATE", "One fact.", "First fact."],
    ["ADD", null, "One fact."],
  ]);

  await client.delete(id);
  expect(await client.get(id)).toBeNull();
  await client.deleteAll({ userId: "alice" });
  expect(platform.requests.at(-1)).toMatchObject({
    method: "DELETE",
    path: "/v1/memories/",
    query: { user_id: "alice" },
  });
  expect((await client.getAll({ userId: "alice" })).results).toEqual([]);
});

test("a 429 with Retry-After is waited out and retried; the request succeeds", async () => {
  platform.injectFault({ status: 429, retryAfterSeconds: 0.2, path: "/v3/memories/search/" }, 2);
  const started = Date.now();
  await expect(client.search("tea", { userId: "alice" })).resolves.toEqual({ results: [] });
  const searches = platform.requests.filter((r) => r.path === "/v3/memories/search/");
  expect(searches).toHaveLength(3);
  expect(Date.now() - started).toBeGreaterThanOrEqual(380); // two waits of 200 ms
});

test("429s past the retries become Mem0RateLimitError with the server's message", async () => {
  const strict = new MemoryClient({ apiKey: platform.apiKey, host: platform.host, maxRetries: 1 });
  platform.injectFault({ status: 429, retryAfterSeconds: 0 }, 5);
  const error = await strict.search("tea", { userId: "alice" }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(Mem0RateLimitError);
  expect(error).toMatchObject({
    status: 429,
    serverMessage: "Request was throttled. Expected available in 0 seconds.",
    retryAfterMs: 0,
    request: "POST /v3/memories/search/",
  });
  expect(platform.requests).toHaveLength(2);
});

test("a Retry-After longer than maxRetryDelayMs fails at once instead of sleeping", async () => {
  const impatient = new MemoryClient({
    apiKey: platform.apiKey,
    host: platform.host,
    maxRetryDelayMs: 1000,
  });
  platform.injectFault({ status: 429, retryAfterSeconds: 60 });
  await expect(impatient.search("tea", { userId: "alice" })).rejects.toMatchObject({
    name: "Mem0RateLimitError",
    retryAfterMs: 60_000,
  });
  expect(platform.requests).toHaveLength(1);
});

test("5xx are retried for reads but an add is not repeated after a 500", async () => {
  platform.injectFault({ status: 503, path: "/v3/memories/search/" });
  await expect(client.search("tea", { userId: "alice" })).resolves.toEqual({ results: [] });

  platform.injectFault({ status: 500, message: "boom", path: "/v3/memories/add/" });
  const error = await client.add("I like tea.", { userId: "alice" }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(Mem0APIError);
  expect((error as Error).message).toContain("failed with 500: boom");
  expect(platform.requests.filter((r) => r.path === "/v3/memories/add/")).toHaveLength(1);

  // A 429 means the platform did not take it: the add is retried.
  platform.injectFault({ status: 429, retryAfterSeconds: 0, path: "/v3/memories/add/" });
  await expect(client.add("I like tea.", { userId: "alice" })).resolves.toMatchObject({
    status: "PENDING",
  });
});

test("errors carry the platform's message: bad key, bad id, missing memory", async () => {
  const wrong = new MemoryClient({ apiKey: "m0-wrong", host: platform.host });
  const auth = await wrong.ping().catch((e: unknown) => e);
  expect(auth).toBeInstanceOf(Mem0AuthenticationError);
  expect((auth as Mem0APIError).serverMessage).toMatch(/^Invalid API key/);
  expect((auth as Error).message).not.toContain("m0-wrong");

  await expect(client.history("not-a-uuid")).rejects.toMatchObject({
    status: 400,
    serverMessage: "memory_id should be a valid UUID",
  });
  await expect(client.delete("00000000-0000-4000-8000-000000000000")).rejects.toMatchObject({
    status: 404,
    serverMessage: "Memory not found!",
  });
  await expect(client.ping()).resolves.toMatchObject({ status: "ok" });
});

test("a hanging request ends at timeoutMs with Mem0TimeoutError; a non-idempotent add is not retried", async () => {
  const quick = new MemoryClient({
    apiKey: platform.apiKey,
    host: platform.host,
    timeoutMs: 150,
    retryDelayMs: 1,
  });
  platform.injectFault({ hang: true, path: "/v3/memories/add/" });
  await expect(quick.add("I like tea.", { userId: "alice" })).rejects.toBeInstanceOf(
    Mem0TimeoutError,
  );
  expect(platform.requests.filter((r) => r.path === "/v3/memories/add/")).toHaveLength(1);

  platform.injectFault({ hang: true, path: "/v3/memories/search/" });
  await expect(quick.search("tea", { userId: "alice" })).resolves.toEqual({ results: [] });
});

test("connection refused is a Mem0APIError naming the host, after the retries", async () => {
  const closed = await FakeMem0Platform.start();
  const host = closed.host;
  await closed.close();
  const offline = new MemoryClient({ apiKey: "k", host, maxRetries: 1, retryDelayMs: 1 });
  await expect(offline.search("x", { userId: "a" })).rejects.toThrow(/could not reach/);
});

test("bad input and config fail before any request", async () => {
  expect(() => new MemoryClient({ apiKey: "" })).toThrow(Mem0ConfigError);
  expect(() => new MemoryClient({ apiKey: "k", host: "not a url" })).toThrow(Mem0ConfigError);
  await expect(client.search("tea", {} as never)).rejects.toThrow(/needs an owner/);
  await expect(client.search("tea", { userId: "a", asOf: "2024-01-01" })).rejects.toThrow(
    Mem0InputError,
  );
  await expect(client.search("tea", { user_id: "a" } as never)).rejects.toThrow(/use userId/);
  expect(platform.requests).toHaveLength(0);
});

test("Mem0ChatModel uses MemoryClient as its backend: retrieval and the stored turn", async () => {
  await client.add("I am vegetarian.", { userId: "alice", infer: false });
  const inner = new FakeListChatModel({ responses: ["Try a lentil curry."] });
  const model = new Mem0ChatModel({ model: inner, memory: client, userId: "alice" });

  await model.invoke("I am vegetarian, what should I cook?");
  await model.flush();

  const search = platform.requests.find((r) => r.path === "/v3/memories/search/");
  expect(search?.body).toMatchObject({ filters: { user_id: "alice" }, top_k: 10 });
  const add = platform.requests.filter((r) => r.path === "/v3/memories/add/").at(-1);
  expect(add?.body).toMatchObject({
    user_id: "alice",
    messages: [
      { role: "user", content: "I am vegetarian, what should I cook?" },
      { role: "assistant", content: "Try a lentil curry." },
    ],
  });
  await model.close();
});

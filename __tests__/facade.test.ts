import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChatOpenAI } from "@langchain/openai";
import { Memory } from "../src/backends/memory.js";
import { HashEmbeddings } from "../src/embeddings/hash.js";
import { Mem0InputError, Mem0ConfigError } from "../src/errors.js";
import { Mem0, type CompletionTrace } from "../src/facade/mem0.js";
import type { ChatCompletionChunk } from "../src/facade/openai_format.js";
import {
  FakeMem0Platform,
  FakeOpenAIServer,
  createDemoHandler,
  parseExtractionInput,
  type FakeChatRequest,
} from "../src/testing/index.js";

// The Mem0 facade over the local engine and the platform: model strings through initChatModel
// (ChatOpenAI against the offline server), OpenAI-shaped answers and streams, parameter
// forwarding and rejection, background storage of the turn and the answer.

let server: FakeOpenAIServer;
beforeAll(async () => {
  server = await FakeOpenAIServer.start();
});
afterAll(async () => server.close());
beforeEach(() => {
  server.reset();
  server.setHandler(createDemoHandler());
});

/** Where the offline server is, as completion parameters (forwarded to ChatOpenAI). */
const offline = () => ({ base_url: server.baseURL, api_key: "offline" });

function localMem0() {
  const memory = new Memory({
    llm: new ChatOpenAI({ apiKey: "offline", configuration: { baseURL: server.baseURL } }),
    embeddings: new HashEmbeddings(),
    path: ":memory:",
  });
  return { memory, mem0: new Mem0({ memory }) };
}

const isExtraction = (request: FakeChatRequest) =>
  request.tools?.[0]?.function?.name === "memory_operations";
const answers = () => server.chatRequests.filter((request) => !isExtraction(request));
const extractions = () => server.chatRequests.filter(isExtraction);

test("a second call answers from what the first one stored, through initChatModel", async () => {
  const { memory, mem0 } = localMem0();
  const first = await mem0.chat.completions.create({
    model: "openai:gpt-4o-mini",
    messages: [{ role: "user", content: "I'm vegetarian and I live in Lisbon." }],
    user_id: "alice",
    ...offline(),
  });
  expect(first).toEqual({
    id: expect.stringMatching(/^chatcmpl-/),
    object: "chat.completion",
    created: expect.any(Number),
    model: "openai:gpt-4o-mini",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: expect.any(String), refusal: null },
        finish_reason: "stop",
        logprobs: null,
      },
    ],
    usage: {
      prompt_tokens: expect.any(Number),
      completion_tokens: expect.any(Number),
      total_tokens: expect.any(Number),
    },
    system_fingerprint: "fp_fake",
  });
  // The memory system prompt is added when the conversation has none.
  expect(answers()[0].messages[0]).toMatchObject({ role: "system" });
  expect(answers()[0].systemText).toMatch(/long-term memory/);

  await mem0.flush();
  // The stored turn holds the user's message and the answer.
  const stored = parseExtractionInput(extractions()[0].lastUserText).conversation;
  expect(stored).toEqual([
    { role: "user", content: "I'm vegetarian and I live in Lisbon." },
    { role: "assistant", content: first.choices[0].message.content },
  ]);
  expect((await memory.getAll({ userId: "alice" })).results.length).toBeGreaterThan(0);

  let trace: CompletionTrace | undefined;
  const second = await mem0.chat.completions.create(
    {
      model: "openai:gpt-4o-mini",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "What should I cook tonight in Lisbon?" },
      ],
      user_id: "alice",
      ...offline(),
    },
    { onTrace: (t) => (trace = t) },
  );
  const sent = answers().at(-1)!;
  // The caller's system message is kept; memories go before the last user message.
  expect(sent.messages.map((m) => m.role)).toEqual(["system", "user"]);
  expect(sent.messages[0].content).toBe("Be brief.");
  expect(sent.lastUserText).toMatch(
    /<memory_context>[\s\S]*vegetarian[\s\S]*<\/memory_context>\n\nWhat should I cook tonight in Lisbon\?$/,
  );
  expect(second.choices[0].message.content).toMatch(/From memory: .*vegetarian/);
  expect(trace?.memories.map((m) => m.memory).join(" ")).toMatch(/vegetarian/);
  expect(trace?.prompt.at(-1)?.content).toBe(sent.lastUserText);

  // Another user sees nothing of alice's.
  await mem0.chat.completions.create({
    model: "openai:gpt-4o-mini",
    messages: [{ role: "user", content: "What should I cook tonight in Lisbon?" }],
    user_id: "bob",
    ...offline(),
  });
  expect(answers().at(-1)!.lastUserText).not.toMatch(/memory_context/);
  await mem0.close();
  await memory.close();
});

test("stream: OpenAI chunks, a usage chunk when asked, and the answer stored once read", async () => {
  const { memory, mem0 } = localMem0();
  const stream = await mem0.chat.completions.create({
    model: "openai:gpt-4o-mini",
    messages: [{ role: "user", content: "I play the cello every evening." }],
    user_id: "alice",
    stream: true,
    stream_options: { include_usage: true },
    ...offline(),
  });
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);

  expect(chunks[0].choices[0].delta).toEqual({ role: "assistant", content: "" });
  expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
  expect(text).toBe("Noted. You said: I play the cello every evening.");
  expect(chunks.length).toBeGreaterThan(4); // streamed in pieces
  const finish = chunks.at(-2)!;
  expect(finish.choices[0]).toMatchObject({ delta: {}, finish_reason: "stop" });
  const usage = chunks.at(-1)!;
  expect(usage.choices).toEqual([]);
  expect(usage.usage).toEqual({
    prompt_tokens: expect.any(Number),
    completion_tokens: expect.any(Number),
    total_tokens: expect.any(Number),
  });

  await mem0.flush();
  expect(parseExtractionInput(extractions()[0].lastUserText).conversation.at(-1)).toEqual({
    role: "assistant",
    content: text,
  });
  await mem0.close();
  await memory.close();
});

test("OpenAI parameters reach the model request; tools come back as tool_calls", async () => {
  const { memory, mem0 } = localMem0();
  server.enqueue({ toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }] });
  const completion = await mem0.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Weather?" }],
    user_id: "alice",
    temperature: 0.3,
    top_p: 0.9,
    max_tokens: 50,
    presence_penalty: 0.5,
    frequency_penalty: 0.25,
    logit_bias: { "50256": -100 },
    seed: 7,
    stop: "END",
    user: "end-user-1",
    tools: [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Weather of a city",
          parameters: { type: "object", properties: { city: { type: "string" } } },
        },
      },
    ],
    tool_choice: "auto",
    parallel_tool_calls: false,
    ...offline(),
  });
  const sent = answers()[0];
  expect(sent).toMatchObject({
    model: "gpt-4o-mini",
    temperature: 0.3,
    top_p: 0.9,
    presence_penalty: 0.5,
    frequency_penalty: 0.25,
    logit_bias: { "50256": -100 },
    seed: 7,
    stop: ["END"],
    user: "end-user-1",
    tool_choice: "auto",
    parallel_tool_calls: false,
  });
  expect(sent.max_tokens ?? sent.max_completion_tokens).toBe(50);
  expect(sent.tools?.[0].function?.name).toBe("get_weather");
  expect(completion.choices[0]).toMatchObject({
    finish_reason: "tool_calls",
    message: {
      content: null,
      tool_calls: [
        {
          id: expect.any(String),
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Lisbon"}' },
        },
      ],
    },
  });

  server.enqueue({ json: { city: "Lisbon" } });
  await mem0.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Reply in JSON" }],
    user_id: "alice",
    response_format: { type: "json_object" },
    ...offline(),
  });
  expect(answers().at(-1)!.response_format).toEqual({ type: "json_object" });
  await mem0.close();
  await memory.close();
});

test("unknown parameters and missing ids are refused before any request", async () => {
  const { memory, mem0 } = localMem0();
  const base = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "hi" }] };
  await expect(
    mem0.chat.completions.create({ ...base, user_id: "a", temprature: 1 } as never),
  ).rejects.toThrow(/unknown parameter "temprature"/);
  await expect(mem0.chat.completions.create({ ...base, userId: "a" } as never)).rejects.toThrow(
    /unknown parameter "userId"; use user_id/,
  );
  await expect(
    mem0.chat.completions.create({ ...base, user_id: "a", model_list: [] } as never),
  ).rejects.toThrow(/model_list is LiteLLM's/);
  await expect(mem0.chat.completions.create(base)).rejects.toThrow(
    /One of user_id, agent_id or run_id must be provided/,
  );
  await expect(
    mem0.chat.completions.create({ ...base, user_id: "a", temperature: 5 }),
  ).rejects.toBeInstanceOf(Mem0InputError);
  await expect(
    mem0.chat.completions.create({ ...base, user_id: "a", messages: [{ role: "robot" }] } as never),
  ).rejects.toThrow(/messages\[0\]\.role must be one of/);
  await expect(
    mem0.chat.completions.create({ ...base, user_id: "a", model: "no-such-model-family" }),
  ).rejects.toBeInstanceOf(Mem0ConfigError);
  expect(server.chatRequests).toHaveLength(0);
  await mem0.close();
  await memory.close();
});

test("n > 1 returns n choices and stores the first one only", async () => {
  const { memory, mem0 } = localMem0();
  server.setHandler(undefined);
  server.enqueue("one", "two");
  const completion = await mem0.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "I like tea." }],
    user_id: "alice",
    n: 2,
    ...offline(),
  });
  expect(completion.choices.map((c) => c.index)).toEqual([0, 1]);
  expect(completion.choices.map((c) => c.message.content).sort()).toEqual(["one", "two"]);
  server.setHandler(createDemoHandler());
  await mem0.flush();
  expect(extractions()).toHaveLength(1);
  await mem0.close();
  await memory.close();
});

test("platform mode: new Mem0({ apiKey, host }) searches and stores through the platform", async () => {
  const platform = await FakeMem0Platform.start();
  const mem0 = new Mem0({ apiKey: platform.apiKey, host: platform.host });
  await mem0.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "I live in Porto." }],
    user_id: "alice",
    run_id: "s1",
    metadata: { channel: "web" },
    ...offline(),
  });
  await mem0.flush();
  await platform.settle();
  const search = platform.requests.find((r) => r.path === "/v3/memories/search/");
  expect(search?.body).toMatchObject({ filters: { user_id: "alice", run_id: "s1" }, top_k: 10 });
  const add = platform.requests.find((r) => r.path === "/v3/memories/add/");
  expect(add?.body).toMatchObject({
    user_id: "alice",
    run_id: "s1",
    metadata: { channel: "web" },
    messages: [
      { role: "user", content: "I live in Porto." },
      { role: "assistant", content: "Noted. You said: I live in Porto." },
    ],
  });

  await mem0.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Where do I live? Porto?" }],
    user_id: "alice",
    limit: 3,
    ...offline(),
  });
  expect(answers().at(-1)!.lastUserText).toMatch(/I live in Porto\./);
  expect(
    platform.requests.filter((r) => r.path === "/v3/memories/search/").at(-1)?.body,
  ).toMatchObject({
    top_k: 3,
  });
  await mem0.close();
  await platform.close();
});

test("the seed's example config works through Memory.fromConfig", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mem0-seed-"));
  const saved = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL };
  process.env.OPENAI_API_KEY = "offline";
  process.env.OPENAI_BASE_URL = server.baseURL;
  const warnings: string[] = [];
  try {
    const mem0 = new Mem0({
      config: {
        vector_store: { provider: "chroma", config: { path: join(dir, "db") } },
        llm: { provider: "openai", config: { model: "gpt-4o" } },
        logger: { warn: (message) => warnings.push(message) },
      },
    });
    await mem0.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "My sister is called Ana." }],
      user_id: "alice",
    });
    await mem0.flush();
    expect(extractions()[0].model).toBe("gpt-4o");
    const memory = (await mem0.memory) as Memory;
    expect((await memory.getAll({ userId: "alice" })).results.map((m) => m.memory)).toEqual([
      "User: My sister is called Ana.",
    ]);
    expect(existsSync(join(dir, "db", "memory.db"))).toBe(true);
    expect(warnings.join(" ")).toMatch(/chroma/);
    await mem0.close();
  } finally {
    process.env.OPENAI_API_KEY = saved.key;
    process.env.OPENAI_BASE_URL = saved.url;
    if (saved.key === undefined) delete process.env.OPENAI_API_KEY;
    if (saved.url === undefined) delete process.env.OPENAI_BASE_URL;
    await rm(dir, { recursive: true, force: true });
  }
});

test("close flushes pending writes, then refuses new calls", async () => {
  const { memory, mem0 } = localMem0();
  await mem0.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "I am allergic to nuts." }],
    user_id: "alice",
    ...offline(),
  });
  await mem0.close();
  expect((await memory.getAll({ userId: "alice" })).results).toHaveLength(1);
  await expect(
    mem0.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
      user_id: "alice",
    }),
  ).rejects.toThrow(/closed/);
  await memory.close();
});

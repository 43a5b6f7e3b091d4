import { jest } from "@jest/globals";
import { AIMessageChunk, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { concat } from "@langchain/core/utils/stream";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { z } from "zod";
import { FakeOpenAIServer, HashEmbeddings, hashEmbedding } from "../src/testing/index.js";

type ChatOpenAIFields = NonNullable<ConstructorParameters<typeof ChatOpenAI>[0]>;
type EmbeddingsFields = NonNullable<ConstructorParameters<typeof OpenAIEmbeddings>[0]>;

let server: FakeOpenAIServer;

beforeAll(async () => {
  server = await FakeOpenAIServer.start();
});

afterEach(() => {
  server.reset();
});

afterAll(async () => {
  await server.close();
});

/** No retries unless a test asks: a failing request should fail at once, not after backoff. */
function chatModel(fields: ChatOpenAIFields = {}): ChatOpenAI {
  return new ChatOpenAI({
    model: "gpt-4o-mini",
    apiKey: "test",
    maxRetries: 0,
    configuration: { baseURL: server.baseURL },
    ...fields,
  });
}

function embeddingsModel(fields: EmbeddingsFields = {}): OpenAIEmbeddings {
  return new OpenAIEmbeddings({
    model: "text-embedding-3-small",
    apiKey: "test",
    maxRetries: 0,
    configuration: { baseURL: server.baseURL },
    ...fields,
  });
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

function aggregate(chunks: AIMessageChunk[]): AIMessageChunk {
  return chunks.reduce((total, chunk) => concat(total, chunk));
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  a.forEach((value, i) => {
    dot += value * b[i];
    normA += value * value;
    normB += b[i] * b[i];
  });
  return dot / Math.sqrt(normA * normB);
}

const weatherTool = tool(async ({ city }) => `Sunny in ${city}`, {
  name: "get_weather",
  description: "Current weather of a city.",
  schema: z.object({ city: z.string(), units: z.enum(["celsius", "fahrenheit"]) }),
});

const personSchema = z.object({ name: z.string(), age: z.number() });

describe("FakeOpenAIServer chat completions", () => {
  test("invoke returns the queued reply and records what the server received", async () => {
    server.enqueue("Hello there!");
    const message = await chatModel().invoke([
      new SystemMessage("Be brief."),
      new HumanMessage("Hi, I am Ada."),
    ]);

    expect(message.content).toBe("Hello there!");
    const [request] = server.chatRequests;
    expect(request.model).toBe("gpt-4o-mini");
    expect(request.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi, I am Ada." },
    ]);
    expect(request.systemText).toBe("Be brief.");
    expect(request.lastUserText).toBe("Hi, I am Ada.");
    const [recorded] = server.requests;
    expect(recorded).toMatchObject({ method: "POST", path: "/v1/chat/completions" });
    expect(recorded.headers.authorization).toBe("Bearer test");
  });

  test("replies come from the queue (FIFO), then the handler, then the echo", async () => {
    const model = chatModel();
    server.enqueue("first", "second");
    expect((await model.invoke("a")).content).toBe("first");
    expect((await model.invoke("b")).content).toBe("second");
    expect((await model.invoke("what did I say?")).content).toBe("Echo: what did I say?");

    server.setHandler((request) => `You said ${request.lastUserText.length} characters`);
    expect((await model.invoke("12345")).content).toBe("You said 5 characters");
  });

  test("stream sends several deltas that add up to the reply, with usage", async () => {
    const reply = "The quick brown fox jumps over the lazy dog.";
    server.enqueue(reply);
    const chunks = await collect(await chatModel().stream("Tell me a pangram"));

    expect(chunks.filter((chunk) => chunk.content !== "").length).toBeGreaterThan(5);
    const message = aggregate(chunks);
    expect(message.content).toBe(reply);
    expect(message.usage_metadata).toMatchObject({
      input_tokens: server.usage.promptTokens,
      output_tokens: server.usage.completionTokens,
      total_tokens: server.usage.totalTokens,
    });
    expect(server.chatRequests[0]).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  test("stream without streamUsage sends no usage chunk", async () => {
    server.enqueue("No usage here.");
    const chunks = await collect(await chatModel({ streamUsage: false }).stream("Hi"));

    expect(aggregate(chunks).usage_metadata).toBeUndefined();
    expect(server.chatRequests[0].stream_options).toBeUndefined();
  });

  test("invoke with bound tools returns a parsed tool call", async () => {
    server.enqueue({
      toolCalls: [{ name: "get_weather", arguments: { city: "Paris", units: "celsius" } }],
    });
    const message = await chatModel().bindTools([weatherTool]).invoke("Weather in Paris?");

    expect(message.tool_calls).toEqual([
      expect.objectContaining({ name: "get_weather", args: { city: "Paris", units: "celsius" } }),
    ]);
    expect(message.tool_calls?.[0].id).toEqual(expect.any(String));
    expect(server.chatRequests[0].tools?.[0].function?.name).toBe("get_weather");
  });

  test("streamed tool calls span several chunks and aggregate into a parsed call", async () => {
    server.enqueue({
      content: "Let me check.",
      toolCalls: [
        { name: "get_weather", arguments: { city: "Paris", units: "celsius" }, id: "c1" },
      ],
    });
    const chunks = await collect(
      await chatModel().bindTools([weatherTool]).stream("Weather in Paris?"),
    );

    const toolChunks = chunks.filter((chunk) => (chunk.tool_call_chunks ?? []).length > 0);
    expect(toolChunks.length).toBeGreaterThan(2);
    const message = aggregate(chunks);
    expect(message.content).toBe("Let me check.");
    expect(message.tool_calls).toEqual([
      expect.objectContaining({
        id: "c1",
        name: "get_weather",
        args: { city: "Paris", units: "celsius" },
      }),
    ]);
  });

  test.each([
    ["default (json_schema)", undefined, "json_schema"],
    ["functionCalling", "functionCalling", undefined],
    ["jsonMode", "jsonMode", "json_object"],
  ] as const)(
    "withStructuredOutput %s gets the json reply as a parsed object",
    async (_label, method, responseFormat) => {
      server.enqueue({ json: { name: "Ada", age: 36 } });
      const structured = chatModel().withStructuredOutput(personSchema, method && { method });

      await expect(structured.invoke("Who wrote the first program?")).resolves.toEqual({
        name: "Ada",
        age: 36,
      });
      const [request] = server.chatRequests;
      expect(request.response_format?.type).toBe(responseFormat);
      if (method === "functionCalling") {
        expect(request.tool_choice).toEqual({ type: "function", function: { name: "extract" } });
      }
    },
  );

  test("usage adds up the deterministic estimates reported by each response", async () => {
    const model = chatModel();
    server.enqueue("12345678", "1234");
    const first = await model.invoke("abcd");
    const second = await model.invoke("abcdefgh");

    expect(first.usage_metadata).toMatchObject({ input_tokens: 1, output_tokens: 2 });
    expect(second.usage_metadata).toMatchObject({ input_tokens: 2, output_tokens: 1 });
    expect(server.usage).toEqual({ promptTokens: 3, completionTokens: 3, totalTokens: 6 });

    server.clearRecords();
    expect(server.usage).toEqual({ promptTokens: 0, completionTokens: 0, totalTokens: 0 });
    expect(server.requests).toEqual([]);
  });

  test("the apiKey option rejects requests with another key", async () => {
    const guarded = await FakeOpenAIServer.start({ apiKey: "secret" });
    try {
      const withKey = (apiKey: string) =>
        new ChatOpenAI({ apiKey, maxRetries: 0, configuration: { baseURL: guarded.baseURL } });
      await expect(withKey("wrong").invoke("Hi")).rejects.toMatchObject({ status: 401 });
      await expect(withKey("secret").invoke("Hi")).resolves.toMatchObject({ content: "Echo: Hi" });
    } finally {
      await guarded.close();
    }
  });
});

describe("FakeOpenAIServer faults", () => {
  test("a 429 with retry-after is retried and the retry succeeds", async () => {
    server.injectFault({ status: 429, retryAfterSeconds: 0 });
    server.enqueue("recovered");
    const message = await chatModel({ maxRetries: 1 }).invoke("Hi");

    expect(message.content).toBe("recovered");
    expect(server.chatRequests).toHaveLength(2);
  });

  test("a 500 without retries throws the OpenAI error", async () => {
    server.injectFault({ status: 500, message: "boom" });
    await expect(chatModel().invoke("Hi")).rejects.toMatchObject({ status: 500, message: /boom/ });
    // The fault was used up: the next request succeeds.
    await expect(chatModel().invoke("Hi")).resolves.toMatchObject({ content: "Echo: Hi" });
  });

  test("a fault applies to the given number of matching requests only", async () => {
    server.injectFault({ status: 503, path: "embeddings" }, 2);
    await expect(chatModel().invoke("Hi")).resolves.toMatchObject({ content: "Echo: Hi" });
    await expect(embeddingsModel().embedQuery("a")).rejects.toMatchObject({ status: 503 });
    await expect(embeddingsModel().embedQuery("b")).rejects.toMatchObject({ status: 503 });
    await expect(embeddingsModel().embedQuery("c")).resolves.toHaveLength(256);
  });

  test("a malformed body makes invoke and stream throw", async () => {
    // Some OpenAI SDK versions log the unparsable stream event before throwing; keep it quiet.
    const logged = jest.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      server.injectFault({ malformed: true }, 2);
      // The JSON parse failure arrives as a SyntaxError (openai 7) or an Error quoting one
      // (openai 6, under @langchain/openai 1.5): match the message, not the class.
      await expect(chatModel().invoke("Hi")).rejects.toThrow(/JSON/);
      // `stream()` itself awaits the first chunk, so it may reject before iteration starts.
      const streamed = (async () => collect(await chatModel().stream("Hi")))();
      await expect(streamed).rejects.toThrow(/JSON/);
    } finally {
      logged.mockRestore();
    }
  });

  test("a hanging request ends when the caller's signal aborts", async () => {
    server.injectFault({ hang: true }, 2);
    const started = Date.now();
    await expect(chatModel().invoke("Hi", { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5_000);

    const controller = new AbortController();
    const pending = chatModel().invoke("Hi", { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toThrow();

    await expect(chatModel().invoke("Hi")).resolves.toMatchObject({ content: "Echo: Hi" });
  });

  test("close ends hanging requests instead of waiting for them", async () => {
    const other = await FakeOpenAIServer.start();
    other.injectFault({ hang: true });
    const pending = fetch(`${other.baseURL}/models`);
    // Wait until the request has arrived, so close really has a hanging request to end.
    while (other.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    await other.close();
    await expect(pending).rejects.toThrow();
  });

  test("a reply delay and the latency option slow responses down", async () => {
    const slow = await FakeOpenAIServer.start({ latencyMs: 100 });
    try {
      slow.enqueue({ content: "late", delayMs: 100 });
      const started = Date.now();
      const message = await new ChatOpenAI({
        apiKey: "test",
        configuration: { baseURL: slow.baseURL },
      }).invoke("Hi");
      expect(message.content).toBe("late");
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    } finally {
      await slow.close();
    }
  });
});

describe("FakeOpenAIServer HTTP surface", () => {
  const post = (path: string, body: string) =>
    fetch(`${server.baseURL}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });

  test("lists models", async () => {
    const response = await fetch(`${server.baseURL}/models`);
    const body = (await response.json()) as { object: string; data: { id: string }[] };
    expect(body.object).toBe("list");
    expect(body.data.map((model) => model.id)).toContain("gpt-4o-mini");
  });

  test("answers unknown routes with a 404 in OpenAI's error shape", async () => {
    const response = await fetch(`${server.baseURL}/nowhere`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: expect.objectContaining({ message: expect.stringContaining("/v1/nowhere") }),
    });
  });

  test("answers a body that is not JSON with a 400", async () => {
    const response = await post("/chat/completions", "{not json");
    expect(response.status).toBe(400);
    expect(server.requests[0]).toMatchObject({ path: "/v1/chat/completions", body: undefined });
  });

  test("rejects token-array embedding input with a clear 400", async () => {
    const response = await post("/embeddings", JSON.stringify({ model: "m", input: [[1, 2, 3]] }));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/token arrays are not supported/);
  });

  test("sends a refusal in OpenAI's message shape", async () => {
    server.enqueue({ refusal: "I cannot help with that." });
    const response = await post(
      "/chat/completions",
      JSON.stringify({ model: "m", messages: [{ role: "user", content: "Hi" }] }),
    );
    const body = (await response.json()) as { choices: { message: unknown }[] };
    expect(body.choices[0].message).toEqual({
      role: "assistant",
      content: null,
      refusal: "I cannot help with that.",
    });
  });

  test("reports a throwing handler as a 400 naming the error", async () => {
    server.setHandler(() => {
      throw new Error("no reply scripted");
    });
    await expect(chatModel().invoke("Hi")).rejects.toThrow(/no reply scripted/);
  });
});

describe("FakeOpenAIServer embeddings", () => {
  const texts = [
    "I love pizza with extra cheese",
    "Pizza with cheese is my favourite food",
    "The stock market fell sharply on Monday",
  ];

  test.each([["base64 (default)"], ["float"]] as const)(
    "OpenAIEmbeddings gets stable, meaningful vectors as %s",
    async (format) => {
      const embeddings = embeddingsModel(format === "float" ? { encodingFormat: "float" } : {});
      const vectors = await embeddings.embedDocuments(texts);
      const again = await embeddings.embedQuery(texts[0]);

      expect(vectors).toHaveLength(3);
      expect(again).toEqual(vectors[0]);
      expect(cosine(vectors[0], vectors[1])).toBeGreaterThan(cosine(vectors[0], vectors[2]) + 0.3);
      // Exactly the in-process vectors, whichever encoding carried them.
      expect(vectors).toEqual(await new HashEmbeddings().embedDocuments(texts));
      expect(server.embeddingRequests[0]).toMatchObject({
        input: texts,
        encoding_format: format === "float" ? "float" : "base64",
      });
    },
  );

  test("the dimensions of the request override the server default", async () => {
    const vector = await embeddingsModel({ dimensions: 64 }).embedQuery("hello world");
    expect(vector).toHaveLength(64);
    expect(vector).toEqual(hashEmbedding("hello world", 64));
  });
});

describe("hashEmbedding and HashEmbeddings", () => {
  test("vectors are unit length, also for text without words", () => {
    for (const text of ["Hello, world!", "", "  ...  "]) {
      const vector = hashEmbedding(text, 32);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    }
    expect(hashEmbedding("", 32)).toEqual(hashEmbedding("?!", 32));
  });

  test("case, punctuation and spacing do not change a vector", () => {
    expect(hashEmbedding("Hello,   WORLD!", 64)).toEqual(hashEmbedding("hello world", 64));
  });

  test("shared words raise similarity, including across inflections", () => {
    const memory = hashEmbedding("User prefers vegetarian restaurants", 256);
    expect(
      cosine(memory, hashEmbedding("Which restaurants does the user prefer?", 256)),
    ).toBeGreaterThan(
      cosine(memory, hashEmbedding("Quarterly revenue grew by ten percent", 256)) + 0.2,
    );
  });

  test("HashEmbeddings names its model after its dimensions and validates them", async () => {
    const embeddings = new HashEmbeddings({ dimensions: 16 });
    expect(embeddings.model).toBe("hash-embeddings-16");
    expect(await embeddings.embedQuery("hi")).toHaveLength(16);
    expect(new HashEmbeddings().model).toBe("hash-embeddings-256");
    expect(() => new HashEmbeddings({ dimensions: 0 })).toThrow(RangeError);
  });
});

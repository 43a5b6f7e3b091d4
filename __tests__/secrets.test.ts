/**
 * A planted API key and a planted user id must appear nowhere in what the package writes:
 * console output, thrown errors (messages, stacks, causes), `onError` payloads, callback
 * events and the parameters it reports for tracing.
 */
import { jest } from "@jest/globals";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory } from "../src/backends/memory.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import { FakeOpenAIServer } from "../src/testing/index.js";

const PLANTED_KEY = "sk-planted-7f3a9c1e5b2d4086";
const PLANTED_USER = "zq-planted-user@example.com";

/** The chat model's provider, and the memory's (extraction and embeddings). */
let chatServer: FakeOpenAIServer;
let server: FakeOpenAIServer;
beforeAll(async () => {
  [chatServer, server] = await Promise.all([FakeOpenAIServer.start(), FakeOpenAIServer.start()]);
});
afterAll(async () => Promise.all([chatServer.close(), server.close()]));

/** Everything reachable from a value, as text: errors with their stack and causes included. */
function dump(value: unknown, seen = new Set<unknown>()): string {
  if (value === null || typeof value !== "object") return String(value);
  if (seen.has(value)) return "";
  seen.add(value);
  const parts: string[] = [];
  if (value instanceof Error) parts.push(value.name, value.message, value.stack ?? "");
  for (const key of Reflect.ownKeys(value)) {
    parts.push(String(key), dump((value as Record<PropertyKey, unknown>)[key], seen));
  }
  return parts.join("\n");
}

it("never writes the API key or the user id into output, errors, payloads or events", async () => {
  const captured: unknown[] = [];
  const printed: unknown[] = [];
  const thrown: unknown[] = [];
  const spies = (["log", "info", "warn", "error", "debug"] as const).map((method) =>
    jest.spyOn(console, method).mockImplementation((...args) => {
      captured.push(args);
      printed.push(args);
    }),
  );
  const keep = (error: unknown) => {
    captured.push(error);
    thrown.push(error);
  };
  class Recorder extends BaseCallbackHandler {
    name = "recorder";
    override async handleCustomEvent(name: string, data: unknown) {
      captured.push(name, data);
    }
    override async handleLLMError(error: unknown) {
      captured.push(error);
    }
    override async handleRetrieverError(error: unknown) {
      captured.push(error);
    }
  }
  try {
    const configuration = { baseURL: server.baseURL };
    const memory = new Memory({
      llm: new ChatOpenAI({ model: "gpt-4o-mini", apiKey: PLANTED_KEY, configuration }),
      embeddings: new OpenAIEmbeddings({ apiKey: PLANTED_KEY, configuration }),
      path: ":memory:",
    });
    const inner = new ChatOpenAI({
      model: "gpt-4o",
      apiKey: PLANTED_KEY,
      configuration: { baseURL: chatServer.baseURL },
    });
    const quiet = new Mem0ChatModel({ model: inner, memory, userId: PLANTED_USER });
    const hooked = new Mem0ChatModel({
      model: inner,
      memory,
      userId: PLANTED_USER,
      onError: (error, context) => captured.push(error, context.stage),
    });
    const callbacks = [new Recorder()];
    chatServer.setHandler(() => "Sure.");
    server.setHandler(() => "not operations");
    captured.push(quiet.invocationParams({}), quiet._identifyingParams());

    // A working call, then a failing retrieval (bad key) and failing writes, with and without
    // onError, the default warnings included.
    await quiet.invoke("hello", { callbacks });
    server.injectFault({ status: 401, path: "embeddings", message: "Incorrect API key" }, 2);
    await quiet.invoke("hello again", { callbacks });
    await hooked.invoke("and again", { callbacks });
    server.injectFault({ status: 401, path: "chat", message: "Incorrect API key" }, 4);
    await quiet.invoke("one more", { callbacks });
    await hooked.invoke("one more", { callbacks });
    await Promise.all([quiet.flush(), hooked.flush()]);
    await memory.recover({ retryFailed: true });

    // Thrown errors: a closed model, and a config error around a planted key.
    await quiet.close();
    await quiet.invoke("closed").catch(keep);
    await Memory.fromConfig({
      llm: {
        provider: "openai",
        config: { api_key: PLANTED_KEY, temperature: "hot" as unknown as number },
      },
    }).catch(keep);
    await memory.close();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  const text = dump(captured);
  expect(text.length).toBeGreaterThan(1_000);
  expect(text).toContain("not operations"); // the failures really happened and were captured
  expect(text).not.toContain(PLANTED_KEY);
  expect(text).not.toContain("planted-7f3a");
  // The user id belongs in the app's own hooks (onError's scope, the failure event), not in
  // what the package prints or throws.
  const printedOrThrown = dump([...printed, ...thrown]);
  expect(printedOrThrown).toContain("could not be stored"); // the default warnings were printed
  expect(printedOrThrown).not.toContain("zq-planted-user");
});

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { AIMessageChunk } from "@langchain/core/messages";
import { LangChainTracer } from "@langchain/core/tracers/tracer_langchain";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import type { Client } from "langsmith";
import { Memory } from "../src/backends/memory.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import { FakeOpenAIServer, parseExtractionInput } from "../src/testing/index.js";
import {
  FakeLangSmithServer,
  addTokens,
  ownUsage,
  traceUsage,
  type RecordedRun,
  type TokenCounts,
} from "./utils/langsmith_server.js";

// Tracing is configured the way users turn it on: from the environment, picked up by
// CallbackManager.configure, with the real `langsmith` client posting to a local endpoint.
// All clients keep their default retry settings.

let openai: FakeOpenAIServer;
let langsmith: FakeLangSmithServer;
let dir: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  openai = await FakeOpenAIServer.start();
  langsmith = await FakeLangSmithServer.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-tracing-"));
  process.env.LANGSMITH_TRACING = "true";
  process.env.LANGSMITH_ENDPOINT = langsmith.url;
  process.env.LANGSMITH_API_KEY = "test";
});
afterAll(async () => {
  process.env = savedEnv;
  await openai.close();
  await langsmith.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  openai.reset();
  langsmith.reset();
});

const EXTRACTION_MODEL = "gpt-4o-mini";
const CHAT_MODEL = "gpt-4o";

/** Extraction calls remember the last user line; chat calls answer "Noted." */
function answerAll(extraction: "remember" | "refuse" = "remember") {
  openai.setHandler((request) => {
    const tool = request.tools?.[0]?.function?.name;
    if (tool !== "memory_operations") return "Noted.";
    if (extraction === "refuse") return { refusal: "I cannot help with that." };
    const { conversation } = parseExtractionInput(request.lastUserText);
    const fact = `User said: ${conversation.filter((m) => m.role === "user").at(-1)?.content}`;
    return { json: { add: [fact], update: [], delete: [] } };
  });
}

let files = 0;
function setup() {
  const client = { apiKey: "test", configuration: { baseURL: openai.baseURL } };
  const memory = new Memory({
    llm: new ChatOpenAI({ model: EXTRACTION_MODEL, ...client }),
    embeddings: new OpenAIEmbeddings({ model: "text-embedding-3-small", ...client }),
    path: path.join(dir, `memory-${files++}.db`),
  });
  const model = new Mem0ChatModel({
    model: new ChatOpenAI({ model: CHAT_MODEL, ...client }),
    memory,
    userId: "alice",
    onError: () => undefined,
  });
  return { memory, model };
}

/** Waits for the writes, the background callbacks and the tracer's batches to be posted. */
async function drain(model: Mem0ChatModel) {
  await model.flush();
  await awaitAllCallbacks();
  await (new LangChainTracer().client as Client).awaitPendingTraceBatches();
}

const named = (runs: RecordedRun[], name: string) => runs.filter((run) => run.name === name);
const metadataOf = (run: RecordedRun) => run.extra?.metadata ?? {};

function ancestors(run: RecordedRun, runs: Map<string, RecordedRun>): string[] {
  const ids: string[] = [];
  for (let id = run.parent_run_id; id !== undefined; id = runs.get(id)?.parent_run_id) {
    ids.push(id);
  }
  return ids;
}

function tokensOf(message: AIMessageChunk): TokenCounts {
  const usage = message.usage_metadata!;
  return {
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    total_tokens: usage.total_tokens,
  };
}

describe("tracing in LangSmith", () => {
  it("traces each stored turn as one named write run, linked to its chat run, with the extraction inside", async () => {
    answerAll();
    const { memory, model } = setup();
    const turns = ["I drink green tea every morning.", "I live in Lisbon."];
    for (const turn of turns) await model.invoke(turn);
    await drain(model);

    const runs = langsmith.runList;
    const chats = named(runs, "Mem0ChatModel");
    const writes = named(runs, "Mem0MemoryWrite");
    expect(chats).toHaveLength(2);
    expect(writes).toHaveLength(2);
    // Every trace is a chat call or a write: no orphan "RunnableSequence" any more.
    const roots = runs.filter((run) => run.parent_run_id === undefined);
    expect(roots.map((run) => run.name).sort()).toEqual([
      "Mem0ChatModel",
      "Mem0ChatModel",
      "Mem0MemoryWrite",
      "Mem0MemoryWrite",
    ]);

    chats.forEach((chat, i) => {
      const write = writes.find((run) => metadataOf(run).mem0_chat_run_id === chat.id);
      expect(write).toBeDefined();
      expect(write).toMatchObject({ run_type: "chain", trace_id: write!.id });
      expect(write!.error).toBeUndefined();
      expect(write!.end_time).toBeDefined();
      expect(metadataOf(write!)).toMatchObject({ user_id: "alice" });
      expect(JSON.stringify(write!.inputs)).toContain(turns[i]);
      expect(JSON.stringify(write!.outputs)).toContain(`User said: ${turns[i]}`);

      // The extraction call is nested in the write run, and only there.
      const inWrite = runs.filter((run) => run.trace_id === write!.id);
      const extraction = inWrite.filter((run) => run.run_type === "llm");
      expect(extraction).toHaveLength(1);
      expect(metadataOf(extraction[0]).ls_model_name).toBe(EXTRACTION_MODEL);
      expect(ancestors(extraction[0], langsmith.runs)).toContain(write!.id);
      expect(named(inWrite, "Mem0MemoryExtraction")).toHaveLength(1);

      const inChat = runs.filter((run) => run.trace_id === chat.id);
      expect(inChat.map((run) => run.name).sort()).toEqual([
        "ChatOpenAI",
        "Mem0ChatModel",
        "Mem0MemoryRetrieval",
      ]);
    });
    await memory.close();
  });

  it("counts the inner model's tokens once in the chat trace, for invoke and stream", async () => {
    answerAll();
    const { memory, model } = setup();
    const invoked = await model.invoke("I drink green tea every morning.");
    let streamed: AIMessageChunk | undefined;
    for await (const chunk of await model.stream("I live in Lisbon.")) {
      streamed = streamed ? streamed.concat(chunk) : chunk;
    }
    await drain(model);

    // Drop-in for ChatOpenAI: the caller still gets the usage.
    const answers = [tokensOf(invoked), tokensOf(streamed!)];
    for (const usage of answers) expect(usage.total_tokens).toBeGreaterThan(0);

    const runs = langsmith.runList;
    const chats = named(runs, "Mem0ChatModel");
    expect(chats).toHaveLength(2);
    chats.forEach((chat, i) => {
      expect(traceUsage(runs, chat.id)).toEqual(answers[i]);
      // The inner run carries the usage; the wrapper's run reports none of its own.
      const inner = runs.find((run) => run.parent_run_id === chat.id && run.run_type === "llm");
      expect(ownUsage(inner!)).toEqual(answers[i]);
      expect(ownUsage(chat)).toEqual({ input_tokens: 0, output_tokens: 0, total_tokens: 0 });
      expect(chat.extra?.invocation_params).toMatchObject({
        model: CHAT_MODEL,
        mem0: { topK: 10, retrieval: "user_turn", store: "background" },
      });
      expect(metadataOf(inner!)).not.toHaveProperty("mem0");
    });

    // Over all traces, every token the model server billed is counted exactly once.
    const traces = [...new Set(runs.map((run) => run.trace_id!))];
    const total = traces.map((id) => traceUsage(runs, id)).reduce(addTokens);
    expect(total).toEqual({
      input_tokens: openai.usage.promptTokens,
      output_tokens: openai.usage.completionTokens,
      total_tokens: openai.usage.totalTokens,
    });
    await memory.close();
  });

  it("reports the write to the chat call's tracers only, not to its other handlers", async () => {
    answerAll();
    const { memory, model } = setup();
    const seen: string[] = [];
    const handler = BaseCallbackHandler.fromMethods({
      handleChatModelStart: (llm) => void seen.push(llm.id.at(-1)!),
      handleChainStart: (_chain, _inputs, _runId, _parent, _tags, _metadata, _type, name) =>
        void seen.push(name ?? "chain"),
    });
    await model.invoke("I drink green tea every morning.", { callbacks: [handler] });
    await drain(model);
    expect(seen).toEqual(["Mem0ChatModel", "ChatOpenAI"]);
    expect(named(langsmith.runList, "Mem0MemoryWrite")).toHaveLength(1);
    await memory.close();
  });

  it("ends the write run with the error when storing fails for good", async () => {
    answerAll("refuse");
    const { memory, model } = setup();
    await model.invoke("I drink green tea every morning.");
    await drain(model);

    const runs = langsmith.runList;
    const [chat] = named(runs, "Mem0ChatModel");
    const [write, ...others] = named(runs, "Mem0MemoryWrite");
    expect(others).toHaveLength(0);
    expect(metadataOf(write)).toMatchObject({ user_id: "alice", mem0_chat_run_id: chat.id });
    expect(write.error).toMatch(/MemoryExtractionError/);
    expect(write.end_time).toBeDefined();
    const extraction = runs.filter((run) => run.trace_id === write.id && run.run_type === "llm");
    expect(extraction).toHaveLength(1);
    await memory.close();
  });
});

/**
 * The write path of Mem0ChatModel over the local engine, with the provider clients' default
 * settings (retries, timeouts), against the offline OpenAI-compatible server: crashes, hangs,
 * faults, forgetting and early stream stops.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory, type MemoryOptions } from "../src/backends/memory.js";
import { Mem0ChatModel, type Mem0ChatModelFields } from "../src/chat_models.js";
import { MemoryExtractionError } from "../src/errors.js";
import { FakeOpenAIServer, type FakeChatRequest } from "../src/testing/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
let server: FakeOpenAIServer;
let dir: string;
beforeAll(async () => {
  server = await FakeOpenAIServer.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-write-path-"));
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => server.reset());

let files = 0;
const newFile = () => path.join(dir, `write-${files++}.db`);
const isExtraction = (request: FakeChatRequest) => Boolean(request.tools?.length);
const ops = (add: string[]) => ({ json: { add, update: [], delete: [] } });
const configuration = () => ({ baseURL: server.baseURL });

function newMemory(file: string, options: Partial<MemoryOptions> = {}) {
  return new Memory({
    llm: new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration: configuration() }),
    embeddings: new OpenAIEmbeddings({ apiKey: "test", configuration: configuration() }),
    path: file,
    recoverOnOpen: false,
    ...options,
  });
}

function newModel(memory: Memory, fields: Partial<Mem0ChatModelFields> = {}) {
  return new Mem0ChatModel({
    model: new ChatOpenAI({ model: "gpt-4o", apiKey: "test", configuration: configuration() }),
    memory,
    userId: "alice",
    ...fields,
  });
}

const texts = async (memory: Memory) =>
  (await memory.getAll({ userId: "alice" })).results.map((m) => m.memory).sort();

/** Starts a chat process; resolves once its invoke returned. */
function chatProcess(file: string, text: string) {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(here, "fixtures", "chat_worker.ts"),
      file,
      server.baseURL,
      "alice",
      text,
    ],
    { cwd: path.join(here, ".."), env: { ...process.env, NODE_OPTIONS: "" } },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const returned = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("returned")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`chat process exited ${code}: ${stderr}`)));
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return { child, returned, exited };
}

describe("crashes lose nothing and apply once", () => {
  it("SIGKILL right after invoke returned: a new process replays the turn exactly once", async () => {
    const file = newFile();
    await newMemory(file).close();
    // The write cannot finish before the kill: extraction hangs in the first process.
    server.setHandler((request) =>
      isExtraction(request) ? { ...ops(["User loves green tea"]), delayMs: 60_000 } : "Noted.",
    );
    const { child, returned, exited } = chatProcess(file, "I love green tea");
    await returned;
    child.kill("SIGKILL");
    await exited;

    server.setHandler((request) => (isExtraction(request) ? ops(["User loves green tea"]) : "x"));
    const memory = newMemory(file);
    expect(await memory.outbox()).toHaveLength(1);
    expect(await memory.recover()).toBe(1);
    expect(await memory.recover()).toBe(0);
    expect(await texts(memory)).toEqual(["User loves green tea"]);
    await memory.close();
  }, 60_000);

  it("killed while applying: the dead process's lease is taken over, applied once", async () => {
    const file = newFile();
    await newMemory(file).close();
    let extractionStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (extractionStarted = resolve));
    server.setHandler((request) => {
      if (!isExtraction(request)) return "Noted.";
      extractionStarted();
      return { ...ops(["User plays the oboe"]), delayMs: 60_000 };
    });
    const { child, returned, exited } = chatProcess(file, "I play the oboe");
    await returned;
    await started;
    child.kill("SIGKILL");
    await exited;

    server.setHandler((request) => (isExtraction(request) ? ops(["User plays the oboe"]) : "x"));
    const [first, second] = [newMemory(file), newMemory(file)];
    const applied = await Promise.all([first.recover(), second.recover()]);
    expect(applied.reduce((a, b) => a + b)).toBe(1);
    expect(await texts(first)).toEqual(["User plays the oboe"]);
    await Promise.all([first.close(), second.close()]);
  }, 60_000);
});

describe("forgetting sticks", () => {
  it("deleteAll right after invoke: nothing comes back, no planted word left in the files", async () => {
    const file = newFile();
    const memory = newMemory(file);
    const model = newModel(memory);
    const planted = "Quxbarzlewick";
    server.setHandler((request) =>
      isExtraction(request)
        ? ops([`User's secret word is ${planted}`])
        : `I will remember ${planted}.`,
    );
    await model.invoke(`My secret word is ${planted}`);
    await memory.deleteAll({ userId: "alice" });
    await model.flush();
    expect(await texts(memory)).toEqual([]);
    expect(await memory.outbox()).toEqual([]);
    await model.close();
    await memory.close();
    for (const f of [file, `${file}-wal`].filter((name) => fs.existsSync(name))) {
      expect(fs.readFileSync(f).toString("latin1")).not.toContain(planted);
    }
  });
});

describe("bounded time", () => {
  it("a hanging embedding endpoint: invoke with timeout 1500 still answers in about 2 s", async () => {
    // Embedding clients take no abort signal: with default retries, the abandoned request
    // would go on retrying against the closed server after the test, keeping jest alive.
    const memory = newMemory(newFile(), {
      embeddings: new OpenAIEmbeddings({
        apiKey: "test",
        configuration: configuration(),
        maxRetries: 0,
      }),
    });
    const errors: unknown[] = [];
    const model = newModel(memory, { store: "off", onError: (error) => errors.push(error) });
    server.injectFault({ hang: true, path: "embeddings" });
    server.setHandler(() => "Hello!");
    const started = Date.now();
    const answer = await model.invoke("hi", { timeout: 1500 });
    expect(answer.content).toBe("Hello!");
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/retrieval took longer than 750 ms/);
    await memory.close();
  });

  it("a hanging extraction LLM: flush returns in time, the turn stays queued, onError fired", async () => {
    const memory = newMemory(newFile(), { writeTimeoutMs: 500 });
    const errors: unknown[] = [];
    const model = newModel(memory, { onError: (error) => errors.push(error) });
    server.setHandler((request) =>
      isExtraction(request) ? { ...ops(["x"]), delayMs: 60_000 } : "Noted.",
    );
    await model.invoke("I keep bees");
    const started = Date.now();
    expect(await model.flush({ timeout: 5_000 })).toBe(true);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await memory.outbox()).toEqual([
      expect.objectContaining({ attempts: 1, lastError: expect.stringMatching(/writeTimeoutMs/) }),
    ]);
    expect(errors).toHaveLength(1);
    await model.close();
    await memory.close();
  });

  it("store: await respects the call's timeout", async () => {
    const memory = newMemory(newFile());
    const model = newModel(memory, { store: "await", onError: () => undefined });
    server.setHandler((request) =>
      isExtraction(request) ? { ...ops(["x"]), delayMs: 60_000 } : "Noted.",
    );
    const started = Date.now();
    await model.invoke("I keep bees", { timeout: 1000 });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await memory.outbox()).toHaveLength(1);
    await model.close({ timeout: 100 });
    await memory.close();
  });
});

describe("one retry policy, with default clients", () => {
  it("a failing provider: the client's retries run inside the deadline, ours add none", async () => {
    const memory = newMemory(newFile(), { writeTimeoutMs: 3_500 });
    const model = newModel(memory, { onError: () => undefined });
    server.setHandler(() => "Noted.");
    await model.invoke("I keep bees");
    server.clearRecords();
    server.injectFault({ status: 500, path: "chat" }, 1_000);
    await model.flush();
    const during = server.chatRequests.length;
    // ChatOpenAI's default 6 retries back off 1, 2, 4 ... s: 3 requests fit in 3.5 s.
    expect(during).toBeGreaterThanOrEqual(1);
    expect(during).toBeLessThanOrEqual(4);
    // The client may still send the attempt it was backing off for; never more than its own
    // 1 + maxRetries, and the queue made one attempt.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(server.chatRequests.length).toBeLessThanOrEqual(7);
    expect((await memory.outbox())[0]).toMatchObject({ attempts: 1 });
    await model.close();
    await memory.close();
  }, 20_000);

  it("bad model output costs two requests, then MemoryExtractionError with the raw output", async () => {
    const memory = newMemory(newFile());
    const errors: unknown[] = [];
    const model = newModel(memory, { onError: (error) => errors.push(error) });
    server.setHandler((request) => (isExtraction(request) ? "I would rather not say." : "Noted."));
    await model.invoke("I keep bees");
    await model.flush();
    expect(server.chatRequests.filter(isExtraction)).toHaveLength(2);
    expect(errors).toEqual([expect.any(MemoryExtractionError)]);
    expect((errors[0] as MemoryExtractionError).rawOutput).toBe("I would rather not say.");
    await model.close();
    await memory.close();
  });

  it("a truncated HTTP body is a transport fault: retried by the client, no repair call", async () => {
    const memory = newMemory(newFile());
    const model = newModel(memory);
    server.setHandler((request) => (isExtraction(request) ? ops(["User keeps bees"]) : "Noted."));
    await model.invoke("I keep bees");
    server.clearRecords();
    await memory.deleteAll({ userId: "alice" });
    server.injectFault({ malformed: true, path: "chat" });
    await model.invoke("I keep bees");
    await model.flush();
    expect(await texts(memory)).toEqual(["User keeps bees"]);
    const extractions = server.chatRequests.filter(isExtraction);
    expect(extractions.length).toBeGreaterThanOrEqual(1);
    expect(extractions.every((r) => !r.lastUserText.includes("could not be used"))).toBe(true);
    await model.close();
    await memory.close();
  });
});

describe("streams", () => {
  it("an early break leaves no run behind and stores nothing; a full stream stores", async () => {
    const memory = newMemory(newFile());
    const model = newModel(memory);
    server.setHandler((request) =>
      isExtraction(request) ? ops(["User likes kites"]) : "One two three four five six",
    );
    for await (const chunk of await model.stream("I like kites")) {
      expect(chunk).toBeDefined();
      break;
    }
    await model.flush();
    expect(model.handler?.trackedRuns).toBe(0);
    expect(await memory.outbox()).toEqual([]);
    expect(await texts(memory)).toEqual([]);

    const controller = new AbortController();
    const aborted = (async () => {
      for await (const _chunk of await model.stream("I like kites", {
        signal: controller.signal,
      })) {
        controller.abort();
      }
    })();
    await expect(aborted).rejects.toThrow();
    expect(model.handler?.trackedRuns).toBe(0);

    for await (const _chunk of await model.stream("I like kites")) {
      // consume all
    }
    await model.flush();
    expect(await texts(memory)).toEqual(["User likes kites"]);
    await model.close();
    await memory.close();
  });
});

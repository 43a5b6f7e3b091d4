import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory, type MemoryOptions } from "../src/backends/memory.js";
import { FakeOpenAIServer, type FakeChatRequest } from "../src/testing/index.js";
import { sameFactHandler } from "./utils/fakes.js";
import { runTogether, startWorker } from "./utils/processes.js";

let server: FakeOpenAIServer;
let dir: string;
beforeAll(async () => {
  server = await FakeOpenAIServer.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-outbox-"));
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => server.reset());

let files = 0;
const newFile = () => path.join(dir, `outbox-${files++}.db`);
const alice = { userId: "alice" };
const ops = (add: string[], del: number[] = []) => ({
  json: { add, update: [], delete: del.map((id) => ({ id })) },
});
const isExtraction = (request: FakeChatRequest) =>
  Boolean(request.response_format || request.tools);

function newMemory(file: string, options: Partial<MemoryOptions> = {}) {
  const configuration = { baseURL: server.baseURL };
  return new Memory({
    llm: new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration }),
    embeddings: new OpenAIEmbeddings({ apiKey: "test", configuration }),
    path: file,
    recoverOnOpen: false,
    ...options,
  });
}

const texts = async (memory: Memory, scope = alice) =>
  (await memory.getAll(scope)).results.map((m) => m.memory).sort();

describe("the durable outbox", () => {
  it("commits, applies exactly once, and is empty afterwards", async () => {
    const memory = newMemory(newFile());
    const id = (await memory.enqueue("I love green tea", alice))!;
    expect(await memory.outbox()).toEqual([
      expect.objectContaining({ id, scope: alice, attempts: 0, ageMs: expect.any(Number) }),
    ]);
    expect(server.chatRequests).toHaveLength(0);
    server.enqueue(ops(["User loves green tea"]));
    expect((await memory.applyQueued(id))?.results.map((r) => r.memory)).toEqual([
      "User loves green tea",
    ]);
    expect(await memory.applyQueued(id)).toBeUndefined();
    expect(await memory.outbox()).toEqual([]);
    expect(await texts(memory)).toEqual(["User loves green tea"]);
    expect(server.chatRequests).toHaveLength(1);
    await memory.close();
  });

  it("replays leftovers in a new Memory, oldest first, with recover()", async () => {
    const file = newFile();
    const first = newMemory(file);
    await first.enqueue("I live in Paris", alice);
    await first.enqueue("Actually I moved to Berlin", alice);
    await first.close();

    const order: string[] = [];
    server.setHandler((request) => {
      order.push(request.lastUserText.includes("Berlin") ? "berlin" : "paris");
      return order.length === 1 ? ops(["User lives in Paris"]) : ops(["User lives in Berlin"], [0]);
    });
    const second = newMemory(file);
    expect(await second.recover()).toBe(2);
    expect(order).toEqual(["paris", "berlin"]);
    expect(await texts(second)).toEqual(["User lives in Berlin"]);
    expect(await second.outbox()).toEqual([]);
    expect(await second.recover()).toBe(0);
    await second.close();
  });

  it("replays on open by default", async () => {
    const file = newFile();
    const first = newMemory(file);
    await first.enqueue("My cat is called Tom", alice);
    await first.close();
    server.enqueue(ops(["User's cat is called Tom"]));
    const reopened = newMemory(file, { recoverOnOpen: true });
    for (let i = 0; i < 100 && (await reopened.outbox()).length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await texts(reopened)).toEqual(["User's cat is called Tom"]);
    await reopened.close();
  });

  it("keeps a failing write with its attempts and error, and reports it", async () => {
    const errors: unknown[] = [];
    const memory = newMemory(newFile(), {
      writeTimeoutMs: 1_000,
      onError: (error) => errors.push(error),
    });
    const id = (await memory.enqueue("I play the cello", alice))!;
    // Every extraction hangs until the handler changes (the deadline may even end an attempt
    // before its LLM call on a busy machine, so counted faults would be left over).
    server.setHandler(() => ({ ...ops(["never"]), delayMs: 60_000 }));
    const started = Date.now();
    await expect(memory.applyQueued(id)).rejects.toThrow(/timeout|abort/i);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await memory.outbox()).toEqual([
      expect.objectContaining({
        id,
        attempts: 1,
        lastError: expect.stringMatching(/Mem0TimeoutError: .*writeTimeoutMs/),
      }),
    ]);
    expect(await memory.recover()).toBe(0);
    expect(errors).toHaveLength(1);
    expect((await memory.outbox())[0].attempts).toBe(2);
    server.setHandler(() => ops(["User plays the cello"]));
    expect(await memory.recover()).toBe(1);
    expect(await texts(memory)).toEqual(["User plays the cello"]);
    await memory.close();
  });

  it("leaves writes that failed maxAttempts times to recover({ retryFailed: true })", async () => {
    const memory = newMemory(newFile(), { maxAttempts: 1, onError: () => undefined });
    const id = (await memory.enqueue("I collect stamps", alice))!;
    server.enqueue("not json", "still not json");
    await expect(memory.applyQueued(id)).rejects.toThrow(/unusable/);
    expect(await memory.recover()).toBe(0);
    expect(server.chatRequests).toHaveLength(2);
    server.enqueue(ops(["User collects stamps"]));
    expect(await memory.recover({ retryFailed: true })).toBe(1);
    await memory.close();
  });
});

describe("forgetting wins over queued writes", () => {
  it("deleteAll drops the owner's queued writes: nothing comes back", async () => {
    const memory = newMemory(newFile());
    const id = (await memory.enqueue("I smoke", alice))!;
    const other = (await memory.enqueue("I run", { userId: "bob" }))!;
    await memory.deleteAll(alice);
    server.setHandler(() => ops(["User smokes"]));
    expect(await memory.applyQueued(id)).toBeUndefined();
    expect(await texts(memory)).toEqual([]);
    expect((await memory.outbox()).map((w) => w.id)).toEqual([other]);
    await memory.close();
  });

  it("a deleteAll during the LLM call wins: the write is not applied", async () => {
    const memory = newMemory(newFile());
    const id = (await memory.enqueue("I smoke", { userId: "alice", runId: "r1" }))!;
    server.enqueue({ ...ops(["User smokes"]), delayMs: 1_500 });
    const applying = memory.applyQueued(id);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await memory.deleteAll(alice);
    expect(await applying).toBeUndefined();
    expect(await texts(memory)).toEqual([]);
    await memory.close();
  });

  it("delete(id) keeps queued writes from bringing the same text back", async () => {
    const memory = newMemory(newFile());
    const [{ id: memoryId }] = (await memory.add("User smokes", { ...alice, infer: false }))
      .results;
    const queued = (await memory.enqueue("I smoke, by the way", alice))!;
    await memory.delete(memoryId);
    server.enqueue(ops(["User smokes", "User smokes after dinner"]));
    await memory.applyQueued(queued);
    expect(await texts(memory)).toEqual(["User smokes after dinner"]);
    await memory.close();
  });
});

describe("deleted text leaves the files", () => {
  it("deleteAll leaves no planted word in the .db or -wal bytes", async () => {
    const file = newFile();
    const memory = newMemory(file);
    const planted = "Xylophonequartz";
    server.setHandler((request) =>
      isExtraction(request) ? ops([`User's password hint is ${planted}`]) : "ok",
    );
    await memory.add(`My password hint is ${planted}, remember it`, alice);
    await memory.enqueue(`Also ${planted} is my cat's name`, alice);
    await memory.add("Bob likes chess", { userId: "bob", infer: false });
    const [item] = (await memory.getAll(alice)).results;
    await memory.update(item.id, { text: `Hint: ${planted} (updated)` });
    await memory.deleteAll(alice);
    const bytes = () =>
      [file, `${file}-wal`]
        .filter((f) => fs.existsSync(f))
        .map((f) => fs.readFileSync(f).toString("latin1"))
        .join("");
    expect(bytes()).not.toContain(planted);
    expect(bytes().toLowerCase()).not.toContain(planted.toLowerCase());
    expect(bytes()).toContain("Bob likes chess");
    await memory.close();
    expect(bytes()).not.toContain(planted);
  });
});

describe("one memory across processes", () => {
  it("three processes adding the same fact leave one memory", async () => {
    const file = newFile();
    // Create the schema once, so the workers do not race to migrate a new file.
    await newMemory(file).close();
    server.setHandler(sameFactHandler());
    const children = ["I love green tea", "Green tea is my favourite", "I drink green tea"].map(
      (text) => startWorker("add_worker.ts", [file, server.baseURL, "ann", text]),
    );
    const events = await runTogether(children);
    const check = newMemory(file);
    expect(await texts(check, { userId: "ann" })).toHaveLength(1);
    expect(events.filter((e) => e === '["ADD"]')).toHaveLength(1);
    await check.close();
  }, 60_000);
});

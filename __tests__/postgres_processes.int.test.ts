import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory } from "../src/backends/memory.js";
import { PostgresStore } from "../src/stores/postgres.js";
import { FakeOpenAIServer } from "../src/testing/index.js";
import { sameFactHandler } from "./utils/fakes.js";
import { DATABASE_URL, describePostgres, dropSchemas, uniqueSchema } from "./utils/postgres.js";
import { runTogether, startWorker } from "./utils/processes.js";

let server: FakeOpenAIServer;
const schemas: string[] = [];
beforeAll(async () => {
  server = await FakeOpenAIServer.start();
});
afterAll(async () => {
  await server.close();
  await dropSchemas(schemas);
});
beforeEach(() => server.reset());

function newMemory(schema: string): Memory {
  const configuration = { baseURL: server.baseURL };
  return new Memory({
    llm: new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration }),
    embeddings: new OpenAIEmbeddings({ apiKey: "test", configuration }),
    store: new PostgresStore({ connectionString: DATABASE_URL, schema }),
    recoverOnOpen: false,
  });
}

function newSchema(): string {
  const schema = uniqueSchema("p");
  schemas.push(schema);
  return schema;
}

describePostgres("many app instances, one Postgres database", () => {
  it("three processes adding the same fact for one user leave one memory", async () => {
    const schema = newSchema();
    server.setHandler(sameFactHandler());
    const target = `${DATABASE_URL}#${schema}`;
    const children = ["I love green tea", "Green tea is my favourite", "I drink green tea"].map(
      (text) => startWorker("add_worker.ts", [target, server.baseURL, "ann", text]),
    );
    const events = await runTogether(children);
    expect(events.filter((e) => e === '["ADD"]')).toHaveLength(1);
    expect(events.filter((e) => e === "[]")).toHaveLength(2);
    const check = newMemory(schema);
    const { results } = await check.getAll({ userId: "ann" });
    expect(results).toHaveLength(1);
    expect(results[0].memory).toMatch(/green tea/);
    await check.close();
  }, 60_000);

  it("an outbox drained by three processes applies every write exactly once", async () => {
    const schema = newSchema();
    const writer = newMemory(schema);
    const queued: string[] = [];
    for (let i = 0; i < 12; i++) {
      queued.push((await writer.enqueue(`My lucky number is ${i}`, { userId: `u${i % 4}` }))!);
    }
    await writer.close();
    server.setHandler((request) => {
      // The new conversation comes last (earlier turns of the user are context).
      const number = [...request.lastUserText.matchAll(/lucky number is (\d+)/gi)].at(-1)?.[1];
      return { json: { add: [`Lucky number ${number}`], update: [], delete: [] }, delayMs: 50 };
    });
    const target = `${DATABASE_URL}#${schema}`;
    const children = [0, 1, 2].map(() =>
      startWorker("recover_worker.ts", [target, server.baseURL]),
    );
    const applied = (await runTogether(children)).map(Number);
    expect(applied.reduce((a, b) => a + b, 0)).toBe(12);
    const check = newMemory(schema);
    expect(await check.outbox()).toEqual([]);
    const texts: string[] = [];
    for (let u = 0; u < 4; u++) {
      texts.push(...(await check.getAll({ userId: `u${u}` })).results.map((r) => r.memory));
    }
    expect(texts.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `Lucky number ${i}`).sort());
    // An instance reads again (one more LLM call) only when another wrote the same user's
    // memories meanwhile; no write was applied twice.
    expect(server.chatRequests.filter((request) => request.tools).length).toBeGreaterThanOrEqual(
      12,
    );
    await check.close();
  }, 60_000);
});

describePostgres("Memory on Postgres", () => {
  it("Memory.fromConfig with Mem0's pgvector settings adds, searches, updates and deletes", async () => {
    const schema = newSchema();
    const url = new URL(DATABASE_URL!);
    const memory = await Memory.fromConfig({
      llm: {
        provider: "openai",
        config: { model: "gpt-4o-mini", api_key: "test", openai_base_url: server.baseURL },
      },
      embedder: { provider: "hash", config: { embedding_dims: 64 } },
      vector_store: {
        provider: "pgvector",
        config: {
          host: url.hostname,
          port: Number(url.port),
          user: decodeURIComponent(url.username),
          dbname: url.pathname.slice(1),
          collection_name: schema,
        },
      },
      logger: { warn: () => undefined },
    });
    const ann = { userId: "ann" };
    server.enqueue({
      json: { add: ["Ann lives in Paris", "Ann has a cat"], update: [], delete: [] },
    });
    expect((await memory.add("I live in Paris and I have a cat", ann)).results).toHaveLength(2);
    const found = await memory.search("Where does Ann live? Paris", ann);
    expect(found.results[0].memory).toBe("Ann lives in Paris");
    server.enqueue({
      json: { add: [], update: [{ id: 0, text: "Ann lives in Berlin" }], delete: [] },
    });
    const moved = await memory.add("I moved to Berlin", ann);
    expect(moved.results.map((r) => r.event)).toEqual(["UPDATE"]);
    const [item] = (await memory.search("Berlin", ann)).results;
    expect(item.memory).toBe("Ann lives in Berlin");
    // Newest first, as mem0ai returns it.
    expect((await memory.history(item.id)).map((h) => h.action)).toEqual(["UPDATE", "ADD"]);
    expect((await memory.search("Berlin", { userId: "bob" })).results).toEqual([]);
    await memory.deleteAll(ann);
    expect((await memory.getAll(ann)).results).toEqual([]);
    await memory.close();
  });
});

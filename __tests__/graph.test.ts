import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory } from "../src/backends/memory.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import { FakeOpenAIServer, parseExtractionInput } from "../src/testing/index.js";

let server: FakeOpenAIServer;
beforeAll(async () => {
  server = await FakeOpenAIServer.start();
});
afterAll(async () => server.close());
beforeEach(() => server.reset());

const alice = { userId: "alice" };
type Rel = { source: string; relation: string; destination: string };

const reply = (
  add: string[],
  relations: Rel[] = [],
  extra: { invalidate?: number[]; aliases?: { name: string; alias: string }[] } = {},
) => ({
  json: {
    add,
    update: [],
    delete: [],
    relations,
    aliases: extra.aliases ?? [],
    invalidate: (extra.invalidate ?? []).map((id) => ({ id })),
  },
});

function chat() {
  return new ChatOpenAI({
    model: "gpt-4o-mini",
    apiKey: "test",
    configuration: { baseURL: server.baseURL },
    maxRetries: 0,
  });
}

function graphMemory(graph: boolean | { entityThreshold?: number } = true) {
  return new Memory({
    llm: chat(),
    embeddings: new OpenAIEmbeddings({
      model: "text-embedding-3-small",
      apiKey: "test",
      configuration: { baseURL: server.baseURL },
    }),
    path: ":memory:",
    graph,
  });
}

const lines = (relations: { source: string; relationship: string; destination: string }[] = []) =>
  relations.map((r) => `${r.source} ${r.relationship} ${r.destination}`);

describe("graph memory", () => {
  it("extracts relations in the same single LLM call as facts", async () => {
    const memory = graphMemory();
    server.enqueue(
      reply(
        ["User lives in Paris", "User works at Acme"],
        [
          { source: "user", relation: "lives in", destination: "Paris" },
          { source: "I", relation: "works_at", destination: "Acme" },
        ],
      ),
    );
    const result = await memory.add(["I live in Paris and work at Acme"], alice);
    expect(result.results).toHaveLength(2);
    expect(server.chatRequests).toHaveLength(1);
    expect(server.embeddingRequests.length).toBeLessThanOrEqual(2);
    expect(server.chatRequests[0].systemText).toContain("relations:");
    expect(lines(await memory.graph.getAll(alice)).sort()).toEqual([
      "alice lives_in paris",
      "alice works_at acme",
    ]);
    await memory.close();
  });

  it("invalidates a contradicted relation, keeps it in time, and answers asOf", async () => {
    const memory = graphMemory();
    server.enqueue(
      reply(
        ["User lives in Paris"],
        [{ source: "user", relation: "lives_in", destination: "paris" }],
      ),
    );
    await memory.add(["I live in Paris"], { ...alice, timestamp: "2026-01-01T00:00:00Z" });
    server.enqueue(
      reply([], [{ source: "user", relation: "lives_in", destination: "berlin" }], {
        invalidate: [0],
      }),
    );
    await memory.add(["I moved from Paris to Berlin"], {
      ...alice,
      timestamp: "2026-06-01T00:00:00Z",
    });
    expect(parseExtractionInput(server.chatRequests[1].lastUserText).relations).toEqual([
      { id: 0, text: "alice —lives_in→ paris" },
    ]);
    const now = await memory.search("where do I live", alice);
    expect(lines(now.relations)).toEqual(["alice lives_in berlin"]);
    const before = await memory.search("where do I live", {
      ...alice,
      asOf: "2026-03-01T00:00:00Z",
    });
    expect(lines(before.relations)).toEqual(["alice lives_in paris"]);
    const all = await memory.graph.getAll({ ...alice, includeInvalid: true });
    const paris = all.find((r) => r.destination === "paris")!;
    expect(paris).toMatchObject({
      validFrom: "2026-01-01T00:00:00.000Z",
      validTo: "2026-06-01T00:00:00.000Z",
    });
    await memory.close();
  });

  it("resolves two spellings of one entity by alias and by embedding similarity", async () => {
    const memory = graphMemory({ entityThreshold: 0.8 });
    server.enqueue(
      reply([], [{ source: "user", relation: "lives_in", destination: "New York City" }], {
        aliases: [{ name: "new york city", alias: "NYC" }],
      }),
      reply([], [{ source: "user", relation: "works_in", destination: "nyc" }]),
      reply([], [{ source: "user", relation: "likes", destination: "New-York" }]),
    );
    await memory.add(["I live in New York City (NYC)"], alice);
    await memory.add(["I work in NYC"], alice);
    await memory.add(["I like New-York"], alice);
    const cities = (await memory.graph.entities(alice)).filter((e) => e.name !== "alice");
    expect(cities).toHaveLength(1);
    expect(cities[0].aliases.sort()).toEqual(["new york", "new york city", "nyc"]);
    expect(lines(await memory.graph.getAll(alice)).sort()).toEqual([
      "alice likes new york city",
      "alice lives_in new york city",
      "alice works_in new york city",
    ]);
    await memory.close();
  });

  it("resolves a new canonical name to the entity its known alias names", async () => {
    const memory = graphMemory();
    server.enqueue(
      reply([], [{ source: "user", relation: "visited", destination: "NYC" }]),
      reply([], [{ source: "user", relation: "loves", destination: "new york city" }], {
        aliases: [{ name: "New York City", alias: "nyc" }],
      }),
    );
    await memory.add(["I visited NYC"], alice);
    await memory.add(["I love New York City, NYC is great"], alice);
    const cities = (await memory.graph.entities(alice)).filter((e) => e.name !== "alice");
    expect(cities.map((e) => [e.name, e.aliases.sort()])).toEqual([
      ["nyc", ["new york city", "nyc"]],
    ]);
    expect(lines(await memory.graph.getAll(alice)).sort()).toEqual([
      "alice loves nyc",
      "alice visited nyc",
    ]);
    await memory.close();
  });

  it("returns the 1-hop relations of an entity the query mentions, never another user's", async () => {
    const memory = graphMemory();
    server.enqueue(
      reply(
        [],
        [
          { source: "user", relation: "sister_of", destination: "anna" },
          { source: "anna", relation: "lives_in", destination: "lyon" },
          { source: "lyon", relation: "located_in", destination: "france" },
        ],
      ),
      reply([], [{ source: "user", relation: "friend_of", destination: "anna" }]),
    );
    await memory.add(["My sister Anna lives in Lyon, in France"], alice);
    await memory.add(["Anna is my friend"], { userId: "bob" });
    const { relations } = await memory.search("what is anna up to", alice);
    expect(lines(relations).sort()).toEqual(["alice sister_of anna", "anna lives_in lyon"]);
    const bobs = await memory.search("what is anna up to", { userId: "bob" });
    expect(lines(bobs.relations)).toEqual(["bob friend_of anna"]);
    await memory.deleteAll(alice);
    expect(await memory.graph.getAll(alice)).toEqual([]);
    expect(await memory.graph.entities(alice)).toEqual([]);
    expect(lines(await memory.graph.getAll({ userId: "bob" }))).toEqual(["bob friend_of anna"]);
    await memory.close();
  });

  it("puts relation lines into the wrapper's prompt", async () => {
    const memory = graphMemory();
    server.enqueue(
      reply(
        ["User lives in Berlin"],
        [{ source: "user", relation: "lives_in", destination: "berlin" }],
      ),
    );
    await memory.add(["I live in Berlin"], alice);
    const model = new Mem0ChatModel({ model: chat(), memory, userId: "alice", store: "off" });
    server.enqueue("You live in Berlin.");
    await model.invoke("Where do I live?");
    expect(server.chatRequests.at(-1)!.lastUserText).toMatch(
      /Facts:\n- User lives in Berlin\n\nRelations:\n- alice —lives_in→ berlin/,
    );
    await memory.close();
  });

  it("costs nothing when off: no graph fields in the request", async () => {
    const memory = graphMemory(false);
    server.enqueue({ json: { add: ["User likes tea"], update: [], delete: [] } });
    await memory.add(["I like tea"], alice);
    expect(server.chatRequests[0].systemText).not.toContain("relations:");
    expect(memory.hasGraph).toBe(false);
    expect(() => memory.graph).toThrow(/graph: true/);
    expect((await memory.search("tea", alice)).relations).toBeUndefined();
    await memory.close();
  });
});

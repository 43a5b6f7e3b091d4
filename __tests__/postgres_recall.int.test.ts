/**
 * `Memory`'s profile and episode recall on `PostgresStore`, end to end: the same engine calls
 * as on SQLite (profile.test.ts, episodes.test.ts), against a real Postgres server.
 */
import { ChatOpenAI } from "@langchain/openai";
import { z } from "zod";
import { Memory } from "../src/backends/memory.js";
import { PostgresStore } from "../src/stores/postgres.js";
import { FakeOpenAIServer, HashEmbeddings } from "../src/testing/index.js";
import { DATABASE_URL, describePostgres, dropSchemas, uniqueSchema } from "./utils/postgres.js";

const schemas: string[] = [];
let server: FakeOpenAIServer;

beforeAll(async () => {
  server = await FakeOpenAIServer.start();
});
afterAll(async () => {
  await server.close();
  await dropSchemas(schemas);
});
beforeEach(() => server.reset());

function postgresMemory(schema = uniqueSchema()) {
  schemas.push(schema);
  const memory = new Memory({
    llm: new ChatOpenAI({
      model: "gpt-4o-mini",
      apiKey: "test",
      configuration: { baseURL: server.baseURL },
      maxRetries: 0,
    }),
    embeddings: new HashEmbeddings(),
    store: new PostgresStore({ connectionString: DATABASE_URL, schema }),
    profile: z.object({ name: z.string(), city: z.string() }),
  });
  return { memory, schema };
}

const alice = { userId: "alice" };

describePostgres("Memory on PostgresStore: profile and episodes", () => {
  it("learns the profile in the extraction call, versions it, survives a reopen, goes with deleteAll", async () => {
    const { memory, schema } = postgresMemory();
    server.enqueue(
      {
        json: { add: ["User's name is Alice"], update: [], delete: [], profile: { name: "Alice" } },
      },
      { json: { add: [], update: [], delete: [], profile: { city: "Lisbon" } } },
    );
    await memory.add("Hi, I'm Alice.", alice);
    await memory.add("I moved to Lisbon.", alice);
    expect(server.chatRequests).toHaveLength(2);
    const record = (await memory.getProfile(alice))!;
    expect(record).toMatchObject({ profile: { name: "Alice", city: "Lisbon" }, version: 2 });
    const updated = await memory.updateProfile(alice, { city: "Porto" });
    expect(updated).toMatchObject({ profile: { name: "Alice", city: "Porto" }, version: 3 });
    expect((await memory.history(record.id)).map((entry) => entry.action)).toEqual([
      "UPDATE",
      "UPDATE",
      "ADD",
    ]);
    await memory.close();

    const reopened = postgresMemory(schema).memory;
    expect((await reopened.getProfile(alice))?.profile).toEqual({ name: "Alice", city: "Porto" });
    await reopened.deleteAll(alice);
    expect(await reopened.getProfile(alice)).toBeNull();
    expect(await reopened.history(record.id)).toEqual([]);
    await reopened.close();
  });

  it("search returns episodes: the matching turn with its neighbours, inside the scope", async () => {
    const { memory } = postgresMemory();
    const say = async (owner: object, role: string, content: string) =>
      memory.add([{ role, content }], { ...owner, infer: false });
    const run = { userId: "alice", runId: "r1" };
    await say(run, "user", "Good morning");
    await say(run, "assistant", "Morning! How can I help?");
    await say(run, "user", "We are planning a trip to Kyoto in April");
    await say(run, "assistant", "Kyoto in April has the cherry blossoms.");
    await say({ userId: "bob" }, "user", "My trip to Kyoto was cancelled");

    const { episodes } = await memory.search("trip to Kyoto", {
      ...alice,
      episodes: { topK: 1, window: 1 },
    });
    expect(episodes).toHaveLength(1);
    expect(episodes![0]).toMatchObject({ user_id: "alice", run_id: "r1" });
    expect(episodes![0].messages.map(({ content, match }) => [content, match])).toEqual([
      ["Morning! How can I help?", false],
      ["We are planning a trip to Kyoto in April", true],
      ["Kyoto in April has the cherry blossoms.", false],
    ]);
    const bob = await memory.search("trip to Kyoto", { userId: "bob", episodes: true });
    expect(bob.episodes!.flatMap((episode) => episode.messages.map((m) => m.content))).toEqual([
      "My trip to Kyoto was cancelled",
    ]);
    await memory.close();
  });
});

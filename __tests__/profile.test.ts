import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ChatOpenAI } from "@langchain/openai";
import { z } from "zod";
import { Memory, type MemoryOptions } from "../src/backends/memory.js";
import { Mem0ConfigError, Mem0InputError } from "../src/errors.js";
import { FakeOpenAIServer, HashEmbeddings, parseExtractionInput } from "../src/testing/index.js";

let server: FakeOpenAIServer;
let dir: string;

beforeAll(async () => {
  server = await FakeOpenAIServer.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-profile-"));
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => server.reset());

const userProfile = z.object({
  name: z.string(),
  city: z.string(),
  diet: z.enum(["omnivore", "vegetarian", "vegan"]),
  goals: z.array(z.string()),
  age: z.number().int().positive(),
});

const warnings: string[] = [];
let fileCounter = 0;
function newMemory(options: Partial<MemoryOptions> = {}) {
  const file = path.join(dir, `memory-${fileCounter++}.db`);
  const memory = new Memory({
    llm: new ChatOpenAI({
      model: "gpt-4o-mini",
      apiKey: "test",
      configuration: { baseURL: server.baseURL },
      maxRetries: 0,
    }),
    embeddings: new HashEmbeddings(),
    path: file,
    profile: userProfile,
    logger: { warn: (message) => warnings.push(message) },
    ...options,
  });
  return { memory, file };
}

/** One extraction answer: facts to add and a profile patch. */
const answer = (add: string[], profile?: unknown) => ({
  json: { add, update: [], delete: [], ...(profile === undefined ? {} : { profile }) },
});

const lastInput = () => parseExtractionInput(server.chatRequests.at(-1)!.lastUserText);

const alice = { userId: "alice" };

describe("schema profile", () => {
  it("is filled and corrected over a conversation, one LLM call per add, versioned", async () => {
    const { memory } = newMemory();
    const turns: [string, string[], unknown][] = [
      [
        "Hi, I'm Alice and I live in Paris.",
        ["User's name is Alice"],
        { name: "Alice", city: "Paris" },
      ],
      [
        "I'm vegetarian, and I want to run a marathon.",
        ["User is vegetarian"],
        { diet: "vegetarian", goals: ["run a marathon"] },
      ],
      // Contradictions: the moved city and the changed goal replace the old values.
      [
        "I moved to Berlin last month. Forget the marathon, I want to learn German.",
        ["User moved to Berlin"],
        { city: "Berlin", goals: ["learn German"] },
      ],
    ];
    const expected = [
      { name: "Alice", city: "Paris" },
      { name: "Alice", city: "Paris", diet: "vegetarian", goals: ["run a marathon"] },
      { name: "Alice", city: "Berlin", diet: "vegetarian", goals: ["learn German"] },
    ];
    for (const [i, [text, facts, patch]] of turns.entries()) {
      server.clearRecords();
      server.enqueue(answer(facts, patch));
      await memory.add([{ role: "user", content: text }], alice);
      expect(server.chatRequests).toHaveLength(1);
      // The model saw the profile as it was before this turn.
      expect(lastInput().profile).toEqual(i === 0 ? {} : expected[i - 1]);
      const record = await memory.getProfile(alice);
      expect(record?.profile).toEqual(expected[i]);
      expect(record?.version).toBe(i + 1);
      expect(record?.user_id).toBe("alice");
    }
    const { results } = await memory.getAll(alice);
    expect(results.map((r) => r.memory)).toEqual(turns.flatMap(([, facts]) => facts));

    const record = (await memory.getProfile(alice))!;
    const history = await memory.history(record.id);
    expect(history.map((h) => h.action)).toEqual(["UPDATE", "UPDATE", "ADD"]);
    expect(JSON.parse(history[0].previous_value!)).toEqual(expected[1]);
    expect(JSON.parse(history[0].new_value!)).toEqual(expected[2]);
    await memory.close();
  });

  it("with the client's default retries, a 500 on the extraction call is retried and the profile lands", async () => {
    const { memory } = newMemory({
      llm: new ChatOpenAI({
        model: "gpt-4o-mini",
        apiKey: "test",
        configuration: { baseURL: server.baseURL },
      }),
    });
    server.clearRecords();
    server.injectFault({ status: 500, path: "chat" });
    server.enqueue(answer(["User's name is Alice"], { name: "Alice" }));
    await memory.add("Hi, I'm Alice.", alice);
    // The failed request and its retry; one answer applied.
    expect(server.chatRequests).toHaveLength(2);
    expect((await memory.getProfile(alice))?.profile).toEqual({ name: "Alice" });
    expect((await memory.getAll(alice)).results.map((r) => r.memory)).toEqual([
      "User's name is Alice",
    ]);
    await memory.close();
  });

  it("asks for the patch in the same function as the operations, with the schema's fields", async () => {
    const { memory } = newMemory();
    server.enqueue(answer([]));
    await memory.add("I'm Alice.", alice);
    const request = server.chatRequests[0];
    expect(request.tools).toHaveLength(1);
    const parameters = request.tools![0].function!.parameters as {
      properties: Record<string, { properties?: Record<string, unknown> }>;
    };
    expect(Object.keys(parameters.properties)).toEqual(["add", "update", "delete", "profile"]);
    expect(Object.keys(parameters.properties.profile.properties!)).toEqual([
      "name",
      "city",
      "diet",
      "goals",
      "age",
    ]);
    expect(request.systemText).toContain("profile: changes to the user's profile");
    // No patch: nothing is written.
    expect(await memory.getProfile(alice)).toBeNull();
    await memory.close();
  });

  it("keeps the valid fields of an invalid patch and the previous values of the others", async () => {
    const { memory } = newMemory();
    server.enqueue(answer([], { name: "Alice", age: 34, diet: "vegan" }));
    await memory.add("I'm Alice, 34, vegan.", alice);
    warnings.length = 0;
    server.clearRecords();
    server.enqueue(
      answer(["User likes tea"], {
        city: "Lyon",
        age: "thirty-five",
        diet: "pescatarian",
        favouriteColour: "green",
      }),
    );
    const result = await memory.add("I live in Lyon now and I like tea.", alice);
    expect(server.chatRequests).toHaveLength(1); // no repair call for the profile
    expect(result.results.map((r) => r.memory)).toEqual(["User likes tea"]);
    expect((await memory.getProfile(alice))?.profile).toEqual({
      name: "Alice",
      age: 34,
      diet: "vegan",
      city: "Lyon",
    });
    expect(warnings.join("\n")).toMatch(/age, diet, favouriteColour/);
    expect(warnings.join("\n")).not.toMatch(/thirty-five|pescatarian|green/);

    // A patch that is no object at all is rejected whole; the facts still count.
    server.enqueue(answer(["User has a cat"], "Alice lives in Lyon"));
    await memory.add("I have a cat.", alice);
    expect((await memory.getProfile(alice))?.version).toBe(2);
    expect((await memory.getAll(alice)).results).toHaveLength(2);
    await memory.close();
  });

  it("clears a field given as null", async () => {
    const { memory } = newMemory();
    server.enqueue(answer([], { name: "Alice", diet: "vegan" }));
    await memory.add("I'm Alice, vegan.", alice);
    server.enqueue(answer([], { diet: null }));
    await memory.add("I eat everything again.", alice);
    expect((await memory.getProfile(alice))?.profile).toEqual({ name: "Alice" });
    await memory.close();
  });

  it("is kept per user (shared by the user's runs by default, per run with perRun)", async () => {
    const { memory } = newMemory();
    server.enqueue(answer([], { name: "Alice" }), answer([], { name: "Bob" }));
    await memory.add("I'm Alice.", { userId: "alice", runId: "r1" });
    await memory.add("I'm Bob.", { userId: "bob", runId: "r1" });
    expect((await memory.getProfile({ userId: "alice", runId: "r2" }))?.profile).toEqual({
      name: "Alice",
    });
    expect((await memory.getProfile({ userId: "bob" }))?.profile).toEqual({ name: "Bob" });
    expect(await memory.getProfile({ userId: "carol" })).toBeNull();
    await memory.close();

    const perRun = newMemory({ profile: { schema: userProfile, perRun: true } }).memory;
    server.enqueue(answer([], { city: "Paris" }));
    await perRun.add("I'm in Paris this week.", { userId: "alice", runId: "trip" });
    expect(await perRun.getProfile({ userId: "alice", runId: "other" })).toBeNull();
    expect((await perRun.getProfile({ userId: "alice", runId: "trip" }))?.run_id).toBe("trip");
    await perRun.close();
  });

  it("is removed with its history by deleteAll of its owner, and survives a reopen", async () => {
    const { memory, file } = newMemory();
    server.enqueue(answer([], { name: "Alice" }), answer([], { name: "Bob" }));
    await memory.add("I'm Alice.", alice);
    await memory.add("I'm Bob.", { userId: "bob" });
    await memory.close();

    const reopened = newMemory({ path: file }).memory;
    const record = (await reopened.getProfile(alice))!;
    expect(record.profile).toEqual({ name: "Alice" });
    // Deleting one run of the user leaves the user's profile.
    await reopened.deleteAll({ userId: "alice", runId: "r1" });
    expect(await reopened.getProfile(alice)).not.toBeNull();
    await reopened.deleteAll(alice);
    expect(await reopened.getProfile(alice)).toBeNull();
    expect(await reopened.history(record.id)).toEqual([]);
    expect((await reopened.getProfile({ userId: "bob" }))?.profile).toEqual({ name: "Bob" });
    await reopened.close();
  });

  it("updateProfile applies a valid patch and refuses an invalid one whole", async () => {
    const { memory } = newMemory();
    const first = await memory.updateProfile(alice, { name: "Alice", goals: ["ski"] });
    expect(first).toMatchObject({ profile: { name: "Alice", goals: ["ski"] }, version: 1 });
    await expect(memory.updateProfile(alice, { name: "Al", age: -3 })).rejects.toThrow(
      /age: .*too small|age:.*>0/i,
    );
    await expect(memory.updateProfile(alice, { nickname: "Al" })).rejects.toThrow(Mem0InputError);
    await expect(memory.updateProfile(alice, "Alice")).rejects.toThrow(/object of profile fields/);
    const second = await memory.updateProfile(alice, { goals: null, city: "Oslo" });
    expect(second).toMatchObject({ profile: { name: "Alice", city: "Oslo" }, version: 2 });
    expect((await memory.history(second.id))[0].actor).toBe("api");
    await memory.close();
  });

  it("getProfile without a configured profile is a configuration error", async () => {
    const { memory } = newMemory({ profile: undefined });
    expect(memory.hasProfile).toBe(false);
    await expect(memory.getProfile(alice)).rejects.toThrow(Mem0ConfigError);
    await memory.close();
  });
});

describe("template profile", () => {
  const template = "# User\n- **Name**:\n- **City**:\n\n# Preferences\n- **Food**:";

  it("takes the updated document and rejects one that lost the template's structure", async () => {
    const { memory } = newMemory({ profile: template });
    const filled = "# User\n- **Name**: Alice\n- **City**: Paris\n\n# Preferences\n- **Food**:";
    server.enqueue(answer([], filled));
    await memory.add("I'm Alice from Paris.", alice);
    expect(lastInput().profile).toBe(template);
    expect((await memory.getProfile(alice))?.profile).toBe(filled);

    warnings.length = 0;
    server.enqueue(answer(["User likes sushi"], "Alice likes sushi"));
    await memory.add("I like sushi.", alice);
    expect((await memory.getProfile(alice))?.profile).toBe(filled);
    expect(warnings.join("\n")).toMatch(/document/);
    expect(server.chatRequests[1].systemText).toContain("give the complete updated document");

    await expect(memory.updateProfile(alice, "# User\n- **Name**: Al")).rejects.toThrow(
      /lost lines of its template: "- \*\*City\*\*:"/,
    );
    const edited = filled.replace("**Food**:", "**Food**: sushi");
    expect((await memory.updateProfile(alice, edited)).profile).toBe(edited);
    await memory.close();
  });

  it("refuses a definition with neither or both of schema and template", () => {
    expect(() => newMemory({ profile: {} })).toThrow(/exactly one of schema/);
    expect(() => newMemory({ profile: { schema: userProfile, template } })).toThrow(
      Mem0ConfigError,
    );
  });
});

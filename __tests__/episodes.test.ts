import Database from "better-sqlite3";
import { Memory } from "../src/backends/memory.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import { Mem0ConfigError, Mem0InputError } from "../src/errors.js";
import { HashEmbeddings } from "../src/testing/index.js";
import { ScriptedServer, newStoreFile, tempDir } from "./utils/memory_env.js";

let server: ScriptedServer;
const temp = tempDir("mem0-episodes-");
beforeAll(async () => {
  server = await ScriptedServer.start();
});
afterAll(async () => {
  await server.close();
  temp.cleanup();
});
beforeEach(() => server.reset());

const verbatim = (options: { episodes?: boolean; path?: string } = {}) =>
  new Memory({ embeddings: new HashEmbeddings(), path: newStoreFile(temp.dir), ...options });

/** Stores turns one add each, as a chat would, all with infer: false. */
async function say(memory: Memory, owner: object, ...turns: [string, string][]) {
  for (const [role, content] of turns) {
    await memory.add([{ role, content }], { ...owner, infer: false });
  }
}

const contents = (episode: { messages: { content: string }[] }) =>
  episode.messages.map((m) => m.content);

describe("episode recall in Memory.search", () => {
  it("returns the matching turn with its neighbours, next to the facts", async () => {
    const memory = verbatim();
    const alice = { userId: "alice", runId: "r1" };
    await say(
      memory,
      alice,
      ["user", "Good morning"],
      ["assistant", "Morning! How can I help?"],
      ["user", "We are planning a trip to Kyoto in April"],
      ["assistant", "Kyoto in April has the cherry blossoms."],
      ["user", "My sister wants to see the temples"],
      ["assistant", "Kinkaku-ji is a good start."],
      ["user", "Also I need a new laptop for work"],
    );
    await say(memory, { userId: "bob" }, ["user", "My trip to Kyoto was cancelled"]);

    const found = await memory.search("trip to Kyoto", {
      userId: "alice",
      episodes: { topK: 1, window: 1 },
    });
    expect(found.results.length).toBeGreaterThan(0);
    expect(found.episodes).toHaveLength(1);
    const [episode] = found.episodes!;
    expect(contents(episode)).toEqual([
      "Morning! How can I help?",
      "We are planning a trip to Kyoto in April",
      "Kyoto in April has the cherry blossoms.",
    ]);
    expect(episode.messages.map((m) => m.match)).toEqual([false, true, false]);
    expect(episode.messages.map((m) => m.role)).toEqual(["assistant", "user", "assistant"]);
    expect(episode).toMatchObject({ user_id: "alice", run_id: "r1" });
    expect(episode.score).toBeGreaterThan(0);

    // Without the option, no episodes; bob never sees alice's turns, nor she his.
    expect((await memory.search("trip to Kyoto", { userId: "alice" })).episodes).toBeUndefined();
    const bob = await memory.search("trip to Kyoto", { userId: "bob", episodes: true });
    expect(bob.episodes!.flatMap(contents)).toEqual(["My trip to Kyoto was cancelled"]);
    await memory.close();
  });

  it("keeps one vector for a verbatim turn and its memory, and the turn's own once the memory changes", async () => {
    const file = newStoreFile(temp.dir);
    const memory = verbatim({ path: file });
    const owner = { userId: "alice" };
    await say(
      memory,
      owner,
      ["user", "We are planning a trip to Kyoto in April"],
      ["user", "I need a new laptop for work"],
    );
    const vectors = () => {
      const db = new Database(file, { readonly: true });
      try {
        return db
          .prepare("SELECT embedding IS NOT NULL AS own, memory_seq FROM messages ORDER BY id")
          .all() as { own: number; memory_seq: number | null }[];
      } finally {
        db.close();
      }
    };
    expect(vectors().map((row) => row.own)).toEqual([0, 0]);
    expect(vectors().every((row) => row.memory_seq !== null)).toBe(true);
    const episodeOf = async (query: string) =>
      (await memory.search(query, { ...owner, episodes: { topK: 1, window: 0 } })).episodes![0];
    const kyoto = await episodeOf("trip to Kyoto");
    expect(contents(kyoto)).toEqual(["We are planning a trip to Kyoto in April"]);

    const { results } = await memory.getAll(owner);
    const idOf = (text: string) => results.find((item) => item.memory === text)!.id;
    await memory.update(idOf("We are planning a trip to Kyoto in April"), "Prefers green tea");
    await memory.delete(idOf("I need a new laptop for work"));
    // Each turn now holds its own copy of the vector it was stored with.
    expect(vectors()).toEqual([
      { own: 1, memory_seq: null },
      { own: 1, memory_seq: null },
    ]);
    expect(await episodeOf("trip to Kyoto")).toMatchObject({ score: kyoto.score });
    expect(contents(await episodeOf("new laptop"))).toEqual(["I need a new laptop for work"]);
    await memory.close();
  });

  it("merges overlapping windows into one episode without repeating turns", async () => {
    const memory = verbatim();
    const owner = { userId: "alice" };
    await say(
      memory,
      owner,
      ["user", "I adopted a cat named Miso"],
      ["assistant", "Miso is a lovely name for a cat."],
      ["user", "The cat Miso sleeps all day"],
      ["assistant", "Cats do sleep a lot."],
      ["user", "Unrelated: my car needs new tyres"],
      ["assistant", "Winter tyres?"],
      ["user", "Yes, before November"],
    );
    const { episodes } = await memory.search("cat Miso", {
      ...owner,
      episodes: { topK: 2, window: 1 },
    });
    expect(episodes).toHaveLength(1);
    expect(contents(episodes![0])).toEqual([
      "I adopted a cat named Miso",
      "Miso is a lovely name for a cat.",
      "The cat Miso sleeps all day",
      "Cats do sleep a lot.",
    ]);
    await memory.close();
  });

  it("keeps windows inside the owner's own log and the search inside the scope", async () => {
    const memory = verbatim();
    // Two runs of alice, interleaved in time.
    await say(memory, { userId: "alice", runId: "work" }, [
      "user",
      "The quarterly report is due Friday",
    ]);
    await say(memory, { userId: "alice", runId: "home" }, ["user", "The plumber comes on Friday"]);
    await say(memory, { userId: "alice", runId: "work" }, ["user", "My manager is Priya"]);
    const work = await memory.search("Friday", {
      userId: "alice",
      runId: "work",
      episodes: { topK: 3, window: 2 },
    });
    expect(work.episodes!.flatMap(contents)).toEqual([
      "The quarterly report is due Friday",
      "My manager is Priya",
    ]);
    const all = await memory.search("Friday", {
      userId: "alice",
      episodes: { topK: 3, window: 0 },
    });
    expect(all.episodes!.flatMap(contents).sort()).toEqual([
      "The plumber comes on Friday",
      "The quarterly report is due Friday",
    ]);
    await memory.close();
  });

  it("covers turns learnt from with infer: true, in the add's one embedding request", async () => {
    const memory = new Memory({
      llm: server.chatModel(),
      embeddings: new HashEmbeddings(),
      path: newStoreFile(temp.dir),
    });
    const embedded: string[][] = [];
    const embeddings = (memory as unknown as { embeddings: HashEmbeddings }).embeddings;
    const original = embeddings.embedDocuments.bind(embeddings);
    embeddings.embedDocuments = async (texts: string[]) => {
      embedded.push(texts);
      return original(texts);
    };
    await memory.add(
      [
        { role: "user", content: "I play the cello in an orchestra." },
        { role: "assistant", content: "How long have you played?" },
      ],
      { userId: "alice" },
    );
    expect(embedded).toHaveLength(1);
    expect(embedded[0]).toEqual(
      expect.arrayContaining(["I play the cello in an orchestra.", "How long have you played?"]),
    );
    const { episodes } = await memory.search("cello orchestra", {
      userId: "alice",
      episodes: true,
    });
    expect(contents(episodes![0])).toEqual([
      "I play the cello in an orchestra.",
      "How long have you played?",
    ]);
    await memory.close();
  });

  it("is refused when turns are not kept searchable, and checks its options", async () => {
    const memory = verbatim({ episodes: false });
    await expect(memory.search("x", { userId: "a", episodes: true })).rejects.toThrow(
      Mem0ConfigError,
    );
    await expect(
      memory.search("x", { userId: "a", episodes: { topK: 0 } as never }),
    ).rejects.toThrow(Mem0InputError);
    await memory.close();
  });
});

describe("episode recall in Mem0ChatModel", () => {
  it("injects earlier turns stored by the wrapper when asked, not by default", async () => {
    const memory = new Memory({
      llm: server.chatModel(),
      embeddings: new HashEmbeddings(),
      path: newStoreFile(temp.dir),
    });
    const withEpisodes = new Mem0ChatModel({
      model: server.chatModel(),
      memory,
      userId: "alice",
      store: "await",
      episodes: { topK: 2, window: 1 },
    });
    server.script("Nice, which route will you hike?");
    await withEpisodes.invoke("Next summer I will hike the Kumano Kodo with Tom.", {
      configurable: { run_id: "s1" },
    });
    // A new session: the user-wide scope sees the turns of every earlier run.
    server.script("Sounds good.", "Sounds good.");
    await withEpisodes.invoke("What did I tell you about hiking with Tom?");
    const prompt = server.requests[1].lastUserText;
    expect(prompt).toContain("Earlier conversation excerpts:");
    expect(prompt).toContain("- user: Next summer I will hike the Kumano Kodo with Tom.");
    expect(prompt).toContain("- assistant: Nice, which route will you hike?");

    const plain = new Mem0ChatModel({
      model: server.chatModel(),
      memory,
      userId: "alice",
      store: "off",
    });
    await plain.invoke("What did I tell you about hiking with Tom?");
    expect(server.requests[2].lastUserText).not.toContain("Earlier conversation excerpts");
    await memory.close();
  });
});

import { Document } from "@langchain/core/documents";
import { StringOutputParser } from "@langchain/core/output_parsers";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { RunnablePassthrough, RunnableSequence } from "@langchain/core/runnables";
import type { Memory } from "../src/backends/memory.js";
import { Mem0ConfigError, MissingScopeError } from "../src/errors.js";
import { MemoryRetriever } from "../src/retriever.js";
import { ScriptedServer, newMemory, tempDir } from "./utils/memory_env.js";

let server: ScriptedServer;
const temp = tempDir("mem0-retriever-");
let memory: Memory;
beforeAll(async () => {
  server = await ScriptedServer.start();
});
afterAll(async () => {
  await server.close();
  temp.cleanup();
});
beforeEach(async () => {
  server.reset();
  memory = newMemory(server, temp.dir);
  await memory.add(["Alice is allergic to peanuts", "Alice plays the cello"], {
    userId: "alice",
    infer: false,
    metadata: { topic: "health" },
  });
  await memory.add("Bob is allergic to shellfish", { userId: "bob", infer: false });
});
afterEach(async () => memory.close());

describe("memory.asRetriever", () => {
  it("returns the scope's memories as documents with id, score and owner in metadata", async () => {
    const retriever = memory.asRetriever({ scope: { userId: "alice" }, topK: 1 });
    expect(retriever).toBeInstanceOf(MemoryRetriever);
    const docs = await retriever.invoke("food allergy peanuts");
    expect(docs).toHaveLength(1);
    const [doc] = docs;
    expect(doc).toBeInstanceOf(Document);
    expect(doc.pageContent).toBe("Alice is allergic to peanuts");
    const [stored] = (await memory.search("food allergy peanuts", { userId: "alice", topK: 1 }))
      .results;
    expect(doc.id).toBe(stored.id);
    expect(doc.metadata).toMatchObject({
      type: "memory",
      id: stored.id,
      score: stored.score,
      user_id: "alice",
      topic: "health",
    });
  });

  it("works in an LCEL retrieval chain and never sees another user's memories", async () => {
    const retriever = memory.asRetriever({ scope: { userId: "alice" }, topK: 5 });
    const chain = RunnableSequence.from([
      {
        context: retriever.pipe((docs: Document[]) => docs.map((d) => d.pageContent).join("\n")),
        question: new RunnablePassthrough(),
      },
      ChatPromptTemplate.fromMessages([
        ["system", "Known facts about the user:\n{context}"],
        ["human", "{question}"],
      ]),
      server.chatModel(),
      new StringOutputParser(),
    ]);
    server.script(
      (request) => `Facts seen: ${request.systemText.split("\n").slice(1).join(" | ")}`,
    );
    const answer = await chain.invoke("What am I allergic to?");
    expect(answer).toContain("Alice is allergic to peanuts");
    expect(answer).not.toContain("shellfish");
  });

  it("filters on metadata and needs a scope", async () => {
    await memory.add("Alice likes jazz", { userId: "alice", infer: false });
    const health = memory.asRetriever({ scope: { userId: "alice" }, filters: { topic: "health" } });
    const docs = await health.invoke("jazz music");
    expect(docs.map((d) => d.pageContent)).not.toContain("Alice likes jazz");
    expect(() => memory.asRetriever({ scope: {} })).toThrow(MissingScopeError);
    expect(() => memory.asRetriever({ scope: { userId: "a" }, topK: 0 })).toThrow(Mem0ConfigError);
  });
});

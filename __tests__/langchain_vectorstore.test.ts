import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MemoryVectorStore } from "@langchain/classic/vectorstores/memory";
import type { DocumentInterface } from "@langchain/core/documents";
import { Memory } from "../src/backends/memory.js";
import { HashEmbeddings } from "../src/embeddings/hash.js";
import { Mem0ConfigError } from "../src/errors.js";
import type { MemoryScope } from "../src/scope.js";
import type { StoredMemory } from "../src/stores/base.js";
import { LangChainVectorStoreAdapter } from "../src/stores/langchain_vectorstore.js";
import { SqliteStore } from "../src/stores/sqlite.js";
import { describeStoreBehaviour } from "./utils/store_suite.js";

const dirs: string[] = [];
function tempPath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-lcvs-"));
  dirs.push(dir);
  return path.join(dir, "memory.db");
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const embeddings = new HashEmbeddings({ dimensions: 4 });

function adapter(vectorStore = new MemoryVectorStore(embeddings), file = tempPath()) {
  return new LangChainVectorStoreAdapter({ vectorStore, store: new SqliteStore({ path: file }) });
}

// The whole store contract, with vectors in LangChain's in-memory vector store.
describeStoreBehaviour("LangChainVectorStoreAdapter(MemoryVectorStore + SqliteStore)", {
  open: async () => adapter(),
  reopen: async (store) => {
    const { vectorStore, store: rows } = store as LangChainVectorStoreAdapter;
    await store.close();
    return adapter(vectorStore as MemoryVectorStore, (rows as SqliteStore).path);
  },
});

const insert = (id: string, text: string, owner: MemoryScope, embedding: number[]) => {
  const now = new Date().toISOString();
  const memory: StoredMemory = {
    id,
    text,
    hash: `h:${text}`,
    metadata: { topic: text.split(" ")[0] },
    ...owner,
    createdAt: now,
    updatedAt: now,
  };
  return { type: "insert" as const, memory, embedding };
};

/** A vector store that ignores every filter: the adapter must still keep scopes apart. */
class LeakyVectorStore extends MemoryVectorStore {
  override async similaritySearchVectorWithScore(query: number[], k: number) {
    return super.similaritySearchVectorWithScore(query, k);
  }
}

describe("LangChainVectorStoreAdapter", () => {
  it("needs a filter for vector stores it does not know, and a row store", () => {
    class OtherStore extends MemoryVectorStore {
      override _vectorstoreType(): string {
        return "qdrant";
      }
    }
    expect(() => adapter(new OtherStore(embeddings))).toThrow(
      /does not know how to filter a "qdrant" vector store.*filter: \(scope, metadataFilter\)/,
    );
    expect(
      () =>
        new LangChainVectorStoreAdapter({
          vectorStore: new OtherStore(embeddings),
          store: new SqliteStore({ path: ":memory:" }),
          filter: (scope) => (doc: DocumentInterface) => doc.metadata.mem0_user_id === scope.userId,
        }),
    ).not.toThrow();
    expect(
      () => new LangChainVectorStoreAdapter({ vectorStore: {} as never, store: {} as never }),
    ).toThrow(Mem0ConfigError);
  });

  it("never returns another scope's memories, even from a vector store that ignores filters", async () => {
    const store = adapter(new LeakyVectorStore(embeddings));
    await store.apply([
      insert("a", "tea alice", { userId: "alice" }, [1, 0, 0, 0]),
      insert("b", "tea bob", { userId: "bob" }, [1, 0, 0, 0.01]),
      insert("c", "coffee alice", { userId: "alice" }, [0, 1, 0, 0]),
    ]);
    const hits = await store.vectorSearch([1, 0, 0, 0], { userId: "bob" }, { topK: 3 });
    expect(hits.map((hit) => hit.memory.id)).toEqual(["b"]);
    const filtered = await store.vectorSearch(
      [1, 0, 0, 0],
      { userId: "alice" },
      {
        topK: 3,
        filters: { topic: "coffee" },
      },
    );
    expect(filtered.map((hit) => hit.memory.id)).toEqual(["c"]);
    await store.close();
  });

  it("keeps the vector store in step with updates, deletes, deleteScope and reset", async () => {
    const vectors = new MemoryVectorStore(embeddings);
    const store = adapter(vectors);
    await store.apply([
      insert("a", "tea alice", { userId: "alice" }, [1, 0, 0, 0]),
      insert("b", "tea bob", { userId: "bob" }, [1, 0, 0, 0]),
    ]);
    expect(vectors.memoryVectors).toHaveLength(2);
    await store.apply([
      {
        type: "update",
        id: "a",
        text: "juice alice",
        hash: "h:juice",
        metadata: { topic: "juice" },
        embedding: [0, 0, 1, 0],
        updatedAt: new Date().toISOString(),
      },
    ]);
    expect(vectors.memoryVectors).toHaveLength(2);
    const [hit] = await store.vectorSearch([0, 0, 1, 0], { userId: "alice" }, { topK: 1 });
    expect(hit.memory.text).toBe("juice alice");
    expect(hit.score).toBeCloseTo(1, 6);
    await store.apply([{ type: "delete", id: "a" }]);
    expect(vectors.memoryVectors.map((v) => v.metadata.mem0_id)).toEqual(["b"]);
    await store.apply([insert("c", "tea carol", { userId: "carol" }, [1, 0, 0, 0])]);
    expect(await store.deleteScope({ userId: "carol" })).toBe(1);
    expect(vectors.memoryVectors.map((v) => v.metadata.mem0_id)).toEqual(["b"]);
    vectors.memoryVectors = [];
    expect(await store.reindex({ userId: "bob" })).toBe(1);
    expect(
      (await store.vectorSearch([1, 0, 0, 0], { userId: "bob" }, { topK: 1 }))[0].memory.id,
    ).toBe("b");
    await store.reset();
    expect(vectors.memoryVectors).toEqual([]);
    await store.close();
  });

  it("is the vector part of Memory: add, search, delete", async () => {
    const memory = new Memory({
      embeddings: new HashEmbeddings({ dimensions: 32 }),
      store: new LangChainVectorStoreAdapter({
        vectorStore: new MemoryVectorStore(embeddings),
        store: new SqliteStore({ path: ":memory:" }),
      }),
      recoverOnOpen: false,
    });
    await memory.add("I keep bees in the garden", { userId: "ann", infer: false });
    await memory.add("I keep bees too", { userId: "bob", infer: false });
    const found = await memory.search("bees garden", { userId: "ann" });
    expect(found.results.map((r) => r.memory)).toEqual(["I keep bees in the garden"]);
    await memory.deleteAll({ userId: "ann" });
    expect((await memory.search("bees", { userId: "ann" })).results).toEqual([]);
    await memory.close();
  });
});

import { PGVectorStore } from "@langchain/community/vectorstores/pgvector";
import pg from "pg";
import { Memory } from "../src/backends/memory.js";
import { HashEmbeddings } from "../src/embeddings/hash.js";
import { UnsupportedFilterError } from "../src/errors.js";
import { LangChainVectorStoreAdapter } from "../src/stores/langchain_vectorstore.js";
import { PostgresStore } from "../src/stores/postgres.js";
import { SqliteStore } from "../src/stores/sqlite.js";
import { DATABASE_URL, describePostgres, dropSchemas, uniqueSchema } from "./utils/postgres.js";

const schemas: string[] = [];
const vectorStores: PGVectorStore[] = [];
let pool: pg.Pool;
beforeAll(() => {
  if (DATABASE_URL) pool = new pg.Pool({ connectionString: DATABASE_URL });
});
afterAll(async () => {
  // end() releases the store's client and ends its pool.
  for (const store of vectorStores) await store.end();
  await pool?.end();
  await dropSchemas(schemas);
});

const embeddings = new HashEmbeddings({ dimensions: 64 });

/** A PGVectorStore on a table of its own (in a schema of its own). */
async function pgVectorStore(): Promise<PGVectorStore> {
  const schema = uniqueSchema("v");
  schemas.push(schema);
  await pool.query(`CREATE SCHEMA ${schema}`);
  const store = await PGVectorStore.initialize(embeddings, {
    postgresConnectionOptions: { connectionString: DATABASE_URL },
    schemaName: schema,
    tableName: "documents",
    dimensions: 64,
    distanceStrategy: "cosine",
  });
  vectorStores.push(store);
  return store;
}

describePostgres("LangChainVectorStoreAdapter on PGVectorStore (@langchain/community)", () => {
  it("is the vector part of Memory: scoped search, metadata filters, update, delete", async () => {
    const vectorStore = await pgVectorStore();
    const rows = uniqueSchema();
    schemas.push(rows);
    const memory = new Memory({
      embeddings,
      store: new LangChainVectorStoreAdapter({
        vectorStore,
        store: new PostgresStore({ connectionString: DATABASE_URL, schema: rows }),
      }),
      recoverOnOpen: false,
      keywordWeight: 0,
    });
    const ann = { userId: "ann" };
    await memory.add("Ann keeps bees in the garden", { ...ann, infer: false, metadata: { n: 1 } });
    await memory.add("Ann grows tomatoes in the garden", {
      ...ann,
      infer: false,
      metadata: { n: 5 },
    });
    await memory.add("Bob keeps bees in the garden", { userId: "bob", infer: false });
    const found = await memory.search("bees in the garden", ann);
    expect(found.results.map((r) => r.memory).sort()).toEqual([
      "Ann grows tomatoes in the garden",
      "Ann keeps bees in the garden",
    ]);
    const filtered = await memory.search("garden", { ...ann, filters: { n: { gte: 3 } } });
    expect(filtered.results.map((r) => r.memory)).toEqual(["Ann grows tomatoes in the garden"]);
    // The documents carry the owner, so PGVectorStore filters them itself.
    const documents = await vectorStore.similaritySearch("bees", 10, { mem0_user_id: "bob" });
    expect(documents.map((d) => d.pageContent)).toEqual(["Bob keeps bees in the garden"]);

    const [bees] = (await memory.search("bees", ann)).results.filter((r) =>
      r.memory.includes("bees"),
    );
    await memory.update(bees.id, { text: "Ann keeps wasps in the garden" });
    const updated = await vectorStore.similaritySearch("wasps", 10, { mem0_user_id: "ann" });
    expect(updated.map((d) => d.pageContent).sort()).toEqual([
      "Ann grows tomatoes in the garden",
      "Ann keeps wasps in the garden",
    ]);
    await memory.deleteAll(ann);
    expect(await vectorStore.similaritySearch("garden", 10, { mem0_user_id: "ann" })).toEqual([]);
    expect((await memory.search("garden", ann)).results).toEqual([]);
    await memory.close();
  });

  it("refuses filters PGVectorStore cannot express instead of searching without them", async () => {
    const store = new LangChainVectorStoreAdapter({
      vectorStore: await pgVectorStore(),
      store: new SqliteStore({ path: ":memory:" }),
    });
    await store.ensureEmbedder("hash", 64);
    const query = await embeddings.embedQuery("x");
    for (const filters of [
      { OR: [{ a: 1 }, { b: 2 }] },
      { NOT: { a: 1 } },
      { a: { nin: [1] } },
      { a: { contains: "x" } },
      { a: null },
      { date: { gte: "2026-01-01" } },
      { "a'; DROP TABLE x; --": 1 },
    ]) {
      await expect(
        store.vectorSearch(query, { userId: "ann" }, { topK: 3, filters }),
      ).rejects.toThrow(UnsupportedFilterError);
    }
    await store.close();
  });
});

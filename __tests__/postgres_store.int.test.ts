import pg from "pg";
import { PostgresStore } from "../src/stores/postgres.js";
import { POSTGRES_MIGRATIONS } from "../src/stores/postgres_schema.js";
import { DATABASE_URL, describePostgres, dropSchemas, uniqueSchema } from "./utils/postgres.js";
import { describeStoreBehaviour } from "./utils/store_suite.js";

const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

function open(options: { schema?: string; exactSearch?: boolean } = {}): PostgresStore {
  const schema = options.schema ?? uniqueSchema();
  schemas.push(schema);
  return new PostgresStore({
    connectionString: DATABASE_URL,
    schema,
    exactSearch: options.exactSearch ?? true,
  });
}

describePostgres("PostgresStore", () => {
  // The suite's ground truths are exact: the exact mode is held to them, the index below.
  describeStoreBehaviour("behaviour (exact search)", {
    open: async () => open(),
    reopen: async (store) => {
      await store.close();
      return open({ schema: (store as PostgresStore).schema });
    },
    profilesAndEpisodes: true,
  });

  test("migrations: versioned, idempotent, safe when instances start at once", async () => {
    const schema = uniqueSchema();
    const stores = Array.from({ length: 4 }, () => open({ schema }));
    await Promise.all(stores.map((store) => store.version({ userId: "x" })));
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    const { rows } = await client.query(`SELECT version FROM ${schema}.schema_migrations`);
    expect(rows.map((row) => row.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    await client.query(
      `INSERT INTO ${schema}.schema_migrations (version, description) VALUES (999, 'future')`,
    );
    await client.end();
    const newer = open({ schema });
    await expect(newer.version({ userId: "x" })).rejects.toThrow(
      /newer than this package supports/,
    );
    await Promise.all([...stores, newer].map((store) => store.close()));
  });

  test("the HNSW index serves searches and finds the exact neighbours on a small scope", async () => {
    const store = open({ exactSearch: false });
    const exact = open({ schema: store.schema, exactSearch: true });
    await store.ensureEmbedder("e", 8);
    const rand = (() => {
      let seed = 7;
      return () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    })();
    const changes = Array.from({ length: 600 }, (_, i) => ({
      type: "insert" as const,
      memory: {
        id: `m${i}`,
        text: `memory ${i}`,
        hash: `h${i}`,
        metadata: { n: i % 5 },
        userId: i % 3 === 0 ? "alice" : "bob",
        createdAt: "2026-01-01T00:00:00.000Z",
        updatedAt: "2026-01-01T00:00:00.000Z",
      },
      embedding: Array.from({ length: 8 }, rand),
    }));
    await store.apply(changes);
    const pool = new pg.Pool({ connectionString: DATABASE_URL });
    const { rows } = await pool.query(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'memories_embedding'`,
      [store.schema],
    );
    expect(rows[0].indexdef).toMatch(/USING hnsw .*vector\(8\).*vector_cosine_ops/);
    let overlap = 0;
    for (let q = 0; q < 20; q++) {
      const query = Array.from({ length: 8 }, rand);
      const options = { topK: 10, filters: { n: { in: [1, 2] } } };
      const approximate = await store.vectorSearch(query, { userId: "alice" }, options);
      const truth = await exact.vectorSearch(query, { userId: "alice" }, options);
      expect(approximate).toHaveLength(10);
      for (const hit of approximate) {
        expect(hit.memory.userId).toBe("alice");
        expect([1, 2]).toContain(hit.memory.metadata.n);
      }
      const truthIds = new Set(truth.map((hit) => hit.memory.id));
      overlap += approximate.filter((hit) => truthIds.has(hit.memory.id)).length;
    }
    expect(overlap / 200).toBeGreaterThanOrEqual(0.9);
    await pool.end();
    await Promise.all([store.close(), exact.close()]);
  });

  test("a given pool is used and left open; a store without connection is a config error", async () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL });
    const schema = uniqueSchema();
    schemas.push(schema);
    const store = new PostgresStore({ pool, schema });
    expect(await store.version({ userId: "a" })).toBe("0");
    await store.close();
    await expect(store.version({ userId: "a" })).rejects.toThrow(/closed/);
    expect((await pool.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    await pool.end();
    expect(() => new PostgresStore({})).toThrow(/pool.*connectionString/);
    expect(() => new PostgresStore({ pool, schema: "Bad-Name" })).toThrow(/schema must be/);
  });
});

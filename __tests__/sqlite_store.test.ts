import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import type { MemoryScope } from "../src/scope.js";
import type { MemoryChange } from "../src/stores/base.js";
import { SqliteStore } from "../src/stores/sqlite.js";
import { axis, describeStoreBehaviour, insert, nextTime } from "./utils/store_suite.js";
import { textTerms } from "../src/stores/keyword_index.js";
import { MIGRATIONS } from "../src/stores/sqlite_schema.js";

const tempDirs: string[] = [];
function tempPath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-sqlite-"));
  tempDirs.push(dir);
  return path.join(dir, "nested", "dir", "memory.db");
}

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

const alice: MemoryScope = { userId: "alice" };
const bob: MemoryScope = { userId: "bob" };

describe("keyword query terms", () => {
  test("query terms: words stemmed, stop words dropped unless nothing else is left", () => {
    expect(textTerms('He said "hi" -NEAR(x*')).toEqual(["said", "hi", "near", "x"]);
    expect(textTerms("She painted paintings")).toEqual(["paint", "paint"]);
    expect(textTerms("the of")).toEqual(["the", "of"]);
    expect(textTerms("  *** ")).toEqual([]);
  });
});

describe("vector cache", () => {
  test("writes go through to cached scopes without reloading", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    await store.ensureEmbedder("e", 4);
    await store.apply([
      insert("a", "a", alice, axis(0)),
      insert("a1", "a1", { userId: "alice", runId: "r1" }, axis(1)),
      insert("b", "b", bob, axis(0)),
    ]);
    // Fill the caches of three query scopes.
    expect(
      (await store.vectorSearch(axis(2), alice, { topK: 10 })).map((r) => r.memory.id).sort(),
    ).toEqual(["a", "a1"]);
    await store.vectorSearch(axis(2), { userId: "alice", runId: "r1" }, { topK: 10 });
    await store.vectorSearch(axis(2), bob, { topK: 10 });
    const cache = (
      store as unknown as { search: { cache: { get(key: string): unknown; size: number } } }
    ).search.cache;
    const aliceKey = JSON.stringify(["alice", null, null]);
    const before = cache.get(aliceKey);
    expect(cache.size).toBe(3);

    // insert into the run: visible from alice and alice/r1, not from bob
    await store.apply([insert("new", "new", { userId: "alice", runId: "r1" }, axis(2))]);
    let top = await store.vectorSearch(axis(2), alice, { topK: 1 });
    expect(top[0].memory.id).toBe("new");
    expect(top[0].score).toBeCloseTo(1, 6);
    expect(
      (await store.vectorSearch(axis(2), { userId: "alice", runId: "r1" }, { topK: 1 }))[0].memory
        .id,
    ).toBe("new");
    expect((await store.vectorSearch(axis(2), bob, { topK: 10 })).map((r) => r.memory.id)).toEqual([
      "b",
    ]);

    // update the vector and metadata
    await store.apply([
      {
        type: "update",
        id: "new",
        text: "new2",
        hash: "h:new2",
        metadata: { kind: "x" },
        embedding: axis(3),
        updatedAt: nextTime(),
      },
    ]);
    top = await store.vectorSearch(axis(3), alice, { topK: 1, filters: { kind: "x" } });
    expect(top.map((r) => [r.memory.id, r.memory.text])).toEqual([["new", "new2"]]);
    expect((await store.similarities(axis(2), ["new"])).get("new")).toBeCloseTo(0, 6);

    // delete (swap-remove of a middle row)
    await store.apply([{ type: "delete", id: "a" }]);
    expect(
      (await store.vectorSearch(axis(0), alice, { topK: 10 })).map((r) => r.memory.id).sort(),
    ).toEqual(["a1", "new"]);
    expect(cache.get(aliceKey)).toBe(before); // same entry, never reloaded
    await store.close();
  });

  test("a second store writing the same file invalidates the first one's cache", async () => {
    const file = tempPath();
    const first = new SqliteStore({ path: file });
    await first.ensureEmbedder("e", 4);
    await first.apply([insert("a", "a", alice, axis(0))]);
    expect((await first.vectorSearch(axis(1), alice, { topK: 5 })).map((r) => r.memory.id)).toEqual(
      ["a"],
    );

    const second = new SqliteStore({ path: file });
    await second.ensureEmbedder("e", 4);
    await second.apply([insert("b", "b", alice, axis(1))]);
    expect((await first.vectorSearch(axis(1), alice, { topK: 5 })).map((r) => r.memory.id)).toEqual(
      ["b", "a"],
    );
    expect((await first.similarities(axis(1), ["b"])).get("b")).toBeCloseTo(1, 6);
    await second.apply([
      { type: "delete", id: "a" },
      {
        type: "update",
        id: "b",
        text: "b2",
        hash: "h:b2",
        metadata: { kind: "y" },
        embedding: axis(1),
        updatedAt: nextTime(),
      },
    ]);
    // Rows the first store read before (and keeps parsed) show the other store's update.
    expect(
      (await first.vectorSearch(axis(1), alice, { topK: 5 })).map((r) => [
        r.memory.id,
        r.memory.text,
        r.memory.metadata,
      ]),
    ).toEqual([["b", "b2", { kind: "y" }]]);
    await second.close();
    await first.close();
  });

  test("LRU eviction keeps the cache within its budget", async () => {
    const store = new SqliteStore({ path: ":memory:", cacheBudgetBytes: 5_000 });
    await store.ensureEmbedder("e", 4);
    const changes: MemoryChange[] = [];
    for (let u = 0; u < 5; u++) {
      for (let i = 0; i < 10; i++)
        changes.push(insert(`u${u}-${i}`, `t${i}`, { userId: `u${u}` }, axis(i % 4)));
    }
    await store.apply(changes);
    const cache = (store as unknown as { search: { cache: { size: number; totalBytes: number } } })
      .search.cache;
    for (let round = 0; round < 2; round++) {
      for (let u = 0; u < 5; u++) {
        const results = await store.vectorSearch(axis(0), { userId: `u${u}` }, { topK: 3 });
        expect(results).toHaveLength(3);
        expect(cache.totalBytes).toBeLessThanOrEqual(5_000);
      }
    }
    expect(cache.size).toBeGreaterThan(0);
    expect(cache.size).toBeLessThan(5);
    await store.close();
  });
});

describe("persistence, embedder record, deleteScope, reset, migrations", () => {
  test("data survives close and reopen; migrations are idempotent", async () => {
    const file = tempPath();
    let store = new SqliteStore({ path: file });
    expect(fs.existsSync(file)).toBe(true);
    await store.ensureEmbedder("e", 4);
    await store.apply([insert("a", "persistent fact", alice, axis(0), { k: 1 })]);
    await store.appendMessages(alice, [{ role: "user", content: "hi", createdAt: nextTime() }]);
    const schema = () => {
      const db = new Database(file, { readonly: true });
      const rows = db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all();
      const version = db.pragma("user_version", { simple: true });
      const journal = db.pragma("journal_mode", { simple: true });
      db.close();
      return { rows, version, journal };
    };
    const first = schema();
    expect(first.version).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
    expect(first.journal).toBe("wal");
    await store.close();

    store = new SqliteStore({ path: file });
    expect(schema()).toEqual(first);
    expect(store.schemaVersion).toBe(first.version);
    await store.ensureEmbedder("e", 4);
    expect(await store.get("a")).toMatchObject({ text: "persistent fact", metadata: { k: 1 } });
    expect((await store.vectorSearch(axis(0), alice, { topK: 1 }))[0].score).toBeCloseTo(1, 6);
    expect((await store.keywordSearch("persistent", alice, { topK: 1 }))[0].memory.id).toBe("a");
    expect(await store.history("a")).toHaveLength(1);
    expect(await store.recentMessages(alice, 5)).toHaveLength(1);
    await store.close();

    // A file from a newer version is refused.
    const db = new Database(file);
    db.pragma("user_version = 999");
    db.close();
    expect(() => new SqliteStore({ path: file })).toThrow(/newer than this package supports/);
  });

  test("a schema-4 file (FTS5 keyword table) upgrades to the latest and its memories stay searchable", async () => {
    const file = tempPath();
    const store4 = new SqliteStore({ path: file });
    await store4.ensureEmbedder("e", 4);
    await store4.apply([insert("old", "Visited Zürich with beetles", alice, axis(0))]);
    await store4.close();
    // Back to the schema a release before the in-memory keyword index left behind.
    const db = new Database(file);
    db.exec(`
      DROP TABLE profiles;
      DROP INDEX messages_memory;
      ALTER TABLE messages DROP COLUMN memory_seq;
      ALTER TABLE messages DROP COLUMN embedding;
      DROP INDEX memories_agent;
      DROP INDEX memories_run;
      CREATE INDEX memories_agent ON memories (agent_id, created_at, id);
      CREATE INDEX memories_run ON memories (run_id, created_at, id);
    `);
    const v1 = MIGRATIONS.find((m) => m.version === 1)!.sql;
    db.exec(v1.slice(v1.indexOf("CREATE VIRTUAL TABLE"), v1.indexOf("CREATE TABLE history")));
    db.exec(MIGRATIONS.find((m) => m.version === 2)!.sql);
    db.pragma("user_version = 4");
    db.close();

    const store = new SqliteStore({ path: file });
    expect(store.schemaVersion).toBe(MIGRATIONS.at(-1)!.version);
    const check = new Database(file, { readonly: true });
    expect(
      check
        .prepare("SELECT count(*) FROM sqlite_master WHERE name LIKE 'memories_fts%'")
        .pluck()
        .get(),
    ).toBe(0);
    check.close();
    expect((await store.keywordSearch("zurich beetle", alice, { topK: 1 }))[0]).toMatchObject({
      memory: { id: "old" },
      score: 1,
    });
    await store.close();
  });

  test("deleteScope removes rows, history, messages and keyword entries of that scope only", async () => {
    const file = tempPath();
    const store = new SqliteStore({ path: file });
    await store.ensureEmbedder("e", 4);
    const aliceRun = { userId: "alice", runId: "r1" };
    await store.apply([
      insert("a1", "alice quokkaword one", alice, axis(0)),
      insert("a2", "alice quokkaword two", aliceRun, axis(1)),
      insert("a3", "alice deleted earlier", alice, axis(2)),
      insert("b1", "bob wombatword", bob, axis(0)),
    ]);
    await store.apply([
      {
        type: "update",
        id: "a1",
        text: "alice quokkaword uno",
        hash: "h:uno",
        metadata: {},
        embedding: axis(3),
        updatedAt: nextTime(),
      },
      { type: "delete", id: "a3" },
    ]);
    await store.appendMessages(alice, [{ role: "user", content: "hello", createdAt: nextTime() }]);
    await store.appendMessages(aliceRun, [{ role: "user", content: "run", createdAt: nextTime() }]);
    await store.appendMessages(bob, [{ role: "user", content: "bob", createdAt: nextTime() }]);
    await store.vectorSearch(axis(0), alice, { topK: 5 }); // cached
    await store.vectorSearch(axis(0), aliceRun, { topK: 5 }); // cached

    expect(await store.deleteScope(alice)).toBe(2);
    expect(await store.vectorSearch(axis(0), alice, { topK: 5 })).toEqual([]);
    expect(await store.vectorSearch(axis(0), aliceRun, { topK: 5 })).toEqual([]);
    expect(await store.keywordSearch("quokkaword", alice, { topK: 5 })).toEqual([]);
    expect(await store.history("a3")).toEqual([]);
    expect(await store.similarities(axis(0), ["a1", "a2", "b1"])).toEqual(new Map([["b1", 1]]));

    const db = new Database(file, { readonly: true });
    const count = (sql: string, ...params: unknown[]) =>
      (db
        .prepare(sql)
        .pluck()
        .get(...params) as number) ?? 0;
    expect(count("SELECT count(*) FROM memories WHERE user_id = 'alice'")).toBe(0);
    expect(count("SELECT count(*) FROM history WHERE user_id = 'alice'")).toBe(0);
    expect(count("SELECT count(*) FROM history WHERE memory_id IN ('a1','a2','a3')")).toBe(0);
    expect(count("SELECT count(*) FROM messages WHERE user_id = 'alice'")).toBe(0);
    expect(count("SELECT count(*) FROM memories WHERE text LIKE '%quokkaword%'")).toBe(0);
    // bob is intact
    expect(count("SELECT count(*) FROM memories WHERE user_id = 'bob'")).toBe(1);
    expect(count("SELECT count(*) FROM history WHERE user_id = 'bob'")).toBe(1);
    expect(count("SELECT count(*) FROM messages WHERE user_id = 'bob'")).toBe(1);
    expect(
      (await store.keywordSearch("wombatword", { userId: "bob" }, { topK: 5 })).map(
        (r) => r.memory.id,
      ),
    ).toEqual(["b1"]);
    db.close();
    expect((await store.keywordSearch("wombatword", bob, { topK: 5 }))[0].memory.id).toBe("b1");
    expect(await store.recentMessages(bob, 5)).toHaveLength(1);
    await store.close();
  });

  test("reset drops all data and the embedder record but keeps the schema", async () => {
    const file = tempPath();
    const store = new SqliteStore({ path: file });
    await store.ensureEmbedder("e", 4);
    await store.apply([insert("a", "resettable", alice, axis(0)), insert("b", "b", bob, axis(1))]);
    await store.appendMessages(alice, [{ role: "user", content: "x", createdAt: nextTime() }]);
    await store.vectorSearch(axis(0), alice, { topK: 1 });
    await store.reset();
    expect(await store.get("a")).toBeUndefined();
    expect(await store.history("a")).toEqual([]);
    expect(await store.recentMessages(alice, 5)).toEqual([]);
    expect(await store.keywordSearch("resettable", alice, { topK: 5 })).toEqual([]);
    expect(await store.vectorSearch(axis(0), alice, { topK: 5 })).toEqual([]);
    await store.ensureEmbedder("other", 3); // embedder record cleared
    await store.apply([insert("c", "after reset", alice, [1, 0, 0])]);
    expect(
      (await store.vectorSearch([1, 0, 0], alice, { topK: 5 })).map((r) => r.memory.id),
    ).toEqual(["c"]);
    const db = new Database(file, { readonly: true });
    expect(db.prepare("SELECT count(*) FROM memories").pluck().get()).toBe(1);
    db.close();
    await store.close();
  });
});

describeStoreBehaviour("SqliteStore", {
  open: async () => new SqliteStore({ path: tempPath() }),
  reopen: async (store) => {
    await store.close();
    return new SqliteStore({ path: (store as SqliteStore).path });
  },
  profilesAndEpisodes: true,
});

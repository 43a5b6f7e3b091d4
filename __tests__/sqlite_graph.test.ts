import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import type { MemoryScope } from "../src/scope.js";
import { SqliteStore } from "../src/stores/sqlite.js";
import { axis, edge, entity, ids, memoryInsert, T0 } from "./utils/store_suite.js";
import { MIGRATIONS } from "../src/stores/sqlite_schema.js";
import { normalizeEntityName } from "../src/stores/entity_names.js";

const tempDirs: string[] = [];
function tempPath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-graph-"));
  tempDirs.push(dir);
  return path.join(dir, "memory.db");
}

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

const alice: MemoryScope = { userId: "alice" };
const aliceRun: MemoryScope = { userId: "alice", runId: "r1" };
const bob: MemoryScope = { userId: "bob" };

describe("normalizeEntityName", () => {
  test.each([
    ["New-York  City!", "new york city"],
    ["  JOSÉ   García ", "jose garcia"],
    ["Zoë's café", "zoe s cafe"],
    ["ＡＢＣ　１２３", "abc 123"],
    ["İstanbul", "istanbul"],
    ["München", "munchen"],
    ["東京", "東京"],
    ["नमस्ते दुनिया", "नमस्ते दुनिया"],
    ["Москва", "москва"],
    ["Αθήνα", "αθηνα"],
    ["Hà Nội", "ha noi"],
    ["ﬁnance", "finance"],
    ["---", ""],
  ])("%s → %s", (input, expected) => {
    expect(normalizeEntityName(input)).toBe(expected);
  });
});

describe("SqliteStore graph files", () => {
  let store: SqliteStore;
  let file: string;
  beforeEach(async () => {
    file = tempPath();
    store = new SqliteStore({ path: file });
    await store.ensureEmbedder("e", 4);
  });
  afterEach(async () => {
    await store.close();
  });

  test("deleteScope removes the scope's graph and keeps other scopes; reset clears all", async () => {
    await store.apply([memoryInsert("m1", "alice fact", alice, axis(0))], {
      graph: [
        entity("a1", "paris", alice, ["city of light"], axis(0)),
        entity("a2", "tokyo", aliceRun, [], axis(1)),
        entity("b1", "paris", bob, [], axis(0)),
        entity("b2", "rome", bob),
        edge("ae", "a1", "near", "a2", aliceRun),
        edge("ae2", "a1", "twin_of", "a1", alice),
        edge("be", "b1", "near", "b2", bob),
      ],
    });
    expect(await store.deleteScope(alice)).toBe(1);
    const db = new Database(file, { readonly: true });
    const count = (sql: string) => db.prepare(sql).pluck().get() as number;
    expect(count("SELECT count(*) FROM entities WHERE user_id = 'alice'")).toBe(0);
    expect(count("SELECT count(*) FROM edges WHERE user_id = 'alice'")).toBe(0);
    expect(count("SELECT count(*) FROM entity_aliases WHERE entity_id IN ('a1', 'a2')")).toBe(0);
    expect(count("SELECT count(*) FROM entities")).toBe(2);
    expect(count("SELECT count(*) FROM entity_aliases")).toBe(2);
    expect(count("SELECT count(*) FROM edges")).toBe(1);
    db.close();
    expect(ids(await store.listEntities(bob))).toEqual(["b1", "b2"]);
    expect(ids(await store.listEdges(bob))).toEqual(["be"]);

    // A run scope removes only that run's items.
    await store.applyGraph([entity("r", "run thing", { userId: "bob", runId: "r9" })]);
    await store.deleteScope({ userId: "bob", runId: "r9" });
    expect(ids(await store.listEntities(bob))).toEqual(["b1", "b2"]);

    await store.reset();
    const check = new Database(file, { readonly: true });
    for (const table of ["entities", "entity_aliases", "edges"]) {
      expect(check.prepare(`SELECT count(*) FROM ${table}`).pluck().get()).toBe(0);
    }
    check.close();
  });
  test("graph persists across reopen", async () => {
    await store.applyGraph([
      entity("a", "ann", alice, ["Annie"], axis(0)),
      entity("b", "ben", alice),
      edge("ab", "a", "knows", "b", alice, T0, "ann knows ben"),
    ]);
    await store.close();
    store = new SqliteStore({ path: file });
    expect(store.schemaVersion).toBe(MIGRATIONS.at(-1)!.version);
    expect(ids(await store.findEntitiesByName(alice, ["annie"]))).toEqual(["a"]);
    const [match] = await store.similarEntities(alice, axis(0), { topK: 1, threshold: 0.5 });
    expect(match.entity.id).toBe("a");
    expect(match.score).toBeCloseTo(1, 6);
    expect(await store.getEdge("ab")).toMatchObject({
      source: "ann",
      destination: "ben",
      origin: "ann knows ben",
    });
  });
});

describe("migration", () => {
  test("MIGRATIONS are ordered and end at version 3 or later", () => {
    const versions = MIGRATIONS.map((m) => m.version);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
    expect(versions).toContain(3);
  });

  test("a file created before the graph migration is upgraded in place", async () => {
    const file = tempPath();
    const old = new Database(file);
    const earlier = MIGRATIONS.filter((m) => m.version < 3);
    for (const migration of earlier) old.exec(migration.sql);
    old.pragma(`user_version = ${earlier[earlier.length - 1].version}`);
    old
      .prepare(
        `INSERT INTO memories (id, user_id, scope_key, text, hash, embedding, created_at, updated_at)
         VALUES ('m1', 'alice', '["alice",null,null]', 'old fact', 'h', ?, ?, ?)`,
      )
      .run(Buffer.from(new Float32Array([1, 0, 0, 0]).buffer), T0, T0);
    old.prepare("INSERT INTO meta (key, value) VALUES ('embedder_dimensions', '4')").run();
    old.close();

    const store = new SqliteStore({ path: file });
    try {
      expect(store.schemaVersion).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
      expect(await store.get("m1")).toMatchObject({ text: "old fact", userId: "alice" });
      await store.applyGraph([entity("a", "ann", alice, [], axis(0))]);
      expect(ids(await store.listEntities(alice))).toEqual(["a"]);
      await expect(store.applyGraph([entity("b", "ben", alice, [], [1, 0])])).rejects.toThrow(
        /4-dimensional/,
      );
    } finally {
      await store.close();
    }
  });
});

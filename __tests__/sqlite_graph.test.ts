import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { Mem0InputError, MissingScopeError } from "../src/errors.js";
import type { MemoryScope } from "../src/scope.js";
import type { GraphChange, MemoryChange, StoredMemory } from "../src/stores/base.js";
import { SqliteStore } from "../src/stores/sqlite.js";
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

const T0 = "2026-01-01T00:00:00.000Z";
const T1 = "2026-02-01T00:00:00.000Z";
const T2 = "2026-03-01T00:00:00.000Z";
const T3 = "2026-04-01T00:00:00.000Z";

function axis(index: number, dims = 4, noise = 0): number[] {
  const v = Array.from({ length: dims }, () => noise);
  v[index] = 1;
  return v;
}

function entity(
  id: string,
  name: string,
  owner: MemoryScope,
  aliases: string[] = [],
  embedding?: number[],
): GraphChange {
  return {
    type: "upsert_entity",
    id,
    name,
    aliases,
    owner,
    createdAt: T0,
    ...(embedding ? { embedding } : {}),
  };
}

function edge(
  id: string,
  sourceId: string,
  relation: string,
  destinationId: string,
  owner: MemoryScope,
  validFrom = T0,
  origin?: string,
): GraphChange {
  return {
    type: "add_edge",
    id,
    sourceId,
    relation,
    destinationId,
    validFrom,
    owner,
    ...(origin ? { origin } : {}),
  };
}

function memoryInsert(id: string, text: string, owner: MemoryScope, embedding: number[]) {
  const memory: StoredMemory = {
    id,
    text,
    hash: `h:${text}`,
    metadata: {},
    ...owner,
    createdAt: T0,
    updatedAt: T0,
  };
  return { type: "insert", memory, embedding } satisfies MemoryChange;
}

const ids = (items: { id: string }[]) => items.map((item) => item.id).sort();

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

describe("SqliteStore as GraphStore", () => {
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

  test("upsert stores the name and normalised aliases; other spellings find the entity", async () => {
    await store.applyGraph([entity("e1", "new york city", alice, ["NYC", "The Big Apple"])]);
    const [stored] = await store.listEntities(alice);
    expect(stored).toEqual({
      id: "e1",
      name: "new york city",
      aliases: ["new york city", "nyc", "the big apple"],
      userId: "alice",
      createdAt: T0,
    });
    for (const spelling of ["New-York City", "nyc", "N.Y.C", "THE BIG APPLE!"]) {
      const found = await store.findEntitiesByName(alice, [spelling]);
      if (spelling === "N.Y.C") expect(found).toEqual([]);
      else expect(ids(found)).toEqual(["e1"]);
    }
    // Upserting an existing id only adds aliases (name, owner and time stay).
    await store.applyGraph([
      { ...entity("e1", "ignored", bob, ["Gotham", "nyc"]), createdAt: T3 } as GraphChange,
    ]);
    const [again] = await store.listEntities(alice);
    expect(again.name).toBe("new york city");
    expect(again.createdAt).toBe(T0);
    expect(again.aliases).toEqual(["gotham", "ignored", "new york city", "nyc", "the big apple"]);
    expect(await store.listEntities(bob)).toEqual([]);
    expect(ids(await store.findEntitiesByName(alice, ["gotham", "unknown", ""]))).toEqual(["e1"]);
    expect(await store.findEntitiesByName(alice, [])).toEqual([]);
  });

  test("entitiesMentionedIn matches whole words only", async () => {
    await store.applyGraph([
      entity("nyc", "new york city", alice),
      entity("york", "york", alice),
      entity("ann", "ann", alice, ["Annie"]),
    ]);
    expect(ids(await store.entitiesMentionedIn(alice, "I flew to New York City!"))).toEqual([
      "nyc",
      "york",
    ]);
    expect(await store.entitiesMentionedIn(alice, "a weekend in Yorkshire with Anne")).toEqual([]);
    expect(ids(await store.entitiesMentionedIn(alice, "York. And annie"))).toEqual(["ann", "york"]);
    expect(ids(await store.entitiesMentionedIn(alice, "new-york-city"))).toEqual(["nyc", "york"]);
    expect(await store.entitiesMentionedIn(alice, "new yorker city")).toEqual([]);
    expect(await store.entitiesMentionedIn(bob, "New York City")).toEqual([]);
    expect(await store.entitiesMentionedIn(alice, "!!!")).toEqual([]);
  });

  test("similarEntities ranks by cosine, skips entities without embedding, applies threshold", async () => {
    await store.applyGraph([
      entity("a", "alpha", alice, [], [1, 0, 0, 0]),
      entity("b", "beta", alice, [], [0.8, 0.6, 0, 0]),
      entity("c", "gamma", alice, [], [0, 1, 0, 0]),
      entity("d", "delta", alice),
      entity("x", "bob thing", bob, [], [1, 0, 0, 0]),
    ]);
    const matches = await store.similarEntities(alice, [2, 0, 0, 0], { topK: 10, threshold: -1 });
    expect(matches.map((m) => m.entity.id)).toEqual(["a", "b", "c"]);
    expect(matches[0].score).toBeCloseTo(1, 6);
    expect(matches[1].score).toBeCloseTo(0.8, 6);
    expect(matches[2].score).toBeCloseTo(0, 6);
    expect(matches[0].entity).toMatchObject({ name: "alpha", aliases: ["alpha"] });
    const top = await store.similarEntities(alice, [1, 0, 0, 0], { topK: 1, threshold: 0 });
    expect(top.map((m) => m.entity.id)).toEqual(["a"]);
    const strict = await store.similarEntities(alice, [1, 0, 0, 0], { topK: 5, threshold: 0.5 });
    expect(strict.map((m) => m.entity.id)).toEqual(["a", "b"]);
    await expect(
      store.similarEntities(alice, [1, 0, 0], { topK: 5, threshold: 0 }),
    ).rejects.toThrow(/3 dimensions but this store holds 4-dimensional/);
    // A later embedding of the name fills a missing one.
    await store.applyGraph([entity("d", "delta", alice, [], [0, 0, 1, 0])]);
    const d = await store.similarEntities(alice, [0, 0, 1, 0], { topK: 1, threshold: 0.9 });
    expect(d.map((m) => m.entity.id)).toEqual(["d"]);
  });

  test("entity embeddings must match the recorded dimension", async () => {
    const attempt = store.applyGraph([entity("a", "alpha", alice, [], [1, 0, 0])]);
    await expect(attempt).rejects.toThrow(Mem0InputError);
    await expect(store.applyGraph([entity("a", "alpha", alice, [], [1, 0, 0])])).rejects.toThrow(
      /Embedding of entity a has 3 dimensions.*4-dimensional/,
    );
    expect(await store.listEntities(alice)).toEqual([]);
  });

  test("add_edge skips a currently valid identical edge; invalidate, asOf and includeInvalid", async () => {
    await store.applyGraph([
      entity("alice", "alice", alice),
      entity("paris", "paris", alice),
      entity("berlin", "berlin", alice),
      edge("e1", "alice", "lives_in", "paris", alice, T0, "I live in Paris"),
    ]);
    await store.applyGraph([edge("e1b", "alice", "lives_in", "paris", alice, T1)]);
    expect((await store.listEdges(alice)).map((e) => e.id)).toEqual(["e1"]);
    expect(await store.getEdge("e1b")).toBeUndefined();
    expect(await store.getEdge("e1")).toMatchObject({
      id: "e1",
      sourceId: "alice",
      source: "alice",
      relation: "lives_in",
      destinationId: "paris",
      destination: "paris",
      validFrom: T0,
      origin: "I live in Paris",
      userId: "alice",
    });
    expect((await store.getEdge("e1"))?.validTo).toBeUndefined();

    // Moved to Berlin at T2.
    await store.applyGraph([
      { type: "invalidate_edge", id: "e1", validTo: T2 },
      edge("e2", "alice", "lives_in", "berlin", alice, T2),
    ]);
    // Invalidating again keeps the first end time.
    await store.applyGraph([{ type: "invalidate_edge", id: "e1", validTo: T3 }]);
    expect((await store.getEdge("e1"))?.validTo).toBe(T2);

    const rel = async (options?: { asOf?: string; includeInvalid?: boolean }) =>
      (await store.listEdges(alice, options)).map((e) => e.id).sort();
    expect(await rel()).toEqual(["e2"]);
    expect(await rel({ asOf: T1 })).toEqual(["e1"]);
    expect(await rel({ asOf: T2 })).toEqual(["e2"]);
    expect(await rel({ asOf: T3 })).toEqual(["e2"]);
    expect(await rel({ asOf: "2025-01-01T00:00:00Z" })).toEqual([]);
    expect(await rel({ includeInvalid: true })).toEqual(["e1", "e2"]);
    await expect(store.listEdges(alice, { asOf: "not a date" })).rejects.toThrow(Mem0InputError);

    // Once invalidated, the same relation can be added again as a new current edge.
    await store.applyGraph([edge("e3", "alice", "lives_in", "paris", alice, T3)]);
    expect(await rel()).toEqual(["e2", "e3"]);

    await store.applyGraph([{ type: "delete_edge", id: "e2" }]);
    expect(await store.getEdge("e2")).toBeUndefined();
    expect(await rel({ includeInvalid: true })).toEqual(["e1", "e3"]);

    await expect(store.applyGraph([edge("e4", "alice", "knows", "nobody", alice)])).rejects.toThrow(
      /unknown entity nobody/,
    );
    await expect(store.applyGraph([edge("e1", "alice", "likes", "paris", alice)])).rejects.toThrow(
      /already exists/,
    );
  });

  test("neighborhood: hops 1 vs 2, validity", async () => {
    await store.applyGraph([
      entity("a", "ann", alice),
      entity("b", "ben", alice),
      entity("c", "carl", alice),
      entity("d", "dora", alice),
      edge("ab", "a", "knows", "b", alice),
      edge("bc", "b", "works_with", "c", alice),
      edge("cd", "c", "married_to", "d", alice),
      edge("da", "d", "sister_of", "a", alice, T1),
      { type: "invalidate_edge", id: "da", validTo: T2 },
    ]);
    const hood = async (hops: number, extra: { asOf?: string; includeInvalid?: boolean } = {}) =>
      ids(await store.neighborhood(alice, ["a"], { hops, ...extra }));
    expect(await hood(1)).toEqual(["ab"]);
    expect(await hood(2)).toEqual(["ab", "bc"]);
    expect(await hood(3)).toEqual(["ab", "bc", "cd"]);
    expect(await hood(1, { includeInvalid: true })).toEqual(["ab", "da"]);
    expect(await hood(2, { includeInvalid: true })).toEqual(["ab", "bc", "cd", "da"]);
    expect(await hood(1, { asOf: "2026-02-15T00:00:00.000Z" })).toEqual(["ab", "da"]);
    expect(await hood(0)).toEqual([]);
    const [first] = await store.neighborhood(alice, ["b"], { hops: 1 });
    expect(first).toMatchObject({ source: "ann", relation: "knows", destination: "ben" });
    expect(ids(await store.neighborhood(alice, ["b", "c"], { hops: 1 }))).toEqual([
      "ab",
      "bc",
      "cd",
    ]);
    expect(await store.neighborhood(bob, ["a"], { hops: 2 })).toEqual([]);
    expect(await store.neighborhood(alice, [], { hops: 2 })).toEqual([]);
  });

  test("scope isolation; run-scoped items are visible from the user scope", async () => {
    await store.applyGraph([
      entity("a1", "paris", alice),
      entity("a2", "tokyo", aliceRun),
      entity("b1", "paris", bob),
      entity("b2", "rome", bob),
      edge("ae", "a1", "near", "a2", aliceRun),
      edge("be", "b1", "near", "b2", bob),
    ]);
    expect(ids(await store.listEntities(alice))).toEqual(["a1", "a2"]);
    expect(ids(await store.listEntities(aliceRun))).toEqual(["a2"]);
    expect(ids(await store.listEntities(bob))).toEqual(["b1", "b2"]);
    expect(ids(await store.findEntitiesByName(bob, ["Paris", "Tokyo"]))).toEqual(["b1"]);
    expect(ids(await store.findEntitiesByName(alice, ["Paris", "Tokyo"]))).toEqual(["a1", "a2"]);
    expect(ids(await store.findEntitiesByName(aliceRun, ["Paris", "Tokyo"]))).toEqual(["a2"]);
    expect(ids(await store.entitiesMentionedIn(bob, "paris tokyo rome"))).toEqual(["b1", "b2"]);
    expect(ids(await store.listEdges(alice))).toEqual(["ae"]);
    expect(ids(await store.listEdges(aliceRun))).toEqual(["ae"]);
    expect(ids(await store.listEdges({ userId: "alice", runId: "r2" }))).toEqual([]);
    expect(ids(await store.listEdges(bob))).toEqual(["be"]);
    expect(await store.neighborhood(bob, ["a1", "a2"], { hops: 2 })).toEqual([]);
    expect(ids(await store.neighborhood(alice, ["a1"], { hops: 1 }))).toEqual(["ae"]);
    // Every read needs a scope.
    await expect(store.listEntities({})).rejects.toThrow(MissingScopeError);
    await expect(store.listEdges({})).rejects.toThrow(MissingScopeError);
    await expect(store.findEntitiesByName({}, ["paris"])).rejects.toThrow(MissingScopeError);
    await expect(store.entitiesMentionedIn({}, "paris")).rejects.toThrow(MissingScopeError);
    await expect(store.neighborhood({}, ["a1"], { hops: 1 })).rejects.toThrow(MissingScopeError);
    await expect(store.similarEntities({}, axis(0), { topK: 1, threshold: 0 })).rejects.toThrow(
      MissingScopeError,
    );
    await expect(store.applyGraph([entity("z", "zed", {})])).rejects.toThrow(MissingScopeError);
  });

  test("apply(memory, graph) is atomic", async () => {
    const graph: GraphChange[] = [
      entity("a", "ann", alice, [], axis(0)),
      entity("b", "ben", alice, [], axis(1)),
      edge("ab", "a", "knows", "b", alice),
    ];
    // A bad memory embedding rolls back the graph changes too.
    await expect(
      store.apply([memoryInsert("m1", "ann knows ben", alice, [1, 0, 0])], { graph }),
    ).rejects.toThrow(/3 dimensions/);
    expect(await store.listEntities(alice)).toEqual([]);
    expect(await store.listEdges(alice, { includeInvalid: true })).toEqual([]);
    // A bad graph change rolls back the memory changes.
    await expect(
      store.apply([memoryInsert("m1", "ann knows ben", alice, axis(0))], {
        graph: [...graph, edge("bad", "a", "knows", "missing", alice)],
      }),
    ).rejects.toThrow(/unknown entity missing/);
    expect(await store.get("m1")).toBeUndefined();
    expect(await store.listEntities(alice)).toEqual([]);
    // Both commit together.
    const results = await store.apply([memoryInsert("m1", "ann knows ben", alice, axis(0))], {
      graph,
    });
    expect(results).toHaveLength(1);
    expect(results[0].applied).toBe(true);
    expect(ids(await store.listEntities(alice))).toEqual(["a", "b"]);
    expect(ids(await store.listEdges(alice))).toEqual(["ab"]);
    // Graph-only apply.
    expect(
      await store.apply([], { graph: [{ type: "invalidate_edge", id: "ab", validTo: T1 }] }),
    ).toEqual([]);
    expect(await store.listEdges(alice)).toEqual([]);
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

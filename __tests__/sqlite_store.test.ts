import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { EmbedderMismatchError, Mem0Error, Mem0InputError } from "../src/errors.js";
import { scopeContains, type MemoryScope } from "../src/scope.js";
import type { MemoryChange, StoredMemory } from "../src/stores/base.js";
import type { MetadataFilter } from "../src/stores/filters.js";
import { textTerms } from "../src/stores/keyword_index.js";
import { MIGRATIONS, SqliteStore } from "../src/stores/sqlite.js";

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomVector(rand: () => number, dims: number): number[] {
  return Array.from({ length: dims }, () => rand() * 2 - 1);
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

let clock = Date.parse("2026-01-01T00:00:00.000Z");
function nextTime(): string {
  clock += 1000;
  return new Date(clock).toISOString();
}

function memory(
  id: string,
  text: string,
  owner: MemoryScope,
  metadata: Record<string, unknown> = {},
  createdAt = nextTime(),
): StoredMemory {
  return { id, text, hash: `h:${text}`, metadata, ...owner, createdAt, updatedAt: createdAt };
}

function insert(
  id: string,
  text: string,
  owner: MemoryScope,
  embedding: number[],
  metadata: Record<string, unknown> = {},
): MemoryChange {
  return { type: "insert", memory: memory(id, text, owner, metadata), embedding };
}

/** A one-hot-ish vector in `dims` dimensions pointing mostly along axis `axis`. */
function axis(axisIndex: number, dims = 4, noise = 0): number[] {
  const v = Array.from({ length: dims }, () => noise);
  v[axisIndex] = 1;
  return v;
}

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

describe("SqliteStore basics", () => {
  let store: SqliteStore;
  beforeEach(async () => {
    store = new SqliteStore({ path: ":memory:" });
    await store.ensureEmbedder("test-embedder", 4);
  });
  afterEach(async () => {
    await store.close();
  });

  test("insert, get and list with keyset pagination", async () => {
    const sameTime = nextTime();
    const changes: MemoryChange[] = [];
    for (let i = 0; i < 25; i++) {
      const created = i < 5 ? sameTime : nextTime(); // ties on created_at are ordered by id
      changes.push({
        type: "insert",
        memory: memory(`m${String(i).padStart(2, "0")}`, `fact ${i}`, alice, { i }, created),
        embedding: axis(i % 4),
      });
    }
    changes.push(insert("b1", "bob fact", bob, axis(0)));
    const results = await store.apply(changes);
    expect(results.every((r) => r.applied)).toBe(true);

    const got = await store.get("m03");
    expect(got).toEqual({
      id: "m03",
      text: "fact 3",
      hash: "h:fact 3",
      metadata: { i: 3 },
      userId: "alice",
      createdAt: sameTime,
      updatedAt: sameTime,
    });
    expect(await store.get("missing")).toBeUndefined();

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.list(alice, { limit: 10, cursor });
      seen.push(...page.items.map((m) => m.id));
      cursor = page.nextCursor;
      pages++;
      if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(
      changes.slice(0, 25).map((c) => (c as { memory: StoredMemory }).memory.id),
    );

    const exact = await store.list(alice, { limit: 25 });
    expect(exact.items).toHaveLength(25);
    expect(exact.nextCursor).toBeUndefined();
    expect((await store.list(alice)).items).toHaveLength(25);

    const filtered = await store.list(alice, { limit: 3, filters: { i: { gte: 20 } } });
    expect(filtered.items.map((m) => m.id)).toEqual(["m20", "m21", "m22"]);
    const rest = await store.list(alice, {
      limit: 3,
      filters: { i: { gte: 20 } },
      cursor: filtered.nextCursor,
    });
    expect(rest.items.map((m) => m.id)).toEqual(["m23", "m24"]);
    expect(rest.nextCursor).toBeUndefined();

    await expect(store.list(alice, { cursor: "garbage!" })).rejects.toThrow(Mem0InputError);
    await expect(store.list({})).rejects.toThrow(Mem0Error);
  });

  test("duplicate insert is skipped without history; same text in another scope is kept", async () => {
    const [first] = await store.apply([insert("a1", "likes tea", alice, axis(0))]);
    expect(first.applied).toBe(true);
    const again = await store.apply([
      insert("a2", "likes tea", alice, axis(0)),
      insert("b1", "likes tea", bob, axis(0)),
      insert("a3", "likes tea", { userId: "alice", runId: "r1" }, axis(0)),
    ]);
    expect(again.map((r) => r.applied)).toEqual([false, true, true]);
    expect(await store.get("a2")).toBeUndefined();
    expect(await store.history("a2")).toEqual([]);
    expect((await store.history("a1")).map((h) => h.event)).toEqual(["ADD"]);
    // A retried insert of the very same memory is a duplicate too.
    expect((await store.apply([insert("a1", "likes tea", alice, axis(0))]))[0].applied).toBe(false);
    await expect(store.apply([insert("a1", "other", alice, axis(1))])).rejects.toThrow(
      /already exists/,
    );
  });

  test("update keeps the previous text in history; skipped updates", async () => {
    await store.apply([
      { ...insert("a1", "lives in Paris", alice, axis(0)), actor: "user" },
      insert("a2", "likes tea", alice, axis(1)),
    ]);
    const updatedAt = nextTime();
    const [update] = await store.apply([
      {
        type: "update",
        id: "a1",
        text: "lives in Berlin",
        hash: "h:lives in Berlin",
        metadata: { city: "Berlin" },
        embedding: axis(2),
        updatedAt,
        actor: "assistant",
      },
    ]);
    expect(update).toMatchObject({ applied: true, previous: "lives in Paris" });
    const row = await store.get("a1");
    expect(row).toMatchObject({ text: "lives in Berlin", metadata: { city: "Berlin" }, updatedAt });
    expect(row?.createdAt).not.toBe(updatedAt);

    const history = await store.history("a1");
    expect(
      history.map(({ event, previous, next, actor }) => ({ event, previous, next, actor })),
    ).toEqual([
      { event: "ADD", previous: null, next: "lives in Paris", actor: "user" },
      { event: "UPDATE", previous: "lives in Paris", next: "lives in Berlin", actor: "assistant" },
    ]);
    expect(history[0].memoryId).toBe("a1");
    expect(history[0].id).not.toBe(history[1].id);

    const skipped = await store.apply([
      {
        type: "update",
        id: "nope",
        text: "x",
        hash: "h:x",
        metadata: {},
        embedding: axis(0),
        updatedAt,
      },
      // to a text that already exists in the scope
      {
        type: "update",
        id: "a1",
        text: "likes tea",
        hash: "h:likes tea",
        metadata: {},
        embedding: axis(1),
        updatedAt,
      },
    ]);
    expect(skipped.map((r) => r.applied)).toEqual([false, false]);
    expect((await store.get("a1"))?.text).toBe("lives in Berlin");
    expect(await store.history("a1")).toHaveLength(2);
  });

  test("delete logs the previous text and history stays readable", async () => {
    await store.apply([insert("a1", "owns a cat", alice, axis(0))]);
    const [removed, missing] = await store.apply([
      { type: "delete", id: "a1", actor: "api" },
      { type: "delete", id: "a1" },
    ]);
    expect(removed).toMatchObject({ applied: true, previous: "owns a cat" });
    expect(missing.applied).toBe(false);
    expect(await store.get("a1")).toBeUndefined();
    const history = await store.history("a1");
    expect(history.map((h) => [h.event, h.previous, h.next, h.actor])).toEqual([
      ["ADD", null, "owns a cat", null],
      ["DELETE", "owns a cat", null, "api"],
    ]);
    // The hash is free again.
    expect((await store.apply([insert("a2", "owns a cat", alice, axis(0))]))[0].applied).toBe(true);
  });

  test("apply is atomic: a bad change rolls back the whole batch", async () => {
    await expect(
      store.apply([insert("a1", "one", alice, axis(0)), insert("a2", "two", alice, [1, 2, 3])]),
    ).rejects.toThrow(/3 dimensions but this store holds 4/);
    expect(await store.get("a1")).toBeUndefined();
    expect(await store.history("a1")).toEqual([]);
    await expect(store.apply([insert("a3", "x", {}, axis(0))])).rejects.toThrow(/no owner/);
    await expect(store.apply([insert("a4", "x", alice, [1, NaN, 0, 0])])).rejects.toThrow(
      /non-finite/,
    );
  });

  test("messages: oldest to newest of the last N, exact scope", async () => {
    const run1 = { userId: "alice", runId: "r1" };
    await store.appendMessages(
      run1,
      Array.from({ length: 5 }, (_, i) => ({
        role: i % 2 ? "assistant" : "user",
        content: `m${i}`,
        createdAt: nextTime(),
      })),
    );
    await store.appendMessages(alice, [{ role: "user", content: "top", createdAt: nextTime() }]);
    await store.appendMessages(bob, [{ role: "user", content: "bob", createdAt: nextTime() }]);
    expect((await store.recentMessages(run1, 3)).map((m) => m.content)).toEqual(["m2", "m3", "m4"]);
    expect((await store.recentMessages(run1, 100)).map((m) => m.content)).toEqual([
      "m0",
      "m1",
      "m2",
      "m3",
      "m4",
    ]);
    expect((await store.recentMessages(alice, 10)).map((m) => m.content)).toEqual(["top"]);
    expect(await store.recentMessages({ userId: "alice", runId: "r2" }, 10)).toEqual([]);
    expect((await store.recentMessages(bob, 10))[0]).toMatchObject({
      role: "user",
      content: "bob",
    });
  });

  test("close makes every method throw a clear error", async () => {
    await store.close();
    await store.close(); // idempotent
    await expect(store.get("x")).rejects.toThrow(/closed/);
    await expect(store.vectorSearch(axis(0), alice, { topK: 1 })).rejects.toThrow(/closed/);
    await expect(store.apply([])).rejects.toThrow(/closed/);
    await expect(store.recentMessages(alice, 1)).rejects.toThrow(/closed/);
  });
});

describe("vector search", () => {
  test("exact top-10 equals a brute-force ground truth across scopes", async () => {
    const store = new SqliteStore({ path: tempPath() });
    const dims = 48;
    await store.ensureEmbedder("rand", dims);
    const rand = rng(42);
    const users = ["u0", "u1", "u2"];
    const agents = [undefined, "a0", "a1"];
    const runs = [undefined, "r0", "r1", "r2"];
    const all: { id: string; owner: MemoryScope; vector: number[]; metadata: { n: number } }[] = [];
    const changes: MemoryChange[] = [];
    for (let i = 0; i < 2000; i++) {
      const owner: MemoryScope = {};
      const user = users[Math.floor(rand() * users.length)];
      const agent = agents[Math.floor(rand() * agents.length)];
      const run = runs[Math.floor(rand() * runs.length)];
      if (rand() < 0.9) owner.userId = user;
      if (agent) owner.agentId = agent;
      if (run || Object.keys(owner).length === 0) owner.runId = run ?? "r0";
      const vector = randomVector(rand, dims);
      const metadata = { n: i % 7 };
      all.push({ id: `v${i}`, owner, vector, metadata });
      changes.push(insert(`v${i}`, `memory number ${i}`, owner, vector, metadata));
    }
    await store.apply(changes);

    const scopes: MemoryScope[] = [
      { userId: "u0" },
      { userId: "u1", runId: "r1" },
      { agentId: "a1" },
      { runId: "r2" },
      { userId: "u2", agentId: "a0", runId: "r0" },
    ];
    const filters: (MetadataFilter | undefined)[] = [undefined, { n: { in: [1, 3] } }];
    for (const scope of scopes) {
      for (const filter of filters) {
        for (let q = 0; q < 5; q++) {
          const query = randomVector(rand, dims);
          const expected = all
            .filter((m) => scopeContains(scope, m.owner))
            .filter((m) => !filter || (filter.n as { in: number[] }).in.includes(m.metadata.n))
            .map((m) => ({ id: m.id, score: cosine(query, m.vector) }))
            .sort((a, b) => b.score - a.score)
            .slice(0, 10);
          const got = await store.vectorSearch(query, scope, { topK: 10, filters: filter });
          expect(got.map((r) => r.memory.id)).toEqual(expected.map((e) => e.id));
          got.forEach((r, i) => expect(r.score).toBeCloseTo(expected[i].score, 5));
          for (const r of got) expect(scopeContains(scope, r.memory)).toBe(true);
        }
      }
    }

    // similarities agree with cosine, both from the cache and from the BLOBs.
    const query = randomVector(rand, dims);
    const ids = ["v1", "v2", "v1999", "missing"];
    const fromCache = await store.similarities(query, ids);
    const fresh = new SqliteStore({ path: store.path });
    const fromDisk = await fresh.similarities(query, ids);
    for (const sims of [fromCache, fromDisk]) {
      expect(sims.has("missing")).toBe(false);
      for (const id of ["v1", "v2", "v1999"]) {
        const m = all.find((x) => x.id === id)!;
        expect(sims.get(id)).toBeCloseTo(cosine(query, m.vector), 5);
      }
    }
    await fresh.close();
    await store.close();
  });

  test("filters apply before ranking", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    await store.ensureEmbedder("e", 4);
    const changes: MemoryChange[] = [];
    for (let i = 0; i < 50; i++) {
      changes.push(insert(`near${i}`, `near ${i}`, alice, axis(0, 4, 0.01 * i), { kind: "near" }));
    }
    for (let i = 0; i < 8; i++) {
      changes.push(insert(`far${i}`, `far ${i}`, alice, [-1, 0.1 * i, 0, 0], { kind: "far" }));
    }
    await store.apply(changes);
    const results = await store.vectorSearch(axis(0), alice, { topK: 5, filters: { kind: "far" } });
    expect(results).toHaveLength(5);
    expect(results.every((r) => r.memory.metadata.kind === "far")).toBe(true);
    // best of the far ones first (largest y component is least opposite)
    expect(results[0].memory.id).toBe("far7");
    expect(results[0].score).toBeLessThan(0);
    const keyword = await store.keywordSearch("far near", alice, {
      topK: 3,
      filters: { kind: "far" },
    });
    expect(keyword).toHaveLength(3);
    expect(keyword.every((r) => r.memory.metadata.kind === "far")).toBe(true);
    await store.close();
  });

  test("topK 0, no embedder yet, wrong query dimension", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    expect(await store.vectorSearch([1, 0], alice, { topK: 3 })).toEqual([]);
    await store.ensureEmbedder("e", 4);
    await store.apply([insert("a", "a", alice, axis(0))]);
    expect(await store.vectorSearch(axis(0), alice, { topK: 0 })).toEqual([]);
    await expect(store.vectorSearch([1, 0], alice, { topK: 3 })).rejects.toThrow(
      /2 dimensions but this store holds 4/,
    );
    await expect(store.vectorSearch(axis(0), alice, { topK: -1 })).rejects.toThrow(Mem0InputError);
    await expect(
      store.vectorSearch(axis(0), alice, { topK: 1, filters: { x: { like: 1 } } as never }),
    ).rejects.toThrow(/unknown operator/);
    await store.close();
  });
});

describe("metadata filters", () => {
  const rows = [
    { id: "f1", meta: { n: 1, tag: "red", note: "alpha beta" } },
    { id: "f2", meta: { n: 2, tag: "blue", note: "gamma" } },
    { id: "f3", meta: { n: 3, tag: "red", note: "beta gamma", flag: true } },
    { id: "f4", meta: { n: 4, tag: "green", flag: false } },
    { id: "f5", meta: { n: 5, tag: null, date: "2026-03-01" } },
    { id: "f6", meta: { n: 6, tag: "blue", date: "2026-05-01" } },
  ];
  const cases: [string, MetadataFilter, string[]][] = [
    ["equality", { tag: "red" }, ["f1", "f3"]],
    ["eq null", { tag: null }, ["f5"]],
    ["eq", { tag: { eq: "blue" } }, ["f2", "f6"]],
    ["ne", { tag: { ne: "red" } }, ["f2", "f4", "f5", "f6"]],
    ["in", { tag: { in: ["green", "blue"] } }, ["f2", "f4", "f6"]],
    ["nin", { n: { nin: [1, 2, 3] } }, ["f4", "f5", "f6"]],
    ["gt", { n: { gt: 4 } }, ["f5", "f6"]],
    ["gte", { n: { gte: 4 } }, ["f4", "f5", "f6"]],
    ["lt", { n: { lt: 2 } }, ["f1"]],
    ["lte", { n: { lte: 2 } }, ["f1", "f2"]],
    ["range", { n: { gt: 1, lte: 4 } }, ["f2", "f3", "f4"]],
    ["string range", { date: { gte: "2026-04-01" } }, ["f6"]],
    ["contains", { note: { contains: "gamma" } }, ["f2", "f3"]],
    ["boolean", { flag: true }, ["f3"]],
    ["sibling AND", { tag: "red", n: { gt: 1 } }, ["f3"]],
    ["AND", { AND: [{ tag: { ne: "red" } }, { n: { lt: 5 } }] }, ["f2", "f4"]],
    ["OR", { OR: [{ tag: "green" }, { n: { gte: 6 } }] }, ["f4", "f6"]],
    ["NOT", { NOT: { tag: { in: ["red", "blue"] } } }, ["f4", "f5"]],
    [
      "nested",
      { OR: [{ AND: [{ tag: "red" }, { NOT: { flag: true } }] }, { date: { lt: "2026-04-01" } }] },
      ["f1", "f5"],
    ],
  ];
  let store: SqliteStore;
  beforeAll(async () => {
    store = new SqliteStore({ path: ":memory:" });
    await store.ensureEmbedder("e", 4);
    await store.apply(
      rows.map((r, i) => insert(r.id, `shared word item${i}`, alice, axis(i % 4, 4, 0.1), r.meta)),
    );
    await store.apply([insert("bobs", "shared word", bob, axis(0), { tag: "red", n: 1 })]);
  });
  afterAll(async () => {
    await store.close();
  });

  test.each(cases)("%s", async (_name, filter, expected) => {
    const listed = (await store.list(alice, { filters: filter })).items.map((m) => m.id);
    expect(listed.sort()).toEqual(expected);
    const vector = (await store.vectorSearch(axis(0), alice, { topK: 100, filters: filter })).map(
      (r) => r.memory.id,
    );
    expect(vector.sort()).toEqual(expected);
    const keyword = (
      await store.keywordSearch("shared", alice, { topK: 100, filters: filter })
    ).map((r) => r.memory.id);
    expect(keyword.sort()).toEqual(expected);
  });
});

describe("keyword search", () => {
  let store: SqliteStore;
  beforeAll(async () => {
    store = new SqliteStore({ path: ":memory:" });
    await store.ensureEmbedder("e", 4);
    const changes: MemoryChange[] = [];
    for (let i = 0; i < 40; i++) {
      changes.push(insert(`c${i}`, `the user likes common things number ${i}`, alice, axis(i % 4)));
    }
    changes.push(insert("rare", "The user is allergic to Xylophagous beetles", alice, axis(1)));
    changes.push(insert("accent", "Visited the Café Müller in Zürich", alice, axis(2)));
    changes.push(insert("bobrare", "bob also mentions xylophagous", bob, axis(1)));
    await store.apply(changes);
  });
  afterAll(async () => {
    await store.close();
  });

  test("finds a rare token first, with positive scores, inside the scope", async () => {
    const results = await store.keywordSearch("what about xylophagous insects?", alice, {
      topK: 5,
    });
    expect(results[0].memory.id).toBe("rare");
    expect(results.every((r) => r.score > 0)).toBe(true);
    expect(results.map((r) => r.memory.id)).not.toContain("bobrare");
    const mixed = await store.keywordSearch("common xylophagous", alice, { topK: 50 });
    expect(mixed[0].memory.id).toBe("rare");
    for (let i = 1; i < mixed.length; i++)
      expect(mixed[i - 1].score).toBeGreaterThanOrEqual(mixed[i].score);
    expect(await store.keywordSearch("zurich cafe muller", alice, { topK: 1 })).toMatchObject([
      { memory: { id: "accent" } },
    ]);
  });

  test.each([
    ['"', 0],
    ['"xylophagous', 1],
    ["*", 0],
    ["xylo*", 0],
    ["NEAR(", 0],
    ["NEAR(xylophagous beetles, 2)", 1],
    ["-xylophagous", 1],
    ["text:xylophagous", 1],
    ["AND OR NOT", 0],
    ["^beetles", 1],
    ["", 0],
    ["   ", 0],
    ["(((", 0],
    ["{text}: '", 0],
  ])("hostile input %j does not throw", async (input, atLeast) => {
    const results = await store.keywordSearch(input, alice, { topK: 5 });
    expect(results.length).toBeGreaterThanOrEqual(atLeast);
    if (atLeast > 0) expect(results[0].memory.id).toBe("rare");
  });

  test("query terms: words stemmed, stop words dropped unless nothing else is left", () => {
    expect(textTerms('He said "hi" -NEAR(x*')).toEqual(["said", "hi", "near", "x"]);
    expect(textTerms("She painted paintings")).toEqual(["paint", "paint"]);
    expect(textTerms("the of")).toEqual(["the", "of"]);
    expect(textTerms("  *** ")).toEqual([]);
  });
});

describe("scope isolation", () => {
  test("every method respects scopes", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    await store.ensureEmbedder("e", 4);
    const aliceRun1 = { userId: "alice", runId: "r1" };
    const aliceRun2 = { userId: "alice", runId: "r2" };
    await store.apply([
      insert("a", "alice general pineapple", alice, axis(0)),
      insert("a1", "alice run one pineapple", aliceRun1, axis(0, 4, 0.1)),
      insert("a2", "alice run two pineapple", aliceRun2, axis(0, 4, 0.2)),
      insert("b", "bob pineapple", bob, axis(0)),
      insert("ag", "agent pineapple", { userId: "alice", agentId: "helper" }, axis(0, 4, 0.3)),
    ]);
    const ids = async (scope: MemoryScope) => ({
      vector: (await store.vectorSearch(axis(0), scope, { topK: 10 }))
        .map((r) => r.memory.id)
        .sort(),
      keyword: (await store.keywordSearch("pineapple", scope, { topK: 10 }))
        .map((r) => r.memory.id)
        .sort(),
      list: (await store.list(scope)).items.map((m) => m.id).sort(),
    });
    const expectScope = async (scope: MemoryScope, expected: string[]) => {
      expect(await ids(scope)).toEqual({ vector: expected, keyword: expected, list: expected });
    };
    await expectScope(alice, ["a", "a1", "a2", "ag"]);
    await expectScope(bob, ["b"]);
    await expectScope(aliceRun1, ["a1"]);
    await expectScope(aliceRun2, ["a2"]);
    await expectScope({ runId: "r1" }, ["a1"]);
    await expectScope({ agentId: "helper" }, ["ag"]);
    await expectScope({ userId: "carol" }, []);

    await store.appendMessages(aliceRun1, [{ role: "user", content: "x", createdAt: nextTime() }]);
    expect(await store.recentMessages(aliceRun2, 5)).toEqual([]);
    expect(await store.recentMessages(bob, 5)).toEqual([]);

    expect(await store.deleteScope(aliceRun1)).toBe(1);
    await expectScope(alice, ["a", "a2", "ag"]);
    expect(await store.deleteScope(alice)).toBe(3);
    await expectScope(bob, ["b"]);
    await expect(store.deleteScope({})).rejects.toThrow(/scope/i);
    await store.close();
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
    const cache = (store as unknown as { cache: { get(key: string): unknown; size: number } })
      .cache;
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
    await second.apply([{ type: "delete", id: "a" }]);
    expect((await first.vectorSearch(axis(1), alice, { topK: 5 })).map((r) => r.memory.id)).toEqual(
      ["b"],
    );
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
    const cache = (store as unknown as { cache: { size: number; totalBytes: number } }).cache;
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

  test("embedder mismatch names both embedders and the fixes", async () => {
    const file = tempPath();
    const store = new SqliteStore({ path: file });
    await store.ensureEmbedder("text-embedding-3-small", 1536);
    await store.ensureEmbedder("text-embedding-3-small", 1536);
    await store.close();
    const reopened = new SqliteStore({ path: file });
    const attempt = reopened.ensureEmbedder("all-MiniLM-L6-v2", 384);
    await expect(attempt).rejects.toThrow(EmbedderMismatchError);
    await expect(reopened.ensureEmbedder("all-MiniLM-L6-v2", 384)).rejects.toThrow(
      /"text-embedding-3-small" \(1536 dimensions\).*"all-MiniLM-L6-v2" \(384 dimensions\).*same embedder.*new path.*reset\(\)/s,
    );
    await expect(reopened.ensureEmbedder("text-embedding-3-small", 384)).rejects.toThrow(
      EmbedderMismatchError,
    );
    await expect(reopened.ensureEmbedder("text-embedding-3-large", 1536)).rejects.toThrow(
      EmbedderMismatchError,
    );
    await reopened.reset();
    await reopened.ensureEmbedder("all-MiniLM-L6-v2", 384);
    await reopened.close();
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

/**
 * The behaviour every memory store must have, written once and run against each store
 * (SQLite in sqlite_store.test.ts, Postgres in postgres_store.int.test.ts): memories, vectors,
 * keyword search, filters, history, messages, graph with validity, outbox, versions,
 * deleteScope, reset, reopening and the embedder record; profiles and episodes
 * (store_suite_profiles.ts, store_suite_episodes.ts) for stores that keep them.
 */
import {
  EmbedderMismatchError,
  Mem0Error,
  Mem0InputError,
  MissingScopeError,
  StaleWriteError,
} from "../../src/errors.js";
import { scopeContains, type MemoryScope } from "../../src/scope.js";
import type {
  GraphChange,
  GraphStore,
  HistoryStore,
  MemoryChange,
  MemoryStore,
  MessageStore,
  OutboxStore,
  StoredMemory,
} from "../../src/stores/base.js";
import type { MetadataFilter } from "../../src/stores/filters.js";
import { describeEpisodeBehaviour } from "./store_suite_episodes.js";
import { describeProfileBehaviour } from "./store_suite_profiles.js";

/** A store with every part the engine uses. */
export type TestStore = MemoryStore & HistoryStore & MessageStore & GraphStore & OutboxStore;

/** How the suite gets stores. */
export interface StoreHarness {
  /** A new, empty store. */
  open(): Promise<TestStore>;
  /** Closes `store` and opens another instance on the same data. */
  reopen(store: TestStore): Promise<TestStore>;
  /** The stores are also `ProfileStore`s and `EpisodeStore`s: run those parts of the suite too. */
  profilesAndEpisodes?: boolean;
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomVector(rand: () => number, dims: number): number[] {
  return Array.from({ length: dims }, () => rand() * 2 - 1);
}

export function cosine(a: number[], b: number[]): number {
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
export function nextTime(): string {
  clock += 1000;
  return new Date(clock).toISOString();
}

export function memory(
  id: string,
  text: string,
  owner: MemoryScope,
  metadata: Record<string, unknown> = {},
  createdAt = nextTime(),
): StoredMemory {
  return { id, text, hash: `h:${text}`, metadata, ...owner, createdAt, updatedAt: createdAt };
}

export function insert(
  id: string,
  text: string,
  owner: MemoryScope,
  embedding: number[],
  metadata: Record<string, unknown> = {},
): MemoryChange {
  return { type: "insert", memory: memory(id, text, owner, metadata), embedding };
}

/** A one-hot-ish vector in `dims` dimensions pointing mostly along axis `axis`. */
export function axis(axisIndex: number, dims = 4, noise = 0): number[] {
  const v = Array.from({ length: dims }, () => noise);
  v[axisIndex] = 1;
  return v;
}

const alice: MemoryScope = { userId: "alice" };
const bob: MemoryScope = { userId: "bob" };
const aliceRun: MemoryScope = { userId: "alice", runId: "r1" };

export const T0 = "2026-01-01T00:00:00.000Z";
const T1 = "2026-02-01T00:00:00.000Z";
const T2 = "2026-03-01T00:00:00.000Z";
const T3 = "2026-04-01T00:00:00.000Z";

export function entity(
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

export function edge(
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

export function memoryInsert(id: string, text: string, owner: MemoryScope, embedding: number[]) {
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

export const ids = (items: { id: string }[]) => items.map((item) => item.id).sort();

/** Runs the store behaviour suite against the stores `harness` opens. */
export function describeStoreBehaviour(name: string, harness: StoreHarness): void {
  describe(name, () => {
    describe("basics", () => {
      let store: TestStore;
      beforeEach(async () => {
        store = await harness.open();
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
        expect((await store.apply([insert("a1", "likes tea", alice, axis(0))]))[0].applied).toBe(
          false,
        );
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
        expect(row).toMatchObject({
          text: "lives in Berlin",
          metadata: { city: "Berlin" },
          updatedAt,
        });
        expect(row?.createdAt).not.toBe(updatedAt);

        const history = await store.history("a1");
        expect(
          history.map(({ event, previous, next, actor }) => ({ event, previous, next, actor })),
        ).toEqual([
          { event: "ADD", previous: null, next: "lives in Paris", actor: "user" },
          {
            event: "UPDATE",
            previous: "lives in Paris",
            next: "lives in Berlin",
            actor: "assistant",
          },
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
        expect((await store.apply([insert("a2", "owns a cat", alice, axis(0))]))[0].applied).toBe(
          true,
        );
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
        await store.appendMessages(alice, [
          { role: "user", content: "top", createdAt: nextTime() },
        ]);
        await store.appendMessages(bob, [{ role: "user", content: "bob", createdAt: nextTime() }]);
        expect((await store.recentMessages(run1, 3)).map((m) => m.content)).toEqual([
          "m2",
          "m3",
          "m4",
        ]);
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
        const store = await harness.open();
        const dims = 48;
        await store.ensureEmbedder("rand", dims);
        const rand = rng(42);
        const users = ["u0", "u1", "u2"];
        const agents = [undefined, "a0", "a1"];
        const runs = [undefined, "r0", "r1", "r2"];
        const all: { id: string; owner: MemoryScope; vector: number[]; metadata: { n: number } }[] =
          [];
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
        const fresh = await harness.reopen(store);
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
        const store = await harness.open();
        await store.ensureEmbedder("e", 4);
        const changes: MemoryChange[] = [];
        for (let i = 0; i < 50; i++) {
          changes.push(
            insert(`near${i}`, `near ${i}`, alice, axis(0, 4, 0.01 * i), { kind: "near" }),
          );
        }
        for (let i = 0; i < 8; i++) {
          changes.push(insert(`far${i}`, `far ${i}`, alice, [-1, 0.1 * i, 0, 0], { kind: "far" }));
        }
        await store.apply(changes);
        const results = await store.vectorSearch(axis(0), alice, {
          topK: 5,
          filters: { kind: "far" },
        });
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
        const store = await harness.open();
        expect(await store.vectorSearch([1, 0], alice, { topK: 3 })).toEqual([]);
        await store.ensureEmbedder("e", 4);
        await store.apply([insert("a", "a", alice, axis(0))]);
        expect(await store.vectorSearch(axis(0), alice, { topK: 0 })).toEqual([]);
        await expect(store.vectorSearch([1, 0], alice, { topK: 3 })).rejects.toThrow(
          /2 dimensions but this store holds 4/,
        );
        await expect(store.vectorSearch(axis(0), alice, { topK: -1 })).rejects.toThrow(
          Mem0InputError,
        );
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
          {
            OR: [
              { AND: [{ tag: "red" }, { NOT: { flag: true } }] },
              { date: { lt: "2026-04-01" } },
            ],
          },
          ["f1", "f5"],
        ],
      ];
      let store: TestStore;
      beforeAll(async () => {
        store = await harness.open();
        await store.ensureEmbedder("e", 4);
        await store.apply(
          rows.map((r, i) =>
            insert(r.id, `shared word item${i}`, alice, axis(i % 4, 4, 0.1), r.meta),
          ),
        );
        await store.apply([insert("bobs", "shared word", bob, axis(0), { tag: "red", n: 1 })]);
      });
      afterAll(async () => {
        await store.close();
      });

      test.each(cases)("%s", async (_name, filter, expected) => {
        const listed = (await store.list(alice, { filters: filter })).items.map((m) => m.id);
        expect(listed.sort()).toEqual(expected);
        const vector = (
          await store.vectorSearch(axis(0), alice, { topK: 100, filters: filter })
        ).map((r) => r.memory.id);
        expect(vector.sort()).toEqual(expected);
        const keyword = (
          await store.keywordSearch("shared", alice, { topK: 100, filters: filter })
        ).map((r) => r.memory.id);
        expect(keyword.sort()).toEqual(expected);
      });
    });

    describe("keyword search", () => {
      let store: TestStore;
      beforeAll(async () => {
        store = await harness.open();
        await store.ensureEmbedder("e", 4);
        const changes: MemoryChange[] = [];
        for (let i = 0; i < 40; i++) {
          changes.push(
            insert(`c${i}`, `the user likes common things number ${i}`, alice, axis(i % 4)),
          );
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

      // The engine fuses these scores with cosine similarity as they are (Memory.rank).
      test("scores are relative to the best the query can reach, from the scope's statistics alone", async () => {
        const [top] = await store.keywordSearch("xylophagous beetles", alice, { topK: 5 });
        expect(top.memory.id).toBe("rare");
        expect(top.score).toBeCloseTo(1, 6);
        // Two words of equal weight, each in one memory: each memory reaches half the best.
        const query = "beetles zurich common";
        const before = await store.keywordSearch(query, alice, { topK: 50 });
        expect(ids(before.map((hit) => hit.memory))).toEqual(["accent", "rare"]);
        for (const hit of before) expect(hit.score).toBeCloseTo(0.5, 6);
        // Another scope's memories change neither the hits nor their scores.
        await store.apply(
          Array.from({ length: 30 }, (_, i) =>
            insert(`beetle${i}`, `beetles everywhere ${i}`, bob, axis(0)),
          ),
        );
        expect(await store.keywordSearch(query, alice, { topK: 50 })).toEqual(before);
      });
    });

    describe("neighbours", () => {
      test("the memories stored just before and after, inside the scope only", async () => {
        const store = await harness.open();
        await store.ensureEmbedder("e", 4);
        expect(store.neighbors).toBeDefined();
        await store.apply([insert("n1", "first", alice, axis(0))]);
        await store.apply([insert("o1", "other", bob, axis(0))]);
        await store.apply([insert("n2", "second", aliceRun, axis(1))]);
        await store.apply([insert("n3", "third", alice, axis(2))]);
        const around = await store.neighbors!(["n1", "n2", "n3", "o1", "unknown"], alice);
        expect(Object.fromEntries(around)).toEqual({
          n1: ["n2"],
          n2: ["n1", "n3"],
          n3: ["n2"],
        });
        expect(Object.fromEntries(await store.neighbors!(["n2"], aliceRun))).toEqual({ n2: [] });
        expect((await store.neighbors!([], alice)).size).toBe(0);
        await store.apply([{ type: "delete", id: "n2" }]);
        expect(Object.fromEntries(await store.neighbors!(["n1", "n3"], alice))).toEqual({
          n1: ["n3"],
          n3: ["n1"],
        });
        await store.close();
      });
    });

    describe("scope isolation", () => {
      test("every method respects scopes", async () => {
        const store = await harness.open();
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

        await store.appendMessages(aliceRun1, [
          { role: "user", content: "x", createdAt: nextTime() },
        ]);
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

    describe("graph", () => {
      let store: TestStore;
      beforeEach(async () => {
        store = await harness.open();
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
        expect(again.aliases).toEqual([
          "gotham",
          "ignored",
          "new york city",
          "nyc",
          "the big apple",
        ]);
        expect(await store.listEntities(bob)).toEqual([]);
        expect(ids(await store.findEntitiesByName(alice, ["gotham", "unknown", ""]))).toEqual([
          "e1",
        ]);
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
        expect(await store.entitiesMentionedIn(alice, "a weekend in Yorkshire with Anne")).toEqual(
          [],
        );
        expect(ids(await store.entitiesMentionedIn(alice, "York. And annie"))).toEqual([
          "ann",
          "york",
        ]);
        expect(ids(await store.entitiesMentionedIn(alice, "new-york-city"))).toEqual([
          "nyc",
          "york",
        ]);
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
        const matches = await store.similarEntities(alice, [2, 0, 0, 0], {
          topK: 10,
          threshold: -1,
        });
        expect(matches.map((m) => m.entity.id)).toEqual(["a", "b", "c"]);
        expect(matches[0].score).toBeCloseTo(1, 6);
        expect(matches[1].score).toBeCloseTo(0.8, 6);
        expect(matches[2].score).toBeCloseTo(0, 6);
        expect(matches[0].entity).toMatchObject({ name: "alpha", aliases: ["alpha"] });
        const top = await store.similarEntities(alice, [1, 0, 0, 0], { topK: 1, threshold: 0 });
        expect(top.map((m) => m.entity.id)).toEqual(["a"]);
        const strict = await store.similarEntities(alice, [1, 0, 0, 0], {
          topK: 5,
          threshold: 0.5,
        });
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
        await expect(
          store.applyGraph([entity("a", "alpha", alice, [], [1, 0, 0])]),
        ).rejects.toThrow(/Embedding of entity a has 3 dimensions.*4-dimensional/);
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
        await expect(store.listEdges(alice, { asOf: "not a date" })).rejects.toThrow(
          Mem0InputError,
        );

        // Once invalidated, the same relation can be added again as a new current edge.
        await store.applyGraph([edge("e3", "alice", "lives_in", "paris", alice, T3)]);
        expect(await rel()).toEqual(["e2", "e3"]);

        await store.applyGraph([{ type: "delete_edge", id: "e2" }]);
        expect(await store.getEdge("e2")).toBeUndefined();
        expect(await rel({ includeInvalid: true })).toEqual(["e1", "e3"]);

        await expect(
          store.applyGraph([edge("e4", "alice", "knows", "nobody", alice)]),
        ).rejects.toThrow(/unknown entity nobody/);
        await expect(
          store.applyGraph([edge("e1", "alice", "likes", "paris", alice)]),
        ).rejects.toThrow(/already exists/);
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
        const hood = async (
          hops: number,
          extra: { asOf?: string; includeInvalid?: boolean } = {},
        ) => ids(await store.neighborhood(alice, ["a"], { hops, ...extra }));
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
        expect(ids(await store.findEntitiesByName(alice, ["Paris", "Tokyo"]))).toEqual([
          "a1",
          "a2",
        ]);
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
        await expect(store.neighborhood({}, ["a1"], { hops: 1 })).rejects.toThrow(
          MissingScopeError,
        );
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
    });

    describeDurability(harness);
    if (harness.profilesAndEpisodes) {
      describeProfileBehaviour(harness);
      describeEpisodeBehaviour(harness);
    }
  });
}

/** Outbox, versions, deleteScope, reset, reopening and the embedder record. */
function describeDurability(harness: StoreHarness): void {
  describe("outbox and versions", () => {
    let store: TestStore;
    beforeEach(async () => {
      store = await harness.open();
      await store.ensureEmbedder("e", 4);
    });
    afterEach(async () => {
      await store.close();
    });

    const entry = (id: string, owner: MemoryScope) => ({
      id,
      owner,
      payload: JSON.stringify({ id }),
      createdAt: nextTime(),
    });

    test("put, get, list by scope (oldest first), fail keeps attempts and error", async () => {
      await store.putOutbox(entry("o1", alice));
      await store.putOutbox(entry("o2", aliceRun));
      await store.putOutbox(entry("o3", bob));
      expect(await store.getOutbox("o1")).toEqual({
        id: "o1",
        owner: alice,
        payload: '{"id":"o1"}',
        createdAt: expect.any(String),
        attempts: 0,
        forget: [],
      });
      expect(await store.getOutbox("missing")).toBeUndefined();
      expect((await store.listOutbox()).map((e) => e.id)).toEqual(["o1", "o2", "o3"]);
      expect((await store.listOutbox(alice)).map((e) => e.id)).toEqual(["o1", "o2"]);
      expect((await store.listOutbox({ runId: "r1" })).map((e) => e.id)).toEqual(["o2"]);
      await store.failOutbox("o1", "boom ".repeat(1000));
      const failed = (await store.getOutbox("o1"))!;
      expect(failed.attempts).toBe(1);
      expect(failed.lastError?.length).toBeLessThanOrEqual(2000);
      await expect(store.putOutbox(entry("o4", {}))).rejects.toThrow(MissingScopeError);
      await expect(store.putOutbox(entry("", alice))).rejects.toThrow(/non-empty id/);
    });

    test("claims: a live lease of another worker is respected, its own is renewed, failing releases it", async () => {
      await store.putOutbox(entry("o1", alice));
      const later = new Date(Date.now() + 60_000).toISOString();
      // Workers on another host are presumed alive.
      expect(await store.claimOutbox("o1", "elsewhere:1:a", later)).toBe(true);
      expect(await store.claimOutbox("o1", "elsewhere:2:b", later)).toBe(false);
      expect(await store.claimOutbox("o1", "elsewhere:1:a", later)).toBe(true);
      await store.failOutbox("o1", "failed");
      expect(await store.claimOutbox("o1", "elsewhere:2:b", later)).toBe(true);
      // An expired lease is taken over.
      await store.putOutbox(entry("o2", alice));
      expect(
        await store.claimOutbox("o2", "elsewhere:1:a", new Date(Date.now() - 1).toISOString()),
      ).toBe(true);
      expect(await store.claimOutbox("o2", "elsewhere:2:b", later)).toBe(true);
      expect(await store.claimOutbox("gone", "elsewhere:1:a", later)).toBe(false);
    });

    test("apply settles the entry exactly once; a second apply is stale", async () => {
      await store.putOutbox(entry("o1", alice));
      const results = await store.apply([insert("m1", "queued fact", alice, axis(0))], {
        outboxId: "o1",
      });
      expect(results[0].applied).toBe(true);
      expect(await store.getOutbox("o1")).toBeUndefined();
      await expect(
        store.apply([insert("m2", "queued fact again", alice, axis(1))], { outboxId: "o1" }),
      ).rejects.toMatchObject({ reason: "entry_gone" });
      expect(await store.get("m2")).toBeUndefined();
      // A failed apply leaves the entry queued.
      await store.putOutbox(entry("o2", alice));
      await expect(
        store.apply([insert("m3", "bad", alice, [1, 2])], { outboxId: "o2" }),
      ).rejects.toThrow(/dimensions/);
      expect(await store.getOutbox("o2")).toBeDefined();
    });

    test("concurrent appliers of one entry: exactly one applies", async () => {
      await store.putOutbox(entry("o1", alice));
      const attempts = await Promise.allSettled(
        [0, 1, 2].map((i) =>
          store.apply([insert(`c${i}`, `concurrent ${i}`, alice, axis(i))], { outboxId: "o1" }),
        ),
      );
      expect(attempts.filter((a) => a.status === "fulfilled")).toHaveLength(1);
      for (const failed of attempts.filter((a) => a.status === "rejected")) {
        expect((failed as PromiseRejectedResult).reason).toBeInstanceOf(StaleWriteError);
      }
      expect((await store.list(alice)).items).toHaveLength(1);
    });

    test("a delete makes queued writes forget the text; deleteScope drops the scope's entries", async () => {
      await store.apply([insert("m1", "smokes", alice, axis(0))]);
      await store.putOutbox(entry("o1", alice));
      await store.putOutbox(entry("o2", aliceRun));
      await store.putOutbox(entry("o3", bob));
      await store.apply([{ type: "delete", id: "m1" }]);
      expect((await store.getOutbox("o1"))!.forget).toEqual(["h:smokes"]);
      // Only entries whose scope sees the memory: not alice's run, not bob.
      expect((await store.getOutbox("o2"))!.forget).toEqual([]);
      expect((await store.getOutbox("o3"))!.forget).toEqual([]);
      const [again] = await store.apply([insert("m2", "smokes", alice, axis(0))], {
        outboxId: "o1",
      });
      expect(again.applied).toBe(false);
      expect(await store.deleteScope(alice)).toBe(0);
      expect((await store.listOutbox()).map((e) => e.id)).toEqual(["o3"]);
    });

    test("versions move for every scope that sees a write; a stale expectedVersion applies nothing", async () => {
      const before = {
        alice: await store.version(alice),
        run: await store.version({ runId: "r1" }),
        aliceRun: await store.version(aliceRun),
        bob: await store.version(bob),
      };
      await store.apply([insert("m1", "run fact", aliceRun, axis(0))]);
      expect(await store.version(alice)).not.toBe(before.alice);
      expect(await store.version({ runId: "r1" })).not.toBe(before.run);
      expect(await store.version(aliceRun)).not.toBe(before.aliceRun);
      expect(await store.version(bob)).toBe(before.bob);

      const read = await store.version(alice);
      await store.apply([insert("m2", "other writer", alice, axis(1))]);
      await expect(
        store.apply([insert("m3", "late writer", alice, axis(2))], {
          expectedVersion: { owner: alice, version: read },
        }),
      ).rejects.toMatchObject({ reason: "owner_changed" });
      expect(await store.get("m3")).toBeUndefined();
      const fresh = await store.version(alice);
      await store.apply([insert("m3", "late writer", alice, axis(2))], {
        expectedVersion: { owner: alice, version: fresh },
      });
      expect(await store.get("m3")).toBeDefined();
      const deleted = await store.version(bob);
      await store.deleteScope(bob);
      expect(await store.version(bob)).not.toBe(deleted);
    });

    test("concurrent writers with the same expected version: one applies, the others are stale", async () => {
      const read = await store.version(alice);
      const attempts = await Promise.allSettled(
        [0, 1, 2].map((i) =>
          store.apply([insert(`w${i}`, `writer ${i}`, alice, axis(i))], {
            expectedVersion: { owner: alice, version: read },
          }),
        ),
      );
      expect(attempts.filter((a) => a.status === "fulfilled")).toHaveLength(1);
      expect((await store.list(alice)).items).toHaveLength(1);
    });
  });

  describe("deleteScope, reset, reopening, embedder record", () => {
    test("deleteScope removes memories, history, messages, keyword hits and graph of the scope only", async () => {
      const store = await harness.open();
      await store.ensureEmbedder("e", 4);
      await store.apply(
        [
          insert("a1", "alice quokkaword one", alice, axis(0)),
          insert("a2", "alice quokkaword two", aliceRun, axis(1)),
          insert("a3", "alice deleted earlier", alice, axis(2)),
          insert("b1", "bob wombatword", bob, axis(0)),
        ],
        {
          graph: [
            entity("ea", "Alice", alice, [], axis(0)),
            entity("eb", "Bob", bob, [], axis(1)),
            entity("ep", "Paris", alice),
            edge("x1", "ea", "lives_in", "ep", alice),
          ],
        },
      );
      await store.apply([{ type: "delete", id: "a3" }]);
      await store.appendMessages(alice, [
        { role: "user", content: "hello", createdAt: nextTime() },
      ]);
      await store.appendMessages(bob, [{ role: "user", content: "bob", createdAt: nextTime() }]);
      await store.vectorSearch(axis(0), alice, { topK: 5 });

      expect(await store.deleteScope(alice)).toBe(2);
      expect(await store.vectorSearch(axis(0), alice, { topK: 5 })).toEqual([]);
      expect(await store.vectorSearch(axis(1), aliceRun, { topK: 5 })).toEqual([]);
      expect(await store.keywordSearch("quokkaword", alice, { topK: 5 })).toEqual([]);
      expect(await store.history("a1")).toEqual([]);
      expect(await store.history("a3")).toEqual([]);
      expect(await store.recentMessages(alice, 5)).toEqual([]);
      expect(await store.listEntities(alice)).toEqual([]);
      expect(await store.listEdges(alice, { includeInvalid: true })).toEqual([]);
      const sims = await store.similarities(axis(0), ["a1", "a2", "b1"]);
      expect([...sims.keys()]).toEqual(["b1"]);
      expect(sims.get("b1")).toBeCloseTo(1, 6);
      // bob is intact
      expect((await store.keywordSearch("wombatword", bob, { topK: 5 }))[0].memory.id).toBe("b1");
      expect(await store.history("b1")).toHaveLength(1);
      expect(await store.recentMessages(bob, 5)).toHaveLength(1);
      expect(ids(await store.listEntities(bob))).toEqual(["eb"]);
      await store.close();
    });

    test("data and graph survive reopening; reset drops everything and the embedder record", async () => {
      let store = await harness.open();
      await store.ensureEmbedder("e", 4);
      await store.apply([insert("a", "persistent fact", alice, axis(0), { k: 1 })], {
        graph: [entity("ea", "Alice", alice, ["Ally"], axis(0))],
        messages: {
          owner: alice,
          messages: [{ role: "user", content: "hi", createdAt: nextTime() }],
        },
      });
      await store.putOutbox({ id: "o1", owner: alice, payload: "{}", createdAt: nextTime() });
      store = await harness.reopen(store);
      await store.ensureEmbedder("e", 4);
      expect(await store.get("a")).toMatchObject({ text: "persistent fact", metadata: { k: 1 } });
      expect((await store.vectorSearch(axis(0), alice, { topK: 1 }))[0].score).toBeCloseTo(1, 6);
      expect((await store.keywordSearch("persistent", alice, { topK: 1 }))[0].memory.id).toBe("a");
      expect(await store.history("a")).toHaveLength(1);
      expect(await store.recentMessages(alice, 5)).toHaveLength(1);
      expect((await store.findEntitiesByName(alice, ["ally"])).map((e) => e.id)).toEqual(["ea"]);
      expect(await store.getOutbox("o1")).toBeDefined();

      await store.reset();
      expect(await store.get("a")).toBeUndefined();
      expect(await store.history("a")).toEqual([]);
      expect(await store.recentMessages(alice, 5)).toEqual([]);
      expect(await store.keywordSearch("persistent", alice, { topK: 5 })).toEqual([]);
      expect(await store.vectorSearch(axis(0), alice, { topK: 5 })).toEqual([]);
      expect(await store.listEntities(alice)).toEqual([]);
      expect(await store.listOutbox()).toEqual([]);
      await store.ensureEmbedder("other", 3); // embedder record cleared
      await store.apply([insert("c", "after reset", alice, [1, 0, 0])]);
      expect(
        (await store.vectorSearch([1, 0, 0], alice, { topK: 5 })).map((r) => r.memory.id),
      ).toEqual(["c"]);
      await store.close();
    });

    test("embedder mismatch names both embedders and the fixes", async () => {
      const store = await harness.open();
      await store.ensureEmbedder("text-embedding-3-small", 1536);
      await store.ensureEmbedder("text-embedding-3-small", 1536);
      const reopened = await harness.reopen(store);
      await expect(reopened.ensureEmbedder("all-MiniLM-L6-v2", 384)).rejects.toThrow(
        EmbedderMismatchError,
      );
      await expect(reopened.ensureEmbedder("all-MiniLM-L6-v2", 384)).rejects.toThrow(
        /"text-embedding-3-small" \(1536 dimensions\).*"all-MiniLM-L6-v2" \(384 dimensions\).*same embedder.*reset\(\)/s,
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
  });
}

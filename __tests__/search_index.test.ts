import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { MemoryScope } from "../src/scope.js";
import type { MemoryChange, StoredMemory } from "../src/stores/base.js";
import { KeywordIndex } from "../src/stores/keyword_index.js";
import { SqliteStore } from "../src/stores/sqlite.js";
import { nativeKernel } from "../src/stores/vector_index.js";
import { cosine, randomVector as vectorOf, rng } from "./utils/store_suite.js";

const DIMS = 16;
const alice = { userId: "alice" };
const bob = { userId: "bob" };

const random = rng(42);
const randomVector = () => vectorOf(random, DIMS);

function memory(id: string, text: string, owner: MemoryScope): StoredMemory {
  const at = new Date(Date.UTC(2026, 0, 1)).toISOString();
  return {
    id,
    text,
    hash: `h:${id}:${text}`,
    metadata: {},
    ...owner,
    createdAt: at,
    updatedAt: at,
  };
}

function insert(id: string, owner: MemoryScope, vector = randomVector(), text = `note ${id}`) {
  return { type: "insert", memory: memory(id, text, owner), embedding: vector } as MemoryChange;
}

/** `count` memories of alice with random vectors: the changes, and the rows the test keeps. */
function aliceMemories(count: number) {
  const rows = new Map<string, number[]>();
  const changes: MemoryChange[] = [];
  for (let i = 0; i < count; i++) {
    const vector = randomVector();
    rows.set(`a${i}`, vector);
    changes.push(insert(`a${i}`, alice, vector));
  }
  return { rows, changes };
}

/** The exact top-K ids of the rows the test keeps, by cosine. */
function exactTopK(rows: Map<string, number[]>, query: number[], k: number): string[] {
  return [...rows]
    .map(([id, vector]) => ({ id, score: cosine(query, vector) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map(({ id }) => id);
}

function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-index-"));
  return path.join(dir, "memory.db");
}

function savedFiles(file: string): string[] {
  try {
    return fs.readdirSync(`${file}-index`).sort();
  } catch {
    return [];
  }
}

const native = nativeKernel();
const describeNative = native ? describe : describe.skip;

describeNative("quantised index (usearch kernel) stays consistent with the rows", () => {
  const THRESHOLD = 64;
  const open = (file: string) => new SqliteStore({ path: file, approximateFrom: THRESHOLD });

  /**
   * The int8 scan only proposes candidates, which are re-scored exactly: the top 5 is the
   * exact one, and every hit is a current row with its current vector.
   */
  function expectSameAsExact(found: string[], exact: string[]) {
    expect(found).toEqual(exact);
  }

  async function expectExact(store: SqliteStore, rows: Map<string, number[]>, scope = alice) {
    for (let q = 0; q < 10; q++) {
      const query = randomVector();
      const found = await store.vectorSearch(query, scope, { topK: 5 });
      expectSameAsExact(
        found.map((hit) => hit.memory.id),
        exactTopK(rows, query, 5),
      );
      for (const hit of found) {
        expect(hit.score).toBeCloseTo(cosine(query, rows.get(hit.memory.id)!), 5);
      }
    }
  }

  test("add, update, delete, restart and another connection's writes", async () => {
    const file = tempFile();
    const { rows, changes } = aliceMemories(200);
    let store = open(file);
    await store.ensureEmbedder("e", DIMS);
    // Another user's rows never reach alice's index.
    for (let i = 0; i < 50; i++) changes.push(insert(`b${i}`, bob));
    await store.apply(changes);
    await expectExact(store, rows);
    const built = savedFiles(file);
    expect(built.filter((name) => name.endsWith(".vectors"))).toHaveLength(1);

    // add
    const added = randomVector();
    rows.set("new", added);
    await store.apply([insert("new", alice, added)]);
    expect((await store.vectorSearch(added, alice, { topK: 1 }))[0].memory.id).toBe("new");
    // update (new vector)
    const moved = randomVector();
    rows.set("a7", moved);
    await store.apply([
      {
        type: "update",
        id: "a7",
        text: "moved",
        hash: "h:moved",
        metadata: {},
        embedding: moved,
        updatedAt: new Date().toISOString(),
      },
    ]);
    expect((await store.vectorSearch(moved, alice, { topK: 1 }))[0]).toMatchObject({
      memory: { id: "a7", text: "moved" },
    });
    // delete
    rows.delete("a3");
    await store.apply([{ type: "delete", id: "a3" }]);
    await expectExact(store, rows);
    const deletedVector = changes[3].type === "insert" ? changes[3].embedding : [];
    expect(
      (await store.vectorSearch(deletedVector, alice, { topK: 3 })).map((h) => h.memory.id),
    ).not.toContain("a3");

    // restart: the saved index is loaded, not rebuilt (no new file is written)
    await store.close();
    const afterClose = savedFiles(file);
    store = open(file);
    await expectExact(store, rows);
    expect(savedFiles(file)).toEqual(afterClose);
    expect((await store.keywordSearch("moved", alice, { topK: 1 }))[0].memory.id).toBe("a7");

    // another connection writes: the first one's index follows
    const other = open(file);
    const foreign = randomVector();
    rows.set("from-other", foreign);
    await other.apply([insert("from-other", alice, foreign), { type: "delete", id: "a5" }]);
    rows.delete("a5");
    await other.close();
    await expectExact(store, rows);
    await store.close();

    // a saved index older than the rows is never used: rows written by a store that does not
    // load it (approximate search off) make it stale, and the next start rebuilds it
    const exactOnly = new SqliteStore({ path: file, approximateFrom: Infinity });
    rows.delete("a9");
    await exactOnly.apply([{ type: "delete", id: "a9" }]);
    await exactOnly.close();
    store = open(file);
    await expectExact(store, rows);
    await store.close();
  });

  test("a restarted scope answers keyword, neighbour and filtered searches, then takes writes", async () => {
    const file = tempFile();
    const rows = new Map<string, number[]>();
    const parity = (id: string) => Number(id.slice(1)) % 2;
    let store = open(file);
    await store.ensureEmbedder("e", DIMS);
    const changes: MemoryChange[] = [];
    for (let i = 0; i < 100; i++) {
      const change = insert(`a${i}`, alice);
      if (change.type === "insert") {
        change.memory.metadata = { parity: i % 2 };
        rows.set(`a${i}`, change.embedding);
      }
      changes.push(change);
    }
    await store.apply(changes);
    await store.vectorSearch(randomVector(), alice, { topK: 1 });
    await store.close();

    const expectRestoredAnswers = async (deleted?: string) => {
      expect((await store.keywordSearch("a42", alice, { topK: 3 }))[0].memory.id).toBe("a42");
      const around = (await store.neighbors(["a42"], alice)).get("a42");
      expect(around).toEqual(deleted === "a43" ? ["a41", "a44"] : ["a41", "a43"]);
      const query = randomVector();
      const odd = new Map([...rows].filter(([id]) => parity(id) === 1));
      const found = await store.vectorSearch(query, alice, { topK: 5, filters: { parity: 1 } });
      expect(found.map((hit) => hit.memory.id)).toEqual(exactTopK(odd, query, 5));
      const keyword = await store.keywordSearch("note", alice, {
        topK: 10,
        filters: { parity: 0 },
      });
      expect(keyword.length).toBe(10);
      for (const hit of keyword) expect(parity(hit.memory.id)).toBe(0);
    };
    const saved = savedFiles(file);
    store = open(file);
    await expectRestoredAnswers();
    expect(savedFiles(file)).toEqual(saved); // answered from the saved state, not rebuilt
    // Writes after a restore: the saved rows become maps, searches follow the writes.
    const added = randomVector();
    rows.set("a100", added);
    rows.delete("a43");
    await store.apply([insert("a100", alice, added), { type: "delete", id: "a43" }]);
    expect((await store.vectorSearch(added, alice, { topK: 1 }))[0].memory.id).toBe("a100");
    expect(await store.keywordSearch("a43", alice, { topK: 3 })).toEqual([]);
    await expectRestoredAnswers("a43");
    // Saved again at close, with the writes.
    await store.close();
    store = open(file);
    await expectRestoredAnswers("a43");
    await expectExact(store, rows);
    await store.close();
  });

  test("an exact scope from a quarter of the threshold saves its keyword state, not its vectors", async () => {
    const file = tempFile();
    const { rows, changes } = aliceMemories(150);
    // Threshold 400: a scope of 150 is searched exactly, and from 100 its state is saved.
    const openExact = () => new SqliteStore({ path: file, approximateFrom: 400 });
    let store = openExact();
    await store.ensureEmbedder("e", DIMS);
    for (let i = 0; i < 20; i++) changes.push(insert(`b${i}`, bob));
    await store.apply(changes);
    await expectExact(store, rows);
    await store.vectorSearch(randomVector(), bob, { topK: 1 }); // too small to save
    const saved = savedFiles(file);
    expect(saved.filter((name) => name.endsWith(".state"))).toHaveLength(1);
    expect(saved.filter((name) => name.endsWith(".vectors"))).toEqual([]);
    await store.close();

    store = openExact();
    await expectExact(store, rows);
    expect((await store.keywordSearch("a42", alice, { topK: 1 }))[0].memory.id).toBe("a42");
    expect((await store.neighbors(["a42"], alice)).get("a42")).toEqual(["a41", "a43"]);
    expect(savedFiles(file)).toEqual(saved); // restored, not rebuilt
    const added = randomVector();
    rows.set("a150", added);
    rows.delete("a43");
    await store.apply([insert("a150", alice, added), { type: "delete", id: "a43" }]);
    await expectExact(store, rows);
    await store.close(); // saved again with the writes
    expect(savedFiles(file)).not.toEqual(saved);
    store = openExact();
    await expectExact(store, rows);
    expect((await store.neighbors(["a42"], alice)).get("a42")).toEqual(["a41", "a44"]);
    expect(await store.keywordSearch("a43", alice, { topK: 1 })).toEqual([]);
    await store.deleteScope(alice);
    expect(savedFiles(file)).toEqual([]);
    await store.close();
  });

  test("deleteAll removes the scope's saved index and its vectors", async () => {
    const file = tempFile();
    const store = open(file);
    await store.ensureEmbedder("e", DIMS);
    const changes: MemoryChange[] = [];
    for (let i = 0; i < 100; i++) changes.push(insert(`a${i}`, alice));
    const bobRows = new Map<string, number[]>();
    for (let i = 0; i < 100; i++) {
      const vector = randomVector();
      bobRows.set(`b${i}`, vector);
      changes.push(insert(`b${i}`, bob, vector));
    }
    await store.apply(changes);
    await store.vectorSearch(randomVector(), alice, { topK: 3 });
    await store.vectorSearch(randomVector(), bob, { topK: 3 });
    expect(savedFiles(file).filter((name) => name.endsWith(".vectors"))).toHaveLength(2);
    await store.deleteScope(alice);
    expect(savedFiles(file).filter((name) => name.endsWith(".vectors"))).toHaveLength(1);
    expect(await store.vectorSearch(randomVector(), alice, { topK: 3 })).toEqual([]);
    await expectExact(store, bobRows, bob);
    // below the threshold again: exact search, no index
    await store.reset();
    expect(savedFiles(file)).toEqual([]);
    await store.close();
  });

  test("without the native kernel search is exact and returns the same memories", async () => {
    const file = tempFile();
    const { rows, changes } = aliceMemories(150);
    const withIndex = open(file);
    await withIndex.ensureEmbedder("e", DIMS);
    await withIndex.apply(changes);
    const plain = new SqliteStore({ path: file, nativeVectorSearch: false });
    for (let q = 0; q < 5; q++) {
      const query = randomVector();
      const a = await withIndex.vectorSearch(query, alice, { topK: 5 });
      const b = await plain.vectorSearch(query, alice, { topK: 5 });
      expect(b.map((hit) => hit.memory.id)).toEqual(exactTopK(rows, query, 5));
      expectSameAsExact(
        a.map((hit) => hit.memory.id),
        b.map((hit) => hit.memory.id),
      );
    }
    await plain.close();
    await withIndex.close();
  });
});

describeNative("int8 candidate index", () => {
  const unit = (vector: number[]) => {
    const norm = Math.hypot(...vector);
    return Float32Array.from(vector, (x) => x / norm);
  };
  const top = (rows: Map<number, Float32Array>, query: Float32Array, k: number) =>
    [...rows]
      .map(([key, vector]) => ({ key, score: cosine([...query], [...vector]) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, k)
      .map(({ key }) => key);

  test("a component larger than any before rescales the codes; saved and loaded it ranks the same", () => {
    const index = native!.createIndex!(DIMS);
    const rows = new Map<number, Float32Array>();
    // Dense vectors first (small components), then a one-hot one (component 1).
    for (let key = 1; key <= 300; key++) rows.set(key, unit(randomVector()));
    index.addAll([...rows.keys()], Float32Array.from([...rows.values()].flatMap((v) => [...v])));
    const oneHot = unit(Array.from({ length: DIMS }, (_, i) => (i === 3 ? 1 : 0)));
    rows.set(1000, oneHot);
    index.upsert(1000, oneHot);
    expect(index.search(oneHot, 1)).toEqual([1000]);
    // Spiky vectors whose large component only an enlarged scale tells apart.
    for (let key = 2000; key < 2030; key++) {
      const spiky = randomVector().map((x) => x / 10);
      spiky[3] = 0.5 + (key - 2000) / 60;
      rows.set(key, unit(spiky));
      index.upsert(key, rows.get(key)!);
    }
    expect(index.search(oneHot, 10)).toEqual(expect.arrayContaining(top(rows, oneHot, 6)));
    // Vectors after the rescale, coded at the new scale next to the rescaled old ones.
    for (let key = 301; key <= 400; key++) {
      rows.set(key, unit(randomVector()));
      index.upsert(key, rows.get(key)!);
    }
    // Candidates (2 per wanted hit) hold the exact top 5, before and after a save.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mem0-int8-")), "i.vectors");
    index.save(file);
    const loaded = native!.loadIndex!(file, DIMS);
    expect(loaded.size).toBe(431);
    for (let q = 0; q < 20; q++) {
      const query = unit(randomVector());
      const exact = top(rows, query, 5);
      for (const searched of [index, loaded]) {
        expect(searched.search(query, 10)).toEqual(expect.arrayContaining(exact));
      }
    }
    // Removing moves the last slot into the hole; the moved key stays findable.
    loaded.remove(1);
    rows.delete(1);
    expect(loaded.size).toBe(430);
    expect(loaded.search(oneHot, 1)).toEqual([1000]);
    expect(loaded.search(rows.get(400)!, 1)).toEqual([400]);
  });
});

describe("keyword search skips what cannot rank", () => {
  test("a restored index takes new documents without changing other terms' postings", () => {
    const texts = ["apple banana", "banana cherry", "cherry date", "apple date"];
    const fresh = new KeywordIndex();
    texts.forEach((text, i) => fresh.add(`d${i}`, text));
    const restored = KeywordIndex.fromBytes(fresh.toBytes());
    // "appl" comes first in byte order: its saved postings start the shared arrays.
    for (const index of [fresh, restored]) {
      index.add("d4", "apple");
      index.add("d5", "banana apple");
    }
    for (const word of ["apple", "banana", "cherry", "date"]) {
      expect(restored.search(word, 10)).toEqual(fresh.search(word, 10));
    }
  });

  test("pruned scoring returns the top-K of scoring every posting, also after removals and a restore", () => {
    const next = rng(7);
    // Words with Zipf-like frequencies: a few in most memories, most in a handful.
    const words = Array.from({ length: 400 }, (_, i) => `w${i}x`);
    const word = () => words[Math.floor(words.length * next() ** 3)];
    const text = () => Array.from({ length: 4 + Math.floor(next() * 8) }, word).join(" ");
    const index = new KeywordIndex();
    const texts = new Map<string, string>();
    for (let i = 0; i < 3000; i++) {
      texts.set(`m${i}`, text());
      index.add(`m${i}`, texts.get(`m${i}`)!);
    }
    for (let i = 0; i < 3000; i += 7) index.remove(`m${i}`, texts.get(`m${i}`)!);
    const restored = KeywordIndex.fromBytes(index.toBytes());
    const everything = () => true; // a filter that rejects nothing turns pruning off
    let pruned = 0;
    for (let q = 0; q < 200; q++) {
      const query = Array.from({ length: 2 + (q % 5) }, word).join(" ");
      for (const searched of [index, restored]) {
        const fast = searched.search(query, 10);
        const full = searched.search(query, 10, everything);
        expect(fast.map((hit) => hit.id)).toEqual(full.map((hit) => hit.id));
        fast.forEach((hit, i) => expect(hit.score).toBeCloseTo(full[i].score, 12));
        if (fast.length === 10) pruned++;
      }
    }
    expect(pruned).toBeGreaterThan(100);
  });
});

describe("keyword statistics come from the searched scope only", () => {
  const texts = [
    "Alice adopted a greyhound named Pixel",
    "Alice runs marathons in the spring",
    "Pixel the greyhound sleeps on the sofa",
    "Alice paints landscapes on weekends",
    "The marathon route passes the harbour",
  ];

  test("another user's memories do not change a scope's ranking or scores", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    await store.ensureEmbedder("e", DIMS);
    await store.apply(texts.map((text, i) => insert(`a${i}`, alice, randomVector(), text)));
    const query = "greyhound marathon painting";
    const before = await store.keywordSearch(query, alice, { topK: 5 });
    expect(before.length).toBeGreaterThan(0);
    // Bob floods the store with the query's words (and rare ones alice also uses).
    const flood: MemoryChange[] = [];
    for (let i = 0; i < 300; i++) {
      flood.push(insert(`b${i}`, bob, randomVector(), `greyhound marathon pixel ${i} paints`));
    }
    await store.apply(flood);
    const after = await store.keywordSearch(query, alice, { topK: 5 });
    expect(after.map((r) => [r.memory.id, r.score])).toEqual(
      before.map((r) => [r.memory.id, r.score]),
    );
    // The same holds on a fresh store that loads both scopes from the file's rows.
    await store.close();
  });

  test("scores are relative to the query's best possible match and degrade with weak terms", () => {
    const index = new KeywordIndex();
    texts.forEach((text, i) => index.add(`a${i}`, text));
    for (let i = 0; i < 20; i++) index.add(`f${i}`, `Alice note ${i}`);
    // Both greyhound memories match every query term once: the best possible score.
    const best = index.search("greyhound Pixel", 2);
    expect(best.map((hit) => hit.id).sort()).toEqual(["a0", "a2"]);
    for (const hit of best) expect(hit.score).toBeCloseTo(1, 6);
    // "alice" is in most memories: a hit on it alone is weak, not a top score.
    const weak = index.search("alice", 3);
    expect(weak.every((hit) => hit.score <= 1)).toBe(true);
    const mixed = index.search("alice greyhound", 30);
    expect(
      mixed
        .slice(0, 2)
        .map((hit) => hit.id)
        .sort(),
    ).toEqual(["a0", "a2"]);
    expect(mixed.find((hit) => hit.id === "f3")?.score ?? 0).toBeLessThan(0.2);
    // Removing a memory removes its statistics.
    index.remove("a2", texts[2]);
    expect(index.search("sofa", 5)).toEqual([]);
    // A memory without words is indexed and removed like any other.
    index.add("empty", "?!");
    index.remove("empty", "?!");
    // A round trip through bytes keeps every score.
    const copy = KeywordIndex.fromBytes(index.toBytes());
    expect(copy.search("alice greyhound marathon", 10)).toEqual(
      index.search("alice greyhound marathon", 10),
    );
    // ... and it takes writes like the original.
    for (const target of [index, copy]) {
      target.add("late", "A greyhound joins the marathon");
      target.remove("a0", texts[0]);
    }
    expect(copy.search("greyhound marathon pixel", 10)).toEqual(
      index.search("greyhound marathon pixel", 10),
    );
  });
});

describe("without the native vector library", () => {
  test("search stays exact in JavaScript and saves no index", async () => {
    const repoRoot = fileURLToPath(new URL("..", import.meta.url));
    const hook = fileURLToPath(new URL("./fixtures/hide_usearch.mjs", import.meta.url));
    const storeEntry = pathToFileURL(`${repoRoot}src/stores/sqlite.ts`).href;
    const kernelEntry = pathToFileURL(`${repoRoot}src/stores/vector_index.ts`).href;
    const file = tempFile();
    const script = `
      const { SqliteStore } = await import(${JSON.stringify(storeEntry)});
      const { nativeKernel } = await import(${JSON.stringify(kernelEntry)});
      const store = new SqliteStore({ path: ${JSON.stringify(file)}, approximateFrom: 10 });
      await store.ensureEmbedder("e", 3);
      const at = new Date().toISOString();
      const changes = Array.from({ length: 40 }, (_, i) => ({
        type: "insert",
        memory: { id: "m" + i, text: "note " + i, hash: "h" + i, metadata: {}, userId: "alice", createdAt: at, updatedAt: at },
        embedding: [Math.cos(i / 7), Math.sin(i / 7), 0.1],
      }));
      await store.apply(changes);
      const hits = await store.vectorSearch([Math.cos(3 / 7), Math.sin(3 / 7), 0.1], { userId: "alice" }, { topK: 3 });
      await store.close();
      console.log(JSON.stringify({ native: nativeKernel() !== undefined, ids: hits.map((h) => h.memory.id) }));
    `;
    const { NODE_OPTIONS: _jestNodeOptions, ...env } = process.env;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--import", hook, "--input-type=module", "-e", script],
      { cwd: repoRoot, env },
    );
    const result = JSON.parse(stdout) as { native: boolean; ids: string[] };
    expect(result.native).toBe(false);
    expect(result.ids[0]).toBe("m3");
    expect(result.ids.slice(1).sort()).toEqual(["m2", "m4"]);
    expect(savedFiles(file)).toEqual([]);
  });
});

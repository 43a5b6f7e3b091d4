/**
 * The episode behaviour of the shared store suite (`EpisodeStore`): logged turns with vectors
 * found by cosine and by keyword (BM25 weights of the scope's own turns), scopes as for
 * memories, windows inside the same owner's log. Run by `describeStoreBehaviour` for stores
 * that keep episodes.
 */
import { MissingScopeError } from "../../src/errors.js";
import type { MemoryScope } from "../../src/scope.js";
import type { EpisodeStore, MessageMatch, StoredMessage } from "../../src/stores/base.js";
import { axis, nextTime, type StoreHarness, type TestStore } from "./store_suite.js";

type EpisodeTestStore = TestStore & EpisodeStore;

const alice: MemoryScope = { userId: "alice" };
const aliceRun: MemoryScope = { userId: "alice", runId: "r1" };
const bob: MemoryScope = { userId: "bob" };

const turn = (content: string, embedding?: number[], role = "user"): StoredMessage => ({
  role,
  content,
  createdAt: nextTime(),
  ...(embedding ? { embedding } : {}),
});

const byContent = (matches: MessageMatch[]) =>
  new Map(matches.map((match) => [match.message.content, match]));

export function describeEpisodeBehaviour(harness: StoreHarness): void {
  describe("episodes", () => {
    let store: EpisodeTestStore;
    beforeEach(async () => {
      store = (await harness.open()) as EpisodeTestStore;
      await store.ensureEmbedder("e", 4);
    });
    afterEach(async () => {
      await store.close();
    });

    test("turns are found by vector and by keyword inside the scope, never another owner's", async () => {
      await store.appendMessages(alice, [
        turn("We planned a trip to Kyoto", axis(0)),
        turn("The weather is nice today", axis(1), "assistant"),
        turn("Kyoto temples, no vector stored"),
      ]);
      // Turns logged by an atomic write carry their vectors too.
      await store.apply([], {
        messages: { owner: aliceRun, messages: [turn("I bought a laptop", axis(2))] },
      });
      await store.appendMessages(bob, [turn("Bob went to Kyoto", axis(0))]);

      const found = byContent(await store.searchMessages(axis(0), "Kyoto", alice, { topK: 2 }));
      expect([...found.keys()].sort()).toEqual([
        "Kyoto temples, no vector stored",
        "We planned a trip to Kyoto",
      ]);
      const trip = found.get("We planned a trip to Kyoto")!;
      expect(trip.cosine).toBeCloseTo(1, 5);
      expect(trip.keyword).toBeGreaterThan(0);
      expect(trip.message).toEqual({
        id: expect.any(String),
        role: "user",
        content: "We planned a trip to Kyoto",
        createdAt: expect.any(String),
        userId: "alice",
      });
      expect(found.get("Kyoto temples, no vector stored")!.cosine).toBe(0);

      // By vector alone (no query word occurs), from the user scope into its run's log.
      const laptop = await store.searchMessages(axis(2, 4, 0.01), "unrelated", alice, { topK: 1 });
      expect(laptop.map(({ message }) => [message.content, message.runId])).toEqual([
        ["I bought a laptop", "r1"],
      ]);
      expect(laptop[0].keyword).toBe(0);
      // A run scope sees its own turns only; bob sees only his.
      const run = await store.searchMessages(axis(0), "Kyoto laptop", aliceRun, { topK: 5 });
      expect(run.map(({ message }) => message.content)).toEqual(["I bought a laptop"]);
      const bobs = await store.searchMessages(axis(0), "Kyoto trip", bob, { topK: 5 });
      expect(bobs.map(({ message }) => message.content)).toEqual(["Bob went to Kyoto"]);
      expect(
        await store.searchMessages(axis(0), "Kyoto", { userId: "carol" }, { topK: 5 }),
      ).toEqual([]);
      expect(await store.searchMessages(axis(0), "Kyoto", alice, { topK: 0 })).toEqual([]);
      await expect(store.searchMessages(axis(0), "Kyoto", {}, { topK: 5 })).rejects.toThrow(
        MissingScopeError,
      );

      // A query vector of another dimension scores no cosine; keywords still find turns.
      const other = await store.searchMessages([1, 0, 0], "Kyoto", alice, { topK: 5 });
      expect(other.map((match) => match.cosine)).toEqual([0, 0]);
      expect(other).toHaveLength(2);

      // deleteScope removes the turns from the search.
      await store.deleteScope(alice);
      expect(await store.searchMessages(axis(0), "Kyoto laptop", alice, { topK: 5 })).toEqual([]);
      expect(await store.searchMessages(axis(0), "Kyoto", bob, { topK: 5 })).toHaveLength(1);
    });

    test("keyword weights come from the scope's own turns: rarer words weigh more", async () => {
      await store.appendMessages(alice, [
        turn("coffee in the morning"),
        turn("coffee after lunch"),
        turn("coffee and a croissant"),
        turn("tea with a croissant"),
      ]);
      const search = async () =>
        byContent(await store.searchMessages(axis(3), "coffee croissant", alice, { topK: 4 }));
      const before = await search();
      const both = before.get("coffee and a croissant")!.keyword;
      const rare = before.get("tea with a croissant")!.keyword;
      const common = before.get("coffee in the morning")!.keyword;
      expect(rare).toBeGreaterThan(common);
      expect(both).toBeCloseTo(rare + common, 10);

      // Another owner's many croissants change nothing here.
      await store.appendMessages(
        bob,
        Array.from({ length: 6 }, (_, i) => turn(`croissant number ${i}`)),
      );
      const after = await search();
      for (const [content, match] of before) {
        expect(after.get(content)!.keyword).toBeCloseTo(match.keyword, 10);
      }
    });

    test("windows hold the same owner's neighbours, oldest first", async () => {
      const work = { userId: "alice", runId: "work" };
      const home = { userId: "alice", runId: "home" };
      // Two runs of alice, interleaved in time.
      await store.appendMessages(work, [turn("w1 report due")]);
      await store.appendMessages(home, [turn("h1 plumber")]);
      await store.appendMessages(work, [turn("w2 manager Priya"), turn("w3 budget meeting")]);
      await store.appendMessages(home, [turn("h2 groceries")]);
      await store.appendMessages(work, [turn("w4 deadline moved")]);

      const idOf = async (word: string) =>
        (await store.searchMessages(axis(0), word, alice, { topK: 1 }))[0].message.id;
      const [w3, h1] = [await idOf("budget"), await idOf("plumber")];
      const contents = (windows: { content: string }[][]) =>
        windows.map((window) => window.map((message) => message.content.split(" ")[0]));

      expect(contents(await store.messageWindows([w3, h1], 1))).toEqual([
        ["w2", "w3", "w4"],
        ["h1", "h2"],
      ]);
      expect(contents(await store.messageWindows([w3], 5))).toEqual([["w1", "w2", "w3", "w4"]]);
      expect(contents(await store.messageWindows([w3], 0))).toEqual([["w3"]]);
      const [window] = await store.messageWindows([h1], 1);
      expect(window.map(({ runId, role }) => ({ runId, role }))).toEqual([
        { runId: "home", role: "user" },
        { runId: "home", role: "user" },
      ]);
      // Unknown ids have no window; the others keep their places.
      expect(contents(await store.messageWindows(["999999999", "not-an-id", w3], 1))).toEqual([
        [],
        [],
        ["w2", "w3", "w4"],
      ]);
      expect(await store.messageWindows([], 1)).toEqual([]);
    });
  });
}

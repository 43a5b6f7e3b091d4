/**
 * The profile behaviour of the shared store suite (`ProfileStore`): one versioned document per
 * exact owner, written inside `apply`, stale writes refused, versions in the history, removed by
 * `deleteScope` and `reset`. Run by `describeStoreBehaviour` for stores that keep profiles.
 */
import { MissingScopeError, StaleWriteError } from "../../src/errors.js";
import type { MemoryScope } from "../../src/scope.js";
import type { ProfileStore, ProfileWrite } from "../../src/stores/base.js";
import { axis, insert, nextTime, type StoreHarness, type TestStore } from "./store_suite.js";

type ProfileTestStore = TestStore & ProfileStore;

const alice: MemoryScope = { userId: "alice" };
const aliceRun: MemoryScope = { userId: "alice", runId: "r1" };
const bob: MemoryScope = { userId: "bob" };

function write(
  owner: MemoryScope,
  value: unknown,
  expectedVersion: number,
  actor = "user",
): ProfileWrite {
  return { owner, value: JSON.stringify(value), expectedVersion, actor, updatedAt: nextTime() };
}

export function describeProfileBehaviour(harness: StoreHarness): void {
  describe("profiles", () => {
    let store: ProfileTestStore;
    beforeEach(async () => {
      store = (await harness.open()) as ProfileTestStore;
      await store.ensureEmbedder("e", 4);
    });
    afterEach(async () => {
      await store.close();
    });

    test("write, read back per exact owner, next version; a stale version applies nothing", async () => {
      expect(await store.getProfile(alice)).toBeUndefined();
      const first = write(alice, { name: "Alice" }, 0);
      expect(await store.apply([], { profile: first })).toEqual([]);
      const v1 = await store.getProfile(alice);
      expect(v1).toEqual({
        id: expect.any(String),
        value: '{"name":"Alice"}',
        version: 1,
        userId: "alice",
        createdAt: first.updatedAt,
        updatedAt: first.updatedAt,
      });
      // Exactly this owner: neither a run of alice nor another user sees it.
      expect(await store.getProfile(aliceRun)).toBeUndefined();
      expect(await store.getProfile(bob)).toBeUndefined();

      // Read before another writer's version 1: stale, and the memory change beside it too.
      await expect(
        store.apply([insert("m1", "alice likes tea", alice, axis(0))], {
          profile: write(alice, { name: "Al" }, 0),
        }),
      ).rejects.toThrow(StaleWriteError);
      await expect(store.apply([], { profile: write(alice, { name: "Al" }, 2) })).rejects.toThrow(
        StaleWriteError,
      );
      expect(await store.get("m1")).toBeUndefined();
      expect(await store.getProfile(alice)).toEqual(v1);

      const second = write(alice, { name: "Alice", city: "Berlin" }, 1, "api");
      await store.apply([insert("m2", "alice lives in Berlin", alice, axis(1))], {
        profile: second,
      });
      expect(await store.get("m2")).toBeDefined();
      expect(await store.getProfile(alice)).toEqual({
        ...v1,
        value: second.value,
        version: 2,
        updatedAt: second.updatedAt,
      });
      // The same document again is no new version.
      await store.apply([], { profile: write(alice, { name: "Alice", city: "Berlin" }, 2) });
      expect((await store.getProfile(alice))?.version).toBe(2);

      await store.apply([], { profile: write(aliceRun, "# Run notes", 0) });
      expect(await store.getProfile(aliceRun)).toMatchObject({ runId: "r1", version: 1 });
      await expect(store.getProfile({})).rejects.toThrow(MissingScopeError);
    });

    test("every version is in the history under the profile's id", async () => {
      const first = write(alice, { diet: "vegan" }, 0, "user");
      const second = write(alice, { diet: "vegetarian" }, 1, "assistant");
      await store.apply([], { profile: first });
      await store.apply([], { profile: second });
      const { id } = (await store.getProfile(alice))!;
      const history = await store.history(id);
      expect(
        history.map(({ event, previous, next, actor, memoryId }) => ({
          event,
          previous,
          next,
          actor,
          memoryId,
        })),
      ).toEqual([
        { event: "ADD", previous: null, next: first.value, actor: "user", memoryId: id },
        {
          event: "UPDATE",
          previous: first.value,
          next: second.value,
          actor: "assistant",
          memoryId: id,
        },
      ]);
      expect(history.map((entry) => entry.createdAt)).toEqual([first.updatedAt, second.updatedAt]);
    });

    test("concurrent first writes of one owner: exactly one applies, the others are stale", async () => {
      const outcomes = await Promise.allSettled(
        [1, 2, 3, 4].map((n) => store.apply([], { profile: write(bob, { n }, 0) })),
      );
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
      for (const outcome of outcomes.filter((o) => o.status === "rejected")) {
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(StaleWriteError);
      }
      const profile = (await store.getProfile(bob))!;
      expect(profile.version).toBe(1);
      expect(await store.history(profile.id)).toHaveLength(1);
    });

    test("deleteScope removes the scope's profiles with their history; reopening keeps, reset drops the rest", async () => {
      await store.apply([], { profile: write(alice, { name: "Alice" }, 0) });
      await store.apply([], { profile: write(aliceRun, { task: "trip" }, 0) });
      await store.apply([], { profile: write(bob, { name: "Bob" }, 0) });
      const [aliceId, runId, bobId] = await Promise.all(
        [alice, aliceRun, bob].map(async (owner) => (await store.getProfile(owner))!.id),
      );

      // A run's delete leaves the user's own profile.
      await store.deleteScope(aliceRun);
      expect(await store.getProfile(aliceRun)).toBeUndefined();
      expect(await store.history(runId)).toEqual([]);
      expect(await store.getProfile(alice)).toBeDefined();

      await store.apply([], { profile: write(aliceRun, { task: "again" }, 0) });
      await store.deleteScope(alice);
      expect(await store.getProfile(alice)).toBeUndefined();
      expect(await store.getProfile(aliceRun)).toBeUndefined();
      expect(await store.history(aliceId)).toEqual([]);
      // A new first write starts again at version 1.
      await store.apply([], { profile: write(alice, { name: "Alice" }, 0) });
      expect((await store.getProfile(alice))?.version).toBe(1);

      store = (await harness.reopen(store)) as ProfileTestStore;
      expect(await store.getProfile(bob)).toMatchObject({ id: bobId, value: '{"name":"Bob"}' });
      expect(await store.history(bobId)).toHaveLength(1);
      await store.reset();
      expect(await store.getProfile(bob)).toBeUndefined();
      expect(await store.getProfile(alice)).toBeUndefined();
      expect(await store.history(bobId)).toEqual([]);
    });
  });
}

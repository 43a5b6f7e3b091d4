/**
 * Fuzzed inputs (fast-check) for every public method of `Memory` and `Mem0ChatModel`: odd
 * unicode (lone surrogates, bidi marks, NUL), 1 MiB strings, values of the wrong type,
 * prototype-polluting keys, FTS5 syntax and filter operators of every shape. Each call must
 * return a correct result or throw a typed `Mem0Error`; it must never crash with an untyped
 * error, leave an unhandled rejection, pollute `Object.prototype`, or change a bystander's data.
 * Seed, path and run count: see `utils/property.ts`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import fc from "fast-check";
import type { MemoryItem } from "../src/backends/base.js";
import { Memory } from "../src/backends/memory.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import { HashEmbeddings } from "../src/embeddings/hash.js";
import { Mem0ConfigError, Mem0Error, Mem0InputError, MissingScopeError } from "../src/errors.js";
import type { MemoryScope } from "../src/scope.js";
import {
  FakeOpenAIServer,
  parseExtractionInput,
  type FakeChatRequest,
} from "../src/testing/index.js";
import { propertyParameters, propertyTimeout } from "./utils/property.js";

// ------------------------------------------------------------------------------------ inputs

const LONE_SURROGATES = ["\uD800", "\uDBFF", "\uDC00", "\uDFFF"];
const ODD_CHARACTERS = [
  ...LONE_SURROGATES,
  "\u202E", // right-to-left override
  "\u200F", // right-to-left mark
  "\u061C", // Arabic letter mark
  "\u0000",
  "\u2028",
  "\u0085",
  "\uFEFF",
  "\u200B",
  "e\u0301",
  "ﬁ",
  "İ",
  "ß",
  "\u{1F600}",
  "\u{10FFFF}",
  "\t",
  "\n",
];
const FTS_SYNTAX = ['"', "*", "NEAR(", "AND", "OR", "NOT", "-", "^", ":", "(", ")", "{", "}", "'"];
const FTS_WORDS = [...FTS_SYNTAX, "text:", "NEAR(tea paris, 2)", '"tea" OR *', "tea", "paris"];
/** About 1 MB of text, with few words: embedding and keyword costs grow with words. */
const HUGE = `tea and paris ${"-".repeat(1_000)}`.repeat(1_000);

/** A valid value most of the time, an odd one sometimes: calls get past validation and deeper. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, odd: fc.Arbitrary<U>): fc.Arbitrary<T | U> =>
  fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: odd });
/** For one option among several: odd rarely, so that whole calls are often valid. */
const usually = <T, U>(valid: fc.Arbitrary<T>, odd: fc.Arbitrary<U>): fc.Arbitrary<T | U> =>
  fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: odd });

/** fast-check 4's `fc.date()` also yields Invalid Date; the valid arms must not. */
const validDate = fc.date({ noInvalidDate: true });

const oddString = fc.oneof(
  fc.string({
    unit: fc.oneof(
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
      fc.constantFrom(...ODD_CHARACTERS),
    ),
    maxLength: 30,
  }),
  fc.array(fc.constantFrom(...FTS_WORDS), { maxLength: 6 }).map((words) => words.join(" ")),
  fc.constantFrom("", " ", "null", "undefined", "__proto__", "constructor", "prototype"),
);
/** Text with something to say: odd, but not blank. */
const shortText = oddString.filter((value) => value.trim() !== "");
const text = fc.oneof(
  { weight: 30, arbitrary: shortText },
  { weight: 1, arbitrary: fc.constant(HUGE) },
);

const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -0, 2 ** 53, 1e308),
  fc.constantFrom(null, undefined, true, false, ""),
  fc.constant(Symbol("fuzz")),
  fc.bigInt(),
  fc.date({ noInvalidDate: false }),
  fc.constant(() => "a function"),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 3 })), { maxLength: 3 }),
  fc.constant(new Map([["a", 1]])),
  fc.constant(Object.create(null) as object),
  fc.constant(new Error("an error")),
);

/** Objects with their own `__proto__` / `constructor` / `prototype` keys, as `JSON.parse` makes them. */
const POLLUTING = [
  '{"__proto__": {"polluted": "yes"}}',
  '{"constructor": {"prototype": {"polluted": "yes"}}}',
  '{"prototype": {"polluted": "yes"}}',
  '{"a": {"__proto__": {"polluted": "yes"}}}',
  '{"__proto__": {"eq": "yes"}, "topic": "tea"}',
  '{"AND": [{"__proto__": {"polluted": "yes"}}], "OR": [{"constructor": {"ne": 1}}]}',
  '{"NOT": {"__proto__": {"in": ["polluted"]}}}',
];
const polluting = fc
  .constantFrom(...POLLUTING)
  .map((json) => JSON.parse(json) as Record<string, unknown>);
const odd = fc.oneof(wrongType, polluting, oddString);
const anyValue = fc.oneof(text, odd);

const key = fc.oneof(
  oddString,
  fc.constantFrom("__proto__", "constructor", "prototype", "topic", "user_id"),
);
const scalar = fc.oneof(
  fc.string({ maxLength: 5 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const metadata = mostly(
  fc.oneof(
    fc.dictionary(
      fc.oneof(oddString, fc.constantFrom("topic", "constructor")),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 4 },
    ),
    fc.record({ topic: fc.constantFrom("tea", "paris") }),
  ),
  fc.oneof(
    wrongType,
    polluting,
    fc.dictionary(key, fc.oneof(scalar, wrongType, polluting), { maxKeys: 3 }),
  ),
);

const OPERATORS = ["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains"];
const operator = mostly(
  fc.constantFrom(...OPERATORS),
  fc.constantFrom("$eq", "like", "__proto__", "constructor", "toString", "", "AND"),
);
const operand = mostly(
  fc.oneof(scalar, fc.array(scalar, { maxLength: 3 })),
  fc.oneof(wrongType, fc.constant({})),
);
const { filter: filterTree } = fc.letrec((tie) => ({
  filter: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tie("leaf"),
    tie("and"),
    tie("or"),
    tie("not"),
  ),
  leaf: fc.dictionary(
    mostly(fc.constantFrom("topic", "role", "n"), key),
    mostly(fc.oneof(scalar, fc.dictionary(operator, operand, { maxKeys: 2 })), wrongType),
    { maxKeys: 2 },
  ),
  and: fc.record({ AND: mostly(fc.array(tie("filter"), { maxLength: 3 }), wrongType) }),
  or: fc.record({ OR: mostly(fc.array(tie("filter"), { maxLength: 3 }), wrongType) }),
  not: fc.record({ NOT: mostly(tie("filter"), wrongType) }),
}));
/** A filter nested `depth` levels deep. */
function deepFilter(depth: number): Record<string, unknown> {
  let filter: Record<string, unknown> = { topic: "tea" };
  for (let i = 0; i < depth; i++) filter = i % 2 ? { NOT: filter } : { AND: [filter] };
  return filter;
}
const filter = fc.oneof(
  { weight: 8, arbitrary: filterTree },
  { weight: 1, arbitrary: polluting },
  { weight: 1, arbitrary: wrongType },
  { weight: 1, arbitrary: fc.constantFrom(8, 32, 33, 100_000).map(deepFilter) },
);

/** Owner ids: odd but usable most of the time, sometimes unusable; never a bystander's. */
const id = mostly(
  fc.oneof(
    fc.constantFrom("fuzz", "fuzz-2", "Fuzz", "fuzz ", "fuzz\u0000", "fuzz|r1", '"fuzz"'),
    text.filter((value) => value.length < 100),
  ),
  fc.oneof(wrongType, fc.constantFrom("", "  ", "\n")),
);
/** Scope fields: a user id nearly always, other ids sometimes. */
const scopeFields = {
  userId: usually(id, fc.constant(undefined)),
  agentId: usually(id, odd),
  runId: usually(id, odd),
};
const scope = mostly(
  fc.record(scopeFields, { requiredKeys: ["userId"] }),
  fc.oneof(odd, fc.record({ user_id: id })),
);
const signal = usually(fc.constant(new AbortController().signal), fc.constant(AbortSignal.abort()));
const count = usually(
  fc.integer({ min: 1, max: 50 }),
  fc.oneof(fc.constantFrom(0, -1, 10_000, 10_001, 2 ** 53, 1e308, 1.5), wrongType),
);
const flag = usually(fc.boolean(), wrongType);

const role = mostly(
  fc.constantFrom("user", "assistant", "system", "tool", "human", "ai", "developer"),
  fc.oneof(oddString, wrongType),
);
/** Chat input in every shape LangChain takes (and some it does not), with texts from `words`. */
function messagesOf(words: fc.Arbitrary<string>) {
  const contentBlock = mostly(
    fc.record({ type: fc.constant("text"), text: words }),
    fc.oneof(
      fc.record(
        { type: fc.constantFrom("image_url", "__proto__"), text: fc.oneof(words, odd) },
        { requiredKeys: [] },
      ),
      wrongType,
    ),
  );
  const message = usually(
    fc.oneof(
      words,
      words.map((content) => new HumanMessage(content)),
      words.map(
        (content) =>
          new AIMessage({
            content,
            tool_calls: [
              { name: content.slice(0, 20), args: { q: content.slice(0, 20) }, id: "t1" },
            ],
          }),
      ),
      fc.record({
        role,
        content: usually(fc.oneof(words, fc.array(contentBlock, { maxLength: 3 })), wrongType),
      }),
      fc.tuple(role, usually(words, wrongType)),
    ),
    fc.oneof(wrongType, polluting),
  );
  return mostly(fc.oneof(words, fc.array(message, { minLength: 1, maxLength: 4 })), odd);
}
const messages = messagesOf(text);

/** Options nobody should pass: an unknown key, LangChain callbacks of the wrong type. */
const strayOptions = fc.oneof(
  fc.record({ userId: id, limit: fc.integer() }),
  fc.record({ userId: id, callbacks: wrongType }),
  fc.record({ userId: id, signal: wrongType }),
);
const addOptions = mostly(
  fc.record(
    {
      ...scopeFields,
      metadata,
      infer: flag,
      timestamp: usually(validDate, fc.oneof(fc.integer(), oddString, wrongType)),
      expirationDate: usually(
        fc.constantFrom("2030-01-01", "1999-12-31"),
        fc.oneof(fc.constantFrom("2020-02-30", "tomorrow"), validDate, wrongType),
      ),
      filters: usually(
        fc.constant(undefined),
        fc.oneof(fc.record({ user_id: id, run_id: id }, { requiredKeys: [] }), filter),
      ),
      signal,
    },
    { requiredKeys: ["userId"] },
  ),
  fc.oneof(odd, strayOptions),
);
const searchOptions = mostly(
  fc.record(
    {
      ...scopeFields,
      topK: count,
      threshold: usually(fc.double({ min: 0, max: 1, noNaN: true }), wrongType),
      filters: mostly(
        filter,
        fc.record({ user_id: id, userId: id, topic: scalar }, { requiredKeys: [] }),
      ),
      rerank: flag,
      explain: flag,
      showExpired: flag,
      asOf: usually(validDate, fc.oneof(oddString, fc.date({ noInvalidDate: false }), wrongType)),
      includeInvalid: flag,
      signal,
    },
    { requiredKeys: ["userId"] },
  ),
  fc.oneof(odd, strayOptions),
);
const cursor = fc.oneof(
  oddString,
  fc.tuple(anyValue, anyValue).map((pair) => {
    try {
      return Buffer.from(JSON.stringify(pair) ?? "", "utf8").toString("base64url");
    } catch {
      return "not a cursor";
    }
  }),
  wrongType,
);
const getAllOptions = mostly(
  fc.record(
    {
      ...scopeFields,
      topK: count,
      filters: mostly(filter, fc.constant(undefined)),
      showExpired: flag,
      cursor: usually(fc.constant(undefined), cursor),
    },
    { requiredKeys: ["userId"] },
  ),
  fc.oneof(odd, strayOptions),
);
const change = mostly(
  fc.oneof(
    text,
    fc.record(
      {
        text: mostly(text, wrongType),
        metadata,
        expirationDate: mostly(
          fc.constantFrom("2030-01-01", null),
          fc.oneof(fc.constant("2030-13-01"), wrongType),
        ),
      },
      { requiredKeys: [] },
    ),
  ),
  fc.oneof(odd, fc.record({ data: text })),
);

/** A memory or queue id: one of the fuzz scope's (by index, chosen when the call runs) or an odd value. */
type IdChoice = { real: number } | { value: unknown };
const idChoice: fc.Arbitrary<IdChoice> = mostly(
  fc.nat().map((real) => ({ real })),
  anyValue.map((value) => ({ value })),
) as fc.Arbitrary<IdChoice>;

const MEMORY_OPTION_KEYS = [
  "llm",
  "embeddings",
  "store",
  "customInstructions",
  "extractionPrompt",
  "similarMemories",
  "contextMessages",
  "graph",
  "keywordWeight",
  "reranker",
  "logger",
  "redact",
  "writeTimeoutMs",
  "maxAttempts",
  "recoverOnOpen",
  "onError",
  "user_id",
  "__proto__",
];
const CHAT_FIELD_KEYS = [
  "userId",
  "agentId",
  "runId",
  "topK",
  "threshold",
  "queryWindow",
  "retrieval",
  "injection",
  "systemPrompt",
  "formatMemories",
  "store",
  "infer",
  "onMemoryError",
  "retrievalTimeoutMs",
  "onError",
  "filters",
  "memoryMetadata",
  "writeQueue",
  "handler",
  "logger",
  "callbacks",
];

// ------------------------------------------------------------------------------------ harness

/** Scopes the fuzzed calls never name: their data must stay exactly as it is. */
const BYSTANDERS: MemoryScope[] = [
  { userId: "bystander-Zq1" },
  { agentId: "bystander-Zq2", runId: "bystander-Zq3" },
];

let server: FakeOpenAIServer;
let dir: string;
beforeAll(async () => {
  server = await FakeOpenAIServer.start();
  server.setHandler(fakeLlm);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-fuzz-"));
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The extraction LLM remembers the last user message (odd as it may be) and a relation; chats echo. */
function fakeLlm(request: FakeChatRequest) {
  if (request.tools?.[0]?.function?.name !== "memory_operations") return "ok";
  const input = parseExtractionInput(request.lastUserText);
  const said = input.conversation.findLast((m) => m.role === "user")?.content ?? "";
  return {
    json: {
      add: said ? [said.slice(0, 200)] : [],
      update: [],
      delete: [],
      relations: [
        { source: "user", relation: said.slice(0, 20) || "says", destination: said.slice(0, 20) },
      ],
      aliases: [],
      invalidate: [],
    },
  };
}

const chat = () =>
  new ChatOpenAI({
    model: "gpt-4o-mini",
    apiKey: "test",
    configuration: { baseURL: server.baseURL },
    maxRetries: 0,
  });

function newMemory() {
  return new Memory({
    llm: chat(),
    embeddings: new HashEmbeddings({ dimensions: 32 }),
    path: ":memory:",
    graph: true,
    recoverOnOpen: false,
    logger: { warn: () => undefined },
  });
}

/** Everything a bystander owns, as the public API shows it. */
async function bystanderData(memory: Memory) {
  const data = [];
  for (const owner of BYSTANDERS) {
    const memories = (await memory.getAll({ ...owner, topK: 1000, showExpired: true })).results;
    data.push({
      memories,
      history: await Promise.all(memories.map((m) => memory.history(m.id))),
      queued: (await memory.outbox(owner)).map(({ ageMs: _age, ...write }) => write),
      relations: await memory.graph.getAll({ ...owner, includeInvalid: true }),
      entities: await memory.graph.entities(owner),
      messages: await memory.store.recentMessages(owner, 1000),
    });
  }
  return data;
}

async function seedBystanders(memory: Memory) {
  for (const owner of BYSTANDERS) {
    await memory.add("I love tea and paris", { ...owner, metadata: { topic: "tea" } });
    await memory.add("tea paris NEAR AND", { ...owner, infer: false });
    await memory.enqueue("I also like jazz", owner);
  }
}

/**
 * Lets Node report any promise rejection left unhandled while the test still runs: Jest 30
 * fails the running test on an `unhandledRejection` of Node's process object. (Listeners added
 * through the test's own `process`, a sandbox copy, would never be called.)
 */
const settleRejections = () => new Promise((resolve) => setTimeout(resolve, 0));

const pollutionFree = () =>
  (({}) as Record<string, unknown>).polluted === undefined &&
  Object.getOwnPropertyNames(Object.prototype).every(
    (name) => !["polluted", "eq", "in"].includes(name),
  );

/** Expected failures: typed errors, or the abort the caller asked for. */
function expectTyped(error: unknown, call: string, aborted: boolean) {
  if (error instanceof Mem0Error) return;
  if (aborted && (error as Error)?.name === "AbortError") return;
  throw new Error(
    `${call} threw an untyped ${(error as Error)?.name ?? typeof error}: ${String((error as Error)?.message ?? error)}`,
    {
      cause: error,
    },
  );
}

/** Owner ids a successful call must have used: top-level or inside `filters`. */
function ownerOfCall(options: Record<string, unknown>): MemoryScope {
  const filters = (options.filters ?? {}) as Record<string, unknown>;
  const owner: MemoryScope = {};
  const pick = (...values: unknown[]) =>
    values.find((value) => typeof value === "string") as string | undefined;
  const userId = pick(options.userId, filters.user_id, filters.userId);
  const agentId = pick(options.agentId, filters.agent_id, filters.agentId);
  const runId = pick(options.runId, filters.run_id, filters.runId);
  if (userId !== undefined) owner.userId = userId;
  if (agentId !== undefined) owner.agentId = agentId;
  if (runId !== undefined) owner.runId = runId;
  return owner;
}

const ownerOfItem = (item: MemoryItem) =>
  ownerOfCall({ userId: item.user_id, agentId: item.agent_id, runId: item.run_id });

const visibleFrom = (scope: MemoryScope, item: MemoryItem) =>
  (scope.userId === undefined || item.user_id === scope.userId) &&
  (scope.agentId === undefined || item.agent_id === scope.agentId) &&
  (scope.runId === undefined || item.run_id === scope.runId);

interface Context {
  memory: Memory;
  /** Ids of memories and queued writes created by fuzzed calls. */
  memoryIds: string[];
  queueIds: string[];
}

const resolveId = (choice: IdChoice, ids: string[]) =>
  "real" in choice ? (ids.length ? ids[choice.real % ids.length] : "no-such-id") : choice.value;

/** One fuzzed call: what it does and how a successful result is checked. */
interface FuzzCall {
  name: string;
  aborted: boolean;
  /** `recover()` applies every owner's queued writes, the bystanders' too, by design. */
  global?: boolean;
  run(ctx: Context): Promise<unknown>;
  check?(ctx: Context, result: unknown): Promise<void> | void;
}

const isAborted = (options: unknown) =>
  (options as { signal?: AbortSignal } | null)?.signal?.aborted === true;
const describeValue = (value: unknown) =>
  inspect(value, { depth: 4, breakLength: Infinity, maxStringLength: 60 }).slice(0, 300);

function addCall(method: "add" | "enqueue"): fc.Arbitrary<FuzzCall> {
  return fc.tuple(messages, addOptions).map(([input, options]) => ({
    name: `${method}(${describeValue(input)}, ${describeValue(options)})`,
    aborted: isAborted(options),
    run: (ctx) =>
      (ctx.memory[method] as (m: unknown, o: unknown) => Promise<unknown>)(input, options),
    async check(ctx, result) {
      const owner = ownerOfCall(options as Record<string, unknown>);
      if (method === "enqueue") {
        if (result === undefined) return;
        expect(typeof result).toBe("string");
        ctx.queueIds.push(result as string);
        const queued = await ctx.memory.outbox(owner);
        expect(queued.map((write) => write.id)).toContain(result);
        return;
      }
      const { results } = result as { results: { id: string; event: string; memory: string }[] };
      for (const event of results.filter((r) => r.event === "ADD")) {
        ctx.memoryIds.push(event.id);
        const stored = await ctx.memory.get(event.id);
        expect(stored?.memory).toBe(event.memory);
        expect(ownerOfItem(stored!)).toEqual(owner);
      }
    },
  }));
}

/** The owner a list or read of `scope` may show: its user, agent and run ids. */
const canSee = (options: unknown, owner: MemoryScope) =>
  visibleFrom(ownerOfCall(options as Record<string, unknown>), {
    user_id: owner.userId,
    agent_id: owner.agentId,
    run_id: owner.runId,
  } as MemoryItem);

const memoryCalls: fc.Arbitrary<FuzzCall>[] = [
  addCall("add"),
  addCall("enqueue"),
  fc.tuple(mostly(text, odd), searchOptions).map(([query, options]) => ({
    name: `search(${describeValue(query)}, ${describeValue(options)})`,
    aborted: isAborted(options),
    run: (ctx) => ctx.memory.search(query as string, options as never),
    check(_ctx, result) {
      const owner = ownerOfCall(options as Record<string, unknown>);
      const { results, relations } = result as { results: MemoryItem[]; relations?: unknown[] };
      expect(Array.isArray(relations)).toBe(true);
      for (const item of results) {
        expect(visibleFrom(owner, item)).toBe(true);
        expect(item.score).toBeGreaterThanOrEqual(0);
        expect(item.score).toBeLessThanOrEqual(1);
      }
      const scores = results.map((item) => item.score!);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    },
  })),
  getAllOptions.map((options) => ({
    name: `getAll(${describeValue(options)})`,
    aborted: false,
    run: (ctx) => ctx.memory.getAll(options as never),
    check(_ctx, result) {
      const owner = ownerOfCall(options as Record<string, unknown>);
      for (const item of (result as { results: MemoryItem[] }).results) {
        expect(visibleFrom(owner, item)).toBe(true);
      }
    },
  })),
  idChoice.map((choice) => ({
    name: `get(${describeValue(choice)})`,
    aborted: false,
    run: (ctx) => ctx.memory.get(resolveId(choice, ctx.memoryIds) as string),
    check(ctx, result) {
      if (result !== null) expect((result as MemoryItem).id).toBe(resolveId(choice, ctx.memoryIds));
    },
  })),
  fc.tuple(idChoice, change).map(([choice, update]) => ({
    name: `update(${describeValue(choice)}, ${describeValue(update)})`,
    aborted: false,
    run: (ctx) => ctx.memory.update(resolveId(choice, ctx.memoryIds) as string, update as never),
    async check(ctx) {
      const updated = await ctx.memory.get(resolveId(choice, ctx.memoryIds) as string);
      const newText = typeof update === "string" ? update : (update as { text?: unknown }).text;
      // Lone surrogates are stored as U+FFFD, as UTF-8 would.
      if (typeof newText === "string")
        expect(updated?.memory).toBe(newText.replace(/\p{Cs}/gu, "\uFFFD").trim());
    },
  })),
  idChoice.map((choice) => ({
    name: `delete(${describeValue(choice)})`,
    aborted: false,
    run: (ctx) => ctx.memory.delete(resolveId(choice, ctx.memoryIds) as string),
    async check(ctx) {
      expect(await ctx.memory.get(resolveId(choice, ctx.memoryIds) as string)).toBeNull();
    },
  })),
  scope.map((owner) => ({
    name: `deleteAll(${describeValue(owner)})`,
    aborted: false,
    run: (ctx) => ctx.memory.deleteAll(owner as never),
    async check(ctx) {
      const left = await ctx.memory.getAll({
        ...ownerOfCall(owner as Record<string, unknown>),
        topK: 10,
      });
      expect(left.results).toEqual([]);
    },
  })),
  idChoice.map((choice) => ({
    name: `history(${describeValue(choice)})`,
    aborted: false,
    run: (ctx) => ctx.memory.history(resolveId(choice, ctx.memoryIds) as string),
    check(ctx, result) {
      const wanted = resolveId(choice, ctx.memoryIds);
      for (const entry of result as { memory_id: string }[]) expect(entry.memory_id).toBe(wanted);
    },
  })),
  fc
    .tuple(idChoice, mostly(fc.record({ signal }, { requiredKeys: [] }), odd))
    .map(([choice, options]) => ({
      name: `applyQueued(${describeValue(choice)}, ${describeValue(options)})`,
      aborted: isAborted(options),
      run: (ctx) =>
        ctx.memory.applyQueued(resolveId(choice, ctx.queueIds) as string, options as never),
    })),
  mostly(fc.record({ retryFailed: flag }, { requiredKeys: [] }), odd).map((options) => ({
    name: `recover(${describeValue(options)})`,
    aborted: false,
    global: true,
    run: (ctx) => ctx.memory.recover(options as never),
    check: (_ctx, result) => expect(typeof result).toBe("number"),
  })),
  mostly(scope, fc.constant(undefined)).map((owner) => ({
    name: `outbox(${describeValue(owner)})`,
    aborted: false,
    run: (ctx) => ctx.memory.outbox(owner as never),
    check(_ctx, result) {
      if (owner === undefined) return;
      for (const write of result as { scope: MemoryScope }[])
        expect(canSee(owner, write.scope)).toBe(true);
    },
  })),
  mostly(
    fc.record(
      {
        ...scopeFields,
        asOf: mostly(
          validDate.map((date) => date.toISOString()),
          fc.oneof(oddString, fc.date({ noInvalidDate: false }), wrongType),
        ),
        includeInvalid: flag,
      },
      { requiredKeys: ["userId"] },
    ),
    odd,
  ).map((options) => ({
    name: `graph.getAll(${describeValue(options)})`,
    aborted: false,
    run: (ctx) => ctx.memory.graph.getAll(options as never),
    check: (_ctx, result) => expect(Array.isArray(result)).toBe(true),
  })),
  scope.map((owner) => ({
    name: `graph.entities(${describeValue(owner)})`,
    aborted: false,
    run: (ctx) => ctx.memory.graph.entities(owner as never),
    check(_ctx, result) {
      for (const entity of result as MemoryScope[]) expect(canSee(owner, entity)).toBe(true);
    },
  })),
  idChoice.map((choice) => ({
    name: `graph.delete(${describeValue(choice)})`,
    aborted: false,
    async run(ctx) {
      const relations = await ctx.memory.graph.getAll({ userId: "fuzz", includeInvalid: true });
      return ctx.memory.graph.delete(
        resolveId(
          choice,
          relations.map((r) => r.id),
        ) as string,
      );
    },
  })),
];

describe("fuzzed inputs", () => {
  it(
    "Memory: every public method returns a correct result or throws a typed error",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.oneof(...memoryCalls), { minLength: 1, maxLength: 8 }),
          async (calls) => {
            const memory = newMemory();
            const ctx: Context = { memory, memoryIds: [], queueIds: [] };
            try {
              await seedBystanders(memory);
              await memory
                .add("fuzz likes tea", { userId: "fuzz", infer: false })
                .then(({ results }) => ctx.memoryIds.push(...results.map((r) => r.id)));
              ctx.queueIds.push((await memory.enqueue("fuzz likes paris", { userId: "fuzz" }))!);
              let before = await bystanderData(memory);
              for (const call of calls) {
                let result: unknown;
                let failed = false;
                try {
                  result = await call.run(ctx);
                } catch (error) {
                  failed = true;
                  expectTyped(error, call.name, call.aborted);
                }
                if (!failed) await call.check?.(ctx, result);
                if (call.global) before = await bystanderData(memory);
                expect({ call: call.name, bystanders: await bystanderData(memory) }).toEqual({
                  call: call.name,
                  bystanders: before,
                });
                expect({ call: call.name, pollutionFree: pollutionFree() }).toEqual({
                  call: call.name,
                  pollutionFree: true,
                });
              }
            } finally {
              await memory.close();
            }
            await settleRejections();
          },
        ),
        propertyParameters(150),
      );
    },
    propertyTimeout(120_000),
  );

  it(
    "new Memory(options) builds a working Memory or throws a typed error",
    async () => {
      const option = fc.tuple(fc.constantFrom(...MEMORY_OPTION_KEYS), anyValue);
      const storePath = oddString.map((name) => path.join(dir, name));
      const base = () => ({
        embeddings: new HashEmbeddings({ dimensions: 8 }),
        path: ":memory:",
        recoverOnOpen: false,
      });
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            {
              weight: 6,
              arbitrary: fc
                .array(option, { minLength: 1, maxLength: 3 })
                .map((entries) => ({ ...base(), ...Object.fromEntries(entries) })),
            },
            {
              weight: 2,
              arbitrary: fc
                .oneof(storePath, wrongType)
                .map((storeAt) => ({ ...base(), path: storeAt })),
            },
            { weight: 1, arbitrary: odd },
          ),
          async (options) => {
            let memory: Memory | undefined;
            try {
              memory = new Memory(options as never);
            } catch (error) {
              expectTyped(error, `new Memory(${describeValue(options)})`, false);
              return;
            }
            try {
              await memory.add("constructed fine", { userId: "fuzz", infer: false });
              expect((await memory.getAll({ userId: "fuzz" })).results).toHaveLength(1);
            } catch (error) {
              expectTyped(error, `a Memory built from ${describeValue(options)}`, false);
            } finally {
              await memory.close();
            }
            expect(pollutionFree()).toBe(true);
          },
        ),
        propertyParameters(150),
      );
    },
    propertyTimeout(60_000),
  );

  it(
    "Mem0ChatModel: construction and invoke/stream with odd input behave like the inner model or throw typed errors",
    async () => {
      const memory = newMemory();
      await seedBystanders(memory);
      const before = await bystanderData(memory);
      const inner = chat();
      const callOptions = mostly(
        fc.record(
          {
            configurable: usually(
              fc.record(
                { user_id: id, agent_id: id, run_id: id, thread_id: id },
                { requiredKeys: [] },
              ),
              wrongType,
            ),
            user_id: usually(id, fc.constant(undefined)),
            run_id: id,
            filters: usually(fc.constant(undefined), filter),
            memoryMetadata: usually(fc.constant(undefined), metadata),
            tags: fc.array(oddString, { maxLength: 2 }),
            metadata: fc.dictionary(key, scalar, { maxKeys: 2 }),
          },
          { requiredKeys: [] },
        ),
        odd,
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.constantFrom(...CHAT_FIELD_KEYS), anyValue), { maxLength: 1 }),
          messagesOf(shortText),
          callOptions,
          fc.boolean(),
          async (fields, input, options, stream) => {
            const errors: unknown[] = [];
            let model: Mem0ChatModel;
            try {
              model = new Mem0ChatModel({
                model: inner,
                memory,
                userId: "fuzz",
                store: "background",
                onError: (error) => errors.push(error),
                ...Object.fromEntries(fields),
              });
            } catch (error) {
              expectTyped(error, `new Mem0ChatModel(${describeValue(fields)})`, false);
              return;
            }
            const innerOptions = { ...(options as object) } as Record<string, unknown>;
            for (const ours of ["user_id", "run_id", "filters", "memoryMetadata"])
              delete innerOptions[ours];
            const call = async (runnable: ChatOpenAI | Mem0ChatModel, opts: unknown) => {
              if (!stream) return runnable.invoke(input as never, opts as never);
              const chunks = [];
              for await (const chunk of await runnable.stream(input as never, opts as never))
                chunks.push(chunk);
              return chunks;
            };
            let innerError: unknown;
            try {
              await call(inner, innerOptions);
            } catch (error) {
              innerError = error;
            }
            const name = `${stream ? "stream" : "invoke"}(${describeValue(input)}, ${describeValue(options)}) with ${describeValue(fields)}`;
            try {
              await call(model, options);
            } catch (error) {
              // The inner model's own refusal of the input is passed on as it is.
              if (!(
                innerError && (error as Error)?.constructor === (innerError as Error).constructor
              )) {
                expectTyped(error, name, false);
              }
            }
            try {
              await model.flush();
            } catch (error) {
              expectTyped(error, `flush after ${name}`, false);
            }
            for (const error of errors) expectTyped(error, `onError of ${name}`, false);
            expect(await bystanderData(memory)).toEqual(before);
            expect(pollutionFree()).toBe(true);
            await settleRejections();
          },
        ),
        propertyParameters(80),
      );
      await memory.close();
    },
    propertyTimeout(120_000),
  );
});

/** Shrunk counterexamples the fuzzer found, kept as plain tests. */
describe("fuzz regressions", () => {
  let memory: Memory;
  const fuzz = { userId: "fuzz" };
  beforeEach(() => {
    memory = newMemory();
  });
  afterEach(async () => memory.close());

  const rejects = (call: () => Promise<unknown>, type: typeof Mem0Error, message: RegExp) =>
    expect(call()).rejects.toThrow(
      expect.objectContaining({ name: type.name, message: expect.stringMatching(message) }),
    );

  it("refuses message content that is not text or content blocks", async () => {
    for (const content of [123, { a: 1 }, [null]]) {
      await rejects(
        () => memory.add([{ role: "user", content }] as never, { ...fuzz, infer: false }),
        Mem0InputError,
        /messages\[0\]\.content must be a string or an array of content blocks/,
      );
    }
  });

  it("refuses ids of the wrong type instead of failing inside SQLite", async () => {
    await rejects(() => memory.applyQueued({} as never), Mem0InputError, /queued write id/);
    await rejects(
      () => memory.applyQueued(Symbol("x") as never),
      Mem0InputError,
      /queued write id/,
    );
    await rejects(() => memory.graph.delete({} as never), Mem0InputError, /relation id/);
  });

  it("treats a scope that is not an object as missing", async () => {
    await rejects(() => memory.outbox(null as never), MissingScopeError, /No memory scope/);
    await rejects(() => memory.graph.entities(null as never), MissingScopeError, /No memory scope/);
  });

  it("recover(null) replays the outbox like recover()", async () => {
    await memory.enqueue("fuzz likes tea", { ...fuzz, infer: false });
    expect(await memory.recover(null as never)).toBe(1);
  });

  it("refuses filter values JSON cannot carry, deep nesting and a __proto__ key", async () => {
    for (const filters of [
      { a: 1n },
      { a: () => 1 },
      { a: Symbol("s") },
      { a: new Date() },
      { a: { eq: NaN } },
    ]) {
      await rejects(
        () => memory.search("tea", { ...fuzz, filters } as never),
        Mem0InputError,
        /filters\.a/,
      );
    }
    await rejects(
      () => memory.search("tea", { ...fuzz, filters: deepFilter(100_000) } as never),
      Mem0InputError,
      /nests AND\/OR\/NOT more than 32 levels deep/,
    );
    await memory.add("fuzz likes tea", { ...fuzz, infer: false });
    // Dropped without a word before, so the filter matched every memory.
    await rejects(
      () => memory.search("tea", { ...fuzz, filters: JSON.parse('{"__proto__": {"eq": 1}}') }),
      Mem0InputError,
      /__proto__/,
    );
  });

  it("refuses metadata values JSON would drop or change, and a __proto__ key", async () => {
    for (const metadata of [
      { a: Symbol("s") },
      { a: () => 1 },
      { a: new Date(0) },
      { a: NaN },
      { a: { b: 1n } },
    ]) {
      await rejects(
        () => memory.add("fuzz likes tea", { ...fuzz, infer: false, metadata } as never),
        Mem0InputError,
        /metadata\.a/,
      );
    }
    await rejects(
      () =>
        memory.add("x", {
          ...fuzz,
          infer: false,
          metadata: JSON.parse('{"__proto__": {"polluted": 1}}'),
        }),
      Mem0InputError,
      /__proto__/,
    );
    expect(pollutionFree()).toBe(true);
  });

  it("stores and reports a lone surrogate as U+FFFD, and refuses it in an owner id", async () => {
    const { results } = await memory.add("a\uD800b", { ...fuzz, infer: false });
    expect(results[0].memory).toBe("a\uFFFDb");
    expect((await memory.get(results[0].id))?.memory).toBe("a\uFFFDb");
    await rejects(
      () => memory.add("x", { userId: "\uD800", infer: false }),
      Mem0InputError,
      /surrogate/,
    );
  });

  it("refuses callbacks of the wrong type before calling the LLM", async () => {
    await rejects(
      () => memory.add("tea", { ...fuzz, callbacks: () => undefined } as never),
      Mem0InputError,
      /callbacks must be a list of callback handlers or a CallbackManager/,
    );
  });

  it("names the wrong type instead of calling a given option missing", async () => {
    await rejects(
      () => memory.getAll({ userId: 123 } as never),
      Mem0InputError,
      /userId must be a string, got number/,
    );
    await rejects(
      () => memory.graph.getAll({ ...fuzz, asOf: Object.create(null) as never }),
      Mem0InputError,
      /asOf must be a string, got object/,
    );
  });

  it("refuses a Mem0ChatModel handler, write queue or logger that cannot work", () => {
    for (const fields of [{ handler: {} }, { writeQueue: 5 }, { logger: "console" }]) {
      expect(
        () => new Mem0ChatModel({ model: chat(), memory, userId: "fuzz", ...fields } as never),
      ).toThrow(Mem0ConfigError);
    }
  });
});

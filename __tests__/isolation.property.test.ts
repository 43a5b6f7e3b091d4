/**
 * Tenant isolation, proven by property-based tests (fast-check): random sequences of every
 * memory operation across scopes with similar-looking ids run against the real `Memory`
 * (SQLite in memory, graph on, the extraction LLM scripted behind the offline OpenAI-compatible
 * server) and are checked, step by step, against a small model of what each scope owns.
 * Seed, path and run count: see `utils/property.ts`.
 */
import { isDeepStrictEqual } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { ChatOpenAI } from "@langchain/openai";
import fc from "fast-check";
import type { MemoryItem, SearchResult } from "../src/backends/base.js";
import { Memory } from "../src/backends/memory.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import { HashEmbeddings } from "../src/embeddings/hash.js";
import { Mem0InputError } from "../src/errors.js";
import type { MemoryScope } from "../src/scope.js";
import { normalizeEntityName } from "../src/stores/entity_names.js";
import {
  FakeOpenAIServer,
  parseExtractionInput,
  type FakeChatReply,
  type FakeChatRequest,
} from "../src/testing/index.js";
import { propertyParameters, propertyTimeout } from "./utils/property.js";

/** Owners whose ids look alike: they must behave as entirely separate tenants. */
const SCOPES: MemoryScope[] = [
  { userId: "alice" },
  { userId: "alice", runId: "r1" },
  { userId: "alice", runId: "r2" },
  { userId: "alice " },
  { userId: "Alice" },
  { userId: "alice\u0000" },
  { userId: "al" },
  { userId: "alice|r1" },
  { agentId: "alice" },
  { agentId: "a1" },
  { userId: "bob", agentId: "a1" },
  { runId: "r1" },
  { userId: '"alice"' },
  { userId: '["alice",null,null]' },
  { userId: "null" },
  { userId: 'alice","r1' },
  { userId: "[", runId: "," },
];

/** Words every scope talks about, so that rankings could be swayed by other scopes' data. */
const WORDS = ["tea", "jazz", "paris", "chess", "sushi", "hiking"];
/** Searches repeated often enough (few scopes, few queries) to compare rankings over time. */
const PROBE_SCOPES = [0, 1, 9, 10];
const PROBE_QUERIES = ["tea jazz", "paris chess sushi tea"];
const CONTEXT_MESSAGES = 6;

const show = (scope: MemoryScope) => JSON.stringify(scope);
const keyOf = (scope: MemoryScope) =>
  JSON.stringify([scope.userId ?? null, scope.agentId ?? null, scope.runId ?? null]);
/** The model's own visibility rule: every id the scope gives must equal the owner's. */
const sees = (scope: MemoryScope, owner: MemoryScope) =>
  (["userId", "agentId", "runId"] as const).every(
    (key) => scope[key] === undefined || scope[key] === owner[key],
  );
/** The owner ids of an item (mem0ai's snake case) or an entity (camel case). */
const ownerOf = (item: {
  user_id?: string;
  agent_id?: string;
  run_id?: string;
  userId?: string;
  agentId?: string;
  runId?: string;
}): MemoryScope => {
  const owner: MemoryScope = {};
  const userId = item.user_id ?? item.userId;
  const agentId = item.agent_id ?? item.agentId;
  const runId = item.run_id ?? item.runId;
  if (userId !== undefined) owner.userId = userId;
  if (agentId !== undefined) owner.agentId = agentId;
  if (runId !== undefined) owner.runId = runId;
  return owner;
};

// ------------------------------------------------------------------------------------ model

interface HistoryStep {
  action: "ADD" | "UPDATE" | "DELETE";
  previous: string | null;
  next: string | null;
}

interface ModelMemory {
  id: string;
  owner: MemoryScope;
  text: string;
  metadata: Record<string, unknown>;
  /** Not deleted. */
  live: boolean;
  /** Removed with its history by a `deleteAll`. */
  purged: boolean;
  history: HistoryStep[];
}

interface ModelEdge {
  owner: MemoryScope;
  source: string;
  relation: string;
  destination: string;
}

interface ModelEntry {
  id: string;
  owner: MemoryScope;
  pending: boolean;
  /** What the add will do once applied. */
  write: WriteSpec;
  /** The serial number its texts carry. */
  serial: number;
}

interface Model {
  serial: number;
  memories: ModelMemory[];
  messages: { owner: MemoryScope; role: string; content: string }[];
  edges: ModelEdge[];
  entities: { owner: MemoryScope; name: string }[];
  outbox: ModelEntry[];
  /** Rankings seen per probe, with what the scope saw then. */
  probes: Map<string, { seen: string; ranking: unknown[][] }>;
}

const newModel = (): Model => ({
  serial: 0,
  memories: [],
  messages: [],
  edges: [],
  entities: [],
  outbox: [],
  probes: new Map(),
});

const visible = (model: Model, scope: MemoryScope) =>
  model.memories.filter((memory) => memory.live && sees(scope, memory.owner));

/** Everything a scope's ranking may depend on: its memories, relations and entities. */
const seenBy = (model: Model, scope: MemoryScope) =>
  JSON.stringify([
    visible(model, scope).map(({ id, text, metadata }) => [id, text, metadata]),
    model.edges.filter((edge) => sees(scope, edge.owner)),
    model.entities.filter((entity) => sees(scope, entity.owner)),
  ]);

const edgeText = (edge: Pick<ModelEdge, "source" | "relation" | "destination">) =>
  `${edge.source} —${edge.relation}→ ${edge.destination}`;

/** The graph's name for the scope's user (what the LLM calls "user"). */
const selfName = (owner: MemoryScope) => normalizeEntityName(owner.userId ?? "") || "user";

// ------------------------------------------------------------------------------------ writes

/** One add as generated: who, about what, and what the scripted LLM is told to do. */
interface WriteSpec {
  scope: number;
  words: string[];
  infer: boolean;
  /** With infer: update or delete the most similar existing memory. */
  directive: "none" | "update" | "delete";
  /** Also store an assistant answer. */
  withAnswer: boolean;
}

interface Conversation {
  content: string;
  answer?: string;
  metadata: Record<string, unknown>;
}

function conversationOf(spec: WriteSpec, serial: number): Conversation {
  const directive = spec.directive === "none" ? "" : ` ${spec.directive}`;
  return {
    content: `n${serial} ${spec.words.join(" ")}${directive}`,
    answer: spec.withAnswer ? `noted n${serial}` : undefined,
    metadata: { topic: spec.words[0] },
  };
}

const messagesOf = (c: Conversation) =>
  c.answer === undefined
    ? c.content
    : [
        { role: "user", content: c.content },
        { role: "assistant", content: c.answer },
      ];

/** What the scripted extraction LLM decided, read back by the command that caused it. */
interface Decision {
  fact: string;
  update?: { from: string; to: string };
  deleted?: string;
  relations: string[];
}

/** The scripted extraction LLM: checks what it is shown, then answers deterministically. */
class ExtractionScript {
  /** The write in progress: its owner and the model as it was before the write. */
  expected?: { owner: MemoryScope; model: Model };
  decision?: Decision;
  readonly violations: string[] = [];

  readonly handler = (request: FakeChatRequest): FakeChatReply => {
    if (request.tools?.[0]?.function?.name !== "memory_operations") {
      this.violations.push("a chat request that is not an extraction");
      return "unexpected";
    }
    const expected = this.expected;
    if (!expected) {
      this.violations.push("an extraction with no write in progress");
      return { json: { add: [], update: [], delete: [] } };
    }
    const { owner, model } = expected;
    const input = parseExtractionInput(request.lastUserText);
    const mine = visible(model, owner);
    for (const offered of input.existing) {
      if (!mine.some((memory) => memory.text === offered.text)) {
        this.violations.push(`${show(owner)} was offered "${offered.text}", not its own`);
      }
    }
    const context = model.messages
      .filter((message) => keyOf(message.owner) === keyOf(owner))
      .slice(-CONTEXT_MESSAGES)
      .map(({ role, content }) => ({ role, content }));
    if (!isDeepStrictEqual(input.context, context)) {
      this.violations.push(
        `${show(owner)} was shown the context ${JSON.stringify(input.context)}, expected ${JSON.stringify(context)}`,
      );
    }
    const edges = model.edges.filter((edge) => sees(owner, edge.owner)).map(edgeText);
    for (const relation of input.relations ?? []) {
      if (!edges.includes(relation.text)) {
        this.violations.push(`${show(owner)} was offered the relation "${relation.text}"`);
      }
    }
    const content = input.conversation.findLast((m) => m.role === "user")?.content ?? "";
    const tokens = content.split(" ");
    const first = input.existing[0];
    const decision: Decision = {
      fact: `fact ${content}`,
      relations: WORDS.filter((word) => tokens.includes(word)),
    };
    if (first && tokens.includes("update")) {
      decision.update = { from: first.text, to: `fact ${content} revised` };
    }
    if (first && tokens.includes("delete")) decision.deleted = first.text;
    this.decision = decision;
    return {
      json: {
        add: [decision.fact],
        update: decision.update ? [{ id: first.id, text: decision.update.to }] : [],
        delete: decision.deleted ? [{ id: first.id }] : [],
        relations: decision.relations.map((word) => ({
          source: "user",
          relation: "likes",
          destination: word,
        })),
        aliases: [],
        invalidate: [],
      },
    };
  };
}

interface Real {
  memory: Memory;
  script: ExtractionScript;
}

/** Applies an add's expected effects to the model and checks the add's reported events. */
function applyWrite(
  model: Model,
  script: ExtractionScript,
  owner: MemoryScope,
  spec: WriteSpec,
  conversation: Conversation,
  results: { id: string; memory: string; event: string }[],
) {
  const expected: [string, string][] = [];
  const insert = (text: string, metadata: Record<string, unknown>) => {
    const event = results.find((result) => result.event === "ADD" && result.memory === text);
    expect(event).toBeDefined();
    model.memories.push({
      id: event!.id,
      owner,
      text,
      metadata,
      live: true,
      purged: false,
      history: [{ action: "ADD", previous: null, next: text }],
    });
    expected.push(["ADD", text]);
  };
  const target = (text: string) => visible(model, owner).find((memory) => memory.text === text)!;
  if (spec.infer) {
    const decision = script.decision;
    expect(decision).toBeDefined();
    insert(decision!.fact, conversation.metadata);
    if (decision!.update) {
      const memory = target(decision!.update.from);
      memory.history.push({ action: "UPDATE", previous: memory.text, next: decision!.update.to });
      memory.text = decision!.update.to;
      memory.metadata = { ...memory.metadata, ...conversation.metadata };
      expected.push(["UPDATE", memory.text]);
    }
    if (decision!.deleted) {
      const memory = target(decision!.deleted);
      memory.live = false;
      memory.history.push({ action: "DELETE", previous: memory.text, next: null });
      expected.push(["DELETE", memory.text]);
    }
    for (const word of decision!.relations) {
      const edge = { owner, source: selfName(owner), relation: "likes", destination: word };
      if (!model.edges.some((e) => keyOf(e.owner) === keyOf(owner) && isDeepStrictEqual(e, edge))) {
        model.edges.push(edge);
      }
      for (const name of [edge.source, word]) {
        if (!model.entities.some((e) => keyOf(e.owner) === keyOf(owner) && e.name === name)) {
          model.entities.push({ owner, name });
        }
      }
    }
  } else {
    insert(conversation.content, { ...conversation.metadata, role: "user" });
    if (conversation.answer !== undefined) {
      insert(conversation.answer, { ...conversation.metadata, role: "assistant" });
    }
  }
  expect(results.map((result) => [result.event, result.memory])).toEqual(expected);
  model.messages.push({ owner, role: "user", content: conversation.content });
  if (conversation.answer !== undefined) {
    model.messages.push({ owner, role: "assistant", content: conversation.answer });
  }
}

/** Runs an add (direct or queued) with the script expecting `owner`, checking what it saw. */
async function runWrite<T>(real: Real, model: Model, owner: MemoryScope, write: () => Promise<T>) {
  real.script.expected = { owner, model };
  real.script.decision = undefined;
  try {
    return await write();
  } finally {
    real.script.expected = undefined;
    expect(real.script.violations).toEqual([]);
  }
}

// ------------------------------------------------------------------------------------ checks

const itemOf = (memory: ModelMemory) => ({
  id: memory.id,
  memory: memory.text,
  metadata: memory.metadata,
  owner: memory.owner,
});
const realItem = (item: MemoryItem) => ({
  id: item.id,
  memory: item.memory,
  metadata: item.metadata,
  owner: ownerOf(item),
});
const byId = <T extends { id: string }>(items: T[]) =>
  [...items].sort((a, b) => (a.id < b.id ? -1 : 1));

/** What every scope lists, queues and relates equals the model: nothing leaked or changed. */
async function checkAllScopes(model: Model, real: Real) {
  for (const scope of SCOPES) {
    const listed = await real.memory.getAll({ ...scope, topK: 1000 });
    expect({ scope, items: byId(listed.results.map(realItem)) }).toEqual({
      scope,
      items: byId(visible(model, scope).map(itemOf)),
    });
    const queued = await real.memory.outbox(scope);
    expect({ scope, queued: queued.map((write) => [write.id, write.scope]).sort() }).toEqual({
      scope,
      queued: model.outbox
        .filter((entry) => entry.pending && sees(scope, entry.owner))
        .map((entry) => [entry.id, entry.owner])
        .sort(),
    });
    await checkGraph(model, real, scope);
  }
}

async function checkGraph(model: Model, real: Real, scope: MemoryScope) {
  const relations = await real.memory.graph.getAll(scope);
  expect({
    scope,
    relations: relations.map((r) => edgeText({ ...r, relation: r.relationship })).sort(),
  }).toEqual({
    scope,
    relations: model.edges
      .filter((edge) => sees(scope, edge.owner))
      .map(edgeText)
      .sort(),
  });
  const entities = await real.memory.graph.entities(scope);
  expect({
    scope,
    entities: entities.map((entity) => `${keyOf(ownerOf(entity))} ${entity.name}`).sort(),
  }).toEqual({
    scope,
    entities: model.entities
      .filter((entity) => sees(scope, entity.owner))
      .map((entity) => `${keyOf(entity.owner)} ${entity.name}`)
      .sort(),
  });
}

// ------------------------------------------------------------------------------------ commands

type Command = fc.AsyncCommand<Model, Real>;
const always = () => true;

class AddCommand implements Command {
  constructor(readonly spec: WriteSpec) {}
  check = always;
  async run(model: Model, real: Real) {
    const owner = SCOPES[this.spec.scope];
    const conversation = conversationOf(this.spec, model.serial++);
    const { results } = await runWrite(real, model, owner, () =>
      real.memory.add(messagesOf(conversation), {
        ...owner,
        infer: this.spec.infer,
        metadata: conversation.metadata,
      }),
    );
    applyWrite(model, real.script, owner, this.spec, conversation, results);
    await checkAllScopes(model, real);
  }
  toString = () => `add(${JSON.stringify(this.spec)})`;
}

class EnqueueCommand implements Command {
  constructor(readonly spec: WriteSpec) {}
  check = always;
  async run(model: Model, real: Real) {
    const owner = SCOPES[this.spec.scope];
    const serial = model.serial++;
    const conversation = conversationOf(this.spec, serial);
    const id = await real.memory.enqueue(messagesOf(conversation), {
      ...owner,
      infer: this.spec.infer,
      metadata: conversation.metadata,
    });
    expect(typeof id).toBe("string");
    model.outbox.push({ id: id!, owner, pending: true, write: this.spec, serial });
    await checkAllScopes(model, real);
  }
  toString = () => `enqueue(${JSON.stringify(this.spec)})`;
}

class ApplyQueuedCommand implements Command {
  constructor(readonly pick: number) {}
  check = (model: Readonly<Model>) => model.outbox.length > 0;
  async run(model: Model, real: Real) {
    const entry = model.outbox[this.pick % model.outbox.length];
    if (!entry.pending) {
      expect(await real.memory.applyQueued(entry.id)).toBeUndefined();
      return;
    }
    const conversation = conversationOf(entry.write, entry.serial);
    const result = await runWrite(real, model, entry.owner, () =>
      real.memory.applyQueued(entry.id),
    );
    expect(result).toBeDefined();
    entry.pending = false;
    applyWrite(model, real.script, entry.owner, entry.write, conversation, result!.results);
    await checkAllScopes(model, real);
  }
  toString = () => `applyQueued(#${this.pick})`;
}

class SearchCommand implements Command {
  constructor(
    readonly scope: number,
    readonly query: string,
    readonly mode: "ids" | "filters" | "topic",
  ) {}
  check = always;
  async run(model: Model, real: Real) {
    const scope = SCOPES[this.scope];
    const topic = this.query.split(" ")[0];
    const options =
      this.mode === "filters"
        ? {
            filters: {
              ...(scope.userId !== undefined ? { user_id: scope.userId } : {}),
              ...(scope.agentId !== undefined ? { agent_id: scope.agentId } : {}),
              ...(scope.runId !== undefined ? { run_id: scope.runId } : {}),
            },
          }
        : this.mode === "topic"
          ? { ...scope, filters: { topic } }
          : scope;
    const found = await real.memory.search(this.query, { ...options, topK: 100 });
    const { results } = found;
    const expected = visible(model, scope).filter(
      (memory) => this.mode !== "topic" || memory.metadata.topic === topic,
    );
    expect(byId(results.map(realItem))).toEqual(byId(expected.map(itemOf)));
    expect(results.map((r) => r.score)).toEqual(
      [...results.map((r) => r.score)].sort((a, b) => b! - a!),
    );
    const edges = model.edges.filter((edge) => sees(scope, edge.owner)).map(edgeText);
    for (const relation of found.relations ?? []) {
      expect(edges).toContain(edgeText({ ...relation, relation: relation.relationship }));
    }
    checkRanking(model, `search ${this.scope} ${this.mode} ${this.query}`, scope, found);
  }
  toString = () => `search(${show(SCOPES[this.scope])}, "${this.query}", ${this.mode})`;
}

/** A scope's ranking may change only when what the scope sees changes. */
function checkRanking(model: Model, key: string, scope: MemoryScope, found: SearchResult) {
  const seen = seenBy(model, scope);
  const ranking = [
    ...found.results.map((r) => [r.id, r.score]),
    ...(found.relations ?? []).map((r) => [r.source, r.relationship, r.destination, r.score]),
  ];
  const before = model.probes.get(key);
  if (before && before.seen === seen) {
    expect({ key, ranking }).toEqual({ key, ranking: before.ranking });
  }
  model.probes.set(key, { seen, ranking });
}

class ProbeCommand implements Command {
  constructor(
    readonly scope: number,
    readonly query: string,
  ) {}
  check = always;
  async run(model: Model, real: Real) {
    const scope = SCOPES[this.scope];
    const found = await real.memory.search(this.query, { ...scope, topK: 100 });
    checkRanking(model, `probe ${this.scope} ${this.query}`, scope, found);
  }
  toString = () => `probe(${show(SCOPES[this.scope])}, "${this.query}")`;
}

/** A memory id of the model (possibly deleted), or one nobody has. */
function pickMemory(model: Model, pick: number): ModelMemory | undefined {
  if (model.memories.length === 0 || pick % 7 === 6) return undefined;
  return model.memories[pick % model.memories.length];
}
const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

class GetCommand implements Command {
  constructor(readonly pick: number) {}
  check = always;
  async run(model: Model, real: Real) {
    const memory = pickMemory(model, this.pick);
    const item = await real.memory.get(memory?.id ?? UNKNOWN_ID);
    if (memory?.live) expect(realItem(item!)).toEqual(itemOf(memory));
    else expect(item).toBeNull();
  }
  toString = () => `get(#${this.pick})`;
}

class HistoryCommand implements Command {
  constructor(readonly pick: number) {}
  check = always;
  async run(model: Model, real: Real) {
    const memory = pickMemory(model, this.pick);
    const history = await real.memory.history(memory?.id ?? UNKNOWN_ID);
    expect(
      history.map((entry) => ({
        memoryId: entry.memory_id,
        action: entry.action,
        previous: entry.previous_value,
        next: entry.new_value,
      })),
    ).toEqual(
      memory && !memory.purged
        ? [...memory.history].reverse().map((step) => ({ memoryId: memory.id, ...step }))
        : [],
    );
  }
  toString = () => `history(#${this.pick})`;
}

class UpdateCommand implements Command {
  constructor(
    readonly pick: number,
    readonly words: string[],
  ) {}
  check = always;
  async run(model: Model, real: Real) {
    const memory = pickMemory(model, this.pick);
    const text = `edited n${model.serial++} ${this.words.join(" ")}`;
    const update = real.memory.update(memory?.id ?? UNKNOWN_ID, text);
    if (!memory?.live) {
      await expect(update).rejects.toThrow(Mem0InputError);
      return;
    }
    await update;
    memory.history.push({ action: "UPDATE", previous: memory.text, next: text });
    memory.text = text;
    await checkAllScopes(model, real);
  }
  toString = () => `update(#${this.pick}, ${JSON.stringify(this.words)})`;
}

class DeleteCommand implements Command {
  constructor(readonly pick: number) {}
  check = always;
  async run(model: Model, real: Real) {
    const memory = pickMemory(model, this.pick);
    const deletion = real.memory.delete(memory?.id ?? UNKNOWN_ID);
    if (!memory?.live) {
      await expect(deletion).rejects.toThrow(Mem0InputError);
      return;
    }
    await deletion;
    memory.live = false;
    memory.history.push({ action: "DELETE", previous: memory.text, next: null });
    await checkAllScopes(model, real);
  }
  toString = () => `delete(#${this.pick})`;
}

class DeleteAllCommand implements Command {
  constructor(readonly scope: number) {}
  check = always;
  async run(model: Model, real: Real) {
    const scope = SCOPES[this.scope];
    await real.memory.deleteAll(scope);
    for (const memory of model.memories) {
      if (!sees(scope, memory.owner)) continue;
      memory.live = false;
      memory.purged = true;
    }
    model.messages = model.messages.filter((message) => !sees(scope, message.owner));
    model.edges = model.edges.filter((edge) => !sees(scope, edge.owner));
    model.entities = model.entities.filter((entity) => !sees(scope, entity.owner));
    for (const entry of model.outbox) if (sees(scope, entry.owner)) entry.pending = false;
    await checkAllScopes(model, real);
  }
  toString = () => `deleteAll(${show(SCOPES[this.scope])})`;
}

class GraphCommand implements Command {
  constructor(readonly scope: number) {}
  check = always;
  async run(model: Model, real: Real) {
    await checkGraph(model, real, SCOPES[this.scope]);
  }
  toString = () => `graph(${show(SCOPES[this.scope])})`;
}

// ------------------------------------------------------------------------------------ arbitraries

const scopeArb = fc.nat(SCOPES.length - 1);
const wordsArb = fc.uniqueArray(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 3 });
const writeArb: fc.Arbitrary<WriteSpec> = fc.record({
  scope: scopeArb,
  words: wordsArb,
  infer: fc.boolean(),
  directive: fc.constantFrom("none", "update", "delete"),
  withAnswer: fc.boolean(),
});
const queryArb = wordsArb.map((words) => words.join(" "));

const commandArbs = [
  writeArb.map((spec) => new AddCommand(spec)),
  writeArb.map((spec) => new AddCommand(spec)),
  writeArb.map((spec) => new EnqueueCommand(spec)),
  fc.nat().map((pick) => new ApplyQueuedCommand(pick)),
  fc
    .tuple(
      scopeArb,
      queryArb,
      fc.constantFrom("ids" as const, "filters" as const, "topic" as const),
    )
    .map(([scope, query, mode]) => new SearchCommand(scope, query, mode)),
  fc
    .tuple(fc.constantFrom(...PROBE_SCOPES), fc.constantFrom(...PROBE_QUERIES))
    .map(([scope, query]) => new ProbeCommand(scope, query)),
  fc
    .tuple(fc.constantFrom(...PROBE_SCOPES), fc.constantFrom(...PROBE_QUERIES))
    .map(([scope, query]) => new ProbeCommand(scope, query)),
  fc.nat().map((pick) => new GetCommand(pick)),
  fc.nat().map((pick) => new HistoryCommand(pick)),
  fc.tuple(fc.nat(), wordsArb).map(([pick, words]) => new UpdateCommand(pick, words)),
  fc.nat().map((pick) => new DeleteCommand(pick)),
  scopeArb.map((scope) => new DeleteAllCommand(scope)),
  scopeArb.map((scope) => new GraphCommand(scope)),
];

// ------------------------------------------------------------------------------------ tests

let server: FakeOpenAIServer;
beforeAll(async () => {
  server = await FakeOpenAIServer.start();
});
afterAll(async () => server.close());
beforeEach(() => server.reset());

const chat = () =>
  new ChatOpenAI({
    model: "gpt-4o-mini",
    apiKey: "test",
    configuration: { baseURL: server.baseURL },
    maxRetries: 0,
  });

function newReal(): Real {
  const script = new ExtractionScript();
  server.setHandler(script.handler);
  const memory = new Memory({
    llm: chat(),
    embeddings: new HashEmbeddings({ dimensions: 64 }),
    path: ":memory:",
    graph: true,
    recoverOnOpen: false,
  });
  return { memory, script };
}

/** Scopes that neither see nor are seen by the scope: writing them must not touch it. */
const strangersOf = (scope: MemoryScope) =>
  SCOPES.filter((other) => !sees(scope, other) && !sees(other, scope));

describe("tenant isolation (property-based)", () => {
  it(
    "a scope's search results and their order do not move when other scopes write",
    async () => {
      const otherWrite = fc.record({
        pick: fc.nat(),
        words: wordsArb,
        op: fc.constantFrom("add", "add", "update", "delete", "deleteAll"),
      });
      await fc.assert(
        fc.asyncProperty(
          scopeArb,
          fc.array(wordsArb, { minLength: 1, maxLength: 8 }),
          fc.array(otherWrite, { minLength: 1, maxLength: 20 }),
          queryArb,
          async (observed, own, writes, query) => {
            const scope = SCOPES[observed];
            const strangers = strangersOf(scope);
            const memory = new Memory({
              embeddings: new HashEmbeddings({ dimensions: 64 }),
              path: ":memory:",
              recoverOnOpen: false,
            });
            try {
              for (const [i, words] of own.entries()) {
                await memory.add(`${words.join(" ")} own${i}`, { ...scope, infer: false });
              }
              const search = () => memory.search(query, { ...scope, topK: 100, explain: true });
              const before = await search();
              const written: { id: string; owner: MemoryScope }[] = [];
              for (const [i, write] of writes.entries()) {
                const owner = strangers[write.pick % strangers.length];
                const mine = written.filter((w) => keyOf(w.owner) === keyOf(owner));
                const target = mine[write.pick % Math.max(mine.length, 1)];
                if (write.op === "add" || !target) {
                  const { results } = await memory.add(`${write.words.join(" ")} other${i}`, {
                    ...owner,
                    infer: false,
                  });
                  written.push(...results.map(({ id }) => ({ id, owner })));
                } else if (write.op === "update") {
                  await memory.update(target.id, `${write.words.join(" ")} edited${i}`);
                } else if (write.op === "delete") {
                  await memory.delete(target.id);
                  written.splice(written.indexOf(target), 1);
                } else {
                  await memory.deleteAll(owner);
                  // deleteAll removes every memory visible from the owner (a user's runs too).
                  written.splice(
                    0,
                    written.length,
                    ...written.filter((w) => !sees(owner, w.owner)),
                  );
                }
              }
              expect(await search()).toEqual(before);
            } finally {
              await memory.close();
            }
          },
        ),
        propertyParameters(60),
      );
    },
    propertyTimeout(60_000),
  );

  it(
    "no operation returns, changes or ranks by another scope's data",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.commands(commandArbs, { maxCommands: 40, size: "max" }),
          async (commands) => {
            const real = newReal();
            try {
              await fc.asyncModelRun(() => ({ model: newModel(), real }), commands);
            } finally {
              await real.memory.close();
            }
          },
        ),
        propertyParameters(25),
      );
    },
    propertyTimeout(120_000),
  );
});

// ------------------------------------------------------------------------------ shared chat model

/** Users whose ids look alike, each sharing one chat model with the others. */
const CHAT_USERS = ["alice", "Alice", "alice ", "alice\u0000", "al", "alice|r1", '"alice"', "null"];
/** The word that marks a user's facts, messages and answers, so any mix-up is visible. */
const markOf = (user: number) => `mark${user}`;
const marksIn = (text: string) => [...new Set(text.match(/mark\d+/g) ?? [])];

interface ChatCall {
  user: number;
  /** How the call names its user. */
  via: "configurable" | "option";
  stream: boolean;
  /** Wait before the call starts, in ms. */
  startMs: number;
  /** How long the inner model takes to answer, in ms. */
  replyMs: number;
}

const chatCallArb: fc.Arbitrary<ChatCall> = fc.record({
  user: fc.nat(CHAT_USERS.length - 1),
  via: fc.constantFrom("configurable" as const, "option" as const),
  stream: fc.boolean(),
  startMs: fc.nat(5),
  replyMs: fc.nat(15),
});

describe("a shared Mem0ChatModel under concurrent users (property-based)", () => {
  it(
    "never mixes users: each prompt holds only its user's facts, each turn lands in its scope",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(chatCallArb, { minLength: 2, maxLength: 12 }), async (calls) => {
          const violations: string[] = [];
          const prompts = new Map<number, string>();
          server.setHandler((request) => {
            const extraction = request.tools?.[0]?.function?.name === "memory_operations";
            const input = extraction ? parseExtractionInput(request.lastUserText) : undefined;
            // The question names its call; stored facts and earlier turns mention other calls.
            const question = input
              ? (input.conversation.find((m) => m.role === "user")?.content ?? "")
              : request.lastUserText;
            const ask = Number(/ask(\d+): what/.exec(question)?.[1] ?? NaN);
            const call = calls[ask];
            if (!call) {
              violations.push(`a request without a known call: ${question.slice(0, 200)}`);
              return "?";
            }
            const mark = markOf(call.user);
            if (input) {
              const seen = [
                ...input.existing.map((m) => m.text),
                ...input.context.map((m) => m.content),
                ...input.conversation.map((m) => m.content),
              ];
              for (const other of marksIn(seen.join(" ")).filter((m) => m !== mark)) {
                violations.push(`the extraction for ${mark} (ask${ask}) saw ${other}`);
              }
              return { json: { add: [`fact ${mark} ask${ask}`], update: [], delete: [] } };
            }
            prompts.set(ask, request.messages.map((m) => JSON.stringify(m.content)).join("\n"));
            return { content: `answer ${mark} ask${ask}`, delayMs: call.replyMs };
          });
          const memory = new Memory({
            llm: chat(),
            embeddings: new HashEmbeddings({ dimensions: 64 }),
            path: ":memory:",
            recoverOnOpen: false,
          });
          const model = new Mem0ChatModel({ model: chat(), memory });
          try {
            for (const [user, id] of CHAT_USERS.entries()) {
              await memory.add([`${markOf(user)} likes tea`, `${markOf(user)} plays chess`], {
                userId: id,
                infer: false,
              });
            }
            await Promise.all(
              calls.map(async (call, ask) => {
                await sleep(call.startMs);
                const input = `${markOf(call.user)} ask${ask}: what do I like, tea or chess?`;
                const userId = CHAT_USERS[call.user];
                const options =
                  call.via === "configurable"
                    ? { configurable: { user_id: userId } }
                    : { user_id: userId };
                if (!call.stream) return model.invoke(input, options);
                for await (const _chunk of await model.stream(input, options)) {
                  // drained
                }
              }),
            );
            expect(await model.flush()).toBe(true);
            expect(violations).toEqual([]);
            for (const [ask, call] of calls.entries()) {
              const prompt = prompts.get(ask) ?? "";
              expect({ ask, marks: marksIn(prompt) }).toEqual({ ask, marks: [markOf(call.user)] });
              expect(prompt).toContain(`${markOf(call.user)} likes tea`);
            }
            for (const [user, id] of CHAT_USERS.entries()) {
              const stored = (await memory.getAll({ userId: id, topK: 1000 })).results;
              expect({ id, marks: marksIn(stored.map((m) => m.memory).join(" ")) }).toEqual({
                id,
                marks: [markOf(user)],
              });
              const facts = calls.flatMap((call, ask) =>
                call.user === user ? [`fact ${markOf(user)} ask${ask}`] : [],
              );
              expect(stored.map((m) => m.memory)).toEqual(expect.arrayContaining(facts));
            }
          } finally {
            await model.close();
            await memory.close();
          }
        }),
        propertyParameters(15),
      );
    },
    propertyTimeout(60_000),
  );
});

// ------------------------------------------------------------------------------ regressions

/** Shrunk counterexamples the properties found, kept as plain tests. */
describe("isolation regressions", () => {
  const likesTea = {
    json: {
      add: [],
      update: [],
      delete: [],
      relations: [{ source: "user", relation: "likes", destination: "tea" }],
      aliases: [],
      invalidate: [],
    },
  };
  const relations = async (memory: Memory, scope: MemoryScope) =>
    (await memory.graph.getAll(scope)).map((r) => `${r.source} ${r.relationship} ${r.destination}`);

  it('keeps "alice " and "alice" apart: owner ids are matched exactly, never trimmed', async () => {
    const { memory } = newReal();
    try {
      await memory.add("n0 tea", { userId: "alice", infer: false });
      await memory.enqueue("n1 tea", { userId: "alice", infer: false });
      for (const scope of [{ userId: "alice " }, { filters: { user_id: "alice " } }]) {
        expect((await memory.getAll(scope)).results).toEqual([]);
        expect((await memory.search("tea", scope)).results).toEqual([]);
      }
      expect(await memory.outbox({ userId: "alice " })).toEqual([]);
      await memory.deleteAll({ userId: "alice " });
      expect((await memory.getAll({ userId: "alice" })).results).toHaveLength(1);
      expect(await memory.outbox({ userId: "alice" })).toHaveLength(1);
    } finally {
      await memory.close();
    }
  });

  it("links a relation only to the owner's own entities, so deleting another scope keeps it", async () => {
    const { memory } = newReal();
    server.setHandler(() => likesTea);
    try {
      // A user-only write sees the user's runs, an agent-only write sees the agent's users:
      // their relations used to point at those scopes' entities and vanished with them.
      await memory.add("I like tea", { userId: "alice", runId: "r1" });
      await memory.add("I like tea", { userId: "alice" });
      await memory.add("I like tea", { userId: "bob", agentId: "a1" });
      await memory.add("I like tea", { agentId: "a1" });
      await memory.deleteAll({ userId: "alice", runId: "r1" });
      await memory.deleteAll({ userId: "bob" });
      expect(await relations(memory, { userId: "alice" })).toEqual(["alice likes tea"]);
      expect(await relations(memory, { agentId: "a1" })).toEqual(["user likes tea"]);
      expect((await memory.graph.entities({ agentId: "a1" })).map((e) => e.name).sort()).toEqual([
        "tea",
        "user",
      ]);
    } finally {
      await memory.close();
    }
  });

  it("ranks a scope's keyword matches by the scope's statistics, not the whole store's", async () => {
    const memory = new Memory({
      embeddings: new HashEmbeddings({ dimensions: 64 }),
      path: ":memory:",
      recoverOnOpen: false,
    });
    try {
      await memory.add("paris own0", { userId: "alice", infer: false });
      await memory.add("tea own1", { userId: "alice", infer: false });
      const search = () => memory.search("tea paris", { userId: "alice", explain: true });
      const before = await search();
      for (let i = 0; i < 5; i++)
        await memory.add(`tea other${i}`, { userId: "bob", infer: false });
      expect(await search()).toEqual(before);
    } finally {
      await memory.close();
    }
  });

  it('names the user of an id without letters or digits "user" in the graph', async () => {
    const { memory } = newReal();
    server.setHandler(() => likesTea);
    try {
      await memory.add("I like tea", { userId: "[", runId: "," });
      expect(await relations(memory, { userId: "[" })).toEqual(["user likes tea"]);
    } finally {
      await memory.close();
    }
  });
});

/**
 * Section 2: what one `add` costs over a scripted 50-turn conversation. Both systems talk to
 * FakeOpenAIServer through ChatOpenAI / OpenAIEmbeddings, so LLM calls, embedding requests
 * and tokens are counted on real HTTP; each system's LLM replies are scripted in the shape its
 * own prompt asks for.
 */
import path from "node:path";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { z } from "zod";
import { Memory } from "../src/backends/memory.js";
import {
  FakeOpenAIServer,
  parseExtractionInput,
  type FakeChatReply,
  type FakeChatRequest,
} from "../src/testing/index.js";
import { CONVERSATION, type ScriptedTurn } from "./conversation.js";
import type { BenchContext, SectionResult } from "./report.js";
import { fixed, markdownTable, mean, pct, summarize, type Summary } from "./stats.js";
import { closeMem0, createMem0 } from "./systems.js";

const DIMENSIONS = 384;
const USER = "maya";

/** A fetch that adds the time spent in chat-completion requests (body included) to a total. */
function llmTimedFetch() {
  const timer = {
    llmMs: 0,
    fetch: async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.endsWith("/chat/completions")) return fetch(input, init);
      const start = performance.now();
      const response = await fetch(input, init);
      const body = await response.arrayBuffer();
      timer.llmMs += performance.now() - start;
      return new Response(body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    },
  };
  return timer;
}

function clients(server: FakeOpenAIServer, timer: ReturnType<typeof llmTimedFetch>) {
  const configuration = { baseURL: server.baseURL, fetch: timer.fetch };
  return {
    llm: new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "sk-bench", maxRetries: 0, configuration }),
    embeddings: new OpenAIEmbeddings({
      model: "text-embedding-3-small",
      apiKey: "sk-bench",
      dimensions: DIMENSIONS,
      maxRetries: 0,
      configuration,
    }),
  };
}

/** The engine's extraction input, read back from the request. */
function extractionInput(request: FakeChatRequest) {
  const input = request.messages.find((message) => message.role === "user");
  return parseExtractionInput(typeof input?.content === "string" ? input.content : "");
}

/**
 * Our extraction reply: the turn's facts as additions, or, when the turn replaces a fact the
 * engine offered as an existing memory, an update of it (a delete if the turn brings no new
 * fact).
 */
function oursReply(turn: ScriptedTurn, request: FakeChatRequest): FakeChatReply {
  const offered = turn.replaces
    ? extractionInput(request).existing.find(({ text }) => text === turn.replaces)
    : undefined;
  if (!offered) return { json: { add: turn.facts, update: [], delete: [] } };
  const { id } = offered;
  const [first, ...rest] = turn.facts;
  return first === undefined
    ? { json: { add: [], update: [], delete: [{ id }] } }
    : { json: { add: rest, update: [{ id, text: first }], delete: [] } };
}

/** The relation a scripted fact states about the user: "Lives in Lisbon" → user —lives_in→ lisbon. */
function relationOf(fact: string) {
  const words = fact.split(" ");
  const cut = Math.min(2, words.length - 1);
  return {
    source: "user",
    relation: words.slice(0, cut).join("_").toLowerCase(),
    destination: words.slice(cut).join(" ").toLowerCase(),
  };
}

/**
 * Our reply with graph memory on: the same fact operations, the turn's facts as relations,
 * and the relation of a superseded fact invalidated when the engine offered it.
 */
function oursGraphReply(turn: ScriptedTurn, request: FakeChatRequest): FakeChatReply {
  const base = oursReply(turn, request) as { json: Record<string, unknown> };
  const old = turn.replaces ? relationOf(turn.replaces) : undefined;
  const offered = old
    ? extractionInput(request).relations?.find(({ text }) =>
        text.endsWith(` —${old.relation}→ ${old.destination}`),
      )
    : undefined;
  return {
    json: {
      ...base.json,
      relations: turn.facts.map(relationOf),
      aliases: [],
      invalidate: offered ? [{ id: offered.id }] : [],
    },
  };
}

/** The profile of the profile row: what a user profile typically holds. */
const PROFILE_SCHEMA = z.object({
  name: z.string(),
  city: z.string(),
  job: z.string(),
  diet: z.string(),
  allergies: z.array(z.string()),
});

/** Profile fields a scripted fact sets ("Lives in Porto" → city: "Porto"). */
const PROFILE_FACTS: [RegExp, keyof z.infer<typeof PROFILE_SCHEMA>][] = [
  [/^Name is (.+)$/, "name"],
  [/^Lives in (.+)$/, "city"],
  [/^Works as (.+)$/, "job"],
  [/^Is (vegetarian|vegan|pescatarian)$/, "diet"],
  [/^Is allergic to (.+)$/, "allergies"],
];

/** Our reply with a profile: the same operations and the patch of the fields the turn changes. */
function oursProfileReply(turn: ScriptedTurn, request: FakeChatRequest): FakeChatReply {
  const base = oursReply(turn, request) as { json: Record<string, unknown> };
  const current = (extractionInput(request).profile ?? {}) as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const fact of turn.facts) {
    for (const [pattern, field] of PROFILE_FACTS) {
      const value = pattern.exec(fact)?.[1];
      if (value === undefined) continue;
      patch[field] =
        field === "allergies" ? [...((current.allergies as string[]) ?? []), value] : value;
    }
  }
  return { json: { ...base.json, profile: patch } };
}

/** mem0ai's extraction reply, in the `{"memory": [...]}` shape its additive prompt asks for. */
function mem0Reply(turn: ScriptedTurn): FakeChatReply {
  return JSON.stringify({
    memory: turn.facts.map((text, i) => ({ id: String(i), text, attributed_to: "user" })),
  });
}

interface AddFigures {
  system: string;
  adds: number;
  llmCalls: number[];
  embeddingRequests: number[];
  embeddedTexts: number[];
  promptTokens: number[];
  completionTokens: number[];
  wallMs: Summary;
  llmMs: Summary;
  wallExcludingLlmMs: Summary;
  events: Record<string, number>;
  memoriesAfter: number;
}

type AddFn = (turn: ScriptedTurn) => Promise<string[]>;

async function runConversation(
  system: string,
  server: FakeOpenAIServer,
  timer: ReturnType<typeof llmTimedFetch>,
  add: AddFn,
  count: () => Promise<number>,
): Promise<AddFigures> {
  const figures = {
    llmCalls: [] as number[],
    embeddingRequests: [] as number[],
    embeddedTexts: [] as number[],
    promptTokens: [] as number[],
    completionTokens: [] as number[],
  };
  const wall: number[] = [];
  const llm: number[] = [];
  const events: Record<string, number> = {};
  for (const turn of CONVERSATION) {
    server.clearRecords();
    const llmBefore = timer.llmMs;
    const start = performance.now();
    const turnEvents = await add(turn);
    wall.push(performance.now() - start);
    llm.push(timer.llmMs - llmBefore);
    for (const event of turnEvents) events[event] = (events[event] ?? 0) + 1;
    const usage = server.usage;
    const embeddingRequests = server.embeddingRequests;
    figures.llmCalls.push(server.chatRequests.length);
    figures.embeddingRequests.push(embeddingRequests.length);
    figures.embeddedTexts.push(
      embeddingRequests.reduce(
        (sum, { input }) => sum + (typeof input === "string" ? 1 : input.length),
        0,
      ),
    );
    figures.promptTokens.push(usage.promptTokens);
    figures.completionTokens.push(usage.completionTokens);
  }
  return {
    system,
    adds: CONVERSATION.length,
    ...figures,
    wallMs: summarize(wall),
    llmMs: summarize(llm),
    wallExcludingLlmMs: summarize(wall.map((value, i) => value - llm[i])),
    events,
    memoriesAfter: await count(),
  };
}

const messagesOf = (turn: ScriptedTurn) => [
  { role: "user", content: turn.user },
  { role: "assistant", content: turn.assistant },
];

/** Our engine as measured: plain, with graph memory, or with a profile schema. */
type Variant = "graph off" | "graph on" | "profile";

const REPLIES: Record<Variant, (turn: ScriptedTurn, request: FakeChatRequest) => FakeChatReply> = {
  "graph off": oursReply,
  "graph on": oursGraphReply,
  profile: oursProfileReply,
};

async function measureOurs(context: BenchContext, variant: Variant): Promise<AddFigures> {
  const server = await FakeOpenAIServer.start({ embeddingDimensions: DIMENSIONS });
  const timer = llmTimedFetch();
  const { llm, embeddings } = clients(server, timer);
  const memory = new Memory({
    llm,
    embeddings,
    graph: variant === "graph on",
    profile: variant === "profile" ? PROFILE_SCHEMA : undefined,
    path: path.join(context.tmpDir, `add-cost-ours-${variant.replace(" ", "-")}.db`),
  });
  let current: ScriptedTurn = CONVERSATION[0];
  server.setHandler((request) => REPLIES[variant](current, request));
  try {
    return await runConversation(
      `ours (${variant === "profile" ? "profile schema, graph off" : variant})`,
      server,
      timer,
      async (turn) => {
        current = turn;
        const { results } = await memory.add(messagesOf(turn), { userId: USER });
        return results.map((event) => event.event);
      },
      async () => (await memory.getAll({ userId: USER, topK: 1000 })).results.length,
    );
  } finally {
    await memory.close();
    await server.close();
  }
}

async function measureMem0(context: BenchContext): Promise<AddFigures> {
  const server = await FakeOpenAIServer.start({ embeddingDimensions: DIMENSIONS });
  const timer = llmTimedFetch();
  const { llm, embeddings } = clients(server, timer);
  const memory = await createMem0({
    dbPath: path.join(context.tmpDir, "add-cost-mem0.db"),
    embeddings,
    llm,
  });
  let current: ScriptedTurn = CONVERSATION[0];
  server.setHandler(() => mem0Reply(current));
  try {
    // Let its start-up (a dimension probe embedding) finish outside the measured adds.
    await memory.getAll({ filters: { user_id: USER } });
    return await runConversation(
      "mem0ai 3",
      server,
      timer,
      async (turn) => {
        current = turn;
        const { results } = await memory.add(messagesOf(turn), { userId: USER });
        return results.map((item) => String(item.metadata?.event ?? "ADD"));
      },
      async () => (await memory.getAll({ filters: { user_id: USER }, topK: 1000 })).results.length,
    );
  } finally {
    closeMem0(memory);
    await server.close();
  }
}

export async function addCost(context: BenchContext): Promise<SectionResult> {
  const ours = await measureOurs(context, "graph off");
  const oursGraph = await measureOurs(context, "graph on");
  const oursProfile = await measureOurs(context, "profile");
  const mem0 = await measureMem0(context);
  const max = (values: number[]) => Math.max(...values);
  const row = (figures: AddFigures) => [
    figures.system,
    `${fixed(mean(figures.llmCalls), 2)} (max ${max(figures.llmCalls)})`,
    `${fixed(mean(figures.embeddingRequests), 2)} (max ${max(figures.embeddingRequests)})`,
    fixed(mean(figures.embeddedTexts), 1),
    fixed(mean(figures.promptTokens), 0),
    fixed(mean(figures.completionTokens), 0),
    pct(figures.wallExcludingLlmMs),
    Object.entries(figures.events)
      .map(([event, n]) => `${n} ${event}`)
      .join(", "),
    figures.memoriesAfter,
  ];
  const facts = CONVERSATION.reduce((sum, turn) => sum + turn.facts.length, 0);
  const superseded = CONVERSATION.filter((turn) => turn.replaces).length;
  return {
    title: `2. Cost per add (scripted ${CONVERSATION.length}-turn conversation, one add per turn)`,
    parameters: {
      turns: CONVERSATION.length,
      scriptedFacts: facts,
      supersededFacts: superseded,
      embeddingDimensions: DIMENSIONS,
      transport: "ChatOpenAI / OpenAIEmbeddings → FakeOpenAIServer over HTTP, zero added latency",
    },
    figures: { systems: [ours, oursGraph, oursProfile, mem0] },
    markdown: markdownTable(
      [
        "system",
        "LLM calls / add",
        "embedding requests / add",
        "texts embedded / add",
        "prompt tokens / add",
        "completion tokens / add",
        "wall excl. LLM p50 / p95 / p99 ms",
        "memory events",
        "memories after",
      ],
      [row(ours), row(oursGraph), row(oursProfile), row(mem0)],
    ),
    notes: [
      `The script holds ${facts} facts; ${superseded} turns supersede an earlier fact (moves, job change, ` +
        "diet change…). Ours is scripted to update (or delete) the superseded memory when the engine offers " +
        "it to the LLM; mem0ai 3 only adds, so superseded facts stay.",
      "Wall time excludes LLM latency: the time spent in chat-completion HTTP requests is subtracted; " +
        "embedding requests stay in (they are real HTTP round trips to the local fake).",
      "Tokens are FakeOpenAIServer's estimate (characters ÷ 4), the same rule for both systems.",
      "Graph on: the same script also states each fact as a relation of the user and invalidates " +
        "the relation of a superseded fact when the engine offers it.",
      "Profile: a 5-field zod schema (name, city, job, diet, allergies); the script returns the " +
        "fields a turn changes next to the operations. What the profile adds per add is the " +
        "difference of its prompt / completion tokens with the graph-off row (schema in the " +
        "function, instructions, current profile section; the patch).",
      "Texts embedded per add include the turn's 2 messages (episode recall), in the same request.",
      "Target: 1 LLM call and ≤ 2 embedding requests per add, graph on or off, profile or not.",
    ],
  };
}

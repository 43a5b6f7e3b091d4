/**
 * Section 6: Postgres next to SQLite and mem0ai, in the same run. Search latency and recall at
 * 1k / 10k (full: also 100k) memories in one scope; the store's share of an `add`; and
 * throughput of one vs two app instances (separate processes) adding at once. Needs
 * `DATABASE_URL` (scripts/with-postgres.sh); without it the section only says how to run it.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import pg from "pg";
import { Memory } from "../src/backends/memory.js";
import { PostgresStore } from "../src/stores/postgres.js";
import { FakeOpenAIServer, HashEmbeddings } from "../src/testing/index.js";
import { memoryTexts } from "./corpus.js";
import type { BenchContext, SectionResult } from "./report.js";
import { buildQueries, measure, userOf, type Size, type SystemFigures } from "./search_latency.js";
import { fixed, markdownTable, ms, pct, summarize, type Summary } from "./stats.js";
import { createMem0, loadTexts, mem0System, oursSystem, type MemorySystem } from "./systems.js";

const DIMENSIONS = 384;
const DATABASE_URL = process.env.DATABASE_URL;
const WORKER = new URL("./throughput_worker.ts", import.meta.url).pathname;
const REGISTER = new URL("./register.mjs", import.meta.url).pathname;

const SIZES: Size[] = [
  { label: "1k", scopes: 1, perScope: 1_000 },
  { label: "10k", scopes: 1, perScope: 10_000 },
];
const FULL_SIZES: Size[] = [
  ...SIZES,
  {
    label: "100k",
    scopes: 1,
    perScope: 100_000,
    skipBaseline: "not run at 100k here (see section 1 for mem0ai at 100k)",
  },
];

const schemas: string[] = [];
function postgresStore(options: { exactSearch?: boolean; schema?: string } = {}): PostgresStore {
  const schema = options.schema ?? `bench_${process.pid}_${schemas.length}`;
  if (!schemas.includes(schema)) schemas.push(schema);
  return new PostgresStore({
    connectionString: DATABASE_URL,
    schema,
    exactSearch: options.exactSearch,
  });
}

async function dropSchemas(): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  for (const schema of schemas.splice(0))
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
}

async function searchAt(size: Size, context: BenchContext) {
  const embeddings = new HashEmbeddings({ dimensions: DIMENSIONS });
  const queryCount = context.full ? 200 : 100;
  const { queries, vectorOf } = buildQueries(size, queryCount);
  const texts = (offset: number, count: number) => memoryTexts(offset, count);
  const results: SystemFigures[] = [];
  const run = async (system: MemorySystem, load = true) => {
    const loadMs = load ? await loadTexts(system, userOf(0), size.perScope, texts) : 0;
    return { system, loadMs };
  };
  const dir = fs.mkdtempSync(path.join(context.tmpDir, "pg-search-"));
  // Vector-only rows: no keyword and no context ranking, so recall against exact cosine is exact.
  const vectorOnly = { keywordWeight: 0, contextWeight: 0 };
  const sqlite = new Memory({ embeddings, path: path.join(dir, "ours.db"), ...vectorOnly });
  const s = await run(oursSystem("SQLite (exact scan of a cached scope)", sqlite));
  results.push(await measure(s.system, s.loadMs, size, queries, vectorOf, Infinity));
  await sqlite.close();

  const hnswStore = postgresStore();
  const hnsw = new Memory({ embeddings, store: hnswStore, ...vectorOnly });
  const h = await run(oursSystem("Postgres, HNSW index (default)", hnsw));
  results.push(await measure(h.system, h.loadMs, size, queries, vectorOf, Infinity));
  const exact = new Memory({
    embeddings,
    store: postgresStore({ exactSearch: true, schema: hnswStore.schema }),
    ...vectorOnly,
  });
  results.push(
    await measure(
      oursSystem("Postgres, exact (exactSearch: true)", exact),
      h.loadMs,
      size,
      queries,
      vectorOf,
      context.full ? 60_000 : 20_000,
    ),
  );
  const hybrid = new Memory({ embeddings, store: postgresStore({ schema: hnswStore.schema }) });
  results.push(
    await measure(
      oursSystem("Postgres, HNSW + keyword (hybrid)", hybrid),
      h.loadMs,
      size,
      queries,
      vectorOf,
      Infinity,
    ),
  );
  await Promise.all([hnsw.close(), exact.close(), hybrid.close()]);

  if (!size.skipBaseline) {
    const mem0 = mem0System(
      "mem0ai 3 (SQLite :memory:)",
      await createMem0({ dbPath: ":memory:", embeddings }),
    );
    const m = await run(mem0);
    results.push(
      await measure(mem0, m.loadMs, size, queries, vectorOf, context.full ? 60_000 : 20_000),
    );
    await mem0.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
  await dropSchemas();
  return { size, results };
}

/** Wall time of inferred adds with an instant fake LLM: what the store and engine cost. */
async function addCost(context: BenchContext) {
  const server = await FakeOpenAIServer.start({ embeddingDimensions: DIMENSIONS });
  const configuration = { baseURL: server.baseURL };
  const llm = new ChatOpenAI({
    model: "gpt-4o-mini",
    apiKey: "test",
    configuration,
    maxRetries: 0,
  });
  const embeddings = new OpenAIEmbeddings({ apiKey: "test", configuration, maxRetries: 0 });
  let turn = 0;
  server.setHandler(() => ({
    json: { add: [`User visited city ${turn}`, `User liked dish ${turn}`], update: [], delete: [] },
  }));
  const dir = fs.mkdtempSync(path.join(context.tmpDir, "pg-add-"));
  const adds = context.full ? 200 : 60;
  const timeAdds = async (add: (i: number) => Promise<unknown>): Promise<Summary> => {
    const times: number[] = [];
    for (turn = 0; turn < adds; turn++) {
      const start = performance.now();
      await add(turn);
      times.push(performance.now() - start);
    }
    return summarize(times.slice(5));
  };
  const ours = async (name: string, options: { path?: string; store?: PostgresStore }) => {
    const memory = new Memory({ llm, embeddings, ...options, recoverOnOpen: false });
    await memory.search("warm up", { userId: "u" });
    const wall = await timeAdds((i) => memory.add(`I went to city ${i}`, { userId: "u" }));
    await memory.close();
    return { system: name, wall };
  };
  const rows = [
    await ours("SQLite", { path: path.join(dir, "add.db") }),
    await ours("Postgres", { store: postgresStore() }),
  ];
  server.setHandler(() =>
    JSON.stringify({
      memory: [`User visited city ${turn}`, `User liked dish ${turn}`].map((text, i) => ({
        id: String(i),
        text,
        attributed_to: "user",
      })),
    }),
  );
  const mem0 = await createMem0({ dbPath: path.join(dir, "mem0.db"), embeddings, llm });
  await mem0.getAll({ filters: { user_id: "u" } });
  rows.push({
    system: "mem0ai 3 (SQLite file)",
    wall: await timeAdds((i) =>
      mem0.add([{ role: "user", content: `I went to city ${i}` }], { userId: "u" }),
    ),
  });
  await server.close();
  await dropSchemas();
  fs.rmSync(dir, { recursive: true, force: true });
  return { adds, rows };
}

/** Adds per second of `instances` processes adding at once to one store. */
async function throughput(target: string, baseURL: string, instances: number, adds: number) {
  const children = Array.from({ length: instances }, (_, i) =>
    spawn(
      process.execPath,
      ["--import", REGISTER, WORKER, target, baseURL, String(i), String(adds)],
      {
        env: { ...process.env, NODE_OPTIONS: "" },
      },
    ),
  );
  const outputs = children.map(
    (child) =>
      new Promise<string>((resolve, reject) => {
        let out = "";
        let err = "";
        child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
        child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
      }),
  );
  await Promise.all(
    children.map(
      (child) => new Promise<void>((resolve) => child.stdout.once("data", () => resolve())),
    ),
  );
  for (const child of children) child.stdin.write("go\n");
  const elapsed = (await Promise.all(outputs)).map((out) => Number(out.split("\n").at(-1)));
  return (instances * adds) / (Math.max(...elapsed) / 1000);
}

async function twoInstances(context: BenchContext) {
  const server = await FakeOpenAIServer.start({ embeddingDimensions: DIMENSIONS });
  // A realistic LLM answers in hundreds of ms; 50 ms keeps the run short and the overlap real.
  server.setHandler(() => ({
    json: { add: ["User visited a city"], update: [], delete: [] },
    delayMs: 50,
  }));
  const adds = context.full ? 100 : 40;
  const dir = fs.mkdtempSync(path.join(context.tmpDir, "pg-throughput-"));
  const rows = [];
  for (const [name, target] of [
    ["SQLite (one file)", () => path.join(dir, `t-${rows.length}.db`)],
    ["Postgres", () => `${DATABASE_URL}#${postgresStore().schema}`],
  ] as const) {
    const one = await throughput(target(), server.baseURL, 1, adds);
    const two = await throughput(target(), server.baseURL, 2, adds);
    rows.push({ system: name, one, two });
  }
  await server.close();
  await dropSchemas();
  fs.rmSync(dir, { recursive: true, force: true });
  return { adds, llmDelayMs: 50, rows };
}

export async function postgresSection(context: BenchContext): Promise<SectionResult> {
  const title = "6. Postgres next to SQLite and mem0ai (search, add, two app instances)";
  if (!DATABASE_URL) {
    return {
      title,
      parameters: {},
      figures: { skipped: true },
      markdown:
        "Skipped: no DATABASE_URL. Run `scripts/with-postgres.sh npm run bench -- --only postgres`.",
      notes: [],
    };
  }
  const sizes = context.full ? FULL_SIZES : SIZES;
  const search = [];
  for (const size of sizes) search.push(await searchAt(size, context));
  const add = await addCost(context);
  const instances = await twoInstances(context);
  const searchRows = search.flatMap(({ size, results }) =>
    results.map((r) => [
      size.label,
      r.system,
      (r.loadMs / 1000).toFixed(1),
      ms(r.firstQuery.p50),
      pct(r.latency),
      `${r.queriesRun}${r.budgetExhausted ? " (budget)" : ""}`,
      fixed(r.recall, 3),
    ]),
  );
  return {
    title,
    parameters: { sizes, dimensions: DIMENSIONS, adds: add.adds, throughputAdds: instances.adds },
    figures: { search, add, instances },
    markdown: [
      markdownTable(
        [
          "size",
          "system",
          "load s",
          "first query ms",
          "search p50 / p95 / p99 ms",
          "queries",
          "recall@10 vs exact",
        ],
        searchRows,
      ),
      markdownTable(
        ["system", `add wall ms p50 / p95 / p99 (instant fake LLM, ${add.adds} adds)`],
        add.rows.map((row) => [row.system, pct(row.wall)]),
      ),
      markdownTable(
        ["store", "adds/s, one instance", "adds/s, two instances (two processes)", "scaling"],
        instances.rows.map((row) => [
          row.system,
          row.one.toFixed(1),
          row.two.toFixed(1),
          `${(row.two / row.one).toFixed(2)}×`,
        ]),
      ),
    ].join("\n\n"),
    notes: [
      "Postgres: a throwaway local cluster (scripts/with-postgres.sh, fsync off), pgvector 0.8.6, HNSW m 16, " +
        "ef_construction 64, ef_search 100 with iterative scans; SQLite: the embedded default.",
      "Search rows are vector-only (keywordWeight 0, contextWeight 0) unless marked hybrid; recall is against exact cosine, so for the hybrid row it measures how far keywords and context reorder the vector ranking, not quality.",
      `Two instances: each process runs ${instances.adds} inferred adds for distinct users against a fake ` +
        `LLM that answers in ${instances.llmDelayMs} ms; adds/s = all adds ÷ the slower process's time.`,
    ],
  };
}

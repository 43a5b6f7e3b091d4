/**
 * Section 1: search latency against store size. A zero-latency deterministic embedder
 * (HashEmbeddings, 384 dimensions) makes the store what is timed; recall is measured against
 * the exact cosine top-10 computed here by brute force.
 */
import fs from "node:fs";
import path from "node:path";
import { DEFAULT_KEYWORD_WEIGHT, Memory } from "../src/backends/memory.js";
import { KeywordIndex } from "../src/stores/keyword_index.js";
import { DEFAULT_APPROXIMATE_FROM } from "../src/stores/sqlite.js";
import { jsKernel, nativeKernel } from "../src/stores/vector_index.js";
import { hashEmbedding, HashEmbeddings } from "../src/testing/index.js";
import { memoryQuery, memoryTexts, queryText } from "./corpus.js";
import { checkTarget, type BenchContext, type SectionResult, type TargetCheck } from "./report.js";
import { fixed, markdownTable, mib, ms, pct, speedup, summarize, type Summary } from "./stats.js";
import {
  createMem0,
  loadTexts,
  mem0System,
  oursSystem,
  type Hit,
  type MemorySystem,
} from "./systems.js";

const DIMENSIONS = 384;
const TOP_K = 10;
/** Scores within this distance of the 10th exact score count as hits (float ties). */
const TIE_TOLERANCE = 1e-5;
const WARMUP_QUERIES = 5;
/** Candidates each pass of a search asks for (Memory.search: 4 × topK, at least 40). */
const CANDIDATES = 40;

export interface Size {
  label: string;
  scopes: number;
  perScope: number;
  /** Why mem0ai is not run at this size, if it is not. */
  skipBaseline?: string;
}

const QUICK_SIZES: Size[] = [
  { label: "1k", scopes: 1, perScope: 1_000 },
  { label: "10k", scopes: 1, perScope: 10_000 },
];
const FULL_SIZES: Size[] = [
  ...QUICK_SIZES,
  { label: "100k", scopes: 1, perScope: 100_000 },
  {
    label: "1M over 1,000 scopes",
    scopes: 1_000,
    perScope: 1_000,
    skipBaseline:
      "not run: mem0ai's SQLite store reads and JSON-parses every row of every user on each search " +
      "(twice: vector and keyword pass), which at 1M rows does not fit the time budget",
  },
];

interface Query {
  text: string;
  userId: string;
  vector: Float32Array;
  /** Exact top-10 cosine of the scope, as the 10th best score. */
  kthScore: number;
  /** The memory the query was made from (every other query), by its number. */
  target?: number;
}

export interface SystemFigures {
  system: string;
  loadMs: number;
  /** First search of each scope (ours loads the scope's vectors into memory then). */
  firstQuery: Summary;
  /** First search of the scope by a new store on the same file (a restart). */
  firstAfterRestart?: number;
  /** Reading the scope's saved search state (its files, nothing parsed), after the restart. */
  savedState?: { ms: number; bytes: number };
  latency: Summary;
  recall: number;
  /** Share of targeted queries whose memory is in the top 10. */
  found: number;
  queriesRun: number;
  budgetExhausted: boolean;
}

export const userOf = (scope: number) => `user-${scope}`;
const indexOf = (text: string) => Number(/^Note (\d+):/.exec(text)?.[1] ?? Number.NaN);

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/** Embeds every memory of a scope with the same function the systems use. */
function scopeVectors(size: Size, scope: number): Float32Array[] {
  return memoryTexts(scope * size.perScope, size.perScope).map(
    (text) => new Float32Array(hashEmbedding(text, DIMENSIONS)),
  );
}

/** Queries spread over distinct scopes, each with its exact 10th-best score. */
export function buildQueries(
  size: Size,
  count: number,
): { queries: Query[]; vectorOf: (i: number) => Float32Array } {
  const byScope = new Map<number, Float32Array[]>();
  const vectorsOf = (scope: number) => {
    let vectors = byScope.get(scope);
    if (!vectors) byScope.set(scope, (vectors = scopeVectors(size, scope)));
    return vectors;
  };
  const queries = Array.from({ length: count }, (_, i): Query => {
    const scope = Math.floor((i * size.scopes) / count) % size.scopes;
    const target =
      i % 2 === 1 ? scope * size.perScope + Math.floor(prngIndex(i) * size.perScope) : undefined;
    const text = target === undefined ? queryText(i) : memoryQuery(i, target);
    const vector = new Float32Array(hashEmbedding(text, DIMENSIONS));
    const scores = vectorsOf(scope)
      .map((memory) => dot(vector, memory))
      .sort((a, b) => b - a);
    return { text, userId: userOf(scope), vector, kthScore: scores[TOP_K - 1], target };
  });
  const vectorOf = (i: number) => vectorsOf(Math.floor(i / size.perScope))[i % size.perScope];
  return { queries, vectorOf };
}

/** A deterministic number in [0, 1) per query. */
function prngIndex(i: number): number {
  return ((Math.imul(i + 1, 2654435761) >>> 0) % 1_000_003) / 1_000_003;
}

function recallOf(hits: Hit[], query: Query, vectorOf: (i: number) => Float32Array): number {
  const correct = hits.filter(({ text }) => {
    const index = indexOf(text);
    return (
      Number.isFinite(index) && dot(query.vector, vectorOf(index)) >= query.kthScore - TIE_TOLERANCE
    );
  }).length;
  return correct / TOP_K;
}

export async function measure(
  system: MemorySystem,
  loadMs: number,
  size: Size,
  queries: Query[],
  vectorOf: (i: number) => Float32Array,
  budgetMs: number,
): Promise<SystemFigures> {
  const run = async (query: Query) => {
    const start = performance.now();
    const hits = await system.search(query.text, query.userId, TOP_K);
    return { ms: performance.now() - start, hits };
  };
  // Single scope: the first query is the cold one. Many scopes: every query hits a new scope.
  const cold = size.scopes === 1 ? queries.slice(0, 1) : queries;
  const firstQuery: number[] = [];
  for (const query of cold) firstQuery.push((await run(query)).ms);
  if (size.scopes === 1) for (const query of queries.slice(1, 1 + WARMUP_QUERIES)) await run(query);
  const latencies: number[] = [];
  const recalls: number[] = [];
  const found: number[] = [];
  const started = performance.now();
  let budgetExhausted = false;
  for (const query of queries) {
    if (latencies.length >= 3 && performance.now() - started > budgetMs) {
      budgetExhausted = true;
      break;
    }
    const { ms: elapsed, hits } = await run(query);
    latencies.push(elapsed);
    recalls.push(recallOf(hits, query, vectorOf));
    if (query.target !== undefined) {
      found.push(hits.some(({ text }) => indexOf(text) === query.target) ? 1 : 0);
    }
  }
  return {
    system: system.name,
    loadMs,
    firstQuery: summarize(firstQuery),
    latency: summarize(latencies),
    recall: recalls.reduce((sum, value) => sum + value, 0) / recalls.length,
    found: found.reduce((sum, value) => sum + value, 0) / found.length,
    queriesRun: latencies.length,
    budgetExhausted,
  };
}

/**
 * What each pass of a search costs alone on the same scope and queries, measured beside the
 * store: the vector kernel (exact float scan, or from `approximateFrom` the int8 scan the store
 * uses) and the BM25 keyword index. Their sum is the floor under the search latency.
 */
interface PassFloors {
  vector: Summary;
  keyword: Summary;
}

function passFloors(
  size: Size,
  queries: Query[],
  vectorOf: (i: number) => Float32Array,
): PassFloors {
  const rows = size.perScope;
  const kernel = nativeKernel() ?? jsKernel;
  const matrix = new Float32Array(rows * DIMENSIONS);
  for (let i = 0; i < rows; i++) matrix.set(vectorOf(i), i * DIMENSIONS);
  const quantized = rows >= DEFAULT_APPROXIMATE_FROM ? kernel.createIndex?.(DIMENSIONS) : undefined;
  quantized?.addAll(
    Array.from({ length: rows }, (_, i) => i),
    matrix,
  );
  const keywords = new KeywordIndex();
  memoryTexts(0, rows).forEach((text, i) => keywords.add(String(i), text));
  const time = (pass: (query: Query) => unknown) => {
    for (const query of queries.slice(0, WARMUP_QUERIES)) pass(query);
    return summarize(
      queries.map((query) => {
        const start = performance.now();
        pass(query);
        return performance.now() - start;
      }),
    );
  };
  return {
    vector: time((query) =>
      quantized
        ? quantized.search(query.vector, 2 * CANDIDATES)
        : kernel.exact(matrix, rows, DIMENSIONS, query.vector, CANDIDATES),
    ),
    keyword: time((query) => keywords.search(query.text, CANDIDATES)),
  };
}

/** Reads every file of a store's saved search state (`<file>-index/`), as a restart does. */
function readSavedState(file: string): { ms: number; bytes: number } | undefined {
  const dir = `${file}-index`;
  if (!fs.existsSync(dir)) return undefined;
  const start = performance.now();
  let bytes = 0;
  for (const name of fs.readdirSync(dir)) bytes += fs.readFileSync(path.join(dir, name)).length;
  return { ms: performance.now() - start, bytes };
}

async function runSize(size: Size, context: BenchContext) {
  const dir = fs.mkdtempSync(path.join(context.tmpDir, "search-"));
  const embeddings = new HashEmbeddings({ dimensions: DIMENSIONS });
  const queryCount = Math.min(context.full ? 200 : 100, size.scopes > 1 ? size.scopes : Infinity);
  const { queries, vectorOf } = buildQueries(size, queryCount);
  const textsOf = (scope: number) => (offset: number, count: number) =>
    memoryTexts(scope * size.perScope + offset, count);

  const hybrid = new Memory({ embeddings, path: path.join(dir, "ours.db") });
  const vectorOnly = new Memory({
    embeddings,
    store: hybrid.store,
    keywordWeight: 0,
    contextWeight: 0,
  });
  const ours = oursSystem(`ours, hybrid (default keywordWeight ${DEFAULT_KEYWORD_WEIGHT})`, hybrid);
  let loadMs = 0;
  for (let scope = 0; scope < size.scopes; scope++) {
    loadMs += await loadTexts(ours, userOf(scope), size.perScope, textsOf(scope));
  }
  const results: SystemFigures[] = [];
  const unlimited = Number.POSITIVE_INFINITY;
  results.push(
    await measure(
      oursSystem("ours, vector only (keywordWeight 0, contextWeight 0)", vectorOnly),
      loadMs,
      size,
      queries,
      vectorOf,
      unlimited,
    ),
  );
  const hybridFigures = await measure(ours, loadMs, size, queries, vectorOf, unlimited);
  results.push(hybridFigures);
  await hybrid.close();
  if (size.scopes === 1) {
    // A restart: a new store on the same file searches the scope for the first time.
    const reopened = new Memory({ embeddings, path: path.join(dir, "ours.db") });
    const start = performance.now();
    await reopened.search(queries[0].text, { userId: queries[0].userId, topK: TOP_K });
    hybridFigures.firstAfterRestart = performance.now() - start;
    await reopened.close();
    hybridFigures.savedState = readSavedState(path.join(dir, "ours.db"));
  }
  const floors =
    size.scopes === 1 && size.perScope >= 10_000 ? passFloors(size, queries, vectorOf) : undefined;

  if (!size.skipBaseline) {
    // In-memory SQLite: its file mode commits every insert on its own (~3 ms each here), which
    // would spend the budget on loading; its search reads the same rows either way.
    const mem0 = mem0System(
      "mem0ai 3 (SQLite :memory:)",
      await createMem0({ dbPath: ":memory:", embeddings }),
    );
    const mem0Load = await loadTexts(mem0, userOf(0), size.perScope, textsOf(0));
    const budget = (context.full ? 120_000 : 20_000) * (size.perScope >= 100_000 ? 2 : 1);
    results.push(await measure(mem0, mem0Load, size, queries, vectorOf, budget));
    await mem0.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { size, queries: queryCount, results, floors };
}

/** Search p95 limits of the targets, by size. */
const P95_LIMITS: Record<string, number> = { "10k": 1, "100k": 3 };
const FIRST_AFTER_RESTART_LIMIT = 100;

function searchTargets(runs: Awaited<ReturnType<typeof runSize>>[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const { size, results, floors } of runs) {
    const limit = P95_LIMITS[size.label];
    if (limit === undefined || !floors) continue;
    const vector = results.find((result) => result.system.startsWith("ours, vector only"))!;
    const hybrid = results.find((result) => result.system.startsWith("ours, hybrid"))!;
    const kernel =
      size.perScope >= DEFAULT_APPROXIMATE_FROM
        ? `the int8 scan of ${size.label} × ${DIMENSIONS} codes (${mib(size.perScope * DIMENSIONS)} read per query)`
        : `the exact float scan of ${size.label} × ${DIMENSIONS}`;
    const vectorPass = `${kernel} alone takes p50 / p95 ${ms(floors.vector.p50)} / ${ms(floors.vector.p95)} ms`;
    checks.push(
      checkTarget(
        `search p95 at ${size.label}, vector-only ≤ ${limit} ms`,
        `${ms(vector.latency.p95)} ms`,
        vector.latency.p95 <= limit,
        () => `${vectorPass}; the rest is the store's own work (candidate rows, re-scoring, JS)`,
      ),
      checkTarget(
        `search p95 at ${size.label}, hybrid ≤ ${limit} ms`,
        `${ms(hybrid.latency.p95)} ms`,
        hybrid.latency.p95 <= limit,
        () =>
          `${vectorPass}, the BM25 pass alone ${ms(floors.keyword.p50)} / ${ms(floors.keyword.p95)} ms; ` +
          "the rest is fusion, candidate rows and neighbours",
      ),
      checkTarget(
        `recall@10 vs exact at ${size.label} ≥ .98`,
        fixed(vector.recall, 3),
        vector.recall >= 0.98,
        () => "the approximate index lost neighbours",
      ),
      checkTarget(
        `found@10 at ${size.label}: hybrid ≥ vector-only`,
        `${fixed(hybrid.found, 3)} vs ${fixed(vector.found, 3)}`,
        hybrid.found >= vector.found,
        () => "keyword scores displaced semantic hits",
      ),
    );
    const restart = hybrid.firstAfterRestart;
    if (size.label === "100k" && restart !== undefined) {
      checks.push(
        checkTarget(
          `first search of a 100k scope after restart ≤ ${FIRST_AFTER_RESTART_LIMIT} ms`,
          `${ms(restart)} ms`,
          restart <= FIRST_AFTER_RESTART_LIMIT,
          () =>
            hybrid.savedState
              ? `reading the saved state (${mib(hybrid.savedState.bytes)}) alone takes ` +
                `${ms(hybrid.savedState.ms)} ms here; the rest is opening the store, restoring the ` +
                "state (the ids parsed, the arrays set up) and the first, not yet optimised run of " +
                "the search code over 100k rows"
              : "no saved state was found",
        ),
      );
    }
  }
  return checks;
}

export async function searchLatency(context: BenchContext): Promise<SectionResult> {
  const sizes = (context.sizes ? FULL_SIZES : context.full ? FULL_SIZES : QUICK_SIZES).filter(
    (size) => !context.sizes || context.sizes.includes(size.label.split(" ")[0]),
  );
  const runs = [];
  for (const size of sizes) runs.push(await runSize(size, context));

  const rows = runs.flatMap(({ size, results }) => {
    const baseline = results.find((result) => result.system.startsWith("mem0ai"));
    return results.map((result) => [
      size.label,
      result.system,
      (result.loadMs / 1000).toFixed(1),
      size.scopes > 1 ? pct(result.firstQuery) : ms(result.firstQuery.p50),
      result.firstAfterRestart === undefined ? "–" : ms(result.firstAfterRestart),
      pct(result.latency),
      `${result.queriesRun}${result.budgetExhausted ? " (budget)" : ""}`,
      fixed(result.recall, 3),
      fixed(result.found, 3),
      baseline && baseline !== result ? speedup(baseline.latency.p50, result.latency.p50) : "–",
      baseline && baseline !== result ? speedup(baseline.latency.p95, result.latency.p95) : "–",
    ]);
  });
  const skipped = runs
    .filter(({ size }) => size.skipBaseline)
    .map(({ size }) => `mem0ai at ${size.label}: ${size.skipBaseline}.`);
  return {
    title: "1. Search latency vs store size (top-10, HashEmbeddings 384-d, one process)",
    parameters: {
      sizes,
      topK: TOP_K,
      dimensions: DIMENSIONS,
      warmupQueries: WARMUP_QUERIES,
      recall: `share of the exact cosine top-${TOP_K} (ties within ${TIE_TOLERANCE})`,
    },
    figures: runs,
    markdown: markdownTable(
      [
        "size",
        "system",
        "load s",
        "first query ms",
        "first query after restart ms",
        "search p50 / p95 / p99 ms",
        "queries",
        "recall@10 vs exact",
        "found@10",
        "speed-up p50",
        "speed-up p95",
      ],
      rows,
    ),
    notes: [
      "Speed-up = mem0ai latency ÷ ours, measured in the same run. First query = the scope's first " +
        "search (ours loads the scope's vectors then; with many scopes it is every query's first touch).",
      "Recall@10 vs exact = share of the exact cosine top-10 returned: it checks the vector path " +
        `(exact below ${DEFAULT_APPROXIMATE_FROM.toLocaleString("en")} memories per scope, a full int8 scan with exact re-scoring from there); the hybrid rows and mem0ai ` +
        "add keyword (and, for mem0ai, entity) scores by design, so they are not meant to be 1.0.",
      "found@10 = share of the queries made from one memory's own words (every other query, " +
        "`memoryQuery` in corpus.ts) that return that memory in the top 10: ranking quality, where hybrid " +
        "must be at least as good as vector-only.",
      "First query = the scope's first search in the process that loaded it (from 20k memories it builds and " +
        "saves the approximate index); after restart = the first search of a new store on the same file " +
        "(hybrid, default settings). With many scopes every query is a first touch.",
      "Targets: search p95 ≤ 1 ms at 10k and ≤ 3 ms at 100k (hybrid and vector-only), recall@10 vs exact " +
        "≥ .98, hybrid found@10 ≥ vector-only, first search after restart ≤ 100 ms at 100k.",
      ...skipped,
      ...runs
        .filter(({ floors }) => floors)
        .map(
          ({ size, floors }) =>
            `Each pass alone at ${size.label} (same scope and queries, beside the store): vector ` +
            `${pct(floors!.vector)} ms, BM25 ${pct(floors!.keyword)} ms.`,
        ),
    ],
    targets: searchTargets(runs),
  };
}

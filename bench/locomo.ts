/**
 * Section 4: evidence retrieval on LoCoMo. Every turn is stored verbatim (no LLM), one scope
 * per conversation; each question is searched in its conversation and scored against its
 * evidence turns. The data (CC BY-NC 4.0) is read at run time from `../shared/data` (or
 * `$LOCOMO_DIR`) and never copied into the repository.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { DEFAULT_CONTEXT_WEIGHT, DEFAULT_KEYWORD_WEIGHT, Memory } from "../src/backends/memory.js";
import { HashEmbeddings } from "../src/testing/index.js";
import { checkTarget, type BenchContext, type SectionResult, type TargetCheck } from "./report.js";
import { fixed, markdownTable, mean, pct, summarize, type Summary } from "./stats.js";
import { createMem0, mem0System, oursSystem, type MemorySystem } from "./systems.js";

const DIMENSIONS = 384;
const KS = [1, 5, 10, 50] as const;
const DEPTH = 50;
/** Conversations used in quick mode (all 10 in full mode). */
const QUICK_CONVERSATIONS = 4;

interface Turn {
  sample_id: string;
  dia_id: string;
  session: number;
  text: string;
}

interface Question {
  qid: string;
  sample_id: string;
  category: number;
  question: string;
  evidence: string[];
}

function readJsonl<T>(file: string): T[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}

/** The retrieval set: the prepared files if present, else generated into `tmpDir`. */
function loadDataset(tmpDir: string): { turns: Turn[]; questions: Question[]; source: string } {
  const repoRoot = path.dirname(path.dirname(new URL(import.meta.url).pathname));
  const dir = process.env.LOCOMO_DIR ?? path.resolve(repoRoot, "../shared/data");
  let filesDir = dir;
  if (
    !fs.existsSync(path.join(dir, "locomo-corpus.jsonl")) ||
    !fs.existsSync(path.join(dir, "locomo-queries.jsonl"))
  ) {
    filesDir = fs.mkdtempSync(path.join(tmpDir, "locomo-"));
    execFileSync(process.execPath, [
      path.join(dir, "locomo-retrieval-set.mjs"),
      path.join(dir, "locomo10.json"),
      filesDir,
    ]);
  }
  return {
    turns: readJsonl<Turn>(path.join(filesDir, "locomo-corpus.jsonl")),
    questions: readJsonl<Question>(path.join(filesDir, "locomo-queries.jsonl")),
    source: dir,
  };
}

/** Joins the turns of an episode into one hit text. */
const EPISODE_SEPARATOR = "\u0000";

/**
 * Episode recall as a ranked list: one position per episode (its matching turns with `window`
 * turns around them), from the turn log the verbatim ingest also keeps.
 */
function episodeSystem(name: string, memory: Memory, window: number): MemorySystem {
  return {
    name,
    addVerbatim: async () => undefined,
    async search(query, userId, topK) {
      const { episodes = [] } = await memory.search(query, {
        userId,
        topK: 1,
        episodes: { topK: Math.min(topK, 100), window },
      });
      return episodes.map((episode) => ({
        text: episode.messages.map(({ content }) => content).join(EPISODE_SEPARATOR),
        score: episode.score,
      }));
    },
    close: async () => undefined,
  };
}

/** Both engines deduplicate by text; identical turns map to every dia_id they stand for. */
const textKey = (text: string) => text.trim().replace(/\s+/g, " ").toLowerCase();

interface Scores {
  recall: Record<number, number>;
  allHit10: number;
  mrr: number;
  ndcg10: number;
}

function score(ranked: Set<string>[], evidence: string[]): Scores {
  const wanted = new Set(evidence);
  const found = new Set<string>();
  const recall: Record<number, number> = {};
  let mrr = 0;
  let dcg = 0;
  ranked.slice(0, DEPTH).forEach((ids, index) => {
    const fresh = [...ids].filter((id) => wanted.has(id) && !found.has(id));
    fresh.forEach((id) => found.add(id));
    if (fresh.length > 0) {
      if (mrr === 0) mrr = 1 / (index + 1);
      if (index < 10) dcg += 1 / Math.log2(index + 2);
    }
    for (const k of KS) if (index + 1 === k) recall[k] = found.size / wanted.size;
  });
  for (const k of KS) recall[k] ??= found.size / wanted.size;
  let ideal = 0;
  for (let i = 0; i < Math.min(wanted.size, 10); i++) ideal += 1 / Math.log2(i + 2);
  return { recall, allHit10: recall[10] === 1 ? 1 : 0, mrr, ndcg10: dcg / ideal };
}

function aggregate(scores: Scores[]) {
  return {
    questions: scores.length,
    recall: Object.fromEntries(KS.map((k) => [k, mean(scores.map((s) => s.recall[k]))])),
    allHit10: mean(scores.map((s) => s.allHit10)),
    mrr: mean(scores.map((s) => s.mrr)),
    ndcg10: mean(scores.map((s) => s.ndcg10)),
  };
}

/** LoCoMo targets with the default settings: Recall@10 and MRR over all categories. */
const RECALL_10_TARGET = 0.65;
const MRR_TARGET = 0.5;

function locomoTargets(defaults: SystemRun, full: boolean): TargetCheck[] {
  const all = defaults.byCategory.all;
  const scope = full ? "all 10 conversations" : `quick mode, ${QUICK_CONVERSATIONS} conversations`;
  const why = () =>
    "the hash embedder matches words, not meaning: an evidence turn that shares no word with " +
    "its question is found only through its neighbours' context";
  return [
    checkTarget(
      `LoCoMo Recall@10 with default settings ≥ ${RECALL_10_TARGET} (${scope})`,
      fixed(all.recall[10], 3),
      all.recall[10] >= RECALL_10_TARGET,
      why,
    ),
    checkTarget(
      `LoCoMo MRR with default settings ≥ ${MRR_TARGET} (${scope})`,
      fixed(all.mrr, 3),
      all.mrr >= MRR_TARGET,
      why,
    ),
  ];
}

interface SystemRun {
  system: string;
  ingestMs: number;
  turnsPerSecond: number;
  search: Summary;
  byCategory: Record<string, ReturnType<typeof aggregate>>;
}

async function evaluate(
  system: MemorySystem,
  ingestMs: number,
  turns: number,
  questions: Question[],
  dialogues: Map<string, Map<string, Set<string>>>,
): Promise<SystemRun> {
  const latencies: number[] = [];
  const scored: { category: number; scores: Scores }[] = [];
  for (const question of questions) {
    const start = performance.now();
    const hits = await system.search(question.question, question.sample_id, DEPTH);
    latencies.push(performance.now() - start);
    const byText = dialogues.get(question.sample_id)!;
    // A hit may stand for several turns (an episode): its texts joined by EPISODE_SEPARATOR.
    const ranked = hits.map(
      (hit) =>
        new Set(
          hit.text
            .split(EPISODE_SEPARATOR)
            .flatMap((text) => [...(byText.get(textKey(text)) ?? [])]),
        ),
    );
    scored.push({ category: question.category, scores: score(ranked, question.evidence) });
  }
  const categories = [...new Set(scored.map((entry) => entry.category))].sort();
  const byCategory: SystemRun["byCategory"] = {};
  for (const category of categories) {
    byCategory[String(category)] = aggregate(
      scored.filter((e) => e.category === category).map((e) => e.scores),
    );
  }
  byCategory.all = aggregate(scored.map((entry) => entry.scores));
  return {
    system: system.name,
    ingestMs,
    turnsPerSecond: turns / (ingestMs / 1000),
    search: summarize(latencies),
    byCategory,
  };
}

/** Turns of each conversation grouped by session, in order. */
function sessionsOf(turns: Turn[]): Map<string, string[][]> {
  const conversations = new Map<string, Map<number, string[]>>();
  for (const turn of turns) {
    const sessions = conversations.get(turn.sample_id) ?? new Map<number, string[]>();
    conversations.set(turn.sample_id, sessions);
    sessions.set(turn.session, [...(sessions.get(turn.session) ?? []), turn.text]);
  }
  return new Map([...conversations].map(([id, sessions]) => [id, [...sessions.values()]]));
}

/** Ingests one add per session; returns the elapsed ms. */
async function ingest(
  conversations: Map<string, string[][]>,
  systemFor: (sampleId: string) => Promise<MemorySystem>,
): Promise<number> {
  const start = performance.now();
  for (const [sampleId, sessions] of conversations) {
    const system = await systemFor(sampleId);
    for (const session of sessions) await system.addVerbatim(session, sampleId);
  }
  return performance.now() - start;
}

export async function locomo(context: BenchContext): Promise<SectionResult> {
  const dataset = loadDataset(context.tmpDir);
  const allIds = [...new Set(dataset.turns.map((turn) => turn.sample_id))];
  const sampleIds = new Set(context.full ? allIds : allIds.slice(0, QUICK_CONVERSATIONS));
  const turns = dataset.turns.filter((turn) => sampleIds.has(turn.sample_id));
  const questions = dataset.questions.filter((question) => sampleIds.has(question.sample_id));
  const dialogues = new Map<string, Map<string, Set<string>>>();
  for (const turn of turns) {
    const byText = dialogues.get(turn.sample_id) ?? new Map<string, Set<string>>();
    dialogues.set(turn.sample_id, byText);
    const key = textKey(turn.text);
    byText.set(key, (byText.get(key) ?? new Set()).add(turn.dia_id));
  }
  const conversations = sessionsOf(turns);
  const embeddings = new HashEmbeddings({ dimensions: DIMENSIONS });

  const fused = new Memory({ embeddings, path: path.join(context.tmpDir, "locomo-ours.db") });
  const ours = oursSystem(
    `ours, defaults (keywordWeight ${DEFAULT_KEYWORD_WEIGHT}, contextWeight ${DEFAULT_CONTEXT_WEIGHT})`,
    fused,
  );
  const oursIngest = await ingest(conversations, async () => ours);
  const vectorOnly = oursSystem(
    "ours, vector only (keywordWeight 0, contextWeight 0)",
    new Memory({ embeddings, store: fused.store, keywordWeight: 0, contextWeight: 0 }),
  );
  const runs = [
    await evaluate(ours, oursIngest, turns.length, questions, dialogues),
    await evaluate(vectorOnly, oursIngest, turns.length, questions, dialogues),
  ];
  // The same ingest logged every turn with its vector: episode recall searches that log.
  for (const window of [0, 1]) {
    const episodes = episodeSystem(`ours, episode recall (window ${window})`, fused, window);
    runs.push(await evaluate(episodes, oursIngest, turns.length, questions, dialogues));
  }
  await fused.close();

  // One mem0ai store per conversation: its search reads every row of the table, so a shared
  // table would make each question scan all conversations. Results are the same either way.
  const mem0Stores = new Map<string, MemorySystem>();
  const mem0Ingest = await ingest(conversations, async (sampleId) => {
    const dbPath = path.join(context.tmpDir, `locomo-mem0-${sampleId}.db`);
    const system = mem0System("mem0ai 3", await createMem0({ dbPath, embeddings }));
    mem0Stores.set(sampleId, system);
    return system;
  });
  const mem0: MemorySystem = {
    name: "mem0ai 3",
    addVerbatim: async () => undefined,
    search: (query, userId, topK) => mem0Stores.get(userId)!.search(query, userId, topK),
    close: async () => undefined,
  };
  runs.push(await evaluate(mem0, mem0Ingest, turns.length, questions, dialogues));
  for (const system of mem0Stores.values()) await system.close();

  const categories = Object.keys(runs[0].byCategory);
  const qualityRows = categories.flatMap((category) =>
    runs.map((run) => {
      const figures = run.byCategory[category];
      return [
        category,
        figures.questions,
        run.system,
        ...KS.map((k) => fixed(figures.recall[k])),
        fixed(figures.allHit10),
        fixed(figures.mrr),
        fixed(figures.ndcg10),
      ];
    }),
  );
  const speedRows = runs.map((run) => [
    run.system,
    (run.ingestMs / 1000).toFixed(1),
    run.turnsPerSecond.toFixed(0),
    pct(run.search),
  ]);
  return {
    title: `4. LoCoMo evidence retrieval (${sampleIds.size} conversations, ${turns.length} turns, ${questions.length} questions; HashEmbeddings ${DIMENSIONS}-d for all)`,
    parameters: {
      data: dataset.source,
      conversations: [...sampleIds],
      turns: turns.length,
      questions: questions.length,
      ingest: "one add per session, infer: false",
      depth: DEPTH,
      embedder: `HashEmbeddings ${DIMENSIONS}-d (no real sentence-embedding weights are available here)`,
    },
    figures: runs,
    targets: locomoTargets(runs[0], context.full),
    markdown: [
      markdownTable(
        [
          "category",
          "questions",
          "system",
          ...KS.map((k) => `R@${k}`),
          "all-hit@10",
          "MRR",
          "nDCG@10",
        ],
        qualityRows,
      ),
      "",
      markdownTable(
        ["system", "ingest s", "turns / s", "search p50 / p95 / p99 ms (top-50)"],
        speedRows,
      ),
    ].join("\n"),
    notes: [
      "Categories by number (LoCoMo): 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop; 5 (adversarial) excluded.",
      "Ours keeps all conversations in one SQLite file (one scope each); mem0ai gets one store per conversation " +
        "(see the code), which only helps its search latency.",
      "Both ingest runs write SQLite files; the rows of ours share one ingest (its adds also log " +
        "each turn with its vector, which episode recall searches).",
      "Episode rows rank episodes, not memories: one position per episode, which holds its " +
        "matching turn and, with window 1, the turn before and after (up to 3 turns, more when " +
        "windows merged). Window 0 is episode search alone (no stemming in its keyword part).",
      ...(context.full
        ? []
        : [`Quick mode: the first ${QUICK_CONVERSATIONS} conversations only; --full runs all 10.`]),
      "Targets: Recall@10 ≥ .65 and MRR ≥ .50 with default settings (raw turns, this embedder), " +
        "no LLM call on the search path.",
    ],
  };
}

/**
 * Section 5: store size on disk and process memory per 100k memories. Each system is loaded
 * in its own fresh child process (footprint_worker.ts) so RSS figures do not mix.
 */
import { fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { FootprintSample, FootprintSystem } from "./footprint_worker.js";
import { checkTarget, type BenchContext, type SectionResult } from "./report.js";
import { markdownTable, mib } from "./stats.js";

const PER = 100_000;
const WORKER = new URL("./footprint_worker.ts", import.meta.url).pathname;

function runWorker(
  system: FootprintSystem,
  memories: number,
  tmpDir: string,
): Promise<FootprintSample> {
  const dir = fs.mkdtempSync(path.join(tmpDir, `footprint-${system}-`));
  return new Promise((resolve, reject) => {
    let sample: FootprintSample | undefined;
    const child = fork(WORKER, [system, String(memories), dir], {
      execArgv: [...process.execArgv, "--expose-gc"],
    });
    child.on("message", (message) => (sample = message as FootprintSample));
    child.on("error", reject);
    child.on("exit", (code) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (sample) resolve(sample);
      else
        reject(new Error(`footprint worker for ${system} exited with code ${code} and no result`));
    });
  });
}

export async function footprint(context: BenchContext): Promise<SectionResult> {
  const memories = context.full ? PER : PER / 10;
  const samples = [
    await runWorker("ours", memories, context.tmpDir),
    await runWorker("mem0", memories, context.tmpDir),
  ];
  const scale = PER / memories;
  const scaled = memories === PER ? "" : ` (measured at ${memories / 1000}k, ×${scale})`;
  const rows = samples.map((sample) => [
    sample.system === "ours" ? "ours (SQLite file)" : "mem0ai 3 (SQLite file + in-process history)",
    mib(sample.diskBytes * scale),
    mib((sample.rssLoadedBytes - sample.rssEmptyBytes) * scale),
    mib(sample.rssLoadedBytes),
    Object.entries(sample.files)
      .map(([name, size]) => `${name} ${mib(size)}`)
      .join(", "),
    (sample.loadMs / 1000).toFixed(1),
  ]);
  const [ours, mem0] = samples;
  const perHundredK = (bytes: number) => mib(bytes * scale);
  const savedState = Object.entries(ours.files)
    .filter(([name]) => name.endsWith("-index"))
    .reduce((sum, [, size]) => sum + size, 0);
  const tables = ours.tables ?? {};
  const targets = [
    checkTarget(
      `disk per ${PER / 1000}k memories ≤ mem0ai's`,
      `${perHundredK(ours.diskBytes)} vs ${perHundredK(mem0.diskBytes)}`,
      ours.diskBytes <= mem0.diskBytes,
      () =>
        `the memories table alone (rows with their float vectors, and its indexes) is ` +
        `${perHundredK(tables.memories ?? 0)}; the file also keeps the change history ` +
        `(${perHundredK(tables.history ?? 0)}) and the message log (${perHundredK(tables.messages ?? 0)}), ` +
        `and the saved search state beside it is ${perHundredK(savedState)}; mem0ai's file holds ` +
        "its vectors and payloads only (its history is in process memory here)",
    ),
  ];
  return {
    title: `5. Footprint per ${PER / 1000}k memories (384-d vectors, one scope)`,
    parameters: {
      memories,
      per: PER,
      dimensions: 384,
      process: "fresh child process per system, --expose-gc",
    },
    figures: samples,
    targets,
    markdown: markdownTable(
      [
        "system",
        `disk per ${PER / 1000}k${scaled}`,
        `RSS growth per ${PER / 1000}k${scaled}`,
        `RSS at ${memories / 1000}k (absolute)`,
        `files at ${memories / 1000}k`,
        "load s",
      ],
      rows,
    ),
    notes: [
      "RSS growth = RSS after loading and one search minus RSS of the same process with the empty store, both after GC; " +
        "on Linux private memory only (RssAnon): file pages of a memory-mapped SQLite file are the OS page cache. " +
        "Ours keeps the searched scope's vectors in memory (bounded by cacheBudgetBytes); mem0ai keeps its change " +
        "history in process memory (historyStore 'memory') and reads all rows on each search.",
      `Ours by table (indexes included), per ${PER / 1000}k: ${Object.entries(tables)
        .filter(([, bytes]) => bytes * scale >= 1024 * 1024)
        .map(([name, bytes]) => `${name} ${perHundredK(bytes)}`)
        .join(", ")}.`,
      ...(memories === PER
        ? []
        : ["Quick mode measures 10k memories and scales linearly to 100k; --full measures 100k."]),
    ],
  };
}

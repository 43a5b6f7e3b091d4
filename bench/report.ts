/** Section results: what a section returns, and how it is written to `bench/results/`. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { markdownTable } from "./stats.js";

/** Settings every section receives. */
export interface BenchContext {
  /** `--full`: the larger sizes. */
  full: boolean;
  /** Directory for throw-away databases; removed after the run. */
  tmpDir: string;
  /** Search sizes to run (`--sizes 10k,100k`), by label; all of the mode's sizes when absent. */
  sizes?: string[];
}

/** What one section measured. */
export interface SectionResult {
  /** Heading of the section in the markdown report. */
  title: string;
  /** Sizes and settings used. */
  parameters: Record<string, unknown>;
  /** Raw figures, written to the JSON file as they are. */
  figures: unknown;
  /** Markdown tables of the section. */
  markdown: string;
  /** Caveats and targets, printed under the tables. */
  notes: string[];
  /** The section's targets, each checked against this run's figures. */
  targets?: TargetCheck[];
}

/** One target, checked against the figure a run measured. */
export interface TargetCheck {
  /** What is asked, e.g. "search p95 at 10k, hybrid ≤ 1 ms". */
  target: string;
  /** The figure this run measured, as printed. */
  measured: string;
  met: boolean;
  /** For a missed target: why, from figures measured in the same run. */
  why?: string;
}

/** A target check; `why` is kept only when the target is missed. */
export function checkTarget(
  target: string,
  measured: string,
  met: boolean,
  why: () => string,
): TargetCheck {
  return { target, measured, met, ...(met ? {} : { why: why() }) };
}

/** The targets of every section run, as one table. */
export function targetsMarkdown(checks: TargetCheck[]): string {
  const table = markdownTable(
    ["target", "measured", "", "why missed (figures from this run)"],
    checks.map((check) => [
      check.target,
      check.measured,
      check.met ? "met" : "**missed**",
      check.why ?? "",
    ]),
  );
  return `### Targets\n\n${table}\n`;
}

const BENCH_DIR = path.dirname(new URL(import.meta.url).pathname);
const REPO_ROOT = path.dirname(BENCH_DIR);

/** Installed version of a package (read from disk: not every package exports its package.json). */
function version(pkg: string): string {
  const file =
    pkg === "langchain-mem0" ? "package.json" : path.join("node_modules", pkg, "package.json");
  try {
    return (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, file), "utf8")) as { version: string })
      .version;
  } catch {
    return "unknown";
  }
}

/** Machine and package versions, recorded with every result. */
export function environment() {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    machine: {
      platform: `${os.platform()} ${os.release()}`,
      arch: os.arch(),
      cpu: cpus[0]?.model ?? "unknown",
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
      loadAverage: os.loadavg(),
    },
    versions: {
      node: process.version,
      "langchain-mem0": version("langchain-mem0"),
      mem0ai: version("mem0ai"),
      "@langchain/core": version("@langchain/core"),
      "@langchain/openai": version("@langchain/openai"),
      "better-sqlite3": version("better-sqlite3"),
    },
  };
}

export const RESULTS_DIR = path.join(BENCH_DIR, "results");

export function writeSectionResult(
  name: string,
  result: SectionResult,
  context: BenchContext,
  seconds: number,
): void {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const body = {
    section: name,
    title: result.title,
    mode: context.full ? "full" : "quick",
    seconds,
    ...environment(),
    parameters: result.parameters,
    figures: result.figures,
    notes: result.notes,
    targets: result.targets ?? [],
  };
  fs.writeFileSync(path.join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(body, null, 2)}\n`);
}

export function sectionMarkdown(result: SectionResult): string {
  const notes = result.notes.map((note) => `- ${note}`).join("\n");
  return `### ${result.title}\n\n${result.markdown}\n${notes ? `\n${notes}\n` : ""}`;
}

/**
 * Benchmark entry: `npm run bench` (quick) or `npm run bench -- --full`, optionally
 * `--only <section>[,<section>]`. Writes `bench/results/<section>.json` per section and the
 * combined markdown to stdout and `bench/results/latest.md`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { addCost } from "./add_cost.js";
import { agentsOverhead } from "./agents.js";
import { footprint } from "./footprint.js";
import { locomo } from "./locomo.js";
import { postgresSection } from "./postgres.js";
import {
  environment,
  RESULTS_DIR,
  sectionMarkdown,
  targetsMarkdown,
  writeSectionResult,
  type BenchContext,
  type SectionResult,
  type TargetCheck,
} from "./report.js";
import { searchLatency } from "./search_latency.js";
import { wrapperOverhead } from "./wrapper_overhead.js";

const SECTIONS: Record<string, (context: BenchContext) => Promise<SectionResult>> = {
  search: searchLatency,
  add: addCost,
  wrapper: wrapperOverhead,
  locomo,
  footprint,
  agents: agentsOverhead,
  postgres: postgresSection,
};

function parseOptions() {
  const { values } = parseArgs({
    options: {
      full: { type: "boolean", default: false },
      only: { type: "string" },
      sizes: { type: "string" },
    },
  });
  const names = values.only
    ? values.only.split(",").map((name) => name.trim())
    : Object.keys(SECTIONS);
  const unknown = names.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0) {
    throw new Error(
      `Unknown section(s) ${unknown.join(", ")}; choose from ${Object.keys(SECTIONS).join(", ")}.`,
    );
  }
  const sizes = values.sizes?.split(",").map((size) => size.trim());
  return {
    full: values.full,
    only: values.only !== undefined || sizes !== undefined,
    names,
    sizes,
  };
}

async function main(): Promise<void> {
  const { full, only, names, sizes } = parseOptions();
  const context: BenchContext = {
    full,
    sizes,
    tmpDir: fs.mkdtempSync(path.join(os.tmpdir(), "lcm0-bench-")),
  };
  const started = performance.now();
  const parts: string[] = [];
  const targets: TargetCheck[] = [];
  try {
    for (const name of names) {
      const sectionStart = performance.now();
      console.error(`[bench] ${name} (${full ? "full" : "quick"})…`);
      const result = await SECTIONS[name](context);
      const seconds = (performance.now() - sectionStart) / 1000;
      writeSectionResult(name, result, context, seconds);
      parts.push(sectionMarkdown(result));
      targets.push(...(result.targets ?? []));
      console.error(`[bench] ${name} done in ${seconds.toFixed(1)} s`);
    }
  } finally {
    fs.rmSync(context.tmpDir, { recursive: true, force: true });
  }
  const { machine, versions, date } = environment();
  const header =
    `## Benchmark results (${full ? "full" : "quick"} mode, ${date})\n\n` +
    `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}; ` +
    `Node ${versions.node}, mem0ai ${versions.mem0ai}, @langchain/core ${versions["@langchain/core"]}. ` +
    `Total ${((performance.now() - started) / 1000).toFixed(0)} s. ` +
    "Reproduce: `npm run bench` (quick) or `npm run bench -- --full`.\n";
  const summary = targets.length > 0 ? [targetsMarkdown(targets)] : [];
  const markdown = `${[header, ...summary, ...parts].join("\n").trimEnd()}\n`;
  // latest.md holds complete runs only; `--only` updates the section JSON files.
  if (!only) fs.writeFileSync(path.join(RESULTS_DIR, "latest.md"), markdown);
  process.stdout.write(markdown);
}

await main();

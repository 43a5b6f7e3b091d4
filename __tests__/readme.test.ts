import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

// Every ```ts block of README.md must typecheck under the project's strict settings, with
// `langchain-mem0` and `langchain-mem0/testing` resolved to src/ (tsconfig `paths`).
//
// Conventions for README authors:
// - A ```ts block is a complete module: it imports what it uses.
// - A ```ts continued block continues the ```ts block before it (and that block's own
//   predecessors when it is itself `continued`): it is checked appended to them, so a section
//   can build on the setup shown earlier. It may add imports of its own.
// Other languages (```bash, plain ```) are not checked.

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const README = path.join(repoRoot, "README.md");

interface CodeBlock {
  /** 1-based README line of the first code line (the one after the opening fence). */
  line: number;
  code: string;
  continued: boolean;
}

/** The ```ts / ```typescript blocks of a Markdown text, in order. */
function tsBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i += 1) {
    const fence = /^(`{3,})\s*(\S*)\s*(.*)$/.exec(lines[i]);
    if (!fence) continue;
    const end = lines.findIndex((text, j) => j > i && text.startsWith(fence[1]));
    if (end === -1) throw new Error(`README.md:${i + 1}: code fence never closed`);
    const words = fence[3].split(/\s+/).filter(Boolean);
    if (["ts", "typescript"].includes(fence[2])) {
      blocks.push({
        line: i + 2,
        code: lines.slice(i + 1, end).join("\n"),
        continued: words.includes("continued"),
      });
    }
    i = end;
  }
  return blocks;
}

/** One file to check: a block appended to the blocks it continues. */
interface Unit {
  block: CodeBlock;
  fileName: string;
  text: string;
  /** README line of each line of `text`. */
  readmeLines: number[];
  /** Lines of `text` (0-based) from which diagnostics belong to this block. */
  firstOwnLine: number;
}

function units(blocks: CodeBlock[]): Unit[] {
  const result: Unit[] = [];
  blocks.forEach((block, index) => {
    if (block.continued && index === 0) {
      throw new Error(`README.md:${block.line}: a "continued" block has no block before it`);
    }
    const chain = [block];
    for (let i = index; blocks[i].continued; i -= 1) chain.unshift(blocks[i - 1]);
    const readmeLines = chain.flatMap((part) => part.code.split("\n").map((_, k) => part.line + k));
    const own = block.code.split("\n").length;
    result.push({
      block,
      // At the repository root, so imports resolve as in the examples (ESM, type: module).
      fileName: path.join(repoRoot, `README.block-${block.line}.ts`),
      // `export {}` keeps every block a module, whatever it contains.
      text: `${chain.map((part) => part.code).join("\n")}\nexport {};\n`,
      readmeLines,
      firstOwnLine: readmeLines.length - own,
    });
  });
  return result;
}

/** Type errors of every unit, as `README.md:<line>: TS<code> <message>`, keyed by unit. */
function typecheck(all: Unit[]): Map<Unit, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(repoRoot, "tsconfig.json"),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  );
  if (!config) throw new Error("tsconfig.json could not be read");
  const options: ts.CompilerOptions = { ...config.options, noEmit: true, strict: true };
  const byName = new Map(all.map((unit) => [path.resolve(unit.fileName), unit]));
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (name) => byName.has(path.resolve(name)) || fileExists.call(host, name);
  host.readFile = (name) => byName.get(path.resolve(name))?.text ?? readFile.call(host, name);
  host.getSourceFile = (name, languageVersion, ...rest) => {
    const unit = byName.get(path.resolve(name));
    return unit
      ? ts.createSourceFile(name, unit.text, languageVersion, true)
      : getSourceFile.call(host, name, languageVersion, ...rest);
  };
  const program = ts.createProgram(
    all.map((unit) => unit.fileName),
    options,
    host,
  );
  const errors = new Map<Unit, string[]>(all.map((unit) => [unit, []]));
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const unit = diagnostic.file && byName.get(path.resolve(diagnostic.file.fileName));
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
    if (!unit || diagnostic.start === undefined) {
      throw new Error(`TS${diagnostic.code} outside the README blocks: ${message}`);
    }
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start);
    if (line < unit.firstOwnLine) continue; // reported for the block it belongs to
    // The trailing `export {}` maps to the block's last line.
    const readmeLine = unit.readmeLines[Math.min(line, unit.readmeLines.length - 1)];
    errors.get(unit)!.push(`README.md:${readmeLine}: TS${diagnostic.code} ${message}`);
  }
  return errors;
}

describe("tsBlocks", () => {
  test("finds ts blocks with their first code line and the continued marker", () => {
    const markdown = [
      "# Title", // 1
      "```bash", // 2
      "npm i", // 3
      "```", // 4
      "```ts", // 5
      "const a = 1;", // 6
      "```", // 7
      "````ts continued", // 8
      "```", // 9: inside a four-backtick fence
      "````", // 10
    ].join("\n");

    expect(tsBlocks(markdown)).toEqual([
      { line: 6, code: "const a = 1;", continued: false },
      { line: 9, code: "```", continued: true },
    ]);
  });
});

describe("README.md code blocks", () => {
  const all = units(tsBlocks(readFileSync(README, "utf8")));
  let errors: Map<Unit, string[]>;

  beforeAll(() => {
    errors = typecheck(all);
  }, 120_000);

  test("there are code blocks to check", () => {
    expect(all.length).toBeGreaterThan(0);
  });

  test.each(all.map((unit) => [unit.block.line, unit] as const))(
    "the ts block at README.md:%d typechecks",
    (_line, unit) => {
      expect(errors.get(unit)).toEqual([]);
    },
  );
});

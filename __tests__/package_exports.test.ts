import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// Checks the package as a consumer sees it: the built files, resolved through `exports` from
// another directory, by both `require` and `import` in plain Node (no jest module mapping).

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
/** A full `tsc` build of both formats takes about a minute on this machine. */
const BUILD_TIMEOUT_MS = 300_000;
/** Children run plain Node: without jest's `--experimental-vm-modules` and its warning. */
const { NODE_OPTIONS: _jestNodeOptions, ...childEnv } = process.env;

type Format = "cjs" | "esm";

interface ModuleReport {
  file: string;
  names: string[];
}

/** Prints the resolved file and the export names of the module named by the first argument. */
const REPORT_SCRIPTS: Record<Format, string> = {
  cjs: `
    const specifier = process.argv[1];
    const names = Object.keys(require(specifier)).sort();
    console.log(JSON.stringify({ file: require.resolve(specifier), names }));
  `,
  esm: `
    import { fileURLToPath } from "node:url";
    const specifier = process.argv[1];
    const names = Object.keys(await import(specifier)).sort();
    console.log(JSON.stringify({ file: fileURLToPath(import.meta.resolve(specifier)), names }));
  `,
};

/** Uses the built testing helpers for real: a chat round trip and an in-process embedding. */
const SMOKE_BODY = `
  const server = await testing.FakeOpenAIServer.start();
  server.enqueue("pong");
  const response = await fetch(server.baseURL + "/chat/completions", {
    method: "POST",
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "ping" }] }),
  });
  const reply = (await response.json()).choices[0].message.content;
  await server.close();
  const dimensions = (await new testing.HashEmbeddings().embedQuery("ping")).length;
  console.log(JSON.stringify({ reply, dimensions }));
`;

const SMOKE_SCRIPTS: Record<Format, string> = {
  cjs: `(async () => { const testing = require("langchain-mem0/testing"); ${SMOKE_BODY} })();`,
  esm: `const testing = await import("langchain-mem0/testing"); ${SMOKE_BODY}`,
};

const ENTRY_POINTS = [
  {
    specifier: "langchain-mem0",
    expected: ["Mem0ChatModel", "Mem0Error", "createMemoryTools", "MemoryRetriever"],
  },
  {
    specifier: "langchain-mem0/testing",
    expected: ["FakeOpenAIServer", "FakeMem0Platform", "HashEmbeddings", "hashEmbedding"],
  },
  { specifier: "langchain-mem0/agents", expected: ["mem0Middleware", "mem0ContextSchema"] },
  { specifier: "langchain-mem0/langgraph", expected: ["Mem0Store"] },
  { specifier: "langchain-mem0/mcp", expected: ["createMcpServer", "startMcpServer"] },
  { specifier: "langchain-mem0/server", expected: ["createMem0App", "startMem0Server"] },
  { specifier: "langchain-mem0/cli", expected: ["createProgram", "run", "EXIT"] },
];

/** Packages the root entry must not load: they are optional peers of the subpath entries. */
const OPTIONAL_PEERS =
  /[\\/]node_modules[\\/](langchain|@langchain[\\/]langgraph|@modelcontextprotocol)[\\/]/;

let consumerDir: string;

/** Runs `script` in a child `node` from the consumer project and parses the JSON it prints. */
async function runNode<T>(format: Format, script: string, ...args: string[]): Promise<T> {
  const flags = format === "esm" ? ["--input-type=module"] : [];
  const { stdout } = await run("node", [...flags, "-e", script, ...args], {
    cwd: consumerDir,
    env: childEnv,
  });
  return JSON.parse(stdout) as T;
}

beforeAll(async () => {
  const entryFiles = ["esm", "cjs"].flatMap((format) => [
    join(repoRoot, "dist", format, "index.js"),
    join(repoRoot, "dist", format, "testing", "index.js"),
    join(repoRoot, "dist", format, "integrations", "mcp.js"),
    join(repoRoot, "dist", format, "bin", "mcp.js"),
  ]);
  if (!entryFiles.every((file) => existsSync(file))) {
    await run("npm", ["run", "build"], { cwd: repoRoot, env: childEnv });
  }
  // A consumer project whose node_modules links to this package, as `npm link` would.
  consumerDir = await mkdtemp(join(tmpdir(), "langchain-mem0-consumer-"));
  await mkdir(join(consumerDir, "node_modules"));
  await symlink(repoRoot, join(consumerDir, "node_modules", "langchain-mem0"), "dir");
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (consumerDir) await rm(consumerDir, { recursive: true, force: true });
});

describe.each(ENTRY_POINTS)("$specifier", ({ specifier, expected }) => {
  test("require and import load the CommonJS and ES builds with the same exports", async () => {
    const [required, imported] = await Promise.all([
      runNode<ModuleReport>("cjs", REPORT_SCRIPTS.cjs, specifier),
      runNode<ModuleReport>("esm", REPORT_SCRIPTS.esm, specifier),
    ]);

    expect(required).toEqual({
      file: expect.stringContaining(`${sep}dist${sep}cjs${sep}`),
      names: expect.arrayContaining(expected),
    });
    expect(imported).toEqual({
      file: expect.stringContaining(`${sep}dist${sep}esm${sep}`),
      names: expect.arrayContaining(expected),
    });
    expect(imported.names).toEqual(required.names);
  });
});

test("the root entry loads none of the optional peers", async () => {
  const { loaded } = await runNode<{ loaded: string[] }>(
    "cjs",
    `require("langchain-mem0");
     const pattern = ${OPTIONAL_PEERS};
     console.log(JSON.stringify({ loaded: Object.keys(require.cache).filter((f) => pattern.test(f)) }));`,
  );
  expect(loaded).toEqual([]);
});

test.each(["cjs", "esm"] as const)("the built testing helpers work under %s", async (format) => {
  await expect(runNode(format, SMOKE_SCRIPTS[format])).resolves.toEqual({
    reply: "pong",
    dimensions: 256,
  });
});

import { execFile } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

// The root entry stays lean: the server, CLI and browser-test packages, and `langchain` (an
// optional peer, loaded when a model string is resolved), are never loaded by importing it.

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const hook = fileURLToPath(new URL("./fixtures/hide_packages.mjs", import.meta.url));
const entry = (path: string) => JSON.stringify(pathToFileURL(`${repoRoot}${path}`).href);
const { NODE_OPTIONS: _jestNodeOptions, ...childEnv } = process.env;
const HIDDEN = "hono,@hono/node-server,commander,langchain,playwright-core,openai,better-sqlite3";

async function script(source: string): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", "--import", hook, "--input-type=module", "-e", source],
    { cwd: repoRoot, env: { ...childEnv, HIDE_PACKAGES: HIDDEN } },
  );
  return stdout.trim();
}

test("the root and testing entries load and work without the server, CLI and optional packages", async () => {
  const output = await script(`
    const root = await import(${entry("src/index.ts")});
    const testing = await import(${entry("src/testing/index.ts")});
    const platform = await testing.FakeMem0Platform.start();
    const client = new root.MemoryClient({ apiKey: platform.apiKey, host: platform.host });
    await client.add("I like tea.", { userId: "alice", infer: false });
    const found = await client.search("tea", { userId: "alice" });
    await platform.close();
    console.log(JSON.stringify({ facade: typeof root.Mem0, found: found.results.length }));
  `);
  expect(JSON.parse(output)).toEqual({ facade: "function", found: 1 });
}, 60_000);

test("the hook really hides them: the server entry needs hono", async () => {
  // Either of its two packages may be resolved first.
  await expect(script(`await import(${entry("src/server/index.ts")});`)).rejects.toThrow(
    /Cannot find module '(hono|@hono\/node-server)'/,
  );
}, 60_000);

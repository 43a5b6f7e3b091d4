import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// The README's first command (`npm run demo`) does the main job offline: session 2 answers
// from what session 1 stored, and the script shows what was stored, retrieved and sent.

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const {
  NODE_OPTIONS: _nodeOptions,
  OPENAI_API_KEY: _key,
  OPENAI_BASE_URL: _url,
  LANGCHAIN_MEM0_MODEL: _model,
  ...env
} = process.env;

test("npm run demo: a two-session conversation with memory, offline and saying so", async () => {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "examples/demo.ts"], {
    cwd: repoRoot,
    env,
  });
  expect(stdout).toMatch(/^OFFLINE DEMO: no model provider is configured/);
  const [session1, session2] = stdout.split("=== Session 2");
  // Both facts come from one add (one timestamp): their order may vary.
  const stored = session1
    .split("Stored in memory after session 1:\n")[1]
    .trim()
    .split("\n")
    .map((line) => line.trim());
  expect(stored.sort()).toEqual([
    "- User: I'm Alice.",
    "- User: I'm vegetarian and I'm allergic to peanuts.",
  ]);
  expect(session2).toMatch(/Retrieved from memory:\n {2}- User: I'm (Alice|vegetarian)/);
  expect(session2).toMatch(
    /Exact prompt the model received:\n--- system ---\n[\s\S]*--- user ---\n<memory_context>[\s\S]*allergic to peanuts[\s\S]*<\/memory_context>\n\nCan you suggest a dinner recipe/,
  );
  expect(session2).toMatch(/assistant: From memory: .*allergic to peanuts/);
}, 60_000);

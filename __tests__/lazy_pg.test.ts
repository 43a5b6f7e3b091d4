import { execFile } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

// `pg` is an optional peer: the root entry, SQLite and Memory.fromConfig's validation must not
// load it, and a Postgres store without it must fail with a typed error that says how to fix it.
const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const hook = fileURLToPath(new URL("./fixtures/hide_pg.mjs", import.meta.url));
const rootEntry = pathToFileURL(`${repoRoot}src/index.ts`).href;
const { NODE_OPTIONS: _jestNodeOptions, ...childEnv } = process.env;

test("the root entry works without pg; PostgresStore then names the fix", async () => {
  const script = `
    const { Memory, PostgresStore, PostgresUnavailableError, Mem0ConfigError, HashEmbeddings } =
      await import(${JSON.stringify(rootEntry)});
    const memory = new Memory({ embeddings: new HashEmbeddings({ dimensions: 8 }), path: ":memory:", recoverOnOpen: false });
    await memory.add("I like tea", { userId: "a", infer: false });
    const found = (await memory.search("tea", { userId: "a" })).results.length;
    await memory.close();
    const before = globalThis.pgAttempts;
    let error;
    try { new PostgresStore({ connectionString: "postgres://x@127.0.0.1:1/db" }); } catch (e) { error = e; }
    console.log(JSON.stringify({
      found, before,
      typed: error instanceof PostgresUnavailableError && error instanceof Mem0ConfigError,
      message: error?.message,
    }));
  `;
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", "--import", hook, "--input-type=module", "-e", script],
    { cwd: repoRoot, env: childEnv },
  );
  const report = JSON.parse(stdout) as {
    found: number;
    before: number;
    typed: boolean;
    message: string;
  };
  expect(report.found).toBe(1);
  expect(report.before).toBe(0);
  expect(report.typed).toBe(true);
  expect(report.message).toMatch(/needs the package pg.*npm install pg/);
});

import { execFile } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

// The root entry must not need better-sqlite3 until a SQLite store is opened, and a missing or
// broken native module must surface as a typed error that says how to fix it. Each case runs
// in a child `node` (sources through tsx) whose better-sqlite3 is hidden or broken by a preload.

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const hook = fileURLToPath(new URL("./fixtures/hide_better_sqlite3.mjs", import.meta.url));
const rootEntry = pathToFileURL(`${repoRoot}src/index.ts`).href;
const testingEntry = pathToFileURL(`${repoRoot}src/testing/index.ts`).href;
/** Children run plain Node: without jest's `--experimental-vm-modules` and its warning. */
const { NODE_OPTIONS: _jestNodeOptions, ...childEnv } = process.env;

type Failure = "missing" | "broken";

/** Runs an ES module script with better-sqlite3 made unavailable; returns the JSON it prints. */
async function runWithout<T>(failure: Failure, script: string): Promise<T> {
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", "--import", hook, "--input-type=module", "-e", script],
    { cwd: repoRoot, env: { ...childEnv, HIDE_BETTER_SQLITE3: failure } },
  );
  return JSON.parse(stdout) as T;
}

/** A chat round trip through Mem0ChatModel with an in-script backend instead of SQLite. */
const CHAT_WITHOUT_SQLITE = `
  const { Mem0ChatModel } = await import(${JSON.stringify(rootEntry)});
  const { FakeOpenAIServer } = await import(${JSON.stringify(testingEntry)});
  const { ChatOpenAI } = await import("@langchain/openai");

  const server = await FakeOpenAIServer.start();
  const now = new Date().toISOString();
  const calls = { search: 0, add: 0 };
  const backend = {
    async search() {
      calls.search += 1;
      const memory = { id: "m1", memory: "User drinks green tea", score: 0.9, metadata: {} };
      return { results: [{ ...memory, createdAt: now, updatedAt: now }] };
    },
    async add() {
      calls.add += 1;
      return { results: [] };
    },
  };
  const model = new Mem0ChatModel({
    model: new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration: { baseURL: server.baseURL } }),
    memory: backend,
    userId: "alice",
  });
  server.enqueue("Green tea, as usual.");
  const reply = await model.invoke("What should I drink?");
  await model.close();
  const prompt = server.chatRequests[0].lastUserText;
  await server.close();
  console.log(JSON.stringify({
    reply: reply.content,
    calls,
    promptHasMemory: prompt.includes("User drinks green tea"),
    attempts: globalThis.betterSqlite3Attempts,
  }));
`;

interface ChatReport {
  reply: string;
  calls: { search: number; add: number };
  promptHasMemory: boolean;
  attempts: number;
}

/** Opens the SQLite store directly and through Memory's default; reports each error. */
const OPEN_SQLITE = `
  const { Memory, Mem0ConfigError, SqliteStore, SqliteUnavailableError } = await import(${JSON.stringify(rootEntry)});
  const { HashEmbeddings } = await import(${JSON.stringify(testingEntry)});
  const { ChatOpenAI } = await import("@langchain/openai");

  const importAttempts = globalThis.betterSqlite3Attempts;
  const openers = {
    store: () => new SqliteStore({ path: ":memory:" }),
    memory: () => new Memory({ llm: new ChatOpenAI({ apiKey: "test" }), embeddings: new HashEmbeddings() }),
  };
  const errors = {};
  for (const [name, open] of Object.entries(openers)) {
    try {
      open();
      errors[name] = null;
    } catch (error) {
      errors[name] = {
        name: error.name,
        typed: error instanceof SqliteUnavailableError && error instanceof Mem0ConfigError,
        message: error.message,
        cause: String(error.cause?.message),
      };
    }
  }
  console.log(JSON.stringify({ importAttempts, errors }));
`;

interface ErrorReport {
  name: string;
  typed: boolean;
  message: string;
  cause: string;
}

interface OpenReport {
  importAttempts: number;
  errors: Record<"store" | "memory", ErrorReport | null>;
}

describe.each(["missing", "broken"] as const)("better-sqlite3 %s", (failure) => {
  test("Mem0ChatModel imports and answers with another backend, never touching SQLite", async () => {
    const report = await runWithout<ChatReport>(failure, CHAT_WITHOUT_SQLITE);

    expect(report).toEqual({
      reply: "Green tea, as usual.",
      calls: { search: 1, add: 1 },
      promptHasMemory: true,
      attempts: 0,
    });
  });

  test("opening a SQLite store fails with SqliteUnavailableError saying how to fix it", async () => {
    const { importAttempts, errors } = await runWithout<OpenReport>(failure, OPEN_SQLITE);

    expect(importAttempts).toBe(0);
    for (const error of [errors.store, errors.memory]) {
      expect(error).toMatchObject({ name: "SqliteUnavailableError", typed: true });
      expect(error?.message).toContain("better-sqlite3");
      expect(error?.message).toContain("new Memory({ store })");
      if (failure === "missing") {
        expect(error?.message).toContain("npm install better-sqlite3");
        expect(error?.cause).toContain("Cannot find module 'better-sqlite3'");
      } else {
        expect(error?.message).toContain("invalid ELF header");
        expect(error?.message).toContain("npm rebuild better-sqlite3");
        expect(error?.message).toContain("pnpm.onlyBuiltDependencies");
        expect(error?.message).toContain("--ignore-scripts");
        expect(error?.cause).toContain("invalid ELF header");
      }
    }
  });
});

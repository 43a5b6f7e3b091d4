import { spawn } from "node:child_process";
import { readFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Memory } from "../src/backends/memory.js";
import { HashEmbeddings } from "../src/embeddings/hash.js";
import { FakeOpenAIServer, createDemoHandler } from "../src/testing/index.js";

// The CLI as a user runs it: a child process (sources through tsx), its stdout, stderr and
// exit code.

const bin = fileURLToPath(new URL("../src/cli/bin.ts", import.meta.url));
/** tsx by path: the children run in a scratch directory without node_modules. */
const tsx = new URL("../node_modules/tsx/dist/loader.mjs", import.meta.url).href;
/** Children get a clean environment: no jest flags, no provider settings of this machine. */
const {
  NODE_OPTIONS: _nodeOptions,
  OPENAI_API_KEY: _key,
  OPENAI_BASE_URL: _url,
  LANGCHAIN_MEM0_MODEL: _model,
  LANGCHAIN_MEM0_STORE: _store,
  ...baseEnv
} = process.env;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
let storeA: string;

/** Runs the CLI; asynchronous, so servers of this process keep answering it. */
function cli(args: string[], options: { env?: Record<string, string>; input?: string } = {}) {
  return new Promise<Result>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", tsx, bin, ...args], {
      cwd: dir,
      env: { ...baseEnv, ...options.env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (data) => (stdout += data));
    child.stderr.on("data", (data) => (stderr += data));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

const json = <T>(result: Result): T => JSON.parse(result.stdout.trim().split("\n").at(-1)!) as T;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mem0-cli-"));
  storeA = join(dir, "a.db");
  const memory = new Memory({ embeddings: new HashEmbeddings(), path: storeA });
  for (const text of ["I like green tea", "I live in Porto", "My dog is called Rex"]) {
    await memory.add(text, { userId: "alice", infer: false, metadata: { source: "seed" } });
  }
  await memory.add("I like coffee", { userId: "bob", infer: false });
  await memory.close();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Items = { results: { id: string; memory: string; user_id?: string }[] };

test("list, search, get, update, history and delete, in text and --json", async () => {
  const listed = await cli(["--store", storeA, "memories", "list", "--user", "alice", "--json"]);
  expect(listed.code).toBe(0);
  expect(json<Items>(listed).results.map((m) => m.memory)).toEqual([
    "I like green tea",
    "I live in Porto",
    "My dog is called Rex",
  ]);

  const found = await cli([
    "-s",
    storeA,
    "memories",
    "search",
    "green tea",
    "-u",
    "alice",
    "--json",
  ]);
  const tea = json<Items>(found).results[0];
  expect(tea.memory).toBe("I like green tea");

  const shown = await cli(["-s", storeA, "memories", "get", tea.id]);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(/I like green tea[\s\S]*owner: user alice[\s\S]*"source":"seed"/);

  expect((await cli(["-s", storeA, "memories", "update", tea.id, "I like white tea"])).code).toBe(
    0,
  );
  const history = await cli(["-s", storeA, "memories", "history", tea.id, "--json"]);
  expect(json<{ action: string }[]>(history).map((h) => h.action)).toEqual(["UPDATE", "ADD"]);

  const rex = json<Items>(listed).results[2];
  expect((await cli(["-s", storeA, "memories", "delete", rex.id])).stdout).toMatch(/deleted/);
  const gone = await cli(["-s", storeA, "memories", "get", rex.id, "--json"]);
  expect(gone.code).toBe(3);
  expect(gone.stderr).toMatch(/No memory with id/);
  expect(json<{ error: { exitCode: number } }>(gone).error.exitCode).toBe(3);
}, 180_000);

test("usage errors exit 2: no scope, unknown option, delete-all without --yes", async () => {
  const [noScope, unknown, unconfirmed] = await Promise.all([
    cli(["-s", storeA, "memories", "list"]),
    cli(["-s", storeA, "memories", "list", "--usr", "alice"]),
    cli(["-s", storeA, "memories", "delete-all", "--user", "bob"]),
  ]);
  expect(noScope.code).toBe(2);
  expect(noScope.stderr).toMatch(/--user <id>/);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/unknown option '--usr'/);
  expect(unconfirmed.code).toBe(2);
  expect(unconfirmed.stderr).toMatch(/--yes/);
  expect((await cli(["-s", storeA, "memories", "list", "-u", "bob", "--json"])).stdout).toMatch(
    /I like coffee/,
  );
}, 180_000);

test("export and import round trip across store files, reusing or recomputing vectors", async () => {
  const file = join(dir, "alice.jsonl");
  const exported = await cli([
    "-s",
    storeA,
    "export",
    "--user",
    "alice",
    "--embeddings",
    "--out",
    file,
    "--json",
  ]);
  expect(json<{ exported: number }>(exported).exported).toBe(2);
  const lines = (await readFile(file, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  expect(lines[0]).toMatchObject({
    format: "langchain-mem0/memories",
    embedder: { model: "HashEmbeddings:hash-embeddings-256", dimensions: 256 },
  });
  expect(lines[1].embedding).toHaveLength(256);

  // Same embedder: the file's vectors are used as they are.
  const storeB = join(dir, "b.db");
  const same = await cli(["-s", storeB, "import", file, "--json"]);
  expect(same.code).toBe(0);
  expect(json(same)).toEqual({
    imported: 2,
    skipped: 0,
    reembedded: 0,
    embedder: "HashEmbeddings:hash-embeddings-256",
  });
  const inB = json<Items>(
    await cli(["-s", storeB, "memories", "search", "tea", "-u", "alice", "--json"]),
  );
  expect(inB.results[0].memory).toBe("I like white tea");
  // Importing again skips what is there.
  expect(
    json<{ skipped: number }>(await cli(["-s", storeB, "import", file, "--json"])).skipped,
  ).toBe(2);

  // Another embedder: re-embedded, and moved to another owner.
  const storeC = join(dir, "c.db");
  const other = await cli(["-s", storeC, "-e", "hash:64", "import", file, "--user", "carol"]);
  expect(other.code).toBe(0);
  expect(other.stdout).toMatch(/re-embedded 2 with HashEmbeddings:hash-embeddings-64/);
  const inC = json<Items>(
    await cli(["-s", storeC, "memories", "search", "Porto", "-u", "carol", "--json"]),
  );
  expect(inC.results[0]).toMatchObject({ memory: "I live in Porto", user_id: "carol" });
}, 180_000);

test("a long import shows progress on stderr", async () => {
  const file = join(dir, "many.jsonl");
  const rows = Array.from({ length: 250 }, (_, i) =>
    JSON.stringify({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      memory: `Fact number ${i}`,
      user_id: "dave",
    }),
  );
  await writeFile(file, `${rows.join("\n")}\n`);
  const result = await cli(["-s", join(dir, "d.db"), "import", file]);
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/imported 250 memories/);
  expect(result.stdout).toMatch(/re-embedded 250 .*the file has no vectors/);
  expect(result.stderr).toMatch(/import: 250\/250 \(100%\)/);
}, 180_000);

test("doctor: healthy setup exits 0; a broken store and a wrong embedder exit 4 with fixes", async () => {
  const broken = join(dir, "broken.db");
  await writeFile(broken, "this is not a database");
  const local = { env: { OPENAI_BASE_URL: "http://127.0.0.1:9/v1" } };
  const [healthy, bad, mismatch] = await Promise.all([
    cli(["-s", storeA, "doctor"], local),
    cli(["-s", broken, "doctor", "--json"]),
    cli(["-s", storeA, "-e", "hash:64", "doctor"], local),
  ]);
  expect(healthy.stdout).toMatch(/everything looks fine/);
  expect(healthy.code).toBe(0);
  expect(bad.code).toBe(4);
  const report = json<{ ok: boolean; checks: { name: string; ok: boolean; fix?: string }[] }>(bad);
  expect(report.ok).toBe(false);
  expect(report.checks.find((c) => c.name === "store")).toMatchObject({
    ok: false,
    fix: expect.stringMatching(/--store/),
  });
  expect(report.checks.find((c) => c.name === "provider keys")).toMatchObject({
    ok: false,
    fix: expect.stringMatching(/OPENAI_API_KEY/),
  });

  expect(mismatch.code).toBe(4);
  expect(mismatch.stdout).toMatch(/FAIL embedder/);
}, 180_000);

test("chat: says what to set without a provider; with one, session 2 uses what session 1 stored", async () => {
  const noProvider = await cli(["-s", join(dir, "chat.db"), "chat", "--user", "erin"]);
  expect(noProvider.code).toBe(4);
  expect(noProvider.stderr).toMatch(/Set OPENAI_API_KEY \(or OPENAI_BASE_URL/);

  const server = await FakeOpenAIServer.start();
  server.setHandler(createDemoHandler());
  try {
    const env = { OPENAI_BASE_URL: server.baseURL, OPENAI_API_KEY: "offline" };
    const args = ["-s", join(dir, "chat.db"), "chat", "--user", "erin"];
    const first = await cli(args, { env, input: "I grow tomatoes on my balcony.\n/exit\n" });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/no memories used[\s\S]*Noted\. You said: I grow tomatoes/);
    const second = await cli([...args, "--json"], {
      env,
      input: "What do I grow on my balcony?\n",
    });
    expect(second.code).toBe(0);
    const turn = json<{ answer: string; memories: { memory: string }[] }>(second);
    expect(turn.memories.map((m) => m.memory)).toEqual(["User: I grow tomatoes on my balcony."]);
    expect(turn.answer).toMatch(/From memory: User: I grow tomatoes on my balcony/);
  } finally {
    await server.close();
  }
}, 180_000);

test("serve: listens, answers, refuses a public interface without a key, stops on SIGTERM", async () => {
  const refused = await cli(["-s", join(dir, "serve.db"), "serve", "--host", "0.0.0.0"]);
  expect(refused.code).toBe(4);
  expect(refused.stderr).toMatch(/without an API key/);

  const child = spawn(
    process.execPath,
    ["--import", tsx, bin, "-s", join(dir, "serve.db"), "--json", "serve", "--port", "0"],
    { cwd: dir, env: baseEnv },
  );
  let stdout = "";
  const started = new Promise<{ url: string }>((resolve, reject) => {
    child.stdout.on("data", (data) => {
      stdout += data;
      if (stdout.includes("\n")) resolve(JSON.parse(stdout.split("\n")[0]));
    });
    child.on("close", (code) => reject(new Error(`serve exited early with ${code}`)));
  });
  const { url } = await started;
  expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok" });
  // No provider key: memory routes work; chat says what to set.
  expect((await fetch(`${url}/v1/memories?user_id=alice`)).status).toBe(200);
  const chat = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
      user: "a",
    }),
  });
  expect(chat.status).toBe(400);
  expect(((await chat.json()) as { error: { message: string } }).error.message).toMatch(
    /Set OPENAI_API_KEY/,
  );
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
}, 180_000);

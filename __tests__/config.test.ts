import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { ChatOpenAI } from "@langchain/openai";
import { Memory } from "../src/backends/memory.js";
import { resolveMemoryConfig, type MemoryConfig } from "../src/backends/config.js";
import { Mem0ConfigError } from "../src/errors.js";
import { FakeOpenAIServer, HashEmbeddings } from "../src/testing/index.js";

let server: FakeOpenAIServer;
let dir: string;
let warn: jest.SpiedFunction<typeof console.warn>;

beforeAll(async () => {
  server = await FakeOpenAIServer.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-config-"));
});
afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  server.reset();
  warn = jest.spyOn(console, "warn").mockImplementation(() => {});
});
afterEach(() => warn.mockRestore());

const ops = (add: string[]) => ({ json: { add, update: [], delete: [] } });
const alice = { userId: "alice" };

/** Sets environment variables for the duration of `fn`, then restores them. */
async function withEnv<T>(
  vars: Record<string, string | undefined>,
  fn: () => Promise<T>,
): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

/** Runs `fn` with `cwd` as the working directory, then restores it. */
async function inDir<T>(cwd: string, fn: () => Promise<T>): Promise<T> {
  const previous = process.cwd();
  process.chdir(cwd);
  try {
    return await fn();
  } finally {
    process.chdir(previous);
  }
}

async function configError(config: unknown): Promise<Mem0ConfigError> {
  const error = await Memory.fromConfig(config as MemoryConfig).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Mem0ConfigError);
  return error as Mem0ConfigError;
}

const installed = (pkg: string) =>
  fs.existsSync(path.join(process.cwd(), "node_modules", pkg, "package.json"));

describe("Memory.fromConfig with the Python proxy's example config", () => {
  it("uses the embedded SQLite store at ./db/memory.db, warns once, and adds + searches", async () => {
    const cwd = fs.mkdtempSync(path.join(dir, "proxy-"));
    const config: MemoryConfig = {
      vector_store: { provider: "chroma", config: { path: "./db" } },
      llm: { provider: "openai", config: { model: "gpt-4o" } },
    };
    await withEnv({ OPENAI_BASE_URL: server.baseURL, OPENAI_API_KEY: "test-key" }, () =>
      inDir(cwd, async () => {
        const memory = await Memory.fromConfig(config);
        try {
          expect(warn).toHaveBeenCalledTimes(1);
          expect(warn.mock.calls[0][0]).toBe(
            '[langchain-mem0] vector_store provider "chroma" is not built in; using the embedded SQLite store at ./db/memory.db.',
          );

          server.enqueue(ops(["User's name is Alice", "User likes green tea"]));
          const added = await memory.add(
            [{ role: "user", content: "Hi, I'm Alice and I love green tea" }],
            alice,
          );
          expect(added.results.map((r) => [r.event, r.memory])).toEqual([
            ["ADD", "User's name is Alice"],
            ["ADD", "User likes green tea"],
          ]);
          const found = await memory.search("What tea does she like?", alice);
          expect(found.results[0].memory).toBe("User likes green tea");

          expect(server.chatRequests).toHaveLength(1);
          expect(server.chatRequests[0].model).toBe("gpt-4o");
          expect(server.embeddingRequests.length).toBeGreaterThan(0);
          expect(server.embeddingRequests.every((r) => r.model === "text-embedding-3-small")).toBe(
            true,
          );
          expect(server.requests.every((r) => r.headers.authorization === "Bearer test-key")).toBe(
            true,
          );
        } finally {
          await memory.close();
        }
      }),
    );
    expect(fs.existsSync(path.join(cwd, "db", "memory.db"))).toBe(true);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});

describe("Memory.fromConfig mappings", () => {
  it("maps sqlite :memory:, base_url, api_key, temperature and max_tokens", async () => {
    const memory = await Memory.fromConfig({
      llm: {
        provider: "openai",
        config: {
          model: "gpt-4o-mini",
          api_key: "k-1",
          openai_base_url: server.baseURL,
          temperature: 0.2,
          max_tokens: 321,
          max_retries: 0,
        },
      },
      embedder: {
        provider: "openai",
        config: { api_key: "k-1", base_url: server.baseURL, embedding_dims: 64 },
      },
      vector_store: { provider: "sqlite", config: { path: ":memory:" } },
    });
    try {
      server.enqueue(ops(["User lives in Paris"]));
      await memory.add(["I live in Paris"], alice);
      const found = await memory.search("Paris", alice);
      expect(found.results.map((r) => r.memory)).toEqual(["User lives in Paris"]);
      const [chat] = server.chatRequests;
      expect(chat.model).toBe("gpt-4o-mini");
      expect(chat.temperature).toBe(0.2);
      expect(chat.max_tokens ?? chat.max_completion_tokens).toBe(321);
      expect(server.embeddingRequests.every((r) => r.dimensions === 64)).toBe(true);
      expect(server.requests.every((r) => r.headers.authorization === "Bearer k-1")).toBe(true);
    } finally {
      await memory.close();
    }
    expect(warn).not.toHaveBeenCalled();
  });

  it("accepts instances via provider langchain, camelCase keys and a custom prompt", async () => {
    const llm = new ChatOpenAI({
      model: "gpt-4o-mini",
      apiKey: "test",
      configuration: { baseURL: server.baseURL },
    });
    const embeddings = new HashEmbeddings({ dimensions: 32 });
    const memory = await Memory.fromConfig({
      llm: { provider: "langchain", config: { model: llm } },
      embedder: { provider: "langchain", config: { model: embeddings } },
      vectorStore: { provider: "memory", config: { dbPath: ":memory:" } },
      customPrompt: "Only remember food preferences.",
      version: "v1.1",
    });
    try {
      server.enqueue(ops(["User likes sushi"]));
      expect((await memory.add(["I like sushi"], alice)).results).toHaveLength(1);
      expect(server.chatRequests[0].systemText).toContain("Only remember food preferences.");
      expect(server.embeddingRequests).toHaveLength(0);
      expect((await memory.search("sushi", alice)).results[0].memory).toBe("User likes sushi");
    } finally {
      await memory.close();
    }
  });

  it("builds the offline hash embedder with embedding_dims", async () => {
    const options = await resolveMemoryConfig({
      llm: {
        provider: "openai",
        config: { model: "gpt-4o-mini", api_key: "x", base_url: server.baseURL },
      },
      embedder: { provider: "hash", config: { embedding_dims: 48 } },
      vector_store: { provider: "sqlite", config: { path: ":memory:" } },
    });
    expect(options.embeddings).toBeInstanceOf(HashEmbeddings);
    expect((options.embeddings as HashEmbeddings).dimensions).toBe(48);
    expect(options.path).toBe(":memory:");
    const memory = new Memory(options);
    try {
      await memory.add(["I play chess on Sundays"], { ...alice, infer: false });
      expect((await memory.search("chess", alice)).results).toHaveLength(1);
      expect(server.embeddingRequests).toHaveLength(0);
    } finally {
      await memory.close();
    }
  });

  it("turns graph memory on for Mem0's graph_store, kept in the embedded store", async () => {
    const memory = await Memory.fromConfig({
      llm: {
        provider: "openai",
        config: { model: "gpt-4o-mini", api_key: "x", base_url: server.baseURL },
      },
      embedder: { provider: "hash" },
      vector_store: { provider: "sqlite", config: { path: ":memory:" } },
      graph_store: { provider: "neo4j", config: { url: "bolt://localhost:7687" } },
    });
    try {
      expect(memory.graph).toBeDefined();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toMatch(/graph_store provider "neo4j" is not built in/);
    } finally {
      await memory.close();
    }
    const plain = await Memory.fromConfig({
      llm: {
        provider: "openai",
        config: { model: "gpt-4o-mini", api_key: "x", base_url: server.baseURL },
      },
      embedder: { provider: "hash" },
      vector_store: { provider: "sqlite", config: { path: ":memory:" } },
    });
    expect(plain.hasGraph).toBe(false);
    await plain.close();
  });

  it("defaults to OpenAI text-embedding-3-small and an OpenAI llm", async () => {
    const options = await withEnv({ OPENAI_API_KEY: "test-key" }, () =>
      resolveMemoryConfig({ vector_store: { provider: "sqlite", config: { path: ":memory:" } } }),
    );
    expect(options.embeddings.constructor.name).toBe("OpenAIEmbeddings");
    expect((options.embeddings as unknown as { model: string }).model).toBe(
      "text-embedding-3-small",
    );
    expect(options.llm).toBeDefined();
  });

  it("uses history_db_path as the store file when the vector store has no path", async () => {
    const file = path.join(dir, "history", "history.db");
    const options = await resolveMemoryConfig({
      llm: { provider: "openai", config: { api_key: "x", base_url: server.baseURL } },
      embedder: { provider: "hash" },
      history_db_path: file,
    });
    expect(options.path).toBe(file);
    expect(warn).not.toHaveBeenCalled();

    const both = await resolveMemoryConfig({
      llm: { provider: "openai", config: { api_key: "x", base_url: server.baseURL } },
      embedder: { provider: "hash" },
      vector_store: {
        provider: "qdrant",
        config: { path: path.join(dir, "q"), collection_name: "mem0" },
      },
      historyDbPath: file,
    });
    expect(both.path).toBe(`${path.join(dir, "q")}/memory.db`);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(
      /provider "qdrant" is not built in.*historyDbPath is not used/,
    );
  });

  it("puts a sqlite store inside an existing directory", async () => {
    const options = await resolveMemoryConfig({
      llm: { provider: "langchain", config: { model: new ChatOpenAI({ apiKey: "x" }) } },
      embedder: { provider: "hash" },
      vector_store: { provider: "sqlite", config: { path: dir } },
    });
    expect(options.path).toBe(path.join(dir, "memory.db"));
  });
});

describe("Memory.fromConfig errors", () => {
  const hash = { provider: "hash" };

  it("rejects unknown providers, listing the supported ones", async () => {
    const llm = await configError({
      llm: { provider: "litellm", config: { model: "x" } },
      embedder: hash,
    });
    expect(llm.message).toMatch(
      /llm\.provider "litellm" is not supported\. Supported providers: .*openai.*anthropic.*ollama/,
    );
    const embedder = await configError({ embedder: { provider: "fastembed" } });
    expect(embedder.message).toMatch(
      /embedder\.provider "fastembed" is not supported\. Supported providers: openai, ollama, huggingface, transformers, langchain, hash/,
    );
  });

  it("rejects a vector store it does not ship when no path is given", async () => {
    const error = await configError({
      llm: { provider: "openai", config: { api_key: "x" } },
      embedder: hash,
      vector_store: { provider: "pgvector", config: { host: "localhost", port: 5432 } },
    });
    expect(error.message).toMatch(
      /vector_store provider "pgvector" is not built in\. Set vector_store\.config\.path/,
    );
    expect(warn).not.toHaveBeenCalled();
  });

  it("names the field path of wrong types", async () => {
    const cases: [unknown, RegExp][] = [
      ["nope", /expected a config object/],
      [{ llm: "openai" }, /llm must be an object/],
      [{ llm: { config: {} } }, /llm\.provider must be a non-empty string/],
      [
        { llm: { provider: "openai", config: { model: 4 } } },
        /llm\.config\.model must be a string, got number 4/,
      ],
      [
        { llm: { provider: "openai", config: { temperature: "hot" } } },
        /llm\.config\.temperature must be a number/,
      ],
      [
        { llm: { provider: "openai", config: { max_tokens: -1 } } },
        /llm\.config\.max_tokens must be a positive integer/,
      ],
      [{ llm: { provider: "openai", config: [] } }, /llm\.config must be an object, got an array/],
      [{ llm: { provider: "openai", model: "gpt-4o" } }, /llm\.model is not a known field/],
      [
        { llm: { provider: "langchain", config: { model: "gpt-4o" } } },
        /llm\.config\.model must be a LangChain chat model instance/,
      ],
      [
        { embedder: { provider: "hash", config: { embedding_dims: 1.5 } } },
        /embedder\.config\.embedding_dims must be a positive integer/,
      ],
      [
        { embedder: { provider: "langchain", config: {} } },
        /embedder\.config\.model must be a LangChain Embeddings instance/,
      ],
      [
        { embedder: hash, vector_store: { provider: "sqlite", config: { path: 7 } } },
        /vector_store\.config\.path must be a string/,
      ],
      [
        {
          embedder: hash,
          vector_store: { provider: "sqlite" },
          vectorStore: { provider: "sqlite" },
        },
        /either vector_store or vectorStore/,
      ],
      [{ embedder: hash, history_db_path: false }, /config\.history_db_path must be a string/],
      [
        { embedder: hash, custom_fact_extraction_prompt: 1 },
        /config\.custom_fact_extraction_prompt must be a string/,
      ],
    ];
    for (const [config, pattern] of cases) {
      const error = await withEnv({ OPENAI_API_KEY: "x" }, () => configError(config));
      expect(error.message).toMatch(pattern);
    }
  });

  it("rejects base_url for a provider whose option name it does not know", async () => {
    const error = await configError({
      llm: {
        provider: "mistralai",
        config: { model: "mistral-small", base_url: "http://localhost:1" },
      },
      embedder: hash,
    });
    expect(error.message).toMatch(
      /llm\.config\.base_url is not supported for provider "mistralai"/,
    );
  });

  const ollamaMissing = !installed("@langchain/ollama");
  (ollamaMissing ? it : it.skip)(
    "names the npm package to install when @langchain/ollama is missing",
    async () => {
      const target = path.join(dir, "never");
      const llm = await configError({
        llm: {
          provider: "ollama",
          config: { model: "llama3.1", ollama_base_url: "http://localhost:11434" },
        },
        embedder: hash,
        vector_store: { provider: "chroma", config: { path: target } },
      });
      expect(llm.message).toMatch(
        /llm provider "ollama" needs the package @langchain\/ollama.*Run: npm install @langchain\/ollama$/,
      );
      expect(fs.existsSync(target)).toBe(false);
      expect(warn).not.toHaveBeenCalled();

      const embedder = await configError({
        llm: { provider: "openai", config: { api_key: "x" } },
        embedder: { provider: "ollama", config: { model: "nomic-embed-text" } },
      });
      expect(embedder.message).toMatch(/Run: npm install @langchain\/ollama$/);
    },
  );

  (installed("@langchain/anthropic") ? it.skip : it)(
    "names @langchain/anthropic for provider anthropic",
    async () => {
      const error = await configError({
        llm: { provider: "anthropic", config: { model: "claude-sonnet-4-5", api_key: "x" } },
        embedder: hash,
      });
      expect(error.message).toMatch(/Run: npm install @langchain\/anthropic$/);
    },
  );

  (installed("@langchain/community") ? it.skip : it)(
    "names the Transformers.js packages for huggingface",
    async () => {
      const error = await configError({
        llm: { provider: "openai", config: { api_key: "x" } },
        embedder: { provider: "huggingface", config: { model: "Xenova/all-MiniLM-L6-v2" } },
      });
      expect(error.message).toMatch(
        /Run: npm install @langchain\/community @huggingface\/transformers$/,
      );
    },
  );
});

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { Document } from "@langchain/core/documents";
import { BaseDocumentCompressor } from "@langchain/core/retrievers/document_compressors";
import { ChatOpenAI } from "@langchain/openai";
import pg from "pg";
import { PostgresStore } from "../src/stores/postgres.js";
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

const supportedStores =
  'Memory.fromConfig keeps memories in the embedded SQLite store (provider "sqlite", ' +
  'config.path: a file or ":memory:"; or chroma, qdrant, faiss or memory with a local ' +
  'config.path and no server settings) or in Postgres (provider "pgvector"); for another ' +
  "store, build the engine yourself: new Memory({ llm, embeddings, store })";

/** A LangChain document compressor that reverses the candidates it is given. */
class ReversingReranker extends BaseDocumentCompressor {
  readonly seen: string[][] = [];
  async compressDocuments(documents: Document[]): Promise<Document[]> {
    this.seen.push(documents.map((d) => d.pageContent));
    return [...documents].reverse().map(
      (document, index) =>
        new Document({
          pageContent: document.pageContent,
          metadata: { ...document.metadata, relevanceScore: 1 - index / 10 },
        }),
    );
  }
}

const installed = (pkg: string) =>
  fs.existsSync(path.join(process.cwd(), "node_modules", pkg, "package.json"));

describe("Memory.fromConfig with the seed's example config (Mem0 proxy, SPEC §3)", () => {
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
            '[langchain-mem0] vector_store provider "chroma" maps to the embedded SQLite store at ' +
              "./db/memory.db; data written by chroma itself is not read.",
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

  it("accepts mem0ai's camelCase config with LangChain instances", async () => {
    const llm = new ChatOpenAI({
      model: "gpt-4o-mini",
      apiKey: "test",
      configuration: { baseURL: server.baseURL },
    });
    const embeddings = new HashEmbeddings({ dimensions: 32 });
    const memory = await Memory.fromConfig({
      llm: { provider: "langchain", config: { model: llm } },
      embedder: { provider: "langchain", config: { model: embeddings } },
      vectorStore: {
        provider: "memory",
        config: { collectionName: "memories", dimension: 32, dbPath: ":memory:" },
      },
      customPrompt: "Only remember food preferences.",
      version: "v1.1",
      disableHistory: false,
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
    expect(warn.mock.calls).toEqual([
      [
        '[langchain-mem0] vectorStore provider "memory" maps to the embedded SQLite store in ' +
          "memory; data written by mem0ai itself is not read.",
      ],
    ]);
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
    const base = {
      llm: {
        provider: "openai",
        config: { model: "gpt-4o-mini", api_key: "x", base_url: server.baseURL },
      },
      embedder: { provider: "hash" },
      vector_store: { provider: "sqlite", config: { path: ":memory:" } },
    };
    const memory = await Memory.fromConfig({
      ...base,
      graph_store: {
        provider: "neo4j",
        config: { url: "bolt://localhost:7687", username: "neo4j", password: "pw-secret-7" },
      },
    });
    try {
      expect(memory.hasGraph).toBe(true);
      expect(warn.mock.calls).toEqual([
        [
          '[langchain-mem0] graph_store provider "neo4j" maps to graph memory in the embedded ' +
            "store; its connection settings are not used.",
        ],
      ]);
    } finally {
      await memory.close();
    }
    const plain = await Memory.fromConfig(base);
    expect(plain.hasGraph).toBe(false);
    await plain.close();

    const off = await resolveMemoryConfig({
      ...base,
      graphStore: { provider: "neo4j" },
      enableGraph: false,
    });
    expect(off.graph).toBe(false);
    const on = await resolveMemoryConfig({ ...base, enableGraph: true });
    expect(on.graph).toBe(true);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it("maps graph_store threshold and custom_prompt", async () => {
    const options = await resolveMemoryConfig({
      llm: { provider: "openai", config: { api_key: "x" } },
      embedder: { provider: "hash" },
      vector_store: { provider: "sqlite", config: { path: ":memory:" } },
      graph_store: { provider: "sqlite", threshold: 0.8, custom_prompt: "Track employers." },
      custom_instructions: "Only work facts.",
      custom_update_memory_prompt: "Prefer the newest fact.",
    });
    expect(options.graph).toEqual({ entityThreshold: 0.8 });
    expect(options.customInstructions).toBe(
      "Only work facts.\n\nPrefer the newest fact.\n\nTrack employers.",
    );
    expect(warn).not.toHaveBeenCalled();
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

  const offline = {
    llm: { provider: "openai", config: { api_key: "x" } },
    embedder: { provider: "hash" },
  };

  it("uses history_db_path as the store file when the vector store has no path", async () => {
    const file = path.join(dir, "history", "history.db");
    const options = await resolveMemoryConfig({ ...offline, history_db_path: file });
    expect(options.path).toBe(file);
    const mem0ai = await resolveMemoryConfig({
      ...offline,
      vectorStore: { provider: "sqlite" },
      historyStore: { provider: "sqlite", config: { historyDbPath: file } },
    });
    expect(mem0ai.path).toBe(file);
    expect(warn).not.toHaveBeenCalled();

    const both = await resolveMemoryConfig({
      ...offline,
      vector_store: {
        provider: "qdrant",
        config: { path: path.join(dir, "q"), collection_name: "mem0", on_disk: true },
      },
      historyDbPath: file,
    });
    expect(both.path).toBe(`${path.join(dir, "q")}/memory.db`);
    expect(warn.mock.calls).toEqual([
      [
        `[langchain-mem0] vector_store provider "qdrant" maps to the embedded SQLite store at ` +
          `${both.path}; data written by qdrant itself is not read. historyDbPath is not used: ` +
          `history is kept in the store's file ${both.path}.`,
      ],
    ]);
  });

  it("maps every local-path provider in either spelling to <path>/memory.db", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ vector_store: { provider: "chroma", config: { path: "./db" } } }, "./db/memory.db"],
      [{ vectorStore: { provider: "Chroma", config: { path: "db/" } } }, "db/memory.db"],
      [{ vector_store: { provider: "qdrant", config: { db_path: "/q" } } }, "/q/memory.db"],
      [
        {
          vectorStore: {
            provider: "faiss",
            config: { dbPath: "f", distanceStrategy: "euclidean" },
          },
        },
        "f/memory.db",
      ],
      [{ vectorStore: { provider: "memory", config: { dbPath: "v.db" } } }, "v.db"],
    ];
    for (const [storage, file] of cases) {
      warn.mockClear();
      const options = await resolveMemoryConfig({ ...offline, ...storage });
      expect(options.path).toBe(file);
      expect(warn).toHaveBeenCalledTimes(1);
      const key = Object.keys(storage)[0];
      expect(warn.mock.calls[0][0]).toContain(`${key} provider "`);
      expect(warn.mock.calls[0][0]).toContain(`store at ${file};`);
    }
  });

  it("notes a collection name other than Mem0's defaults in the one notice", async () => {
    const logger = { warn: jest.fn<(message: string) => void>() };
    await resolveMemoryConfig({
      ...offline,
      vector_store: { provider: "chroma", config: { path: "./db", collection_name: "travel" } },
      logger,
    });
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toMatch(
      /provider "chroma" maps to .* vector_store\.config\.collection_name "travel" is not used: memories are kept apart by user, agent and run ids; use another path for a separate store\.$/,
    );
    expect(warn).not.toHaveBeenCalled();
  });

  it("sends the notice to the logger option, never with secrets", async () => {
    const logger = { warn: jest.fn<(message: string) => void>() };
    const options = await resolveMemoryConfig({
      llm: { provider: "openai", config: { api_key: "sk-llm-secret" } },
      embedder: { provider: "hash", config: { api_key: "sk-embed-secret" } },
      vector_store: { provider: "chroma", config: { path: path.join(dir, "c") } },
      graph_store: { provider: "neo4j", config: { password: "neo-secret" } },
      history_db_path: path.join(dir, "h.db"),
      logger,
    });
    expect(warn).not.toHaveBeenCalled();
    expect(logger.warn).toHaveBeenCalledTimes(1);
    const [notice] = logger.warn.mock.calls[0];
    expect(notice).toContain('vector_store provider "chroma"');
    expect(notice).toContain("history_db_path is not used");
    expect(notice).toContain('graph_store provider "neo4j"');
    expect(notice).not.toMatch(/secret|langchain-mem0/);
    // The engine's own warnings go to the same logger.
    expect(options.logger).toBe(logger);
  });

  it("maps reranker provider langchain to the engine's reranker", async () => {
    const reranker = new ReversingReranker();
    const memory = await Memory.fromConfig({
      ...offline,
      vector_store: { provider: "sqlite", config: { path: ":memory:" } },
      reranker: { provider: "langchain", config: { model: reranker } },
    });
    try {
      await memory.add(["Alice likes sci-fi movies", "Alice likes movies"], {
        ...alice,
        infer: false,
      });
      const { results } = await memory.search("movies", { ...alice, rerank: true });
      expect(reranker.seen).toHaveLength(1);
      expect(results.map((r) => r.memory)).toEqual([...reranker.seen[0]].reverse());
      expect(results[0].rerankScore).toBe(1);
    } finally {
      await memory.close();
    }
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

describe("Memory.fromConfig with Mem0's pgvector store", () => {
  const hash = { provider: "hash" };
  const llm = { provider: "openai", config: { api_key: "x" } };

  it("maps server settings to a PostgresStore (connecting on first use), with a notice free of secrets", async () => {
    const memory = await Memory.fromConfig({
      llm,
      embedder: hash,
      vector_store: {
        provider: "pgvector",
        config: {
          host: "db.internal",
          port: 5433,
          user: "app",
          password: "pg-secret",
          dbname: "memories",
          collection_name: "Team_Memories",
          embedding_model_dims: 256,
          hnsw: false,
          maxconn: 4,
        },
      },
      history_db_path: "./unused.db",
    });
    expect(memory.store).toBeInstanceOf(PostgresStore);
    const store = memory.store as PostgresStore;
    expect(store.schema).toBe("team_memories");
    const pool = (
      store as unknown as { connection: { pool: { options: Record<string, unknown> } } }
    ).connection.pool.options;
    expect(pool.connectionString).toBe("postgres://app:pg-secret@db.internal:5433/memories");
    expect(pool.max).toBe(4);
    expect(
      (store as unknown as { search: { ctx: { exactSearch: boolean } } }).search.ctx.exactSearch,
    ).toBe(true);
    expect(warn).toHaveBeenCalledTimes(1);
    const notice = String(warn.mock.calls[0][0]);
    expect(notice).toMatch(/"team_memories" is the Postgres schema/);
    expect(notice).toMatch(/history_db_path is not used/);
    expect(notice).not.toMatch(/secret/);
    await memory.close();
  });

  it("takes connection_string or a pg Pool; refuses diskann, a bad schema name and no connection", async () => {
    const byUrl = await Memory.fromConfig({
      llm,
      embedder: hash,
      vectorStore: { provider: "pgvector", config: { connectionString: "postgres://a@h/db" } },
    });
    expect((byUrl.store as PostgresStore).schema).toBe("langchain_mem0");
    await byUrl.close();
    const pool = new pg.Pool({ connectionString: "postgres://a@h/db" });
    const byPool = await Memory.fromConfig({
      llm,
      embedder: hash,
      vector_store: { provider: "pgvector", config: { connection_pool: pool } },
    });
    expect((byPool.store as unknown as { connection: { pool: unknown } }).connection.pool).toBe(
      pool,
    );
    await byPool.close();
    await pool.end();
    const refused = (config: Record<string, unknown>) =>
      configError({ llm, embedder: hash, vector_store: { provider: "pgvector", config } });
    expect((await refused({ host: "h", diskann: true })).message).toMatch(
      /vector_store\.config\.diskann: DiskANN .* HNSW/,
    );
    expect((await refused({ host: "h", collection_name: "no-dashes" })).message).toMatch(
      /collection_name: names the Postgres schema/,
    );
    expect((await refused({ user: "u" })).message).toMatch(
      /give connection_string, connection_pool \(a pg Pool\) or host/,
    );
    expect((await refused({ host: "h", port: "x" })).message).toMatch(/vector_store\.config\.port/);
  });
});

describe("Memory.fromConfig refusals", () => {
  const hash = { provider: "hash" };
  const llm = { provider: "openai", config: { api_key: "x" } };

  it("refuses hosted and server-backed vector stores, naming the provider and what works", async () => {
    const target = path.join(dir, "refused");
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { provider: "pinecone", config: { api_key: "pc-secret", index_name: "m" } },
        /^Invalid memory config: vector_store\.provider: "pinecone" is not supported\. /,
      ],
      [{ provider: "weaviate", config: {} }, /vector_store\.provider: "weaviate" is not supported/],
      [
        { provider: "qdrant", config: { url: "https://u:q-secret@cloud.qdrant.io", path: target } },
        /vector_store\.config: "url" connects qdrant to a server, which is not supported\. /,
      ],
      [
        { provider: "qdrant", config: { host: "localhost", port: 6333 } },
        /vector_store\.config: "host", "port" connect qdrant to a server/,
      ],
      [
        { provider: "chroma", config: { api_key: "ck-secret", tenant: "t", database: "d" } },
        /vector_store\.config: "api_key", "tenant", "database" connect chroma to a server/,
      ],
      [
        { provider: "memory", config: { client: { fake: true } } },
        /vector_store\.config: "client" connects memory to a server/,
      ],
    ];
    for (const [store, pattern] of cases) {
      const error = await configError({ llm, embedder: hash, vector_store: store });
      expect(error.message).toMatch(pattern);
      expect(error.message).toContain(supportedStores);
      expect(error.message).not.toMatch(/secret/);
    }
    expect(fs.existsSync(target)).toBe(false);
    expect(warn).not.toHaveBeenCalled();
  });

  it("refuses a local-path provider without a usable directory", async () => {
    const file = path.join(dir, "a-file");
    fs.writeFileSync(file, "");
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { provider: "chroma" },
        /vector_store\.config\.path: required for provider "chroma": the directory that holds the embedded SQLite store \(memory\.db\); or use provider "sqlite"\.$/,
      ],
      [
        { provider: "faiss", config: { path: ":memory:" } },
        /vector_store\.config\.path: faiss keeps its data in a directory, and this is ":memory:"/,
      ],
      [
        { provider: "qdrant", config: { dbPath: file } },
        /vector_store\.config\.dbPath: qdrant keeps its data in a directory, and this is a file; give a directory/,
      ],
      [
        { provider: "faiss", config: { path: "./db", distance_strategy: "manhattan" } },
        /vector_store\.config\.distance_strategy: expected one of "cosine", "euclidean", "inner_product"\.$/,
      ],
      [
        { provider: "faiss", config: { path: "./db", normalize_L2: true } },
        /vector_store\.config: unknown key "normalize_L2"; expected path \/ db_path, collection_name, embedding_model_dims \/ dimension, on_disk, distance_strategy \(camelCase spellings work too\)\.$/,
      ],
    ];
    for (const [store, pattern] of cases) {
      const error = await configError({ llm, embedder: hash, vector_store: store });
      expect(error.message).toMatch(pattern);
    }
    expect(warn).not.toHaveBeenCalled();
  });

  it("refuses Mem0 settings it cannot honour, saying why", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        {
          reranker: { provider: "cohere", config: { model: "rerank-v3.5", api_key: "co-secret" } },
        },
        /^Invalid memory config: reranker\.provider: "cohere" is not supported; give any LangChain document compressor \(e\.g\. CohereRerank from @langchain\/cohere\) as config\.model with provider "langchain"\.$/,
      ],
      [
        { reranker: { provider: "langchain", config: {} } },
        /^Invalid memory config: reranker\.config\.model: expected a LangChain document compressor \(with compressDocuments\)\.$/,
      ],
      [
        { disableHistory: true },
        /disableHistory: history backs history\(id\) and is always kept in the store's file; remove this key/,
      ],
      [{ version: "v1.0" }, /version: only "v1\.1" is supported/],
      [
        { graph_store: { provider: "neo4j", llm: { provider: "openai" } } },
        /graph_store\.llm: a separate graph LLM is not supported: .*configure the top-level llm/,
      ],
      [
        { historyStore: { provider: "supabase", config: { supabaseUrl: "https://x" } } },
        /historyStore\.provider: "supabase" is not supported: history is kept in the memory store's SQLite file/,
      ],
    ];
    for (const [config, pattern] of cases) {
      const error = await configError({ llm, embedder: hash, ...config });
      expect(error.message).toMatch(pattern);
      expect(error.message).not.toMatch(/secret/);
    }
  });

  it("rejects unknown top-level keys, naming them and the supported ones", async () => {
    const error = await configError({
      llm,
      embedder: hash,
      vectorstore: { provider: "sqlite" },
      api_key: "m0-secret",
    });
    expect(error.message).toBe(
      'Invalid memory config: unknown keys "vectorstore", "api_key"; expected llm, embedder, ' +
        "vector_store, graph_store, enable_graph, history_db_path, history_store, " +
        "disable_history, custom_instructions / custom_fact_extraction_prompt / custom_prompt, " +
        "custom_update_memory_prompt, version, reranker, logger (camelCase spellings work too).",
    );
  });

  it("rejects two spellings of one setting", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [
        { vector_store: { provider: "sqlite" }, vectorStore: { provider: "sqlite" } },
        'give only one of "vectorStore" and "vector_store"',
      ],
      [
        { llm: { provider: "openai", config: { api_key: "a", apiKey: "b" } } },
        'llm.config: give only one of "apiKey" and "api_key"',
      ],
      [
        {
          llm: {
            provider: "openai",
            config: { base_url: "http://a", openai_base_url: "http://b" },
          },
        },
        'llm.config: give only one of "base_url" and "openai_base_url"',
      ],
      [
        { llm: { provider: "openai", config: { top_p: 1, topP: 1 } } },
        'llm.config: give only one of "top_p" and "topP"',
      ],
      [
        { custom_fact_extraction_prompt: "a", customInstructions: "b" },
        'give only one of "customInstructions" and "custom_fact_extraction_prompt"',
      ],
      [
        {
          historyDbPath: "a.db",
          historyStore: { provider: "sqlite", config: { historyDbPath: "b.db" } },
        },
        "give either historyDbPath or historyStore, not both",
      ],
    ];
    for (const [config, text] of cases) {
      const error = await configError({ llm, embedder: hash, ...config });
      expect(error.message).toContain(text);
    }
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
      /llm\.provider: "litellm" is not supported; supported providers: .*openai.*anthropic.*ollama/,
    );
    const embedder = await configError({ embedder: { provider: "fastembed" } });
    expect(embedder.message).toBe(
      'Invalid memory config: embedder.provider: "fastembed" is not supported; supported ' +
        "providers: openai, ollama, huggingface, transformers, langchain, hash.",
    );
  });

  it("names the path of every wrong setting", async () => {
    const cases: [unknown, string][] = [
      ["nope", "expected a config object such as { llm, embedder, vector_store }, got a string"],
      [{ llm: "openai" }, "llm: expected an object, got a string"],
      [{ llm: { config: {} } }, "llm.provider: expected a provider name, got undefined"],
      [{ llm: { provider: " " } }, "llm.provider: expected a provider name, got an empty string"],
      [
        { llm: { provider: "openai", config: { model: 4 } } },
        "llm.config.model: expected a model name, got number 4",
      ],
      [
        { llm: { provider: "openai", config: { temperature: "hot" } } },
        "llm.config.temperature: expected a number, got a string",
      ],
      [
        { llm: { provider: "openai", config: { max_tokens: -1 } } },
        "llm.config.max_tokens: expected a number > 0, got number -1",
      ],
      [{ llm: { provider: "openai", config: [] } }, "llm.config: expected an object, got an array"],
      [
        { llm: { provider: "openai", model: "gpt-4o" } },
        'llm: unknown key "model"; a section takes { provider, config }: put provider settings under its config',
      ],
      [
        { llm: { provider: "langchain", config: { model: "gpt-4o" } } },
        'llm.config.model: expected a LangChain chat model instance with provider "langchain", got a string',
      ],
      [
        {
          llm: {
            provider: "langchain",
            config: { model: new ChatOpenAI({ apiKey: "x" }), temperature: 0 },
          },
        },
        'llm.config: temperature not used with provider "langchain": configure the instance itself',
      ],
      [
        { llm: { provider: "openai", config: { model: new ChatOpenAI({ apiKey: "x" }) } } },
        'llm.config.model: expected a model name, got an object; for an instance use provider "langchain"',
      ],
      [
        { embedder: { provider: "hash", config: { embedding_dims: 1.5 } } },
        "embedder.config.embedding_dims: expected an integer, got number 1.5",
      ],
      [
        { embedder: { provider: "langchain", config: {} } },
        'embedder.config.model: expected a LangChain Embeddings instance with provider "langchain", got undefined',
      ],
      [
        { embedder: hash, vector_store: { provider: "chroma", config: { collection_name: 7 } } },
        "vector_store.config.collection_name: expected a string, got number 7",
      ],
      [
        { embedder: hash, vectorStore: { provider: "memory", config: { dbPath: "" } } },
        "vectorStore.config.dbPath: expected a non-empty string",
      ],
      [
        { embedder: hash, history_db_path: false },
        "history_db_path: expected a string, got boolean false",
      ],
      [{ embedder: hash, enableGraph: "yes" }, "enableGraph: expected a boolean, got a string"],
      [
        { embedder: hash, graph_store: { threshold: 2 } },
        "graph_store.threshold: expected a number <= 1, got number 2",
      ],
      [
        { embedder: hash, logger: {} },
        "logger: expected an object with a warn(message) method, such as console",
      ],
    ];
    for (const [config, text] of cases) {
      const error = await withEnv({ OPENAI_API_KEY: "x" }, () => configError(config));
      expect(error.message).toBe(`Invalid memory config: ${text}.`);
    }
  });

  it("lists every problem of a config in one error", async () => {
    const error = await configError({
      llm: { provider: "openai", config: { api_key: 5 } },
      embedder: { provider: "hash", config: { embedding_dims: 0 } },
      vector_store: { provider: "pinecone" },
      custom_fact_extraction_prompt: 1,
    });
    expect(error.message).toBe(
      "Invalid memory config:\n" +
        "- llm.config.api_key: expected a string, got number 5;\n" +
        "- embedder.config.embedding_dims: expected a number > 0, got number 0;\n" +
        `- vector_store.provider: "pinecone" is not supported. ${supportedStores};\n` +
        "- custom_fact_extraction_prompt: expected a string, got number 1.",
    );
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
      /llm\.config\.base_url: not supported for provider "mistralai"; pass the provider's own option in llm\.config \(it is forwarded to ChatMistralAI\)/,
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

      // Validation comes first: a bad store is reported without importing any provider.
      const store = await configError({
        llm: { provider: "ollama", config: { model: "llama3.1" } },
        vector_store: { provider: "pinecone" },
      });
      expect(store.message).toMatch(/vector_store\.provider: "pinecone" is not supported/);
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

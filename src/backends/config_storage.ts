import fs from "node:fs";
import nodePath from "node:path";
import { z } from "zod";
import {
  camelCase,
  configError,
  mem0Object,
  message,
  providerName,
  section,
  spelling,
} from "./config_schema.js";
import { PostgresStore, type PostgresPool, type PostgresStoreOptions } from "../stores/postgres.js";
import type { GraphOptions } from "./graph.js";
import type { MemoryStorage } from "./memory.js";

/*
 * How Mem0's `vector_store`, history and `graph_store` settings map onto this package's storage:
 * the one place that decides what `Memory.fromConfig` maps and what it refuses.
 */

/**
 * The Mem0 vector store providers `fromConfig` maps, and how; every other provider is
 * refused. `file`: `config.path` is the embedded SQLite store's file (this package's `sqlite`;
 * mem0ai's `memory`, whose `dbPath` is an SQLite file too). `directory`: a Mem0 store run in
 * local mode, whose data directory gets a `memory.db`. `postgres`: Mem0's `pgvector`, with its
 * server settings, becomes a `PostgresStore`.
 */
const VECTOR_STORES: Record<string, "file" | "directory" | "postgres"> = {
  sqlite: "file",
  memory: "file",
  chroma: "directory",
  qdrant: "directory",
  faiss: "directory",
  pgvector: "postgres",
};

const SUPPORTED_STORES =
  'Memory.fromConfig keeps memories in the embedded SQLite store (provider "sqlite", ' +
  'config.path: a file or ":memory:"; or chroma, qdrant, faiss or memory with a local ' +
  'config.path and no server settings) or in Postgres (provider "pgvector"); for another ' +
  "store, build the engine yourself: new Memory({ llm, embeddings, store })";

/** Settings (camelCased) that connect a Mem0 vector store to a server or a cloud service. */
const SERVER_SETTINGS = new Set([
  "host",
  "port",
  "url",
  "apiKey",
  "client",
  "connectionString",
  "cloudId",
  "tenant",
  "database",
  "token",
]);

/** Mem0's default collection names: setting one of them asks for nothing special. */
const DEFAULT_COLLECTIONS = new Set(["mem0", "memories"]);

/** Settings of a vector store kept in the embedded SQLite store. */
const embeddedStoreSettings = mem0Object(
  {
    path: z.string().min(1),
    collectionName: z.string(),
    embeddingModelDims: z.int().positive(),
    onDisk: z.boolean(),
    // Vectors are unit length, so Mem0's three distances rank alike; scores are cosine-based.
    distanceStrategy: z.enum(["cosine", "euclidean", "inner_product"]),
  },
  { aliases: { path: ["dbPath"], embeddingModelDims: ["dimension"] } },
);

/** Settings of Mem0's `pgvector` store (Python and TypeScript spellings). */
const postgresStoreSettings = mem0Object(
  {
    connectionString: z.string().min(1),
    connectionPool: z.custom<PostgresPool>(
      (value) => typeof (value as { connect?: unknown } | null)?.connect === "function",
      { error: "expected a pg Pool" },
    ),
    host: z.string().min(1),
    port: z.union([z.int().positive(), z.string().regex(/^\d+$/)]),
    user: z.string().min(1),
    password: z.string(),
    dbname: z.string().min(1),
    sslmode: z.enum(["disable", "prefer", "require", "verify-ca", "verify-full", "no-verify"]),
    collectionName: z.string().min(1),
    embeddingModelDims: z.int().positive(),
    hnsw: z.boolean(),
    minconn: z.int().nonnegative(),
    maxconn: z.int().positive(),
  },
  {
    aliases: { dbname: ["database"], connectionString: ["url"] },
    refused: {
      diskann:
        "DiskANN (pgvectorscale) is not used: the Postgres store indexes vectors with pgvector's " +
        "HNSW; remove this key",
    },
  },
);

const embeddedSection = section(embeddedStoreSettings);
const postgresSection = section(postgresStoreSettings);

/** `vector_store` / `vectorStore`: refusals first, then the chosen store's settings. */
export const vectorStoreSection = section(z.record(z.string(), z.unknown()))
  .superRefine(({ provider, config = {} }, ctx) => {
    if (!Object.hasOwn(VECTOR_STORES, provider)) {
      ctx.addIssue({
        code: "custom",
        path: ["provider"],
        message: `"${provider}" is not supported. ${SUPPORTED_STORES}`,
      });
      return;
    }
    const server = Object.keys(config).filter((key) => SERVER_SETTINGS.has(camelCase(key)));
    if (server.length && VECTOR_STORES[provider] !== "postgres") {
      ctx.addIssue({
        code: "custom",
        path: ["config"],
        message:
          `${server.map((key) => `"${key}"`).join(", ")} ${server.length > 1 ? "connect" : "connects"} ` +
          `${provider} to a server, which is not supported. ${SUPPORTED_STORES}`,
      });
    }
  })
  .transform((value, ctx) => {
    const schema = VECTOR_STORES[value.provider] === "postgres" ? postgresSection : embeddedSection;
    const result = (
      schema as z.ZodType<SectionOf<typeof postgresStoreSettings | typeof embeddedStoreSettings>>
    ).safeParse(value, { error: message });
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    }
    return z.NEVER;
  });

type SectionOf<T extends z.ZodType> = { provider: string; config?: z.output<T> };

/** mem0ai's `historyStore`: its SQLite path is honoured; other history stores are refused. */
export const historyStoreSection = section(z.record(z.string(), z.unknown()))
  .superRefine(({ provider }, ctx) => {
    if (provider !== "sqlite" && provider !== "memory") {
      ctx.addIssue({
        code: "custom",
        path: ["provider"],
        message:
          `"${provider}" is not supported: history is kept in the memory store's SQLite file; ` +
          'use provider "sqlite" or leave the history store out',
      });
    }
  })
  .pipe(section(mem0Object({ historyDbPath: z.string().min(1) })));

/** `graph_store` / `graphStore`: turns graph memory on; kept in the embedded store. */
export const graphStoreSection = mem0Object(
  {
    provider: providerName,
    config: z.record(z.string(), z.unknown()),
    customPrompt: z.string(),
    threshold: z.number().min(0).max(1),
  },
  {
    refused: {
      llm:
        "a separate graph LLM is not supported: relations come from the same LLM call as the " +
        "facts, so configure the top-level llm instead",
    },
  },
);

export type VectorStoreSection =
  z.output<typeof embeddedSection> | z.output<typeof postgresSection>;
export type GraphStoreSection = z.output<typeof graphStoreSection>;

/** A setting as the user spelled it, with its place in the config. */
export interface Located<T> {
  value: T;
  /** Dotted path of the setting, e.g. `vectorStore` or `historyStore.config.historyDbPath`. */
  where: string;
}

/**
 * The store for the `vector_store` and history settings: a `PostgresStore` for `pgvector`,
 * else the embedded store's file (`path` undefined: the store's default file). Remapped
 * settings add a line to `notices`.
 */
export function resolveStorage(
  vectorStore: Located<VectorStoreSection> | undefined,
  history: Located<string> | undefined,
  notices: string[],
): { path?: string; store?: () => MemoryStorage } {
  if (!vectorStore) return { path: history?.value };
  if (VECTOR_STORES[vectorStore.value.provider] === "postgres") {
    if (history !== undefined) {
      notices.push(`${history.where} is not used: history is kept in Postgres with the memories.`);
    }
    const settings = postgresSettings(
      vectorStore as Located<z.output<typeof postgresSection>>,
      notices,
    );
    return { store: () => new PostgresStore(settings) };
  }
  return {
    path: embeddedPath(vectorStore as Located<z.output<typeof embeddedSection>>, history, notices),
  };
}

/** Mem0's `pgvector` settings as `PostgresStore` options. */
function postgresSettings(
  vectorStore: Located<z.output<typeof postgresSection>>,
  notices: string[],
): PostgresStoreOptions {
  const settings = vectorStore.value.config ?? {};
  const where = `${vectorStore.where}.config`;
  const { connectionPool: pool, collectionName } = settings;
  let connectionString = settings.connectionString;
  if (!pool && !connectionString) {
    if (!settings.host) {
      throw configError(
        where,
        "give connection_string, connection_pool (a pg Pool) or host (with port, user, password, dbname)",
      );
    }
    const url = new URL("postgres://placeholder");
    url.hostname = settings.host;
    url.port = String(settings.port ?? 5432);
    url.username = settings.user ?? "";
    url.password = settings.password ?? "";
    url.pathname = `/${settings.dbname ?? "postgres"}`;
    if (settings.sslmode) url.searchParams.set("sslmode", settings.sslmode);
    connectionString = url.toString();
  }
  const schema = collectionName?.toLowerCase();
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw configError(
      `${where}.${spelling(settings, "collectionName")}`,
      "names the Postgres schema of the store's tables: use letters, digits and _ only",
    );
  }
  if (schema !== undefined) {
    notices.push(
      `${where}.${spelling(settings, "collectionName")} "${schema}" is the Postgres schema that ` +
        "holds the store's tables (memories, history, graph, outbox).",
    );
  }
  return {
    ...(pool ? { pool } : { connectionString }),
    ...(schema !== undefined ? { schema } : {}),
    ...(settings.maxconn !== undefined ? { maxConnections: settings.maxconn } : {}),
    ...(settings.hnsw === false ? { exactSearch: true } : {}),
  };
}

function embeddedPath(
  vectorStore: Located<z.output<typeof embeddedSection>>,
  history: Located<string> | undefined,
  notices: string[],
): string | undefined {
  const { provider, config: settings = {} } = vectorStore.value;
  const given = settings.path;
  let file: string | undefined;
  if (given === undefined) {
    if (VECTOR_STORES[provider] === "directory") {
      throw configError(
        `${vectorStore.where}.config.path`,
        `required for provider "${provider}": the directory that holds the embedded SQLite ` +
          'store (memory.db); or use provider "sqlite"',
      );
    }
    file = history?.value; // the history file doubles as the store's file
  } else {
    file = storeFile(provider, given, `${vectorStore.where}.config.${spelling(settings, "path")}`);
  }
  noteMapping(vectorStore, file, notices);
  if (given !== undefined && history !== undefined) {
    notices.push(`${history.where} is not used: history is kept in the store's file ${file}.`);
  }
  return file;
}

function storeFile(provider: string, given: string, where: string): string {
  const exists = given !== ":memory:" && fs.existsSync(given);
  const isDirectory = exists && fs.statSync(given).isDirectory();
  if (VECTOR_STORES[provider] === "file") {
    return isDirectory ? nodePath.join(given, "memory.db") : given;
  }
  if (given === ":memory:" || (exists && !isDirectory)) {
    throw configError(
      where,
      `${provider} keeps its data in a directory, and this is ${exists ? "a file" : '":memory:"'}; ` +
        'give a directory (memory.db is created in it), or use provider "sqlite" for a file',
    );
  }
  return `${given.replace(/[\\/]+$/, "") || "."}/memory.db`;
}

function noteMapping(
  vectorStore: Located<z.output<typeof embeddedSection>>,
  file: string | undefined,
  notices: string[],
): void {
  const { provider, config: settings = {} } = vectorStore.value;
  if (provider !== "sqlite") {
    const at =
      file === undefined ? "at its default file" : file === ":memory:" ? "in memory" : `at ${file}`;
    notices.push(
      `${vectorStore.where} provider "${provider}" maps to the embedded SQLite store ${at}; ` +
        `data written by ${provider === "memory" ? "mem0ai" : provider} itself is not read.`,
    );
  }
  const collection = settings.collectionName;
  if (collection !== undefined && !DEFAULT_COLLECTIONS.has(collection)) {
    notices.push(
      `${vectorStore.where}.config.${spelling(settings, "collectionName")} "${collection}" is ` +
        "not used: memories are kept apart by user, agent and run ids; use another path for a " +
        "separate store.",
    );
  }
}

/** The `graph` option of `Memory` for `graph_store` / `enableGraph`. */
export function resolveGraph(
  graphStore: Located<GraphStoreSection> | undefined,
  enableGraph: boolean | undefined,
  notices: string[],
): boolean | GraphOptions {
  if (!(enableGraph ?? graphStore !== undefined)) return false;
  if (!graphStore) return true;
  const { provider, threshold, config = {} } = graphStore.value;
  if ((provider !== undefined && provider !== "sqlite") || Object.keys(config).length) {
    notices.push(
      `${graphStore.where}${provider ? ` provider "${provider}"` : ""} maps to graph memory in ` +
        "the embedded store; its connection settings are not used.",
    );
  }
  return threshold === undefined ? true : { entityThreshold: threshold };
}

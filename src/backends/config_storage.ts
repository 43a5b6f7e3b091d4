import fs from "node:fs";
import nodePath from "node:path";
import { z } from "zod";
import {
  camelCase,
  configError,
  mem0Object,
  providerName,
  section,
  spelling,
} from "./config_schema.js";
import type { GraphOptions } from "./graph.js";

/*
 * How Mem0's `vector_store`, history and `graph_store` settings map onto this package's storage:
 * the one place that decides what `Memory.fromConfig` maps and what it refuses.
 */

/**
 * The Mem0 vector store providers `fromConfig` maps, and how; every other provider is
 * refused. All land in the embedded SQLite store today. `file`: `config.path` is the database
 * file (this package's `sqlite`; mem0ai's `memory`, whose `dbPath` is an SQLite file too).
 * `directory`: a Mem0 store run in local mode, whose data directory gets a `memory.db`.
 * Postgres `pgvector` joins this table, with its server settings, once its store exists.
 */
const VECTOR_STORES: Record<string, "file" | "directory"> = {
  sqlite: "file",
  memory: "file",
  chroma: "directory",
  qdrant: "directory",
  faiss: "directory",
};

const SUPPORTED_STORES =
  'Memory.fromConfig keeps memories in the embedded SQLite store: provider "sqlite" ' +
  '(config.path: a file or ":memory:"), or chroma, qdrant, faiss or memory with a local ' +
  "config.path and no server settings. Postgres (pgvector) support is planned; for another " +
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

/** `vector_store` / `vectorStore`: refusals first, then the embedded store's settings. */
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
    if (server.length) {
      ctx.addIssue({
        code: "custom",
        path: ["config"],
        message:
          `${server.map((key) => `"${key}"`).join(", ")} ${server.length > 1 ? "connect" : "connects"} ` +
          `${provider} to a server, which is not supported. ${SUPPORTED_STORES}`,
      });
    }
  })
  .pipe(section(embeddedStoreSettings));

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

export type VectorStoreSection = z.output<typeof vectorStoreSection>;
export type GraphStoreSection = z.output<typeof graphStoreSection>;

/** A setting as the user spelled it, with its place in the config. */
export interface Located<T> {
  value: T;
  /** Dotted path of the setting, e.g. `vectorStore` or `historyStore.config.historyDbPath`. */
  where: string;
}

/**
 * The embedded store's file for the `vector_store` and history settings (`undefined`: the
 * store's default file). Remapped settings add a line to `notices`.
 */
export function resolveStorePath(
  vectorStore: Located<VectorStoreSection> | undefined,
  history: Located<string> | undefined,
  notices: string[],
): string | undefined {
  if (!vectorStore) return history?.value;
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
  vectorStore: Located<VectorStoreSection>,
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

import { z } from "zod";
import type { Embeddings } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseDocumentCompressor } from "@langchain/core/retrievers/document_compressors";
import { consoleLogger, type Mem0Logger } from "../logger.js";
import { HashEmbeddings } from "../embeddings/hash.js";
import type { MemoryOptions } from "./memory.js";
import {
  createChatModel,
  createEmbeddings,
  embedderSection,
  llmSection,
  rerankerSection,
  type EmbedderSection,
} from "./config_models.js";
import { configError, mem0Object, parseConfig, spelling } from "./config_schema.js";
import {
  graphStoreSection,
  historyStoreSection,
  resolveGraph,
  resolveStorage,
  vectorStoreSection,
} from "./config_storage.js";

/**
 * Chat model settings, Mem0 style. Every key may be snake_case (Mem0 Python) or camelCase
 * (mem0ai / LangChain): `max_tokens` or `maxTokens`. Keys not listed here are passed to the
 * LangChain chat model constructor, camelCased (`top_p` → `topP`).
 */
export interface LlmConfig {
  /**
   * Model name, e.g. `"gpt-4o"`, `"claude-sonnet-4-5"`, `"llama3.1"`. With provider
   * `"langchain"`: a chat model instance. Default for provider `openai`:
   * `"gpt-4.1-nano-2025-04-14"` (as Mem0); required for every other provider.
   */
  model?: string | BaseChatModel;
  /** Sampling temperature. */
  temperature?: number;
  /** Maximum tokens of a reply. */
  max_tokens?: number;
  /** API key of the provider; default: the provider's environment variable. */
  api_key?: string;
  /**
   * Base URL of the API: `configuration.baseURL` for OpenAI-compatible providers (openai,
   * deepseek, xai, lmstudio, vllm), `baseUrl` for ollama / groq / google-genai,
   * `anthropicApiUrl` for anthropic. Also spelled `baseURL`, `url` and Mem0's
   * `<provider>_base_url` (`openai_base_url`, `ollama_base_url`, `vllm_base_url`, ...).
   */
  base_url?: string;
  /** Anything else the LangChain chat model accepts. */
  [key: string]: unknown;
}

/** `llm` section: which provider and its settings. */
export interface LlmSpec {
  /**
   * A model provider of LangChain's `initChatModel` (`openai`, `anthropic`, `ollama`, `groq`,
   * `mistralai`, `google-genai`, `bedrock`, `deepseek`, `xai`, ...), one of Mem0's names for
   * them (`gemini`, `aws_bedrock`, `openai_structured`, `azure`, `lmstudio`, `vllm`), or
   * `"langchain"` for a ready chat model instance in `config.model` (and nothing else).
   */
  provider: string;
  /** Settings of the provider. */
  config?: LlmConfig;
}

/** Embedder settings, Mem0 style (snake_case or camelCase keys). */
export interface EmbedderConfig {
  /**
   * Embedding model name. Defaults: openai `text-embedding-3-small`, ollama
   * `nomic-embed-text`, huggingface `Xenova/all-MiniLM-L6-v2`. With provider `"langchain"`:
   * an `Embeddings` instance (and nothing else).
   */
  model?: string | Embeddings;
  /** API key; default: the provider's environment variable. */
  api_key?: string;
  /**
   * Base URL of the API (OpenAI: `configuration.baseURL`; Ollama: `baseUrl`). Also spelled
   * `baseURL`, `url`, `openai_base_url`, `ollama_base_url`.
   */
  base_url?: string;
  /**
   * Vector length. OpenAI: sent as `dimensions` (text-embedding-3 models only); hash: the
   * vector length (default 256); ignored by the other providers.
   */
  embedding_dims?: number;
  /** Anything else the LangChain embeddings class accepts. */
  [key: string]: unknown;
}

/** `embedder` section. */
export interface EmbedderSpec {
  /**
   * `openai`, `ollama`, `huggingface` / `transformers` (Transformers.js, local), `langchain`
   * (an instance in `config.model`) or `hash` (deterministic, offline; tests and development).
   */
  provider: string;
  /** Settings of the provider. */
  config?: EmbedderConfig;
}

/** Vector store settings the embedded SQLite store reads (snake_case or camelCase keys). */
export interface VectorStoreConfig {
  /**
   * Providers `sqlite` / `memory`: the database file (`":memory:"` for a throwaway store; an
   * existing directory gets `memory.db` inside it). Providers `chroma` / `qdrant` / `faiss`:
   * a directory, whose `memory.db` holds the embedded store. Also spelled `db_path` / `dbPath`.
   */
  path?: string;
  /**
   * Not used: memories are kept apart by user, agent and run ids (a name other than Mem0's
   * defaults `mem0` / `memories` gets a notice).
   */
  collection_name?: string;
  /** Not needed (also spelled `dimension`): the store takes the dimension from the embedder. */
  embedding_model_dims?: number;
  /** The embedded store is on disk unless `path` is `":memory:"`. */
  on_disk?: boolean;
  /** `cosine`, `euclidean` or `inner_product`: vectors are unit length, so all rank alike. */
  distance_strategy?: string;
  /** Server settings (`host`, `port`, `url`, `api_key`, `client`, ...) are refused. */
  [key: string]: unknown;
}

/** `vector_store` section. */
export interface VectorStoreSpec {
  /**
   * `sqlite`: the embedded SQLite store. Mem0's `memory`, `chroma`, `qdrant` and `faiss` with
   * a local `config.path` map onto it with a notice; server-backed configs and other
   * providers are refused with a `Mem0ConfigError`.
   */
  provider: string;
  /** Settings of the provider. */
  config?: VectorStoreConfig;
}

/** Mem0's `graph_store`: turns graph memory on, kept in the embedded store's file. */
export interface GraphStoreSpec {
  /** Any Mem0 graph provider (`neo4j`, `memgraph`, ...); its server is not used. */
  provider?: string;
  /** The provider's connection settings: not used (the notice says so). */
  config?: Record<string, unknown>;
  /** Extra rules for relation extraction, appended to the extraction prompt. */
  custom_prompt?: string;
  customPrompt?: string;
  /** Similarity above which an entity name resolves to a known entity (→ `entityThreshold`). */
  threshold?: number;
}

/** mem0ai's `historyStore`: providers `sqlite` and `memory`; others are refused. */
export interface HistoryStoreSpec {
  provider: string;
  /** `historyDbPath` acts as the top-level `historyDbPath`. */
  config?: { historyDbPath?: string };
}

/** Mem0's `reranker`: a LangChain document compressor, reordering `search(q, { rerank: true })`. */
export interface RerankerSpec {
  /** `"langchain"`: any `BaseDocumentCompressor` (e.g. `CohereRerank`) in `config.model`. */
  provider: string;
  config?: { model?: BaseDocumentCompressor };
}

/**
 * Mem0's dictionary configuration (Python `MemoryConfig` / mem0ai `MemoryConfig`), for
 * {@link Memory.fromConfig}. Keys may be snake_case or camelCase; unknown keys are an error.
 *
 * @example
 * await Memory.fromConfig({
 *   vector_store: { provider: "chroma", config: { path: "./db" } },
 *   llm: { provider: "openai", config: { model: "gpt-4o" } },
 * });
 */
export interface MemoryConfig {
  /** Extraction chat model; default OpenAI (`OPENAI_API_KEY`). */
  llm?: LlmSpec;
  /** Embedding model; default OpenAI `text-embedding-3-small`. */
  embedder?: EmbedderSpec;
  /** Storage; default the embedded SQLite store at `history_db_path`, else `./.langchain-mem0/memory.db`. */
  vector_store?: VectorStoreSpec;
  vectorStore?: VectorStoreSpec;
  /** Turns graph memory on (unless `enableGraph` is `false`). */
  graph_store?: GraphStoreSpec;
  graphStore?: GraphStoreSpec;
  /** mem0ai's switch for graph memory; default: on when `graph_store` is given. */
  enableGraph?: boolean;
  /**
   * History lives in the store's own SQLite file: this path is that file when the vector
   * store has no path, and is not used (with a notice) otherwise.
   */
  history_db_path?: string;
  historyDbPath?: string;
  /** mem0ai's history store; its `historyDbPath` acts as `history_db_path`. */
  historyStore?: HistoryStoreSpec;
  /** History backs `history(id)` and cannot be turned off: only `false` is accepted. */
  disableHistory?: false;
  /**
   * Extra extraction rules, appended to the engine's extraction prompt. Also spelled
   * `custom_fact_extraction_prompt` / `customPrompt` / `custom_prompt` (give only one).
   */
  custom_instructions?: string;
  customInstructions?: string;
  custom_fact_extraction_prompt?: string;
  customPrompt?: string;
  custom_prompt?: string;
  /** Mem0's update rules, appended to the same prompt (one LLM call extracts and updates). */
  custom_update_memory_prompt?: string;
  /** Mem0 API version: results always have v1.1's shape, so only `"v1.1"` is accepted. */
  version?: "v1.1";
  /** Reorders `search(query, { rerank: true })` results. */
  reranker?: RerankerSpec;
  /**
   * Where the notice about remapped settings, and later the engine's warnings, go; default
   * `console.warn`. Not a Mem0 key.
   */
  logger?: Mem0Logger;
}

const memoryConfigSchema = mem0Object(
  {
    llm: llmSection,
    embedder: embedderSection,
    vectorStore: vectorStoreSection,
    graphStore: graphStoreSection,
    enableGraph: z.boolean(),
    historyDbPath: z.string().min(1),
    historyStore: historyStoreSection,
    disableHistory: z.literal(false, {
      error: "history backs history(id) and is always kept in the store's file; remove this key",
    }),
    customInstructions: z.string(),
    customUpdateMemoryPrompt: z.string(),
    version: z.literal("v1.1", {
      error: 'only "v1.1" is supported: results always have the shape { results, relations }',
    }),
    reranker: rerankerSection,
    logger: z.custom<Mem0Logger>(
      (value) => typeof (value as Partial<Mem0Logger> | null)?.warn === "function",
      { error: "expected an object with a warn(message) method, such as console" },
    ),
  },
  {
    aliases: { customInstructions: ["customFactExtractionPrompt", "customPrompt"] },
  },
);

/** The built-in offline embedder: no package, no network. */
function hashEmbeddings({ config = {} }: EmbedderSection): Embeddings {
  const { embeddingDims, ...params } = config;
  return new HashEmbeddings({ ...params, dimensions: embeddingDims });
}

/**
 * Turns a Mem0 dictionary config into {@link MemoryOptions}: validates it (one
 * `Mem0ConfigError` names every wrong setting by its path), maps storage onto the embedded
 * SQLite store or refuses it, and loads the LangChain chat model and embeddings it names
 * (optional packages are imported on demand). Remapped settings produce one notice.
 */
export async function resolveMemoryConfig(config: MemoryConfig = {}): Promise<MemoryOptions> {
  const read = parseConfig(memoryConfigSchema, config);
  const located = <T>(key: string, value: T | undefined) =>
    value === undefined ? undefined : { value, where: spelling(read, key) };
  const historyStore = read.historyStore?.config;
  if (historyStore?.historyDbPath !== undefined && read.historyDbPath !== undefined) {
    throw configError(
      "",
      `give either ${spelling(read, "historyDbPath")} or historyStore, not both`,
    );
  }
  const history = historyStore?.historyDbPath
    ? {
        value: historyStore.historyDbPath,
        where: `historyStore.config.${spelling(historyStore, "historyDbPath")}`,
      }
    : located("historyDbPath", read.historyDbPath);

  const notices: string[] = [];
  const storage = resolveStorage(located("vectorStore", read.vectorStore), history, notices);
  const graph = resolveGraph(located("graphStore", read.graphStore), read.enableGraph, notices);
  // Models before the notice: a missing package fails without one.
  const llm = await createChatModel(read.llm);
  const embeddings =
    read.embedder?.provider === "hash"
      ? hashEmbeddings(read.embedder)
      : await createEmbeddings(read.embedder);
  const logger = read.logger ?? consoleLogger;
  if (notices.length) logger.warn(notices.join(" "));

  const instructions = [
    read.customInstructions,
    read.customUpdateMemoryPrompt,
    graph ? read.graphStore?.customPrompt : undefined,
  ].filter((text): text is string => !!text?.trim());
  const options: MemoryOptions = { llm, embeddings, graph };
  if (read.logger) options.logger = read.logger;
  if (read.reranker) options.reranker = read.reranker.config?.model;
  // Last, so nothing connects when the config fails.
  if (storage.store) options.store = storage.store();
  if (storage.path !== undefined) options.path = storage.path;
  if (instructions.length) options.customInstructions = instructions.join("\n\n");
  return options;
}

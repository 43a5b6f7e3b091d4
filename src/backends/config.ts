import fs from "node:fs";
import nodePath from "node:path";
import type { Embeddings } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { Mem0ConfigError } from "../errors.js";
import { HashEmbeddings } from "../embeddings/hash.js";
import type { MemoryOptions } from "./memory.js";

/**
 * Chat model settings, Mem0 style. Keys may be snake_case (Mem0 Python) or camelCase (Mem0
 * TS / LangChain). Keys not listed here are passed to the LangChain chat model constructor,
 * with snake_case names converted to camelCase (`top_p` → `topP`, `max_retries` → `maxRetries`).
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
  /** Maximum tokens of a reply (→ `maxTokens`). */
  max_tokens?: number;
  /** camelCase alias of `max_tokens`. */
  maxTokens?: number;
  /** API key of the provider (→ `apiKey`); default: the provider's environment variable. */
  api_key?: string;
  /** camelCase alias of `api_key` (Mem0 TS). */
  apiKey?: string;
  /**
   * Base URL of the API: `configuration.baseURL` for OpenAI-compatible providers (openai,
   * deepseek, xai, lmstudio, vllm), `baseUrl` for ollama / groq / google-genai,
   * `anthropicApiUrl` for anthropic.
   */
  base_url?: string;
  /** Aliases of `base_url`. */
  baseURL?: string;
  baseUrl?: string;
  /** Mem0's provider-specific spellings of `base_url`. */
  openai_base_url?: string;
  ollama_base_url?: string;
  deepseek_base_url?: string;
  xai_base_url?: string;
  lmstudio_base_url?: string;
  vllm_base_url?: string;
  /** Anything else the LangChain chat model accepts (snake_case converted to camelCase). */
  [key: string]: unknown;
}

/** `llm` section: which provider and its settings. */
export interface LlmSpec {
  /**
   * A model provider of LangChain's `initChatModel` (`openai`, `anthropic`, `ollama`, `groq`,
   * `mistralai`, `google-genai`, `bedrock`, `deepseek`, `xai`, ...), one of Mem0's names for
   * them (`gemini`, `aws_bedrock`, `openai_structured`, `lmstudio`, `vllm`), or `"langchain"`
   * for a ready chat model instance in `config.model`. Default `"openai"`.
   */
  provider: string;
  /** Settings of the provider. */
  config?: LlmConfig;
}

/** Embedder settings, Mem0 style (snake_case or camelCase). */
export interface EmbedderConfig {
  /**
   * Embedding model name. Defaults: openai `text-embedding-3-small`, ollama
   * `nomic-embed-text`, huggingface `Xenova/all-MiniLM-L6-v2`. With provider `"langchain"`:
   * an `Embeddings` instance.
   */
  model?: string | Embeddings;
  /** API key (→ `apiKey`); default: the provider's environment variable. */
  api_key?: string;
  /** camelCase alias of `api_key`. */
  apiKey?: string;
  /** Base URL of the API (OpenAI: `configuration.baseURL`; Ollama: `baseUrl`). */
  base_url?: string;
  /** Aliases of `base_url`. */
  baseURL?: string;
  baseUrl?: string;
  url?: string;
  openai_base_url?: string;
  ollama_base_url?: string;
  /**
   * Vector length. OpenAI: sent as `dimensions` (text-embedding-3 models only); hash:
   * the vector length (default 256); ignored by the other providers.
   */
  embedding_dims?: number;
  /** camelCase alias of `embedding_dims`. */
  embeddingDims?: number;
  /** Anything else the LangChain embeddings class accepts (snake_case converted to camelCase). */
  [key: string]: unknown;
}

/** `embedder` section. */
export interface EmbedderSpec {
  /**
   * `openai` (default), `ollama`, `huggingface` / `transformers` (Transformers.js, local),
   * `langchain` (an instance in `config.model`) or `hash` (deterministic, offline; tests/dev).
   */
  provider: string;
  /** Settings of the provider. */
  config?: EmbedderConfig;
}

/** Vector store settings. */
export interface VectorStoreConfig {
  /**
   * Provider `sqlite` / `memory`: the database file (`":memory:"` for a throwaway store; an
   * existing directory gets `memory.db` inside it). Any other provider: a directory, whose
   * `memory.db` holds the embedded SQLite store.
   */
  path?: string;
  /** Aliases of `path` (Mem0 TS `dbPath`). */
  db_path?: string;
  dbPath?: string;
  /** Accepted for compatibility and ignored: the embedded store separates memories by scope. */
  collection_name?: string;
  /** camelCase alias of `collection_name`. */
  collectionName?: string;
  /** Other provider settings (url, host, port, ...): ignored by the embedded store. */
  [key: string]: unknown;
}

/** `vector_store` section. */
export interface VectorStoreSpec {
  /**
   * `sqlite` or `memory`: the embedded SQLite store. Mem0 providers this package does not ship
   * (chroma, qdrant, faiss, pgvector, ...) fall back to the embedded store when `config.path`
   * is set, with a notice; without a path they are an error.
   */
  provider: string;
  /** Settings of the provider. */
  config?: VectorStoreConfig;
}

/**
 * Mem0's dictionary configuration (Python `MemoryConfig` / TS `MemoryConfig`), for
 * {@link Memory.fromConfig}. Both snake_case and Mem0 TS camelCase top-level keys are accepted.
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
  /** camelCase alias of `vector_store` (Mem0 TS). */
  vectorStore?: VectorStoreSpec;
  /**
   * History lives in the store's own SQLite file: this path is used as that file when the
   * vector store has no path, and ignored (with a notice) otherwise.
   */
  history_db_path?: string;
  /** camelCase alias of `history_db_path` (Mem0 TS). */
  historyDbPath?: string;
  /** Extra fact-extraction rules, appended to the engine's extraction prompt. */
  custom_fact_extraction_prompt?: string;
  /** Alias of `custom_fact_extraction_prompt` (Mem0 TS). */
  customPrompt?: string;
  /** Extra update rules (Mem0's second prompt), appended to the same extraction prompt. */
  custom_update_memory_prompt?: string;
  /** Mem0 API version (`"v1.1"`); accepted and ignored. */
  version?: string;
  /**
   * Mem0's graph store (`{ provider: "neo4j", config }`): turns graph memory on, kept in the
   * embedded store's file (the provider's server settings are not used).
   */
  graph_store?: { provider?: string; config?: Record<string, unknown> };
  /** camelCase alias of `graph_store` (Mem0 TS). */
  graphStore?: { provider?: string; config?: Record<string, unknown> };
  /** Mem0 TS switch for graph memory. */
  enableGraph?: boolean;
}

/** Embedder providers accepted by {@link MemoryConfig}. */
export const EMBEDDER_PROVIDERS = [
  "openai",
  "ollama",
  "huggingface",
  "transformers",
  "langchain",
  "hash",
] as const;

/** Vector store providers implemented by the embedded SQLite store. */
export const BUILT_IN_VECTOR_STORES = ["sqlite", "memory"] as const;

/** Mem0 LLM provider names → `initChatModel` model providers. */
const LLM_PROVIDER_ALIASES: Record<string, string> = {
  gemini: "google-genai",
  aws_bedrock: "bedrock",
  openai_structured: "openai",
  azure: "azure_openai",
  lmstudio: "openai",
  vllm: "openai",
};

/** Defaults of OpenAI-compatible local servers known to Mem0. */
const LOCAL_OPENAI_SERVERS: Record<string, { baseURL: string; apiKey: string }> = {
  lmstudio: { baseURL: "http://localhost:1234/v1", apiKey: "lm-studio" },
  vllm: { baseURL: "http://localhost:8000/v1", apiKey: "vllm-api-key" },
};

const DEFAULT_LLM_MODELS: Record<string, string> = { openai: "gpt-4.1-nano-2025-04-14" };

/** How each provider takes a base URL. */
const BASE_URL_OPTIONS: Record<string, (url: string, params: Record<string, unknown>) => void> = {
  openai: openAIBaseURL,
  langsmith: openAIBaseURL,
  deepseek: openAIBaseURL,
  xai: openAIBaseURL,
  anthropic: (url, params) => (params.anthropicApiUrl = url),
  ollama: (url, params) => (params.baseUrl = url),
  groq: (url, params) => (params.baseUrl = url),
  "google-genai": (url, params) => (params.baseUrl = url),
};

function openAIBaseURL(url: string, params: Record<string, unknown>): void {
  const configuration = isPlainObject(params.configuration) ? params.configuration : {};
  params.configuration = { ...configuration, baseURL: url };
}

const LLM_BASE_URL_KEYS = [
  "base_url",
  "baseURL",
  "baseUrl",
  "openai_base_url",
  "ollama_base_url",
  "deepseek_base_url",
  "xai_base_url",
  "lmstudio_base_url",
  "vllm_base_url",
];
const EMBEDDER_BASE_URL_KEYS = [
  "base_url",
  "baseURL",
  "baseUrl",
  "url",
  "openai_base_url",
  "ollama_base_url",
];

const KNOWN_TOP_LEVEL_KEYS = new Set([
  "llm",
  "embedder",
  "vector_store",
  "vectorStore",
  "history_db_path",
  "historyDbPath",
  "custom_fact_extraction_prompt",
  "customPrompt",
  "custom_update_memory_prompt",
  "version",
  "graph_store",
  "graphStore",
  "enableGraph",
]);

type Dict = Record<string, unknown>;

function isPlainObject(value: unknown): value is Dict {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}

function fail(message: string): never {
  throw new Mem0ConfigError(`Invalid memory config: ${message}`);
}

function optionalString(dict: Dict, key: string, where: string): string | undefined {
  const value = dict[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") fail(`${where}.${key} must be a string, got ${describe(value)}.`);
  return value;
}

function optionalNumber(dict: Dict, key: string, where: string): number | undefined {
  const value = dict[key];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    fail(`${where}.${key} must be a number, got ${describe(value)}.`);
  }
  return value;
}

function optionalPositiveInteger(dict: Dict, key: string, where: string): number | undefined {
  const value = optionalNumber(dict, key, where);
  if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
    fail(`${where}.${key} must be a positive integer, got ${value}.`);
  }
  return value;
}

/** The first of `keys` that is set (all must be strings), with the key that held it. */
function firstString(dict: Dict, keys: string[], where: string): string | undefined {
  let found: string | undefined;
  for (const key of keys) {
    const value = optionalString(dict, key, where);
    if (value !== undefined && found === undefined) found = value;
  }
  return found;
}

/** A `{ provider, config }` section, validated; `undefined` when the section is absent. */
function section(
  config: Dict,
  keys: string[],
): { where: string; provider: string; settings: Dict } | undefined {
  const present = keys.filter((key) => config[key] !== undefined);
  if (present.length > 1) fail(`give either ${present.join(" or ")}, not both.`);
  if (present.length === 0) return undefined;
  const where = present[0];
  const value = config[where];
  if (!isPlainObject(value)) {
    fail(
      `${where} must be an object like { provider: "...", config: { ... } }, got ${describe(value)}.`,
    );
  }
  if (typeof value.provider !== "string" || value.provider.trim() === "") {
    fail(`${where}.provider must be a non-empty string, got ${describe(value.provider)}.`);
  }
  const settings = value.config ?? {};
  if (!isPlainObject(settings))
    fail(`${where}.config must be an object, got ${describe(settings)}.`);
  for (const key of Object.keys(value)) {
    if (key !== "provider" && key !== "config") {
      fail(`${where}.${key} is not a known field; put provider settings under ${where}.config.`);
    }
  }
  return { where, provider: value.provider.trim().toLowerCase(), settings };
}

function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Settings not handled explicitly, camelCased for the LangChain constructor. */
function passThrough(settings: Dict, handled: string[]): Dict {
  const skip = new Set(handled);
  const params: Dict = {};
  for (const [key, value] of Object.entries(settings)) {
    if (!skip.has(key) && value !== undefined) params[camelCase(key)] = value;
  }
  return params;
}

function errorMessage(error: unknown): string {
  // Duck-typed: errors from module loaders may come from another realm (vm contexts, jest).
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" ? message : String(error);
}

function isModuleNotFound(error: unknown, names: string[]): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = errorMessage(error);
  const notFound =
    code === "ERR_MODULE_NOT_FOUND" ||
    code === "MODULE_NOT_FOUND" ||
    /Cannot find (module|package)/.test(message);
  return (
    notFound && names.some((name) => message.includes(`'${name}'`) || message.includes(`"${name}"`))
  );
}

/**
 * Imports an optional package; a missing one becomes a `Mem0ConfigError` with the npm command
 * that installs it.
 */
async function importOptional(
  specifier: string,
  packages: string[],
  purpose: string,
): Promise<Dict> {
  try {
    return (await import(specifier)) as Dict;
  } catch (error) {
    if (isModuleNotFound(error, [specifier, ...packages])) {
      throw new Mem0ConfigError(
        `${purpose} needs ${packages.length > 1 ? "the packages" : "the package"} ${packages.join(" and ")}, ` +
          `which ${packages.length > 1 ? "are" : "is"} not installed. ` +
          `Run: npm install ${packages.join(" ")}`,
        { cause: error },
      );
    }
    throw new Mem0ConfigError(`${purpose}: could not load ${specifier}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

function isChatModel(value: unknown): value is BaseChatModel {
  const model = value as { invoke?: unknown; withStructuredOutput?: unknown } | null;
  return (
    typeof value === "object" &&
    model !== null &&
    typeof model.invoke === "function" &&
    typeof model.withStructuredOutput === "function"
  );
}

function isEmbeddings(value: unknown): value is Embeddings {
  const embeddings = value as { embedQuery?: unknown; embedDocuments?: unknown } | null;
  return (
    typeof value === "object" &&
    embeddings !== null &&
    typeof embeddings.embedQuery === "function" &&
    typeof embeddings.embedDocuments === "function"
  );
}

interface UniversalModule {
  initChatModel: (model: string, fields: Dict) => Promise<BaseChatModel>;
  MODEL_PROVIDER_CONFIG: Record<string, { package: string; className: string }>;
}

async function createLlm(spec: ReturnType<typeof section>): Promise<BaseChatModel> {
  const where = spec?.where ?? "llm";
  const provider = spec?.provider ?? "openai";
  const settings = spec?.settings ?? {};
  const cfg = `${where}.config`;

  if (provider === "langchain") {
    if (!isChatModel(settings.model)) {
      fail(
        `${cfg}.model must be a LangChain chat model instance (with invoke and withStructuredOutput) ` +
          `when ${where}.provider is "langchain", got ${describe(settings.model)}.`,
      );
    }
    return settings.model;
  }

  const modelProvider = LLM_PROVIDER_ALIASES[provider] ?? provider;
  const model = optionalString(settings, "model", cfg) ?? DEFAULT_LLM_MODELS[modelProvider];
  optionalNumber(settings, "temperature", cfg);
  const maxTokens =
    optionalPositiveInteger(settings, "max_tokens", cfg) ??
    optionalPositiveInteger(settings, "maxTokens", cfg);
  const apiKey =
    optionalString(settings, "api_key", cfg) ?? optionalString(settings, "apiKey", cfg);
  const baseURL = firstString(settings, LLM_BASE_URL_KEYS, cfg);

  const universal = (await importOptional(
    "langchain/chat_models/universal",
    ["langchain"],
    `${where} provider "${provider}"`,
  )) as unknown as UniversalModule;
  const entry = universal.MODEL_PROVIDER_CONFIG[modelProvider];
  if (!entry) {
    const supported = [
      ...Object.keys(universal.MODEL_PROVIDER_CONFIG),
      ...Object.keys(LLM_PROVIDER_ALIASES),
      "langchain",
    ];
    fail(
      `${where}.provider "${provider}" is not supported. Supported providers: ${supported.join(", ")}.`,
    );
  }
  if (model === undefined) fail(`${cfg}.model is required for provider "${provider}".`);

  const params = passThrough(settings, [
    "model",
    "max_tokens",
    "maxTokens",
    "api_key",
    "apiKey",
    ...LLM_BASE_URL_KEYS,
  ]);
  if (maxTokens !== undefined) params.maxTokens = maxTokens;
  const local = LOCAL_OPENAI_SERVERS[provider];
  const key = apiKey ?? local?.apiKey;
  if (key !== undefined) params.apiKey = key;
  const url = baseURL ?? local?.baseURL;
  if (url !== undefined) {
    const setBaseURL = BASE_URL_OPTIONS[modelProvider];
    if (!setBaseURL) {
      fail(
        `${cfg}.base_url is not supported for provider "${provider}"; pass the provider's own option ` +
          `in ${cfg} (it is forwarded to ${entry.className}) or a ready model with provider "langchain".`,
      );
    }
    setBaseURL(url, params);
  }

  await importOptional(entry.package, [entry.package], `${where} provider "${provider}"`);
  try {
    return await universal.initChatModel(model, { ...params, modelProvider });
  } catch (error) {
    throw new Mem0ConfigError(
      `Could not create the ${where} (provider "${provider}", model "${model}"): ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

async function createEmbedder(spec: ReturnType<typeof section>): Promise<Embeddings> {
  const where = spec?.where ?? "embedder";
  const provider = spec?.provider ?? "openai";
  const settings = spec?.settings ?? {};
  const cfg = `${where}.config`;

  if (provider === "langchain") {
    if (!isEmbeddings(settings.model)) {
      fail(
        `${cfg}.model must be a LangChain Embeddings instance (with embedQuery and embedDocuments) ` +
          `when ${where}.provider is "langchain", got ${describe(settings.model)}.`,
      );
    }
    return settings.model;
  }
  if (!(EMBEDDER_PROVIDERS as readonly string[]).includes(provider)) {
    fail(
      `${where}.provider "${provider}" is not supported. Supported providers: ${EMBEDDER_PROVIDERS.join(", ")}.`,
    );
  }

  const model = optionalString(settings, "model", cfg);
  const apiKey =
    optionalString(settings, "api_key", cfg) ?? optionalString(settings, "apiKey", cfg);
  const baseURL = firstString(settings, EMBEDDER_BASE_URL_KEYS, cfg);
  const dims =
    optionalPositiveInteger(settings, "embedding_dims", cfg) ??
    optionalPositiveInteger(settings, "embeddingDims", cfg);
  const params = passThrough(settings, [
    "model",
    "api_key",
    "apiKey",
    "embedding_dims",
    "embeddingDims",
    ...EMBEDDER_BASE_URL_KEYS,
  ]);
  const purpose = `${where} provider "${provider}"`;
  type EmbeddingsClass = new (fields: Dict) => Embeddings;

  switch (provider) {
    case "hash":
      return new HashEmbeddings({ ...params, dimensions: dims });
    case "openai": {
      const { OpenAIEmbeddings } = await importOptional(
        "@langchain/openai",
        ["@langchain/openai"],
        purpose,
      );
      const fields: Dict = { ...params, model: model ?? "text-embedding-3-small" };
      if (apiKey !== undefined) fields.apiKey = apiKey;
      if (dims !== undefined) fields.dimensions = dims;
      if (baseURL !== undefined) openAIBaseURL(baseURL, fields);
      return new (OpenAIEmbeddings as EmbeddingsClass)(fields);
    }
    case "ollama": {
      const { OllamaEmbeddings } = await importOptional(
        "@langchain/ollama",
        ["@langchain/ollama"],
        purpose,
      );
      const fields: Dict = { ...params, model: model ?? "nomic-embed-text" };
      if (baseURL !== undefined) fields.baseUrl = baseURL;
      return new (OllamaEmbeddings as EmbeddingsClass)(fields);
    }
    default: {
      // huggingface / transformers: Transformers.js, local ONNX models.
      const { HuggingFaceTransformersEmbeddings } = await importOptional(
        "@langchain/community/embeddings/huggingface_transformers",
        ["@langchain/community", "@huggingface/transformers"],
        purpose,
      );
      const fields: Dict = { ...params, model: model ?? "Xenova/all-MiniLM-L6-v2" };
      return new (HuggingFaceTransformersEmbeddings as EmbeddingsClass)(fields);
    }
  }
}

/** Where the embedded SQLite store lives, and notices about config parts that were remapped. */
function resolveStorePath(
  spec: ReturnType<typeof section>,
  historyDbPath: string | undefined,
  historyKey: string,
  notices: string[],
): string | undefined {
  if (!spec) return historyDbPath;
  const cfg = `${spec.where}.config`;
  const given = firstString(spec.settings, ["path", "db_path", "dbPath"], cfg);
  firstString(spec.settings, ["collection_name", "collectionName"], cfg);
  const historyNotice = (file: string) =>
    `${historyKey} is not used: history is kept in the store's file ${file}.`;

  if ((BUILT_IN_VECTOR_STORES as readonly string[]).includes(spec.provider)) {
    if (given === undefined) return historyDbPath;
    const file =
      given !== ":memory:" && fs.existsSync(given) && fs.statSync(given).isDirectory()
        ? nodePath.join(given, "memory.db")
        : given;
    if (historyDbPath !== undefined) notices.push(historyNotice(file));
    return file;
  }

  if (given === undefined || given === ":memory:") {
    fail(
      `${spec.where} provider "${spec.provider}" is not built in. Set ${cfg}.path to a directory to keep ` +
        `memories in the embedded SQLite store there, use provider "sqlite" (config.path: a file or ":memory:"), ` +
        `or build the engine yourself: new Memory({ llm, embeddings, store }).`,
    );
  }
  const file = `${given.replace(/[\\/]+$/, "") || "."}/memory.db`;
  notices.push(
    `${spec.where} provider "${spec.provider}" is not built in; using the embedded SQLite store at ${file}.`,
  );
  if (historyDbPath !== undefined) notices.push(historyNotice(file));
  return file;
}

/**
 * Turns a Mem0 dictionary config into {@link MemoryOptions}: validates its shape, loads the
 * LangChain chat model and embeddings it names (optional packages are imported on demand) and
 * picks the embedded SQLite store's file. Throws `Mem0ConfigError` for anything that cannot
 * work; remapped or ignored settings produce one `console.warn` notice.
 */
export async function resolveMemoryConfig(config: MemoryConfig = {}): Promise<MemoryOptions> {
  if (!isPlainObject(config)) fail(`expected a config object, got ${describe(config)}.`);
  const raw = config as Dict;

  const llm = section(raw, ["llm"]);
  const embedder = section(raw, ["embedder"]);
  const vectorStore = section(raw, ["vector_store", "vectorStore"]);
  const historyKeys = ["history_db_path", "historyDbPath"].filter((key) => raw[key] !== undefined);
  if (historyKeys.length > 1) fail("give either history_db_path or historyDbPath, not both.");
  const historyKey = historyKeys[0] ?? "history_db_path";
  const historyDbPath = optionalString(raw, historyKey, "config");
  const promptKeys = ["custom_fact_extraction_prompt", "customPrompt"].filter(
    (key) => raw[key] !== undefined,
  );
  if (promptKeys.length > 1)
    fail("give either custom_fact_extraction_prompt or customPrompt, not both.");
  const factPrompt = promptKeys.length ? optionalString(raw, promptKeys[0], "config") : undefined;
  const updatePrompt = optionalString(raw, "custom_update_memory_prompt", "config");
  optionalString(raw, "version", "config");

  const notices: string[] = [];
  const graphStore = section(raw, ["graph_store", "graphStore"]);
  if (raw.enableGraph !== undefined && typeof raw.enableGraph !== "boolean") {
    fail(`config.enableGraph must be a boolean, got ${describe(raw.enableGraph)}.`);
  }
  const graph = graphStore !== undefined || raw.enableGraph === true;
  if (graphStore && graphStore.provider !== "sqlite") {
    notices.push(
      `${graphStore.where} provider "${graphStore.provider}" is not built in; graph memory is kept in the embedded store.`,
    );
  }
  const unknown = Object.keys(raw).filter((key) => !KNOWN_TOP_LEVEL_KEYS.has(key));
  if (unknown.length)
    notices.push(`ignoring config keys this package does not support: ${unknown.join(", ")}.`);

  // Models first: a missing package must fail before any file is created.
  const chatModel = await createLlm(llm);
  const embeddings = await createEmbedder(embedder);
  const path = resolveStorePath(vectorStore, historyDbPath, historyKey, notices);
  if (notices.length) console.warn(`[langchain-mem0] ${notices.join(" ")}`);

  const instructions = [factPrompt, updatePrompt].filter((text): text is string => !!text?.trim());
  const options: MemoryOptions = { llm: chatModel, embeddings, graph };
  if (path !== undefined) options.path = path;
  if (instructions.length) options.customInstructions = instructions.join("\n\n");
  return options;
}

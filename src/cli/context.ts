import { readFile } from "node:fs/promises";
import type { Embeddings } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { MemoryConfig } from "../backends/config.js";
import { importOptional, initChatModel } from "../backends/config_models.js";
import { resolveMemoryConfig } from "../backends/config.js";
import { Memory } from "../backends/memory.js";
import { HashEmbeddings } from "../embeddings/hash.js";
import {
  EmbedderMismatchError,
  Mem0ConfigError,
  Mem0Error,
  Mem0InputError,
  MissingScopeError,
} from "../errors.js";
import type { MemoryScope } from "../scope.js";
import { DEFAULT_SQLITE_PATH, SqliteStore } from "../stores/sqlite.js";

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** The operation failed (a provider or store error at run time). */
  failure: 1,
  /** Bad usage or input: unknown option, missing scope, malformed file. */
  usage: 2,
  /** The memory (or file) named does not exist. */
  notFound: 3,
  /** Configuration or environment problem: missing key, package, native binding, embedder. */
  config: 4,
} as const;

/** An error the CLI reports with its own exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** The global options every command sees. */
export interface GlobalOptions {
  /** The SQLite store file. */
  store: string;
  /** A Mem0 config file (JSON) instead of `--store` and `--embedder`. */
  config?: string;
  /** `auto`, `hash[:dims]` or `openai[:model]`. */
  embedder: string;
  /** Machine-readable output. */
  json?: boolean;
}

/** Scope options of the memory commands. */
export interface ScopeOptions {
  user?: string;
  agent?: string;
  run?: string;
}

/** Environment variables that configure a chat model provider. */
export const PROVIDER_KEYS: Record<string, string[]> = {
  openai: ["OPENAI_API_KEY", "OPENAI_BASE_URL"],
  anthropic: ["ANTHROPIC_API_KEY"],
  "google-genai": ["GOOGLE_API_KEY"],
  mistralai: ["MISTRAL_API_KEY"],
  groq: ["GROQ_API_KEY"],
  deepseek: ["DEEPSEEK_API_KEY"],
  xai: ["XAI_API_KEY"],
  ollama: [],
};

/** The provider of an `initChatModel` model string (`provider:model`, or inferred from the name). */
export function providerOf(model: string): string {
  const prefix = /^([a-z-]+):/.exec(model)?.[1];
  if (prefix) return prefix;
  if (/^(gpt-|o\d|chatgpt|text-)/.test(model)) return "openai";
  if (model.startsWith("claude")) return "anthropic";
  if (model.startsWith("gemini")) return "google-genai";
  if (/^(mistral|mixtral|codestral)/.test(model)) return "mistralai";
  return "unknown";
}

/** The default chat model: `LANGCHAIN_MEM0_MODEL`, else OpenAI's small model. */
export function defaultModel(): string {
  return process.env.LANGCHAIN_MEM0_MODEL ?? "openai:gpt-4o-mini";
}

/** The environment variables one of which the model's provider needs, when none is set. */
function missingProviderKeys(model: string): string[] | undefined {
  const keys = PROVIDER_KEYS[providerOf(model)];
  return !keys || keys.length === 0 || keys.some((key) => process.env[key]) ? undefined : keys;
}

/**
 * Throws a `CliError` saying exactly what to set when the model's provider has no key in
 * the environment.
 */
export function requireProvider(model: string): void {
  const keys = missingProviderKeys(model);
  if (!keys) return;
  const provider = providerOf(model);
  const hint =
    provider === "openai"
      ? "Set OPENAI_API_KEY (or OPENAI_BASE_URL for a local OpenAI-compatible server such as " +
        "Ollama, LM Studio or vLLM)"
      : `Set ${keys.join(" or ")}`;
  throw new CliError(
    `No chat model provider is configured for "${model}". ${hint}, or pick another model with ` +
      "--model provider:model (e.g. anthropic:claude-sonnet-4-5 with ANTHROPIC_API_KEY) or " +
      "LANGCHAIN_MEM0_MODEL.",
    EXIT.config,
  );
}

/**
 * The extraction model of a long-running command (serve, mcp) when its provider is configured;
 * otherwise `missing` lists what to set, and the commands run without one (memory reads and
 * `infer: false` writes work, LLM calls say what to set).
 */
export async function configuredChatModel(
  model: string,
): Promise<{ llm?: BaseChatModel; missing?: string[] }> {
  const missing = missingProviderKeys(model);
  return missing ? { missing } : { llm: await createChatModel(model) };
}

/** Makes a chat model from a model string with `initChatModel` (OpenAI-compatible local servers too). */
export async function createChatModel(
  model: string,
  fields: Record<string, unknown> = {},
): Promise<BaseChatModel> {
  const extra: Record<string, unknown> = {};
  // A local OpenAI-compatible server needs no key, but the client insists on one.
  if (
    providerOf(model) === "openai" &&
    process.env.OPENAI_BASE_URL &&
    !process.env.OPENAI_API_KEY
  ) {
    extra.apiKey = "not-needed";
  }
  return initChatModel(model, { ...extra, ...fields });
}

/**
 * The facade's model factory for the CLI: refuses a model whose provider has no key with a
 * `Mem0ConfigError` saying what to set (a 400 from the server), instead of a slow failing call.
 */
export async function providerChatModel(
  model: string,
  fields: Record<string, unknown>,
): Promise<BaseChatModel> {
  try {
    requireProvider(model);
  } catch (error) {
    throw new Mem0ConfigError((error as Error).message);
  }
  return createChatModel(model, fields);
}

/** Embeddings named by `hash[:dims]` / `openai[:model]`. */
export async function embedderFromSpec(spec: string): Promise<Embeddings> {
  const [kind, arg] = spec.split(/:(.*)/s);
  if (kind === "hash") {
    const dimensions = arg ? Number(arg) : 256;
    if (!Number.isInteger(dimensions) || dimensions <= 0) {
      throw new CliError(
        `--embedder hash:${arg}: the dimension must be a whole number.`,
        EXIT.usage,
      );
    }
    return new HashEmbeddings({ dimensions });
  }
  if (kind === "openai") {
    const { OpenAIEmbeddings } = (await importOptional(
      "@langchain/openai",
      ["@langchain/openai"],
      "--embedder openai",
    )) as {
      OpenAIEmbeddings: new (fields: Record<string, unknown>) => Embeddings;
    };
    return new OpenAIEmbeddings({
      model: arg || "text-embedding-3-small",
      ...(process.env.OPENAI_API_KEY ? {} : { apiKey: "not-needed" }),
    });
  }
  throw new CliError(
    `Unknown --embedder "${spec}": use auto, hash[:dimensions] or openai[:model] (or --config).`,
    EXIT.usage,
  );
}

/** The `--embedder` spec matching what a store recorded (`Class:model`). */
export function specOfRecorded(model: string): string | undefined {
  const [className, name] = model.split(/:(.*)/s);
  if (className === "HashEmbeddings") return `hash:${/(\d+)$/.exec(name)?.[1] ?? 256}`;
  if (className === "OpenAIEmbeddings") return `openai:${name}`;
  return undefined;
}

/** The embedder of a new store: OpenAI's when a key or local server is set, else the offline hash. */
export function defaultEmbedderSpec(): string {
  return process.env.OPENAI_API_KEY || process.env.OPENAI_BASE_URL ? "openai" : "hash";
}

/** Options of {@link openMemory}. */
export interface OpenMemoryOptions {
  /** The extraction model (chat, serve); memory commands need none. */
  llm?: BaseChatModel;
  /** Replay the outbox on open (needs `llm`); off for the memory commands. */
  recover?: boolean;
  /** Embedder spec to use instead of the global option. */
  embedder?: string;
  /** Store path to use instead of the global option. */
  store?: string;
}

/** An opened memory and the embedder it uses. */
export interface OpenedMemory {
  memory: Memory;
  embeddings: Embeddings;
}

/**
 * Opens the memory the global options describe: a Mem0 config file, or the SQLite store at
 * `--store` with the embedder it was built with (`--embedder auto`), so searches compare like
 * with like.
 */
export async function openMemory(
  global: GlobalOptions,
  options: OpenMemoryOptions = {},
): Promise<OpenedMemory> {
  if (global.config) {
    let config: MemoryConfig;
    try {
      config = JSON.parse(await readFile(global.config, "utf8")) as MemoryConfig;
    } catch (error) {
      throw new CliError(`--config ${global.config}: ${(error as Error).message}`, EXIT.config);
    }
    const resolved = await resolveMemoryConfig(config);
    const memory = new Memory({
      ...resolved,
      llm: options.llm ?? resolved.llm,
      recoverOnOpen: options.recover === true,
    });
    return { memory, embeddings: resolved.embeddings };
  }
  const store = new SqliteStore({ path: options.store ?? global.store });
  const recorded = await store.recordedEmbedder();
  let spec = options.embedder ?? global.embedder;
  if (spec === "auto") {
    if (recorded?.model) {
      const matching = specOfRecorded(recorded.model);
      if (!matching) {
        await store.close();
        throw new CliError(
          `The store ${store.path} was built with embedder "${recorded.model}", which the CLI ` +
            "cannot make by name: pass --config with the embedder section you used.",
          EXIT.config,
        );
      }
      spec = matching;
    } else {
      spec = defaultEmbedderSpec();
    }
  }
  let embeddings: Embeddings;
  try {
    embeddings = await embedderFromSpec(spec);
  } catch (error) {
    await store.close();
    throw error;
  }
  const memory = new Memory({
    store,
    embeddings,
    llm: options.llm,
    recoverOnOpen: options.recover === true,
  });
  return { memory, embeddings };
}

/** A `--port` value as a number, or a usage error. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliError(`--port must be a port number, got ${value}.`, EXIT.usage);
  }
  return port;
}

/** The scope of the `--user` / `--agent` / `--run` options; required unless `optional`. */
export function scopeOf(options: ScopeOptions, optional = false): MemoryScope | undefined {
  const scope: MemoryScope = {};
  if (options.user) scope.userId = options.user;
  if (options.agent) scope.agentId = options.agent;
  if (options.run) scope.runId = options.run;
  if (Object.keys(scope).length === 0) {
    if (optional) return undefined;
    throw new CliError(
      "Give whose memories: --user <id>, --agent <id> and/or --run <id>.",
      EXIT.usage,
    );
  }
  return scope;
}

/** The exit code of an error. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof Mem0InputError || error instanceof MissingScopeError) {
    return /^No memory with id/.test(error.message) ? EXIT.notFound : EXIT.usage;
  }
  if (error instanceof Mem0ConfigError || error instanceof EmbedderMismatchError)
    return EXIT.config;
  if (error instanceof Mem0Error) return EXIT.failure;
  return EXIT.failure;
}

/** Default store path, overridable with `LANGCHAIN_MEM0_STORE`. */
export function defaultStorePath(): string {
  return process.env.LANGCHAIN_MEM0_STORE ?? DEFAULT_SQLITE_PATH;
}

/** Prints a result: JSON with `--json`, text otherwise. */
export function output(global: GlobalOptions, json: unknown, text: () => string): void {
  process.stdout.write(global.json ? `${JSON.stringify(json)}\n` : `${text()}\n`);
}

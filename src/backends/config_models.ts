import { z } from "zod";
import type { Embeddings } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseDocumentCompressor } from "@langchain/core/retrievers/document_compressors";
import { Mem0ConfigError } from "../errors.js";
import {
  configError,
  describe,
  mem0Object,
  section,
  spelling,
  type Settings,
} from "./config_schema.js";

/*
 * Mem0's `llm` and `embedder` sections: their schemas, and the LangChain chat models and
 * embeddings they name (optional provider packages are imported on demand).
 */

/** Embedder providers of the `embedder` section (`hash` is built in). */
const EMBEDDER_PROVIDERS = ["openai", "ollama", "huggingface", "transformers", "langchain", "hash"];

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
const BASE_URL_OPTIONS: Record<string, (url: string, params: Settings) => void> = {
  openai: openAIBaseURL,
  langsmith: openAIBaseURL,
  deepseek: openAIBaseURL,
  xai: openAIBaseURL,
  anthropic: (url, params) => (params.anthropicApiUrl = url),
  ollama: (url, params) => (params.baseUrl = url),
  groq: (url, params) => (params.baseUrl = url),
  "google-genai": (url, params) => (params.baseUrl = url),
};

function openAIBaseURL(url: string, params: Settings): void {
  const configuration = isPlainObject(params.configuration) ? params.configuration : {};
  params.configuration = { ...configuration, baseURL: url };
}

function isPlainObject(value: unknown): value is Settings {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isChatModel(value: unknown): value is BaseChatModel {
  const model = value as { invoke?: unknown; withStructuredOutput?: unknown } | null;
  return typeof model?.invoke === "function" && typeof model.withStructuredOutput === "function";
}

function isEmbeddings(value: unknown): value is Embeddings {
  const embeddings = value as { embedQuery?: unknown; embedDocuments?: unknown } | null;
  return (
    typeof embeddings?.embedQuery === "function" && typeof embeddings.embedDocuments === "function"
  );
}

/** A model name, or with provider `langchain` an instance (checked per section). */
const modelField = z.custom<unknown>(
  (value) => typeof value === "string" || typeof value === "object",
  { error: (issue) => `expected a model name, got ${describe(issue.input)}` },
);

export const llmSection = section(
  mem0Object(
    {
      model: modelField,
      temperature: z.number(),
      maxTokens: z.int().positive(),
      apiKey: z.string(),
      baseURL: z.string(),
    },
    {
      passthrough: true,
      aliases: {
        baseURL: [
          "baseUrl",
          "url",
          "openaiBaseUrl",
          "ollamaBaseUrl",
          "deepseekBaseUrl",
          "xaiBaseUrl",
          "lmstudioBaseUrl",
          "vllmBaseURL",
        ],
      },
    },
  ),
).superRefine(({ provider, config = {} }, ctx) =>
  checkModel(provider, config, isChatModel, "a LangChain chat model instance", ctx),
);

export const embedderSection = section(
  mem0Object(
    {
      model: modelField,
      apiKey: z.string(),
      baseURL: z.string(),
      embeddingDims: z.int().positive(),
    },
    {
      passthrough: true,
      aliases: { baseURL: ["baseUrl", "url", "openaiBaseUrl", "ollamaBaseUrl"] },
    },
  ),
).superRefine(({ provider, config = {} }, ctx) => {
  if (!EMBEDDER_PROVIDERS.includes(provider)) {
    ctx.addIssue({
      code: "custom",
      path: ["provider"],
      message: `"${provider}" is not supported; supported providers: ${EMBEDDER_PROVIDERS.join(", ")}`,
    });
    return;
  }
  checkModel(provider, config, isEmbeddings, "a LangChain Embeddings instance", ctx);
});

/** Provider `langchain` takes an instance and nothing else; other providers take a name. */
function checkModel(
  provider: string,
  config: { model?: unknown },
  isInstance: (value: unknown) => boolean,
  instance: string,
  ctx: z.RefinementCtx,
): void {
  const path = ["config", "model"];
  if (provider === "langchain") {
    if (!isInstance(config.model)) {
      ctx.addIssue({
        code: "custom",
        path,
        message: `expected ${instance} with provider "langchain", got ${describe(config.model)}`,
      });
    }
    const others = Object.keys(config).filter((key) => key !== "model");
    if (others.length) {
      ctx.addIssue({
        code: "custom",
        path: ["config"],
        message:
          `${others.map((key) => spelling(config, key)).join(", ")} not used with provider ` +
          '"langchain": configure the instance itself',
      });
    }
  } else if (config.model !== undefined && typeof config.model !== "string") {
    ctx.addIssue({
      code: "custom",
      path,
      message: `expected a model name, got ${describe(config.model)}; for an instance use provider "langchain"`,
    });
  }
}

const COMPRESSOR = "expected a LangChain document compressor (with compressDocuments)";

const compressorField = z.custom<BaseDocumentCompressor>(
  (value) =>
    typeof (value as { compressDocuments?: unknown } | null)?.compressDocuments === "function",
  { error: (issue) => `${COMPRESSOR}, got ${describe(issue.input)}` },
);

/**
 * `reranker`: Mem0 builds Cohere, LLM and cross-encoder rerankers itself; here any LangChain
 * document compressor does the job, given ready-made with provider `langchain`.
 */
export const rerankerSection = section(z.record(z.string(), z.unknown()))
  .superRefine(({ provider }, ctx) => {
    if (provider !== "langchain") {
      ctx.addIssue({
        code: "custom",
        path: ["provider"],
        message:
          `"${provider}" is not supported; give any LangChain document compressor (e.g. ` +
          'CohereRerank from @langchain/cohere) as config.model with provider "langchain"',
      });
    }
  })
  .pipe(section(mem0Object({ model: compressorField })))
  .superRefine(({ config }, ctx) => {
    if (config?.model === undefined) {
      ctx.addIssue({ code: "custom", path: ["config", "model"], message: COMPRESSOR });
    }
  });

export type LlmSection = z.output<typeof llmSection>;
export type EmbedderSection = z.output<typeof embedderSection>;

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
export async function importOptional(specifier: string, packages: string[], purpose: string) {
  try {
    return (await import(specifier)) as Settings;
  } catch (error) {
    if (isModuleNotFound(error, [specifier, ...packages])) {
      const plural = packages.length > 1;
      throw new Mem0ConfigError(
        `${purpose} needs ${plural ? "the packages" : "the package"} ${packages.join(" and ")}, ` +
          `which ${plural ? "are" : "is"} not installed. Run: npm install ${packages.join(" ")}`,
        { cause: error },
      );
    }
    throw new Mem0ConfigError(`${purpose}: could not load ${specifier}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

interface UniversalModule {
  initChatModel: (model: string, fields: Settings) => Promise<BaseChatModel>;
  MODEL_PROVIDER_CONFIG: Record<string, { package: string; className: string }>;
}

/** LangChain's `initChatModel` for a model string such as `"openai:gpt-4o-mini"`. */
export async function initChatModel(model: string, fields: Settings = {}): Promise<BaseChatModel> {
  const universal = (await importOptional(
    "langchain/chat_models/universal",
    ["langchain"],
    `model "${model}"`,
  )) as unknown as UniversalModule;
  return universal.initChatModel(model, fields);
}

/** The chat model of an `llm` section (default: OpenAI). */
export async function createChatModel(spec: LlmSection | undefined): Promise<BaseChatModel> {
  const provider = spec?.provider ?? "openai";
  const settings = spec?.config ?? {};
  if (provider === "langchain") return settings.model as BaseChatModel;

  const { model: name, baseURL, ...params } = settings as Settings & typeof settings;
  const modelProvider = LLM_PROVIDER_ALIASES[provider] ?? provider;
  const purpose = `llm provider "${provider}"`;
  const universal = (await importOptional(
    "langchain/chat_models/universal",
    ["langchain"],
    purpose,
  )) as unknown as UniversalModule;
  const entry = universal.MODEL_PROVIDER_CONFIG[modelProvider];
  if (!entry) {
    const supported = [
      ...Object.keys(universal.MODEL_PROVIDER_CONFIG),
      ...Object.keys(LLM_PROVIDER_ALIASES),
      "langchain",
    ];
    throw configError(
      "llm.provider",
      `"${provider}" is not supported; supported providers: ${supported.join(", ")}`,
    );
  }
  const model = (name as string | undefined) ?? DEFAULT_LLM_MODELS[modelProvider];
  if (model === undefined) {
    throw configError("llm.config.model", `required for provider "${provider}"`);
  }

  const local = LOCAL_OPENAI_SERVERS[provider];
  params.apiKey ??= local?.apiKey;
  const url = baseURL ?? local?.baseURL;
  if (url !== undefined) {
    const setBaseURL = BASE_URL_OPTIONS[modelProvider];
    if (!setBaseURL) {
      throw configError(
        `llm.config.${spelling(settings, "baseURL")}`,
        `not supported for provider "${provider}"; pass the provider's own option in llm.config ` +
          `(it is forwarded to ${entry.className}) or a ready model with provider "langchain"`,
      );
    }
    setBaseURL(url, params);
  }

  await importOptional(entry.package, [entry.package], purpose);
  try {
    return await universal.initChatModel(model, { ...params, modelProvider });
  } catch (error) {
    throw new Mem0ConfigError(
      `Could not create the llm (provider "${provider}", model "${model}"): ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

/** The embeddings of an `embedder` section (default: OpenAI); not `hash`, which is built in. */
export async function createEmbeddings(spec: EmbedderSection | undefined): Promise<Embeddings> {
  const provider = spec?.provider ?? "openai";
  const settings = spec?.config ?? {};
  if (provider === "langchain") return settings.model as Embeddings;

  const { model, baseURL, embeddingDims, ...params } = settings as Settings & typeof settings;
  const purpose = `embedder provider "${provider}"`;
  type EmbeddingsClass = new (fields: Settings) => Embeddings;
  switch (provider) {
    case "openai": {
      const { OpenAIEmbeddings } = await importOptional(
        "@langchain/openai",
        ["@langchain/openai"],
        purpose,
      );
      const fields: Settings = { ...params, model: model ?? "text-embedding-3-small" };
      if (embeddingDims !== undefined) fields.dimensions = embeddingDims;
      if (baseURL !== undefined) openAIBaseURL(baseURL, fields);
      return new (OpenAIEmbeddings as EmbeddingsClass)(fields);
    }
    case "ollama": {
      const { OllamaEmbeddings } = await importOptional(
        "@langchain/ollama",
        ["@langchain/ollama"],
        purpose,
      );
      const fields: Settings = { ...params, model: model ?? "nomic-embed-text" };
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
      const fields: Settings = { ...params, model: model ?? "Xenova/all-MiniLM-L6-v2" };
      return new (HuggingFaceTransformersEmbeddings as EmbeddingsClass)(fields);
    }
  }
}

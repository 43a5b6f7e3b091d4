import { z } from "zod";
import { Mem0InputError } from "../errors.js";
import type { ChatCompletionMessageParam } from "./openai_format.js";

/**
 * The body of `mem0.chat.completions.create(...)`: OpenAI's chat completion parameters plus
 * Mem0's (`user_id`, `agent_id`, `run_id`, `metadata`, `filters`, `limit`).
 */
export interface Mem0CompletionParams {
  /** A model for LangChain's `initChatModel`: `"openai:gpt-4o-mini"`, `"anthropic:claude-…"`, `"gpt-4o-mini"`. */
  model: string;
  /** The conversation, in OpenAI's message format. */
  messages: ChatCompletionMessageParam[];
  /** Whose memories are used and stored (at least one of the three ids). */
  user_id?: string;
  agent_id?: string;
  run_id?: string;
  /** Metadata stored with the memories this call creates. */
  metadata?: Record<string, unknown>;
  /** Metadata filter for retrieval. */
  filters?: Record<string, unknown>;
  /** Memories retrieved (default 10); `top_k` is the Python proxy's name for it. */
  limit?: number;
  top_k?: number;
  /** Stream `chat.completion.chunk`s instead of returning one `chat.completion`. */
  stream?: boolean;
  /** `{ include_usage: true }` ends a stream with a usage chunk. */
  stream_options?: { include_usage?: boolean } | null;
  /** Choices to generate (each is its own model call; the first one is stored). */
  n?: number;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  logit_bias?: Record<string, number>;
  logprobs?: boolean;
  top_logprobs?: number;
  /** OpenAI's end-user id for abuse monitoring (not the memory scope: that is `user_id`). */
  user?: string;
  seed?: number;
  stop?: string | string[] | null;
  tools?: unknown[];
  tool_choice?: unknown;
  parallel_tool_calls?: boolean;
  response_format?: Record<string, unknown>;
  /** Deprecated by OpenAI: sent as `tools` / `tool_choice`. */
  functions?: Record<string, unknown>[];
  function_call?: string | { name: string };
  /** Deadline of the model call in ms. */
  timeout?: number;
  reasoning_effort?: string;
  service_tier?: string;
  modalities?: string[];
  audio?: Record<string, unknown>;
  prediction?: Record<string, unknown>;
  verbosity?: string;
  prompt_cache_key?: string;
  /** Provider credentials and endpoint for this call (OpenAI-compatible providers). */
  api_key?: string;
  base_url?: string;
  extra_headers?: Record<string, string>;
  /** Azure OpenAI settings. */
  api_version?: string;
  deployment_id?: string;
}

/** OpenAI parameters that configure the chat model (its constructor fields in LangChain). */
const MODEL_FIELDS: Record<string, string> = {
  temperature: "temperature",
  top_p: "topP",
  max_tokens: "maxTokens",
  max_completion_tokens: "maxTokens",
  presence_penalty: "presencePenalty",
  frequency_penalty: "frequencyPenalty",
  logit_bias: "logitBias",
  logprobs: "logprobs",
  top_logprobs: "topLogprobs",
  user: "user",
  api_key: "apiKey",
  api_version: "azureOpenAIApiVersion",
  deployment_id: "azureOpenAIApiDeploymentName",
};

/** OpenAI parameters that are LangChain call options (name on the right). */
const CALL_OPTIONS: Record<string, string> = {
  seed: "seed",
  response_format: "response_format",
  reasoning_effort: "reasoningEffort",
  service_tier: "service_tier",
  modalities: "modalities",
  audio: "audio",
  prediction: "prediction",
  verbosity: "verbosity",
  prompt_cache_key: "promptCacheKey",
  timeout: "timeout",
};

/** Names from other APIs, and what to write instead. */
const RENAMES: Record<string, string> = {
  userId: "user_id",
  agentId: "agent_id",
  runId: "run_id",
  topK: "limit",
  maxTokens: "max_tokens",
  topP: "top_p",
  model_list: "one model per call (model_list is LiteLLM's)",
  memoryMetadata: "metadata",
};

const id = z.string().trim().min(1, "must be a non-empty string");
const record = z.record(z.string(), z.unknown());
const count = z.number().int("must be a whole number").positive("must be at least 1");

const paramsSchema = z
  .object({
    model: z.string({ error: 'is required: a model name such as "openai:gpt-4o-mini"' }).min(1),
    messages: z.array(z.unknown()),
    user_id: id.optional(),
    agent_id: id.optional(),
    run_id: id.optional(),
    metadata: record.optional(),
    filters: record.optional(),
    limit: count.max(1000).optional(),
    top_k: count.max(1000).optional(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
    n: count.max(16, "must be at most 16").nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    max_tokens: count.nullish(),
    max_completion_tokens: count.nullish(),
    presence_penalty: z.number().min(-2).max(2).nullish(),
    frequency_penalty: z.number().min(-2).max(2).nullish(),
    logit_bias: z.record(z.string(), z.number()).nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    user: z.string().nullish(),
    seed: z.number().int().nullish(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
    tools: z.array(record).nullish(),
    tool_choice: z.union([z.string(), record]).nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    response_format: record.nullish(),
    functions: z.array(record).nullish(),
    function_call: z.union([z.string(), z.object({ name: z.string() })]).nullish(),
    timeout: z.number().positive().nullish(),
    reasoning_effort: z.string().nullish(),
    service_tier: z.string().nullish(),
    modalities: z.array(z.string()).nullish(),
    audio: record.nullish(),
    prediction: record.nullish(),
    verbosity: z.string().nullish(),
    prompt_cache_key: z.string().nullish(),
    api_key: z.string().nullish(),
    base_url: z.string().url().nullish(),
    extra_headers: z.record(z.string(), z.string()).nullish(),
    api_version: z.string().nullish(),
    deployment_id: z.string().nullish(),
  })
  .strict();

/** A validated call, split by where each part goes. */
export interface CompletionPlan {
  model: string;
  messages: unknown[];
  scope: { user_id?: string; agent_id?: string; run_id?: string };
  metadata?: Record<string, unknown>;
  filters?: Record<string, unknown>;
  topK?: number;
  stream: boolean;
  includeUsage: boolean;
  n: number;
  /** Constructor fields of the LangChain chat model. */
  modelFields: Record<string, unknown>;
  /** LangChain call options of the model call. */
  callOptions: Record<string, unknown>;
  /** Tools in OpenAI's format, bound with `bindTools`. */
  tools?: Record<string, unknown>[];
  /** `tool_choice` / `parallel_tool_calls`, passed to `bindTools`. */
  toolOptions: Record<string, unknown>;
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return issue.keys
      .map((key) =>
        RENAMES[key]
          ? `unknown parameter "${key}"; use ${RENAMES[key]}`
          : `unknown parameter "${key}"`,
      )
      .join("; ");
  }
  const path = issue.path.join(".");
  if (issue.code === "invalid_type" && issue.input === undefined) return `${path} is required`;
  return `${path} ${issue.message}`;
}

/**
 * Validates the parameters of a completion and sorts them: memory settings, chat model fields
 * and call options. Unknown parameters are refused, naming each, so nothing is silently dropped.
 */
export function planCompletion(params: unknown): CompletionPlan {
  const parsed = paramsSchema.safeParse(params ?? {});
  if (!parsed.success) {
    const problems = [...new Set(parsed.error.issues.map(issueText))];
    throw new Mem0InputError(
      `Invalid chat.completions.create parameters: ${problems.join("; ")}. Supported: ` +
        "OpenAI's chat completion parameters and user_id, agent_id, run_id, metadata, " +
        "filters, limit.",
    );
  }
  const body = parsed.data;
  if (body.limit !== undefined && body.top_k !== undefined) {
    throw new Mem0InputError("Give either limit or top_k (the same setting), not both.");
  }
  if (!body.user_id && !body.agent_id && !body.run_id) {
    throw new Mem0InputError(
      "One of user_id, agent_id or run_id must be provided: it says whose memories to use " +
        '(e.g. user_id: "alice").',
    );
  }
  const n = body.n ?? 1;
  if (n > 1 && body.stream) {
    throw new Mem0InputError("n > 1 cannot be streamed here; stream one choice, or drop stream.");
  }
  if (body.max_tokens != null && body.max_completion_tokens != null) {
    throw new Mem0InputError("Give either max_tokens or max_completion_tokens, not both.");
  }
  if (body.tools != null && body.functions != null) {
    throw new Mem0InputError("Give either tools or the deprecated functions, not both.");
  }

  const modelFields: Record<string, unknown> = {};
  const callOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === null || value === undefined) continue;
    if (key in MODEL_FIELDS) modelFields[MODEL_FIELDS[key]] = value;
    else if (key in CALL_OPTIONS) callOptions[CALL_OPTIONS[key]] = value;
  }
  if (body.stop != null) callOptions.stop = typeof body.stop === "string" ? [body.stop] : body.stop;
  const configuration: Record<string, unknown> = {};
  if (body.base_url) configuration.baseURL = body.base_url;
  if (body.extra_headers) configuration.defaultHeaders = body.extra_headers;
  if (Object.keys(configuration).length > 0) modelFields.configuration = configuration;

  const tools =
    body.tools ?? body.functions?.map((definition) => ({ type: "function", function: definition }));
  const toolOptions: Record<string, unknown> = {};
  const choice =
    body.tool_choice ??
    (typeof body.function_call === "object" && body.function_call !== null
      ? { type: "function", function: { name: body.function_call.name } }
      : body.function_call);
  if (choice != null) toolOptions.tool_choice = choice;
  if (body.parallel_tool_calls != null) toolOptions.parallel_tool_calls = body.parallel_tool_calls;
  if (!tools && Object.keys(toolOptions).length > 0) {
    throw new Mem0InputError("tool_choice and parallel_tool_calls need tools.");
  }

  return {
    model: body.model,
    messages: body.messages,
    scope: { user_id: body.user_id, agent_id: body.agent_id, run_id: body.run_id },
    metadata: body.metadata,
    filters: body.filters,
    topK: body.limit ?? body.top_k,
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    n,
    modelFields,
    callOptions,
    tools: tools ?? undefined,
    toolOptions,
  };
}

import { once } from "node:events";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { checkDimensions, hashEmbedding } from "../embeddings/hash.js";

/** Options of {@link FakeOpenAIServer.start}. */
export interface FakeOpenAIServerOptions {
  /** Length of embedding vectors when a request does not ask for `dimensions` (default 256). */
  embeddingDimensions?: number;
  /** Delay in milliseconds added before every response, to simulate a remote model (default 0). */
  latencyMs?: number;
  /** When set, requests without `Authorization: Bearer <apiKey>` are answered with a 401. */
  apiKey?: string;
}

/** A tool call made by the fake model. */
export interface FakeToolCall {
  /** Name of the function to call. */
  name: string;
  /** Arguments; a string is sent verbatim (to test malformed arguments), anything else as JSON. */
  arguments: unknown;
  /** Tool call id (default: a generated `call_fake-<n>`). */
  id?: string;
}

/** What the fake model answers: plain assistant text, or a detailed reply. */
export type FakeChatReply =
  | string
  | {
      /** Assistant text. */
      content?: string;
      /** Tool calls, in order. */
      toolCalls?: FakeToolCall[];
      /**
       * A structured-output value, delivered the way the request asked for structured output:
       * as JSON content under a `json_schema` / `json_object` `response_format`, as a call to
       * the forced function when `tool_choice` names one, and as JSON content otherwise.
       */
      json?: unknown;
      /** A refusal, as models return when they decline a structured-output request. */
      refusal?: string;
      /** `finish_reason` (default `tool_calls` when the reply has tool calls, else `stop`). */
      finishReason?: string;
      /** Extra delay in milliseconds before this reply, on top of `latencyMs`. */
      delayMs?: number;
    };

/** A chat message as received on `/v1/chat/completions`; only the fields tests read are typed. */
export interface FakeChatMessage {
  role: string;
  content?: string | { type: string; text?: string; [key: string]: unknown }[] | null;
  name?: string;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
  [key: string]: unknown;
}

/** A parsed `/v1/chat/completions` request body, with helpers. */
export interface FakeChatRequest {
  model: string;
  messages: FakeChatMessage[];
  tools?: { type: string; function?: { name: string; [key: string]: unknown } }[];
  tool_choice?: string | { type: string; function?: { name: string } };
  response_format?: { type: string; json_schema?: { name: string; [key: string]: unknown } };
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  [key: string]: unknown;
  /** Text of the last `user` message ("" when there is none). */
  readonly lastUserText: string;
  /** Text of every `system` / `developer` message, joined by newlines ("" when there is none). */
  readonly systemText: string;
}

/** Decides the reply to a chat request when no queued reply is left. */
export type FakeChatHandler = (request: FakeChatRequest) => FakeChatReply | Promise<FakeChatReply>;

/** A parsed `/v1/embeddings` request body. */
export interface FakeEmbeddingRequest {
  model: string;
  input: string | string[];
  encoding_format?: "float" | "base64";
  dimensions?: number;
  [key: string]: unknown;
}

/** Which requests a fault applies to. */
export type FakeFaultTarget = "chat" | "embeddings" | "any";

/** A failure to simulate, see {@link FakeOpenAIServer.injectFault}. */
export type FakeFault = (
  | {
      /** HTTP status to answer with, e.g. 429, 500 or 503, with an OpenAI error body. */
      status: number;
      /** Error message (default: one that fits the status). */
      message?: string;
      /** Sent as a `retry-after` header; LangChain retries a 429 only when it carries one. */
      retryAfterSeconds?: number;
    }
  | {
      /** Answer 200 with a truncated, unparsable body. */
      malformed: true;
    }
  | {
      /** Never answer, until the client aborts or the server closes. */
      hang: true;
    }
) & {
  /** Requests the fault applies to (default `any`). */
  path?: FakeFaultTarget;
};

/** A request as received, whatever its route or outcome. */
export interface FakeRecordedRequest {
  method: string;
  /** URL path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; `undefined` when the body was empty or not JSON. */
  body: unknown;
  /** Arrival time in milliseconds since the epoch. */
  time: number;
}

/** Token counts over all chat completions served. */
export interface FakeUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

type Route = "chat" | "embeddings" | "models";

const ROUTES: Record<string, Route> = {
  "POST /v1/chat/completions": "chat",
  "POST /v1/embeddings": "embeddings",
  "GET /v1/models": "models",
};

const MODELS = ["gpt-4o-mini", "text-embedding-3-small"];

const SYSTEM_FINGERPRINT = "fp_fake";

/** Length of the argument pieces of a streamed tool call: even short calls span several deltas. */
const ARGUMENT_PIECE_LENGTH = 8;

/** The model's answer to one chat request, independent of JSON or SSE delivery. */
interface Completion {
  content: string | null;
  refusal: string | null;
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: string;
}

interface WireUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** A client error: answered with a 400 in OpenAI's error shape. */
class BadRequestError extends Error {}

/**
 * An OpenAI-compatible HTTP server on 127.0.0.1 for offline tests and benchmarks: point
 * `ChatOpenAI` / `OpenAIEmbeddings` at {@link baseURL} to exercise the real client code paths
 * (HTTP, JSON, SSE streaming, tool calls, structured output, retries, aborts) without a network
 * or an API key.
 *
 * Chat replies come from the {@link enqueue | queue}, then the {@link setHandler | handler}, and
 * otherwise echo the last user message. Embeddings are {@link hashEmbedding} vectors. Every
 * request is recorded, and faults can be injected.
 *
 * @example
 * ```typescript
 * const server = await FakeOpenAIServer.start();
 * const model = new ChatOpenAI({ apiKey: "test", configuration: { baseURL: server.baseURL } });
 * server.enqueue("Hello!");
 * await model.invoke("Hi"); // AIMessage "Hello!"
 * await server.close();
 * ```
 */
export class FakeOpenAIServer {
  /** Port the server listens on. */
  readonly port: number;

  /** Base URL to give OpenAI clients, `http://127.0.0.1:<port>/v1`. */
  readonly baseURL: string;

  private readonly server: Server;
  private readonly embeddingDimensions: number;
  private readonly latencyMs: number;
  private readonly apiKey: string | undefined;

  private records: FakeRecordedRequest[] = [];
  private chatLog: FakeChatRequest[] = [];
  private embeddingLog: FakeEmbeddingRequest[] = [];
  private tokens: FakeUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
  private replies: FakeChatReply[] = [];
  private handler: FakeChatHandler | undefined;
  private faults: { fault: FakeFault; remaining: number }[] = [];
  private lastId = 0;

  private constructor(server: Server, options: FakeOpenAIServerOptions) {
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.baseURL = `http://127.0.0.1:${this.port}/v1`;
    this.embeddingDimensions = options.embeddingDimensions ?? 256;
    this.latencyMs = options.latencyMs ?? 0;
    this.apiKey = options.apiKey;
    server.on("request", (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res));
  }

  /** Starts a server on a random free port of 127.0.0.1. */
  static async start(options: FakeOpenAIServerOptions = {}): Promise<FakeOpenAIServer> {
    // Fail here rather than on the first embedding request.
    checkDimensions(options.embeddingDimensions ?? 256);
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return new FakeOpenAIServer(server, options);
  }

  /** Every request received, oldest first. */
  get requests(): FakeRecordedRequest[] {
    return [...this.records];
  }

  /** Every well-formed chat completion request, oldest first. */
  get chatRequests(): FakeChatRequest[] {
    return [...this.chatLog];
  }

  /** Every well-formed embeddings request, oldest first. */
  get embeddingRequests(): FakeEmbeddingRequest[] {
    return [...this.embeddingLog];
  }

  /**
   * Tokens over all chat completions served. Each message, and each reply, counts
   * ceil(characters / 4) tokens of its text: deterministic, and the same figures each response
   * reports in its `usage`.
   */
  get usage(): FakeUsage {
    return { ...this.tokens };
  }

  /** Queues replies for the next chat requests, consumed first in, first out. */
  enqueue(...replies: FakeChatReply[]): void {
    this.replies.push(...replies);
  }

  /** Sets the function that answers chat requests once the queue is empty; none to remove it. */
  setHandler(handler?: FakeChatHandler): void {
    this.handler = handler;
  }

  /** Makes the next `times` requests matching `fault.path` fail the way `fault` describes. */
  injectFault(fault: FakeFault, times = 1): void {
    if (!Number.isInteger(times) || times <= 0) {
      throw new RangeError(`times must be a positive integer, got ${times}`);
    }
    this.faults.push({ fault, remaining: times });
  }

  /** Forgets recorded requests and token usage. */
  clearRecords(): void {
    this.records = [];
    this.chatLog = [];
    this.embeddingLog = [];
    this.tokens = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
  }

  /** Clears records, queued replies, the handler and pending faults. */
  reset(): void {
    this.clearRecords();
    this.replies = [];
    this.handler = undefined;
    this.faults = [];
  }

  /** Stops the server, dropping open connections and ending hanging requests. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve, reject) =>
      this.server.close((error) => (error ? reject(error) : resolve())),
    );
    // Keep-alive sockets and hanging requests would otherwise keep `close` waiting forever;
    // destroying them also fires each pending response's "close", which ends its handler.
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Aborted when the response ends for any reason: client abort, closed server, or done.
    const controller = new AbortController();
    res.once("close", () => controller.abort());
    try {
      await this.route(req, res, controller.signal);
    } catch (error) {
      // Nobody is left to answer when the client went away or the server closed.
      if (controller.signal.aborted) return;
      if (res.headersSent) res.destroy();
      else if (error instanceof BadRequestError) sendError(res, 400, error.message);
      else sendError(res, 500, `FakeOpenAIServer failed: ${errorMessage(error)}`);
    }
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    const method = req.method ?? "GET";
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const rawBody = await readBody(req);
    let body: unknown;
    let bodyIsJson = true;
    try {
      body = rawBody === "" ? undefined : JSON.parse(rawBody);
    } catch {
      bodyIsJson = false;
    }
    this.records.push({ method, path, headers: req.headers, body, time: Date.now() });

    if (this.latencyMs > 0) await sleep(this.latencyMs, undefined, { signal });
    if (this.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.apiKey}`) {
      sendError(res, 401, "Incorrect API key provided.", "invalid_api_key");
      return;
    }
    const route = ROUTES[`${method} ${path}`];
    if (route === undefined) {
      sendError(res, 404, `Unknown request URL: ${method} ${path}.`, "unknown_url");
      return;
    }
    if (!bodyIsJson) throw new BadRequestError("The request body is not valid JSON.");

    // Parse before any fault, so a faulted request is still validated and recorded.
    let answer: () => void | Promise<void>;
    let streaming = false;
    if (route === "chat") {
      const request = parseChatRequest(body);
      this.chatLog.push(request);
      streaming = request.stream === true;
      answer = () => this.answerChat(request, res, signal);
    } else if (route === "embeddings") {
      const request = parseEmbeddingRequest(body);
      this.embeddingLog.push(request);
      answer = () => this.answerEmbeddings(request, res);
    } else {
      answer = () => sendJson(res, 200, { object: "list", data: MODELS.map(describeModel) });
    }
    const fault = this.takeFault(route);
    if (fault) await sendFault(res, fault, signal, streaming);
    else await answer();
  }

  private takeFault(route: Route): FakeFault | undefined {
    const index = this.faults.findIndex(({ fault }) => {
      const target = fault.path ?? "any";
      return target === "any" || target === route;
    });
    if (index === -1) return undefined;
    const entry = this.faults[index];
    entry.remaining -= 1;
    if (entry.remaining === 0) this.faults.splice(index, 1);
    return entry.fault;
  }

  private async answerChat(
    request: FakeChatRequest,
    res: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    let reply: FakeChatReply;
    try {
      reply =
        this.replies.shift() ??
        (this.handler ? await this.handler(request) : `Echo: ${request.lastUserText}`);
    } catch (error) {
      // A 400, not a 500: clients retry 5xx, which would hide the test's bug behind backoff.
      throw new BadRequestError(`FakeOpenAIServer chat handler failed: ${errorMessage(error)}`);
    }
    const completion = resolveReply(reply, request, () => this.nextId("call_fake"));
    if (typeof reply === "object" && reply.delayMs) {
      await sleep(reply.delayMs, undefined, { signal });
    }

    const promptTokens = request.messages.reduce(
      (sum, message) => sum + estimateTokens(messageText(message)),
      0,
    );
    const completionTokens = estimateTokens(
      [
        completion.content ?? "",
        completion.refusal ?? "",
        ...completion.toolCalls.map((call) => call.name + call.arguments),
      ].join(""),
    );
    const usage: WireUsage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    this.tokens.promptTokens += usage.prompt_tokens;
    this.tokens.completionTokens += usage.completion_tokens;
    this.tokens.totalTokens += usage.total_tokens;

    const id = this.nextId("chatcmpl-fake");
    if (request.stream) sendStream(res, id, request, completion, usage);
    else sendJson(res, 200, completionBody(id, request, completion, usage));
  }

  private answerEmbeddings(request: FakeEmbeddingRequest, res: ServerResponse): void {
    const inputs = typeof request.input === "string" ? [request.input] : request.input;
    const dimensions = request.dimensions ?? this.embeddingDimensions;
    const data = inputs.map((text, index) => {
      const vector = hashEmbedding(text, dimensions);
      return {
        object: "embedding",
        index,
        embedding: request.encoding_format === "base64" ? toBase64Float32(vector) : vector,
      };
    });
    const tokens = inputs.reduce((sum, text) => sum + estimateTokens(text), 0);
    sendJson(res, 200, {
      object: "list",
      data,
      model: request.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  private nextId(prefix: string): string {
    this.lastId += 1;
    return `${prefix}-${this.lastId}`;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseChatRequest(body: unknown): FakeChatRequest {
  if (!isRecord(body)) throw new BadRequestError("The request body must be a JSON object.");
  if (typeof body.model !== "string") throw new BadRequestError("'model' must be a string.");
  const { messages } = body;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new BadRequestError("'messages' must be a non-empty array.");
  }
  if (!messages.every((message) => isRecord(message) && typeof message.role === "string")) {
    throw new BadRequestError("Every message must be an object with a string 'role'.");
  }
  const typed = messages as FakeChatMessage[];
  const lastUser = typed.filter((message) => message.role === "user").at(-1);
  return {
    ...body,
    model: body.model,
    messages: typed,
    lastUserText: lastUser ? messageText(lastUser) : "",
    systemText: typed
      .filter((message) => message.role === "system" || message.role === "developer")
      .map(messageText)
      .join("\n"),
  };
}

function parseEmbeddingRequest(body: unknown): FakeEmbeddingRequest {
  if (!isRecord(body)) throw new BadRequestError("The request body must be a JSON object.");
  const { model, input, encoding_format: encodingFormat, dimensions } = body;
  if (typeof model !== "string") throw new BadRequestError("'model' must be a string.");
  const isText = typeof input === "string";
  const isTextList =
    Array.isArray(input) && input.length > 0 && input.every((item) => typeof item === "string");
  if (!isText && !isTextList) {
    throw new BadRequestError(
      "'input' must be a string or a non-empty array of strings: " +
        "token arrays are not supported by FakeOpenAIServer.",
    );
  }
  if (encodingFormat !== undefined && encodingFormat !== "float" && encodingFormat !== "base64") {
    throw new BadRequestError("'encoding_format' must be 'float' or 'base64'.");
  }
  if (
    dimensions !== undefined &&
    (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions <= 0)
  ) {
    throw new BadRequestError("'dimensions' must be a positive integer.");
  }
  return body as FakeEmbeddingRequest;
}

function messageText(message: FakeChatMessage): string {
  const { content } = message;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part) => part.type === "text" && typeof part.text === "string")
    .map((part) => part.text)
    .join("\n");
}

function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function resolveReply(
  reply: FakeChatReply,
  request: FakeChatRequest,
  newCallId: () => string,
): Completion {
  const spec = typeof reply === "string" ? { content: reply } : reply;
  let content = spec.content ?? null;
  const toolCalls = (spec.toolCalls ?? []).map((call) => ({
    id: call.id ?? newCallId(),
    name: call.name,
    arguments:
      typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments ?? {}),
  }));
  if (spec.json !== undefined) {
    const format = request.response_format?.type;
    const asksForJsonContent = format === "json_schema" || format === "json_object";
    // LangChain's function-calling structured output forces one function via `tool_choice`.
    const forced =
      typeof request.tool_choice === "object" ? request.tool_choice.function?.name : undefined;
    if (forced !== undefined && !asksForJsonContent) {
      toolCalls.push({ id: newCallId(), name: forced, arguments: JSON.stringify(spec.json) });
    } else {
      content = JSON.stringify(spec.json);
    }
  }
  if (content === null && toolCalls.length === 0 && spec.refusal === undefined) content = "";
  return {
    content,
    refusal: spec.refusal ?? null,
    toolCalls,
    finishReason: spec.finishReason ?? (toolCalls.length > 0 ? "tool_calls" : "stop"),
  };
}

function completionBody(
  id: string,
  request: FakeChatRequest,
  completion: Completion,
  usage: WireUsage,
) {
  const toolCalls = completion.toolCalls.map((call) => ({
    id: call.id,
    type: "function",
    function: { name: call.name, arguments: call.arguments },
  }));
  return {
    id,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: request.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: completion.content,
          refusal: completion.refusal,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: completion.finishReason,
      },
    ],
    usage,
  };
}

/** Streams a completion as OpenAI does: role, small content deltas, tool call deltas, finish. */
function sendStream(
  res: ServerResponse,
  id: string,
  request: FakeChatRequest,
  completion: Completion,
  usage: WireUsage,
): void {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model: request.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices,
    ...extra,
  });
  const deltaChunk = (delta: Record<string, unknown>, finishReason: string | null = null) =>
    chunk([{ index: 0, delta, logprobs: null, finish_reason: finishReason }]);

  const chunks = [deltaChunk({ role: "assistant", content: "" })];
  for (const piece of splitWords(completion.content ?? "")) {
    chunks.push(deltaChunk({ content: piece }));
  }
  for (const piece of splitWords(completion.refusal ?? "")) {
    chunks.push(deltaChunk({ refusal: piece }));
  }
  completion.toolCalls.forEach((call, index) => {
    chunks.push(
      deltaChunk({
        tool_calls: [
          { index, id: call.id, type: "function", function: { name: call.name, arguments: "" } },
        ],
      }),
    );
    for (const piece of splitEvery(call.arguments, ARGUMENT_PIECE_LENGTH)) {
      chunks.push(deltaChunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
  });
  chunks.push(deltaChunk({}, completion.finishReason));
  if (request.stream_options?.include_usage) chunks.push(chunk([], { usage }));

  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (const data of chunks) res.write(`data: ${JSON.stringify(data)}\n\n`);
  res.end("data: [DONE]\n\n");
}

/** Splits text into words with their trailing whitespace; joining the pieces restores it. */
function splitWords(text: string): string[] {
  return text === "" ? [] : text.split(/(?<=\s)(?=\S)/);
}

function splitEvery(text: string, length: number): string[] {
  const pieces: string[] = [];
  for (let start = 0; start < text.length; start += length) {
    pieces.push(text.slice(start, start + length));
  }
  return pieces;
}

/** Little-endian float32 bytes, as OpenAI encodes `encoding_format: "base64"` embeddings. */
function toBase64Float32(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  return bytes.toString("base64");
}

function describeModel(id: string) {
  return { id, object: "model", created: 0, owned_by: "fake-openai" };
}

async function sendFault(
  res: ServerResponse,
  fault: FakeFault,
  signal: AbortSignal,
  stream: boolean,
): Promise<void> {
  if ("hang" in fault) {
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } else if ("malformed" in fault) {
    // A reply cut short mid-JSON, as from a dying proxy, in the framing the client expects.
    const truncated = '{"id":"fake-truncated","object":"chat.completion","choices":[{"mess';
    if (stream) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`data: ${truncated}\n\n`);
    } else {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(truncated);
    }
  } else {
    const headers: Record<string, string> =
      fault.retryAfterSeconds === undefined
        ? {}
        : { "retry-after": String(fault.retryAfterSeconds) };
    const code = fault.status === 429 ? "rate_limit_exceeded" : null;
    sendError(res, fault.status, fault.message ?? defaultErrorMessage(fault.status), code, headers);
  }
}

function defaultErrorMessage(status: number): string {
  if (status === 429) return "Rate limit reached for requests (injected by FakeOpenAIServer).";
  if (status >= 500) return "The server had an error (injected by FakeOpenAIServer).";
  return `Request failed with status ${status} (injected by FakeOpenAIServer).`;
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  code: string | null = null,
  headers: Record<string, string> = {},
): void {
  const type =
    status === 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error";
  sendJson(res, status, { error: { message, type, param: null, code } }, headers);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

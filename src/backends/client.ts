import type { BaseMessageLike } from "@langchain/core/messages";
import { abortable, anySignal } from "../abort.js";
import {
  Mem0APIError,
  Mem0AuthenticationError,
  Mem0ClosedError,
  Mem0ConfigError,
  Mem0InputError,
  Mem0RateLimitError,
  Mem0TimeoutError,
} from "../errors.js";
import { toBaseMessages, toConversation } from "../messages.js";
import type { MemoryScope } from "../scope.js";
import type {
  AddMemoryOptions,
  AddResult,
  MemoryBackend,
  MemoryEvent,
  MemoryEventType,
  MemoryItem,
  SearchMemoryOptions,
  SearchResult,
  DeleteAllMemoryOptions,
  GetAllMemoryOptions,
  GetAllResult,
  MemoryHistoryEntry,
  UpdateMemoryOptions,
} from "./base.js";
import {
  addOptionsSchema,
  deleteAllOptionsSchema,
  getAllOptionsSchema,
  parseOptions,
  resolveScope,
  searchOptionsSchema,
  updateOptionsSchema,
} from "./options.js";

/** The hosted Mem0 platform. */
export const DEFAULT_MEM0_HOST = "https://api.mem0.ai";

export interface MemoryClientOptions {
  /** Platform API key (`m0-…`); default: the `MEM0_API_KEY` environment variable. */
  apiKey?: string;
  /** Base URL of the platform (default `https://api.mem0.ai`, or `MEM0_API_HOST`). */
  host?: string;
  /** Deadline of one HTTP attempt, in ms (default 30 000). */
  timeoutMs?: number;
  /** Retries after a 429, a 5xx or a connection failure (default 3; 0 turns retries off). */
  maxRetries?: number;
  /** First backoff delay in ms when the server sends no `Retry-After` (default 500; doubles). */
  retryDelayMs?: number;
  /** Longest wait before a retry, in ms (default 30 000): a longer `Retry-After` fails at once. */
  maxRetryDelayMs?: number;
  /** The `fetch` to use (default the global one). */
  fetch?: typeof fetch;
}

/** What `add` returns on the platform: extraction runs there, after the call returns. */
export interface PlatformAddResult extends AddResult {
  /** `PENDING` while the platform extracts memories in the background (`infer: true`). */
  status?: string;
  /** Id of the platform event processing the add (`GET /v1/event/{event_id}/`). */
  event_id?: string;
}

/** A memory as the platform sends it (snake case; the run id is `session_id` in lists). */
interface WireMemory {
  id: string;
  memory?: string;
  data?: { memory?: string } | null;
  event?: string;
  hash?: string;
  score?: number;
  metadata?: Record<string, unknown> | null;
  categories?: string[] | null;
  user_id?: string | null;
  agent_id?: string | null;
  run_id?: string | null;
  session_id?: string | null;
  expiration_date?: string | null;
  created_at?: string;
  updated_at?: string;
}

interface WireHistory {
  id: string;
  memory_id: string;
  old_memory?: string | null;
  new_memory?: string | null;
  event: string;
  created_at: string;
  updated_at?: string;
}

interface RequestSpec {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  signal?: AbortSignal;
  /**
   * Whether repeating the request is harmless. An add is not: after a timeout or a 5xx it may
   * have been accepted, so it is retried only when the server surely did not take it (429, or
   * no connection).
   */
  idempotent: boolean;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** Connection failures that happen before a request reaches the server. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);

function causeCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

/** `Retry-After` as ms: delta seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The server's own words from the error bodies the platform sends (DRF and its own shapes). */
function serverMessage(text: string): string {
  try {
    const body = JSON.parse(text) as unknown;
    if (Array.isArray(body)) return body.map(String).join("; ");
    if (body && typeof body === "object") {
      const record = body as Record<string, unknown>;
      const details = record.details as Record<string, unknown> | undefined;
      for (const value of [details?.message, record.detail, record.message, record.error]) {
        if (typeof value === "string" && value.trim()) return value.trim();
      }
    }
  } catch {
    // Not JSON: the raw text below.
  }
  return text.trim().slice(0, 500) || "(empty response body)";
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The platform's flat filter form: owner ids, equality metadata under `metadata`, the rest as given. */
function platformFilters(scope: MemoryScope, filter?: Record<string, unknown>) {
  const filters: Record<string, unknown> = {};
  if (scope.userId !== undefined) filters.user_id = scope.userId;
  if (scope.agentId !== undefined) filters.agent_id = scope.agentId;
  if (scope.runId !== undefined) filters.run_id = scope.runId;
  const metadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(filter ?? {})) {
    const scalar = value === null || typeof value !== "object";
    if (scalar && !["AND", "OR", "NOT"].includes(key)) metadata[key] = value;
    else filters[key] = value;
  }
  if (Object.keys(metadata).length > 0) filters.metadata = metadata;
  return filters;
}

function toItem(wire: WireMemory): MemoryItem {
  const metadata: Record<string, unknown> = { ...wire.metadata };
  if (wire.expiration_date) metadata.expiration_date = wire.expiration_date;
  const item: MemoryItem & { categories?: string[] } = {
    id: wire.id,
    memory: wire.memory ?? wire.data?.memory ?? "",
    metadata,
    createdAt: wire.created_at ?? "",
    updatedAt: wire.updated_at ?? wire.created_at ?? "",
  };
  if (wire.hash) item.hash = wire.hash;
  if (typeof wire.score === "number") item.score = wire.score;
  if (wire.user_id) item.user_id = wire.user_id;
  if (wire.agent_id) item.agent_id = wire.agent_id;
  const runId = wire.run_id ?? wire.session_id;
  if (runId) item.run_id = runId;
  if (wire.categories?.length) item.categories = wire.categories;
  return item;
}

function toEvent(wire: WireMemory): MemoryEvent {
  const event = (
    ["ADD", "UPDATE", "DELETE"].includes(wire.event ?? "") ? wire.event : "ADD"
  ) as MemoryEventType;
  return {
    id: wire.id,
    memory: wire.memory ?? wire.data?.memory ?? "",
    event,
    metadata: { event },
  };
}

/** Message roles the platform takes: tool results count as the assistant's side of the turn. */
function wireMessages(messages: string | BaseMessageLike[]) {
  return toConversation(toBaseMessages(messages)).map(({ role, content }) => ({
    role: role === "tool" ? "assistant" : role,
    content,
  }));
}

/**
 * The hosted Mem0 platform as a {@link MemoryBackend}, with mem0ai's call shapes: give it to
 * `Mem0ChatModel`, the `Mem0` facade or the server like the local `Memory`.
 *
 * The platform extracts memories from an `add` in the background: the call returns
 * `{ status: "PENDING", event_id }` at once, and the facts become searchable seconds later.
 * Writes are not kept locally: a write still queued in this process when it dies is lost.
 *
 * Each request has a deadline (`timeoutMs`); 429 and 5xx answers and connection failures are
 * retried with exponential backoff, waiting what `Retry-After` asks. Failures are
 * {@link Mem0APIError}s carrying the status and the server's message.
 */
export class MemoryClient implements MemoryBackend {
  readonly host: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly fetchImpl: typeof fetch;
  private closed = false;

  constructor(options: MemoryClientOptions = {}) {
    const apiKey = options.apiKey ?? process.env.MEM0_API_KEY;
    if (typeof apiKey !== "string" || apiKey.trim() === "") {
      throw new Mem0ConfigError(
        "MemoryClient needs the Mem0 platform API key: pass { apiKey } or set MEM0_API_KEY " +
          "(create one at app.mem0.ai, under API keys).",
      );
    }
    this.apiKey = apiKey.trim();
    const host = options.host ?? process.env.MEM0_API_HOST ?? DEFAULT_MEM0_HOST;
    try {
      this.host = new URL(host).origin + new URL(host).pathname.replace(/\/+$/, "");
    } catch (error) {
      throw new Mem0ConfigError(`MemoryClient host must be a URL, got ${JSON.stringify(host)}.`, {
        cause: error,
      });
    }
    const count = (value: number | undefined, fallback: number, name: string, min = 0) => {
      const chosen = value ?? fallback;
      if (!Number.isFinite(chosen) || chosen < min) {
        throw new Mem0ConfigError(`MemoryClient ${name} must be a number ≥ ${min}, got ${value}.`);
      }
      return chosen;
    };
    this.timeoutMs = count(options.timeoutMs, 30_000, "timeoutMs", 1);
    this.maxRetries = Math.floor(count(options.maxRetries, 3, "maxRetries"));
    this.retryDelayMs = count(options.retryDelayMs, 500, "retryDelayMs");
    this.maxRetryDelayMs = count(options.maxRetryDelayMs, 30_000, "maxRetryDelayMs");
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** Checks the key: resolves with the platform's `{ status: "ok", org_id, project_id, … }`. */
  async ping(options: { signal?: AbortSignal } = {}): Promise<Record<string, unknown>> {
    return this.request<Record<string, unknown>>({
      method: "GET",
      path: "/v1/ping/",
      signal: options.signal,
      idempotent: true,
    });
  }

  /**
   * Sends a conversation to the platform (`POST /v3/memories/add/`). With `infer` (default)
   * it answers `{ results: [], status: "PENDING", event_id }` and extracts in the background;
   * with `infer: false` it stores the messages verbatim and lists them in `results`.
   */
  async add(
    messages: string | BaseMessageLike[],
    options: AddMemoryOptions,
  ): Promise<PlatformAddResult> {
    this.assertOpen();
    const parsed = parseOptions(addOptionsSchema, options, "add options");
    const { scope } = resolveScope(parsed, "add options");
    const wire = wireMessages(messages);
    if (wire.length === 0) return { results: [] };
    const body: Record<string, unknown> = {
      messages: wire,
      user_id: scope.userId,
      agent_id: scope.agentId,
      run_id: scope.runId,
      metadata: parsed.metadata,
      infer: parsed.infer,
      expiration_date: parsed.expirationDate ?? undefined,
    };
    if (parsed.timestamp !== undefined && parsed.timestamp !== null) {
      const time = new Date(parsed.timestamp).getTime();
      if (Number.isNaN(time)) {
        throw new Mem0InputError("Invalid add options: timestamp is not a valid date.");
      }
      body.timestamp = Math.floor(time / 1000);
    }
    const response = await this.request<{
      results?: WireMemory[];
      status?: string;
      event_id?: string;
    }>({
      method: "POST",
      path: "/v3/memories/add/",
      body,
      signal: parsed.signal,
      idempotent: false,
    });
    const result: PlatformAddResult = { results: (response?.results ?? []).map(toEvent) };
    if (response?.status) result.status = response.status;
    if (response?.event_id) result.event_id = response.event_id;
    return result;
  }

  /** Memories relevant to the query in one owner's scope (`POST /v3/memories/search/`). */
  async search(query: string, options: SearchMemoryOptions): Promise<SearchResult> {
    this.assertOpen();
    const parsed = parseOptions(searchOptionsSchema, options, "search options");
    for (const local of ["explain", "asOf", "includeInvalid"] as const) {
      if (parsed[local] !== undefined) {
        throw new Mem0InputError(
          `Invalid search options: "${local}" is a feature of the local Memory engine; the ` +
            "Mem0 platform does not offer it.",
        );
      }
    }
    if (typeof query !== "string" || query.trim() === "") {
      throw new Mem0InputError("search needs a non-empty query string.");
    }
    const { scope, filter } = resolveScope(parsed, "search options");
    const response = await this.request<{ results?: WireMemory[] } | WireMemory[]>({
      method: "POST",
      path: "/v3/memories/search/",
      body: {
        query,
        filters: platformFilters(scope, filter),
        top_k: parsed.topK,
        threshold: parsed.threshold,
        rerank: parsed.rerank,
        show_expired: parsed.showExpired,
      },
      signal: parsed.signal,
      idempotent: true,
    });
    const results = Array.isArray(response) ? response : (response?.results ?? []);
    return { results: results.map(toItem) };
  }

  /**
   * One page of the owner's memories (`POST /v3/memories/`), `topK` per page; `nextCursor`
   * is the next page's number.
   */
  async getAll(options: GetAllMemoryOptions): Promise<GetAllResult & { count?: number }> {
    this.assertOpen();
    const parsed = parseOptions(getAllOptionsSchema, options, "getAll options");
    const { scope, filter } = resolveScope(parsed, "getAll options");
    const page = parsed.cursor === undefined ? 1 : Number(parsed.cursor);
    if (!Number.isInteger(page) || page < 1) {
      throw new Mem0InputError(
        `Invalid getAll options: cursor ${JSON.stringify(parsed.cursor)} is not a page of ` +
          "this client; pass the nextCursor of the previous page.",
      );
    }
    const response = await this.request<{
      count?: number;
      next?: string | null;
      results?: WireMemory[];
    }>({
      method: "POST",
      path: "/v3/memories/",
      query: { page, page_size: parsed.topK ?? 20 },
      body: { filters: platformFilters(scope, filter), show_expired: parsed.showExpired },
      idempotent: true,
    });
    return {
      results: (response?.results ?? []).map(toItem),
      ...(response?.next ? { nextCursor: String(page + 1) } : {}),
      ...(typeof response?.count === "number" ? { count: response.count } : {}),
    };
  }

  /** One memory by id, or `null` when the platform has none. */
  async get(memoryId: string): Promise<MemoryItem | null> {
    this.assertOpen();
    try {
      const wire = await this.request<WireMemory>({
        method: "GET",
        path: `/v1/memories/${encodeId(memoryId)}/`,
        idempotent: true,
      });
      return toItem(wire);
    } catch (error) {
      if (error instanceof Mem0APIError && error.status === 404) return null;
      throw error;
    }
  }

  /** Changes a memory's text, metadata and/or expiry (`PUT /v1/memories/{id}/`). */
  async update(
    memoryId: string,
    change: string | UpdateMemoryOptions,
  ): Promise<{ message: string }> {
    this.assertOpen();
    const parsed = parseOptions(updateOptionsSchema, change, "update");
    const given = typeof parsed === "string" ? { text: parsed } : parsed;
    const body: Record<string, unknown> = {};
    if (given.text !== undefined) body.text = given.text;
    if ("metadata" in given && given.metadata !== undefined) body.metadata = given.metadata;
    if ("expirationDate" in given && given.expirationDate !== undefined) {
      body.expiration_date = given.expirationDate;
    }
    await this.request({
      method: "PUT",
      path: `/v1/memories/${encodeId(memoryId)}/`,
      body,
      idempotent: true,
    });
    return { message: "Memory updated successfully!" };
  }

  /** Forgets one memory (`DELETE /v1/memories/{id}/`). */
  async delete(memoryId: string): Promise<{ message: string }> {
    this.assertOpen();
    await this.request({
      method: "DELETE",
      path: `/v1/memories/${encodeId(memoryId)}/`,
      idempotent: true,
    });
    return { message: "Memory deleted successfully!" };
  }

  /** Forgets every memory of the owner (`DELETE /v1/memories/?user_id=…`). */
  async deleteAll(options: DeleteAllMemoryOptions): Promise<{ message: string }> {
    this.assertOpen();
    const parsed = parseOptions(deleteAllOptionsSchema, options, "deleteAll options");
    const { scope } = resolveScope(parsed, "deleteAll options");
    await this.request({
      method: "DELETE",
      path: "/v1/memories/",
      query: { user_id: scope.userId, agent_id: scope.agentId, run_id: scope.runId },
      idempotent: true,
    });
    return { message: "Memories deleted successfully!" };
  }

  /** The change log of a memory, newest first, with the local engine's field names. */
  async history(memoryId: string): Promise<MemoryHistoryEntry[]> {
    this.assertOpen();
    const entries = await this.request<WireHistory[]>({
      method: "GET",
      path: `/v1/memories/${encodeId(memoryId)}/history/`,
      idempotent: true,
    });
    return (entries ?? [])
      .map((entry) => ({
        id: entry.id,
        memory_id: entry.memory_id,
        previous_value: entry.old_memory ?? null,
        new_value: entry.new_memory ?? null,
        action: entry.event as MemoryHistoryEntry["action"],
        created_at: entry.created_at,
        updated_at: entry.updated_at ?? entry.created_at,
        is_deleted: (entry.event === "DELETE" ? 1 : 0) as 0 | 1,
        actor: null,
      }))
      .sort((a, b) => b.created_at.localeCompare(a.created_at));
  }

  /** Later calls throw `Mem0ClosedError`; nothing is buffered locally, so nothing is flushed. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new Mem0ClosedError("This MemoryClient is closed; create a new one to go on.");
    }
  }

  /** One request with deadline and retries; the parsed JSON body, or a typed error. */
  private async request<T>(spec: RequestSpec): Promise<T> {
    const url = new URL(this.host + spec.path);
    for (const [key, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const what = `${spec.method} ${spec.path}`;
    const body =
      spec.body === undefined
        ? undefined
        : JSON.stringify(spec.body, (_key, value) => (value === undefined ? undefined : value));
    for (let attempt = 0; ; attempt++) {
      spec.signal?.throwIfAborted();
      const deadline = AbortSignal.timeout(this.timeoutMs);
      let failure: Mem0APIError;
      let retryable: boolean;
      try {
        const response = await this.fetchImpl(url, {
          method: spec.method,
          headers: {
            Authorization: `Token ${this.apiKey}`,
            Accept: "application/json",
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          },
          body,
          signal: anySignal(spec.signal, deadline),
        });
        const text = await abortable(response.text(), anySignal(spec.signal, deadline));
        if (response.ok) return (text === "" ? undefined : JSON.parse(text)) as T;
        failure = this.httpError(what, response.status, text, response.headers);
        retryable =
          RETRYABLE_STATUS.has(response.status) && (spec.idempotent || response.status === 429);
      } catch (error) {
        spec.signal?.throwIfAborted();
        if (error instanceof SyntaxError) {
          throw new Mem0APIError(
            `Mem0 platform: ${what} answered with a body that is not JSON.`,
            { request: what },
            { cause: error },
          );
        }
        if (deadline.aborted) {
          // The request may have reached the server: only reads are repeated.
          if (!spec.idempotent || attempt >= this.maxRetries) {
            throw new Mem0TimeoutError(
              `Mem0 platform: ${what} got no answer within ${this.timeoutMs} ms (timeoutMs)` +
                (spec.idempotent
                  ? ` after ${attempt + 1} attempts.`
                  : "; not retried, as it may have been applied."),
              { cause: error },
            );
          }
          await this.backoff(attempt, undefined, spec.signal);
          continue;
        }
        const code = causeCode(error);
        failure = new Mem0APIError(
          `Mem0 platform: ${what} could not reach ${this.host} (${code ?? (error as Error).message}).`,
          { request: what },
          { cause: error },
        );
        retryable = spec.idempotent || (code !== undefined && NOT_SENT.has(code));
      }
      if (!retryable || attempt >= this.maxRetries) throw failure;
      if (failure.retryAfterMs !== undefined && failure.retryAfterMs > this.maxRetryDelayMs) {
        throw failure;
      }
      await this.backoff(attempt, failure.retryAfterMs, spec.signal);
    }
  }

  /** Waits `Retry-After`, or base × 2^attempt with jitter. */
  private backoff(attempt: number, retryAfterMs: number | undefined, signal?: AbortSignal) {
    const exponential = this.retryDelayMs * 2 ** attempt;
    const delay = retryAfterMs ?? exponential / 2 + (Math.random() * exponential) / 2;
    return sleep(Math.min(delay, this.maxRetryDelayMs), signal);
  }

  private httpError(what: string, status: number, text: string, headers: Headers): Mem0APIError {
    const message = serverMessage(text);
    const retryAfterMs = parseRetryAfter(headers.get("retry-after"));
    const details = { status, serverMessage: message, retryAfterMs, request: what };
    if (status === 401 || status === 403) {
      return new Mem0AuthenticationError(
        `Mem0 platform refused the API key (${status}: ${message}). Check MEM0_API_KEY or the ` +
          "apiKey option.",
        details,
      );
    }
    if (status === 429) {
      return new Mem0RateLimitError(
        `Mem0 platform: ${what} was rate limited (429: ${message})` +
          (retryAfterMs === undefined ? "." : `; retry after ${Math.ceil(retryAfterMs / 1000)} s.`),
        details,
      );
    }
    return new Mem0APIError(`Mem0 platform: ${what} failed with ${status}: ${message}`, details);
  }
}

function encodeId(memoryId: string): string {
  if (typeof memoryId !== "string" || memoryId.trim() === "") {
    throw new Mem0InputError("A memory id must be a non-empty string.");
  }
  return encodeURIComponent(memoryId.trim());
}

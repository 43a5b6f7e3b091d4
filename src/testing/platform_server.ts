import { createHash, randomUUID } from "node:crypto";
import { once } from "node:events";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { hashEmbedding } from "../embeddings/hash.js";

/** Options of {@link FakeMem0Platform.start}. */
export interface FakeMem0PlatformOptions {
  /** The API key requests must carry as `Authorization: Token <apiKey>` (default `m0-test-key`). */
  apiKey?: string;
  /**
   * Delay before an inferred add is applied, in ms (default 0: on the next turn of the event
   * loop). The platform extracts in the background; `settle()` waits for it.
   */
  processingDelayMs?: number;
  /**
   * Turns an inferred add's messages into facts (default: each sentence of the user's messages,
   * verbatim). The platform's v3 pipeline only adds: facts are never updated or deleted.
   */
  extract?: (messages: { role: string; content: string }[]) => string[];
}

/** A failure to simulate, see {@link FakeMem0Platform.injectFault}. */
export type FakeMem0Fault = (
  | {
      /** HTTP status, e.g. 429 or 503, answered with the platform's error body. */
      status: number;
      /** Sent as `Retry-After` (seconds). */
      retryAfterSeconds?: number;
      /** The error text (default: the platform's usual one for the status). */
      message?: string;
    }
  | { /** Never answer, until the client gives up or the server closes. */ hang: true }
) & {
  /** Only requests whose path starts with this (e.g. `/v3/memories/search/`); default all. */
  path?: string;
};

/** A request as received. */
export interface FakeMem0Request {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, if any. */
  body: unknown;
}

/** A memory as the fake platform stores it (the platform's snake-case fields). */
export interface FakeMem0Memory {
  id: string;
  memory: string;
  hash: string;
  user_id: string | null;
  agent_id: string | null;
  run_id: string | null;
  metadata: Record<string, unknown> | null;
  categories: string[];
  expiration_date: string | null;
  created_at: string;
  updated_at: string;
}

interface HistoryRow {
  id: string;
  memory_id: string;
  input: { role: string; content: string }[];
  old_memory: string | null;
  new_memory: string | null;
  user_id: string | null;
  event: "ADD" | "UPDATE" | "DELETE";
  created_at: string;
  updated_at: string;
}

type Json = Record<string, unknown>;

/** A response the handlers throw to answer with an error. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

const ENTITY_KEYS = ["user_id", "agent_id", "app_id", "run_id"] as const;
const FILTER_KEYS = new Set([
  "AND",
  "OR",
  "NOT",
  ...ENTITY_KEYS,
  "created_at",
  "updated_at",
  "timestamp",
  "expiration_date",
  "text",
  "categories",
  "metadata",
  "keywords_search",
  "memory_ids",
  "keywords",
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INVALID_KEY =
  "Invalid API key. You can find your API key on https://app.mem0.ai/dashboard/api-keys.";

function defaultExtract(messages: { role: string; content: string }[]): string[] {
  return messages
    .filter((message) => message.role === "user")
    .flatMap((message) => message.content.split(/(?<=[.!?])\s+/))
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 0 && !sentence.endsWith("?"));
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot;
}

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A stand-in for the hosted Mem0 platform on 127.0.0.1, for testing code that uses
 * `MemoryClient` without an account or a network: the v3 add / search / list endpoints and
 * the v1 memory, history, delete and ping endpoints, with the platform's response and error
 * shapes. Inferred adds are applied in the background, like the platform does (`settle()` waits
 * for them); faults (429 with `Retry-After`, 5xx, hangs) can be injected; every request is
 * recorded.
 *
 * ```ts
 * const platform = await FakeMem0Platform.start();
 * const client = new MemoryClient({ apiKey: platform.apiKey, host: platform.host });
 * await client.add("I like tea.", { userId: "alice" }); // { status: "PENDING", event_id }
 * await platform.settle();
 * await client.search("tea", { userId: "alice" }); // finds "I like tea."
 * await platform.close();
 * ```
 */
export class FakeMem0Platform {
  /** Base URL to give `MemoryClient` as `host`, `http://127.0.0.1:<port>`. */
  readonly host: string;
  /** The key the platform accepts. */
  readonly apiKey: string;

  private readonly server: Server;
  private readonly processingDelayMs: number;
  private readonly extract: (messages: { role: string; content: string }[]) => string[];
  private readonly store = new Map<string, FakeMem0Memory>();
  private readonly historyRows: HistoryRow[] = [];
  private readonly events = new Map<string, { status: string; results: Json[] }>();
  private readonly pending = new Set<Promise<void>>();
  private faults: { fault: FakeMem0Fault; remaining: number }[] = [];
  private log: FakeMem0Request[] = [];

  private constructor(server: Server, options: FakeMem0PlatformOptions) {
    this.server = server;
    this.host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.apiKey = options.apiKey ?? "m0-test-key";
    this.processingDelayMs = options.processingDelayMs ?? 0;
    this.extract = options.extract ?? defaultExtract;
    server.on("request", (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res));
  }

  /** Starts a fake platform on a free port of 127.0.0.1. */
  static async start(options: FakeMem0PlatformOptions = {}): Promise<FakeMem0Platform> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return new FakeMem0Platform(server, options);
  }

  /** Every request received, oldest first. */
  get requests(): FakeMem0Request[] {
    return [...this.log];
  }

  /** Every stored memory. */
  get memories(): FakeMem0Memory[] {
    return [...this.store.values()].map((memory) => ({ ...memory }));
  }

  /** Inferred adds accepted and not yet applied. */
  get pendingAdds(): number {
    return this.pending.size;
  }

  /** Waits until every accepted add has been applied. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Makes the next `times` matching requests fail the way `fault` describes. */
  injectFault(fault: FakeMem0Fault, times = 1): void {
    this.faults.push({ fault, remaining: times });
  }

  /** Forgets recorded requests. */
  clearRequests(): void {
    this.log = [];
  }

  /** Stops the server, dropping open connections. */
  async close(): Promise<void> {
    await this.settle();
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.host);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    const request: FakeMem0Request = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
    };
    this.log.push(request);
    try {
      if (req.headers.authorization !== `Token ${this.apiKey}`) {
        throw new HttpError(401, { detail: INVALID_KEY });
      }
      const fault = this.takeFault(request.path);
      if (fault && "hang" in fault) {
        await once(res, "close");
        return;
      }
      if (fault) {
        const seconds = fault.retryAfterSeconds;
        throw new HttpError(
          fault.status,
          fault.status === 429
            ? {
                detail:
                  fault.message ??
                  `Request was throttled. Expected available in ${seconds ?? 1} seconds.`,
              }
            : { error: fault.message ?? "Internal server error. Please try again later." },
          seconds === undefined ? {} : { "Retry-After": String(seconds) },
        );
      }
      if (typeof body === "string") throw new HttpError(400, { error: "Invalid JSON body." });
      send(res, 200, await this.route(request));
    } catch (error) {
      if (error instanceof HttpError) send(res, error.status, error.body, error.headers);
      else send(res, 500, { error: `FakeMem0Platform failed: ${(error as Error).message}` });
    }
  }

  private takeFault(path: string): FakeMem0Fault | undefined {
    const index = this.faults.findIndex(({ fault }) => path.startsWith(fault.path ?? "/"));
    if (index === -1) return undefined;
    const entry = this.faults[index];
    if (--entry.remaining === 0) this.faults.splice(index, 1);
    return entry.fault;
  }

  private async route({ method, path, query, body }: FakeMem0Request): Promise<unknown> {
    const route = `${method} ${path}`;
    if (route === "GET /v1/ping/") {
      return { status: "ok", org_id: "org_fake", project_id: "proj_fake", user_email: null };
    }
    if (route === "POST /v3/memories/add/") return this.add(body);
    if (route === "POST /v3/memories/search/") return this.search(body);
    if (route === "POST /v3/memories/") return this.list(body, query);
    if (route === "DELETE /v1/memories/") return this.deleteAll(query);
    const event = /^\/v1\/event\/([^/]+)\/$/.exec(path);
    if (method === "GET" && event) {
      const found = this.events.get(event[1]);
      if (!found) {
        throw new HttpError(404, {
          error: "Event not found or you don't have permission to access it.",
        });
      }
      return { id: event[1], event_type: "ADD", ...found };
    }
    const match = /^\/v1\/memories\/([^/]+)\/(history\/)?$/.exec(path);
    if (match) {
      const id = decodeURIComponent(match[1]);
      if (!UUID.test(id)) throw new HttpError(400, { error: "memory_id should be a valid UUID" });
      if (match[2] && method === "GET") return this.historyOf(id);
      const memory = this.store.get(id);
      if (!memory) throw new HttpError(404, { error: "Memory not found!" });
      if (method === "GET") return memory;
      if (method === "PUT") return this.update(memory, body);
      if (method === "DELETE") {
        this.store.delete(id);
        this.record(memory, "DELETE", memory.memory, null, []);
        return { message: "Memory deleted successfully!" };
      }
    }
    throw new HttpError(404, { detail: "Not found." });
  }

  private add(body: unknown) {
    if (!isRecord(body) || !Array.isArray(body.messages) || body.messages.length === 0) {
      throw new HttpError(400, {
        error: "400 Bad Request",
        details: { message: "Invalid input data: 'messages' must be a non-empty list." },
      });
    }
    const messages = body.messages as { role: string; content: string }[];
    const owner = {
      user_id: (body.user_id as string | undefined) ?? null,
      agent_id: (body.agent_id as string | undefined) ?? null,
      run_id: (body.run_id as string | undefined) ?? null,
    };
    if (!owner.user_id && !owner.agent_id && !owner.run_id && !body.app_id) {
      throw new HttpError(400, {
        error: "400 Bad Request",
        details: { message: "One of the filters: app_id, user_id, agent_id, run_id is required!" },
      });
    }
    const apply = (texts: string[]) =>
      texts.flatMap((text) => {
        const memory = this.insert(text, owner, body, messages);
        return memory ? [{ id: memory.id, data: { memory: memory.memory }, event: "ADD" }] : [];
      });
    if (body.infer === false) {
      const results = apply(messages.map((message) => message.content));
      return { message: "Memories added successfully", status: "SUCCEEDED", results };
    }
    const eventId = randomUUID();
    this.events.set(eventId, { status: "PENDING", results: [] });
    const work = new Promise<void>((resolve) => setTimeout(resolve, this.processingDelayMs)).then(
      () => {
        this.events.set(eventId, { status: "SUCCEEDED", results: apply(this.extract(messages)) });
      },
    );
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return { event_id: eventId, status: "PENDING" };
  }

  private insert(
    text: string,
    owner: Pick<FakeMem0Memory, "user_id" | "agent_id" | "run_id">,
    body: Json,
    input: HistoryRow["input"],
  ): FakeMem0Memory | undefined {
    const hash = createHash("md5").update(text).digest("hex");
    const duplicate = [...this.store.values()].some(
      (memory) =>
        memory.hash === hash &&
        memory.user_id === owner.user_id &&
        memory.agent_id === owner.agent_id &&
        memory.run_id === owner.run_id,
    );
    if (duplicate) return undefined;
    const now = new Date().toISOString();
    const memory: FakeMem0Memory = {
      id: randomUUID(),
      memory: text,
      hash,
      ...owner,
      metadata: isRecord(body.metadata) ? body.metadata : null,
      categories: [],
      expiration_date: typeof body.expiration_date === "string" ? body.expiration_date : null,
      created_at: now,
      updated_at: now,
    };
    this.store.set(memory.id, memory);
    this.record(memory, "ADD", null, text, input);
    return memory;
  }

  private record(
    memory: FakeMem0Memory,
    event: HistoryRow["event"],
    oldMemory: string | null,
    newMemory: string | null,
    input: HistoryRow["input"],
  ) {
    const now = new Date().toISOString();
    this.historyRows.push({
      id: randomUUID(),
      memory_id: memory.id,
      input,
      old_memory: oldMemory,
      new_memory: newMemory,
      user_id: memory.user_id,
      event,
      created_at: now,
      updated_at: now,
    });
  }

  private historyOf(id: string) {
    return this.historyRows.filter((row) => row.memory_id === id);
  }

  private update(memory: FakeMem0Memory, body: unknown) {
    if (!isRecord(body) || (body.text === undefined && body.metadata === undefined)) {
      if (!isRecord(body) || body.expiration_date === undefined) {
        throw new HttpError(400, { error: "Either text or metadata must be provided." });
      }
    }
    const old = memory.memory;
    if (typeof body.text === "string") {
      memory.memory = body.text;
      memory.hash = createHash("md5").update(body.text).digest("hex");
    }
    if (isRecord(body.metadata)) memory.metadata = { ...memory.metadata, ...body.metadata };
    if (body.expiration_date !== undefined) {
      memory.expiration_date = (body.expiration_date as string | null) ?? null;
    }
    memory.updated_at = new Date().toISOString();
    this.record(memory, "UPDATE", old, memory.memory, []);
    return memory;
  }

  private deleteAll(query: Record<string, string>) {
    const owner = Object.fromEntries(
      ENTITY_KEYS.filter((key) => query[key]).map((k) => [k, query[k]]),
    );
    if (Object.keys(owner).length === 0) {
      throw new HttpError(400, {
        error: "At least one of the filters: agent_id, user_id, app_id, run_id is required!",
      });
    }
    for (const memory of [...this.store.values()]) {
      if (matches(memory, owner)) {
        this.store.delete(memory.id);
        this.record(memory, "DELETE", memory.memory, null, []);
      }
    }
    return { message: "Memories deleted successfully!" };
  }

  /** Visible memories under the platform's filter grammar (entity ids, metadata, AND/OR/NOT). */
  private filtered(body: unknown, what: string): FakeMem0Memory[] {
    const filters = isRecord(body) ? body.filters : undefined;
    if (isRecord(body)) {
      const topLevel = ENTITY_KEYS.filter((key) => body[key] !== undefined);
      if (topLevel.length > 0) {
        throw new HttpError(400, {
          error: `Top-level entity parameters ${JSON.stringify(topLevel)} are not supported in ${what}; use filters.`,
        });
      }
    }
    if (!isRecord(filters) || !hasEntity(filters)) {
      throw new HttpError(400, {
        error: `At least one of the filters: agent_id, user_id, app_id, run_id is required!`,
      });
    }
    const unknown = Object.keys(filters).filter((key) => !FILTER_KEYS.has(key));
    if (unknown.length > 0) {
      throw new HttpError(400, {
        error:
          `Top-level key must be a logical operator or an allowed field: ` +
          `${JSON.stringify([...FILTER_KEYS])}; got ${JSON.stringify(unknown)}`,
      });
    }
    const today = new Date().toISOString().slice(0, 10);
    const showExpired = isRecord(body) && body.show_expired === true;
    return [...this.store.values()].filter(
      (memory) =>
        matches(memory, filters) &&
        (showExpired || !memory.expiration_date || memory.expiration_date >= today),
    );
  }

  private search(body: unknown) {
    if (!isRecord(body) || typeof body.query !== "string" || body.query.trim() === "") {
      throw new HttpError(400, { error: "query is required and must be a non-empty string." });
    }
    const candidates = this.filtered(body, "search");
    const topK = typeof body.top_k === "number" ? body.top_k : 10;
    const threshold = typeof body.threshold === "number" ? body.threshold : 0.1;
    const query = hashEmbedding(body.query, 256);
    const results = candidates
      .map((memory) => ({ memory, score: cosine(query, hashEmbedding(memory.memory, 256)) }))
      .filter(({ score }) => score >= threshold)
      .sort((a, b) => b.score - a.score)
      .slice(0, topK)
      .map(({ memory, score }) => {
        const { hash: _hash, ...rest } = memory;
        return { ...rest, score: Math.max(0, Math.min(1, score)) };
      });
    return { results };
  }

  private list(body: unknown, query: Record<string, string>) {
    const all = this.filtered(body, "get_all").sort((a, b) =>
      a.created_at.localeCompare(b.created_at),
    );
    const page = Number(query.page ?? 1);
    const size = Number(query.page_size ?? 100);
    if (!Number.isInteger(page) || page < 1 || (page - 1) * size > all.length) {
      throw new HttpError(404, { detail: "Invalid page." });
    }
    const link = (to: number) => `${this.host}/v3/memories/?page=${to}&page_size=${size}`;
    return {
      count: all.length,
      next: page * size < all.length ? link(page + 1) : null,
      previous: page > 1 ? link(page - 1) : null,
      results: all
        .slice((page - 1) * size, page * size)
        .map(({ run_id, hash: _hash, ...rest }) => ({
          ...rest,
          session_id: run_id,
        })),
    };
  }
}

function hasEntity(filters: Json): boolean {
  if (ENTITY_KEYS.some((key) => filters[key] !== undefined)) return true;
  const nested = [filters.AND, filters.OR].flat().filter(isRecord);
  return nested.some(hasEntity);
}

/** The platform's filter grammar, as far as the fake needs it. */
function matches(memory: FakeMem0Memory, filters: Json): boolean {
  return Object.entries(filters).every(([key, condition]) => {
    if (key === "AND") return (condition as Json[]).every((part) => matches(memory, part));
    if (key === "OR") return (condition as Json[]).some((part) => matches(memory, part));
    if (key === "NOT") return !matches(memory, condition as Json);
    if (key === "metadata") {
      return Object.entries(condition as Json).every(
        ([field, value]) => memory.metadata?.[field] === value,
      );
    }
    if (key === "memory_ids") return (condition as string[]).includes(memory.id);
    const value = (memory as unknown as Json)[key];
    if (condition === "*") return value !== null && value !== undefined;
    if (isRecord(condition)) {
      if (Array.isArray(condition.in)) return condition.in.includes(value);
      if ("ne" in condition) return value !== condition.ne;
      if ("eq" in condition) return value === condition.eq;
      return true;
    }
    return value === condition;
  });
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

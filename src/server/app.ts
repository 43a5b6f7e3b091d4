import { createHash, timingSafeEqual } from "node:crypto";
import { Hono, type Context } from "hono";
import type {
  GetAllMemoryOptions,
  GetAllResult,
  MemoryBackend,
  MemoryHistoryEntry,
  MemoryItem,
  UpdateMemoryOptions,
} from "../backends/base.js";
import type { GraphMemory } from "../backends/graph.js";
import { Mem0InputError } from "../errors.js";
import type { Mem0 } from "../facade/mem0.js";
import type { ChatCompletionChunk } from "../facade/openai_format.js";
import type { Mem0CompletionParams } from "../facade/params.js";
import { consoleLogger, type Mem0Logger } from "../logger.js";
import { requireScope, scopeFromRecord, type MemoryScope } from "../scope.js";
import type { PendingWrite } from "../stores/base.js";
import { HttpError, toOpenAIError } from "./errors.js";
import { loadInspectorAssets } from "./inspector_assets.js";

/** What the REST routes use beyond `search`: the local `Memory` and `MemoryClient` have it all. */
interface ManagedBackend extends MemoryBackend {
  getAll?(options: GetAllMemoryOptions): Promise<GetAllResult>;
  get?(id: string): Promise<MemoryItem | null>;
  update?(id: string, change: string | UpdateMemoryOptions): Promise<{ message: string }>;
  delete?(id: string): Promise<{ message: string }>;
  deleteAll?(scope: MemoryScope): Promise<{ message: string }>;
  history?(id: string): Promise<MemoryHistoryEntry[]>;
  outbox?(scope?: MemoryScope): Promise<PendingWrite[]>;
  hasGraph?: boolean;
  graph?: GraphMemory;
}

export interface Mem0AppOptions {
  /** The facade that answers chat completions; its memory backs the REST routes. */
  mem0: Mem0;
  /** When set, every `/v1` route needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Model ids listed by `GET /v1/models` (any `initChatModel` string is accepted by chat). */
  models?: string[];
  /** Largest request body in bytes (default 1 MiB); larger ones get a 413. */
  maxBodyBytes?: number;
  /** Where unexpected failures are reported (default `console.warn`); never with user data. */
  logger?: Mem0Logger;
}

const SCOPE_HEADERS = {
  user_id: "x-mem0-user-id",
  agent_id: "x-mem0-agent-id",
  run_id: "x-mem0-run-id",
} as const;

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** The inspector page loads only its own files and talks only to this server. */
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** The scope of a request: `X-Mem0-*-Id` headers over query / body ids over OpenAI's `user`. */
function requestScope(c: Context, body: Record<string, unknown> = {}): MemoryScope {
  const fromHeaders = scopeFromRecord({
    user_id: c.req.header(SCOPE_HEADERS.user_id),
    agent_id: c.req.header(SCOPE_HEADERS.agent_id),
    run_id: c.req.header(SCOPE_HEADERS.run_id),
  });
  const fromQuery = scopeFromRecord({
    user_id: c.req.query("user_id"),
    agent_id: c.req.query("agent_id"),
    run_id: c.req.query("run_id"),
  });
  const fromBody = scopeFromRecord({
    user_id: body.user_id ?? body.user,
    agent_id: body.agent_id,
    run_id: body.run_id,
  });
  return { ...fromBody, ...fromQuery, ...fromHeaders };
}

const SCOPE_HINT =
  "This route needs a memory scope: a user_id, agent_id or run_id query parameter, or the " +
  "X-Mem0-User-Id / X-Mem0-Agent-Id / X-Mem0-Run-Id header.";

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new Mem0InputError(
      `${name} must be a positive whole number, got ${JSON.stringify(value)}.`,
    );
  }
  return number;
}

/**
 * The request's JSON object, read with a size cap: a declared length over it is refused
 * before reading, a chunked body as soon as it passes it.
 */
async function jsonBody(c: Context, maxBytes: number): Promise<Record<string, unknown>> {
  const tooLarge = () =>
    new HttpError(413, `The request body is larger than ${maxBytes} bytes.`, "request_too_large");
  if (Number(c.req.header("content-length") ?? 0) > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = c.req.raw.body?.getReader();
  for (;;) {
    const { done, value } = reader ? await reader.read() : { done: true, value: undefined };
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader?.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "The request body must be JSON.", "invalid_json");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "The request body must be a JSON object.", "invalid_json");
  }
  return body as Record<string, unknown>;
}

function sseStream(chunks: AsyncIterable<ChatCompletionChunk>, onError: (e: unknown) => void) {
  const encoder = new TextEncoder();
  const iterator = chunks[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await iterator.next();
        if (done) {
          controller.enqueue(encoder.encode("data: [DONE]\n\n"));
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(value)}\n\n`));
      } catch (error) {
        onError(error);
        // Headers are gone: the error travels in the stream, as OpenAI sends it.
        const { body } = toOpenAIError(error);
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(body)}\n\n`));
        controller.close();
      }
    },
    async cancel() {
      // The client went away: the partial answer is not stored.
      await iterator.return?.(undefined);
    },
  });
}

/**
 * The OpenAI-compatible memory server as a Hono app: `POST /v1/chat/completions` (JSON and
 * SSE) through the facade, `GET /v1/models`, `GET /healthz`, REST routes over a scope's
 * memories, history, relations and outbox, and the inspector page at `/`.
 */
export function createMem0App(options: Mem0AppOptions): Hono {
  const { mem0 } = options;
  const logger = options.logger ?? consoleLogger;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const expectedKey = options.apiKey ? digest(options.apiKey) : undefined;
  const assets = loadInspectorAssets();
  const backend = () => mem0.memory as Promise<ManagedBackend>;
  const app = new Hono();

  const reportUnexpected = (error: unknown) => {
    const { status } = toOpenAIError(error);
    if (status >= 500) {
      logger.warn(
        `request failed: ${error instanceof Error ? error.name : "error"}: ${(error as Error)?.message ?? error}`,
      );
    }
  };

  app.onError((error, c) => {
    reportUnexpected(error);
    const { status, body } = toOpenAIError(error);
    return c.json(body, status);
  });
  app.notFound(() => {
    throw new HttpError(404, "No such route; see GET /v1/models, POST /v1/chat/completions.");
  });

  app.use("*", async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  for (const [path, asset] of Object.entries(assets)) {
    app.get(path, (c) => {
      c.header("content-type", asset.type);
      c.header("content-security-policy", PAGE_CSP);
      c.header("cache-control", "no-cache");
      return c.body(asset.body);
    });
  }

  app.use("/v1/*", async (c, next) => {
    if (expectedKey) {
      const header = c.req.header("authorization") ?? "";
      const given = header.startsWith("Bearer ") ? header.slice(7) : "";
      if (!timingSafeEqual(digest(given), expectedKey)) {
        throw new HttpError(
          401,
          "Missing or wrong API key: send Authorization: Bearer <key> (the key the server was started with).",
          "invalid_api_key",
        );
      }
    }
    await next();
  });
  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      data: (options.models ?? []).map((id) => ({
        id,
        object: "model",
        created: 0,
        owned_by: "langchain-mem0",
      })),
    }),
  );

  app.post("/v1/chat/completions", async (c) => {
    const body = await jsonBody(c, maxBodyBytes);
    const scope = requestScope(c, body);
    const { user_id: _u, agent_id: _a, run_id: _r, ...rest } = body;
    const params = {
      ...rest,
      user_id: scope.userId,
      agent_id: scope.agentId,
      run_id: scope.runId,
    } as Mem0CompletionParams;
    const signal = c.req.raw.signal;
    if (params.stream) {
      const chunks = await mem0.chat.completions.create({ ...params, stream: true }, { signal });
      return new Response(sseStream(chunks, reportUnexpected), {
        headers: {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache",
          connection: "keep-alive",
          ...SECURITY_HEADERS,
        },
      });
    }
    return c.json(await mem0.chat.completions.create({ ...params, stream: false }, { signal }));
  });

  // ---------------------------------------------------------------- memory REST routes

  const need = <K extends keyof ManagedBackend>(memory: ManagedBackend, method: K) => {
    if (typeof memory[method] !== "function") {
      throw new HttpError(501, `This memory backend has no ${String(method)}.`, "not_supported");
    }
    return (memory[method] as (...args: never[]) => unknown).bind(memory) as NonNullable<
      ManagedBackend[K]
    >;
  };
  const scopeOf = (c: Context, body?: Record<string, unknown>) =>
    requireScope(requestScope(c, body), SCOPE_HINT);

  app.get("/v1/info", async (c) => {
    const memory = await backend();
    return c.json({
      backend: memory.constructor?.name ?? "MemoryBackend",
      graph: memory.hasGraph === true,
      outbox: typeof memory.outbox === "function",
      models: options.models ?? [],
    });
  });

  app.get("/v1/memories", async (c) => {
    const memory = await backend();
    const page = await need(
      memory,
      "getAll",
    )({
      ...scopeOf(c),
      topK: positiveInt(c.req.query("limit"), "limit") ?? 50,
      cursor: c.req.query("cursor") || undefined,
    });
    return c.json(page);
  });

  app.delete("/v1/memories", async (c) => {
    const memory = await backend();
    return c.json(await need(memory, "deleteAll")(scopeOf(c)));
  });

  app.post("/v1/memories/search", async (c) => {
    const body = await jsonBody(c, maxBodyBytes);
    if (typeof body.query !== "string" || body.query.trim() === "") {
      throw new Mem0InputError('search needs a non-empty "query" string.');
    }
    const memory = await backend();
    const limit = body.limit ?? body.top_k;
    if (limit !== undefined && typeof limit !== "number")
      throw new Mem0InputError("limit must be a number.");
    return c.json(
      await memory.search(body.query, {
        ...scopeOf(c, body),
        topK: limit as number | undefined,
        threshold: body.threshold as number | undefined,
        filters: body.filters as Record<string, never> | undefined,
      }),
    );
  });

  app.get("/v1/memories/export", async (c) => {
    const memory = await backend();
    const scope = scopeOf(c);
    const getAll = need(memory, "getAll");
    const encoder = new TextEncoder();
    let cursor: string | undefined;
    let done = false;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (done) return controller.close();
        const page = await getAll({ ...scope, topK: 500, cursor, showExpired: true });
        for (const item of page.results)
          controller.enqueue(encoder.encode(`${JSON.stringify(item)}\n`));
        cursor = page.nextCursor;
        done = cursor === undefined;
      },
    });
    return new Response(stream, {
      headers: {
        "content-type": "application/x-ndjson; charset=utf-8",
        "content-disposition": 'attachment; filename="memories.jsonl"',
        ...SECURITY_HEADERS,
      },
    });
  });

  app.get("/v1/memories/:id", async (c) => {
    const memory = await backend();
    const item = await need(memory, "get")(c.req.param("id"));
    if (!item) throw new HttpError(404, `No memory with id "${c.req.param("id")}".`, "not_found");
    return c.json(item);
  });

  app.put("/v1/memories/:id", async (c) => {
    const body = await jsonBody(c, maxBodyBytes);
    const change: UpdateMemoryOptions = {};
    if (body.text !== undefined) change.text = body.text as string;
    if (body.metadata !== undefined) change.metadata = body.metadata as Record<string, unknown>;
    const expiry = body.expiration_date ?? body.expirationDate;
    if (expiry !== undefined) change.expirationDate = expiry as string | null;
    const memory = await backend();
    return c.json(await need(memory, "update")(c.req.param("id"), change));
  });

  app.delete("/v1/memories/:id", async (c) => {
    const memory = await backend();
    return c.json(await need(memory, "delete")(c.req.param("id")));
  });

  app.get("/v1/memories/:id/history", async (c) => {
    const memory = await backend();
    return c.json({ results: await need(memory, "history")(c.req.param("id")) });
  });

  app.get("/v1/relations", async (c) => {
    const memory = await backend();
    if (!memory.hasGraph || !memory.graph) {
      throw new HttpError(
        501,
        "Graph memory is off for this backend (local Memory with graph: true has it).",
        "not_supported",
      );
    }
    const includeInvalid = ["1", "true"].includes(c.req.query("include_invalid") ?? "");
    return c.json({ results: await memory.graph.getAll({ ...scopeOf(c), includeInvalid }) });
  });

  app.get("/v1/outbox", async (c) => {
    const memory = await backend();
    const scope = requestScope(c);
    const hasScope = Object.keys(scope).length > 0;
    return c.json({ results: await need(memory, "outbox")(hasScope ? scope : undefined) });
  });

  return app;
}

import { randomUUID, timingSafeEqual } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { MemoryBackend, MemoryItem, MemoryMetadata } from "../backends/base.js";
import { parseOptions } from "../backends/options.js";
import { storageHandler, type Mem0MemoryCallbackHandler } from "../callbacks.js";
import { Mem0ConfigError } from "../errors.js";
import { requireScope, scopeFromRecord, type MemoryScope } from "../scope.js";
import { ScopedMemory } from "../scoped_memory.js";

/** Package version reported to MCP clients. */
const SERVER_VERSION = "0.1.0";

/** Headers in which an HTTP client declares whose memories its session uses. */
export const MCP_SCOPE_HEADERS = {
  userId: "x-mem0-user-id",
  agentId: "x-mem0-agent-id",
  runId: "x-mem0-run-id",
} as const;

/** Largest JSON-RPC body accepted over HTTP. */
const MAX_BODY_BYTES = 1_000_000;

/** Options of {@link createMcpServer}: what the tools do, for one fixed scope. */
export interface MemoryMcpOptions {
  /** The memory the tools work on (`get`/`getAll`/`update`/`delete`/`history` needed). */
  memory: MemoryBackend;
  /**
   * `true` (default): `add_memory` lets the engine extract facts and reconcile them with what
   * it knows; `false`: stores the text as is.
   */
  infer?: boolean;
  /** Most memories `search_memories` returns (default 10). */
  topK?: number;
  /** Metadata stored with every memory `add_memory` creates. */
  memoryMetadata?: MemoryMetadata;
  /** The write path to share; built when absent. */
  handler?: Mem0MemoryCallbackHandler;
  /** Server name reported to clients (default `"langchain-mem0"`). */
  name?: string;
}

/** Options of {@link startMcpServer}. */
export interface StartMcpServerOptions extends MemoryMcpOptions {
  /** Fixed user id: every session uses this user's memories. */
  userId?: string;
  /** Fixed agent id. */
  agentId?: string;
  /** Fixed run id. */
  runId?: string;
  /** `"stdio"` (default) or `"http"` (streamable HTTP). */
  transport?: "stdio" | "http";
  /** HTTP: address to bind (default `127.0.0.1`); others need `apiKey`. */
  host?: string;
  /** HTTP: port (default 8765; 0 picks a free one). */
  port?: number;
  /** HTTP: URL path of the endpoint (default `/mcp`). */
  path?: string;
  /** HTTP: bearer token every request must carry (`Authorization: Bearer <apiKey>`). */
  apiKey?: string;
}

/** A running MCP server. */
export interface RunningMcpServer {
  /** HTTP: the endpoint URL, e.g. `http://127.0.0.1:8765/mcp`. */
  url?: string;
  /** Stops serving and flushes pending writes. */
  close(): Promise<void>;
}

const toolOptionsSchema = z.object({
  infer: z.boolean().optional(),
  topK: z.number().int().min(1).max(1000).optional(),
  memoryMetadata: z.record(z.string(), z.unknown()).optional(),
  name: z.string().min(1).optional(),
});

const startOptionsSchema = toolOptionsSchema.extend({
  userId: z.string().trim().min(1).optional(),
  agentId: z.string().trim().min(1).optional(),
  runId: z.string().trim().min(1).optional(),
  transport: z.enum(["stdio", "http"]).optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65535).optional(),
  path: z.string().startsWith("/").optional(),
  apiKey: z.string().min(8).optional(),
});

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

function json(value: unknown): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(value) }] };
}

function brief(item: MemoryItem) {
  return {
    id: item.id,
    memory: item.memory,
    ...(item.score === undefined ? {} : { score: item.score }),
    metadata: item.metadata,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
}

const memoryId = z.string().min(1).describe("Id of the memory, as returned by search or list.");

/**
 * An MCP server whose tools (`search_memories`, `add_memory`, `update_memory`,
 * `delete_memory`, `list_memories`, `memory_history`) work on one scope's memories. The
 * scope is fixed here, by whoever starts the server: no tool takes an owner, and ids of other
 * scopes are answered like unknown ids.
 */
export function createMcpServer(scope: MemoryScope, options: MemoryMcpOptions): McpServer {
  parseOptions(toolOptionsSchema, options, "MCP server options", Mem0ConfigError);
  const memory = new ScopedMemory(options.memory, scope, {
    handler:
      options.handler ??
      (storageHandler(options.memory, { store: "await" }) as Mem0MemoryCallbackHandler),
  });
  const topK = options.topK ?? 10;
  const server = new McpServer({ name: options.name ?? "langchain-mem0", version: SERVER_VERSION });

  server.registerTool(
    "search_memories",
    {
      description:
        "Search the long-term memories of the current user for facts relevant to a query, " +
        "best match first.",
      inputSchema: {
        query: z.string().min(1).describe("What to look for, in natural language."),
        limit: z.number().int().min(1).max(1000).optional().describe("Most results."),
      },
      annotations: { readOnlyHint: true },
    },
    async ({ query, limit }, extra) => {
      const result = await memory.search(query, {
        topK: Math.min(limit ?? topK, topK),
        signal: extra.signal,
      });
      return json({ results: result.results.map(brief), relations: result.relations ?? [] });
    },
  );
  server.registerTool(
    "add_memory",
    {
      description:
        "Remember something about the current user: a fact, preference or plan, or a piece " +
        "of conversation to learn facts from.",
      inputSchema: {
        text: z.string().min(1).describe("What to remember."),
        metadata: z
          .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
          .optional()
          .describe("Optional labels stored with the memory."),
      },
    },
    async ({ text, metadata }, extra) => {
      const result = await memory.add(text, {
        infer: options.infer,
        metadata: { ...options.memoryMetadata, ...metadata },
        signal: extra.signal,
      });
      return json(result);
    },
  );
  server.registerTool(
    "update_memory",
    {
      description: "Replace the text of one memory of the current user.",
      inputSchema: {
        memory_id: memoryId,
        text: z.string().min(1).describe("The new text."),
      },
    },
    async ({ memory_id, text }) => json(brief(await memory.update(memory_id, { text }))),
  );
  server.registerTool(
    "delete_memory",
    {
      description: "Forget one memory of the current user.",
      inputSchema: { memory_id: memoryId },
      annotations: { destructiveHint: true },
    },
    async ({ memory_id }) => json({ deleted: brief(await memory.delete(memory_id)) }),
  );
  server.registerTool(
    "list_memories",
    {
      description: "List the memories of the current user, oldest first, a page at a time.",
      inputSchema: {
        limit: z.number().int().min(1).max(1000).optional().describe("Page size (default 20)."),
        cursor: z.string().optional().describe("nextCursor of the previous page."),
      },
      annotations: { readOnlyHint: true },
    },
    async ({ limit, cursor }) => {
      const page = await memory.list({ topK: limit, cursor });
      return json({ results: page.results.map(brief), nextCursor: page.nextCursor });
    },
  );
  server.registerTool(
    "memory_history",
    {
      description: "The change log of one memory of the current user, newest first.",
      inputSchema: { memory_id: memoryId },
      annotations: { readOnlyHint: true },
    },
    async ({ memory_id }) => json({ history: await memory.history(memory_id) }),
  );
  return server;
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The scope an HTTP request declares in its `X-Mem0-*-Id` headers. */
function declaredScope(request: IncomingMessage): MemoryScope {
  return scopeFromRecord({
    userId: headerValue(request, MCP_SCOPE_HEADERS.userId),
    agentId: headerValue(request, MCP_SCOPE_HEADERS.agentId),
    runId: headerValue(request, MCP_SCOPE_HEADERS.runId),
  });
}

/** True when every id the request declares equals the scope's. */
function agrees(declared: MemoryScope, scope: MemoryScope): boolean {
  return (Object.keys(declared) as (keyof MemoryScope)[]).every(
    (key) => declared[key] === scope[key],
  );
}

function sendError(response: ServerResponse, status: number, message: string) {
  response
    .writeHead(status, { "content-type": "application/json" })
    .end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw Object.assign(new Error("body too large"), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw Object.assign(new Error("the body is not JSON"), { status: 400 });
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Serves the memory tools over MCP: on stdio (the default; for desktop apps and coding
 * assistants that launch the server) with the configured scope, or over streamable HTTP,
 * where each session uses the configured scope or, when none is configured, the one the
 * client declares with `X-Mem0-User-Id` (and `-Agent-Id`, `-Run-Id`) when it opens the
 * session. A session's scope never changes, and no tool argument can change it.
 *
 * The CLI runs it as `langchain-mem0 mcp`; `langchain-mem0-mcp` is the standalone bin.
 */
export async function startMcpServer(options: StartMcpServerOptions): Promise<RunningMcpServer> {
  if (typeof options?.memory?.search !== "function") {
    throw new Mem0ConfigError(
      "startMcpServer needs `memory`: e.g. new Memory({ llm, embeddings }).",
    );
  }
  parseOptions(startOptionsSchema, options, "MCP server options", Mem0ConfigError);
  const fixed = scopeFromRecord(options);
  // One write path for every session: writes of a scope stay in order across sessions.
  const handler =
    options.handler ??
    (storageHandler(options.memory, { store: "await" }) as Mem0MemoryCallbackHandler);
  const toolOptions = { ...options, handler };

  if ((options.transport ?? "stdio") === "stdio") {
    const scope = requireScope(
      fixed,
      "The stdio MCP server serves one scope, set when it starts: give userId (CLI: " +
        "--user alice), agentId or runId.",
    );
    const server = createMcpServer(scope, toolOptions);
    await server.connect(new StdioServerTransport());
    return {
      close: async () => {
        await server.close();
        await handler.queue.flush();
      },
    };
  }

  const host = options.host ?? "127.0.0.1";
  if (!LOOPBACK.has(host) && !options.apiKey) {
    throw new Mem0ConfigError(
      `Refusing to serve memories on ${host} without an apiKey: anyone who can reach it ` +
        "could read them. Give apiKey (CLI: --api-key), or bind 127.0.0.1.",
    );
  }
  const path = options.path ?? "/mcp";
  const sessions = new Map<
    string,
    { transport: StreamableHTTPServerTransport; server: McpServer; scope: MemoryScope }
  >();

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== path)
      return sendError(response, 404, `Not found; the MCP endpoint is ${path}.`);
    if (options.apiKey) {
      const auth = headerValue(request, "authorization") ?? "";
      const token = auth.startsWith("Bearer ") ? auth.slice(7) : "";
      if (!sameSecret(token, options.apiKey)) {
        return sendError(response, 401, "Missing or wrong bearer token.");
      }
    }
    let declared: MemoryScope;
    try {
      declared = declaredScope(request);
    } catch (error) {
      return sendError(response, 400, (error as Error).message);
    }
    const body = request.method === "POST" ? await readJson(request) : undefined;
    const sessionId = headerValue(request, "mcp-session-id");
    if (sessionId) {
      const session = sessions.get(sessionId);
      if (!session) return sendError(response, 404, "Unknown or closed MCP session.");
      if (!agrees(declared, session.scope)) {
        return sendError(response, 403, "This session's memory scope cannot be changed.");
      }
      return session.transport.handleRequest(request, response, body);
    }
    if (request.method !== "POST" || !isInitializeRequest(body)) {
      return sendError(response, 400, "Start a session with an initialize request first.");
    }
    if (Object.keys(fixed).length > 0 && !agrees(declared, fixed)) {
      return sendError(
        response,
        403,
        "This server serves a fixed memory scope; another was declared.",
      );
    }
    let scope: MemoryScope;
    try {
      scope = requireScope(
        Object.keys(fixed).length > 0 ? fixed : declared,
        `Declare whose memories this session uses with the ${MCP_SCOPE_HEADERS.userId} header ` +
          "(or -agent-id / -run-id), or start the server with a fixed userId.",
      );
    } catch (error) {
      return sendError(response, 400, (error as Error).message);
    }
    const server = createMcpServer(scope, toolOptions);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // A page in a browser must not reach a server on this machine by rebinding its name.
      enableDnsRebindingProtection: LOOPBACK.has(host),
      allowedHosts: [...LOOPBACK].map(
        (name) => `${name.includes(":") ? `[${name}]` : name}:${port}`,
      ),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, scope });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(request, response, body);
  };

  let port = 0;
  const http = createServer((request, response) => {
    handle(request, response).catch((error: { status?: number; message?: string }) => {
      if (error.status === 413) {
        // The rest of the body is not read: the connection cannot carry another request.
        response.setHeader("connection", "close");
        response.once("finish", () => request.destroy());
      }
      if (!response.headersSent) sendError(response, error.status ?? 500, error.message ?? "error");
      else response.end();
    });
  });
  http.listen(options.port ?? 8765, host);
  await once(http, "listening");
  port = (http.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}${path}`,
    close: async () => {
      await Promise.all([...sessions.values()].map(({ server }) => server.close()));
      sessions.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await handler.queue.flush();
    },
  };
}

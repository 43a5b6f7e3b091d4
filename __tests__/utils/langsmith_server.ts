import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

/** A run as the server stores it: the create merged with its updates. */
export interface RecordedRun {
  id: string;
  name?: string;
  run_type?: string;
  trace_id?: string;
  parent_run_id?: string;
  dotted_order?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  extra?: { metadata?: Record<string, unknown>; [key: string]: unknown };
  error?: string;
  tags?: string[];
  end_time?: unknown;
  [key: string]: unknown;
}

/** Fields the client sends as separate multipart parts (`post.<id>.<field>`). */
const RUN_PART_FIELDS = new Set(["inputs", "outputs", "events", "extra", "error", "serialized"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "gzip" ? gunzipSync(body) : body;
}

/**
 * A LangSmith-compatible ingestion endpoint on 127.0.0.1 that records the runs the real
 * `langsmith` client posts, through every route it uses: `POST /runs`, `PATCH /runs/:id`,
 * `POST /runs/batch` and `POST /runs/multipart`. `GET /info` answers like a server without
 * compression, so the client sends plain multipart batches.
 */
export class FakeLangSmithServer {
  /** Runs by id, each the merge of its create and updates. */
  readonly runs = new Map<string, RecordedRun>();
  /** `METHOD /path` of every request, in arrival order. */
  readonly requests: string[] = [];
  readonly url: string;

  private constructor(private readonly server: Server) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(): Promise<FakeLangSmithServer> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const instance = new FakeLangSmithServer(server);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      instance.handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ detail: String(error) }));
      });
    });
    return instance;
  }

  /** Runs in the order they were first received. */
  get runList(): RecordedRun[] {
    return [...this.runs.values()];
  }

  reset(): void {
    this.runs.clear();
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }

  private record(operation: Record<string, unknown>) {
    const id = operation.id;
    if (typeof id !== "string") throw new Error("run operation without an id");
    this.runs.set(id, { ...this.runs.get(id), ...operation, id });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    this.requests.push(`${req.method} ${path}`);
    const body = await readBody(req);
    const json = () => JSON.parse(body.toString("utf8")) as Record<string, unknown>;
    if (req.method === "GET" && path === "/info") {
      return this.reply(res, 200, {
        version: "0.10.0",
        batch_ingest_config: { use_multipart_endpoint: true },
        instance_flags: {},
      });
    }
    if (req.method === "POST" && path === "/runs") {
      this.record(json());
    } else if (req.method === "PATCH" && path.startsWith("/runs/")) {
      this.record({ ...json(), id: path.slice("/runs/".length) });
    } else if (req.method === "POST" && path === "/runs/batch") {
      const batch = json();
      for (const key of ["post", "patch"]) {
        for (const operation of (batch[key] as unknown[] | undefined) ?? []) {
          if (isRecord(operation)) this.record(operation);
        }
      }
    } else if (req.method === "POST" && path === "/runs/multipart") {
      await this.recordMultipart(body, String(req.headers["content-type"]));
    } else {
      return this.reply(res, 404, { detail: `${req.method} ${path} is not served here` });
    }
    this.reply(res, 202, {});
  }

  /** Parts are `post.<id>` / `patch.<id>` (the run) and `<op>.<id>.<field>` (big fields). */
  private async recordMultipart(body: Buffer, contentType: string) {
    const form = await new Response(body, { headers: { "content-type": contentType } }).formData();
    const operations = new Map<string, Record<string, unknown>>();
    for (const [name, value] of form.entries()) {
      const [method, id, field, ...rest] = name.split(".");
      if ((method !== "post" && method !== "patch") || !id || rest.length > 0) continue;
      if (field !== undefined && !RUN_PART_FIELDS.has(field)) continue;
      const text = typeof value === "string" ? value : await value.text();
      const key = `${method}.${id}`;
      const operation = operations.get(key) ?? { id };
      if (field === undefined) Object.assign(operation, JSON.parse(text));
      else operation[field] = JSON.parse(text);
      operations.set(key, operation);
    }
    // Creates before updates, as the server applies them.
    const ordered = [...operations.entries()].sort(([a], [b]) =>
      a.startsWith("post.") === b.startsWith("post.") ? 0 : a.startsWith("post.") ? -1 : 1,
    );
    for (const [, operation] of ordered) this.record(operation);
  }

  private reply(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  }
}

/** Token counts as LangSmith shows them. */
export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

const NO_TOKENS: TokenCounts = { input_tokens: 0, output_tokens: 0, total_tokens: 0 };

function counts(input: unknown, output: unknown, total: unknown): TokenCounts {
  const i = Number(input ?? 0);
  const o = Number(output ?? 0);
  return { input_tokens: i, output_tokens: o, total_tokens: Number(total ?? i + o) };
}

/** Usage in an llm run's outputs: the generations' messages, else `llm_output`'s token usage. */
function usageInOutputs(outputs: Record<string, unknown> | undefined): TokenCounts | undefined {
  const generations = (outputs?.generations as unknown[][] | undefined)?.flat() ?? [];
  const fromMessages = generations
    .map((generation) => {
      const message = (generation as { message?: { kwargs?: Record<string, unknown> } }).message;
      return message?.kwargs?.usage_metadata as Record<string, unknown> | undefined;
    })
    .filter(isRecord);
  if (fromMessages.length > 0) {
    return fromMessages
      .map((usage) => counts(usage.input_tokens, usage.output_tokens, usage.total_tokens))
      .reduce(addTokens);
  }
  // JS runs carry `llmOutput`, Python runs `llm_output`.
  const llmOutput = (outputs?.llmOutput ?? outputs?.llm_output) as
    Record<string, unknown> | undefined;
  const tokenUsage = (llmOutput?.tokenUsage ?? llmOutput?.token_usage) as
    Record<string, unknown> | undefined;
  if (!tokenUsage) return undefined;
  return counts(
    tokenUsage.promptTokens ?? tokenUsage.prompt_tokens,
    tokenUsage.completionTokens ?? tokenUsage.completion_tokens,
    tokenUsage.totalTokens ?? tokenUsage.total_tokens,
  );
}

export function addTokens(a: TokenCounts, b: TokenCounts): TokenCounts {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  };
}

/**
 * The usage a run reports for itself: `extra.metadata.usage_metadata` (where LangChain's
 * tracer and the LangSmith SDK put it, on any run type), else, for an `llm` run, the token
 * usage in its outputs.
 */
export function ownUsage(run: RecordedRun): TokenCounts | undefined {
  const usage = run.extra?.metadata?.usage_metadata;
  if (isRecord(usage)) return counts(usage.input_tokens, usage.output_tokens, usage.total_tokens);
  return run.run_type === "llm" ? usageInOutputs(run.outputs) : undefined;
}

/**
 * Token total of a trace as LangSmith rolls it up: the sum of the usage every run in the
 * trace reports for itself. A parent that repeats its child's usage is counted twice.
 */
export function traceUsage(runs: RecordedRun[], traceId: string): TokenCounts {
  return runs
    .filter((run) => run.trace_id === traceId)
    .map((run) => ownUsage(run) ?? NO_TOKENS)
    .reduce(addTokens, NO_TOKENS);
}

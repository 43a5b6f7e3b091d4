/**
 * Section 6: what the agent integrations add. A `createAgent` turn (model → tool → model)
 * around a zero-latency model, bare, with `mem0Middleware` (retrieval before both model calls,
 * with and without storing the turn) and with `Mem0ChatModel` as the agent's model; then the
 * latency of one memory tool call through the MCP server, over streamable HTTP (in process)
 * and over stdio (the bin as a child process).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BaseMessage } from "@langchain/core/messages";
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { ChatResult } from "@langchain/core/outputs";
import { tool } from "@langchain/core/tools";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createAgent } from "langchain";
import { z } from "zod";
import { Memory } from "../src/backends/memory.js";
import { Mem0ChatModel } from "../src/chat_models.js";
import { HashEmbeddings } from "../src/embeddings/hash.js";
import { mem0Middleware } from "../src/integrations/middleware.js";
import { startMcpServer } from "../src/integrations/mcp.js";
import { memoryTexts, queryText } from "./corpus.js";
import type { BenchContext, SectionResult } from "./report.js";
import { markdownTable, ms, pct, summarize, type Summary } from "./stats.js";
import { loadTexts, oursSystem } from "./systems.js";

const DIMENSIONS = 384;
const USER = "bench-agent";
const WARMUP = 10;
const REPO_ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** A zero-latency tool-calling model: calls `lookup` on a user turn, answers after a tool. */
class ToolLoopModel extends BaseChatModel {
  _llmType() {
    return "bench-tool-loop";
  }

  override bindTools(): this {
    return this;
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    const last = messages.at(-1);
    const message =
      last?.type === "human"
        ? new AIMessage({
            content: "",
            tool_calls: [{ id: `call-${messages.length}`, name: "lookup", args: { q: "x" } }],
          })
        : new AIMessage("Here is a short answer from the model.");
    return { generations: [{ message, text: message.text }] };
  }
}

const lookup = tool(async () => "42", {
  name: "lookup",
  description: "Looks something up",
  schema: z.object({ q: z.string() }),
});

async function timeTurns(
  agent: { invoke: (input: never, config?: never) => Promise<unknown> },
  turns: number,
  after?: () => Promise<unknown>,
): Promise<Summary> {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + turns; i++) {
    const input = { messages: [new HumanMessage(queryText(i))] };
    const start = performance.now();
    const config = { context: { userId: USER }, configurable: { user_id: USER } };
    await agent.invoke(input as never, config as never);
    if (i >= WARMUP) times.push(performance.now() - start);
    await after?.();
  }
  return summarize(times);
}

async function timeToolCalls(client: Client, calls: number): Promise<Summary> {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + calls; i++) {
    const start = performance.now();
    await client.callTool({ name: "search_memories", arguments: { query: queryText(i) } });
    if (i >= WARMUP) times.push(performance.now() - start);
  }
  return summarize(times);
}

export async function agentsOverhead(context: BenchContext): Promise<SectionResult> {
  const memories = context.full ? 10_000 : 1_000;
  const turns = context.full ? 300 : 100;
  const file = path.join(context.tmpDir, "agents.db");
  const embeddings = new HashEmbeddings({ dimensions: DIMENSIONS });
  const memory = new Memory({ embeddings, path: file });
  await loadTexts(oursSystem("ours", memory), USER, memories, memoryTexts);

  const bare = createAgent({ model: new ToolLoopModel({}), tools: [lookup] });
  const off = mem0Middleware({ memory, store: "off" });
  const stored = mem0Middleware({ memory, infer: false });
  const wrapper = new Mem0ChatModel({ model: new ToolLoopModel({}), memory, store: "off" });
  const agents = {
    bare: await timeTurns(bare, turns),
    middlewareNoStore: await timeTurns(
      createAgent({ model: new ToolLoopModel({}), tools: [lookup], middleware: [off] }),
      turns,
    ),
    middlewareStored: await timeTurns(
      createAgent({ model: new ToolLoopModel({}), tools: [lookup], middleware: [stored] }),
      turns,
      // Writes are applied between turns, outside the timing: the turn pays the outbox commit.
      () => stored.flush(),
    ),
    wrapperNoStore: await timeTurns(createAgent({ model: wrapper, tools: [lookup] }), turns),
  };

  // MCP: one search per call, over HTTP in this process and over stdio from a child process.
  const calls = context.full ? 500 : 200;
  const http = await startMcpServer({ memory, transport: "http", port: 0, userId: USER });
  const httpClient = new Client({ name: "bench", version: "1" });
  await httpClient.connect(new StreamableHTTPClientTransport(new URL(http.url!)));
  const mcpHttp = await timeToolCalls(httpClient, calls);
  await httpClient.close();
  await http.close();
  await memory.close();

  const config = path.join(context.tmpDir, "mcp-config.json");
  writeFileSync(
    config,
    JSON.stringify({
      llm: { provider: "openai", config: { api_key: "unused", base_url: "http://127.0.0.1:9" } },
      embedder: { provider: "hash", config: { embedding_dims: DIMENSIONS } },
      vector_store: { provider: "sqlite", config: { path: file } },
    }),
  );
  const { NODE_OPTIONS: _unused, ...env } = process.env as Record<string, string>;
  const stdioClient = new Client({ name: "bench", version: "1" });
  const startup = performance.now();
  await stdioClient.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        path.join(REPO_ROOT, "src/bin/mcp.ts"),
        "--config",
        config,
        "--user",
        USER,
      ],
      cwd: REPO_ROOT,
      env: { ...env, MEM0_TELEMETRY: "false" },
    }),
  );
  const stdioStartupMs = performance.now() - startup;
  const mcpStdio = await timeToolCalls(stdioClient, calls);
  await stdioClient.close();

  const added = (figures: Summary) =>
    `${ms(figures.p50 - agents.bare.p50)} / ${ms(figures.p95 - agents.bare.p95)}`;
  return {
    title: `6. Agent integrations (createAgent turn of 2 model calls and 1 tool, user with ${memories / 1000}k memories; MCP tool calls)`,
    parameters: {
      memories,
      turns,
      mcpCalls: calls,
      warmup: WARMUP,
      embedder: `HashEmbeddings ${DIMENSIONS}-d, in process`,
      model: "zero-latency tool-calling model (tool call, then answer)",
      mcpStdio: "bin run from the sources with tsx (child process), search_memories",
    },
    figures: { agents, mcpHttp, mcpStdio, stdioStartupMs },
    markdown: [
      markdownTable(
        ["agent turn", "p50 / p95 / p99 ms", "added p50 / p95 ms"],
        [
          ["bare createAgent", pct(agents.bare), "–"],
          [
            "+ mem0Middleware, store off (2 retrievals)",
            pct(agents.middlewareNoStore),
            added(agents.middlewareNoStore),
          ],
          [
            "+ mem0Middleware, turn stored (outbox commit)",
            pct(agents.middlewareStored),
            added(agents.middlewareStored),
          ],
          [
            "Mem0ChatModel as the model, store off (1 retrieval)",
            pct(agents.wrapperNoStore),
            added(agents.wrapperNoStore),
          ],
        ],
      ),
      "",
      markdownTable(
        ["MCP search_memories call", "p50 / p95 / p99 ms"],
        [
          ["streamable HTTP, in process", pct(mcpHttp)],
          ["stdio, child process", pct(mcpStdio)],
        ],
      ),
    ].join("\n"),
    notes: [
      "The middleware retrieves before every model call of a user turn (so the model still " +
        "sees the memories after tool calls); Mem0ChatModel retrieves on the user turn only.",
      `The stdio server took ${ms(stdioStartupMs)} ms to start (tsx compiling the sources; the built bin starts faster).`,
    ],
  };
}

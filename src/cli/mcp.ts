import type { Command } from "commander";
import { Mem0ConfigError } from "../errors.js";
import {
  configuredChatModel,
  defaultModel,
  openMemory,
  parsePort,
  scopeOf,
  type GlobalOptions,
  type ScopeOptions,
} from "./context.js";
import { addScopeOptions } from "./memories.js";

interface McpCommandOptions extends ScopeOptions {
  http?: boolean;
  host: string;
  port: string;
  apiKey?: string;
  infer: boolean;
  model?: string;
}

/** Environment variable holding the HTTP transport's bearer key. */
const MCP_KEY_ENV = "MEM0_MCP_API_KEY";

/** The server module; its SDK is an optional peer, so say how to get it when it is missing. */
async function loadMcpServer() {
  try {
    return await import("../integrations/mcp.js");
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new Mem0ConfigError(
        "the MCP server needs @modelcontextprotocol/sdk: npm install @modelcontextprotocol/sdk",
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * `mcp`: the memory tools as an MCP server. On stdio, stdout is the protocol channel, so this
 * command writes nothing else there (notes go to stderr).
 */
export function mcpCommand(program: Command): void {
  addScopeOptions(program.command("mcp"))
    .description(
      "serve the memory tools over MCP (stdio; --http for streamable HTTP). The scope is " +
        "--user/--agent/--run, or on HTTP without them the session's X-Mem0-User-Id header",
    )
    .option("--http", "streamable HTTP instead of stdio")
    .option("--host <host>", "HTTP interface; others than 127.0.0.1 need --api-key", "127.0.0.1")
    .option("-p, --port <port>", "HTTP port", "8765")
    .option("--api-key <key>", `HTTP bearer key clients must send (default $${MCP_KEY_ENV})`)
    .option("--no-infer", "store added text as is instead of extracting facts")
    .option(
      "-m, --model <model>",
      "extraction model (default $LANGCHAIN_MEM0_MODEL or openai:gpt-4o-mini)",
    )
    .action(async (options: McpCommandOptions, command: Command) => {
      const global = command.optsWithGlobals() as GlobalOptions;
      const transport = options.http ? "http" : "stdio";
      // Optional here: on stdio the server itself refuses to start without one, saying why.
      const scope = scopeOf(options, true) ?? {};
      const port = parsePort(options.port);
      const { startMcpServer } = await loadMcpServer();
      const model = options.model ?? defaultModel();
      const { llm, missing } = global.config ? {} : await configuredChatModel(model);
      const { memory } = await openMemory(global, { llm, recover: llm !== undefined });
      const server = await startMcpServer({
        memory,
        ...scope,
        transport,
        host: options.host,
        port,
        apiKey: options.apiKey ?? process.env[MCP_KEY_ENV],
        infer: options.infer ? undefined : false,
      }).catch(async (error: unknown) => {
        await memory.close();
        throw error;
      });
      if (server.url) process.stderr.write(`langchain-mem0 MCP server on ${server.url}\n`);
      if (missing && options.infer) {
        process.stderr.write(
          `note: no key for ${model}; add_memory fails until you set ${missing.join(" or ")} ` +
            "(or use --no-infer).\n",
        );
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          process.stdin.off("end", stop);
          resolve();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
        // The client closing our stdin ends a stdio session.
        if (transport === "stdio") process.stdin.on("end", stop);
      });
      await server.close();
      await memory.close();
    });
}

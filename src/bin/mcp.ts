#!/usr/bin/env node
/**
 * langchain-mem0-mcp: the memory tools as an MCP server, on the embedded default store.
 *
 *   langchain-mem0-mcp --user alice                      # stdio
 *   langchain-mem0-mcp --http --port 8765                # streamable HTTP, user per session
 *   langchain-mem0-mcp --config mem0.json --user alice   # a Mem0-style config (JSON)
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Memory } from "../backends/memory.js";
import { Mem0ConfigError } from "../errors.js";
import type { StartMcpServerOptions } from "../integrations/mcp.js";

const USAGE = `Usage: langchain-mem0-mcp [options]
  --user <id>       serve this user's memories (required on stdio)
  --agent <id>      ... of this agent
  --run <id>        ... of this run
  --config <file>   Mem0-style memory config as JSON (default: OpenAI + ./.langchain-mem0/memory.db)
  --http            streamable HTTP instead of stdio; without --user, each session declares
                    its user with the X-Mem0-User-Id header
  --host <addr>     HTTP address (default 127.0.0.1; others need --api-key)
  --port <n>        HTTP port (default 8765)
  --api-key <key>   HTTP bearer token (or MEM0_MCP_API_KEY)
  --no-infer        store added text as is instead of extracting facts
  -h, --help        this text`;

/** Parses the command line into server options and a config file; exits on `--help`. */
function parseMcpArgs(argv: string[]): {
  config?: string;
  options: Omit<StartMcpServerOptions, "memory">;
} {
  const { values } = parseArgs({
    args: argv,
    options: {
      user: { type: "string" },
      agent: { type: "string" },
      run: { type: "string" },
      config: { type: "string" },
      http: { type: "boolean" },
      host: { type: "string" },
      port: { type: "string" },
      "api-key": { type: "string" },
      "no-infer": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.error(USAGE);
    process.exit(0);
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !Number.isInteger(port)) {
    throw new Mem0ConfigError(`--port must be a whole number, got "${values.port}".`);
  }
  return {
    config: values.config,
    options: {
      userId: values.user,
      agentId: values.agent,
      runId: values.run,
      transport: values.http ? "http" : "stdio",
      host: values.host,
      port,
      apiKey: values["api-key"] ?? process.env.MEM0_MCP_API_KEY,
      infer: values["no-infer"] ? false : undefined,
    },
  };
}

/** The server module; its SDK is an optional peer, so say how to get it when it is missing. */
async function loadServer() {
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

async function main() {
  const { config, options } = parseMcpArgs(process.argv.slice(2));
  const { startMcpServer } = await loadServer();
  const memory = await Memory.fromConfig(config ? JSON.parse(readFileSync(config, "utf8")) : {});
  const server = await startMcpServer({ ...options, memory });
  // stdout is the protocol channel on stdio: everything else goes to stderr.
  if (server.url) console.error(`langchain-mem0 MCP server on ${server.url}`);
  const stop = async () => {
    await server.close();
    await memory.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  if (options.transport === "stdio") process.stdin.once("end", stop);
}

main().catch((error: unknown) => {
  console.error(`langchain-mem0-mcp: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

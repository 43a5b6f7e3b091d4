#!/usr/bin/env node
/**
 * langchain-mem0-mcp: shorthand for `langchain-mem0 mcp`, the memory tools as an MCP server.
 *
 *   langchain-mem0-mcp --user alice                      # stdio, embedded default store
 *   langchain-mem0-mcp --http --port 8765                # streamable HTTP, user per session
 *   langchain-mem0-mcp --config mem0.json --user alice   # a Mem0-style config (JSON)
 */
import { run } from "../cli/program.js";

const [node, script, ...args] = process.argv;
void run([node, script, "mcp", ...args]).then((code) => {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 1000).unref();
});

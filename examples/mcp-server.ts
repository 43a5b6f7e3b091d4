/**
 * The memory tools as an MCP server, driven by the MCP SDK's own client over streamable HTTP.
 * Each session declares its user with the X-Mem0-User-Id header; tools cannot change it.
 *
 * Desktop apps and coding assistants launch it over stdio instead, e.g. in their config:
 *   { "command": "npx", "args": ["langchain-mem0-mcp", "--user", "alice"] }
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory } from "langchain-mem0";
import { startMcpServer } from "langchain-mem0/mcp";

const memory = new Memory({
  llm: new ChatOpenAI({ model: "gpt-4o-mini", temperature: 0 }),
  embeddings: new OpenAIEmbeddings({ model: "text-embedding-3-small" }),
  path: ".langchain-mem0/examples.db",
});
await memory.deleteAll({ userId: "mcp-demo" });
const server = await startMcpServer({ memory, transport: "http", port: 0 });
console.log("serving", server.url);

const client = new Client({ name: "example-client", version: "1.0.0" });
await client.connect(
  new StreamableHTTPClientTransport(new URL(server.url!), {
    requestInit: { headers: { "X-Mem0-User-Id": "mcp-demo" } },
  }),
);
console.log("tools:", (await client.listTools()).tools.map((tool) => tool.name).join(", "));

const text = (result: unknown) => (result as { content: { text: string }[] }).content[0].text;
console.log(
  "add:",
  text(await client.callTool({ name: "add_memory", arguments: { text: "I work as a nurse." } })),
);
console.log(
  "search:",
  text(await client.callTool({ name: "search_memories", arguments: { query: "job" } })),
);

await client.close();
await server.close();
await memory.close();

import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { HumanMessage, ToolMessage } from "@langchain/core/messages";
import { MultiServerMCPClient } from "@langchain/mcp-adapters";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createAgent } from "langchain";
import type { Memory } from "../src/backends/memory.js";
import { Mem0ConfigError } from "../src/errors.js";
import { startMcpServer, type RunningMcpServer } from "../src/integrations/mcp.js";
import {
  ScriptedServer,
  newMemory,
  newStoreFile,
  openMemory,
  tempDir,
} from "./utils/memory_env.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
/** Child processes run plain Node (without jest's VM modules flag) with tsx for the sources. */
const { NODE_OPTIONS: _jestNodeOptions, ...childEnv } = process.env as Record<string, string>;

let server: ScriptedServer;
const temp = tempDir("mem0-mcp-");
beforeAll(async () => {
  server = await ScriptedServer.start();
});
afterAll(async () => {
  await server.close();
  temp.cleanup();
});
beforeEach(() => server.reset());

type ToolResult = { content: { type: string; text: string }[]; isError?: boolean };
const parsed = (result: unknown) => JSON.parse((result as ToolResult).content[0].text);

/** A Mem0-style config file for the bin: the offline server's LLM, hash embeddings, a store. */
function configFile(dbFile: string): string {
  const file = path.join(temp.dir, `config-${path.basename(dbFile)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      llm: {
        provider: "openai",
        config: { model: "gpt-4o-mini", api_key: "test", base_url: server.server.baseURL },
      },
      embedder: { provider: "hash" },
      vector_store: { provider: "sqlite", config: { path: dbFile } },
    }),
  );
  return file;
}

/**
 * The command that starts the standalone bin from the sources; with `viaCli`, the same
 * server as `langchain-mem0 mcp ...`.
 */
function binCommand(args: string[], viaCli = false) {
  const entry = viaCli ? ["src/cli/bin.ts", "mcp"] : ["src/bin/mcp.ts"];
  return {
    command: process.execPath,
    args: ["--import", "tsx", path.join(repoRoot, entry[0]), ...entry.slice(1), ...args],
    cwd: repoRoot,
    env: { ...childEnv, MEM0_TELEMETRY: "false" },
    stderr: "pipe" as const,
  };
}

/** A store file holding one memory of Bob, written before the server starts. */
async function storeWithBob(): Promise<{ file: string; bobId: string }> {
  const file = newStoreFile(temp.dir);
  const memory = openMemory(server, file);
  await memory.add("Bob's safe code is 2468", { userId: "bob", infer: false });
  const [bob] = (await memory.getAll({ userId: "bob" })).results;
  await memory.close();
  return { file, bobId: bob.id };
}

describe("MCP server over stdio", () => {
  it("lists and calls the memory tools, and the scope cannot be changed by arguments", async () => {
    const { file, bobId } = await storeWithBob();
    const client = new Client({ name: "test-client", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport(binCommand(["--config", configFile(file), "--user", "alice"])),
    );
    try {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual([
        "add_memory",
        "delete_memory",
        "list_memories",
        "memory_history",
        "search_memories",
        "update_memory",
      ]);
      // No tool lets the caller name an owner.
      for (const tool of tools) {
        expect(Object.keys(tool.inputSchema.properties ?? {})).not.toEqual(
          expect.arrayContaining(["user_id"]),
        );
      }

      // Extraction through the server's LLM: the first-person sentence becomes a fact.
      const added = parsed(
        await client.callTool({
          name: "add_memory",
          arguments: { text: "I am learning Norwegian.", user_id: "bob" },
        }),
      );
      expect(added.results.map((event: { memory: string }) => event.memory)).toEqual([
        "User: I am learning Norwegian.",
      ]);
      const id = added.results[0].id;

      const found = parsed(
        await client.callTool({
          name: "search_memories",
          arguments: { query: "safe code", user_id: "bob", filters: { user_id: "bob" } },
        }),
      );
      expect(found.results.map((item: { memory: string }) => item.memory)).toEqual([
        "User: I am learning Norwegian.",
      ]);

      const updated = parsed(
        await client.callTool({
          name: "update_memory",
          arguments: { memory_id: id, text: "User speaks Norwegian" },
        }),
      );
      expect(updated.memory).toBe("User speaks Norwegian");
      const history = parsed(
        await client.callTool({ name: "memory_history", arguments: { memory_id: id } }),
      );
      expect(history.history.map((entry: { action: string }) => entry.action)).toEqual([
        "UPDATE",
        "ADD",
      ]);
      const listed = parsed(await client.callTool({ name: "list_memories", arguments: {} }));
      expect(listed.results.map((item: { id: string }) => item.id)).toEqual([id]);

      // Bob's memory id is refused like an unknown one, for every tool that takes an id.
      for (const name of ["delete_memory", "memory_history", "update_memory"]) {
        const refused = (await client.callTool({
          name,
          arguments: { memory_id: bobId, text: "changed" },
        })) as ToolResult;
        expect(refused.isError).toBe(true);
        expect(refused.content[0].text).toContain(`No memory with id "${bobId}"`);
      }
      const deleted = parsed(
        await client.callTool({ name: "delete_memory", arguments: { memory_id: id } }),
      );
      expect(deleted.deleted.id).toBe(id);
    } finally {
      await client.close();
    }
    // Bob's memory is untouched, in the same file.
    const reopened = openMemory(server, file);
    expect((await reopened.getAll({ userId: "bob" })).results.map((m) => m.memory)).toEqual([
      "Bob's safe code is 2468",
    ]);
    expect((await reopened.getAll({ userId: "alice" })).results).toEqual([]);
    await reopened.close();
  });

  it("runs as `langchain-mem0 mcp` with the store and scope options of the CLI", async () => {
    const { file, bobId } = await storeWithBob();
    const client = new Client({ name: "test-client", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport(
        binCommand(["--store", file, "--embedder", "hash", "--user", "bob", "--no-infer"], true),
      ),
    );
    try {
      const listed = parsed(await client.callTool({ name: "list_memories", arguments: {} }));
      expect(listed.results.map((item: { id: string }) => item.id)).toEqual([bobId]);
      const added = parsed(
        await client.callTool({ name: "add_memory", arguments: { text: "Bob rows at dawn" } }),
      );
      expect(added.results.map((event: { memory: string }) => event.memory)).toEqual([
        "Bob rows at dawn",
      ]);
    } finally {
      await client.close();
    }
  });

  it("refuses to start on stdio without a scope", async () => {
    const { file } = await storeWithBob();
    const client = new Client({ name: "test-client", version: "1.0.0" });
    const transport = new StdioClientTransport(binCommand(["--config", configFile(file)]));
    let stderr = "";
    transport.stderr?.on("data", (chunk) => (stderr += String(chunk)));
    await expect(client.connect(transport)).rejects.toThrow();
    expect(stderr).toContain("serves one scope");
  });

  it("loads into a LangChain agent through @langchain/mcp-adapters", async () => {
    const { file } = await storeWithBob();
    const { command, args, env } = binCommand([
      "--config",
      configFile(file),
      "--user",
      "alice",
      "--no-infer",
    ]);
    const mcp = new MultiServerMCPClient({
      mcpServers: { memory: { transport: "stdio", command, args, env } },
    });
    try {
      const tools = await mcp.getTools();
      expect(tools.map((tool) => tool.name)).toEqual(
        expect.arrayContaining(["add_memory", "search_memories"]),
      );
      const agent = createAgent({ model: server.chatModel(), tools });
      server.script(
        { toolCalls: [{ name: "add_memory", arguments: { text: "Alice loves figs" } }] },
        {
          toolCalls: [
            { name: "search_memories", arguments: { query: "figs safe code", user_id: "bob" } },
          ],
        },
        (request) => `Found: ${String(request.messages.at(-1)?.content)}`,
      );
      const result = await agent.invoke({
        messages: [new HumanMessage("Remember I love figs, then look it up.")],
      });
      const results = result.messages.filter(ToolMessage.isInstance);
      expect(results).toHaveLength(2);
      const answer = String(result.messages.at(-1)?.content);
      expect(answer).toContain("Alice loves figs");
      expect(answer).not.toContain("safe code is");
    } finally {
      await mcp.close();
    }
  });
});

describe("MCP server over streamable HTTP", () => {
  let memory: Memory;
  let running: RunningMcpServer | undefined;
  beforeEach(async () => {
    memory = newMemory(server, temp.dir);
    await memory.add("Bob's safe code is 2468", { userId: "bob", infer: false });
  });
  afterEach(async () => {
    await running?.close();
    running = undefined;
    await memory.close();
  });

  async function connect(url: string, headers: Record<string, string>) {
    const client = new Client({ name: "http-client", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }),
    );
    return client;
  }

  it("gives each session the user it declared, and never another", async () => {
    running = await startMcpServer({ memory, transport: "http", port: 0, infer: false });
    const alice = await connect(running.url!, { "x-mem0-user-id": "alice" });
    const bob = await connect(running.url!, { "x-mem0-user-id": "bob" });
    await alice.callTool({ name: "add_memory", arguments: { text: "Alice's code is 1357" } });
    const seenByAlice = parsed(
      await alice.callTool({ name: "search_memories", arguments: { query: "code" } }),
    );
    const seenByBob = parsed(
      await bob.callTool({ name: "search_memories", arguments: { query: "code" } }),
    );
    expect(seenByAlice.results.map((m: { memory: string }) => m.memory)).toEqual([
      "Alice's code is 1357",
    ]);
    expect(seenByBob.results.map((m: { memory: string }) => m.memory)).toEqual([
      "Bob's safe code is 2468",
    ]);
    await alice.close();
    await bob.close();

    // A session cannot switch users: a request declaring another one is refused.
    const init = await fetch(running.url!, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "x-mem0-user-id": "alice",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "raw", version: "1" },
        },
      }),
    });
    const sessionId = init.headers.get("mcp-session-id")!;
    await init.body?.cancel();
    const hijack = await fetch(running.url!, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": sessionId,
        "x-mem0-user-id": "bob",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    expect(hijack.status).toBe(403);

    // Without a declared user and without a configured one, no session starts.
    await expect(connect(running.url!, {})).rejects.toThrow();
  });

  it("serves only the configured user when one is fixed, and checks the bearer key", async () => {
    running = await startMcpServer({
      memory,
      transport: "http",
      port: 0,
      userId: "bob",
      apiKey: "secret-key-123",
    });
    await expect(connect(running.url!, {})).rejects.toThrow();
    const authorized = { authorization: "Bearer secret-key-123" };
    await expect(
      connect(running.url!, { ...authorized, "x-mem0-user-id": "alice" }),
    ).rejects.toThrow();
    const client = await connect(running.url!, authorized);
    const listed = parsed(await client.callTool({ name: "list_memories", arguments: {} }));
    expect(listed.results.map((m: { memory: string }) => m.memory)).toEqual([
      "Bob's safe code is 2468",
    ]);
    await client.close();
  });

  it("answers malformed requests with JSON-RPC errors", async () => {
    running = await startMcpServer({ memory, transport: "http", port: 0, userId: "bob" });
    const post = (body: string, url = running!.url!) =>
      fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body,
      });
    const oversize = await post(JSON.stringify({ padding: "x".repeat(1_100_000) }));
    expect(oversize.status).toBe(413);
    expect(await oversize.json()).toMatchObject({ error: { message: "body too large" } });
    expect((await post("{not json")).status).toBe(400);
    expect(
      (await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }))).status,
    ).toBe(400);
    expect((await post("{}", running.url!.replace("/mcp", "/other"))).status).toBe(404);
    const unknownSession = await fetch(running.url!, {
      method: "POST",
      headers: { "content-type": "application/json", "mcp-session-id": "nope" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(unknownSession.status).toBe(404);
  });

  it("refuses to listen beyond loopback without an apiKey", async () => {
    await expect(startMcpServer({ memory, transport: "http", host: "0.0.0.0" })).rejects.toThrow(
      Mem0ConfigError,
    );
    await expect(startMcpServer({ memory, transport: "stdio" })).rejects.toThrow(/one scope/);
  });
});

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ChatOpenAI } from "@langchain/openai";
import { Memory } from "../../src/backends/memory.js";
import { HashEmbeddings } from "../../src/embeddings/hash.js";
import {
  FakeOpenAIServer,
  createDemoHandler,
  type FakeChatReply,
  type FakeChatRequest,
} from "../../src/testing/index.js";

/**
 * An offline server whose chat replies come from a script, except the memory engine's
 * extraction requests, which the demo handler answers (first-person sentences become facts)
 * whenever they arrive.
 */
export class ScriptedServer {
  readonly replies: (FakeChatReply | ((request: FakeChatRequest) => FakeChatReply))[] = [];
  /** Chat requests other than extraction, in order. */
  readonly requests: FakeChatRequest[] = [];

  private constructor(readonly server: FakeOpenAIServer) {
    const demo = createDemoHandler();
    server.setHandler((request) => {
      if (isExtraction(request)) return demo(request);
      this.requests.push(request);
      const next = this.replies.shift();
      if (next === undefined) return demo(request);
      return typeof next === "function" ? next(request) : next;
    });
  }

  static async start(): Promise<ScriptedServer> {
    return new ScriptedServer(await FakeOpenAIServer.start());
  }

  script(...replies: ScriptedServer["replies"]): void {
    this.replies.push(...replies);
  }

  reset(): void {
    this.replies.length = 0;
    this.requests.length = 0;
  }

  chatModel(): ChatOpenAI {
    return new ChatOpenAI({
      model: "gpt-4o-mini",
      apiKey: "test",
      configuration: { baseURL: this.server.baseURL },
      maxRetries: 0,
    });
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

function isExtraction(request: FakeChatRequest): boolean {
  return (
    request.response_format?.json_schema?.name === "memory_operations" ||
    request.tools?.[0]?.function?.name === "memory_operations"
  );
}

/** A temporary directory removed by `cleanup`. */
export function tempDir(prefix: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh SQLite file name in `dir`. */
export function newStoreFile(dir: string): string {
  return path.join(dir, `memory-${Math.random().toString(36).slice(2)}.db`);
}

/** A local engine on the SQLite file, with hash embeddings and the server's LLM. */
export function openMemory(server: ScriptedServer, file: string): Memory {
  return new Memory({ llm: server.chatModel(), embeddings: new HashEmbeddings(), path: file });
}

/** A local engine on a fresh SQLite file. */
export function newMemory(server: ScriptedServer, dir: string): Memory {
  return openMemory(server, newStoreFile(dir));
}

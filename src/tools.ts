import type { RunnableConfig } from "@langchain/core/runnables";
import { tool, type StructuredToolInterface } from "@langchain/core/tools";
import { z } from "zod";
import type { MemoryBackend, MemoryMetadata } from "./backends/base.js";
import { parseOptions } from "./backends/options.js";
import { storageHandler, type Mem0MemoryCallbackHandler } from "./callbacks.js";
import { Mem0ConfigError } from "./errors.js";
import { requireScope, runScope, scopeFromRecord } from "./scope.js";
import { ScopedMemory } from "./scoped_memory.js";
import type { WriteQueueOptions } from "./write_queue.js";

/** Names of the memory tools. */
export const MEMORY_TOOL_NAMES = [
  "search_memory",
  "save_memory",
  "update_memory",
  "forget_memory",
] as const;

export type MemoryToolName = (typeof MEMORY_TOOL_NAMES)[number];

/** Options of {@link createMemoryTools}. */
export interface MemoryToolsOptions {
  /** Fixed user id; per run, `context.userId` or `configurable.user_id` override it. */
  userId?: string;
  /** Fixed agent id; per run, `context.agentId` or `configurable.agent_id` override it. */
  agentId?: string;
  /** Fixed run id; per run, `context.runId` or `configurable.run_id` override it. */
  runId?: string;
  /** Which tools to create (default: all four). */
  include?: readonly MemoryToolName[];
  /** Most memories `search_memory` returns (default 5). */
  topK?: number;
  /**
   * `true` (default): `save_memory` lets the engine extract facts and reconcile them with
   * what it knows (updating or replacing contradicted memories); `false`: stores the text as is.
   */
  infer?: boolean;
  /** Metadata stored with every memory `save_memory` creates. */
  memoryMetadata?: MemoryMetadata;
  /**
   * The write path to share (e.g. `Mem0ChatModel.handler`), so saves queue behind that
   * model's background writes of the same scope; built when absent.
   */
  handler?: Mem0MemoryCallbackHandler;
  /** Deadline of writes, when the handler is built here. */
  writeQueue?: WriteQueueOptions;
}

/** Checks the tool choices, shared by every front door with a `memoryTools` option. */
export const memoryToolsShape = {
  include: z.array(z.enum(MEMORY_TOOL_NAMES)).min(1).optional(),
  topK: z.number().int().min(1).max(100).optional(),
  infer: z.boolean().optional(),
  memoryMetadata: z.record(z.string(), z.unknown()).optional(),
};

/** Checks owner ids given in code (`userId`, `agentId`, `runId`). */
export const scopeFieldsShape = {
  userId: z.string().trim().min(1).optional(),
  agentId: z.string().trim().min(1).optional(),
  runId: z.string().trim().min(1).optional(),
};

const optionsSchema = z.object({ ...scopeFieldsShape, ...memoryToolsShape });

const MISSING_SCOPE_HINT =
  "The memory tools need a memory scope. Fix it in code, never through tool arguments: " +
  "createMemoryTools(memory, { userId: 'alice' }), or per run " +
  "agent.invoke(input, { context: { userId: 'alice' } }) or " +
  "{ configurable: { user_id: 'alice' } }.";

const memoryId = z.string().min(1).describe("Id of the memory, as returned by search_memory.");

/**
 * Tools that let a model search, save, update and forget long-term memories on purpose:
 * `search_memory`, `save_memory`, `update_memory` and `forget_memory`.
 *
 * Whose memories they touch is decided by the developer, never by the model: the fixed ids
 * given here, or per run `context` (`{ userId }`, as `createAgent` passes it) or
 * `configurable` (`{ user_id }`). The tools take no owner argument, and one the model adds
 * anyway is dropped; `update_memory` and `forget_memory` refuse ids of other scopes exactly
 * like unknown ids. Saves go through the same write path as `Mem0ChatModel` (queue, durable
 * outbox, tracing).
 *
 * ```ts
 * const tools = createMemoryTools(memory, { userId: "alice" });
 * const agent = createAgent({ model: "openai:gpt-4o-mini", tools });
 * ```
 */
export function createMemoryTools(
  memory: MemoryBackend,
  options: MemoryToolsOptions = {},
): StructuredToolInterface[] {
  if (typeof memory?.search !== "function" || typeof memory.add !== "function") {
    throw new Mem0ConfigError(
      "createMemoryTools needs a memory backend such as `new Memory({ llm, embeddings })`.",
    );
  }
  parseOptions(optionsSchema, options, "createMemoryTools options", Mem0ConfigError);
  const fixed = scopeFromRecord(options);
  const handler =
    options.handler ??
    (storageHandler(memory, {
      store: "await",
      writeQueue: options.writeQueue,
    }) as Mem0MemoryCallbackHandler);
  const scoped = (config: RunnableConfig | undefined) =>
    new ScopedMemory(memory, requireScope(runScope(config, fixed), MISSING_SCOPE_HINT), {
      handler,
    });
  const topK = options.topK ?? 5;

  const tools: Record<MemoryToolName, StructuredToolInterface> = {
    search_memory: tool(
      async ({ query, limit }, config) => {
        const result = await scoped(config).search(query, {
          topK: Math.min(limit ?? topK, topK),
          signal: config?.signal,
        });
        return JSON.stringify({
          memories: result.results.map((item) => ({
            id: item.id,
            memory: item.memory,
            score: item.score,
          })),
          ...(result.relations?.length
            ? {
                relations: result.relations.map(({ source, relationship, destination }) => ({
                  source,
                  relationship,
                  destination,
                })),
              }
            : {}),
        });
      },
      {
        name: "search_memory",
        description:
          "Search the long-term memory of the current user for facts relevant to a query. " +
          "Returns memories with their ids, best match first.",
        schema: z.object({
          query: z.string().min(1).describe("What to look for, in natural language."),
          limit: z
            .number()
            .int()
            .min(1)
            .max(100)
            .optional()
            .describe(`Most memories to return (at most ${topK}).`),
        }),
      },
    ),
    save_memory: tool(
      async ({ memory: text }, config) => {
        const result = await scoped(config).add(text, {
          infer: options.infer,
          metadata: options.memoryMetadata,
          signal: config?.signal,
        });
        if (result.results.length === 0) {
          return JSON.stringify({ saved: [], note: "Nothing new: this is already known." });
        }
        return JSON.stringify({
          saved: result.results.map(({ id, memory: saved, event }) => ({
            id,
            memory: saved,
            event,
          })),
        });
      },
      {
        name: "save_memory",
        description:
          "Save a fact about the current user to long-term memory, e.g. a preference, plan " +
          "or personal detail worth remembering in later conversations.",
        schema: z.object({
          memory: z.string().min(1).describe("The fact to remember, as one short sentence."),
        }),
      },
    ),
    update_memory: tool(
      async ({ memory_id, memory: text }, config) => {
        const updated = await scoped(config).update(memory_id, { text });
        return JSON.stringify({ updated: { id: updated.id, memory: updated.memory } });
      },
      {
        name: "update_memory",
        description:
          "Replace the text of one memory of the current user, e.g. when a fact changed. " +
          "Find the id with search_memory first.",
        schema: z.object({
          memory_id: memoryId,
          memory: z.string().min(1).describe("The new text of the memory."),
        }),
      },
    ),
    forget_memory: tool(
      async ({ memory_id }, config) => {
        const forgotten = await scoped(config).delete(memory_id);
        return JSON.stringify({ forgotten: { id: forgotten.id, memory: forgotten.memory } });
      },
      {
        name: "forget_memory",
        description:
          "Delete one memory of the current user, e.g. when the user asks to forget it or " +
          "it is wrong. Find the id with search_memory first.",
        schema: z.object({ memory_id: memoryId }),
      },
    ),
  };
  return (options.include ?? MEMORY_TOOL_NAMES).map((name) => tools[name]);
}

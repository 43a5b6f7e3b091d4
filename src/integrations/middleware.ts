import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { AIMessage, BaseMessage, SystemMessage } from "@langchain/core/messages";
import {
  ensureConfig,
  getCallbackManagerForConfig,
  type RunnableConfig,
} from "@langchain/core/runnables";
import { createMiddleware, type AgentMiddleware } from "langchain";
import { z } from "zod";
import type { MemoryBackend } from "../backends/base.js";
import { parseOptions } from "../backends/options.js";
import {
  newTurn,
  storageHandler,
  storageOptionsShape,
  type Mem0MemoryCallbackHandler,
  type MemoryStorageOptions,
} from "../callbacks.js";
import { Mem0ConfigError } from "../errors.js";
import { messageRole } from "../messages.js";
import { MemoryRecall, recallOptionsShape, type MemoryRecallOptions } from "../recall.js";
import { requireScope, runScope, scopeFromRecord, type MemoryScope } from "../scope.js";
import { validateFilter } from "../stores/filters.js";
import {
  createMemoryTools,
  memoryToolsShape,
  scopeFieldsShape,
  type MemoryToolsOptions,
} from "../tools.js";
import type { FlushOptions } from "../write_queue.js";

/**
 * The agent's runtime context as the middleware reads it:
 * `agent.invoke(input, { context: { userId: "alice" } })`.
 */
export const mem0ContextSchema = z.object({
  /** The end user the memories are about. */
  userId: z.string().min(1).optional(),
  /** The agent (assistant persona) that owns the memories. */
  agentId: z.string().min(1).optional(),
  /** One conversation / session / thread. */
  runId: z.string().min(1).optional(),
});

/** Options of {@link mem0Middleware}. */
export interface Mem0MiddlewareOptions extends MemoryRecallOptions, MemoryStorageOptions {
  /** The memory backend: the local `Memory` engine, the platform client, or any adapter. */
  memory: MemoryBackend;
  /** Fixed user id; per run, `context.userId` or `configurable.user_id` override it. */
  userId?: string;
  /** Fixed agent id; per run, `context.agentId` or `configurable.agent_id` override it. */
  agentId?: string;
  /** Fixed run id; per run, `context.runId` or `configurable.run_id` override it. */
  runId?: string;
  /**
   * When conversations are stored: once per agent turn, after the agent has answered
   * (`"agent_turn"`, default: the user's messages, tool calls and results, and the final
   * answer), or after every model call (`"model_call"`, as `Mem0ChatModel` does).
   */
  storeOn?: "agent_turn" | "model_call";
  /**
   * Also give the agent the memory tools (`search_memory`, `save_memory`, `update_memory`,
   * `forget_memory`), scoped like the rest of the middleware.
   */
  memoryTools?: boolean | Pick<MemoryToolsOptions, "include" | "topK" | "infer" | "memoryMetadata">;
  /** Name of the middleware (default `"Mem0Memory"`); unique per agent. */
  name?: string;
}

const optionsSchema = z.object({
  ...recallOptionsShape,
  ...scopeFieldsShape,
  ...storageOptionsShape,
  storeOn: z.enum(["agent_turn", "model_call"]).optional(),
  memoryTools: z.union([z.boolean(), z.object(memoryToolsShape)]).optional(),
  name: z.string().min(1).optional(),
});

const MISSING_SCOPE_HINT =
  "mem0Middleware needs a memory scope. Give a userId, agentId or runId in one of three " +
  "ways: mem0Middleware({ ..., userId: 'alice' }); agent.invoke(input, { context: " +
  "{ userId: 'alice' } }); or agent.invoke(input, { configurable: { user_id: 'alice' } }).";

/** What the middleware adds to the agent middleware `createMiddleware` returns. */
export interface Mem0MiddlewareControls {
  /** Retrieval and injection (the same as `Mem0ChatModel`'s). */
  readonly recall: MemoryRecall;
  /** Stores conversations; absent with `store: "off"`. */
  readonly handler?: Mem0MemoryCallbackHandler;
  /** Waits for the writes handed over so far; `true` when none is left running. */
  flush(options?: FlushOptions): Promise<boolean>;
  /** Flushes, then refuses new writes. */
  close(options?: FlushOptions): Promise<void>;
}

/** The middleware `mem0Middleware` returns: an agent middleware with memory controls. */
export type Mem0Middleware = AgentMiddleware<
  undefined,
  typeof mem0ContextSchema,
  z.infer<typeof mem0ContextSchema>
> &
  Mem0MiddlewareControls;

/**
 * The messages of the last agent turn: from the user's message(s) that follow the previous
 * final answer (an assistant message without tool calls) to the end, system messages left out.
 */
export function agentTurn(messages: BaseMessage[]): BaseMessage[] {
  const lastUser = messages.findLastIndex((message) => messageRole(message) === "user");
  if (lastUser === -1) return [];
  const previousAnswer = messages
    .slice(0, lastUser)
    .findLastIndex(
      (message) =>
        messageRole(message) === "assistant" && !(message as AIMessage).tool_calls?.length,
    );
  return messages.slice(previousAnswer + 1).filter((message) => messageRole(message) !== "system");
}

/** The callback handlers of the current run (for tracing the writes), from async context. */
function currentHandlers(config: RunnableConfig): BaseCallbackHandler[] | undefined {
  const callbacks = config.callbacks;
  if (!callbacks) return undefined;
  return Array.isArray(callbacks) ? (callbacks as BaseCallbackHandler[]) : callbacks.handlers;
}

/**
 * Long-term memory for `createAgent` agents. Before every model call it retrieves the
 * memories relevant to the user's turn and places them in the request exactly as
 * `Mem0ChatModel` does (same retrieval, same formatter, same injection, so the same text);
 * after the agent has answered it stores the turn once, in the background, through the same
 * write path (queue, durable outbox, tracing). With `memoryTools` the agent can also search,
 * save, update and forget memories on purpose.
 *
 * The scope comes from the run's `context` (`{ userId, agentId, runId }`), then
 * `configurable` (`{ user_id, ... }`), then the options.
 *
 * ```ts
 * const memoryMiddleware = mem0Middleware({ memory });
 * const agent = createAgent({ model: "openai:gpt-4o-mini", tools, middleware: [memoryMiddleware] });
 * await agent.invoke({ messages: [new HumanMessage("I'm vegetarian.")] }, { context: { userId: "alice" } });
 * ```
 */
export function mem0Middleware(options: Mem0MiddlewareOptions): Mem0Middleware {
  if (typeof options?.memory?.search !== "function" || typeof options.memory.add !== "function") {
    throw new Mem0ConfigError(
      "mem0Middleware needs `memory`: a MemoryBackend such as `new Memory({ llm, embeddings })`.",
    );
  }
  parseOptions(optionsSchema, options, "mem0Middleware options", Mem0ConfigError);
  if (options.filters !== undefined) validateFilter(options.filters, "mem0Middleware filters");
  const recall = new MemoryRecall(options.memory, options);
  const handler = storageHandler(options.memory, options);
  const fixed = scopeFromRecord(options);
  const storeOn = options.storeOn ?? "agent_turn";
  const tools = options.memoryTools
    ? createMemoryTools(options.memory, {
        ...(options.memoryTools === true ? {} : options.memoryTools),
        ...fixed,
        handler,
        writeQueue: options.writeQueue,
      })
    : undefined;
  const scopeOf = (runtime: { context?: unknown; configurable?: Record<string, unknown> }) =>
    requireScope(runScope(runtime, fixed), MISSING_SCOPE_HINT);
  const store = (messages: BaseMessage[], scope: MemoryScope, config: RunnableConfig) =>
    handler?.write(messages, {
      scope,
      handlers: currentHandlers(config),
      signal: config.signal,
    });

  const middleware = createMiddleware({
    name: options.name ?? "Mem0Memory",
    contextSchema: mem0ContextSchema,
    tools,
    wrapModelCall: async (request, next) => {
      const scope = scopeOf(request.runtime);
      const config = ensureConfig();
      const system: SystemMessage | undefined = request.systemMessage;
      const withSystem = system?.text ? [system, ...request.messages] : request.messages;
      // On a user turn, every model call of the turn (also after tool calls) gets the
      // memories of the user's message.
      const turnEnd = withSystem.findLastIndex((message) => messageRole(message) === "user");
      const source =
        recall.retrieval === "user_turn" && turnEnd !== -1
          ? withSystem.slice(0, turnEnd + 1)
          : withSystem;
      const block = await recall.recall(source, scope, {
        signal: request.runtime.signal ?? config.signal,
        callbacks: await getCallbackManagerForConfig(config),
      });
      let prepared = request;
      if (block) {
        const injected = recall.inject(withSystem, block);
        // The system message the model sees is the first one: the agent's own, or the memory
        // system prompt added when there was none.
        const systemCount = injected.length - request.messages.length;
        prepared = {
          ...request,
          messages: injected.slice(systemCount),
          ...(systemCount > 0 ? { systemMessage: injected[0] as SystemMessage } : {}),
        };
      }
      const response = await next(prepared);
      if (storeOn === "model_call" && handler) {
        await store([...newTurn(request.messages), response as AIMessage], scope, config);
      }
      return response;
    },
    afterAgent: async (state, runtime) => {
      if (storeOn !== "agent_turn" || !handler) return undefined;
      await store(agentTurn(state.messages), scopeOf(runtime), ensureConfig());
      return undefined;
    },
  });
  const controls: Mem0MiddlewareControls = {
    recall,
    handler,
    flush: async (flushOptions) => (await handler?.queue.flush(flushOptions)) ?? true,
    close: async (flushOptions) => {
      await handler?.queue.close(flushOptions);
    },
  };
  return Object.assign(middleware, controls);
}

import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import {
  CallbackManager,
  type CallbackManagerForChainRun,
} from "@langchain/core/callbacks/manager";
import type { SerializedNotImplemented } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import { LangChainTracer } from "@langchain/core/tracers/tracer_langchain";
import type { MemoryScope } from "./scope.js";

/** Name of the run that traces the storage of one conversation turn. */
export const MEMORY_WRITE_RUN_NAME = "Mem0MemoryWrite";

const WRITE_SERIALIZED: SerializedNotImplemented = {
  lc: 1,
  type: "not_implemented",
  id: ["langchain_mem0", "MemoryWrite"],
};

/** What a write run shows and where it is reported. */
export interface MemoryWriteRunOptions {
  /** The turn being stored (the run's inputs). */
  messages: BaseMessage[];
  scope: MemoryScope;
  /** Id of the chat run whose conversation is stored, put in metadata as `mem0_chat_run_id`. */
  chatRunId?: string;
  /**
   * Handlers of that chat run; its LangSmith tracers receive the write. Absent: the tracer
   * the environment configures (`LANGSMITH_TRACING`), if any.
   */
  handlers?: BaseCallbackHandler[];
}

/**
 * The tracers of a write: those the chat run reported to, as fresh tracers with the same
 * client and project but without that run's example link, metadata or tags. A write is its
 * own trace, not part of the chat call: in the chat's trace its LLM call would add to the
 * chat's token total, and the call's other handlers (stream handlers, LangGraph's) must not
 * see it.
 */
async function writeTracers(handlers?: BaseCallbackHandler[]): Promise<BaseCallbackHandler[]> {
  const source = handlers ?? (await CallbackManager.configure())?.handlers ?? [];
  return source
    .filter((handler): handler is LangChainTracer => handler instanceof LangChainTracer)
    .map(
      (tracer) =>
        new LangChainTracer({
          client: tracer.client,
          projectName: tracer.projectName,
          address: tracer.address,
          replicas: tracer.replicas,
        }),
    );
}

/**
 * Starts the root run `Mem0MemoryWrite` of one stored turn, with the scope ids and the chat
 * run's id in its metadata. Pass `getChild()` of the result to the backend so its LLM calls
 * nest inside; without tracers the run reaches no handler but still gives the backend
 * explicit callbacks, so the write never inherits the caller's callbacks from async context.
 */
export async function startMemoryWriteRun(
  options: MemoryWriteRunOptions,
): Promise<CallbackManagerForChainRun> {
  const manager = new CallbackManager();
  manager.setHandlers(await writeTracers(options.handlers));
  const { userId, agentId, runId } = options.scope;
  const metadata = Object.fromEntries(
    Object.entries({
      user_id: userId,
      agent_id: agentId,
      run_id: runId,
      mem0_chat_run_id: options.chatRunId,
    }).filter(([, value]) => value !== undefined),
  );
  manager.addMetadata(metadata, false);
  return manager.handleChainStart(
    WRITE_SERIALIZED,
    { messages: options.messages },
    undefined,
    "chain",
    undefined,
    undefined,
    MEMORY_WRITE_RUN_NAME,
  );
}

import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import { AIMessage, type UsageMetadata } from "@langchain/core/messages";
import type { Generation, LLMResult } from "@langchain/core/outputs";

/** Keys under which LangChain integrations report token counts besides `usage_metadata`. */
const USAGE_KEYS = ["usage", "tokenUsage", "estimatedTokenUsage"];

const NO_USAGE: UsageMetadata = { input_tokens: 0, output_tokens: 0, total_tokens: 0 };

function withoutUsageKeys(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([key]) => !USAGE_KEYS.includes(key)));
}

function withoutUsage(generation: Generation): Generation {
  const message = (generation as { message?: unknown }).message;
  if (!AIMessage.isInstance(message)) return generation;
  const copy = new AIMessage({
    content: message.content,
    additional_kwargs: message.additional_kwargs,
    response_metadata: withoutUsageKeys(message.response_metadata),
    id: message.id,
    name: message.name,
    tool_calls: message.tool_calls,
    invalid_tool_calls: message.invalid_tool_calls,
    usage_metadata: NO_USAGE,
  });
  return { ...generation, message: copy } as Generation;
}

/**
 * The same result reporting zero tokens: explicit zeros rather than none, so that nothing
 * estimates the tokens of the run from its text either.
 */
function zeroUsage(output: LLMResult): LLMResult {
  const llmOutput = output.llmOutput && withoutUsageKeys(output.llmOutput);
  return {
    ...output,
    generations: output.generations.map((batch) => batch.map(withoutUsage)),
    llmOutput: llmOutput && Object.keys(llmOutput).length > 0 ? llmOutput : undefined,
  };
}

interface RunManagerFields {
  handlers: BaseCallbackHandler[];
  inheritableHandlers: BaseCallbackHandler[];
  tags: string[];
  inheritableTags: string[];
  metadata: Record<string, unknown>;
  inheritableMetadata: Record<string, unknown>;
}

function withHandlers(runManager: CallbackManagerForLLMRun, handlers: BaseCallbackHandler[]) {
  const fields = runManager as unknown as RunManagerFields;
  return new CallbackManagerForLLMRun(
    runManager.runId,
    handlers,
    fields.inheritableHandlers,
    fields.tags,
    fields.inheritableTags,
    fields.metadata,
    fields.inheritableMetadata,
    runManager.parentRunId,
  );
}

/**
 * Makes the wrapper's run count the inner model's tokens once. The inner model's run is
 * nested under the wrapper's and reports the usage; LangSmith (like any handler that sums
 * usage over a trace) adds up what every run reports, so the wrapper's own run reports zero
 * tokens to the handlers that also see the inner run (the inheritable ones). Handlers local
 * to the wrapper never see the inner run and still get the usage on the wrapper's run. What
 * the caller gets back (the inner model's message, with its `usage_metadata`) is untouched.
 */
export function countUsageOnce(runManager: CallbackManagerForLLMRun): void {
  const { handlers, inheritableHandlers } = runManager as unknown as RunManagerFields;
  const seeInner = new Set(inheritableHandlers);
  const nested = handlers.filter((handler) => seeInner.has(handler));
  if (nested.length === 0) return;
  const local = handlers.filter((handler) => !seeInner.has(handler));
  runManager.handleLLMEnd = async (output, ...rest) => {
    await Promise.all([
      withHandlers(runManager, nested).handleLLMEnd(zeroUsage(output), ...rest),
      withHandlers(runManager, local).handleLLMEnd(output, ...rest),
    ]);
  };
}

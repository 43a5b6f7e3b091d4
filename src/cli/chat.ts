import { createInterface } from "node:readline";
import type { Command } from "commander";
import type { CompletionTrace } from "../facade/mem0.js";
import type { ChatCompletionMessageParam } from "../facade/openai_format.js";
import {
  createChatModel,
  defaultModel,
  openMemory,
  providerChatModel,
  requireProvider,
  scopeOf,
  type GlobalOptions,
  type ScopeOptions,
} from "./context.js";
import { addScopeOptions } from "./memories.js";

/** `chat`: a terminal conversation with memory, streaming the answer. */
export function chatCommand(program: Command): void {
  addScopeOptions(program.command("chat"))
    .description("chat with memory in the terminal (reads lines; /exit or Ctrl+D ends)")
    .option(
      "-m, --model <model>",
      "initChatModel model string (default $LANGCHAIN_MEM0_MODEL or openai:gpt-4o-mini)",
    )
    .action(async (options: ScopeOptions & { model?: string }, command: Command) => {
      const global = command.optsWithGlobals() as GlobalOptions;
      const scope = scopeOf(options)!;
      const model = options.model ?? defaultModel();
      requireProvider(model);
      const llm = await createChatModel(model);
      const { Mem0 } = await import("../facade/mem0.js");
      const { memory } = await openMemory(global, { llm, recover: true });
      const mem0 = new Mem0({ memory, chatModel: providerChatModel });
      const interactive = process.stdin.isTTY === true;
      const say = (text: string) => {
        if (!global.json) process.stdout.write(text);
      };
      say(
        `Chatting with ${model} as ${describe(scope)}; memories in ${global.config ?? global.store}. /exit or Ctrl+D to quit.\n`,
      );
      const messages: ChatCompletionMessageParam[] = [];
      const lines = createInterface({
        input: process.stdin,
        terminal: interactive,
        crlfDelay: Infinity,
      });
      if (interactive) process.stdout.write("you> ");
      try {
        for await (const line of lines) {
          const text = line.trim();
          if (text === "/exit" || text === "/quit") break;
          if (text !== "") {
            messages.push({ role: "user", content: text });
            let trace: CompletionTrace | undefined;
            const stream = await mem0.chat.completions.create(
              {
                model,
                messages,
                user_id: scope.userId,
                agent_id: scope.agentId,
                run_id: scope.runId,
                stream: true,
              },
              {
                onTrace: (used) => {
                  trace = used;
                  say(
                    used.memories.length === 0
                      ? "  (no memories used)\n"
                      : `  memories used:\n${used.memories.map((m) => `    - ${m.memory}`).join("\n")}\n`,
                  );
                  say("assistant> ");
                },
              },
            );
            let answer = "";
            for await (const chunk of stream) {
              const delta = chunk.choices[0]?.delta.content ?? "";
              answer += delta;
              say(delta);
            }
            say("\n");
            messages.push({ role: "assistant", content: answer });
            if (global.json) {
              process.stdout.write(
                `${JSON.stringify({ user: text, answer, memories: trace?.memories ?? [] })}\n`,
              );
            }
          }
          if (interactive) process.stdout.write("you> ");
        }
      } finally {
        lines.close();
        say("Saving what was said...\n");
        await mem0.close({ timeout: 30_000 });
        await memory.close();
      }
    });
}

function describe(scope: { userId?: string; agentId?: string; runId?: string }): string {
  return [
    scope.userId && `user ${scope.userId}`,
    scope.agentId && `agent ${scope.agentId}`,
    scope.runId && `run ${scope.runId}`,
  ]
    .filter(Boolean)
    .join(", ");
}

import type { Command } from "commander";
import type { MemoryItem } from "../backends/base.js";
import type { Memory } from "../backends/memory.js";
import {
  CliError,
  EXIT,
  openMemory,
  output,
  scopeOf,
  type GlobalOptions,
  type ScopeOptions,
} from "./context.js";

function line(item: MemoryItem): string {
  const score = typeof item.score === "number" ? ` (${item.score.toFixed(2)})` : "";
  return `${item.id}  ${item.memory}${score}`;
}

function addScopeOptions(command: Command): Command {
  return command
    .option("-u, --user <id>", "user id")
    .option("-a, --agent <id>", "agent id")
    .option("-r, --run <id>", "run / session id");
}

/** Runs `work` on the memory the global options describe, closing it afterwards. */
export async function withMemory<T>(
  command: Command,
  work: (memory: Memory, global: GlobalOptions) => Promise<T>,
): Promise<T> {
  const global = command.optsWithGlobals() as GlobalOptions;
  const { memory } = await openMemory(global);
  try {
    return await work(memory, global);
  } finally {
    await memory.close();
  }
}

/** `memories list|search|get|update|delete|delete-all|history`. */
export function memoriesCommand(program: Command): void {
  const memories = program.command("memories").description("read and change stored memories");

  addScopeOptions(memories.command("list"))
    .description("list a scope's memories, oldest first")
    .option("-n, --limit <n>", "memories per page", "50")
    .option("--cursor <cursor>", "the nextCursor of the previous page")
    .action(async (options: ScopeOptions & { limit: string; cursor?: string }, command: Command) =>
      withMemory(command, async (memory, global) => {
        const page = await memory.getAll({
          ...scopeOf(options),
          topK: Number(options.limit),
          cursor: options.cursor,
        });
        output(global, page, () =>
          [
            ...page.results.map(line),
            page.results.length === 0 ? "no memories" : "",
            page.nextCursor ? `more: --cursor ${page.nextCursor}` : "",
          ]
            .filter(Boolean)
            .join("\n"),
        );
      }),
    );

  addScopeOptions(memories.command("search <query>"))
    .description("memories relevant to a query, best first")
    .option("-n, --limit <n>", "how many", "10")
    .action(async (query: string, options: ScopeOptions & { limit: string }, command: Command) =>
      withMemory(command, async (memory, global) => {
        const found = await memory.search(query, {
          ...scopeOf(options),
          topK: Number(options.limit),
        });
        output(global, found, () =>
          found.results.length === 0 ? "no memories found" : found.results.map(line).join("\n"),
        );
      }),
    );

  memories
    .command("get <id>")
    .description("one memory")
    .action(async (id: string, _options: unknown, command: Command) =>
      withMemory(command, async (memory, global) => {
        const item = await memory.get(id);
        if (!item) throw new CliError(`No memory with id "${id}".`, EXIT.notFound);
        output(global, item, () =>
          [
            line(item),
            `owner: ${[item.user_id && `user ${item.user_id}`, item.agent_id && `agent ${item.agent_id}`, item.run_id && `run ${item.run_id}`].filter(Boolean).join(", ")}`,
            `created ${item.createdAt}, updated ${item.updatedAt}`,
            Object.keys(item.metadata).length ? `metadata: ${JSON.stringify(item.metadata)}` : "",
          ]
            .filter(Boolean)
            .join("\n"),
        );
      }),
    );

  memories
    .command("update <id> <text>")
    .description("replace a memory's text (the old one stays in its history)")
    .action(async (id: string, text: string, _options: unknown, command: Command) =>
      withMemory(command, async (memory, global) => {
        const result = await memory.update(id, text);
        output(global, result, () => `updated ${id}`);
      }),
    );

  memories
    .command("delete <id>")
    .description("forget one memory")
    .action(async (id: string, _options: unknown, command: Command) =>
      withMemory(command, async (memory, global) => {
        const result = await memory.delete(id);
        output(global, result, () => `deleted ${id}`);
      }),
    );

  addScopeOptions(memories.command("delete-all"))
    .description("forget every memory of a scope (history, messages and relations too)")
    .option("-y, --yes", "confirm: nothing is deleted without it")
    .action(async (options: ScopeOptions & { yes?: boolean }, command: Command) => {
      const scope = scopeOf(options)!;
      if (!options.yes) {
        throw new CliError(
          "delete-all forgets the whole scope for good: add --yes to confirm.",
          EXIT.usage,
        );
      }
      await withMemory(command, async (memory, global) => {
        const result = await memory.deleteAll(scope);
        output(global, result, () => "deleted every memory of the scope");
      });
    });

  memories
    .command("history <id>")
    .description("a memory's changes, newest first")
    .action(async (id: string, _options: unknown, command: Command) =>
      withMemory(command, async (memory, global) => {
        const entries = await memory.history(id);
        if (entries.length === 0)
          throw new CliError(`No history for memory "${id}".`, EXIT.notFound);
        output(global, entries, () =>
          entries
            .map(
              (entry) =>
                `${entry.created_at}  ${entry.action.padEnd(6)} ${entry.previous_value ?? ""}${
                  entry.previous_value && entry.new_value ? " → " : ""
                }${entry.new_value ?? ""}`,
            )
            .join("\n"),
        );
      }),
    );
}

export { addScopeOptions };

import { Command, CommanderError } from "commander";
import { chatCommand } from "./chat.js";
import { CliError, EXIT, defaultStorePath, exitCodeOf } from "./context.js";
import { doctorCommand } from "./doctor.js";
import { mcpCommand } from "./mcp.js";
import { memoriesCommand } from "./memories.js";
import { serveCommand } from "./serve.js";
import { transferCommands } from "./transfer.js";

/**
 * The `langchain-mem0` command line. Commands are added by small functions taking the
 * program, one file each.
 */
export function createProgram(): Command {
  const program = new Command("langchain-mem0")
    .description(
      "Long-term memory for LangChain chat models: chat, inspect, serve, export and check memories.",
    )
    .option(
      "-s, --store <file>",
      "SQLite store file (default $LANGCHAIN_MEM0_STORE or ./.langchain-mem0/memory.db)",
      defaultStorePath(),
    )
    .option("-c, --config <file>", "a Mem0 config (JSON) instead of --store and --embedder")
    .option(
      "-e, --embedder <spec>",
      "auto (the store's own), hash[:dimensions] or openai[:model]",
      "auto",
    )
    .option("--json", "machine-readable output on stdout")
    .showHelpAfterError()
    .exitOverride();
  memoriesCommand(program);
  transferCommands(program);
  chatCommand(program);
  serveCommand(program);
  mcpCommand(program);
  doctorCommand(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/**
 * Runs the CLI and resolves with its exit code: 0 ok, 1 failure, 2 usage, 3 not found,
 * 4 configuration (see {@link EXIT}). Errors are printed to stderr (and as JSON on stdout
 * with `--json`).
 */
export async function run(
  argv: string[] = process.argv,
  program = createProgram(),
): Promise<number> {
  const json = argv.includes("--json");
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not failures; commander has printed the message itself.
      if (error.exitCode === 0 || error.code === "commander.helpDisplayed") return EXIT.ok;
      return EXIT.usage;
    }
    const code = exitCodeOf(error);
    const text = (error as Error)?.message ?? String(error);
    process.stderr.write(`error: ${text}\n`);
    if (json)
      process.stdout.write(`${JSON.stringify({ error: { message: text, exitCode: code } })}\n`);
    return code;
  }
}

export { CliError, EXIT };

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { resolveMemoryConfig } from "../backends/config.js";
import { embedderName } from "../backends/memory.js";
import { SqliteStore } from "../stores/sqlite.js";
import { loadSqliteDriver } from "../stores/sqlite_driver.js";
import {
  EXIT,
  defaultEmbedderSpec,
  defaultModel,
  embedderFromSpec,
  openMemory,
  providerOf,
  PROVIDER_KEYS,
  type GlobalOptions,
} from "./context.js";

/** One finding of `doctor`. */
interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do about it, when not ok. */
  fix?: string;
}

function message(error: unknown): string {
  return (error as Error)?.message?.split("\n")[0] ?? String(error);
}

async function canImport(specifier: string): Promise<boolean> {
  try {
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}

/** `doctor`: checks the setup and says what to fix. */
export function doctorCommand(program: Command): void {
  program
    .command("doctor")
    .description(
      "check the config, store file, embedder, provider keys and native binding; print what to fix",
    )
    .option(
      "-m, --model <model>",
      "the chat model you plan to use (default $LANGCHAIN_MEM0_MODEL or openai:gpt-4o-mini)",
    )
    .action(async (options: { model?: string }, command: Command) => {
      const global = command.optsWithGlobals() as GlobalOptions;
      const checks: Check[] = [];
      const add = (check: Check) => checks.push(check);

      const major = Number(process.versions.node.split(".")[0]);
      add({
        name: "node",
        ok: major >= 20,
        detail: `Node.js ${process.versions.node}`,
        fix: "Install Node.js 20 or newer.",
      });

      let nativeOk = false;
      try {
        loadSqliteDriver();
        nativeOk = true;
        add({ name: "native binding", ok: true, detail: "better-sqlite3 loads" });
      } catch (error) {
        add({
          name: "native binding",
          ok: false,
          detail: message(error),
          fix: "Run `npm rebuild better-sqlite3` (allow its install script; it needs python3, make and a C++ compiler).",
        });
      }

      if (global.config) {
        try {
          await resolveMemoryConfig(JSON.parse(await readFile(global.config, "utf8")));
          add({ name: "config", ok: true, detail: `${global.config} is a valid Mem0 config` });
        } catch (error) {
          add({
            name: "config",
            ok: false,
            detail: message(error),
            fix: `Fix ${global.config} as the message says.`,
          });
        }
      } else if (nativeOk) {
        const exists = existsSync(global.store);
        let recorded: { model?: string; dimensions?: number } | undefined;
        try {
          if (exists) {
            const store = new SqliteStore({ path: global.store });
            recorded = await store.recordedEmbedder();
            await store.close();
          }
          add({
            name: "store",
            ok: true,
            detail: exists
              ? `${global.store} opens`
              : `${global.store} does not exist yet; it is created on first write`,
          });
        } catch (error) {
          add({
            name: "store",
            ok: false,
            detail: message(error),
            fix: "Point --store (or LANGCHAIN_MEM0_STORE) at a readable SQLite file made by langchain-mem0, or move the broken file away.",
          });
        }
        if (checks.at(-1)?.ok && !exists) {
          // Nothing to open yet: check the embedder a new store would get, without creating it.
          try {
            const spec = global.embedder === "auto" ? defaultEmbedderSpec() : global.embedder;
            const embeddings = await embedderFromSpec(spec);
            const vector = await embeddings.embedQuery("dimension check");
            add({
              name: "embedder",
              ok: true,
              detail: `${embedderName(embeddings)}, ${vector.length} dimensions (for a new store)`,
            });
          } catch (error) {
            add({
              name: "embedder",
              ok: false,
              detail: message(error),
              fix: "Set OPENAI_API_KEY, or pass --embedder hash for offline use.",
            });
          }
        } else if (checks.at(-1)?.ok) {
          try {
            const { memory, embeddings } = await openMemory(global);
            try {
              const vector = await embeddings.embedQuery("dimension check");
              const name = embedderName(embeddings);
              const matches =
                (!recorded?.model || recorded.model === name) &&
                (!recorded?.dimensions || recorded.dimensions === vector.length);
              add({
                name: "embedder",
                ok: matches,
                detail:
                  `${name}, ${vector.length} dimensions` +
                  (recorded?.model
                    ? `; the store has ${recorded.model}, ${recorded.dimensions}`
                    : ""),
                fix: "Use the embedder the store was built with (--embedder), or a new --store.",
              });
              const pending = await memory.outbox();
              const failing = pending.filter((entry) => entry.lastError);
              add({
                name: "outbox",
                ok: failing.length === 0,
                detail: `${pending.length} writes pending, ${failing.length} failing`,
                fix: "Failing writes are retried by `langchain-mem0 chat`/`serve` on start; their last error says why they fail.",
              });
            } finally {
              await memory.close();
            }
          } catch (error) {
            add({
              name: "embedder",
              ok: false,
              detail: message(error),
              fix: "Set the embedder's key (OPENAI_API_KEY) or pass --embedder hash for offline use with a new store.",
            });
          }
        }
      }

      const model = options.model ?? defaultModel();
      const provider = providerOf(model);
      const keys = PROVIDER_KEYS[provider] ?? [];
      const keyed = keys.length === 0 || keys.some((key) => process.env[key]);
      add({
        name: "provider keys",
        ok: keyed,
        detail: keyed
          ? `${model}: ${keys.filter((key) => process.env[key]).join(", ") || "no key needed"}`
          : `${model}: none of ${keys.join(", ")} is set`,
        fix: `Set ${keys.join(" or ")} for ${model}, or choose another model with --model.`,
      });
      const hasLangchain = await canImport("langchain/chat_models/universal");
      add({
        name: "packages",
        ok: hasLangchain,
        detail: hasLangchain
          ? "langchain (initChatModel) is installed"
          : "langchain is not installed",
        fix: "npm install langchain (and the provider package, e.g. @langchain/openai)",
      });
      if (provider === "openai") {
        const hasOpenAI = await canImport("@langchain/openai");
        add({
          name: "provider package",
          ok: hasOpenAI,
          detail: hasOpenAI
            ? "@langchain/openai is installed"
            : "@langchain/openai is not installed",
          fix: "npm install @langchain/openai",
        });
      }

      const healthy = checks.every((check) => check.ok);
      if (global.json) {
        process.stdout.write(`${JSON.stringify({ ok: healthy, checks })}\n`);
      } else {
        for (const check of checks) {
          process.stdout.write(`${check.ok ? "ok  " : "FAIL"} ${check.name}: ${check.detail}\n`);
          if (!check.ok && check.fix) process.stdout.write(`     fix: ${check.fix}\n`);
        }
        process.stdout.write(
          healthy ? "everything looks fine\n" : "some checks failed; see the fixes above\n",
        );
      }
      process.exitCode = healthy ? EXIT.ok : EXIT.config;
    });
}

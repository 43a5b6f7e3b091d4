import type { Command } from "commander";
import { SERVER_KEY_ENV } from "../server/binding.js";
import {
  configuredChatModel,
  defaultModel,
  openMemory,
  parsePort,
  providerChatModel,
  type GlobalOptions,
} from "./context.js";

/** `serve`: the OpenAI-compatible memory server and the inspector page. */
export function serveCommand(program: Command): void {
  program
    .command("serve")
    .description(
      "run the OpenAI-compatible memory server (POST /v1/chat/completions) and the inspector at /",
    )
    .option(
      "--host <host>",
      "interface to listen on; others than 127.0.0.1 need --api-key",
      "127.0.0.1",
    )
    .option("-p, --port <port>", "port", "8765")
    .option("--api-key <key>", `bearer key clients must send (default $${SERVER_KEY_ENV})`)
    .option(
      "-m, --model <model>",
      "extraction model and the model listed by /v1/models (default $LANGCHAIN_MEM0_MODEL or openai:gpt-4o-mini)",
    )
    .option("--max-body <bytes>", "largest request body", String(1024 * 1024))
    .action(
      async (
        options: { host: string; port: string; apiKey?: string; model?: string; maxBody: string },
        command: Command,
      ) => {
        const global = command.optsWithGlobals() as GlobalOptions;
        // Loaded here: the other commands never load the server or the facade.
        const { startMem0Server } = await import("../server/serve.js");
        const { Mem0 } = await import("../facade/mem0.js");
        const port = parsePort(options.port);
        const model = options.model ?? defaultModel();
        // Without a provider the memory routes and the inspector still work; chat says what to set.
        const { llm, missing } = await configuredChatModel(model);
        const { memory } = await openMemory(global, { llm, recover: llm !== undefined });
        const mem0 = new Mem0({
          memory,
          chatModel: providerChatModel,
        });
        const server = await startMem0Server({
          mem0,
          host: options.host,
          port,
          apiKey: options.apiKey ?? process.env[SERVER_KEY_ENV],
          models: [model],
          maxBodyBytes: Number(options.maxBody),
        }).catch(async (error: unknown) => {
          await memory.close();
          throw error;
        });
        const lines = [
          `langchain-mem0 server on ${server.url}`,
          `  OpenAI base URL: ${server.url}/v1 (scope: the request's "user", or X-Mem0-User-Id)`,
          `  inspector:       ${server.url}/`,
          `  memories:        ${global.config ?? global.store}`,
        ];
        if (missing) {
          lines.push(
            `  note: no key for ${model}; chat completions fail until you set ${missing.join(" or ")}.`,
          );
        }
        process.stdout.write(
          global.json
            ? `${JSON.stringify({ url: server.url, port: server.port })}\n`
            : `${lines.join("\n")}\n`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off("SIGINT", stop);
            process.off("SIGTERM", stop);
            if (!global.json)
              process.stdout.write(
                "shutting down: finishing requests and pending memory writes...\n",
              );
            resolve();
          };
          process.on("SIGINT", stop);
          process.on("SIGTERM", stop);
        });
        await server.close();
        await memory.close();
      },
    );
}
